#include "atlas-rate-limiter.h"

/* A burst of 1/8 s keeps the rate smooth at human timescales while letting
 * libcurl deliver its buffers whole. */
#define BURST_SECONDS 0.125

static void
refill (AtlasRateLimiter *limiter, gint64 now)
{
  double burst = MAX (limiter->rate * BURST_SECONDS, 16384.0);

  if (limiter->last_refill != 0)
    limiter->tokens += (now - limiter->last_refill) * (double) limiter->rate / G_USEC_PER_SEC;
  limiter->last_refill = now;
  limiter->tokens = MIN (limiter->tokens, burst);
}

void
atlas_rate_limiter_init (AtlasRateLimiter *limiter, guint64 rate)
{
  limiter->rate = rate;
  limiter->tokens = 0;
  limiter->last_refill = 0;
}

void
atlas_rate_limiter_set_rate (AtlasRateLimiter *limiter, guint64 rate)
{
  limiter->rate = rate;
}

gboolean
atlas_rate_limiter_may_receive (AtlasRateLimiter *limiter, gint64 now)
{
  if (limiter->rate == 0)
    return TRUE;
  refill (limiter, now);
  return limiter->tokens > 0;
}

void
atlas_rate_limiter_consume (AtlasRateLimiter *limiter, gsize bytes)
{
  /* Debt is allowed: a chunk libcurl already holds must be taken whole, and
   * the debt then delays the next one. */
  if (limiter->rate != 0)
    limiter->tokens -= bytes;
}

gint64
atlas_rate_limiter_delay (AtlasRateLimiter *limiter, gint64 now)
{
  if (limiter->rate == 0)
    return 0;
  refill (limiter, now);
  if (limiter->tokens > 0)
    return 0;
  return (gint64) ((-limiter->tokens + 1) * G_USEC_PER_SEC / limiter->rate) + 1;
}
