/* bench-queue-load.c — the engine with a long queue and many active downloads.
 *
 * Not a test: bench/bench-queue-load.sh runs it. Every file of a Metalink
 * (1,000 small files with piece hashes, served by the loopback test mirror)
 * is added to one persistent session at once, with max-concurrent-downloads
 * at 200, and the session runs until every download is complete or failed.
 * Measured: the time to add them all, the lateness of a 10 ms heartbeat
 * timer on the engine's main context (what a UI on that context would
 * feel), how many downloads were active at once, RSS and descriptors, the
 * aggregate throughput; afterwards every file is hashed again here.
 *
 * usage: bench-queue-load --metalink FILE --dir DIR --store FILE
 *          [--active N] [--per-server N] [--per-download N] [--timeout S]
 * Prints "key value" lines on stdout.
 */
#include "atlas.h"

#include <stdio.h>
#include <string.h>

#define HEARTBEAT_MS 10
#define SAMPLE_MS 250

static struct
{
  AtlasSession *session;
  GMainLoop *loop;
  GPtrArray *downloads;
  GHashTable *states; /* AtlasDownload → its last seen state + 1 */
  GArray *lateness;   /* gint64 µs, heartbeat ticks while transferring */
  gint64 last_beat;
  gboolean running;
  guint active, max_active, done, complete, failed;
  guint64 rss_max_kb, fds_max;
  gint64 run_start, run_end;
  char *first_error;
} g;

static guint64
status_kb (const char *key)
{
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return 0;
  line = strstr (text, key);
  return line != NULL ? g_ascii_strtoull (line + strlen (key), NULL, 10) : 0;
}

static guint64
count_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint64 n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static gboolean
heartbeat_cb (gpointer user_data)
{
  gint64 now = g_get_monotonic_time ();
  gint64 late = now - g.last_beat - HEARTBEAT_MS * 1000;

  /* GLib schedules the next tick from when this one ran, so each sample is
   * the delay of one tick, not an accumulated drift. */
  if (g.running)
    g_array_append_val (g.lateness, late);
  g.last_beat = now;
  return G_SOURCE_CONTINUE;
}

static gboolean
sample_cb (gpointer user_data)
{
  g.rss_max_kb = MAX (g.rss_max_kb, status_kb ("VmRSS:"));
  g.fds_max = MAX (g.fds_max, count_fds ());
  return G_SOURCE_CONTINUE;
}

static void
state_changed_cb (AtlasSession *session, AtlasDownload *download, gpointer user_data)
{
  AtlasDownloadState state = atlas_download_get_state (download);
  guint before = GPOINTER_TO_UINT (g_hash_table_lookup (g.states, download));
  guint done;

  /* Counted by transitions, not by a walk of the queue: this handler must
   * not itself cost O(queue) per change while the main loop is measured. */
  if (before == state + 1)
    return;
  if (before == ATLAS_DOWNLOAD_ACTIVE + 1 || before == ATLAS_DOWNLOAD_VERIFYING + 1)
    g.active--;
  else if (before == ATLAS_DOWNLOAD_COMPLETE + 1)
    g.complete--;
  else if (before == ATLAS_DOWNLOAD_FAILED + 1)
    g.failed--;
  if (state == ATLAS_DOWNLOAD_ACTIVE || state == ATLAS_DOWNLOAD_VERIFYING)
    g.active++;
  else if (state == ATLAS_DOWNLOAD_COMPLETE)
    g.complete++;
  else if (state == ATLAS_DOWNLOAD_FAILED)
    g.failed++;
  g_hash_table_insert (g.states, download, GUINT_TO_POINTER (state + 1));
  g.max_active = MAX (g.max_active, g.active);
  done = g.complete + g.failed;
  if (state == ATLAS_DOWNLOAD_FAILED && g.first_error == NULL)
    g.first_error = g_strdup (atlas_download_get_error_message (download));
  if (done == g.downloads->len && g.running)
    {
      g.running = FALSE;
      g.run_end = g_get_monotonic_time ();
      g_main_loop_quit (g.loop);
    }
  g.done = done;
}

static void
opened_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  g.session = atlas_session_open_finish (result, &error);
  if (g.session == NULL)
    g_error ("opening the queue: %s", error->message);
  g_main_loop_quit (g.loop);
}

static void
closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!atlas_session_close_finish (ATLAS_SESSION (source), result, &error))
    g_printerr ("closing the queue: %s\n", error->message);
  g_main_loop_quit (g.loop);
}

static gboolean
timeout_cb (gpointer user_data)
{
  g_printerr ("timed out with %u of %u done\n", g.done, g.downloads->len);
  g.run_end = g_get_monotonic_time ();
  g.running = FALSE;
  g_main_loop_quit (g.loop);
  return G_SOURCE_REMOVE;
}

static int
compare_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* The file on disk hashed here, against the Metalink's SHA-256. */
static gboolean
file_matches (const char *path, const AtlasMetalinkFile *file)
{
  g_autofree char *data = NULL;
  g_autoptr (GChecksum) sha256 = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize length, digest_length = sizeof digest;

  if (!g_file_get_contents (path, &data, &length, NULL) || (gint64) length != file->size)
    return FALSE;
  g_checksum_update (sha256, (const guchar *) data, length);
  g_checksum_get_digest (sha256, digest, &digest_length);
  for (guint i = 0; i < file->hashes->len; i++)
    {
      const AtlasChecksum *checksum = &g_array_index (file->hashes, AtlasChecksum, i);

      if (checksum->type == ATLAS_HASH_SHA256)
        return memcmp (checksum->digest, digest, sizeof digest) == 0;
    }
  return FALSE;
}

int
main (int argc, char **argv)
{
  g_autofree char *metalink_path = NULL, *dir = NULL, *store = NULL;
  int active = 200, per_server = 200, per_download = 2, timeout_s = 600;
  GOptionEntry options[] = {
    { "metalink", 0, 0, G_OPTION_ARG_FILENAME, &metalink_path, "the files", "FILE" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "download folder", "DIR" },
    { "store", 0, 0, G_OPTION_ARG_FILENAME, &store, "SQLite queue", "FILE" },
    { "active", 0, 0, G_OPTION_ARG_INT, &active, "max-concurrent-downloads", "N" },
    { "per-server", 0, 0, G_OPTION_ARG_INT, &per_server, "max-connections-per-server", "N" },
    { "per-download", 0, 0, G_OPTION_ARG_INT, &per_download, "max-connections-per-download", "N" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "give up after", "S" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— engine queue load");
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasMetalink) metalink = NULL;
  g_autoptr (GPtrArray) requests = NULL;
  g_autofree char *data = NULL;
  gsize length;
  gint64 add_start, add_end;
  guint64 bytes = 0, rss_before_kb;
  guint verified = 0;
  double run_s;

  g_option_context_add_main_entries (context, options, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || metalink_path == NULL
      || dir == NULL || active < 1 || per_server < 1 || per_download < 1)
    {
      g_printerr ("%s\n", error != NULL ? error->message : "--metalink and --dir are needed");
      return 2;
    }
  if (!g_file_get_contents (metalink_path, &data, &length, &error)
      || (metalink = atlas_metalink_parse (data, length, &error)) == NULL)
    g_error ("%s", error->message);

  atlas_settings_set_download_directory (settings, dir);
  atlas_settings_set_max_concurrent_downloads (settings, active);
  atlas_settings_set_max_connections_per_server (settings, per_server);
  atlas_settings_set_max_connections_per_download (settings, per_download);

  g.loop = g_main_loop_new (NULL, FALSE);
  g.downloads = g_ptr_array_new_with_free_func (g_object_unref);
  g.lateness = g_array_new (FALSE, FALSE, sizeof (gint64));
  g.states = g_hash_table_new (NULL, NULL);
  atlas_session_open_async (store, settings, NULL, opened_cb, NULL);
  g_main_loop_run (g.loop);
  g_signal_connect (g.session, "download-state-changed", G_CALLBACK (state_changed_cb), NULL);
  rss_before_kb = status_kb ("VmRSS:");

  /* As the app or `atlas get` does with a Metalink: every file in one go,
   * the session already running, so the first ones start while the rest
   * are added. */
  requests = atlas_request_list_from_metalink (metalink, dir);
  atlas_session_start (g.session);
  add_start = g_get_monotonic_time ();
  for (guint i = 0; i < requests->len; i++)
    {
      AtlasDownload *download =
          atlas_session_add (g.session, g_ptr_array_index (requests, i), &error);

      if (download == NULL)
        g_error ("adding %u: %s", i, error->message);
      g_ptr_array_add (g.downloads, g_object_ref (download));
    }
  add_end = g_get_monotonic_time ();

  g.running = TRUE;
  g.run_start = add_start;
  g.last_beat = g_get_monotonic_time ();
  g_timeout_add (HEARTBEAT_MS, heartbeat_cb, NULL);
  g_timeout_add (SAMPLE_MS, sample_cb, NULL);
  g_timeout_add_seconds (timeout_s, timeout_cb, NULL);
  /* Each download's state now, whether or not it was signalled while adding. */
  for (guint i = 0; i < g.downloads->len; i++)
    state_changed_cb (g.session, g_ptr_array_index (g.downloads, i), NULL);
  if (g.running && g.complete + g.failed < g.downloads->len)
    g_main_loop_run (g.loop);
  if (g.running)
    g.run_end = g_get_monotonic_time ();
  sample_cb (NULL);

  run_s = (g.run_end - g.run_start) / 1e6;
  for (guint i = 0; i < g.downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (g.downloads, i);
      const AtlasMetalinkFile *file = g_ptr_array_index (metalink->files, i);

      bytes += atlas_download_get_completed_bytes (download);
      if (atlas_download_get_state (download) == ATLAS_DOWNLOAD_COMPLETE
          && file_matches (atlas_download_get_path (download), file))
        verified++;
    }
  g_array_sort (g.lateness, compare_i64);

  printf ("downloads %u\n", g.downloads->len);
  printf ("active_setting %d\n", active);
  printf ("add_ms %.1f\n", (add_end - add_start) / 1000.0);
  printf ("add_per_download_us %.1f\n", (add_end - add_start) / (double) MAX (g.downloads->len, 1));
  printf ("run_s %.2f\n", run_s);
  printf ("complete %u\n", g.complete);
  printf ("failed %u\n", g.failed);
  printf ("verified %u\n", verified);
  printf ("max_active %u\n", g.max_active);
  printf ("bytes %" G_GUINT64_FORMAT "\n", bytes);
  printf ("throughput_mib_s %.1f\n", bytes / 1048576.0 / MAX (run_s, 1e-3));
  if (g.lateness->len > 0)
    {
      guint n = g.lateness->len;

      printf ("heartbeat_n %u\n", n);
      printf ("heartbeat_p50_ms %.2f\n", g_array_index (g.lateness, gint64, n / 2) / 1000.0);
      printf ("heartbeat_p99_ms %.2f\n",
              g_array_index (g.lateness, gint64, MIN (n - 1, n * 99 / 100)) / 1000.0);
      printf ("heartbeat_max_ms %.2f\n", g_array_index (g.lateness, gint64, n - 1) / 1000.0);
    }
  printf ("rss_before_kb %" G_GUINT64_FORMAT "\n", rss_before_kb);
  printf ("rss_max_kb %" G_GUINT64_FORMAT "\n", g.rss_max_kb);
  printf ("hwm_kb %" G_GUINT64_FORMAT "\n", status_kb ("VmHWM:"));
  printf ("fds_max %" G_GUINT64_FORMAT "\n", g.fds_max);
  if (g.first_error != NULL)
    printf ("first_error %s\n", g.first_error);
  fflush (stdout);

  atlas_session_close_async (g.session, NULL, closed_cb, NULL);
  g_main_loop_run (g.loop);
  g_clear_object (&g.session);
  return verified == g.downloads->len ? 0 : 1;
}
