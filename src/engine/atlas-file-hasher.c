#include "atlas-file-hasher.h"

#include "atlas-error.h"
#include "atlas-worker-thread.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define CHUNK (1024 * 1024)

struct _AtlasFileHasher
{
  char *path;
  guint64 size;
  GArray *types;
  GMainContext *context;
  AtlasFileHasherDoneFunc done;
  gpointer user_data;

  GThread *thread;
  GMutex lock;
  GCond cond;
  guint64 available; /* under lock */
  gboolean stopping; /* under lock */

  GSource *done_source;
  GArray *digests;
  GError *error;
};

static gboolean
report_done_cb (gpointer data)
{
  AtlasFileHasher *hasher = data;

  g_clear_pointer (&hasher->done_source, g_source_unref);
  hasher->done (hasher->digests, hasher->error, hasher->user_data);
  return G_SOURCE_REMOVE;
}

static gpointer
hasher_thread (gpointer data)
{
  AtlasFileHasher *hasher = data;
  g_autoptr (GPtrArray) hashers =
      g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_hasher_free);
  g_autofree guint8 *buffer = g_malloc (CHUNK);
  guint64 offset = 0;
  int fd = -1;

  atlas_worker_thread_lower_priority ();

  for (guint i = 0; i < hasher->types->len; i++)
    g_ptr_array_add (hashers, atlas_hasher_new (g_array_index (hasher->types, AtlasHashType, i)));

  while (hasher->error == NULL && offset < hasher->size)
    {
      guint64 available;
      ssize_t n;

      g_mutex_lock (&hasher->lock);
      while (hasher->available <= offset && !hasher->stopping)
        g_cond_wait (&hasher->cond, &hasher->lock);
      available = hasher->available;
      g_mutex_unlock (&hasher->lock);
      if (hasher->stopping)
        break;

      /* Opened only once bytes are final: the writer thread creates the file. */
      if (fd < 0 && (fd = open (hasher->path, O_RDONLY | O_CLOEXEC)) < 0)
        {
          int errsv = errno;

          /* NOT_FOUND tells the download that the file vanished, which it
           * repairs by fetching the pieces again, from any other failure. */
          g_set_error (&hasher->error, ATLAS_ERROR,
                       errsv == ENOENT ? ATLAS_ERROR_NOT_FOUND : ATLAS_ERROR_IO,
                       "Cannot read “%s” to hash it: %s", hasher->path, g_strerror (errsv));
          break;
        }

      n = pread (fd, buffer, MIN (CHUNK, available - offset), offset);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (&hasher->error, ATLAS_ERROR, ATLAS_ERROR_IO,
                       "Cannot read “%s” to hash it: %s", hasher->path,
                       n < 0 ? g_strerror (errno) : "the file is shorter than expected");
          break;
        }
      for (guint i = 0; i < hashers->len; i++)
        atlas_hasher_update (g_ptr_array_index (hashers, i), buffer, n);
      offset += n;
      /* Verified pieces will not be read again soon; let the kernel drop them. */
      posix_fadvise (fd, offset - n, n, POSIX_FADV_DONTNEED);
    }

  if (fd >= 0)
    close (fd);

  g_mutex_lock (&hasher->lock);
  if (!hasher->stopping)
    {
      hasher->digests = g_array_new (FALSE, TRUE, sizeof (AtlasChecksum));
      for (guint i = 0; hasher->error == NULL && i < hashers->len; i++)
        {
          AtlasChecksum sum = { .type = g_array_index (hasher->types, AtlasHashType, i) };
          atlas_hasher_finish (g_ptr_array_index (hashers, i), sum.digest);
          g_array_append_val (hasher->digests, sum);
        }
      hasher->done_source = g_idle_source_new ();
      g_source_set_callback (hasher->done_source, report_done_cb, hasher, NULL);
      g_source_attach (hasher->done_source, hasher->context);
    }
  g_mutex_unlock (&hasher->lock);
  return NULL;
}

AtlasFileHasher *
atlas_file_hasher_new (const char *path, guint64 size, GArray *types, GMainContext *context,
                       AtlasFileHasherDoneFunc done, gpointer user_data)
{
  AtlasFileHasher *hasher = g_new0 (AtlasFileHasher, 1);

  hasher->path = g_strdup (path);
  hasher->size = size;
  hasher->types = g_array_ref (types);
  hasher->context = g_main_context_ref (context);
  hasher->done = done;
  hasher->user_data = user_data;
  g_mutex_init (&hasher->lock);
  g_cond_init (&hasher->cond);
  hasher->thread = g_thread_new ("atlas-file-hash", hasher_thread, hasher);
  return hasher;
}

void
atlas_file_hasher_advance (AtlasFileHasher *hasher, guint64 available)
{
  g_mutex_lock (&hasher->lock);
  if (available > hasher->available)
    {
      hasher->available = MIN (available, hasher->size);
      g_cond_signal (&hasher->cond);
    }
  g_mutex_unlock (&hasher->lock);
}

void
atlas_file_hasher_free (AtlasFileHasher *hasher)
{
  if (hasher == NULL)
    return;

  g_mutex_lock (&hasher->lock);
  hasher->stopping = TRUE;
  g_cond_signal (&hasher->cond);
  g_mutex_unlock (&hasher->lock);
  g_thread_join (hasher->thread);

  if (hasher->done_source != NULL)
    {
      g_source_destroy (hasher->done_source);
      g_source_unref (hasher->done_source);
    }
  g_clear_pointer (&hasher->digests, g_array_unref);
  g_clear_error (&hasher->error);
  g_array_unref (hasher->types);
  g_main_context_unref (hasher->context);
  g_mutex_clear (&hasher->lock);
  g_cond_clear (&hasher->cond);
  g_free (hasher->path);
  g_free (hasher);
}
