/* atlas-quic-connection-setup.c — making the ngtcp2 connection: settings,
 * transport parameters and the callbacks, which only take note of events;
 * atlas-quic-connection.c acts on them once ngtcp2 has returned. */
#include "atlas-quic-connection-private.h"

#include "atlas-error.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <string.h>

#define STREAM_WINDOW (16 * 1024 * 1024)
#define CONNECTION_WINDOW (32 * 1024 * 1024)
#define CID_LENGTH 18

static ngtcp2_tstamp
now_ns (void)
{
  return (ngtcp2_tstamp) g_get_monotonic_time () * NGTCP2_MICROSECONDS;
}

void
_atlas_quic_tuning_init (_AtlasQuicTuning *tuning)
{
  tuning->idle_timeout_ms = 30 * 1000;
  tuning->handshake_timeout_ms = 10 * 1000;
  /* BBR (v1). bench-peer-link on 2 busy cores, medians in MiB/s (see
   * bench/README.md), cubic / BBR / BBR2: clean loopback UDP 363 / 269 / 274;
   * impaired pipe with 0.5 % loss each way 148 / 295 / 32, and with 10 ms
   * one-way delay added 1.6 / 43 / 40. Cubic reads random loss as congestion
   * and collapses once there is delay; BBR is never far behind and far ahead
   * on the lossy links peers actually have. */
  tuning->congestion_control = _ATLAS_QUIC_CC_BBR;
}

/* --------------------------------------------------------------- callbacks */

static ngtcp2_conn *
get_conn_cb (ngtcp2_crypto_conn_ref *ref)
{
  return ((AtlasQuicConnection *) ref->user_data)->conn;
}

static void
rand_cb (uint8_t *dest, size_t length, const ngtcp2_rand_ctx *rand_ctx)
{
  gnutls_rnd (GNUTLS_RND_NONCE, dest, length);
}

static int
get_new_connection_id_cb (ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cid_length,
                          void *user_data)
{
  AtlasQuicConnection *self = user_data;

  if (gnutls_rnd (GNUTLS_RND_RANDOM, cid->data, cid_length) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  cid->datalen = cid_length;
  if (ngtcp2_crypto_generate_stateless_reset_token (token, self->reset_secret,
                                                    sizeof self->reset_secret, cid)
      != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static int
recv_crypto_data_cb (ngtcp2_conn *conn, ngtcp2_crypto_level level, uint64_t offset,
                     const uint8_t *data, size_t length, void *user_data)
{
  AtlasQuicConnection *self = user_data;

  /* Only a packet that decrypted carries CRYPTO frames: the peer is real. */
  self->heard_peer = TRUE;
  return ngtcp2_crypto_recv_crypto_data_cb (conn, level, offset, data, length, user_data);
}

static int
handshake_completed_cb (ngtcp2_conn *conn, void *user_data)
{
  AtlasQuicConnection *self = user_data;

  /* A client's handshake completes before the server has checked the
   * client's certificate; only the server's HANDSHAKE_DONE (confirmation)
   * says the server accepted it. */
  if (self->role == ATLAS_QUIC_ROLE_SERVER)
    self->handshake_done_pending = TRUE;
  return 0;
}

static int
handshake_confirmed_cb (ngtcp2_conn *conn, void *user_data)
{
  AtlasQuicConnection *self = user_data;

  if (self->role == ATLAS_QUIC_ROLE_CLIENT)
    self->handshake_done_pending = TRUE;
  return 0;
}

static int
stream_open_cb (ngtcp2_conn *conn, int64_t stream_id, void *user_data)
{
  AtlasQuicConnection *self = user_data;

  /* The one stream is the client's first bidirectional stream. */
  if (self->stream_id < 0 && ngtcp2_is_bidi_stream (stream_id)
      && !ngtcp2_conn_is_local_stream (conn, stream_id))
    self->stream_id = stream_id;
  return 0;
}

static int
recv_stream_data_cb (ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t offset,
                     const uint8_t *data, size_t length, void *user_data, void *stream_user_data)
{
  AtlasQuicConnection *self = user_data;

  if (stream_id == self->stream_id && length > 0 && self->state == QUIC_STATE_ESTABLISHED
      && !self->close_requested && self->receive != NULL)
    self->receive (data, length, self->stream_data);

  /* The receiver took the bytes, so the window moves on at once: the
   * application does its own buffering (and back-pressure) above. */
  ngtcp2_conn_extend_max_stream_offset (conn, stream_id, length);
  ngtcp2_conn_extend_max_offset (conn, length);
  return 0;
}

static int
acked_stream_data_offset_cb (ngtcp2_conn *conn, int64_t stream_id, uint64_t offset, uint64_t length,
                             void *user_data, void *stream_user_data)
{
  AtlasQuicConnection *self = user_data;

  if (stream_id == self->stream_id && offset + length > self->acked_offset)
    self->acked_offset = offset + length;
  return 0;
}

/* ---------------------------------------------------------------- creation */

static void
fill_settings (AtlasQuicConnection *self, ngtcp2_settings *settings,
               ngtcp2_transport_params *params)
{
  static const ngtcp2_cc_algo algorithms[] = {
    [_ATLAS_QUIC_CC_CUBIC] = NGTCP2_CC_ALGO_CUBIC,
    [_ATLAS_QUIC_CC_BBR] = NGTCP2_CC_ALGO_BBR,
    [_ATLAS_QUIC_CC_BBR2] = NGTCP2_CC_ALGO_BBR2,
    [_ATLAS_QUIC_CC_RENO] = NGTCP2_CC_ALGO_RENO,
  };

  ngtcp2_settings_default (settings);
  settings->initial_ts = now_ns ();
  settings->cc_algo = algorithms[self->tuning.congestion_control];
  /* The path knows its datagram size (ICE: the selected pair's; loopback
   * benchmarks: much more than 1452), so use it as is, without probing. */
  settings->max_tx_udp_payload_size = self->tx_size;
  settings->no_tx_udp_payload_size_shaping = 1;
  settings->no_pmtud = 1;
  settings->handshake_timeout =
      (ngtcp2_duration) self->tuning.handshake_timeout_ms * NGTCP2_MILLISECONDS;
  settings->max_window = CONNECTION_WINDOW;
  settings->max_stream_window = STREAM_WINDOW;

  ngtcp2_transport_params_default (params);
  params->initial_max_stream_data_bidi_local = STREAM_WINDOW;
  params->initial_max_stream_data_bidi_remote = STREAM_WINDOW;
  params->initial_max_data = CONNECTION_WINDOW;
  /* Only the client opens a stream, and only one. */
  params->initial_max_streams_bidi = self->role == ATLAS_QUIC_ROLE_SERVER ? 1 : 0;
  params->initial_max_streams_uni = 0;
  params->max_idle_timeout = (ngtcp2_duration) self->tuning.idle_timeout_ms * NGTCP2_MILLISECONDS;
  params->active_connection_id_limit = 4;
}

static void
fill_callbacks (AtlasQuicConnection *self, ngtcp2_callbacks *callbacks)
{
  memset (callbacks, 0, sizeof *callbacks);
  if (self->role == ATLAS_QUIC_ROLE_CLIENT)
    {
      callbacks->client_initial = ngtcp2_crypto_client_initial_cb;
      callbacks->recv_retry = ngtcp2_crypto_recv_retry_cb;
      callbacks->handshake_confirmed = handshake_confirmed_cb;
    }
  else
    callbacks->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  callbacks->recv_crypto_data = recv_crypto_data_cb;
  callbacks->handshake_completed = handshake_completed_cb;
  callbacks->encrypt = ngtcp2_crypto_encrypt_cb;
  callbacks->decrypt = ngtcp2_crypto_decrypt_cb;
  callbacks->hp_mask = ngtcp2_crypto_hp_mask_cb;
  callbacks->recv_stream_data = recv_stream_data_cb;
  callbacks->acked_stream_data_offset = acked_stream_data_offset_cb;
  callbacks->stream_open = stream_open_cb;
  callbacks->rand = rand_cb;
  callbacks->get_new_connection_id = get_new_connection_id_cb;
  callbacks->update_key = ngtcp2_crypto_update_key_cb;
  callbacks->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  callbacks->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  callbacks->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  callbacks->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
}

void
_atlas_quic_connection_prepare (AtlasQuicConnection *self)
{
  self->conn_ref.get_conn = get_conn_cb;
  self->conn_ref.user_data = self;

  self->client_address.sin6_family = AF_INET6;
  self->client_address.sin6_port = htons (1);
  self->client_address.sin6_addr = in6addr_loopback;
  self->server_address = self->client_address;
  self->server_address.sin6_port = htons (2);

  if (self->role == ATLAS_QUIC_ROLE_CLIENT)
    {
      self->nt_path.local.addr = (ngtcp2_sockaddr *) &self->client_address;
      self->nt_path.remote.addr = (ngtcp2_sockaddr *) &self->server_address;
    }
  else
    {
      self->nt_path.local.addr = (ngtcp2_sockaddr *) &self->server_address;
      self->nt_path.remote.addr = (ngtcp2_sockaddr *) &self->client_address;
    }
  self->nt_path.local.addrlen = sizeof self->client_address;
  self->nt_path.remote.addrlen = sizeof self->server_address;
}

gboolean
_atlas_quic_connection_create_client (AtlasQuicConnection *self, GError **error)
{
  ngtcp2_callbacks callbacks;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid dcid, scid;
  int rv;

  dcid.datalen = CID_LENGTH;
  scid.datalen = CID_LENGTH;
  gnutls_rnd (GNUTLS_RND_RANDOM, dcid.data, dcid.datalen);
  gnutls_rnd (GNUTLS_RND_RANDOM, scid.data, scid.datalen);
  fill_callbacks (self, &callbacks);
  fill_settings (self, &settings, &params);

  rv = ngtcp2_conn_client_new (&self->conn, &dcid, &scid, &self->nt_path, NGTCP2_PROTO_VER_V1,
                               &callbacks, &settings, &params, NULL, self);
  if (rv != 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_FAILED, "Creating a QUIC client failed: %s",
                   ngtcp2_strerror (rv));
      return FALSE;
    }
  if (!_atlas_quic_connection_setup_tls (self, error))
    return FALSE;
  ngtcp2_conn_set_tls_native_handle (self->conn, self->tls);
  return TRUE;
}

/* The server's connection is made from the client's first Initial packet,
 * which carries the connection IDs to use. */
gboolean
_atlas_quic_connection_create_server (AtlasQuicConnection *self, const guint8 *data, gsize length,
                                      GError **error)
{
  ngtcp2_pkt_hd header;
  ngtcp2_callbacks callbacks;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid scid;
  int rv;

  if (ngtcp2_accept (&header, data, length) != 0)
    return FALSE;

  scid.datalen = CID_LENGTH;
  gnutls_rnd (GNUTLS_RND_RANDOM, scid.data, scid.datalen);
  fill_callbacks (self, &callbacks);
  fill_settings (self, &settings, &params);
  params.original_dcid = header.dcid;
  params.stateless_reset_token_present = 1;
  ngtcp2_crypto_generate_stateless_reset_token (params.stateless_reset_token, self->reset_secret,
                                                sizeof self->reset_secret, &scid);

  rv = ngtcp2_conn_server_new (&self->conn, &header.scid, &scid, &self->nt_path, header.version,
                               &callbacks, &settings, &params, NULL, self);
  if (rv != 0)
    {
      self->conn = NULL;
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_FAILED,
                   "Creating a QUIC server connection failed: %s", ngtcp2_strerror (rv));
      return FALSE;
    }
  if (!_atlas_quic_connection_setup_tls (self, error))
    return FALSE;
  ngtcp2_conn_set_tls_native_handle (self->conn, self->tls);
  return TRUE;
}

void
_atlas_quic_connection_discard_server (AtlasQuicConnection *self)
{
  g_clear_pointer (&self->conn, ngtcp2_conn_del);
  g_clear_pointer (&self->tls, gnutls_deinit);
  g_clear_pointer (&self->peer_fingerprint, g_free);
  self->peer_mismatch = FALSE;
  self->heard_peer = FALSE;
}
