/* test-sums.c — SHA256SUMS files as distributions publish them. */
#include "atlas-error.h"
#include "atlas-sums.h"

#include <string.h>

#define SHA256_A "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define SHA256_B "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
#define MD5_A "0cc175b9c0f1b6a831c399e269772661"
#define SHA512_A                                                                                   \
  "1f40fc92da241694750979ee6cf582f2d5d7d28e18335de05abc54d0560e0f53"                               \
  "02860c652bf08d560252aa5e74210546f369fbbbce8c12cfc7957b2652fe9a75"

static GPtrArray *
parse_ok (const char *text, AtlasHashType default_type)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *entries = atlas_sums_parse (text, strlen (text), default_type, &error);

  g_assert_no_error (error);
  g_assert_nonnull (entries);
  return entries;
}

static void
assert_entry (GPtrArray *entries, guint index, const char *name, AtlasHashType type,
              const char *hex)
{
  const AtlasSumsEntry *entry = g_ptr_array_index (entries, index);
  g_autofree char *got = atlas_checksum_to_hex (&entry->checksum);

  g_assert_cmpstr (entry->name, ==, name);
  g_assert_cmpint (entry->checksum.type, ==, type);
  g_assert_cmpstr (got, ==, hex);
}

static void
test_sums_gnu (void)
{
  g_autoptr (GPtrArray) entries =
      parse_ok ("# SHA256SUMS for Atlas Linux 1.0\n"
                "\n" SHA256_A "  atlas-1.0-amd64.iso\n" SHA256_B " *atlas-1.0-arm64.iso\n"
                "\\" SHA256_A "  new\\nline\\\\back\n" MD5_A " single-space.txt\n",
                ATLAS_HASH_NONE);

  g_assert_cmpuint (entries->len, ==, 4);
  assert_entry (entries, 0, "atlas-1.0-amd64.iso", ATLAS_HASH_SHA256, SHA256_A);
  assert_entry (entries, 1, "atlas-1.0-arm64.iso", ATLAS_HASH_SHA256, SHA256_B);
  assert_entry (entries, 2, "new\nline\\back", ATLAS_HASH_SHA256, SHA256_A);
  assert_entry (entries, 3, "single-space.txt", ATLAS_HASH_MD5, MD5_A);
}

static void
test_sums_bsd (void)
{
  g_autoptr (GPtrArray) entries = parse_ok ("SHA256 (atlas-1.0.iso) = " SHA256_A "\n"
                                            "MD5 (odd (name) = x) = " MD5_A "\n"
                                            "SHA512 (big.tar) = " SHA512_A "\n",
                                            ATLAS_HASH_NONE);

  g_assert_cmpuint (entries->len, ==, 3);
  assert_entry (entries, 0, "atlas-1.0.iso", ATLAS_HASH_SHA256, SHA256_A);
  assert_entry (entries, 1, "odd (name) = x", ATLAS_HASH_MD5, MD5_A);
  assert_entry (entries, 2, "big.tar", ATLAS_HASH_SHA512, SHA512_A);
}

static void
test_sums_mixed_crlf (void)
{
  g_autoptr (GPtrArray) entries = parse_ok (SHA256_A "  windows.iso\r\n"
                                                     "\r\n"
                                                     "   # indented comment\r\n"
                                                     "SHA256 (other.iso) = " SHA256_B "\r\n",
                                            ATLAS_HASH_SHA256);

  g_assert_cmpuint (entries->len, ==, 2);
  assert_entry (entries, 0, "windows.iso", ATLAS_HASH_SHA256, SHA256_A);
  assert_entry (entries, 1, "other.iso", ATLAS_HASH_SHA256, SHA256_B);
}

static void
assert_bad_line (const char *text, const char *mentions)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = atlas_sums_parse (text, strlen (text), ATLAS_HASH_NONE, &error);

  g_assert_null (entries);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, mentions));
}

static void
test_sums_bad_lines (void)
{
  assert_bad_line (SHA256_A "  ok.iso\n# fine\nthis is not a checksum\n", "line 3");
  assert_bad_line (SHA256_A "  ok.iso\n# fine\nthis is not a checksum\n", "this is not a checksum");
  assert_bad_line ("abcd  short.iso\n", "line 1");
  assert_bad_line (SHA256_A "  \n", "line 1");
  assert_bad_line ("BLAKE3 (x) = " SHA256_A "\n", "line 1");
  assert_bad_line ("SHA256 (x) = " MD5_A "\n", "line 1");
  assert_bad_line ("\\" SHA256_A "  bad\\qescape\n", "line 1");
}

static void
test_sums_embedded_nul (void)
{
  static const char text[] = SHA256_A "  a\0b\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = atlas_sums_parse (text, sizeof text - 1, ATLAS_HASH_NONE, &error);

  g_assert_null (entries);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
}

static void
test_sums_too_big (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  gsize length = ATLAS_SUMS_MAX_DOCUMENT + 1;
  g_autofree char *text = g_malloc (length);

  memset (text, '\n', length);
  entries = atlas_sums_parse (text, length, ATLAS_HASH_NONE, &error);
  g_assert_null (entries);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT);
  g_assert_nonnull (strstr (error->message, "limit"));
}

static void
test_sums_lookup (void)
{
  g_autoptr (GPtrArray) entries =
      parse_ok (SHA256_A "  ./dist/atlas.iso\n" SHA256_B "  atlas.iso.sig\n" MD5_A "  atlas.iso\n",
                ATLAS_HASH_NONE);
  const AtlasSumsEntry *entry;

  entry = atlas_sums_lookup (entries, "atlas.iso");
  g_assert_nonnull (entry);
  g_assert_cmpint (entry->checksum.type, ==, ATLAS_HASH_MD5);

  entry = atlas_sums_lookup (entries, "/home/user/Downloads/atlas.iso.sig");
  g_assert_nonnull (entry);
  g_assert_cmpstr (entry->name, ==, "atlas.iso.sig");

  entry = atlas_sums_lookup (entries, "./dist/atlas.iso");
  g_assert_cmpint (entry->checksum.type, ==, ATLAS_HASH_SHA256);

  g_assert_null (atlas_sums_lookup (entries, "missing.iso"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sums/gnu", test_sums_gnu);
  g_test_add_func ("/sums/bsd", test_sums_bsd);
  g_test_add_func ("/sums/mixed-crlf", test_sums_mixed_crlf);
  g_test_add_func ("/sums/bad-lines", test_sums_bad_lines);
  g_test_add_func ("/sums/embedded-nul", test_sums_embedded_nul);
  g_test_add_func ("/sums/too-big", test_sums_too_big);
  g_test_add_func ("/sums/lookup", test_sums_lookup);

  return g_test_run ();
}
