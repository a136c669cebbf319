/* atlas-quic-connection-private.h — shared between the connection's files,
 * plus tuning knobs for tests and benchmarks. */
#pragma once

#include "atlas-quic-connection.h"

#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

G_BEGIN_DECLS

typedef enum
{
  _ATLAS_QUIC_CC_CUBIC,
  _ATLAS_QUIC_CC_BBR,
  _ATLAS_QUIC_CC_BBR2,
  _ATLAS_QUIC_CC_RENO,
} _AtlasQuicCongestionControl;

typedef struct
{
  guint idle_timeout_ms;      /* no packet from the peer for this long: closed */
  guint handshake_timeout_ms; /* handshake not finished by then: closed */
  _AtlasQuicCongestionControl congestion_control;
} _AtlasQuicTuning;

/* The defaults: 30 s idle, 10 s handshake, the congestion controller chosen
 * in atlas-quic-connection.c. */
void _atlas_quic_tuning_init (_AtlasQuicTuning *tuning);

/* atlas_quic_connection_new() with other timeouts or another congestion
 * controller (tests: a 2 s idle timeout; benchmarks: cubic against BBR). */
AtlasQuicConnection *_atlas_quic_connection_new_tuned (AtlasDatagramPath *path, AtlasQuicRole role,
                                                       AtlasPeerIdentity *identity,
                                                       const char *expected_peer_fingerprint,
                                                       const _AtlasQuicTuning *tuning,
                                                       GError **error);

/* Connections alive in this process (made and not yet finalized): tests
 * check that a peer that vanished leaves none behind. */
guint _atlas_quic_connection_get_n_live (void);

typedef enum
{
  QUIC_STATE_HANDSHAKE,
  QUIC_STATE_ESTABLISHED,
  QUIC_STATE_CLOSED,
} QuicState;

struct _AtlasQuicConnection
{
  GObject parent_instance;

  GMainContext *context;
  AtlasDatagramPath *path;
  AtlasQuicRole role;
  AtlasPeerIdentity *identity;
  char *expected_fingerprint;
  char *peer_fingerprint; /* what the peer presented, once seen */
  gboolean peer_mismatch; /* the verify function refused the peer */
  _AtlasQuicTuning tuning;

  ngtcp2_conn *conn;
  ngtcp2_crypto_conn_ref conn_ref;
  gnutls_session_t tls;
  /* ngtcp2 wants addresses; the datagram path has none, so both ends use
   * the same two fixed ones and a path never appears to migrate. */
  struct sockaddr_in6 client_address;
  struct sockaddr_in6 server_address;
  ngtcp2_path nt_path;
  guint8 reset_secret[32];

  QuicState state;
  GSource *timer;
  gint64 server_deadline_us; /* before the first client packet */
  guint ngtcp2_depth;        /* inside an ngtcp2 call: no re-entry */
  gboolean heard_peer;       /* a packet from the peer decrypted */
  gboolean handshake_done_pending;
  gboolean close_requested;
  guint64 close_code;
  char *close_reason;

  /* The stream's send buffer: bytes stay until the peer acknowledges them,
   * because ngtcp2 resends lost data from the application's memory. Offsets
   * are stream offsets; a byte at offset o lives at ring[o % ring_size]. */
  gint64 stream_id;
  guint8 *ring;
  gsize ring_size;
  guint64 acked_offset;
  guint64 sent_offset;
  guint64 queued_offset;
  gboolean announce_stream; /* the client's stream is not yet known to the server */
  gboolean stream_blocked;  /* flow control stopped the stream this flush */
  gboolean want_writable;

  AtlasQuicReceiveFunc receive;
  AtlasQuicWritableFunc writable;
  gpointer stream_data;

  guint8 *tx_buffer;
  gsize tx_size;
  guint8 *close_packet; /* resent when the peer keeps talking after close */
  gsize close_packet_length;
  guint close_resends;

  guint64 bytes_sent;
  guint64 bytes_received;
};

/* atlas-quic-connection-setup.c */
/* Sets up what ngtcp2 and GnuTLS need before a connection exists. */
void _atlas_quic_connection_prepare (AtlasQuicConnection *self);
gboolean _atlas_quic_connection_create_client (AtlasQuicConnection *self, GError **error);
/* FALSE without an error when @data is not a client's Initial packet. */
gboolean _atlas_quic_connection_create_server (AtlasQuicConnection *self, const guint8 *data,
                                               gsize length, GError **error);
/* Forgets a server connection made from a packet that turned out not to be
 * a client's (it did not decrypt), to wait for the real one. */
void _atlas_quic_connection_discard_server (AtlasQuicConnection *self);

/* atlas-quic-connection-tls.c */
gboolean _atlas_quic_connection_setup_tls (AtlasQuicConnection *self, GError **error);
/* The GError for a connection the peer closed, from its CONNECTION_CLOSE
 * (NULL for a clean close). */
GError *_atlas_quic_connection_remote_close_error (AtlasQuicConnection *self);
/* The GError after the local TLS stack failed the handshake. */
GError *_atlas_quic_connection_tls_error (AtlasQuicConnection *self);
/* Whether the verified peer is the expected one (sets an error otherwise). */
gboolean _atlas_quic_connection_check_peer (AtlasQuicConnection *self, GError **error);

G_END_DECLS
