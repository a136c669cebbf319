/* atlas-tracker-server.h — the tracker's HTTP(S) service: the index API under
 * /api/v1, the peers' WebSocket at /api/v1/peer, /health and /metrics.
 *
 * docs/tracker.md describes the API; the server runs on the thread-default
 * main context of the thread that creates it.
 */
#pragma once

#include <gio/gio.h>

#include "atlas-tracker-hub.h"
#include "atlas-tracker-store.h"

G_BEGIN_DECLS

/* The largest request body the API reads: a 4 MiB Metalink and its JSON. */
#define ATLAS_TRACKER_MAX_BODY (5 * 1024 * 1024)

#define ATLAS_TYPE_TRACKER_SERVER (atlas_tracker_server_get_type ())
G_DECLARE_FINAL_TYPE (AtlasTrackerServer, atlas_tracker_server, ATLAS, TRACKER_SERVER, GObject)

/* Takes ownership of @store. With @metrics_token, /metrics wants it as a
 * bearer token; without, /metrics is open like /health. */
AtlasTrackerServer *atlas_tracker_server_new (AtlasTrackerStore *store, const char *metrics_token);
/* Serves HTTPS with this certificate and key (PEM files). Call before listening. */
gboolean atlas_tracker_server_set_tls_files (AtlasTrackerServer *server, const char *cert_file,
                                             const char *key_file, GError **error);
/* Listens on "HOST:PORT" ("127.0.0.1:8080", "[::1]:0"); port 0 picks a free one. */
gboolean atlas_tracker_server_listen (AtlasTrackerServer *server, const char *address,
                                      GError **error);
/* "http://127.0.0.1:PORT" (or https), once listening; NULL before. */
char *atlas_tracker_server_get_uri (AtlasTrackerServer *server);
AtlasTrackerHub *atlas_tracker_server_get_hub (AtlasTrackerServer *server);
AtlasTrackerStore *atlas_tracker_server_get_store (AtlasTrackerServer *server);
/* Closes peers' WebSockets and stops listening. */
void atlas_tracker_server_shutdown (AtlasTrackerServer *server);

G_END_DECLS
