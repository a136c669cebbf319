#include "atlas-piece-writer.h"

#include "atlas-error.h"
#include "atlas-worker-thread.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Bounded memory whatever the file size: at most this much waits for the disk. */
#define HIGH_WATER (8 * 1024 * 1024)
#define LOW_WATER (3 * 1024 * 1024)
/* Piece hashing is the costly part of writing: one lane (thread) per core,
 * each owning whole pieces (see lane_for). */
#define MAX_LANES 2
/* fdatasync at most once a second or every 64 MiB of verified data. */
#define SYNC_INTERVAL_US G_USEC_PER_SEC
#define SYNC_BYTES (64 * 1024 * 1024)

typedef enum
{
  JOB_WRITE,
  JOB_END_STREAM,
  JOB_SYNC,
  JOB_PUNCH,
  JOB_CLOSE,
} JobKind;

typedef struct
{
  JobKind kind;
  guint stream;
  guint64 offset;
  guint8 *block;
  gsize length;
} Job;

typedef struct
{
  guint64 next_offset; /* where this stream's next byte lands */
  guint piece;
  gboolean hashing; /* the hasher has seen this piece from its first byte */
  AtlasHasher *hasher;
} Stream;

typedef struct
{
  AtlasPieceWriter *writer;
  guint index;
  GThread *thread;
  GAsyncQueue *jobs;
  GHashTable *streams; /* stream id -> Stream* */
  GArray *unsynced;    /* guint pieces verified but not yet durable */
  guint64 unsynced_bytes;
  gint64 last_sync;
} Lane;

typedef enum
{
  EVENT_CHECKED,
  EVENT_DURABLE,
  EVENT_DRAINED,
  EVENT_FAILED,
  EVENT_CREATED,
  EVENT_PUNCHED,
} EventKind;

typedef struct
{
  EventKind kind;
  AtlasPieceResult result;
  guint piece;
  int errsv; /* EVENT_PUNCHED: 0 or why the hole could not be punched */
  GError *error;
} Event;

struct _AtlasPieceWriter
{
  /* Fixed at creation. */
  char *path;
  guint64 size;
  guint64 piece_length;
  AtlasHashType piece_type;
  GBytes *expected;
  gboolean sparse; /* no preallocation: blocks are allocated as pieces arrive */
  GMainContext *context;
  AtlasPieceWriterCallbacks callbacks;
  gpointer user_data;

  Lane lanes[MAX_LANES];
  guint n_lanes;
  gssize queued;     /* atomic: bytes waiting */
  gint want_drained; /* atomic: the owner paused transfers */

  /* The file, opened and preallocated by lane 0 before any lane writes. */
  GMutex file_lock;
  GCond file_ready;
  gboolean file_opened; /* under file_lock */
  int fd;
  GError *failure; /* under file_lock; the first failure wins */

  /* Events for the owner's context. */
  GMutex lock;
  GArray *events;  /* Event */
  GSource *notify; /* idle that delivers events, NULL when none pending */
};

static void
stream_free (Stream *stream)
{
  g_clear_pointer (&stream->hasher, atlas_hasher_free);
  g_free (stream);
}

static gboolean deliver_events_cb (gpointer data);

static void
post_event (AtlasPieceWriter *writer, Event *event)
{
  g_mutex_lock (&writer->lock);
  g_array_append_val (writer->events, *event);
  if (writer->notify == NULL)
    {
      writer->notify = g_idle_source_new ();
      g_source_set_priority (writer->notify, G_PRIORITY_DEFAULT);
      g_source_set_callback (writer->notify, deliver_events_cb, writer, NULL);
      g_source_set_name (writer->notify, "[atlas] piece writer events");
      g_source_attach (writer->notify, writer->context);
    }
  g_mutex_unlock (&writer->lock);
}

static void
deliver (AtlasPieceWriter *writer, GArray *events)
{
  g_autoptr (GArray) results = g_array_new (FALSE, FALSE, sizeof (AtlasPieceResult));
  g_autoptr (GArray) durable = g_array_new (FALSE, FALSE, sizeof (guint));

  /* Keep the order that matters: every verdict before the durability of the
   * same piece. Batching consecutive events of a kind keeps callbacks few. */
  for (guint i = 0; i <= events->len; i++)
    {
      Event *event = i < events->len ? &g_array_index (events, Event, i) : NULL;

      if (results->len > 0 && (event == NULL || event->kind != EVENT_CHECKED))
        {
          writer->callbacks.pieces_checked ((AtlasPieceResult *) results->data, results->len,
                                            writer->user_data);
          g_array_set_size (results, 0);
        }
      if (durable->len > 0 && (event == NULL || event->kind != EVENT_DURABLE))
        {
          writer->callbacks.pieces_durable ((guint *) durable->data, durable->len,
                                            writer->user_data);
          g_array_set_size (durable, 0);
        }
      if (event == NULL)
        break;

      switch (event->kind)
        {
        case EVENT_CHECKED:
          g_array_append_val (results, event->result);
          break;
        case EVENT_DURABLE:
          g_array_append_val (durable, event->piece);
          break;
        case EVENT_DRAINED:
          writer->callbacks.drained (writer->user_data);
          break;
        case EVENT_FAILED:
          writer->callbacks.failed (event->error, writer->user_data);
          g_error_free (event->error);
          break;
        case EVENT_CREATED:
          if (writer->callbacks.created != NULL)
            writer->callbacks.created (writer->user_data);
          break;
        case EVENT_PUNCHED:
          if (writer->callbacks.punched != NULL)
            writer->callbacks.punched (event->piece, event->errsv, writer->user_data);
          break;
        }
    }
}

static GArray *
take_events (AtlasPieceWriter *writer)
{
  GArray *events;

  g_mutex_lock (&writer->lock);
  events = writer->events;
  writer->events = g_array_new (FALSE, FALSE, sizeof (Event));
  if (writer->notify != NULL)
    {
      g_source_destroy (writer->notify);
      g_clear_pointer (&writer->notify, g_source_unref);
    }
  g_mutex_unlock (&writer->lock);
  return events;
}

static gboolean
deliver_events_cb (gpointer data)
{
  AtlasPieceWriter *writer = data;
  g_autoptr (GArray) events = take_events (writer);

  deliver (writer, events);
  return G_SOURCE_REMOVE;
}

static void
fail (AtlasPieceWriter *writer, int errsv, const char *what)
{
  Event event = { .kind = EVENT_FAILED };
  int code = (errsv == ENOSPC || errsv == EDQUOT || errsv == EFBIG) ? ATLAS_ERROR_DISK_FULL
                                                                    : ATLAS_ERROR_IO;

  g_mutex_lock (&writer->file_lock);
  if (writer->failure != NULL)
    {
      g_mutex_unlock (&writer->file_lock);
      return;
    }
  if (code == ATLAS_ERROR_DISK_FULL)
    g_set_error (&writer->failure, ATLAS_ERROR, code,
                 "No space left to %s “%s”: free some space, then resume the download", what,
                 writer->path);
  else
    g_set_error (&writer->failure, ATLAS_ERROR, code, "Cannot %s “%s”: %s", what, writer->path,
                 g_strerror (errsv));
  event.error = g_error_copy (writer->failure);
  g_mutex_unlock (&writer->file_lock);
  post_event (writer, &event);
}

static gboolean
failed (AtlasPieceWriter *writer)
{
  gboolean result;

  g_mutex_lock (&writer->file_lock);
  result = writer->failure != NULL;
  g_mutex_unlock (&writer->file_lock);
  return result;
}

static void
sync_now (Lane *lane)
{
  AtlasPieceWriter *writer = lane->writer;

  if (lane->unsynced->len == 0 || failed (writer))
    return;

  if (fdatasync (writer->fd) != 0)
    {
      fail (writer, errno, "sync");
      return;
    }
  for (guint i = 0; i < lane->unsynced->len; i++)
    {
      Event event = { .kind = EVENT_DURABLE, .piece = g_array_index (lane->unsynced, guint, i) };
      post_event (writer, &event);
    }
  g_array_set_size (lane->unsynced, 0);
  lane->unsynced_bytes = 0;
  lane->last_sync = g_get_monotonic_time ();
}

static guint64
piece_end (AtlasPieceWriter *writer, guint piece)
{
  return MIN ((guint64) (piece + 1) * writer->piece_length, writer->size);
}

static void
piece_finished (Lane *lane, guint stream_id, Stream *stream)
{
  AtlasPieceWriter *writer = lane->writer;
  Event event = { .kind = EVENT_CHECKED };
  gsize digest_length = atlas_hash_type_digest_length (writer->piece_type);

  event.result.piece = stream->piece;
  event.result.stream = stream_id;
  atlas_hasher_finish (stream->hasher, event.result.digest);
  event.result.good = TRUE;
  if (writer->expected != NULL)
    {
      gsize n;
      const guint8 *expected = g_bytes_get_data (writer->expected, &n);

      event.result.good =
          (stream->piece + 1) * digest_length <= n
          && memcmp (expected + stream->piece * digest_length, event.result.digest, digest_length)
                 == 0;
    }
  if (event.result.good)
    {
      g_array_append_val (lane->unsynced, stream->piece);
      lane->unsynced_bytes +=
          piece_end (writer, stream->piece) - (guint64) stream->piece * writer->piece_length;
    }
  post_event (writer, &event);
}

/* Feeds [offset, offset+length) of one stream to its piece hashes. */
static void
hash_block (Lane *lane, guint stream_id, guint64 offset, const guint8 *data, gsize length)
{
  AtlasPieceWriter *writer = lane->writer;
  Stream *stream = g_hash_table_lookup (lane->streams, GUINT_TO_POINTER (stream_id));

  if (stream == NULL)
    {
      stream = g_new0 (Stream, 1);
      stream->hasher = atlas_hasher_new (writer->piece_type);
      stream->next_offset = G_MAXUINT64;
      g_hash_table_insert (lane->streams, GUINT_TO_POINTER (stream_id), stream);
    }

  while (length > 0)
    {
      guint piece = offset / writer->piece_length;
      guint64 end = piece_end (writer, piece);
      gsize chunk = MIN (length, end - offset);

      if (offset == (guint64) piece * writer->piece_length)
        {
          /* A piece starts here: begin its hash afresh. */
          guint8 scratch[ATLAS_HASH_MAX_DIGEST];

          if (stream->hashing)
            atlas_hasher_finish (stream->hasher, scratch);
          stream->hashing = TRUE;
          stream->piece = piece;
        }
      else if (offset != stream->next_offset || piece != stream->piece)
        {
          /* A gap: this piece cannot be hashed in-stream and will be fetched
           * again by whoever claims it next. */
          stream->hashing = FALSE;
        }

      if (stream->hashing)
        {
          atlas_hasher_update (stream->hasher, data, chunk);
          if (offset + chunk == end)
            {
              piece_finished (lane, stream_id, stream);
              stream->hashing = FALSE;
            }
        }
      offset += chunk;
      data += chunk;
      length -= chunk;
      stream->next_offset = offset;
    }
}

static void
write_block (Lane *lane, Job *job)
{
  AtlasPieceWriter *writer = lane->writer;
  gsize done = 0;

  if (failed (writer))
    return;

  while (done < job->length)
    {
      ssize_t n = pwrite (writer->fd, job->block + done, job->length - done, job->offset + done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          fail (writer, n < 0 ? errno : ENOSPC, "write to");
          return;
        }
      done += n;
    }
  hash_block (lane, job->stream, job->offset, job->block, job->length);
}

/* Memory-backed filesystems allocate by zeroing pages that we are about to
 * overwrite anyway (0.28 s of CPU per GiB measured on tmpfs), so there the
 * reservation is a free-space check; disks get real extents.
 * A file that already has its size and every block (one being seeded or
 * repaired) is left alone: fallocate and ftruncate move its modification
 * time even when they change nothing, and a web server serving the same file
 * derives its ETag and Last-Modified from it (a mirror then refused our
 * If-Range in cli-peers). */
static int
reserve_space (int fd, guint64 size)
{
  struct statfs fs;
  struct stat st;
  int err;

  if (fstat (fd, &st) != 0)
    return errno;
  if ((guint64) st.st_size == size && (guint64) st.st_blocks * 512 >= size)
    return 0;

  if (fstatfs (fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC))
    {
      struct statvfs vfs;

      if (fstatvfs (fd, &vfs) == 0
          && (guint64) vfs.f_bavail * vfs.f_frsize + (guint64) st.st_blocks * 512 < size)
        return ENOSPC;
      if ((guint64) st.st_size == size)
        return 0;
      return ftruncate (fd, size) == 0 ? 0 : errno;
    }

  err = posix_fallocate (fd, 0, size);
  if (err == EOPNOTSUPP || err == EINVAL)
    err = ftruncate (fd, size) == 0 ? 0 : errno;
  return err;
}

int
atlas_piece_writer_punch_hole (int fd, guint64 offset, guint64 length)
{
  if (length == 0)
    return 0;
  if (fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t) offset, (off_t) length)
      != 0)
    return errno;
  return 0;
}

/* Frees a piece's blocks, after every write queued for it before (they run
 * on this lane too). A piece verified but not yet synced is not reported
 * durable afterwards: its bytes are gone. */
static void
punch_piece (Lane *lane, guint piece)
{
  AtlasPieceWriter *writer = lane->writer;
  guint64 start = (guint64) piece * writer->piece_length;
  Event event = { .kind = EVENT_PUNCHED, .piece = piece };

  for (guint i = lane->unsynced->len; i > 0; i--)
    if (g_array_index (lane->unsynced, guint, i - 1) == piece)
      g_array_remove_index (lane->unsynced, i - 1);
  event.errsv = failed (writer) ? EIO
                                : atlas_piece_writer_punch_hole (writer->fd, start,
                                                                 piece_end (writer, piece) - start);
  post_event (writer, &event);
}

static void
open_file (AtlasPieceWriter *writer)
{
  g_autofree char *dir = g_path_get_dirname (writer->path);
  int fd, err;

  g_mkdir_with_parents (dir, 0755);
  fd = open (writer->path, O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    {
      Event event = { .kind = EVENT_CREATED };

      fd = open (writer->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd >= 0)
        post_event (writer, &event);
    }
  if (fd < 0)
    fail (writer, errno, "open");
  else if (writer->sparse)
    {
      /* Only some pieces will ever be written (a partial download): the
       * file has its full size for reads at any offset, and no blocks. */
      struct stat st;

      if (fstat (fd, &st) != 0
          || ((guint64) st.st_size != writer->size && ftruncate (fd, (off_t) writer->size) != 0))
        fail (writer, errno, "resize");
    }
  else if ((err = reserve_space (fd, writer->size)) != 0)
    /* Reserve the space up front so a full disk shows now, not at 99 %. */
    fail (writer, err, "reserve space for");

  g_mutex_lock (&writer->file_lock);
  writer->fd = fd;
  writer->file_opened = TRUE;
  g_cond_broadcast (&writer->file_ready);
  g_mutex_unlock (&writer->file_lock);
}

static gpointer
lane_thread (gpointer data)
{
  Lane *lane = data;
  AtlasPieceWriter *writer = lane->writer;
  gboolean running = TRUE;

  atlas_worker_thread_lower_priority ();

  if (lane->index == 0)
    open_file (writer);
  g_mutex_lock (&writer->file_lock);
  while (!writer->file_opened)
    g_cond_wait (&writer->file_ready, &writer->file_lock);
  g_mutex_unlock (&writer->file_lock);
  lane->last_sync = g_get_monotonic_time ();

  while (running)
    {
      Job *job = g_async_queue_timeout_pop (lane->jobs, SYNC_INTERVAL_US / 4);

      if (job == NULL)
        {
          /* Idle: make what we have durable now rather than later. */
          sync_now (lane);
          continue;
        }

      switch (job->kind)
        {
        case JOB_WRITE:
          write_block (lane, job);
          if (g_atomic_pointer_add (&writer->queued, -(gssize) job->length) - (gssize) job->length
                  < LOW_WATER
              && g_atomic_int_compare_and_exchange (&writer->want_drained, 1, 0))
            {
              Event event = { .kind = EVENT_DRAINED };
              post_event (writer, &event);
            }
          g_free (job->block);
          break;
        case JOB_END_STREAM:
          g_hash_table_remove (lane->streams, GUINT_TO_POINTER (job->stream));
          break;
        case JOB_SYNC:
          sync_now (lane);
          break;
        case JOB_PUNCH:
          punch_piece (lane, (guint) (job->offset / writer->piece_length));
          break;
        case JOB_CLOSE:
          running = FALSE;
          break;
        }
      g_free (job);

      if (lane->unsynced_bytes >= SYNC_BYTES
          || (lane->unsynced->len > 0
              && g_get_monotonic_time () - lane->last_sync >= SYNC_INTERVAL_US))
        sync_now (lane);
    }

  sync_now (lane);
  return NULL;
}

AtlasPieceWriter *
atlas_piece_writer_new (const char *path, guint64 size, guint64 piece_length,
                        AtlasHashType piece_type, GBytes *expected, gboolean sparse,
                        GMainContext *context, const AtlasPieceWriterCallbacks *callbacks,
                        gpointer user_data)
{
  AtlasPieceWriter *writer = g_new0 (AtlasPieceWriter, 1);

  writer->path = g_strdup (path);
  writer->size = size;
  writer->piece_length = piece_length;
  writer->piece_type = piece_type != ATLAS_HASH_NONE ? piece_type : ATLAS_HASH_SHA256;
  writer->expected = expected != NULL ? g_bytes_ref (expected) : NULL;
  writer->sparse = sparse;
  writer->context = g_main_context_ref (context);
  writer->callbacks = *callbacks;
  writer->user_data = user_data;
  writer->fd = -1;
  writer->events = g_array_new (FALSE, FALSE, sizeof (Event));
  g_mutex_init (&writer->lock);
  g_mutex_init (&writer->file_lock);
  g_cond_init (&writer->file_ready);

  writer->n_lanes = CLAMP (g_get_num_processors (), 1, MAX_LANES);
  for (guint i = 0; i < writer->n_lanes; i++)
    {
      Lane *lane = &writer->lanes[i];

      lane->writer = writer;
      lane->index = i;
      lane->jobs = g_async_queue_new ();
      lane->streams = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) stream_free);
      lane->unsynced = g_array_new (FALSE, FALSE, sizeof (guint));
      lane->thread = g_thread_new ("atlas-writer", lane_thread, lane);
    }
  return writer;
}

/* Every write to a piece goes through the same lane, so writes to one piece
 * land in the order they were queued — whichever connection sent them. A
 * cancelled connection's late blocks can then never overwrite the bytes that
 * a later connection wrote and verified. (Blocks never span pieces.) */
static Lane *
lane_for (AtlasPieceWriter *writer, guint64 offset)
{
  return &writer->lanes[(offset / writer->piece_length) % writer->n_lanes];
}

void
atlas_piece_writer_write (AtlasPieceWriter *writer, guint stream, guint64 offset, guint8 *block,
                          gsize length)
{
  Job *job = g_new0 (Job, 1);

  job->kind = JOB_WRITE;
  job->stream = stream;
  job->offset = offset;
  job->block = block;
  job->length = length;
  g_atomic_pointer_add (&writer->queued, (gssize) length);
  g_async_queue_push (lane_for (writer, offset)->jobs, job);
}

void
atlas_piece_writer_end_stream (AtlasPieceWriter *writer, guint stream)
{
  /* A stream's pieces are spread over the lanes: each forgets its part. */
  for (guint i = 0; i < writer->n_lanes; i++)
    {
      Job *job = g_new0 (Job, 1);

      job->kind = JOB_END_STREAM;
      job->stream = stream;
      g_async_queue_push (writer->lanes[i].jobs, job);
    }
}

void
atlas_piece_writer_sync_soon (AtlasPieceWriter *writer)
{
  /* Queued behind each lane's writes, so the sync covers all of them. */
  for (guint i = 0; i < writer->n_lanes; i++)
    {
      Job *job = g_new0 (Job, 1);

      job->kind = JOB_SYNC;
      g_async_queue_push (writer->lanes[i].jobs, job);
    }
}

void
atlas_piece_writer_punch (AtlasPieceWriter *writer, guint piece)
{
  Job *job = g_new0 (Job, 1);

  job->kind = JOB_PUNCH;
  job->offset = (guint64) piece * writer->piece_length;
  g_async_queue_push (lane_for (writer, job->offset)->jobs, job);
}

guint64
atlas_piece_writer_get_queued (AtlasPieceWriter *writer)
{
  return (guint64) g_atomic_pointer_get (&writer->queued);
}

static void (*full_check_hook) (AtlasPieceWriter *writer);

void
_atlas_piece_writer_set_full_check_hook (void (*hook) (AtlasPieceWriter *writer))
{
  full_check_hook = hook;
}

gboolean
atlas_piece_writer_is_full (AtlasPieceWriter *writer)
{
  if (atlas_piece_writer_get_queued (writer) < HIGH_WATER)
    return FALSE;
  if (full_check_hook != NULL)
    full_check_hook (writer);
  g_atomic_int_set (&writer->want_drained, 1);
  /* The lanes may have gone below the low-water mark between the read above
   * and the flag, and then seen no flag: no one would ever post DRAINED and
   * every transfer paused for it would wait forever, unseen by the stall
   * check, which skips transfers we paused ourselves. So look again;
   * whichever of us clears the flag decides. */
  if (atlas_piece_writer_get_queued (writer) < LOW_WATER
      && g_atomic_int_compare_and_exchange (&writer->want_drained, 1, 0))
    return FALSE;
  return TRUE;
}

void
atlas_piece_writer_close (AtlasPieceWriter *writer)
{
  g_autoptr (GArray) events = NULL;

  for (guint i = 0; i < writer->n_lanes; i++)
    {
      Job *job = g_new0 (Job, 1);
      job->kind = JOB_CLOSE;
      g_async_queue_push (writer->lanes[i].jobs, job);
    }
  for (guint i = 0; i < writer->n_lanes; i++)
    g_thread_join (writer->lanes[i].thread);
  if (writer->fd >= 0)
    close (writer->fd);

  /* The threads are gone: report what they found last, here and now, so the
   * owner can record the final durable pieces before it forgets the writer. */
  events = take_events (writer);
  deliver (writer, events);

  for (guint i = 0; i < writer->n_lanes; i++)
    {
      g_async_queue_unref (writer->lanes[i].jobs);
      g_hash_table_destroy (writer->lanes[i].streams);
      g_array_unref (writer->lanes[i].unsynced);
    }
  g_array_unref (writer->events);
  g_clear_error (&writer->failure);
  g_clear_pointer (&writer->expected, g_bytes_unref);
  g_main_context_unref (writer->context);
  g_mutex_clear (&writer->lock);
  g_mutex_clear (&writer->file_lock);
  g_cond_clear (&writer->file_ready);
  g_free (writer->path);
  g_free (writer);
}
