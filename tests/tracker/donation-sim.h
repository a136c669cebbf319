/* donation-sim.h — a simulated population of donors and downloaders on a
 * simulated clock, computing demand as the coordinator does
 * (docs/donation.md) and running the allocator every step. Shared by
 * test-donation-sim and bench-allocation. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint n_donors;
  guint n_entries;
  guint n_downloaders;
  guint32 max_pieces; /* an entry has max/4 .. max pieces of 1 MiB */
  guint n_steps;      /* one step = 5 simulated seconds */
  guint32 seed;
  gboolean optimum;      /* also compute the exact optimum every step */
  gboolean fixed_pieces; /* every entry has exactly max_pieces */
} SimConfig;

typedef struct
{
  guint step;
  guint active_downloaders;
  guint64 total_shortfall; /* copies downloaders lack beyond non-donor supply */
  guint64 demand_met;
  guint64 optimum;   /* 0 unless SimConfig.optimum */
  guint64 copies;    /* donor copies assigned */
  guint64 moved;     /* copies assigned that the donor did not hold */
  guint64 kept;      /* copies the donor held and keeps */
  guint64 dropped;   /* copies the donor held and must drop */
  guint64 held;      /* copies donors held before the step */
  guint64 forced;    /* drops no assignment could avoid: more holders
                      * than shortfall, or storage shrunk below use */
  gint64 alloc_usec; /* atlas_donation_alloc_run () alone */
  gint64 optimum_usec;
  double worst_loss;
  char *violation; /* NULL, or which cap the assignment broke */
} SimStep;

typedef struct _Sim Sim;

Sim *sim_new (const SimConfig *config);
void sim_free (Sim *sim);
/* Advances the clock by one step and runs the allocator; FALSE after the
 * last step. @out->violation must be freed by the caller. */
gboolean sim_step (Sim *sim, SimStep *out);

G_END_DECLS
