/* atlas-cli-progress.c — how `atlas` shows downloads: redrawn bars on a
 * terminal, JSON lines for scripts, or only the final lines.
 *
 * Redraws are driven by the downloads' property notifications, which the
 * engine already coalesces to about four a second; a one-shot timer keeps
 * the terminal at no more than four redraws a second even when many
 * downloads tick at slightly different moments.
 */

#include "atlas-config.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "atlas-cli.h"

#define REDRAW_INTERVAL_US (G_USEC_PER_SEC / 4)

typedef struct
{
  AtlasCliProgress *progress;
  AtlasDownload *download;
  gulong notify_id;
  gulong log_id;
  guint json_source;
  gint64 start_us;
  guint64 start_completed;
} Tracked;

struct _AtlasCliProgress
{
  AtlasCliProgressMode mode;
  GPtrArray *tracked; /* Tracked*, in the order they were added */
  guint lines_drawn;  /* bar lines currently on screen, cursor below them */
  gint64 last_draw_us;
  guint redraw_source;
  AtlasSwarm *swarm; /* nullable: peers are counted only with one */

  /* A single byte-count bar, used by verify. */
  gboolean bytes_active;
  char *bytes_label;
  guint64 bytes_done;
  guint64 bytes_total;
  gint64 bytes_start_us;
};

static void schedule_redraw (AtlasCliProgress *self);
static void draw (AtlasCliProgress *self);

static const char *
log_level_name (GLogLevelFlags level)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return "error";
  if (level & G_LOG_LEVEL_WARNING)
    return "warning";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "message";
  if (level & G_LOG_LEVEL_INFO)
    return "info";
  return "debug";
}

AtlasCliProgressMode
atlas_cli_progress_choose_mode (gboolean json, gboolean quiet)
{
  if (json)
    return ATLAS_CLI_PROGRESS_JSON;
  if (quiet)
    return ATLAS_CLI_PROGRESS_QUIET;
  /* Bars go to stderr, but only when a person watches stdout too: a script
   * that captures stdout wants the final lines, not escape sequences. */
  if (isatty (STDOUT_FILENO) && isatty (STDERR_FILENO))
    return ATLAS_CLI_PROGRESS_TTY;
  return ATLAS_CLI_PROGRESS_PLAIN;
}

AtlasCliProgress *
atlas_cli_progress_new (AtlasCliProgressMode mode)
{
  AtlasCliProgress *self = g_new0 (AtlasCliProgress, 1);

  self->mode = mode;
  self->tracked = g_ptr_array_new ();
  return self;
}

AtlasCliProgressMode
atlas_cli_progress_get_mode (AtlasCliProgress *self)
{
  return self->mode;
}

void
atlas_cli_progress_set_swarm (AtlasCliProgress *self, AtlasSwarm *swarm)
{
  g_set_object (&self->swarm, swarm);
}

static void
tracked_free (Tracked *tracked)
{
  g_clear_signal_handler (&tracked->notify_id, tracked->download);
  g_clear_signal_handler (&tracked->log_id, tracked->download);
  g_clear_handle_id (&tracked->json_source, g_source_remove);
  g_clear_object (&tracked->download);
  g_free (tracked);
}

void
atlas_cli_progress_untrack_all (AtlasCliProgress *self)
{
  atlas_cli_progress_clear (self);
  for (guint i = 0; i < self->tracked->len; i++)
    tracked_free (g_ptr_array_index (self->tracked, i));
  g_ptr_array_set_size (self->tracked, 0);
}

void
atlas_cli_progress_free (AtlasCliProgress *self)
{
  if (self == NULL)
    return;

  atlas_cli_progress_untrack_all (self);
  g_clear_handle_id (&self->redraw_source, g_source_remove);
  g_ptr_array_unref (self->tracked);
  g_clear_object (&self->swarm);
  g_free (self->bytes_label);
  g_free (self);
}

/* ---- JSON ---- */

/* Bytes of this run by where they came from or went, for scripts that judge
 * how much the swarm helped. */
static void
append_peer_bytes (GString *out, AtlasDownload *download)
{
  g_string_append_printf (out,
                          ",\"from_peers\":%" G_GUINT64_FORMAT
                          ",\"from_mirrors\":%" G_GUINT64_FORMAT ",\"to_peers\":%" G_GUINT64_FORMAT,
                          atlas_download_get_bytes_from_peers (download),
                          atlas_download_get_bytes_from_mirrors (download),
                          atlas_download_get_bytes_to_peers (download));
}

void
atlas_cli_json_append_download (GString *out, AtlasDownload *download)
{
  g_string_append_printf (
      out, "\"id\":%" G_GUINT64_FORMAT ",\"name\":", atlas_download_get_id (download));
  atlas_cli_json_append_string (out, atlas_download_get_name (download));
  g_string_append (out, ",\"path\":");
  atlas_cli_json_append_string (out, atlas_download_get_path (download));
  g_string_append_printf (
      out,
      ",\"state\":\"%s\",\"size\":%" G_GINT64_FORMAT ",\"completed\":%" G_GUINT64_FORMAT
      ",\"speed\":%" G_GUINT64_FORMAT ",\"eta\":%" G_GINT64_FORMAT ",\"sources\":%u,\"error\":",
      atlas_download_state_to_string (atlas_download_get_state (download)),
      atlas_download_get_size (download), atlas_download_get_completed_bytes (download),
      atlas_download_get_speed (download), atlas_download_get_eta (download),
      atlas_download_get_active_sources (download));
  atlas_cli_json_append_string (out, atlas_download_get_error_message (download));
  append_peer_bytes (out, download);
}

void
atlas_cli_progress_json (AtlasCliProgress *self, const char *object)
{
  if (self->mode != ATLAS_CLI_PROGRESS_JSON)
    return;

  /* Line-buffered by hand: scripts read events as they happen. */
  fputs (object, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

static void
emit_json_progress (Tracked *tracked)
{
  g_autoptr (GString) line = g_string_new ("{\"event\":\"progress\",");

  atlas_cli_json_append_download (line, tracked->download);
  if (tracked->progress->swarm != NULL)
    g_string_append_printf (line, ",\"peers\":%u",
                            atlas_swarm_get_n_peers (tracked->progress->swarm));
  g_string_append_c (line, '}');
  atlas_cli_progress_json (tracked->progress, line->str);
}

static gboolean
json_progress_cb (gpointer user_data)
{
  Tracked *tracked = user_data;

  tracked->json_source = 0;
  emit_json_progress (tracked);
  return G_SOURCE_REMOVE;
}

/* ---- terminal drawing ---- */

static guint
terminal_columns (void)
{
  struct winsize ws;

  if (ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
    return ws.ws_col;
  return 80;
}

static guint
terminal_rows (void)
{
  struct winsize ws;

  if (ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row >= 4)
    return ws.ws_row;
  return 24;
}

/* Appends @text cut or padded to exactly @width characters. */
static void
append_fitted (GString *out, const char *text, guint width)
{
  glong len = g_utf8_strlen (text, -1);

  if ((guint) len <= width)
    {
      g_string_append (out, text);
      for (guint i = (guint) len; i < width; i++)
        g_string_append_c (out, ' ');
    }
  else if (width > 0)
    {
      g_autofree char *cut = g_utf8_substring (text, 0, width - 1);

      g_string_append (out, cut);
      g_string_append (out, "…");
    }
}

static void
append_bar (GString *out, double fraction, guint width)
{
  guint filled;

  if (fraction < 0)
    fraction = 0;
  if (fraction > 1)
    fraction = 1;
  filled = (guint) (fraction * width + 0.5);

  g_string_append_c (out, '[');
  for (guint i = 0; i < width; i++)
    g_string_append (out, i < filled ? "#" : "-");
  g_string_append_c (out, ']');
}

/* One line: "name  42% [####------] 1.2 GiB/3.0 GiB  12 MiB/s  ETA 3m05s  4 src" */
static char *
format_line (const char *name, gint64 size, guint64 completed, const char *status, guint columns)
{
  g_autoptr (GString) tail = g_string_new (NULL);
  g_autoptr (GString) line = g_string_new (NULL);
  g_autofree char *done_text = atlas_cli_format_size (completed);
  guint bar_width = columns >= 110 ? 30 : columns >= 80 ? 20 : 10;
  guint name_width;

  if (size > 0)
    {
      g_autofree char *size_text = atlas_cli_format_size ((guint64) size);
      double fraction = (double) completed / (double) size;

      g_string_append_printf (tail, " %3d%% ", (int) (fraction * 100));
      append_bar (tail, fraction, bar_width);
      g_string_append_printf (tail, " %s/%s", done_text, size_text);
    }
  else
    {
      g_string_append (tail, "   ?% ");
      append_bar (tail, 0, bar_width);
      g_string_append_printf (tail, " %s", done_text);
    }
  if (status != NULL && *status != '\0')
    g_string_append_printf (tail, "  %s", status);

  /* Keep at least a short name; the tail is cut at the right edge instead. */
  name_width = columns > tail->len + 12 ? columns - (guint) tail->len - 1 : 12;
  if (name_width > 40)
    name_width = 40;
  append_fitted (line, name, name_width);
  g_string_append (line, tail->str);

  if (g_utf8_strlen (line->str, -1) >= (glong) columns)
    {
      g_autofree char *cut = g_utf8_substring (line->str, 0, columns - 1);
      return g_steal_pointer (&cut);
    }
  return g_string_free (g_steal_pointer (&line), FALSE);
}

static char *
download_status (AtlasCliProgress *self, AtlasDownload *download)
{
  AtlasDownloadState state = atlas_download_get_state (download);

  if (state == ATLAS_DOWNLOAD_ACTIVE)
    {
      g_autofree char *speed = atlas_cli_format_speed (atlas_download_get_speed (download));
      g_autofree char *eta = atlas_cli_format_eta (atlas_download_get_eta (download));
      guint sources = atlas_download_get_active_sources (download);
      GString *status = g_string_new (NULL);

      g_string_append_printf (status, "%s  ETA %s  %u %s", speed, eta, sources,
                              sources == 1 ? "source" : "sources");
      if (self->swarm != NULL)
        {
          guint peers = atlas_swarm_get_n_peers (self->swarm);
          g_autofree char *from_peers =
              atlas_cli_format_size (atlas_download_get_bytes_from_peers (download));

          g_string_append_printf (status, "  %u %s, %s from peers", peers,
                                  peers == 1 ? "peer" : "peers", from_peers);
        }
      return g_string_free (status, FALSE);
    }
  return g_strdup (atlas_download_state_to_string (state));
}

static void
erase (AtlasCliProgress *self)
{
  if (self->lines_drawn == 0)
    return;

  /* Up to the first bar line, then clear to the end of the screen. */
  fprintf (stderr, "\033[%uA\r\033[J", self->lines_drawn);
  self->lines_drawn = 0;
}

static void
draw (AtlasCliProgress *self)
{
  g_autoptr (GString) block = g_string_new (NULL);
  guint columns = terminal_columns ();
  guint max_lines = terminal_rows () - 2;
  guint lines = 0;

  if (self->mode != ATLAS_CLI_PROGRESS_TTY)
    return;

  for (guint i = 0; i < self->tracked->len; i++)
    {
      Tracked *tracked = g_ptr_array_index (self->tracked, i);
      g_autofree char *status = NULL;
      g_autofree char *line = NULL;

      if (lines + 1 >= max_lines && i + 1 < self->tracked->len)
        {
          g_string_append_printf (block, "… and %u more\n", self->tracked->len - i);
          lines++;
          break;
        }

      status = download_status (self, tracked->download);
      line = format_line (atlas_download_get_name (tracked->download),
                          atlas_download_get_size (tracked->download),
                          atlas_download_get_completed_bytes (tracked->download), status, columns);
      g_string_append_printf (block, "%s\n", line);
      lines++;
    }

  if (self->bytes_active)
    {
      g_autofree char *status = NULL;
      g_autofree char *line = NULL;
      gint64 elapsed = g_get_monotonic_time () - self->bytes_start_us;

      if (elapsed > G_USEC_PER_SEC / 2)
        {
          g_autofree char *speed = atlas_cli_format_speed (
              (guint64) ((double) self->bytes_done * G_USEC_PER_SEC / (double) elapsed));
          status = g_strdup (speed);
        }
      line = format_line (self->bytes_label, (gint64) self->bytes_total, self->bytes_done, status,
                          columns);
      g_string_append_printf (block, "%s\n", line);
      lines++;
    }

  erase (self);
  fputs (block->str, stderr);
  fflush (stderr);
  self->lines_drawn = lines;
  self->last_draw_us = g_get_monotonic_time ();
}

static gboolean
redraw_cb (gpointer user_data)
{
  AtlasCliProgress *self = user_data;

  self->redraw_source = 0;
  draw (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_redraw (AtlasCliProgress *self)
{
  gint64 wait_us;

  if (self->mode != ATLAS_CLI_PROGRESS_TTY || self->redraw_source != 0)
    return;

  wait_us = REDRAW_INTERVAL_US - (g_get_monotonic_time () - self->last_draw_us);
  if (wait_us < 0)
    wait_us = 0;
  /* Even when due now, wait for the end of this dispatch, so that all the
   * properties of one engine tick are drawn together. */
  self->redraw_source = g_timeout_add ((guint) (wait_us / 1000), redraw_cb, self);
}

void
atlas_cli_progress_clear (AtlasCliProgress *self)
{
  if (self->mode != ATLAS_CLI_PROGRESS_TTY)
    return;
  erase (self);
  fflush (stderr);
}

void
atlas_cli_progress_print (AtlasCliProgress *self, gboolean to_stderr, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  if (!to_stderr
      && (self->mode == ATLAS_CLI_PROGRESS_QUIET || self->mode == ATLAS_CLI_PROGRESS_JSON))
    return;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  atlas_cli_progress_clear (self);
  if (to_stderr)
    {
      fflush (stdout);
      fprintf (stderr, "%s\n", text);
    }
  else
    {
      fprintf (stdout, "%s\n", text);
      fflush (stdout);
    }

  /* Put the bars back at once so the screen never looks empty. */
  if (self->mode == ATLAS_CLI_PROGRESS_TTY && (self->tracked->len > 0 || self->bytes_active))
    draw (self);
}

void
atlas_cli_progress_bytes (AtlasCliProgress *self, const char *label, guint64 done, guint64 total)
{
  if (self->mode == ATLAS_CLI_PROGRESS_JSON)
    {
      g_autoptr (GString) line = g_string_new ("{\"event\":\"progress\",\"name\":");

      atlas_cli_json_append_string (line, label);
      g_string_append_printf (
          line, ",\"completed\":%" G_GUINT64_FORMAT ",\"size\":%" G_GUINT64_FORMAT "}", done,
          total);
      atlas_cli_progress_json (self, line->str);
      return;
    }

  if (!self->bytes_active)
    {
      self->bytes_active = TRUE;
      self->bytes_start_us = g_get_monotonic_time ();
    }
  if (g_strcmp0 (self->bytes_label, label) != 0)
    {
      g_free (self->bytes_label);
      self->bytes_label = g_strdup (label);
    }
  self->bytes_done = done;
  self->bytes_total = total;
  schedule_redraw (self);
}

/* ---- per-download events ---- */

static void
print_final_line (Tracked *tracked)
{
  AtlasCliProgress *self = tracked->progress;
  AtlasDownload *download = tracked->download;
  AtlasDownloadState state = atlas_download_get_state (download);

  if (self->mode == ATLAS_CLI_PROGRESS_JSON)
    {
      g_autoptr (GString) line = g_string_new (NULL);

      /* A last progress event first, so a script's view ends at 100 %. */
      g_clear_handle_id (&tracked->json_source, g_source_remove);
      emit_json_progress (tracked);

      g_string_append_printf (
          line, "{\"event\":\"finished\",\"id\":%" G_GUINT64_FORMAT ",\"state\":\"%s\",\"path\":",
          atlas_download_get_id (download), atlas_download_state_to_string (state));
      atlas_cli_json_append_string (line, atlas_download_get_path (download));
      g_string_append (line, ",\"error\":");
      atlas_cli_json_append_string (line, state == ATLAS_DOWNLOAD_FAILED
                                              ? atlas_download_get_error_message (download)
                                              : NULL);
      append_peer_bytes (line, download);
      g_string_append_c (line, '}');
      atlas_cli_progress_json (self, line->str);
    }

  if (state == ATLAS_DOWNLOAD_COMPLETE)
    {
      gint64 size = atlas_download_get_size (download);
      guint64 completed = atlas_download_get_completed_bytes (download);
      g_autofree char *size_text = atlas_cli_format_size (size >= 0 ? (guint64) size : completed);
      double seconds = (double) (g_get_monotonic_time () - tracked->start_us) / G_USEC_PER_SEC;
      guint64 fetched =
          completed > tracked->start_completed ? completed - tracked->start_completed : 0;
      guint64 from_peers = atlas_download_get_bytes_from_peers (download);

      if (fetched > 0 && seconds > 0.05)
        {
          g_autofree char *speed = atlas_cli_format_speed ((guint64) (fetched / seconds));
          g_autofree char *peer_text = NULL;

          /* Only when peers helped, so mirror-only lines read as before. */
          if (from_peers > 0)
            {
              g_autofree char *peer_size = atlas_cli_format_size (from_peers);
              peer_text = g_strdup_printf ("; %s from peers", peer_size);
            }
          atlas_cli_progress_print (self, FALSE, "Downloaded %s (%s in %.1f s, %s%s): %s",
                                    atlas_download_get_name (download), size_text, seconds, speed,
                                    peer_text != NULL ? peer_text : "",
                                    atlas_download_get_path (download));
        }
      else
        atlas_cli_progress_print (self, FALSE, "Complete: %s (%s): %s",
                                  atlas_download_get_name (download), size_text,
                                  atlas_download_get_path (download));
    }
  else if (state == ATLAS_DOWNLOAD_FAILED)
    {
      const char *message = atlas_download_get_error_message (download);
      const char *hint;

      switch (atlas_cli_exit_code_for_download (download))
        {
        case ATLAS_CLI_EXIT_VERIFY:
          hint = "Check the expected checksum, or try other mirrors";
          break;
        case ATLAS_CLI_EXIT_IO:
          hint = "Check free space and permissions of the folder, or choose another with -d DIR";
          break;
        default:
          hint = "Check the network and the URLs, or add mirrors with -m URL; run the same command "
                 "again to resume";
          break;
        }
      atlas_cli_progress_clear (self);
      atlas_cli_error ("download of '%s' failed: %s. %s.", atlas_download_get_name (download),
                       message != NULL ? message : "unknown error", hint);
    }
}

static void
untrack (AtlasCliProgress *self, Tracked *tracked)
{
  g_ptr_array_remove (self->tracked, tracked);
  tracked_free (tracked);
  schedule_redraw (self);
}

static void
download_notify_cb (AtlasDownload *download, GParamSpec *pspec, gpointer user_data)
{
  Tracked *tracked = user_data;
  AtlasCliProgress *self = tracked->progress;

  if (g_str_equal (pspec->name, "state"))
    {
      AtlasDownloadState state = atlas_download_get_state (download);

      if (state == ATLAS_DOWNLOAD_COMPLETE || state == ATLAS_DOWNLOAD_FAILED)
        {
          print_final_line (tracked);
          untrack (self, tracked);
          return;
        }
    }

  if (self->mode == ATLAS_CLI_PROGRESS_JSON)
    {
      /* One event per tick, however many properties the tick changed. */
      if (tracked->json_source == 0)
        tracked->json_source = g_idle_add (json_progress_cb, tracked);
    }
  else
    schedule_redraw (self);
}

static void
download_log_cb (AtlasDownload *download, GLogLevelFlags level, const char *message,
                 gpointer user_data)
{
  Tracked *tracked = user_data;
  AtlasCliProgress *self = tracked->progress;

  if (self->mode == ATLAS_CLI_PROGRESS_JSON)
    {
      g_autoptr (GString) line = g_string_new (NULL);

      g_string_append_printf (
          line, "{\"event\":\"log\",\"id\":%" G_GUINT64_FORMAT ",\"level\":\"%s\",\"message\":",
          atlas_download_get_id (download), log_level_name (level));
      atlas_cli_json_append_string (line, message);
      g_string_append_c (line, '}');
      atlas_cli_progress_json (self, line->str);
    }
  else if (self->mode == ATLAS_CLI_PROGRESS_TTY
           && (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)))
    {
      atlas_cli_progress_print (self, TRUE, "%s: %s", atlas_download_get_name (download), message);
    }
}

void
atlas_cli_progress_track (AtlasCliProgress *self, AtlasDownload *download)
{
  Tracked *tracked;
  AtlasDownloadState state = atlas_download_get_state (download);

  for (guint i = 0; i < self->tracked->len; i++)
    if (((Tracked *) g_ptr_array_index (self->tracked, i))->download == download)
      return;

  tracked = g_new0 (Tracked, 1);
  tracked->progress = self;
  tracked->download = g_object_ref (download);
  tracked->start_us = g_get_monotonic_time ();
  tracked->start_completed = atlas_download_get_completed_bytes (download);

  if (state == ATLAS_DOWNLOAD_COMPLETE || state == ATLAS_DOWNLOAD_FAILED)
    {
      /* Already settled (a re-run of a finished get): say so and stop. */
      print_final_line (tracked);
      tracked_free (tracked);
      return;
    }

  tracked->notify_id =
      g_signal_connect (download, "notify", G_CALLBACK (download_notify_cb), tracked);
  tracked->log_id = g_signal_connect (download, "log", G_CALLBACK (download_log_cb), tracked);
  g_ptr_array_add (self->tracked, tracked);

  if (self->mode == ATLAS_CLI_PROGRESS_JSON)
    emit_json_progress (tracked);
  else
    schedule_redraw (self);
}
