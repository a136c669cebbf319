/* atlas-verifier.h — checking a file that is already on disk.
 *
 * Pieces are hashed in parallel on all cores while one more thread computes the
 * whole-file hash, so a verify runs at about one core's SHA-256 speed. The
 * result names every bad piece and the merged byte ranges they cover.
 */
#pragma once

#include <gio/gio.h>

#include "atlas-checksum.h"

G_BEGIN_DECLS

typedef struct
{
  guint64 offset;
  guint64 length;
} AtlasByteRange;

typedef struct
{
  AtlasHashType piece_type; /* NONE: no piece check */
  guint64 piece_length;
  GBytes *piece_digests; /* n_pieces digests back to back */
  GArray *checksums;     /* AtlasChecksum, whole-file; may be empty */
  gint64 size;           /* expected size, -1 = not checked */
} AtlasVerifyExpectation;

typedef struct
{
  gboolean ok;  /* size, every piece and the whole-file hash matched */
  guint64 size; /* actual size on disk */
  gboolean size_matched;
  gboolean whole_file_checked;
  gboolean whole_file_matched;
  AtlasChecksum whole_file; /* the digest computed (type of the strongest expected) */
  guint n_pieces;
  GArray *bad_pieces; /* guint, ascending */
  GArray *bad_ranges; /* AtlasByteRange, merged, ascending */
  double seconds;     /* wall time spent hashing */
} AtlasVerifyResult;

void atlas_verify_result_free (AtlasVerifyResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasVerifyResult, atlas_verify_result_free)

/* Called on the caller's main context, at most ~10 times a second. */
typedef void (*AtlasVerifyProgressFunc) (guint64 bytes_done, guint64 bytes_total,
                                         gpointer user_data);

void atlas_verify_file_async (const char *path, const AtlasVerifyExpectation *expect,
                              GCancellable *cancellable, AtlasVerifyProgressFunc progress,
                              gpointer progress_data, GAsyncReadyCallback callback,
                              gpointer user_data);
AtlasVerifyResult *atlas_verify_file_finish (GAsyncResult *result, GError **error);
/* Blocking variant for worker threads, tests and the fuzz harness. */
AtlasVerifyResult *atlas_verify_file_sync (const char *path, const AtlasVerifyExpectation *expect,
                                           GCancellable *cancellable, GError **error);

G_END_DECLS
