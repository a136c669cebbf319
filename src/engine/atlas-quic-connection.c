/* atlas-quic-connection.c — QUIC (ngtcp2) over an AtlasDatagramPath: packets
 * in and out, the timer, the stream and closing. TLS is in
 * atlas-quic-connection-tls.c. */
#include "atlas-quic-connection-private.h"

#include "atlas-error.h"

#include <gnutls/crypto.h>
#include <string.h>

/* Unacknowledged bytes count against the send buffer, so it must hold a
 * bandwidth-delay product plus what loss recovery still holds: 4 MiB is
 * 40 ms at 100 MiB/s. */
#define SEND_BUFFER_SIZE (4 * 1024 * 1024)
/* One flush writes at most this long before letting the main loop run. */
#define FLUSH_BUDGET_US 2000
#define MAX_CLOSE_RESENDS 8

enum
{
  SIGNAL_ESTABLISHED,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (AtlasQuicConnection, atlas_quic_connection, G_TYPE_OBJECT)

/* Connections made and not yet finalized: see _atlas_quic_connection_get_n_live(). */
static gint n_live;

static void flush (AtlasQuicConnection *self);
static void schedule_flush (AtlasQuicConnection *self);

static ngtcp2_tstamp
now_ns (void)
{
  return (ngtcp2_tstamp) g_get_monotonic_time () * NGTCP2_MICROSECONDS;
}

/* ------------------------------------------------------------------ ending */

/* Ends the connection: "closed" once, then the object only answers a
 * talkative peer with its CONNECTION_CLOSE until it is released. */
static void
finish (AtlasQuicConnection *self, GError *error)
{
  if (self->state == QUIC_STATE_CLOSED)
    {
      g_clear_error (&error);
      return;
    }
  self->state = QUIC_STATE_CLOSED;
  g_source_set_ready_time (self->timer, -1);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
  g_clear_error (&error);
}

/* Writes a CONNECTION_CLOSE (if ngtcp2 still may) and sends it. */
static void
send_close (AtlasQuicConnection *self, const ngtcp2_connection_close_error *close)
{
  ngtcp2_ssize n;

  if (self->conn == NULL || ngtcp2_conn_is_in_closing_period (self->conn)
      || ngtcp2_conn_is_in_draining_period (self->conn))
    return;
  self->ngtcp2_depth++;
  n = ngtcp2_conn_write_connection_close (self->conn, NULL, NULL, self->tx_buffer, self->tx_size,
                                          close, now_ns ());
  self->ngtcp2_depth--;
  if (n <= 0)
    return;
  g_free (self->close_packet);
  self->close_packet = g_memdup2 (self->tx_buffer, n);
  self->close_packet_length = n;
  self->bytes_sent += n;
  atlas_datagram_path_send (self->path, self->close_packet, n, NULL);
}

/* A failure in ngtcp2 or below: tell the peer (for errors that allow it)
 * and end with @error. */
static void
fail (AtlasQuicConnection *self, int liberr, GError *error)
{
  ngtcp2_connection_close_error close;

  if (liberr == NGTCP2_ERR_CRYPTO)
    ngtcp2_connection_close_error_set_transport_error_tls_alert (
        &close, ngtcp2_conn_get_tls_alert (self->conn), NULL, 0);
  else
    ngtcp2_connection_close_error_set_transport_error_liberr (&close, liberr, NULL, 0);
  if (liberr != NGTCP2_ERR_DRAINING && liberr != NGTCP2_ERR_DROP_CONN
      && liberr != NGTCP2_ERR_IDLE_CLOSE && liberr != NGTCP2_ERR_HANDSHAKE_TIMEOUT)
    send_close (self, &close);
  finish (self, error);
}

static void
do_requested_close (AtlasQuicConnection *self)
{
  ngtcp2_connection_close_error close;
  const char *reason = self->close_reason ? self->close_reason : "";

  self->close_requested = FALSE;
  ngtcp2_connection_close_error_set_application_error (&close, self->close_code,
                                                       (const uint8_t *) reason, strlen (reason));
  send_close (self, &close);
  finish (self, NULL);
}

/* An error from ngtcp2_conn_read_pkt, ngtcp2_conn_handle_expiry or writing. */
static void
handle_liberr (AtlasQuicConnection *self, int rv)
{
  GError *error;

  switch (rv)
    {
    case NGTCP2_ERR_DRAINING:
      finish (self, _atlas_quic_connection_remote_close_error (self));
      return;
    case NGTCP2_ERR_IDLE_CLOSE:
      error = g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                           "Nothing heard from the peer for %u s: the link is gone",
                           (self->tuning.idle_timeout_ms + 999) / 1000);
      break;
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
      error = g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                           "The QUIC handshake did not finish within %u s",
                           (self->tuning.handshake_timeout_ms + 999) / 1000);
      break;
    case NGTCP2_ERR_CRYPTO:
      error = _atlas_quic_connection_tls_error (self);
      break;
    default:
      if (self->peer_mismatch)
        error = _atlas_quic_connection_tls_error (self);
      else
        error = g_error_new (ATLAS_ERROR, ATLAS_ERROR_PROTOCOL, "QUIC failed: %s (ngtcp2 %d)",
                             ngtcp2_strerror (rv), rv);
      break;
    }
  fail (self, rv, error);
}

/* ------------------------------------------------------------ after a call */

/* Things callbacks only noted, done once ngtcp2 has returned: signals may
 * run any code, including code that calls back into this object. */
static void
process_pending (AtlasQuicConnection *self)
{
  if (self->state == QUIC_STATE_CLOSED)
    return;

  if (self->close_requested)
    {
      do_requested_close (self);
      return;
    }

  if (self->handshake_done_pending && self->state == QUIC_STATE_HANDSHAKE)
    {
      GError *error = NULL;

      self->handshake_done_pending = FALSE;
      if (!_atlas_quic_connection_check_peer (self, &error))
        {
          ngtcp2_connection_close_error close;

          ngtcp2_connection_close_error_set_transport_error_tls_alert (
              &close, GNUTLS_A_BAD_CERTIFICATE, NULL, 0);
          send_close (self, &close);
          finish (self, error);
          return;
        }
      if (self->role == ATLAS_QUIC_ROLE_CLIENT)
        {
          int rv = ngtcp2_conn_open_bidi_stream (self->conn, &self->stream_id, NULL);

          if (rv != 0)
            {
              handle_liberr (self, rv);
              return;
            }
          /* The server learns of a stream from its first frame: send one
           * even if this end has nothing to say, so the server can talk. */
          self->announce_stream = TRUE;
        }
      /* Keep-alive PINGs well inside the idle timeout keep a quiet link
       * (and any NAT binding on it) up. */
      ngtcp2_conn_set_keep_alive_timeout (self->conn, (ngtcp2_duration) self->tuning.idle_timeout_ms
                                                          * NGTCP2_MILLISECONDS / 3);
      self->state = QUIC_STATE_ESTABLISHED;
      g_signal_emit (self, signals[SIGNAL_ESTABLISHED], 0);
      schedule_flush (self);
      if (self->state != QUIC_STATE_ESTABLISHED)
        return;
    }

  if (self->want_writable && self->state == QUIC_STATE_ESTABLISHED
      && atlas_quic_connection_get_write_space (self) > 0)
    {
      self->want_writable = FALSE;
      if (self->writable != NULL)
        self->writable (self->stream_data);
    }
}

/* ----------------------------------------------------------------- sending */

/* The unsent part of the send buffer as at most two pieces. */
static gsize
unsent_vectors (AtlasQuicConnection *self, ngtcp2_vec vectors[2])
{
  guint64 pending = self->queued_offset - self->sent_offset;
  gsize start, first;

  if (pending == 0)
    return 0;
  start = self->sent_offset % self->ring_size;
  first = MIN (pending, self->ring_size - start);
  vectors[0].base = self->ring + start;
  vectors[0].len = first;
  if (first == pending)
    return 1;
  vectors[1].base = self->ring;
  vectors[1].len = pending - first;
  return 2;
}

static void
rearm_timer (AtlasQuicConnection *self)
{
  ngtcp2_tstamp expiry;

  if (self->state == QUIC_STATE_CLOSED)
    return;
  if (self->conn == NULL)
    {
      g_source_set_ready_time (self->timer, self->server_deadline_us);
      return;
    }
  expiry = ngtcp2_conn_get_expiry (self->conn);
  if (expiry == UINT64_MAX)
    g_source_set_ready_time (self->timer, -1);
  else
    g_source_set_ready_time (self->timer, (gint64) ((expiry + 999) / NGTCP2_MICROSECONDS));
}

/* Writes packets until ngtcp2 has nothing more to send now (congestion
 * window, pacing, flow control) or the time budget is spent. */
static void
flush (AtlasQuicConnection *self)
{
  ngtcp2_tstamp ts = now_ns ();
  gint64 budget_end = g_get_monotonic_time () + FLUSH_BUDGET_US;
  gsize max_packets, packets = 0;

  if (self->state == QUIC_STATE_CLOSED || self->conn == NULL)
    return;

  /* Flow control may have opened since the last flush (MAX_DATA has no
   * callback), so every flush tries the stream again, once. */
  self->stream_blocked = FALSE;
  max_packets = MAX (ngtcp2_conn_get_send_quantum (self->conn) / self->tx_size, 2);
  for (;;)
    {
      ngtcp2_vec vectors[2];
      gsize n_vectors = 0;
      int64_t stream_id = -1;
      ngtcp2_ssize written, stream_bytes = -1;
      uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_NONE;

      if (self->stream_id >= 0 && !self->stream_blocked)
        {
          n_vectors = unsent_vectors (self, vectors);
          if (n_vectors > 0)
            {
              stream_id = self->stream_id;
              flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
            }
          else if (self->announce_stream)
            stream_id = self->stream_id; /* an empty STREAM frame */
        }

      self->ngtcp2_depth++;
      written = ngtcp2_conn_writev_stream (self->conn, NULL, NULL, self->tx_buffer, self->tx_size,
                                           &stream_bytes, flags, stream_id, vectors, n_vectors, ts);
      self->ngtcp2_depth--;

      if (written < 0)
        {
          switch (written)
            {
            case NGTCP2_ERR_WRITE_MORE:
              self->sent_offset += stream_bytes;
              continue;
            case NGTCP2_ERR_STREAM_DATA_BLOCKED:
            case NGTCP2_ERR_STREAM_SHUT_WR:
              self->stream_blocked = TRUE;
              continue;
            default:
              handle_liberr (self, (int) written);
              return;
            }
        }
      if (stream_bytes >= 0 && stream_id >= 0)
        self->announce_stream = FALSE;
      if (stream_bytes > 0)
        self->sent_offset += stream_bytes;
      if (written == 0)
        {
          ngtcp2_conn_update_pkt_tx_time (self->conn, ts);
          break;
        }

      {
        g_autoptr (GError) error = NULL;

        self->bytes_sent += written;
        if (!atlas_datagram_path_send (self->path, self->tx_buffer, written, &error))
          {
            finish (self, g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                                       "The path to the peer failed: %s", error->message));
            return;
          }
      }

      if (++packets >= max_packets)
        {
          /* A burst of one send quantum; pacing spaces the next. */
          ngtcp2_conn_update_pkt_tx_time (self->conn, ts);
          if (g_get_monotonic_time () >= budget_end)
            break;
          ts = now_ns ();
          packets = 0;
          if (ngtcp2_conn_get_expiry (self->conn) > ts)
            break;
        }
    }
  rearm_timer (self);
}

static void
schedule_flush (AtlasQuicConnection *self)
{
  if (self->state != QUIC_STATE_CLOSED)
    g_source_set_ready_time (self->timer, 0);
}

/* --------------------------------------------------------------- receiving */

static void
datagram_cb (const guint8 *data, gsize length, gpointer user_data)
{
  AtlasQuicConnection *self = user_data;
  gboolean fresh;
  int rv;

  if (self->state == QUIC_STATE_CLOSED)
    {
      /* The closing period, simplified: answer with the same close a few
       * times so a peer that missed it stops too. */
      if (self->close_packet != NULL && self->close_resends < MAX_CLOSE_RESENDS)
        {
          self->close_resends++;
          atlas_datagram_path_send (self->path, self->close_packet, self->close_packet_length,
                                    NULL);
        }
      return;
    }
  if (self->ngtcp2_depth > 0)
    return; /* a path that delivers from inside send(): drop, QUIC resends */

  self->bytes_received += length;
  fresh = self->conn == NULL;
  if (fresh)
    {
      GError *error = NULL;

      /* Anything before the client's Initial packet is dropped. */
      if (!_atlas_quic_connection_create_server (self, data, length, &error))
        {
          if (error != NULL)
            finish (self, error);
          return;
        }
    }

  g_object_ref (self);
  self->ngtcp2_depth++;
  rv = ngtcp2_conn_read_pkt (self->conn, &self->nt_path, NULL, data, length, now_ns ());
  self->ngtcp2_depth--;
  if (fresh && !self->heard_peer)
    {
      /* Anyone can send something shaped like an Initial packet; one that
       * does not decrypt must not take the real client's place. */
      _atlas_quic_connection_discard_server (self);
      g_object_unref (self);
      return;
    }
  if (rv != 0)
    handle_liberr (self, rv);
  process_pending (self);
  schedule_flush (self);
  g_object_unref (self);
}

static gboolean
timer_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  AtlasQuicConnection *self = user_data;

  g_source_set_ready_time (source, -1);
  g_object_ref (self);

  if (self->state == QUIC_STATE_CLOSED)
    ;
  else if (self->conn == NULL)
    {
      if (g_get_monotonic_time () >= self->server_deadline_us)
        finish (self, g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                                   "The peer did not start a QUIC handshake within %u s",
                                   (self->tuning.handshake_timeout_ms + 999) / 1000));
      else
        rearm_timer (self);
    }
  else if (self->close_requested)
    do_requested_close (self);
  else
    {
      ngtcp2_tstamp ts = now_ns ();
      int rv = 0;

      if (ngtcp2_conn_get_expiry (self->conn) <= ts)
        {
          self->ngtcp2_depth++;
          rv = ngtcp2_conn_handle_expiry (self->conn, ts);
          self->ngtcp2_depth--;
        }
      if (rv != 0)
        handle_liberr (self, rv);
      else
        flush (self);
      process_pending (self);
    }

  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_funcs = {
  .dispatch = timer_dispatch,
};

AtlasQuicConnection *
_atlas_quic_connection_new_tuned (AtlasDatagramPath *path, AtlasQuicRole role,
                                  AtlasPeerIdentity *identity,
                                  const char *expected_peer_fingerprint,
                                  const _AtlasQuicTuning *tuning, GError **error)
{
  g_autoptr (AtlasQuicConnection) self = NULL;

  g_return_val_if_fail (ATLAS_IS_DATAGRAM_PATH (path), NULL);
  g_return_val_if_fail (ATLAS_IS_PEER_IDENTITY (identity), NULL);
  g_return_val_if_fail (expected_peer_fingerprint != NULL, NULL);

  if (!g_str_has_prefix (expected_peer_fingerprint, "sha256:")
      || strlen (expected_peer_fingerprint) != 7 + 64)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "“%s” is not a peer fingerprint (expected sha256: and 64 hex digits)",
                   expected_peer_fingerprint);
      return NULL;
    }

  self = g_object_new (ATLAS_TYPE_QUIC_CONNECTION, NULL);
  self->context = g_main_context_ref_thread_default ();
  self->path = g_object_ref (path);
  self->role = role;
  self->identity = g_object_ref (identity);
  self->expected_fingerprint = g_ascii_strdown (expected_peer_fingerprint, -1);
  self->tuning = *tuning;
  self->tx_size = atlas_datagram_path_get_max_datagram_size (path);
  self->tx_buffer = g_malloc (self->tx_size);
  _atlas_quic_connection_prepare (self);
  gnutls_rnd (GNUTLS_RND_RANDOM, self->reset_secret, sizeof self->reset_secret);

  self->timer = g_source_new (&timer_funcs, sizeof (GSource));
  g_source_set_callback (self->timer, NULL, self, NULL);
  g_source_set_static_name (self->timer, "AtlasQuicConnection");
  g_source_attach (self->timer, self->context);

  if (role == ATLAS_QUIC_ROLE_CLIENT)
    {
      if (!_atlas_quic_connection_create_client (self, error))
        return NULL;
      schedule_flush (self);
    }
  else
    {
      self->server_deadline_us =
          g_get_monotonic_time () + (gint64) tuning->handshake_timeout_ms * 1000;
      rearm_timer (self);
    }

  atlas_datagram_path_set_receive_func (path, datagram_cb, self);
  return g_steal_pointer (&self);
}

AtlasQuicConnection *
atlas_quic_connection_new (AtlasDatagramPath *path, AtlasQuicRole role, AtlasPeerIdentity *identity,
                           const char *expected_peer_fingerprint, GError **error)
{
  _AtlasQuicTuning tuning;

  _atlas_quic_tuning_init (&tuning);
  return _atlas_quic_connection_new_tuned (path, role, identity, expected_peer_fingerprint, &tuning,
                                           error);
}

/* -------------------------------------------------------------- public API */

void
atlas_quic_connection_set_stream_funcs (AtlasQuicConnection *self, AtlasQuicReceiveFunc receive,
                                        AtlasQuicWritableFunc writable, gpointer user_data)
{
  g_return_if_fail (ATLAS_IS_QUIC_CONNECTION (self));

  self->receive = receive;
  self->writable = writable;
  self->stream_data = user_data;
}

gsize
atlas_quic_connection_get_write_space (AtlasQuicConnection *self)
{
  g_return_val_if_fail (ATLAS_IS_QUIC_CONNECTION (self), 0);

  if (self->state == QUIC_STATE_CLOSED || self->close_requested)
    return 0;
  return self->ring_size - (gsize) (self->queued_offset - self->acked_offset);
}

gsize
atlas_quic_connection_write (AtlasQuicConnection *self, const guint8 *data, gsize length)
{
  gsize space, taken, start, first;

  g_return_val_if_fail (ATLAS_IS_QUIC_CONNECTION (self), 0);

  space = atlas_quic_connection_get_write_space (self);
  taken = MIN (space, length);
  if (taken < length)
    self->want_writable = TRUE;
  if (taken == 0)
    return 0;

  start = self->queued_offset % self->ring_size;
  first = MIN (taken, self->ring_size - start);
  memcpy (self->ring + start, data, first);
  memcpy (self->ring, data + first, taken - first);
  self->queued_offset += taken;
  schedule_flush (self);
  return taken;
}

void
atlas_quic_connection_close (AtlasQuicConnection *self, guint64 app_error_code, const char *reason)
{
  g_return_if_fail (ATLAS_IS_QUIC_CONNECTION (self));

  if (self->state == QUIC_STATE_CLOSED || self->close_requested)
    return;
  self->close_requested = TRUE;
  self->close_code = app_error_code;
  g_free (self->close_reason);
  self->close_reason = g_strdup (reason);

  /* Inside an ngtcp2 callback (a receive func that closes) the close must
   * wait until ngtcp2 returns; process_pending() does it then. */
  if (self->ngtcp2_depth > 0)
    return;
  g_object_ref (self);
  do_requested_close (self);
  g_object_unref (self);
}

gboolean
atlas_quic_connection_is_established (AtlasQuicConnection *self)
{
  g_return_val_if_fail (ATLAS_IS_QUIC_CONNECTION (self), FALSE);
  return self->state == QUIC_STATE_ESTABLISHED;
}

void
atlas_quic_connection_get_stats (AtlasQuicConnection *self, AtlasQuicStats *stats)
{
  ngtcp2_conn_stat conn_stat;

  g_return_if_fail (ATLAS_IS_QUIC_CONNECTION (self));

  memset (stats, 0, sizeof *stats);
  stats->bytes_sent = self->bytes_sent;
  stats->bytes_received = self->bytes_received;
  if (self->conn == NULL)
    return;
  ngtcp2_conn_get_conn_stat (self->conn, &conn_stat);
  stats->smoothed_rtt_us = conn_stat.smoothed_rtt / NGTCP2_MICROSECONDS;
  stats->cwnd = conn_stat.cwnd;
  if (self->stream_id >= 0)
    stats->packets_lost = ngtcp2_conn_get_stream_loss_count (self->conn, self->stream_id);
}

/* ------------------------------------------------------------------ object */

static void
atlas_quic_connection_dispose (GObject *object)
{
  AtlasQuicConnection *self = ATLAS_QUIC_CONNECTION (object);

  /* Released while open: tell the peer rather than leave it to time out. */
  if (self->state != QUIC_STATE_CLOSED && self->conn != NULL && self->ngtcp2_depth == 0)
    {
      ngtcp2_connection_close_error close;

      ngtcp2_connection_close_error_set_application_error (&close, 0, NULL, 0);
      send_close (self, &close);
      self->state = QUIC_STATE_CLOSED;
    }
  if (self->path != NULL)
    atlas_datagram_path_set_receive_func (self->path, NULL, NULL);
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  g_clear_pointer (&self->conn, ngtcp2_conn_del);
  g_clear_pointer (&self->tls, gnutls_deinit);
  g_clear_object (&self->path);
  g_clear_object (&self->identity);

  G_OBJECT_CLASS (atlas_quic_connection_parent_class)->dispose (object);
}

static void
atlas_quic_connection_finalize (GObject *object)
{
  AtlasQuicConnection *self = ATLAS_QUIC_CONNECTION (object);

  g_free (self->expected_fingerprint);
  g_free (self->peer_fingerprint);
  g_free (self->close_reason);
  g_free (self->ring);
  g_free (self->tx_buffer);
  g_free (self->close_packet);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_atomic_int_add (&n_live, -1);

  G_OBJECT_CLASS (atlas_quic_connection_parent_class)->finalize (object);
}

static void
atlas_quic_connection_class_init (AtlasQuicConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = atlas_quic_connection_dispose;
  object_class->finalize = atlas_quic_connection_finalize;

  signals[SIGNAL_ESTABLISHED] =
      g_signal_new ("established", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CLOSED] =
      g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
atlas_quic_connection_init (AtlasQuicConnection *self)
{
  self->stream_id = -1;
  self->ring_size = SEND_BUFFER_SIZE;
  self->ring = g_malloc (self->ring_size);
  g_atomic_int_inc (&n_live);
}

guint
_atlas_quic_connection_get_n_live (void)
{
  return (guint) g_atomic_int_get (&n_live);
}
