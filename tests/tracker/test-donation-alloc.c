/* test-donation-alloc.c — which donor holds which pieces, checked against
 * brute force on tiny cases and against the caps donors set. */
#include "atlas-donation-alloc.h"

#define MIB (G_GUINT64_CONSTANT (1024) * 1024)
#define MAX_ENTRIES 24
#define MAX_DONORS 256

/* A whole allocation problem, so the same inputs can be fed twice. */
typedef struct
{
  guint n_entries;
  guint32 n_pieces[MAX_ENTRIES];
  guint64 length[MAX_ENTRIES];
  guint *demand[MAX_ENTRIES];
  guint *supply[MAX_ENTRIES];
  guint n_donors;
  guint64 storage[MAX_DONORS];
  guint32 allowed[MAX_DONORS]; /* bit e: may hold entry e; 0: anywhere */
  GBytes *holds[MAX_DONORS][MAX_ENTRIES];
} Case;

static Case *
case_new (void)
{
  return g_new0 (Case, 1);
}

static void
case_free (Case *c)
{
  for (guint e = 0; e < c->n_entries; e++)
    {
      g_free (c->demand[e]);
      g_free (c->supply[e]);
    }
  for (guint d = 0; d < c->n_donors; d++)
    for (guint e = 0; e < c->n_entries; e++)
      g_clear_pointer (&c->holds[d][e], g_bytes_unref);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Case, case_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasDonationAlloc, atlas_donation_alloc_free)

static guint
case_add_entry (Case *c, guint32 n_pieces, guint64 length)
{
  guint e = c->n_entries++;

  c->n_pieces[e] = n_pieces;
  c->length[e] = length;
  c->demand[e] = g_new0 (guint, n_pieces);
  c->supply[e] = g_new0 (guint, n_pieces);
  return e;
}

static guint
case_add_donor (Case *c, guint64 storage, guint32 allowed)
{
  guint d = c->n_donors++;

  c->storage[d] = storage;
  c->allowed[d] = allowed;
  return d;
}

static gboolean
bitfield_get (GBytes *bits, guint32 piece)
{
  gsize size;
  const guint8 *data;

  if (bits == NULL)
    return FALSE;
  data = g_bytes_get_data (bits, &size);
  g_assert_cmpuint (piece / 8, <, size);
  return (data[piece / 8] >> (7 - piece % 8)) & 1;
}

static guint
shortfall (const Case *c, guint e, guint32 p)
{
  return c->demand[e][p] > c->supply[e][p] ? c->demand[e][p] - c->supply[e][p] : 0;
}

static AtlasDonationAlloc *
case_run (const Case *c)
{
  AtlasDonationAlloc *alloc = atlas_donation_alloc_new ();

  for (guint e = 0; e < c->n_entries; e++)
    {
      g_assert_cmpuint (atlas_donation_alloc_add_entry (alloc, c->n_pieces[e], c->length[e]), ==,
                        e);
      for (guint32 p = 0; p < c->n_pieces[e]; p++)
        atlas_donation_alloc_set_piece (alloc, e, p, c->demand[e][p], c->supply[e][p]);
    }
  for (guint d = 0; d < c->n_donors; d++)
    {
      g_assert_cmpuint (atlas_donation_alloc_add_donor (alloc, c->storage[d]), ==, d);
      for (guint e = 0; e < c->n_entries; e++)
        {
          if (c->allowed[d] & (1u << e))
            atlas_donation_alloc_donor_allow (alloc, d, e);
          for (guint32 p = 0; p < c->n_pieces[e]; p++)
            {
              if (bitfield_get (c->holds[d][e], p))
                atlas_donation_alloc_donor_holds (alloc, d, e, p);
            }
        }
    }
  atlas_donation_alloc_run (alloc);
  return alloc;
}

/* Checks every promise a donor relies on, and returns the demand met counted
 * from the assignments themselves. */
static guint64
check_caps (const Case *c, AtlasDonationAlloc *alloc)
{
  g_autofree guint *copies = NULL;
  guint64 met = 0, copies_total = 0, worst = 0;

  for (guint e = 0; e < c->n_entries; e++)
    {
      g_free (copies);
      copies = g_new0 (guint, c->n_pieces[e]);
      for (guint d = 0; d < c->n_donors; d++)
        {
          g_autoptr (GBytes) bits = atlas_donation_alloc_get_assignment (alloc, d, e);

          if (bits == NULL)
            continue;
          g_assert_cmpuint (g_bytes_get_size (bits), ==, (c->n_pieces[e] + 7) / 8);
          /* Causes are respected. */
          g_assert_true (c->allowed[d] == 0 || (c->allowed[d] & (1u << e)));
          for (guint32 p = 0; p < c->n_pieces[e]; p++)
            copies[p] += bitfield_get (bits, p);
        }
      for (guint32 p = 0; p < c->n_pieces[e]; p++)
        {
          /* Donors never hold more copies than downloaders lack. */
          g_assert_cmpuint (copies[p], <=, shortfall (c, e, p));
          met += copies[p];
        }
    }

  for (guint d = 0; d < c->n_donors; d++)
    {
      guint64 bytes = 0, n = 0;

      for (guint e = 0; e < c->n_entries; e++)
        {
          g_autoptr (GBytes) bits = atlas_donation_alloc_get_assignment (alloc, d, e);

          for (guint32 p = 0; p < c->n_pieces[e]; p++)
            {
              if (bitfield_get (bits, p))
                {
                  bytes += c->length[e];
                  n++;
                }
            }
        }
      /* Storage is a hard cap. */
      g_assert_cmpuint (bytes, <=, c->storage[d]);
      g_assert_cmpuint (atlas_donation_alloc_get_assigned_bytes (alloc, d), ==, bytes);
      copies_total += n;
      worst = MAX (worst, n);
    }
  g_assert_cmpuint (atlas_donation_alloc_demand_met (alloc), ==, met);
  if (copies_total > 0)
    g_assert_cmpfloat_with_epsilon (atlas_donation_alloc_worst_loss (alloc),
                                    (double) worst / copies_total, 1e-9);
  else
    g_assert_cmpfloat (atlas_donation_alloc_worst_loss (alloc), ==, 0);
  return met;
}

/* ---------------------------------------------------------- brute force */

typedef struct
{
  const Case *c;
  guint n_flat;
  guint flat_entry[8];
  guint32 flat_piece[8];
  guint copies[8];
  guint64 best;
} Brute;

static void
brute_donor (Brute *b, guint d)
{
  if (d == b->c->n_donors)
    {
      guint64 met = 0;

      for (guint i = 0; i < b->n_flat; i++)
        met += MIN (b->copies[i], shortfall (b->c, b->flat_entry[i], b->flat_piece[i]));
      b->best = MAX (b->best, met);
      return;
    }
  for (guint mask = 0; mask < (1u << b->n_flat); mask++)
    {
      guint64 bytes = 0;
      gboolean ok = TRUE;

      for (guint i = 0; i < b->n_flat && ok; i++)
        {
          if (!(mask & (1u << i)))
            continue;
          ok = b->c->allowed[d] == 0 || (b->c->allowed[d] & (1u << b->flat_entry[i]));
          bytes += b->c->length[b->flat_entry[i]];
        }
      if (!ok || bytes > b->c->storage[d])
        continue;
      for (guint i = 0; i < b->n_flat; i++)
        b->copies[i] += (mask >> i) & 1;
      brute_donor (b, d + 1);
      for (guint i = 0; i < b->n_flat; i++)
        b->copies[i] -= (mask >> i) & 1;
    }
}

static guint64
brute_force (const Case *c)
{
  Brute b = { c, 0 };

  for (guint e = 0; e < c->n_entries; e++)
    for (guint32 p = 0; p < c->n_pieces[e]; p++)
      {
        b.flat_entry[b.n_flat] = e;
        b.flat_piece[b.n_flat] = p;
        b.n_flat++;
      }
  brute_donor (&b, 0);
  return b.best;
}

static Case *
tiny_case (GRand *rand, gboolean equal_lengths)
{
  Case *c = case_new ();
  guint n_pieces_total = g_rand_int_range (rand, 2, 7);
  guint first = g_rand_int_range (rand, 1, n_pieces_total);
  guint n_donors = g_rand_int_range (rand, 2, 4);

  case_add_entry (c, first, MIB);
  case_add_entry (c, n_pieces_total - first, equal_lengths ? MIB : 2 * MIB);
  for (guint e = 0; e < 2; e++)
    for (guint32 p = 0; p < c->n_pieces[e]; p++)
      {
        c->demand[e][p] = g_rand_int_range (rand, 0, 5);
        c->supply[e][p] = g_rand_int_range (rand, 0, 3);
      }
  for (guint d = 0; d < n_donors; d++)
    {
      /* Storage not always a whole number of pieces. */
      guint64 storage =
          g_rand_int_range (rand, 0, 5) * MIB + g_rand_int_range (rand, 0, 2) * MIB / 2;

      case_add_donor (c, storage, g_rand_int_range (rand, 0, 4)); /* 0: anywhere */
    }
  return c;
}

static void
test_brute_force (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261124);
  double worst_equal = 1, worst_mixed = 1;
  guint n_cases = 400, equal_below_optimum = 0;

  for (guint i = 0; i < n_cases; i++)
    {
      gboolean equal_lengths = i % 4 != 3;
      g_autoptr (Case) c = tiny_case (rand, equal_lengths);
      g_autoptr (AtlasDonationAlloc) alloc = case_run (c);
      guint64 best = brute_force (c);
      guint64 met = check_caps (c, alloc);
      guint64 optimum = atlas_donation_alloc_optimum (alloc);
      double ratio = best > 0 ? (double) met / best : 1;

      g_assert_cmpuint (met, <=, best);
      if (equal_lengths)
        {
          /* With one piece length the maximum flow is exact. */
          g_assert_cmpuint (optimum, ==, best);
          g_assert_cmpfloat (ratio, >=, 0.9);
          worst_equal = MIN (worst_equal, ratio);
          equal_below_optimum += met < best;
        }
      else
        {
          /* With several it is an upper bound. */
          g_assert_cmpuint (optimum, >=, best);
          worst_mixed = MIN (worst_mixed, ratio);
        }
    }
  g_test_message ("%u tiny cases: worst demand met / brute-force best %.3f with one piece "
                  "length (%u below the best), %.3f with two lengths",
                  n_cases, worst_equal, equal_below_optimum, worst_mixed);
}

/* ------------------------------------------------------------- policies */

static void
test_basic (void)
{
  g_autoptr (Case) c = case_new ();
  g_autoptr (AtlasDonationAlloc) alloc = NULL;
  g_autoptr (GBytes) bits0 = NULL;
  g_autoptr (GBytes) bits1 = NULL;
  const guint8 *data;

  case_add_entry (c, 10, MIB);
  for (guint32 p = 0; p < 10; p++)
    c->demand[0][p] = 2;
  /* Peers already hold piece 9 twice: donors need not. */
  c->supply[0][9] = 2;
  case_add_entry (c, 4, MIB); /* nobody lacks any of it */
  case_add_donor (c, 100 * MIB, 0);
  case_add_donor (c, 100 * MIB, 1u << 0);
  case_add_donor (c, 100 * MIB, 1u << 1);

  alloc = case_run (c);
  g_assert_cmpuint (check_caps (c, alloc), ==, 18);
  g_assert_cmpuint (atlas_donation_alloc_optimum (alloc), ==, 18);
  bits0 = atlas_donation_alloc_get_assignment (alloc, 0, 0);
  bits1 = atlas_donation_alloc_get_assignment (alloc, 1, 0);
  g_assert_nonnull (bits0);
  g_assert_nonnull (bits1);
  /* Pieces 0-8 on both, most significant bit first. */
  data = g_bytes_get_data (bits0, NULL);
  g_assert_cmphex (data[0], ==, 0xff);
  g_assert_cmphex (data[1], ==, 0x80);
  g_assert_true (g_bytes_equal (bits0, bits1));
  g_assert_cmpuint (atlas_donation_alloc_get_assigned_bytes (alloc, 2), ==, 0);
  g_assert_cmpfloat_with_epsilon (atlas_donation_alloc_worst_loss (alloc), 0.5, 1e-9);
}

/* Degenerate inputs, a second run on the same object, and a cause the donor
 * dropped: its pieces of that entry go. */
static void
test_edges (void)
{
  g_autoptr (AtlasDonationAlloc) empty = atlas_donation_alloc_new ();
  g_autoptr (AtlasDonationAlloc) alloc = atlas_donation_alloc_new ();
  g_autoptr (GBytes) bits = NULL;

  atlas_donation_alloc_run (empty);
  g_assert_cmpuint (atlas_donation_alloc_demand_met (empty), ==, 0);
  g_assert_cmpuint (atlas_donation_alloc_optimum (empty), ==, 0);
  g_assert_cmpfloat (atlas_donation_alloc_worst_loss (empty), ==, 0);

  atlas_donation_alloc_add_entry (alloc, 0, MIB);
  atlas_donation_alloc_add_entry (alloc, 3, MIB);
  atlas_donation_alloc_add_donor (alloc, 0);
  atlas_donation_alloc_add_donor (alloc, 10 * MIB);
  atlas_donation_alloc_donor_allow (alloc, 1, 0);
  /* Donor 1 holds piece 2 of entry 1, which is no longer among its causes. */
  atlas_donation_alloc_donor_holds (alloc, 1, 1, 2);
  for (guint32 p = 0; p < 3; p++)
    atlas_donation_alloc_set_piece (alloc, 1, p, 5, 1);
  atlas_donation_alloc_run (alloc);
  g_assert_cmpuint (atlas_donation_alloc_demand_met (alloc), ==, 0);
  g_assert_null (atlas_donation_alloc_get_assignment (alloc, 1, 1));
  g_assert_cmpuint (atlas_donation_alloc_get_assigned_bytes (alloc, 1), ==, 0);

  /* Allowed again, the same object runs again. */
  atlas_donation_alloc_donor_allow (alloc, 1, 1);
  atlas_donation_alloc_run (alloc);
  g_assert_cmpuint (atlas_donation_alloc_demand_met (alloc), ==, 3);
  g_assert_cmpuint (atlas_donation_alloc_optimum (alloc), ==, 3);
  bits = atlas_donation_alloc_get_assignment (alloc, 1, 1);
  g_assert_cmpuint (g_bytes_get_size (bits), ==, 1);
  g_assert_cmphex (((const guint8 *) g_bytes_get_data (bits, NULL))[0], ==, 0xe0);
  g_assert_cmpuint (atlas_donation_alloc_get_assigned_bytes (alloc, 0), ==, 0);
}

static void
test_scarce_first (void)
{
  g_autoptr (Case) c = case_new ();
  g_autoptr (AtlasDonationAlloc) alloc = NULL;
  g_autoptr (GBytes) bits = NULL;

  /* Piece p lacks p + 1 copies; a donor with room for three pieces. */
  case_add_entry (c, 10, MIB);
  for (guint32 p = 0; p < 10; p++)
    c->demand[0][p] = p + 1;
  case_add_donor (c, 3 * MIB + MIB / 2, 0);
  alloc = case_run (c);
  check_caps (c, alloc);
  bits = atlas_donation_alloc_get_assignment (alloc, 0, 0);
  for (guint32 p = 0; p < 10; p++)
    g_assert_cmpint (bitfield_get (bits, p), ==, p >= 7);
}

/* A donor allowed anywhere must not take the pieces others could hold when a
 * piece only it may hold would go without. */
static void
test_anywhere_yields (void)
{
  g_autoptr (Case) c = case_new ();
  g_autoptr (AtlasDonationAlloc) alloc = NULL;

  case_add_entry (c, 4, MIB);
  case_add_entry (c, 4, MIB);
  for (guint32 p = 0; p < 4; p++)
    {
      c->demand[0][p] = 1;
      c->demand[1][p] = 1;
    }
  case_add_donor (c, 4 * MIB, 0);       /* anywhere */
  case_add_donor (c, 4 * MIB, 1u << 0); /* entry 0 only */
  /* Entry 0 sorts first, and both donors have the same room. */
  alloc = case_run (c);
  g_assert_cmpuint (check_caps (c, alloc), ==, 8);
  g_assert_cmpuint (atlas_donation_alloc_optimum (alloc), ==, 8);
}

static void
test_storage_shrinks (void)
{
  g_autoptr (Case) c = case_new ();
  g_autoptr (AtlasDonationAlloc) alloc = NULL;
  g_autoptr (GBytes) bits = NULL;
  guint8 all[2] = { 0xff, 0xc0 };

  case_add_entry (c, 10, MIB);
  for (guint32 p = 0; p < 10; p++)
    c->demand[0][p] = 10 - p;
  case_add_donor (c, 4 * MIB, 0);
  c->holds[0][0] = g_bytes_new (all, sizeof all);
  alloc = case_run (c);
  check_caps (c, alloc);
  /* It keeps the four most wanted of what it holds, and fetches nothing. */
  bits = atlas_donation_alloc_get_assignment (alloc, 0, 0);
  for (guint32 p = 0; p < 10; p++)
    g_assert_cmpint (bitfield_get (bits, p), ==, p < 4);
}

static void
test_spread (void)
{
  g_autoptr (Case) c = case_new ();
  g_autoptr (AtlasDonationAlloc) alloc = NULL;
  double loss;

  case_add_entry (c, 1000, MIB);
  for (guint32 p = 0; p < 1000; p++)
    c->demand[0][p] = 3;
  for (guint d = 0; d < 10; d++)
    case_add_donor (c, 200 * MIB, 0);
  case_add_entry (c, 50, MIB); /* no demand */
  alloc = case_run (c);
  g_assert_cmpuint (check_caps (c, alloc), ==, 2000);
  loss = atlas_donation_alloc_worst_loss (alloc);
  g_test_message ("10 equal donors, one entry: worst loss %.3f", loss);
  g_assert_cmpfloat (loss, <=, 0.15);
}

static Case *
medium_case (GRand *rand, guint n_donors, guint n_entries, guint32 n_pieces)
{
  Case *c = case_new ();

  for (guint e = 0; e < n_entries; e++)
    {
      guint hot = g_rand_int_range (rand, 1, 12);

      case_add_entry (c, n_pieces, MIB);
      for (guint32 p = 0; p < n_pieces; p++)
        {
          c->demand[e][p] = 1 + g_rand_int_range (rand, 0, hot);
          c->supply[e][p] = g_rand_int_range (rand, 0, 3);
        }
    }
  for (guint d = 0; d < n_donors; d++)
    {
      guint32 allowed = 0;

      if (g_rand_int_range (rand, 0, 10) != 0)
        {
          guint n = g_rand_int_range (rand, 1, 4);

          for (guint i = 0; i < n; i++)
            allowed |= 1u << g_rand_int_range (rand, 0, n_entries);
        }
      case_add_donor (c, (guint64) g_rand_int_range (rand, 50, 501) * MIB, allowed);
    }
  return c;
}

static void
copy_assignment (Case *c, AtlasDonationAlloc *alloc)
{
  for (guint d = 0; d < c->n_donors; d++)
    for (guint e = 0; e < c->n_entries; e++)
      {
        g_clear_pointer (&c->holds[d][e], g_bytes_unref);
        c->holds[d][e] = atlas_donation_alloc_get_assignment (alloc, d, e);
      }
}

static guint64
count_moved (const Case *c, AtlasDonationAlloc *alloc, guint64 *kept)
{
  guint64 moved = 0;

  *kept = 0;
  for (guint d = 0; d < c->n_donors; d++)
    for (guint e = 0; e < c->n_entries; e++)
      {
        g_autoptr (GBytes) bits = atlas_donation_alloc_get_assignment (alloc, d, e);

        for (guint32 p = 0; p < c->n_pieces[e]; p++)
          {
            gboolean now = bitfield_get (bits, p), before = bitfield_get (c->holds[d][e], p);

            moved += now && !before;
            *kept += now && before;
          }
      }
  return moved;
}

static void
test_caps_and_stickiness (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  g_autoptr (Case) c = medium_case (rand, 60, 8, 512);
  g_autoptr (AtlasDonationAlloc) first = case_run (c);
  g_autoptr (AtlasDonationAlloc) again = NULL;
  g_autoptr (AtlasDonationAlloc) moved_demand = NULL;
  guint64 met = check_caps (c, first), kept = 0, moved, optimum;

  optimum = atlas_donation_alloc_optimum (first);
  g_test_message ("60 donors, 8 entries: demand met %" G_GUINT64_FORMAT
                  " of optimum %" G_GUINT64_FORMAT,
                  met, optimum);
  /* The repair stops moving held pieces within 2 % of the optimum. */
  g_assert_cmpuint (met, >=, optimum * 0.98);

  /* Unchanged inputs, holdings as assigned: nothing moves. */
  copy_assignment (c, first);
  again = case_run (c);
  g_assert_cmpuint (check_caps (c, again), ==, met);
  g_assert_cmpuint (count_moved (c, again, &kept), ==, 0);
  g_assert_cmpuint (kept, ==, met);

  /* Demand moves on a tenth of the pieces: most holdings stay. */
  for (guint e = 0; e < c->n_entries; e++)
    for (guint32 p = 0; p < c->n_pieces[e]; p++)
      {
        if (g_rand_int_range (rand, 0, 10) == 0)
          c->demand[e][p] = g_rand_int_range (rand, 0, 12);
      }
  moved_demand = case_run (c);
  check_caps (c, moved_demand);
  moved = count_moved (c, moved_demand, &kept);
  g_test_message ("after demand moved on 10%% of pieces: %" G_GUINT64_FORMAT
                  " kept, %" G_GUINT64_FORMAT " newly assigned",
                  kept, moved);
  g_assert_cmpuint (kept, >=, met * 85 / 100);
  g_assert_cmpuint (atlas_donation_alloc_demand_met (moved_demand), >=,
                    atlas_donation_alloc_optimum (moved_demand) * 0.98);
}

static void
test_speed (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autoptr (Case) c = medium_case (rand, 200, 20, 4096);
  g_autoptr (AtlasDonationAlloc) alloc = NULL;
  gint64 start, fresh, sticky;

  start = g_get_monotonic_time ();
  alloc = case_run (c);
  fresh = g_get_monotonic_time () - start;
  check_caps (c, alloc);
  copy_assignment (c, alloc);
  g_clear_pointer (&alloc, atlas_donation_alloc_free);
  start = g_get_monotonic_time ();
  alloc = case_run (c);
  sticky = g_get_monotonic_time () - start;
  g_test_message ("200 donors x 20 entries x 4096 pieces: %.1f ms from scratch, %.1f ms with "
                  "holdings (including building the inputs)",
                  fresh / 1000.0, sticky / 1000.0);
  /* Generous for a busy machine; the benchmark reports real numbers. */
  g_assert_cmpint (fresh, <, G_USEC_PER_SEC);
  g_assert_cmpint (sticky, <, G_USEC_PER_SEC);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/donation-alloc/basic", test_basic);
  g_test_add_func ("/donation-alloc/edges", test_edges);
  g_test_add_func ("/donation-alloc/scarce-first", test_scarce_first);
  g_test_add_func ("/donation-alloc/anywhere-yields", test_anywhere_yields);
  g_test_add_func ("/donation-alloc/storage-shrinks", test_storage_shrinks);
  g_test_add_func ("/donation-alloc/spread", test_spread);
  g_test_add_func ("/donation-alloc/brute-force", test_brute_force);
  g_test_add_func ("/donation-alloc/caps-and-stickiness", test_caps_and_stickiness);
  g_test_add_func ("/donation-alloc/speed", test_speed);
  return g_test_run ();
}
