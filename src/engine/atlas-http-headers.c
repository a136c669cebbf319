/* atlas-http-headers.c — the response headers the engine reads itself:
 * RFC 6249 (Metalink/HTTP) Link, RFC 3230 Digest, Content-Range and Retry-After.
 *
 * All come from whatever server answered. A Link or Digest that does not parse
 * is ignored piece by piece rather than failing the download: a mirror list or
 * a digest is a bonus, never a requirement. A Content-Range decides where the
 * body's bytes are written, so it is parsed strictly and a doubtful one rejects
 * the response.
 */
#include "atlas-http-headers.h"

#include <string.h>

/* RFC 5854 bounds priorities the same way; a bigger "pri" is treated as absent. */
#define MAX_PRIORITY 999999

void
atlas_link_duplicate_free (AtlasLinkDuplicate *link)
{
  if (link == NULL)
    return;
  g_free (link->url);
  g_free (link->location);
  g_free (link);
}

gboolean
atlas_http_url_is_fetchable (const char *url)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;

  if (url == NULL)
    return FALSE;
  if (g_ascii_strncasecmp (url, "http://", 7) != 0 && g_ascii_strncasecmp (url, "https://", 8) != 0
      && g_ascii_strncasecmp (url, "ftp://", 6) != 0)
    return FALSE;

  /* Control characters and spaces would end up in request lines and logs. */
  for (const char *p = url; *p != '\0'; p++)
    if ((guchar) *p <= 0x20 || *p == 0x7f)
      return FALSE;

  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  return scheme != NULL && g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0';
}

static const char *
skip_spaces (const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static gboolean
is_token_end (char c)
{
  return c == '\0' || c == ';' || c == ',' || c == '=' || c == ' ' || c == '\t';
}

/* A quoted-string (RFC 9110) starting at the opening quote, unescaped. */
static char *
read_quoted (const char **cursor)
{
  GString *out = g_string_new (NULL);
  const char *p = *cursor + 1;

  while (*p != '\0' && *p != '"')
    {
      if (*p == '\\' && p[1] != '\0')
        p++;
      g_string_append_c (out, *p);
      p++;
    }
  if (*p == '"')
    p++;
  *cursor = p;
  return g_string_free (out, FALSE);
}

static char *
read_token (const char **cursor)
{
  const char *start = *cursor;
  const char *p = start;

  while (!is_token_end (*p))
    p++;
  *cursor = p;
  return g_strndup (start, p - start);
}

static gboolean
rel_has_duplicate (const char *rel)
{
  g_auto (GStrv) types = g_strsplit_set (rel, " \t", -1);

  for (guint i = 0; types[i] != NULL; i++)
    if (g_ascii_strcasecmp (types[i], "duplicate") == 0)
      return TRUE;
  return FALSE;
}

static guint
parse_priority (const char *text)
{
  guint64 value = 0;

  if (!g_ascii_string_to_unsigned (text, 10, 1, MAX_PRIORITY, &value, NULL))
    return 0;
  return (guint) value;
}

/* ISO 3166-1 alpha-2, lower-cased; anything else is dropped. */
static char *
parse_location (const char *text)
{
  if (strlen (text) != 2 || !g_ascii_isalpha (text[0]) || !g_ascii_isalpha (text[1]))
    return NULL;
  return g_ascii_strdown (text, 2);
}

typedef struct
{
  char *url;
  char *rel;
  char *pri;
  char *geo;
} LinkValue;

static void
link_value_clear (LinkValue *link)
{
  g_clear_pointer (&link->url, g_free);
  g_clear_pointer (&link->rel, g_free);
  g_clear_pointer (&link->pri, g_free);
  g_clear_pointer (&link->geo, g_free);
}

/* Only the first occurrence of a parameter counts (RFC 8288, section 3.3). */
static void
store_param (LinkValue *link, const char *name, char *value)
{
  char **slot = NULL;

  if (g_ascii_strcasecmp (name, "rel") == 0)
    slot = &link->rel;
  else if (g_ascii_strcasecmp (name, "pri") == 0)
    slot = &link->pri;
  else if (g_ascii_strcasecmp (name, "geo") == 0)
    slot = &link->geo;

  if (slot != NULL && *slot == NULL)
    *slot = value;
  else
    g_free (value);
}

/* Reads "; name=value" parameters up to the ',' that ends the link. */
static const char *
read_params (const char *p, LinkValue *link)
{
  while (*p != '\0' && *p != ',')
    {
      g_autofree char *name = NULL;
      char *value = NULL;

      p = skip_spaces (p);
      if (*p != ';')
        {
          /* Junk between parameters: skip it, honouring quotes so a quoted ','
           * does not end the link early. */
          if (*p == '"')
            g_free (read_quoted (&p));
          else if (*p != ',' && *p != '\0')
            p++;
          continue;
        }
      p = skip_spaces (p + 1);
      name = read_token (&p);
      p = skip_spaces (p);
      if (*p == '=')
        {
          p = skip_spaces (p + 1);
          value = *p == '"' ? read_quoted (&p) : read_token (&p);
        }
      else
        {
          value = g_strdup ("");
        }
      store_param (link, name, value);
    }
  return p;
}

static void
add_duplicate (const LinkValue *link, GPtrArray *out)
{
  AtlasLinkDuplicate *duplicate;

  if (link->url == NULL || link->rel == NULL || !rel_has_duplicate (link->rel))
    return;
  if (!atlas_http_url_is_fetchable (link->url))
    return;

  duplicate = g_new0 (AtlasLinkDuplicate, 1);
  duplicate->url = g_strdup (link->url);
  duplicate->priority = link->pri != NULL ? parse_priority (link->pri) : 0;
  duplicate->location = link->geo != NULL ? parse_location (link->geo) : NULL;
  g_ptr_array_add (out, duplicate);
}

void
atlas_http_parse_link_duplicates (const char *value, GPtrArray *out)
{
  const char *p = value;

  g_return_if_fail (out != NULL);

  if (value == NULL)
    return;

  while (*p != '\0')
    {
      LinkValue link = {
        NULL,
      };
      const char *close;

      p = skip_spaces (p);
      if (*p == ',')
        {
          p++;
          continue;
        }
      if (*p != '<')
        {
          /* Not a link-value: resynchronise at the next comma. */
          p = read_params (p + (*p != '\0'), &link);
          link_value_clear (&link);
          continue;
        }
      close = strchr (p, '>');
      if (close == NULL)
        return;
      link.url = g_strndup (p + 1, close - p - 1);
      p = read_params (close + 1, &link);
      add_duplicate (&link, out);
      link_value_clear (&link);
    }
}

/* RFC 3230 names SHA-1 "SHA"; RFC 9530 spells the others in lower case. */
static AtlasHashType
digest_algorithm_from_name (const char *name)
{
  if (g_ascii_strcasecmp (name, "sha") == 0)
    return ATLAS_HASH_SHA1;
  return atlas_hash_type_from_name (name);
}

/* Strict base64: GLib's decoder skips junk, which would let a mangled header
 * decode to the right length by accident. */
static gboolean
decode_base64_digest (const char *text, gsize text_length, guint8 *digest, gsize digest_length)
{
  g_autofree char *copy = NULL;
  g_autofree guchar *decoded = NULL;
  gsize padding = 0;
  gsize decoded_length = 0;

  if (text_length == 0 || text_length % 4 != 0)
    return FALSE;
  for (gsize i = 0; i < text_length; i++)
    {
      char c = text[i];

      if (c == '=')
        {
          padding++;
          continue;
        }
      if (padding > 0 || !(g_ascii_isalnum (c) || c == '+' || c == '/'))
        return FALSE;
    }
  if (padding > 2)
    return FALSE;

  copy = g_strndup (text, text_length);
  decoded = g_base64_decode (copy, &decoded_length);
  if (decoded_length != digest_length)
    return FALSE;
  memcpy (digest, decoded, digest_length);
  return TRUE;
}

static gboolean
parse_digest_instance (const char *instance, AtlasChecksum *checksum)
{
  const char *equals = strchr (instance, '=');
  g_autofree char *name = NULL;
  const char *value;
  gsize value_length;
  AtlasHashType type;

  if (equals == NULL)
    return FALSE;
  name = g_strstrip (g_strndup (instance, equals - instance));
  type = digest_algorithm_from_name (name);
  if (type == ATLAS_HASH_NONE)
    return FALSE;

  value = skip_spaces (equals + 1);
  value_length = strlen (value);
  while (value_length > 0 && (value[value_length - 1] == ' ' || value[value_length - 1] == '\t'))
    value_length--;
  /* RFC 9530 structured fields wrap the base64 in colons. */
  if (value_length >= 2 && value[0] == ':' && value[value_length - 1] == ':')
    {
      value++;
      value_length -= 2;
    }

  memset (checksum, 0, sizeof *checksum);
  checksum->type = type;
  return decode_base64_digest (value, value_length, checksum->digest,
                               atlas_hash_type_digest_length (type));
}

gboolean
atlas_http_parse_digest (const char *value, AtlasChecksum *checksum)
{
  g_auto (GStrv) instances = NULL;
  AtlasChecksum best = {
    ATLAS_HASH_NONE,
  };

  g_return_val_if_fail (checksum != NULL, FALSE);

  if (value == NULL)
    return FALSE;

  instances = g_strsplit (value, ",", -1);
  for (guint i = 0; instances[i] != NULL; i++)
    {
      AtlasChecksum candidate;

      if (!parse_digest_instance (instances[i], &candidate))
        continue;
      if (atlas_hash_type_strength (candidate.type) > atlas_hash_type_strength (best.type))
        best = candidate;
    }

  if (best.type == ATLAS_HASH_NONE)
    return FALSE;
  *checksum = best;
  return TRUE;
}

/* Reads decimal digits only (no sign, no spaces), at most 2^62: room to add
 * one without overflow, and far beyond any file. */
static gboolean
read_position (const char **cursor, guint64 *out)
{
  const char *p = *cursor;
  guint64 value = 0;

  if (!g_ascii_isdigit (*p))
    return FALSE;
  for (; g_ascii_isdigit (*p); p++)
    {
      value = value * 10 + (guint64) (*p - '0');
      if (value > (G_GUINT64_CONSTANT (1) << 62))
        return FALSE;
    }
  *cursor = p;
  *out = value;
  return TRUE;
}

gboolean
atlas_http_parse_content_range (const char *value, AtlasContentRange *range)
{
  AtlasContentRange parsed;
  const char *p = value;

  g_return_val_if_fail (range != NULL, FALSE);

  if (p == NULL || g_ascii_strncasecmp (p, "bytes", 5) != 0)
    return FALSE;
  p += 5;
  if (*p != ' ' && *p != '\t')
    return FALSE;
  p = skip_spaces (p);
  if (!read_position (&p, &parsed.first) || *p++ != '-' || !read_position (&p, &parsed.last)
      || *p++ != '/' || !read_position (&p, &parsed.total))
    return FALSE;
  if (*skip_spaces (p) != '\0')
    return FALSE;
  if (parsed.first > parsed.last || parsed.last >= parsed.total)
    return FALSE;
  *range = parsed;
  return TRUE;
}

guint
atlas_http_parse_retry_after (const char *value, guint limit)
{
  const char *p = value == NULL ? "" : skip_spaces (value);
  guint64 seconds;

  if (!read_position (&p, &seconds) || *skip_spaces (p) != '\0')
    return 0;
  return (guint) MIN (seconds, (guint64) limit);
}
