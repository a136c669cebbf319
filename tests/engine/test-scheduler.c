/* The scheduler's policy, without any network: what a free connection gets. */
#include "atlas-scheduler.h"

#include <glib.h>

static double
forever (AtlasRange *range, gpointer data)
{
  return G_MAXDOUBLE;
}

static void
test_claims_lowest_first (void)
{
  AtlasScheduler *s = atlas_scheduler_new (100);
  AtlasRange *a = atlas_scheduler_claim (s, 0, 8, NULL, forever, NULL);
  AtlasRange *b = atlas_scheduler_claim (s, 1, 8, NULL, forever, NULL);

  /* Fresh claims come from the front so the verified prefix grows. */
  g_assert_cmpuint (a->start, ==, 0);
  g_assert_cmpuint (a->end, ==, 8);
  g_assert_cmpuint (b->start, ==, 8);
  g_assert_cmpuint (b->end, ==, 16);
  atlas_scheduler_free (s);
}

static void
test_split_takes_larger_half (void)
{
  AtlasScheduler *s = atlas_scheduler_new (11);
  AtlasRange *a = atlas_scheduler_claim (s, 0, 100, NULL, forever, NULL);
  AtlasRange *b;

  g_assert_cmpuint (a->end, ==, 11);
  /* a is receiving piece 0; pieces 1..10 (ten) can move: b takes five. */
  b = atlas_scheduler_claim (s, 1, 100, NULL, forever, NULL);
  g_assert_nonnull (b);
  g_assert_cmpuint (b->start, ==, 6);
  g_assert_cmpuint (b->end, ==, 11);
  g_assert_cmpuint (a->end, ==, 6);

  /* Odd remainder: a is on piece 1 with 2..5 movable (4); b on 6 with 7..10
   * movable (4); after a piece of b, b has 3 movable and a keeps 4: the
   * taker splits a and gets the larger half of an odd remainder next. */
  atlas_scheduler_piece_received (s, a);
  atlas_scheduler_piece_received (s, a); /* a on piece 2: 3..5 movable (3) */
  atlas_scheduler_piece_received (s, b); /* b on piece 7: 8..10 movable (3) */
  atlas_scheduler_piece_received (s, b); /* b on piece 8: 9..10 movable (2) */
  {
    AtlasRange *c = atlas_scheduler_claim (s, 2, 100, NULL, forever, NULL);
    /* a has the largest remainder (3): c takes the larger half, two pieces. */
    g_assert_cmpuint (c->start, ==, 4);
    g_assert_cmpuint (c->end, ==, 6);
    g_assert_cmpuint (a->end, ==, 4);
  }
  atlas_scheduler_free (s);
}

static void
test_endgame_duplicates_slowest (void)
{
  AtlasScheduler *s = atlas_scheduler_new (2);
  AtlasRange *a = atlas_scheduler_claim (s, 0, 1, NULL, forever, NULL);
  AtlasRange *b = atlas_scheduler_claim (s, 1, 1, NULL, forever, NULL);
  AtlasRange *copy;

  g_assert_cmpuint (a->start, ==, 0);
  g_assert_cmpuint (b->start, ==, 1);
  /* Nothing unclaimed and nothing splittable: source 2 copies a piece. */
  copy = atlas_scheduler_claim (s, 2, 1, NULL, forever, NULL);
  g_assert_nonnull (copy);
  g_assert_true (copy->duplicate);
  g_assert_true (copy->twin == a || copy->twin == b);
  /* Each piece is copied once at most, and never by its own source. */
  {
    AtlasRange *second = atlas_scheduler_claim (s, 3, 1, NULL, forever, NULL);
    g_assert_nonnull (second);
    g_assert_true (second->twin != copy->twin);
    g_assert_null (atlas_scheduler_claim (s, 4, 1, NULL, forever, NULL));
  }
  atlas_scheduler_free (s);
}

static void
test_copy_wins (void)
{
  AtlasScheduler *s = atlas_scheduler_new (1);
  AtlasRange *a = atlas_scheduler_claim (s, 0, 1, NULL, forever, NULL);
  AtlasRange *copy = atlas_scheduler_claim (s, 1, 1, NULL, forever, NULL);

  g_assert_true (copy->duplicate);
  g_assert_true (atlas_scheduler_piece_received (s, copy));
  atlas_scheduler_release (s, copy);
  atlas_scheduler_release (s, a);
  atlas_scheduler_piece_checked (s, 0, TRUE, 1);
  g_assert_true (atlas_scheduler_is_complete (s));
  atlas_scheduler_free (s);
}

static void
test_bad_piece_goes_elsewhere (void)
{
  AtlasScheduler *s = atlas_scheduler_new (4);
  AtlasRange *a = atlas_scheduler_claim (s, 0, 4, NULL, forever, NULL);
  AtlasRange *again;

  for (guint i = 0; i < 4; i++)
    atlas_scheduler_piece_received (s, a);
  atlas_scheduler_release (s, a);
  atlas_scheduler_piece_checked (s, 0, TRUE, 0);
  atlas_scheduler_piece_checked (s, 1, FALSE, 0);
  atlas_scheduler_piece_checked (s, 2, TRUE, 0);
  atlas_scheduler_piece_checked (s, 3, TRUE, 0);

  /* The source that sent the bad copy does not get it back... */
  g_assert_null (atlas_scheduler_claim (s, 0, 4, NULL, forever, NULL));
  /* ...another source does. */
  again = atlas_scheduler_claim (s, 1, 4, NULL, forever, NULL);
  g_assert_nonnull (again);
  g_assert_cmpuint (again->start, ==, 1);
  g_assert_cmpuint (again->end, ==, 2);
  atlas_scheduler_free (s);
}

static void
test_release_returns_unreceived (void)
{
  AtlasScheduler *s = atlas_scheduler_new (10);
  AtlasRange *a = atlas_scheduler_claim (s, 0, 10, NULL, forever, NULL);
  AtlasRange *b;

  atlas_scheduler_piece_received (s, a);
  atlas_scheduler_piece_received (s, a);
  atlas_scheduler_release (s, a); /* failed after two pieces */
  g_assert_cmpuint (atlas_scheduler_count_missing (s), ==, 8);
  b = atlas_scheduler_claim (s, 1, 10, NULL, forever, NULL);
  g_assert_cmpuint (b->start, ==, 2);
  atlas_scheduler_free (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/scheduler/claims-lowest-first", test_claims_lowest_first);
  g_test_add_func ("/scheduler/split-takes-larger-half", test_split_takes_larger_half);
  g_test_add_func ("/scheduler/endgame-duplicates-slowest", test_endgame_duplicates_slowest);
  g_test_add_func ("/scheduler/copy-wins", test_copy_wins);
  g_test_add_func ("/scheduler/bad-piece-goes-elsewhere", test_bad_piece_goes_elsewhere);
  g_test_add_func ("/scheduler/release-returns-unreceived", test_release_returns_unreceived);
  return g_test_run ();
}
