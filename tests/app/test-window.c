/* The main window against a real engine and the loopback test mirror: what a
 * user sees when adding, watching, pausing and dropping downloads. */
#include "atlas-add-dialog.h"
#include "atlas-config.h"
#include "atlas-details-page.h"
#include "atlas-donate-page.h"
#include "atlas-download-row.h"
#include "atlas-preferences-window.h"
#include "atlas-queue-page.h"
#include "atlas-segment-map.h"
#include "atlas-verify-page.h"
#include "atlas-window.h"
#include "ui-test-util.h"

#define SMALL_SIZE (3 * 1024 * 1024 + 17)
#define SLOW_SIZE (12 * 1024 * 1024)

typedef struct
{
  TestMirror *mirror;
  char *out_dir;
  AtlasChecksum small_sum;
  AtlasChecksum slow_sum;
  GSettings *settings;
  AtlasSettings *engine_settings;
  AtlasSession *session;
  AtlasWindow *window;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->mirror = test_mirror_start ();
  fixture->small_sum = test_make_file (fixture->mirror->root, "small.bin", SMALL_SIZE, 7);
  fixture->slow_sum = test_make_file (fixture->mirror->root, "slow.bin", SLOW_SIZE, 8);
  fixture->out_dir = test_make_temp_dir ();
  fixture->settings = g_settings_new (APPLICATION_ID);
  g_settings_set_string (fixture->settings, "download-directory", fixture->out_dir);
  fixture->engine_settings = atlas_settings_new ();
  atlas_settings_set_download_directory (fixture->engine_settings, fixture->out_dir);
  fixture->session = test_open_session (NULL, fixture->engine_settings, &error);
  g_assert_no_error (error);
  atlas_session_start (fixture->session);
  fixture->window = atlas_window_new (NULL, fixture->settings);
  atlas_window_set_session (fixture->window, fixture->session);
  gtk_window_set_default_size (GTK_WINDOW (fixture->window), 1000, 640);
  gtk_window_present (GTK_WINDOW (fixture->window));
  test_run_for (200);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  gtk_window_destroy (GTK_WINDOW (fixture->window));
  test_close_session (fixture->session);
  g_object_unref (fixture->engine_settings);
  g_settings_reset (fixture->settings, "download-directory");
  g_object_unref (fixture->settings);
  test_remove_tree (fixture->out_dir);
  g_free (fixture->out_dir);
  test_mirror_stop (fixture->mirror);
}

static AtlasDownload *
only_download (Fixture *fixture, guint expected_count)
{
  GListModel *model = G_LIST_MODEL (fixture->session);

  g_assert_cmpuint (g_list_model_get_n_items (model), ==, expected_count);
  /* The model returns a new reference; the session keeps the download alive. */
  AtlasDownload *download = g_list_model_get_item (model, expected_count - 1);
  g_object_unref (download);
  return download;
}

static gboolean
row_for_download (GtkWidget *widget, gpointer data)
{
  return atlas_download_row_get_download (ATLAS_DOWNLOAD_ROW (widget)) == data;
}

static const char *
row_status (Fixture *fixture, AtlasDownload *download)
{
  GtkWidget *row = ui_test_find (GTK_WIDGET (fixture->window), ATLAS_TYPE_DOWNLOAD_ROW,
                                 row_for_download, download);

  g_assert_nonnull (row);
  return atlas_download_row_get_status_text (ATLAS_DOWNLOAD_ROW (row));
}

static const char *
visible_page (Fixture *fixture)
{
  return atlas_queue_page_get_shown (atlas_window_get_queue_page (fixture->window));
}

/* ---- tests -------------------------------------------------------------- */

static void
test_every_widget_instantiates (Fixture *fixture, gconstpointer data)
{
  GtkWindow *parent = GTK_WINDOW (fixture->window);
  g_autoptr (GtkBuilder) help = NULL;
  GtkWidget *dialog = atlas_add_dialog_new (parent, fixture->session, fixture->settings);
  GtkWidget *preferences = atlas_preferences_window_new (parent, fixture->settings);
  GtkWidget *widgets[] = {
    atlas_queue_page_new (),  atlas_download_row_new (), atlas_details_page_new (),
    atlas_verify_page_new (), atlas_segment_map_new (),  atlas_donate_page_new (fixture->settings),
  };

  /* A broken .ui file fails here, before anyone opens that part of the app. */
  for (guint i = 0; i < G_N_ELEMENTS (widgets); i++)
    {
      g_assert_nonnull (widgets[i]);
      g_object_ref_sink (widgets[i]);
      g_object_unref (widgets[i]);
    }
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_window_present (GTK_WINDOW (preferences));
  test_run_for (100);
  g_assert_true (gtk_widget_get_mapped (dialog));
  g_assert_true (gtk_widget_get_mapped (preferences));
  gtk_window_destroy (GTK_WINDOW (dialog));
  gtk_window_destroy (GTK_WINDOW (preferences));

  help = gtk_builder_new_from_resource ("/org/downloadatlas/DownloadAtlas/gtk/help-overlay.ui");
  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (gtk_builder_get_object (help, "help_overlay")));
}

static void
test_empty_state (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpstr (visible_page (fixture), ==, "empty");
  g_assert_nonnull (ui_test_find_by_label (GTK_WIDGET (fixture->window), "No Downloads"));
  ui_test_save_screenshot (GTK_WIDGET (fixture->window), "main-window-empty.png");
}

static void
test_add_url_completes (Fixture *fixture, gconstpointer data)
{
  g_autofree char *url = test_mirror_url (fixture->mirror, "-", "small.bin");
  const char *links[] = { url, NULL };
  AtlasDownload *download;
  g_autofree char *path = NULL;
  GtkWidget *details;

  g_assert_cmpuint (atlas_window_add_links (fixture->window, links), ==, 1);
  download = only_download (fixture, 1);
  g_assert_cmpstr (visible_page (fixture), ==, "list");
  g_assert_cmpint (test_wait_for_end (download, 30), ==, ATLAS_DOWNLOAD_COMPLETE);
  test_run_for (100);
  g_assert_cmpstr (row_status (fixture, download), ==, "Complete");
  path = g_build_filename (fixture->out_dir, "small.bin", NULL);
  g_assert_true (test_file_matches (path, &fixture->small_sum));

  /* The same link again is noticed, not queued twice. */
  g_assert_cmpuint (atlas_window_add_links (fixture->window, links), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (fixture->session)), ==, 1);

  ui_test_save_screenshot (GTK_WIDGET (fixture->window), "main-window.png");
  atlas_window_show_details (fixture->window, download);
  test_run_for (200);
  details = ui_test_find (GTK_WIDGET (fixture->window), ATLAS_TYPE_DETAILS_PAGE, NULL, NULL);
  g_assert_true (atlas_details_page_get_download (ATLAS_DETAILS_PAGE (details)) == download);
  ui_test_save_screenshot (GTK_WIDGET (fixture->window), "main-window-details.png");
}

static gboolean
has_progress (gpointer data)
{
  AtlasDownload *download = data;
  return atlas_download_get_state (download) == ATLAS_DOWNLOAD_ACTIVE
         && atlas_download_get_completed_bytes (download) >= 5 * 1024 * 1024;
}

static gboolean
is_paused (gpointer data)
{
  return atlas_download_get_state (data) == ATLAS_DOWNLOAD_PAUSED;
}

static void
test_pause_resume (Fixture *fixture, gconstpointer data)
{
  g_autofree char *url = test_mirror_url (fixture->mirror, "rate=2M", "slow.bin");
  const char *links[] = { url, NULL };
  AtlasQueuePage *page = atlas_window_get_queue_page (fixture->window);
  AtlasDownload *download;
  guint64 paused_at;
  g_autofree char *path = NULL;

  g_assert_cmpuint (atlas_window_add_links (fixture->window, links), ==, 1);
  download = only_download (fixture, 1);
  g_assert_true (ui_test_wait_until (has_progress, download, 10000));

  /* Select the row and use the action bar's action, as a click would. */
  atlas_queue_page_select (page, download, FALSE);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "queue.pause", NULL));
  g_assert_true (ui_test_wait_until (is_paused, download, 5000));
  test_run_for (300);
  g_assert_cmpstr (row_status (fixture, download), ==, "Paused");
  paused_at = atlas_download_get_completed_bytes (download);
  test_run_for (700);
  g_assert_cmpuint (atlas_download_get_completed_bytes (download), ==, paused_at);
  /* Verified pieces survive a pause; only pieces in flight are lost. */
  g_assert_cmpuint (paused_at, >=, 1024 * 1024);
  g_assert_cmpuint (paused_at, <, SLOW_SIZE);
  atlas_window_show_details (fixture->window, download);
  test_run_for (300);
  ui_test_save_screenshot (GTK_WIDGET (fixture->window), "main-window-paused.png");

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "queue.resume", NULL));
  g_assert_cmpint (test_wait_for_end (download, 30), ==, ATLAS_DOWNLOAD_COMPLETE);
  path = g_build_filename (fixture->out_dir, "slow.bin", NULL);
  g_assert_true (test_file_matches (path, &fixture->slow_sum));
}

static GtkDropTarget *
window_drop_target (Fixture *fixture)
{
  g_autoptr (GListModel) controllers =
      gtk_widget_observe_controllers (GTK_WIDGET (fixture->window));

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, i);
      if (GTK_IS_DROP_TARGET (controller))
        return GTK_DROP_TARGET (controller);
    }
  g_assert_not_reached ();
}

static void
test_drop_uri_list (Fixture *fixture, gconstpointer data)
{
  g_autofree char *small = test_mirror_url (fixture->mirror, "-", "small.bin");
  g_autofree char *slow = test_mirror_url (fixture->mirror, "-", "slow.bin");
  GSList *files = NULL;
  GValue value = G_VALUE_INIT;
  gboolean accepted = FALSE;
  GListModel *model = G_LIST_MODEL (fixture->session);

  /* What a browser's text/uri-list becomes on the GTK side. */
  files = g_slist_append (files, g_file_new_for_uri (small));
  files = g_slist_append (files, g_file_new_for_uri (slow));
  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value, gdk_file_list_new_from_list (files));
  g_signal_emit_by_name (window_drop_target (fixture), "drop", &value, 10.0, 10.0, &accepted);
  g_value_unset (&value);
  g_slist_free_full (files, g_object_unref);

  g_assert_true (accepted);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (model, i);
      g_assert_cmpint (test_wait_for_end (download, 30), ==, ATLAS_DOWNLOAD_COMPLETE);
    }

  /* Dropped text: comments and words are ignored, links are taken. */
  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, "# from a mail\nnot a link\nftp://127.0.0.1:1/none.iso\n");
  g_signal_emit_by_name (window_drop_target (fixture), "drop", &value, 10.0, 10.0, &accepted);
  g_value_unset (&value);
  g_assert_true (accepted);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 3);
}

static void
test_filter_and_search (Fixture *fixture, gconstpointer data)
{
  g_autofree char *small = test_mirror_url (fixture->mirror, "-", "small.bin");
  g_autofree char *missing = test_mirror_url (fixture->mirror, "status=404", "missing.bin");
  const char *links[] = { small, missing, NULL };
  AtlasQueuePage *page = atlas_window_get_queue_page (fixture->window);
  GListModel *visible = atlas_queue_page_get_visible (page);

  g_assert_cmpuint (atlas_window_add_links (fixture->window, links), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (AtlasDownload) download =
          g_list_model_get_item (G_LIST_MODEL (fixture->session), i);
      test_wait_for_end (download, 30);
    }
  atlas_queue_page_set_filter (page, ATLAS_QUEUE_FILTER_FAILED);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);
  atlas_queue_page_set_filter (page, ATLAS_QUEUE_FILTER_DONE);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);
  atlas_queue_page_set_search (page, "nothing-like-this");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 0);
  g_assert_cmpstr (visible_page (fixture), ==, "no-matches");
  atlas_queue_page_set_search (page, "SMALL");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);
  atlas_queue_page_set_filter (page, ATLAS_QUEUE_FILTER_ALL);
  atlas_queue_page_set_search (page, "");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 2);
}

/* Every control a person can operate says what it does to a screen reader:
 * its own label, a tooltip (GTK uses it as the accessible description and,
 * without a label, the name), or the title of the preferences row it sits in. */
static gboolean
control_has_name (GtkWidget *widget)
{
  const char *tooltip = gtk_widget_get_tooltip_text (widget);

  if (tooltip != NULL && *tooltip != '\0')
    return TRUE;
  if (GTK_IS_BUTTON (widget) && gtk_button_get_label (GTK_BUTTON (widget)) != NULL)
    return TRUE;
  if (GTK_IS_MENU_BUTTON (widget) && gtk_menu_button_get_label (GTK_MENU_BUTTON (widget)) != NULL)
    return TRUE;
  if (GTK_IS_BUTTON (widget) && GTK_IS_LABEL (gtk_button_get_child (GTK_BUTTON (widget))))
    return TRUE;
  for (GtkWidget *up = gtk_widget_get_parent (widget); up != NULL; up = gtk_widget_get_parent (up))
    if (ADW_IS_PREFERENCES_ROW (up))
      return adw_preferences_row_get_title (ADW_PREFERENCES_ROW (up)) != NULL;
  return FALSE;
}

static gboolean
is_unnamed_control (GtkWidget *widget, gpointer data)
{
  gboolean control = GTK_IS_BUTTON (widget) || GTK_IS_MENU_BUTTON (widget) || GTK_IS_SWITCH (widget)
                     || GTK_IS_SPIN_BUTTON (widget) || GTK_IS_DROP_DOWN (widget);

  /* GTK's and libadwaita's own inner parts (the title bar's window buttons,
   * a drop-down's inner button, a toast's close button) are theirs to label. */
  if (!control || !gtk_widget_get_visible (widget))
    return FALSE;
  for (GtkWidget *up = gtk_widget_get_parent (widget); up != NULL; up = gtk_widget_get_parent (up))
    if (GTK_IS_WINDOW_CONTROLS (up) || GTK_IS_DROP_DOWN (up) || GTK_IS_MENU_BUTTON (up)
        || GTK_IS_SPIN_BUTTON (up) || ADW_IS_VIEW_SWITCHER (up)
        || g_str_equal (G_OBJECT_TYPE_NAME (up), "AdwToastWidget"))
      return FALSE;
  return !control_has_name (widget);
}

static void
assert_controls_named (GtkWidget *root, const char *what)
{
  GtkWidget *unnamed = ui_test_find (root, GTK_TYPE_WIDGET, is_unnamed_control, NULL);

  if (unnamed != NULL)
    g_error ("%s: a %s (css name %s, parent %s) has no accessible name", what,
             G_OBJECT_TYPE_NAME (unnamed), gtk_widget_get_css_name (unnamed),
             G_OBJECT_TYPE_NAME (gtk_widget_get_parent (unnamed)));
}

static void
test_controls_are_labelled (Fixture *fixture, gconstpointer data)
{
  GtkWindow *parent = GTK_WINDOW (fixture->window);
  GtkWidget *dialog = atlas_add_dialog_new (parent, fixture->session, fixture->settings);
  GtkWidget *preferences = atlas_preferences_window_new (parent, fixture->settings);
  g_autofree char *url = test_mirror_url (fixture->mirror, "-", "small.bin");
  const char *links[] = { url, NULL };
  const char *pages[] = { "downloads", "verify", "donate" };

  /* With a download selected, so the action bar is shown too. */
  atlas_window_add_links (fixture->window, links);
  test_run_for (200);
  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      gtk_widget_activate_action (GTK_WIDGET (fixture->window), "win.show-page", "s", pages[i]);
      test_run_for (100);
      assert_controls_named (GTK_WIDGET (fixture->window), pages[i]);
    }
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_window_present (GTK_WINDOW (preferences));
  test_run_for (200);
  assert_controls_named (dialog, "add dialog");
  assert_controls_named (preferences, "preferences");
  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (preferences), "peers");
  test_run_for (100);
  assert_controls_named (preferences, "preferences, peer-to-peer");
  gtk_window_destroy (GTK_WINDOW (dialog));
  gtk_window_destroy (GTK_WINDOW (preferences));
}

int
main (int argc, char **argv)
{
  ui_test_init (&argc, &argv);

#define ADD(name, func)                                                                            \
  g_test_add ("/window/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("every-widget-instantiates", test_every_widget_instantiates);
  ADD ("empty-state", test_empty_state);
  ADD ("add-url-completes", test_add_url_completes);
  ADD ("pause-resume", test_pause_resume);
  ADD ("drop-uri-list", test_drop_uri_list);
  ADD ("filter-and-search", test_filter_and_search);
  ADD ("controls-are-labelled", test_controls_are_labelled);
  return g_test_run ();
}
