/* fuzz-sums.c — SHA256SUMS parser: no crash, line-numbered errors, and every
 * entry it returns can be found again by its own name. */
#include "atlas-error.h"
#include "atlas-sums.h"

#include <stdint.h>

static void
check (const uint8_t *data, size_t size, AtlasHashType default_type)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries =
      atlas_sums_parse ((const char *) data, size, default_type, &error);

  if (entries == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (g_str_has_prefix (error->message, "line ")
                     || error->code == ATLAS_ERROR_UNSAFE_INPUT);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return;
    }

  for (guint i = 0; i < entries->len; i++)
    {
      const AtlasSumsEntry *entry = g_ptr_array_index (entries, i);
      const AtlasSumsEntry *found = atlas_sums_lookup (entries, entry->name);

      g_assert_cmpstr (entry->name, !=, "");
      g_assert_cmpint (entry->checksum.type, !=, ATLAS_HASH_NONE);
      g_assert_nonnull (found);
      g_assert_cmpstr (found->name, ==, entry->name);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  check (data, size, ATLAS_HASH_NONE);
  check (data, size, ATLAS_HASH_SHA256);
  return 0;
}
