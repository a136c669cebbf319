/* atlas-rate-limiter.h — a token bucket for speed limits.
 *
 * Transfers spend tokens as bytes arrive; when a bucket is empty the transfer
 * is paused (CURL_WRITEFUNC_PAUSE) and resumed when the bucket refills, so a
 * limit holds across any number of connections.
 *
 * A bucket holds at most 1/8 s of its rate (16 KiB at least), and may go into
 * debt by the one block or chunk it lets through while it still has tokens,
 * so in any window of T seconds at most rate * T + one burst + one block
 * passes.
 *
 * Besides the rate, a limiter may draw on an allowance: a number of bytes,
 * possibly shared by several limiters, past which nothing more passes until
 * its owner grants more (the donor's monthly budget). A limiter also counts
 * every byte it was charged, limited or not.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  double left; /* bytes that may still pass; may dip below 0 by one block */
} AtlasAllowance;

typedef struct
{
  guint64 rate; /* bytes per second, 0 = unlimited */
  double tokens;
  gint64 last_refill;
  guint64 total;             /* bytes consumed since init */
  AtlasAllowance *allowance; /* not owned; NULL = none */
} AtlasRateLimiter;

/* How long a limiter whose allowance is spent waits before looking again:
 * more allowance only comes from its owner, who wakes no one. */
#define ATLAS_RATE_LIMITER_ALLOWANCE_RETRY_US G_USEC_PER_SEC

void atlas_rate_limiter_init (AtlasRateLimiter *limiter, guint64 rate);
void atlas_rate_limiter_set_rate (AtlasRateLimiter *limiter, guint64 rate);
/* Makes @limiter stop passing bytes once @allowance is spent (NULL: no
 * allowance). The allowance must outlive the limiter or be unset first. */
void atlas_rate_limiter_set_allowance (AtlasRateLimiter *limiter, AtlasAllowance *allowance);
/* TRUE if bytes may be received now (the bucket is not in debt). */
gboolean atlas_rate_limiter_may_receive (AtlasRateLimiter *limiter, gint64 now);
void atlas_rate_limiter_consume (AtlasRateLimiter *limiter, gsize bytes);
/* Microseconds until the bucket is out of debt; 0 if it is already. */
gint64 atlas_rate_limiter_delay (AtlasRateLimiter *limiter, gint64 now);
/* The largest number of bytes a bucket of @rate lets through at once. */
guint64 atlas_rate_limiter_burst (guint64 rate);

G_END_DECLS
