/* fuzz-checksum.c — "sha256:HEX" strings: no crash, and whatever parses
 * prints back to a string that parses to the same checksum. */
#include "atlas-checksum.h"
#include "atlas-error.h"

#include <stdint.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr (GError) error = NULL;
  g_autofree char *printed = NULL;
  g_autofree char *hex = NULL;
  AtlasChecksum checksum;
  AtlasChecksum again;

  if (!atlas_checksum_parse (text, &checksum, &error))
    {
      g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }

  hex = atlas_checksum_to_hex (&checksum);
  g_assert_cmpuint (strlen (hex), ==, 2 * atlas_hash_type_digest_length (checksum.type));
  printed = atlas_checksum_to_string (&checksum);
  g_assert_true (atlas_checksum_parse (printed, &again, NULL));
  g_assert_true (atlas_checksum_equal (&checksum, &again));
  g_assert_true (atlas_checksum_parse (hex, &again, NULL));
  g_assert_true (atlas_checksum_equal (&checksum, &again));
  return 0;
}
