/* fuzz-metalink.c — Metalink 4 parser: no crash, errors in our domain, and
 * every accepted document survives to_xml and a second parse unchanged. */
#include "atlas-error.h"
#include "atlas-filename.h"
#include "atlas-metalink.h"

#include <stdint.h>
#include <string.h>

static void
assert_files_equal (const AtlasMetalinkFile *a, const AtlasMetalinkFile *b)
{
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpint (a->size, ==, b->size);
  g_assert_cmpuint (a->hashes->len, ==, b->hashes->len);
  for (guint i = 0; i < a->hashes->len; i++)
    g_assert_true (atlas_checksum_equal (&g_array_index (a->hashes, AtlasChecksum, i),
                                         &g_array_index (b->hashes, AtlasChecksum, i)));
  g_assert_cmpint (a->piece_type, ==, b->piece_type);
  g_assert_cmpuint (a->piece_length, ==, b->piece_length);
  g_assert_cmpuint (a->n_pieces, ==, b->n_pieces);
  g_assert_true ((a->piece_digests == NULL) == (b->piece_digests == NULL));
  if (a->piece_digests != NULL)
    g_assert_true (g_bytes_equal (a->piece_digests, b->piece_digests));
  g_assert_cmpuint (a->urls->len, ==, b->urls->len);
  for (guint i = 0; i < a->urls->len; i++)
    {
      const AtlasMetalinkUrl *ua = g_ptr_array_index (a->urls, i);
      const AtlasMetalinkUrl *ub = g_ptr_array_index (b->urls, i);

      g_assert_cmpstr (ua->url, ==, ub->url);
      g_assert_cmpuint (ua->priority, ==, ub->priority);
      g_assert_cmpstr (ua->location, ==, ub->location);
    }
  g_assert_cmpstr (a->description, ==, b->description);
  g_assert_cmpstr (a->version, ==, b->version);
  g_assert_cmpstr (a->identity, ==, b->identity);
}

static void
check_file_invariants (const AtlasMetalinkFile *file)
{
  g_autofree char *again = atlas_filename_sanitize (file->name, NULL);
  guint previous = 1;

  g_assert_cmpstr (again, ==, file->name);
  g_assert_cmpuint (file->urls->len, >, 0);
  g_assert_true (file->size >= -1 && file->size <= ATLAS_METALINK_MAX_SIZE);
  if (file->piece_type != ATLAS_HASH_NONE)
    {
      g_assert_cmpuint (file->piece_length, >, 0);
      g_assert_cmpuint (g_bytes_get_size (file->piece_digests), ==,
                        file->n_pieces * atlas_hash_type_digest_length (file->piece_type));
    }
  for (guint i = 0; i < file->urls->len; i++)
    {
      const AtlasMetalinkUrl *url = g_ptr_array_index (file->urls, i);
      guint rank = url->priority != 0 ? url->priority : G_MAXUINT;

      g_assert_cmpuint (rank, >=, previous);
      previous = rank;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink = NULL;
  g_autoptr (AtlasMetalink) reparsed = NULL;
  g_autofree char *xml = NULL;

  metalink = atlas_metalink_parse ((const char *) data, size, &error);
  if (metalink == NULL)
    {
      g_assert_error (error, ATLAS_ERROR, error->code);
      g_assert_true (error->code == ATLAS_ERROR_INVALID_INPUT
                     || error->code == ATLAS_ERROR_UNSAFE_INPUT);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }

  for (guint i = 0; i < metalink->files->len; i++)
    check_file_invariants (g_ptr_array_index (metalink->files, i));

  xml = atlas_metalink_to_xml (metalink);
  reparsed = atlas_metalink_parse (xml, strlen (xml), &error);
  if (reparsed == NULL)
    g_error ("to_xml output does not parse: %s\n%s", error->message, xml);
  g_assert_cmpuint (reparsed->files->len, ==, metalink->files->len);
  for (guint i = 0; i < metalink->files->len; i++)
    assert_files_equal (g_ptr_array_index (metalink->files, i),
                        g_ptr_array_index (reparsed->files, i));
  return 0;
}
