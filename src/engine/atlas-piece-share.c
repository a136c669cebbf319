#include "atlas-piece-share.h"

#include <string.h>

/* FNV-1a: ids are certificate fingerprints, already uniformly spread, so a
 * cheap string hash is enough; the per-piece mixing does the rest. */
static guint64
id_hash (const char *id)
{
  guint64 hash = 0xcbf29ce484222325ULL;

  for (const char *p = id; *p != '\0'; p++)
    hash = (hash ^ (guchar) *p) * 0x100000001b3ULL;
  return hash;
}

/* The splitmix64 finaliser: every input bit changes about half the output
 * bits, so neighbouring pieces get unrelated owners. */
static guint64
mix (guint64 value)
{
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

static guint64
score (guint64 member, guint piece)
{
  return mix (member ^ mix ((guint64) piece + 0x9e3779b97f4a7c15ULL));
}

GBytes *
atlas_piece_share_compute (guint n_pieces, const char *own_id, const char *const *others)
{
  gsize n_bytes = (n_pieces + 7) / 8;
  guint8 *bits = g_malloc0 (MAX (n_bytes, 1));
  guint64 own = id_hash (own_id);
  g_autoptr (GArray) hashes = g_array_new (FALSE, FALSE, sizeof (guint64));

  for (guint i = 0; others != NULL && others[i] != NULL; i++)
    if (strcmp (others[i], own_id) != 0)
      {
        guint64 hash = id_hash (others[i]);
        g_array_append_val (hashes, hash);
      }

  for (guint piece = 0; piece < n_pieces; piece++)
    {
      guint64 mine = score (own, piece);
      gboolean owned = TRUE;

      /* Equal 64-bit scores are as good as impossible; both sides would
       * then fetch the piece, which costs bandwidth, never correctness. */
      for (guint i = 0; i < hashes->len && owned; i++)
        owned = score (g_array_index (hashes, guint64, i), piece) <= mine;
      if (owned)
        bits[piece / 8] |= 0x80 >> (piece % 8);
    }
  return g_bytes_new_take (bits, n_bytes);
}
