/* atlas-peer-session-serve.c — serving blocks to the remote: the queue of its
 * requests, file reads on worker threads, upload limits and the output queue. */
#include "atlas-peer-session-private.h"

#include "atlas-error.h"

#include <gio/gio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Reads running or finished but not yet sent: at most this many blocks and
 * bytes per session, so a fast remote cannot make us hold more in memory. */
#define MAX_READS_AHEAD 8
#define MAX_READ_BYTES (2 * 1024 * 1024)
/* The remote may keep up to ATLAS_PEER_SESSION_MAX_REQUESTS requests of up to
 * ATLAS_PEER_MAX_BLOCK each outstanding; this many bytes is the same bound. */
#define MAX_REQUESTED_BYTES ((guint64) ATLAS_PEER_SESSION_MAX_REQUESTS * ATLAS_PEER_MAX_BLOCK)
/* Control messages (REJECT, HAVE...) queued while the remote does not read
 * what we send. A remote that keeps asking without reading hits this. */
#define MAX_QUEUED_OUTPUT (1024 * 1024 + ATLAS_PEER_MAX_BLOCK)
/* The consumed head of the output buffer is dropped once it is this large. */
#define COMPACT_THRESHOLD (64 * 1024)

typedef enum
{
  SERVE_PENDING, /* waiting for a read slot */
  SERVE_READING, /* a worker thread reads it */
  SERVE_READY,   /* read; waits for the rate limit or the transport */
} ServeState;

typedef struct
{
  AtlasPeerBlock block;
  ServeState state;
  guint64 serial;
  guint8 *data; /* SERVE_READY */
} ServeItem;

typedef struct
{
  AtlasPeerFile *file;
  guint64 position;
  guint32 length;
  guint64 serial;
  GWeakRef session;
} ReadJob;

static void
serve_item_free (ServeItem *item)
{
  g_free (item->data);
  g_free (item);
}

static void
file_clear (gpointer data)
{
  AtlasPeerFile *file = data;

  close (file->fd);
}

void
_atlas_peer_file_release (AtlasPeerFile *file)
{
  g_atomic_rc_box_release_full (file, file_clear);
}

static void
read_job_free (ReadJob *job)
{
  _atlas_peer_file_release (job->file);
  g_weak_ref_clear (&job->session);
  g_free (job);
}

/* Output queue. */

gboolean
_atlas_peer_session_output_blocked (AtlasPeerSession *self)
{
  return self->out->len > self->out_start;
}

static void
consume_output (AtlasPeerSession *self, gsize taken)
{
  self->out_start += taken;
  if (self->out_start == self->out->len)
    {
      g_byte_array_set_size (self->out, 0);
      self->out_start = 0;
    }
  else if (self->out_start >= COMPACT_THRESHOLD && self->out_start * 2 >= self->out->len)
    {
      /* Dropping the head only now and then keeps many short writes linear. */
      g_byte_array_remove_range (self->out, 0, self->out_start);
      self->out_start = 0;
    }
}

static gsize
transport_write (AtlasPeerSession *self, const guint8 *data, gsize length)
{
  gsize taken = self->transport_funcs.write (self->transport, data, length);

  g_return_val_if_fail (taken <= length, length);
  if (taken > 0)
    self->last_sent = g_get_monotonic_time ();
  return taken;
}

/* Hands queued output to the transport. What it does not take stays queued,
 * and nothing more is produced until it says it is writable again. */
void
_atlas_peer_session_flush (AtlasPeerSession *self)
{
  gsize pending = self->out->len - self->out_start;

  if (pending == 0 || self->transport_funcs.write == NULL)
    return;
  consume_output (self, transport_write (self, self->out->data + self->out_start, pending));
}

/* Called after handling what the remote sent, never from the owner's calls, so
 * that only receive() closes the session for this. */
void
_atlas_peer_session_check_output (AtlasPeerSession *self)
{
  if (!self->closed && self->out->len - self->out_start > MAX_QUEUED_OUTPUT)
    _atlas_peer_session_protocol_error (self,
                                        "keeps sending requests without reading our answers "
                                        "(%" G_GSIZE_FORMAT " bytes queued)",
                                        self->out->len - self->out_start);
}

/* Sends one DATA frame. Its payload goes to the transport straight from the
 * read buffer when nothing else is queued, the usual case. */
static void
send_data (AtlasPeerSession *self, const AtlasPeerBlock *block, const guint8 *data)
{
  guint8 header[ATLAS_PEER_DATA_HEADER_SIZE];
  gsize taken = 0;

  atlas_peer_wire_write_data_header (header, block->piece, block->offset, block->length);
  self->bytes_sent += block->length;
  if (!_atlas_peer_session_output_blocked (self))
    {
      taken = transport_write (self, header, sizeof header);
      if (taken == sizeof header)
        {
          taken = transport_write (self, data, block->length);
          if (taken < block->length)
            g_byte_array_append (self->out, data + taken, block->length - taken);
          return;
        }
    }
  g_byte_array_append (self->out, header + taken, sizeof header - taken);
  g_byte_array_append (self->out, data, block->length);
}

/* Serving queue. */

static ServeItem *
find_item (AtlasPeerSession *self, const AtlasPeerBlock *block, GList **link_out)
{
  for (GList *l = self->serve.head; l != NULL; l = l->next)
    {
      ServeItem *item = l->data;

      if (item->block.piece == block->piece && item->block.offset == block->offset
          && item->block.length == block->length)
        {
          if (link_out != NULL)
            *link_out = l;
          return item;
        }
    }
  return NULL;
}

static void
remove_item (AtlasPeerSession *self, GList *link)
{
  ServeItem *item = link->data;

  if (item->state == SERVE_READY)
    self->ready_count--;
  g_queue_delete_link (&self->serve, link);
  serve_item_free (item);
}

static guint64
queued_bytes (AtlasPeerSession *self)
{
  guint64 total = 0;

  for (GList *l = self->serve.head; l != NULL; l = l->next)
    total += ((ServeItem *) l->data)->block.length;
  return total;
}

static void
send_reject (AtlasPeerSession *self, const AtlasPeerBlock *block)
{
  atlas_peer_wire_append_reject (self->out, block->piece, block->offset, block->length);
}

void
_atlas_peer_session_serve_request (AtlasPeerSession *self, const AtlasPeerBlock *block)
{
  guint32 piece_size;

  /* A request for a piece we announced and dropped since crossed our drop
   * on the wire (the remote had no way to know): refuse it politely. */
  if (self->started && !atlas_peer_bitfield_get (self->our_bits, block->piece)
      && self->dropped_bits != NULL && atlas_peer_bitfield_get (self->dropped_bits, block->piece))
    {
      send_reject (self, block);
      _atlas_peer_session_flush (self);
      return;
    }
  if (!self->started || !atlas_peer_bitfield_get (self->our_bits, block->piece))
    {
      _atlas_peer_session_protocol_error (self, "REQUEST for piece %u, which we did not announce",
                                          block->piece);
      return;
    }
  piece_size = _atlas_peer_session_piece_size (self, block->piece);
  if ((guint64) block->offset + block->length > piece_size)
    {
      if (block->piece == self->layout.piece_count - 1)
        _atlas_peer_session_protocol_error (self,
                                            "REQUEST of %u bytes at offset %u of piece %u runs "
                                            "past the end of the file",
                                            block->length, block->offset, block->piece);
      else
        _atlas_peer_session_protocol_error (self,
                                            "REQUEST of %u bytes at offset %u of piece %u runs "
                                            "past the piece's end (%u bytes)",
                                            block->length, block->offset, block->piece, piece_size);
      return;
    }

  if (self->choking || self->file == NULL)
    {
      send_reject (self, block);
      _atlas_peer_session_flush (self);
      return;
    }
  /* The same block asked twice is served once. */
  if (find_item (self, block, NULL) != NULL)
    return;
  if (self->serve.length >= ATLAS_PEER_SESSION_MAX_REQUESTS
      || queued_bytes (self) + block->length > MAX_REQUESTED_BYTES)
    {
      _atlas_peer_session_protocol_error (self, "has more than %d requests outstanding",
                                          ATLAS_PEER_SESSION_MAX_REQUESTS);
      return;
    }

  ServeItem *item = g_new0 (ServeItem, 1);

  item->block = *block;
  item->state = SERVE_PENDING;
  item->serial = ++self->serve_serial;
  g_queue_push_tail (&self->serve, item);
  _atlas_peer_session_serve_pump (self);
}

void
_atlas_peer_session_serve_cancel (AtlasPeerSession *self, const AtlasPeerBlock *block)
{
  GList *link = NULL;

  /* A CANCEL of a block already sent crossed our DATA on the way: nothing to do.
   * A read in flight for it finds its item gone and drops the bytes. */
  if (find_item (self, block, &link) != NULL)
    remove_item (self, link);
}

void
_atlas_peer_session_serve_reject_all (AtlasPeerSession *self)
{
  while (self->serve.head != NULL)
    {
      send_reject (self, &((ServeItem *) self->serve.head->data)->block);
      remove_item (self, self->serve.head);
    }
}

void
_atlas_peer_session_serve_clear (AtlasPeerSession *self)
{
  while (self->serve.head != NULL)
    remove_item (self, self->serve.head);
  if (self->rate_source != NULL)
    {
      g_source_destroy (self->rate_source);
      g_clear_pointer (&self->rate_source, g_source_unref);
    }
}

/* Reads. */

static void
read_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  ReadJob *job = task_data;
  g_autofree guint8 *buffer = g_malloc (job->length);
  gsize done = 0;

  while (done < job->length)
    {
      gssize n = pread (job->file->fd, buffer + done, job->length - done, job->position + done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_task_return_new_error (task, ATLAS_ERROR, ATLAS_ERROR_IO,
                                   "reading %u bytes at %" G_GUINT64_FORMAT ": %s", job->length,
                                   job->position, g_strerror (saved));
          return;
        }
      if (n == 0)
        {
          g_task_return_new_error (task, ATLAS_ERROR, ATLAS_ERROR_IO,
                                   "the file ends before byte %" G_GUINT64_FORMAT,
                                   job->position + job->length);
          return;
        }
      done += n;
    }
  g_task_return_pointer (task, g_steal_pointer (&buffer), g_free);
}

static void
read_done_cb (GObject *source_object, GAsyncResult *result, gpointer user_data)
{
  ReadJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr (AtlasPeerSession) self = g_weak_ref_get (&job->session);
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *data = g_task_propagate_pointer (G_TASK (result), &error);
  ServeItem *item = NULL;
  GList *link = NULL;

  if (self == NULL)
    return;
  self->reads_in_flight--;
  for (link = self->serve.head; link != NULL; link = link->next)
    if (((ServeItem *) link->data)->serial == job->serial)
      break;
  /* Cancelled, rejected by a choke, or the session closed meanwhile. */
  if (link == NULL || self->closed)
    {
      _atlas_peer_session_serve_pump (self);
      return;
    }

  item = link->data;
  if (error != NULL)
    {
      /* Our own file failed us; the remote can ask someone else. */
      g_debug ("peer %s: cannot serve piece %u: %s", self->name, item->block.piece, error->message);
      send_reject (self, &item->block);
      remove_item (self, link);
      _atlas_peer_session_flush (self);
    }
  else
    {
      item->data = g_steal_pointer (&data);
      item->state = SERVE_READY;
      self->ready_count++;
    }
  _atlas_peer_session_serve_pump (self);
}

static void
start_read (AtlasPeerSession *self, ServeItem *item)
{
  g_autoptr (GTask) task = NULL;
  ReadJob *job = g_new0 (ReadJob, 1);

  job->file = g_atomic_rc_box_acquire (self->file);
  job->position = (guint64) item->block.piece * self->layout.piece_length + item->block.offset;
  job->length = item->block.length;
  job->serial = item->serial;
  g_weak_ref_init (&job->session, self);

  /* No source object: a read in flight must not keep a closed session alive. */
  task = g_task_new (NULL, NULL, read_done_cb, NULL);
  g_task_set_source_tag (task, start_read);
  g_task_set_task_data (task, job, (GDestroyNotify) read_job_free);
  item->state = SERVE_READING;
  self->reads_in_flight++;
  g_task_run_in_thread (task, read_thread);
}

/* Upload limits. */

static gboolean
rate_cb (gpointer data)
{
  AtlasPeerSession *self = data;

  g_clear_pointer (&self->rate_source, g_source_unref);
  _atlas_peer_session_serve_pump (self);
  return G_SOURCE_REMOVE;
}

/* Microseconds until both buckets allow the next DATA frame. */
static gint64
rate_delay (AtlasPeerSession *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 delay = atlas_rate_limiter_delay (&self->peer_limiter, now);

  if (self->global_limiter != NULL)
    delay = MAX (delay, atlas_rate_limiter_delay (self->global_limiter, now));
  return delay;
}

static void
schedule_rate_timer (AtlasPeerSession *self, gint64 delay)
{
  if (self->rate_source != NULL)
    return;
  self->rate_source = g_timeout_source_new ((delay + 999) / 1000);
  g_source_set_callback (self->rate_source, rate_cb, self, NULL);
  g_source_set_name (self->rate_source, "[atlas] peer upload limit");
  g_source_attach (self->rate_source, self->context);
}

/* Moves the serving pipeline on: sends read blocks in request order while the
 * limits and the transport allow, and starts reads while there is room. */
void
_atlas_peer_session_serve_pump (AtlasPeerSession *self)
{
  if (self->closed || !self->started)
    return;

  while (self->serve.head != NULL && !_atlas_peer_session_output_blocked (self))
    {
      ServeItem *item = self->serve.head->data;
      gint64 delay;

      if (item->state != SERVE_READY)
        break;
      delay = rate_delay (self);
      if (delay > 0)
        {
          schedule_rate_timer (self, delay);
          break;
        }
      /* Consuming before sending lets a bucket go into debt by one block at
       * most, which the next delay pays back. */
      atlas_rate_limiter_consume (&self->peer_limiter, item->block.length);
      if (self->global_limiter != NULL)
        atlas_rate_limiter_consume (self->global_limiter, item->block.length);
      send_data (self, &item->block, item->data);
      remove_item (self, self->serve.head);
    }

  if (_atlas_peer_session_output_blocked (self))
    return;

  guint64 ahead_bytes = 0;

  for (GList *l = self->serve.head; l != NULL; l = l->next)
    {
      ServeItem *item = l->data;

      if (self->reads_in_flight + self->ready_count >= MAX_READS_AHEAD)
        break;
      if (item->state == SERVE_PENDING)
        {
          if (ahead_bytes > 0 && ahead_bytes + item->block.length > MAX_READ_BYTES)
            break;
          start_read (self, item);
        }
      ahead_bytes += item->block.length;
    }
}

void
atlas_peer_session_writable (AtlasPeerSession *self)
{
  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));

  if (self->closed)
    return;
  _atlas_peer_session_flush (self);
  _atlas_peer_session_serve_pump (self);
}

void
atlas_peer_session_set_choking (AtlasPeerSession *self, gboolean choking)
{
  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));

  choking = !!choking;
  if (self->closed || self->choking == choking)
    return;
  self->choking = choking;
  if (!self->started)
    return;
  atlas_peer_wire_append_simple (self->out,
                                 choking ? ATLAS_PEER_MSG_CHOKE : ATLAS_PEER_MSG_UNCHOKE);
  if (choking)
    _atlas_peer_session_serve_reject_all (self);
  _atlas_peer_session_flush (self);
}

void
atlas_peer_session_set_upload_limits (AtlasPeerSession *self, AtlasRateLimiter *global,
                                      guint64 per_peer_rate)
{
  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));

  self->global_limiter = global;
  atlas_rate_limiter_set_rate (&self->peer_limiter, per_peer_rate);
  _atlas_peer_session_serve_pump (self);
}

void
atlas_peer_session_have (AtlasPeerSession *self, guint32 piece)
{
  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));
  g_return_if_fail (piece < self->layout.piece_count);

  if (self->closed || atlas_peer_bitfield_get (self->our_bits, piece))
    return;
  atlas_peer_bitfield_set (self->our_bits, piece);
  /* Before start() the piece simply goes out in our BITFIELD. */
  if (self->started)
    {
      atlas_peer_wire_append_have (self->out, piece);
      _atlas_peer_session_flush (self);
    }
}

void
atlas_peer_session_drop (AtlasPeerSession *self, guint32 piece)
{
  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));
  g_return_if_fail (piece < self->layout.piece_count);

  if (self->closed || !atlas_peer_bitfield_get (self->our_bits, piece))
    return;
  self->our_bits[piece / 8] &= (guint8) ~(0x80u >> (piece % 8));
  if (self->dropped_bits == NULL)
    self->dropped_bits = g_malloc0 (self->bits_size);
  atlas_peer_bitfield_set (self->dropped_bits, piece);
  /* Requests of the piece not sent yet are refused now: the caller is about
   * to free its blocks, and a read finishing after that would send zeros. A
   * read in flight finds its item gone and its bytes are dropped. */
  for (GList *l = self->serve.head; l != NULL;)
    {
      GList *next = l->next;
      ServeItem *item = l->data;

      if (item->block.piece == piece)
        {
          send_reject (self, &item->block);
          remove_item (self, l);
        }
      l = next;
    }
  /* Before start() the piece is simply absent from our BITFIELD. */
  if (self->started)
    atlas_peer_wire_append_drop (self->out, piece);
  _atlas_peer_session_flush (self);
  _atlas_peer_session_serve_pump (self);
}

gboolean
atlas_peer_session_is_remote_interested (AtlasPeerSession *self)
{
  g_return_val_if_fail (ATLAS_IS_PEER_SESSION (self), FALSE);

  return self->remote_interested;
}

guint64
atlas_peer_session_get_bytes_sent (AtlasPeerSession *self)
{
  g_return_val_if_fail (ATLAS_IS_PEER_SESSION (self), 0);

  return self->bytes_sent;
}
