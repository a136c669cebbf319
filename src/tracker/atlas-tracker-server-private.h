/* atlas-tracker-server-private.h — what the API handlers share with the server. */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "atlas-tracker-server.h"

G_BEGIN_DECLS

/* The token an early handler authenticated the request with. */
const AtlasTrackerToken *_atlas_tracker_request_token (SoupServerMessage *msg);
/* Replies with @node as JSON (or no body when NULL). */
void _atlas_tracker_reply_json (SoupServerMessage *msg, guint status, JsonNode *node);
/* Replies {"error": message}. */
void _atlas_tracker_reply_error (SoupServerMessage *msg, guint status, const char *format, ...)
    G_GNUC_PRINTF (3, 4);
/* /api/v1/entries and below. */
void _atlas_tracker_api_entries (AtlasTrackerServer *server, SoupServerMessage *msg,
                                 const char *path, GHashTable *query);

G_END_DECLS
