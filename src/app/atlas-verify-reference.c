/* atlas-verify-reference.c — a pasted checksum, a Metalink or a SUMS file,
 * turned into what the verifier expects and into a repair request. */
#include "atlas-verify-reference.h"

#include <glib/gi18n.h>
#include <string.h>

struct _AtlasVerifyReference
{
  AtlasVerifyReferenceKind kind;
  AtlasChecksum hash;      /* HASH */
  AtlasMetalink *metalink; /* METALINK */
  GPtrArray *sums;         /* SUMS: AtlasSumsEntry* */
};

void
atlas_verify_reference_free (AtlasVerifyReference *reference)
{
  if (reference == NULL)
    return;
  g_clear_pointer (&reference->metalink, atlas_metalink_free);
  g_clear_pointer (&reference->sums, g_ptr_array_unref);
  g_free (reference);
}

AtlasVerifyReferenceKind
atlas_verify_reference_get_kind (const AtlasVerifyReference *reference)
{
  return reference->kind;
}

/* The parser's code is kept so that the page can tell a hostile document
 * from a merely broken one; errors from elsewhere count as invalid input. */
static int
reference_error_code (const GError *error)
{
  return error->domain == ATLAS_ERROR ? error->code : ATLAS_ERROR_INVALID_INPUT;
}

AtlasVerifyReference *
atlas_verify_reference_new_from_text (const char *text, GError **error)
{
  g_autofree char *stripped = g_strstrip (g_strdup (text != NULL ? text : ""));
  g_autoptr (GError) local_error = NULL;
  g_autoptr (AtlasVerifyReference) reference = g_new0 (AtlasVerifyReference, 1);

  reference->kind = ATLAS_VERIFY_REFERENCE_HASH;
  if (!atlas_checksum_parse (stripped, &reference->hash, &local_error))
    {
      g_set_error (error, ATLAS_ERROR, reference_error_code (local_error),
                   _ ("This hash cannot be used: %s"), local_error->message);
      return NULL;
    }
  return g_steal_pointer (&reference);
}

static gboolean
looks_like_metalink (const char *name, const char *data, gsize length)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);
  gsize i = 0;

  if (g_str_has_suffix (lower, ".meta4") || g_str_has_suffix (lower, ".metalink"))
    return TRUE;
  /* A Metalink saved under another name still starts like XML; a SUMS
   * file never starts with '<'. */
  while (i < length && g_ascii_isspace (data[i]))
    i++;
  return i < length && data[i] == '<';
}

AtlasVerifyReference *
atlas_verify_reference_new_from_data (const char *reference_name, const char *data, gsize length,
                                      GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (AtlasVerifyReference) reference = g_new0 (AtlasVerifyReference, 1);

  g_return_val_if_fail (reference_name != NULL, NULL);
  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (looks_like_metalink (reference_name, data, length))
    {
      reference->kind = ATLAS_VERIFY_REFERENCE_METALINK;
      reference->metalink = atlas_metalink_parse (data, length, &local_error);
      if (reference->metalink == NULL)
        {
          g_set_error (error, ATLAS_ERROR, reference_error_code (local_error),
                       _ ("“%s” is not a Metalink that can be used: %s"), reference_name,
                       local_error->message);
          return NULL;
        }
    }
  else
    {
      reference->kind = ATLAS_VERIFY_REFERENCE_SUMS;
      reference->sums = atlas_sums_parse (data, length, ATLAS_HASH_NONE, &local_error);
      if (reference->sums == NULL)
        {
          g_set_error (error, ATLAS_ERROR, reference_error_code (local_error),
                       _ ("“%s” is not a checksum file that can be used: %s"), reference_name,
                       local_error->message);
          return NULL;
        }
    }
  return g_steal_pointer (&reference);
}

static void
load_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  GFile *file = task_data;
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *data = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;
  AtlasVerifyReference *reference;

  if (!g_file_load_contents (file, cancellable, &data, &length, NULL, &error))
    {
      /* A cancelled load is not a problem to show, so it stays recognisable. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, ATLAS_ERROR,
                                 g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
                                     ? ATLAS_ERROR_NOT_FOUND
                                     : ATLAS_ERROR_IO,
                                 _ ("Could not read “%s”: %s"), name, error->message);
      return;
    }

  reference = atlas_verify_reference_new_from_data (name, data, length, &error);
  if (reference == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, reference, (GDestroyNotify) atlas_verify_reference_free);
}

void
atlas_verify_reference_load_async (GFile *reference, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (G_IS_FILE (reference));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, atlas_verify_reference_load_async);
  g_task_set_task_data (task, g_object_ref (reference), g_object_unref);
  g_task_run_in_thread (task, load_thread);
}

AtlasVerifyReference *
atlas_verify_reference_load_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (
      g_task_get_source_tag (G_TASK (result)) == atlas_verify_reference_load_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
atlas_verify_reference_clear_expectation (AtlasVerifyExpectation *expect)
{
  g_clear_pointer (&expect->checksums, g_array_unref);
  g_clear_pointer (&expect->piece_digests, g_bytes_unref);
  memset (expect, 0, sizeof (*expect));
  expect->size = -1;
}

static const AtlasMetalinkFile *
find_metalink_file (const AtlasVerifyReference *reference, const char *checked_basename)
{
  if (reference->kind != ATLAS_VERIFY_REFERENCE_METALINK)
    return NULL;
  return atlas_metalink_find_file (reference->metalink, checked_basename);
}

static gboolean
expect_from_metalink (const AtlasVerifyReference *reference, const char *checked_basename,
                      AtlasVerifyExpectation *expect, GError **error)
{
  const AtlasMetalinkFile *file = find_metalink_file (reference, checked_basename);

  if (file == NULL)
    {
      guint n = reference->metalink->files->len;

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND,
                   g_dngettext (NULL, "The Metalink lists %u file and it is not named “%s”.",
                                "The Metalink lists %u files and none is named “%s”. Rename the "
                                "file to its name in the Metalink.",
                                n),
                   n, checked_basename);
      return FALSE;
    }
  if (file->hashes != NULL)
    g_array_append_vals (expect->checksums, file->hashes->data, file->hashes->len);
  if (expect->checksums->len == 0 && file->piece_type == ATLAS_HASH_NONE)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   _ ("The Metalink has no hashes for “%s”, so there is nothing to check it "
                      "against."),
                   file->name);
      return FALSE;
    }
  expect->piece_type = file->piece_type;
  expect->piece_length = file->piece_length;
  expect->piece_digests = file->piece_digests != NULL ? g_bytes_ref (file->piece_digests) : NULL;
  expect->size = file->size;
  return TRUE;
}

gboolean
atlas_verify_reference_get_expectation (const AtlasVerifyReference *reference,
                                        const char *checked_basename,
                                        AtlasVerifyExpectation *expect, GError **error)
{
  gboolean ok = FALSE;

  g_return_val_if_fail (reference != NULL, FALSE);
  g_return_val_if_fail (checked_basename != NULL, FALSE);
  g_return_val_if_fail (expect != NULL, FALSE);

  memset (expect, 0, sizeof (*expect));
  expect->size = -1;
  expect->checksums = g_array_new (FALSE, TRUE, sizeof (AtlasChecksum));

  switch (reference->kind)
    {
    case ATLAS_VERIFY_REFERENCE_HASH:
      g_array_append_val (expect->checksums, reference->hash);
      ok = TRUE;
      break;

    case ATLAS_VERIFY_REFERENCE_SUMS:
      {
        const AtlasSumsEntry *entry = atlas_sums_lookup (reference->sums, checked_basename);

        if (entry != NULL)
          {
            g_array_append_val (expect->checksums, entry->checksum);
            ok = TRUE;
          }
        else
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND,
                       _ ("The checksum file has no entry for “%s”. Choose the checksum file "
                          "that belongs to it."),
                       checked_basename);
        break;
      }

    case ATLAS_VERIFY_REFERENCE_METALINK:
      ok = expect_from_metalink (reference, checked_basename, expect, error);
      break;

    default:
      g_assert_not_reached ();
    }

  if (!ok)
    atlas_verify_reference_clear_expectation (expect);
  return ok;
}

gboolean
atlas_verify_reference_can_repair (const AtlasVerifyReference *reference,
                                   const char *checked_basename)
{
  const AtlasMetalinkFile *file;

  g_return_val_if_fail (reference != NULL, FALSE);
  g_return_val_if_fail (checked_basename != NULL, FALSE);

  file = find_metalink_file (reference, checked_basename);
  return file != NULL && file->piece_type != ATLAS_HASH_NONE && file->n_pieces > 0
         && file->size >= 0 && file->urls != NULL && file->urls->len > 0;
}

AtlasRequest *
atlas_verify_reference_get_repair_request (const AtlasVerifyReference *reference,
                                           const char *checked_path, GError **error)
{
  g_autofree char *directory = NULL;
  g_autofree char *base = NULL;
  g_autoptr (GPtrArray) requests = NULL;
  AtlasRequest *request;
  guint index;

  g_return_val_if_fail (reference != NULL, NULL);
  g_return_val_if_fail (checked_path != NULL, NULL);

  directory = g_path_get_dirname (checked_path);
  base = g_path_get_basename (checked_path);
  if (!atlas_verify_reference_can_repair (reference, base)
      || !g_ptr_array_find (reference->metalink->files, find_metalink_file (reference, base),
                            &index))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   _ ("“%s” cannot be repaired: that needs a Metalink with piece hashes, the "
                      "size and mirrors for it."),
                   base);
      return NULL;
    }

  /* The Metalink's requests come in the order of its files. */
  requests = atlas_request_list_from_metalink (reference->metalink, directory);
  request = atlas_request_copy (g_ptr_array_index (requests, index));
  atlas_request_set_directory (request, directory);
  atlas_request_set_filename (request, base);
  return request;
}
