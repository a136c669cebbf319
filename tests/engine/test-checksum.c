/* test-checksum.c — the expected-hash strings users paste into the CLI and app. */
#include "atlas-checksum.h"
#include "atlas-error.h"

#include <string.h>

/* SHA-256 and MD5 of "a". */
#define SHA256_A "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define MD5_A "0cc175b9c0f1b6a831c399e269772661"
#define SHA1_A "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"
#define SHA512_A                                                                                   \
  "1f40fc92da241694750979ee6cf582f2d5d7d28e18335de05abc54d0560e0f53"                               \
  "02860c652bf08d560252aa5e74210546f369fbbbce8c12cfc7957b2652fe9a75"

static void
assert_parses_to (const char *text, AtlasHashType type, const char *hex)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *got = NULL;
  AtlasChecksum checksum;

  g_assert_true (atlas_checksum_parse (text, &checksum, &error));
  g_assert_no_error (error);
  g_assert_cmpint (checksum.type, ==, type);
  got = atlas_checksum_to_hex (&checksum);
  g_assert_cmpstr (got, ==, hex);
}

static void
test_checksum_forms (void)
{
  assert_parses_to ("sha256:" SHA256_A, ATLAS_HASH_SHA256, SHA256_A);
  assert_parses_to ("sha-256:" SHA256_A, ATLAS_HASH_SHA256, SHA256_A);
  assert_parses_to ("SHA256=CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB",
                    ATLAS_HASH_SHA256, SHA256_A);
  assert_parses_to ("md5:" MD5_A, ATLAS_HASH_MD5, MD5_A);
  assert_parses_to ("  \tsha256: " SHA256_A "\n", ATLAS_HASH_SHA256, SHA256_A);
}

static void
test_checksum_bare_hex (void)
{
  assert_parses_to (MD5_A, ATLAS_HASH_MD5, MD5_A);
  assert_parses_to (SHA1_A, ATLAS_HASH_SHA1, SHA1_A);
  assert_parses_to (SHA256_A, ATLAS_HASH_SHA256, SHA256_A);
  assert_parses_to (SHA512_A, ATLAS_HASH_SHA512, SHA512_A);
}

static void
assert_rejected (const char *text, const char *mentions)
{
  g_autoptr (GError) error = NULL;
  AtlasChecksum checksum;

  g_assert_false (atlas_checksum_parse (text, &checksum, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, mentions));
  /* Every error shows the user what would have worked. */
  g_assert_nonnull (strstr (error->message, "sha256:HEX"));
}

static void
test_checksum_errors (void)
{
  assert_rejected ("", "empty");
  assert_rejected ("   ", "empty");
  assert_rejected ("sha256:abcd", "64 hex digits, not 4");
  assert_rejected ("blake3:" SHA256_A, "blake3");
  assert_rejected ("sha256:" SHA256_A "zz", "not hex");
  assert_rejected ("abc", "3 hex digits");
  assert_rejected ("0123456789abcdef0123456789abcdef01", "34 hex digits do not name a hash type");
  assert_rejected ("not a checksum", "not hex");
  /* Control characters from a hostile page are shown escaped, never raw. */
  assert_rejected ("sha256:\x1b[31m", "\\x1b");
}

static void
test_checksum_to_string_round_trip (void)
{
  AtlasChecksum checksum;
  AtlasChecksum again;
  g_autofree char *text = NULL;

  g_assert_true (atlas_checksum_parse ("SHA-256=" SHA256_A, &checksum, NULL));
  text = atlas_checksum_to_string (&checksum);
  g_assert_cmpstr (text, ==, "sha256:" SHA256_A);
  g_assert_true (atlas_checksum_parse (text, &again, NULL));
  g_assert_true (atlas_checksum_equal (&checksum, &again));

  g_assert_true (atlas_checksum_parse ("md5:" MD5_A, &again, NULL));
  g_assert_false (atlas_checksum_equal (&checksum, &again));
  g_clear_pointer (&text, g_free);
  text = atlas_checksum_to_string (&again);
  g_assert_cmpstr (text, ==, "md5:" MD5_A);
}

static void
test_checksum_pick_strongest (void)
{
  g_autoptr (GArray) checksums = g_array_new (FALSE, TRUE, sizeof (AtlasChecksum));
  AtlasChecksum checksum;

  g_assert_null (atlas_checksum_pick_strongest (checksums));

  g_assert_true (atlas_checksum_parse (MD5_A, &checksum, NULL));
  g_array_append_val (checksums, checksum);
  g_assert_cmpint (atlas_checksum_pick_strongest (checksums)->type, ==, ATLAS_HASH_MD5);

  g_assert_true (atlas_checksum_parse (SHA256_A, &checksum, NULL));
  g_array_append_val (checksums, checksum);
  g_assert_true (atlas_checksum_parse (SHA1_A, &checksum, NULL));
  g_array_append_val (checksums, checksum);
  g_assert_true (atlas_checksum_parse (SHA512_A, &checksum, NULL));
  g_array_append_val (checksums, checksum);
  g_assert_cmpint (atlas_checksum_pick_strongest (checksums)->type, ==, ATLAS_HASH_SHA256);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/checksum/forms", test_checksum_forms);
  g_test_add_func ("/checksum/bare-hex", test_checksum_bare_hex);
  g_test_add_func ("/checksum/errors", test_checksum_errors);
  g_test_add_func ("/checksum/to-string-round-trip", test_checksum_to_string_round_trip);
  g_test_add_func ("/checksum/pick-strongest", test_checksum_pick_strongest);

  return g_test_run ();
}
