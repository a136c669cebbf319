/* Which pieces each downloader of a swarm fetches from the origin: every
 * piece has exactly one owner, shares are even, and a member joining or
 * leaving moves only its own pieces. */
#include "atlas-piece-share.h"

#include <glib.h>

#define N_PIECES 4096
#define N_MEMBERS 8

static gboolean
has (GBytes *bits, guint piece)
{
  const guint8 *data = g_bytes_get_data (bits, NULL);
  return (data[piece / 8] & (0x80 >> (piece % 8))) != 0;
}

static char *
member_id (guint i)
{
  /* Fingerprint-shaped and as close to each other as ids can be. */
  return g_strdup_printf ("sha256:%064x", i);
}

/* Every member's share as that member computes it from the others' ids. */
static void
compute_shares (char **ids, guint n, GBytes **shares)
{
  for (guint m = 0; m < n; m++)
    {
      g_autoptr (GPtrArray) others = g_ptr_array_new ();

      for (guint o = 0; o < n; o++)
        if (o != m)
          g_ptr_array_add (others, ids[o]);
      g_ptr_array_add (others, NULL);
      shares[m] = atlas_piece_share_compute (N_PIECES, ids[m], (const char *const *) others->pdata);
    }
}

static void
test_partition (void)
{
  char *ids[N_MEMBERS + 1] = { NULL };
  GBytes *shares[N_MEMBERS];

  for (guint i = 0; i < N_MEMBERS; i++)
    ids[i] = member_id (i);
  compute_shares (ids, N_MEMBERS, shares);

  for (guint piece = 0; piece < N_PIECES; piece++)
    {
      guint owners = 0;
      for (guint m = 0; m < N_MEMBERS; m++)
        owners += has (shares[m], piece);
      g_assert_cmpuint (owners, ==, 1);
    }
  /* Even: 512 each on average; rendezvous hashing stays within ±25 %. */
  for (guint m = 0; m < N_MEMBERS; m++)
    {
      guint count = 0;
      for (guint piece = 0; piece < N_PIECES; piece++)
        count += has (shares[m], piece);
      g_assert_cmpuint (count, >, N_PIECES / N_MEMBERS * 3 / 4);
      g_assert_cmpuint (count, <, N_PIECES / N_MEMBERS * 5 / 4);
    }
  for (guint m = 0; m < N_MEMBERS; m++)
    {
      g_bytes_unref (shares[m]);
      g_free (ids[m]);
    }
}

static void
test_leaving_moves_only_its_pieces (void)
{
  char *ids[N_MEMBERS + 1] = { NULL };
  GBytes *before[N_MEMBERS];
  GBytes *after[N_MEMBERS - 1];
  guint moved = 0;

  for (guint i = 0; i < N_MEMBERS; i++)
    ids[i] = member_id (i);
  compute_shares (ids, N_MEMBERS, before);
  compute_shares (ids, N_MEMBERS - 1, after); /* the last member left */

  for (guint piece = 0; piece < N_PIECES; piece++)
    for (guint m = 0; m < N_MEMBERS - 1; m++)
      {
        /* Nobody loses a piece; only the leaver's pieces find new owners. */
        if (has (before[m], piece))
          g_assert_true (has (after[m], piece));
        else if (has (after[m], piece))
          {
            g_assert_true (has (before[N_MEMBERS - 1], piece));
            moved++;
          }
      }
  g_assert_cmpuint (moved, >, 0);
  for (guint m = 0; m < N_MEMBERS; m++)
    {
      g_bytes_unref (before[m]);
      if (m < N_MEMBERS - 1)
        g_bytes_unref (after[m]);
      g_free (ids[m]);
    }
}

static void
test_alone_owns_everything (void)
{
  const char *self_only[] = { "sha256:aa", NULL };
  g_autoptr (GBytes) alone = atlas_piece_share_compute (13, "sha256:aa", NULL);
  g_autoptr (GBytes) listed = atlas_piece_share_compute (13, "sha256:aa", self_only);

  g_assert_cmpuint (g_bytes_get_size (alone), ==, 2);
  for (guint piece = 0; piece < 13; piece++)
    {
      g_assert_true (has (alone, piece));
      g_assert_true (has (listed, piece)); /* our own id among the others is ignored */
    }
  /* Bits past the last piece stay clear, as on the peer wire. */
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (alone, NULL))[1] & 0x07, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/piece-share/partition", test_partition);
  g_test_add_func ("/piece-share/leaving-moves-only-its-pieces",
                   test_leaving_moves_only_its_pieces);
  g_test_add_func ("/piece-share/alone-owns-everything", test_alone_owns_everything);
  return g_test_run ();
}
