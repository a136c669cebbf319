/* atlas-checksum.h — an expected digest and the strings users write for one.
 *
 * Accepted forms: "sha256:HEX", "sha-256:HEX", "SHA256=HEX", and bare hex whose
 * length names the type (32 = md5, 40 = sha-1, 64 = sha-256, 128 = sha-512).
 */
#pragma once

#include "atlas-hash.h"

G_BEGIN_DECLS

typedef struct
{
  AtlasHashType type;
  guint8 digest[ATLAS_HASH_MAX_DIGEST];
} AtlasChecksum;

gboolean atlas_checksum_parse (const char *text, AtlasChecksum *checksum, GError **error);
/* "sha256:hex" — the form atlas_checksum_parse reads back. */
char *atlas_checksum_to_string (const AtlasChecksum *checksum);
char *atlas_checksum_to_hex (const AtlasChecksum *checksum);
gboolean atlas_checksum_equal (const AtlasChecksum *a, const AtlasChecksum *b);
/* The strongest of @checksums (an array of AtlasChecksum), or NULL if empty. */
const AtlasChecksum *atlas_checksum_pick_strongest (GArray *checksums);

G_END_DECLS
