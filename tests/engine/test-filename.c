/* test-filename.c — untrusted names never leave the download folder. */
#include "atlas-error.h"
#include "atlas-filename.h"

#include <string.h>

static void
assert_sanitized (const char *name, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *safe = atlas_filename_sanitize (name, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (safe, ==, expected);
}

static void
assert_unsafe (const char *name, const char *mentions)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *safe = atlas_filename_sanitize (name, &error);

  g_assert_null (safe);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT);
  g_assert_nonnull (strstr (error->message, mentions));
}

static void
test_filename_plain (void)
{
  assert_sanitized ("atlas-1.0.iso", "atlas-1.0.iso");
  assert_sanitized ("docs/manual.pdf", "docs/manual.pdf");
  assert_sanitized ("café ☃.txt", "café ☃.txt");
  assert_sanitized ("...hidden", "...hidden");
}

static void
test_filename_climbing_out (void)
{
  assert_unsafe ("../../etc/passwd", "..");
  assert_unsafe ("a/../../b", "..");
  assert_unsafe ("..", "..");
  assert_unsafe ("..\\..\\windows\\system32", "..");
  assert_unsafe ("/etc/passwd", "absolute");
  assert_unsafe ("\\\\server\\share", "absolute");
  assert_unsafe ("C:\\evil.exe", "absolute");
  assert_unsafe ("", "empty");
  assert_unsafe (".", "no usable component");
  assert_unsafe ("././/", "no usable component");
}

static void
test_filename_odd_characters (void)
{
  assert_sanitized ("evil\nname", "evil_name");
  assert_sanitized ("bell\x01\x7f.txt", "bell__.txt");
  assert_sanitized ("a:b*c?d\"e<f>g|h", "a_b_c_d_e_f_g_h");
  assert_sanitized ("dir\\file", "dir_file");
  assert_sanitized ("./a//b/./c", "a/b/c");
  /* Each invalid UTF-8 byte becomes one '_'. */
  assert_sanitized ("bad\xff\xfe.bin", "bad__.bin");
  /* C1 controls (U+009B is CSI on some terminals). */
  assert_sanitized ("x\xc2\x9by", "x_y");
}

static void
test_filename_long_component (void)
{
  g_autofree char *base = g_strnfill (300, 'x');
  g_autofree char *name = g_strconcat (base, ".tar.gz", NULL);
  g_autofree char *safe = atlas_filename_sanitize (name, NULL);
  g_autofree char *snowmen = NULL;
  g_autofree char *safe_snowmen = NULL;
  GString *many = g_string_new (NULL);

  g_assert_nonnull (safe);
  g_assert_cmpuint (strlen (safe), ==, 255);
  g_assert_true (g_str_has_suffix (safe, ".gz"));

  /* Shortening never cuts a character in half. */
  for (int i = 0; i < 100; i++)
    g_string_append (many, "☃");
  snowmen = g_string_free (many, FALSE);
  safe_snowmen = atlas_filename_sanitize (snowmen, NULL);
  g_assert_true (g_utf8_validate (safe_snowmen, -1, NULL));
  g_assert_cmpuint (strlen (safe_snowmen), ==, 255);
}

static void
assert_from_url (const char *url, const char *expected)
{
  g_autofree char *name = atlas_filename_from_url (url);

  g_assert_cmpstr (name, ==, expected);
}

static void
test_filename_from_url (void)
{
  assert_from_url ("https://example.org/pub/atlas-1.0.iso", "atlas-1.0.iso");
  assert_from_url ("https://example.org/pub/my%20file.iso?token=abc#part", "my file.iso");
  assert_from_url ("https://example.org/", "download");
  assert_from_url ("https://example.org", "download");
  assert_from_url ("https://example.org/dir/?q=1", "download");
  assert_from_url ("https://example.org/%2e%2e", "download");
  assert_from_url ("https://example.org/a%2Fb", "a_b");
  assert_from_url ("https://example.org/..%5C..%5Cevil", "download");
  assert_from_url ("https://example.org/x%0Ay", "x_y");
  assert_from_url ("https://example.org/100%", "100%");
  assert_from_url ("https://example.org?next=/other.iso", "download");
  assert_from_url ("atlas-1.0.iso", "atlas-1.0.iso");
}

static void
test_filename_display (void)
{
  g_autofree char *shown = atlas_filename_display ("a\nb\xff");

  g_assert_cmpstr (shown, ==, "“a\\x0ab\\xff”");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/filename/plain", test_filename_plain);
  g_test_add_func ("/filename/climbing-out", test_filename_climbing_out);
  g_test_add_func ("/filename/odd-characters", test_filename_odd_characters);
  g_test_add_func ("/filename/long-component", test_filename_long_component);
  g_test_add_func ("/filename/from-url", test_filename_from_url);
  g_test_add_func ("/filename/display", test_filename_display);

  return g_test_run ();
}
