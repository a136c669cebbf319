/* bench-peer-link.c — QUIC bulk throughput between two peers.
 *
 * Sends N MiB client to server over (a) two UDP sockets on 127.0.0.1, the
 * server in a child process so each end has a core as real peers would, and
 * (b) the in-process impaired pipe with loss (and optional delay) each way.
 * Prints one tab-separated line per scenario on stdout:
 *   scenario  mib  seconds  mib_per_s  verified  lost_frames  cc
 * bench/bench-peer-link.sh runs it repeatedly and prints medians.
 */
#include "atlas-hash.h"
#include "atlas-ice-link.h"
#include "atlas-impaired-pipe.h"
#include "atlas-peer-identity.h"
#include "atlas-quic-connection-private.h"
#include "atlas-udp-path.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024 * 1024)
#define PATTERN_SIZE (MIB + 4099)
#define TIMEOUT_S 300

static guint64 size_mib = 1024;
static char *mode = NULL;
static double loss = 0.005;
static guint delay_ms = 0;
static char *cc_name = NULL;
static guint datagram_size = 0;
static gboolean smoke = FALSE;
static gboolean single_process = FALSE;

static AtlasPeerIdentity *client_identity;
static AtlasPeerIdentity *server_identity;
static guint8 *pattern;
static _AtlasQuicTuning tuning;

typedef struct
{
  AtlasQuicConnection *conn;
  gboolean is_server;
  guint64 total;
  guint64 sent;
  guint64 received;
  AtlasHasher *hash;
  gint64 started_us;
  gint64 finished_us;
  gboolean closed;
  char *error;
} End;

typedef struct
{
  gboolean ok;
  guint64 received;
  double seconds;
  guint64 lost;
  guint8 digest[32];
} Result;

static void
pump (End *end)
{
  while (end->sent < end->total && !end->closed)
    {
      gsize at = end->sent % PATTERN_SIZE;
      gsize want = MIN (end->total - end->sent, (guint64) PATTERN_SIZE - at);
      gsize n = atlas_quic_connection_write (end->conn, pattern + at, want);

      atlas_hasher_update (end->hash, pattern + at, n);
      end->sent += n;
      if (n < want)
        break;
    }
}

static void
receive_cb (const guint8 *data, gsize length, gpointer user_data)
{
  End *end = user_data;

  if (end->received == 0)
    end->started_us = g_get_monotonic_time ();
  atlas_hasher_update (end->hash, data, length);
  end->received += length;
  if (end->received >= end->total && end->finished_us == 0)
    end->finished_us = g_get_monotonic_time ();
}

static void
writable_cb (gpointer user_data)
{
  pump (user_data);
}

static void
established_cb (AtlasQuicConnection *conn, End *end)
{
  if (!end->is_server)
    pump (end);
}

static void
closed_cb (AtlasQuicConnection *conn, const GError *error, End *end)
{
  end->closed = TRUE;
  if (error != NULL)
    end->error = g_strdup (error->message);
}

static void
end_start (End *end, AtlasDatagramPath *path, gboolean is_server)
{
  g_autoptr (GError) error = NULL;

  memset (end, 0, sizeof *end);
  end->is_server = is_server;
  end->total = size_mib * MIB;
  end->hash = atlas_hasher_new (ATLAS_HASH_SHA256);
  end->conn = _atlas_quic_connection_new_tuned (
      path, is_server ? ATLAS_QUIC_ROLE_SERVER : ATLAS_QUIC_ROLE_CLIENT,
      is_server ? server_identity : client_identity,
      atlas_peer_identity_get_fingerprint (is_server ? client_identity : server_identity), &tuning,
      &error);
  if (end->conn == NULL)
    g_error ("%s", error->message);
  atlas_quic_connection_set_stream_funcs (end->conn, receive_cb, writable_cb, end);
  g_signal_connect (end->conn, "established", G_CALLBACK (established_cb), end);
  g_signal_connect (end->conn, "closed", G_CALLBACK (closed_cb), end);
}

static gboolean
timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs until the server has everything or something ends; fills @result. */
static void
server_result (End *server, Result *result)
{
  AtlasQuicStats stats;

  atlas_quic_connection_get_stats (server->conn, &stats);
  result->ok = server->received == server->total && server->error == NULL;
  result->received = server->received;
  result->seconds = (server->finished_us - server->started_us) / 1e6;
  atlas_hasher_finish (server->hash, result->digest);
  if (server->error != NULL)
    g_printerr ("server: %s\n", server->error);
}

static void
report (const char *scenario, const Result *result, End *client)
{
  guint8 sent[32];
  gboolean verified;
  AtlasQuicStats stats;

  atlas_hasher_finish (client->hash, sent);
  atlas_quic_connection_get_stats (client->conn, &stats);
  verified = result->ok && memcmp (sent, result->digest, sizeof sent) == 0;
  g_print ("%s\t%" G_GUINT64_FORMAT "\t%.3f\t%.1f\t%s\t%" G_GUINT64_FORMAT "\t%s\n", scenario,
           size_mib, result->seconds,
           result->ok ? result->received / (double) MIB / result->seconds : 0.0,
           verified ? "yes" : "NO", stats.packets_lost, cc_name);
  if (client->error != NULL)
    g_printerr ("client: %s\n", client->error);
}

static gboolean
server_done (End *server)
{
  return server->finished_us != 0 || server->closed;
}

static void
run_server (End *server)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (TIMEOUT_S, timeout_cb, &timed_out);

  while (!server_done (server) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
}

static AtlasUdpPath *
udp_path (void)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GError) error = NULL;
  AtlasUdpPath *path = atlas_udp_path_new (G_INET_SOCKET_ADDRESS (address), &error);

  if (path == NULL)
    g_error ("%s", error->message);
  if (datagram_size > 0)
    atlas_udp_path_set_max_datagram_size (path, datagram_size);
  return path;
}

static void
set_remote_port (AtlasUdpPath *path, guint16 port)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, port);

  atlas_udp_path_set_remote (path, address);
}

static guint16
local_port (AtlasUdpPath *path)
{
  return g_inet_socket_address_get_port (atlas_udp_path_get_local_address (path));
}

static void
run_udp_single (void)
{
  g_autoptr (AtlasUdpPath) client_path = udp_path ();
  g_autoptr (AtlasUdpPath) server_path = udp_path ();
  End client, server;
  Result result;

  set_remote_port (client_path, local_port (server_path));
  set_remote_port (server_path, local_port (client_path));
  end_start (&server, ATLAS_DATAGRAM_PATH (server_path), TRUE);
  end_start (&client, ATLAS_DATAGRAM_PATH (client_path), FALSE);
  run_server (&server);
  server_result (&server, &result);
  report ("udp-1proc", &result, &client);
  g_object_unref (client.conn);
  g_object_unref (server.conn);
}

static gboolean
read_all (int fd, void *buffer, gsize length)
{
  guint8 *p = buffer;

  while (length > 0)
    {
      ssize_t n = read (fd, p, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      length -= n;
    }
  return TRUE;
}

static gboolean
write_all (int fd, const void *buffer, gsize length)
{
  const guint8 *p = buffer;

  while (length > 0)
    {
      ssize_t n = write (fd, p, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      length -= n;
    }
  return TRUE;
}

/* The server in a child process: no GLib main context exists before the
 * fork, so neither process shares one with the other. */
static void
run_udp (void)
{
  int to_child[2], to_parent[2];
  guint16 server_port, client_port;
  Result result = { 0 };
  End client;
  g_autoptr (AtlasUdpPath) path = NULL;
  gboolean timed_out = FALSE;
  guint id;
  pid_t pid;

  if (pipe (to_child) != 0 || pipe (to_parent) != 0)
    g_error ("pipe: %s", g_strerror (errno));
  pid = fork ();
  if (pid < 0)
    g_error ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      g_autoptr (AtlasUdpPath) server_path = udp_path ();
      End server;

      close (to_parent[0]);
      close (to_child[1]);
      server_port = local_port (server_path);
      if (!write_all (to_parent[1], &server_port, sizeof server_port)
          || !read_all (to_child[0], &client_port, sizeof client_port))
        _exit (2);
      set_remote_port (server_path, client_port);
      end_start (&server, ATLAS_DATAGRAM_PATH (server_path), TRUE);
      run_server (&server);
      server_result (&server, &result);
      /* A clean close tells the client the transfer is over. */
      atlas_quic_connection_close (server.conn, 0, "done");
      write_all (to_parent[1], &result, sizeof result);
      g_object_unref (server.conn);
      /* Disposing the path sends what it still holds: the close. */
      g_clear_object (&server_path);
      _exit (0);
    }

  /* Only the child writes here: its death must end our reads. */
  close (to_parent[1]);
  close (to_child[0]);
  path = udp_path ();
  client_port = local_port (path);
  if (!read_all (to_parent[0], &server_port, sizeof server_port)
      || !write_all (to_child[1], &client_port, sizeof client_port))
    g_error ("talking to the server process failed");
  set_remote_port (path, server_port);
  end_start (&client, ATLAS_DATAGRAM_PATH (path), FALSE);

  id = g_timeout_add_seconds (TIMEOUT_S, timeout_cb, &timed_out);
  while (!client.closed && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  else
    kill (pid, SIGKILL);

  if (!read_all (to_parent[0], &result, sizeof result))
    result.ok = FALSE;
  waitpid (pid, NULL, 0);
  report ("udp", &result, &client);
  g_object_unref (client.conn);
  close (to_child[1]);
  close (to_parent[0]);
}

static void
run_lossy (void)
{
  AtlasImpairment impairment = { .delay_ms = delay_ms, .loss = loss };
  AtlasDatagramPath *a, *b;
  g_autoptr (AtlasImpairedPipe) pipe =
      atlas_impaired_pipe_new (7, &impairment, &impairment, &a, &b);
  g_autofree char *scenario = NULL;
  End client, server;
  Result result;

  if (datagram_size > 0)
    atlas_impaired_pipe_set_max_datagram_size (pipe, datagram_size);
  end_start (&server, b, TRUE);
  end_start (&client, a, FALSE);
  run_server (&server);
  server_result (&server, &result);
  scenario = delay_ms > 0 ? g_strdup_printf ("lossy-%.1f%%-%ums", loss * 100, delay_ms)
                          : g_strdup_printf ("lossy-%.1f%%", loss * 100);
  report (scenario, &result, &client);
  g_object_unref (client.conn);
  g_object_unref (server.conn);
  g_object_unref (a);
  g_object_unref (b);
}

/* ---- the path peers really use: QUIC over two libnice agents ---------- */

typedef struct
{
  AtlasIceLink *link;
  AtlasIceLink *other;
  gboolean ready;
} IceEnd;

static void
ice_candidate_cb (AtlasIceLink *link, const char *candidate, IceEnd *end)
{
  g_autoptr (GError) error = NULL;

  if (!atlas_ice_link_add_remote_candidate (end->other, candidate, &error))
    g_error ("%s", error->message);
}

static void
ice_gathering_done_cb (AtlasIceLink *link, IceEnd *end)
{
  atlas_ice_link_remote_gathering_done (end->other);
}

static void
ice_ready_cb (AtlasIceLink *link, IceEnd *end)
{
  end->ready = TRUE;
}

static void
ice_failed_cb (AtlasIceLink *link, const GError *error, IceEnd *end)
{
  g_error ("ICE failed: %s", error != NULL ? error->message : "?");
}

/* Both agents in this process, host candidates on 127.0.0.1 exchanged
 * directly (the tracker's part in real life), then QUIC over the pair. */
static void
run_ice (void)
{
  char *local[] = { "127.0.0.1", NULL };
  AtlasIceConfig config = { .local_addresses = local, .mode = ATLAS_ICE_MODE_DIRECT };
  g_autoptr (GError) error = NULL;
  IceEnd ends[2] = { 0 };
  End client, server;
  Result result;
  gboolean timed_out = FALSE;
  guint id;

  for (guint i = 0; i < 2; i++)
    {
      ends[i].link = atlas_ice_link_new (i == 0, &config, &error);
      if (ends[i].link == NULL)
        g_error ("%s", error->message);
    }
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *ufrag = NULL;
      g_autofree char *pwd = NULL;

      ends[i].other = ends[1 - i].link;
      g_signal_connect (ends[i].link, "local-candidate", G_CALLBACK (ice_candidate_cb), &ends[i]);
      g_signal_connect (ends[i].link, "gathering-done", G_CALLBACK (ice_gathering_done_cb),
                        &ends[i]);
      g_signal_connect (ends[i].link, "ready", G_CALLBACK (ice_ready_cb), &ends[i]);
      g_signal_connect (ends[i].link, "failed", G_CALLBACK (ice_failed_cb), &ends[i]);
      atlas_ice_link_get_local_credentials (ends[i].link, &ufrag, &pwd);
      if (!atlas_ice_link_set_remote_credentials (ends[1 - i].link, ufrag, pwd, &error))
        g_error ("%s", error->message);
    }
  for (guint i = 0; i < 2; i++)
    atlas_ice_link_gather (ends[i].link);
  id = g_timeout_add_seconds (20, timeout_cb, &timed_out);
  while (!(ends[0].ready && ends[1].ready) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (timed_out)
    g_error ("ICE did not connect on loopback within 20 s");
  g_source_remove (id);

  end_start (&server, ATLAS_DATAGRAM_PATH (ends[1].link), TRUE);
  end_start (&client, ATLAS_DATAGRAM_PATH (ends[0].link), FALSE);
  run_server (&server);
  server_result (&server, &result);
  report ("ice", &result, &client);
  g_object_unref (client.conn);
  g_object_unref (server.conn);
  for (guint i = 0; i < 2; i++)
    {
      g_signal_handlers_disconnect_by_data (ends[i].link, &ends[i]);
      g_object_unref (ends[i].link);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  gint64 size_option = 0;
  gboolean header = FALSE;
  GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_INT64, &size_option, "MiB to send (default 1024)", "MIB" },
    { "smoke", 0, 0, G_OPTION_ARG_NONE, &smoke, "32 MiB only", NULL },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "udp, udp-1proc, ice, lossy or all (default)",
      "M" },
    { "loss", 0, 0, G_OPTION_ARG_DOUBLE, &loss, "loss each way in the lossy run (0.005)", "P" },
    { "delay-ms", 0, 0, G_OPTION_ARG_INT, &delay_ms, "one-way delay in the lossy run", "MS" },
    { "cc", 0, 0, G_OPTION_ARG_STRING, &cc_name, "cubic, bbr, bbr2 or reno (default bbr)", "CC" },
    { "datagram", 0, 0, G_OPTION_ARG_INT, &datagram_size, "max datagram size (1452)", "BYTES" },
    { "header", 0, 0, G_OPTION_ARG_NONE, &header, "print a header line first", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— QUIC peer link benchmark");

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (smoke)
    size_mib = 32;
  if (size_option > 0)
    size_mib = size_option;
  if (mode == NULL)
    mode = g_strdup ("all");
  if (cc_name == NULL)
    cc_name = g_strdup ("bbr");

  _atlas_quic_tuning_init (&tuning);
  if (g_str_equal (cc_name, "cubic"))
    tuning.congestion_control = _ATLAS_QUIC_CC_CUBIC;
  else if (g_str_equal (cc_name, "bbr"))
    tuning.congestion_control = _ATLAS_QUIC_CC_BBR;
  else if (g_str_equal (cc_name, "bbr2"))
    tuning.congestion_control = _ATLAS_QUIC_CC_BBR2;
  else if (g_str_equal (cc_name, "reno"))
    tuning.congestion_control = _ATLAS_QUIC_CC_RENO;
  else
    {
      g_printerr ("unknown --cc %s\n", cc_name);
      return 2;
    }

  client_identity = atlas_peer_identity_new_ephemeral (&error);
  if (client_identity == NULL)
    g_error ("%s", error->message);
  server_identity = atlas_peer_identity_new_ephemeral (&error);
  if (server_identity == NULL)
    g_error ("%s", error->message);
  pattern = g_malloc (PATTERN_SIZE);
  for (gsize i = 0; i < PATTERN_SIZE; i++)
    pattern[i] = (guint8) (i * 2654435761u >> 13);

  if (header)
    g_print ("scenario\tmib\tseconds\tmib_per_s\tverified\tlost_frames\tcc\n");
  if (g_str_equal (mode, "udp") || g_str_equal (mode, "all"))
    run_udp ();
  if (g_str_equal (mode, "udp-1proc") || single_process)
    run_udp_single ();
  if (g_str_equal (mode, "ice") || g_str_equal (mode, "all"))
    run_ice ();
  if (g_str_equal (mode, "lossy") || g_str_equal (mode, "all"))
    run_lossy ();
  return 0;
}
