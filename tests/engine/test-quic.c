/* test-quic.c — QUIC between two peers: over an impaired in-process pipe
 * (loss, delay, reordering, garbage, a cut link) and over loopback UDP; and
 * the peer identity on disk. */
#include "atlas-error.h"
#include "atlas-hash.h"
#include "atlas-impaired-pipe.h"
#include "atlas-peer-identity.h"
#include "atlas-quic-connection-private.h"
#include "atlas-quic-connection.h"
#include "atlas-udp-path.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#define MIB (1024 * 1024)
/* Not a power of two, so the pattern does not line up with packet sizes. */
#define PATTERN_SIZE (MIB + 4099)

static AtlasPeerIdentity *client_identity;
static AtlasPeerIdentity *server_identity;
static guint8 *pattern;

typedef struct
{
  AtlasQuicConnection *conn;
  gboolean established;
  gboolean closed;
  GError *close_error;
  gint64 closed_at_us;

  guint64 to_send;
  guint64 sent;
  AtlasHasher *tx_hash;
  guint64 received;
  AtlasHasher *rx_hash;
} Peer;

typedef struct
{
  Peer client;
  Peer server;
} Pair;

/* ---------------------------------------------------------------- helpers */

static gboolean
timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

typedef gboolean (*Predicate) (gpointer data);

/* Runs the main context until @done says so or @timeout_s passes. */
static gboolean
run_until (Predicate done, gpointer data, guint timeout_s)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (timeout_s, timeout_cb, &timed_out);

  while (!done (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return done (data);
}

static void
run_for_ms (guint ms)
{
  gboolean timed_out = FALSE;

  g_timeout_add (ms, timeout_cb, &timed_out);
  while (!timed_out)
    g_main_context_iteration (NULL, TRUE);
}

static void
pump (Peer *peer)
{
  while (peer->sent < peer->to_send && !peer->closed)
    {
      gsize at = peer->sent % PATTERN_SIZE;
      gsize want = MIN (peer->to_send - peer->sent, (guint64) PATTERN_SIZE - at);
      gsize n = atlas_quic_connection_write (peer->conn, pattern + at, want);

      atlas_hasher_update (peer->tx_hash, pattern + at, n);
      peer->sent += n;
      if (n < want)
        break;
    }
}

static void
receive_cb (const guint8 *data, gsize length, gpointer user_data)
{
  Peer *peer = user_data;

  atlas_hasher_update (peer->rx_hash, data, length);
  peer->received += length;
}

static void
writable_cb (gpointer user_data)
{
  pump (user_data);
}

static void
established_cb (AtlasQuicConnection *conn, Peer *peer)
{
  g_assert_false (peer->established);
  peer->established = TRUE;
  pump (peer);
}

static void
closed_cb (AtlasQuicConnection *conn, const GError *error, Peer *peer)
{
  g_assert_false (peer->closed);
  peer->closed = TRUE;
  peer->closed_at_us = g_get_monotonic_time ();
  peer->close_error = error ? g_error_copy (error) : NULL;
}

static void
peer_start (Peer *peer, AtlasDatagramPath *path, AtlasQuicRole role, AtlasPeerIdentity *identity,
            const char *expected, const _AtlasQuicTuning *tuning, guint64 to_send)
{
  g_autoptr (GError) error = NULL;
  _AtlasQuicTuning defaults;

  if (tuning == NULL)
    {
      _atlas_quic_tuning_init (&defaults);
      tuning = &defaults;
    }
  memset (peer, 0, sizeof *peer);
  peer->to_send = to_send;
  peer->tx_hash = atlas_hasher_new (ATLAS_HASH_SHA256);
  peer->rx_hash = atlas_hasher_new (ATLAS_HASH_SHA256);
  peer->conn = _atlas_quic_connection_new_tuned (path, role, identity, expected, tuning, &error);
  g_assert_no_error (error);
  g_assert_nonnull (peer->conn);
  atlas_quic_connection_set_stream_funcs (peer->conn, receive_cb, writable_cb, peer);
  g_signal_connect (peer->conn, "established", G_CALLBACK (established_cb), peer);
  g_signal_connect (peer->conn, "closed", G_CALLBACK (closed_cb), peer);
}

static void
peer_clear (Peer *peer)
{
  if (peer->conn != NULL)
    g_signal_handlers_disconnect_by_data (peer->conn, peer);
  g_clear_object (&peer->conn);
  g_clear_error (&peer->close_error);
  g_clear_pointer (&peer->tx_hash, atlas_hasher_free);
  g_clear_pointer (&peer->rx_hash, atlas_hasher_free);
}

static void
pair_start (Pair *pair, AtlasDatagramPath *client_path, AtlasDatagramPath *server_path,
            const _AtlasQuicTuning *tuning, guint64 client_sends, guint64 server_sends)
{
  peer_start (&pair->server, server_path, ATLAS_QUIC_ROLE_SERVER, server_identity,
              atlas_peer_identity_get_fingerprint (client_identity), tuning, server_sends);
  peer_start (&pair->client, client_path, ATLAS_QUIC_ROLE_CLIENT, client_identity,
              atlas_peer_identity_get_fingerprint (server_identity), tuning, client_sends);
}

static void
pair_clear (Pair *pair)
{
  peer_clear (&pair->client);
  peer_clear (&pair->server);
}

static gboolean
transfer_done (gpointer data)
{
  Pair *pair = data;

  return (pair->server.received == pair->client.to_send
          && pair->client.received == pair->server.to_send)
         || pair->client.closed || pair->server.closed;
}

static gboolean
both_closed (gpointer data)
{
  Pair *pair = data;

  return pair->client.closed && pair->server.closed;
}

static void
assert_same_bytes (Peer *sender, Peer *receiver)
{
  guint8 sent[32], received[32];

  g_assert_cmpuint (receiver->received, ==, sender->to_send);
  g_assert_cmpuint (sender->sent, ==, sender->to_send);
  atlas_hasher_finish (sender->tx_hash, sent);
  atlas_hasher_finish (receiver->rx_hash, received);
  g_assert_cmpmem (sent, sizeof sent, received, sizeof received);
}

/* Runs a transfer to the end, checks both directions, then closes cleanly
 * and checks both ends saw a clean close. */
static void
run_transfer (Pair *pair, guint timeout_s)
{
  gint64 start = g_get_monotonic_time ();
  double seconds;

  g_assert_true (run_until (transfer_done, pair, timeout_s));
  if (pair->client.close_error != NULL)
    g_error ("client closed: %s", pair->client.close_error->message);
  if (pair->server.close_error != NULL)
    g_error ("server closed: %s", pair->server.close_error->message);
  g_assert_false (pair->client.closed);
  g_assert_false (pair->server.closed);
  seconds = (g_get_monotonic_time () - start) / 1e6;
  g_test_message ("%.1f MiB in %.2f s", (pair->client.to_send + pair->server.to_send) / 1.0 / MIB,
                  seconds);

  assert_same_bytes (&pair->client, &pair->server);
  assert_same_bytes (&pair->server, &pair->client);

  atlas_quic_connection_close (pair->client.conn, 0, "done");
  g_assert_true (pair->client.closed);
  g_assert_no_error (pair->client.close_error);
  g_assert_true (run_until (both_closed, pair, 5));
  g_assert_no_error (pair->server.close_error);
}

/* ------------------------------------------------------------ over a pipe */

static void
test_pipe_clean (void)
{
  AtlasDatagramPath *a, *b;
  g_autoptr (AtlasImpairedPipe) pipe = atlas_impaired_pipe_new (1, NULL, NULL, &a, &b);
  Pair pair;

  pair_start (&pair, a, b, NULL, 8 * MIB, 8 * MIB);
  g_assert_true (atlas_quic_connection_get_write_space (pair.client.conn) > 0);
  run_transfer (&pair, 30);
  g_assert_true (pair.client.established);
  g_assert_true (pair.server.established);
  pair_clear (&pair);
  g_object_unref (a);
  g_object_unref (b);
}

static void
test_pipe_lossy (void)
{
  /* 2 % loss each way, 1 % held back out of order, 20 ms one-way delay. */
  AtlasImpairment impairment = { .delay_ms = 20, .jitter_ms = 2, .loss = 0.02, .reorder = 0.01 };
  AtlasDatagramPath *a, *b;
  g_autoptr (AtlasImpairedPipe) pipe =
      atlas_impaired_pipe_new (2, &impairment, &impairment, &a, &b);
  AtlasQuicStats stats;
  Pair pair;

  pair_start (&pair, a, b, NULL, 8 * MIB, 8 * MIB);
  run_transfer (&pair, 50);
  /* The loss was real and QUIC recovered from it. */
  g_assert_cmpuint (atlas_impaired_pipe_get_dropped (pipe, TRUE), >, 100);
  g_assert_cmpuint (atlas_impaired_pipe_get_dropped (pipe, FALSE), >, 100);
  atlas_quic_connection_get_stats (pair.server.conn, &stats);
  g_assert_cmpuint (stats.smoothed_rtt_us, >=, 35000);
  pair_clear (&pair);
  g_object_unref (a);
  g_object_unref (b);
}

static void
assert_authentication_failure (gboolean client_expects_wrong)
{
  AtlasDatagramPath *a, *b;
  g_autoptr (AtlasImpairedPipe) pipe = atlas_impaired_pipe_new (3, NULL, NULL, &a, &b);
  g_autoptr (AtlasPeerIdentity) stranger = atlas_peer_identity_new_ephemeral (NULL);
  const char *stranger_fp = atlas_peer_identity_get_fingerprint (stranger);
  const char *client_fp = atlas_peer_identity_get_fingerprint (client_identity);
  const char *server_fp = atlas_peer_identity_get_fingerprint (server_identity);
  Pair pair;

  peer_start (&pair.server, b, ATLAS_QUIC_ROLE_SERVER, server_identity,
              client_expects_wrong ? client_fp : stranger_fp, NULL, MIB);
  peer_start (&pair.client, a, ATLAS_QUIC_ROLE_CLIENT, client_identity,
              client_expects_wrong ? stranger_fp : server_fp, NULL, MIB);

  g_assert_true (run_until (both_closed, &pair, 10));
  g_assert_error (pair.client.close_error, ATLAS_ERROR, ATLAS_ERROR_AUTHENTICATION);
  g_assert_error (pair.server.close_error, ATLAS_ERROR, ATLAS_ERROR_AUTHENTICATION);
  g_test_message ("client: %s", pair.client.close_error->message);
  g_test_message ("server: %s", pair.server.close_error->message);

  /* The side that refused names what it expected and what it got. */
  {
    Peer *refuser = client_expects_wrong ? &pair.client : &pair.server;
    const char *presented = client_expects_wrong ? server_fp : client_fp;

    g_assert_nonnull (strstr (refuser->close_error->message, stranger_fp));
    g_assert_nonnull (strstr (refuser->close_error->message, presented));
  }

  g_assert_false (pair.client.established);
  g_assert_false (pair.server.established);
  g_assert_false (atlas_quic_connection_is_established (pair.client.conn));
  g_assert_cmpuint (pair.client.received, ==, 0);
  g_assert_cmpuint (pair.server.received, ==, 0);
  g_assert_cmpuint (atlas_quic_connection_get_write_space (pair.client.conn), ==, 0);
  pair_clear (&pair);
  g_object_unref (a);
  g_object_unref (b);
}

static void
test_pipe_wrong_fingerprint_client (void)
{
  assert_authentication_failure (TRUE);
}

static void
test_pipe_wrong_fingerprint_server (void)
{
  assert_authentication_failure (FALSE);
}

typedef struct
{
  AtlasImpairedPipe *pipe;
  GRand *rand;
  guint injected;
} Garbage;

static gboolean
inject_garbage_cb (gpointer user_data)
{
  Garbage *garbage = user_data;

  for (guint i = 0; i < 4; i++)
    {
      guint8 junk[1500];
      gsize length = g_rand_int_range (garbage->rand, 1, sizeof junk);

      for (gsize j = 0; j < length; j++)
        junk[j] = g_rand_int (garbage->rand);
      /* Some look like QUIC short-header packets, some like long headers. */
      if (i == 1)
        junk[0] = (junk[0] & 0x3f) | 0x40;
      else if (i == 2)
        junk[0] |= 0xc0;
      atlas_impaired_pipe_inject (garbage->pipe, garbage->injected % 2 == 0, junk, length);
      garbage->injected++;
    }
  return G_SOURCE_CONTINUE;
}

static void
test_pipe_garbage (void)
{
  AtlasImpairment impairment = { .delay_ms = 1 };
  AtlasDatagramPath *a, *b;
  g_autoptr (AtlasImpairedPipe) pipe =
      atlas_impaired_pipe_new (4, &impairment, &impairment, &a, &b);
  Garbage garbage = { pipe, g_rand_new_with_seed (44), 0 };
  guint id;
  Pair pair;

  pair_start (&pair, a, b, NULL, 8 * MIB, 8 * MIB);
  id = g_timeout_add (2, inject_garbage_cb, &garbage);
  run_transfer (&pair, 30);
  g_source_remove (id);
  g_test_message ("%u garbage datagrams injected", garbage.injected);
  g_assert_cmpuint (garbage.injected, >, 20);
  g_rand_free (garbage.rand);
  pair_clear (&pair);
  g_object_unref (a);
  g_object_unref (b);
}

static gboolean
both_established (gpointer data)
{
  Pair *pair = data;

  return (pair->client.established && pair->server.established) || pair->client.closed
         || pair->server.closed;
}

static void
test_pipe_rate_limited (void)
{
  /* A 4 MB/s bottleneck with a 64 KiB queue and 5 ms each way: the sender
   * must find the rate without the queue's tail drops stalling it. */
  AtlasImpairment bottleneck = { .delay_ms = 5,
                                 .rate_bytes_per_second = 4000000,
                                 .queue_limit_bytes = 64 * 1024 };
  AtlasImpairment back = { .delay_ms = 5 };
  AtlasDatagramPath *a, *b;
  g_autoptr (AtlasImpairedPipe) pipe = atlas_impaired_pipe_new (11, &bottleneck, &back, &a, &b);
  gint64 start = g_get_monotonic_time ();
  double seconds;
  Pair pair;

  pair_start (&pair, a, b, NULL, 4 * MIB, 0);
  run_transfer (&pair, 20);
  seconds = (g_get_monotonic_time () - start) / 1e6;
  /* The pipe really limits: 4 MiB cannot cross 4 MB/s in under ~1 s. */
  g_assert_cmpfloat (seconds, >=, 4.0 * MIB / 4000000 * 0.95);
  g_test_message ("%.2f MB/s through a 4 MB/s bottleneck", 4.0 * MIB / seconds / 1e6);
  pair_clear (&pair);
  g_object_unref (a);
  g_object_unref (b);
}

static void
test_pipe_server_sends_only (void)
{
  AtlasDatagramPath *a, *b;
  g_autoptr (AtlasImpairedPipe) pipe = atlas_impaired_pipe_new (10, NULL, NULL, &a, &b);
  Pair pair;

  /* The client writes nothing, yet the server's bytes must reach it. */
  pair_start (&pair, a, b, NULL, 0, 2 * MIB);
  run_transfer (&pair, 10);
  pair_clear (&pair);
  g_object_unref (a);
  g_object_unref (b);
}

static void
test_pipe_forged_initial (void)
{
  AtlasDatagramPath *a, *b;
  g_autoptr (AtlasImpairedPipe) pipe = atlas_impaired_pipe_new (9, NULL, NULL, &a, &b);
  guint8 forged[1200];
  Pair pair;

  /* Something that passes for a client's Initial packet (long header,
   * version 1, 8-byte connection IDs, full size) but is not one: a waiting
   * server must not let it take the place of the real client. */
  memset (forged, 0x5a, sizeof forged);
  memcpy (forged, "\xc3\x00\x00\x00\x01\x08", 6);
  memset (forged + 6, 0x11, 8);
  forged[14] = 8;
  memset (forged + 15, 0x22, 8);
  memcpy (forged + 23, "\x00\x44\xa0", 3);

  peer_start (&pair.server, b, ATLAS_QUIC_ROLE_SERVER, server_identity,
              atlas_peer_identity_get_fingerprint (client_identity), NULL, MIB);
  atlas_impaired_pipe_inject (pipe, TRUE, forged, sizeof forged);
  run_for_ms (50);
  g_assert_false (pair.server.closed);

  peer_start (&pair.client, a, ATLAS_QUIC_ROLE_CLIENT, client_identity,
              atlas_peer_identity_get_fingerprint (server_identity), NULL, MIB);
  run_transfer (&pair, 10);
  pair_clear (&pair);
  g_object_unref (a);
  g_object_unref (b);
}

static void
test_pipe_peer_vanishes (void)
{
  AtlasDatagramPath *a, *b;
  g_autoptr (AtlasImpairedPipe) pipe = atlas_impaired_pipe_new (5, NULL, NULL, &a, &b);
  _AtlasQuicTuning tuning;
  gint64 cut_at;
  Pair pair;

  _atlas_quic_tuning_init (&tuning);
  tuning.idle_timeout_ms = 2000;
  pair_start (&pair, a, b, &tuning, 0, 0);
  g_assert_true (run_until (both_established, &pair, 10));
  g_assert_false (pair.client.closed);

  /* Idle but alive: keep-alives hold the link up past the idle timeout. */
  run_for_ms (3000);
  g_assert_false (pair.client.closed);
  g_assert_false (pair.server.closed);

  atlas_impaired_pipe_set_cut (pipe, TRUE);
  cut_at = g_get_monotonic_time ();
  g_assert_true (run_until (both_closed, &pair, 6));
  g_assert_error (pair.client.close_error, ATLAS_ERROR, ATLAS_ERROR_NETWORK);
  g_assert_error (pair.server.close_error, ATLAS_ERROR, ATLAS_ERROR_NETWORK);
  g_test_message ("closed after %.2f s and %.2f s", (pair.client.closed_at_us - cut_at) / 1e6,
                  (pair.server.closed_at_us - cut_at) / 1e6);
  g_assert_cmpint (pair.client.closed_at_us - cut_at, >=, 1000 * 1000);
  g_assert_cmpint (pair.client.closed_at_us - cut_at, <=, 4000 * 1000);
  pair_clear (&pair);
  g_object_unref (a);
  g_object_unref (b);
}

static void
test_pipe_handshake_timeout (void)
{
  AtlasDatagramPath *a, *b;
  g_autoptr (AtlasImpairedPipe) pipe = atlas_impaired_pipe_new (6, NULL, NULL, &a, &b);
  _AtlasQuicTuning tuning;
  Pair pair;

  /* Nobody answers: the client's handshake must give up, and a server
   * that never hears a client must too. */
  _atlas_quic_tuning_init (&tuning);
  tuning.handshake_timeout_ms = 1500;
  atlas_impaired_pipe_set_cut (pipe, TRUE);
  pair_start (&pair, a, b, &tuning, 0, 0);
  g_assert_true (run_until (both_closed, &pair, 6));
  g_assert_error (pair.client.close_error, ATLAS_ERROR, ATLAS_ERROR_NETWORK);
  g_assert_error (pair.server.close_error, ATLAS_ERROR, ATLAS_ERROR_NETWORK);
  g_assert_false (pair.client.established);
  pair_clear (&pair);
  g_object_unref (a);
  g_object_unref (b);
}

static void
test_pipe_bad_fingerprint_string (void)
{
  AtlasDatagramPath *a, *b;
  g_autoptr (AtlasImpairedPipe) pipe = atlas_impaired_pipe_new (7, NULL, NULL, &a, &b);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasQuicConnection) conn =
      atlas_quic_connection_new (a, ATLAS_QUIC_ROLE_CLIENT, client_identity, "md5:1234", &error);

  g_assert_null (conn);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_object_unref (a);
  g_object_unref (b);
}

/* ---------------------------------------------------------- over UDP */

static void
test_udp_loopback (void)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasUdpPath) client_path = NULL;
  g_autoptr (AtlasUdpPath) server_path = NULL;
  AtlasQuicStats stats;
  Pair pair;

  client_path = atlas_udp_path_new (G_INET_SOCKET_ADDRESS (any_port), &error);
  g_assert_no_error (error);
  server_path = atlas_udp_path_new (G_INET_SOCKET_ADDRESS (any_port), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_inet_socket_address_get_port (atlas_udp_path_get_local_address (client_path)),
                    !=, 0);
  atlas_udp_path_set_remote (client_path,
                             G_SOCKET_ADDRESS (atlas_udp_path_get_local_address (server_path)));
  atlas_udp_path_set_remote (server_path,
                             G_SOCKET_ADDRESS (atlas_udp_path_get_local_address (client_path)));

  pair_start (&pair, ATLAS_DATAGRAM_PATH (client_path), ATLAS_DATAGRAM_PATH (server_path), NULL,
              64 * MIB, 0);
  run_transfer (&pair, 50);
  atlas_quic_connection_get_stats (pair.client.conn, &stats);
  g_assert_cmpuint (stats.bytes_sent, >, 64 * MIB);
  pair_clear (&pair);
}

/* ------------------------------------------------------------- identity */

static void
test_identity_round_trip (void)
{
  g_autofree char *base = g_dir_make_tmp ("atlas-identity-XXXXXX", NULL);
  g_autofree char *dir = g_build_filename (base, "config", "peer", NULL);
  g_autofree char *key_path = g_build_filename (dir, "peer-key.pem", NULL);
  g_autofree char *cert_path = g_build_filename (dir, "peer-cert.pem", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasPeerIdentity) first = NULL;
  g_autoptr (AtlasPeerIdentity) second = NULL;
  const char *fingerprint;
  GStatBuf st;

  first = atlas_peer_identity_load_or_create (dir, &error);
  g_assert_no_error (error);
  fingerprint = atlas_peer_identity_get_fingerprint (first);
  g_assert_true (g_str_has_prefix (fingerprint, "sha256:"));
  g_assert_cmpuint (strlen (fingerprint), ==, 7 + 64);
  for (const char *p = fingerprint + 7; *p; p++)
    g_assert_true (g_ascii_isdigit (*p) || (*p >= 'a' && *p <= 'f'));

  g_assert_cmpint (g_stat (key_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  second = atlas_peer_identity_load_or_create (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (atlas_peer_identity_get_fingerprint (second), ==, fingerprint);
  g_assert_nonnull (atlas_peer_identity_get_credentials (second));

  /* A loaded identity works in a handshake, and its fingerprint is the one
   * the other side sees. */
  {
    AtlasDatagramPath *a, *b;
    g_autoptr (AtlasImpairedPipe) pipe = atlas_impaired_pipe_new (8, NULL, NULL, &a, &b);
    Pair pair;

    peer_start (&pair.server, b, ATLAS_QUIC_ROLE_SERVER, server_identity, fingerprint, NULL, 0);
    peer_start (&pair.client, a, ATLAS_QUIC_ROLE_CLIENT, second,
                atlas_peer_identity_get_fingerprint (server_identity), NULL, 0);
    g_assert_true (run_until (both_established, &pair, 10));
    g_assert_true (pair.client.established && pair.server.established);
    pair_clear (&pair);
    g_object_unref (a);
    g_object_unref (b);
  }

  g_remove (key_path);
  g_remove (cert_path);
  g_rmdir (dir);
  g_autofree char *config = g_path_get_dirname (dir);
  g_rmdir (config);
  g_rmdir (base);
}

static void
assert_load_fails (const char *dir, const char *mentions)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasPeerIdentity) identity = atlas_peer_identity_load_or_create (dir, &error);

  g_assert_null (identity);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, mentions));
}

static void
test_identity_corrupt (void)
{
  g_autofree char *dir = g_dir_make_tmp ("atlas-identity-XXXXXX", NULL);
  g_autofree char *key_path = g_build_filename (dir, "peer-key.pem", NULL);
  g_autofree char *cert_path = g_build_filename (dir, "peer-cert.pem", NULL);
  g_autofree char *good_cert = NULL;
  g_autofree char *good_key = NULL;
  g_autoptr (AtlasPeerIdentity) identity = NULL;
  g_autoptr (AtlasPeerIdentity) other = NULL;
  g_autofree char *other_dir = g_build_filename (dir, "other", NULL);
  g_autofree char *other_cert_path = g_build_filename (other_dir, "peer-cert.pem", NULL);
  g_autofree char *other_key_path = g_build_filename (other_dir, "peer-key.pem", NULL);
  g_autofree char *other_cert = NULL;

  identity = atlas_peer_identity_load_or_create (dir, NULL);
  g_assert_nonnull (identity);
  g_assert_true (g_file_get_contents (cert_path, &good_cert, NULL, NULL));
  g_assert_true (g_file_get_contents (key_path, &good_key, NULL, NULL));

  g_assert_true (g_file_set_contents (cert_path, "-----BEGIN CERTIFICATE-----\nAAAA\n", -1, NULL));
  assert_load_fails (dir, "peer-cert.pem");
  /* Never silently replaced. */
  {
    g_autofree char *now = NULL;

    g_assert_true (g_file_get_contents (cert_path, &now, NULL, NULL));
    g_assert_true (g_str_has_suffix (now, "AAAA\n"));
  }
  g_assert_true (g_file_set_contents (cert_path, good_cert, -1, NULL));

  g_assert_true (g_file_set_contents (key_path, "garbage", -1, NULL));
  assert_load_fails (dir, "peer-key.pem");
  g_assert_true (g_file_set_contents (key_path, good_key, -1, NULL));

  /* Another identity's certificate with this key. */
  other = atlas_peer_identity_load_or_create (other_dir, NULL);
  g_assert_nonnull (other);
  g_assert_true (g_file_get_contents (other_cert_path, &other_cert, NULL, NULL));
  g_assert_true (g_file_set_contents (cert_path, other_cert, -1, NULL));
  assert_load_fails (dir, "does not belong");
  g_assert_true (g_file_set_contents (cert_path, good_cert, -1, NULL));

  g_remove (cert_path);
  assert_load_fails (dir, "peer-cert.pem");
  g_assert_true (g_file_test (key_path, G_FILE_TEST_EXISTS));

  g_remove (key_path);
  g_remove (other_cert_path);
  g_remove (other_key_path);
  g_rmdir (other_dir);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

  client_identity = atlas_peer_identity_new_ephemeral (NULL);
  server_identity = atlas_peer_identity_new_ephemeral (NULL);
  g_assert_nonnull (client_identity);
  g_assert_nonnull (server_identity);
  g_assert_cmpstr (atlas_peer_identity_get_fingerprint (client_identity), !=,
                   atlas_peer_identity_get_fingerprint (server_identity));
  pattern = g_malloc (PATTERN_SIZE);
  {
    GRand *rand = g_rand_new_with_seed (4242);

    for (gsize i = 0; i < PATTERN_SIZE; i++)
      pattern[i] = g_rand_int (rand);
    g_rand_free (rand);
  }

  g_test_add_func ("/quic/identity/round-trip", test_identity_round_trip);
  g_test_add_func ("/quic/identity/corrupt", test_identity_corrupt);
  g_test_add_func ("/quic/pipe/clean", test_pipe_clean);
  g_test_add_func ("/quic/pipe/lossy", test_pipe_lossy);
  g_test_add_func ("/quic/pipe/wrong-fingerprint-client", test_pipe_wrong_fingerprint_client);
  g_test_add_func ("/quic/pipe/wrong-fingerprint-server", test_pipe_wrong_fingerprint_server);
  g_test_add_func ("/quic/pipe/garbage", test_pipe_garbage);
  g_test_add_func ("/quic/pipe/rate-limited", test_pipe_rate_limited);
  g_test_add_func ("/quic/pipe/server-sends-only", test_pipe_server_sends_only);
  g_test_add_func ("/quic/pipe/forged-initial", test_pipe_forged_initial);
  g_test_add_func ("/quic/pipe/peer-vanishes", test_pipe_peer_vanishes);
  g_test_add_func ("/quic/pipe/handshake-timeout", test_pipe_handshake_timeout);
  g_test_add_func ("/quic/pipe/bad-fingerprint-string", test_pipe_bad_fingerprint_string);
  g_test_add_func ("/quic/udp/loopback-64mib", test_udp_loopback);

  status = g_test_run ();
  g_object_unref (client_identity);
  g_object_unref (server_identity);
  g_free (pattern);
  return status;
}
