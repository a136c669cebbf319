/* bench-allocation.c — times the donation allocator on a simulated
 * population and compares its demand met with the exact optimum.
 *
 * Usage: bench-allocation DONORS ENTRIES PIECES DOWNLOADERS STEPS [SEED]
 * Every entry has PIECES pieces of 1 MiB. Prints one tab-separated line:
 *   donors entries pieces downloaders steps alloc_ms_median alloc_ms_max
 *   optimum_ms_median ratio_median ratio_worst churn_median
 * (times of atlas_donation_alloc_run () and _optimum () per step; ratio is
 * demand met / optimum; churn is copies dropped / copies held before the
 * step). Exits 1 when an
 * assignment breaks a cap, so a fast but wrong allocator posts no number.
 */
#include "donation-sim.h"

#include <stdlib.h>

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (GArray *values)
{
  g_array_sort (values, compare_doubles);
  return values->len > 0 ? g_array_index (values, double, values->len / 2) : 0;
}

int
main (int argc, char **argv)
{
  g_autoptr (GArray) alloc_ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) optimum_ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) ratios = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) churn = g_array_new (FALSE, FALSE, sizeof (double));
  SimConfig config = { 0 };
  double alloc_max = 0;
  Sim *sim;
  SimStep step;

  if (argc < 6)
    {
      g_printerr ("Usage: %s DONORS ENTRIES PIECES DOWNLOADERS STEPS [SEED]\n", argv[0]);
      return 2;
    }
  config.n_donors = atoi (argv[1]);
  config.n_entries = atoi (argv[2]);
  config.max_pieces = atoi (argv[3]);
  config.n_downloaders = atoi (argv[4]);
  config.n_steps = atoi (argv[5]);
  config.seed = argc > 6 ? atoi (argv[6]) : 1;
  config.optimum = TRUE;
  config.fixed_pieces = TRUE;
  if (config.n_entries < 1 || config.n_entries > 32 || config.max_pieces < 1 || config.n_steps < 1)
    {
      g_printerr ("ENTRIES must be 1..32; PIECES and STEPS at least 1\n");
      return 2;
    }

  sim = sim_new (&config);
  while (sim_step (sim, &step))
    {
      double ms = step.alloc_usec / 1000.0, oms = step.optimum_usec / 1000.0;
      double ratio = step.optimum > 0 ? (double) step.demand_met / step.optimum : 1;
      double dropped = step.held > 0 ? (double) step.dropped / step.held : 0;

      if (step.violation != NULL)
        {
          g_printerr ("step %u breaks a cap: %s\n", step.step, step.violation);
          return 1;
        }
      g_array_append_val (alloc_ms, ms);
      g_array_append_val (optimum_ms, oms);
      g_array_append_val (ratios, ratio);
      if (step.held > 0)
        g_array_append_val (churn, dropped);
      alloc_max = MAX (alloc_max, ms);
    }
  sim_free (sim);

  {
    /* median () sorted the ratios: the first is the worst. */
    double ratio_median = median (ratios);
    double worst = g_array_index (ratios, double, 0);

    g_print ("%u\t%u\t%u\t%u\t%u\t%.2f\t%.2f\t%.2f\t%.4f\t%.4f\t%.4f\n", config.n_donors,
             config.n_entries, config.max_pieces, config.n_downloaders, config.n_steps,
             median (alloc_ms), alloc_max, median (optimum_ms), ratio_median, worst,
             median (churn));
  }
  return 0;
}
