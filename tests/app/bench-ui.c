/* bench-ui — what the app costs a user: time to the first frame with a big
 * queue, memory, and how long the main loop stalls while a download runs at
 * full speed. A benchmark driven by bench/bench-app.sh, not a test.
 *
 *   bench-ui --make-queue N QUEUE        fill QUEUE with N paused downloads
 *   bench-ui QUEUE [--download URL --sha256 HEX --dir DIR]
 *
 * Prints one "key value" line per figure. The window is built the way the
 * app builds it (AtlasWindow on an AtlasSession opened asynchronously).
 */
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atlas-config.h"
#include "atlas-queue-page.h"
#include "atlas-window.h"

/* A timer that should fire every TICK_MS: how late it fires is how long the
 * main loop was busy with something else. */
#define TICK_MS 5

static gint64 start_time;
static gint64 first_frame_time;
static AtlasSession *session;
static AtlasWindow *window;
static GMainLoop *loop;
static const char *download_url;
static const char *download_sha256;
static const char *download_dir;
static GArray *lateness; /* gint64 microseconds, one per tick */
static gint64 last_tick;

static long
status_kib (const char *field)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, field);
  return line != NULL ? atol (line + strlen (field)) : -1;
}

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

static gboolean
tick_cb (gpointer data)
{
  gint64 now = g_get_monotonic_time ();
  gint64 late = now - last_tick - TICK_MS * 1000;

  g_array_append_val (lateness, late);
  last_tick = now;
  return G_SOURCE_CONTINUE;
}

static void
download_state_cb (AtlasDownload *download, GParamSpec *pspec, gpointer data)
{
  AtlasDownloadState state = atlas_download_get_state (download);
  gint64 size = atlas_download_get_size (download);
  double seconds;

  if (state != ATLAS_DOWNLOAD_COMPLETE && state != ATLAS_DOWNLOAD_FAILED)
    return;
  seconds = (g_get_monotonic_time () - first_frame_time) / 1e6;
  g_array_sort (lateness, compare_gint64);
  printf ("download_state %s\n", atlas_download_state_to_string (state));
  printf ("download_seconds %.3f\n", seconds);
  printf ("download_mib_per_s %.1f\n", size > 0 ? size / seconds / 1048576.0 : 0.0);
  printf ("ticks %u\n", lateness->len);
  if (lateness->len > 0)
    {
      printf ("stall_max_ms %.2f\n", g_array_index (lateness, gint64, lateness->len - 1) / 1000.0);
      printf ("stall_p99_ms %.2f\n",
              g_array_index (lateness, gint64, (lateness->len * 99) / 100) / 1000.0);
    }
  printf ("rss_peak_kib %ld\n", status_kib ("VmHWM:"));
  g_main_loop_quit (loop);
}

static void
start_download (void)
{
  g_autoptr (AtlasRequest) request = atlas_request_new ();
  g_autoptr (GError) error = NULL;
  AtlasChecksum checksum;
  g_autofree char *text = g_strdup_printf ("sha256:%s", download_sha256);
  AtlasDownload *download;

  atlas_request_add_url (request, download_url, 0, NULL);
  g_assert_true (atlas_checksum_parse (text, &checksum, NULL));
  atlas_request_add_checksum (request, &checksum);
  atlas_request_set_directory (request, download_dir);
  atlas_request_set_filename (request, "bench-ui.bin");
  download = atlas_session_add (session, request, &error);
  g_assert_no_error (error);
  g_signal_connect (download, "notify::state", G_CALLBACK (download_state_cb), NULL);
  /* Move it to the top so the session starts it before the paused queue. */
  atlas_session_move (session, download, 0);
  atlas_download_resume (download);
  last_tick = g_get_monotonic_time ();
  g_timeout_add (TICK_MS, tick_cb, NULL);
}

static void
after_paint_cb (GdkFrameClock *clock, gpointer data)
{
  GListModel *visible = atlas_queue_page_get_visible (atlas_window_get_queue_page (window));

  /* The first frame that shows the queue, not an empty window. */
  if (first_frame_time != 0 || atlas_window_get_session (window) == NULL
      || g_list_model_get_n_items (visible) == 0)
    return;
  first_frame_time = g_get_monotonic_time ();
  printf ("queue_size %u\n", g_list_model_get_n_items (G_LIST_MODEL (session)));
  printf ("first_frame_ms %.1f\n", (first_frame_time - start_time) / 1000.0);
  printf ("rss_at_first_frame_kib %ld\n", status_kib ("VmRSS:"));
  fflush (stdout);
  if (download_url != NULL)
    start_download ();
  else
    g_main_loop_quit (loop);
}

static void
window_mapped_cb (GtkWidget *widget, gpointer data)
{
  g_signal_connect (gtk_widget_get_frame_clock (widget), "after-paint", G_CALLBACK (after_paint_cb),
                    NULL);
}

static void
opened_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;

  session = atlas_session_open_finish (result, &error);
  g_assert_no_error (error);
  atlas_window_set_session (window, session);
  atlas_session_start (session);
  gtk_widget_queue_draw (GTK_WIDGET (window));
}

static void
made_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  guint n = GPOINTER_TO_UINT (data);
  gint64 t0 = g_get_monotonic_time ();

  session = atlas_session_open_finish (result, &error);
  g_assert_no_error (error);
  for (guint i = g_list_model_get_n_items (G_LIST_MODEL (session)); i < n; i++)
    {
      g_autoptr (AtlasRequest) request = atlas_request_new ();
      g_autofree char *url = g_strdup_printf ("http://127.0.0.1:9/queue/file-%05u.iso", i);
      g_autofree char *name = g_strdup_printf ("file-%05u.iso", i);

      atlas_request_add_url (request, url, 0, NULL);
      atlas_request_set_filename (request, name);
      atlas_request_set_directory (request, g_get_tmp_dir ());
      atlas_request_set_paused (request, TRUE);
      g_assert_nonnull (atlas_session_add (session, request, &error));
      g_assert_no_error (error);
    }
  printf ("made %u downloads in %.1f s\n", n, (g_get_monotonic_time () - t0) / 1e6);
  g_main_loop_quit (loop);
}

static void
closed_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  atlas_session_close_finish (ATLAS_SESSION (source), result, NULL);
  g_main_loop_quit (loop);
}

int
main (int argc, char **argv)
{
  start_time = g_get_monotonic_time ();
  loop = g_main_loop_new (NULL, FALSE);

  if (argc == 4 && g_str_equal (argv[1], "--make-queue"))
    {
      g_autoptr (AtlasSettings) settings = atlas_settings_new ();

      atlas_session_open_async (argv[3], settings, NULL, made_cb,
                                GUINT_TO_POINTER ((guint) atoi (argv[2])));
      g_main_loop_run (loop);
      /* Closing flushes the queue's writes before the process ends. */
      atlas_session_close_async (session, NULL, closed_cb, NULL);
      g_main_loop_run (loop);
      return 0;
    }
  for (int i = 2; i + 1 < argc; i += 2)
    {
      if (g_str_equal (argv[i], "--download"))
        download_url = argv[i + 1];
      else if (g_str_equal (argv[i], "--sha256"))
        download_sha256 = argv[i + 1];
      else if (g_str_equal (argv[i], "--dir"))
        download_dir = argv[i + 1];
    }
  if (argc < 2 || (download_url != NULL && (download_sha256 == NULL || download_dir == NULL)))
    {
      fprintf (stderr,
               "usage: %s --make-queue N QUEUE | QUEUE [--download URL --sha256 HEX --dir DIR]\n",
               argv[0]);
      return 2;
    }
  lateness = g_array_new (FALSE, FALSE, sizeof (gint64));

  gtk_init ();
  adw_init ();
  {
    g_autoptr (GSettings) gsettings = g_settings_new (APPLICATION_ID);
    g_autoptr (AtlasSettings) settings = atlas_settings_new ();

    window = atlas_window_new (NULL, gsettings);
    g_signal_connect (window, "map", G_CALLBACK (window_mapped_cb), NULL);
    gtk_window_present (GTK_WINDOW (window));
    atlas_session_open_async (argv[1], settings, NULL, opened_cb, NULL);
    g_main_loop_run (loop);
  }
  return 0;
}
