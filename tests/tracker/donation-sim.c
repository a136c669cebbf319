/* donation-sim.c — donors and downloaders on a simulated clock.
 *
 * Downloaders arrive over the first four fifths of the run on entries of
 * Zipf popularity, start with a random part of the file (resumed downloads),
 * fetch random missing pieces at their own rate, seed a little when done and
 * leave. Donors have 50-500 MiB of storage, one to three causes (a tenth
 * "wherever most needed"), and now and then change their storage cap. Every
 * step (5 simulated seconds) demand is computed with the coordinator's
 * formula, the allocator runs with what donors were assigned last time as
 * their holdings, and the result is checked against every cap.
 */
#include "donation-sim.h"

#include "atlas-donation-alloc.h"

#include <string.h>

#define MIB (G_GUINT64_CONSTANT (1024) * 1024)
#define STEP_SECONDS 5.0
#define ARRIVAL_WINDOW 3600.0

typedef struct
{
  guint32 n_pieces;
  double weight;
  gboolean supported; /* named by some donor */
  guint32 *holders;   /* non-donor peers holding the piece */
  guint32 *lacking;   /* incomplete peers lacking it */
  GArray *arrivals;   /* double: simulated arrival times */
} SimEntry;

typedef struct
{
  guint64 storage;
  guint32 allowed; /* bit e; 0: anywhere */
  GBytes **holds;  /* per entry: last assignment, or NULL */
} SimDonor;

typedef enum
{
  PEER_WAITING,
  PEER_DOWNLOADING,
  PEER_SEEDING,
  PEER_GONE,
} PeerState;

typedef struct
{
  guint entry;
  double arrive;
  guint32 *order; /* the order it fetches pieces in */
  guint32 have;   /* order[0 .. have) are held */
  guint rate;     /* pieces per step */
  guint seed_steps;
  PeerState state;
} SimPeer;

struct _Sim
{
  SimConfig config;
  GRand *rand;
  SimEntry *entries;
  SimDonor *donors;
  SimPeer *peers;
  guint step;
};

static guint
pick_entry (Sim *sim)
{
  double total = 0, x;

  for (guint e = 0; e < sim->config.n_entries; e++)
    total += sim->entries[e].weight;
  x = g_rand_double (sim->rand) * total;
  for (guint e = 0; e < sim->config.n_entries; e++)
    {
      if (x < sim->entries[e].weight)
        return e;
      x -= sim->entries[e].weight;
    }
  return sim->config.n_entries - 1;
}

Sim *
sim_new (const SimConfig *config)
{
  Sim *sim = g_new0 (Sim, 1);
  double duration = config->n_steps * STEP_SECONDS;

  g_assert (config->n_entries > 0 && config->n_entries <= 32);
  sim->config = *config;
  sim->rand = g_rand_new_with_seed (config->seed);

  sim->entries = g_new0 (SimEntry, config->n_entries);
  for (guint e = 0; e < config->n_entries; e++)
    {
      SimEntry *entry = &sim->entries[e];

      entry->n_pieces =
          g_rand_int_range (sim->rand, MAX (config->max_pieces / 4, 1), config->max_pieces + 1);
      if (config->fixed_pieces)
        entry->n_pieces = config->max_pieces;
      entry->weight = 1.0 / (e + 1);
      entry->holders = g_new0 (guint32, entry->n_pieces);
      entry->lacking = g_new0 (guint32, entry->n_pieces);
      entry->arrivals = g_array_new (FALSE, FALSE, sizeof (double));
    }

  sim->donors = g_new0 (SimDonor, config->n_donors);
  for (guint d = 0; d < config->n_donors; d++)
    {
      SimDonor *donor = &sim->donors[d];

      donor->storage = (guint64) g_rand_int_range (sim->rand, 50, 501) * MIB;
      donor->holds = g_new0 (GBytes *, config->n_entries);
      if (g_rand_int_range (sim->rand, 0, 10) != 0)
        {
          guint n = g_rand_int_range (sim->rand, 1, 4);

          /* People support popular projects more often. */
          for (guint i = 0; i < n; i++)
            {
              guint e = pick_entry (sim);

              donor->allowed |= 1u << e;
              sim->entries[e].supported = TRUE;
            }
        }
    }

  sim->peers = g_new0 (SimPeer, config->n_downloaders);
  for (guint i = 0; i < config->n_downloaders; i++)
    {
      SimPeer *peer = &sim->peers[i];
      guint32 n;

      peer->entry = pick_entry (sim);
      peer->arrive = g_rand_double (sim->rand) * duration * 0.8;
      n = sim->entries[peer->entry].n_pieces;
      peer->order = g_new (guint32, n);
      for (guint32 p = 0; p < n; p++)
        peer->order[p] = p;
      for (guint32 p = n; p > 1; p--)
        {
          guint32 j = g_rand_int_range (sim->rand, 0, p), tmp = peer->order[p - 1];

          peer->order[p - 1] = peer->order[j];
          peer->order[j] = tmp;
        }
      /* 0.4 - 8 MiB/s: 2 - 40 pieces of 1 MiB per 5 s step. */
      peer->rate = g_rand_int_range (sim->rand, 2, 41);
    }
  return sim;
}

void
sim_free (Sim *sim)
{
  if (sim == NULL)
    return;
  for (guint e = 0; e < sim->config.n_entries; e++)
    {
      g_free (sim->entries[e].holders);
      g_free (sim->entries[e].lacking);
      g_array_unref (sim->entries[e].arrivals);
    }
  for (guint d = 0; d < sim->config.n_donors; d++)
    {
      for (guint e = 0; e < sim->config.n_entries; e++)
        g_clear_pointer (&sim->donors[d].holds[e], g_bytes_unref);
      g_free (sim->donors[d].holds);
    }
  for (guint i = 0; i < sim->config.n_downloaders; i++)
    g_free (sim->peers[i].order);
  g_free (sim->entries);
  g_free (sim->donors);
  g_free (sim->peers);
  g_rand_free (sim->rand);
  g_free (sim);
}

static void
advance_peers (Sim *sim, double now)
{
  for (guint i = 0; i < sim->config.n_downloaders; i++)
    {
      SimPeer *peer = &sim->peers[i];
      SimEntry *entry = &sim->entries[peer->entry];
      guint32 n = entry->n_pieces;

      switch (peer->state)
        {
        case PEER_WAITING:
          if (peer->arrive > now)
            break;
          peer->state = PEER_DOWNLOADING;
          g_array_append_val (entry->arrivals, peer->arrive);
          /* A resumed download already has up to a third of the file. */
          peer->have = g_rand_int_range (sim->rand, 0, n / 3 + 1);
          for (guint32 k = 0; k < n; k++)
            {
              if (k < peer->have)
                entry->holders[peer->order[k]]++;
              else
                entry->lacking[peer->order[k]]++;
            }
          break;
        case PEER_DOWNLOADING:
          for (guint r = 0; r < peer->rate && peer->have < n; r++)
            {
              guint32 p = peer->order[peer->have++];

              entry->lacking[p]--;
              entry->holders[p]++;
            }
          if (peer->have == n)
            {
              peer->state = PEER_SEEDING;
              peer->seed_steps = g_rand_int_range (sim->rand, 0, 13);
            }
          break;
        case PEER_SEEDING:
          if (peer->seed_steps-- > 0)
            break;
          peer->state = PEER_GONE;
          for (guint32 p = 0; p < n; p++)
            entry->holders[p]--;
          break;
        case PEER_GONE:
        default:
          break;
        }
    }
}

static gboolean
bit_msb (GBytes *bits, guint32 piece)
{
  const guint8 *data;

  if (bits == NULL)
    return FALSE;
  data = g_bytes_get_data (bits, NULL);
  return (data[piece / 8] >> (7 - piece % 8)) & 1;
}

/* The coordinator's formula (docs/donation.md). */
static guint
entry_prior (Sim *sim, guint e, double now)
{
  SimEntry *entry = &sim->entries[e];
  guint arrivals = 0;

  for (guint i = 0; i < entry->arrivals->len; i++)
    arrivals += g_array_index (entry->arrivals, double, i) > now - ARRIVAL_WINDOW;
  return (entry->supported ? 1 : 0) + (arrivals + 3) / 4;
}

gboolean
sim_step (Sim *sim, SimStep *out)
{
  AtlasDonationAlloc *alloc;
  double now = sim->step * STEP_SECONDS;
  guint n_entries = sim->config.n_entries;
  g_autofree guint *prior = g_new0 (guint, n_entries);
  g_autofree guint32 *copies = NULL;
  g_autofree guint32 *held_before = NULL;
  g_autofree guint64 *bytes_before = g_new0 (guint64, MAX (sim->config.n_donors, 1));
  GString *violation;
  gint64 start;

  if (sim->step >= sim->config.n_steps)
    return FALSE;
  violation = g_string_new (NULL);
  memset (out, 0, sizeof *out);
  out->step = sim->step;

  /* Now and then a donor changes its storage cap; what no longer fits must
   * go. */
  for (guint d = 0; d < sim->config.n_donors; d++)
    {
      for (guint e = 0; e < n_entries; e++)
        for (guint32 p = 0; sim->donors[d].holds[e] != NULL && p < sim->entries[e].n_pieces; p++)
          bytes_before[d] += bit_msb (sim->donors[d].holds[e], p) ? MIB : 0;
      if (g_rand_int_range (sim->rand, 0, 500) == 0)
        sim->donors[d].storage = (guint64) g_rand_int_range (sim->rand, 50, 501) * MIB;
      if (bytes_before[d] > sim->donors[d].storage)
        out->forced += (bytes_before[d] - sim->donors[d].storage + MIB - 1) / MIB;
    }
  advance_peers (sim, now);
  for (guint i = 0; i < sim->config.n_downloaders; i++)
    out->active_downloaders += sim->peers[i].state == PEER_DOWNLOADING;

  alloc = atlas_donation_alloc_new ();
  for (guint e = 0; e < n_entries; e++)
    {
      SimEntry *entry = &sim->entries[e];

      atlas_donation_alloc_add_entry (alloc, entry->n_pieces, MIB);
      prior[e] = entry_prior (sim, e, now);
      for (guint32 p = 0; p < entry->n_pieces; p++)
        {
          guint demand = prior[e] + entry->lacking[p];

          atlas_donation_alloc_set_piece (alloc, e, p, demand, entry->holders[p]);
          if (demand > entry->holders[p])
            out->total_shortfall += demand - entry->holders[p];
        }
    }
  for (guint d = 0; d < sim->config.n_donors; d++)
    {
      SimDonor *donor = &sim->donors[d];

      atlas_donation_alloc_add_donor (alloc, donor->storage);
      for (guint e = 0; e < n_entries; e++)
        {
          if (donor->allowed & (1u << e))
            atlas_donation_alloc_donor_allow (alloc, d, e);
          for (guint32 p = 0; donor->holds[e] != NULL && p < sim->entries[e].n_pieces; p++)
            {
              if (bit_msb (donor->holds[e], p))
                atlas_donation_alloc_donor_holds (alloc, d, e, p);
            }
        }
    }

  start = g_get_monotonic_time ();
  atlas_donation_alloc_run (alloc);
  out->alloc_usec = g_get_monotonic_time () - start;
  out->demand_met = atlas_donation_alloc_demand_met (alloc);
  out->worst_loss = atlas_donation_alloc_worst_loss (alloc);
  if (sim->config.optimum)
    {
      start = g_get_monotonic_time ();
      out->optimum = atlas_donation_alloc_optimum (alloc);
      out->optimum_usec = g_get_monotonic_time () - start;
    }

  for (guint e = 0; e < n_entries; e++)
    {
      SimEntry *entry = &sim->entries[e];

      g_free (copies);
      copies = g_new0 (guint32, entry->n_pieces);
      g_free (held_before);
      held_before = g_new0 (guint32, entry->n_pieces);
      for (guint d = 0; d < sim->config.n_donors; d++)
        {
          SimDonor *donor = &sim->donors[d];
          GBytes *bits = atlas_donation_alloc_get_assignment (alloc, d, e);

          if (bits != NULL && donor->allowed != 0 && !(donor->allowed & (1u << e)))
            g_string_append_printf (violation, "donor %u got entry %u, not its cause; ", d, e);
          for (guint32 p = 0; p < entry->n_pieces; p++)
            {
              gboolean now_held = bit_msb (bits, p), before = bit_msb (donor->holds[e], p);

              copies[p] += now_held;
              held_before[p] += before;
              out->moved += now_held && !before;
              out->kept += now_held && before;
              out->dropped += before && !now_held;
              out->held += before;
            }
          g_clear_pointer (&donor->holds[e], g_bytes_unref);
          donor->holds[e] = bits;
        }
      for (guint32 p = 0; p < entry->n_pieces; p++)
        {
          guint demand = prior[e] + entry->lacking[p];
          guint shortfall = demand > entry->holders[p] ? demand - entry->holders[p] : 0;

          if (held_before[p] > shortfall)
            out->forced += held_before[p] - shortfall;
          if (copies[p] > shortfall)
            g_string_append_printf (violation, "entry %u piece %u: %u copies for shortfall %u; ", e,
                                    p, copies[p], shortfall);
          out->copies += copies[p];
        }
    }
  for (guint d = 0; d < sim->config.n_donors; d++)
    {
      guint64 bytes = 0;

      for (guint e = 0; e < n_entries; e++)
        for (guint32 p = 0; p < sim->entries[e].n_pieces; p++)
          bytes += bit_msb (sim->donors[d].holds[e], p) ? MIB : 0;
      if (bytes > sim->donors[d].storage
          || bytes != atlas_donation_alloc_get_assigned_bytes (alloc, d))
        g_string_append_printf (
            violation, "donor %u: %" G_GUINT64_FORMAT " bytes for storage %" G_GUINT64_FORMAT "; ",
            d, bytes, sim->donors[d].storage);
    }
  if (out->copies != out->demand_met)
    g_string_append_printf (violation,
                            "demand met %" G_GUINT64_FORMAT " but %" G_GUINT64_FORMAT " copies; ",
                            out->demand_met, out->copies);

  out->violation = violation->len > 0 ? g_string_free (violation, FALSE) : NULL;
  if (out->violation == NULL)
    g_string_free (violation, TRUE);
  atlas_donation_alloc_free (alloc);
  sim->step++;
  return TRUE;
}
