/* atlas-http-headers.h — RFC 6249 (Metalink/HTTP) and RFC 3230 headers. */
#pragma once

#include "atlas-checksum.h"

G_BEGIN_DECLS

typedef struct
{
  char *url;
  guint priority; /* "pri" parameter, 0 when absent */
  char *location; /* "geo" parameter or NULL */
} AtlasLinkDuplicate;

/* Appends an AtlasLinkDuplicate* for every rel=duplicate link in one Link
 * header value to @out (whose free func must be atlas_link_duplicate_free).
 * Only http, https and ftp URLs are kept. */
void atlas_http_parse_link_duplicates (const char *value, GPtrArray *out);
void atlas_link_duplicate_free (AtlasLinkDuplicate *link);

/* Parses an RFC 3230 Digest header ("SHA-256=base64, MD5=base64") and stores
 * the strongest known digest in @checksum. FALSE if none is usable. */
gboolean atlas_http_parse_digest (const char *value, AtlasChecksum *checksum);

/* A byte range as a 206 response states it: bytes @first-@last of @total. */
typedef struct
{
  guint64 first;
  guint64 last;
  guint64 total;
} AtlasContentRange;

/* Parses a Content-Range value of the form "bytes FIRST-LAST/TOTAL" (RFC 9110
 * 14.4). FALSE for anything else, including an unknown total (a star after
 * the slash), signs, spaces inside numbers, numbers beyond 2^62, FIRST > LAST
 * or LAST >= TOTAL: a mirror that cannot state its range precisely is not
 * trusted with bytes. */
gboolean atlas_http_parse_content_range (const char *value, AtlasContentRange *range);

/* Parses a Retry-After value given in seconds (the HTTP-date form is not
 * used by mirrors we know and is ignored). Returns the delay in seconds,
 * clamped to @limit, or 0 when the value is absent or not a plain number. */
guint atlas_http_parse_retry_after (const char *value, guint limit);

/* TRUE for an absolute http, https or ftp URL with a host and no spaces or
 * control characters: the only URLs the engine will fetch from a mirror list. */
gboolean atlas_http_url_is_fetchable (const char *url);

G_END_DECLS
