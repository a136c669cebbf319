/* atlas-input.c — turning pasted, dropped and opened things into requests. */
#include "atlas-input.h"

#include <glib/gi18n.h>
#include <string.h>

/* Links pasted from prose or mail often carry punctuation around them. */
#define OPENING_PUNCTUATION "<\"'("
#define CLOSING_PUNCTUATION ">\"'),;."

GStrv
atlas_input_find_links (const char *text)
{
  g_autoptr (GPtrArray) links = g_ptr_array_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto (GStrv) lines = NULL;

  lines = g_strsplit_set (text != NULL ? text : "", "\r\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto (GStrv) words = NULL;
      const char *line = lines[i];

      while (g_ascii_isspace (*line))
        line++;
      /* text/uri-list comments (RFC 2483). */
      if (*line == '#')
        continue;
      words = g_strsplit_set (line, " \t", -1);
      for (guint j = 0; words[j] != NULL; j++)
        {
          char *word = words[j] + strspn (words[j], OPENING_PUNCTUATION);
          gsize length = strlen (word);
          char *link;

          while (length > 0 && strchr (CLOSING_PUNCTUATION, word[length - 1]) != NULL)
            word[--length] = '\0';
          if (!atlas_url_is_supported (word) || g_hash_table_contains (seen, word))
            continue;
          link = g_strdup (word);
          g_hash_table_add (seen, link);
          g_ptr_array_add (links, link);
        }
    }
  g_ptr_array_add (links, NULL);
  /* The strings are owned by @seen; hand out copies. */
  return g_strdupv ((char **) links->pdata);
}

gboolean
atlas_input_is_metalink_name (const char *uri)
{
  g_autofree char *lower = NULL;
  const char *end;

  if (uri == NULL)
    return FALSE;
  /* Ignore a query or fragment: "…/file.meta4?download=1" is still a Metalink. */
  end = uri + strcspn (uri, "?#");
  lower = g_ascii_strdown (uri, end - uri);
  return g_str_has_suffix (lower, ".meta4") || g_str_has_suffix (lower, ".metalink");
}

/* ---- Metalink files ------------------------------------------------------ */

typedef struct
{
  GFile *file;
  char *directory;
} LoadData;

static void
load_data_free (LoadData *data)
{
  g_object_unref (data->file);
  g_free (data->directory);
  g_free (data);
}

static void
load_metalink_thread (GTask *task, gpointer source_object, gpointer task_data,
                      GCancellable *cancellable)
{
  LoadData *data = task_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (AtlasMetalink) metalink = NULL;
  g_autofree char *name = g_file_get_parse_name (data->file);
  gsize length = 0;

  if (!g_file_load_contents (data->file, cancellable, &contents, &length, NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  metalink = atlas_metalink_parse (contents, length, &error);
  if (metalink == NULL)
    {
      g_task_return_new_error (task, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                               _ ("“%s” is not a usable Metalink: %s"), name, error->message);
      return;
    }
  g_task_return_pointer (task, atlas_request_list_from_metalink (metalink, data->directory),
                         (GDestroyNotify) g_ptr_array_unref);
}

void
atlas_input_load_metalink_async (GFile *file, const char *directory, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  LoadData *data = g_new0 (LoadData, 1);

  data->file = g_object_ref (file);
  data->directory = g_strdup (directory);
  g_task_set_source_tag (task, atlas_input_load_metalink_async);
  g_task_set_task_data (task, data, (GDestroyNotify) load_data_free);
  g_task_run_in_thread (task, load_metalink_thread);
}

GPtrArray *
atlas_input_load_metalink_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- one URL ------------------------------------------------------------- */

AtlasRequest *
atlas_input_request_for_url (const char *url, const char *const *mirrors, const char *checksum_text,
                             const char *directory, gboolean paused, GError **error)
{
  g_autoptr (AtlasRequest) request = atlas_request_new ();
  g_autofree char *filename = NULL;

  if (url == NULL || !atlas_url_is_supported (url))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   _ ("“%s” is not an http, https or ftp link"), url != NULL ? url : "");
      return NULL;
    }
  atlas_request_add_url (request, url, 0, NULL);
  for (guint i = 0; mirrors != NULL && mirrors[i] != NULL; i++)
    {
      if (!atlas_url_is_supported (mirrors[i]))
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                       _ ("The mirror “%s” is not an http, https or ftp link"), mirrors[i]);
          return NULL;
        }
      atlas_request_add_url (request, mirrors[i], 0, NULL);
    }
  if (checksum_text != NULL && *checksum_text != '\0')
    {
      AtlasChecksum checksum;
      g_autoptr (GError) local_error = NULL;

      if (!atlas_checksum_parse (checksum_text, &checksum, &local_error))
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                       _ ("The checksum is not usable: %s"), local_error->message);
          return NULL;
        }
      atlas_request_add_checksum (request, &checksum);
    }
  /* Naming the file now, as the CLI does, makes the final path known before
   * adding, so the engine can tell that the same link is already queued. */
  filename = atlas_filename_from_url (url);
  atlas_request_set_filename (request, filename);
  if (directory != NULL && *directory != '\0')
    atlas_request_set_directory (request, directory);
  atlas_request_set_paused (request, paused);
  return g_steal_pointer (&request);
}
