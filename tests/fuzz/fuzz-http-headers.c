/* fuzz-http-headers.c — the header values the engine parses itself (Link,
 * Digest, Content-Range, Retry-After): no crash, and only fetchable mirrors,
 * well-sized digests, ranges inside the file and bounded delays come out. */
#include "atlas-http-headers.h"

#include <stdint.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr (GPtrArray) links =
      g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_link_duplicate_free);
  AtlasChecksum checksum;
  AtlasContentRange range;

  atlas_http_parse_link_duplicates (text, links);
  for (guint i = 0; i < links->len; i++)
    {
      const AtlasLinkDuplicate *link = g_ptr_array_index (links, i);

      g_assert_true (atlas_http_url_is_fetchable (link->url));
      g_assert_cmpuint (link->priority, <=, 999999);
      if (link->location != NULL)
        {
          g_assert_cmpuint (strlen (link->location), ==, 2);
          g_assert_true (g_ascii_islower (link->location[0])
                         && g_ascii_islower (link->location[1]));
        }
    }

  if (atlas_http_parse_digest (text, &checksum))
    g_assert_cmpint (checksum.type, !=, ATLAS_HASH_NONE);

  if (atlas_http_parse_content_range (text, &range))
    {
      g_assert_cmpuint (range.first, <=, range.last);
      g_assert_cmpuint (range.last, <, range.total);
      g_assert_cmpuint (range.total, <=, G_MAXINT64);
    }
  g_assert_cmpuint (atlas_http_parse_retry_after (text, 86400), <=, 86400);
  return 0;
}
