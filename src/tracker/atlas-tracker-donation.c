/* atlas-tracker-donation.c — the donation coordinator: demand from the
 * swarms, the allocator, and "assign" messages to donors.
 *
 * Demand (docs/donation.md): for each file e some donor supports and each
 * piece p, over the window W = 120 s,
 *   live_p   = non-donor incomplete peers lacking p that announced within W
 *   prior_e  = [e is supported] + ceil (arrivals_e / 4), where a file is
 *              supported when a donor's causes name it (by entry or by
 *              publisher; "anywhere" alone does not), and arrivals_e counts
 *              distinct downloaders that joined e's swarm in the last hour
 *   demand_p = prior_e + live_p
 *   supply_p = non-donor peers holding p (complete peers hold every piece)
 * Donors' own pieces are not supply: they are what the allocator hands out,
 * and what a donor holds or was assigned is passed to it as a holding so
 * that assignments stay put while they are still useful.
 *
 * The work of one run is bounded (see the MAX_ constants): every run costs
 * at most MAX_RUN_PIECES pieces times MAX_SAMPLED_MEMBERS bitfield reads, and
 * SQLite lookups are cached for RESOLVE_TTL.
 */
#include "atlas-tracker-donation.h"

#include "atlas-donation-alloc.h"
#include "atlas-tracker-hub-private.h"

#include <string.h>

#define DEFAULT_INTERVAL_MS 5000
/* A donate or a donor's departure brings the next run this close, so a new
 * donor hears back quickly and a burst of offers costs one run. */
#define SOON_MS 200
#define DEMAND_WINDOW_USEC (120 * G_USEC_PER_SEC)
#define ARRIVAL_WINDOW_USEC ((gint64) 3600 * G_USEC_PER_SEC)
#define MAX_ARRIVALS_PER_FILE 10000
#define MAX_ARRIVAL_FILES 65536
/* Which entries a donor's causes name is read from the database at most
 * this often; a new publication reaches donors within this time. */
#define RESOLVE_TTL_USEC (30 * G_USEC_PER_SEC)
#define MAX_PUBLISHER_ENTRIES 32
#define MAX_DONOR_FILES 256
#define MAX_RUN_FILES 512
/* Files with more pieces (64 GiB at 1 MiB pieces) are not donated to: their
 * bitfield alone would crowd the assign message. */
#define MAX_FILE_PIECES 65536
#define MAX_RUN_PIECES 262144
/* Incomplete peers read per file and run; beyond that a random sample is
 * read and its counts scaled up. */
#define MAX_SAMPLED_MEMBERS 128
/* An assign must fit the client's 64 KiB limit with room to spare. */
#define ASSIGN_BUDGET (60 * 1024)

typedef struct
{
  AtlasHubConnection *connection; /* not owned: it forgets us before it goes */
  AtlasDonateOffer *offer;
  GHashTable *assigned; /* entry -> AtlasTrackerAssignment*, what was last sent */
  gboolean must_send;
  /* Per run. */
  GHashTable *eligible; /* entry -> const AtlasTrackerIndexEntry* (from the cache) */
  gint alloc_index;     /* -1: not in this run's allocation */
} Donor;

/* One file in one run's allocation. */
typedef struct
{
  const char *entry;
  guint32 piece_count;
  guint64 piece_length;
  guint members;      /* non-donor peers in its swarm: what ranks files at the caps */
  gboolean supported; /* named by some donor's causes (not only "anywhere") */
  guint alloc_index;
} RunFile;

struct _AtlasTrackerDonation
{
  AtlasTrackerHub *hub;
  GHashTable *donors;   /* AtlasHubConnection* -> Donor* */
  GHashTable *arrivals; /* entry -> (peer_id -> gint64* monotonic usec of its last join) */
  /* "token-id entry" -> AtlasTrackerIndexEntry*, or NULL when not visible. */
  GHashTable *files;
  /* "token-id publisher" -> GPtrArray of AtlasTrackerIndexEntry*. */
  GHashTable *publishers;
  gint64 resolved_at;
  guint interval_ms;
  guint timer;
  guint soon;
};

static void
donor_free (Donor *donor)
{
  g_clear_pointer (&donor->offer, atlas_donate_offer_free);
  g_clear_pointer (&donor->assigned, g_hash_table_unref);
  g_clear_pointer (&donor->eligible, g_hash_table_unref);
  g_free (donor);
}

static gboolean
timer_cb (gpointer user_data)
{
  atlas_tracker_donation_run (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
soon_cb (gpointer user_data)
{
  AtlasTrackerDonation *self = user_data;

  self->soon = 0;
  atlas_tracker_donation_run (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_soon (AtlasTrackerDonation *self)
{
  if (self->soon == 0)
    self->soon = g_timeout_add (MIN (SOON_MS, self->interval_ms), soon_cb, self);
}

AtlasTrackerDonation *
atlas_tracker_donation_new (AtlasTrackerHub *hub)
{
  AtlasTrackerDonation *self = g_new0 (AtlasTrackerDonation, 1);

  self->hub = hub;
  self->donors = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) donor_free);
  self->arrivals =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
  self->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) atlas_tracker_index_entry_free);
  self->publishers =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  atlas_tracker_donation_set_interval (self, DEFAULT_INTERVAL_MS);
  return self;
}

void
atlas_tracker_donation_free (AtlasTrackerDonation *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->timer, g_source_remove);
  g_clear_handle_id (&self->soon, g_source_remove);
  g_clear_pointer (&self->donors, g_hash_table_unref);
  g_clear_pointer (&self->arrivals, g_hash_table_unref);
  g_clear_pointer (&self->files, g_hash_table_unref);
  g_clear_pointer (&self->publishers, g_hash_table_unref);
  g_free (self);
}

void
atlas_tracker_donation_set_interval (AtlasTrackerDonation *self, guint interval_ms)
{
  g_return_if_fail (interval_ms > 0);

  self->interval_ms = interval_ms;
  g_clear_handle_id (&self->timer, g_source_remove);
  self->timer = g_timeout_add (interval_ms, timer_cb, self);
}

void
atlas_tracker_donation_offer (AtlasTrackerDonation *self, AtlasHubConnection *connection,
                              const AtlasDonateOffer *offer)
{
  Donor *donor = g_hash_table_lookup (self->donors, connection);

  if (donor == NULL)
    {
      donor = g_new0 (Donor, 1);
      donor->connection = connection;
      donor->assigned = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                               (GDestroyNotify) atlas_tracker_assignment_free);
      donor->alloc_index = -1;
      g_hash_table_insert (self->donors, connection, donor);
      g_message ("peer %s: donates %" G_GUINT64_FORMAT " bytes (token %s)", connection->peer_id,
                 offer->storage, connection->token->name);
    }
  g_clear_pointer (&donor->offer, atlas_donate_offer_free);
  donor->offer = atlas_donate_offer_copy (offer);
  donor->must_send = TRUE;
  /* A new offer is resolved against the index as it is now, so a donor
   * that names an entry published a moment ago is not told "nothing". */
  self->resolved_at = 0;
  schedule_soon (self);
}

void
atlas_tracker_donation_forget (AtlasTrackerDonation *self, AtlasHubConnection *connection)
{
  Donor *donor = g_hash_table_lookup (self->donors, connection);

  if (donor == NULL)
    return;
  if (g_hash_table_size (donor->assigned) > 0)
    schedule_soon (self);
  g_hash_table_remove (self->donors, connection);
}

void
atlas_tracker_donation_note_join (AtlasTrackerDonation *self, const char *entry,
                                  const char *peer_id)
{
  GHashTable *joined = g_hash_table_lookup (self->arrivals, entry);
  gint64 now = g_get_monotonic_time ();

  if (joined == NULL)
    {
      if (g_hash_table_size (self->arrivals) >= MAX_ARRIVAL_FILES)
        return;
      joined = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_hash_table_insert (self->arrivals, g_strdup (entry), joined);
    }
  if (!g_hash_table_contains (joined, peer_id)
      && g_hash_table_size (joined) >= MAX_ARRIVALS_PER_FILE)
    return;
  g_hash_table_replace (joined, g_strdup (peer_id), g_memdup2 (&now, sizeof now));
}

/* Forgets arrivals older than an hour. */
static void
prune_arrivals (AtlasTrackerDonation *self, gint64 now)
{
  GHashTableIter files;
  gpointer value;

  g_hash_table_iter_init (&files, self->arrivals);
  while (g_hash_table_iter_next (&files, NULL, &value))
    {
      GHashTableIter peers;
      gpointer when;

      g_hash_table_iter_init (&peers, value);
      while (g_hash_table_iter_next (&peers, NULL, &when))
        if (now - *(gint64 *) when > ARRIVAL_WINDOW_USEC)
          g_hash_table_iter_remove (&peers);
      if (g_hash_table_size (value) == 0)
        g_hash_table_iter_remove (&files);
    }
}

/* Causes -> index entries */

/* The newest entry of the file @entry that @token may see, or NULL. */
static const AtlasTrackerIndexEntry *
resolve_file (AtlasTrackerDonation *self, const AtlasTrackerToken *token, const char *entry)
{
  g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT " %s", token->id, entry);
  g_autoptr (GError) error = NULL;
  gpointer found;
  AtlasTrackerIndexEntry *index;

  if (g_hash_table_lookup_extended (self->files, key, NULL, &found))
    return found;
  index = atlas_tracker_store_find_file (self->hub->store, entry, token, &error);
  if (error != NULL)
    {
      /* Not cached: the next run asks again. */
      g_warning ("donation: %s", error->message);
      return NULL;
    }
  g_hash_table_insert (self->files, g_steal_pointer (&key), index);
  return index;
}

static GPtrArray *
resolve_publisher (AtlasTrackerDonation *self, const AtlasTrackerToken *token,
                   const char *publisher)
{
  g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT " %s", token->id, publisher);
  g_autoptr (GError) error = NULL;
  GPtrArray *entries = g_hash_table_lookup (self->publishers, key);

  if (entries != NULL)
    return entries;
  entries = atlas_tracker_store_list_by_publisher (self->hub->store, token, publisher,
                                                   MAX_PUBLISHER_ENTRIES, &error);
  if (entries == NULL)
    {
      g_warning ("donation: %s", error->message);
      return NULL;
    }
  g_hash_table_insert (self->publishers, g_steal_pointer (&key), entries);
  return entries;
}

/* @supported (nullable) collects the files a cause names explicitly. */
static void
add_eligible (Donor *donor, const AtlasTrackerIndexEntry *index, GHashTable *supported)
{
  /* Names the donor could not accept are skipped rather than sent; the API
   * never stores such names, so this is only a safety net. */
  if (index == NULL || g_hash_table_size (donor->eligible) >= MAX_DONOR_FILES
      || index->piece_count == 0 || index->piece_count > MAX_FILE_PIECES || index->piece_length <= 0
      || !atlas_tracker_is_entry_name (index->name))
    return;
  if (!g_hash_table_contains (donor->eligible, index->entry))
    g_hash_table_insert (donor->eligible, index->entry, (gpointer) index);
  if (supported != NULL)
    g_hash_table_add (supported, index->entry);
}

/* The files @donor may be assigned: those its causes name, that its token
 * may see, in the index. "Anywhere" means every file with downloaders; the
 * files named by entry or publisher also go into @supported. */
static void
collect_eligible (AtlasTrackerDonation *self, Donor *donor, GPtrArray *active,
                  GHashTable *supported)
{
  const AtlasTrackerToken *token = donor->connection->token;
  const AtlasDonateOffer *offer = donor->offer;

  g_clear_pointer (&donor->eligible, g_hash_table_unref);
  donor->eligible = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; offer->entries != NULL && offer->entries[i] != NULL; i++)
    add_eligible (donor, resolve_file (self, token, offer->entries[i]), supported);
  for (guint i = 0; offer->publishers != NULL && offer->publishers[i] != NULL; i++)
    {
      GPtrArray *entries = resolve_publisher (self, token, offer->publishers[i]);

      for (guint j = 0; entries != NULL && j < entries->len; j++)
        {
          const AtlasTrackerIndexEntry *index = g_ptr_array_index (entries, j);

          /* The newest visible entry of the file speaks for it, whoever published it. */
          add_eligible (donor, resolve_file (self, token, index->entry), supported);
        }
    }
  if (offer->anywhere)
    for (guint i = 0; i < active->len; i++)
      add_eligible (donor, resolve_file (self, token, g_ptr_array_index (active, i)), NULL);
}

static gboolean
donor_is_offering (const Donor *donor)
{
  return donor->offer != NULL && donor->offer->storage > 0 && !donor->offer->paused
         && !donor->connection->detached && donor->connection->peer_id != NULL;
}

/* Files with downloaders now or within the hour: what "anywhere" covers. */
static GPtrArray *
active_files (AtlasTrackerDonation *self)
{
  GPtrArray *active = g_ptr_array_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->hub->swarms);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GHashTableIter members;
      gpointer member;

      g_hash_table_iter_init (&members, value);
      while (g_hash_table_iter_next (&members, NULL, &member))
        if (!((AtlasHubMembership *) member)->donor)
          {
            g_hash_table_add (seen, key);
            g_ptr_array_add (active, key);
            break;
          }
    }
  g_hash_table_iter_init (&iter, self->arrivals);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (g_hash_table_add (seen, key))
      g_ptr_array_add (active, key);
  /* Hash order is arbitrary; a stable order keeps the caps deterministic. */
  g_ptr_array_sort (active, (GCompareFunc) g_strcmp0);
  return active;
}

/* Demand */

static guint
count_members (AtlasTrackerDonation *self, const char *entry)
{
  GHashTable *swarm = g_hash_table_lookup (self->hub->swarms, entry);
  GHashTableIter iter;
  gpointer value;
  guint members = 0;

  if (swarm == NULL)
    return 0;
  g_hash_table_iter_init (&iter, swarm);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!((AtlasHubMembership *) value)->donor)
      members++;
  return members;
}

/* @count * @scale, rounded up. */
static guint
scaled (guint count, double scale)
{
  double exact = MIN (count * scale, (double) (G_MAXUINT / 2));
  guint whole = (guint) exact;

  return whole < exact ? whole + 1 : whole;
}

/* Sets demand and supply of every piece of @file; returns its total
 * shortfall before donors (the sum of max (0, demand - supply)). */
static guint64
set_demand (AtlasTrackerDonation *self, AtlasDonationAlloc *alloc, const RunFile *file, gint64 now)
{
  GHashTable *swarm = g_hash_table_lookup (self->hub->swarms, file->entry);
  GHashTable *joined = g_hash_table_lookup (self->arrivals, file->entry);
  guint arrivals = joined != NULL ? g_hash_table_size (joined) : 0;
  guint prior = (file->supported ? 1 : 0) + (arrivals + 3) / 4;
  g_autofree guint *live = g_new0 (guint, file->piece_count);
  g_autofree guint *supply = g_new0 (guint, file->piece_count);
  g_autoptr (GPtrArray) incomplete = g_ptr_array_new ();
  guint complete = 0;
  double scale = 1.0;
  guint64 shortfall = 0;
  GHashTableIter iter;
  gpointer value;

  if (swarm != NULL)
    {
      g_hash_table_iter_init (&iter, swarm);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          AtlasHubMembership *member = value;

          if (member->donor || member->piece_count != file->piece_count)
            continue;
          if (member->complete)
            complete++;
          else
            g_ptr_array_add (incomplete, member);
        }
    }
  if (incomplete->len > MAX_SAMPLED_MEMBERS)
    {
      /* A partial Fisher-Yates shuffle picks the sample. */
      for (guint i = 0; i < MAX_SAMPLED_MEMBERS; i++)
        {
          guint j = g_random_int_range (i, incomplete->len);
          gpointer tmp = incomplete->pdata[i];

          incomplete->pdata[i] = incomplete->pdata[j];
          incomplete->pdata[j] = tmp;
        }
      scale = incomplete->len / (double) MAX_SAMPLED_MEMBERS;
      g_ptr_array_set_size (incomplete, MAX_SAMPLED_MEMBERS);
    }

  for (guint i = 0; i < incomplete->len; i++)
    {
      const AtlasHubMembership *member = g_ptr_array_index (incomplete, i);
      gboolean recent = now - member->last_announce <= DEMAND_WINDOW_USEC;
      gsize size = 0;
      const guint8 *bits = g_bytes_get_data (member->pieces, &size);

      for (guint32 p = 0; p < file->piece_count; p++)
        {
          gboolean has = p / 8 < size && (bits[p / 8] & (0x80u >> (p % 8))) != 0;

          if (has)
            supply[p]++;
          else if (recent)
            live[p]++;
        }
    }

  for (guint32 p = 0; p < file->piece_count; p++)
    {
      guint demand = prior + scaled (live[p], scale);
      guint have = complete + scaled (supply[p], scale);

      atlas_donation_alloc_set_piece (alloc, file->alloc_index, p, demand, have);
      if (demand > have)
        shortfall += demand - have;
    }
  return shortfall;
}

/* Assignments */

static void
hold_bits (AtlasDonationAlloc *alloc, guint donor, const RunFile *file, GBytes *bits)
{
  gsize size = 0;
  const guint8 *data = bits != NULL ? g_bytes_get_data (bits, &size) : NULL;

  for (gsize i = 0; i < size; i++)
    for (guint b = 0; data[i] != 0 && b < 8; b++)
      if ((data[i] & (0x80u >> b)) != 0 && i * 8 + b < file->piece_count)
        atlas_donation_alloc_donor_holds (alloc, donor, file->alloc_index, i * 8 + b);
}

static gboolean
bitfield_empty (GBytes *bits)
{
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (bits, &size);

  for (gsize i = 0; i < size; i++)
    if (data[i] != 0)
      return FALSE;
  return TRUE;
}

/* The allocator's bitfield for the wire: exactly ceil (n / 8) bytes. */
static GBytes *
wire_bitfield (GBytes *bits, guint32 piece_count)
{
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (bits, &size);
  gsize want = (piece_count + 7) / 8;
  guint8 *copy;

  if (size == want
      && (piece_count % 8 == 0 || (data[want - 1] & (0xffu >> (piece_count % 8))) == 0))
    return g_bytes_ref (bits);
  copy = g_malloc0 (want);
  memcpy (copy, data, MIN (size, want));
  if (piece_count % 8 != 0)
    copy[want - 1] &= (guint8) (0xff00u >> (piece_count % 8));
  return g_bytes_new_take (copy, want);
}

static gint
compare_assignments (gconstpointer a, gconstpointer b)
{
  const AtlasTrackerAssignment *x = *(AtlasTrackerAssignment *const *) a;
  const AtlasTrackerAssignment *y = *(AtlasTrackerAssignment *const *) b;

  return strcmp (x->entry, y->entry);
}

static gboolean
same_assignment (GHashTable *before, GPtrArray *now)
{
  if (g_hash_table_size (before) != now->len)
    return FALSE;
  for (guint i = 0; i < now->len; i++)
    {
      const AtlasTrackerAssignment *next = g_ptr_array_index (now, i);
      const AtlasTrackerAssignment *last = g_hash_table_lookup (before, next->entry);

      if (last == NULL || last->id != next->id || !g_bytes_equal (last->pieces, next->pieces))
        return FALSE;
    }
  return TRUE;
}

/* The donor's new assignment, cut to what fits one message. */
static GPtrArray *
donor_assignment (Donor *donor, AtlasDonationAlloc *alloc, GHashTable *run_files)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_tracker_assignment_free);
  gsize budget = ASSIGN_BUDGET;
  GHashTableIter iter;
  gpointer key, value;

  if (donor->alloc_index < 0)
    return list;
  g_hash_table_iter_init (&iter, donor->eligible);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const AtlasTrackerIndexEntry *index = value;
      const RunFile *file = g_hash_table_lookup (run_files, key);
      g_autoptr (GBytes) bits = NULL;
      g_autoptr (GBytes) wire = NULL;

      if (file == NULL)
        continue;
      bits = atlas_donation_alloc_get_assignment (alloc, donor->alloc_index, file->alloc_index);
      if (bits == NULL || bitfield_empty (bits))
        continue;
      wire = wire_bitfield (bits, file->piece_count);
      g_ptr_array_add (list,
                       atlas_tracker_assignment_new (index->entry, index->id, index->name,
                                                     file->piece_count, file->piece_length, wire));
    }
  g_ptr_array_sort (list, compare_assignments);

  /* What does not fit is left out, and so not held: the donor's next
   * assignment (and holdings) start from what it was told. */
  for (guint i = 0; i < list->len;)
    {
      const AtlasTrackerAssignment *assignment = g_ptr_array_index (list, i);
      gsize cost =
          160 + strlen (assignment->name) + (g_bytes_get_size (assignment->pieces) + 2) / 3 * 4;

      if (cost > budget)
        {
          g_ptr_array_remove_index (list, i);
          continue;
        }
      budget -= cost;
      i++;
    }
  return list;
}

static void
send_assignment (Donor *donor, GPtrArray *list)
{
  g_autoptr (AtlasTrackerMessage) assign = atlas_tracker_message_new (ATLAS_TRACKER_MSG_ASSIGN);

  g_hash_table_remove_all (donor->assigned);
  for (guint i = 0; i < list->len; i++)
    g_ptr_array_add (assign->assignments,
                     atlas_tracker_assignment_copy (g_ptr_array_index (list, i)));
  while (list->len > 0)
    {
      AtlasTrackerAssignment *assignment = g_ptr_array_steal_index_fast (list, list->len - 1);

      g_hash_table_insert (donor->assigned, assignment->entry, assignment);
    }
  donor->must_send = FALSE;
  _atlas_tracker_hub_send (donor->connection, assign);
}

static gint
compare_run_files (gconstpointer a, gconstpointer b)
{
  const RunFile *x = *(RunFile *const *) a;
  const RunFile *y = *(RunFile *const *) b;

  if (x->members != y->members)
    return x->members > y->members ? -1 : 1;
  return strcmp (x->entry, y->entry);
}

void
atlas_tracker_donation_run (AtlasTrackerDonation *self)
{
  AtlasTrackerMetrics *metrics = self->hub->metrics;
  gint64 started = g_get_monotonic_time ();
  g_autoptr (GPtrArray) active = NULL;
  g_autoptr (GPtrArray) donors = g_ptr_array_new ();
  g_autoptr (GPtrArray) candidates = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) run_files = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) supported = g_hash_table_new (g_str_hash, g_str_equal);
  AtlasDonationAlloc *alloc = NULL;
  guint64 pieces = 0;
  guint64 shortfall = 0;
  guint64 storage = 0;
  guint64 assigned = 0;
  GHashTableIter iter, files;
  gpointer value, index_value;

  prune_arrivals (self, started);
  if (g_hash_table_size (self->donors) == 0)
    {
      /* Nobody to assign to: no allocation, and the gauges say so. */
      metrics->donors = 0;
      metrics->donor_storage = 0;
      metrics->donation_assigned = 0;
      metrics->donation_demand_met = 0;
      metrics->donation_shortfall = 0;
      return;
    }
  if (started - self->resolved_at > RESOLVE_TTL_USEC)
    {
      g_hash_table_remove_all (self->files);
      g_hash_table_remove_all (self->publishers);
      self->resolved_at = started;
    }
  active = active_files (self);

  /* Donors and the files they may hold. */
  g_hash_table_iter_init (&iter, self->donors);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Donor *donor = value;

      g_ptr_array_add (donors, donor);
      donor->alloc_index = -1;
      g_clear_pointer (&donor->eligible, g_hash_table_unref);
      donor->eligible = g_hash_table_new (g_str_hash, g_str_equal);
      if (!donor_is_offering (donor))
        continue;
      collect_eligible (self, donor, active, supported);
      storage += donor->offer->storage;

      g_hash_table_iter_init (&files, donor->eligible);
      while (g_hash_table_iter_next (&files, NULL, &index_value))
        {
          const AtlasTrackerIndexEntry *index = index_value;
          RunFile *file;

          if (g_hash_table_contains (run_files, index->entry))
            continue;
          file = g_new0 (RunFile, 1);
          file->entry = index->entry;
          file->piece_count = index->piece_count;
          file->piece_length = index->piece_length;
          file->members = count_members (self, index->entry);
          g_hash_table_insert (run_files, (gpointer) file->entry, file);
          g_ptr_array_add (candidates, file);
        }
    }

  for (guint i = 0; i < candidates->len; i++)
    {
      RunFile *file = g_ptr_array_index (candidates, i);

      file->supported = g_hash_table_contains (supported, file->entry);
    }

  /* The caps: the files with the most downloaders first. */
  g_ptr_array_sort (candidates, compare_run_files);
  g_hash_table_remove_all (run_files);
  alloc = atlas_donation_alloc_new ();
  for (guint i = 0; i < candidates->len && g_hash_table_size (run_files) < MAX_RUN_FILES; i++)
    {
      RunFile *file = g_ptr_array_index (candidates, i);

      if (pieces + file->piece_count > MAX_RUN_PIECES)
        continue;
      pieces += file->piece_count;
      file->alloc_index =
          atlas_donation_alloc_add_entry (alloc, file->piece_count, file->piece_length);
      g_hash_table_insert (run_files, (gpointer) file->entry, file);
      shortfall += set_demand (self, alloc, file, started);
    }

  for (guint i = 0; i < donors->len; i++)
    {
      Donor *donor = g_ptr_array_index (donors, i);
      gpointer key;
      guint allowed = 0;

      if (!donor_is_offering (donor))
        continue;
      /* A donor with nothing allowed must not enter the allocation: the
       * allocator would take it for one that supports every file. */
      g_hash_table_iter_init (&files, donor->eligible);
      while (g_hash_table_iter_next (&files, &key, NULL))
        allowed += g_hash_table_contains (run_files, key);
      if (allowed == 0)
        continue;

      donor->alloc_index = atlas_donation_alloc_add_donor (alloc, donor->offer->storage);
      g_hash_table_iter_init (&files, donor->eligible);
      while (g_hash_table_iter_next (&files, &key, NULL))
        {
          const RunFile *file = g_hash_table_lookup (run_files, key);
          const AtlasHubMembership *membership;
          const AtlasTrackerAssignment *last;

          if (file == NULL)
            continue;
          atlas_donation_alloc_donor_allow (alloc, donor->alloc_index, file->alloc_index);
          membership = g_hash_table_lookup (donor->connection->memberships, key);
          if (membership != NULL && membership->donor
              && membership->piece_count == file->piece_count)
            hold_bits (alloc, donor->alloc_index, file, membership->pieces);
          last = g_hash_table_lookup (donor->assigned, key);
          if (last != NULL && last->piece_count == file->piece_count)
            hold_bits (alloc, donor->alloc_index, file, last->pieces);
        }
    }

  atlas_donation_alloc_run (alloc);

  for (guint i = 0; i < donors->len; i++)
    {
      Donor *donor = g_ptr_array_index (donors, i);
      g_autoptr (GPtrArray) list = donor_assignment (donor, alloc, run_files);

      for (guint j = 0; j < list->len; j++)
        {
          const AtlasTrackerAssignment *assignment = g_ptr_array_index (list, j);
          guint n = 0;
          gsize size = 0;
          const guint8 *bits = g_bytes_get_data (assignment->pieces, &size);

          for (gsize k = 0; k < size; k++)
            for (guint8 b = bits[k]; b != 0; b &= b - 1)
              n++;
          assigned += n * assignment->piece_length;
        }
      if (donor->must_send || !same_assignment (donor->assigned, list))
        send_assignment (donor, list);
    }

  metrics->donors = 0;
  for (guint i = 0; i < donors->len; i++)
    metrics->donors += donor_is_offering (g_ptr_array_index (donors, i));
  metrics->donor_storage = storage;
  metrics->donation_assigned = assigned;
  metrics->donation_demand_met = atlas_donation_alloc_demand_met (alloc);
  metrics->donation_shortfall = shortfall - MIN (shortfall, metrics->donation_demand_met);
  metrics->donation_runs++;
  metrics->donation_last_run_usec = g_get_monotonic_time () - started;
  metrics->donation_run_usec += metrics->donation_last_run_usec;
  atlas_donation_alloc_free (alloc);
}
