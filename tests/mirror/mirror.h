/* mirror.h: shared internals of atlas-test-mirror, the misbehaving HTTP/1.1
 * test mirror.  Nothing here is linked into the engine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define MIRROR_MAX_CORRUPT 8

/* --- Token bucket (mirror-bucket.c) ------------------------------------- */

typedef struct _MirrorBucket MirrorBucket;

MirrorBucket *mirror_bucket_new (guint64 rate);
void mirror_bucket_free (MirrorBucket *bucket);
gsize mirror_bucket_chunk_size (MirrorBucket *bucket);
void mirror_bucket_consume (MirrorBucket *bucket, gsize bytes);

/* --- Modes (mirror-modes.c) --------------------------------------------- */

typedef enum
{
  MIRROR_REDIRECT_NONE,
  MIRROR_REDIRECT_LOOP,
  MIRROR_REDIRECT_PATH,
  MIRROR_REDIRECT_SCHEME,
} MirrorRedirect;

typedef struct
{
  guint64 first;
  guint64 last; /* inclusive */
} MirrorSpan;

/* One parsed modes string.  Every field at zero means "behave well". */
typedef struct
{
  guint64 rate; /* bytes/s, 0 = unthrottled */
  gboolean has_stall;
  guint64 stall_after;
  gboolean has_reset;
  guint64 reset_after;
  guint status; /* 0 = normal */
  gboolean norange;
  guint64 change_after; /* 0 = never changes */
  guint n_corrupt;
  MirrorSpan corrupt[MIRROR_MAX_CORRUPT];
  gboolean has_liesize;
  guint64 liesize;
  MirrorRedirect redirect;
  char *redirect_target;
  guint delay_ms;
  gboolean noetag;
  guint64 drop_every; /* 0 = never drops */
} MirrorModes;

/* Shared state of every request that uses the same modes string, so that a
 * rate cap is a cap on the whole "mirror", not on one connection. */
typedef struct
{
  char *key;
  MirrorModes modes;
  MirrorBucket *bucket; /* NULL without rate= */
  gint requests;        /* atomic */
} MirrorProfile;

gboolean mirror_modes_parse (const char *text, MirrorModes *modes, GError **error);
void mirror_modes_clear (MirrorModes *modes);
MirrorProfile *mirror_profile_lookup (const char *key, GError **error);

/* --- HTTP parsing helpers (mirror-http.c) ------------------------------- */

typedef struct
{
  char *method;
  char *target; /* as sent, without the query */
  gboolean http10;
  gboolean close; /* the client asked for Connection: close */
  char *range;    /* raw Range value or NULL */
  char *if_range; /* raw If-Range value or NULL */
  guint64 content_length;
  gboolean chunked;
} MirrorRequest;

typedef enum
{
  MIRROR_RANGE_NONE,          /* no usable Range: answer 200 */
  MIRROR_RANGE_OK,            /* answer 206 */
  MIRROR_RANGE_UNSATISFIABLE, /* answer 416 */
} MirrorRangeResult;

gboolean mirror_request_parse (const char *head, gsize len, MirrorRequest *request);
void mirror_request_clear (MirrorRequest *request);
MirrorRangeResult mirror_range_resolve (const char *value, guint64 size, guint64 *first,
                                        guint64 *last);
char *mirror_http_date (gint64 unix_time);
gboolean mirror_http_date_parse (const char *text, gint64 *unix_time);
const char *mirror_reason_phrase (guint status);
gboolean mirror_parse_size (const char *text, gboolean allow_suffix, guint64 *value);

/* --- Body sending (mirror-send.c) --------------------------------------- */

typedef enum
{
  MIRROR_SEND_COMPLETE,
  MIRROR_SEND_LIMIT, /* stopped at the stall/reset point */
  MIRROR_SEND_ERROR, /* the client went away */
} MirrorSendResult;

typedef struct
{
  int file_fd;
  guint64 offset; /* absolute file offset of the first byte */
  guint64 length;
  guint64 limit;             /* G_MAXUINT64 = no stall/reset point */
  gboolean xor_all;          /* the "changed" file: every byte ^ 0x5a */
  const MirrorSpan *corrupt; /* bytes ^ 0xff */
  guint n_corrupt;
  MirrorBucket *bucket;
} MirrorBody;

gboolean mirror_send_all (int sock, const void *data, gsize len, gboolean more);
MirrorSendResult mirror_send_body (int sock, const MirrorBody *body, guint64 *sent);

G_END_DECLS
