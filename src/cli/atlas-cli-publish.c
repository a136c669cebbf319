/* atlas-cli-publish.c — `atlas publish`: hash a file, write its Metalink, and
 * register it in a tracker's index.
 *
 * The file is read once on a worker thread, feeding the whole-file SHA-256 and
 * the piece SHA-256s together, so publishing a large image costs one pass at
 * the hash's speed and the main context stays free for Ctrl-C.
 */

#include "atlas-config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "atlas-cli.h"
#include "atlas-tracker-client.h"

#define DEFAULT_PIECE_SIZE (1024 * 1024)
#define MIN_PIECE_SIZE (16 * 1024)
#define MAX_PIECE_SIZE (256 * 1024 * 1024)
/* The tracker takes Metalinks up to 4 MiB; a piece hash costs about 90 bytes
 * of XML, so without --piece-size pieces grow until there are at most this
 * many. */
#define TARGET_MAX_PIECES 32768
#define MAX_METALINK_UPLOAD (4 * 1024 * 1024)
#define READ_BUFFER (1024 * 1024)

typedef struct
{
  char *tracker;
  char *token;
  char *name;
  char *version;
  char *description;
  char **mirrors;
  char *piece_size;
  gboolean private_entry;
  char **allow;
  char *output;
  char *ca_file;
  gboolean json;
  gboolean quiet;
  char **args;
} PublishOptions;

static void
publish_options_clear (PublishOptions *o)
{
  g_clear_pointer (&o->tracker, g_free);
  g_clear_pointer (&o->token, g_free);
  g_clear_pointer (&o->name, g_free);
  g_clear_pointer (&o->version, g_free);
  g_clear_pointer (&o->description, g_free);
  g_clear_pointer (&o->mirrors, g_strfreev);
  g_clear_pointer (&o->piece_size, g_free);
  g_clear_pointer (&o->allow, g_strfreev);
  g_clear_pointer (&o->output, g_free);
  g_clear_pointer (&o->ca_file, g_free);
  g_clear_pointer (&o->args, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PublishOptions, publish_options_clear)

static GOptionContext *
publish_context_new (PublishOptions *o)
{
  const GOptionEntry entries[] = {
    { "tracker", 0, 0, G_OPTION_ARG_STRING, &o->tracker,
      "The tracker, e.g. https://tracker.example:8443 (default: $ATLAS_TRACKER_URL)", "URL" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &o->token,
      "Uploader token (better: $ATLAS_TRACKER_TOKEN, which ps does not show)", "T" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &o->name,
      "Index entry name (default: the file name; letters, digits and . _ + -)", "N" },
    { "version", 0, 0, G_OPTION_ARG_STRING, &o->version, "Version of this entry", "V" },
    { "description", 0, 0, G_OPTION_ARG_STRING, &o->description, "One-paragraph description", "D" },
    { "mirror", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &o->mirrors,
      "A URL where the file can be downloaded (repeatable)", "URL" },
    { "piece-size", 0, 0, G_OPTION_ARG_STRING, &o->piece_size,
      "Bytes per hashed piece, e.g. 1M (default: 1M, more for very large files)", "SIZE" },
    { "private", 0, 0, G_OPTION_ARG_NONE, &o->private_entry,
      "Only you, admins and --allow tokens see the entry", NULL },
    { "allow", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->allow,
      "With --private: a token name that may see it (repeatable)", "NAME" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o->output,
      "Where to write the Metalink (default: FILE.meta4 next to the file)", "FILE.meta4" },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ca_file,
      "Also trust the certificates in FILE for the tracker", "FILE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o->json, "Print the result as one JSON object", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet, "Print errors only", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->args, NULL, NULL },
    { NULL }
  };
  GOptionContext *context =
      g_option_context_new ("FILE --tracker URL — publish a file in a tracker's index");

  g_option_context_set_summary (
      context, "Hashes FILE (SHA-256 of the whole file and of every piece), writes its\n"
               "Metalink with the given mirrors, and registers it with the tracker, so\n"
               "'atlas get NAME --tracker URL' finds it. The token must have the uploader\n"
               "or admin role.");
  g_option_context_add_main_entries (context, entries, NULL);
  return context;
}

GOptionContext *
atlas_cli_publish_option_context (void)
{
  static PublishOptions help_options;

  return publish_context_new (&help_options);
}

/* ---- hashing, on a worker thread ---- */

typedef struct
{
  char *path;
  guint64 piece_length;
} HashJob;

typedef struct
{
  guint64 size;
  AtlasChecksum whole;
  GBytes *pieces;
  guint n_pieces;
} HashResult;

static void
hash_job_free (HashJob *job)
{
  g_free (job->path);
  g_free (job);
}

static void
hash_result_free (HashResult *result)
{
  g_clear_pointer (&result->pieces, g_bytes_unref);
  g_free (result);
}

static void
hash_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  HashJob *job = task_data;
  g_autoptr (GFile) file = g_file_new_for_path (job->path);
  g_autoptr (GFileInputStream) stream = NULL;
  g_autoptr (AtlasHasher) whole = atlas_hasher_new (ATLAS_HASH_SHA256);
  g_autoptr (AtlasHasher) piece = atlas_hasher_new (ATLAS_HASH_SHA256);
  g_autoptr (GByteArray) digests = g_byte_array_new ();
  g_autofree guint8 *buffer = g_malloc (READ_BUFFER);
  g_autoptr (GError) error = NULL;
  HashResult *result;
  guint64 in_piece = 0;
  guint64 size = 0;
  guint8 digest[ATLAS_HASH_MAX_DIGEST];

  stream = g_file_read (file, cancellable, &error);
  if (stream == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  for (;;)
    {
      gssize n =
          g_input_stream_read (G_INPUT_STREAM (stream), buffer, READ_BUFFER, cancellable, &error);
      gsize offset = 0;

      if (n < 0)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      if (n == 0)
        break;

      atlas_hasher_update (whole, buffer, (gsize) n);
      size += (guint64) n;
      /* Piece boundaries fall anywhere inside a read. */
      while (offset < (gsize) n)
        {
          gsize take = (gsize) MIN ((guint64) n - offset, job->piece_length - in_piece);

          atlas_hasher_update (piece, buffer + offset, take);
          offset += take;
          in_piece += take;
          if (in_piece == job->piece_length)
            {
              atlas_hasher_finish (piece, digest);
              g_byte_array_append (digests, digest, 32);
              in_piece = 0;
            }
        }
    }
  if (in_piece > 0)
    {
      atlas_hasher_finish (piece, digest);
      g_byte_array_append (digests, digest, 32);
    }

  result = g_new0 (HashResult, 1);
  result->size = size;
  result->whole.type = ATLAS_HASH_SHA256;
  atlas_hasher_finish (whole, result->whole.digest);
  result->n_pieces = digests->len / 32;
  result->pieces = g_byte_array_free_to_bytes (g_steal_pointer (&digests));
  g_task_return_pointer (task, result, (GDestroyNotify) hash_result_free);
}

static HashResult *
hash_file (const char *path, guint64 piece_length, GError **error)
{
  g_autoptr (GTask) task = g_task_new (NULL, atlas_cli_interrupt_cancellable (), NULL, NULL);
  HashJob *job = g_new0 (HashJob, 1);

  job->path = g_strdup (path);
  job->piece_length = piece_length;
  g_task_set_task_data (task, job, (GDestroyNotify) hash_job_free);
  g_task_run_in_thread (task, hash_thread);
  while (!g_task_get_completed (task))
    g_main_context_iteration (NULL, TRUE);
  return g_task_propagate_pointer (task, error);
}

/* ---- the command ---- */

static gboolean
choose_piece_length (PublishOptions *o, guint64 size, guint64 *piece_length, GError **error)
{
  guint64 length = DEFAULT_PIECE_SIZE;

  if (o->piece_size != NULL)
    {
      /* The rate parser reads the same "1M", "512K" spellings. */
      if (!atlas_cli_parse_rate (o->piece_size, &length, NULL) || length < MIN_PIECE_SIZE
          || length > MAX_PIECE_SIZE)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--piece-size wants a size from 16K to 256M, not '%s'", o->piece_size);
          return FALSE;
        }
    }
  else
    {
      while (size / length >= TARGET_MAX_PIECES && length < MAX_PIECE_SIZE)
        length *= 2;
    }

  if ((size + length - 1) / length > ATLAS_METALINK_MAX_PIECES)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--piece-size %s makes more than %u pieces; choose a larger one", o->piece_size,
                   ATLAS_METALINK_MAX_PIECES);
      return FALSE;
    }
  *piece_length = length;
  return TRUE;
}

static char *
build_metalink (PublishOptions *o, const char *path, const HashResult *hashed, guint64 piece_length)
{
  g_autoptr (AtlasMetalink) metalink = atlas_metalink_new ();
  AtlasMetalinkFile *file = atlas_metalink_file_new ();

  file->name = g_path_get_basename (path);
  file->size = (gint64) hashed->size;
  g_array_append_val (file->hashes, hashed->whole);
  file->piece_type = ATLAS_HASH_SHA256;
  file->piece_length = piece_length;
  file->piece_digests = g_bytes_ref (hashed->pieces);
  file->n_pieces = hashed->n_pieces;
  if (o->version != NULL && *o->version != '\0')
    file->version = g_strdup (o->version);
  if (o->description != NULL && *o->description != '\0')
    file->description = g_strdup (o->description);
  for (guint i = 0; o->mirrors != NULL && o->mirrors[i] != NULL; i++)
    {
      AtlasMetalinkUrl *url = g_new0 (AtlasMetalinkUrl, 1);

      url->url = g_strdup (o->mirrors[i]);
      url->priority = i + 1;
      g_ptr_array_add (file->urls, url);
    }
  g_ptr_array_add (metalink->files, file);
  return atlas_metalink_to_xml (metalink);
}

static int
check_options (PublishOptions *o, const char **tracker, const char **token)
{
  if (o->args == NULL || o->args[0] == NULL)
    return atlas_cli_usage_error ("publish", "'atlas publish' needs the FILE to publish");
  if (o->args[1] != NULL)
    return atlas_cli_usage_error ("publish", "'atlas publish' takes one FILE, not '%s' too",
                                  o->args[1]);
  if (o->json && o->quiet)
    return atlas_cli_usage_error ("publish", "--json and --quiet cannot be combined");

  *tracker = atlas_cli_tracker_url (o->tracker);
  if (*tracker == NULL)
    return atlas_cli_usage_error ("publish", "which tracker? Give --tracker URL");
  *token = atlas_cli_tracker_token (o->token);
  if (*token == NULL)
    return atlas_cli_usage_error ("publish",
                                  "publishing needs an uploader token: set ATLAS_TRACKER_TOKEN");

  if (o->name != NULL && !atlas_cli_entry_name_is_valid (o->name))
    return atlas_cli_usage_error ("publish",
                                  "--name '%s' is not an entry name: use 1 to 128 letters, "
                                  "digits and . _ + -",
                                  o->name);
  if (o->version != NULL && (strlen (o->version) > 64 || strchr (o->version, '@') != NULL))
    return atlas_cli_usage_error ("publish", "--version takes at most 64 characters, no '@'");
  if (o->description != NULL && strlen (o->description) > 4096)
    return atlas_cli_usage_error ("publish", "--description takes at most 4096 bytes");
  if (o->allow != NULL && o->allow[0] != NULL && !o->private_entry)
    return atlas_cli_usage_error ("publish", "--allow only makes sense with --private");
  for (guint i = 0; o->mirrors != NULL && o->mirrors[i] != NULL; i++)
    if (!atlas_url_is_supported (o->mirrors[i]))
      return atlas_cli_usage_error ("publish", "mirror '%s' is not an http(s) or ftp URL",
                                    o->mirrors[i]);
  for (const char *p = o->version; p != NULL && *p != '\0'; p++)
    if ((guchar) *p < 0x20)
      return atlas_cli_usage_error ("publish", "--version cannot hold control characters");
  return ATLAS_CLI_EXIT_OK;
}

static int
report_tracker_error (const GError *error, const char *name, const char *tracker)
{
  if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_EXISTS))
    atlas_cli_error ("cannot publish '%s': %s. Publish it with another --version.", name,
                     error->message);
  else if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_PERMISSION))
    atlas_cli_error ("cannot publish '%s': %s. Publishing needs a valid token with the "
                     "uploader or admin role.",
                     name, error->message);
  else
    atlas_cli_error ("cannot publish '%s' on %s: %s.", name, tracker, error->message);
  return atlas_cli_exit_code_for_error (error);
}

int
atlas_cli_cmd_publish (int argc, char **argv)
{
  g_auto (PublishOptions) o = { 0 };
  g_autoptr (GOptionContext) context = publish_context_new (&o);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasTrackerClient) client = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) xml_bytes = NULL;
  g_autofree char *basename = NULL;
  g_autofree char *metalink_path = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *entry_hex = NULL;
  g_autofree char *whole_hex = NULL;
  HashResult *hashed = NULL;
  const char *tracker = NULL;
  const char *token = NULL;
  const char *path;
  const char *name;
  guint64 piece_length = 0;
  gint64 id;
  GStatBuf st;
  int exit_code;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return atlas_cli_usage_error ("publish", "%s", error->message);
  exit_code = check_options (&o, &tracker, &token);
  if (exit_code != ATLAS_CLI_EXIT_OK)
    return exit_code;

  path = o.args[0];
  basename = g_path_get_basename (path);
  name = o.name != NULL ? o.name : basename;
  if (!atlas_cli_entry_name_is_valid (name))
    return atlas_cli_usage_error ("publish",
                                  "'%s' cannot be an entry name; choose one with --name "
                                  "(letters, digits and . _ + -)",
                                  name);
  if (g_stat (path, &st) != 0)
    {
      int saved_errno = errno;

      atlas_cli_error ("cannot publish '%s': %s.", path, g_strerror (saved_errno));
      return saved_errno == ENOENT ? ATLAS_CLI_EXIT_INVALID_INPUT : ATLAS_CLI_EXIT_IO;
    }
  if (!S_ISREG (st.st_mode) || st.st_size == 0)
    {
      atlas_cli_error ("cannot publish '%s': only a regular, non-empty file can be published.",
                       path);
      return ATLAS_CLI_EXIT_INVALID_INPUT;
    }
  if (!choose_piece_length (&o, (guint64) st.st_size, &piece_length, &error))
    return atlas_cli_usage_error ("publish", "%s", error->message);

  atlas_cli_interrupt_install ();
  if (!o.quiet && !o.json)
    {
      g_autofree char *size = atlas_cli_format_size ((guint64) st.st_size);

      fprintf (stderr, "Hashing %s (%s)…\n", basename, size);
    }
  hashed = hash_file (path, piece_length, &error);
  if (hashed == NULL)
    {
      if (atlas_cli_interrupted ())
        return ATLAS_CLI_EXIT_INTERRUPTED;
      return atlas_cli_report_error (error, "cannot read '%s'", path);
    }
  whole_hex = atlas_checksum_to_hex (&hashed->whole);
  xml = build_metalink (&o, path, hashed, piece_length);
  hash_result_free (hashed);

  if (strlen (xml) > MAX_METALINK_UPLOAD)
    {
      atlas_cli_error ("the Metalink of '%s' would be larger than the tracker's 4 MiB limit; "
                       "choose a larger --piece-size.",
                       path);
      return ATLAS_CLI_EXIT_INVALID_INPUT;
    }

  /* The Metalink is written before registering, so it exists even if the
   * tracker refuses: it can be served from a mirror or published later. */
  metalink_path = o.output != NULL ? g_strdup (o.output) : g_strconcat (path, ".meta4", NULL);
  if (!g_file_set_contents (metalink_path, xml, -1, &error))
    return atlas_cli_report_error (error, "cannot write the Metalink");

  client = atlas_tracker_client_new (tracker, token, o.ca_file);
  xml_bytes = g_bytes_new (xml, strlen (xml));
  atlas_tracker_client_publish_async (client, name, o.version, o.description, xml_bytes,
                                      o.private_entry, (const char *const *) o.allow,
                                      atlas_cli_interrupt_cancellable (), atlas_cli_store_result_cb,
                                      &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  id = atlas_tracker_client_publish_finish (client, result, &entry_hex, &error);
  if (id < 0)
    {
      if (atlas_cli_interrupted ())
        return ATLAS_CLI_EXIT_INTERRUPTED;
      return report_tracker_error (error, name, tracker);
    }

  if (g_strcmp0 (entry_hex, whole_hex) != 0)
    {
      /* The tracker derives the entry from the Metalink we sent; a different
       * value means it is not the service this client was written for. */
      atlas_cli_error ("the tracker registered entry %" G_GINT64_FORMAT
                       " with hash %s, but the file's SHA-256 is %s.",
                       id, entry_hex, whole_hex);
      return ATLAS_CLI_EXIT_FAILED;
    }

  if (o.json)
    {
      g_autoptr (GString) line = g_string_new ("{\"event\":\"published\",\"id\":");

      g_string_append_printf (line, "%" G_GINT64_FORMAT ",\"name\":", id);
      atlas_cli_json_append_string (line, name);
      g_string_append (line, ",\"version\":");
      atlas_cli_json_append_string (line, o.version != NULL ? o.version : "");
      g_string_append (line, ",\"entry\":");
      atlas_cli_json_append_string (line, entry_hex);
      g_string_append (line, ",\"metalink\":");
      atlas_cli_json_append_string (line, metalink_path);
      g_string_append (line, "}");
      printf ("%s\n", line->str);
    }
  else if (!o.quiet)
    {
      printf ("Published %s%s%s as entry %" G_GINT64_FORMAT " (sha256:%s)\n", name,
              o.version != NULL && *o.version != '\0' ? " " : "",
              o.version != NULL ? o.version : "", id, entry_hex);
      printf ("Metalink: %s\n", metalink_path);
    }
  fflush (stdout);
  return ATLAS_CLI_EXIT_OK;
}
