/* atlas-peer-identity.c — key and self-signed certificate for peer links. */
#include "atlas-peer-identity.h"

#include "atlas-error.h"
#include "atlas-hash.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <string.h>

#define KEY_FILE "peer-key.pem"
#define CERT_FILE "peer-cert.pem"
#define COMMON_NAME "Download Atlas peer"
#define VALID_YEARS 10

struct _AtlasPeerIdentity
{
  GObject parent_instance;

  gnutls_certificate_credentials_t credentials;
  char *fingerprint;
};

G_DEFINE_TYPE (AtlasPeerIdentity, atlas_peer_identity, G_TYPE_OBJECT)

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)

static void
atlas_peer_identity_finalize (GObject *object)
{
  AtlasPeerIdentity *self = ATLAS_PEER_IDENTITY (object);

  if (self->credentials != NULL)
    gnutls_certificate_free_credentials (self->credentials);
  g_free (self->fingerprint);

  G_OBJECT_CLASS (atlas_peer_identity_parent_class)->finalize (object);
}

static void
atlas_peer_identity_class_init (AtlasPeerIdentityClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = atlas_peer_identity_finalize;
}

static void
atlas_peer_identity_init (AtlasPeerIdentity *self)
{
}

char *
atlas_peer_identity_fingerprint_der (const guint8 *der, gsize length)
{
  guint8 digest[32];
  g_autofree char *hex = NULL;

  atlas_hash_buffer (ATLAS_HASH_SHA256, der, length, digest);
  hex = atlas_hex_encode (digest, sizeof digest);
  return g_strconcat ("sha256:", hex, NULL);
}

/* Takes the key and certificate (both already checked to belong together) and
 * makes the object: credentials for GnuTLS and the fingerprint. */
static AtlasPeerIdentity *
identity_new (gnutls_x509_privkey_t key, gnutls_x509_crt_t crt, GError **error)
{
  g_autoptr (AtlasPeerIdentity) self = g_object_new (ATLAS_TYPE_PEER_IDENTITY, NULL);
  gnutls_datum_t der = { NULL, 0 };
  int rv;

  rv = gnutls_certificate_allocate_credentials (&self->credentials);
  if (atlas_gnutls_failed (rv, "Allocating peer credentials", error))
    return NULL;
  rv = gnutls_certificate_set_x509_key (self->credentials, &crt, 1, key);
  if (atlas_gnutls_failed (rv, "Loading the peer key and certificate", error))
    return NULL;

  rv = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &der);
  if (atlas_gnutls_failed (rv, "Exporting the peer certificate", error))
    return NULL;
  self->fingerprint = atlas_peer_identity_fingerprint_der (der.data, der.size);
  gnutls_free (der.data);

  return g_steal_pointer (&self);
}

static gboolean
generate (gnutls_x509_privkey_t *key_out, gnutls_x509_crt_t *crt_out, GError **error)
{
  g_auto (gnutls_x509_privkey_t) key = NULL;
  g_auto (gnutls_x509_crt_t) crt = NULL;
  guint8 serial[16];
  time_t now = time (NULL);
  int rv;

  /* P-256 rather than Ed25519: every GnuTLS that speaks QUIC signs
   * TLS 1.3 handshakes with it, in both directions. */
  if (atlas_gnutls_failed (gnutls_x509_privkey_init (&key), "Creating a key", error))
    return FALSE;
  rv = gnutls_x509_privkey_generate2 (
      key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0);
  if (atlas_gnutls_failed (rv, "Generating a P-256 key", error))
    return FALSE;

  if (atlas_gnutls_failed (gnutls_x509_crt_init (&crt), "Creating a certificate", error))
    return FALSE;
  rv = gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial);
  if (atlas_gnutls_failed (rv, "Generating a serial number", error))
    return FALSE;
  /* A serial number is a positive integer: clear the sign bit. */
  serial[0] &= 0x7f;
  serial[0] |= 0x01;

  if ((rv = gnutls_x509_crt_set_version (crt, 3)) < 0
      || (rv = gnutls_x509_crt_set_serial (crt, serial, sizeof serial)) < 0
      || (rv = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, COMMON_NAME,
                                              strlen (COMMON_NAME)))
             < 0
      || (rv = gnutls_x509_crt_set_issuer_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                                     COMMON_NAME, strlen (COMMON_NAME)))
             < 0
      /* A day of slack covers peers whose clocks run a little behind. */
      || (rv = gnutls_x509_crt_set_activation_time (crt, now - 24 * 3600)) < 0
      || (rv = gnutls_x509_crt_set_expiration_time (crt,
                                                    now + (time_t) VALID_YEARS * 365 * 24 * 3600))
             < 0
      || (rv = gnutls_x509_crt_set_key (crt, key)) < 0
      || (rv = gnutls_x509_crt_set_basic_constraints (crt, 0, -1)) < 0
      || (rv = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0)
    {
      atlas_gnutls_failed (rv, "Filling in the peer certificate", error);
      return FALSE;
    }
  rv = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0);
  if (atlas_gnutls_failed (rv, "Signing the peer certificate", error))
    return FALSE;

  *key_out = g_steal_pointer (&key);
  *crt_out = g_steal_pointer (&crt);
  return TRUE;
}

AtlasPeerIdentity *
atlas_peer_identity_new_ephemeral (GError **error)
{
  g_auto (gnutls_x509_privkey_t) key = NULL;
  g_auto (gnutls_x509_crt_t) crt = NULL;

  if (!generate (&key, &crt, error))
    return NULL;
  return identity_new (key, crt, error);
}

static gboolean
export_pem (int rv, gnutls_datum_t *out, const char *what, GError **error)
{
  if (rv < 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_FAILED,
                   "Exporting the %s failed: %s (GnuTLS %d)", what, gnutls_strerror (rv), rv);
      gnutls_free (out->data);
      out->data = NULL;
      return FALSE;
    }
  return TRUE;
}

static AtlasPeerIdentity *
create_files (const char *key_path, const char *cert_path, GError **error)
{
  g_auto (gnutls_x509_privkey_t) key = NULL;
  g_auto (gnutls_x509_crt_t) crt = NULL;
  gnutls_datum_t key_pem = { NULL, 0 };
  gnutls_datum_t cert_pem = { NULL, 0 };
  gboolean ok;

  if (!generate (&key, &crt, error))
    return NULL;
  if (!export_pem (gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_PEM, &key_pem), &key_pem,
                   "peer key", error))
    return NULL;
  if (!export_pem (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &cert_pem), &cert_pem,
                   "peer certificate", error))
    {
      gnutls_free (key_pem.data);
      return NULL;
    }

  /* The certificate is written first: a crash between the two leaves a
   * certificate without a key, which the next start reports instead of
   * pairing it with a different key. */
  ok = g_file_set_contents_full (cert_path, (const char *) cert_pem.data, cert_pem.size,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0644, error)
       && g_file_set_contents_full (key_path, (const char *) key_pem.data, key_pem.size,
                                    G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
  gnutls_memset (key_pem.data, 0, key_pem.size);
  gnutls_free (key_pem.data);
  gnutls_free (cert_pem.data);
  if (!ok)
    {
      g_prefix_error (error, "Saving the peer identity: ");
      return NULL;
    }
  return identity_new (key, crt, error);
}

static gboolean
read_pem (const char *path, gnutls_datum_t *datum, char **contents, GError **error)
{
  gsize length;

  if (!g_file_get_contents (path, contents, &length, error))
    {
      g_prefix_error (error, "Reading the peer identity: ");
      return FALSE;
    }
  datum->data = (unsigned char *) *contents;
  datum->size = length;
  return TRUE;
}

static AtlasPeerIdentity *
load_files (const char *key_path, const char *cert_path, GError **error)
{
  g_auto (gnutls_x509_privkey_t) key = NULL;
  g_auto (gnutls_x509_crt_t) crt = NULL;
  g_autofree char *key_text = NULL;
  g_autofree char *cert_text = NULL;
  gnutls_datum_t datum;
  guint8 key_id[64], crt_id[64];
  size_t key_id_size = sizeof key_id, crt_id_size = sizeof crt_id;
  int rv;

  if (!read_pem (key_path, &datum, &key_text, error))
    return NULL;
  if (atlas_gnutls_failed (gnutls_x509_privkey_init (&key), "Creating a key", error))
    return NULL;
  rv = gnutls_x509_privkey_import (key, &datum, GNUTLS_X509_FMT_PEM);
  if (rv < 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "The peer key file %s is corrupt: %s (GnuTLS %d); move it away to create a "
                   "new identity",
                   key_path, gnutls_strerror (rv), rv);
      return NULL;
    }

  if (!read_pem (cert_path, &datum, &cert_text, error))
    return NULL;
  if (atlas_gnutls_failed (gnutls_x509_crt_init (&crt), "Creating a certificate", error))
    return NULL;
  rv = gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_PEM);
  if (rv < 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "The peer certificate file %s is corrupt: %s (GnuTLS %d); move it away to "
                   "create a new identity",
                   cert_path, gnutls_strerror (rv), rv);
      return NULL;
    }

  if (gnutls_x509_privkey_get_key_id (key, 0, key_id, &key_id_size) < 0
      || gnutls_x509_crt_get_key_id (crt, 0, crt_id, &crt_id_size) < 0 || key_id_size != crt_id_size
      || memcmp (key_id, crt_id, key_id_size) != 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "The peer certificate file %s does not belong to the key in %s", cert_path,
                   key_path);
      return NULL;
    }

  return identity_new (key, crt, error);
}

AtlasPeerIdentity *
atlas_peer_identity_load_or_create (const char *directory, GError **error)
{
  g_autofree char *key_path = NULL;
  g_autofree char *cert_path = NULL;
  gboolean have_key, have_cert;

  g_return_val_if_fail (directory != NULL, NULL);

  if (g_mkdir_with_parents (directory, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_IO, "Cannot create the folder %s: %s", directory,
                   g_strerror (saved_errno));
      return NULL;
    }

  key_path = g_build_filename (directory, KEY_FILE, NULL);
  cert_path = g_build_filename (directory, CERT_FILE, NULL);
  have_key = g_file_test (key_path, G_FILE_TEST_EXISTS);
  have_cert = g_file_test (cert_path, G_FILE_TEST_EXISTS);

  if (!have_key && !have_cert)
    return create_files (key_path, cert_path, error);
  if (!have_key || !have_cert)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_IO,
                   "The peer identity is incomplete: %s exists but %s is missing; move it away "
                   "to create a new identity",
                   have_key ? key_path : cert_path, have_key ? cert_path : key_path);
      return NULL;
    }
  return load_files (key_path, cert_path, error);
}

const char *
atlas_peer_identity_get_fingerprint (AtlasPeerIdentity *self)
{
  g_return_val_if_fail (ATLAS_IS_PEER_IDENTITY (self), NULL);
  return self->fingerprint;
}

gnutls_certificate_credentials_t
atlas_peer_identity_get_credentials (AtlasPeerIdentity *self)
{
  g_return_val_if_fail (ATLAS_IS_PEER_IDENTITY (self), NULL);
  return self->credentials;
}
