/* atlas-download-progress.c — when an active download has received nothing
 * for a while (a minute by default), its log says why: what is missing, how
 * many connected peers hold it, and what each mirror and peer link is doing.
 * The user sees a reason instead of a frozen bar, and a hang we did not
 * foresee becomes a report we can read (a soak peer once sat at 12 of 16 MiB,
 * silent). */
#include "atlas-download-internal.h"

/* Stall timeouts without a byte before saying why (60 s by default): by
 * then stalled connections were given up and failed sources retried. */
#define NO_PROGRESS_STALL_TIMEOUTS 6
/* Enough to see the pattern, short enough for one log line. */
#define MAX_PIECES_SHOWN 8

static guint64
bytes_received (AtlasDownload *self)
{
  guint64 sum = 0;

  for (guint i = 0; i < self->sources->len; i++)
    sum += ((Source *) g_ptr_array_index (self->sources, i))->bytes;
  return sum;
}

static void
describe_missing (AtlasDownload *self, GString *out)
{
  guint shown = 0;

  g_string_append_printf (out, "%u pieces missing",
                          atlas_scheduler_count_missing (self->scheduler));
  for (guint piece = 0; piece < self->n_pieces && shown < MAX_PIECES_SHOWN; piece++)
    {
      if (atlas_scheduler_is_done (self->scheduler, piece)
          || !atlas_scheduler_is_wanted (self->scheduler, piece))
        continue;
      g_string_append_printf (out, "%s%u (%s, %u peers hold it)", shown == 0 ? ": " : ", ", piece,
                              atlas_scheduler_is_taken (self->scheduler, piece) ? "claimed"
                                                                                : "unclaimed",
                              atlas_scheduler_get_holders (self->scheduler, piece));
      shown++;
    }
}

static void
describe_source (AtlasDownload *self, Source *source, gint64 now, GString *out)
{
  Connection *link = source->link;

  g_string_append_printf (out, "; %s: %s, %u connections", source->url,
                          atlas_source_state_to_string (source->state), source->connections);
  if (source->retry_at > now)
    g_string_append_printf (out, ", retry in %" G_GINT64_FORMAT " s",
                            (source->retry_at - now) / G_USEC_PER_SEC);
  if (link != NULL)
    {
      const guint8 *bits = atlas_peer_session_get_remote_bits (link->peer);
      guint held = 0;

      for (guint piece = 0; bits != NULL && piece < self->n_pieces; piece++)
        held += !atlas_scheduler_is_done (self->scheduler, piece)
                && (bits[piece / 8] & (0x80 >> (piece % 8))) != 0;
      g_string_append_printf (out, ", holds %u missing, %s%s%s", held,
                              atlas_peer_session_is_ready (link->peer) ? "ready" : "not ready",
                              atlas_peer_session_is_choking_us (link->peer) ? ", choking us" : "",
                              link->paused ? ", paused" : "");
      if (link->range != NULL)
        g_string_append_printf (
            out, ", fetching pieces %u-%u (%" G_GUINT64_FORMAT " bytes asked, not arrived)",
            link->range->next, link->range->end - 1, link->requested - link->pos);
    }
  if (source->last_error != NULL)
    g_string_append_printf (out, ", last error: %s", source->last_error);
}

void
_atlas_download_watch_progress (AtlasDownload *self, gint64 now)
{
  guint64 received = bytes_received (self);
  guint seconds = NO_PROGRESS_STALL_TIMEOUTS
                  * atlas_settings_get_stall_timeout (atlas_session_get_settings (self->session));
  g_autoptr (GString) out = NULL;

  if (self->state != ATLAS_DOWNLOAD_ACTIVE || self->scheduler == NULL || self->session == NULL
      || received != self->progress_bytes || atlas_scheduler_count_missing (self->scheduler) == 0)
    {
      self->progress_bytes = received;
      self->progress_at = now;
      return;
    }
  if (now - self->progress_at < (gint64) seconds * G_USEC_PER_SEC)
    return;
  /* Again after as long, while nothing comes. */
  self->progress_at = now;

  out = g_string_new (NULL);
  g_string_append_printf (out, "Nothing received for %u s: ", seconds);
  describe_missing (self, out);
  for (guint i = 0; i < self->sources->len; i++)
    describe_source (self, g_ptr_array_index (self->sources, i), now, out);
  if (self->writer != NULL)
    g_string_append_printf (out, "; %" G_GUINT64_FORMAT " bytes wait for the disk%s",
                            atlas_piece_writer_get_queued (self->writer),
                            self->waiting_for_writer ? " (transfers paused for it)" : "");
  if (self->swarming)
    g_string_append_printf (
        out, "; mirrors %s pieces peers hold",
        atlas_scheduler_get_mirror_max_holders (self->scheduler) == 0 ? "leave" : "also take");
  _atlas_download_log (self, G_LOG_LEVEL_MESSAGE, "%s", out->str);
}
