/* test-donation-sim.c — the allocator on a simulated population: hundreds
 * of donors and downloaders, demand computed with the coordinator's formula,
 * an allocation every simulated 5 s. */
#include "donation-sim.h"

static int
compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

static void
run_population (const SimConfig *config, double max_unforced)
{
  Sim *sim = sim_new (config);
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (gint64));
  double worst_ratio = 1, worst_churn = 0, worst_unforced = 0, churn_sum = 0, worst_loss = 0;
  guint64 met_sum = 0, shortfall_sum = 0, optimum_sum = 0;
  guint churn_steps = 0, peak_downloaders = 0;
  SimStep step;

  while (sim_step (sim, &step))
    {
      double ratio = step.optimum > 0 ? (double) step.demand_met / step.optimum : 1;

      if (step.violation != NULL)
        g_error ("step %u: %s", step.step, step.violation);
      g_array_append_val (times, step.alloc_usec);
      /* Demand met within 10 % of the best possible assignment. */
      if (ratio < 0.9)
        g_error ("step %u: demand met %" G_GUINT64_FORMAT " of optimum %" G_GUINT64_FORMAT,
                 step.step, step.demand_met, step.optimum);
      worst_ratio = MIN (worst_ratio, ratio);
      met_sum += step.demand_met;
      optimum_sum += step.optimum;
      shortfall_sum += step.total_shortfall;
      peak_downloaders = MAX (peak_downloaders, step.active_downloaders);
      worst_loss = MAX (worst_loss, step.worst_loss);
      /* Churn: copies donors held and must drop (and so will usually
       * replace by fetching others), as a share of what they held. Some
       * drops are forced (downloaders finished, so more donors hold a piece
       * than still lack it; a donor shrank its storage); the rest, moves the
       * allocator chose, must stay small. */
      if (step.held > 0)
        {
          double churn = (double) step.dropped / step.held;
          guint64 unforced = step.dropped > step.forced ? step.dropped - step.forced : 0;

          if ((double) unforced / step.held > max_unforced)
            g_error ("step %u: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " held copies dropped, "
                     "%" G_GUINT64_FORMAT " of them forced",
                     step.step, step.dropped, step.held, step.forced);
          worst_unforced = MAX (worst_unforced, (double) unforced / step.held);
          worst_churn = MAX (worst_churn, churn);
          churn_sum += churn;
          churn_steps++;
        }
    }
  g_array_sort (times, compare_int64);
  g_test_message ("%u donors, %u downloaders (peak %u at once), %u entries, %u steps: "
                  "allocation median %.1f ms, max %.1f ms; demand met / optimum worst %.4f, "
                  "overall %.4f; demand met / shortfall %.3f; held copies dropped per step mean "
                  "%.4f, worst %.4f (not forced by demand or storage: worst %.4f); worst loss "
                  "of one donor %.3f",
                  config->n_donors, config->n_downloaders, peak_downloaders, config->n_entries,
                  config->n_steps, g_array_index (times, gint64, times->len / 2) / 1000.0,
                  g_array_index (times, gint64, times->len - 1) / 1000.0, worst_ratio,
                  optimum_sum > 0 ? (double) met_sum / optimum_sum : 1,
                  shortfall_sum > 0 ? (double) met_sum / shortfall_sum : 1,
                  churn_steps > 0 ? churn_sum / churn_steps : 0, worst_churn, worst_unforced,
                  worst_loss);
  g_assert_cmpuint (met_sum, >, 0);
  sim_free (sim);
}

static void
test_population (void)
{
  SimConfig config = {
    .n_donors = 300,
    .n_entries = 20,
    .n_downloaders = 500,
    .max_pieces = 2048,
    .n_steps = 72,
    .seed = 1,
    .optimum = TRUE,
  };

  run_population (&config, 0.05);
}

/* Smaller populations where donors' storage is short or plentiful, with
 * other seeds: the bounds must hold in every regime. */
static void
test_regimes (void)
{
  for (guint32 seed = 2; seed < 6; seed++)
    {
      SimConfig scarce = { 40, 8, 200, 1024, 30, seed, TRUE };
      SimConfig plenty = { 80, 6, 60, 256, 30, seed, TRUE };

      run_population (&scarce, 0.05);
      run_population (&plenty, 0.05);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/donation-sim/population", test_population);
  g_test_add_func ("/donation-sim/regimes", test_regimes);
  return g_test_run ();
}
