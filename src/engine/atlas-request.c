#include "atlas-request-private.h"

#include "atlas-error.h"

#include <string.h>

typedef struct
{
  char *url;
  guint priority;
  char *location;
} RequestUrl;

struct _AtlasRequest
{
  GPtrArray *urls;   /* RequestUrl* */
  GArray *checksums; /* AtlasChecksum */
  AtlasHashType piece_type;
  guint64 piece_length;
  GBytes *piece_digests;
  gint64 size;
  char *filename;
  char *directory;
  gboolean paused;
  guint64 speed_limit;
  char *preferred_location;
};

/* Bumped when the serialised layout changes; older blobs are refused clearly. */
#define REQUEST_VARIANT_TYPE "(ua(sus)a(uay)utayxssbts)"
#define REQUEST_FORMAT 1

static void
request_url_free (RequestUrl *url)
{
  g_free (url->url);
  g_free (url->location);
  g_free (url);
}

gboolean
atlas_url_is_supported (const char *url)
{
  const char *scheme = g_uri_peek_scheme (url);

  /* g_uri_peek_scheme returns an interned lower-case string. */
  return scheme != NULL
         && (g_str_equal (scheme, "http") || g_str_equal (scheme, "https")
             || g_str_equal (scheme, "ftp"));
}

AtlasRequest *
atlas_request_new (void)
{
  AtlasRequest *request = g_new0 (AtlasRequest, 1);

  request->urls = g_ptr_array_new_with_free_func ((GDestroyNotify) request_url_free);
  request->checksums = g_array_new (FALSE, TRUE, sizeof (AtlasChecksum));
  request->size = -1;
  return request;
}

AtlasRequest *
atlas_request_copy (const AtlasRequest *request)
{
  AtlasRequest *copy = atlas_request_new ();

  for (guint i = 0; i < request->urls->len; i++)
    {
      RequestUrl *url = g_ptr_array_index (request->urls, i);
      atlas_request_add_url (copy, url->url, url->priority, url->location);
    }
  g_array_append_vals (copy->checksums, request->checksums->data, request->checksums->len);
  copy->piece_type = request->piece_type;
  copy->piece_length = request->piece_length;
  copy->piece_digests = request->piece_digests ? g_bytes_ref (request->piece_digests) : NULL;
  copy->size = request->size;
  copy->filename = g_strdup (request->filename);
  copy->directory = g_strdup (request->directory);
  copy->paused = request->paused;
  copy->speed_limit = request->speed_limit;
  copy->preferred_location = g_strdup (request->preferred_location);
  return copy;
}

void
atlas_request_free (AtlasRequest *request)
{
  if (request == NULL)
    return;
  g_ptr_array_unref (request->urls);
  g_array_unref (request->checksums);
  g_clear_pointer (&request->piece_digests, g_bytes_unref);
  g_free (request->filename);
  g_free (request->directory);
  g_free (request->preferred_location);
  g_free (request);
}

void
atlas_request_add_url (AtlasRequest *request, const char *url, guint priority, const char *location)
{
  RequestUrl *entry;

  g_return_if_fail (url != NULL);

  /* The same mirror listed twice would only double its connections. */
  for (guint i = 0; i < request->urls->len; i++)
    if (strcmp (((RequestUrl *) g_ptr_array_index (request->urls, i))->url, url) == 0)
      return;

  entry = g_new0 (RequestUrl, 1);
  entry->url = g_strdup (url);
  entry->priority = priority;
  entry->location = location != NULL && *location != '\0' ? g_ascii_strdown (location, -1) : NULL;
  g_ptr_array_add (request->urls, entry);
}

void
atlas_request_add_checksum (AtlasRequest *request, const AtlasChecksum *checksum)
{
  g_array_append_val (request->checksums, *checksum);
}

void
atlas_request_set_pieces (AtlasRequest *request, AtlasHashType type, guint64 piece_length,
                          GBytes *digests)
{
  request->piece_type = type;
  request->piece_length = piece_length;
  g_clear_pointer (&request->piece_digests, g_bytes_unref);
  request->piece_digests = digests != NULL ? g_bytes_ref (digests) : NULL;
}

void
atlas_request_set_size (AtlasRequest *request, gint64 size)
{
  request->size = size;
}

void
atlas_request_set_filename (AtlasRequest *request, const char *filename)
{
  g_free (request->filename);
  request->filename = g_strdup (filename);
}

void
atlas_request_set_directory (AtlasRequest *request, const char *directory)
{
  g_free (request->directory);
  request->directory = g_strdup (directory);
}

void
atlas_request_set_paused (AtlasRequest *request, gboolean paused)
{
  request->paused = paused;
}

void
atlas_request_set_speed_limit (AtlasRequest *request, guint64 bytes_per_second)
{
  request->speed_limit = bytes_per_second;
}

void
atlas_request_set_preferred_location (AtlasRequest *request, const char *location)
{
  g_free (request->preferred_location);
  request->preferred_location = location != NULL ? g_ascii_strdown (location, -1) : NULL;
}

GPtrArray *
atlas_request_list_from_metalink (const AtlasMetalink *metalink, const char *directory)
{
  GPtrArray *requests = g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_request_free);

  for (guint i = 0; i < metalink->files->len; i++)
    {
      const AtlasMetalinkFile *file = g_ptr_array_index (metalink->files, i);
      AtlasRequest *request = atlas_request_new ();

      for (guint u = 0; u < file->urls->len; u++)
        {
          const AtlasMetalinkUrl *url = g_ptr_array_index (file->urls, u);
          atlas_request_add_url (request, url->url, url->priority, url->location);
        }
      if (file->hashes != NULL)
        g_array_append_vals (request->checksums, file->hashes->data, file->hashes->len);
      if (file->piece_type != ATLAS_HASH_NONE && file->piece_digests != NULL)
        atlas_request_set_pieces (request, file->piece_type, file->piece_length,
                                  file->piece_digests);
      request->size = file->size;
      atlas_request_set_filename (request, file->name);
      atlas_request_set_directory (request, directory);
      g_ptr_array_add (requests, request);
    }
  return requests;
}

guint
atlas_request_get_n_urls (const AtlasRequest *request)
{
  return request->urls->len;
}

const char *
atlas_request_get_url (const AtlasRequest *request, guint index, guint *priority,
                       const char **location)
{
  RequestUrl *url;

  g_return_val_if_fail (index < request->urls->len, NULL);
  url = g_ptr_array_index (request->urls, index);
  if (priority != NULL)
    *priority = url->priority;
  if (location != NULL)
    *location = url->location;
  return url->url;
}

GArray *
atlas_request_get_checksums (const AtlasRequest *request)
{
  return request->checksums;
}

AtlasHashType
atlas_request_get_piece_type (const AtlasRequest *request)
{
  return request->piece_type;
}

guint64
atlas_request_get_piece_length (const AtlasRequest *request)
{
  return request->piece_length;
}

GBytes *
atlas_request_get_piece_digests (const AtlasRequest *request)
{
  return request->piece_digests;
}

gint64
atlas_request_get_size (const AtlasRequest *request)
{
  return request->size;
}

const char *
atlas_request_get_filename (const AtlasRequest *request)
{
  return request->filename;
}

const char *
atlas_request_get_directory (const AtlasRequest *request)
{
  return request->directory;
}

gboolean
atlas_request_get_paused (const AtlasRequest *request)
{
  return request->paused;
}

guint64
atlas_request_get_speed_limit (const AtlasRequest *request)
{
  return request->speed_limit;
}

const char *
atlas_request_get_preferred_location (const AtlasRequest *request)
{
  return request->preferred_location;
}

GBytes *
_atlas_request_serialize (const AtlasRequest *request)
{
  GVariantBuilder urls, checksums;
  GVariant *variant;
  GVariant *digests;

  g_variant_builder_init (&urls, G_VARIANT_TYPE ("a(sus)"));
  for (guint i = 0; i < request->urls->len; i++)
    {
      RequestUrl *url = g_ptr_array_index (request->urls, i);
      g_variant_builder_add (&urls, "(sus)", url->url, url->priority,
                             url->location ? url->location : "");
    }

  g_variant_builder_init (&checksums, G_VARIANT_TYPE ("a(uay)"));
  for (guint i = 0; i < request->checksums->len; i++)
    {
      const AtlasChecksum *sum = &g_array_index (request->checksums, AtlasChecksum, i);
      g_variant_builder_add (&checksums, "(u@ay)", (guint32) sum->type,
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, sum->digest,
                                                        atlas_hash_type_digest_length (sum->type),
                                                        1));
    }

  if (request->piece_digests != NULL)
    digests = g_variant_new_from_bytes (G_VARIANT_TYPE ("ay"), request->piece_digests, TRUE);
  else
    digests = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, NULL, 0, 1);

  variant = g_variant_new ("(ua(sus)a(uay)ut@ayxssbts)", (guint32) REQUEST_FORMAT, &urls,
                           &checksums, (guint32) request->piece_type, request->piece_length,
                           digests, request->size, request->filename ? request->filename : "",
                           request->directory ? request->directory : "", request->paused,
                           request->speed_limit,
                           request->preferred_location ? request->preferred_location : "");
  g_variant_ref_sink (variant);
  {
    GBytes *bytes = g_variant_get_data_as_bytes (variant);
    g_variant_unref (variant);
    return bytes;
  }
}

AtlasRequest *
_atlas_request_deserialize (GBytes *bytes, GError **error)
{
  g_autoptr (GVariant) variant = NULL;
  g_autoptr (GVariantIter) urls = NULL;
  g_autoptr (GVariantIter) checksums = NULL;
  g_autoptr (GVariant) digests = NULL;
  g_autoptr (AtlasRequest) request = atlas_request_new ();
  guint32 format, piece_type, sum_type;
  const char *url, *location, *filename, *directory, *preferred;
  guint32 priority;
  GVariant *sum_digest;

  variant = g_variant_new_from_bytes (G_VARIANT_TYPE (REQUEST_VARIANT_TYPE), bytes, FALSE);
  /* Stored bytes are untrusted after a crash or a disk error: normal form first. */
  if (!g_variant_is_normal_form (variant))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE, "A queued request is damaged");
      return NULL;
    }

  g_variant_get (variant, "(ua(sus)a(uay)ut@ayx&s&sbt&s)", &format, &urls, &checksums, &piece_type,
                 &request->piece_length, &digests, &request->size, &filename, &directory,
                 &request->paused, &request->speed_limit, &preferred);
  if (format != REQUEST_FORMAT)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE,
                   "A queued request has format %u; this version reads format %u", format,
                   REQUEST_FORMAT);
      return NULL;
    }

  while (g_variant_iter_next (urls, "(&su&s)", &url, &priority, &location))
    atlas_request_add_url (request, url, priority, *location ? location : NULL);

  while (g_variant_iter_next (checksums, "(u@ay)", &sum_type, &sum_digest))
    {
      AtlasChecksum sum = { .type = sum_type };
      gsize n = 0;
      const guint8 *data = g_variant_get_fixed_array (sum_digest, &n, 1);

      if (n == atlas_hash_type_digest_length (sum.type) && n > 0)
        {
          memcpy (sum.digest, data, n);
          g_array_append_val (request->checksums, sum);
        }
      g_variant_unref (sum_digest);
    }

  request->piece_type = piece_type;
  if (g_variant_get_size (digests) > 0)
    request->piece_digests = g_variant_get_data_as_bytes (digests);
  request->filename = *filename ? g_strdup (filename) : NULL;
  request->directory = *directory ? g_strdup (directory) : NULL;
  request->preferred_location = *preferred ? g_strdup (preferred) : NULL;
  return g_steal_pointer (&request);
}
