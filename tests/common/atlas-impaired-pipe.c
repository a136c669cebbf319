/* atlas-impaired-pipe.c — an in-process lossy link (see the header). */
#include "atlas-impaired-pipe.h"

#include "atlas-error.h"

#include <string.h>

#define DEFAULT_MAX_DATAGRAM 1452
/* Deliveries per dispatch: bounded so a fast link cannot starve the loop. */
#define MAX_DELIVERIES 256

typedef struct
{
  gint64 due_us;
  gsize length;
  guint8 data[];
} Packet;

typedef struct _AtlasImpairedEnd AtlasImpairedEnd;

typedef struct
{
  AtlasImpairedPipe *pipe;
  AtlasImpairment impairment;
  GRand *rand;
  GQueue packets; /* sorted by due_us */
  GSource *source;
  gint64 link_free_us; /* when the rate-limited link finishes sending */
  AtlasImpairedEnd *receiver;
  guint64 dropped;
  guint64 delivered;
} Direction;

struct _AtlasImpairedPipe
{
  GObject parent_instance;

  Direction directions[2]; /* [0]: A to B, [1]: B to A */
  gboolean cut;
  gsize max_datagram_size;
};

G_DEFINE_TYPE (AtlasImpairedPipe, atlas_impaired_pipe, G_TYPE_OBJECT)

/* --------------------------------------------------------------------- end */

#define ATLAS_TYPE_IMPAIRED_END (atlas_impaired_end_get_type ())
G_DECLARE_FINAL_TYPE (AtlasImpairedEnd, atlas_impaired_end, ATLAS, IMPAIRED_END, GObject)

struct _AtlasImpairedEnd
{
  GObject parent_instance;

  AtlasImpairedPipe *pipe; /* strong: the pipe lives while an end does */
  Direction *outgoing;
  Direction *incoming;
  AtlasDatagramReceiveFunc receive;
  gpointer receive_data;
};

static void atlas_impaired_end_iface_init (AtlasDatagramPathInterface *iface);

G_DEFINE_TYPE_WITH_CODE (AtlasImpairedEnd, atlas_impaired_end, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (ATLAS_TYPE_DATAGRAM_PATH,
                                                atlas_impaired_end_iface_init))

static void
direction_clear_queue (Direction *direction)
{
  Packet *packet;

  while ((packet = g_queue_pop_head (&direction->packets)) != NULL)
    {
      direction->dropped++;
      g_free (packet);
    }
  g_source_set_ready_time (direction->source, -1);
}

static void
direction_enqueue (Direction *direction, Packet *packet)
{
  GList *link;

  /* Almost always the newest packet is due last: search from the tail. */
  for (link = direction->packets.tail; link != NULL; link = link->prev)
    if (((Packet *) link->data)->due_us <= packet->due_us)
      break;
  if (link == NULL)
    g_queue_push_head (&direction->packets, packet);
  else
    g_queue_insert_after (&direction->packets, link, packet);
  g_source_set_ready_time (direction->source,
                           ((Packet *) g_queue_peek_head (&direction->packets))->due_us);
}

static gboolean
end_send (AtlasDatagramPath *path, const guint8 *data, gsize length, GError **error)
{
  AtlasImpairedEnd *self = ATLAS_IMPAIRED_END (path);
  Direction *direction = self->outgoing;
  const AtlasImpairment *impairment;
  gint64 now = g_get_monotonic_time ();
  gint64 depart = now;
  Packet *packet;

  if (self->pipe == NULL)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NETWORK, "The pipe is gone");
      return FALSE;
    }
  impairment = &direction->impairment;
  if (length > self->pipe->max_datagram_size || self->pipe->cut
      || (impairment->loss > 0 && g_rand_double (direction->rand) < impairment->loss))
    {
      direction->dropped++;
      return TRUE;
    }

  if (impairment->rate_bytes_per_second > 0)
    {
      gint64 start = MAX (now, direction->link_free_us);
      guint64 backlog =
          (guint64) (start - now) * impairment->rate_bytes_per_second / G_USEC_PER_SEC;

      if (impairment->queue_limit_bytes > 0 && backlog + length > impairment->queue_limit_bytes)
        {
          direction->dropped++;
          return TRUE;
        }
      direction->link_free_us =
          start + (gint64) (length * G_USEC_PER_SEC / impairment->rate_bytes_per_second);
      depart = direction->link_free_us;
    }

  packet = g_malloc (sizeof (Packet) + length);
  packet->length = length;
  memcpy (packet->data, data, length);
  packet->due_us = depart + (gint64) impairment->delay_ms * 1000;
  if (impairment->jitter_ms > 0)
    packet->due_us += g_rand_int_range (direction->rand, 0, impairment->jitter_ms * 1000 + 1);
  if (impairment->reorder > 0 && g_rand_double (direction->rand) < impairment->reorder)
    packet->due_us += MAX (1000, (gint64) impairment->delay_ms * 500);
  direction_enqueue (direction, packet);
  return TRUE;
}

static void
end_set_receive_func (AtlasDatagramPath *path, AtlasDatagramReceiveFunc func, gpointer user_data)
{
  AtlasImpairedEnd *self = ATLAS_IMPAIRED_END (path);

  self->receive = func;
  self->receive_data = user_data;
}

static gsize
end_get_max_datagram_size (AtlasDatagramPath *path)
{
  AtlasImpairedEnd *self = ATLAS_IMPAIRED_END (path);

  return self->pipe ? self->pipe->max_datagram_size : DEFAULT_MAX_DATAGRAM;
}

static void
atlas_impaired_end_iface_init (AtlasDatagramPathInterface *iface)
{
  iface->send = end_send;
  iface->set_receive_func = end_set_receive_func;
  iface->get_max_datagram_size = end_get_max_datagram_size;
}

static void
atlas_impaired_end_dispose (GObject *object)
{
  AtlasImpairedEnd *self = ATLAS_IMPAIRED_END (object);

  if (self->incoming != NULL)
    self->incoming->receiver = NULL;
  self->incoming = NULL;
  self->outgoing = NULL;
  g_clear_object (&self->pipe);
  G_OBJECT_CLASS (atlas_impaired_end_parent_class)->dispose (object);
}

static void
atlas_impaired_end_class_init (AtlasImpairedEndClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = atlas_impaired_end_dispose;
}

static void
atlas_impaired_end_init (AtlasImpairedEnd *self)
{
}

/* -------------------------------------------------------------------- pipe */

static gboolean
direction_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  Direction *direction = user_data;
  AtlasImpairedPipe *pipe = g_object_ref (direction->pipe);
  gint64 now = g_get_monotonic_time ();
  Packet *packet;

  g_source_set_ready_time (source, -1);
  for (guint n = 0; n < MAX_DELIVERIES; n++)
    {
      AtlasImpairedEnd *receiver;

      packet = g_queue_peek_head (&direction->packets);
      if (packet == NULL || packet->due_us > now)
        break;
      g_queue_pop_head (&direction->packets);
      receiver = direction->receiver;
      if (receiver != NULL && receiver->receive != NULL)
        {
          direction->delivered++;
          g_object_ref (receiver);
          receiver->receive (packet->data, packet->length, receiver->receive_data);
          g_object_unref (receiver);
        }
      else
        direction->dropped++;
      g_free (packet);
    }
  packet = g_queue_peek_head (&direction->packets);
  if (packet != NULL)
    g_source_set_ready_time (source, packet->due_us);
  g_object_unref (pipe);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs direction_funcs = {
  .dispatch = direction_dispatch,
};

static void
atlas_impaired_pipe_dispose (GObject *object)
{
  AtlasImpairedPipe *self = ATLAS_IMPAIRED_PIPE (object);

  for (guint i = 0; i < 2; i++)
    {
      Direction *direction = &self->directions[i];

      if (direction->source == NULL)
        continue;
      direction_clear_queue (direction);
      g_source_destroy (direction->source);
      g_clear_pointer (&direction->source, g_source_unref);
      g_clear_pointer (&direction->rand, g_rand_free);
    }
  G_OBJECT_CLASS (atlas_impaired_pipe_parent_class)->dispose (object);
}

static void
atlas_impaired_pipe_class_init (AtlasImpairedPipeClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = atlas_impaired_pipe_dispose;
}

static void
atlas_impaired_pipe_init (AtlasImpairedPipe *self)
{
  self->max_datagram_size = DEFAULT_MAX_DATAGRAM;
}

AtlasImpairedPipe *
atlas_impaired_pipe_new (guint32 seed, const AtlasImpairment *a_to_b, const AtlasImpairment *b_to_a,
                         AtlasDatagramPath **end_a, AtlasDatagramPath **end_b)
{
  AtlasImpairedPipe *self = g_object_new (ATLAS_TYPE_IMPAIRED_PIPE, NULL);
  const AtlasImpairment *impairments[2] = { a_to_b, b_to_a };
  AtlasImpairedEnd *ends[2];

  for (guint i = 0; i < 2; i++)
    {
      Direction *direction = &self->directions[i];

      direction->pipe = self;
      if (impairments[i] != NULL)
        direction->impairment = *impairments[i];
      direction->rand = g_rand_new_with_seed (seed * 2 + i);
      g_queue_init (&direction->packets);
      direction->source = g_source_new (&direction_funcs, sizeof (GSource));
      g_source_set_callback (direction->source, NULL, direction, NULL);
      g_source_set_static_name (direction->source, "AtlasImpairedPipe");
      g_source_attach (direction->source, g_main_context_get_thread_default ());

      ends[i] = g_object_new (ATLAS_TYPE_IMPAIRED_END, NULL);
      ends[i]->pipe = g_object_ref (self);
    }
  /* End A sends on direction 0 and receives on 1; B the other way round. */
  ends[0]->outgoing = &self->directions[0];
  ends[0]->incoming = &self->directions[1];
  ends[1]->outgoing = &self->directions[1];
  ends[1]->incoming = &self->directions[0];
  self->directions[0].receiver = ends[1];
  self->directions[1].receiver = ends[0];

  *end_a = ATLAS_DATAGRAM_PATH (ends[0]);
  *end_b = ATLAS_DATAGRAM_PATH (ends[1]);
  return self;
}

void
atlas_impaired_pipe_set_cut (AtlasImpairedPipe *self, gboolean cut)
{
  g_return_if_fail (ATLAS_IS_IMPAIRED_PIPE (self));

  self->cut = cut;
  if (cut)
    for (guint i = 0; i < 2; i++)
      direction_clear_queue (&self->directions[i]);
}

void
atlas_impaired_pipe_inject (AtlasImpairedPipe *self, gboolean to_b, const guint8 *data,
                            gsize length)
{
  Direction *direction;
  Packet *packet;

  g_return_if_fail (ATLAS_IS_IMPAIRED_PIPE (self));

  direction = &self->directions[to_b ? 0 : 1];
  packet = g_malloc (sizeof (Packet) + length);
  packet->length = length;
  memcpy (packet->data, data, length);
  packet->due_us = g_get_monotonic_time ();
  direction_enqueue (direction, packet);
}

void
atlas_impaired_pipe_set_max_datagram_size (AtlasImpairedPipe *self, gsize size)
{
  g_return_if_fail (ATLAS_IS_IMPAIRED_PIPE (self));
  self->max_datagram_size = size;
}

guint64
atlas_impaired_pipe_get_dropped (AtlasImpairedPipe *self, gboolean a_to_b)
{
  g_return_val_if_fail (ATLAS_IS_IMPAIRED_PIPE (self), 0);
  return self->directions[a_to_b ? 0 : 1].dropped;
}

guint64
atlas_impaired_pipe_get_delivered (AtlasImpairedPipe *self, gboolean a_to_b)
{
  g_return_val_if_fail (ATLAS_IS_IMPAIRED_PIPE (self), 0);
  return self->directions[a_to_b ? 0 : 1].delivered;
}
