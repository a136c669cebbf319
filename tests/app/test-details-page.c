/* The details page with a real session and the project's misbehaving mirror:
 * what the user reads on it (sources, bytes, hash verdicts, the log) while a
 * download runs and after it ends. */
#include "atlas-details-page.h"
#include "atlas-resources.h"
#include "atlas-segment-map.h"
#include "ui-test-util.h"

#include <locale.h>
#include <string.h>

#define PIECE (1024 * 1024)
#define FILE_SIZE (12 * PIECE + 4321)

typedef struct
{
  TestMirror *mirror;
  char *out_dir;
  AtlasChecksum sum;
  GBytes *pieces;
  AtlasSettings *settings;
  AtlasSession *session;
  GtkWidget *window;
  AtlasDetailsPage *page;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;

  fixture->mirror = test_mirror_start ();
  fixture->sum = test_make_file (fixture->mirror->root, "file.bin", FILE_SIZE, 7);
  path = g_build_filename (fixture->mirror->root, "file.bin", NULL);
  fixture->pieces = test_piece_digests (path, PIECE);
  fixture->out_dir = test_make_temp_dir ();
  fixture->settings = atlas_settings_new ();
  atlas_settings_set_download_directory (fixture->settings, fixture->out_dir);
  atlas_settings_set_stall_timeout (fixture->settings, 2);
  fixture->session = test_open_session (NULL, fixture->settings, &error);
  g_assert_no_error (error);
  atlas_session_start (fixture->session);

  fixture->window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (fixture->window), 860, 1500);
  fixture->page = ATLAS_DETAILS_PAGE (atlas_details_page_new ());
  gtk_window_set_child (GTK_WINDOW (fixture->window), GTK_WIDGET (fixture->page));
  gtk_window_present (GTK_WINDOW (fixture->window));
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  gtk_window_destroy (GTK_WINDOW (fixture->window));
  test_close_session (fixture->session);
  g_object_unref (fixture->settings);
  g_bytes_unref (fixture->pieces);
  test_remove_tree (fixture->out_dir);
  g_free (fixture->out_dir);
  test_mirror_stop (fixture->mirror);
}

static AtlasDownload *
add_download (Fixture *fixture, const char *const *modes)
{
  g_autoptr (AtlasRequest) request = atlas_request_new ();
  g_autoptr (GError) error = NULL;
  AtlasDownload *download;

  for (guint i = 0; modes[i] != NULL; i++)
    {
      g_autofree char *url = test_mirror_url (fixture->mirror, modes[i], "file.bin");
      atlas_request_add_url (request, url, i + 1, NULL);
    }
  atlas_request_set_size (request, FILE_SIZE);
  atlas_request_set_pieces (request, ATLAS_HASH_SHA256, PIECE, fixture->pieces);
  atlas_request_add_checksum (request, &fixture->sum);
  atlas_request_set_filename (request, "file.bin");
  download = atlas_session_add (fixture->session, request, &error);
  g_assert_no_error (error);
  return download;
}

/* ---- reading the page as a user would ----------------------------------- */

/* The text of every label and text view a user can see under @widget. */
static void
collect_text (GtkWidget *widget, GString *out)
{
  if (!gtk_widget_get_mapped (widget))
    return;
  if (GTK_IS_LABEL (widget))
    g_string_append_printf (out, "%s\n", gtk_label_get_text (GTK_LABEL (widget)));
  if (GTK_IS_TEXT_VIEW (widget))
    {
      GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (widget));
      GtkTextIter start, end;
      g_autofree char *text = NULL;

      gtk_text_buffer_get_bounds (buffer, &start, &end);
      text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
      g_string_append_printf (out, "%s\n", text);
    }
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

static char *
log_text (Fixture *fixture)
{
  GtkTextView *view =
      GTK_TEXT_VIEW (ui_test_find (GTK_WIDGET (fixture->page), GTK_TYPE_TEXT_VIEW, NULL, NULL));
  GtkTextBuffer *buffer;
  GtkTextIter start, end;

  g_assert_nonnull (view);
  buffer = gtk_text_view_get_buffer (view);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

typedef struct
{
  const char *title;
  const char *subtitle_part;
} RowQuery;

static gboolean
row_matches (GtkWidget *widget, gpointer data)
{
  RowQuery *query = data;
  const char *title = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget));
  const char *subtitle = adw_action_row_get_subtitle (ADW_ACTION_ROW (widget));

  return gtk_widget_get_mapped (widget) && g_strcmp0 (title, query->title) == 0
         && (query->subtitle_part == NULL
             || (subtitle != NULL && strstr (subtitle, query->subtitle_part) != NULL));
}

/* The visible row whose title is @title and whose subtitle contains
 * @subtitle_part (NULL: any). */
static AdwActionRow *
find_row (GtkWidget *root, const char *title, const char *subtitle_part)
{
  RowQuery query = { title, subtitle_part };

  return (AdwActionRow *) ui_test_find (root, ADW_TYPE_ACTION_ROW, row_matches, &query);
}

static AtlasSource *
find_source (AtlasDownload *download, const char *modes)
{
  GListModel *sources = atlas_download_get_sources (download);
  g_autofree char *needle = g_strdup_printf ("/%s/", modes);

  for (guint i = 0; i < g_list_model_get_n_items (sources); i++)
    {
      g_autoptr (AtlasSource) source = g_list_model_get_item (sources, i);
      if (strstr (atlas_source_get_url (source), needle) != NULL)
        return source;
    }
  g_assert_not_reached ();
}

/* The verdict a hash row shows next to the expected hash. */
static char *
hash_verdict (Fixture *fixture)
{
  g_autofree char *hash = atlas_checksum_to_string (&fixture->sum);
  AdwActionRow *row = find_row (GTK_WIDGET (fixture->page), hash, NULL);

  g_assert_nonnull (row);
  return visible_text (GTK_WIDGET (row));
}

static void
assert_contains (const char *haystack, const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("expected “%s” in:\n%s", needle, haystack);
}

/* ---- tests --------------------------------------------------------------- */

static void
test_empty (Fixture *fixture, gconstpointer data)
{
  g_autofree char *text = NULL;

  test_run_for (100);
  text = visible_text (GTK_WIDGET (fixture->page));
  assert_contains (text, "No Download Selected");
  g_assert_null (atlas_details_page_get_download (fixture->page));
}

static void
test_complete_download (Fixture *fixture, gconstpointer data)
{
  const char *modes[] = { "rate=12M", NULL };
  AtlasDownload *download = add_download (fixture, modes);
  AtlasSource *source = find_source (download, "rate=12M");
  g_autofree char *verdict = NULL;
  g_autofree char *text = NULL;
  g_autofree char *log = NULL;
  g_autofree char *bytes = NULL;
  g_autofree char *pieces = NULL;
  g_autofree char *legend = NULL;
  GtkWidget *map;
  const char *host;

  atlas_details_page_set_download (fixture->page, download);
  g_assert_true (atlas_details_page_get_download (fixture->page) == download);
  test_run_for (100);
  /* Before the whole file is here, no hash can have matched. */
  verdict = hash_verdict (fixture);
  assert_contains (verdict, "Waiting");
  text = visible_text (GTK_WIDGET (fixture->page));
  assert_contains (text, "file.bin");
  assert_contains (text, fixture->out_dir);

  g_assert_cmpint (test_wait_for_end (download, 60), ==, ATLAS_DOWNLOAD_COMPLETE);
  test_run_for (300);

  /* The mirror's row names its host and the bytes it delivered. */
  g_assert_cmpuint (atlas_source_get_bytes_received (source), >, 0);
  bytes = g_format_size (atlas_source_get_bytes_received (source));
  host = atlas_source_get_host (source);
  g_assert_nonnull (strstr (host, "127.0.0.1"));
  g_assert_nonnull (find_row (GTK_WIDGET (fixture->page), host, bytes));
  g_assert_null (find_row (GTK_WIDGET (fixture->page), host, "0 bytes received"));

  g_free (verdict);
  verdict = hash_verdict (fixture);
  assert_contains (verdict, "Matched");

  g_free (text);
  text = visible_text (GTK_WIDGET (fixture->page));
  assert_contains (text, "Complete");
  pieces = g_strdup_printf ("%'u of %'u pieces of", FILE_SIZE / PIECE + 1, FILE_SIZE / PIECE + 1);
  assert_contains (text, pieces);
  /* The map followed the download to its end. */
  map = ui_test_find (GTK_WIDGET (fixture->page), ATLAS_TYPE_SEGMENT_MAP, NULL, NULL);
  g_assert_nonnull (map);
  g_free (pieces);
  pieces =
      g_strdup_printf ("%'u of %'u pieces verified", FILE_SIZE / PIECE + 1, FILE_SIZE / PIECE + 1);
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (map), GTK_ACCESSIBLE_PROPERTY_LABEL, pieces);
  legend = g_strdup_printf ("Verified, from %s", host);
  assert_contains (text, legend);

  log = log_text (fixture);
  g_assert_cmpstr (log, !=, "");

  ui_test_save_screenshot (fixture->window, "details-page.png");
}

static void
test_corrupt_mirror (Fixture *fixture, gconstpointer data)
{
  const char *modes[] = { "corrupt=all", "rate=8M", NULL };
  AtlasDownload *download = add_download (fixture, modes);
  AtlasSource *liar = find_source (download, "corrupt=all");
  g_autofree char *bad = NULL;
  g_autofree char *log = NULL;
  g_autofree char *verdict = NULL;
  const char *host = atlas_source_get_host (liar);
  GtkWidget *page = GTK_WIDGET (fixture->page);
  guint n_bad;

  atlas_details_page_set_download (fixture->page, download);
  g_assert_cmpint (test_wait_for_end (download, 60), ==, ATLAS_DOWNLOAD_COMPLETE);
  test_run_for (300);

  /* The liar's row counts its bad pieces and says it was banned, and the
   * log explains which piece failed. */
  n_bad = atlas_source_get_bad_pieces (liar);
  g_assert_cmpuint (n_bad, >=, 1);
  bad = g_strdup_printf (n_bad == 1 ? "%u bad piece" : "%u bad pieces", n_bad);
  g_assert_nonnull (find_row (page, host, "/corrupt=all/"));
  g_assert_true (find_row (page, host, bad) == find_row (page, host, "/corrupt=all/"));
  g_assert_true (find_row (page, host, "Banned") == find_row (page, host, "/corrupt=all/"));
  log = log_text (fixture);
  assert_contains (log, "failed its sha-256 check");
  verdict = hash_verdict (fixture);
  assert_contains (verdict, "Matched");

  ui_test_save_screenshot (fixture->window, "details-page-corrupt.png");
}

/* A page that moved on to another download no longer shows the first one's
 * news; and with none, it shows its empty state again. */
static void
test_switch_download (Fixture *fixture, gconstpointer data)
{
  const char *first_modes[] = { "rate=1M", NULL };
  const char *second_modes[] = { "delay=1", NULL };
  AtlasDownload *first = add_download (fixture, first_modes);
  g_autoptr (AtlasRequest) request = atlas_request_new ();
  g_autofree char *url = test_mirror_url (fixture->mirror, second_modes[0], "file.bin");
  g_autoptr (GError) error = NULL;
  AtlasDownload *second;
  g_autofree char *log = NULL;
  g_autofree char *text = NULL;

  atlas_request_add_url (request, url, 0, NULL);
  atlas_request_set_filename (request, "other.bin");
  second = atlas_session_add (fixture->session, request, &error);
  g_assert_no_error (error);

  atlas_details_page_set_download (fixture->page, first);
  atlas_details_page_set_download (fixture->page, second);
  g_signal_emit_by_name (first, "log", (guint) G_LOG_LEVEL_MESSAGE, "a line about the first one");
  test_run_for (200);
  log = log_text (fixture);
  g_assert_null (strstr (log, "a line about the first one"));
  text = visible_text (GTK_WIDGET (fixture->page));
  assert_contains (text, "other.bin");
  /* No expected hash for this one: the page says so instead of a verdict. */
  assert_contains (text, "No expected hash");

  atlas_details_page_set_download (fixture->page, NULL);
  /* Past the stack's crossfade, which shows both pages for a moment. */
  test_run_for (600);
  g_free (text);
  text = visible_text (GTK_WIDGET (fixture->page));
  assert_contains (text, "No Download Selected");
  g_assert_null (strstr (text, "other.bin"));
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  ui_test_init (&argc, &argv);
  /* The static library's resources are linked only when something refers to them. */
  g_assert_nonnull (atlas_get_resource ());

#define ADD(name, func)                                                                            \
  g_test_add ("/details-page/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("empty", test_empty);
  ADD ("complete-download", test_complete_download);
  ADD ("corrupt-mirror", test_corrupt_mirror);
  ADD ("switch-download", test_switch_download);
  return g_test_run ();
}
