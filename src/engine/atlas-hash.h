/* atlas-hash.h — hashing through GnuTLS (nettle, with SHA-NI where the CPU has it).
 *
 * The engine never hashes with GChecksum: it is several times slower than
 * nettle's SHA-256 on the machines we measured (see ARCHITECTURE.md).
 * A hasher is not thread-safe; use one per thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  ATLAS_HASH_NONE = 0,
  ATLAS_HASH_MD5,
  ATLAS_HASH_SHA1,
  ATLAS_HASH_SHA256,
  ATLAS_HASH_SHA512,
} AtlasHashType;

#define ATLAS_HASH_MAX_DIGEST 64

/* Digest length in bytes, 0 for ATLAS_HASH_NONE. */
gsize atlas_hash_type_digest_length (AtlasHashType type);
/* The IANA / Metalink name: "md5", "sha-1", "sha-256", "sha-512". */
const char *atlas_hash_type_to_name (AtlasHashType type);
/* Accepts "sha-256", "sha256", "SHA256", "SHA-256" and so on; NONE if unknown. */
AtlasHashType atlas_hash_type_from_name (const char *name);
/* The type whose digest is this many bytes (bare hex strings), NONE if none. */
AtlasHashType atlas_hash_type_from_digest_length (gsize length);
/* Higher is stronger; used to pick which of several given hashes to check. */
int atlas_hash_type_strength (AtlasHashType type);

typedef struct _AtlasHasher AtlasHasher;

AtlasHasher *atlas_hasher_new (AtlasHashType type);
void atlas_hasher_update (AtlasHasher *hasher, const void *data, gsize length);
/* Writes the digest to @digest and resets the hasher for reuse. */
void atlas_hasher_finish (AtlasHasher *hasher, guint8 *digest);
void atlas_hasher_free (AtlasHasher *hasher);

void atlas_hash_buffer (AtlasHashType type, const void *data, gsize length, guint8 *digest);

/* Lower-case hex of @length bytes. */
char *atlas_hex_encode (const guint8 *bytes, gsize length);
/* Decodes exactly @length bytes of hex (either case); FALSE on any other input. */
gboolean atlas_hex_decode (const char *hex, guint8 *bytes, gsize length);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasHasher, atlas_hasher_free)

G_END_DECLS
