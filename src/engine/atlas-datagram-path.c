/* atlas-datagram-path.c — the datagram path interface (see the header). */
#include "atlas-datagram-path.h"

G_DEFINE_INTERFACE (AtlasDatagramPath, atlas_datagram_path, G_TYPE_OBJECT)

static void
atlas_datagram_path_default_init (AtlasDatagramPathInterface *iface)
{
}

gboolean
atlas_datagram_path_send (AtlasDatagramPath *self, const guint8 *data, gsize length, GError **error)
{
  g_return_val_if_fail (ATLAS_IS_DATAGRAM_PATH (self), FALSE);
  return ATLAS_DATAGRAM_PATH_GET_IFACE (self)->send (self, data, length, error);
}

void
atlas_datagram_path_set_receive_func (AtlasDatagramPath *self, AtlasDatagramReceiveFunc func,
                                      gpointer user_data)
{
  g_return_if_fail (ATLAS_IS_DATAGRAM_PATH (self));
  ATLAS_DATAGRAM_PATH_GET_IFACE (self)->set_receive_func (self, func, user_data);
}

gsize
atlas_datagram_path_get_max_datagram_size (AtlasDatagramPath *self)
{
  g_return_val_if_fail (ATLAS_IS_DATAGRAM_PATH (self), 0);
  return ATLAS_DATAGRAM_PATH_GET_IFACE (self)->get_max_datagram_size (self);
}
