/* atlas-sums.c — SHA256SUMS-style files as written by coreutils and BSD tools. */
#include "atlas-sums.h"

#include "atlas-error.h"
#include "atlas-filename.h"

#include <string.h>

#define EXPECTED_FORMS "expected “HEX  name”, “HEX *name” or “SHA256 (name) = HEX”"

static void
sums_entry_free (AtlasSumsEntry *entry)
{
  g_free (entry->name);
  g_free (entry);
}

static gsize
count_hex (const char *text)
{
  gsize n = 0;

  while (g_ascii_isxdigit (text[n]))
    n++;
  return n;
}

/* coreutils writes a name holding '\\' or a newline with a leading backslash on
 * the line and the characters escaped; anything else after a backslash is not
 * something it would write, so the line is rejected rather than guessed at. */
static char *
unescape_name (const char *name)
{
  GString *out = g_string_sized_new (strlen (name));

  for (const char *p = name; *p != '\0'; p++)
    {
      if (*p != '\\')
        {
          g_string_append_c (out, *p);
          continue;
        }
      p++;
      if (*p == '\\')
        g_string_append_c (out, '\\');
      else if (*p == 'n')
        g_string_append_c (out, '\n');
      else if (*p == 'r')
        g_string_append_c (out, '\r');
      else
        {
          g_string_free (out, TRUE);
          return NULL;
        }
    }
  return g_string_free (out, FALSE);
}

static AtlasSumsEntry *
make_entry (const char *name, gboolean escaped, AtlasHashType type, const char *hex)
{
  g_autofree char *unescaped = NULL;
  AtlasSumsEntry *entry;

  if (escaped)
    {
      unescaped = unescape_name (name);
      if (unescaped == NULL)
        return NULL;
      name = unescaped;
    }
  if (*name == '\0')
    return NULL;

  entry = g_new0 (AtlasSumsEntry, 1);
  entry->name = g_strdup (name);
  entry->checksum.type = type;
  if (!atlas_hex_decode (hex, entry->checksum.digest, atlas_hash_type_digest_length (type)))
    {
      sums_entry_free (entry);
      return NULL;
    }
  return entry;
}

/* "SHA256 (name) = HEX". The name may itself hold ") = ", so the digest is
 * taken from the end of the line. */
static AtlasSumsEntry *
parse_bsd_line (char *line, gboolean escaped)
{
  char *open = strstr (line, " (");
  char *close = g_strrstr (line, ") = ");
  AtlasHashType type;
  char *hex;

  if (open == NULL || close == NULL || close < open + 2)
    return NULL;

  *open = '\0';
  type = atlas_hash_type_from_name (line);
  if (type == ATLAS_HASH_NONE)
    return NULL;

  hex = close + 4;
  if (strlen (hex) != atlas_hash_type_digest_length (type) * 2)
    return NULL;
  *close = '\0';
  return make_entry (open + 2, escaped, type, hex);
}

/* "HEX  name" (text mode), "HEX *name" (binary mode) or "HEX name" (BSD -r). */
static AtlasSumsEntry *
parse_gnu_line (char *line, gboolean escaped, AtlasHashType default_type)
{
  gsize hex_length = count_hex (line);
  AtlasHashType type = ATLAS_HASH_NONE;
  char *name;

  if (hex_length == 0 || line[hex_length] != ' ' || hex_length % 2 != 0)
    return NULL;

  if (default_type != ATLAS_HASH_NONE
      && hex_length == atlas_hash_type_digest_length (default_type) * 2)
    type = default_type;
  else
    type = atlas_hash_type_from_digest_length (hex_length / 2);
  if (type == ATLAS_HASH_NONE)
    return NULL;

  line[hex_length] = '\0';
  name = line + hex_length + 1;
  if (*name == ' ' || *name == '*')
    name++;
  return make_entry (name, escaped, type, line);
}

static AtlasSumsEntry *
parse_line (char *line, AtlasHashType default_type)
{
  gboolean escaped = FALSE;

  if (*line == '\\')
    {
      escaped = TRUE;
      line++;
    }
  if (g_ascii_isxdigit (*line))
    {
      AtlasSumsEntry *entry = parse_gnu_line (line, escaped, default_type);

      if (entry != NULL)
        return entry;
    }
  return parse_bsd_line (line, escaped);
}

static gboolean
is_skipped_line (const char *line)
{
  const char *p = line;

  while (*p == ' ' || *p == '\t')
    p++;
  return *p == '\0' || *p == '#';
}

GPtrArray *
atlas_sums_parse (const char *data, gsize length, AtlasHashType default_type, GError **error)
{
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) sums_entry_free);
  const char *end = data + length;
  const char *line_start = data;
  guint line_number = 0;

  if (length > ATLAS_SUMS_MAX_DOCUMENT)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
                   "the checksum file is %" G_GSIZE_FORMAT " bytes, more than the limit of %d",
                   length, ATLAS_SUMS_MAX_DOCUMENT);
      return NULL;
    }

  while (line_start < end)
    {
      const char *newline = memchr (line_start, '\n', end - line_start);
      const char *line_end = newline != NULL ? newline : end;
      g_autofree char *line = NULL;
      AtlasSumsEntry *entry;
      gsize line_length = line_end - line_start;

      line_number++;
      if (line_length > 0 && line_start[line_length - 1] == '\r')
        line_length--;
      line = g_strndup (line_start, line_length);
      line_start = line_end + 1;

      if (is_skipped_line (line))
        continue;

      entry = strlen (line) == line_length ? parse_line (line, default_type) : NULL;
      if (entry == NULL)
        {
          g_autofree char *shown = atlas_filename_display (line);

          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                       "line %u of the checksum file is not a checksum line: %s; " EXPECTED_FORMS,
                       line_number, shown);
          return NULL;
        }
      g_ptr_array_add (entries, entry);
    }

  return g_steal_pointer (&entries);
}

const AtlasSumsEntry *
atlas_sums_lookup (GPtrArray *entries, const char *name)
{
  g_autofree char *base = NULL;

  g_return_val_if_fail (entries != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  for (guint i = 0; i < entries->len; i++)
    {
      const AtlasSumsEntry *entry = g_ptr_array_index (entries, i);

      if (strcmp (entry->name, name) == 0)
        return entry;
    }

  base = g_path_get_basename (name);
  for (guint i = 0; i < entries->len; i++)
    {
      const AtlasSumsEntry *entry = g_ptr_array_index (entries, i);
      g_autofree char *entry_base = g_path_get_basename (entry->name);

      if (strcmp (entry_base, base) == 0)
        return entry;
    }
  return NULL;
}
