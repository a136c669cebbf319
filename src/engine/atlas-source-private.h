#pragma once

#include "atlas-source.h"

G_BEGIN_DECLS

AtlasSource *_atlas_source_new (const char *url, const char *host, guint priority,
                                const char *location);

/* Publishes the engine's view of the source; notifies only what changed.
 * Called on the session tick. */
void _atlas_source_publish (AtlasSource *self, AtlasSourceState state, guint64 speed,
                            guint64 bytes_received, guint connections, guint errors,
                            guint bad_pieces, const char *last_error);

G_END_DECLS
