/* atlas-peer-identity.h — this installation's key and self-signed certificate.
 *
 * Peers do not use a certificate authority: each one presents a self-signed
 * certificate and the other side checks its SHA-256 fingerprint against the
 * one the tracker's signaling carried (the WebRTC model). The identity is kept
 * across runs so that a peer's fingerprint is stable.
 */
#pragma once

#include <glib-object.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

#define ATLAS_TYPE_PEER_IDENTITY (atlas_peer_identity_get_type ())
G_DECLARE_FINAL_TYPE (AtlasPeerIdentity, atlas_peer_identity, ATLAS, PEER_IDENTITY, GObject)

/* Loads peer-key.pem and peer-cert.pem from @directory, or creates both (the
 * directory 0700, the key 0600) when neither exists. A corrupt, mismatched or
 * half-missing pair is an ATLAS_ERROR_IO / INVALID_INPUT error naming the
 * file; it is never silently replaced. */
AtlasPeerIdentity *atlas_peer_identity_load_or_create (const char *directory, GError **error);

/* A fresh identity that lives in memory only (tests, one-off tools). */
AtlasPeerIdentity *atlas_peer_identity_new_ephemeral (GError **error);

/* "sha256:" followed by 64 lowercase hex digits of the DER certificate. */
const char *atlas_peer_identity_get_fingerprint (AtlasPeerIdentity *self);

/* Credentials holding the key and certificate, owned by @self. */
gnutls_certificate_credentials_t atlas_peer_identity_get_credentials (AtlasPeerIdentity *self);

/* Formats the fingerprint of a DER certificate as above (newly allocated). */
char *atlas_peer_identity_fingerprint_der (const guint8 *der, gsize length);

G_END_DECLS
