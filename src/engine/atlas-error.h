/* atlas-error.h — the engine's error domain.
 *
 * Messages are English and meant for logs and the CLI; the app translates by code.
 * Errors that come from a library (libcurl, SQLite, GnuTLS) keep that library's
 * own code and text in the message so a bug report says what really failed.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ATLAS_ERROR (atlas_error_quark ())

typedef enum
{
  ATLAS_ERROR_FAILED,
  ATLAS_ERROR_INVALID_INPUT,   /* malformed Metalink, checksum string, SUMS file, URL */
  ATLAS_ERROR_UNSAFE_INPUT,    /* hostile input: entities, paths escaping the folder */
  ATLAS_ERROR_NETWORK,         /* a transfer failed (the CURLcode is in the message) */
  ATLAS_ERROR_MIRROR_REJECTED, /* a mirror broke the protocol or lied and was dropped */
  ATLAS_ERROR_NO_SOURCES,      /* every source failed or was banned */
  ATLAS_ERROR_HASH_MISMATCH,   /* an expected hash did not match */
  ATLAS_ERROR_DISK_FULL,
  ATLAS_ERROR_IO,
  ATLAS_ERROR_STORE, /* the SQLite queue (the SQLite code is in the message) */
  ATLAS_ERROR_BUSY,  /* the queue is owned by another process */
  ATLAS_ERROR_CANCELLED,
  ATLAS_ERROR_NOT_FOUND,
  ATLAS_ERROR_EXISTS,         /* the same file is already in the queue */
  ATLAS_ERROR_PROTOCOL,       /* a peer or the tracker broke its protocol */
  ATLAS_ERROR_AUTHENTICATION, /* a peer's certificate did not match its fingerprint */
  ATLAS_ERROR_PERMISSION,     /* the tracker refused: no token, or not allowed */
} AtlasError;

GQuark atlas_error_quark (void);

/* For a GnuTLS return value @rv: FALSE if it succeeded, else sets @error
 * ("@what failed: GnuTLS's text (GnuTLS code)") and returns TRUE. */
gboolean atlas_gnutls_failed (int rv, const char *what, GError **error);

G_END_DECLS
