/* atlas-checksum.c — an expected digest and the strings users write for one. */
#include "atlas-checksum.h"

#include "atlas-error.h"
#include "atlas-filename.h"

#include <string.h>

#define ACCEPTED_FORMS                                                                             \
  "accepted forms are “sha256:HEX”, “sha-256:HEX”, “SHA256=HEX”, “md5:HEX”, "      \
  "or bare hex of 32, 40, 64 or 128 digits"

static gboolean
is_all_hex (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p))
      return FALSE;
  return TRUE;
}

static gboolean
set_parse_error (GError **error, const char *text, const char *problem)
{
  g_autofree char *shown = atlas_filename_display (text);

  g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
               "the checksum %s is not valid: %s; " ACCEPTED_FORMS, shown, problem);
  return FALSE;
}

static gboolean
decode_digest (const char *text, const char *hex, AtlasHashType type, AtlasChecksum *checksum,
               GError **error)
{
  gsize expected = atlas_hash_type_digest_length (type) * 2;
  gsize length = strlen (hex);

  if (length != expected || !is_all_hex (hex))
    {
      g_autofree char *problem = NULL;

      if (!is_all_hex (hex))
        problem = g_strdup_printf ("the %s digest contains characters that are not hex digits",
                                   atlas_hash_type_to_name (type));
      else
        problem =
            g_strdup_printf ("a %s digest has %" G_GSIZE_FORMAT " hex digits, not %" G_GSIZE_FORMAT,
                             atlas_hash_type_to_name (type), expected, length);
      return set_parse_error (error, text, problem);
    }

  memset (checksum, 0, sizeof *checksum);
  checksum->type = type;
  return atlas_hex_decode (hex, checksum->digest, expected / 2);
}

gboolean
atlas_checksum_parse (const char *text, AtlasChecksum *checksum, GError **error)
{
  g_autofree char *trimmed = NULL;
  char *separator;
  AtlasHashType type;

  g_return_val_if_fail (checksum != NULL, FALSE);

  if (text == NULL)
    text = "";
  trimmed = g_strstrip (g_strdup (text));
  if (*trimmed == '\0')
    return set_parse_error (error, text, "it is empty");

  separator = strpbrk (trimmed, ":=");
  if (separator == NULL)
    {
      gsize length = strlen (trimmed);

      if (!is_all_hex (trimmed))
        return set_parse_error (error, text, "it has no hash type and is not hex");
      type = length % 2 == 0 ? atlas_hash_type_from_digest_length (length / 2) : ATLAS_HASH_NONE;
      if (type == ATLAS_HASH_NONE)
        {
          g_autofree char *problem =
              g_strdup_printf ("%" G_GSIZE_FORMAT " hex digits do not name a hash type", length);

          return set_parse_error (error, text, problem);
        }
      return decode_digest (text, trimmed, type, checksum, error);
    }

  *separator = '\0';
  type = atlas_hash_type_from_name (g_strstrip (trimmed));
  if (type == ATLAS_HASH_NONE)
    {
      g_autofree char *shown = atlas_filename_display (trimmed);
      g_autofree char *problem = g_strdup_printf ("the hash type %s is unknown", shown);

      return set_parse_error (error, text, problem);
    }
  return decode_digest (text, g_strstrip (separator + 1), type, checksum, error);
}

char *
atlas_checksum_to_hex (const AtlasChecksum *checksum)
{
  return atlas_hex_encode (checksum->digest, atlas_hash_type_digest_length (checksum->type));
}

char *
atlas_checksum_to_string (const AtlasChecksum *checksum)
{
  g_autofree char *hex = atlas_checksum_to_hex (checksum);
  g_autofree char *name = NULL;

  /* "sha256:" rather than the IANA "sha-256:" because it is what users paste
   * from download pages, and both read back the same. */
  name = g_strdup (atlas_hash_type_to_name (checksum->type));
  if (g_str_has_prefix (name, "sha-"))
    memmove (name + 3, name + 4, strlen (name + 4) + 1);
  return g_strdup_printf ("%s:%s", name, hex);
}

gboolean
atlas_checksum_equal (const AtlasChecksum *a, const AtlasChecksum *b)
{
  if (a->type != b->type)
    return FALSE;
  return memcmp (a->digest, b->digest, atlas_hash_type_digest_length (a->type)) == 0;
}

const AtlasChecksum *
atlas_checksum_pick_strongest (GArray *checksums)
{
  const AtlasChecksum *best = NULL;

  if (checksums == NULL)
    return NULL;

  for (guint i = 0; i < checksums->len; i++)
    {
      const AtlasChecksum *candidate = &g_array_index (checksums, AtlasChecksum, i);

      if (candidate->type == ATLAS_HASH_NONE)
        continue;
      if (best == NULL
          || atlas_hash_type_strength (candidate->type) > atlas_hash_type_strength (best->type))
        best = candidate;
    }
  return best;
}
