/* atlas-quic-connection-tls.c — the connection's TLS 1.3 session: mutual
 * certificate fingerprint checks and what handshake failures mean. */
#include "atlas-quic-connection-private.h"

#include "atlas-error.h"

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

/* TLS 1.3 only, the AEADs ngtcp2 supports, no middlebox compatibility mode
 * (QUIC forbids it). */
#define PRIORITY                                                                                   \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"        \
  "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:%DISABLE_TLS13_COMPAT_MODE"
#define ALPN "atlas/1"

/* Called by GnuTLS once the peer's Certificate and CertificateVerify are in.
 * Self-signed is expected: the only thing that makes a certificate good is
 * that its fingerprint is the one signaling told us. */
static int
verify_peer_cb (gnutls_session_t session)
{
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr (session);
  AtlasQuicConnection *self = ref->user_data;
  const gnutls_datum_t *certificates;
  unsigned int n_certificates = 0;

  certificates = gnutls_certificate_get_peers (session, &n_certificates);
  g_clear_pointer (&self->peer_fingerprint, g_free);
  if (certificates == NULL || n_certificates == 0)
    {
      self->peer_mismatch = TRUE;
      return GNUTLS_E_NO_CERTIFICATE_FOUND;
    }
  self->peer_fingerprint =
      atlas_peer_identity_fingerprint_der (certificates[0].data, certificates[0].size);
  if (g_strcmp0 (self->peer_fingerprint, self->expected_fingerprint) != 0)
    {
      self->peer_mismatch = TRUE;
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
  return 0;
}

gboolean
_atlas_quic_connection_setup_tls (AtlasQuicConnection *self, GError **error)
{
  gboolean client = self->role == ATLAS_QUIC_ROLE_CLIENT;
  gnutls_datum_t alpn = { (unsigned char *) ALPN, sizeof ALPN - 1 };
  int rv;

  rv =
      gnutls_init (&self->tls, (client ? GNUTLS_CLIENT : GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET)
                                   | GNUTLS_NO_END_OF_EARLY_DATA);
  if (atlas_gnutls_failed (rv, "Creating the TLS session", error))
    return FALSE;
  rv = gnutls_priority_set_direct (self->tls, PRIORITY, NULL);
  if (atlas_gnutls_failed (rv, "Setting TLS priorities", error))
    return FALSE;
  rv = client ? ngtcp2_crypto_gnutls_configure_client_session (self->tls)
              : ngtcp2_crypto_gnutls_configure_server_session (self->tls);
  if (rv != 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_FAILED,
                   "Connecting the TLS session to QUIC failed (ngtcp2_crypto %d)", rv);
      return FALSE;
    }
  gnutls_session_set_ptr (self->tls, &self->conn_ref);
  rv = gnutls_credentials_set (self->tls, GNUTLS_CRD_CERTIFICATE,
                               atlas_peer_identity_get_credentials (self->identity));
  if (atlas_gnutls_failed (rv, "Setting TLS credentials", error))
    return FALSE;
  rv = gnutls_alpn_set_protocols (self->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  if (atlas_gnutls_failed (rv, "Setting ALPN", error))
    return FALSE;
  if (!client)
    {
      /* Both ends authenticate: a client without a certificate fails. */
      gnutls_certificate_server_set_request (self->tls, GNUTLS_CERT_REQUIRE);
      gnutls_certificate_send_x509_rdn_sequence (self->tls, 1);
    }
  gnutls_session_set_verify_function (self->tls, verify_peer_cb);
  return TRUE;
}

static GError *
mismatch_error (AtlasQuicConnection *self)
{
  if (self->peer_fingerprint == NULL)
    return g_error_new (ATLAS_ERROR, ATLAS_ERROR_AUTHENTICATION,
                        "The peer presented no certificate (expected %s)",
                        self->expected_fingerprint);
  return g_error_new (ATLAS_ERROR, ATLAS_ERROR_AUTHENTICATION,
                      "The peer's certificate does not match: expected %s, the peer presented %s",
                      self->expected_fingerprint, self->peer_fingerprint);
}

gboolean
_atlas_quic_connection_check_peer (AtlasQuicConnection *self, GError **error)
{
  /* The verify function has run if the handshake finished, but a handshake
   * that finished without it is refused all the same. */
  if (!self->peer_mismatch && self->peer_fingerprint != NULL
      && g_strcmp0 (self->peer_fingerprint, self->expected_fingerprint) == 0)
    return TRUE;
  g_propagate_error (error, mismatch_error (self));
  return FALSE;
}

GError *
_atlas_quic_connection_tls_error (AtlasQuicConnection *self)
{
  guint8 alert = ngtcp2_conn_get_tls_alert (self->conn);

  if (self->peer_mismatch)
    return mismatch_error (self);
  return g_error_new (ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                      "The TLS handshake failed (TLS alert %u, %s)", alert,
                      gnutls_alert_get_strname (alert) ? gnutls_alert_get_strname (alert) : "?");
}

static gboolean
is_certificate_alert (guint8 alert)
{
  switch (alert)
    {
    case GNUTLS_A_BAD_CERTIFICATE:
    case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
    case GNUTLS_A_CERTIFICATE_REVOKED:
    case GNUTLS_A_CERTIFICATE_EXPIRED:
    case GNUTLS_A_CERTIFICATE_UNKNOWN:
    case GNUTLS_A_UNKNOWN_CA:
    case GNUTLS_A_ACCESS_DENIED:
    case GNUTLS_A_CERTIFICATE_REQUIRED:
      return TRUE;
    default:
      return FALSE;
    }
}

GError *
_atlas_quic_connection_remote_close_error (AtlasQuicConnection *self)
{
  ngtcp2_connection_close_error close;
  g_autofree char *reason = NULL;

  ngtcp2_conn_get_connection_close_error (self->conn, &close);
  reason = close.reasonlen > 0 ? g_utf8_make_valid ((const char *) close.reason, close.reasonlen)
                               : g_strdup ("");

  switch (close.type)
    {
    case NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION:
      if (close.error_code == 0)
        return NULL;
      return g_error_new (ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                          "The peer closed the connection with error %" G_GUINT64_FORMAT ": %s",
                          (guint64) close.error_code, reason);
    case NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT_IDLE_CLOSE:
      return g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK, "The peer timed out");
    case NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT:
    default:
      break;
    }

  if (close.error_code == NGTCP2_NO_ERROR)
    return NULL;
  if ((close.error_code & ~(guint64) 0xff) == NGTCP2_CRYPTO_ERROR)
    {
      guint8 alert = close.error_code & 0xff;
      const char *name = gnutls_alert_get_strname (alert);

      if (is_certificate_alert (alert))
        return g_error_new (ATLAS_ERROR, ATLAS_ERROR_AUTHENTICATION,
                            "The peer refused this end's certificate (TLS alert %u, %s): this end "
                            "is %s and expected the peer to be %s",
                            alert, name ? name : "?",
                            atlas_peer_identity_get_fingerprint (self->identity),
                            self->expected_fingerprint);
      return g_error_new (ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                          "The TLS handshake failed on the peer's side (TLS alert %u, %s)", alert,
                          name ? name : "?");
    }
  return g_error_new (ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                      "The peer closed the connection with QUIC error 0x%" G_GINT64_MODIFIER
                      "x: %s",
                      (guint64) close.error_code, reason);
}
