/* atlas-cli-queue.c — commands that edit or run the persistent queue:
 * list, pause, resume, remove and run. (`add` shares get's options and
 * lives in atlas-cli-get.c.)
 *
 * Editing commands open the queue without atlas_session_start(), so nothing
 * transfers while they run, and always close it so the store is flushed.
 */

#include "atlas-config.h"

#include <stdio.h>
#include <string.h>

#include "atlas-cli.h"

typedef struct
{
  gboolean all;
  gboolean json;
  gboolean quiet;
  gboolean delete_files;
  char *queue_file;
  int max_per_server;
  int max_per_download;
  int max_concurrent;
  char *limit;
  char *ca_file;
  char *tracker;
  char *token;
  AtlasCliPeerOptions peers;
  char **args;
} QueueOptions;

static void
queue_options_clear (QueueOptions *o)
{
  g_clear_pointer (&o->queue_file, g_free);
  g_clear_pointer (&o->limit, g_free);
  g_clear_pointer (&o->ca_file, g_free);
  g_clear_pointer (&o->tracker, g_free);
  g_clear_pointer (&o->token, g_free);
  atlas_cli_peer_options_clear (&o->peers);
  g_clear_pointer (&o->args, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (QueueOptions, queue_options_clear)

static GOptionContext *
queue_context_new (QueueOptions *o, const char *command)
{
  const GOptionEntry queue_file[] = {
    { "queue-file", 0, 0, G_OPTION_ARG_FILENAME, &o->queue_file,
      "Queue to use (default: $ATLAS_QUEUE_FILE or the user's queue)", "PATH" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->args, NULL, NULL },
    { NULL }
  };
  const GOptionEntry json[] = { { "json", 0, 0, G_OPTION_ARG_NONE, &o->json,
                                  "Print one JSON object per line on stdout", NULL },
                                { NULL } };
  const GOptionEntry all[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &o->all, "Every download in the queue", NULL }, { NULL }
  };
  const GOptionEntry remove[] = {
    { "delete-files", 0, 0, G_OPTION_ARG_NONE, &o->delete_files,
      "Also delete the partial file and, if complete, the file itself", NULL },
    { NULL }
  };
  const GOptionEntry run[] = {
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet, "Print errors only", NULL },
    { "max-connections-per-server", 'x', 0, G_OPTION_ARG_INT, &o->max_per_server,
      "Connections per server, across downloads", "N" },
    { "max-connections", 's', 0, G_OPTION_ARG_INT, &o->max_per_download, "Connections per download",
      "N" },
    { "max-concurrent", 'j', 0, G_OPTION_ARG_INT, &o->max_concurrent,
      "Downloads transferring at once", "N" },
    { "limit", 0, 0, G_OPTION_ARG_STRING, &o->limit,
      "Total speed limit, e.g. 500K, 20M (bytes/s; 0 = none)", "RATE" },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ca_file, "Also trust the certificates in FILE",
      "FILE" },
    { "tracker", 0, 0, G_OPTION_ARG_STRING, &o->tracker,
      "Exchange pieces with peers through this tracker (default: $ATLAS_TRACKER_URL)", "URL" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &o->token,
      "Token for --tracker (better: $ATLAS_TRACKER_TOKEN, which ps does not show)", "T" },
    { NULL }
  };
  GOptionContext *context = NULL;

  if (g_str_equal (command, "list"))
    {
      context = g_option_context_new ("— show the queue");
      g_option_context_set_summary (
          context, "Prints each download: id, state, progress, size, name and error.");
      g_option_context_add_main_entries (context, json, NULL);
    }
  else if (g_str_equal (command, "pause") || g_str_equal (command, "resume"))
    {
      context = g_option_context_new (g_str_equal (command, "pause")
                                          ? "ID…|--all — pause downloads"
                                          : "ID…|--all — resume paused or retry failed downloads");
      g_option_context_set_summary (
          context, "IDs are the first column of 'atlas list'. The change is saved in the\n"
                   "queue; 'atlas run' (or the app) does the transfers.");
      g_option_context_add_main_entries (context, all, NULL);
    }
  else if (g_str_equal (command, "remove"))
    {
      context = g_option_context_new ("ID… — remove downloads from the queue");
      g_option_context_add_main_entries (context, remove, NULL);
    }
  else if (g_str_equal (command, "run"))
    {
      context = g_option_context_new ("— transfer the queue until nothing is left to do");
      g_option_context_set_summary (
          context, "Runs every queued download until each is complete or failed.\n"
                   "Paused downloads stay paused. Ctrl-C stops and keeps progress.");
      g_option_context_add_main_entries (context, json, NULL);
      g_option_context_add_main_entries (context, run, NULL);
      g_option_context_add_group (context, atlas_cli_peer_option_group (&o->peers, FALSE));
    }
  else
    return NULL;

  g_option_context_add_main_entries (context, queue_file, NULL);
  return context;
}

GOptionContext *
atlas_cli_queue_option_context (const char *command)
{
  static QueueOptions help_options;

  return queue_context_new (&help_options, command);
}

static int
parse (QueueOptions *o, const char *command, int argc, char **argv)
{
  g_autoptr (GOptionContext) context = queue_context_new (o, command);
  g_autoptr (GError) error = NULL;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return atlas_cli_usage_error (command, "%s", error->message);
  return ATLAS_CLI_EXIT_OK;
}

static int
finish (AtlasSession *session, int exit_code)
{
  g_autoptr (GError) error = NULL;

  if (!atlas_cli_session_close (session, &error) && exit_code == ATLAS_CLI_EXIT_OK)
    return atlas_cli_report_error (error, "cannot save the queue");
  return exit_code;
}

/* The downloads named by @ids (or every one with @all), resolved before any
 * change so a typo in the last id changes nothing. */
static int
collect (AtlasSession *session, const char *command, gboolean all, char **ids, GPtrArray *out)
{
  if (all)
    {
      GListModel *model = G_LIST_MODEL (session);

      for (guint i = 0; i < g_list_model_get_n_items (model); i++)
        g_ptr_array_add (out, g_list_model_get_item (model, i));
      return ATLAS_CLI_EXIT_OK;
    }

  for (guint i = 0; ids[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      AtlasDownload *download;
      guint64 id;

      if (!atlas_cli_parse_id (ids[i], &id, &error))
        return atlas_cli_usage_error (command, "%s", error->message);

      download = atlas_session_lookup (session, id);
      if (download == NULL)
        {
          atlas_cli_error ("there is no download %" G_GUINT64_FORMAT " in the queue. "
                           "Run 'atlas list' to see the ids.",
                           id);
          return ATLAS_CLI_EXIT_INVALID_INPUT;
        }
      g_ptr_array_add (out, g_object_ref (download));
    }
  return ATLAS_CLI_EXIT_OK;
}

static char *
format_progress (AtlasDownload *download)
{
  gint64 size = atlas_download_get_size (download);

  if (atlas_download_get_state (download) == ATLAS_DOWNLOAD_COMPLETE)
    return g_strdup ("100%");
  if (size <= 0)
    return g_strdup ("?");
  return g_strdup_printf (
      "%d%%",
      (int) (100.0 * (double) atlas_download_get_completed_bytes (download) / (double) size));
}

int
atlas_cli_cmd_list (int argc, char **argv)
{
  g_auto (QueueOptions) o = { 0 };
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasSession) session = NULL;
  g_autofree char *store_path = NULL;
  GListModel *model;
  int exit_code = parse (&o, "list", argc, argv);

  if (exit_code != ATLAS_CLI_EXIT_OK)
    return exit_code;
  if (o.args != NULL && o.args[0] != NULL)
    return atlas_cli_usage_error ("list", "'atlas list' takes no arguments");

  atlas_cli_interrupt_install ();
  store_path = atlas_cli_queue_path (o.queue_file);
  session = atlas_cli_open_queue (store_path, settings, &exit_code);
  if (session == NULL)
    return exit_code;

  model = G_LIST_MODEL (session);
  if (!o.json && g_list_model_get_n_items (model) > 0)
    printf ("%6s  %-9s  %4s  %10s  %s\n", "ID", "STATE", "DONE", "SIZE", "NAME");

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (model, i);

      if (o.json)
        {
          g_autoptr (GString) line = g_string_new ("{");

          atlas_cli_json_append_download (line, download);
          g_string_append_c (line, '}');
          printf ("%s\n", line->str);
        }
      else
        {
          g_autofree char *progress = format_progress (download);
          gint64 size = atlas_download_get_size (download);
          g_autofree char *size_text =
              size >= 0 ? atlas_cli_format_size ((guint64) size) : g_strdup ("?");
          const char *error_message = atlas_download_get_error_message (download);

          printf ("%6" G_GUINT64_FORMAT "  %-9s  %4s  %10s  %s", atlas_download_get_id (download),
                  atlas_download_state_to_string (atlas_download_get_state (download)), progress,
                  size_text, atlas_download_get_name (download));
          if (atlas_download_get_state (download) == ATLAS_DOWNLOAD_FAILED && error_message != NULL)
            printf ("  (%s)", error_message);
          printf ("\n");
        }
    }
  fflush (stdout);

  return finish (session, ATLAS_CLI_EXIT_OK);
}

static int
pause_or_resume (const char *command, gboolean pause, int argc, char **argv)
{
  g_auto (QueueOptions) o = { 0 };
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasSession) session = NULL;
  g_autoptr (GPtrArray) downloads = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *store_path = NULL;
  int exit_code = parse (&o, command, argc, argv);

  if (exit_code != ATLAS_CLI_EXIT_OK)
    return exit_code;
  if (o.all == (o.args != NULL && o.args[0] != NULL))
    return atlas_cli_usage_error (command, "give download ids or --all (not both)");

  atlas_cli_interrupt_install ();
  store_path = atlas_cli_queue_path (o.queue_file);
  session = atlas_cli_open_queue (store_path, settings, &exit_code);
  if (session == NULL)
    return exit_code;

  exit_code = collect (session, command, o.all, o.args, downloads);
  if (exit_code != ATLAS_CLI_EXIT_OK)
    return finish (session, exit_code);

  for (guint i = 0; i < downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (downloads, i);
      AtlasDownloadState state = atlas_download_get_state (download);

      if (pause && (state == ATLAS_DOWNLOAD_QUEUED || state == ATLAS_DOWNLOAD_ACTIVE))
        atlas_download_pause (download);
      else if (!pause && (state == ATLAS_DOWNLOAD_PAUSED || state == ATLAS_DOWNLOAD_FAILED))
        atlas_download_resume (download);
      else if (!o.all)
        {
          /* Naming a download explicitly and finding nothing to do deserves a word. */
          fprintf (stderr, "atlas: download %" G_GUINT64_FORMAT " is %s; nothing to %s.\n",
                   atlas_download_get_id (download), atlas_download_state_to_string (state),
                   command);
          continue;
        }
      else
        continue;

      printf ("%" G_GUINT64_FORMAT " %s\n", atlas_download_get_id (download),
              atlas_download_state_to_string (atlas_download_get_state (download)));
    }
  fflush (stdout);

  return finish (session, exit_code);
}

int
atlas_cli_cmd_pause (int argc, char **argv)
{
  return pause_or_resume ("pause", TRUE, argc, argv);
}

int
atlas_cli_cmd_resume (int argc, char **argv)
{
  return pause_or_resume ("resume", FALSE, argc, argv);
}

int
atlas_cli_cmd_remove (int argc, char **argv)
{
  g_auto (QueueOptions) o = { 0 };
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasSession) session = NULL;
  g_autoptr (GPtrArray) downloads = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *store_path = NULL;
  int exit_code = parse (&o, "remove", argc, argv);

  if (exit_code != ATLAS_CLI_EXIT_OK)
    return exit_code;
  if (o.args == NULL || o.args[0] == NULL)
    return atlas_cli_usage_error ("remove",
                                  "'atlas remove' needs the ids of the downloads to remove");

  atlas_cli_interrupt_install ();
  store_path = atlas_cli_queue_path (o.queue_file);
  session = atlas_cli_open_queue (store_path, settings, &exit_code);
  if (session == NULL)
    return exit_code;

  exit_code = collect (session, "remove", FALSE, o.args, downloads);
  if (exit_code != ATLAS_CLI_EXIT_OK)
    return finish (session, exit_code);

  for (guint i = 0; i < downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (downloads, i);
      guint64 id = atlas_download_get_id (download);

      atlas_session_remove (session, download, o.delete_files);
      printf ("%" G_GUINT64_FORMAT " removed%s\n", id, o.delete_files ? " (files deleted)" : "");
    }
  fflush (stdout);

  return finish (session, exit_code);
}

int
atlas_cli_cmd_run (int argc, char **argv)
{
  g_auto (QueueOptions) o = { 0 };
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasSession) session = NULL;
  g_autoptr (AtlasCliProgress) progress = NULL;
  g_autoptr (AtlasCliPeers) peers = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *store_path = NULL;
  const char *tracker_url;
  int exit_code = parse (&o, "run", argc, argv);

  if (exit_code != ATLAS_CLI_EXIT_OK)
    return exit_code;
  if (o.args != NULL && o.args[0] != NULL)
    return atlas_cli_usage_error ("run",
                                  "'atlas run' takes no arguments; add downloads with 'atlas add'");
  if (o.json && o.quiet)
    return atlas_cli_usage_error ("run", "--json and --quiet cannot be combined");
  if (!atlas_cli_apply_settings (settings, o.max_per_server, o.max_per_download, o.max_concurrent,
                                 o.limit, o.ca_file, &error))
    return atlas_cli_usage_error ("run", "%s", error->message);

  progress = atlas_cli_progress_new (atlas_cli_progress_choose_mode (o.json, o.quiet));
  atlas_cli_interrupt_install ();
  store_path = atlas_cli_queue_path (o.queue_file);
  session = atlas_cli_open_queue (store_path, settings, &exit_code);
  if (session == NULL)
    return exit_code;

  /* The queue's downloads are only known now; a swarm with nothing to share
   * costs one idle tracker connection. */
  tracker_url = atlas_cli_tracker_url (o.tracker);
  if (tracker_url != NULL && !o.peers.no_peers && atlas_cli_tracker_token (o.token) != NULL)
    {
      peers = atlas_cli_peers_new (&o.peers, tracker_url, atlas_cli_tracker_token (o.token),
                                   o.ca_file, session, progress, FALSE, &error);
      if (peers == NULL)
        return finish (session, error->domain == G_OPTION_ERROR
                                    ? atlas_cli_usage_error ("run", "%s", error->message)
                                    : atlas_cli_report_error (error, "cannot join the swarm"));
      atlas_cli_peers_start (peers);
    }
  atlas_session_start (session);
  exit_code = atlas_cli_run_until_done (session, NULL, progress);
  if (peers != NULL)
    atlas_cli_peers_stop (peers);
  exit_code = finish (session, exit_code);

  if (exit_code == ATLAS_CLI_EXIT_INTERRUPTED || atlas_cli_interrupted ())
    {
      atlas_cli_error ("interrupted; progress is kept in the queue. Run 'atlas run' to continue.");
      return ATLAS_CLI_EXIT_INTERRUPTED;
    }
  return exit_code;
}
