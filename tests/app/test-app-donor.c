/* The app's donation controller and the Donate page against a real
 * atlas-tracker and the test mirror, on 127.0.0.1. What a user would notice:
 * turning donation on with a published file as the cause makes the app hold
 * some of its pieces, within the storage given, and the page shows how much,
 * with a row for the file; a metered network pauses it (and the page says
 * why) unless the user allows it; turning donation off makes the tracker
 * stop counting this donor; mistakes in the settings are said. */
#include "atlas-app-donor.h"
#include "atlas-app-secrets.h"
#include "atlas-donate-page.h"
#include "atlas-donor-private.h"
#include "atlas-format.h"
#include "atlas-resources.h"
#include "atlas-test-tracker.h"
#include "ui-test-util.h"

#include <libsoup/soup.h>
#include <string.h>

#define PIECE (256 * 1024)
#define N_PIECES 16
#define FILE_SIZE (N_PIECES * PIECE - 777)
#define FILE_NAME "cause.bin"
#define STORAGE_CAP (6 * PIECE)

static char *loopback[] = { "127.0.0.1", NULL };

typedef struct
{
  TestTracker *tracker;
  TestMirror *mirror;
  AtlasChecksum sum;
  char *entry; /* the file's SHA-256, hex */
  GSettings *settings;
  AtlasAppDonor *app_donor;
  GtkWidget *window;
  GtkWidget *page;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = NULL;
  g_autofree char *url = NULL;
  g_autoptr (GBytes) pieces = NULL;
  g_autoptr (GBytes) metalink = NULL;
  g_autoptr (GError) error = NULL;

  fixture->tracker = test_tracker_start (g_getenv ("ATLAS_TRACKER"));
  fixture->mirror = test_mirror_start ();
  fixture->sum = test_make_file (fixture->mirror->root, FILE_NAME, FILE_SIZE, 9);
  fixture->entry = atlas_hex_encode (fixture->sum.digest, 32);
  path = g_build_filename (fixture->mirror->root, FILE_NAME, NULL);
  pieces = test_piece_digests (path, PIECE);
  url = test_mirror_url (fixture->mirror, "-", FILE_NAME);
  metalink = test_make_metalink (FILE_NAME, FILE_SIZE, PIECE, &fixture->sum, pieces, url);
  test_tracker_publish (fixture->tracker, FILE_NAME, metalink);

  fixture->settings = g_settings_new ("org.downloadatlas.DownloadAtlas");
  g_assert_true (atlas_app_secrets_store (atlas_app_secrets_get_default (),
                                          ATLAS_SECRET_TRACKER_TOKEN, fixture->tracker->token,
                                          &error));
  g_assert_no_error (error);
  /* As at the app's start: donation off, so nothing runs yet. */
  fixture->app_donor = atlas_app_donor_new (fixture->settings);
  g_assert_cmpint (atlas_app_donor_get_status (fixture->app_donor), ==, ATLAS_APP_DONOR_OFF);
  atlas_app_donor_set_local_addresses (fixture->app_donor, (const char *const *) loopback);

  fixture->window = adw_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (fixture->window), 640, 1300);
  fixture->page = atlas_donate_page_new (fixture->settings);
  atlas_donate_page_set_donor (ATLAS_DONATE_PAGE (fixture->page), fixture->app_donor);
  adw_window_set_content (ADW_WINDOW (fixture->window), fixture->page);
  gtk_window_present (GTK_WINDOW (fixture->window));
}

static void
shut_down_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  atlas_app_donor_shutdown_finish (ATLAS_APP_DONOR (source), result);
  *(gboolean *) user_data = TRUE;
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GSettingsSchema) schema = NULL;
  g_auto (GStrv) keys = NULL;
  g_autofree char *cache =
      g_build_filename (g_get_user_cache_dir (), "download-atlas", "donation", NULL);
  gboolean done = FALSE;

  gtk_window_destroy (GTK_WINDOW (fixture->window));
  atlas_app_donor_shutdown_async (fixture->app_donor, shut_down_cb, &done);
  g_assert_true (test_run_until (&done, 10));
  g_clear_object (&fixture->app_donor);
  /* Each case starts with an empty donation cache. */
  test_remove_tree (cache);

  g_assert_true (atlas_app_secrets_store (atlas_app_secrets_get_default (),
                                          ATLAS_SECRET_TRACKER_TOKEN, NULL, NULL));
  g_object_get (fixture->settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);
  for (guint i = 0; keys[i] != NULL; i++)
    g_settings_reset (fixture->settings, keys[i]);
  g_object_unref (fixture->settings);
  g_free (fixture->entry);
  test_mirror_stop (fixture->mirror);
  test_tracker_stop (fixture->tracker);
}

/* ---- the tracker's side ------------------------------------------------------ */

static void
metrics_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GBytes **body = user_data;
  g_autoptr (GError) error = NULL;

  *body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
}

/* One sample of the tracker's /metrics, e.g. atlas_tracker_donors. */
static double
tracker_metric (Fixture *fixture, const char *name)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (fixture->tracker->url, "/metrics", NULL);
  g_autoptr (SoupMessage) message = soup_message_new ("GET", url);
  g_autofree char *needle = g_strconcat ("\n", name, " ", NULL);
  g_autoptr (GBytes) body = NULL;
  g_autofree char *text = NULL;
  const char *line;

  soup_session_send_and_read_async (session, message, G_PRIORITY_DEFAULT, NULL, metrics_read_cb,
                                    &body);
  for (guint i = 0; i < 400 && body == NULL; i++)
    test_run_for (25);
  g_assert_nonnull (body);
  g_assert_cmpuint (soup_message_get_status (message), ==, SOUP_STATUS_OK);
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  line = strstr (text, needle);
  g_assert_nonnull (line);
  return g_ascii_strtod (line + strlen (needle), NULL);
}

static gboolean
tracker_counts_donors (Fixture *fixture, double donors, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  double seen;

  while ((seen = tracker_metric (fixture, "atlas_tracker_donors")) != donors
         && g_get_monotonic_time () < deadline)
    test_run_for (200);
  if (seen != donors)
    g_test_message ("the tracker counts %g donors, not %g", seen, donors);
  return seen == donors;
}

/* ---- reading the page --------------------------------------------------------- */

static GtkWidget *
find_row (Fixture *fixture, const char *title)
{
  return ui_test_find (fixture->page, ADW_TYPE_ACTION_ROW, ui_test_has_label, (gpointer) title);
}

static const char *
row_subtitle (Fixture *fixture, const char *title)
{
  GtkWidget *row = find_row (fixture, title);

  g_assert_nonnull (row);
  return adw_action_row_get_subtitle (ADW_ACTION_ROW (row));
}

typedef struct
{
  Fixture *fixture;
  const char *text;
} Shown;

static gboolean
label_shown (gpointer data)
{
  Shown *shown = data;
  GtkWidget *label = ui_test_find (shown->fixture->page, GTK_TYPE_LABEL, ui_test_has_label,
                                   (gpointer) shown->text);

  return label != NULL && gtk_widget_get_mapped (label);
}

/* Waits until the page shows @text in a label, for at most @timeout_ms. */
static void
assert_page_says (Fixture *fixture, const char *text, guint timeout_ms)
{
  Shown shown = { fixture, text };

  if (!ui_test_wait_until (label_shown, &shown, timeout_ms))
    {
      GtkLabel *status = GTK_LABEL (ui_test_find (fixture->page, GTK_TYPE_LABEL, NULL, NULL));

      g_error ("the page does not say “%s” (its first label says “%s”; donor error: %s)", text,
               gtk_label_get_text (status), atlas_app_donor_get_error (fixture->app_donor));
    }
}

static gboolean
has_donor (gpointer data)
{
  Fixture *fixture = data;

  return atlas_app_donor_get_donor (fixture->app_donor) != NULL;
}

/* The page's storage figure reads more than nothing. */
static gboolean
storage_shown (gpointer data)
{
  Fixture *fixture = data;
  AtlasDonor *donor = atlas_app_donor_get_donor (fixture->app_donor);

  return donor != NULL && atlas_donor_get_storage_used (donor) > 0
         && gtk_level_bar_get_value (
                GTK_LEVEL_BAR (ui_test_find (fixture->page, GTK_TYPE_LEVEL_BAR, NULL, NULL)))
                > 0;
}

static gboolean
held_row_shown (gpointer data)
{
  Fixture *fixture = data;
  GtkWidget *row = find_row (fixture, FILE_NAME);

  return row != NULL && gtk_widget_get_mapped (row);
}

/* Turns donation on with the test tracker and waits for the donor, which is
 * told the network is neither metered nor in power saver (the test host's
 * own monitors are not the test's to decide). */
static AtlasDonor *
donate (Fixture *fixture)
{
  AtlasDonor *donor;

  g_settings_set_boolean (fixture->settings, "donate-enabled", TRUE);
  g_settings_set_string (fixture->settings, "tracker-url", fixture->tracker->url);
  g_assert_true (ui_test_wait_until (has_donor, fixture, 2000));
  g_assert_cmpint (atlas_app_donor_get_status (fixture->app_donor), ==, ATLAS_APP_DONOR_RUNNING);
  donor = atlas_app_donor_get_donor (fixture->app_donor);
  _atlas_donor_set_conditions (donor, FALSE, FALSE);
  return donor;
}

/* ---- tests --------------------------------------------------------------------- */

static void
test_donates_to_cause (Fixture *fixture, gconstpointer data)
{
  const char *causes[] = { FILE_NAME, NULL };
  AtlasDonor *donor;
  GtkLevelBar *level;
  guint64 used;
  g_autofree char *storage_text = NULL;
  g_autofree char *used_text = NULL;

  assert_page_says (fixture, "Donation is off", 1000);
  g_assert_false (gtk_widget_get_mapped (find_row (fixture, "Storage used")));

  /* On, but no tracker yet: the page says where to set one. */
  g_settings_set_boolean (fixture->settings, "donate-enabled", TRUE);
  assert_page_says (fixture, "Donation needs a tracker: set one in Preferences → Peer-to-Peer",
                    1000);
  g_assert_cmpint (atlas_app_donor_get_status (fixture->app_donor), ==, ATLAS_APP_DONOR_NO_TRACKER);

  /* The cause by its name in the index; the storage given is 6 pieces. */
  g_settings_set_uint64 (fixture->settings, "donate-storage-cap", STORAGE_CAP);
  g_settings_set_strv (fixture->settings, "donate-causes", causes);
  donor = donate (fixture);
  g_assert_cmpuint (atlas_donor_get_storage_cap (donor), ==, STORAGE_CAP);

  g_assert_true (ui_test_wait_until (storage_shown, fixture, 40000));
  assert_page_says (fixture, "Donating", 5000);
  test_run_for (1200); /* one more tick of figures */
  used = atlas_donor_get_storage_used (donor);
  /* Found by its accessible name, as a screen reader would. */
  level = GTK_LEVEL_BAR (ui_test_find (fixture->page, GTK_TYPE_LEVEL_BAR, ui_test_has_label,
                                       (gpointer) "Storage used of the storage given"));
  g_assert_nonnull (level);
  storage_text = atlas_format_progress (used, STORAGE_CAP);
  g_test_message ("storage: %s (level %.2f)", storage_text, gtk_level_bar_get_value (level));
  g_assert_cmpuint (used, >, 0);
  g_assert_cmpuint (used, <=, STORAGE_CAP);
  g_assert_cmpfloat (gtk_level_bar_get_value (level), >, 0);
  g_assert_cmpfloat (gtk_level_bar_get_value (level), <=, 1);
  g_assert_cmpstr (row_subtitle (fixture, "Storage used"), ==, storage_text);
  /* What it fetched to hold them counts against this month. */
  g_assert_nonnull (strstr (row_subtitle (fixture, "This month"), "fetched"));
  g_assert_cmpuint (atlas_donor_get_fetched_this_month (donor), >, 0);

  /* A row for the file, by its name, with what it stores. */
  g_assert_true (ui_test_wait_until (held_row_shown, fixture, 5000));
  used_text = atlas_format_size (used);
  g_test_message ("%s: %s", FILE_NAME, row_subtitle (fixture, FILE_NAME));
  g_assert_true (g_str_has_prefix (row_subtitle (fixture, FILE_NAME), used_text));
  g_assert_true (tracker_counts_donors (fixture, 1, 10));
  ui_test_save_screenshot (fixture->window, "donate-page.png");

  /* A metered network pauses donation, and the page says why ... */
  g_assert_true (g_settings_get_boolean (fixture->settings, "donate-pause-on-metered"));
  _atlas_donor_set_conditions (donor, TRUE, FALSE);
  assert_page_says (fixture, "Paused: the network is metered", 2000);
  g_assert_true (tracker_counts_donors (fixture, 0, 10));
  ui_test_save_screenshot (fixture->window, "donate-paused.png");
  /* ... unless the user allows it, which applies to the running donor. */
  g_settings_set_boolean (fixture->settings, "donate-pause-on-metered", FALSE);
  assert_page_says (fixture, "Donating", 5000);
  g_assert_true (atlas_app_donor_get_donor (fixture->app_donor) == donor);
  g_assert_true (tracker_counts_donors (fixture, 1, 10));

  /* Limits apply live: a smaller storage cap drops pieces at once. */
  g_settings_set_uint64 (fixture->settings, "donate-storage-cap", 2 * PIECE);
  g_assert_true (atlas_app_donor_get_donor (fixture->app_donor) == donor);
  g_assert_cmpuint (atlas_donor_get_storage_cap (donor), ==, 2 * PIECE);

  /* Off: the donor stops and the tracker no longer counts it. */
  g_settings_set_boolean (fixture->settings, "donate-enabled", FALSE);
  assert_page_says (fixture, "Donation is off", 2000);
  g_assert_null (atlas_app_donor_get_donor (fixture->app_donor));
  g_assert_false (gtk_widget_get_mapped (find_row (fixture, "Storage used")));
  g_assert_true (tracker_counts_donors (fixture, 0, 10));
  g_assert_null (atlas_app_donor_get_error (fixture->app_donor));
}

static gboolean
has_error (gpointer data)
{
  Shown *shown = data;
  const char *error = atlas_app_donor_get_error (shown->fixture->app_donor);

  return error != NULL && strstr (error, shown->text) != NULL;
}

static void
wait_for_error (Fixture *fixture, const char *part)
{
  Shown shown = { fixture, part };

  if (!ui_test_wait_until (has_error, &shown, 5000))
    g_error ("expected an error with “%s”, have “%s”", part,
             atlas_app_donor_get_error (fixture->app_donor));
}

static void
test_mistakes_are_said (Fixture *fixture, gconstpointer data)
{
  const char *unknown[] = { "no-such-file.iso", NULL };
  g_autofree char *upper = g_ascii_strup (fixture->entry, -1);
  const char *by_hash[] = { upper, "publisher:nobody", NULL };

  g_settings_set_boolean (fixture->settings, "donate-enabled", TRUE);

  /* Not an address: no donor, and the page says so. */
  g_settings_set_string (fixture->settings, "tracker-url", "tracker.example.org");
  wait_for_error (fixture, "not a tracker address");
  g_assert_cmpint (atlas_app_donor_get_status (fixture->app_donor), ==, ATLAS_APP_DONOR_FAILED);
  assert_page_says (fixture, atlas_app_donor_get_error (fixture->app_donor), 1000);

  /* No token. */
  g_assert_true (atlas_app_secrets_store (atlas_app_secrets_get_default (),
                                          ATLAS_SECRET_TRACKER_TOKEN, NULL, NULL));
  g_settings_set_string (fixture->settings, "tracker-url", fixture->tracker->url);
  wait_for_error (fixture, "token");
  g_assert_null (atlas_app_donor_get_donor (fixture->app_donor));

  /* A token the tracker does not know. */
  g_assert_true (atlas_app_secrets_store (atlas_app_secrets_get_default (),
                                          ATLAS_SECRET_TRACKER_TOKEN, "not-a-real-token", NULL));
  wait_for_error (fixture, "refused");
  g_assert_cmpint (atlas_app_donor_get_status (fixture->app_donor), ==, ATLAS_APP_DONOR_FAILED);
  g_assert_null (atlas_app_donor_get_donor (fixture->app_donor));

  /* The right token: the error goes away and the donor runs. */
  g_assert_true (atlas_app_secrets_store (
      atlas_app_secrets_get_default (), ATLAS_SECRET_TRACKER_TOKEN, fixture->tracker->token, NULL));
  g_assert_true (ui_test_wait_until (has_donor, fixture, 2000));
  _atlas_donor_set_conditions (atlas_app_donor_get_donor (fixture->app_donor), FALSE, FALSE);
  g_assert_null (atlas_app_donor_get_error (fixture->app_donor));

  /* A cause the index does not know is named. */
  g_settings_set_strv (fixture->settings, "donate-causes", unknown);
  wait_for_error (fixture, "no-such-file.iso");
  /* By hash (any case) and publisher, nothing needs looking up. */
  g_settings_set_strv (fixture->settings, "donate-causes", by_hash);
  g_assert_null (atlas_app_donor_get_error (fixture->app_donor));
  g_assert_true (tracker_counts_donors (fixture, 1, 10));
  g_assert_true (ui_test_wait_until (held_row_shown, fixture, 40000));

  /* Relay only without a TURN server: said, since no one can be served. */
  g_settings_set_string (fixture->settings, "peer-mode", "relay-only");
  wait_for_error (fixture, "TURN");
  g_assert_cmpint (atlas_app_donor_get_status (fixture->app_donor), ==, ATLAS_APP_DONOR_RUNNING);
  g_assert_nonnull (atlas_app_donor_get_donor (fixture->app_donor));
}

int
main (int argc, char **argv)
{
  ui_test_init (&argc, &argv);
  g_assert_nonnull (atlas_get_resource ());

  g_test_add ("/app-donor/donates-to-cause", Fixture, NULL, fixture_setup, test_donates_to_cause,
              fixture_teardown);
  g_test_add ("/app-donor/mistakes-are-said", Fixture, NULL, fixture_setup, test_mistakes_are_said,
              fixture_teardown);
  return g_test_run ();
}
