/* atlas-cli-get.c — `atlas get` and `atlas add`, and the loop that runs a
 * session until the downloads a command cares about have settled.
 *
 * With the persistent queue, `get` first looks for a download with the same
 * final path, so running the same command again after a crash or a kill
 * resumes it instead of starting over.
 */

#include "atlas-config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "atlas-cli.h"

typedef struct
{
  char **mirrors;
  char *dir;
  char *output;
  char **checksums;
  char *sums;
  int max_per_server;
  int max_per_download;
  int max_concurrent;
  char *limit;
  char *download_limit;
  char *country;
  char *ca_file;
  gboolean json;
  gboolean quiet;
  gboolean no_queue;
  char *queue_file;
  char *tracker;
  char *token;
  AtlasCliPeerOptions peers;
  char **args;
} GetOptions;

static void
get_options_clear (GetOptions *o)
{
  g_clear_pointer (&o->mirrors, g_strfreev);
  g_clear_pointer (&o->dir, g_free);
  g_clear_pointer (&o->output, g_free);
  g_clear_pointer (&o->checksums, g_strfreev);
  g_clear_pointer (&o->sums, g_free);
  g_clear_pointer (&o->limit, g_free);
  g_clear_pointer (&o->download_limit, g_free);
  g_clear_pointer (&o->country, g_free);
  g_clear_pointer (&o->ca_file, g_free);
  g_clear_pointer (&o->queue_file, g_free);
  g_clear_pointer (&o->tracker, g_free);
  g_clear_pointer (&o->token, g_free);
  atlas_cli_peer_options_clear (&o->peers);
  g_clear_pointer (&o->args, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (GetOptions, get_options_clear)

static GOptionContext *
get_context_new (GetOptions *o, gboolean for_add)
{
  const GOptionEntry common[] = {
    { "mirror", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &o->mirrors,
      "Another URL of the same file (repeatable)", "URL" },
    { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &o->dir,
      "Folder to save into (default: the download folder)", "DIR" },
    { "output", 'o', 0, G_OPTION_ARG_STRING, &o->output,
      "File name to save as (made safe; a single file only)", "NAME" },
    { "checksum", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &o->checksums,
      "Expected hash, e.g. sha256:HEX (repeatable)", "SUM" },
    { "sums", 0, 0, G_OPTION_ARG_FILENAME, &o->sums,
      "SHA256SUMS-style file with the expected hash of the output name", "FILE" },
    { "max-connections-per-server", 'x', 0, G_OPTION_ARG_INT, &o->max_per_server,
      "Connections per server, across downloads", "N" },
    { "max-connections", 's', 0, G_OPTION_ARG_INT, &o->max_per_download, "Connections per download",
      "N" },
    { "max-concurrent", 'j', 0, G_OPTION_ARG_INT, &o->max_concurrent,
      "Downloads transferring at once", "N" },
    { "limit", 0, 0, G_OPTION_ARG_STRING, &o->limit,
      "Total speed limit, e.g. 500K, 20M (bytes/s; 0 = none)", "RATE" },
    { "download-limit", 0, 0, G_OPTION_ARG_STRING, &o->download_limit,
      "Speed limit for each download added by this command", "RATE" },
    { "country", 0, 0, G_OPTION_ARG_STRING, &o->country,
      "Prefer Metalink mirrors located in this country (ISO 3166 code; default: from the locale)",
      "CC" },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ca_file, "Also trust the certificates in FILE",
      "FILE" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet, "Print errors only", NULL },
    { "queue-file", 0, 0, G_OPTION_ARG_FILENAME, &o->queue_file,
      "Queue to use (default: $ATLAS_QUEUE_FILE or the user's queue)", "PATH" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->args, NULL, NULL },
    { NULL }
  };
  const GOptionEntry get_only[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &o->json, "Print one JSON object per line on stdout", NULL },
    { "no-queue", 0, 0, G_OPTION_ARG_NONE, &o->no_queue,
      "Do not use the queue: nothing is kept if interrupted", NULL },
    { "tracker", 0, 0, G_OPTION_ARG_STRING, &o->tracker,
      "Look NAME[@VERSION] up in this tracker's index (default: $ATLAS_TRACKER_URL)", "URL" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &o->token,
      "Token for --tracker (better: $ATLAS_TRACKER_TOKEN, which ps does not show)", "T" },
    { NULL }
  };
  GOptionContext *context;

  if (for_add)
    {
      context = g_option_context_new ("URL|FILE.meta4 [MIRROR-URL…] — add a download to the queue");
      g_option_context_set_summary (
          context, "Adds one file (or every file of a Metalink) to the queue without\n"
                   "transferring anything, and prints the id of each download.\n"
                   "Extra URLs are mirrors of the same file. Start transfers with 'atlas run'.");
    }
  else
    {
      context = g_option_context_new (
          "URL|FILE.meta4|FILE.metalink|NAME[@VERSION] [MIRROR-URL…] — download a file");
      g_option_context_set_summary (
          context, "Downloads one file, or every file of a Metalink. Extra URLs are mirrors\n"
                   "of the same file. The download is kept in the queue, so running the\n"
                   "same command again after an interruption resumes it. With --tracker,\n"
                   "a NAME that is neither a URL nor a file is an entry of the tracker's\n"
                   "index, fetched from the mirrors its Metalink lists. With a tracker,\n"
                   "files that have SHA-256 piece hashes are also exchanged with peers.");
      g_option_context_add_main_entries (context, get_only, NULL);
      g_option_context_add_group (context, atlas_cli_peer_option_group (&o->peers, TRUE));
    }
  g_option_context_add_main_entries (context, common, NULL);
  return context;
}

GOptionContext *
atlas_cli_get_option_context (gboolean for_add)
{
  /* Only for printing help: the entries point into storage that lives as
   * long as the program. */
  static GetOptions help_options;

  return get_context_new (&help_options, for_add);
}

/* The folder files go to: -d, else the settings' download folder, else the
 * current folder. Always absolute, so the same command from the same place
 * finds the same queued download again. */
static char *
resolve_directory (GetOptions *o, AtlasSettings *settings)
{
  const char *dir = o->dir;

  if (dir == NULL)
    dir = atlas_settings_get_download_directory (settings);
  if (dir == NULL)
    dir = g_get_user_special_dir (G_USER_DIRECTORY_DOWNLOAD);
  if (dir == NULL)
    dir = ".";
  return g_canonicalize_filename (dir, NULL);
}

static gboolean
add_checksum_options (AtlasRequest *request, char **checksums, GError **error)
{
  for (guint i = 0; checksums != NULL && checksums[i] != NULL; i++)
    {
      AtlasChecksum checksum;
      g_autoptr (GError) local_error = NULL;

      if (!atlas_checksum_parse (checksums[i], &checksum, &local_error))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "cannot use checksum '%s': ", checksums[i]);
          return FALSE;
        }
      atlas_request_add_checksum (request, &checksum);
    }
  return TRUE;
}

/* Builds one request per file. Usage mistakes are G_OPTION_ERROR; bad files
 * are the engine's ATLAS_ERROR_INVALID_INPUT or a GFileError. */
/* The country of the user's locale ("de_DE.UTF-8" -> "de"), or NULL. */
static char *
country_from_locale (void)
{
  const char *const *names = g_get_language_names ();

  for (guint i = 0; names[i] != NULL; i++)
    {
      const char *underscore = strchr (names[i], '_');

      if (underscore != NULL && g_ascii_isalpha (underscore[1]) && g_ascii_isalpha (underscore[2])
          && !g_ascii_isalpha (underscore[3]))
        return g_ascii_strdown (underscore + 1, 2);
    }
  return NULL;
}

static gboolean
apply_request_options (GetOptions *o, GPtrArray *requests, GError **error)
{
  g_autofree char *country = NULL;
  guint64 limit = 0;

  if (o->download_limit != NULL && !atlas_cli_parse_rate (o->download_limit, &limit, error))
    return FALSE;
  if (o->country != NULL)
    {
      if (strlen (o->country) != 2 || !g_ascii_isalpha (o->country[0])
          || !g_ascii_isalpha (o->country[1]))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--country wants a two-letter ISO 3166 code such as 'de', not '%s'",
                       o->country);
          return FALSE;
        }
      country = g_ascii_strdown (o->country, -1);
    }
  else
    country = country_from_locale ();

  for (guint i = 0; i < requests->len; i++)
    {
      AtlasRequest *request = g_ptr_array_index (requests, i);

      atlas_request_set_speed_limit (request, limit);
      if (country != NULL)
        atlas_request_set_preferred_location (request, country);
    }
  return TRUE;
}

static GPtrArray *
build_requests (GetOptions *o, const char *directory, GError **error)
{
  g_autoptr (GPtrArray) requests =
      g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_request_free);
  g_autoptr (GPtrArray) sums = NULL;
  g_autofree char *output = NULL;
  const char *first = o->args[0];
  const char *tracker = atlas_cli_tracker_url (o->tracker);
  gboolean from_index = tracker != NULL && atlas_cli_is_entry_argument (first);

  if (o->sums != NULL)
    {
      sums = atlas_cli_load_sums (o->sums, error);
      if (sums == NULL)
        return NULL;
    }

  if (o->output != NULL)
    {
      g_autoptr (GError) local_error = NULL;

      output = atlas_filename_sanitize (o->output, &local_error);
      if (output == NULL)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "cannot save as '%s': ", o->output);
          return NULL;
        }
    }

  if (from_index || atlas_cli_is_metalink_path (first))
    {
      g_autoptr (AtlasMetalink) metalink = NULL;
      g_autoptr (GPtrArray) list = NULL;

      if (g_strv_length (o->args) > 1 || (o->mirrors != NULL && o->mirrors[0] != NULL))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                       "mirrors cannot be added to a Metalink, which lists its own");
          return NULL;
        }

      /* An index entry is its Metalink, fetched from the tracker. */
      metalink = from_index ? atlas_cli_entry_fetch_metalink (
                     tracker, atlas_cli_tracker_token (o->token), o->ca_file, first, error)
                            : atlas_cli_load_metalink (first, error);
      if (metalink == NULL)
        return NULL;

      list = atlas_request_list_from_metalink (metalink, directory);
      if (list->len > 1 && (output != NULL || o->checksums != NULL))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                       "-o and -c apply to a single file, but '%s' lists %u files", first,
                       list->len);
          return NULL;
        }

      for (guint i = 0; i < list->len; i++)
        {
          g_autoptr (AtlasRequest) request = atlas_request_copy (g_ptr_array_index (list, i));

          if (output != NULL)
            atlas_request_set_filename (request, output);
          if (!add_checksum_options (request, o->checksums, error))
            return NULL;
          g_ptr_array_add (requests, g_steal_pointer (&request));
        }
    }
  else
    {
      g_autoptr (AtlasRequest) request = atlas_request_new ();
      g_autofree char *filename = NULL;

      for (guint i = 0; o->args[i] != NULL; i++)
        {
          if (!atlas_url_is_supported (o->args[i]))
            {
              g_set_error (
                  error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                  "'%s' is neither an http(s)/ftp URL nor a Metalink file (.meta4, .metalink)",
                  o->args[i]);
              return NULL;
            }
          atlas_request_add_url (request, o->args[i], 0, NULL);
        }
      for (guint i = 0; o->mirrors != NULL && o->mirrors[i] != NULL; i++)
        {
          if (!atlas_url_is_supported (o->mirrors[i]))
            {
              g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "mirror '%s' is not an http(s) or ftp URL", o->mirrors[i]);
              return NULL;
            }
          atlas_request_add_url (request, o->mirrors[i], 0, NULL);
        }

      /* The name is fixed here rather than left to the engine so the final
       * path is known before adding, which is how a re-run finds its download. */
      filename = output != NULL ? g_strdup (output) : atlas_filename_from_url (first);
      atlas_request_set_filename (request, filename);
      atlas_request_set_directory (request, directory);
      if (!add_checksum_options (request, o->checksums, error))
        return NULL;
      g_ptr_array_add (requests, g_steal_pointer (&request));
    }

  if (!apply_request_options (o, requests, error))
    return NULL;

  if (sums != NULL)
    {
      for (guint i = 0; i < requests->len; i++)
        {
          AtlasRequest *request = g_ptr_array_index (requests, i);
          const char *name = atlas_request_get_filename (request);
          const AtlasSumsEntry *entry = atlas_sums_lookup (sums, name);

          if (entry == NULL)
            {
              g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                           "'%s' has no entry for '%s'; use the checksum file that belongs "
                           "to this download, or give the hash with -c",
                           o->sums, name);
              return NULL;
            }
          atlas_request_add_checksum (request, &entry->checksum);
        }
    }

  return g_steal_pointer (&requests);
}

static char *
request_final_path (const AtlasRequest *request, const char *directory)
{
  const char *dir = atlas_request_get_directory (request);

  return g_build_filename (dir != NULL ? dir : directory, atlas_request_get_filename (request),
                           NULL);
}

/* Adds @request, or returns the download already queued for the same final
 * path. *@existed tells which. */
static AtlasDownload *
add_or_find (AtlasSession *session, const AtlasRequest *request, const char *directory,
             gboolean *existed, GError **error)
{
  g_autofree char *path = request_final_path (request, directory);
  AtlasDownload *download;

  *existed = FALSE;
  download = atlas_session_lookup_by_path (session, path);
  if (download != NULL && atlas_download_get_state (download) == ATLAS_DOWNLOAD_COMPLETE
      && !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      /* Finished once, but the file has since been deleted: fetch it anew. */
      atlas_session_remove (session, download, FALSE);
      download = NULL;
    }
  if (download != NULL)
    {
      *existed = TRUE;
      return download;
    }

  return atlas_session_add (session, request, error);
}

static int
worse_exit (int current, int candidate)
{
  return current != ATLAS_CLI_EXIT_OK ? current : candidate;
}

/* ---- the run loop ---- */

typedef struct
{
  AtlasDownload *download;
  gulong state_id;
  gboolean seen_running;
} RunItem;

typedef struct
{
  AtlasSession *session;
  GArray *items; /* RunItem */
  gboolean whole_queue;
  gulong items_changed_id;
  gboolean done;
  gboolean interrupted;
} Runner;

static gboolean
state_is_running (AtlasDownloadState state)
{
  return state == ATLAS_DOWNLOAD_QUEUED || state == ATLAS_DOWNLOAD_ACTIVE
         || state == ATLAS_DOWNLOAD_VERIFYING;
}

static void
runner_check (Runner *runner)
{
  for (guint i = 0; i < runner->items->len; i++)
    {
      RunItem *item = &g_array_index (runner->items, RunItem, i);
      AtlasDownloadState state = atlas_download_get_state (item->download);

      if (state_is_running (state))
        {
          item->seen_running = TRUE;
          return;
        }
      /* A paused download only counts as settled once it has run: resume()
       * may leave it paused until the session's next tick. */
      if (state == ATLAS_DOWNLOAD_PAUSED && !item->seen_running)
        return;
    }
  runner->done = TRUE;
}

static void
run_item_state_cb (AtlasDownload *download, GParamSpec *pspec, gpointer user_data)
{
  runner_check (user_data);
}

static void
runner_watch (Runner *runner, AtlasDownload *download)
{
  RunItem item = { 0 };

  for (guint i = 0; i < runner->items->len; i++)
    if (g_array_index (runner->items, RunItem, i).download == download)
      return;

  item.download = g_object_ref (download);
  item.seen_running = state_is_running (atlas_download_get_state (download));
  item.state_id =
      g_signal_connect (download, "notify::state", G_CALLBACK (run_item_state_cb), runner);
  g_array_append_val (runner->items, item);
}

static void
runner_items_changed_cb (GListModel *model, guint position, guint removed, guint added,
                         gpointer user_data)
{
  Runner *runner = user_data;

  /* `atlas run` also covers what joins the queue while it runs (a repair). */
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (model, i);

      if (state_is_running (atlas_download_get_state (download)))
        runner_watch (runner, download);
    }
}

static void
runner_interrupt_cb (gpointer user_data)
{
  Runner *runner = user_data;

  runner->interrupted = TRUE;
  runner->done = TRUE;
}

int
atlas_cli_run_until_done (AtlasSession *session, GPtrArray *downloads, AtlasCliProgress *progress)
{
  Runner runner = { 0 };
  int exit_code = ATLAS_CLI_EXIT_OK;

  runner.session = session;
  runner.items = g_array_new (FALSE, TRUE, sizeof (RunItem));
  runner.whole_queue = downloads == NULL;

  if (downloads != NULL)
    {
      for (guint i = 0; i < downloads->len; i++)
        runner_watch (&runner, g_ptr_array_index (downloads, i));
    }
  else
    {
      GListModel *model = G_LIST_MODEL (session);

      for (guint i = 0; i < g_list_model_get_n_items (model); i++)
        {
          g_autoptr (AtlasDownload) download = g_list_model_get_item (model, i);

          if (state_is_running (atlas_download_get_state (download)))
            runner_watch (&runner, download);
        }
      if (runner.items->len == 0)
        atlas_cli_progress_print (progress, FALSE,
                                  "Nothing to do: no download in the queue is waiting.");
      runner.items_changed_id = g_signal_connect (session, "items-changed",
                                                  G_CALLBACK (runner_items_changed_cb), &runner);
    }

  for (guint i = 0; i < runner.items->len; i++)
    atlas_cli_progress_track (progress, g_array_index (runner.items, RunItem, i).download);

  atlas_cli_interrupt_set_handler (G_CALLBACK (runner_interrupt_cb), &runner);
  if (atlas_cli_interrupted ())
    runner_interrupt_cb (&runner);

  runner_check (&runner);
  while (!runner.done)
    g_main_context_iteration (NULL, TRUE);

  atlas_cli_interrupt_set_handler (NULL, NULL);
  g_clear_signal_handler (&runner.items_changed_id, session);

  if (runner.interrupted)
    {
      /* stop() keeps every download's state, so the next run continues. */
      atlas_session_stop (session);
      atlas_cli_progress_untrack_all (progress);
      exit_code = ATLAS_CLI_EXIT_INTERRUPTED;
    }

  for (guint i = 0; i < runner.items->len; i++)
    {
      RunItem *item = &g_array_index (runner.items, RunItem, i);
      AtlasDownloadState state = atlas_download_get_state (item->download);

      if (state == ATLAS_DOWNLOAD_FAILED)
        exit_code = worse_exit (exit_code, atlas_cli_exit_code_for_download (item->download));
      else if (state == ATLAS_DOWNLOAD_PAUSED && !runner.whole_queue)
        exit_code = worse_exit (exit_code, ATLAS_CLI_EXIT_FAILED);

      g_clear_signal_handler (&item->state_id, item->download);
      g_clear_object (&item->download);
    }
  g_array_unref (runner.items);

  return exit_code;
}

/* ---- commands ---- */

static int
close_session (AtlasSession *session, int exit_code)
{
  g_autoptr (GError) error = NULL;

  if (!atlas_cli_session_close (session, &error))
    return worse_exit (exit_code, atlas_cli_report_error (error, "cannot save the queue"));
  return exit_code;
}

static int
parse_get_like (GetOptions *o, const char *command, gboolean for_add, int argc, char **argv,
                AtlasSettings *settings)
{
  g_autoptr (GOptionContext) context = get_context_new (o, for_add);
  g_autoptr (GError) error = NULL;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return atlas_cli_usage_error (command, "%s", error->message);
  if (o->args == NULL || o->args[0] == NULL)
    return atlas_cli_usage_error (command, "'atlas %s' needs a URL or a Metalink file", command);
  if (o->json && o->quiet)
    return atlas_cli_usage_error (command, "--json and --quiet cannot be combined");

  if (!atlas_cli_apply_settings (settings, o->max_per_server, o->max_per_download,
                                 o->max_concurrent, o->limit, o->ca_file, &error))
    return atlas_cli_usage_error (command, "%s", error->message);

  return ATLAS_CLI_EXIT_OK;
}

static int
prepare_requests (GetOptions *o, const char *command, AtlasSettings *settings, char **out_directory,
                  GPtrArray **out_requests)
{
  g_autofree char *directory = resolve_directory (o, settings);
  g_autoptr (GError) error = NULL;
  GPtrArray *requests;

  requests = build_requests (o, directory, &error);
  if (requests == NULL)
    {
      if (error->domain == G_OPTION_ERROR)
        return atlas_cli_usage_error (command, "%s", error->message);
      atlas_cli_error ("%s.", error->message);
      return atlas_cli_exit_code_for_error (error);
    }

  if (g_mkdir_with_parents (directory, 0755) != 0)
    {
      int saved_errno = errno;

      g_ptr_array_unref (requests);
      atlas_cli_error ("cannot create the folder '%s': %s. Choose another with -d DIR.", directory,
                       g_strerror (saved_errno));
      return ATLAS_CLI_EXIT_IO;
    }

  *out_directory = g_steal_pointer (&directory);
  *out_requests = requests;
  return ATLAS_CLI_EXIT_OK;
}

int
atlas_cli_cmd_get (int argc, char **argv)
{
  g_auto (GetOptions) o = { 0 };
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasSession) session = NULL;
  g_autoptr (GPtrArray) requests = NULL;
  g_autoptr (GPtrArray) downloads = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (AtlasCliProgress) progress = NULL;
  g_autoptr (AtlasCliPeers) peers = NULL;
  g_autofree char *directory = NULL;
  g_autofree char *store_path = NULL;
  const char *tracker_url;
  gboolean use_peers;
  gboolean seeded = FALSE;
  int exit_code;

  exit_code = parse_get_like (&o, "get", FALSE, argc, argv, settings);
  if (exit_code != ATLAS_CLI_EXIT_OK)
    return exit_code;
  exit_code = prepare_requests (&o, "get", settings, &directory, &requests);
  if (exit_code != ATLAS_CLI_EXIT_OK)
    return exit_code;

  tracker_url = atlas_cli_tracker_url (o.tracker);
  use_peers = atlas_cli_peers_wanted (&o.peers, tracker_url, requests);
  if (use_peers && atlas_cli_tracker_token (o.token) == NULL)
    {
      /* A tracker URL in the environment should not break plain downloads. */
      if (!o.quiet)
        atlas_cli_warning ("no tracker token ($ATLAS_TRACKER_TOKEN or --token): downloading "
                           "without peers");
      use_peers = FALSE;
    }
  if (o.peers.seed_after && !use_peers)
    return atlas_cli_usage_error (
        "get", "--seed-after needs peers: a tracker (--tracker or $ATLAS_TRACKER_URL), its token, "
               "and a file with SHA-256 piece hashes (a Metalink from 'atlas publish')");

  progress = atlas_cli_progress_new (atlas_cli_progress_choose_mode (o.json, o.quiet));
  atlas_cli_interrupt_install ();

  store_path = o.no_queue ? NULL : atlas_cli_queue_path (o.queue_file);
  session = atlas_cli_open_queue (store_path, settings, &exit_code);
  if (session == NULL)
    {
      if (exit_code == ATLAS_CLI_EXIT_BUSY)
        fprintf (stderr, "atlas: or download without the queue: atlas get --no-queue …\n");
      return exit_code;
    }

  if (use_peers)
    {
      g_autoptr (GError) error = NULL;

      peers = atlas_cli_peers_new (&o.peers, tracker_url, atlas_cli_tracker_token (o.token),
                                   o.ca_file, session, progress, FALSE, &error);
      if (peers == NULL)
        {
          exit_code = error->domain == G_OPTION_ERROR
                          ? atlas_cli_usage_error ("get", "%s", error->message)
                          : atlas_cli_report_error (error, "cannot join the swarm");
          return close_session (session, exit_code);
        }
      /* Before the session starts and before downloads are added, so that
       * their first mirror claims are already spread for the swarm. */
      atlas_cli_peers_start (peers);
    }

  for (guint i = 0; i < requests->len; i++)
    {
      const AtlasRequest *request = g_ptr_array_index (requests, i);
      g_autoptr (GError) error = NULL;
      gboolean existed = FALSE;
      AtlasDownload *download;

      download = add_or_find (session, request, directory, &existed, &error);
      if (download == NULL)
        {
          exit_code =
              worse_exit (exit_code, atlas_cli_report_error (error, "cannot download '%s'",
                                                             atlas_request_get_filename (request)));
          continue;
        }

      if (existed)
        {
          AtlasDownloadState state = atlas_download_get_state (download);

          if (state == ATLAS_DOWNLOAD_PAUSED || state == ATLAS_DOWNLOAD_FAILED)
            atlas_download_resume (download);
          if (state != ATLAS_DOWNLOAD_COMPLETE && !o.quiet)
            atlas_cli_progress_print (
                progress, TRUE, "Resuming download %" G_GUINT64_FORMAT " (%s)",
                atlas_download_get_id (download), atlas_download_get_name (download));
        }
      g_ptr_array_add (downloads, g_object_ref (download));
    }

  if (downloads->len > 0)
    {
      atlas_session_start (session);
      exit_code = worse_exit (exit_code, atlas_cli_run_until_done (session, downloads, progress));
    }

  if (peers != NULL && o.peers.seed_after && exit_code == ATLAS_CLI_EXIT_OK && downloads->len > 0
      && !atlas_cli_interrupted ())
    {
      /* Interrupting is how seeding ends, so it is not a failure. */
      for (guint i = 0; i < downloads->len; i++)
        atlas_cli_peers_announce_seeding (peers, g_ptr_array_index (downloads, i));
      exit_code = atlas_cli_peers_serve (peers, downloads);
      seeded = TRUE;
    }
  if (peers != NULL)
    atlas_cli_peers_stop (peers);

  exit_code = close_session (session, exit_code);

  if (atlas_cli_interrupted () && !seeded)
    {
      atlas_cli_progress_clear (progress);
      if (store_path != NULL)
        atlas_cli_error ("interrupted; progress is kept in the queue. "
                         "Run the same command again to resume.");
      else
        atlas_cli_error (
            "interrupted; without the queue (--no-queue) the partial file is not resumable.");
      return ATLAS_CLI_EXIT_INTERRUPTED;
    }
  return exit_code;
}

int
atlas_cli_cmd_add (int argc, char **argv)
{
  g_auto (GetOptions) o = { 0 };
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasSession) session = NULL;
  g_autoptr (GPtrArray) requests = NULL;
  g_autofree char *directory = NULL;
  g_autofree char *store_path = NULL;
  int exit_code;

  exit_code = parse_get_like (&o, "add", TRUE, argc, argv, settings);
  if (exit_code != ATLAS_CLI_EXIT_OK)
    return exit_code;
  exit_code = prepare_requests (&o, "add", settings, &directory, &requests);
  if (exit_code != ATLAS_CLI_EXIT_OK)
    return exit_code;

  atlas_cli_interrupt_install ();
  store_path = atlas_cli_queue_path (o.queue_file);
  session = atlas_cli_open_queue (store_path, settings, &exit_code);
  if (session == NULL)
    return exit_code;

  for (guint i = 0; i < requests->len; i++)
    {
      const AtlasRequest *request = g_ptr_array_index (requests, i);
      g_autoptr (GError) error = NULL;
      gboolean existed = FALSE;
      AtlasDownload *download;

      download = add_or_find (session, request, directory, &existed, &error);
      if (download == NULL)
        {
          exit_code =
              worse_exit (exit_code, atlas_cli_report_error (error, "cannot add '%s'",
                                                             atlas_request_get_filename (request)));
          continue;
        }

      /* stdout carries only ids, one per line, for scripts. */
      printf ("%" G_GUINT64_FORMAT "\n", atlas_download_get_id (download));
      if (existed && !o.quiet)
        fprintf (stderr,
                 "atlas: '%s' was already in the queue as download %" G_GUINT64_FORMAT " (%s).\n",
                 atlas_download_get_path (download), atlas_download_get_id (download),
                 atlas_download_state_to_string (atlas_download_get_state (download)));
    }
  fflush (stdout);

  return close_session (session, exit_code);
}
