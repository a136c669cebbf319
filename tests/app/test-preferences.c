/* The Preferences window and the Donate page: every control a user changes
 * must land in its GSettings key in the key's unit, and a key changed
 * elsewhere must show up in the control at once. */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "atlas-app-secrets.h"
#include "atlas-donate-page.h"
#include "atlas-preferences-window.h"
#include "atlas-resources.h"
#include "ui-test-util.h"

typedef struct
{
  GSettings *settings;
  GtkWidget *window;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  fixture->settings = g_settings_new ("org.downloadatlas.DownloadAtlas");
}

static void
preferences_setup (Fixture *fixture, gconstpointer data)
{
  fixture_setup (fixture, data);
  fixture->window = atlas_preferences_window_new (NULL, fixture->settings);
  gtk_window_present (GTK_WINDOW (fixture->window));
}

static void
donate_setup (Fixture *fixture, gconstpointer data)
{
  fixture_setup (fixture, data);
  /* The page lives in the main window's view stack; any window will do. */
  fixture->window = adw_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (fixture->window), 640, 1000);
  adw_window_set_content (ADW_WINDOW (fixture->window), atlas_donate_page_new (fixture->settings));
  gtk_window_present (GTK_WINDOW (fixture->window));
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GSettingsSchema) schema = NULL;
  g_auto (GStrv) keys = NULL;

  gtk_window_destroy (GTK_WINDOW (fixture->window));
  /* The memory backend outlives the test case; start the next one clean. */
  g_object_get (fixture->settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);
  for (guint i = 0; keys[i] != NULL; i++)
    g_settings_reset (fixture->settings, keys[i]);
  g_object_unref (fixture->settings);
}

static GtkWidget *
find (Fixture *fixture, GType type, const char *label)
{
  GtkWidget *widget = ui_test_find (fixture->window, type, ui_test_has_label, (gpointer) label);

  if (widget == NULL)
    g_error ("no %s labelled “%s”", g_type_name (type), label);
  return widget;
}

static GtkSpinButton *
find_spin (Fixture *fixture, const char *label)
{
  return GTK_SPIN_BUTTON (find (fixture, GTK_TYPE_SPIN_BUTTON, label));
}

static GtkSwitch *
find_switch (Fixture *fixture, const char *label)
{
  return GTK_SWITCH (find (fixture, GTK_TYPE_SWITCH, label));
}

/* What a user would see after typing @text into @spin and leaving it. */
static void
type_into (GtkSpinButton *spin, const char *text)
{
  gtk_editable_set_text (GTK_EDITABLE (spin), text);
  gtk_spin_button_update (spin);
}

/* Layout follows the last change after a frame or two. */
static void
save_screenshot (GtkWidget *widget, const char *name)
{
  test_run_for (200);
  g_assert_true (gtk_widget_get_mapped (widget));
  ui_test_save_screenshot (widget, name);
}

static void
test_queue_limits (Fixture *fixture, gconstpointer data)
{
  GtkSpinButton *concurrent = find_spin (fixture, "Downloads at the same time");
  GtkSpinButton *connections = find_spin (fixture, "Connections per server");

  g_assert_cmpfloat (gtk_spin_button_get_value (concurrent), ==, 3);
  gtk_spin_button_set_value (concurrent, 8);
  g_assert_cmpuint (g_settings_get_uint (fixture->settings, "max-concurrent-downloads"), ==, 8);
  /* The spin keeps to the key's range. */
  type_into (concurrent, "50");
  g_assert_cmpuint (g_settings_get_uint (fixture->settings, "max-concurrent-downloads"), ==, 20);

  g_settings_set_uint (fixture->settings, "max-connections-per-server", 6);
  g_assert_cmpfloat (gtk_spin_button_get_value (connections), ==, 6);
  type_into (connections, "2");
  g_assert_cmpuint (g_settings_get_uint (fixture->settings, "max-connections-per-server"), ==, 2);
}

/* Limits are typed in MB/s (10^6 bytes/s) and stored in bytes/s; 0 reads
 * "Unlimited". */
static void
test_speed_limits (Fixture *fixture, gconstpointer data)
{
  GtkSpinButton *download = find_spin (fixture, "Download speed limit in MB/s");
  GtkSpinButton *upload = find_spin (fixture, "Upload speed limit in MB/s");

  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (download)), ==, "Unlimited");
  type_into (download, "2");
  g_assert_cmpuint (g_settings_get_uint64 (fixture->settings, "global-speed-limit"), ==, 2000000);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (download)), ==, "2.0");
  type_into (download, "0.5");
  g_assert_cmpuint (g_settings_get_uint64 (fixture->settings, "global-speed-limit"), ==, 500000);
  /* Typing the word back means no limit again. */
  type_into (download, "Unlimited");
  g_assert_cmpuint (g_settings_get_uint64 (fixture->settings, "global-speed-limit"), ==, 0);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (download)), ==, "Unlimited");

  g_settings_set_uint64 (fixture->settings, "global-upload-limit", 1500000);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (upload)), ==, "1.5");
}

static void
test_behavior (Fixture *fixture, gconstpointer data)
{
  AdwComboRow *close_action = ADW_COMBO_ROW (
      find (fixture, ADW_TYPE_COMBO_ROW, "When closing the window while downloading"));
  g_autofree char *in_home = g_build_filename (g_get_home_dir (), "Films", NULL);
  GtkWidget *folder_row = find (fixture, ADW_TYPE_ACTION_ROW, "Download folder");

  gtk_switch_set_active (find_switch (fixture, "Offer copied links"), TRUE);
  g_assert_true (g_settings_get_boolean (fixture->settings, "clipboard-watch"));
  gtk_switch_set_active (find_switch (fixture, "Download on metered networks"), TRUE);
  g_assert_true (g_settings_get_boolean (fixture->settings, "download-on-metered"));

  g_assert_cmpuint (adw_combo_row_get_selected (close_action), ==, 0);
  adw_combo_row_set_selected (close_action, 2);
  g_assert_cmpint (g_settings_get_enum (fixture->settings, "close-action"), ==, 2);
  g_settings_set_string (fixture->settings, "close-action", "background");
  g_assert_cmpuint (adw_combo_row_get_selected (close_action), ==, 1);

  /* The folder row shows the chosen folder, home written as "~". */
  g_settings_set_string (fixture->settings, "download-directory", "/srv/downloads");
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (folder_row)), ==, "/srv/downloads");
  g_settings_set_string (fixture->settings, "download-directory", in_home);
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (folder_row)), ==, "~/Films");

  save_screenshot (fixture->window, "preferences.png");
}

/* What the user typed into an entry row, confirmed with Enter. */
static void
apply_text (GtkWidget *row, const char *text)
{
  gtk_editable_set_text (GTK_EDITABLE (row), text);
  g_signal_emit_by_name (row, "apply");
}

static guint
file_mode (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 0777;
}

/* No GSettings key holds @secret, in any form a key's value prints as. */
static void
assert_not_in_settings (GSettings *settings, const char *secret)
{
  g_autoptr (GSettingsSchema) schema = NULL;
  g_auto (GStrv) keys = NULL;

  g_object_get (settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr (GVariant) value = g_settings_get_value (settings, keys[i]);
      g_autofree char *printed = g_variant_print (value, FALSE);

      if (strstr (printed, secret) != NULL)
        g_error ("the secret is in the key %s", keys[i]);
    }
}

/* g_settings_get_string returns a copy: freed here so that the sanitizer
 * run (tools/test-sanitizers) sees no leak in the test itself. */
static void
assert_string_setting (Fixture *fixture, const char *key, const char *expected)
{
  g_autofree char *value = g_settings_get_string (fixture->settings, key);

  g_assert_cmpstr (value, ==, expected);
}

static void
test_peers (Fixture *fixture, gconstpointer data)
{
  AdwComboRow *mode = ADW_COMBO_ROW (find (fixture, ADW_TYPE_COMBO_ROW, "Peer-to-peer transfers"));
  GtkWidget *tracker = find (fixture, ADW_TYPE_ENTRY_ROW, "Tracker address");
  GtkWidget *token = find (fixture, ADW_TYPE_PASSWORD_ENTRY_ROW, "Tracker token");
  GtkWidget *stun = find (fixture, ADW_TYPE_ENTRY_ROW, "STUN server");
  GtkWidget *turn = find (fixture, ADW_TYPE_ENTRY_ROW, "TURN server");
  GtkWidget *turn_user = find (fixture, ADW_TYPE_ENTRY_ROW, "TURN user name");
  GtkWidget *turn_password = find (fixture, ADW_TYPE_PASSWORD_ENTRY_ROW, "TURN password");
  GtkSwitch *upnp = find_switch (fixture, "Open a port on the router (UPnP)");
  GtkSpinButton *max_peers = find_spin (fixture, "Peers per download");
  GtkSpinButton *per_peer = find_spin (fixture, "Upload speed limit per peer in MB/s");
  g_autofree char *token_path = atlas_app_secrets_get_path (ATLAS_SECRET_TRACKER_TOKEN);
  g_autofree char *password_path = atlas_app_secrets_get_path (ATLAS_SECRET_TURN_PASSWORD);
  g_autofree char *secrets_dir = g_path_get_dirname (token_path);
  g_autofree char *stored = NULL;
  GtkWidget *again;
  const char *secret = "tok-3f9a7c1e55d2b08e";

  /* The drop-down and the enum, both ways. Peers are "on" by default but
   * run only once a tracker is set, and there is none yet. */
  g_assert_cmpuint (adw_combo_row_get_selected (mode), ==, 1);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (tracker)), ==, "");
  adw_combo_row_set_selected (mode, 2);
  g_assert_cmpint (g_settings_get_enum (fixture->settings, "peer-mode"), ==, 2);
  adw_combo_row_set_selected (mode, 0);
  g_assert_cmpint (g_settings_get_enum (fixture->settings, "peer-mode"), ==, 0);
  g_settings_set_string (fixture->settings, "peer-mode", "relay-only");
  g_assert_cmpuint (adw_combo_row_get_selected (mode), ==, 2);

  /* Text rows write their key when applied, trimmed; a key set elsewhere
   * shows up in the row. */
  apply_text (tracker, "  https://tracker.example.org:8443 ");
  assert_string_setting (fixture, "tracker-url", "https://tracker.example.org:8443");
  g_settings_set_string (fixture->settings, "tracker-url", "http://10.0.0.2:8080");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (tracker)), ==, "http://10.0.0.2:8080");
  apply_text (stun, "stun.example.org:3478");
  assert_string_setting (fixture, "stun-server", "stun.example.org:3478");
  apply_text (turn, "turn.example.org:3478");
  assert_string_setting (fixture, "turn-server", "turn.example.org:3478");
  apply_text (turn_user, "alice");
  assert_string_setting (fixture, "turn-username", "alice");

  /* Secrets go to private files, never into GSettings. */
  apply_text (token, secret);
  g_assert_true (g_file_get_contents (token_path, &stored, NULL, NULL));
  g_assert_cmpstr (stored, ==, secret);
  g_assert_cmpuint (file_mode (token_path), ==, 0600);
  g_assert_cmpuint (file_mode (secrets_dir), ==, 0700);
  apply_text (turn_password, "relay-pass-81c4");
  g_assert_cmpuint (file_mode (password_path), ==, 0600);
  assert_not_in_settings (fixture->settings, secret);
  assert_not_in_settings (fixture->settings, "relay-pass-81c4");

  /* Off by default: UPnP opens a port on the router. */
  g_assert_false (gtk_switch_get_active (upnp));
  gtk_switch_set_active (upnp, TRUE);
  g_assert_true (g_settings_get_boolean (fixture->settings, "upnp"));

  g_assert_cmpfloat (gtk_spin_button_get_value (max_peers), ==, 30);
  type_into (max_peers, "12");
  g_assert_cmpuint (g_settings_get_uint (fixture->settings, "max-peers"), ==, 12);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (per_peer)), ==, "Unlimited");
  type_into (per_peer, "0.5");
  g_assert_cmpuint (g_settings_get_uint64 (fixture->settings, "peer-upload-limit"), ==, 500000);

  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (fixture->window), "peers");
  save_screenshot (fixture->window, "preferences-peers.png");

  /* A window opened later shows the stored token (masked). */
  again = atlas_preferences_window_new (NULL, fixture->settings);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (ui_test_find (
                       again, ADW_TYPE_PASSWORD_ENTRY_ROW, ui_test_has_label, "Tracker token"))),
                   ==, secret);
  gtk_window_destroy (GTK_WINDOW (again));

  /* Emptied, the secret is removed. */
  apply_text (token, "");
  apply_text (turn_password, "");
  g_assert_false (g_file_test (token_path, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (password_path, G_FILE_TEST_EXISTS));
}

static void
test_donate (Fixture *fixture, gconstpointer data)
{
  GtkSwitch *enabled = find_switch (fixture, "Donate bandwidth");
  GtkSpinButton *storage = find_spin (fixture, "Storage given in GB");
  GtkSpinButton *upload = find_spin (fixture, "Upload given in MB/s");
  GtkSpinButton *budget = find_spin (fixture, "Monthly budget in GB");
  GtkWidget *storage_used = find (fixture, ADW_TYPE_ACTION_ROW, "Storage used");

  /* Without the app's controller (test-app-donor covers it) the page is
   * the settings alone: no figures of a donor that does not exist. */
  test_run_for (100);
  g_assert_false (gtk_widget_get_mapped (storage_used));
  g_assert_false (gtk_switch_get_active (enabled));
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (storage)));
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (upload)));
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (budget)));

  gtk_switch_set_active (enabled, TRUE);
  g_assert_true (g_settings_get_boolean (fixture->settings, "donate-enabled"));
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (storage)));
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (upload)));
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (budget)));

  type_into (storage, "5");
  g_assert_cmpuint (g_settings_get_uint64 (fixture->settings, "donate-storage-cap"), ==,
                    5000000000);
  type_into (upload, "2.5");
  g_assert_cmpuint (g_settings_get_uint64 (fixture->settings, "donate-upload-limit"), ==, 2500000);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (budget)), ==, "No budget");
  type_into (budget, "100");
  g_assert_cmpuint (g_settings_get_uint64 (fixture->settings, "donate-monthly-budget"), ==,
                    100000000000);

  gtk_switch_set_active (find_switch (fixture, "Pause donation on metered networks"), FALSE);
  g_assert_false (g_settings_get_boolean (fixture->settings, "donate-pause-on-metered"));
  gtk_switch_set_active (find_switch (fixture, "Pause donation in power saver mode"), FALSE);
  g_assert_false (g_settings_get_boolean (fixture->settings, "donate-pause-on-power-saver"));

  /* Turned off elsewhere (the CLI, another window): the page follows. */
  g_settings_set_boolean (fixture->settings, "donate-enabled", FALSE);
  g_assert_false (gtk_switch_get_active (enabled));
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (storage)));
  g_settings_set_boolean (fixture->settings, "donate-enabled", TRUE);
}

static void
test_causes (Fixture *fixture, gconstpointer data)
{
  GtkWidget *anywhere = find (fixture, GTK_TYPE_LABEL, "Wherever most needed");
  GtkWidget *entry = find (fixture, ADW_TYPE_ENTRY_ROW, "Add an index entry or publisher");
  g_auto (GStrv) causes = NULL;
  g_auto (GStrv) after_remove = NULL;

  test_run_for (100);
  g_assert_true (gtk_widget_get_mapped (anywhere));

  gtk_editable_set_text (GTK_EDITABLE (entry), "  Debian  ");
  g_signal_emit_by_name (entry, "apply");
  gtk_editable_set_text (GTK_EDITABLE (entry), "Tor Project & friends");
  g_signal_emit_by_name (entry, "apply");
  /* The same cause twice is kept once. */
  gtk_editable_set_text (GTK_EDITABLE (entry), "Debian");
  g_signal_emit_by_name (entry, "apply");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==, "");

  causes = g_settings_get_strv (fixture->settings, "donate-causes");
  g_assert_cmpuint (g_strv_length (causes), ==, 2);
  g_assert_cmpstr (causes[0], ==, "Debian");
  g_assert_cmpstr (causes[1], ==, "Tor Project & friends");
  /* Shown as typed: an ampersand is not markup. */
  find (fixture, ADW_TYPE_ACTION_ROW, "Tor Project & friends");
  test_run_for (100);
  g_assert_false (gtk_widget_get_mapped (anywhere));

  gtk_switch_set_active (find_switch (fixture, "Donate bandwidth"), TRUE);
  save_screenshot (fixture->window, "donate-settings.png");

  g_signal_emit_by_name (find (fixture, GTK_TYPE_BUTTON, "Remove “Debian”"), "clicked");
  after_remove = g_settings_get_strv (fixture->settings, "donate-causes");
  g_assert_cmpuint (g_strv_length (after_remove), ==, 1);
  g_assert_cmpstr (after_remove[0], ==, "Tor Project & friends");
  g_assert_null (
      ui_test_find (fixture->window, ADW_TYPE_ACTION_ROW, ui_test_has_label, (gpointer) "Debian"));
}

int
main (int argc, char **argv)
{
  ui_test_init (&argc, &argv);
  /* The templates live in the app library's resource object, which the
   * linker keeps only when something refers to it. */
  g_assert_nonnull (atlas_get_resource ());

  g_test_add ("/preferences/queue-limits", Fixture, NULL, preferences_setup, test_queue_limits,
              fixture_teardown);
  g_test_add ("/preferences/speed-limits", Fixture, NULL, preferences_setup, test_speed_limits,
              fixture_teardown);
  g_test_add ("/preferences/behavior", Fixture, NULL, preferences_setup, test_behavior,
              fixture_teardown);
  g_test_add ("/preferences/peers", Fixture, NULL, preferences_setup, test_peers, fixture_teardown);
  g_test_add ("/donate-page/settings", Fixture, NULL, donate_setup, test_donate, fixture_teardown);
  g_test_add ("/donate-page/causes", Fixture, NULL, donate_setup, test_causes, fixture_teardown);

  return g_test_run ();
}
