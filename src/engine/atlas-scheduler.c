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
  guint64 *tainted; /* bit s: source s sent a bad copy of this piece */
  guint n_done;
  guint first_missing; /* no MISSING piece below this index */
  GPtrArray *ranges;
};

/* Endgame copies cost bandwidth, so only a piece that would otherwise keep
 * the download waiting this long is duplicated. */
#define ENDGAME_MIN_SECONDS 0.25

AtlasScheduler *
atlas_scheduler_new (guint n_pieces)
{
  AtlasScheduler *self = g_new0 (AtlasScheduler, 1);

  self->n_pieces = n_pieces;
  self->state = g_new0 (guint8, MAX (n_pieces, 1));
  self->tainted = g_new0 (guint64, MAX (n_pieces, 1));
  self->ranges = g_ptr_array_new_with_free_func (g_free);
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
  g_free (self);
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
  if (self->state[piece] != PIECE_DONE)
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
  return self->n_done == self->n_pieces;
}

guint
atlas_scheduler_count_missing (AtlasScheduler *self)
{
  guint missing = 0;

  for (guint i = self->first_missing; i < self->n_pieces; i++)
    missing += self->state[i] == PIECE_MISSING;
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
    if (self->state[start] == PIECE_MISSING && !is_tainted (self, start, source))
      break;
  if (start >= self->n_pieces)
    return NULL;

  for (end = start; end < self->n_pieces && end - start < max_pieces; end++)
    {
      if (self->state[end] != PIECE_MISSING || is_tainted (self, end, source))
        break;
      self->state[end] = PIECE_CLAIMED;
    }
  return new_range (self, start, end, source, owner);
}

/* Step 2: the larger half of the largest range still being fetched. */
static AtlasRange *
claim_split (AtlasScheduler *self, guint source, gpointer owner)
{
  AtlasRange *largest = NULL;
  guint largest_rest = 0;
  guint take;

  for (guint i = 0; i < self->ranges->len; i++)
    {
      AtlasRange *range = g_ptr_array_index (self->ranges, i);
      /* The piece in progress stays with its owner; the rest can move. */
      guint rest = range->end - range->next - 1;

      if (range->duplicate || range->twin != NULL || range->next >= range->end)
        continue;
      if (rest > largest_rest)
        {
          largest = range;
          largest_rest = rest;
        }
    }
  if (largest == NULL)
    return NULL;

  take = (largest_rest + 1) / 2;
  largest->end -= take;
  return new_range (self, largest->end, largest->end + take, source, owner);
}

/* Step 3: endgame — a second copy of the piece that will take longest. */
static AtlasRange *
claim_duplicate (AtlasScheduler *self, guint source, gpointer owner, AtlasRangeTimeFunc time_left,
                 gpointer user_data)
{
  AtlasRange *slowest = NULL;
  double slowest_time = ENDGAME_MIN_SECONDS;
  AtlasRange *copy;

  for (guint i = 0; i < self->ranges->len; i++)
    {
      AtlasRange *range = g_ptr_array_index (self->ranges, i);
      double seconds;

      if (range->duplicate || range->twin != NULL || range->source == source
          || range->next >= range->end || self->state[range->next] != PIECE_CLAIMED
          || is_tainted (self, range->next, source))
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

  range = claim_missing (self, source, MAX (max_pieces, 1), owner);
  if (range == NULL)
    range = claim_split (self, source, owner);
  if (range == NULL)
    range = claim_duplicate (self, source, owner, time_left, user_data);
  return range;
}

gboolean
atlas_scheduler_piece_received (AtlasScheduler *self, AtlasRange *range)
{
  g_return_val_if_fail (range->next < range->end, TRUE);

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
  if (self->state[piece] == PIECE_DONE)
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
