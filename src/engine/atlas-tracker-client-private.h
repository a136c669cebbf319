/* atlas-tracker-client-private.h — what the HTTP half (atlas-tracker-client.c)
 * and the WebSocket half (atlas-tracker-client-socket.c) of AtlasTrackerClient
 * share. */
#pragma once

#include <libsoup/soup.h>

#include "atlas-tracker-client.h"

G_BEGIN_DECLS

struct _AtlasTrackerClient
{
  GObject parent_instance;

  GMainContext *context;
  char *base_url; /* without a trailing slash or "/api/v1" */
  char *authorization;
  GTlsDatabase *extra_ca; /* the ca_file, or NULL */
  GError *config_error;   /* a bad base URL or unreadable ca_file, reported on use */
  SoupSession *http;      /* bounded I/O timeouts */
  SoupSession *socket;    /* no I/O timeout: the channel is idle for long */

  /* The peer channel. */
  gboolean started;
  char *peer_id;
  GCancellable *connecting;
  SoupWebsocketConnection *connection;
  gboolean welcomed;
  gint64 welcomed_at; /* monotonic µs */
  guint attempt;      /* connections in a row that failed or did not last */
  GSource *retry_source;
  GSource *handshake_source;
  GSource *reannounce_source;
  GHashTable *announces;   /* entry hex -> AtlasTrackerMessage* (ANNOUNCE) */
  gboolean donor;          /* announces carry "donor": true */
  AtlasDonateOffer *offer; /* sent after every welcome; NULL when not donating */
};

enum
{
  _ATLAS_TRACKER_CLIENT_SIGNAL_CONNECTED,
  _ATLAS_TRACKER_CLIENT_SIGNAL_DISCONNECTED,
  _ATLAS_TRACKER_CLIENT_SIGNAL_PEERS,
  _ATLAS_TRACKER_CLIENT_SIGNAL_SIGNAL,
  _ATLAS_TRACKER_CLIENT_SIGNAL_ERROR,
  _ATLAS_TRACKER_CLIENT_SIGNAL_ASSIGN,
  _ATLAS_TRACKER_CLIENT_N_SIGNALS
};

extern guint _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_N_SIGNALS];

/* A GET/POST/DELETE to base_url + "/api/v1" + @path, with the token. */
SoupMessage *_atlas_tracker_client_new_message (AtlasTrackerClient *self, const char *method,
                                                const char *path);
/* Applies the extra CA to @message's certificate check. */
void _atlas_tracker_client_watch_certificate (AtlasTrackerClient *self, SoupMessage *message);
/* The GError for a failed HTTP status, with the tracker's own "error" text. */
GError *_atlas_tracker_client_status_error (SoupMessage *message, GBytes *body);
/* Maps a transport error (GIO, TLS, libsoup) to ATLAS_ERROR. */
GError *_atlas_tracker_client_transport_error (const GError *error, const char *what);

/* The socket half's teardown, from dispose. */
void _atlas_tracker_client_socket_dispose (AtlasTrackerClient *self);

G_END_DECLS
