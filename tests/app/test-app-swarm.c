/* The app's peer-to-peer controller against a real atlas-tracker, a real
 * mirror and a second peer in this process (an engine session that already
 * holds the file and seeds it). What a user would notice: turning peers on
 * with a tracker makes the app join the file's swarm and receive most of the
 * file from the other peer, and the details page says so; relay only
 * without a TURN server links to no peer and the download still completes
 * from the mirror; turning peers off leaves the swarm; mistakes in the
 * settings are said, not crashed on. */
#include "atlas-app-secrets.h"
#include "atlas-app-swarm.h"
#include "atlas-details-page.h"
#include "atlas-resources.h"
#include "atlas-swarm.h"
#include "atlas-test-tracker.h"
#include "ui-test-util.h"

#include <glib/gstdio.h>
#include <string.h>

#define PIECE (256 * 1024)
#define FILE_SIZE (8 * 1024 * 1024 + 4321)
#define FILE_NAME "peers.bin"

static char *loopback[] = { "127.0.0.1", NULL };

typedef struct
{
  TestTracker *tracker;
  TestMirror *mirror;
  AtlasChecksum sum;
  GBytes *pieces;
  GSettings *gsettings;

  /* The other peer: plain engine objects, as the CLI would have them. */
  char *seed_dir;
  AtlasSettings *seed_settings;
  AtlasSession *seed_session;
  AtlasPeerIdentity *seed_identity;
  AtlasTrackerClient *seed_tracker;
  AtlasSwarm *seed_swarm;

  /* The app's side. */
  char *out_dir;
  AtlasSettings *settings;
  AtlasSession *session;
  AtlasAppSwarm *app_swarm;
} Fixture;

static void
got_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **result)
{
  for (guint i = 0; i < 200 && *result == NULL; i++)
    test_run_for (25);
  g_assert_nonnull (*result);
  return *result;
}

static void
publish (Fixture *fixture, const char *url)
{
  g_autoptr (GBytes) metalink =
      test_make_metalink (FILE_NAME, FILE_SIZE, PIECE, &fixture->sum, fixture->pieces, url);

  test_tracker_publish (fixture->tracker, FILE_NAME, metalink);
}

/* How many peers the tracker counts in the file's swarm (GET /entries). */
static int
tracker_peers (Fixture *fixture)
{
  g_autoptr (AtlasTrackerClient) client =
      atlas_tracker_client_new (fixture->tracker->url, fixture->tracker->token, NULL);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  AtlasTrackerEntry *entry;

  atlas_tracker_client_search_async (client, FILE_NAME, 10, NULL, got_result_cb, &result);
  entries = atlas_tracker_client_search_finish (client, wait_result (&result), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 1);
  entry = g_ptr_array_index (entries, 0);
  return entry->peers;
}

static gboolean
tracker_counts (Fixture *fixture, int peers, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  int seen;

  while ((seen = tracker_peers (fixture)) != peers && g_get_monotonic_time () < deadline)
    test_run_for (200);
  if (seen != peers)
    g_test_message ("the tracker counts %d peers, not %d", seen, peers);
  return seen == peers;
}

static AtlasRequest *
make_request (Fixture *fixture, const char *modes)
{
  AtlasRequest *request = atlas_request_new ();
  g_autofree char *url = test_mirror_url (fixture->mirror, modes, FILE_NAME);

  atlas_request_add_url (request, url, 1, NULL);
  atlas_request_set_size (request, FILE_SIZE);
  atlas_request_set_pieces (request, ATLAS_HASH_SHA256, PIECE, fixture->pieces);
  atlas_request_add_checksum (request, &fixture->sum);
  atlas_request_set_filename (request, FILE_NAME);
  return request;
}

/* The other peer fetches the whole file from a fast mirror, then seeds. */
static void
start_seeder (Fixture *fixture)
{
  AtlasIceConfig ice = { .local_addresses = loopback, .mode = ATLAS_ICE_MODE_DIRECT };
  g_autoptr (AtlasRequest) request = make_request (fixture, "-");
  g_autoptr (GError) error = NULL;
  AtlasDownload *download;

  fixture->seed_dir = test_make_temp_dir ();
  fixture->seed_settings = atlas_settings_new ();
  atlas_settings_set_download_directory (fixture->seed_settings, fixture->seed_dir);
  fixture->seed_session = test_open_session (NULL, fixture->seed_settings, &error);
  g_assert_no_error (error);
  fixture->seed_identity = atlas_peer_identity_new_ephemeral (&error);
  g_assert_no_error (error);
  fixture->seed_tracker =
      atlas_tracker_client_new (fixture->tracker->url, fixture->tracker->token, NULL);
  fixture->seed_swarm =
      atlas_swarm_new (fixture->seed_session, fixture->seed_identity, fixture->seed_tracker, &ice);
  atlas_swarm_start (fixture->seed_swarm);
  atlas_session_start (fixture->seed_session);
  download = atlas_session_add (fixture->seed_session, request, &error);
  g_assert_no_error (error);
  g_assert_cmpint (test_wait_for_end (download, 30), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (tracker_counts (fixture, 1, 10));
}

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = NULL;
  g_autofree char *url = NULL;
  g_autoptr (GError) error = NULL;

  fixture->tracker = test_tracker_start (g_getenv ("ATLAS_TRACKER"));
  fixture->mirror = test_mirror_start ();
  fixture->sum = test_make_file (fixture->mirror->root, FILE_NAME, FILE_SIZE, 5);
  path = g_build_filename (fixture->mirror->root, FILE_NAME, NULL);
  fixture->pieces = test_piece_digests (path, PIECE);
  url = test_mirror_url (fixture->mirror, "-", FILE_NAME);
  publish (fixture, url);
  fixture->gsettings = g_settings_new ("org.downloadatlas.DownloadAtlas");

  fixture->out_dir = test_make_temp_dir ();
  fixture->settings = atlas_settings_new ();
  atlas_settings_set_download_directory (fixture->settings, fixture->out_dir);
  fixture->session = test_open_session (NULL, fixture->settings, &error);
  g_assert_no_error (error);
  /* Made while the settings ask for no peers, then told to stay on
   * loopback, as the application would be at startup. */
  fixture->app_swarm = atlas_app_swarm_new (fixture->gsettings, fixture->session);
  g_assert_false (atlas_app_swarm_is_running (fixture->app_swarm));
  atlas_app_swarm_set_local_addresses (fixture->app_swarm, (const char *const *) loopback);
  g_assert_true (atlas_app_secrets_store (atlas_app_secrets_get_default (),
                                          ATLAS_SECRET_TRACKER_TOKEN, fixture->tracker->token,
                                          &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GSettingsSchema) schema = NULL;
  g_auto (GStrv) keys = NULL;

  atlas_app_swarm_shutdown (fixture->app_swarm);
  g_clear_object (&fixture->app_swarm);
  test_close_session (fixture->session);
  g_clear_object (&fixture->settings);
  test_remove_tree (fixture->out_dir);
  g_free (fixture->out_dir);

  if (fixture->seed_swarm != NULL)
    {
      atlas_swarm_stop (fixture->seed_swarm);
      g_clear_object (&fixture->seed_swarm);
      test_close_session (fixture->seed_session);
      g_clear_object (&fixture->seed_tracker);
      g_clear_object (&fixture->seed_identity);
      g_clear_object (&fixture->seed_settings);
      test_remove_tree (fixture->seed_dir);
      g_free (fixture->seed_dir);
    }

  g_assert_true (atlas_app_secrets_store (atlas_app_secrets_get_default (),
                                          ATLAS_SECRET_TRACKER_TOKEN, NULL, NULL));
  g_object_get (fixture->gsettings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);
  for (guint i = 0; keys[i] != NULL; i++)
    g_settings_reset (fixture->gsettings, keys[i]);
  g_object_unref (fixture->gsettings);
  g_bytes_unref (fixture->pieces);
  test_mirror_stop (fixture->mirror);
  test_tracker_stop (fixture->tracker);
}

static void
peers_on (Fixture *fixture, const char *mode)
{
  g_settings_set_string (fixture->gsettings, "peer-mode", mode);
  g_settings_set_string (fixture->gsettings, "tracker-url", fixture->tracker->url);
  /* The controller rebuilds once, in an idle, for both keys. */
  test_run_for (50);
  g_assert_true (atlas_app_swarm_is_running (fixture->app_swarm));
}

/* The first source that is (or is not) a peer; the download holds it. */
static AtlasSource *
find_source (AtlasDownload *download, gboolean peer)
{
  GListModel *sources = atlas_download_get_sources (download);

  for (guint i = 0; i < g_list_model_get_n_items (sources); i++)
    {
      g_autoptr (AtlasSource) source = g_list_model_get_item (sources, i);
      if (g_str_has_prefix (atlas_source_get_url (source), "peer:") == peer)
        return source;
    }
  return NULL;
}

static AtlasSource *
find_peer_source (AtlasDownload *download)
{
  return find_source (download, TRUE);
}

/* ---- reading the details page -------------------------------------------- */

static void
collect_text (GtkWidget *widget, GString *out)
{
  if (!gtk_widget_get_mapped (widget))
    return;
  if (GTK_IS_LABEL (widget))
    g_string_append_printf (out, "%s\n", gtk_label_get_text (GTK_LABEL (widget)));
  if (ADW_IS_PREFERENCES_ROW (widget))
    g_string_append_printf (out, "%s\n",
                            adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)));
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_text (child, out);
}

static char *
visible_text (GtkWidget *widget)
{
  GString *out = g_string_new (NULL);

  collect_text (widget, out);
  return g_string_free (out, FALSE);
}

static void
check_details_page (AtlasDownload *download)
{
  GtkWidget *window = gtk_window_new ();
  GtkWidget *page = atlas_details_page_new ();
  AtlasSource *peer = find_peer_source (download);
  g_autofree char *from_peers = g_format_size (atlas_download_get_bytes_from_peers (download));
  g_autofree char *from_mirrors = g_format_size (atlas_download_get_bytes_from_mirrors (download));
  g_autofree char *to_peers = g_format_size (atlas_download_get_bytes_to_peers (download));
  g_autofree char *figures =
      g_strdup_printf ("Received: %s from peers, %s from mirrors · Sent to peers: %s", from_peers,
                       from_mirrors, to_peers);
  g_autofree char *peer_title = g_strdup_printf ("Peer %s", atlas_source_get_host (peer));
  g_autofree char *text = NULL;
  GtkWidget *row;

  gtk_window_set_default_size (GTK_WINDOW (window), 860, 1300);
  gtk_window_set_child (GTK_WINDOW (window), page);
  atlas_details_page_set_download (ATLAS_DETAILS_PAGE (page), download);
  gtk_window_present (GTK_WINDOW (window));
  test_run_for (300);

  text = visible_text (window);
  g_test_message ("%s", figures);
  if (strstr (text, figures) == NULL)
    g_error ("the details page does not say “%s”:\n%s", figures, text);
  /* The peer is listed among the sources, marked as a peer. */
  row = ui_test_find (page, ADW_TYPE_ACTION_ROW, ui_test_has_label, peer_title);
  g_assert_nonnull (row);
  g_assert_true (gtk_widget_get_mapped (row));
  g_assert_nonnull (ui_test_find (row, GTK_TYPE_LABEL, ui_test_has_label, (gpointer) "Peer"));
  /* The mirror's row has no such mark. */
  row = ui_test_find (page, ADW_TYPE_ACTION_ROW, ui_test_has_label,
                      (gpointer) atlas_source_get_host (find_source (download, FALSE)));
  g_assert_nonnull (row);
  g_assert_null (ui_test_find (row, GTK_TYPE_LABEL, ui_test_has_label, (gpointer) "Peer"));
  ui_test_save_screenshot (window, "details-peers.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- tests --------------------------------------------------------------- */

static void
test_peers_on_then_off (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasRequest) request = NULL;
  g_autoptr (GError) error = NULL;
  AtlasDownload *download;
  guint64 from_peers;

  start_seeder (fixture);
  /* Alone, this mirror would take 16 s for the file. */
  request = make_request (fixture, "rate=512K");
  peers_on (fixture, "on");
  g_assert_nonnull (atlas_app_swarm_get_peer_id (fixture->app_swarm));
  atlas_session_start (fixture->session);
  download = atlas_session_add (fixture->session, request, &error);
  g_assert_no_error (error);
  g_assert_true (tracker_counts (fixture, 2, 10));

  g_assert_cmpint (test_wait_for_end (download, 30), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (atlas_download_get_path (download), &fixture->sum));
  from_peers = atlas_download_get_bytes_from_peers (download);
  g_test_message ("%" G_GUINT64_FORMAT " bytes from peers, %" G_GUINT64_FORMAT " from mirrors",
                  from_peers, atlas_download_get_bytes_from_mirrors (download));
  g_assert_cmpuint (from_peers, >, FILE_SIZE / 2);
  g_assert_nonnull (find_peer_source (download));
  g_assert_null (atlas_app_swarm_get_error (fixture->app_swarm));

  check_details_page (download);

  /* Upload limits apply without leaving the swarm. */
  g_settings_set_uint64 (fixture->gsettings, "peer-upload-limit", 100000);
  g_settings_set_uint (fixture->gsettings, "max-peers", 5);
  test_run_for (50);
  g_assert_true (atlas_app_swarm_is_running (fixture->app_swarm));

  /* Off: the app leaves the swarm and the tracker forgets it. */
  g_settings_set_string (fixture->gsettings, "peer-mode", "off");
  test_run_for (50);
  g_assert_false (atlas_app_swarm_is_running (fixture->app_swarm));
  g_assert_cmpuint (atlas_app_swarm_get_n_peers (fixture->app_swarm), ==, 0);
  g_assert_true (tracker_counts (fixture, 1, 10));
}

static void
test_relay_only_without_turn (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasRequest) request = NULL;
  g_autoptr (GError) error = NULL;
  AtlasDownload *download;
  AtlasDownloadState state;
  guint max_links = 0;

  start_seeder (fixture);
  request = make_request (fixture, "rate=4M");
  peers_on (fixture, "relay-only");
  /* Said, since no peer can be reached this way. */
  g_assert_nonnull (atlas_app_swarm_get_error (fixture->app_swarm));
  g_assert_nonnull (strstr (atlas_app_swarm_get_error (fixture->app_swarm), "TURN"));
  atlas_session_start (fixture->session);
  download = atlas_session_add (fixture->session, request, &error);
  g_assert_no_error (error);
  /* In the swarm (so the seeder tries to link to it) ... */
  g_assert_true (tracker_counts (fixture, 2, 10));
  /* ... but no link comes up: relay only offers no local address. */
  for (guint i = 0; i < 300; i++)
    {
      state = atlas_download_get_state (download);
      max_links = MAX (max_links, atlas_app_swarm_get_n_peers (fixture->app_swarm));
      if (state == ATLAS_DOWNLOAD_COMPLETE || state == ATLAS_DOWNLOAD_FAILED)
        break;
      test_run_for (100);
    }
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (atlas_download_get_path (download), &fixture->sum));
  g_assert_cmpuint (max_links, ==, 0);
  g_assert_cmpuint (atlas_download_get_bytes_from_peers (download), ==, 0);
  g_assert_cmpuint (atlas_download_get_bytes_from_mirrors (download), >=, FILE_SIZE);
}

static void
wait_for_error (Fixture *fixture, const char *part)
{
  const char *error = NULL;

  for (guint i = 0; i < 100; i++)
    {
      error = atlas_app_swarm_get_error (fixture->app_swarm);
      if (error != NULL && strstr (error, part) != NULL)
        return;
      test_run_for (50);
    }
  g_error ("expected an error with “%s”, have “%s”", part, error);
}

static void
test_mistakes_are_said (Fixture *fixture, gconstpointer data)
{
  g_autofree char *identity_dir =
      g_build_filename (g_get_user_data_dir (), "download-atlas", "peer", NULL);
  g_autofree char *key = g_build_filename (identity_dir, "peer-key.pem", NULL);
  g_autofree char *cert = g_build_filename (identity_dir, "peer-cert.pem", NULL);
  g_autoptr (AtlasAppSwarm) fresh = NULL;

  /* Not an address: peers stay off. */
  g_settings_set_string (fixture->gsettings, "tracker-url", "tracker.example.org");
  test_run_for (50);
  g_assert_false (atlas_app_swarm_is_running (fixture->app_swarm));
  wait_for_error (fixture, "not a tracker address");

  /* No token. */
  g_assert_true (atlas_app_secrets_store (atlas_app_secrets_get_default (),
                                          ATLAS_SECRET_TRACKER_TOKEN, NULL, NULL));
  g_settings_set_string (fixture->gsettings, "tracker-url", fixture->tracker->url);
  test_run_for (50);
  g_assert_false (atlas_app_swarm_is_running (fixture->app_swarm));
  wait_for_error (fixture, "token");

  /* A token the tracker does not know: it says no, and the app says so. */
  g_assert_true (atlas_app_secrets_store (atlas_app_secrets_get_default (),
                                          ATLAS_SECRET_TRACKER_TOKEN, "not-a-real-token", NULL));
  wait_for_error (fixture, "refused");

  /* The right token: the error goes away and the app joins. */
  g_assert_true (atlas_app_secrets_store (
      atlas_app_secrets_get_default (), ATLAS_SECRET_TRACKER_TOKEN, fixture->tracker->token, NULL));
  test_run_for (500);
  g_assert_true (atlas_app_swarm_is_running (fixture->app_swarm));
  g_assert_null (atlas_app_swarm_get_error (fixture->app_swarm));

  /* A damaged identity is named, never replaced: a new controller (the
   * app's next start) keeps peers off. */
  g_assert_true (g_file_set_contents (key, "not a key", -1, NULL));
  fresh = atlas_app_swarm_new (fixture->gsettings, fixture->session);
  g_assert_false (atlas_app_swarm_is_running (fresh));
  g_assert_nonnull (atlas_app_swarm_get_error (fresh));
  g_assert_nonnull (strstr (atlas_app_swarm_get_error (fresh), "identity"));
  atlas_app_swarm_shutdown (fresh);
  g_unlink (key);
  g_unlink (cert);
}

int
main (int argc, char **argv)
{
  ui_test_init (&argc, &argv);
  g_assert_nonnull (atlas_get_resource ());

  g_test_add ("/app-swarm/peers-on-then-off", Fixture, NULL, fixture_setup, test_peers_on_then_off,
              fixture_teardown);
  g_test_add ("/app-swarm/relay-only-without-turn", Fixture, NULL, fixture_setup,
              test_relay_only_without_turn, fixture_teardown);
  g_test_add ("/app-swarm/mistakes-are-said", Fixture, NULL, fixture_setup, test_mistakes_are_said,
              fixture_teardown);
  return g_test_run ();
}
