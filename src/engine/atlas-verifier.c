/* atlas-verifier.c — checking a file that is already on disk.
 *
 * The work is two kinds of hashing over the same bytes: every piece on its own,
 * and the whole file in one serial stream. The whole-file hash cannot be split,
 * so it gets the calling thread to itself and sets the pace; piece workers share
 * the remaining cores and take pieces from an atomic counter. When the
 * whole-file hash is done early (MD5, or a small file), its thread joins the
 * piece workers, so no core idles while work is left.
 *
 * Each thread reads with pread into its own small buffer, which stays in the
 * core's L2 cache while it is hashed. On 2 cores with 1 GiB in the page cache
 * this verifies pieces and the whole file at 1.80 GB/s, faster than the
 * whole-file hash alone over a mapping (1.60 GB/s): mapping 1 GiB costs
 * 262,144 page-table entries, their faults and the unmapping, more than
 * copying 1 GiB twice. A mapping would also turn a file truncated during the
 * verify into SIGBUS. ATLAS_VERIFY_MMAP=1 maps the file instead, so the
 * benchmark can compare the two on other machines.
 */
#include "atlas-verifier.h"

#include "atlas-error.h"
#include "atlas-worker-thread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes read and hashed at a time, between two looks at the cancellable and
 * the progress counter. Small enough to stay in L2 between the copy and the
 * hash and to honour a cancel within a millisecond; 256 KiB, 1 MiB and 4 MiB
 * measured the same on our machines, so the smallest suits small caches. */
#define CHUNK_SIZE (256 * 1024)

/* How often the caller's main context hears about progress. */
#define PROGRESS_INTERVAL_MS 100

typedef struct
{
  /* Inputs, owned. */
  char *path;
  AtlasHashType piece_type;
  guint64 piece_length;
  GBytes *piece_digests;
  gsize digest_length;
  guint n_pieces;
  gint64 expected_size;
  AtlasChecksum expected_whole; /* type NONE: no whole-file check */
  GCancellable *cancellable;
  int piece_workers; /* -1: one per core, minus the whole-file thread */
  gboolean use_mmap; /* FALSE: pread into a buffer per thread */

  /* The file. */
  int fd;
  guint64 size;
  const guint8 *map; /* NULL: read with pread */
  gsize map_length;

  /* Layout of the pieces: piece i covers [i * piece_length, piece_end (i)). */
  guint64 layout_size;

  /* Shared by the hashing threads. */
  _Atomic guint64 next_piece;
  atomic_bool stop;
  guint8 *piece_bad; /* one flag per piece; each written by one thread */
  GMutex error_lock;
  GError *error; /* the first error any thread hit */

  /* Units of work done and planned: bytes hashed, counting bytes hashed twice
   * (piece and whole-file) twice. Read by the progress source. */
  _Atomic guint64 work_done;
  guint64 work_total;
  atomic_bool planned; /* size and work_total are set */

  guint8 whole_digest[ATLAS_HASH_MAX_DIGEST];
} VerifyJob;

void
atlas_verify_result_free (AtlasVerifyResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->bad_pieces, g_array_unref);
  g_clear_pointer (&result->bad_ranges, g_array_unref);
  g_free (result);
}

static void
verify_job_free (VerifyJob *job)
{
  if (job == NULL)
    return;
  if (job->map != NULL)
    munmap ((void *) job->map, job->map_length);
  if (job->fd >= 0)
    close (job->fd);
  g_free (job->piece_bad);
  g_clear_error (&job->error);
  g_mutex_clear (&job->error_lock);
  g_clear_object (&job->cancellable);
  g_clear_pointer (&job->piece_digests, g_bytes_unref);
  g_free (job->path);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VerifyJob, verify_job_free)

/* Checks the expectation for consistency and copies what the threads need, so
 * the caller's structure may go away while an async verify runs. */
static VerifyJob *
verify_job_new (const char *path, const AtlasVerifyExpectation *expect, GCancellable *cancellable,
                GError **error)
{
  g_autoptr (VerifyJob) job = g_new0 (VerifyJob, 1);

  job->fd = -1;
  job->path = g_strdup (path);
  job->expected_size = expect->size;
  job->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  g_mutex_init (&job->error_lock);

  /* Knobs for the benchmark, read here on the caller's thread:
   * ATLAS_VERIFY_PIECE_WORKERS and ATLAS_VERIFY_MMAP compare the layouts that
   * lost on our machines with the default on others. */
  job->piece_workers = -1;
  if (g_getenv ("ATLAS_VERIFY_PIECE_WORKERS") != NULL)
    job->piece_workers =
        (int) CLAMP (g_ascii_strtoll (g_getenv ("ATLAS_VERIFY_PIECE_WORKERS"), NULL, 10), 0, 256);
  job->use_mmap = g_strcmp0 (g_getenv ("ATLAS_VERIFY_MMAP"), "1") == 0;

  if (expect->piece_type != ATLAS_HASH_NONE)
    {
      gsize digests_size =
          expect->piece_digests != NULL ? g_bytes_get_size (expect->piece_digests) : 0;
      guint64 n;

      job->digest_length = atlas_hash_type_digest_length (expect->piece_type);
      if (job->digest_length == 0 || expect->piece_length == 0)
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                       "Cannot verify %s: piece hashes need a hash type and a piece length", path);
          return NULL;
        }
      if (digests_size % job->digest_length != 0)
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                       "Cannot verify %s: %" G_GSIZE_FORMAT
                       " bytes of piece digests is not a whole number of %s digests",
                       path, digests_size, atlas_hash_type_to_name (expect->piece_type));
          return NULL;
        }
      n = digests_size / job->digest_length;
      if (n > G_MAXUINT)
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                       "Cannot verify %s: too many pieces", path);
          return NULL;
        }
      /* With a known size, the number of pieces follows from it; a list that
       * disagrees would leave bytes unchecked or check pieces that don't exist. */
      if (expect->size >= 0
          && n
                 != (guint64) expect->size / expect->piece_length
                        + ((guint64) expect->size % expect->piece_length != 0))
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                       "Cannot verify %s: %" G_GUINT64_FORMAT
                       " piece digests do not cover %" G_GINT64_FORMAT
                       " bytes in pieces of %" G_GUINT64_FORMAT,
                       path, n, expect->size, expect->piece_length);
          return NULL;
        }
      if (n > 0)
        {
          job->piece_type = expect->piece_type;
          job->piece_length = expect->piece_length;
          job->piece_digests = g_bytes_ref (expect->piece_digests);
          job->n_pieces = (guint) n;
        }
    }

  /* Only the strongest whole-file checksum is computed: hashing the file once
   * more for a weaker one would cost a full pass and prove nothing more. */
  if (expect->checksums != NULL)
    {
      for (guint i = 0; i < expect->checksums->len; i++)
        {
          const AtlasChecksum *c = &g_array_index (expect->checksums, AtlasChecksum, i);

          if (atlas_hash_type_digest_length (c->type) == 0)
            continue;
          if (atlas_hash_type_strength (c->type)
              > atlas_hash_type_strength (job->expected_whole.type))
            job->expected_whole = *c;
        }
    }

  return g_steal_pointer (&job);
}

static void
verify_job_set_error (VerifyJob *job, GError *error)
{
  g_mutex_lock (&job->error_lock);
  if (job->error == NULL)
    job->error = error;
  else
    g_error_free (error);
  g_mutex_unlock (&job->error_lock);
  atomic_store (&job->stop, TRUE);
}

/* TRUE when the threads should give up: another thread failed, or the caller
 * cancelled. The first thread to see the cancel records the error. */
static gboolean
verify_job_should_stop (VerifyJob *job)
{
  if (atomic_load_explicit (&job->stop, memory_order_relaxed))
    return TRUE;
  if (g_cancellable_is_cancelled (job->cancellable))
    {
      verify_job_set_error (job, g_error_new (ATLAS_ERROR, ATLAS_ERROR_CANCELLED,
                                              "Verifying %s was cancelled", job->path));
      return TRUE;
    }
  return FALSE;
}

/* Opens the file, and maps it if asked to. The kernel is told we read it
 * front to back, so it reads a cold file ahead of us. */
static gboolean
verify_job_open (VerifyJob *job, GError **error)
{
  struct stat st;

  job->fd = open (job->path, O_RDONLY | O_CLOEXEC);
  if (job->fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_IO, "Cannot open %s: %s", job->path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (fstat (job->fd, &st) < 0)
    {
      int saved_errno = errno;

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_IO, "Cannot read the size of %s: %s", job->path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_IO, "Cannot verify %s: %s", job->path,
                   "not a regular file");
      return FALSE;
    }
  job->size = (guint64) st.st_size;

  if (job->size > 0 && job->size <= G_MAXSIZE && job->use_mmap)
    {
      void *map = mmap (NULL, (gsize) job->size, PROT_READ, MAP_PRIVATE, job->fd, 0);

      if (map != MAP_FAILED)
        {
          job->map = map;
          job->map_length = (gsize) job->size;
          /* The mapping is private and read-only, so nothing we do can reach
           * the file. WILLNEED starts reading a cold file ahead of us;
           * SEQUENTIAL lets the kernel drop pages behind us on a file larger
           * than memory. Both are hints, so failures don't matter. */
          madvise (map, job->map_length, MADV_SEQUENTIAL);
          madvise (map, job->map_length, MADV_WILLNEED);
        }
    }
  if (job->map == NULL)
    posix_fadvise (job->fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  return TRUE;
}

/* Returns @length bytes at @offset: a pointer into the mapping, or @buffer
 * filled by pread. NULL with the job's error set on a read error. */
static const guint8 *
verify_job_read (VerifyJob *job, guint64 offset, gsize length, guint8 *buffer)
{
  gsize done = 0;

  if (job->map != NULL)
    return job->map + offset;

  while (done < length)
    {
      ssize_t n = pread (job->fd, buffer + done, length - done, (off_t) (offset + done));

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          verify_job_set_error (job, g_error_new (ATLAS_ERROR, ATLAS_ERROR_IO, "Cannot read %s: %s",
                                                  job->path, g_strerror (saved_errno)));
          return NULL;
        }
      if (n == 0)
        {
          verify_job_set_error (job,
                                g_error_new (ATLAS_ERROR, ATLAS_ERROR_IO, "Cannot read %s: %s",
                                             job->path, "the file shrank while it was verified"));
          return NULL;
        }
      done += (gsize) n;
    }
  return buffer;
}

/* Where piece @index starts. It saturates rather than wraps, because piece
 * lengths come from untrusted Metalinks. */
static guint64
piece_start (VerifyJob *job, guint64 index)
{
  guint64 offset;

  if (!g_uint64_checked_mul (&offset, index, job->piece_length))
    return G_MAXUINT64;
  return offset;
}

static guint64
piece_end (VerifyJob *job, guint index)
{
  return MIN (piece_start (job, (guint64) index + 1), job->layout_size);
}

/* Hashes [offset, offset + length) into @hasher in chunks. FALSE if stopped. */
static gboolean
hash_range (VerifyJob *job, AtlasHasher *hasher, guint64 offset, guint64 length, guint8 **buffer)
{
  while (length > 0)
    {
      gsize chunk = (gsize) MIN (length, CHUNK_SIZE);
      const guint8 *data;

      if (verify_job_should_stop (job))
        return FALSE;
      if (job->map == NULL && *buffer == NULL)
        *buffer = g_malloc (CHUNK_SIZE);
      data = verify_job_read (job, offset, chunk, *buffer);
      if (data == NULL)
        return FALSE;
      atlas_hasher_update (hasher, data, chunk);
      atomic_fetch_add_explicit (&job->work_done, chunk, memory_order_relaxed);
      offset += chunk;
      length -= chunk;
    }
  return TRUE;
}

/* Takes pieces from the shared counter until none are left. Pieces that reach
 * past the end of the file are bad without hashing; they were counted as such
 * when the job was planned. */
static void
hash_pieces (VerifyJob *job)
{
  g_autoptr (AtlasHasher) hasher = atlas_hasher_new (job->piece_type);
  g_autofree guint8 *buffer = NULL;
  const guint8 *expected = g_bytes_get_data (job->piece_digests, NULL);

  for (;;)
    {
      guint64 next = atomic_fetch_add (&job->next_piece, 1);
      guint index = (guint) next;
      guint8 digest[ATLAS_HASH_MAX_DIGEST];
      guint64 start, end;

      if (next >= job->n_pieces)
        return;
      start = piece_start (job, index);
      end = piece_end (job, index);
      if (end > job->size || start >= end)
        continue;
      if (!hash_range (job, hasher, start, end - start, &buffer))
        return;
      atlas_hasher_finish (hasher, digest);
      if (memcmp (digest, expected + (gsize) index * job->digest_length, job->digest_length) != 0)
        job->piece_bad[index] = TRUE;
    }
}

static gpointer
piece_worker_thread (gpointer data)
{
  atlas_worker_thread_lower_priority ();
  hash_pieces (data);
  return NULL;
}

static void
hash_whole_file (VerifyJob *job)
{
  g_autoptr (AtlasHasher) hasher = atlas_hasher_new (job->expected_whole.type);
  g_autofree guint8 *buffer = NULL;

  atlas_worker_thread_lower_priority ();
  if (hash_range (job, hasher, 0, job->size, &buffer))
    atlas_hasher_finish (hasher, job->whole_digest);
}

/* How many threads hash pieces besides the calling thread. The whole-file
 * hash sets the pace and must keep a core to itself: on 2 cores, one piece
 * worker verifies 1 GiB in the time of the whole-file hash alone (0.60 s),
 * while two piece workers steal from it and take 0.74 s. On one core a single
 * worker still lets the two kinds interleave. */
static guint
count_piece_workers (VerifyJob *job)
{
  guint n_cpus = g_get_num_processors ();

  if (job->piece_workers >= 0)
    return (guint) job->piece_workers;
  if (job->expected_whole.type != ATLAS_HASH_NONE)
    return MAX (n_cpus, 2) - 1;
  return n_cpus - 1;
}

static void
verify_job_plan (VerifyJob *job)
{
  guint64 n_pieces = job->n_pieces;

  /* Without an expected size, the last piece ends where the file ends if the
   * file ends inside it; otherwise the file is short and the piece is bad, or
   * long and the extra bytes belong to no piece. */
  if (job->expected_size >= 0)
    job->layout_size = (guint64) job->expected_size;
  else if (n_pieces > 0 && job->size > piece_start (job, n_pieces - 1)
           && job->size <= piece_start (job, n_pieces))
    job->layout_size = job->size;
  else
    job->layout_size = piece_start (job, n_pieces);

  job->piece_bad = g_new0 (guint8, MAX (job->n_pieces, 1));
  for (guint i = 0; i < job->n_pieces; i++)
    {
      guint64 end = piece_end (job, i);

      if (end > job->size)
        job->piece_bad[i] = TRUE;
      else
        job->work_total += end - piece_start (job, i);
    }
  if (job->expected_whole.type != ATLAS_HASH_NONE)
    job->work_total += job->size;
  atomic_store_explicit (&job->planned, TRUE, memory_order_release);
}

static gboolean
verify_job_run (VerifyJob *job, GError **error)
{
  g_autoptr (GPtrArray) threads = g_ptr_array_new ();
  gboolean whole = job->expected_whole.type != ATLAS_HASH_NONE;

  if (!verify_job_open (job, error))
    return FALSE;
  verify_job_plan (job);

  if (job->n_pieces > 0)
    {
      guint n_workers = MIN (count_piece_workers (job), job->n_pieces);

      for (guint i = 0; i < n_workers; i++)
        {
          g_autoptr (GError) thread_error = NULL;
          GThread *thread =
              g_thread_try_new ("atlas-verify", piece_worker_thread, job, &thread_error);

          /* Fewer workers only make the verify slower, never wrong: the
           * calling thread takes pieces too once it is free. */
          if (thread == NULL)
            {
              g_debug ("Verifying %s with %u piece threads: %s", job->path, i,
                       thread_error->message);
              break;
            }
          g_ptr_array_add (threads, thread);
        }
    }

  if (whole)
    hash_whole_file (job);
  if (job->n_pieces > 0)
    hash_pieces (job);
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (threads->pdata[i]);

  /* A cancel that came in after the last chunk was hashed is ignored: the
   * result is complete and correct. */
  if (job->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&job->error));
      return FALSE;
    }
  return TRUE;
}

static AtlasVerifyResult *
verify_job_result (VerifyJob *job, double seconds)
{
  AtlasVerifyResult *result = g_new0 (AtlasVerifyResult, 1);

  result->size = job->size;
  result->seconds = seconds;
  /* An unchecked size counts as matched, so that ok is simply the AND of the
   * checks that were asked for. */
  result->size_matched = job->expected_size < 0 || job->size == (guint64) job->expected_size;
  result->n_pieces = job->n_pieces;
  result->bad_pieces = g_array_new (FALSE, FALSE, sizeof (guint));
  result->bad_ranges = g_array_new (FALSE, FALSE, sizeof (AtlasByteRange));

  for (guint i = 0; i < job->n_pieces; i++)
    {
      AtlasByteRange range;

      if (!job->piece_bad[i])
        continue;
      g_array_append_val (result->bad_pieces, i);

      range.offset = piece_start (job, i);
      range.length = piece_end (job, i) - MIN (range.offset, piece_end (job, i));
      if (result->bad_ranges->len > 0)
        {
          AtlasByteRange *last =
              &g_array_index (result->bad_ranges, AtlasByteRange, result->bad_ranges->len - 1);

          if (last->offset + last->length == range.offset)
            {
              last->length += range.length;
              continue;
            }
        }
      if (range.length > 0)
        g_array_append_val (result->bad_ranges, range);
    }

  if (job->expected_whole.type != ATLAS_HASH_NONE)
    {
      gsize length = atlas_hash_type_digest_length (job->expected_whole.type);

      result->whole_file_checked = TRUE;
      result->whole_file.type = job->expected_whole.type;
      memcpy (result->whole_file.digest, job->whole_digest, length);
      result->whole_file_matched =
          memcmp (job->whole_digest, job->expected_whole.digest, length) == 0;
    }

  result->ok = result->size_matched && result->bad_pieces->len == 0
               && (!result->whole_file_checked || result->whole_file_matched);
  return result;
}

static AtlasVerifyResult *
verify_job_execute (VerifyJob *job, GError **error)
{
  gint64 start = g_get_monotonic_time ();

  if (!verify_job_run (job, error))
    return NULL;
  return verify_job_result (job, (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
}

AtlasVerifyResult *
atlas_verify_file_sync (const char *path, const AtlasVerifyExpectation *expect,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr (VerifyJob) job = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (expect != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  job = verify_job_new (path, expect, cancellable, error);
  if (job == NULL)
    return NULL;
  return verify_job_execute (job, error);
}

/* The async variant. The hashing runs in an inner GTask on a GIO worker
 * thread; its completion comes back to the caller's context, where the last
 * progress report is sent before the caller's callback, so the caller always
 * sees progress end at the total. */

typedef struct
{
  VerifyJob *job;
  GSource *progress_source;
  AtlasVerifyProgressFunc progress;
  gpointer progress_data;
  guint64 last_reported;
  gboolean reported_any;
} AsyncData;

static void
async_data_free (AsyncData *data)
{
  if (data->progress_source != NULL)
    {
      g_source_destroy (data->progress_source);
      g_source_unref (data->progress_source);
    }
  verify_job_free (data->job);
  g_free (data);
}

static void
async_report_progress (AsyncData *data, guint64 done)
{
  if (data->reported_any && done == data->last_reported)
    return;
  data->reported_any = TRUE;
  data->last_reported = done;
  data->progress (done, data->job->size, data->progress_data);
}

/* Scales work units (bytes hashed by all threads) to bytes of the file, which
 * is what a progress bar shows. */
static guint64
async_progress_bytes (VerifyJob *job)
{
  guint64 work = atomic_load_explicit (&job->work_done, memory_order_relaxed);
  guint64 bytes;

  if (job->work_total == 0)
    return 0;
  bytes = (guint64) ((double) work / (double) job->work_total * (double) job->size);
  return MIN (bytes, job->size);
}

static gboolean
async_progress_cb (gpointer user_data)
{
  AsyncData *data = user_data;

  /* The size and the amount of work are known only once the hashing thread
   * has opened the file; until then there is nothing to say. */
  if (atomic_load_explicit (&data->job->planned, memory_order_acquire))
    async_report_progress (data, async_progress_bytes (data->job));
  return G_SOURCE_CONTINUE;
}

static void
verify_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  VerifyJob *job = task_data;
  GError *error = NULL;
  AtlasVerifyResult *result = verify_job_execute (job, &error);

  if (result == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, (GDestroyNotify) atlas_verify_result_free);
}

static void
verify_inner_done_cb (GObject *source_object, GAsyncResult *inner_result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  AsyncData *data = g_task_get_task_data (task);
  GError *error = NULL;
  AtlasVerifyResult *result = g_task_propagate_pointer (G_TASK (inner_result), &error);

  if (data->progress_source != NULL)
    {
      g_source_destroy (data->progress_source);
      g_clear_pointer (&data->progress_source, g_source_unref);
    }

  if (result == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (data->progress != NULL)
    async_report_progress (data, data->job->size);
  g_task_return_pointer (task, result, (GDestroyNotify) atlas_verify_result_free);
}

void
atlas_verify_file_async (const char *path, const AtlasVerifyExpectation *expect,
                         GCancellable *cancellable, AtlasVerifyProgressFunc progress,
                         gpointer progress_data, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GTask) inner = NULL;
  g_autoptr (GError) error = NULL;
  AsyncData *data;
  VerifyJob *job;

  g_return_if_fail (path != NULL);
  g_return_if_fail (expect != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, atlas_verify_file_async);
  /* The verifier reports a cancel as ATLAS_ERROR_CANCELLED itself; GTask's
   * own check would replace it with G_IO_ERROR_CANCELLED. */
  g_task_set_check_cancellable (task, FALSE);

  job = verify_job_new (path, expect, cancellable, &error);
  if (job == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  data = g_new0 (AsyncData, 1);
  data->job = job;
  data->progress = progress;
  data->progress_data = progress_data;
  g_task_set_task_data (task, data, (GDestroyNotify) async_data_free);

  if (progress != NULL)
    {
      data->progress_source = g_timeout_source_new (PROGRESS_INTERVAL_MS);
      g_source_set_callback (data->progress_source, async_progress_cb, data, NULL);
      g_source_set_static_name (data->progress_source, "[atlas] verify progress");
      g_source_attach (data->progress_source, g_task_get_context (task));
    }

  inner = g_task_new (NULL, cancellable, verify_inner_done_cb, g_object_ref (task));
  g_task_set_source_tag (inner, verify_thread);
  g_task_set_check_cancellable (inner, FALSE);
  g_task_set_task_data (inner, job, NULL);
  g_task_run_in_thread (inner, verify_thread);
}

AtlasVerifyResult *
atlas_verify_file_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == atlas_verify_file_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
