/* atlas-cli-seed.c — `atlas seed`: serve files already on disk to the peers
 * of their tracker entries.
 *
 * Each file is first checked against its Metalink with the engine's repair:
 * an intact file becomes a complete download at once, and a damaged one has
 * its bad pieces fetched again (from the mirrors, and from peers, since the
 * swarm is already running) before it is offered. Peers only ever receive
 * pieces that passed their hash here, and check them again themselves.
 * Seeding goes on until SIGINT or SIGTERM, which is its normal end.
 */

#include "atlas-config.h"

#include <stdio.h>
#include <string.h>

#include "atlas-cli.h"

typedef struct
{
  char *tracker;
  char *token;
  char *file;
  char *dir;
  char *ca_file;
  char *limit;
  gboolean json;
  gboolean quiet;
  AtlasCliPeerOptions peers;
  char **args;
} SeedOptions;

static void
seed_options_clear (SeedOptions *o)
{
  g_clear_pointer (&o->tracker, g_free);
  g_clear_pointer (&o->token, g_free);
  g_clear_pointer (&o->file, g_free);
  g_clear_pointer (&o->dir, g_free);
  g_clear_pointer (&o->ca_file, g_free);
  g_clear_pointer (&o->limit, g_free);
  atlas_cli_peer_options_clear (&o->peers);
  g_clear_pointer (&o->args, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SeedOptions, seed_options_clear)

/* One file to seed: where it is and what it should be. */
typedef struct
{
  char *path;
  AtlasRequest *request;
} SeedItem;

static void
seed_item_free (SeedItem *item)
{
  g_free (item->path);
  atlas_request_free (item->request);
  g_free (item);
}

static GOptionContext *
seed_context_new (SeedOptions *o)
{
  const GOptionEntry entries[] = {
    { "tracker", 0, 0, G_OPTION_ARG_STRING, &o->tracker,
      "The tracker whose swarms to join (default: $ATLAS_TRACKER_URL)", "URL" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &o->token,
      "Token for the tracker (better: $ATLAS_TRACKER_TOKEN, which ps does not show)", "T" },
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &o->file,
      "The local copy of the file (a single file only; default: next to the Metalink)", "PATH" },
    { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &o->dir,
      "Folder holding the files (default: the Metalink's folder; for NAME, this folder)", "DIR" },
    { "limit", 0, 0, G_OPTION_ARG_STRING, &o->limit,
      "Download speed limit while repairing a damaged file, e.g. 20M", "RATE" },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ca_file, "Also trust the certificates in FILE",
      "FILE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o->json, "Print one JSON object per line on stdout", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet, "Print errors only", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->args, NULL, NULL },
    { NULL }
  };
  GOptionContext *context =
      g_option_context_new ("FILE.meta4…|NAME[@VERSION]… — serve files to peers");

  g_option_context_set_summary (
      context, "Serves files you already have to the peers of their tracker entries, until\n"
               "interrupted. Each file (next to its Metalink, or --file, or in --dir) is\n"
               "checked against the Metalink's piece hashes first; damaged pieces are\n"
               "fetched again before the file is offered. A NAME that is not a file is an\n"
               "entry of the tracker's index.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, atlas_cli_peer_option_group (&o->peers, FALSE));
  return context;
}

GOptionContext *
atlas_cli_seed_option_context (void)
{
  /* Only for printing help; the entries point into storage that lives as
   * long as the program. */
  static SeedOptions help_options;

  return seed_context_new (&help_options);
}

/* The files the arguments name. Usage mistakes are G_OPTION_ERROR. */
static GPtrArray *
collect_items (SeedOptions *o, const char *tracker_url, GError **error)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) seed_item_free);

  for (guint a = 0; o->args[a] != NULL; a++)
    {
      const char *arg = o->args[a];
      g_autoptr (AtlasMetalink) metalink = NULL;
      g_autoptr (GPtrArray) requests = NULL;
      g_autofree char *base = NULL;

      if (atlas_cli_is_metalink_path (arg) || g_file_test (arg, G_FILE_TEST_IS_REGULAR))
        {
          g_autofree char *metalink_dir = g_path_get_dirname (arg);

          metalink = atlas_cli_load_metalink (arg, error);
          base = g_canonicalize_filename (o->dir != NULL ? o->dir : metalink_dir, NULL);
        }
      else if (atlas_cli_is_entry_argument (arg))
        {
          metalink = atlas_cli_entry_fetch_metalink (
              tracker_url, atlas_cli_tracker_token (o->token), o->ca_file, arg, error);
          base = g_canonicalize_filename (o->dir != NULL ? o->dir : ".", NULL);
        }
      else
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "'%s' is neither a Metalink file (.meta4, .metalink) nor an index entry "
                       "name",
                       arg);
          return NULL;
        }
      if (metalink == NULL)
        return NULL;

      requests = atlas_request_list_from_metalink (metalink, base);
      for (guint i = 0; i < requests->len; i++)
        {
          SeedItem *item = g_new0 (SeedItem, 1);
          const char *filename;
          g_autofree char *dir = NULL;
          g_autofree char *name = NULL;

          item->request = atlas_request_copy (g_ptr_array_index (requests, i));
          filename = atlas_request_get_filename (item->request);
          item->path = o->file != NULL ? g_canonicalize_filename (o->file, NULL)
                                       : g_build_filename (base, filename, NULL);
          g_ptr_array_add (items, item);

          if (!atlas_cli_request_is_shareable (item->request))
            {
              g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                           "cannot seed '%s': the Metalink '%s' has no SHA-256 piece hashes and "
                           "whole-file SHA-256, which peers need to check what they get; "
                           "publish the file with 'atlas publish' to make one",
                           filename, arg);
              return NULL;
            }
          /* The repair works on the file in place, under its own name. */
          dir = g_path_get_dirname (item->path);
          name = g_path_get_basename (item->path);
          atlas_request_set_directory (item->request, dir);
          atlas_request_set_filename (item->request, name);
        }
    }

  if (o->file != NULL && items->len != 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "--file names one file, but the arguments list %u; use --dir DIR instead",
                   items->len);
      return NULL;
    }
  for (guint i = 0; i < items->len; i++)
    {
      SeedItem *item = g_ptr_array_index (items, i);

      if (!g_file_test (item->path, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND,
                       "cannot seed '%s': there is no file '%s'; give its path with --file PATH "
                       "or its folder with --dir DIR",
                       atlas_request_get_filename (item->request), item->path);
          return NULL;
        }
    }
  return g_steal_pointer (&items);
}

/* ---- checking and repairing ---- */

typedef struct
{
  gboolean interrupted;
} Wait;

static void
wait_interrupt_cb (gpointer user_data)
{
  ((Wait *) user_data)->interrupted = TRUE;
}

static gboolean
all_settled (GPtrArray *downloads)
{
  for (guint i = 0; i < downloads->len; i++)
    {
      AtlasDownloadState state = atlas_download_get_state (g_ptr_array_index (downloads, i));

      if (state != ATLAS_DOWNLOAD_COMPLETE && state != ATLAS_DOWNLOAD_FAILED)
        return FALSE;
    }
  return TRUE;
}

/* Checks every file and waits until each one is complete (intact or
 * repaired) or failed. Returns an exit status; @downloads gets one download
 * per file that could be checked. */
static int
check_files (AtlasSession *session, AtlasCliPeers *peers, GPtrArray *items,
             AtlasCliProgress *progress, GPtrArray *downloads)
{
  Wait wait = { 0 };
  int exit_code = ATLAS_CLI_EXIT_OK;

  atlas_cli_interrupt_set_handler (G_CALLBACK (wait_interrupt_cb), &wait);
  wait.interrupted = atlas_cli_interrupted ();
  for (guint i = 0; i < items->len && !wait.interrupted; i++)
    {
      SeedItem *item = g_ptr_array_index (items, i);
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (GError) error = NULL;
      AtlasDownload *download;

      /* Hashing runs on worker threads; Ctrl-C still gets through. */
      atlas_session_repair_async (session, item->path, item->request,
                                  atlas_cli_interrupt_cancellable (), atlas_cli_store_result_cb,
                                  &result);
      while (result == NULL)
        g_main_context_iteration (NULL, TRUE);
      download = atlas_session_repair_finish (session, result, &error);
      if (download == NULL)
        {
          if (!wait.interrupted)
            exit_code = atlas_cli_report_error (error, "cannot seed '%s'", item->path);
          continue;
        }
      g_ptr_array_add (downloads, g_object_ref (download));
      /* Only a damaged file has something to show: its repair. */
      if (atlas_download_get_completed_bytes (download)
          < (guint64) atlas_download_get_size (download))
        {
          atlas_cli_progress_print (progress, TRUE, "atlas: '%s' is damaged; repairing it first.",
                                    item->path);
          atlas_cli_progress_track (progress, download);
        }
    }

  while (!wait.interrupted && atlas_cli_peers_get_refusal (peers) == NULL
         && !all_settled (downloads))
    g_main_context_iteration (NULL, TRUE);
  atlas_cli_interrupt_set_handler (NULL, NULL);

  if (wait.interrupted)
    return ATLAS_CLI_EXIT_INTERRUPTED;
  if (atlas_cli_peers_get_refusal (peers) != NULL)
    return exit_code; /* the caller reports it */

  for (guint i = 0; i < downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (downloads, i);
      const char *message = atlas_download_get_error_message (download);

      if (atlas_download_get_state (download) != ATLAS_DOWNLOAD_FAILED)
        continue;
      atlas_cli_error ("cannot seed '%s': it is damaged and could not be repaired from the "
                       "mirrors or peers (%s).",
                       atlas_download_get_path (download),
                       message != NULL ? message : "no source had the missing pieces");
      if (exit_code == ATLAS_CLI_EXIT_OK)
        exit_code = atlas_cli_exit_code_for_download (download);
    }
  return exit_code;
}

/* ---- the command ---- */

static int
finish (AtlasSession *session, AtlasCliPeers *peers, int exit_code)
{
  g_autoptr (GError) error = NULL;

  if (peers != NULL)
    atlas_cli_peers_stop (peers);
  if (!atlas_cli_session_close (session, &error) && exit_code == ATLAS_CLI_EXIT_OK)
    exit_code = atlas_cli_report_error (error, "cannot stop seeding cleanly");
  return exit_code;
}

int
atlas_cli_cmd_seed (int argc, char **argv)
{
  g_auto (SeedOptions) o = { 0 };
  g_autoptr (GOptionContext) context = seed_context_new (&o);
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasCliProgress) progress = NULL;
  g_autoptr (AtlasSession) session = NULL;
  g_autoptr (AtlasCliPeers) peers = NULL;
  g_autoptr (GPtrArray) items = NULL;
  g_autoptr (GPtrArray) downloads = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) complete = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;
  const char *tracker_url;
  const char *token;
  int exit_code = ATLAS_CLI_EXIT_OK;
  int serve_code;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return atlas_cli_usage_error ("seed", "%s", error->message);
  if (o.args == NULL || o.args[0] == NULL)
    return atlas_cli_usage_error ("seed", "'atlas seed' needs a Metalink file or an entry name");
  if (o.json && o.quiet)
    return atlas_cli_usage_error ("seed", "--json and --quiet cannot be combined");
  if (o.peers.no_peers)
    return atlas_cli_usage_error ("seed", "--no-peers leaves nobody to seed to");
  tracker_url = atlas_cli_tracker_url (o.tracker);
  token = atlas_cli_tracker_token (o.token);
  if (tracker_url == NULL)
    return atlas_cli_usage_error (
        "seed", "seeding needs a tracker: give --tracker URL or set ATLAS_TRACKER_URL");
  if (token == NULL)
    return atlas_cli_usage_error (
        "seed", "seeding needs a tracker token: set ATLAS_TRACKER_TOKEN (or --token)");
  if (!atlas_cli_apply_settings (settings, 0, 0, 0, o.limit, o.ca_file, &error))
    return atlas_cli_usage_error ("seed", "%s", error->message);

  atlas_cli_interrupt_install ();
  items = collect_items (&o, tracker_url, &error);
  if (items == NULL)
    {
      if (error->domain == G_OPTION_ERROR)
        return atlas_cli_usage_error ("seed", "%s", error->message);
      atlas_cli_error ("%s.", error->message);
      return atlas_cli_exit_code_for_error (error);
    }

  progress = atlas_cli_progress_new (atlas_cli_progress_choose_mode (o.json, o.quiet));
  /* No queue: what is seeded is the file on disk, checked afresh each time. */
  session = atlas_cli_open_queue (NULL, settings, &exit_code);
  if (session == NULL)
    return exit_code;

  peers = atlas_cli_peers_new (&o.peers, tracker_url, token, o.ca_file, session, progress, TRUE,
                               &error);
  if (peers == NULL)
    {
      exit_code = error->domain == G_OPTION_ERROR
                      ? atlas_cli_usage_error ("seed", "%s", error->message)
                      : atlas_cli_report_error (error, "cannot join the swarm");
      return finish (session, NULL, exit_code);
    }
  atlas_cli_peers_start (peers);
  atlas_session_start (session);

  exit_code = check_files (session, peers, items, progress, downloads);
  if (atlas_cli_peers_get_refusal (peers) != NULL)
    {
      atlas_cli_report_error (atlas_cli_peers_get_refusal (peers),
                              "cannot seed through the tracker %s", tracker_url);
      return finish (session, peers, ATLAS_CLI_EXIT_FAILED);
    }
  if (exit_code == ATLAS_CLI_EXIT_INTERRUPTED)
    {
      atlas_cli_progress_clear (progress);
      atlas_cli_error ("interrupted before seeding began.");
      return finish (session, peers, exit_code);
    }

  for (guint i = 0; i < downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (downloads, i);

      if (atlas_download_get_state (download) != ATLAS_DOWNLOAD_COMPLETE)
        continue;
      atlas_cli_peers_announce_seeding (peers, download);
      g_ptr_array_add (complete, g_object_ref (download));
    }
  if (complete->len == 0)
    return finish (session, peers,
                   exit_code != ATLAS_CLI_EXIT_OK ? exit_code : ATLAS_CLI_EXIT_FAILED);

  /* Files that could not be checked do not stop the others; the status
   * still tells a script that something was wrong. */
  serve_code = atlas_cli_peers_serve (peers, complete);
  if (exit_code == ATLAS_CLI_EXIT_OK)
    exit_code = serve_code;
  return finish (session, peers, exit_code);
}
