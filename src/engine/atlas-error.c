#include "atlas-error.h"

#include <gnutls/gnutls.h>

G_DEFINE_QUARK (atlas - error - quark, atlas_error)

gboolean
atlas_gnutls_failed (int rv, const char *what, GError **error)
{
  if (rv >= 0)
    return FALSE;
  g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_FAILED, "%s failed: %s (GnuTLS %d)", what,
               gnutls_strerror (rv), rv);
  return TRUE;
}
