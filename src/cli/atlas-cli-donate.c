/* atlas-cli-donate.c — `atlas donate`: give capped storage and upload to the
 * files you support, until interrupted.
 *
 * The engine's AtlasDonor does the work (its own cache, queue, identity and
 * tracker connection); this file turns flags into its settings, resolves
 * causes given by name through the tracker's index, and prints its figures:
 * a line per second, or with --json one JSON object per line.
 */

#include "atlas-config.h"

#include <stdio.h>
#include <string.h>

#include "atlas-cli.h"
#include "atlas-donor.h"

/* Declared here rather than in atlas-cli.h, which another area owns. */
int atlas_cli_cmd_donate (int argc, char **argv);
GOptionContext *atlas_cli_donate_option_context (void);

#define DEFAULT_INTERVAL_MS 1000
#define SEARCH_LIMIT 100

typedef struct
{
  char *tracker;
  char *token_file;
  char *ca_file;
  char *storage;
  char *upload;
  char *budget;
  char **causes;
  char *cache;
  char **local_addresses;
  gboolean ignore_metered;
  gboolean ignore_power_saver;
  gboolean json;
  int interval_ms;
} DonateOptions;

static void
donate_options_clear (DonateOptions *o)
{
  g_clear_pointer (&o->tracker, g_free);
  g_clear_pointer (&o->token_file, g_free);
  g_clear_pointer (&o->ca_file, g_free);
  g_clear_pointer (&o->storage, g_free);
  g_clear_pointer (&o->upload, g_free);
  g_clear_pointer (&o->budget, g_free);
  g_clear_pointer (&o->causes, g_strfreev);
  g_clear_pointer (&o->cache, g_free);
  g_clear_pointer (&o->local_addresses, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DonateOptions, donate_options_clear)

static GOptionContext *
donate_context_new (DonateOptions *o)
{
  const GOptionEntry entries[] = {
    { "tracker", 0, 0, G_OPTION_ARG_STRING, &o->tracker,
      "The tracker (default: $ATLAS_TRACKER_URL)", "URL" },
    { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &o->token_file,
      "Read the tracker token from this file (default: $ATLAS_TRACKER_TOKEN)", "FILE" },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ca_file,
      "Also trust the certificates in this PEM file", "FILE" },
    { "storage", 0, 0, G_OPTION_ARG_STRING, &o->storage,
      "Disk space the donation cache may use, like 500M or 2G (required)", "SIZE" },
    { "upload", 0, 0, G_OPTION_ARG_STRING, &o->upload,
      "Upload at most this many bytes per second to all peers (default: no cap)", "RATE" },
    { "budget", 0, 0, G_OPTION_ARG_STRING, &o->budget,
      "Upload plus fetch at most this much per calendar month (default: no budget)", "SIZE" },
    { "cause", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->causes,
      "What to support: anywhere, an entry hash, publisher:NAME or an entry NAME "
      "(repeatable; default: anywhere)",
      "CAUSE" },
    { "cache", 0, 0, G_OPTION_ARG_FILENAME, &o->cache,
      "The donation cache (default: $XDG_DATA_HOME/download-atlas/donation)", "DIR" },
    { "local-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->local_addresses,
      "Only use this local IP address for peers (repeatable)", "ADDRESS" },
    { "ignore-metered", 0, 0, G_OPTION_ARG_NONE, &o->ignore_metered,
      "Go on donating on a metered network", NULL },
    { "ignore-power-saver", 0, 0, G_OPTION_ARG_NONE, &o->ignore_power_saver,
      "Go on donating in power saver mode", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o->json, "Print one JSON object per line on stdout", NULL },
    { "interval", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &o->interval_ms,
      "Milliseconds between status lines (tests)", "MS" },
    { NULL },
  };
  GOptionContext *context = g_option_context_new ("— donate storage and upload to files");

  g_option_context_set_summary (
      context, "Holds the pieces the tracker asks for in a capped cache and serves them to\n"
               "downloaders, until interrupted (Ctrl+C or SIGTERM ends it, exit status 0).");
  g_option_context_add_main_entries (context, entries, NULL);
  return context;
}

GOptionContext *
atlas_cli_donate_option_context (void)
{
  /* For help only: the options point into a struct nobody reads. */
  static DonateOptions unused;

  return donate_context_new (&unused);
}

static gboolean
parse_size (const char *option, const char *text, gboolean zero_ok, guint64 *out, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  if (!atlas_cli_parse_rate (text, out, &local_error) || (*out == 0 && !zero_ok))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s '%s' is not a size; write bytes like 500M, 20G or 1048576%s", option, text,
                   zero_ok ? "" : " (more than 0)");
      return FALSE;
    }
  return TRUE;
}

static char *
read_token (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "cannot read the token file: %s", local_error->message);
      return NULL;
    }
  g_strstrip (contents);
  if (*contents == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "the token file '%s' is empty",
                   path);
      return NULL;
    }
  return g_steal_pointer (&contents);
}

static gboolean
is_entry_hash (const char *text)
{
  if (strlen (text) != 64)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

/* Every entry named exactly @name (all versions), through the index search. */
static gboolean
resolve_name (AtlasTrackerClient *tracker, const char *name, GPtrArray *entries, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) found = NULL;
  g_autoptr (GError) local_error = NULL;
  guint before = entries->len;

  atlas_tracker_client_search_async (tracker, name, SEARCH_LIMIT,
                                     atlas_cli_interrupt_cancellable (), atlas_cli_store_result_cb,
                                     &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  found = atlas_tracker_client_search_finish (tracker, result, NULL, &local_error);
  if (found == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "cannot look up the cause '%s': ", name);
      return FALSE;
    }
  for (guint i = 0; i < found->len; i++)
    {
      AtlasTrackerEntry *entry = g_ptr_array_index (found, i);

      if (g_strcmp0 (entry->name, name) == 0)
        g_ptr_array_add (entries, g_strdup (entry->entry));
    }
  if (entries->len == before)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND,
                   "the cause '%s' is not an entry on the tracker (give anywhere, an entry "
                   "hash, publisher:NAME or the exact name of an entry)",
                   name);
      return FALSE;
    }
  return TRUE;
}

static gboolean
apply_causes (AtlasDonor *donor, char **causes, GError **error)
{
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) publishers = g_ptr_array_new_with_free_func (g_free);
  gboolean anywhere = causes == NULL || causes[0] == NULL;

  for (guint i = 0; causes != NULL && causes[i] != NULL; i++)
    {
      const char *cause = causes[i];

      if (g_str_equal (cause, "anywhere"))
        anywhere = TRUE;
      else if (is_entry_hash (cause))
        g_ptr_array_add (entries, g_strdup (cause));
      else if (g_str_has_prefix (cause, "publisher:"))
        {
          const char *name = cause + strlen ("publisher:");

          if (!atlas_cli_entry_name_is_valid (name))
            {
              g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--cause '%s': '%s' is not a publisher name", cause, name);
              return FALSE;
            }
          g_ptr_array_add (publishers, g_strdup (name));
        }
      else if (atlas_cli_entry_name_is_valid (cause))
        {
          if (!resolve_name (atlas_donor_get_tracker (donor), cause, entries, error))
            return FALSE;
        }
      else
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--cause '%s' is neither anywhere, an entry hash (64 hex digits), "
                       "publisher:NAME nor an entry name",
                       cause);
          return FALSE;
        }
    }
  g_ptr_array_add (entries, NULL);
  g_ptr_array_add (publishers, NULL);
  atlas_donor_set_causes (donor, anywhere, (const char *const *) entries->pdata,
                          (const char *const *) publishers->pdata);
  return TRUE;
}

/* ---- running ---- */

typedef struct
{
  AtlasDonor *donor;
  const char *tracker_url;
  gboolean json;
  gboolean tty;
  gboolean stop;
  gboolean warned_down;
  GError *fatal;
} Run;

static const char *
reason_name (AtlasDonorPauseReason reason)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (ATLAS_TYPE_DONOR_PAUSE_REASON);
  GEnumValue *value = g_enum_get_value (klass, reason);

  return value != NULL ? value->value_nick : "unknown";
}

static void
print_status (Run *run)
{
  AtlasDonor *donor = run->donor;
  AtlasDonorPauseReason reason = atlas_donor_get_pause_reason (donor);
  GListModel *causes = atlas_donor_get_causes (donor);

  if (run->json)
    {
      g_autoptr (GString) line = g_string_new ("{\"event\":\"donation\",\"state\":");

      atlas_cli_json_append_string (line, reason == ATLAS_DONOR_PAUSE_NONE ? "donating" : "paused");
      g_string_append (line, ",\"pause_reason\":");
      atlas_cli_json_append_string (line, reason_name (reason));
      g_string_append (line, ",\"pause_text\":");
      atlas_cli_json_append_string (line, atlas_donor_get_pause_text (donor));
      g_string_append_printf (
          line,
          ",\"time_ms\":%" G_GINT64_FORMAT ",\"storage_used\":%" G_GUINT64_FORMAT
          ",\"storage_cap\":%" G_GUINT64_FORMAT ",\"upload_rate\":%" G_GUINT64_FORMAT
          ",\"upload_cap\":%" G_GUINT64_FORMAT ",\"uploaded_month\":%" G_GUINT64_FORMAT
          ",\"fetched_month\":%" G_GUINT64_FORMAT ",\"budget\":%" G_GUINT64_FORMAT
          ",\"bytes_served\":%" G_GUINT64_FORMAT ",\"downloads_helped\":%u,\"causes\":[",
          g_get_monotonic_time () / 1000, atlas_donor_get_storage_used (donor),
          atlas_donor_get_storage_cap (donor), atlas_donor_get_upload_rate (donor),
          atlas_donor_get_upload_cap (donor), atlas_donor_get_uploaded_this_month (donor),
          atlas_donor_get_fetched_this_month (donor), atlas_donor_get_monthly_budget (donor),
          atlas_donor_get_bytes_served (donor), atlas_donor_get_downloads_helped (donor));
      for (guint i = 0; i < g_list_model_get_n_items (causes); i++)
        {
          g_autoptr (AtlasDonorCause) cause = g_list_model_get_item (causes, i);

          g_string_append (line, i > 0 ? ",{\"entry\":" : "{\"entry\":");
          atlas_cli_json_append_string (line, atlas_donor_cause_get_entry (cause));
          g_string_append (line, ",\"name\":");
          atlas_cli_json_append_string (line, atlas_donor_cause_get_name (cause));
          g_string_append_printf (line,
                                  ",\"storage_used\":%" G_GUINT64_FORMAT
                                  ",\"bytes_served\":%" G_GUINT64_FORMAT ",\"peers_helped\":%u}",
                                  atlas_donor_cause_get_storage_used (cause),
                                  atlas_donor_cause_get_bytes_served (cause),
                                  atlas_donor_cause_get_peers_helped (cause));
        }
      g_string_append (line, "]}\n");
      fputs (line->str, stdout);
      fflush (stdout);
      return;
    }
  else
    {
      g_autofree char *used = atlas_cli_format_size (atlas_donor_get_storage_used (donor));
      g_autofree char *cap = atlas_cli_format_size (atlas_donor_get_storage_cap (donor));
      g_autofree char *rate = atlas_cli_format_speed (atlas_donor_get_upload_rate (donor));
      g_autofree char *month = atlas_cli_format_size (atlas_donor_get_uploaded_this_month (donor)
                                                      + atlas_donor_get_fetched_this_month (donor));
      g_autofree char *served = atlas_cli_format_size (atlas_donor_get_bytes_served (donor));

      printf ("%s; cache %s of %s in %u files; uploading %s; served %s to %u peers; "
              "%s this month\n",
              atlas_donor_get_pause_text (donor), used, cap, g_list_model_get_n_items (causes),
              rate, served, atlas_donor_get_downloads_helped (donor), month);
      fflush (stdout);
    }
}

static gboolean
status_cb (gpointer user_data)
{
  print_status (user_data);
  return G_SOURCE_CONTINUE;
}

static void
disconnected_cb (AtlasTrackerClient *tracker, const GError *error, Run *run)
{
  if (error == NULL)
    return;
  if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_PERMISSION))
    {
      if (run->fatal == NULL)
        run->fatal = g_error_copy (error);
      return;
    }
  /* The client keeps retrying; say so once per outage. */
  if (!run->warned_down)
    atlas_cli_warning ("no connection to the tracker %s (%s); retrying", run->tracker_url,
                       error->message);
  run->warned_down = TRUE;
}

static void
connected_cb (AtlasTrackerClient *tracker, Run *run)
{
  if (run->warned_down)
    atlas_cli_warning ("connected to the tracker %s again", run->tracker_url);
  run->warned_down = FALSE;
}

static void
failed_cb (AtlasDonor *donor, const GError *error, Run *run)
{
  if (run->fatal == NULL)
    run->fatal = g_error_copy (error);
}

static void
interrupt_cb (gpointer user_data)
{
  Run *run = user_data;

  run->stop = TRUE;
}

int
atlas_cli_cmd_donate (int argc, char **argv)
{
  g_auto (DonateOptions) o = { 0 };
  g_autoptr (GOptionContext) context = donate_context_new (&o);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasDonor) donor = NULL;
  g_autoptr (GAsyncResult) stopped = NULL;
  g_autofree char *token = NULL;
  g_autofree char *cache = NULL;
  g_autofree char *ca_file = NULL;
  AtlasIceConfig ice = { 0 };
  guint64 storage = 0, upload = 0, budget = 0;
  const char *tracker_url;
  Run run = { 0 };
  guint status_id;
  int exit_code = ATLAS_CLI_EXIT_OK;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return atlas_cli_usage_error ("donate", "%s", error->message);
  if (argc > 1)
    return atlas_cli_usage_error ("donate", "'atlas donate' takes no arguments, only options");
  tracker_url = atlas_cli_tracker_url (o.tracker);
  if (tracker_url == NULL)
    return atlas_cli_usage_error (
        "donate", "donating needs a tracker: give --tracker URL or set ATLAS_TRACKER_URL");
  if (o.storage == NULL)
    return atlas_cli_usage_error ("donate", "say how much disk to give with --storage SIZE");
  if (!parse_size ("--storage", o.storage, FALSE, &storage, &error)
      || (o.budget != NULL && !parse_size ("--budget", o.budget, TRUE, &budget, &error)))
    return atlas_cli_usage_error ("donate", "%s", error->message);
  if (o.upload != NULL && !atlas_cli_parse_rate (o.upload, &upload, &error))
    return atlas_cli_usage_error ("donate", "--upload: %s", error->message);
  if (o.interval_ms < 0 || o.interval_ms > 60000)
    return atlas_cli_usage_error ("donate", "--interval must be 1 to 60000 milliseconds");
  if (o.token_file != NULL)
    {
      token = read_token (o.token_file, &error);
      if (token == NULL)
        return atlas_cli_usage_error ("donate", "%s", error->message);
    }
  else
    token = g_strdup (atlas_cli_tracker_token (NULL));
  if (token == NULL)
    return atlas_cli_usage_error ("donate", "donating needs a tracker token: give --token-file "
                                            "FILE or set ATLAS_TRACKER_TOKEN");
  if (o.ca_file != NULL)
    {
      ca_file = g_canonicalize_filename (o.ca_file, NULL);
      if (!g_file_test (ca_file, G_FILE_TEST_IS_REGULAR))
        return atlas_cli_usage_error ("donate", "--ca-file '%s' is not a readable file", o.ca_file);
    }
  cache = o.cache != NULL
              ? g_canonicalize_filename (o.cache, NULL)
              : g_build_filename (g_get_user_data_dir (), "download-atlas", "donation", NULL);

  ice.mode = ATLAS_ICE_MODE_DIRECT;
  ice.local_addresses = o.local_addresses;
  donor = atlas_donor_new (cache, tracker_url, token, ca_file, &ice, &error);
  if (donor == NULL)
    return atlas_cli_report_error (error, "cannot use the donation cache '%s'", cache);

  atlas_cli_interrupt_install ();
  atlas_donor_set_storage_cap (donor, storage);
  atlas_donor_set_upload_cap (donor, upload);
  atlas_donor_set_monthly_budget (donor, budget);
  atlas_donor_set_pause_on_metered (donor, !o.ignore_metered);
  atlas_donor_set_pause_on_power_saver (donor, !o.ignore_power_saver);
  if (!apply_causes (donor, o.causes, &error))
    {
      if (error->domain == G_OPTION_ERROR)
        return atlas_cli_usage_error ("donate", "%s", error->message);
      return atlas_cli_report_error (error, "cannot donate");
    }

  run.donor = donor;
  run.tracker_url = tracker_url;
  run.json = o.json;
  g_signal_connect (atlas_donor_get_tracker (donor), "disconnected", G_CALLBACK (disconnected_cb),
                    &run);
  g_signal_connect (atlas_donor_get_tracker (donor), "connected", G_CALLBACK (connected_cb), &run);
  g_signal_connect (donor, "failed", G_CALLBACK (failed_cb), &run);
  atlas_cli_interrupt_set_handler (G_CALLBACK (interrupt_cb), &run);
  run.stop = atlas_cli_interrupted ();

  atlas_donor_start (donor);
  status_id = g_timeout_add (o.interval_ms > 0 ? (guint) o.interval_ms : DEFAULT_INTERVAL_MS,
                             status_cb, &run);
  while (!run.stop && run.fatal == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (status_id);
  atlas_cli_interrupt_set_handler (NULL, NULL);

  if (run.fatal != NULL)
    {
      if (g_error_matches (run.fatal, ATLAS_ERROR, ATLAS_ERROR_PERMISSION))
        exit_code =
            atlas_cli_report_error (run.fatal, "the tracker %s refused the token", tracker_url);
      else
        exit_code = atlas_cli_report_error (run.fatal, "cannot donate");
      g_clear_error (&run.fatal);
    }
  else
    print_status (&run);

  atlas_donor_stop_async (donor, NULL, atlas_cli_store_result_cb, &stopped);
  while (stopped == NULL)
    g_main_context_iteration (NULL, TRUE);
  if (!atlas_donor_stop_finish (donor, stopped, &error) && exit_code == ATLAS_CLI_EXIT_OK)
    exit_code = atlas_cli_report_error (error, "cannot stop donating cleanly");
  g_signal_handlers_disconnect_by_data (atlas_donor_get_tracker (donor), &run);
  return exit_code;
}
