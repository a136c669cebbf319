/* atlas-source.h — one mirror (or, later, peer) of a download, as the UI sees it.
 *
 * Properties (all read-only, notified at the session tick when they change):
 *   url, host, state (AtlasSourceState), priority, location,
 *   speed (bytes/s), bytes-received, connections, errors, bad-pieces, last-error.
 */
#pragma once

#include <glib-object.h>

#include "atlas-types.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_SOURCE (atlas_source_get_type ())
G_DECLARE_FINAL_TYPE (AtlasSource, atlas_source, ATLAS, SOURCE, GObject)

const char *atlas_source_get_url (AtlasSource *self);
const char *atlas_source_get_host (AtlasSource *self);
AtlasSourceState atlas_source_get_state (AtlasSource *self);
guint atlas_source_get_priority (AtlasSource *self);
const char *atlas_source_get_location (AtlasSource *self);
guint64 atlas_source_get_speed (AtlasSource *self);
guint64 atlas_source_get_bytes_received (AtlasSource *self);
guint atlas_source_get_connections (AtlasSource *self);
guint atlas_source_get_errors (AtlasSource *self);
guint atlas_source_get_bad_pieces (AtlasSource *self);
const char *atlas_source_get_last_error (AtlasSource *self);

G_END_DECLS
