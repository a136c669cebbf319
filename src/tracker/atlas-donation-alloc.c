/* atlas-donation-alloc.c — the coordinator's allocation of pieces to donors.
 *
 * docs/donation.md explains the policy; this file is its implementation. One
 * run has four steps:
 *  1. every piece's shortfall (demand minus non-donor supply);
 *  2. stickiness: holdings that are still wanted are kept, the most wanted
 *     first, as long as the donor's storage allows;
 *  3. greedy: the piece with the largest remaining shortfall gets one copy
 *     on the eligible donor with the most free storage, repeated;
 *  4. repair: augmenting paths (move a piece from a full donor to one with
 *     room, so the full donor can take a piece only it may hold), which
 *     makes the result a maximum flow when pieces share one length, or
 *     within 2 % of it when reaching it would move pieces donors hold.
 * Every copy a donor holds counts one unit of demand met, because a piece
 * never gets more donor copies than its shortfall.
 */
#include "atlas-donation-alloc.h"

#include <math.h>
#include <string.h>

#define BITS_PER_WORD 64

typedef struct
{
  guint32 n_pieces;
  guint64 piece_length;
  guint n_words;
  guint32 *demand;
  guint32 *supply;

  /* State of the last run. */
  guint32 *shortfall;
  guint32 *remaining;
  guint32 *copies;
  GArray *eligible; /* guint donor indices, ascending */
  gboolean exhausted;
} Entry;

typedef struct
{
  guint64 storage;
  GArray *allowed;   /* guint entry indices */
  GPtrArray *held;   /* guint64 bitfield per entry, or NULL */
  GPtrArray *assign; /* guint64 bitfield per entry, or NULL */
  GArray *counts;    /* guint32 assigned pieces per entry */
  guint64 used;
  guint64 copies;
  gboolean *eligible; /* per entry, during a run */
  guint n_eligible;
} Donor;

struct _AtlasDonationAlloc
{
  GPtrArray *entries;
  GPtrArray *donors;
  guint64 demand_met;
  guint64 total_copies;
  /* Repair: whether it may move pieces donors hold already, and the demand
   * met at which it stops. */
  gboolean move_held;
  guint64 target;
};

/* A piece in the greedy queue. */
typedef struct
{
  guint32 entry;
  guint32 piece;
} PieceRef;

static int
compare_guint32 (gconstpointer a, gconstpointer b, gpointer user_data)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;

  return (x > y) - (x < y);
}

static inline gboolean
bit_get (const guint64 *bits, guint32 i)
{
  return bits != NULL && (bits[i / BITS_PER_WORD] >> (i % BITS_PER_WORD)) & 1;
}

static inline void
bit_set (guint64 *bits, guint32 i)
{
  bits[i / BITS_PER_WORD] |= G_GUINT64_CONSTANT (1) << (i % BITS_PER_WORD);
}

static inline void
bit_clear (guint64 *bits, guint32 i)
{
  bits[i / BITS_PER_WORD] &= ~(G_GUINT64_CONSTANT (1) << (i % BITS_PER_WORD));
}

static void
entry_free (Entry *entry)
{
  g_free (entry->demand);
  g_free (entry->supply);
  g_free (entry->shortfall);
  g_free (entry->remaining);
  g_free (entry->copies);
  g_clear_pointer (&entry->eligible, g_array_unref);
  g_free (entry);
}

static void
donor_free (Donor *donor)
{
  g_array_unref (donor->allowed);
  g_ptr_array_unref (donor->held);
  g_ptr_array_unref (donor->assign);
  g_array_unref (donor->counts);
  g_free (donor->eligible);
  g_free (donor);
}

AtlasDonationAlloc *
atlas_donation_alloc_new (void)
{
  AtlasDonationAlloc *self = g_new0 (AtlasDonationAlloc, 1);

  self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  self->donors = g_ptr_array_new_with_free_func ((GDestroyNotify) donor_free);
  return self;
}

void
atlas_donation_alloc_free (AtlasDonationAlloc *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->donors);
  g_ptr_array_unref (self->entries);
  g_free (self);
}

static inline Entry *
get_entry (AtlasDonationAlloc *self, guint entry)
{
  return g_ptr_array_index (self->entries, entry);
}

static inline Donor *
get_donor (AtlasDonationAlloc *self, guint donor)
{
  return g_ptr_array_index (self->donors, donor);
}

guint
atlas_donation_alloc_add_entry (AtlasDonationAlloc *self, guint32 n_pieces, guint64 piece_length)
{
  Entry *entry;

  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (piece_length > 0, 0);

  entry = g_new0 (Entry, 1);
  entry->n_pieces = n_pieces;
  entry->piece_length = piece_length;
  entry->n_words = (n_pieces + BITS_PER_WORD - 1) / BITS_PER_WORD;
  entry->demand = g_new0 (guint32, n_pieces);
  entry->supply = g_new0 (guint32, n_pieces);
  entry->shortfall = g_new0 (guint32, n_pieces);
  entry->remaining = g_new0 (guint32, n_pieces);
  entry->copies = g_new0 (guint32, n_pieces);
  entry->eligible = g_array_new (FALSE, FALSE, sizeof (guint));
  g_ptr_array_add (self->entries, entry);
  return self->entries->len - 1;
}

void
atlas_donation_alloc_set_piece (AtlasDonationAlloc *self, guint entry, guint32 piece, guint demand,
                                guint supply)
{
  Entry *e;

  g_return_if_fail (self != NULL && entry < self->entries->len);
  e = get_entry (self, entry);
  g_return_if_fail (piece < e->n_pieces);
  e->demand[piece] = MIN (demand, G_MAXUINT32);
  e->supply[piece] = MIN (supply, G_MAXUINT32);
}

guint
atlas_donation_alloc_add_donor (AtlasDonationAlloc *self, guint64 storage)
{
  Donor *donor;

  g_return_val_if_fail (self != NULL, 0);

  donor = g_new0 (Donor, 1);
  donor->storage = storage;
  donor->allowed = g_array_new (FALSE, FALSE, sizeof (guint));
  donor->held = g_ptr_array_new_with_free_func (g_free);
  donor->assign = g_ptr_array_new_with_free_func (g_free);
  donor->counts = g_array_new (FALSE, TRUE, sizeof (guint32));
  g_ptr_array_add (self->donors, donor);
  return self->donors->len - 1;
}

void
atlas_donation_alloc_donor_allow (AtlasDonationAlloc *self, guint donor, guint entry)
{
  g_return_if_fail (self != NULL && donor < self->donors->len);
  g_return_if_fail (entry < self->entries->len);
  g_array_append_val (get_donor (self, donor)->allowed, entry);
}

/* Entries may be added after a donor, so per-entry arrays grow on demand. */
static guint64 *
donor_bits (AtlasDonationAlloc *self, GPtrArray *bits, guint entry, gboolean create)
{
  if (bits->len <= entry)
    {
      if (!create)
        return NULL;
      g_ptr_array_set_size (bits, self->entries->len);
    }
  if (g_ptr_array_index (bits, entry) == NULL && create)
    g_ptr_array_index (bits, entry) = g_new0 (guint64, get_entry (self, entry)->n_words);
  return g_ptr_array_index (bits, entry);
}

void
atlas_donation_alloc_donor_holds (AtlasDonationAlloc *self, guint donor, guint entry, guint32 piece)
{
  g_return_if_fail (self != NULL && donor < self->donors->len);
  g_return_if_fail (entry < self->entries->len);
  g_return_if_fail (piece < get_entry (self, entry)->n_pieces);
  bit_set (donor_bits (self, get_donor (self, donor)->held, entry, TRUE), piece);
}

/* ------------------------------------------------------------------ a run */

static void
assign_piece (AtlasDonationAlloc *self, guint d, guint e, guint32 piece)
{
  Donor *donor = get_donor (self, d);
  Entry *entry = get_entry (self, e);

  bit_set (donor_bits (self, donor->assign, e, TRUE), piece);
  g_array_index (donor->counts, guint32, e)++;
  donor->used += entry->piece_length;
  donor->copies++;
  entry->remaining[piece]--;
  entry->copies[piece]++;
  self->total_copies++;
}

static void
reset_run (AtlasDonationAlloc *self)
{
  guint n_entries = self->entries->len;

  self->total_copies = 0;
  for (guint e = 0; e < n_entries; e++)
    {
      Entry *entry = get_entry (self, e);

      for (guint32 p = 0; p < entry->n_pieces; p++)
        {
          guint32 s = entry->demand[p] > entry->supply[p] ? entry->demand[p] - entry->supply[p] : 0;

          entry->shortfall[p] = s;
          entry->remaining[p] = s;
          entry->copies[p] = 0;
        }
      g_array_set_size (entry->eligible, 0);
      entry->exhausted = FALSE;
    }

  for (guint d = 0; d < self->donors->len; d++)
    {
      Donor *donor = get_donor (self, d);

      g_ptr_array_set_size (donor->assign, 0);
      g_ptr_array_set_size (donor->assign, n_entries);
      g_array_set_size (donor->counts, 0);
      g_array_set_size (donor->counts, n_entries);
      donor->used = 0;
      donor->copies = 0;
      g_free (donor->eligible);
      donor->eligible = g_new0 (gboolean, MAX (n_entries, 1));
      if (donor->allowed->len == 0)
        {
          for (guint e = 0; e < n_entries; e++)
            donor->eligible[e] = TRUE;
        }
      for (guint i = 0; i < donor->allowed->len; i++)
        donor->eligible[g_array_index (donor->allowed, guint, i)] = TRUE;
      donor->n_eligible = 0;
      for (guint e = 0; e < n_entries; e++)
        {
          if (donor->eligible[e])
            {
              g_array_append_val (get_entry (self, e)->eligible, d);
              donor->n_eligible++;
            }
        }
    }
}

typedef struct
{
  guint32 shortfall;
  guint32 entry;
  guint32 piece;
  guint32 donor;
} Holding;

static int
compare_holdings (gconstpointer a, gconstpointer b)
{
  const Holding *x = a, *y = b;

  if (x->shortfall != y->shortfall)
    return x->shortfall > y->shortfall ? -1 : 1;
  if (x->entry != y->entry)
    return x->entry < y->entry ? -1 : 1;
  if (x->piece != y->piece)
    return x->piece < y->piece ? -1 : 1;
  return (x->donor > y->donor) - (x->donor < y->donor);
}

/* Keeps what donors hold as long as it is still wanted, so an unchanged
 * demand moves nothing and a changed one moves little. When a donor's
 * storage shrank, it keeps its most wanted pieces. */
static void
keep_holdings (AtlasDonationAlloc *self)
{
  g_autoptr (GArray) holdings = g_array_new (FALSE, FALSE, sizeof (Holding));

  for (guint d = 0; d < self->donors->len; d++)
    {
      Donor *donor = get_donor (self, d);

      for (guint e = 0; e < donor->held->len && e < self->entries->len; e++)
        {
          const guint64 *held = g_ptr_array_index (donor->held, e);
          Entry *entry = get_entry (self, e);

          if (held == NULL || !donor->eligible[e])
            continue;
          for (guint w = 0; w < entry->n_words; w++)
            {
              guint64 word = held[w];

              while (word != 0)
                {
                  guint32 p = w * BITS_PER_WORD + __builtin_ctzll (word);
                  Holding h = { entry->shortfall[p], e, p, d };

                  word &= word - 1;
                  if (h.shortfall > 0)
                    g_array_append_val (holdings, h);
                }
            }
        }
    }

  g_array_sort (holdings, compare_holdings);
  for (guint i = 0; i < holdings->len; i++)
    {
      const Holding *h = &g_array_index (holdings, Holding, i);
      Entry *entry = get_entry (self, h->entry);
      Donor *donor = get_donor (self, h->donor);

      if (entry->remaining[h->piece] > 0 && donor->used + entry->piece_length <= donor->storage)
        assign_piece (self, h->donor, h->entry, h->piece);
    }
}

/* Heap order: the largest remaining shortfall first; then the piece with
 * fewer copies; then the lower entry and piece, so runs are reproducible. */
static inline gboolean
piece_before (AtlasDonationAlloc *self, const PieceRef *a, const PieceRef *b)
{
  Entry *ea = get_entry (self, a->entry), *eb = get_entry (self, b->entry);
  guint32 ra = ea->remaining[a->piece], rb = eb->remaining[b->piece];
  guint32 ca = ea->copies[a->piece], cb = eb->copies[b->piece];

  if (ra != rb)
    return ra > rb;
  if (ca != cb)
    return ca < cb;
  if (a->entry != b->entry)
    return a->entry < b->entry;
  return a->piece < b->piece;
}

static void
heap_sift_down (AtlasDonationAlloc *self, PieceRef *heap, gsize n, gsize i)
{
  for (;;)
    {
      gsize best = i, l = 2 * i + 1, r = 2 * i + 2;
      PieceRef tmp;

      if (l < n && piece_before (self, &heap[l], &heap[best]))
        best = l;
      if (r < n && piece_before (self, &heap[r], &heap[best]))
        best = r;
      if (best == i)
        return;
      tmp = heap[i];
      heap[i] = heap[best];
      heap[best] = tmp;
      i = best;
    }
}

/* The eligible donor with the most free storage that does not hold the piece
 * (ties: the lower index), or -1. Spreading by free storage keeps every
 * donor's share, and so the cost of losing one, small. */
static gint
pick_donor (AtlasDonationAlloc *self, guint e, guint32 piece)
{
  Entry *entry = get_entry (self, e);
  guint64 best_free = 0;
  guint best_eligible = 0;
  gboolean any_room = FALSE;
  gint best = -1;

  for (guint i = 0; i < entry->eligible->len; i++)
    {
      guint d = g_array_index (entry->eligible, guint, i);
      Donor *donor = get_donor (self, d);
      guint64 free_bytes = donor->storage - donor->used;

      if (free_bytes < entry->piece_length)
        continue;
      any_room = TRUE;
      if (bit_get (g_ptr_array_index (donor->assign, e), piece))
        continue;
      if (best < 0 || donor->n_eligible < best_eligible
          || (donor->n_eligible == best_eligible && free_bytes > best_free))
        {
          best = d;
          best_free = free_bytes;
          best_eligible = donor->n_eligible;
        }
    }
  /* Storage only fills up during a run, so an entry with no donor room now
   * never gets any. */
  if (!any_room)
    entry->exhausted = TRUE;
  return best;
}

static void
hand_out (AtlasDonationAlloc *self)
{
  g_autoptr (GArray) queue = g_array_new (FALSE, FALSE, sizeof (PieceRef));
  PieceRef *heap;
  gsize n;

  for (guint e = 0; e < self->entries->len; e++)
    {
      Entry *entry = get_entry (self, e);

      if (entry->eligible->len == 0)
        continue;
      for (guint32 p = 0; p < entry->n_pieces; p++)
        {
          PieceRef ref = { e, p };

          if (entry->remaining[p] > 0)
            g_array_append_val (queue, ref);
        }
    }

  heap = (PieceRef *) queue->data;
  n = queue->len;
  for (gsize i = n / 2; i-- > 0;)
    heap_sift_down (self, heap, n, i);

  while (n > 0)
    {
      PieceRef top = heap[0];
      Entry *entry = get_entry (self, top.entry);
      gint d = -1;

      if (!entry->exhausted)
        d = pick_donor (self, top.entry, top.piece);
      if (d >= 0)
        assign_piece (self, d, top.entry, top.piece);
      if (d < 0 || entry->remaining[top.piece] == 0)
        {
          /* No eligible donor can take another copy: the piece leaves. */
          heap[0] = heap[--n];
        }
      heap_sift_down (self, heap, n, 0);
    }
}

/* ----------------------------------------------------------------- repair */

/* Whether @from holds a piece of @e that @to does not, and so could hand it
 * over; returns the piece in @piece. */
static gboolean
find_movable (AtlasDonationAlloc *self, guint from, guint to, guint e, guint32 *piece)
{
  Entry *entry = get_entry (self, e);
  const guint64 *a = g_ptr_array_index (get_donor (self, from)->assign, e);
  const guint64 *b = g_ptr_array_index (get_donor (self, to)->assign, e);
  const guint64 *held = donor_bits (self, get_donor (self, from)->held, e, FALSE);

  if (a == NULL)
    return FALSE;
  /* Prefer a piece the donor was newly assigned: it has not fetched it yet,
   * so moving it costs no transfer. */
  for (guint pass = 0; pass < (self->move_held ? 2 : 1); pass++)
    {
      for (guint w = 0; w < entry->n_words; w++)
        {
          guint64 word = a[w] & ~(b != NULL ? b[w] : 0);

          if (pass == 0)
            word &= held != NULL ? ~held[w] : ~G_GUINT64_CONSTANT (0);
          if (word != 0)
            {
              *piece = w * BITS_PER_WORD + __builtin_ctzll (word);
              return TRUE;
            }
        }
    }
  return FALSE;
}

static gboolean
can_move (AtlasDonationAlloc *self, guint from, guint to, guint64 length, guint *via)
{
  Donor *a = get_donor (self, from), *b = get_donor (self, to);

  for (guint e = 0; e < self->entries->len; e++)
    {
      guint32 na = g_array_index (a->counts, guint32, e);
      guint32 piece;

      if (na == 0 || !b->eligible[e] || get_entry (self, e)->piece_length != length)
        continue;
      /* More pieces than the other donor: at least one it lacks. */
      if ((self->move_held && na > g_array_index (b->counts, guint32, e))
          || find_movable (self, from, to, e, &piece))
        {
          *via = e;
          return TRUE;
        }
    }
  return FALSE;
}

/* Donors that can make room for one piece of @length: those with room, and
 * those that can pass a piece on to one of them (a breadth-first search;
 * parent[d] is where d's piece goes, via[d] its entry). Returns how many. */
static guint
find_room (AtlasDonationAlloc *self, guint64 length, gint *parent, guint *via)
{
  guint n = self->donors->len;
  g_autofree guint *queue = g_new (guint, n);
  guint head = 0, tail = 0;

  for (guint d = 0; d < n; d++)
    {
      Donor *donor = get_donor (self, d);

      parent[d] = -2;
      if (donor->storage - donor->used >= length)
        {
          parent[d] = -1;
          queue[tail++] = d;
        }
    }
  if (tail == 0)
    return 0;
  while (head < tail)
    {
      guint to = queue[head++];

      for (guint from = 0; from < n; from++)
        {
          if (parent[from] != -2 || get_donor (self, from)->copies == 0)
            continue;
          if (can_move (self, from, to, length, &via[from]))
            {
              parent[from] = to;
              queue[tail++] = from;
            }
        }
    }
  return tail;
}

/* Gives @piece of @e to @d, which makes room by passing one piece along its
 * path to a donor with room. Every donor on the path keeps its used bytes,
 * except the last, which takes one piece. */
static void
augment (AtlasDonationAlloc *self, guint d, guint e, guint32 piece, const gint *parent,
         const guint *via)
{
  guint cur = d;

  assign_piece (self, d, e, piece);
  while (parent[cur] >= 0)
    {
      guint next = parent[cur], out_entry = via[cur];
      Donor *donor = get_donor (self, cur), *to = get_donor (self, next);
      guint32 out_piece = 0;
      gboolean found = find_movable (self, cur, next, out_entry, &out_piece);

      g_assert (found);
      bit_clear (g_ptr_array_index (donor->assign, out_entry), out_piece);
      g_array_index (donor->counts, guint32, out_entry)--;
      donor->used -= get_entry (self, out_entry)->piece_length;
      donor->copies--;
      bit_set (donor_bits (self, to->assign, out_entry, TRUE), out_piece);
      g_array_index (to->counts, guint32, out_entry)++;
      to->used += get_entry (self, out_entry)->piece_length;
      to->copies++;
      cur = next;
    }
}

/* Whether the path from @d found by find_room () still leads to room: the
 * tree is reused across augmentations until a path turns out stale. */
static gboolean
path_valid (AtlasDonationAlloc *self, guint d, guint64 length, const gint *parent, const guint *via)
{
  guint cur = d;
  guint32 piece;

  for (guint hops = 0; hops <= self->donors->len; hops++)
    {
      Donor *donor = get_donor (self, cur);

      if (parent[cur] == -2)
        return FALSE;
      if (parent[cur] == -1)
        return donor->storage - donor->used >= length;
      if (!find_movable (self, cur, parent[cur], via[cur], &piece))
        return FALSE;
      cur = parent[cur];
    }
  return FALSE;
}

typedef struct
{
  guint64 length;
  gint *parent;
  guint *via;
  gboolean fresh; /* no augmentation since find_room () */
  gboolean no_room;
} Repair;

/* One more copy of @piece through an augmenting path, if there is one. */
static gboolean
try_augment (AtlasDonationAlloc *self, Repair *r, guint e, guint32 piece)
{
  Entry *entry = get_entry (self, e);

  for (;;)
    {
      gboolean stale = FALSE;

      for (guint i = 0; i < entry->eligible->len; i++)
        {
          guint d = g_array_index (entry->eligible, guint, i);

          if (r->parent[d] == -2
              || bit_get (g_ptr_array_index (get_donor (self, d)->assign, e), piece))
            continue;
          if (!path_valid (self, d, r->length, r->parent, r->via))
            {
              stale = TRUE;
              continue;
            }
          augment (self, d, e, piece, r->parent, r->via);
          r->fresh = FALSE;
          return TRUE;
        }
      if (!stale || r->fresh)
        return FALSE;
      r->fresh = TRUE;
      if (find_room (self, r->length, r->parent, r->via) == 0)
        {
          r->no_room = TRUE;
          return FALSE;
        }
    }
}

/* The greedy pass can strand demand: a donor allowed several entries keeps
 * pieces (stickiness) that a donor with one cause and free storage could
 * hold, while a piece only the first may hold goes without. Augmenting paths
 * fix that: pieces move along a chain of donors towards free storage. They
 * are searched per piece length, so with one length across entries (the
 * usual 1 MiB) the result is a maximum flow; pieces of other lengths keep
 * the greedy answer. */
static void
repair (AtlasDonationAlloc *self)
{
  guint n = self->donors->len;
  g_autofree gint *parent = g_new (gint, MAX (n, 1));
  g_autofree guint *via = g_new0 (guint, MAX (n, 1));
  g_autoptr (GArray) lengths = g_array_new (FALSE, FALSE, sizeof (guint64));

  for (guint e = 0; e < self->entries->len; e++)
    {
      guint64 length = get_entry (self, e)->piece_length;
      gboolean seen = FALSE;

      for (guint i = 0; i < lengths->len && !seen; i++)
        seen = g_array_index (lengths, guint64, i) == length;
      if (!seen)
        g_array_append_val (lengths, length);
    }

  for (guint l = 0; l < lengths->len; l++)
    {
      Repair r = { g_array_index (lengths, guint64, l), parent, via, TRUE, FALSE };
      gboolean progress = TRUE;

      if (find_room (self, r.length, parent, via) == 0)
        continue;
      /* A pass can open paths for pieces scanned before it, so passes repeat
       * until one changes nothing. */
      while (progress && !r.no_room && self->total_copies < self->target)
        {
          progress = FALSE;
          for (guint e = 0; e < self->entries->len && !r.no_room; e++)
            {
              Entry *entry = get_entry (self, e);

              if (entry->piece_length != r.length)
                continue;
              for (guint32 p = 0;
                   p < entry->n_pieces && !r.no_room && self->total_copies < self->target; p++)
                {
                  while (entry->remaining[p] > 0 && try_augment (self, &r, e, p))
                    progress = TRUE;
                }
            }
        }
    }
}

/* Moving a piece a donor already holds makes another donor fetch it, so
 * the repair first moves only pieces assigned in this run (not fetched yet),
 * and moves held ones only while the demand met is more than
 * REPAIR_TOLERANCE below the optimum. */
#define REPAIR_TOLERANCE 0.02

void
atlas_donation_alloc_run (AtlasDonationAlloc *self)
{
  guint64 optimum;

  g_return_if_fail (self != NULL);

  reset_run (self);
  keep_holdings (self);
  hand_out (self);
  self->move_held = FALSE;
  self->target = G_MAXUINT64;
  repair (self);
  optimum = atlas_donation_alloc_optimum (self);
  if (self->total_copies < optimum * (1 - REPAIR_TOLERANCE))
    {
      self->move_held = TRUE;
      self->target = (guint64) ceil (optimum * (1 - REPAIR_TOLERANCE));
      repair (self);
    }
  self->demand_met = self->total_copies;
}

GBytes *
atlas_donation_alloc_get_assignment (AtlasDonationAlloc *self, guint donor, guint entry)
{
  const guint64 *bits;
  Entry *e;
  guint8 *out;
  gsize n_bytes;

  g_return_val_if_fail (self != NULL && donor < self->donors->len, NULL);
  g_return_val_if_fail (entry < self->entries->len, NULL);

  if (get_donor (self, donor)->counts->len <= entry
      || g_array_index (get_donor (self, donor)->counts, guint32, entry) == 0)
    return NULL;
  bits = g_ptr_array_index (get_donor (self, donor)->assign, entry);
  e = get_entry (self, entry);
  n_bytes = (e->n_pieces + 7) / 8;
  out = g_malloc0 (n_bytes);
  for (guint32 p = 0; p < e->n_pieces; p++)
    {
      if (bit_get (bits, p))
        out[p / 8] |= 0x80 >> (p % 8);
    }
  return g_bytes_new_take (out, n_bytes);
}

guint64
atlas_donation_alloc_get_assigned_bytes (AtlasDonationAlloc *self, guint donor)
{
  g_return_val_if_fail (self != NULL && donor < self->donors->len, 0);
  return get_donor (self, donor)->used;
}

guint64
atlas_donation_alloc_demand_met (AtlasDonationAlloc *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->demand_met;
}

/* --------------------------------------------------------------- optimum */

typedef struct
{
  guint to;
  guint next;
  guint64 cap;
} FlowEdge;

typedef struct
{
  GArray *edges; /* FlowEdge; edge i ^ 1 is the reverse of edge i */
  guint *head;
  guint *cursor;
  gint *level;
  guint n_nodes;
} Flow;

#define NO_EDGE G_MAXUINT

static void
flow_add (Flow *flow, guint from, guint to, guint64 cap)
{
  FlowEdge forward = { to, flow->head[from], cap };
  FlowEdge backward = { from, flow->head[to], 0 };

  flow->head[from] = flow->edges->len;
  g_array_append_val (flow->edges, forward);
  flow->head[to] = flow->edges->len;
  g_array_append_val (flow->edges, backward);
}

static gboolean
flow_levels (Flow *flow, guint source, guint sink)
{
  g_autofree guint *queue = g_new (guint, flow->n_nodes);
  guint head = 0, tail = 0;

  for (guint i = 0; i < flow->n_nodes; i++)
    flow->level[i] = -1;
  flow->level[source] = 0;
  queue[tail++] = source;
  while (head < tail)
    {
      guint u = queue[head++];

      for (guint i = flow->head[u]; i != NO_EDGE; i = g_array_index (flow->edges, FlowEdge, i).next)
        {
          FlowEdge *edge = &g_array_index (flow->edges, FlowEdge, i);

          if (edge->cap > 0 && flow->level[edge->to] < 0)
            {
              flow->level[edge->to] = flow->level[u] + 1;
              queue[tail++] = edge->to;
            }
        }
    }
  return flow->level[sink] >= 0;
}

/* The network has four layers, so the recursion is at most four deep. */
static guint64
flow_push (Flow *flow, guint u, guint sink, guint64 limit)
{
  if (u == sink)
    return limit;
  for (; flow->cursor[u] != NO_EDGE;
       flow->cursor[u] = g_array_index (flow->edges, FlowEdge, flow->cursor[u]).next)
    {
      guint i = flow->cursor[u];
      FlowEdge *edge = &g_array_index (flow->edges, FlowEdge, i);
      guint64 pushed;

      if (edge->cap == 0 || flow->level[edge->to] != flow->level[u] + 1)
        continue;
      pushed = flow_push (flow, edge->to, sink, MIN (limit, edge->cap));
      if (pushed > 0)
        {
          g_array_index (flow->edges, FlowEdge, i).cap -= pushed;
          g_array_index (flow->edges, FlowEdge, i ^ 1).cap += pushed;
          return pushed;
        }
    }
  return 0;
}

typedef struct
{
  guint entry;
  guint32 shortfall;
  guint32 count;
} PieceGroup;

/* A maximum flow (Dinic) from the source through donors and pieces to the
 * sink. Pieces of one entry with the same shortfall are merged into a group
 * node: donor -> group has capacity "pieces in the group" (one copy of each
 * at most) and group -> sink "pieces x shortfall". That is exact, because
 * dealing a group's copies round-robin over its pieces never gives a donor
 * one piece twice nor a piece more than its shortfall; it keeps the network
 * at donors x groups edges instead of donors x pieces.
 *
 * A donor's capacity is its storage in whole pieces of the shortest piece
 * length among the entries it may take. With one piece length (the usual
 * case) the result is exact; with several it is an upper bound, since a
 * donor cannot hold more pieces than that. */
guint64
atlas_donation_alloc_optimum (AtlasDonationAlloc *self)
{
  g_autoptr (GArray) groups = g_array_new (FALSE, FALSE, sizeof (PieceGroup));
  g_autofree guint *first_group = NULL;
  guint n_entries, n_donors, source = 0, sink = 1;
  Flow flow = { 0 };
  guint64 total = 0;

  g_return_val_if_fail (self != NULL, 0);

  n_entries = self->entries->len;
  n_donors = self->donors->len;
  first_group = g_new0 (guint, n_entries + 1);
  for (guint e = 0; e < n_entries; e++)
    {
      Entry *entry = get_entry (self, e);
      g_autofree guint32 *sorted = g_new (guint32, MAX (entry->n_pieces, 1));
      guint32 n = 0;

      first_group[e] = groups->len;
      for (guint32 p = 0; p < entry->n_pieces; p++)
        {
          if (entry->demand[p] > entry->supply[p])
            sorted[n++] = entry->demand[p] - entry->supply[p];
        }
      g_qsort_with_data (sorted, n, sizeof (guint32), compare_guint32, NULL);
      for (guint32 i = 0; i < n; i++)
        {
          if (i == 0 || sorted[i] != sorted[i - 1])
            {
              PieceGroup group = { e, sorted[i], 0 };

              g_array_append_val (groups, group);
            }
          g_array_index (groups, PieceGroup, groups->len - 1).count++;
        }
    }
  first_group[n_entries] = groups->len;

  flow.n_nodes = 2 + n_donors + groups->len;
  flow.edges = g_array_new (FALSE, FALSE, sizeof (FlowEdge));
  flow.head = g_new (guint, flow.n_nodes);
  flow.cursor = g_new (guint, flow.n_nodes);
  flow.level = g_new (gint, flow.n_nodes);
  for (guint i = 0; i < flow.n_nodes; i++)
    flow.head[i] = NO_EDGE;

  for (guint g = 0; g < groups->len; g++)
    {
      const PieceGroup *group = &g_array_index (groups, PieceGroup, g);

      flow_add (&flow, 2 + n_donors + g, sink, (guint64) group->count * group->shortfall);
    }
  for (guint d = 0; d < n_donors; d++)
    {
      Donor *donor = get_donor (self, d);
      guint64 shortest = 0;

      for (guint e = 0; e < n_entries; e++)
        {
          gboolean allowed = donor->allowed->len == 0;

          for (guint i = 0; i < donor->allowed->len && !allowed; i++)
            allowed = g_array_index (donor->allowed, guint, i) == e;
          if (!allowed || first_group[e] == first_group[e + 1])
            continue;
          if (shortest == 0 || get_entry (self, e)->piece_length < shortest)
            shortest = get_entry (self, e)->piece_length;
          for (guint g = first_group[e]; g < first_group[e + 1]; g++)
            flow_add (&flow, 2 + d, 2 + n_donors + g, g_array_index (groups, PieceGroup, g).count);
        }
      if (shortest > 0 && donor->storage >= shortest)
        flow_add (&flow, source, 2 + d, donor->storage / shortest);
    }

  while (flow_levels (&flow, source, sink))
    {
      guint64 pushed;

      memcpy (flow.cursor, flow.head, flow.n_nodes * sizeof (guint));
      while ((pushed = flow_push (&flow, source, sink, G_MAXUINT64)) > 0)
        total += pushed;
    }

  g_array_unref (flow.edges);
  g_free (flow.head);
  g_free (flow.cursor);
  g_free (flow.level);
  return total;
}

/* Removing one donor loses exactly its copies: no piece has more donor
 * copies than its shortfall, so each copy is one unit of demand met that no
 * other copy provides. The share is therefore exact, not an estimate. */
double
atlas_donation_alloc_worst_loss (AtlasDonationAlloc *self)
{
  guint64 worst = 0;

  g_return_val_if_fail (self != NULL, 0);
  if (self->total_copies == 0)
    return 0;
  for (guint d = 0; d < self->donors->len; d++)
    worst = MAX (worst, get_donor (self, d)->copies);
  return (double) worst / (double) self->total_copies;
}
