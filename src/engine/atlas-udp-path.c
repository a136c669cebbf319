/* atlas-udp-path.c — datagrams over one UDP socket (see the header). */
#include "atlas-udp-path.h"

#include "atlas-error.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#define DEFAULT_MAX_DATAGRAM 1452
#define SOCKET_BUFFER (8 * 1024 * 1024)
/* recvmmsg batch and the per-dispatch bound: enough to empty a busy socket in
 * a few system calls, small enough that one path cannot hold the main loop. */
#define RECV_BATCH 32
#define RECV_MAX_PER_DISPATCH 512
#define RECV_BUFFER_SIZE 65536
/* Outgoing datagrams of one size are sent together with UDP GSO: one system
 * call and one trip down the stack for up to this many. */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65000

struct _AtlasUdpPath
{
  GObject parent_instance;

  GSocket *socket;
  GSource *source;
  GInetSocketAddress *local;

  struct sockaddr_storage remote;
  socklen_t remote_length;

  gsize max_datagram_size;
  AtlasDatagramReceiveFunc receive;
  gpointer receive_data;

  guint8 *buffers; /* RECV_BATCH x RECV_BUFFER_SIZE */

  /* Datagrams waiting to go out as one GSO send: equal-sized segments,
   * except that the last may be shorter (and then ends the batch). */
  GSource *flush_source;
  guint8 *batch;
  gsize batch_length;
  gsize segment_size;
  guint n_segments;
  gboolean batch_sealed;
  gboolean gso_broken;
};

static void atlas_udp_path_iface_init (AtlasDatagramPathInterface *iface);

G_DEFINE_TYPE_WITH_CODE (AtlasUdpPath, atlas_udp_path, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (ATLAS_TYPE_DATAGRAM_PATH,
                                                atlas_udp_path_iface_init))

static gboolean
same_address (const struct sockaddr_storage *a, socklen_t a_length,
              const struct sockaddr_storage *b, socklen_t b_length)
{
  if (a->ss_family != b->ss_family)
    return FALSE;
  if (a->ss_family == AF_INET)
    {
      const struct sockaddr_in *x = (const struct sockaddr_in *) a;
      const struct sockaddr_in *y = (const struct sockaddr_in *) b;

      return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
  if (a->ss_family == AF_INET6)
    {
      const struct sockaddr_in6 *x = (const struct sockaddr_in6 *) a;
      const struct sockaddr_in6 *y = (const struct sockaddr_in6 *) b;

      return x->sin6_port == y->sin6_port
             && memcmp (&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
  return a_length == b_length && memcmp (a, b, a_length) == 0;
}

static gboolean
socket_readable_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  AtlasUdpPath *self = user_data;
  struct mmsghdr messages[RECV_BATCH];
  struct iovec vectors[RECV_BATCH];
  struct sockaddr_storage senders[RECV_BATCH];
  int fd = g_socket_get_fd (self->socket);
  guint total = 0;

  /* The receive function may drop the last reference (a connection that
   * closes and is released); keep the path alive until the loop ends. */
  g_object_ref (self);
  while (total < RECV_MAX_PER_DISPATCH && self->socket != NULL)
    {
      int n;

      for (guint i = 0; i < RECV_BATCH; i++)
        {
          vectors[i].iov_base = self->buffers + (gsize) i * RECV_BUFFER_SIZE;
          vectors[i].iov_len = RECV_BUFFER_SIZE;
          memset (&messages[i].msg_hdr, 0, sizeof messages[i].msg_hdr);
          messages[i].msg_hdr.msg_iov = &vectors[i];
          messages[i].msg_hdr.msg_iovlen = 1;
          messages[i].msg_hdr.msg_name = &senders[i];
          messages[i].msg_hdr.msg_namelen = sizeof senders[i];
        }
      n = recvmmsg (fd, messages, RECV_BATCH, MSG_DONTWAIT, NULL);
      if (n <= 0)
        break;
      for (int i = 0; i < n; i++)
        {
          if (self->receive == NULL || self->remote_length == 0)
            continue;
          if (!same_address (&senders[i], messages[i].msg_hdr.msg_namelen, &self->remote,
                             self->remote_length))
            continue;
          self->receive (vectors[i].iov_base, messages[i].msg_len, self->receive_data);
        }
      total += n;
      if (n < RECV_BATCH)
        break;
    }
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
send_error_is_loss (int error_number)
{
  /* A full buffer is loss, as is an ICMP error from an earlier datagram
   * (ECONNREFUSED while the peer is not yet listening): QUIC recovers. */
  return error_number == EAGAIN || error_number == EWOULDBLOCK || error_number == ECONNREFUSED
         || error_number == ENOBUFS || error_number == EHOSTUNREACH || error_number == ENETUNREACH
         || error_number == EINTR;
}

static void
send_one (AtlasUdpPath *self, const guint8 *data, gsize length)
{
  ssize_t sent;

  do
    sent = sendto (g_socket_get_fd (self->socket), data, length, MSG_DONTWAIT,
                   (struct sockaddr *) &self->remote, self->remote_length);
  while (sent < 0 && errno == EINTR);
  if (sent < 0 && !send_error_is_loss (errno))
    g_debug ("Sending a UDP datagram failed: %s", g_strerror (errno));
}

/* Sends the batch: one sendmsg with UDP_SEGMENT when it holds several. */
static void
flush_batch (AtlasUdpPath *self)
{
  if (self->n_segments == 0 || self->socket == NULL)
    goto done;

  if (self->n_segments > 1 && !self->gso_broken)
    {
      union
      {
        char buffer[CMSG_SPACE (sizeof (guint16))];
        struct cmsghdr align;
      } control;
      struct iovec vector = { self->batch, self->batch_length };
      struct msghdr message = { 0 };
      struct cmsghdr *cmsg;
      ssize_t sent;

      memset (&control, 0, sizeof control);
      message.msg_name = &self->remote;
      message.msg_namelen = self->remote_length;
      message.msg_iov = &vector;
      message.msg_iovlen = 1;
      message.msg_control = control.buffer;
      message.msg_controllen = sizeof control.buffer;
      cmsg = CMSG_FIRSTHDR (&message);
      cmsg->cmsg_level = SOL_UDP;
      cmsg->cmsg_type = UDP_SEGMENT;
      cmsg->cmsg_len = CMSG_LEN (sizeof (guint16));
      *(guint16 *) CMSG_DATA (cmsg) = self->segment_size;

      do
        sent = sendmsg (g_socket_get_fd (self->socket), &message, MSG_DONTWAIT);
      while (sent < 0 && errno == EINTR);
      if (sent >= 0 || send_error_is_loss (errno))
        goto done;
      /* Kernels or devices without UDP GSO (EIO, EINVAL, ENOPROTOOPT):
       * send one by one from now on. */
      g_debug ("UDP GSO unavailable (%s); sending datagrams one by one", g_strerror (errno));
      self->gso_broken = TRUE;
    }

  for (gsize offset = 0; offset < self->batch_length; offset += self->segment_size)
    send_one (self, self->batch + offset, MIN (self->segment_size, self->batch_length - offset));

done:
  self->batch_length = 0;
  self->n_segments = 0;
  self->segment_size = 0;
  self->batch_sealed = FALSE;
}

static gboolean
flush_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  flush_batch (user_data);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_funcs = {
  .dispatch = flush_dispatch,
};

static gboolean
udp_send (AtlasDatagramPath *path, const guint8 *data, gsize length, GError **error)
{
  AtlasUdpPath *self = ATLAS_UDP_PATH (path);

  if (self->socket == NULL || self->remote_length == 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                   self->socket == NULL ? "The UDP path is closed"
                                        : "The UDP path has no remote address");
      return FALSE;
    }
  if (length == 0 || length > RECV_BUFFER_SIZE)
    return TRUE;

  if (self->n_segments > 0
      && (self->batch_sealed || length > self->segment_size
          || self->batch_length + length > GSO_MAX_BYTES || self->n_segments >= GSO_MAX_SEGMENTS))
    flush_batch (self);
  if (self->n_segments == 0)
    self->segment_size = length;
  memcpy (self->batch + self->batch_length, data, length);
  self->batch_length += length;
  self->n_segments++;
  if (length < self->segment_size)
    self->batch_sealed = TRUE;

  /* The rest of this main loop iteration may add more; what is left goes
   * out at the start of the next one. */
  g_source_set_ready_time (self->flush_source, 0);
  return TRUE;
}

static void
udp_set_receive_func (AtlasDatagramPath *path, AtlasDatagramReceiveFunc func, gpointer user_data)
{
  AtlasUdpPath *self = ATLAS_UDP_PATH (path);

  self->receive = func;
  self->receive_data = user_data;
}

static gsize
udp_get_max_datagram_size (AtlasDatagramPath *path)
{
  return ATLAS_UDP_PATH (path)->max_datagram_size;
}

static void
atlas_udp_path_iface_init (AtlasDatagramPathInterface *iface)
{
  iface->send = udp_send;
  iface->set_receive_func = udp_set_receive_func;
  iface->get_max_datagram_size = udp_get_max_datagram_size;
}

static void
atlas_udp_path_dispose (GObject *object)
{
  AtlasUdpPath *self = ATLAS_UDP_PATH (object);

  flush_batch (self);
  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
  if (self->flush_source != NULL)
    {
      g_source_destroy (self->flush_source);
      g_clear_pointer (&self->flush_source, g_source_unref);
    }
  if (self->socket != NULL)
    g_socket_close (self->socket, NULL);
  g_clear_object (&self->socket);
  g_clear_object (&self->local);
  self->receive = NULL;

  G_OBJECT_CLASS (atlas_udp_path_parent_class)->dispose (object);
}

static void
atlas_udp_path_finalize (GObject *object)
{
  g_free (ATLAS_UDP_PATH (object)->buffers);
  g_free (ATLAS_UDP_PATH (object)->batch);
  G_OBJECT_CLASS (atlas_udp_path_parent_class)->finalize (object);
}

static void
atlas_udp_path_class_init (AtlasUdpPathClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = atlas_udp_path_dispose;
  object_class->finalize = atlas_udp_path_finalize;
}

static void
atlas_udp_path_init (AtlasUdpPath *self)
{
  self->max_datagram_size = DEFAULT_MAX_DATAGRAM;
}

/* Bursts of a fast QUIC sender overflow the default 208 KiB buffers long
 * before the congestion controller notices. SO_*BUFFORCE exceeds the sysctl
 * limits where we are allowed to (root, CAP_NET_ADMIN); otherwise we get what
 * the limits give. */
static void
grow_buffer (int fd, int force_option, int option)
{
  int size = SOCKET_BUFFER;

  if (setsockopt (fd, SOL_SOCKET, force_option, &size, sizeof size) != 0)
    (void) setsockopt (fd, SOL_SOCKET, option, &size, sizeof size);
}

AtlasUdpPath *
atlas_udp_path_new (GInetSocketAddress *local, GError **error)
{
  g_autoptr (AtlasUdpPath) self = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  GSocketFamily family;

  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (local), NULL);

  family = g_socket_address_get_family (G_SOCKET_ADDRESS (local));
  socket = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL)
    {
      g_prefix_error (error, "Cannot create a UDP socket: ");
      return NULL;
    }
  g_socket_set_blocking (socket, FALSE);
  if (!g_socket_bind (socket, G_SOCKET_ADDRESS (local), FALSE, error))
    {
      g_prefix_error (error, "Cannot bind a UDP socket: ");
      return NULL;
    }
  bound = g_socket_get_local_address (socket, error);
  if (bound == NULL)
    return NULL;

  grow_buffer (g_socket_get_fd (socket), SO_RCVBUFFORCE, SO_RCVBUF);
  grow_buffer (g_socket_get_fd (socket), SO_SNDBUFFORCE, SO_SNDBUF);

  self = g_object_new (ATLAS_TYPE_UDP_PATH, NULL);
  self->socket = g_steal_pointer (&socket);
  self->local = G_INET_SOCKET_ADDRESS (g_steal_pointer (&bound));
  self->buffers = g_malloc ((gsize) RECV_BATCH * RECV_BUFFER_SIZE);
  self->source = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (self->source, G_SOURCE_FUNC (socket_readable_cb), self, NULL);
  g_source_set_static_name (self->source, "AtlasUdpPath");
  g_source_attach (self->source, g_main_context_get_thread_default ());
  self->batch = g_malloc (GSO_MAX_BYTES + RECV_BUFFER_SIZE);
  self->flush_source = g_source_new (&flush_funcs, sizeof (GSource));
  g_source_set_callback (self->flush_source, NULL, self, NULL);
  g_source_set_static_name (self->flush_source, "AtlasUdpPath flush");
  g_source_attach (self->flush_source, g_main_context_get_thread_default ());

  return g_steal_pointer (&self);
}

GInetSocketAddress *
atlas_udp_path_get_local_address (AtlasUdpPath *self)
{
  g_return_val_if_fail (ATLAS_IS_UDP_PATH (self), NULL);
  return self->local;
}

void
atlas_udp_path_set_remote (AtlasUdpPath *self, GSocketAddress *remote)
{
  g_return_if_fail (ATLAS_IS_UDP_PATH (self));

  self->remote_length = 0;
  if (remote == NULL)
    return;
  if (g_socket_address_to_native (remote, &self->remote, sizeof self->remote, NULL))
    self->remote_length = g_socket_address_get_native_size (remote);
}

void
atlas_udp_path_set_max_datagram_size (AtlasUdpPath *self, gsize size)
{
  g_return_if_fail (ATLAS_IS_UDP_PATH (self));
  g_return_if_fail (size >= 1200 && size <= RECV_BUFFER_SIZE - 1024);

  self->max_datagram_size = size;
}
