#pragma once

#include "atlas-request.h"

G_BEGIN_DECLS

/* The request as stored in the queue's database. */
GBytes *_atlas_request_serialize (const AtlasRequest *request);
AtlasRequest *_atlas_request_deserialize (GBytes *bytes, GError **error);

G_END_DECLS
