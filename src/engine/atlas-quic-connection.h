/* atlas-quic-connection.h — one QUIC connection to a peer over a datagram path.
 *
 * ngtcp2 provides congestion control, loss recovery and one bidirectional
 * stream; GnuTLS provides TLS 1.3. Both ends present self-signed certificates
 * and each checks the other's SHA-256 fingerprint against the one it was told
 * (by the tracker's signaling): a mismatch fails the handshake.
 *
 * Everything runs on the thread-default main context at construction.
 *
 * Signals:
 *   "established" ()  the handshake finished and the peer's certificate
 *                     matched; the stream is open and writable.
 *   "closed" (const GError *error)  the connection ended: NULL for a clean
 *                     close by either side, else ATLAS_ERROR_AUTHENTICATION
 *                     (fingerprint mismatch), ATLAS_ERROR_NETWORK (handshake
 *                     or idle timeout, path failure) or ATLAS_ERROR_PROTOCOL
 *                     (the peer broke QUIC or closed with an error code).
 *                     Emitted once; nothing is delivered afterwards.
 */
#pragma once

#include <glib-object.h>

#include "atlas-datagram-path.h"
#include "atlas-peer-identity.h"

G_BEGIN_DECLS

typedef enum
{
  ATLAS_QUIC_ROLE_CLIENT,
  ATLAS_QUIC_ROLE_SERVER,
} AtlasQuicRole;

/* Receives stream bytes in order; @data is valid during the call only. */
typedef void (*AtlasQuicReceiveFunc) (const guint8 *data, gsize length, gpointer user_data);
/* Called when write space has opened up after a short write. */
typedef void (*AtlasQuicWritableFunc) (gpointer user_data);

typedef struct
{
  guint64 bytes_sent;     /* UDP payload bytes, all packets */
  guint64 bytes_received; /* UDP payload bytes, all packets */
  guint64 packets_lost;   /* stream frames declared lost and resent */
  guint64 smoothed_rtt_us;
  guint64 cwnd; /* congestion window, bytes */
} AtlasQuicStats;

#define ATLAS_TYPE_QUIC_CONNECTION (atlas_quic_connection_get_type ())
G_DECLARE_FINAL_TYPE (AtlasQuicConnection, atlas_quic_connection, ATLAS, QUIC_CONNECTION, GObject)

/* Starts a connection over @path (the client sends its first flight at once;
 * the server waits for it). @expected_peer_fingerprint is "sha256:HEX". */
AtlasQuicConnection *atlas_quic_connection_new (AtlasDatagramPath *path, AtlasQuicRole role,
                                                AtlasPeerIdentity *identity,
                                                const char *expected_peer_fingerprint,
                                                GError **error);

/* Sets where the stream's bytes go and who is told about write space. */
void atlas_quic_connection_set_stream_funcs (AtlasQuicConnection *self,
                                             AtlasQuicReceiveFunc receive,
                                             AtlasQuicWritableFunc writable, gpointer user_data);

/* Queues bytes on the stream (the client opens it once established, the
 * server accepts it). The send buffer is bounded (4 MiB, including bytes sent
 * but not yet acknowledged): returns how many bytes were taken; after a short
 * write, wait for the writable func. Bytes written before "established" wait
 * in the buffer. */
gsize atlas_quic_connection_write (AtlasQuicConnection *self, const guint8 *data, gsize length);

/* How many bytes atlas_quic_connection_write() would take now. */
gsize atlas_quic_connection_get_write_space (AtlasQuicConnection *self);

/* Closes with an application error code (0: a clean close) and a short
 * reason the peer sees; "closed" follows with NULL. */
void atlas_quic_connection_close (AtlasQuicConnection *self, guint64 app_error_code,
                                  const char *reason);

gboolean atlas_quic_connection_is_established (AtlasQuicConnection *self);

void atlas_quic_connection_get_stats (AtlasQuicConnection *self, AtlasQuicStats *stats);

G_END_DECLS
