/* test-swarm-links.c — a peer that vanishes leaves nothing behind.
 *
 * A real atlas-tracker, the test mirror (slow, so the peer is the fast
 * source), an `atlas seed` process as the peer, and a downloader with its own
 * session and swarm in this process, on 127.0.0.1. The peer is SIGKILLed
 * while it serves: no GOODBYE, no CONNECTION_CLOSE, no BYE. What a user would
 * notice is memory: within the QUIC idle timeout (30 s) plus the ICE connect
 * timeout (20 s) for a link that was being re-made, the downloader must hold
 * no QUIC connection (each keeps a 640 KiB send ring), no ICE link (a libnice
 * agent and its sockets) and no peer. */
#include "atlas-test-tracker.h"
#include "atlas-test-util.h"

#include "atlas-hash.h"
#include "atlas-ice-link.h"
#include "atlas-quic-connection-private.h"
#include "atlas-swarm.h"

#include <signal.h>

#define PIECE (256 * 1024)
#define FILE_SIZE (24 * PIECE)
/* QUIC idle (30 s) + ICE connect (20 s) + slack for a loaded machine. */
#define GONE_WITHIN_S 75

static char *local_addresses[] = { "127.0.0.1", NULL };

typedef struct
{
  TestTracker *tracker;
  TestMirror *mirror;
  AtlasChecksum sum;
  GBytes *pieces;
  char *metalink_path;
  char *seeder_home;
  GSubprocess *seeder;
} Fixture;

static Fixture fx;

static GSubprocess *
seeder_start (void)
{
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autofree char *file = g_build_filename (fx.mirror->root, "shared.bin", NULL);
  g_autofree char *identity = g_build_filename (fx.seeder_home, "identity", NULL);
  g_autoptr (GError) error = NULL;
  GSubprocess *seeder;

  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", fx.seeder_home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", fx.seeder_home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", fx.seeder_home, TRUE);
  g_subprocess_launcher_setenv (launcher, "ATLAS_TRACKER_TOKEN", fx.tracker->token, TRUE);
  /* Slow enough that the downloader is still fetching when the seeder dies. */
  seeder = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("ATLAS_CLI"), "seed",
                                        fx.metalink_path, "--file", file, "--tracker",
                                        fx.tracker->url, "--local-address", "127.0.0.1",
                                        "--identity", identity, "--upload-limit", "256K", NULL);
  g_assert_no_error (error);
  return seeder;
}

static void
seeder_stop (void)
{
  if (fx.seeder == NULL)
    return;
  if (g_subprocess_get_identifier (fx.seeder) != NULL)
    {
      g_subprocess_force_exit (fx.seeder);
      g_subprocess_wait (fx.seeder, NULL, NULL);
    }
  g_clear_object (&fx.seeder);
}

/* Live link objects of this process; the seeder is another process. */
static gboolean
nothing_left (AtlasSwarm *swarm)
{
  return atlas_swarm_get_n_peers (swarm) == 0 && _atlas_quic_connection_get_n_live () == 0
         && _atlas_ice_link_get_n_live () == 0;
}

/* The seeder serves the downloader, then vanishes by @signal: SIGKILL (its
 * tracker connection drops too, so the tracker can tell) or SIGSTOP (frozen:
 * its sockets stay open and only the QUIC idle timeout can tell). */
static void
vanishing_peer_leaves_nothing (int signal)
{
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasRequest) request = atlas_request_new ();
  g_autoptr (AtlasPeerIdentity) identity = NULL;
  g_autoptr (AtlasTrackerClient) tracker = NULL;
  g_autoptr (AtlasSwarm) swarm = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *out_dir = test_make_temp_dir ();
  g_autofree char *url = test_mirror_url (fx.mirror, "rate=16K", "shared.bin");
  AtlasIceConfig ice = { .local_addresses = local_addresses, .mode = ATLAS_ICE_MODE_DIRECT };
  AtlasSession *session;
  AtlasDownload *download;
  gint64 killed_at;
  guint i;

  g_assert_cmpuint (_atlas_quic_connection_get_n_live (), ==, 0);
  g_assert_cmpuint (_atlas_ice_link_get_n_live (), ==, 0);
  fx.seeder = seeder_start ();
  /* Announced before the downloader asks for peers: its first peer list
   * names the seeder (the next one comes only 45 s later). */
  test_run_for (3000);

  atlas_settings_set_download_directory (settings, out_dir);
  session = test_open_session (NULL, settings, &error);
  g_assert_no_error (error);
  identity = atlas_peer_identity_new_ephemeral (&error);
  g_assert_no_error (error);
  tracker = atlas_tracker_client_new (fx.tracker->url, fx.tracker->token, NULL);
  swarm = atlas_swarm_new (session, identity, tracker, &ice);
  atlas_swarm_start (swarm);
  atlas_session_start (session);
  atlas_request_add_url (request, url, 1, NULL);
  atlas_request_set_size (request, FILE_SIZE);
  atlas_request_set_pieces (request, ATLAS_HASH_SHA256, PIECE, fx.pieces);
  atlas_request_add_checksum (request, &fx.sum);
  atlas_request_set_filename (request, "shared.bin");
  download = atlas_session_add (session, request, &error);
  g_assert_no_error (error);

  /* The seeder serves: a link is up and a piece came through it. */
  for (i = 0; i < 600 && atlas_download_get_bytes_from_peers (download) < PIECE; i++)
    test_run_for (100);
  g_assert_cmpuint (atlas_download_get_bytes_from_peers (download), >=, PIECE);
  g_assert_cmpuint (atlas_swarm_get_n_peers (swarm), ==, 1);
  g_assert_cmpuint (_atlas_quic_connection_get_n_live (), >=, 1);
  g_assert_cmpuint (_atlas_ice_link_get_n_live (), >=, 1);
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_ACTIVE);

  /* Gone without a word. */
  g_subprocess_send_signal (fx.seeder, signal);
  if (signal == SIGKILL)
    g_assert_true (g_subprocess_wait (fx.seeder, NULL, NULL));
  killed_at = g_get_monotonic_time ();

  for (i = 0; i < GONE_WITHIN_S * 10 && !nothing_left (swarm); i++)
    test_run_for (100);
  g_test_message ("%.1f s after signal %d: %u peers, %u QUIC connections, %u ICE links",
                  (g_get_monotonic_time () - killed_at) / 1e6, signal,
                  atlas_swarm_get_n_peers (swarm), _atlas_quic_connection_get_n_live (),
                  _atlas_ice_link_get_n_live ());
  g_assert_cmpuint (atlas_swarm_get_n_peers (swarm), ==, 0);
  g_assert_cmpuint (_atlas_quic_connection_get_n_live (), ==, 0);
  g_assert_cmpuint (_atlas_ice_link_get_n_live (), ==, 0);
  /* The download goes on from the mirror. */
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_ACTIVE);

  atlas_swarm_stop (swarm);
  test_close_session (session);
  test_remove_tree (out_dir);
  seeder_stop ();
}

static void
test_killed_peer_leaves_nothing (void)
{
  vanishing_peer_leaves_nothing (SIGKILL);
}

static void
test_frozen_peer_leaves_nothing (void)
{
  vanishing_peer_leaves_nothing (SIGSTOP);
}

int
main (int argc, char **argv)
{
  g_autofree char *path = NULL;
  g_autofree char *url = NULL;
  g_autoptr (GBytes) metalink = NULL;
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  fx.tracker = test_tracker_start (g_getenv ("ATLAS_TRACKER"));
  fx.mirror = test_mirror_start ();
  fx.sum = test_make_file (fx.mirror->root, "shared.bin", FILE_SIZE, 11);
  path = g_build_filename (fx.mirror->root, "shared.bin", NULL);
  fx.pieces = test_piece_digests (path, PIECE);
  url = test_mirror_url (fx.mirror, "-", "shared.bin");
  metalink = test_make_metalink ("shared.bin", FILE_SIZE, PIECE, &fx.sum, fx.pieces, url);
  test_tracker_publish (fx.tracker, "shared.bin", metalink);
  fx.seeder_home = test_make_temp_dir ();
  fx.metalink_path = g_build_filename (fx.seeder_home, "shared.bin.meta4", NULL);
  g_file_set_contents (fx.metalink_path, g_bytes_get_data (metalink, NULL),
                       (gssize) g_bytes_get_size (metalink), &error);
  g_assert_no_error (error);

  g_test_add_func ("/swarm-links/killed-peer-leaves-nothing", test_killed_peer_leaves_nothing);
  g_test_add_func ("/swarm-links/frozen-peer-leaves-nothing", test_frozen_peer_leaves_nothing);
  status = g_test_run ();

  seeder_stop ();
  test_remove_tree (fx.seeder_home);
  g_free (fx.seeder_home);
  g_free (fx.metalink_path);
  g_bytes_unref (fx.pieces);
  test_mirror_stop (fx.mirror);
  test_tracker_stop (fx.tracker);
  return status;
}
