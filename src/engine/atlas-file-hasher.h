/* atlas-file-hasher.h — the whole-file hash, following the verified prefix.
 *
 * SHA-256 of a whole file is inherently sequential. While pieces arrive out of
 * order, this thread reads back (from the page cache) every byte of the
 * contiguous verified prefix as it grows, so when the last piece lands only a
 * short tail is left to hash.
 */
#pragma once

#include <gio/gio.h>

#include "atlas-checksum.h"

G_BEGIN_DECLS

typedef struct _AtlasFileHasher AtlasFileHasher;

/* @digests: one AtlasChecksum per requested type, filled in. @error set if
 * the file could not be read. Runs on the context given at creation. */
typedef void (*AtlasFileHasherDoneFunc) (GArray *digests, const GError *error, gpointer user_data);

/* @types: AtlasHashType values to compute in the same pass. */
AtlasFileHasher *atlas_file_hasher_new (const char *path, guint64 size, GArray *types,
                                        GMainContext *context, AtlasFileHasherDoneFunc done,
                                        gpointer user_data);
/* Bytes [0, @available) are final on disk and may be hashed. */
void atlas_file_hasher_advance (AtlasFileHasher *hasher, guint64 available);
/* Stops the thread (without calling done) and frees. */
void atlas_file_hasher_free (AtlasFileHasher *hasher);

G_END_DECLS
