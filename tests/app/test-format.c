/* test-format.c — numbers and folders as the app shows them, and the units
 * the settings store sizes in. No widgets, so no display (a GtkAdjustment,
 * what a spin button holds, needs none); the settings come from the schema
 * in the build tree with the memory backend. */
#include <gtk/gtk.h>
#include <string.h>

#include "atlas-format.h"

/* GLib puts a no-break space between number and unit (older versions a
 * plain one); either keeps "1.5" and "GB" on one line. */
static void
assert_size_text (const char *text, const char *number, const char *unit)
{
  g_autofree char *plain = g_strconcat (number, " ", unit, NULL);
  g_autofree char *no_break = g_strconcat (number, "\u00a0", unit, NULL);

  if (g_strcmp0 (text, no_break) != 0)
    g_assert_cmpstr (text, ==, plain);
}

static void
test_size_and_speed (void)
{
  g_autofree char *size = atlas_format_size (1500000000);
  g_autofree char *speed = atlas_format_speed (3200000);
  g_autofree char *no_speed = atlas_format_speed (0);
  g_autofree char *progress = atlas_format_progress (1200000000, 4000000000);
  g_autofree char *progress_unknown = atlas_format_progress (1200000000, -1);

  /* SI units, as GNOME shows sizes: 1.5 GB is 1.5 * 10^9 bytes. */
  assert_size_text (size, "1.5", "GB");
  assert_size_text (speed, "3.2", "MB/s");
  /* A stalled download shows no speed rather than "0 bytes/s". */
  g_assert_cmpstr (no_speed, ==, "");
  /* "1.2 GB of 4.0 GB", both sizes in the same format. */
  {
    g_autofree char *done = atlas_format_size (1200000000);
    g_autofree char *total = atlas_format_size (4000000000);
    g_autofree char *want = g_strdup_printf ("%s of %s", done, total);

    assert_size_text (total, "4.0", "GB");
    g_assert_cmpstr (progress, ==, want);
  }
  assert_size_text (progress_unknown, "1.2", "GB");
}

static void
test_eta (void)
{
  const struct
  {
    gint64 seconds;
    const char *text;
  } cases[] = {
    { -1, "" },
    { 1, "1 second" },
    { 59, "59 seconds" },
    { 60, "1 minute" },
    /* Minutes are rounded: 1 min 40 s left reads as 2 minutes. */
    { 100, "2 minutes" },
    { 3599, "60 minutes" },
    { 3600, "1 h 0 min" },
    { 4800, "1 h 20 min" },
    { 48 * 3600 - 1, "47 h 59 min" },
    { 48 * 3600, "2 days" },
    { 86400 * 10 + 5, "10 days" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = atlas_format_eta (cases[i].seconds);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_grouped (void)
{
  const struct
  {
    guint64 value;
    const char *text;
  } cases[] = {
    { 0, "0" },
    { 999, "999" },
    { 1000, "1,000" },
    { 1048576, "1,048,576" },
    { G_MAXUINT64, "18,446,744,073,709,551,615" },
  };

  /* The C locale names no separator; a comma is used then. */
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = atlas_format_grouped (cases[i].value);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_folder (void)
{
  const char *home = g_get_home_dir ();
  g_autofree char *downloads = g_build_filename (home, "Downloads", NULL);
  g_autofree char *sibling = g_strconcat (home, "-other", NULL);
  g_autofree char *shown_home = atlas_format_folder (home);
  g_autofree char *shown_downloads = atlas_format_folder (downloads);
  g_autofree char *shown_sibling = atlas_format_folder (sibling);
  g_autofree char *shown_elsewhere = atlas_format_folder ("/srv/files");

  /* The test runs with a home folder of its own (G_TEST_OPTION_ISOLATE_DIRS). */
  g_assert_cmpuint (strlen (home), >, 1);
  g_assert_cmpstr (shown_home, ==, "~");
  g_assert_cmpstr (shown_downloads, ==, "~/Downloads");
  /* "/home/ann-other" is not inside "/home/ann". */
  g_assert_cmpstr (shown_sibling, ==, sibling);
  g_assert_cmpstr (shown_elsewhere, ==, "/srv/files");
}

static void
test_default_download_folder (void)
{
  const char *xdg = g_get_user_special_dir (G_USER_DIRECTORY_DOWNLOAD);
  /* A system without XDG user folders downloads into home. */
  const char *expected_default = xdg != NULL ? xdg : g_get_home_dir ();
  g_autoptr (GSettings) settings = g_settings_new ("org.downloadatlas.DownloadAtlas");
  g_autofree char *from_empty = atlas_download_folder_for ("");
  g_autofree char *from_null = atlas_download_folder_for (NULL);
  g_autofree char *from_empty_key = NULL;
  g_autofree char *from_no_settings = NULL;
  g_autofree char *configured = NULL;

  g_assert_cmpstr (from_empty, ==, expected_default);
  g_assert_cmpstr (from_null, ==, expected_default);

  /* The key is empty until the user picks a folder. */
  g_settings_set_string (settings, "download-directory", "");
  from_empty_key = atlas_default_download_folder (settings);
  g_assert_cmpstr (from_empty_key, ==, expected_default);
  from_no_settings = atlas_default_download_folder (NULL);
  g_assert_cmpstr (from_no_settings, ==, expected_default);

  g_settings_set_string (settings, "download-directory", "/srv/files");
  configured = atlas_default_download_folder (settings);
  g_assert_cmpstr (configured, ==, "/srv/files");
  g_settings_reset (settings, "download-directory");
}

static void
test_units (void)
{
  g_autoptr (GSettings) settings = g_settings_new ("org.downloadatlas.DownloadAtlas");
  GtkAdjustment *spin = g_object_ref_sink (gtk_adjustment_new (0, 0, 1e6, 0.1, 1, 0));

  g_assert_cmpfloat_with_epsilon (atlas_format_bytes_to_units (1500000, ATLAS_BYTES_PER_MEGABYTE),
                                  1.5, 1e-9);
  g_assert_cmpfloat_with_epsilon (atlas_format_bytes_to_units (0, ATLAS_BYTES_PER_GIGABYTE), 0.0,
                                  1e-9);
  g_assert_cmpuint (atlas_format_units_to_bytes (2.5, ATLAS_BYTES_PER_GIGABYTE), ==, 2500000000);
  /* A spin button's 0.1 MB/s is 100,000 bytes per second, not 99,999. */
  g_assert_cmpuint (atlas_format_units_to_bytes (0.1, ATLAS_BYTES_PER_MEGABYTE), ==, 100000);
  g_assert_cmpuint (atlas_format_units_to_bytes (-3, ATLAS_BYTES_PER_MEGABYTE), ==, 0);

  /* Bound both ways: the key in bytes, the spin button in GB. */
  g_settings_set_uint64 (settings, "donate-storage-cap", 2000000000);
  atlas_format_bind_bytes_as_units (settings, "donate-storage-cap", spin, "value",
                                    ATLAS_BYTES_PER_GIGABYTE);
  g_assert_cmpfloat_with_epsilon (gtk_adjustment_get_value (spin), 2.0, 1e-9);
  gtk_adjustment_set_value (spin, 0.5);
  g_assert_cmpuint (g_settings_get_uint64 (settings, "donate-storage-cap"), ==, 500000000);
  g_settings_set_uint64 (settings, "donate-storage-cap", 7500000000);
  g_assert_cmpfloat_with_epsilon (gtk_adjustment_get_value (spin), 7.5, 1e-9);

  g_settings_unbind (spin, "value");
  g_object_unref (spin);
  g_settings_reset (settings, "donate-storage-cap");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/format/size-and-speed", test_size_and_speed);
  g_test_add_func ("/format/eta", test_eta);
  g_test_add_func ("/format/grouped", test_grouped);
  g_test_add_func ("/format/folder", test_folder);
  g_test_add_func ("/format/default-download-folder", test_default_download_folder);
  g_test_add_func ("/format/units", test_units);

  return g_test_run ();
}
