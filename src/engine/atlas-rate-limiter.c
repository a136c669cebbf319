#include "atlas-rate-limiter.h"

/* A burst of 1/8 s keeps the rate smooth at human timescales while letting
 * libcurl deliver its buffers whole. */
#define BURST_SECONDS 0.125
#define MIN_BURST 16384.0

guint64
atlas_rate_limiter_burst (guint64 rate)
{
  return (guint64) MAX (rate * BURST_SECONDS, MIN_BURST);
}

static void
refill (AtlasRateLimiter *limiter, gint64 now)
{
  double burst = MAX (limiter->rate * BURST_SECONDS, MIN_BURST);

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
  limiter->total = 0;
  limiter->allowance = NULL;
}

void
atlas_rate_limiter_set_rate (AtlasRateLimiter *limiter, guint64 rate)
{
  limiter->rate = rate;
}

void
atlas_rate_limiter_set_allowance (AtlasRateLimiter *limiter, AtlasAllowance *allowance)
{
  limiter->allowance = allowance;
}

static gboolean
allowance_spent (AtlasRateLimiter *limiter)
{
  return limiter->allowance != NULL && limiter->allowance->left <= 0;
}

gboolean
atlas_rate_limiter_may_receive (AtlasRateLimiter *limiter, gint64 now)
{
  if (allowance_spent (limiter))
    return FALSE;
  if (limiter->rate == 0)
    return TRUE;
  refill (limiter, now);
  return limiter->tokens > 0;
}

void
atlas_rate_limiter_consume (AtlasRateLimiter *limiter, gsize bytes)
{
  limiter->total += bytes;
  if (limiter->allowance != NULL)
    limiter->allowance->left -= bytes;
  /* Debt is allowed: a chunk libcurl already holds must be taken whole, and
   * the debt then delays the next one. */
  if (limiter->rate != 0)
    limiter->tokens -= bytes;
}

gint64
atlas_rate_limiter_delay (AtlasRateLimiter *limiter, gint64 now)
{
  if (allowance_spent (limiter))
    return ATLAS_RATE_LIMITER_ALLOWANCE_RETRY_US;
  if (limiter->rate == 0)
    return 0;
  refill (limiter, now);
  if (limiter->tokens > 0)
    return 0;
  return (gint64) ((-limiter->tokens + 1) * G_USEC_PER_SEC / limiter->rate) + 1;
}
