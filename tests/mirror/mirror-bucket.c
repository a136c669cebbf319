/* mirror-bucket.c: a bandwidth cap shared by all connections of one modes
 * string.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "mirror.h"

/* The bucket is kept as a virtual clock ("the earliest time the next chunk
 * may leave") rather than as a token count: each sender reserves its chunk
 * under the lock, then sleeps outside it until its slot.  Senders therefore
 * interleave fairly, and no credit piles up while the mirror is idle, which
 * keeps the long-run rate within a chunk of the cap. */
struct _MirrorBucket
{
  GMutex lock;
  guint64 rate;   /* bytes per second */
  gint64 next_us; /* monotonic time of the next free slot */
  gsize chunk;
};

/* Sleep in slices so that a sender never oversleeps by much and a stopped
 * server is not held up by a long sleep. */
#define MIRROR_MAX_SLEEP_US (20 * 1000)

MirrorBucket *
mirror_bucket_new (guint64 rate)
{
  MirrorBucket *bucket = g_new0 (MirrorBucket, 1);

  g_mutex_init (&bucket->lock);
  bucket->rate = MAX (rate, 1);
  /* About 20 ms worth of data per chunk: small enough that several
   * connections share the cap smoothly, large enough to stay cheap. */
  bucket->chunk = CLAMP (bucket->rate / 50, 512, 256 * 1024);
  bucket->next_us = 0;

  return bucket;
}

void
mirror_bucket_free (MirrorBucket *bucket)
{
  if (bucket == NULL)
    return;
  g_mutex_clear (&bucket->lock);
  g_free (bucket);
}

gsize
mirror_bucket_chunk_size (MirrorBucket *bucket)
{
  return bucket->chunk;
}

/* Blocks until @bytes may be sent without exceeding the cap. */
void
mirror_bucket_consume (MirrorBucket *bucket, gsize bytes)
{
  gint64 now = g_get_monotonic_time ();
  gint64 slot;

  g_mutex_lock (&bucket->lock);
  if (bucket->next_us < now)
    bucket->next_us = now;
  slot = bucket->next_us;
  bucket->next_us += (gint64) ((bytes * G_USEC_PER_SEC) / bucket->rate);
  g_mutex_unlock (&bucket->lock);

  while ((now = g_get_monotonic_time ()) < slot)
    g_usleep (MIN (slot - now, MIRROR_MAX_SLEEP_US));
}
