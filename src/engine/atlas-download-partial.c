/* atlas-download-partial.c — partial downloads, the donation cache's storage.
 *
 * A partial download fetches, keeps and serves only the pieces its owner
 * (the donor) wants, and never finalizes: once every wanted piece is
 * verified it simply has nothing to fetch and goes on serving its peers.
 * Its file is the sparse .part file. When a piece stops being wanted:
 *  - verified: peers are refused it at once, it leaves the verified set and
 *    the queue record, and only once that record is committed are its blocks
 *    freed (FALLOC_FL_PUNCH_HOLE) on a worker thread, so the queue never
 *    calls verified a piece whose bytes are gone, even after a crash;
 *  - being fetched: its transfer is released and whatever of it reached the
 *    writer is punched by the writer after those writes;
 *  - received with its hash pending: the verdict is ignored and the piece is
 *    punched.
 * A piece being punched is not fetched again until its hole is there, so
 * a late punch can never erase fresh data.
 */
#include "atlas-download-internal.h"

#include "atlas-error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static gboolean
bit_get (const guint8 *bits, guint piece)
{
  return bits != NULL && (bits[piece / 8] & (0x80 >> (piece % 8))) != 0;
}

static void
bit_set (guint8 *bits, guint piece, gboolean value)
{
  if (value)
    bits[piece / 8] |= 0x80 >> (piece % 8);
  else
    bits[piece / 8] &= (guint8) ~(0x80u >> (piece % 8));
}

static gsize
bits_size (AtlasDownload *self)
{
  return (self->n_pieces + 7) / 8;
}

static guint64
piece_size (AtlasDownload *self, guint piece)
{
  return _atlas_download_piece_end (self, piece) - _atlas_download_piece_start (self, piece);
}

gboolean
_atlas_download_is_wanted (AtlasDownload *self, guint piece)
{
  return !self->partial || bit_get (self->wanted, piece);
}

/* The scheduler may hand out what is wanted and not being punched. */
static void
update_scheduler (AtlasDownload *self)
{
  g_autofree guint8 *fetchable = g_memdup2 (self->wanted, bits_size (self));

  for (gsize i = 0; i < bits_size (self); i++)
    fetchable[i] &= (guint8) ~self->punching[i];
  atlas_scheduler_set_wanted (self->scheduler, fetchable);
}

gboolean
_atlas_download_make_partial (AtlasDownload *self, GBytes *wanted, GError **error)
{
  gsize size;
  const guint8 *bits;

  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), FALSE);
  g_return_val_if_fail (wanted != NULL, FALSE);

  if (self->scheduler == NULL)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "A partial download needs the file's size and piece length up front");
      return FALSE;
    }
  bits = g_bytes_get_data (wanted, &size);
  if (size != bits_size (self))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "The wanted pieces are %" G_GSIZE_FORMAT
                   " bytes, but %u pieces take %" G_GSIZE_FORMAT,
                   size, self->n_pieces, bits_size (self));
      return FALSE;
    }
  self->partial = TRUE;
  g_free (self->wanted);
  self->wanted = g_memdup2 (bits, size);
  /* Spare bits after the last piece mean nothing. */
  if (self->n_pieces % 8 != 0)
    self->wanted[size - 1] &= (guint8) (0xff00 >> (self->n_pieces % 8));
  if (self->punching == NULL)
    self->punching = g_malloc0 (size);
  if (self->stale == NULL)
    self->stale = g_malloc0 (size);
  update_scheduler (self);
  return TRUE;
}

void
_atlas_download_partial_free (AtlasDownload *self)
{
  g_clear_pointer (&self->wanted, g_free);
  g_clear_pointer (&self->punching, g_free);
  g_clear_pointer (&self->stale, g_free);
}

/* ---- punching holes ------------------------------------------------------ */

/* A hole is in place (errsv 0), or could not be made. */
static void
punched (AtlasDownload *self, guint piece, int errsv)
{
  if (piece >= self->n_pieces || !bit_get (self->punching, piece))
    return;
  bit_set (self->punching, piece, FALSE);
  if (errsv == EOPNOTSUPP || errsv == ENOSYS)
    {
      /* Then the blocks stay allocated until the piece is fetched again, and
       * they go on counting in the stored bytes. */
      bit_set (self->stale, piece, TRUE);
      if (!self->punch_unsupported)
        _atlas_download_log (self, G_LOG_LEVEL_WARNING,
                             "The file system of “%s” cannot free parts of a file: dropped "
                             "pieces keep their disk space until they are fetched again",
                             self->part_path);
      self->punch_unsupported = TRUE;
    }
  else if (errsv != 0)
    {
      bit_set (self->stale, piece, TRUE);
      _atlas_download_log (self, G_LOG_LEVEL_WARNING,
                           "Cannot free the space of dropped piece %u of “%s”: %s", piece,
                           self->part_path, g_strerror (errsv));
    }
  else
    bit_set (self->stale, piece, FALSE);
}

void
_atlas_download_partial_punched (AtlasDownload *self, guint piece, int errsv)
{
  punched (self, piece, errsv);
  if (self->scheduler == NULL || !self->partial || self->stopping)
    return;
  update_scheduler (self);
  _atlas_download_schedule (self);
}

typedef struct
{
  char *path;
  guint64 piece_length;
  guint64 size;
  GArray *pieces; /* guint */
  GArray *errors; /* int per piece, filled by the worker */
} PunchJob;

static void
punch_job_free (PunchJob *job)
{
  g_free (job->path);
  g_array_unref (job->pieces);
  g_clear_pointer (&job->errors, g_array_unref);
  g_free (job);
}

/* On a worker: one fallocate per run of consecutive pieces. */
static void
punch_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  PunchJob *job = data;
  int fd = open (job->path, O_WRONLY | O_CLOEXEC);
  int open_errsv = fd < 0 ? errno : 0;

  job->errors = g_array_sized_new (FALSE, TRUE, sizeof (int), job->pieces->len);
  g_array_set_size (job->errors, job->pieces->len);
  for (guint i = 0; i < job->pieces->len;)
    {
      guint first = g_array_index (job->pieces, guint, i);
      guint n = 1;
      int errsv;

      while (i + n < job->pieces->len && g_array_index (job->pieces, guint, i + n) == first + n)
        n++;
      /* No file: nothing is allocated, which is what we want. */
      if (fd < 0)
        errsv = open_errsv == ENOENT ? 0 : open_errsv;
      else
        {
          guint64 start = (guint64) first * job->piece_length;
          guint64 end = MIN ((guint64) (first + n) * job->piece_length, job->size);

          errsv = atlas_piece_writer_punch_hole (fd, start, end - start);
        }
      for (guint j = 0; j < n; j++)
        g_array_index (job->errors, int, i + j) = errsv;
      i += n;
    }
  if (fd >= 0)
    close (fd);
  g_task_return_boolean (task, TRUE);
}

static void
punch_done_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  AtlasDownload *self = ATLAS_DOWNLOAD (object);
  PunchJob *job = g_task_get_task_data (G_TASK (result));

  for (guint i = 0; i < job->pieces->len; i++)
    punched (self, g_array_index (job->pieces, guint, i), g_array_index (job->errors, int, i));
  if (self->session == NULL || self->stopping)
    return;
  update_scheduler (self);
  _atlas_download_schedule (self);
}

static void
start_punch (AtlasDownload *self, PunchJob *job)
{
  g_autoptr (GTask) task = g_task_new (self, NULL, punch_done_cb, NULL);

  g_task_set_task_data (task, job, (GDestroyNotify) punch_job_free);
  g_task_run_in_thread (task, punch_thread);
}

typedef struct
{
  AtlasDownload *download; /* a reference */
  PunchJob *job;
} PendingPunch;

static void
store_flushed_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  PendingPunch *pending = user_data;

  /* Whether or not a write failed (the store reports that itself), the
   * pieces are no longer served: free their space. */
  atlas_store_flush_finish (ATLAS_STORE (object), result, NULL);
  start_punch (pending->download, pending->job);
  g_object_unref (pending->download);
  g_free (pending);
}

/* Frees the blocks of pieces that were just dropped, once the queue no
 * longer records them as verified (the store runs its jobs in order, so a
 * flush queued now completes after that write). */
static void
punch_after_commit (AtlasDownload *self, GArray *pieces)
{
  AtlasStore *store = self->session != NULL ? _atlas_session_get_store (self->session) : NULL;
  PunchJob *job = g_new0 (PunchJob, 1);
  PendingPunch *pending;

  job->path = g_strdup (self->part_path);
  job->piece_length = self->piece_length;
  job->size = (guint64) self->size;
  job->pieces = g_array_ref (pieces);
  for (guint i = 0; i < pieces->len; i++)
    bit_set (self->punching, g_array_index (pieces, guint, i), TRUE);

  _atlas_download_persist (self);
  if (store == NULL || self->id == 0)
    {
      start_punch (self, job);
      return;
    }
  pending = g_new0 (PendingPunch, 1);
  pending->download = g_object_ref (self);
  pending->job = job;
  atlas_store_flush_async (store, NULL, store_flushed_cb, pending);
}

/* ---- what changes the wanted set ------------------------------------------ */

void
_atlas_download_drop_received (AtlasDownload *self, guint piece)
{
  atlas_scheduler_piece_checked (self->scheduler, piece, FALSE, G_MAXUINT);
  self->piece_states[piece] = ATLAS_PIECE_MISSING;
  self->piece_sources[piece] = 0xffff;
  self->piece_map_changed = TRUE;
  if (self->writer == NULL)
    {
      /* The writer is closing: its bytes stay until fetched again. */
      bit_set (self->stale, piece, TRUE);
      return;
    }
  bit_set (self->punching, piece, TRUE);
  atlas_piece_writer_punch (self->writer, piece);
}

/* Connections working on pieces no longer wanted give their ranges back;
 * what a transfer had written of its piece in progress is punched after
 * those writes, by the writer. */
static void
release_unwanted_transfers (AtlasDownload *self)
{
  for (guint i = self->connections->len; i > 0; i--)
    {
      Connection *connection = g_ptr_array_index (self->connections, i - 1);
      AtlasRange *range = connection->range;
      guint in_progress;

      if (range == NULL || !atlas_scheduler_range_has_unwanted (self->scheduler, range))
        continue;
      in_progress = range->next;
      if (connection->peer != NULL)
        _atlas_download_peer_release_range (self, connection);
      else
        _atlas_download_cancel_connection (self, connection, NULL);
      if (in_progress < self->n_pieces && !bit_get (self->wanted, in_progress)
          && self->writer != NULL && !atlas_scheduler_is_taken (self->scheduler, in_progress))
        {
          bit_set (self->punching, in_progress, TRUE);
          atlas_piece_writer_punch (self->writer, in_progress);
        }
    }
}

void
atlas_download_set_wanted_pieces (AtlasDownload *self, GBytes *wanted)
{
  g_autoptr (GArray) dropped = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GError) error = NULL;
  const guint8 *bits;
  gsize size;
  AtlasStore *store;

  g_return_if_fail (ATLAS_IS_DOWNLOAD (self));
  g_return_if_fail (self->partial);
  g_return_if_fail (wanted != NULL);

  bits = g_bytes_get_data (wanted, &size);
  if (size != bits_size (self))
    {
      g_critical ("atlas_download_set_wanted_pieces: %" G_GSIZE_FORMAT
                  " bytes of wanted pieces for %u pieces",
                  size, self->n_pieces);
      return;
    }

  /* Verified pieces no longer wanted: refused to peers before their blocks
   * go, then out of the verified set (while the scheduler still counts them
   * as wanted, so every counter comes down once). */
  for (guint piece = 0; piece < self->n_pieces; piece++)
    if (bit_get (self->wanted, piece) && !bit_get (bits, piece)
        && atlas_scheduler_is_done (self->scheduler, piece))
      {
        _atlas_download_peers_piece_dropped (self, piece);
        _atlas_download_forget_piece (self, piece, G_MAXUINT);
        g_array_append_val (dropped, piece);
      }
  if (!_atlas_download_make_partial (self, wanted, &error))
    g_assert_not_reached (); /* the size was checked above */
  release_unwanted_transfers (self);
  self->partial_settled = FALSE;
  self->piece_map_changed = TRUE;

  store = self->session != NULL ? _atlas_session_get_store (self->session) : NULL;
  if (store != NULL && self->id != 0)
    {
      g_autoptr (GBytes) copy = g_bytes_new (self->wanted, bits_size (self));
      atlas_store_update_wanted (store, self->id, copy);
    }
  if (dropped->len > 0)
    punch_after_commit (self, dropped);
  update_scheduler (self);
  _atlas_download_schedule (self);
  _atlas_download_check_done (self);
}

void
_atlas_download_partial_activate (AtlasDownload *self)
{
  g_autoptr (GArray) leftovers = NULL;

  if (!self->partial || !self->punch_leftovers || self->scheduler == NULL)
    return;
  self->punch_leftovers = FALSE;
  /* A crash between a drop's record and its punch leaves the bytes: free
   * every unwanted piece (a hole punched again costs nothing). */
  leftovers = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint piece = 0; piece < self->n_pieces; piece++)
    if (!bit_get (self->wanted, piece) && !atlas_scheduler_is_taken (self->scheduler, piece))
      g_array_append_val (leftovers, piece);
  if (leftovers->len > 0)
    punch_after_commit (self, leftovers);
  update_scheduler (self);
}

/* ---- the public API --------------------------------------------------------- */

gboolean
atlas_download_is_partial (AtlasDownload *self)
{
  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), FALSE);
  return self->partial;
}

GBytes *
atlas_download_dup_wanted_pieces (AtlasDownload *self)
{
  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), NULL);
  if (!self->partial)
    return NULL;
  return g_bytes_new (self->wanted, bits_size (self));
}

guint
atlas_download_get_n_held_pieces (AtlasDownload *self)
{
  guint held = 0;

  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), 0);
  for (guint piece = 0; self->scheduler != NULL && piece < self->n_pieces; piece++)
    held +=
        _atlas_download_is_wanted (self, piece) && atlas_scheduler_is_done (self->scheduler, piece);
  return held;
}

guint
atlas_download_get_n_wanted_pieces (AtlasDownload *self)
{
  guint wanted = 0;

  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), 0);
  for (guint piece = 0; piece < self->n_pieces; piece++)
    wanted += _atlas_download_is_wanted (self, piece);
  return wanted;
}

guint64
atlas_download_get_stored_bytes (AtlasDownload *self)
{
  guint64 stored = 0;

  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), 0);
  for (guint piece = 0; self->scheduler != NULL && piece < self->n_pieces; piece++)
    if (atlas_scheduler_is_taken (self->scheduler, piece) || bit_get (self->punching, piece)
        || bit_get (self->stale, piece))
      stored += piece_size (self, piece);
  return stored;
}
