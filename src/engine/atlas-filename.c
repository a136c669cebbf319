/* atlas-filename.c — turning untrusted names into safe relative paths.
 *
 * Names come from Metalink documents, Content-Disposition headers and URLs, all
 * written by whoever runs the server. A name is split into components; a
 * component that would climb out of the download folder makes the whole name
 * unsafe, while characters that are merely awkward on some file system are
 * replaced so the download can still go ahead under a recognisable name.
 */
#include "atlas-filename.h"

#include "atlas-error.h"

#include <string.h>

#define MAX_COMPONENT_BYTES 255
#define MAX_PATH_BYTES 4096
/* An extension longer than this is not worth keeping when a name is shortened. */
#define MAX_KEPT_EXTENSION 16
/* How much of an untrusted name an error message quotes. */
#define MAX_QUOTED_BYTES 80

char *
atlas_filename_display (const char *name)
{
  g_autoptr (GString) out = g_string_new ("“");
  const char *p = name;
  const char *end;

  if (name == NULL)
    return g_strdup ("(none)");

  end = name + strlen (name);
  while (p < end && (gsize) (p - name) < MAX_QUOTED_BYTES)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guint8) *p);
          p++;
          continue;
        }
      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_unichar (out, c);
      p = g_utf8_next_char (p);
    }
  if (p < end)
    g_string_append (out, "…");
  g_string_append (out, "”");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
is_separator (char c)
{
  return c == '/' || c == '\\';
}

/* "/x", "\\x" and "C:\\x" all name something outside the folder on some system
 * the file may later be copied to. */
static gboolean
is_absolute (const char *name)
{
  if (is_separator (name[0]))
    return TRUE;
  return g_ascii_isalpha (name[0]) && name[1] == ':' && (is_separator (name[2]) || name[2] == '\0');
}

/* Backslashes are kept out of the result but still split components here, so
 * that "..\\..\\x" is seen for what it is on Windows. */
static gboolean
has_parent_reference (const char *name)
{
  const char *start = name;

  for (const char *p = name;; p++)
    {
      if (*p == '\0' || is_separator (*p))
        {
          if (p - start == 2 && start[0] == '.' && start[1] == '.')
            return TRUE;
          if (*p == '\0')
            return FALSE;
          start = p + 1;
        }
    }
}

static gboolean
is_odd_character (gunichar c)
{
  if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
    return TRUE;
  /* Reserved on Windows and FAT, and a nuisance in shells everywhere. */
  return c < 0x80 && strchr ("\\:*?\"<>|", (int) c) != NULL;
}

/* Copies @component with odd characters and invalid UTF-8 bytes replaced by '_'. */
static char *
clean_component (const char *component, gsize length)
{
  GString *out = g_string_sized_new (length);
  const char *p = component;
  const char *end = component + length;

  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_c (out, '_');
          p++;
          continue;
        }
      if (is_odd_character (c))
        g_string_append_c (out, '_');
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  return g_string_free (out, FALSE);
}

/* Where a valid UTF-8 string may be cut without splitting a character. */
static gsize
utf8_floor (const char *text, gsize limit)
{
  while (limit > 0 && (text[limit] & 0xc0) == 0x80)
    limit--;
  return limit;
}

/* Shortens a cleaned component to MAX_COMPONENT_BYTES, keeping a short
 * extension so the file still opens with the right application. */
static void
shorten_component (GString *component)
{
  const char *dot;
  gsize ext_len = 0;
  gsize keep;

  if (component->len <= MAX_COMPONENT_BYTES)
    return;

  dot = strrchr (component->str, '.');
  if (dot != NULL && dot != component->str)
    {
      ext_len = component->len - (dot - component->str);
      if (ext_len > MAX_KEPT_EXTENSION)
        ext_len = 0;
    }

  keep = utf8_floor (component->str, MAX_COMPONENT_BYTES - ext_len);
  if (ext_len > 0)
    {
      memmove (component->str + keep, component->str + component->len - ext_len, ext_len);
      g_string_truncate (component, keep + ext_len);
    }
  else
    {
      g_string_truncate (component, keep);
    }
}

char *
atlas_filename_sanitize (const char *name, GError **error)
{
  g_autoptr (GString) out = NULL;
  const char *start;

  if (name == NULL || *name == '\0')
    {
      g_set_error_literal (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT, "the file name is empty");
      return NULL;
    }
  if (is_absolute (name))
    {
      g_autofree char *shown = atlas_filename_display (name);

      g_set_error (
          error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
          "the file name %s is an absolute path; only names inside the download folder are allowed",
          shown);
      return NULL;
    }
  if (has_parent_reference (name))
    {
      g_autofree char *shown = atlas_filename_display (name);

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
                   "the file name %s contains “..” and could leave the download folder", shown);
      return NULL;
    }

  out = g_string_new (NULL);
  start = name;
  for (const char *p = name;; p++)
    {
      if (*p == '/' || *p == '\0')
        {
          gsize length = p - start;

          /* Empty and "." components mean nothing; dropping them keeps "a//b" and
           * "./a" inside the folder under their obvious names. */
          if (length > 0 && !(length == 1 && *start == '.'))
            {
              g_autofree char *cleaned = clean_component (start, length);
              g_autoptr (GString) component = g_string_new (cleaned);

              shorten_component (component);
              if (out->len > 0)
                g_string_append_c (out, '/');
              g_string_append_len (out, component->str, component->len);
            }
          if (*p == '\0')
            break;
          start = p + 1;
        }
    }

  if (out->len == 0)
    {
      g_autofree char *shown = atlas_filename_display (name);

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
                   "the file name %s has no usable component", shown);
      return NULL;
    }
  if (out->len > MAX_PATH_BYTES)
    {
      g_autofree char *shown = atlas_filename_display (name);

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "the file name %s is longer than %d bytes", shown, MAX_PATH_BYTES);
      return NULL;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Decodes %XX escapes; a bad escape is kept literally, as browsers do. A decoded
 * '/' or NUL would change the meaning of a single segment, so both become '_'. */
static char *
percent_decode_segment (const char *segment, gsize length)
{
  GString *out = g_string_sized_new (length);

  for (gsize i = 0; i < length; i++)
    {
      if (segment[i] == '%' && i + 2 < length && g_ascii_isxdigit (segment[i + 1])
          && g_ascii_isxdigit (segment[i + 2]))
        {
          char c = (char) (g_ascii_xdigit_value (segment[i + 1]) << 4
                           | g_ascii_xdigit_value (segment[i + 2]));

          g_string_append_c (out, (c == '/' || c == '\0') ? '_' : c);
          i += 2;
        }
      else
        {
          g_string_append_c (out, segment[i]);
        }
    }
  return g_string_free (out, FALSE);
}

/* The path of an absolute URL, or all of @url when it has no scheme; NULL
 * when an absolute URL has no path at all ("https://example.org"). */
static const char *
url_path (const char *url)
{
  const char *authority = strstr (url, "://");
  const char *authority_end;

  if (authority == NULL)
    return url;
  authority_end = authority + 3 + strcspn (authority + 3, "/?#");
  return *authority_end == '/' ? authority_end : NULL;
}

char *
atlas_filename_from_url (const char *url)
{
  const char *path;
  const char *path_end;
  const char *segment;
  g_autofree char *decoded = NULL;
  char *safe;

  path = url != NULL ? url_path (url) : NULL;
  if (path == NULL)
    return g_strdup ("download");

  path_end = path + strcspn (path, "?#");
  segment = path_end;
  while (segment > path && segment[-1] != '/')
    segment--;
  if (segment == path_end)
    return g_strdup ("download");

  decoded = percent_decode_segment (segment, path_end - segment);
  safe = atlas_filename_sanitize (decoded, NULL);
  return safe != NULL ? safe : g_strdup ("download");
}
