/* test-verify-reference.c — what the verify page checks a file against: a
 * pasted hash, a SUMS file or a Metalink, turned into the verifier's
 * expectation, a repair request, or a sentence saying what to change.
 * No widgets, so no display. */
#include <glib/gstdio.h>
#include <string.h>

#include "atlas-verify-reference.h"

#define ML4_OPEN "<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">"
#define ML4_CLOSE "</metalink>"
/* SHA-256 of "a", "b" and "c". */
#define SHA256_A "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define SHA256_B "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
#define SHA256_C "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"

/* Three pieces of 1024 bytes, the last one short, with one mirror. */
#define METALINK_WITH_PIECES                                                                       \
  ML4_OPEN "<file name=\"image.iso\"><size>2500</size>"                                            \
           "<hash type=\"sha-256\">" SHA256_C "</hash>"                                            \
           "<pieces type=\"sha-256\" length=\"1024\">"                                             \
           "<hash>" SHA256_A "</hash><hash>" SHA256_B "</hash><hash>" SHA256_C "</hash>"           \
           "</pieces>"                                                                             \
           "<url priority=\"1\">https://mirror.example/image.iso</url></file>" ML4_CLOSE

static AtlasVerifyReference *
reference_from_text (const char *name, const char *text, GError **error)
{
  return atlas_verify_reference_new_from_data (name, text, strlen (text), error);
}

static AtlasChecksum
checksum (const char *text)
{
  AtlasChecksum parsed;
  g_autoptr (GError) error = NULL;

  g_assert_true (atlas_checksum_parse (text, &parsed, &error));
  g_assert_no_error (error);
  return parsed;
}

static void
assert_expects_only (AtlasVerifyExpectation *expect, const char *checksum_text)
{
  AtlasChecksum want = checksum (checksum_text);

  g_assert_cmpuint (expect->checksums->len, ==, 1);
  g_assert_true (
      atlas_checksum_equal (&g_array_index (expect->checksums, AtlasChecksum, 0), &want));
  g_assert_cmpint (expect->piece_type, ==, ATLAS_HASH_NONE);
  g_assert_null (expect->piece_digests);
  g_assert_cmpint (expect->size, ==, -1);
}

static void
assert_cleared (const AtlasVerifyExpectation *expect)
{
  g_assert_null (expect->checksums);
  g_assert_null (expect->piece_digests);
}

static void
test_hash_text (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasVerifyReference) reference = NULL;
  AtlasVerifyExpectation expect;

  /* Pasted text often carries a newline or spaces around the hash. */
  reference = atlas_verify_reference_new_from_text ("  sha256:" SHA256_A "\n", &error);
  g_assert_no_error (error);
  g_assert_nonnull (reference);
  g_assert_cmpint (atlas_verify_reference_get_kind (reference), ==, ATLAS_VERIFY_REFERENCE_HASH);

  /* A hash fits any file, whatever its name. */
  g_assert_true (
      atlas_verify_reference_get_expectation (reference, "anything.bin", &expect, &error));
  g_assert_no_error (error);
  assert_expects_only (&expect, "sha256:" SHA256_A);
  atlas_verify_reference_clear_expectation (&expect);
  assert_cleared (&expect);

  /* Nothing to repair from. */
  g_assert_false (atlas_verify_reference_can_repair (reference, "anything.bin"));
  g_assert_null (
      atlas_verify_reference_get_repair_request (reference, "/tmp/anything.bin", &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
}

static void
test_hash_text_malformed (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (atlas_verify_reference_new_from_text ("sha256:12xz", &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_assert_true (g_str_has_prefix (error->message, "This hash cannot be used: "));
  /* The parser's reason follows, naming what was typed. */
  g_assert_nonnull (strstr (error->message, "12xz"));
  g_clear_error (&error);

  g_assert_null (atlas_verify_reference_new_from_text ("   ", &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
}

static void
test_sums (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasVerifyReference) reference =
      reference_from_text ("SHA256SUMS", SHA256_B "  other.iso\n" SHA256_A "  image.iso\n", &error);
  AtlasVerifyExpectation expect;

  g_assert_no_error (error);
  g_assert_cmpint (atlas_verify_reference_get_kind (reference), ==, ATLAS_VERIFY_REFERENCE_SUMS);

  g_assert_true (atlas_verify_reference_get_expectation (reference, "image.iso", &expect, &error));
  g_assert_no_error (error);
  assert_expects_only (&expect, "sha256:" SHA256_A);
  atlas_verify_reference_clear_expectation (&expect);

  /* A file the SUMS file does not list: the message names it. */
  g_assert_false (
      atlas_verify_reference_get_expectation (reference, "unlisted.iso", &expect, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==,
                   "The checksum file has no entry for “unlisted.iso”. Choose the checksum file "
                   "that belongs to it.");
  assert_cleared (&expect);
  /* Clearing after a failure is allowed and does nothing. */
  atlas_verify_reference_clear_expectation (&expect);

  g_assert_false (atlas_verify_reference_can_repair (reference, "image.iso"));
}

static void
test_sums_malformed (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (reference_from_text ("SHA256SUMS", "this is not a checksum line\n", &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_assert_true (
      g_str_has_prefix (error->message, "“SHA256SUMS” is not a checksum file that can be used: "));
}

static void
test_metalink_with_pieces (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasVerifyReference) reference =
      reference_from_text ("image.meta4", METALINK_WITH_PIECES, &error);
  g_autoptr (AtlasRequest) request = NULL;
  AtlasVerifyExpectation expect;
  guint8 digests[3 * 32];
  AtlasChecksum whole = checksum ("sha256:" SHA256_C);
  const char *url;

  g_assert_no_error (error);
  g_assert_cmpint (atlas_verify_reference_get_kind (reference), ==,
                   ATLAS_VERIFY_REFERENCE_METALINK);
  atlas_hash_buffer (ATLAS_HASH_SHA256, "a", 1, digests);
  atlas_hash_buffer (ATLAS_HASH_SHA256, "b", 1, digests + 32);
  atlas_hash_buffer (ATLAS_HASH_SHA256, "c", 1, digests + 64);

  g_assert_true (atlas_verify_reference_get_expectation (reference, "image.iso", &expect, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (expect.checksums->len, ==, 1);
  g_assert_true (
      atlas_checksum_equal (&g_array_index (expect.checksums, AtlasChecksum, 0), &whole));
  g_assert_cmpint (expect.piece_type, ==, ATLAS_HASH_SHA256);
  g_assert_cmpuint (expect.piece_length, ==, 1024);
  g_assert_cmpint (expect.size, ==, 2500);
  g_assert_nonnull (expect.piece_digests);
  g_assert_cmpmem (g_bytes_get_data (expect.piece_digests, NULL),
                   g_bytes_get_size (expect.piece_digests), digests, sizeof digests);
  atlas_verify_reference_clear_expectation (&expect);

  /* A single-file Metalink describes the file even after a rename, and the
   * repair writes into the renamed file, not into "image.iso". */
  g_assert_true (atlas_verify_reference_can_repair (reference, "renamed.iso"));
  request = atlas_verify_reference_get_repair_request (reference, "/srv/files/renamed.iso", &error);
  g_assert_no_error (error);
  g_assert_nonnull (request);
  g_assert_cmpstr (atlas_request_get_directory (request), ==, "/srv/files");
  g_assert_cmpstr (atlas_request_get_filename (request), ==, "renamed.iso");
  g_assert_cmpuint (atlas_request_get_n_urls (request), ==, 1);
  url = atlas_request_get_url (request, 0, NULL, NULL);
  g_assert_cmpstr (url, ==, "https://mirror.example/image.iso");
  g_assert_cmpint (atlas_request_get_size (request), ==, 2500);
  g_assert_cmpint (atlas_request_get_piece_type (request), ==, ATLAS_HASH_SHA256);
  g_assert_cmpuint (atlas_request_get_piece_length (request), ==, 1024);
  g_assert_cmpmem (g_bytes_get_data (atlas_request_get_piece_digests (request), NULL),
                   g_bytes_get_size (atlas_request_get_piece_digests (request)), digests,
                   sizeof digests);
  g_assert_cmpuint (atlas_request_get_checksums (request)->len, ==, 1);
}

static void
test_metalink_sniffed (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasVerifyReference) reference = NULL;

  /* A Metalink saved as .txt is still read as one: it starts like XML. */
  reference = reference_from_text ("downloaded.txt", "\n  " METALINK_WITH_PIECES, &error);
  g_assert_no_error (error);
  g_assert_cmpint (atlas_verify_reference_get_kind (reference), ==,
                   ATLAS_VERIFY_REFERENCE_METALINK);
}

static void
test_metalink_without_matching_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasVerifyReference) reference = reference_from_text (
      "set.meta4",
      ML4_OPEN "<file name=\"a.iso\"><hash type=\"sha-256\">" SHA256_A "</hash>"
               "<url>https://h/a.iso</url></file>"
               "<file name=\"b.iso\"><hash type=\"sha-256\">" SHA256_B "</hash>"
               "<url>https://h/b.iso</url></file>" ML4_CLOSE,
      &error);
  AtlasVerifyExpectation expect;

  g_assert_no_error (error);

  /* The listed file is found among several, without piece hashes to repair. */
  g_assert_true (atlas_verify_reference_get_expectation (reference, "b.iso", &expect, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (expect.checksums->len, ==, 1);
  g_assert_cmpint (expect.piece_type, ==, ATLAS_HASH_NONE);
  atlas_verify_reference_clear_expectation (&expect);
  g_assert_false (atlas_verify_reference_can_repair (reference, "b.iso"));

  g_assert_false (atlas_verify_reference_get_expectation (reference, "c.iso", &expect, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==,
                   "The Metalink lists 2 files and none is named “c.iso”. Rename the file to its "
                   "name in the Metalink.");
  assert_cleared (&expect);
  g_clear_error (&error);

  g_assert_false (atlas_verify_reference_can_repair (reference, "c.iso"));
  g_assert_null (atlas_verify_reference_get_repair_request (reference, "/tmp/c.iso", &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "c.iso"));
}

static void
test_metalink_without_hashes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasVerifyReference) reference = reference_from_text (
      "bare.meta4",
      ML4_OPEN "<file name=\"bare.iso\"><url>https://h/bare.iso</url></file>" ML4_CLOSE, &error);
  AtlasVerifyExpectation expect;

  g_assert_no_error (error);
  g_assert_false (atlas_verify_reference_get_expectation (reference, "bare.iso", &expect, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_assert_cmpstr (error->message, ==,
                   "The Metalink has no hashes for “bare.iso”, so there is nothing to check it "
                   "against.");
  assert_cleared (&expect);
}

static void
test_metalink_malformed (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (reference_from_text ("broken.meta4", ML4_OPEN "<file name=\"a\">", &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_assert_true (
      g_str_has_prefix (error->message, "“broken.meta4” is not a Metalink that can be used: "));
  g_clear_error (&error);

  /* A hostile document keeps the parser's code, so it can be told apart. */
  g_assert_null (reference_from_text (
      "hostile.meta4", "<!DOCTYPE metalink [<!ENTITY x \"y\">]>" ML4_OPEN ML4_CLOSE, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT);
}

static void
store_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static AtlasVerifyReference *
load (GFile *file, GCancellable *cancellable, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  atlas_verify_reference_load_async (file, cancellable, store_result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return atlas_verify_reference_load_finish (result, error);
}

static void
test_load_async (void)
{
  g_autofree char *dir = g_dir_make_tmp ("atlas-verify-reference-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "image.meta4", NULL);
  g_autofree char *missing_path = g_build_filename (dir, "missing.meta4", NULL);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFile) missing = g_file_new_for_path (missing_path);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasVerifyReference) reference = NULL;

  g_assert_true (g_file_set_contents (path, METALINK_WITH_PIECES, -1, &error));

  reference = load (file, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (reference);
  g_assert_cmpint (atlas_verify_reference_get_kind (reference), ==,
                   ATLAS_VERIFY_REFERENCE_METALINK);
  g_assert_true (atlas_verify_reference_can_repair (reference, "image.iso"));

  g_assert_null (load (missing, NULL, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND);
  g_assert_true (g_str_has_prefix (error->message, "Could not read “missing.meta4”: "));
  g_clear_error (&error);

  /* A cancelled load reports the cancellation, not a problem to show. */
  g_cancellable_cancel (cancellable);
  g_assert_null (load (file, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_assert_no_errno (g_unlink (path));
  g_assert_no_errno (g_rmdir (dir));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/verify-reference/hash-text", test_hash_text);
  g_test_add_func ("/verify-reference/hash-text-malformed", test_hash_text_malformed);
  g_test_add_func ("/verify-reference/sums", test_sums);
  g_test_add_func ("/verify-reference/sums-malformed", test_sums_malformed);
  g_test_add_func ("/verify-reference/metalink-with-pieces", test_metalink_with_pieces);
  g_test_add_func ("/verify-reference/metalink-sniffed", test_metalink_sniffed);
  g_test_add_func ("/verify-reference/metalink-without-matching-file",
                   test_metalink_without_matching_file);
  g_test_add_func ("/verify-reference/metalink-without-hashes", test_metalink_without_hashes);
  g_test_add_func ("/verify-reference/metalink-malformed", test_metalink_malformed);
  g_test_add_func ("/verify-reference/load-async", test_load_async);

  return g_test_run ();
}
