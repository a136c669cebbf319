/* A loopback swarm: a real tracker, one rate-limited origin mirror and
 * several downloaders, each with its own session, identity, tracker client
 * and swarm, connected by ICE on 127.0.0.1 and QUIC. What a user would see:
 * every file complete and right, pieces traded between peers, and the origin
 * sending each piece about once instead of once per downloader. */
#include "atlas-test-tracker.h"
#include "atlas-test-util.h"

#include "atlas-download-private.h"
#include "atlas-swarm.h"

#include <string.h>

#define PIECE (256 * 1024)
#define FILE_SIZE (16 * 1024 * 1024 + 999)
#define N_PEERS 3

typedef struct
{
  char *out_dir;
  AtlasSettings *settings;
  AtlasSession *session;
  AtlasPeerIdentity *identity;
  AtlasTrackerClient *tracker;
  AtlasSwarm *swarm;
  AtlasDownload *download;
} Peer;

static void
peer_start (Peer *peer, TestTracker *tracker, AtlasRequest *request)
{
  char *local[] = { "127.0.0.1", NULL };
  AtlasIceConfig ice = { .local_addresses = local, .mode = ATLAS_ICE_MODE_DIRECT };
  g_autoptr (GError) error = NULL;

  peer->out_dir = test_make_temp_dir ();
  peer->settings = atlas_settings_new ();
  atlas_settings_set_download_directory (peer->settings, peer->out_dir);
  peer->session = test_open_session (NULL, peer->settings, &error);
  g_assert_no_error (error);
  peer->identity = atlas_peer_identity_new_ephemeral (&error);
  g_assert_no_error (error);
  peer->tracker = atlas_tracker_client_new (tracker->url, tracker->token, NULL);
  peer->swarm = atlas_swarm_new (peer->session, peer->identity, peer->tracker, &ice);
  /* The swarm first, as the app and the CLI do: the download's first mirror
   * claims are then already spread for the swarm. */
  atlas_swarm_start (peer->swarm);
  atlas_session_start (peer->session);
  peer->download = atlas_session_add (peer->session, request, &error);
  g_assert_no_error (error);
}

static void
peer_stop (Peer *peer)
{
  atlas_swarm_stop (peer->swarm);
  g_clear_object (&peer->swarm);
  test_close_session (peer->session);
  g_clear_object (&peer->tracker);
  g_clear_object (&peer->identity);
  g_clear_object (&peer->settings);
  test_remove_tree (peer->out_dir);
  g_free (peer->out_dir);
}

static gboolean
has_peer_source (AtlasDownload *download)
{
  GListModel *sources = atlas_download_get_sources (download);

  for (guint i = 0; i < g_list_model_get_n_items (sources); i++)
    {
      g_autoptr (AtlasSource) source = g_list_model_get_item (sources, i);
      if (g_str_has_prefix (atlas_source_get_url (source), "peer:"))
        return TRUE;
    }
  return FALSE;
}

static void
test_loopback_swarm (void)
{
  g_autoptr (TestTracker) tracker = test_tracker_start (g_getenv ("ATLAS_TRACKER"));
  g_autoptr (TestMirror) mirror = test_mirror_start ();
  AtlasChecksum sum = test_make_file (mirror->root, "swarm.bin", FILE_SIZE, 11);
  g_autofree char *path = g_build_filename (mirror->root, "swarm.bin", NULL);
  g_autoptr (GBytes) pieces = test_piece_digests (path, PIECE);
  /* 4 MiB/s from the origin: alone, three downloaders would share it and
   * take about 12 s; trading pieces, each needs little more than one copy. */
  g_autofree char *url = test_mirror_url (mirror, "rate=4M", "swarm.bin");
  g_autoptr (GBytes) metalink =
      test_make_metalink ("swarm.bin", FILE_SIZE, PIECE, &sum, pieces, url);
  Peer peers[N_PEERS] = { 0 };
  guint64 from_mirrors = 0;
  gboolean all_done = FALSE;

  test_tracker_publish (tracker, "swarm.bin", metalink);
  for (guint i = 0; i < N_PEERS; i++)
    {
      g_autoptr (AtlasRequest) request = atlas_request_new ();

      atlas_request_add_url (request, url, 1, NULL);
      atlas_request_set_size (request, FILE_SIZE);
      atlas_request_set_pieces (request, ATLAS_HASH_SHA256, PIECE, pieces);
      atlas_request_add_checksum (request, &sum);
      atlas_request_set_filename (request, "swarm.bin");
      peer_start (&peers[i], tracker, request);
    }

  for (guint tick = 0; tick < 900 && !all_done; tick++)
    {
      test_run_for (100);
      all_done = TRUE;
      for (guint i = 0; i < N_PEERS; i++)
        {
          AtlasDownloadState state = atlas_download_get_state (peers[i].download);
          g_assert_cmpint (state, !=, ATLAS_DOWNLOAD_FAILED);
          all_done &= state == ATLAS_DOWNLOAD_COMPLETE;
          if (tick % 20 == 0)
            g_test_message ("%u.%u: peer %u %s %" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT
                            " from peers, %u links",
                            tick / 10, tick % 10, i, atlas_download_state_to_string (state),
                            atlas_download_get_completed_bytes (peers[i].download),
                            atlas_download_get_bytes_from_peers (peers[i].download),
                            atlas_swarm_get_n_peers (peers[i].swarm));
        }
    }
  if (!all_done)
    for (guint i = 0; i < N_PEERS; i++)
      {
        g_autoptr (GBytes) states = atlas_download_get_piece_states (peers[i].download);
        const guint8 *bytes = g_bytes_get_data (states, NULL);
        GString *line = g_string_new (NULL);

        for (gsize p = 0; p < g_bytes_get_size (states); p++)
          g_string_append_printf (line, "%u", bytes[p]);
        g_test_message ("peer %u pieces: %s", i, line->str);
        g_string_free (line, TRUE);
      }
  g_assert_true (all_done);

  for (guint i = 0; i < N_PEERS; i++)
    {
      AtlasDownload *download = peers[i].download;

      g_assert_true (test_file_matches (atlas_download_get_path (download), &sum));
      g_assert_true (has_peer_source (download));
      g_test_message ("peer %u: %" G_GUINT64_FORMAT " bytes from the mirror, %" G_GUINT64_FORMAT
                      " from peers, %" G_GUINT64_FORMAT " sent to peers",
                      i, atlas_download_get_bytes_from_mirrors (download),
                      atlas_download_get_bytes_from_peers (download),
                      atlas_download_get_bytes_to_peers (download));
      from_mirrors += atlas_download_get_bytes_from_mirrors (download);
    }
  /* Without peers the origin would send the file three times; with each
   * downloader's mirrors fetching its own share of the pieces, 1.00-1.06
   * times in 8 runs (bench/bench-swarm.sh measures it at scale). */
  g_test_message ("origin sent %.2f times the file", from_mirrors / (double) FILE_SIZE);
  g_assert_cmpuint (from_mirrors, <, 13 * (guint64) FILE_SIZE / 10);

  for (guint i = 0; i < N_PEERS; i++)
    peer_stop (&peers[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/swarm/loopback", test_loopback_swarm);
  return g_test_run ();
}
