/* The Add Download dialog against a real session and the test mirror: links
 * typed the way a user types them, "Add" pressed, and the queue checked for
 * the downloads that should (and should not) be in it. */
#include <adwaita.h>
#include <string.h>

#include "atlas-add-dialog.h"
#include "atlas-resources.h"
#include "ui-test-util.h"

typedef struct
{
  TestMirror *mirror;
  char *out_dir;
  AtlasChecksum sum_a;
  AtlasSettings *engine_settings;
  AtlasSession *session;
  GSettings *settings;
  AtlasAddDialog *dialog; /* weak: the dialog closes itself */
  guint n_added;          /* sum of the "added" signal's counts */
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->mirror = test_mirror_start ();
  fixture->sum_a = test_make_file (fixture->mirror->root, "a.bin", 64 * 1024, 1);
  test_make_file (fixture->mirror->root, "b.bin", 64 * 1024, 2);
  test_make_file (fixture->mirror->root, "c.bin", 64 * 1024, 3);
  fixture->out_dir = test_make_temp_dir ();

  fixture->engine_settings = atlas_settings_new ();
  atlas_settings_set_download_directory (fixture->engine_settings, fixture->out_dir);
  fixture->session = test_open_session (NULL, fixture->engine_settings, &error);
  g_assert_no_error (error);
  atlas_session_start (fixture->session);

  fixture->settings = g_settings_new ("org.downloadatlas.DownloadAtlas");
  g_settings_set_string (fixture->settings, "download-directory", fixture->out_dir);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  if (fixture->dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (fixture->dialog));
  test_run_for (50);
  g_assert_null (fixture->dialog);
  g_settings_reset (fixture->settings, "download-directory");
  g_object_unref (fixture->settings);
  test_close_session (fixture->session);
  g_object_unref (fixture->engine_settings);
  test_remove_tree (fixture->out_dir);
  g_free (fixture->out_dir);
  test_mirror_stop (fixture->mirror);
}

static void
added_cb (AtlasAddDialog *dialog, guint n_added, Fixture *fixture)
{
  fixture->n_added += n_added;
}

static void
open_dialog (Fixture *fixture)
{
  fixture->dialog =
      ATLAS_ADD_DIALOG (atlas_add_dialog_new (NULL, fixture->session, fixture->settings));
  g_object_add_weak_pointer (G_OBJECT (fixture->dialog), (gpointer *) &fixture->dialog);
  g_signal_connect (fixture->dialog, "added", G_CALLBACK (added_cb), fixture);
  gtk_window_present (GTK_WINDOW (fixture->dialog));
}

static GtkWidget *
find (Fixture *fixture, GType type, const char *label)
{
  GtkWidget *widget =
      ui_test_find (GTK_WIDGET (fixture->dialog), type, ui_test_has_label, (gpointer) label);

  if (widget == NULL)
    g_error ("no %s labelled “%s” in the dialog", g_type_name (type), label);
  return widget;
}

static GtkWidget *
add_button (Fixture *fixture)
{
  return find (fixture, GTK_TYPE_BUTTON, "Add the links to the queue");
}

static void
type_links (Fixture *fixture, const char *text)
{
  GtkWidget *view = find (fixture, GTK_TYPE_TEXT_VIEW, "Links");

  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (view)), text, -1);
}

static const char *
shown_text (Fixture *fixture, const char *name)
{
  GObject *label =
      gtk_widget_get_template_child (GTK_WIDGET (fixture->dialog), ATLAS_TYPE_ADD_DIALOG, name);

  g_assert_true (GTK_IS_LABEL (label));
  if (!gtk_widget_get_visible (GTK_WIDGET (label)))
    return "";
  return gtk_label_get_text (GTK_LABEL (label));
}

static void
assert_shows (Fixture *fixture, const char *name, const char *needle)
{
  const char *text = shown_text (fixture, name);

  if (strstr (text, needle) == NULL)
    g_error ("%s shows “%s”, expected it to contain “%s”", name, text, needle);
}

static void
press_add (Fixture *fixture)
{
  GtkWidget *button = add_button (fixture);

  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
  /* A closed window goes away on the next turns of the main loop. */
  test_run_for (50);
}

static AtlasDownload *
queued_download (Fixture *fixture, const char *name)
{
  GListModel *queue = G_LIST_MODEL (fixture->session);

  for (guint i = 0; i < g_list_model_get_n_items (queue); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (queue, i);
      g_autofree char *base = g_path_get_basename (atlas_download_get_path (download));

      if (g_str_equal (base, name))
        return download; /* the session keeps its own reference */
    }
  return NULL;
}

/* Layout follows the last change after a frame or two. */
static void
save_screenshot (GtkWidget *widget, const char *name)
{
  test_run_for (200);
  g_assert_true (gtk_widget_get_mapped (widget));
  ui_test_save_screenshot (widget, name);
}

/* Two links and a repeated line become two downloads; the dialog closes. */
static void
test_add_several (Fixture *fixture, gconstpointer data)
{
  g_autofree char *url_a = test_mirror_url (fixture->mirror, "-", "a.bin");
  g_autofree char *url_b = test_mirror_url (fixture->mirror, "-", "b.bin");
  g_autofree char *text = g_strdup_printf ("%s\n%s\n%s\n", url_a, url_b, url_a);

  open_dialog (fixture);
  g_assert_false (gtk_widget_is_sensitive (add_button (fixture)));
  assert_shows (fixture, "urls_status", "Paste or type");

  type_links (fixture, text);
  assert_shows (fixture, "urls_status", "2 links will be added.");
  /* Mirrors of one file make no sense for two files. */
  g_assert_false (gtk_widget_is_sensitive (find (fixture, ADW_TYPE_EXPANDER_ROW, "Mirrors")));
  g_assert_true (gtk_widget_is_sensitive (add_button (fixture)));
  save_screenshot (GTK_WIDGET (fixture->dialog), "add-dialog.png");

  press_add (fixture);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (fixture->session)), ==, 2);
  g_assert_nonnull (queued_download (fixture, "a.bin"));
  g_assert_nonnull (queued_download (fixture, "b.bin"));
  g_assert_cmpuint (fixture->n_added, ==, 2);
  g_assert_null (fixture->dialog);
}

/* A link whose file is already queued is reported inline and kept in the
 * box; the other link is added, and the dialog stays open. */
static void
test_already_queued (Fixture *fixture, gconstpointer data)
{
  g_autofree char *url_a = test_mirror_url (fixture->mirror, "-", "a.bin");
  g_autofree char *url_c = test_mirror_url (fixture->mirror, "-", "c.bin");
  g_autofree char *text = g_strdup_printf ("%s\n%s", url_a, url_c);
  g_autoptr (AtlasRequest) request = NULL;
  g_autoptr (GError) error = NULL;
  GtkTextBuffer *buffer;
  g_autofree char *left = NULL;
  GtkTextIter start, end;

  open_dialog (fixture);
  type_links (fixture, url_a);
  press_add (fixture);
  g_assert_null (fixture->dialog);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (fixture->session)), ==, 1);

  open_dialog (fixture);
  type_links (fixture, text);
  press_add (fixture);
  g_assert_nonnull (fixture->dialog);
  assert_shows (fixture, "add_error", "“a.bin” is already in the queue.");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (fixture->session)), ==, 2);
  g_assert_nonnull (queued_download (fixture, "c.bin"));
  g_assert_cmpuint (fixture->n_added, ==, 2);

  /* Only the link that failed is left, so "Add" again cannot add c twice. */
  buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (find (fixture, GTK_TYPE_TEXT_VIEW, "Links")));
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  left = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  g_assert_cmpstr (left, ==, url_a);
  save_screenshot (GTK_WIDGET (fixture->dialog), "add-dialog-already-queued.png");

  /* Editing the links clears the report about the old ones. */
  type_links (fixture, url_c);
  g_assert_cmpstr (shown_text (fixture, "add_error"), ==, "");
}

/* The checksum is checked as it is typed; a good one reaches the download. */
static void
test_checksum (Fixture *fixture, gconstpointer data)
{
  g_autofree char *url_a = test_mirror_url (fixture->mirror, "-", "a.bin");
  g_autofree char *url_b = test_mirror_url (fixture->mirror, "-", "b.bin");
  g_autofree char *two = g_strdup_printf ("%s\n%s", url_a, url_b);
  g_autofree char *hex = atlas_checksum_to_hex (&fixture->sum_a);
  g_autofree char *prefixed = g_strdup_printf ("sha256:%s", hex);
  GtkWidget *row;
  AtlasDownload *download;
  GArray *checksums;
  gboolean found = FALSE;

  open_dialog (fixture);
  type_links (fixture, url_a);
  row = find (fixture, ADW_TYPE_ENTRY_ROW, "Expected checksum");

  gtk_editable_set_text (GTK_EDITABLE (row), "sha256:not-hex");
  g_assert_false (gtk_widget_is_sensitive (add_button (fixture)));
  assert_shows (fixture, "checksum_error", "Not a checksum");
  g_assert_true (gtk_widget_has_css_class (row, "error"));

  gtk_editable_set_text (GTK_EDITABLE (row), hex);
  g_assert_true (gtk_widget_is_sensitive (add_button (fixture)));
  g_assert_cmpstr (shown_text (fixture, "checksum_error"), ==, "");

  /* One checksum cannot describe two files. */
  type_links (fixture, two);
  g_assert_false (gtk_widget_is_sensitive (add_button (fixture)));
  assert_shows (fixture, "checksum_error", "single file");

  type_links (fixture, url_a);
  gtk_editable_set_text (GTK_EDITABLE (row), prefixed);
  press_add (fixture);
  g_assert_null (fixture->dialog);

  download = queued_download (fixture, "a.bin");
  g_assert_nonnull (download);
  checksums = atlas_download_get_checksums (download);
  g_assert_nonnull (checksums);
  for (guint i = 0; i < checksums->len; i++)
    found |= atlas_checksum_equal (&g_array_index (checksums, AtlasChecksum, i), &fixture->sum_a);
  g_assert_true (found);
}

/* http, https and ftp are links; file: URIs and words are not. */
static void
test_link_kinds (Fixture *fixture, gconstpointer data)
{
  open_dialog (fixture);

  type_links (fixture, "ftp://127.0.0.1:1/pub/image.iso");
  g_assert_true (gtk_widget_is_sensitive (add_button (fixture)));
  assert_shows (fixture, "urls_status", "1 link will be added.");

  type_links (fixture, "file:///etc/passwd");
  g_assert_false (gtk_widget_is_sensitive (add_button (fixture)));
  assert_shows (fixture, "urls_status", "1 line is not an http, https or ftp link");

  type_links (fixture, "hello");
  g_assert_false (gtk_widget_is_sensitive (add_button (fixture)));
  assert_shows (fixture, "urls_status", "1 line is not an http, https or ftp link");

  type_links (fixture, "hello\nhttps://127.0.0.1:1/x.iso\n\n# a comment");
  g_assert_true (gtk_widget_is_sensitive (add_button (fixture)));
  assert_shows (fixture, "urls_status", "1 link will be added. 1 line is not");
}

/* "Start immediately" off queues the download paused. */
static void
test_add_paused (Fixture *fixture, gconstpointer data)
{
  g_autofree char *url_b = test_mirror_url (fixture->mirror, "-", "b.bin");
  GtkWidget *start;
  AtlasDownload *download;

  open_dialog (fixture);
  atlas_add_dialog_set_urls (fixture->dialog, url_b);
  start = find (fixture, GTK_TYPE_SWITCH, "Start immediately");
  g_assert_true (gtk_switch_get_active (GTK_SWITCH (start)));
  gtk_switch_set_active (GTK_SWITCH (start), FALSE);
  press_add (fixture);

  download = queued_download (fixture, "b.bin");
  g_assert_nonnull (download);
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_PAUSED);
  g_assert_cmpuint (fixture->n_added, ==, 1);
}

int
main (int argc, char **argv)
{
  ui_test_init (&argc, &argv);
  /* The templates live in the app library's resource object, which the
   * linker keeps only when something refers to it. */
  g_assert_nonnull (atlas_get_resource ());

#define ADD(name, func)                                                                            \
  g_test_add ("/add-dialog/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("add-several", test_add_several);
  ADD ("already-queued", test_already_queued);
  ADD ("checksum", test_checksum);
  ADD ("link-kinds", test_link_kinds);
  ADD ("add-paused", test_add_paused);
#undef ADD

  return g_test_run ();
}
