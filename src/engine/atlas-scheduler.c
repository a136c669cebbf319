#include "atlas-scheduler.h"

#include <string.h>

typedef enum
{
  PIECE_MISSING,
  PIECE_CLAIMED,  /* inside some range, not yet received */
  PIECE_RECEIVED, /* all bytes handed to the writer, hash pending */
  PIECE_DONE,
} PieceState;

struct _AtlasScheduler
{
  guint n_pieces;
  guint8 *state;
  guint64 *tainted;    /* bit s: source s sent a bad copy of this piece */
  guint n_done;        /* DONE pieces that are wanted */
  guint n_wanted;      /* n_pieces unless a wanted set was given */
  guint8 *wanted;      /* bitfield of pieces to fetch; NULL: all of them */
  guint first_missing; /* no MISSING piece below this index */
  GPtrArray *ranges;
  guint16 *holders; /* per piece: connected peers that hold it */
  gboolean swarming;
  guint mirror_max_holders; /* in a swarm: mirrors skip pieces more peers hold */
  guint8 *mirror_share;     /* in a swarm: pieces mirrors fetch for everyone */
  GRand *rand;              /* breaks ties between equally rare pieces */
};

/* Endgame copies cost bandwidth, so only a piece that would otherwise keep
 * the download waiting this long is duplicated. */
#define ENDGAME_MIN_SECONDS 0.25

AtlasScheduler *
atlas_scheduler_new (guint n_pieces)
{
  AtlasScheduler *self = g_new0 (AtlasScheduler, 1);

  self->n_pieces = n_pieces;
  self->n_wanted = n_pieces;
  self->state = g_new0 (guint8, MAX (n_pieces, 1));
  self->tainted = g_new0 (guint64, MAX (n_pieces, 1));
  self->ranges = g_ptr_array_new_with_free_func (g_free);
  self->holders = g_new0 (guint16, MAX (n_pieces, 1));
  self->rand = g_rand_new ();
  self->mirror_max_holders = G_MAXUINT;
  return self;
}

void
atlas_scheduler_free (AtlasScheduler *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->ranges);
  g_free (self->state);
  g_free (self->tainted);
  g_free (self->holders);
  g_free (self->mirror_share);
  g_free (self->wanted);
  g_rand_free (self->rand);
  g_free (self);
}

static gboolean
bit_is_set (const guint8 *bits, guint piece)
{
  return (bits[piece / 8] & (0x80 >> (piece % 8))) != 0;
}

static gboolean
is_wanted (AtlasScheduler *self, guint piece)
{
  return self->wanted == NULL || bit_is_set (self->wanted, piece);
}

static void
set_missing (AtlasScheduler *self, guint piece)
{
  self->state[piece] = PIECE_MISSING;
  self->first_missing = MIN (self->first_missing, piece);
}

void
atlas_scheduler_mark_done (AtlasScheduler *self, guint piece)
{
  g_return_if_fail (piece < self->n_pieces);
  if (self->state[piece] != PIECE_DONE && is_wanted (self, piece))
    self->n_done++;
  self->state[piece] = PIECE_DONE;
}

gboolean
atlas_scheduler_is_done (AtlasScheduler *self, guint piece)
{
  return piece < self->n_pieces && self->state[piece] == PIECE_DONE;
}

gboolean
atlas_scheduler_is_complete (AtlasScheduler *self)
{
  return self->n_done == self->n_wanted;
}

void
atlas_scheduler_set_wanted (AtlasScheduler *self, const guint8 *bits)
{
  g_clear_pointer (&self->wanted, g_free);
  if (bits != NULL)
    self->wanted = g_memdup2 (bits, (self->n_pieces + 7) / 8);
  self->n_wanted = 0;
  self->n_done = 0;
  for (guint piece = 0; piece < self->n_pieces; piece++)
    {
      if (!is_wanted (self, piece))
        {
          /* Its bytes are being dropped: it is not ours any more. */
          if (self->state[piece] == PIECE_DONE)
            set_missing (self, piece);
          continue;
        }
      self->n_wanted++;
      self->n_done += self->state[piece] == PIECE_DONE;
    }
}

gboolean
atlas_scheduler_is_wanted (AtlasScheduler *self, guint piece)
{
  return piece < self->n_pieces && is_wanted (self, piece);
}

gboolean
atlas_scheduler_is_taken (AtlasScheduler *self, guint piece)
{
  return piece < self->n_pieces && self->state[piece] != PIECE_MISSING;
}

gboolean
atlas_scheduler_range_has_unwanted (AtlasScheduler *self, AtlasRange *range)
{
  for (guint piece = range->next; self->wanted != NULL && piece < range->end; piece++)
    if (!is_wanted (self, piece))
      return TRUE;
  return FALSE;
}

guint
atlas_scheduler_count_missing (AtlasScheduler *self)
{
  guint missing = 0;

  for (guint i = self->first_missing; i < self->n_pieces; i++)
    missing += self->state[i] == PIECE_MISSING && is_wanted (self, i);
  return missing;
}

static gboolean
is_tainted (AtlasScheduler *self, guint piece, guint source)
{
  return source < 64 && (self->tainted[piece] & (G_GUINT64_CONSTANT (1) << source)) != 0;
}

static AtlasRange *
new_range (AtlasScheduler *self, guint start, guint end, guint source, gpointer owner)
{
  AtlasRange *range = g_new0 (AtlasRange, 1);

  range->start = start;
  range->end = end;
  range->next = start;
  range->source = source;
  range->owner = owner;
  g_ptr_array_add (self->ranges, range);
  return range;
}

/* Step 1: the lowest run of missing pieces this source may fetch. */
static AtlasRange *
claim_missing (AtlasScheduler *self, guint source, guint max_pieces, gpointer owner)
{
  guint start, end;

  while (self->first_missing < self->n_pieces && self->state[self->first_missing] != PIECE_MISSING)
    self->first_missing++;

  for (start = self->first_missing; start < self->n_pieces; start++)
    if (self->state[start] == PIECE_MISSING && is_wanted (self, start)
        && !is_tainted (self, start, source))
      break;
  if (start >= self->n_pieces)
    return NULL;

  for (end = start; end < self->n_pieces && end - start < max_pieces; end++)
    {
      if (self->state[end] != PIECE_MISSING || !is_wanted (self, end)
          || is_tainted (self, end, source))
        break;
      self->state[end] = PIECE_CLAIMED;
    }
  return new_range (self, start, end, source, owner);
}

static gboolean
holds (const guint8 *bits, guint piece)
{
  return bits == NULL || bit_is_set (bits, piece);
}

/* How many pieces at the end of @range's movable part @bits holds (all of
 * them when @bits is NULL): a peer can take only what it holds. */
static guint
held_tail (AtlasRange *range, const guint8 *bits)
{
  guint rest = range->end - range->next - 1;
  guint held = 0;

  while (held < rest && holds (bits, range->end - 1 - held))
    held++;
  return held;
}

/* Step 1 for a peer, and for mirrors in a swarm: the rarest missing piece
 * that @bits holds (NULL: any), chosen uniformly among the equally rare, then
 * its neighbours while they are missing and just as rare. One pass over the
 * pieces: a claim covers a second of transfer, so this is cheap even for
 * 100,000 pieces. */
static AtlasRange *
claim_rarest (AtlasScheduler *self, guint source, const guint8 *bits, guint max_pieces,
              guint max_holders, gpointer owner)
{
  guint best = G_MAXUINT;
  guint best_holders = G_MAXUINT;
  guint ties = 0;
  guint end;

  while (self->first_missing < self->n_pieces && self->state[self->first_missing] != PIECE_MISSING)
    self->first_missing++;

  for (guint piece = self->first_missing; piece < self->n_pieces; piece++)
    {
      if (self->state[piece] != PIECE_MISSING || !is_wanted (self, piece) || !holds (bits, piece)
          || is_tainted (self, piece, source) || self->holders[piece] > max_holders)
        continue;
      if (self->holders[piece] < best_holders)
        {
          best = piece;
          best_holders = self->holders[piece];
          ties = 1;
        }
      else if (self->holders[piece] == best_holders
               && g_rand_int_range (self->rand, 0, (gint32) ++ties) == 0)
        best = piece;
    }
  if (best == G_MAXUINT)
    return NULL;

  for (end = best; end < self->n_pieces && end - best < max_pieces; end++)
    {
      if (self->state[end] != PIECE_MISSING || !is_wanted (self, end) || !holds (bits, end)
          || is_tainted (self, end, source) || self->holders[end] != best_holders)
        break;
      self->state[end] = PIECE_CLAIMED;
    }
  return new_range (self, best, end, source, owner);
}

/* Step 2: the larger half of the largest range still being fetched (of
 * those whose tail @bits holds). */
static AtlasRange *
claim_split (AtlasScheduler *self, guint source, const guint8 *bits, gpointer owner)
{
  AtlasRange *largest = NULL;
  guint largest_take = 0;

  for (guint i = 0; i < self->ranges->len; i++)
    {
      AtlasRange *range = g_ptr_array_index (self->ranges, i);
      guint take;

      if (range->duplicate || range->twin != NULL || range->next >= range->end
          || atlas_scheduler_range_has_unwanted (self, range))
        continue;
      /* A mirror deferring to peers leaves what they fetch to them. */
      if (bits == NULL && range->held && self->mirror_max_holders == 0)
        continue;
      /* The piece in progress stays with its owner; the larger half of the
       * rest can move, as far as the taker holds it. */
      take = MIN ((range->end - range->next) / 2, held_tail (range, bits));
      if (take > largest_take)
        {
          largest = range;
          largest_take = take;
        }
    }
  if (largest == NULL)
    return NULL;

  largest->end -= largest_take;
  return new_range (self, largest->end, largest->end + largest_take, source, owner);
}

/* Step 3: endgame — a second copy of the piece that will take longest. */
static AtlasRange *
claim_duplicate (AtlasScheduler *self, guint source, const guint8 *bits, gpointer owner,
                 AtlasRangeTimeFunc time_left, gpointer user_data)
{
  AtlasRange *slowest = NULL;
  double slowest_time = ENDGAME_MIN_SECONDS;
  gboolean spare_peers =
      bits == NULL && self->mirror_max_holders == 0 && atlas_scheduler_count_missing (self) > 0;
  AtlasRange *copy;

  for (guint i = 0; i < self->ranges->len; i++)
    {
      AtlasRange *range = g_ptr_array_index (self->ranges, i);
      double seconds;

      /* A mirror deferring to peers copies their pieces only once nothing
       * is left unclaimed: before that, peers will fetch what is missing
       * and a copy would cost the origin what a peer sends anyway. */
      if (spare_peers && range->held)
        continue;
      if (range->duplicate || range->twin != NULL || range->source == source
          || range->next >= range->end || self->state[range->next] != PIECE_CLAIMED
          || !is_wanted (self, range->next) || is_tainted (self, range->next, source)
          || !holds (bits, range->next))
        continue;
      seconds = time_left != NULL ? time_left (range, user_data) : G_MAXDOUBLE;
      if (seconds > slowest_time)
        {
          slowest = range;
          slowest_time = seconds;
        }
    }
  if (slowest == NULL)
    return NULL;

  copy = new_range (self, slowest->next, slowest->next + 1, source, owner);
  copy->duplicate = TRUE;
  copy->twin = slowest;
  slowest->twin = copy;
  return copy;
}

AtlasRange *
atlas_scheduler_claim (AtlasScheduler *self, guint source, guint max_pieces, gpointer owner,
                       AtlasRangeTimeFunc time_left, gpointer user_data)
{
  AtlasRange *range;

  max_pieces = MAX (max_pieces, 1);
  if (!self->swarming)
    range = claim_missing (self, source, max_pieces, owner);
  else if (self->mirror_share == NULL)
    range = claim_rarest (self, source, NULL, max_pieces, self->mirror_max_holders, owner);
  else
    {
      range = claim_rarest (self, source, self->mirror_share, max_pieces, self->mirror_max_holders,
                            owner);
      /* Others' shares too, unless peers are doing the spreading well. */
      if (range == NULL && self->mirror_max_holders != 0)
        range = claim_rarest (self, source, NULL, max_pieces, self->mirror_max_holders, owner);
    }
  if (range == NULL)
    range = claim_split (self, source, NULL, owner);
  if (range == NULL)
    range = claim_duplicate (self, source, NULL, owner, time_left, user_data);
  return range;
}

AtlasRange *
atlas_scheduler_claim_held (AtlasScheduler *self, guint source, const guint8 *bits,
                            guint max_pieces, gpointer owner, AtlasRangeTimeFunc time_left,
                            gpointer user_data)
{
  AtlasRange *range;

  g_return_val_if_fail (bits != NULL, NULL);

  range = claim_rarest (self, source, bits, MAX (max_pieces, 1), G_MAXUINT, owner);
  if (range == NULL)
    range = claim_split (self, source, bits, owner);
  if (range == NULL)
    range = claim_duplicate (self, source, bits, owner, time_left, user_data);
  if (range != NULL)
    range->held = TRUE;
  return range;
}

void
atlas_scheduler_set_swarming (AtlasScheduler *self, gboolean swarming, guint32 seed)
{
  self->swarming = swarming;
  g_rand_set_seed (self->rand, seed);
}

void
atlas_scheduler_set_mirror_max_holders (AtlasScheduler *self, guint max_holders)
{
  self->mirror_max_holders = max_holders;
}

guint
atlas_scheduler_get_mirror_max_holders (AtlasScheduler *self)
{
  return self->mirror_max_holders;
}

void
atlas_scheduler_set_mirror_share (AtlasScheduler *self, const guint8 *bits)
{
  g_clear_pointer (&self->mirror_share, g_free);
  if (bits != NULL)
    self->mirror_share = g_memdup2 (bits, (self->n_pieces + 7) / 8);
}

static void
count_holders (AtlasScheduler *self, const guint8 *bits, int delta)
{
  for (guint piece = 0; piece < self->n_pieces; piece++)
    if (bit_is_set (bits, piece))
      self->holders[piece] = (guint16) CLAMP ((int) self->holders[piece] + delta, 0, G_MAXUINT16);
}

void
atlas_scheduler_add_holder (AtlasScheduler *self, const guint8 *bits)
{
  count_holders (self, bits, 1);
}

void
atlas_scheduler_remove_holder (AtlasScheduler *self, const guint8 *bits)
{
  count_holders (self, bits, -1);
}

void
atlas_scheduler_add_holder_piece (AtlasScheduler *self, guint piece)
{
  g_return_if_fail (piece < self->n_pieces);
  if (self->holders[piece] < G_MAXUINT16)
    self->holders[piece]++;
}

void
atlas_scheduler_remove_holder_piece (AtlasScheduler *self, guint piece)
{
  g_return_if_fail (piece < self->n_pieces);
  if (self->holders[piece] > 0)
    self->holders[piece]--;
}

guint
atlas_scheduler_get_holders (AtlasScheduler *self, guint piece)
{
  g_return_val_if_fail (piece < self->n_pieces, 0);
  return self->holders[piece];
}

gboolean
atlas_scheduler_piece_received (AtlasScheduler *self, AtlasRange *range)
{
  g_return_val_if_fail (range->next < range->end, TRUE);

  /* A piece another source completed meanwhile stays done: counted twice it
   * would make the download look complete while a piece is missing. */
  if (self->state[range->next] != PIECE_DONE)
    self->state[range->next] = PIECE_RECEIVED;
  range->next++;
  return range->next >= range->end;
}

void
atlas_scheduler_piece_checked (AtlasScheduler *self, guint piece, gboolean good, guint source)
{
  g_return_if_fail (piece < self->n_pieces);

  if (good)
    {
      atlas_scheduler_mark_done (self, piece);
      return;
    }
  if (source < 64)
    self->tainted[piece] |= G_GUINT64_CONSTANT (1) << source;
  if (self->state[piece] == PIECE_DONE && is_wanted (self, piece))
    self->n_done--;
  set_missing (self, piece);
}

void
atlas_scheduler_release (AtlasScheduler *self, AtlasRange *range)
{
  AtlasRange *twin = range->twin;

  if (twin != NULL)
    {
      /* The piece in progress lives on in the other copy, which becomes an
       * ordinary range again. */
      twin->twin = NULL;
      twin->duplicate = FALSE;
      if (range->duplicate)
        {
          g_ptr_array_remove (self->ranges, range);
          return;
        }
      /* The original stops: give the twin everything after the shared piece. */
      twin->end = MAX (twin->end, range->end);
      g_ptr_array_remove (self->ranges, range);
      return;
    }

  for (guint piece = range->next; piece < range->end; piece++)
    if (self->state[piece] == PIECE_CLAIMED)
      set_missing (self, piece);
  g_ptr_array_remove (self->ranges, range);
}

gboolean
atlas_scheduler_forgive (AtlasScheduler *self)
{
  gboolean forgiven = FALSE;

  for (guint i = self->first_missing; i < self->n_pieces; i++)
    if (self->state[i] == PIECE_MISSING && self->tainted[i] != 0)
      {
        self->tainted[i] = 0;
        forgiven = TRUE;
      }
  return forgiven;
}
