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

static void
set_bit (guint8 *bits, guint piece)
{
  bits[piece / 8] |= 0x80 >> (piece % 8);
}

static void
test_peer_takes_rarest_it_holds (void)
{
  AtlasScheduler *s = atlas_scheduler_new (16);
  guint8 everything[2] = { 0xff, 0xff };
  guint8 peer[2] = { 0, 0 };
  guint8 others[2] = { 0, 0 };
  AtlasRange *range;

  /* The peer holds 3, 4, 5 and 9; two other peers hold 3, 4 and 9, so 5 is
   * the rarest piece it can give us. */
  for (guint p = 3; p <= 5; p++)
    set_bit (peer, p);
  set_bit (peer, 9);
  set_bit (others, 3);
  set_bit (others, 4);
  set_bit (others, 9);
  atlas_scheduler_add_holder (s, peer);
  atlas_scheduler_add_holder (s, others);
  atlas_scheduler_add_holder (s, others);
  g_assert_cmpuint (atlas_scheduler_get_holders (s, 5), ==, 1);
  g_assert_cmpuint (atlas_scheduler_get_holders (s, 9), ==, 3);

  range = atlas_scheduler_claim_held (s, 1, peer, 8, NULL, forever, NULL);
  g_assert_nonnull (range);
  g_assert_cmpuint (range->start, ==, 5);
  g_assert_cmpuint (range->end, ==, 6);

  /* Next come 3 and 4 (three holders, equally rare) before 9 (three holders
   * too, but it ties: all that matters is that only held pieces are taken). */
  range = atlas_scheduler_claim_held (s, 1, peer, 8, NULL, forever, NULL);
  g_assert_true (range->start == 3 || range->start == 4 || range->start == 9);
  for (guint p = range->start; p < range->end; p++)
    g_assert_true (p == 3 || p == 4 || p == 9);

  /* A peer holding nothing we miss gets nothing (and no piece it lacks). */
  atlas_scheduler_remove_holder (s, others);
  g_assert_cmpuint (atlas_scheduler_get_holders (s, 3), ==, 2);
  g_assert_null (atlas_scheduler_claim_held (s, 2, (guint8[2]){ 0, 0 }, 8, NULL, forever, NULL));
  (void) everything;
  atlas_scheduler_free (s);
}

static double
quick (AtlasRange *range, gpointer data)
{
  return 0.1;
}

static void
test_peer_split_only_held (void)
{
  AtlasScheduler *s = atlas_scheduler_new (8);
  guint8 low_half[1] = { 0xf0 }; /* pieces 0..3 */
  AtlasRange *mirror = atlas_scheduler_claim (s, 0, 8, NULL, quick, NULL);
  AtlasRange *peer;

  /* The mirror holds all eight pieces in one range; a split would move its
   * tail (4..7), which the peer lacks, and the mirror is quick, so the peer
   * gets nothing rather than a piece it does not hold. */
  g_assert_cmpuint (mirror->end, ==, 8);
  g_assert_null (atlas_scheduler_claim_held (s, 1, low_half, 8, NULL, quick, NULL));

  /* The mirror is down to 0..3 (receiving 0): the peer takes the larger
   * half of 1..3 it holds, pieces 2 and 3. */
  atlas_scheduler_release (s, mirror);
  mirror = atlas_scheduler_claim (s, 0, 4, NULL, quick, NULL);
  g_assert_cmpuint (mirror->end, ==, 4);
  peer = atlas_scheduler_claim_held (s, 1, low_half, 8, NULL, quick, NULL);
  g_assert_nonnull (peer);
  g_assert_cmpuint (peer->start, ==, 2);
  g_assert_cmpuint (peer->end, ==, 4);
  g_assert_cmpuint (mirror->end, ==, 2);

  /* Each range is down to its piece in progress (mirror 1, peer 3): another
   * peer holding the slow mirror's piece makes an endgame copy of it. */
  atlas_scheduler_piece_received (s, mirror);
  atlas_scheduler_piece_received (s, peer);
  peer = atlas_scheduler_claim_held (s, 2, low_half, 8, NULL, forever, NULL);
  g_assert_nonnull (peer);
  g_assert_true (peer->duplicate);
  g_assert_cmpuint (peer->start, ==, 1);
  atlas_scheduler_free (s);
}

static void
test_swarming_mirrors_spread (void)
{
  guint8 held[2] = { 0xff, 0x00 }; /* a peer holds pieces 0..7 of 16 */
  guint starts[2];

  /* Two downloaders of the same file, each with its own seed: their mirrors
   * first take pieces no peer holds (8..15), and not the same ones. */
  for (guint d = 0; d < 2; d++)
    {
      AtlasScheduler *s = atlas_scheduler_new (16);
      AtlasRange *range;

      atlas_scheduler_add_holder (s, held);
      atlas_scheduler_set_swarming (s, TRUE, 1000 + d * 7);
      range = atlas_scheduler_claim (s, 0, 1, NULL, forever, NULL);
      g_assert_cmpuint (range->start, >=, 8);
      starts[d] = range->start;
      /* Every piece nobody holds comes before any that a peer holds. */
      for (guint i = 0; i < 7; i++)
        g_assert_cmpuint (atlas_scheduler_claim (s, 0, 1, NULL, forever, NULL)->start, >=, 8);
      g_assert_cmpuint (atlas_scheduler_claim (s, 0, 1, NULL, forever, NULL)->start, <, 8);
      atlas_scheduler_free (s);
    }
  g_assert_cmpuint (starts[0], !=, starts[1]);
}

static void
test_mirror_share_first (void)
{
  guint8 share[2] = { 0xf0, 0x00 }; /* our share: pieces 0..3 of 16 */
  AtlasScheduler *s = atlas_scheduler_new (16);
  AtlasRange *range;

  atlas_scheduler_set_swarming (s, TRUE, 7);
  atlas_scheduler_set_mirror_share (s, share);
  /* Peers outpace mirrors: mirrors fetch our share and nothing else. */
  atlas_scheduler_set_mirror_max_holders (s, 0);
  for (guint i = 0; i < 4; i++)
    {
      range = atlas_scheduler_claim (s, 0, 1, NULL, forever, NULL);
      g_assert_nonnull (range);
      g_assert_cmpuint (range->start, <, 4);
    }
  g_assert_null (atlas_scheduler_claim (s, 0, 1, NULL, forever, NULL));
  /* Peers fall behind: mirrors take the rest too. */
  atlas_scheduler_set_mirror_max_holders (s, G_MAXUINT);
  range = atlas_scheduler_claim (s, 0, 1, NULL, forever, NULL);
  g_assert_nonnull (range);
  g_assert_cmpuint (range->start, >=, 4);
  atlas_scheduler_free (s);
}

static void
test_mirror_spares_peers (void)
{
  guint8 held[1] = { 0xf0 };  /* a peer holds pieces 0..3 of 8 */
  guint8 share[1] = { 0x00 }; /* the others' shares are all of it */
  AtlasScheduler *s = atlas_scheduler_new (8);
  AtlasRange *range;
  guint peer_ranges = 0;

  atlas_scheduler_set_swarming (s, TRUE, 11);
  atlas_scheduler_set_mirror_share (s, share);
  atlas_scheduler_add_holder (s, held);
  while ((range = atlas_scheduler_claim_held (s, 1, held, 2, NULL, forever, NULL)) != NULL
         && !range->duplicate)
    peer_ranges++;
  g_assert_cmpuint (peer_ranges, >=, 2);

  /* While pieces are missing that peers will bring, a mirror neither splits
   * a peer's range nor copies its piece: the origin would send it twice. */
  atlas_scheduler_set_mirror_max_holders (s, 0);
  g_assert_null (atlas_scheduler_claim (s, 2, 1, NULL, forever, NULL));

  /* Peers fall behind: the mirror fetches what nobody holds (4..7). */
  atlas_scheduler_set_mirror_max_holders (s, G_MAXUINT);
  for (guint i = 0; i < 4; i++)
    {
      range = atlas_scheduler_claim (s, 2, 1, NULL, forever, NULL);
      g_assert_cmpuint (range->start, >=, 4);
    }
  g_assert_cmpuint (atlas_scheduler_count_missing (s), ==, 0);

  /* Nothing left unclaimed: the real endgame, where a copy of a slow
   * peer's piece is what gets the user their file sooner. */
  atlas_scheduler_set_mirror_max_holders (s, 0);
  range = atlas_scheduler_claim (s, 3, 1, NULL, forever, NULL);
  g_assert_nonnull (range);
  g_assert_true (range->duplicate);
  atlas_scheduler_free (s);
}

/* Pieces 0, 2, 3 and 9 of 12 are wanted (bitfield, most significant first). */
static const guint8 some_wanted[] = { 0xb0, 0x40 };

/* A partial download: nobody claims, splits or copies an unwanted piece, and
 * it is complete once every wanted piece is done. */
static void
test_wanted_only (void)
{
  AtlasScheduler *s = atlas_scheduler_new (12);
  static const guint8 all_bits[] = { 0xff, 0xf0 };
  AtlasRange *ranges[8];
  guint n = 0;

  atlas_scheduler_set_wanted (s, some_wanted);
  g_assert_cmpuint (atlas_scheduler_count_missing (s), ==, 4);
  g_assert_false (atlas_scheduler_is_complete (s));

  /* Mirrors and a peer holding everything claim; each claim, split and
   * endgame copy covers wanted pieces only. */
  while (n < G_N_ELEMENTS (ranges))
    {
      AtlasRange *range =
          n % 2 ? atlas_scheduler_claim (s, n, 100, NULL, forever, NULL)
                : atlas_scheduler_claim_held (s, n, all_bits, 100, NULL, forever, NULL);
      if (range == NULL)
        break;
      for (guint piece = range->next; piece < range->end; piece++)
        g_assert_true (atlas_scheduler_is_wanted (s, piece));
      ranges[n++] = range;
    }
  g_assert_cmpuint (n, >=, 3);
  g_assert_cmpuint (atlas_scheduler_count_missing (s), ==, 0);

  for (guint piece = 0; piece < 12; piece++)
    if (atlas_scheduler_is_wanted (s, piece))
      atlas_scheduler_mark_done (s, piece);
  g_assert_true (atlas_scheduler_is_complete (s));
  for (guint piece = 0; piece < 12; piece++)
    g_assert_cmpint (atlas_scheduler_is_done (s, piece), ==, atlas_scheduler_is_wanted (s, piece));
  atlas_scheduler_free (s);
}

/* Changing the wanted set: dropped pieces stop counting, new ones are
 * fetched, a range over a dropped piece is flagged for release and its
 * pieces are not handed out again. */
static void
test_wanted_changes (void)
{
  AtlasScheduler *s = atlas_scheduler_new (12);
  static const guint8 later[] = { 0x30, 0x10 }; /* 2, 3 and 11 */
  AtlasRange *a;
  AtlasRange *b;

  atlas_scheduler_set_wanted (s, some_wanted);
  atlas_scheduler_mark_done (s, 0);
  a = atlas_scheduler_claim (s, 0, 100, NULL, forever, NULL);
  g_assert_cmpuint (a->start, ==, 2);
  g_assert_cmpuint (a->end, ==, 4);

  atlas_scheduler_set_wanted (s, later);
  /* Piece 0 was done: it is dropped. Piece 9 was never claimed. */
  g_assert_false (atlas_scheduler_is_done (s, 0));
  g_assert_false (atlas_scheduler_range_has_unwanted (s, a));
  g_assert_cmpuint (atlas_scheduler_count_missing (s), ==, 1);
  b = atlas_scheduler_claim (s, 1, 100, NULL, forever, NULL);
  g_assert_nonnull (b);
  g_assert_cmpuint (b->start, ==, 11);
  g_assert_cmpuint (b->end, ==, 12);

  /* Now 3 is dropped while a (2..3) fetches it. */
  atlas_scheduler_set_wanted (s, (const guint8[]){ 0x20, 0x10 });
  g_assert_true (atlas_scheduler_range_has_unwanted (s, a));
  atlas_scheduler_piece_received (s, a);
  atlas_scheduler_release (s, a);
  g_assert_cmpuint (atlas_scheduler_count_missing (s), ==, 0);
  /* What is left to hand out is an endgame copy of 11, never 3. */
  {
    AtlasRange *c = atlas_scheduler_claim (s, 2, 100, NULL, forever, NULL);
    g_assert_nonnull (c);
    g_assert_true (c->duplicate);
    g_assert_cmpuint (c->start, ==, 11);
  }
  atlas_scheduler_mark_done (s, 2);
  atlas_scheduler_mark_done (s, 11);
  g_assert_true (atlas_scheduler_is_complete (s));

  /* Everything wanted again (NULL): a whole download. */
  atlas_scheduler_set_wanted (s, NULL);
  g_assert_false (atlas_scheduler_is_complete (s));
  g_assert_cmpuint (atlas_scheduler_count_missing (s), ==, 10);
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
  g_test_add_func ("/scheduler/peer-takes-rarest-it-holds", test_peer_takes_rarest_it_holds);
  g_test_add_func ("/scheduler/peer-split-only-held", test_peer_split_only_held);
  g_test_add_func ("/scheduler/swarming-mirrors-spread", test_swarming_mirrors_spread);
  g_test_add_func ("/scheduler/mirror-share-first", test_mirror_share_first);
  g_test_add_func ("/scheduler/mirror-spares-peers", test_mirror_spares_peers);
  g_test_add_func ("/scheduler/wanted-only", test_wanted_only);
  g_test_add_func ("/scheduler/wanted-changes", test_wanted_changes);
  return g_test_run ();
}
