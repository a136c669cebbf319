/* atlas-verify-reference.h — what the verify page checks a file against: a
 * pasted checksum, a Metalink or a SUMS file.
 *
 * A reference is parsed once and then asked, for whichever file the user has
 * chosen, what the verifier should expect and how to repair the file. Nothing
 * here touches a widget, so the page only shows what these functions return.
 * Error messages are translated sentences the page shows as they are.
 */
#pragma once

#include <gio/gio.h>

#include "atlas.h"

G_BEGIN_DECLS

typedef enum
{
  ATLAS_VERIFY_REFERENCE_HASH,
  ATLAS_VERIFY_REFERENCE_METALINK,
  ATLAS_VERIFY_REFERENCE_SUMS,
} AtlasVerifyReferenceKind;

typedef struct _AtlasVerifyReference AtlasVerifyReference;

/* A checksum as typed ("sha256:HEX" or bare hex; surrounding space ignored). */
AtlasVerifyReference *atlas_verify_reference_new_from_text (const char *text, GError **error);
/* The contents of the file called @reference_name: a Metalink when the name
 * ends in .meta4 or .metalink or the contents start like XML, else a SUMS
 * file. @reference_name also names the file in error messages. */
AtlasVerifyReference *atlas_verify_reference_new_from_data (const char *reference_name,
                                                            const char *data, gsize length,
                                                            GError **error);
/* Reads and parses @reference on a worker thread: a big Metalink takes a
 * while to parse, and the window must keep drawing meanwhile. */
void atlas_verify_reference_load_async (GFile *reference, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
AtlasVerifyReference *atlas_verify_reference_load_finish (GAsyncResult *result, GError **error);
void atlas_verify_reference_free (AtlasVerifyReference *reference);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasVerifyReference, atlas_verify_reference_free)

AtlasVerifyReferenceKind atlas_verify_reference_get_kind (const AtlasVerifyReference *reference);

/* Fills @expect with what a file called @checked_basename must match. The
 * checksums array and the piece digests in @expect are the caller's to
 * release with atlas_verify_reference_clear_expectation (also safe, and a
 * no-op, after a failure). FALSE with an error the user can act on when the
 * reference does not describe that file or gives nothing to check. */
gboolean atlas_verify_reference_get_expectation (const AtlasVerifyReference *reference,
                                                 const char *checked_basename,
                                                 AtlasVerifyExpectation *expect, GError **error);
void atlas_verify_reference_clear_expectation (AtlasVerifyExpectation *expect);

/* Whether a damaged file called @checked_basename can be repaired: only a
 * Metalink with piece hashes, the size and at least one URL for it says
 * which bytes are bad and where to fetch them again. */
gboolean atlas_verify_reference_can_repair (const AtlasVerifyReference *reference,
                                            const char *checked_basename);
/* The request that repairs the file at @checked_path: the Metalink's
 * mirrors and hashes, saved into that file whatever its name in the
 * Metalink. NULL with an error when atlas_verify_reference_can_repair
 * would say no. */
AtlasRequest *atlas_verify_reference_get_repair_request (const AtlasVerifyReference *reference,
                                                         const char *checked_path, GError **error);

G_END_DECLS
