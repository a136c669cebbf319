/* atlas-rate-limiter.h — a token bucket for speed limits.
 *
 * Transfers spend tokens as bytes arrive; when a bucket is empty the transfer
 * is paused (CURL_WRITEFUNC_PAUSE) and resumed when the bucket refills, so a
 * limit holds across any number of connections.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint64 rate; /* bytes per second, 0 = unlimited */
  double tokens;
  gint64 last_refill;
} AtlasRateLimiter;

void atlas_rate_limiter_init (AtlasRateLimiter *limiter, guint64 rate);
void atlas_rate_limiter_set_rate (AtlasRateLimiter *limiter, guint64 rate);
/* TRUE if bytes may be received now (the bucket is not in debt). */
gboolean atlas_rate_limiter_may_receive (AtlasRateLimiter *limiter, gint64 now);
void atlas_rate_limiter_consume (AtlasRateLimiter *limiter, gsize bytes);
/* Microseconds until the bucket is out of debt; 0 if it is already. */
gint64 atlas_rate_limiter_delay (AtlasRateLimiter *limiter, gint64 now);

G_END_DECLS
