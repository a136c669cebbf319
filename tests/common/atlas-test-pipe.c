#include "atlas-test-pipe.h"

#define PIPE_CAPACITY (1024 * 1024)

static gboolean
deliver_cb (gpointer data)
{
  TestPipeEnd *end = data;
  g_autoptr (GByteArray) bytes = g_steal_pointer (&end->in_flight);
  AtlasPeerSession *receiver = end->other->session;

  end->deliver_id = 0;
  end->in_flight = g_byte_array_new ();
  if (receiver != NULL && !end->other->closed && bytes->len > 0)
    atlas_peer_session_receive (receiver, bytes->data, bytes->len);
  if (end->session != NULL && !end->closed)
    atlas_peer_session_writable (end->session);
  return G_SOURCE_REMOVE;
}

static gsize
pipe_write (gpointer transport, const guint8 *data, gsize length)
{
  TestPipeEnd *end = transport;
  gsize room = PIPE_CAPACITY - MIN (end->in_flight->len, PIPE_CAPACITY);
  gsize taken = MIN (room, length);

  if (end->closed)
    return length;
  g_byte_array_append (end->in_flight, data, (guint) taken);
  if (end->deliver_id == 0)
    end->deliver_id = g_idle_add (deliver_cb, end);
  return taken;
}

static void
pipe_close (gpointer transport, const char *reason)
{
  TestPipeEnd *end = transport;

  end->closed = TRUE;
}

static const AtlasPeerTransportFuncs pipe_funcs = { .write = pipe_write, .close = pipe_close };

void
test_pipe_connect (AtlasPeerSession *a, AtlasPeerSession *b, TestPipeEnd ends[2])
{
  for (guint i = 0; i < 2; i++)
    {
      ends[i].in_flight = g_byte_array_new ();
      ends[i].other = &ends[1 - i];
    }
  ends[0].session = a;
  ends[1].session = b;
  atlas_peer_session_set_transport (a, &pipe_funcs, &ends[0]);
  atlas_peer_session_set_transport (b, &pipe_funcs, &ends[1]);
}

void
test_pipe_clear (TestPipeEnd ends[2])
{
  for (guint i = 0; i < 2; i++)
    {
      g_clear_handle_id (&ends[i].deliver_id, g_source_remove);
      g_clear_pointer (&ends[i].in_flight, g_byte_array_unref);
    }
}
