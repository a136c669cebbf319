/* test-http-headers.c — mirrors and digests announced in HTTP responses. */
#include "atlas-http-headers.h"

#include <string.h>

/* SHA-256 and MD5 of "a", in base64 and hex. */
#define SHA256_A_B64 "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs="
#define SHA256_A_HEX "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define MD5_A_B64 "DMF1ucDxtqgxw5niaXcmYQ=="
#define SHA1_A_B64 "hvfkN/qlp/zhXR3cuerq6jd2Z7g="

static GPtrArray *
parse_links (const char *value)
{
  GPtrArray *links = g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_link_duplicate_free);

  atlas_http_parse_link_duplicates (value, links);
  return links;
}

static void
assert_link (GPtrArray *links, guint index, const char *url, guint priority, const char *location)
{
  const AtlasLinkDuplicate *link = g_ptr_array_index (links, index);

  g_assert_cmpstr (link->url, ==, url);
  g_assert_cmpuint (link->priority, ==, priority);
  g_assert_cmpstr (link->location, ==, location);
}

static void
test_link_rfc6249 (void)
{
  g_autoptr (GPtrArray) links = parse_links (
      "<http://www2.example.com/example.ext>; rel=duplicate; pri=1; geo=DE, "
      "<ftp://ftp.example.com/example.ext>; rel=duplicate; pri=2, "
      "<http://example.com/example.ext.torrent>; rel=describedby; "
      "type=\"application/x-bittorrent\", "
      "<https://mirror.example.net/example.ext>; rel=\"describedby duplicate\"; geo=\"fr\"");

  g_assert_cmpuint (links->len, ==, 3);
  assert_link (links, 0, "http://www2.example.com/example.ext", 1, "de");
  assert_link (links, 1, "ftp://ftp.example.com/example.ext", 2, NULL);
  assert_link (links, 2, "https://mirror.example.net/example.ext", 0, "fr");
}

static void
test_link_quoting_and_junk (void)
{
  g_autoptr (GPtrArray) links =
      parse_links ("<https://a.example/x,y.iso>; title=\"a, b; c\"; rel=duplicate, "
                   "<file:///etc/passwd>; rel=duplicate, "
                   "<javascript:alert(1)>; rel=duplicate, "
                   "<relative/path.iso>; rel=duplicate, "
                   "garbage; rel=duplicate, "
                   "<https://b.example/x.iso>; rel=DUPLICATE; rel=describedby; pri=abc; geo=usa, "
                   "<https://c.example/x.iso>; pri=0; rel=duplicate, "
                   "<https://unterminated.example/x.iso");

  g_assert_cmpuint (links->len, ==, 3);
  assert_link (links, 0, "https://a.example/x,y.iso", 0, NULL);
  assert_link (links, 1, "https://b.example/x.iso", 0, NULL);
  assert_link (links, 2, "https://c.example/x.iso", 0, NULL);
}

static void
test_link_empty (void)
{
  g_autoptr (GPtrArray) links = parse_links ("");

  g_assert_cmpuint (links->len, ==, 0);
  atlas_http_parse_link_duplicates (NULL, links);
  g_assert_cmpuint (links->len, ==, 0);
}

static void
test_digest_strongest (void)
{
  AtlasChecksum checksum;
  g_autofree char *hex = NULL;

  g_assert_true (atlas_http_parse_digest ("MD5=" MD5_A_B64 ", SHA-256=" SHA256_A_B64, &checksum));
  g_assert_cmpint (checksum.type, ==, ATLAS_HASH_SHA256);
  hex = atlas_checksum_to_hex (&checksum);
  g_assert_cmpstr (hex, ==, SHA256_A_HEX);

  g_assert_true (atlas_http_parse_digest ("sha=" SHA1_A_B64 ",md5=" MD5_A_B64, &checksum));
  g_assert_cmpint (checksum.type, ==, ATLAS_HASH_SHA1);

  /* RFC 9530 structured-field spelling. */
  g_assert_true (atlas_http_parse_digest ("sha-256=:" SHA256_A_B64 ":", &checksum));
  g_assert_cmpint (checksum.type, ==, ATLAS_HASH_SHA256);
}

static void
test_digest_rejects_bad_values (void)
{
  AtlasChecksum checksum;

  /* A SHA-256 label on an MD5-sized value must not pass as either. */
  g_assert_false (atlas_http_parse_digest ("SHA-256=" MD5_A_B64, &checksum));
  g_assert_false (atlas_http_parse_digest ("SHA-256=" SHA256_A_HEX, &checksum));
  g_assert_false (
      atlas_http_parse_digest ("SHA-256=yp*BEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=", &checksum));
  g_assert_false (atlas_http_parse_digest ("UNIXsum=30637", &checksum));
  g_assert_false (atlas_http_parse_digest ("", &checksum));
  g_assert_false (atlas_http_parse_digest (NULL, &checksum));

  /* A broken strong digest falls back to a good weaker one. */
  g_assert_true (atlas_http_parse_digest ("SHA-256=broken, MD5=" MD5_A_B64, &checksum));
  g_assert_cmpint (checksum.type, ==, ATLAS_HASH_MD5);
}

static void
test_content_range (void)
{
  AtlasContentRange range;

  g_assert_true (atlas_http_parse_content_range ("bytes 0-1048575/4294967296", &range));
  g_assert_cmpuint (range.first, ==, 0);
  g_assert_cmpuint (range.last, ==, 1048575);
  g_assert_cmpuint (range.total, ==, G_GUINT64_CONSTANT (4294967296));
  g_assert_true (atlas_http_parse_content_range ("Bytes  7-7/8 ", &range));
  g_assert_cmpuint (range.first, ==, 7);
}

static void
test_content_range_rejects_doubtful (void)
{
  /* Each of these once parsed (sscanf skips spaces and accepts signs), and a
   * negative start or a range past the end would have been written somewhere. */
  const char *doubtful[] = {
    "bytes -1-5/10",
    "bytes +0-5/10",
    "bytes 0- 5/10",
    "bytes 0-5/ 10",
    "bytes 5-4/10",
    "bytes 0-10/10",
    "bytes 0-5/*",
    "bytes */10",
    "bytes 0-5/10 junk",
    "bytes=0-5/10",
    "bits 0-5/10",
    "bytes 0-5",
    "bytes 0-0/18446744073709551615",
    "bytes 0-0/4611686018427387905",
    "",
  };
  AtlasContentRange range = { 1, 2, 3 };

  for (guint i = 0; i < G_N_ELEMENTS (doubtful); i++)
    {
      g_test_message ("%s", doubtful[i]);
      g_assert_false (atlas_http_parse_content_range (doubtful[i], &range));
    }
  g_assert_false (atlas_http_parse_content_range (NULL, &range));
  /* A refused value leaves the caller's range alone. */
  g_assert_cmpuint (range.first, ==, 1);
  g_assert_cmpuint (range.total, ==, 3);
}

static void
test_retry_after (void)
{
  g_assert_cmpuint (atlas_http_parse_retry_after ("120", 3600), ==, 120);
  g_assert_cmpuint (atlas_http_parse_retry_after (" 7 ", 3600), ==, 7);
  g_assert_cmpuint (atlas_http_parse_retry_after ("99999999999999999999", 3600), ==, 0);
  g_assert_cmpuint (atlas_http_parse_retry_after ("86400", 3600), ==, 3600);
  g_assert_cmpuint (atlas_http_parse_retry_after ("-5", 3600), ==, 0);
  g_assert_cmpuint (atlas_http_parse_retry_after ("Wed, 21 Oct 2026 07:28:00 GMT", 3600), ==, 0);
  g_assert_cmpuint (atlas_http_parse_retry_after (NULL, 3600), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/http-headers/link-rfc6249", test_link_rfc6249);
  g_test_add_func ("/http-headers/link-quoting-and-junk", test_link_quoting_and_junk);
  g_test_add_func ("/http-headers/link-empty", test_link_empty);
  g_test_add_func ("/http-headers/digest-strongest", test_digest_strongest);
  g_test_add_func ("/http-headers/digest-rejects-bad-values", test_digest_rejects_bad_values);
  g_test_add_func ("/http-headers/content-range", test_content_range);
  g_test_add_func ("/http-headers/content-range-rejects-doubtful",
                   test_content_range_rejects_doubtful);
  g_test_add_func ("/http-headers/retry-after", test_retry_after);

  return g_test_run ();
}
