/* fuzz-filename.c — file name sanitising: whatever comes back stays inside
 * the download folder and is already in its final, stable form. */
#include "atlas-error.h"
#include "atlas-filename.h"

#include <stdint.h>
#include <string.h>

static void
assert_safe (const char *name)
{
  g_auto (GStrv) components = NULL;
  g_autofree char *again = NULL;

  g_assert_true (g_utf8_validate (name, -1, NULL));
  g_assert_cmpuint (strlen (name), >, 0);
  g_assert_cmpint (name[0], !=, '/');
  g_assert_null (strchr (name, '\\'));
  for (const char *p = name; *p != '\0'; p++)
    g_assert_cmpint ((guchar) *p, >=, 0x20);

  components = g_strsplit (name, "/", -1);
  for (guint i = 0; components[i] != NULL; i++)
    {
      g_assert_cmpstr (components[i], !=, "");
      g_assert_cmpstr (components[i], !=, ".");
      g_assert_cmpstr (components[i], !=, "..");
      g_assert_cmpuint (strlen (components[i]), <=, 255);
    }

  again = atlas_filename_sanitize (name, NULL);
  g_assert_cmpstr (again, ==, name);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr (GError) error = NULL;
  g_autofree char *safe = NULL;
  g_autofree char *from_url = NULL;
  g_autofree char *shown = NULL;

  safe = atlas_filename_sanitize (text, &error);
  if (safe != NULL)
    assert_safe (safe);
  else
    g_assert_true (g_utf8_validate (error->message, -1, NULL));

  from_url = atlas_filename_from_url (text);
  assert_safe (from_url);

  shown = atlas_filename_display (text);
  g_assert_true (g_utf8_validate (shown, -1, NULL));
  return 0;
}
