/* atlas-udp-path.h — an AtlasDatagramPath over a plain UDP socket.
 *
 * Used on loopback by tests and benchmarks, where no ICE is needed: bind one
 * socket per end, tell each the other's address, run QUIC over them.
 * Datagrams from any address other than the remote are ignored.
 *
 * Sending is batched: datagrams of one size queue up and leave together with
 * UDP GSO (one system call for up to 64) at the next main loop iteration, or
 * when the path is disposed; receiving drains the socket with recvmmsg.
 */
#pragma once

#include <gio/gio.h>

#include "atlas-datagram-path.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_UDP_PATH (atlas_udp_path_get_type ())
G_DECLARE_FINAL_TYPE (AtlasUdpPath, atlas_udp_path, ATLAS, UDP_PATH, GObject)

/* Binds a UDP socket to @local (port 0 picks a free port), with large socket
 * buffers, watched on the thread-default main context. */
AtlasUdpPath *atlas_udp_path_new (GInetSocketAddress *local, GError **error);

/* The address the socket is bound to (with the real port). */
GInetSocketAddress *atlas_udp_path_get_local_address (AtlasUdpPath *self);

/* Where datagrams go, and the only address they are accepted from. */
void atlas_udp_path_set_remote (AtlasUdpPath *self, GSocketAddress *remote);

/* Overrides the largest datagram (default 1452). Loopback carries 64 KiB, so
 * benchmarks use bigger datagrams to spend fewer system calls per byte. */
void atlas_udp_path_set_max_datagram_size (AtlasUdpPath *self, gsize size);

G_END_DECLS
