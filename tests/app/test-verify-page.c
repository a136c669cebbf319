/* The Verify page, driven the way a user drives it: choose a file and a
 * reference, press Verify, read the verdict; press Repair and see the file
 * become intact. Every assertion is on text shown, widget state or bytes. */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "atlas-test-util.h"
#include "atlas-verify-page.h"
#include "ui-test-util.h"

#define PIECE (1024 * 1024)
#define FILE_SIZE (4 * PIECE + 4321) /* a short last piece on purpose */

typedef struct
{
  char *dir;
  char *path; /* the file to check */
  AtlasChecksum sum;
  GBytes *pieces; /* piece digests of the intact file */
  GtkWidget *window;
  AtlasVerifyPage *page;
} Fixture;

static GtkWidget *
child (Fixture *fixture, const char *name)
{
  GObject *object =
      gtk_widget_get_template_child (GTK_WIDGET (fixture->page), ATLAS_TYPE_VERIFY_PAGE, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static const char *
label_text (Fixture *fixture, const char *name)
{
  return gtk_label_get_text (GTK_LABEL (child (fixture, name)));
}

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  fixture->dir = test_make_temp_dir ();
  fixture->sum = test_make_file (fixture->dir, "image.iso", FILE_SIZE, 7);
  fixture->path = g_build_filename (fixture->dir, "image.iso", NULL);
  fixture->pieces = test_piece_digests (fixture->path, PIECE);

  fixture->window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (fixture->window), 640, 900);
  fixture->page = ATLAS_VERIFY_PAGE (atlas_verify_page_new ());
  gtk_window_set_child (GTK_WINDOW (fixture->window), GTK_WIDGET (fixture->page));
  gtk_window_present (GTK_WINDOW (fixture->window));
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  gtk_window_destroy (GTK_WINDOW (fixture->window));
  /* Let cancelled jobs of the page report back before the files go. */
  test_run_for (50);
  g_bytes_unref (fixture->pieces);
  test_remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->path);
}

typedef gboolean (*Predicate) (Fixture *fixture);

/* Runs the main loop until @predicate holds, failing after @timeout_s. */
static void
wait_for (Fixture *fixture, Predicate predicate, guint timeout_s, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (!predicate (fixture))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s", what);
      test_run_for (10);
    }
}

static gboolean
verdict_shown (Fixture *fixture)
{
  return gtk_widget_get_visible (child (fixture, "verdict_box"))
         && !gtk_widget_get_visible (child (fixture, "progress_box"));
}

static gboolean
verify_ready (Fixture *fixture)
{
  return gtk_widget_get_sensitive (child (fixture, "verify_button"));
}

static gboolean
reference_error_shown (Fixture *fixture)
{
  return gtk_widget_get_visible (child (fixture, "reference_error_label"));
}

static void
press (Fixture *fixture, const char *button)
{
  g_assert_true (gtk_widget_get_visible (child (fixture, button)));
  g_assert_true (gtk_widget_get_sensitive (child (fixture, button)));
  g_signal_emit_by_name (child (fixture, button), "clicked");
}

/* Presses Verify and waits for the verdict. */
static void
verify (Fixture *fixture)
{
  wait_for (fixture, verify_ready, 10, "the Verify button to become sensitive");
  press (fixture, "verify_button");
  wait_for (fixture, verdict_shown, 30, "the verdict");
}

static void
corrupt (const char *path, long offset, const char *bytes)
{
  FILE *file = fopen (path, "r+b");

  g_assert_nonnull (file);
  g_assert_cmpint (fseek (file, offset, SEEK_SET), ==, 0);
  g_assert_cmpuint (fwrite (bytes, 1, strlen (bytes), file), ==, strlen (bytes));
  g_assert_cmpint (fclose (file), ==, 0);
}

/* A Metalink for image.iso with the intact file's hashes and pieces, and
 * @url as its mirror (none if NULL); returns its path. */
static char *
write_metalink (Fixture *fixture, const char *url)
{
  g_autoptr (AtlasMetalink) metalink = atlas_metalink_new ();
  AtlasMetalinkFile *file = atlas_metalink_file_new ();
  g_autofree char *xml = NULL;
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (fixture->dir, "image.meta4", NULL);

  file->name = g_strdup ("image.iso");
  file->size = FILE_SIZE;
  g_array_append_val (file->hashes, fixture->sum);
  file->piece_type = ATLAS_HASH_SHA256;
  file->piece_length = PIECE;
  file->piece_digests = g_bytes_ref (fixture->pieces);
  file->n_pieces = g_bytes_get_size (fixture->pieces) / 32;
  if (url != NULL)
    {
      AtlasMetalinkUrl *mirror = g_new0 (AtlasMetalinkUrl, 1);

      mirror->url = g_strdup (url);
      mirror->priority = 1;
      g_ptr_array_add (file->urls, mirror);
    }
  g_ptr_array_add (metalink->files, file);

  xml = atlas_metalink_to_xml (metalink);
  g_file_set_contents (path, xml, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_intact_hash (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GFile) file = g_file_new_for_path (fixture->path);
  g_autofree char *text = atlas_checksum_to_string (&fixture->sum);
  g_autofree char *hex = atlas_checksum_to_hex (&fixture->sum);
  g_autoptr (GFile) other = NULL;

  g_assert_false (verify_ready (fixture));
  atlas_verify_page_set_file (fixture->page, file);
  g_assert_false (verify_ready (fixture));
  atlas_verify_page_set_reference_text (fixture->page, text);
  verify (fixture);

  g_assert_cmpstr (label_text (fixture, "verdict_title"), ==, "The file is intact");
  g_assert_nonnull (strstr (label_text (fixture, "verdict_details"), "SHA-256 matches"));
  g_assert_nonnull (strstr (label_text (fixture, "verdict_details"), hex));
  g_assert_false (gtk_widget_get_visible (child (fixture, "bad_ranges_label")));
  g_assert_false (gtk_widget_get_visible (child (fixture, "repair_button")));

  /* Starting over with another file forgets the verdict. */
  test_make_file (fixture->dir, "other.iso", 1000, 8);
  other = g_file_new_build_filename (fixture->dir, "other.iso", NULL);
  atlas_verify_page_set_file (fixture->page, other);
  g_assert_false (gtk_widget_get_visible (child (fixture, "verdict_box")));
  g_assert_true (verify_ready (fixture));
  verify (fixture);
  g_assert_cmpstr (label_text (fixture, "verdict_title"), ==, "The file is damaged");
}

static void
test_damaged_metalink (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GFile) file = g_file_new_for_path (fixture->path);
  g_autofree char *metalink_path = write_metalink (fixture, "http://127.0.0.1:9/image.iso");
  g_autoptr (GFile) metalink = g_file_new_for_path (metalink_path);
  const char *ranges;

  /* Three bytes of piece 1 go bad on disk. */
  corrupt (fixture->path, PIECE + 100, "BAD");

  atlas_verify_page_set_file (fixture->page, file);
  atlas_verify_page_set_reference_file (fixture->page, metalink);
  verify (fixture);

  g_assert_cmpstr (label_text (fixture, "verdict_title"), ==, "The file is damaged");
  g_assert_nonnull (strstr (label_text (fixture, "verdict_details"), "1 of 5 pieces are damaged"));
  g_assert_nonnull (strstr (label_text (fixture, "verdict_details"), "SHA-256 does not match"));
  g_assert_true (gtk_widget_get_visible (child (fixture, "bad_ranges_label")));
  /* gtk_test_init runs in en_US, or C where that is not installed; the page
   * groups digits with a comma in both. */
  ranges = label_text (fixture, "bad_ranges_label");
  g_assert_cmpstr (ranges, ==, "bytes 1,048,576–2,097,151 (piece 1)");
  g_assert_true (gtk_widget_get_visible (child (fixture, "segment_map")));
  /* The Metalink names a mirror, but without a queue there is nowhere to
   * repair into yet; the page says so instead of failing on a click. */
  g_assert_true (gtk_widget_get_visible (child (fixture, "repair_button")));
  g_assert_false (gtk_widget_get_sensitive (child (fixture, "repair_button")));
  g_assert_true (gtk_widget_get_visible (child (fixture, "repair_label")));

  /* Layout follows the last change after a frame or two. */
  test_run_for (200);
  ui_test_save_screenshot (fixture->window, "verify-damaged.png");
}

static void
test_wrong_and_malformed_hash (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GFile) file = g_file_new_for_path (fixture->path);
  g_autofree char *zeros = g_strnfill (64, '0');
  g_autofree char *wrong = g_strconcat ("sha256:", zeros, NULL);

  atlas_verify_page_set_file (fixture->page, file);
  atlas_verify_page_set_reference_text (fixture->page, wrong);
  verify (fixture);
  g_assert_cmpstr (label_text (fixture, "verdict_title"), ==, "The file is damaged");
  g_assert_nonnull (strstr (label_text (fixture, "verdict_details"), "SHA-256 does not match"));
  g_assert_nonnull (strstr (label_text (fixture, "verdict_details"), zeros));

  /* A typo is explained where it was typed, and nothing can be started. */
  atlas_verify_page_set_reference_text (fixture->page, "sha256:12xz");
  g_assert_true (reference_error_shown (fixture));
  g_assert_nonnull (strstr (label_text (fixture, "reference_error_label"), "12xz"));
  g_assert_true (gtk_widget_has_css_class (child (fixture, "hash_row"), "error"));
  g_assert_false (verify_ready (fixture));
  g_assert_false (gtk_widget_get_visible (child (fixture, "verdict_box")));

  /* Typing into the entry row works like the setter. */
  gtk_editable_set_text (GTK_EDITABLE (child (fixture, "hash_row")), "nothex");
  g_assert_true (reference_error_shown (fixture));
  g_assert_false (verify_ready (fixture));
  gtk_editable_set_text (GTK_EDITABLE (child (fixture, "hash_row")), zeros);
  g_assert_false (reference_error_shown (fixture));
  g_assert_false (gtk_widget_has_css_class (child (fixture, "hash_row"), "error"));
  g_assert_true (verify_ready (fixture));
}

static void
test_sums_file (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GFile) file = g_file_new_for_path (fixture->path);
  g_autofree char *hex = atlas_checksum_to_hex (&fixture->sum);
  g_autofree char *sums_text = g_strdup_printf ("%s  other.iso\n%s  image.iso\n",
                                                "0123456789abcdef0123456789abcdef"
                                                "0123456789abcdef0123456789abcdef",
                                                hex);
  g_autofree char *sums_path = g_build_filename (fixture->dir, "SHA256SUMS", NULL);
  g_autoptr (GFile) sums = g_file_new_for_path (sums_path);
  g_autoptr (GError) error = NULL;
  g_autoptr (GFile) renamed = NULL;

  g_file_set_contents (sums_path, sums_text, -1, &error);
  g_assert_no_error (error);

  atlas_verify_page_set_file (fixture->page, file);
  atlas_verify_page_set_reference_file (fixture->page, sums);
  verify (fixture);
  g_assert_cmpstr (label_text (fixture, "verdict_title"), ==, "The file is intact");
  g_assert_nonnull (strstr (label_text (fixture, "verdict_details"), hex));

  /* A file the SUMS file does not list cannot be checked against it. */
  test_make_file (fixture->dir, "unlisted.iso", 1000, 9);
  renamed = g_file_new_build_filename (fixture->dir, "unlisted.iso", NULL);
  atlas_verify_page_set_file (fixture->page, renamed);
  g_assert_true (reference_error_shown (fixture));
  g_assert_nonnull (strstr (label_text (fixture, "reference_error_label"), "unlisted.iso"));
  g_assert_false (verify_ready (fixture));
}

static void
test_missing_file (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = g_build_filename (fixture->dir, "gone.iso", NULL);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autofree char *text = atlas_checksum_to_string (&fixture->sum);

  atlas_verify_page_set_file (fixture->page, file);
  atlas_verify_page_set_reference_text (fixture->page, text);
  verify (fixture);
  g_assert_true (
      g_str_has_prefix (label_text (fixture, "verdict_title"), "Could not check the file: "));
  g_assert_false (gtk_widget_get_visible (child (fixture, "repair_button")));
}

static void
test_cancel (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GFile) file = g_file_new_for_path (fixture->path);
  g_autofree char *text = atlas_checksum_to_string (&fixture->sum);

  atlas_verify_page_set_file (fixture->page, file);
  atlas_verify_page_set_reference_text (fixture->page, text);
  press (fixture, "verify_button");

  /* While the check runs, its progress and a way to stop it are shown, and
   * it cannot be started twice. */
  g_assert_true (gtk_widget_get_visible (child (fixture, "progress_box")));
  g_assert_false (verify_ready (fixture));
  press (fixture, "cancel_button");

  /* Stopped means stopped: no verdict turns up later, and it can be run again. */
  g_assert_false (gtk_widget_get_visible (child (fixture, "progress_box")));
  test_run_for (300);
  g_assert_false (gtk_widget_get_visible (child (fixture, "verdict_box")));
  g_assert_true (verify_ready (fixture));
  verify (fixture);
  g_assert_cmpstr (label_text (fixture, "verdict_title"), ==, "The file is intact");
}

static gboolean
repair_finished (Fixture *fixture)
{
  const char *text = label_text (fixture, "repair_label");

  return g_str_has_prefix (text, "Repaired") || strstr (text, "failed") != NULL
         || g_str_has_prefix (text, "Could not");
}

static void
test_repair (Fixture *fixture, gconstpointer data)
{
  g_autoptr (TestMirror) mirror = test_mirror_start ();
  g_autofree char *url = test_mirror_url (mirror, "-", "image.iso");
  g_autofree char *metalink_path = write_metalink (fixture, url);
  g_autoptr (GFile) metalink = g_file_new_for_path (metalink_path);
  g_autoptr (GFile) file = g_file_new_for_path (fixture->path);
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (GError) error = NULL;
  AtlasSession *session;
  AtlasDownload *download;
  AtlasChecksum served;

  served = test_make_file (mirror->root, "image.iso", FILE_SIZE, 7);
  g_assert_true (atlas_checksum_equal (&served, &fixture->sum));
  corrupt (fixture->path, 3 * PIECE + 5, "XYZ");
  g_assert_false (test_file_matches (fixture->path, &fixture->sum));

  atlas_settings_set_download_directory (settings, fixture->dir);
  session = test_open_session (NULL, settings, &error);
  g_assert_no_error (error);
  atlas_session_start (session);
  atlas_verify_page_set_session (fixture->page, session);

  atlas_verify_page_set_file (fixture->page, file);
  atlas_verify_page_set_reference_file (fixture->page, metalink);
  verify (fixture);
  g_assert_cmpstr (label_text (fixture, "verdict_title"), ==, "The file is damaged");
  g_assert_cmpstr (label_text (fixture, "bad_ranges_label"), ==,
                   "bytes 3,145,728–4,194,303 (piece 3)");

  press (fixture, "repair_button");
  wait_for (fixture, repair_finished, 60, "the repair to end");
  g_assert_true (g_str_has_prefix (label_text (fixture, "repair_label"), "Repaired"));

  /* The repair went through the app's queue and left the right bytes. */
  download = atlas_session_lookup_by_path (session, fixture->path);
  g_assert_nonnull (download);
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (fixture->path, &fixture->sum));
  g_assert_cmpstr (label_text (fixture, "verdict_title"), ==, "The file is intact");
  g_assert_false (gtk_widget_get_visible (child (fixture, "repair_button")));

  /* Checking again agrees. */
  press (fixture, "verify_button");
  wait_for (fixture, verdict_shown, 30, "the second verdict");
  g_assert_cmpstr (label_text (fixture, "verdict_title"), ==, "The file is intact");

  atlas_verify_page_set_session (fixture->page, NULL);
  test_close_session (session);
}

int
main (int argc, char **argv)
{
  ui_test_init (&argc, &argv);

#define ADD(name, func)                                                                            \
  g_test_add ("/verify-page/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("intact-hash", test_intact_hash);
  ADD ("damaged-metalink", test_damaged_metalink);
  ADD ("wrong-and-malformed-hash", test_wrong_and_malformed_hash);
  ADD ("sums-file", test_sums_file);
  ADD ("missing-file", test_missing_file);
  ADD ("cancel", test_cancel);
  ADD ("repair", test_repair);
#undef ADD

  return g_test_run ();
}
