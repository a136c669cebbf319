/* atlas-metalink.c — Metalink 4 (RFC 5854) documents.
 *
 * GMarkup rather than libxml2: it knows no DTDs, so it cannot be talked into
 * expanding entities or fetching external ones, and what it does not know it
 * hands to the passthrough callback, where a DOCTYPE is refused outright.
 * Everything else a hostile document could use to exhaust memory or write
 * outside the download folder is bounded or checked here, and any violation
 * fails the whole document rather than yielding a partial result.
 */
#include "atlas-metalink.h"

#include "atlas-error.h"
#include "atlas-filename.h"
#include "atlas-http-headers.h"

#include <string.h>

#define METALINK4_NS "urn:ietf:params:xml:ns:metalink"
#define METALINK3_NS "http://www.metalinker.org/"
/* Real documents nest four levels deep; the cap keeps GMarkup's stack small. */
#define MAX_DEPTH 32
#define MAX_PRIORITY 999999

typedef enum
{
  ELEMENT_IGNORED,
  ELEMENT_METALINK,
  ELEMENT_FILE,
  ELEMENT_SIZE,
  ELEMENT_HASH,
  ELEMENT_PIECES,
  ELEMENT_PIECE_HASH,
  ELEMENT_URL,
  ELEMENT_DESCRIPTION,
  ELEMENT_VERSION,
  ELEMENT_IDENTITY,
} ElementKind;

typedef struct
{
  char *prefix;
  char *uri;
  guint depth;
} NamespaceBinding;

typedef struct
{
  AtlasMetalink *metalink;
  GArray *kinds;    /* ElementKind, one per open element */
  GArray *bindings; /* NamespaceBinding, innermost last */
  GString *text;
  GHashTable *names; /* sanitised names of the files so far */
  gboolean seen_root;

  AtlasMetalinkFile *file; /* the <file> being read, or NULL */
  char *file_shown;        /* its name as the document wrote it, quoted */
  gboolean file_has_size;
  guint n_url_elements;

  AtlasHashType hash_type; /* of the open <hash> */
  guint url_priority;      /* of the open <url> */
  char *url_location;

  AtlasHashType pieces_type; /* of the open <pieces>; NONE when skipped */
  guint64 pieces_length;
  GByteArray *pieces_digests;
  guint pieces_count;
} ParseState;

static void
metalink_url_free (AtlasMetalinkUrl *url)
{
  g_free (url->url);
  g_free (url->location);
  g_free (url);
}

AtlasMetalinkFile *
atlas_metalink_file_new (void)
{
  AtlasMetalinkFile *file = g_new0 (AtlasMetalinkFile, 1);

  file->size = -1;
  file->hashes = g_array_new (FALSE, TRUE, sizeof (AtlasChecksum));
  file->piece_type = ATLAS_HASH_NONE;
  file->urls = g_ptr_array_new_with_free_func ((GDestroyNotify) metalink_url_free);
  return file;
}

void
atlas_metalink_file_free (AtlasMetalinkFile *file)
{
  if (file == NULL)
    return;
  g_free (file->name);
  g_clear_pointer (&file->hashes, g_array_unref);
  g_clear_pointer (&file->piece_digests, g_bytes_unref);
  g_clear_pointer (&file->urls, g_ptr_array_unref);
  g_free (file->description);
  g_free (file->version);
  g_free (file->identity);
  g_free (file);
}

AtlasMetalink *
atlas_metalink_new (void)
{
  AtlasMetalink *metalink = g_new0 (AtlasMetalink, 1);

  metalink->files = g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_metalink_file_free);
  return metalink;
}

void
atlas_metalink_free (AtlasMetalink *metalink)
{
  if (metalink == NULL)
    return;
  g_clear_pointer (&metalink->files, g_ptr_array_unref);
  g_free (metalink);
}

const AtlasMetalinkFile *
atlas_metalink_find_file (const AtlasMetalink *metalink, const char *name)
{
  g_autofree char *base = NULL;

  g_return_val_if_fail (metalink != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  base = g_path_get_basename (name);
  /* An exact match wins over a basename match anywhere in the list, so a
   * document that lists "a/x.iso" and "x.iso" picks the latter for "x.iso". */
  for (guint i = 0; i < metalink->files->len; i++)
    {
      const AtlasMetalinkFile *file = g_ptr_array_index (metalink->files, i);

      if (g_str_equal (file->name, base) || g_str_equal (file->name, name))
        return file;
    }
  for (guint i = 0; i < metalink->files->len; i++)
    {
      const AtlasMetalinkFile *file = g_ptr_array_index (metalink->files, i);
      g_autofree char *file_base = g_path_get_basename (file->name);

      if (g_str_equal (file_base, base))
        return file;
    }
  /* A file renamed on disk still belongs to a single-file Metalink. */
  return metalink->files->len == 1 ? g_ptr_array_index (metalink->files, 0) : NULL;
}

static void
namespace_binding_clear (NamespaceBinding *binding)
{
  g_free (binding->prefix);
  g_free (binding->uri);
}

static ParseState *
parse_state_new (void)
{
  ParseState *state = g_new0 (ParseState, 1);

  state->metalink = atlas_metalink_new ();
  state->kinds = g_array_new (FALSE, FALSE, sizeof (ElementKind));
  state->bindings = g_array_new (FALSE, FALSE, sizeof (NamespaceBinding));
  g_array_set_clear_func (state->bindings, (GDestroyNotify) namespace_binding_clear);
  state->text = g_string_new (NULL);
  state->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return state;
}

static void
parse_state_free (ParseState *state)
{
  g_clear_pointer (&state->metalink, atlas_metalink_free);
  g_array_unref (state->kinds);
  g_array_unref (state->bindings);
  g_string_free (state->text, TRUE);
  g_hash_table_unref (state->names);
  g_clear_pointer (&state->file, atlas_metalink_file_free);
  g_free (state->file_shown);
  g_free (state->url_location);
  g_clear_pointer (&state->pieces_digests, g_byte_array_unref);
  g_free (state);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ParseState, parse_state_free)

static const char *
find_attribute (const char **names, const char **values, const char *wanted)
{
  for (guint i = 0; names[i] != NULL; i++)
    if (strcmp (names[i], wanted) == 0)
      return values[i];
  return NULL;
}

/* GMarkup knows nothing of namespaces, so xmlns attributes are tracked here;
 * a document may well bind the Metalink namespace to a prefix. */
static void
push_namespace_bindings (ParseState *state, const char **names, const char **values)
{
  guint depth = state->kinds->len;

  for (guint i = 0; names[i] != NULL; i++)
    {
      NamespaceBinding binding;

      if (strcmp (names[i], "xmlns") == 0)
        binding.prefix = g_strdup ("");
      else if (g_str_has_prefix (names[i], "xmlns:"))
        binding.prefix = g_strdup (names[i] + 6);
      else
        continue;
      binding.uri = g_strdup (values[i]);
      binding.depth = depth;
      g_array_append_val (state->bindings, binding);
    }
}

static void
pop_namespace_bindings (ParseState *state)
{
  guint depth = state->kinds->len;

  while (state->bindings->len > 0
         && g_array_index (state->bindings, NamespaceBinding, state->bindings->len - 1).depth
                >= depth)
    g_array_remove_index (state->bindings, state->bindings->len - 1);
}

/* Splits "prefix:local" and returns the namespace bound to the prefix, or NULL. */
static const char *
resolve_namespace (ParseState *state, const char *element_name, const char **local_name)
{
  const char *colon = strchr (element_name, ':');
  gsize prefix_length = colon != NULL ? (gsize) (colon - element_name) : 0;

  *local_name = colon != NULL ? colon + 1 : element_name;
  for (guint i = state->bindings->len; i > 0; i--)
    {
      const NamespaceBinding *binding = &g_array_index (state->bindings, NamespaceBinding, i - 1);

      if (strlen (binding->prefix) == prefix_length
          && strncmp (binding->prefix, element_name, prefix_length) == 0)
        return binding->uri;
    }
  return NULL;
}

static ElementKind
current_kind (ParseState *state)
{
  if (state->kinds->len == 0)
    return ELEMENT_IGNORED;
  return g_array_index (state->kinds, ElementKind, state->kinds->len - 1);
}

static gboolean
check_root (ParseState *state, const char *ns, const char *local_name, GError **error)
{
  if (state->seen_root)
    {
      g_set_error_literal (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                           "the Metalink document has more than one root element");
      return FALSE;
    }
  state->seen_root = TRUE;

  if (g_strcmp0 (ns, METALINK3_NS) == 0)
    {
      g_set_error_literal (
          error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
          "Metalink 3 is not supported; only Metalink 4 (RFC 5854, namespace " METALINK4_NS ") is");
      return FALSE;
    }
  if (g_strcmp0 (ns, METALINK4_NS) != 0 || strcmp (local_name, "metalink") != 0)
    {
      g_autofree char *shown = atlas_filename_display (local_name);

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "not a Metalink 4 document: the root element is %s, expected <metalink> "
                   "in namespace " METALINK4_NS,
                   shown);
      return FALSE;
    }
  return TRUE;
}

static ElementKind
classify_element (ElementKind parent, const char *ns, const char *local_name)
{
  static const struct
  {
    ElementKind parent;
    const char *name;
    ElementKind kind;
  } known[] = {
    { ELEMENT_METALINK, "file", ELEMENT_FILE },
    { ELEMENT_FILE, "size", ELEMENT_SIZE },
    { ELEMENT_FILE, "hash", ELEMENT_HASH },
    { ELEMENT_FILE, "pieces", ELEMENT_PIECES },
    { ELEMENT_FILE, "url", ELEMENT_URL },
    { ELEMENT_FILE, "description", ELEMENT_DESCRIPTION },
    { ELEMENT_FILE, "version", ELEMENT_VERSION },
    { ELEMENT_FILE, "identity", ELEMENT_IDENTITY },
    { ELEMENT_PIECES, "hash", ELEMENT_PIECE_HASH },
  };

  /* RFC 5854 lets extensions add elements anywhere; <metaurl> and the rest of
   * what we do not use fall through to IGNORED along with their children. */
  if (g_strcmp0 (ns, METALINK4_NS) != 0)
    return ELEMENT_IGNORED;
  for (gsize i = 0; i < G_N_ELEMENTS (known); i++)
    if (known[i].parent == parent && strcmp (known[i].name, local_name) == 0)
      return known[i].kind;
  return ELEMENT_IGNORED;
}

static gboolean
start_file (ParseState *state, const char **names, const char **values, GError **error)
{
  const char *name = find_attribute (names, values, "name");
  g_autoptr (GError) local_error = NULL;
  g_autofree char *safe = NULL;
  g_autofree char *shown = NULL;

  if (state->metalink->files->len >= ATLAS_METALINK_MAX_FILES)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
                   "the Metalink document lists more than %d files", ATLAS_METALINK_MAX_FILES);
      return FALSE;
    }
  if (name == NULL)
    {
      g_set_error_literal (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                           "a <file> element has no name attribute");
      return FALSE;
    }

  shown = atlas_filename_display (name);
  safe = atlas_filename_sanitize (name, &local_error);
  if (safe == NULL)
    {
      g_set_error (error, ATLAS_ERROR, local_error->code, "file %s: %s", shown,
                   local_error->message);
      return FALSE;
    }
  if (g_hash_table_contains (state->names, safe))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "file %s appears more than once in the Metalink document", shown);
      return FALSE;
    }
  g_hash_table_add (state->names, g_strdup (safe));

  state->file = atlas_metalink_file_new ();
  state->file->name = g_steal_pointer (&safe);
  state->file_shown = g_steal_pointer (&shown);
  state->file_has_size = FALSE;
  state->n_url_elements = 0;
  return TRUE;
}

/* A decimal count of bytes: the error separates malformed (negative, not a
 * number) from absurd (beyond @limit), which is how hostile documents look. */
static gboolean
parse_byte_count (ParseState *state, const char *what, const char *text, guint64 limit,
                  guint64 *value, GError **error)
{
  gsize length = strlen (text);
  g_autofree char *shown = atlas_filename_display (text);

  if (text[0] == '-')
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT, "file %s: the %s %s is negative",
                   state->file_shown, what, shown);
      return FALSE;
    }
  if (length == 0 || strspn (text, "0123456789") != length)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "file %s: the %s %s is not a number of bytes", state->file_shown, what, shown);
      return FALSE;
    }
  /* More than 19 digits could overflow guint64; such a value is over the limit anyway. */
  if (length > 19 || (*value = g_ascii_strtoull (text, NULL, 10)) > limit)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
                   "file %s: the %s %s is larger than the limit of %" G_GUINT64_FORMAT " bytes",
                   state->file_shown, what, shown, limit);
      return FALSE;
    }
  return TRUE;
}

static gboolean
start_pieces (ParseState *state, const char **names, const char **values, GError **error)
{
  const char *type = find_attribute (names, values, "type");
  const char *length = find_attribute (names, values, "length");
  guint64 piece_length = 0;

  if (length == NULL)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "file %s: <pieces> has no length attribute", state->file_shown);
      return FALSE;
    }
  if (!parse_byte_count (state, "piece length", length, ATLAS_METALINK_MAX_SIZE, &piece_length,
                         error))
    return FALSE;
  if (piece_length == 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT, "file %s: the piece length is 0",
                   state->file_shown);
      return FALSE;
    }

  /* Pieces hashed with a type we do not know are skipped, like unknown <hash>es. */
  state->pieces_type = atlas_hash_type_from_name (type);
  state->pieces_length = piece_length;
  state->pieces_count = 0;
  g_clear_pointer (&state->pieces_digests, g_byte_array_unref);
  if (state->pieces_type != ATLAS_HASH_NONE)
    state->pieces_digests = g_byte_array_new ();
  return TRUE;
}

static void
start_url (ParseState *state, const char **names, const char **values)
{
  const char *priority = find_attribute (names, values, "priority");
  const char *location = find_attribute (names, values, "location");
  guint64 value = 0;

  /* Out-of-range priorities and odd locations are hints gone wrong, not reasons
   * to refuse the file: they are dropped. */
  state->url_priority = 0;
  if (priority != NULL && g_ascii_string_to_unsigned (priority, 10, 1, MAX_PRIORITY, &value, NULL))
    state->url_priority = (guint) value;

  g_clear_pointer (&state->url_location, g_free);
  if (location != NULL && strlen (location) == 2 && g_ascii_isalpha (location[0])
      && g_ascii_isalpha (location[1]))
    state->url_location = g_ascii_strdown (location, 2);
}

static gboolean
start_known_element (ParseState *state, ElementKind kind, const char **names, const char **values,
                     GError **error)
{
  switch (kind)
    {
    case ELEMENT_FILE:
      return start_file (state, names, values, error);

    case ELEMENT_SIZE:
      if (state->file_has_size)
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                       "file %s has more than one <size>", state->file_shown);
          return FALSE;
        }
      state->file_has_size = TRUE;
      break;

    case ELEMENT_HASH:
      state->hash_type = atlas_hash_type_from_name (find_attribute (names, values, "type"));
      break;

    case ELEMENT_PIECES:
      return start_pieces (state, names, values, error);

    case ELEMENT_URL:
      if (++state->n_url_elements > ATLAS_METALINK_MAX_URLS)
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
                       "file %s lists more than %d URLs", state->file_shown,
                       ATLAS_METALINK_MAX_URLS);
          return FALSE;
        }
      start_url (state, names, values);
      break;

    case ELEMENT_IGNORED:
    case ELEMENT_METALINK:
    case ELEMENT_PIECE_HASH:
    case ELEMENT_DESCRIPTION:
    case ELEMENT_VERSION:
    case ELEMENT_IDENTITY:
    default:
      break;
    }
  return TRUE;
}

static void
start_element_cb (GMarkupParseContext *context, const char *element_name,
                  const char **attribute_names, const char **attribute_values, gpointer user_data,
                  GError **error)
{
  ParseState *state = user_data;
  const char *local_name;
  const char *ns;
  ElementKind kind;

  if (state->kinds->len >= MAX_DEPTH)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
                   "the Metalink document nests elements more than %d deep", MAX_DEPTH);
      return;
    }

  push_namespace_bindings (state, attribute_names, attribute_values);
  ns = resolve_namespace (state, element_name, &local_name);

  if (state->kinds->len == 0)
    {
      if (!check_root (state, ns, local_name, error))
        return;
      kind = ELEMENT_METALINK;
    }
  else
    {
      kind = classify_element (current_kind (state), ns, local_name);
    }

  if (!start_known_element (state, kind, attribute_names, attribute_values, error))
    return;

  g_string_truncate (state->text, 0);
  g_array_append_val (state->kinds, kind);
}

static void
text_cb (GMarkupParseContext *context, const char *text, gsize text_len, gpointer user_data,
         GError **error)
{
  ParseState *state = user_data;

  switch (current_kind (state))
    {
    case ELEMENT_SIZE:
    case ELEMENT_HASH:
    case ELEMENT_PIECE_HASH:
    case ELEMENT_URL:
    case ELEMENT_DESCRIPTION:
    case ELEMENT_VERSION:
    case ELEMENT_IDENTITY:
      g_string_append_len (state->text, text, text_len);
      break;

    case ELEMENT_IGNORED:
    case ELEMENT_METALINK:
    case ELEMENT_FILE:
    case ELEMENT_PIECES:
    default:
      break;
    }
}

/* Character references can smuggle terminal escapes into a description that
 * the CLI prints; control characters other than tab and newline are dropped.
 * Line ends become "\n" as XML requires: GMarkup folds "\r\n" and "\r" in
 * escaped text but not inside CDATA, so without this the same description
 * read back from to_xml would differ (found by fuzz-metalink). */
static char *
clean_text (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\r')
        {
          if (p[1] != '\n')
            g_string_append_c (out, '\n');
          continue;
        }
      if ((c < 0x20 && c != '\t' && c != '\n') || (c >= 0x7f && c < 0xa0))
        continue;
      g_string_append_unichar (out, c);
    }
  return g_strstrip (g_string_free (out, FALSE));
}

static gboolean
decode_hex_digest (ParseState *state, const char *what, AtlasHashType type, const char *hex,
                   guint8 *digest, GError **error)
{
  gsize digest_length = atlas_hash_type_digest_length (type);

  if (strlen (hex) != digest_length * 2 || !atlas_hex_decode (hex, digest, digest_length))
    {
      g_autofree char *shown = atlas_filename_display (hex);

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "file %s: the %s %s %s is not %" G_GSIZE_FORMAT " hex digits", state->file_shown,
                   atlas_hash_type_to_name (type), what, shown, digest_length * 2);
      return FALSE;
    }
  return TRUE;
}

static gboolean
end_hash (ParseState *state, const char *text, GError **error)
{
  AtlasChecksum checksum = {
    state->hash_type,
  };

  if (state->hash_type == ATLAS_HASH_NONE)
    return TRUE;
  if (!decode_hex_digest (state, "hash", state->hash_type, text, checksum.digest, error))
    return FALSE;
  g_array_append_val (state->file->hashes, checksum);
  return TRUE;
}

static gboolean
end_piece_hash (ParseState *state, const char *text, GError **error)
{
  guint8 digest[ATLAS_HASH_MAX_DIGEST];

  if (state->pieces_type == ATLAS_HASH_NONE)
    return TRUE;
  if (state->pieces_count >= ATLAS_METALINK_MAX_PIECES)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
                   "file %s has more than %u piece hashes", state->file_shown,
                   ATLAS_METALINK_MAX_PIECES);
      return FALSE;
    }
  if (!decode_hex_digest (state, "piece hash", state->pieces_type, text, digest, error))
    return FALSE;
  g_byte_array_append (state->pieces_digests, digest,
                       atlas_hash_type_digest_length (state->pieces_type));
  state->pieces_count++;
  return TRUE;
}

/* A file may carry <pieces> of several types; the strongest is kept. */
static void
end_pieces (ParseState *state)
{
  AtlasMetalinkFile *file = state->file;

  if (state->pieces_type == ATLAS_HASH_NONE
      || atlas_hash_type_strength (state->pieces_type)
             <= atlas_hash_type_strength (file->piece_type))
    return;

  g_clear_pointer (&file->piece_digests, g_bytes_unref);
  file->piece_type = state->pieces_type;
  file->piece_length = state->pieces_length;
  file->n_pieces = state->pieces_count;
  file->piece_digests = g_byte_array_free_to_bytes (g_steal_pointer (&state->pieces_digests));
}

static void
end_url (ParseState *state, const char *text)
{
  AtlasMetalinkUrl *url;

  /* Other schemes (a torrent's magnet:, file:, data:) are legal in Metalink but
   * not something the engine fetches; they are skipped silently. */
  if (!atlas_http_url_is_fetchable (text))
    return;

  url = g_new0 (AtlasMetalinkUrl, 1);
  url->url = g_strdup (text);
  url->priority = state->url_priority;
  url->location = g_steal_pointer (&state->url_location);
  g_ptr_array_add (state->file->urls, url);
}

static int
compare_urls (gconstpointer a, gconstpointer b)
{
  const AtlasMetalinkUrl *url_a = *(const AtlasMetalinkUrl **) a;
  const AtlasMetalinkUrl *url_b = *(const AtlasMetalinkUrl **) b;
  guint pa = url_a->priority != 0 ? url_a->priority : G_MAXUINT;
  guint pb = url_b->priority != 0 ? url_b->priority : G_MAXUINT;

  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

static gboolean
check_pieces (ParseState *state, GError **error)
{
  AtlasMetalinkFile *file = state->file;

  if (file->piece_type == ATLAS_HASH_NONE)
    return TRUE;

  if (file->size >= 0)
    {
      guint64 size = (guint64) file->size;
      guint64 expected = size == 0 ? 0 : (size - 1) / file->piece_length + 1;

      if (file->n_pieces != expected)
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                       "file %s has %u piece hashes, but %" G_GUINT64_FORMAT
                       " pieces of %" G_GUINT64_FORMAT
                       " bytes make up its size of %" G_GUINT64_FORMAT " bytes",
                       state->file_shown, file->n_pieces, expected, file->piece_length, size);
          return FALSE;
        }
    }
  else if (file->n_pieces > 0
           && file->n_pieces - 1 > (ATLAS_METALINK_MAX_SIZE - 1) / file->piece_length)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
                   "file %s: %u pieces of %" G_GUINT64_FORMAT " bytes are larger than the limit",
                   state->file_shown, file->n_pieces, file->piece_length);
      return FALSE;
    }

  if (file->n_pieces == 0)
    {
      file->piece_type = ATLAS_HASH_NONE;
      file->piece_length = 0;
      g_clear_pointer (&file->piece_digests, g_bytes_unref);
    }
  return TRUE;
}

static gboolean
end_file (ParseState *state, GError **error)
{
  AtlasMetalinkFile *file = state->file;

  if (!check_pieces (state, error))
    return FALSE;
  if (state->n_url_elements == 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "file %s has no <url> to download it from", state->file_shown);
      return FALSE;
    }
  if (file->urls->len == 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "file %s has no http, https or ftp URL among its %u <url> elements",
                   state->file_shown, state->n_url_elements);
      return FALSE;
    }

  /* g_ptr_array_sort is a stable merge sort, so equal priorities keep document order. */
  g_ptr_array_sort (file->urls, compare_urls);
  g_ptr_array_add (state->metalink->files, g_steal_pointer (&state->file));
  g_clear_pointer (&state->file_shown, g_free);
  return TRUE;
}

static void
set_text_once (char **field, const char *text)
{
  if (*field == NULL)
    *field = clean_text (text);
}

static void
end_element_cb (GMarkupParseContext *context, const char *element_name, gpointer user_data,
                GError **error)
{
  ParseState *state = user_data;
  ElementKind kind = current_kind (state);
  g_autofree char *text = g_strstrip (g_strndup (state->text->str, state->text->len));
  gboolean ok = TRUE;
  guint64 size = 0;

  switch (kind)
    {
    case ELEMENT_FILE:
      ok = end_file (state, error);
      break;
    case ELEMENT_SIZE:
      ok = parse_byte_count (state, "size", text, ATLAS_METALINK_MAX_SIZE, &size, error);
      state->file->size = (gint64) size;
      break;
    case ELEMENT_HASH:
      ok = end_hash (state, text, error);
      break;
    case ELEMENT_PIECE_HASH:
      ok = end_piece_hash (state, text, error);
      break;
    case ELEMENT_PIECES:
      end_pieces (state);
      break;
    case ELEMENT_URL:
      end_url (state, text);
      break;
    case ELEMENT_DESCRIPTION:
      set_text_once (&state->file->description, state->text->str);
      break;
    case ELEMENT_VERSION:
      set_text_once (&state->file->version, state->text->str);
      break;
    case ELEMENT_IDENTITY:
      set_text_once (&state->file->identity, state->text->str);
      break;
    case ELEMENT_IGNORED:
    case ELEMENT_METALINK:
    default:
      break;
    }
  if (!ok)
    return;

  g_string_truncate (state->text, 0);
  g_array_set_size (state->kinds, state->kinds->len - 1);
  pop_namespace_bindings (state);
}

/* Comments, processing instructions and the XML declaration are harmless; any
 * other markup declaration (DOCTYPE, ENTITY, ELEMENT) is how entity expansion
 * and external-entity attacks start. */
static void
passthrough_cb (GMarkupParseContext *context, const char *text, gsize text_len, gpointer user_data,
                GError **error)
{
  if (text_len >= 4 && memcmp (text, "<!--", 4) == 0)
    return;
  if (text_len >= 2 && memcmp (text, "<?", 2) == 0)
    return;
  g_set_error_literal (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
                       "the Metalink document contains a DOCTYPE or other markup declaration; "
                       "these are refused because they can define entities");
}

static const GMarkupParser metalink_parser = {
  start_element_cb, end_element_cb, text_cb, passthrough_cb, NULL,
};

/* GMarkup quotes the offending text in its messages, which need not be valid
 * UTF-8 or free of control characters. */
static void
set_markup_error (GError **error, const GError *markup_error)
{
  g_autofree char *valid = g_utf8_make_valid (markup_error->message, -1);
  GString *clean = g_string_new (NULL);

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || (c >= 0x7f && c < 0xa0))
        g_string_append_printf (clean, "\\x%02x", c);
      else
        g_string_append_unichar (clean, c);
    }
  g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
               "the Metalink document is not well-formed XML: %s", clean->str);
  g_string_free (clean, TRUE);
}

static gboolean
is_blank (const char *data, gsize length)
{
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isspace (data[i]))
      return FALSE;
  return TRUE;
}

AtlasMetalink *
atlas_metalink_parse (const char *data, gsize length, GError **error)
{
  g_autoptr (ParseState) state = NULL;
  g_autoptr (GMarkupParseContext) context = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *invalid = NULL;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (length > ATLAS_METALINK_MAX_DOCUMENT)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT,
                   "the Metalink document is %" G_GSIZE_FORMAT " bytes, more than the limit of %d",
                   length, ATLAS_METALINK_MAX_DOCUMENT);
      return NULL;
    }
  if (length >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    {
      data += 3;
      length -= 3;
    }
  if (is_blank (data, length))
    {
      g_set_error_literal (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                           "the Metalink document is empty");
      return NULL;
    }

  if (!g_utf8_validate_len (data, length, &invalid))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "the Metalink document is not valid UTF-8 (at byte %" G_GSIZE_FORMAT ")",
                   (gsize) (invalid - data));
      return NULL;
    }

  state = parse_state_new ();
  context = g_markup_parse_context_new (
      &metalink_parser, G_MARKUP_TREAT_CDATA_AS_TEXT | G_MARKUP_PREFIX_ERROR_POSITION, state, NULL);
  if (!g_markup_parse_context_parse (context, data, length, &local_error)
      || !g_markup_parse_context_end_parse (context, &local_error))
    {
      /* Our own errors keep their code; GMarkup's (bad syntax, a truncated
       * document, an unknown entity) are malformed input. */
      if (local_error->domain == ATLAS_ERROR)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        set_markup_error (error, local_error);
      return NULL;
    }

  if (state->metalink->files->len == 0)
    {
      g_set_error_literal (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                           "the Metalink document lists no <file>");
      return NULL;
    }
  return g_steal_pointer (&state->metalink);
}

/* g_string_append_take only arrived in GLib 2.78. */
static void
append_take (GString *xml, char *text)
{
  g_string_append (xml, text);
  g_free (text);
}

static void
append_file_xml (GString *xml, const AtlasMetalinkFile *file)
{
  g_autofree char *open = g_markup_printf_escaped ("  <file name=\"%s\">\n", file->name);

  g_string_append (xml, open);
  if (file->identity != NULL)
    append_take (xml, g_markup_printf_escaped ("    <identity>%s</identity>\n", file->identity));
  if (file->version != NULL)
    append_take (xml, g_markup_printf_escaped ("    <version>%s</version>\n", file->version));
  if (file->description != NULL)
    append_take (
        xml, g_markup_printf_escaped ("    <description>%s</description>\n", file->description));
  if (file->size >= 0)
    g_string_append_printf (xml, "    <size>%" G_GINT64_FORMAT "</size>\n", file->size);

  for (guint i = 0; file->hashes != NULL && i < file->hashes->len; i++)
    {
      const AtlasChecksum *checksum = &g_array_index (file->hashes, AtlasChecksum, i);
      g_autofree char *hex = atlas_checksum_to_hex (checksum);

      g_string_append_printf (xml, "    <hash type=\"%s\">%s</hash>\n",
                              atlas_hash_type_to_name (checksum->type), hex);
    }

  if (file->piece_type != ATLAS_HASH_NONE && file->piece_digests != NULL)
    {
      gsize digest_length = atlas_hash_type_digest_length (file->piece_type);
      gsize bytes_length = 0;
      const guint8 *bytes = g_bytes_get_data (file->piece_digests, &bytes_length);

      g_string_append_printf (xml, "    <pieces type=\"%s\" length=\"%" G_GUINT64_FORMAT "\">\n",
                              atlas_hash_type_to_name (file->piece_type), file->piece_length);
      for (guint i = 0; i < file->n_pieces && (i + 1) * digest_length <= bytes_length; i++)
        {
          g_autofree char *hex = atlas_hex_encode (bytes + i * digest_length, digest_length);

          g_string_append_printf (xml, "      <hash>%s</hash>\n", hex);
        }
      g_string_append (xml, "    </pieces>\n");
    }

  for (guint i = 0; file->urls != NULL && i < file->urls->len; i++)
    {
      const AtlasMetalinkUrl *url = g_ptr_array_index (file->urls, i);

      g_string_append (xml, "    <url");
      if (url->priority != 0)
        g_string_append_printf (xml, " priority=\"%u\"", url->priority);
      if (url->location != NULL)
        append_take (xml, g_markup_printf_escaped (" location=\"%s\"", url->location));
      append_take (xml, g_markup_printf_escaped (">%s</url>\n", url->url));
    }
  g_string_append (xml, "  </file>\n");
}

char *
atlas_metalink_to_xml (const AtlasMetalink *metalink)
{
  GString *xml = g_string_new ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<metalink xmlns=\"" METALINK4_NS "\">\n"
                               "  <generator>Download Atlas</generator>\n");

  g_return_val_if_fail (metalink != NULL, NULL);

  for (guint i = 0; metalink->files != NULL && i < metalink->files->len; i++)
    append_file_xml (xml, g_ptr_array_index (metalink->files, i));
  g_string_append (xml, "</metalink>\n");
  return g_string_free (xml, FALSE);
}
