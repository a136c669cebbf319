/* atlas-datagram-path.h — a path that carries datagrams to one peer.
 *
 * QUIC (atlas-quic-connection) runs over any implementation: the pair that
 * ICE selected (atlas-ice-link), a plain UDP socket (loopback tests and
 * benchmarks), or an in-process pipe that delays, drops and reorders (QUIC
 * tests, since this kernel has no netem).
 *
 * Datagrams are unreliable and unordered, as UDP is: send may drop one (a full
 * socket buffer counts as loss), and nothing is retransmitted below QUIC.
 * Everything runs on the thread-default main context the path was made on;
 * received datagrams are delivered there, one call per datagram.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define ATLAS_TYPE_DATAGRAM_PATH (atlas_datagram_path_get_type ())
G_DECLARE_INTERFACE (AtlasDatagramPath, atlas_datagram_path, ATLAS, DATAGRAM_PATH, GObject)

/* Called for each datagram that arrives. @data is valid during the call only. */
typedef void (*AtlasDatagramReceiveFunc) (const guint8 *data, gsize length, gpointer user_data);

struct _AtlasDatagramPathInterface
{
  GTypeInterface parent_iface;

  /* Sends one datagram. FALSE with @error only when the path is unusable
   * (closed, failed); a datagram lost to a full buffer still returns TRUE. */
  gboolean (*send) (AtlasDatagramPath *self, const guint8 *data, gsize length, GError **error);

  /* Sets (or with NULL clears) the function that receives datagrams. */
  void (*set_receive_func) (AtlasDatagramPath *self, AtlasDatagramReceiveFunc func,
                            gpointer user_data);

  /* The largest datagram the path carries without fragmentation. */
  gsize (*get_max_datagram_size) (AtlasDatagramPath *self);
};

gboolean atlas_datagram_path_send (AtlasDatagramPath *self, const guint8 *data, gsize length,
                                   GError **error);
void atlas_datagram_path_set_receive_func (AtlasDatagramPath *self, AtlasDatagramReceiveFunc func,
                                           gpointer user_data);
gsize atlas_datagram_path_get_max_datagram_size (AtlasDatagramPath *self);

G_END_DECLS
