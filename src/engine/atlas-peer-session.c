/* atlas-peer-session.c — the peer protocol's state machine: handshake, checks
 * of what the remote sends, our requests, liveness and shutdown. Serving lives
 * in atlas-peer-session-serve.c. */
#include "atlas-peer-session-private.h"

#include "atlas-error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Requests we voided (cancelled, or choked away) whose DATA or REJECT may still
 * be on its way. Older ones are forgotten; their DATA would then be an error,
 * which needs a remote that sat on a request through this many others. */
#define MAX_VOIDED 256

G_DEFINE_FINAL_TYPE (AtlasPeerSession, atlas_peer_session, G_TYPE_OBJECT)

static void arm_liveness (AtlasPeerSession *self);

static guint
block_hash (gconstpointer key)
{
  const AtlasPeerBlock *block = key;

  return block->piece * 2654435761u ^ block->offset ^ (block->length << 7);
}

static gboolean
block_equal (gconstpointer a, gconstpointer b)
{
  const AtlasPeerBlock *x = a, *y = b;

  return x->piece == y->piece && x->offset == y->offset && x->length == y->length;
}

static const char *
goodbye_reason_name (guint16 reason)
{
  switch (reason)
    {
    case ATLAS_PEER_GOODBYE_NORMAL:
      return "normal";
    case ATLAS_PEER_GOODBYE_PROTOCOL_ERROR:
      return "protocol error";
    case ATLAS_PEER_GOODBYE_WRONG_ENTRY:
      return "wrong entry";
    case ATLAS_PEER_GOODBYE_BANNED:
      return "banned";
    case ATLAS_PEER_GOODBYE_TOO_MANY_PEERS:
      return "too many peers";
    case ATLAS_PEER_GOODBYE_SHUTTING_DOWN:
      return "shutting down";
    default:
      return "unknown reason";
    }
}

static gboolean
goodbye_is_clean (guint16 reason)
{
  /* Reasons newer peers may add are taken as NORMAL, as the protocol says. */
  return reason == ATLAS_PEER_GOODBYE_NORMAL || reason == ATLAS_PEER_GOODBYE_SHUTTING_DOWN
         || reason > ATLAS_PEER_GOODBYE_SHUTTING_DOWN;
}

static void
atlas_peer_session_dispose (GObject *object)
{
  AtlasPeerSession *self = ATLAS_PEER_SESSION (object);

  _atlas_peer_session_serve_clear (self);
  if (self->liveness_source != NULL)
    {
      g_source_destroy (self->liveness_source);
      g_clear_pointer (&self->liveness_source, g_source_unref);
    }
  G_OBJECT_CLASS (atlas_peer_session_parent_class)->dispose (object);
}

static void
atlas_peer_session_finalize (GObject *object)
{
  AtlasPeerSession *self = ATLAS_PEER_SESSION (object);

  if (self->file != NULL)
    _atlas_peer_file_release (self->file);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->name);
  g_clear_pointer (&self->decoder, atlas_peer_decoder_free);
  g_free (self->remote_bits);
  g_hash_table_unref (self->requests);
  g_queue_clear_full (&self->cancelled, g_free);
  g_free (self->our_bits);
  g_free (self->dropped_bits);
  g_byte_array_unref (self->out);
  G_OBJECT_CLASS (atlas_peer_session_parent_class)->finalize (object);
}

static void
atlas_peer_session_class_init (AtlasPeerSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = atlas_peer_session_dispose;
  object_class->finalize = atlas_peer_session_finalize;
}

static void
atlas_peer_session_init (AtlasPeerSession *self)
{
  self->name = g_strdup ("(unnamed)");
  self->decoder = atlas_peer_decoder_new ();
  self->requests = g_hash_table_new_full (block_hash, block_equal, g_free, NULL);
  g_queue_init (&self->cancelled);
  g_queue_init (&self->serve);
  atlas_rate_limiter_init (&self->peer_limiter, 0);
  self->out = g_byte_array_new ();
  self->keepalive_ms = ATLAS_PEER_SESSION_KEEPALIVE_MS;
  self->idle_ms = ATLAS_PEER_SESSION_IDLE_MS;
}

AtlasPeerSession *
atlas_peer_session_new (const AtlasPeerLayout *layout, const guint8 *our_bits, int fd)
{
  AtlasPeerSession *self;

  g_return_val_if_fail (layout != NULL, NULL);
  g_return_val_if_fail (layout->piece_count >= 1 && layout->piece_count <= ATLAS_PEER_MAX_PIECES,
                        NULL);
  g_return_val_if_fail (layout->piece_length >= 1, NULL);
  g_return_val_if_fail ((layout->file_size + layout->piece_length - 1) / layout->piece_length
                            == layout->piece_count,
                        NULL);

  self = g_object_new (ATLAS_TYPE_PEER_SESSION, NULL);
  self->layout = *layout;
  self->bits_size = atlas_peer_bitfield_size (layout->piece_count);
  self->our_bits =
      our_bits != NULL ? g_memdup2 (our_bits, self->bits_size) : g_malloc0 (self->bits_size);
  self->context = g_main_context_ref_thread_default ();
  atlas_peer_session_set_file (self, fd);
  return self;
}

void
atlas_peer_session_set_file (AtlasPeerSession *self, int fd)
{
  int copy;

  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));
  if (self->file != NULL || fd < 0)
    return;
  copy = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0)
    {
      g_warning ("peer session cannot serve: dup of fd %d failed: %s", fd, g_strerror (errno));
      return;
    }
  self->file = g_atomic_rc_box_new0 (AtlasPeerFile);
  self->file->fd = copy;
}

void
atlas_peer_session_set_transport (AtlasPeerSession *self, const AtlasPeerTransportFuncs *funcs,
                                  gpointer transport)
{
  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));
  g_return_if_fail (funcs != NULL && funcs->write != NULL && funcs->close != NULL);

  self->transport_funcs = *funcs;
  self->transport = transport;
}

void
atlas_peer_session_set_events (AtlasPeerSession *self, const AtlasPeerSessionEvents *events,
                               gpointer user_data)
{
  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));

  if (events != NULL)
    self->events = *events;
  else
    memset (&self->events, 0, sizeof self->events);
  self->user_data = user_data;
}

const char *
atlas_peer_session_get_name (AtlasPeerSession *self)
{
  g_return_val_if_fail (ATLAS_IS_PEER_SESSION (self), NULL);

  return self->name;
}

void
atlas_peer_session_set_name (AtlasPeerSession *self, const char *name)
{
  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));

  g_free (self->name);
  self->name = g_strdup (name != NULL ? name : "(unnamed)");
}

guint32
_atlas_peer_session_piece_size (AtlasPeerSession *self, guint32 piece)
{
  guint64 start = (guint64) piece * self->layout.piece_length;

  return (guint32) MIN ((guint64) self->layout.piece_length, self->layout.file_size - start);
}

/* Closing. */

/* Ends the session once: says GOODBYE, closes the transport and emits
 * "closed" with @error (taken; NULL for a clean close). */
static void
session_close (AtlasPeerSession *self, guint16 reason, const char *text, GError *error)
{
  g_autoptr (GError) owned_error = error;

  if (self->closed)
    return;
  g_object_ref (self);
  self->closed = TRUE;
  self->ready = FALSE;

  _atlas_peer_session_serve_clear (self);
  if (self->liveness_source != NULL)
    {
      g_source_destroy (self->liveness_source);
      g_clear_pointer (&self->liveness_source, g_source_unref);
    }
  g_hash_table_remove_all (self->requests);
  self->outstanding_bytes = 0;

  if (self->transport_funcs.write != NULL)
    {
      /* A GOODBYE behind a half-sent frame would corrupt the stream, and one
       * behind a blocked transport would never leave: it is best effort. */
      atlas_peer_wire_append_goodbye (self->out, reason, text);
      _atlas_peer_session_flush (self);
      self->transport_funcs.close (self->transport,
                                   text != NULL ? text : goodbye_reason_name (reason));
    }
  g_byte_array_set_size (self->out, 0);
  self->out_start = 0;

  if (self->events.closed != NULL)
    self->events.closed (self, owned_error, self->user_data);
  g_object_unref (self);
}

void
_atlas_peer_session_protocol_error (AtlasPeerSession *self, const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  session_close (self, ATLAS_PEER_GOODBYE_PROTOCOL_ERROR, what,
                 g_error_new (ATLAS_ERROR, ATLAS_ERROR_PROTOCOL, "peer %s: %s", self->name, what));
}

void
atlas_peer_session_close (AtlasPeerSession *self, guint16 reason, const char *text)
{
  GError *error = NULL;

  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));

  if (self->closed)
    return;
  if (!goodbye_is_clean (reason))
    error = g_error_new (ATLAS_ERROR, ATLAS_ERROR_PROTOCOL, "peer %s: closed (%s)%s%s", self->name,
                         goodbye_reason_name (reason), text != NULL ? ": " : "",
                         text != NULL ? text : "");
  session_close (self, reason, text, error);
}

static void
remote_goodbye (AtlasPeerSession *self, guint16 reason, const char *text)
{
  GError *error = NULL;

  if (!goodbye_is_clean (reason))
    error = g_error_new (ATLAS_ERROR, ATLAS_ERROR_PROTOCOL, "peer %s said goodbye (%s)%s%s",
                         self->name, goodbye_reason_name (reason), *text != '\0' ? ": " : "", text);
  /* The remote is gone: nothing of ours would reach it, so no GOODBYE back. */
  self->transport_funcs.write = NULL;
  g_byte_array_set_size (self->out, 0);
  self->out_start = 0;
  if (self->transport_funcs.close != NULL)
    self->transport_funcs.close (self->transport, "remote said goodbye");
  session_close (self, reason, NULL, error);
}

/* Liveness. */

static gboolean
liveness_cb (gpointer data)
{
  AtlasPeerSession *self = data;
  gint64 now = g_get_monotonic_time ();

  g_clear_pointer (&self->liveness_source, g_source_unref);
  g_object_ref (self);
  if (now - self->last_heard >= (gint64) self->idle_ms * 1000)
    {
      session_close (self, ATLAS_PEER_GOODBYE_NORMAL, "idle timeout",
                     g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                                  "peer %s: nothing heard for %u ms", self->name, self->idle_ms));
    }
  else
    {
      if (now - self->last_sent >= (gint64) self->keepalive_ms * 1000)
        {
          /* Output stuck behind a full transport is not silence. */
          if (_atlas_peer_session_output_blocked (self))
            self->last_sent = now;
          else
            {
              atlas_peer_wire_append_simple (self->out, ATLAS_PEER_MSG_KEEPALIVE);
              _atlas_peer_session_flush (self);
            }
        }
      arm_liveness (self);
    }
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

/* One timer for both limits, set for the earlier deadline. Activity does not
 * touch the timer; it only moves the timestamps, so a busy session costs one
 * wakeup per interval rather than a timer reset per frame. */
static void
arm_liveness (AtlasPeerSession *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 deadline, wait_ms;

  if (self->closed || !self->started)
    return;
  if (self->liveness_source != NULL)
    {
      g_source_destroy (self->liveness_source);
      g_clear_pointer (&self->liveness_source, g_source_unref);
    }
  deadline = MIN (self->last_heard + (gint64) self->idle_ms * 1000,
                  self->last_sent + (gint64) self->keepalive_ms * 1000);
  wait_ms = MAX ((deadline - now + 999) / 1000, 1);
  self->liveness_source = g_timeout_source_new (wait_ms);
  g_source_set_callback (self->liveness_source, liveness_cb, self, NULL);
  g_source_set_name (self->liveness_source, "[atlas] peer keepalive");
  g_source_attach (self->liveness_source, self->context);
}

void
_atlas_peer_session_set_timeouts (AtlasPeerSession *self, guint keepalive_ms, guint idle_ms)
{
  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));
  g_return_if_fail (keepalive_ms > 0 && idle_ms > 0);

  self->keepalive_ms = keepalive_ms;
  self->idle_ms = idle_ms;
  arm_liveness (self);
}

/* Handshake and messages. */

void
atlas_peer_session_start (AtlasPeerSession *self)
{
  gint64 now = g_get_monotonic_time ();

  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));
  g_return_if_fail (self->transport_funcs.write != NULL);
  g_return_if_fail (!self->started);

  if (self->closed)
    return;
  self->started = TRUE;
  self->last_sent = now;
  if (self->last_heard == 0)
    self->last_heard = now;
  atlas_peer_wire_append_hello (self->out, self->layout.entry_id, self->layout.file_size,
                                self->layout.piece_length, self->layout.piece_count);
  atlas_peer_wire_append_bitfield (self->out, self->our_bits, self->layout.piece_count);
  /* The protocol has both sides start choked; we serve unless told not to,
   * and say so at once so that the remote need not wait. */
  atlas_peer_wire_append_simple (self->out,
                                 self->choking ? ATLAS_PEER_MSG_CHOKE : ATLAS_PEER_MSG_UNCHOKE);
  if (self->interested)
    atlas_peer_wire_append_simple (self->out, ATLAS_PEER_MSG_INTERESTED);
  _atlas_peer_session_flush (self);
  arm_liveness (self);
}

static void
handle_hello (AtlasPeerSession *self, const AtlasPeerMessage *message)
{
  g_autofree char *what = NULL;

  if (message->version > ATLAS_PEER_PROTOCOL_VERSION)
    {
      _atlas_peer_session_protocol_error (self, "unsupported version %u", message->version);
      return;
    }
  if (memcmp (message->entry_id, self->layout.entry_id, sizeof message->entry_id) != 0)
    what = g_strdup ("wrong entry: HELLO names another file (entry id differs)");
  else if (message->file_size != self->layout.file_size
           || message->piece_length != self->layout.piece_length
           || message->piece_count != self->layout.piece_count)
    what = g_strdup_printf ("wrong entry: HELLO has %" G_GUINT64_FORMAT " bytes in %u pieces of "
                            "%u, we have %" G_GUINT64_FORMAT " bytes in %u pieces of %u",
                            message->file_size, message->piece_count, message->piece_length,
                            self->layout.file_size, self->layout.piece_count,
                            self->layout.piece_length);
  if (what != NULL)
    {
      session_close (
          self, ATLAS_PEER_GOODBYE_WRONG_ENTRY, what,
          g_error_new (ATLAS_ERROR, ATLAS_ERROR_PROTOCOL, "peer %s: %s", self->name, what));
      return;
    }
  self->got_hello = TRUE;
  self->remote_bits = g_malloc0 (self->bits_size);
  atlas_peer_decoder_set_piece_count (self->decoder, self->layout.piece_count);
}

static void
remember_voided (AtlasPeerSession *self, const AtlasPeerBlock *block)
{
  g_queue_push_tail (&self->cancelled, g_memdup2 (block, sizeof *block));
  if (self->cancelled.length > MAX_VOIDED)
    g_free (g_queue_pop_head (&self->cancelled));
}

/* Forgets a voided request when its late DATA or REJECT shows up. */
static gboolean
take_voided (AtlasPeerSession *self, const AtlasPeerBlock *block)
{
  for (GList *l = self->cancelled.head; l != NULL; l = l->next)
    if (block_equal (l->data, block))
      {
        g_free (l->data);
        g_queue_delete_link (&self->cancelled, l);
        return TRUE;
      }
  return FALSE;
}

static int
compare_blocks (gconstpointer a, gconstpointer b)
{
  const AtlasPeerBlock *x = *(AtlasPeerBlock *const *) a, *y = *(AtlasPeerBlock *const *) b;

  if (x->piece != y->piece)
    return x->piece < y->piece ? -1 : 1;
  return x->offset < y->offset ? -1 : x->offset > y->offset ? 1 : 0;
}

static void
handle_choke (AtlasPeerSession *self, gboolean choke)
{
  g_autoptr (GPtrArray) voided = g_ptr_array_new_with_free_func (g_free);
  gboolean changed = self->remote_choking != choke;
  GHashTableIter iter;
  gpointer key;

  self->remote_choking = choke;
  if (choke)
    {
      /* Everything outstanding is void; report it in file order, after the
       * owner knows not to ask this peer again. */
      g_hash_table_iter_init (&iter, self->requests);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        {
          g_hash_table_iter_steal (&iter);
          remember_voided (self, key);
          g_ptr_array_add (voided, key);
        }
      self->outstanding_bytes = 0;
      g_ptr_array_sort (voided, compare_blocks);
    }
  if (changed && self->events.choked != NULL)
    self->events.choked (self, choke, self->user_data);
  for (guint i = 0; i < voided->len && !self->closed; i++)
    {
      const AtlasPeerBlock *block = voided->pdata[i];

      if (self->events.rejected != NULL)
        self->events.rejected (self, block->piece, block->offset, block->length, self->user_data);
    }
}

static void
handle_data (AtlasPeerSession *self, const AtlasPeerMessage *message)
{
  AtlasPeerBlock block = { message->piece, message->offset, message->length };

  self->bytes_received += message->length;
  if (g_hash_table_remove (self->requests, &block))
    {
      self->outstanding_bytes -= block.length;
      if (self->events.block != NULL)
        self->events.block (self, block.piece, block.offset, message->data, block.length,
                            self->user_data);
      return;
    }
  if (take_voided (self, &block))
    return;
  _atlas_peer_session_protocol_error (self,
                                      "sent DATA we did not request (piece %u, offset %u, %u "
                                      "bytes)",
                                      block.piece, block.offset, block.length);
}

static void
handle_reject (AtlasPeerSession *self, const AtlasPeerBlock *block)
{
  /* A REJECT of a request we never made, or already voided, crossed our CANCEL. */
  if (!g_hash_table_remove (self->requests, block))
    {
      take_voided (self, block);
      return;
    }
  self->outstanding_bytes -= block->length;
  if (self->events.rejected != NULL)
    self->events.rejected (self, block->piece, block->offset, block->length, self->user_data);
}

static void
handle_message (AtlasPeerSession *self, const AtlasPeerMessage *message)
{
  AtlasPeerBlock block = { message->piece, message->offset, message->length };
  const char *type = atlas_peer_message_type_name (message->type);

  if (message->type == ATLAS_PEER_MSG_KEEPALIVE)
    return;
  if (message->type == ATLAS_PEER_MSG_GOODBYE)
    {
      remote_goodbye (self, message->reason, message->text);
      return;
    }
  if (!self->got_hello)
    {
      if (message->type != ATLAS_PEER_MSG_HELLO)
        _atlas_peer_session_protocol_error (self, "sent %s before HELLO", type);
      else
        handle_hello (self, message);
      return;
    }
  if (message->type == ATLAS_PEER_MSG_HELLO)
    {
      _atlas_peer_session_protocol_error (self, "sent HELLO twice");
      return;
    }
  if (!self->ready)
    {
      if (message->type != ATLAS_PEER_MSG_BITFIELD)
        {
          _atlas_peer_session_protocol_error (self, "sent %s before its BITFIELD", type);
          return;
        }
      memcpy (self->remote_bits, message->data, self->bits_size);
      self->ready = TRUE;
      if (self->events.ready != NULL)
        self->events.ready (self, self->user_data);
      return;
    }

  switch (message->type)
    {
    case ATLAS_PEER_MSG_BITFIELD:
      _atlas_peer_session_protocol_error (self, "sent BITFIELD twice");
      break;
    case ATLAS_PEER_MSG_HAVE:
      /* The decoder checked the piece against the count HELLO agreed on. A
       * HAVE of a piece already announced changes nothing: reported again,
       * the owner would count the peer twice as its holder, for good, and a
       * hostile peer could make any piece look widely held. */
      if (atlas_peer_bitfield_get (self->remote_bits, message->piece))
        break;
      atlas_peer_bitfield_set (self->remote_bits, message->piece);
      if (self->events.have != NULL)
        self->events.have (self, message->piece, self->user_data);
      break;
    case ATLAS_PEER_MSG_DROP:
      /* A DROP of a piece the remote never announced changes nothing. */
      if (!atlas_peer_bitfield_get (self->remote_bits, message->piece))
        break;
      self->remote_bits[message->piece / 8] &= (guint8) ~(0x80u >> (message->piece % 8));
      if (self->events.dropped != NULL)
        self->events.dropped (self, message->piece, self->user_data);
      break;
    case ATLAS_PEER_MSG_REQUEST:
      _atlas_peer_session_serve_request (self, &block);
      break;
    case ATLAS_PEER_MSG_DATA:
      handle_data (self, message);
      break;
    case ATLAS_PEER_MSG_CANCEL:
      _atlas_peer_session_serve_cancel (self, &block);
      break;
    case ATLAS_PEER_MSG_REJECT:
      handle_reject (self, &block);
      break;
    case ATLAS_PEER_MSG_CHOKE:
    case ATLAS_PEER_MSG_UNCHOKE:
      handle_choke (self, message->type == ATLAS_PEER_MSG_CHOKE);
      break;
    case ATLAS_PEER_MSG_INTERESTED:
    case ATLAS_PEER_MSG_NOT_INTERESTED:
      self->remote_interested = message->type == ATLAS_PEER_MSG_INTERESTED;
      break;
    default:
      /* The decoder returns no other types (unknown ones are skipped). */
      break;
    }
}

void
atlas_peer_session_receive (AtlasPeerSession *self, const guint8 *data, gsize length)
{
  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));
  g_return_if_fail (data != NULL || length == 0);

  if (self->closed || length == 0)
    return;
  self->last_heard = g_get_monotonic_time ();
  atlas_peer_decoder_feed (self->decoder, data, length);
  /* Called again from an event handler: the loop below is already running
   * and decodes these bytes next, in order. */
  if (self->dispatching)
    return;

  g_object_ref (self);
  self->dispatching = TRUE;
  while (!self->closed)
    {
      g_autoptr (GError) error = NULL;
      AtlasPeerMessage message;
      int status = atlas_peer_decoder_next (self->decoder, &message, &error);

      if (status == 0)
        break;
      if (status < 0)
        {
          _atlas_peer_session_protocol_error (self, "%s", error->message);
          break;
        }
      handle_message (self, &message);
    }
  _atlas_peer_session_check_output (self);
  self->dispatching = FALSE;
  g_object_unref (self);
}

/* Downloading. */

gboolean
atlas_peer_session_is_ready (AtlasPeerSession *self)
{
  g_return_val_if_fail (ATLAS_IS_PEER_SESSION (self), FALSE);

  return self->ready && !self->closed;
}

const guint8 *
atlas_peer_session_get_remote_bits (AtlasPeerSession *self)
{
  g_return_val_if_fail (ATLAS_IS_PEER_SESSION (self), NULL);

  return self->remote_bits;
}

gboolean
atlas_peer_session_is_choking_us (AtlasPeerSession *self)
{
  g_return_val_if_fail (ATLAS_IS_PEER_SESSION (self), FALSE);

  return self->remote_choking;
}

void
atlas_peer_session_set_interested (AtlasPeerSession *self, gboolean interested)
{
  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));

  interested = !!interested;
  if (self->closed || self->interested == interested)
    return;
  self->interested = interested;
  if (!self->started)
    return;
  atlas_peer_wire_append_simple (self->out, interested ? ATLAS_PEER_MSG_INTERESTED
                                                       : ATLAS_PEER_MSG_NOT_INTERESTED);
  _atlas_peer_session_flush (self);
}

void
atlas_peer_session_request (AtlasPeerSession *self, guint32 piece, guint32 offset, guint32 length)
{
  AtlasPeerBlock block = { piece, offset, length };

  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));
  if (self->closed)
    return;
  g_return_if_fail (self->ready);
  g_return_if_fail (piece < self->layout.piece_count);
  g_return_if_fail (atlas_peer_bitfield_get (self->remote_bits, piece));
  g_return_if_fail (length >= 1 && length <= ATLAS_PEER_MAX_BLOCK);
  g_return_if_fail ((guint64) offset + length <= _atlas_peer_session_piece_size (self, piece));

  if (g_hash_table_contains (self->requests, &block))
    return;
  g_return_if_fail (g_hash_table_size (self->requests) < ATLAS_PEER_SESSION_MAX_REQUESTS);
  g_hash_table_add (self->requests, g_memdup2 (&block, sizeof block));
  self->outstanding_bytes += length;
  atlas_peer_wire_append_request (self->out, piece, offset, length);
  _atlas_peer_session_flush (self);
}

void
atlas_peer_session_cancel (AtlasPeerSession *self, guint32 piece, guint32 offset, guint32 length)
{
  AtlasPeerBlock block = { piece, offset, length };

  g_return_if_fail (ATLAS_IS_PEER_SESSION (self));

  if (self->closed || !g_hash_table_remove (self->requests, &block))
    return;
  self->outstanding_bytes -= length;
  remember_voided (self, &block);
  atlas_peer_wire_append_cancel (self->out, piece, offset, length);
  _atlas_peer_session_flush (self);
}

guint64
atlas_peer_session_get_outstanding_bytes (AtlasPeerSession *self)
{
  g_return_val_if_fail (ATLAS_IS_PEER_SESSION (self), 0);

  return self->outstanding_bytes;
}

guint64
atlas_peer_session_get_bytes_received (AtlasPeerSession *self)
{
  g_return_val_if_fail (ATLAS_IS_PEER_SESSION (self), 0);

  return self->bytes_received;
}
