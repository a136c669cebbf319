/* atlas-donor-assign.c — the tracker's assignments in, partial downloads out.
 *
 * Each assigned entry becomes one partial download of the cache's session,
 * made from the Metalink the tracker serves for it; its wanted pieces
 * follow the assignment. Reconciling brings the downloads closer to the
 * latest assignment without ever holding more than the storage cap: shrinks
 * first, growths only once every drop has been punched out of the files,
 * and only as many as the cap and the budget cover.
 *
 * A piece the latest assignment leaves out stays in the cache (held,
 * served and announced) while there is room, and leaves, least recently
 * assigned first, only when newly assigned pieces need its space or the
 * cap is lowered: the coordinator's assignments follow what the current
 * downloaders lack, and dropping each piece the moment it is not assigned
 * made donors fetch the same pieces again minutes later. Nothing is
 * fetched for a piece that is not assigned.
 *
 * Only an assignment received while donating moves pieces out. While the
 * donor is paused, or before the tracker has answered a (re)started
 * donor, what the cache holds stays, apart from what a lowered cap forces
 * out (atlas-donor-policy.c says why).
 */
#include "atlas-donor-internal.h"

#include <string.h>

#include "atlas-download-private.h"
#include "atlas-error.h"
#include "atlas-hash.h"
#include "atlas-metalink.h"
#include "atlas-session-private.h"

/* A Metalink that could not be fetched or used is tried again this late. */
#define METALINK_RETRY_US (30 * G_USEC_PER_SEC)

void
_atlas_donor_target_free (AtlasDonorTarget *target)
{
  if (target->cancellable != NULL)
    g_cancellable_cancel (target->cancellable);
  g_clear_object (&target->cancellable);
  g_clear_pointer (&target->assignment, atlas_tracker_assignment_free);
  g_free (target);
}

/* ---- bitfields and downloads ------------------------------------------------ */

static gboolean
bit_get (const guint8 *bits, gsize length, guint i)
{
  return i / 8 < length && (bits[i / 8] & (0x80 >> (i % 8))) != 0;
}

static void
bit_set (guint8 *bits, guint i, gboolean value)
{
  if (value)
    bits[i / 8] |= 0x80 >> (i % 8);
  else
    bits[i / 8] &= ~(0x80 >> (i % 8));
}

static guint
sum_pieces (const guint8 *bits, gsize length, guint count)
{
  guint n = 0;

  for (guint i = 0; i < count; i++)
    n += bit_get (bits, length, i);
  return n;
}

char *
_atlas_donor_download_entry (AtlasDownload *download, AtlasPeerLayout *layout)
{
  AtlasPeerLayout local;

  if (layout == NULL)
    layout = &local;
  if (!atlas_download_get_peer_layout (download, layout))
    return NULL;
  return atlas_hex_encode (layout->entry_id, sizeof layout->entry_id);
}

static AtlasDownload *
find_download (AtlasDonor *self, const char *entry)
{
  GListModel *downloads = G_LIST_MODEL (self->session);

  for (guint i = 0; i < g_list_model_get_n_items (downloads); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (downloads, i);
      g_autofree char *hex = _atlas_donor_download_entry (download, NULL);

      if (g_strcmp0 (hex, entry) == 0)
        return download;
    }
  return NULL;
}

static guint64
piece_bytes (AtlasDownload *download, const AtlasPeerLayout *layout, guint piece)
{
  gint64 size = atlas_download_get_size (download);
  guint64 start = (guint64) piece * layout->piece_length;

  if (size < 0 || start + layout->piece_length <= (guint64) size)
    return layout->piece_length;
  return start < (guint64) size ? (guint64) size - start : 0;
}

static guint64
wanted_bytes (AtlasDownload *download, const AtlasPeerLayout *layout, const guint8 *bits,
              gsize length)
{
  guint64 sum = 0;

  for (guint i = 0; i < layout->piece_count; i++)
    if (bit_get (bits, length, i))
      sum += piece_bytes (download, layout, i);
  return sum;
}

/* ---- reconciling -------------------------------------------------------------- */

/* One partial download, its wanted pieces as they are being edited, which
 * of them are verified on disk, and what the tracker assigned of its file. */
typedef struct
{
  AtlasDownload *download;
  AtlasPeerLayout layout;
  guint8 *wanted;
  guint8 *held; /* wanted and verified */
  gsize length;
  gboolean changed;
  gboolean assigned;    /* its entry is in the latest assignment */
  const guint8 *target; /* NULL: nothing assigned */
  gsize target_length;
  GArray *recency; /* the entry's last-assigned serials, or NULL */
} Holding;

static void
holding_free (Holding *holding)
{
  g_object_unref (holding->download);
  g_free (holding->wanted);
  g_free (holding->held);
  g_free (holding);
}

static GPtrArray *
collect_holdings (AtlasDonor *self)
{
  GPtrArray *holdings = g_ptr_array_new_with_free_func ((GDestroyNotify) holding_free);
  GListModel *downloads = G_LIST_MODEL (self->session);

  for (guint i = 0; i < g_list_model_get_n_items (downloads); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (downloads, i);
      g_autoptr (GBytes) wanted = NULL;
      g_autoptr (GBytes) states = NULL;
      const guint8 *state = NULL;
      gsize n_states = 0;
      Holding *holding;
      g_autofree char *hex = NULL;
      AtlasDonorTarget *target;

      holding = g_new0 (Holding, 1);
      holding->download = g_object_ref (download);
      hex = _atlas_donor_download_entry (download, &holding->layout);
      target = hex != NULL ? g_hash_table_lookup (self->targets, hex) : NULL;
      holding->assigned = target != NULL;
      holding->length = (holding->layout.piece_count + 7) / 8;
      wanted = atlas_download_dup_wanted_pieces (download);
      holding->wanted = g_malloc0 (MAX (holding->length, 1));
      holding->held = g_malloc0 (MAX (holding->length, 1));
      if (wanted != NULL)
        memcpy (holding->wanted, g_bytes_get_data (wanted, NULL),
                MIN (g_bytes_get_size (wanted), holding->length));
      states = atlas_download_get_piece_states (download);
      if (states != NULL)
        state = g_bytes_get_data (states, &n_states);
      for (guint p = 0; p < holding->layout.piece_count && p < n_states; p++)
        if (state[p] == ATLAS_PIECE_VERIFIED && bit_get (holding->wanted, holding->length, p))
          bit_set (holding->held, p, TRUE);
      if (target != NULL && target->assignment->piece_count == holding->layout.piece_count
          && target->assignment->piece_length == holding->layout.piece_length)
        holding->target = g_bytes_get_data (target->assignment->pieces, &holding->target_length);
      holding->recency = hex != NULL ? g_hash_table_lookup (self->recency, hex) : NULL;
      g_ptr_array_add (holdings, holding);
    }
  return holdings;
}

static void
holding_commit (Holding *holding)
{
  g_autoptr (GBytes) wanted = NULL;

  if (!holding->changed)
    return;
  wanted = g_bytes_new (holding->wanted, holding->length);
  atlas_download_set_wanted_pieces (holding->download, wanted);
  holding->changed = FALSE;
}

static gboolean
holding_empty (const Holding *holding)
{
  for (gsize i = 0; i < holding->length; i++)
    if (holding->wanted[i] != 0)
      return FALSE;
  return TRUE;
}

/* A piece the cache keeps although the latest assignment left it out. */
typedef struct
{
  guint holding;
  guint piece;
  guint32 assigned; /* serial of the last assignment that had it; 0: none */
} Kept;

static int
kept_compare (gconstpointer a, gconstpointer b)
{
  const Kept *x = a;
  const Kept *y = b;

  if (x->assigned != y->assigned)
    return x->assigned < y->assigned ? -1 : 1;
  if (x->holding != y->holding)
    return x->holding < y->holding ? -1 : 1;
  /* The end of a file goes first, as a lowered cap does it. */
  return x->piece > y->piece ? -1 : x->piece < y->piece ? 1 : 0;
}

/* Drops kept pieces, least recently assigned first, until @total is at
 * most @limit or none is left; returns the new total. */
static guint64
evict_kept (GPtrArray *holdings, GArray *kept, guint *next, guint64 total, guint64 limit)
{
  guint evicted = 0;

  for (; *next < kept->len && total > limit; (*next)++)
    {
      const Kept *k = &g_array_index (kept, Kept, *next);
      Holding *holding = g_ptr_array_index (holdings, k->holding);

      bit_set (holding->wanted, k->piece, FALSE);
      holding->changed = TRUE;
      total -= piece_bytes (holding->download, &holding->layout, k->piece);
      evicted++;
    }
  if (evicted > 0)
    g_debug ("donor: evicting %u pieces no longer assigned to make room", evicted);
  return total;
}

/* Brings the partial downloads toward the targets without ever holding more
 * than the cap. A piece the tracker no longer assigns is not dropped while
 * the cache has room: it is still on disk and still served, and the
 * tracker counts it as this donor's holding, so it comes back here first
 * when demand returns instead of being fetched again. Such kept pieces
 * leave only when space is needed: for newly assigned pieces (least
 * recently assigned first) or under a lowered cap. What is not yet held is
 * fetched only while assigned. New pieces are added only once every drop
 * has left the disk, and only as many as the cap and the budget cover. */
void
_atlas_donor_reconcile (AtlasDonor *self)
{
  g_autoptr (GPtrArray) holdings = NULL;
  g_autoptr (GArray) kept = NULL;
  gboolean follow = self->have_assignment && self->reason == ATLAS_DONOR_PAUSE_NONE;
  guint64 total = 0;
  guint64 pending_fetch = 0;
  guint64 growth = 0;
  guint next_kept = 0;
  gboolean drops_pending = FALSE;
  gint64 budget_room;
  guint64 room;

  if (self->session == NULL)
    return;
  holdings = collect_holdings (self);
  kept = g_array_new (FALSE, FALSE, sizeof (Kept));

  for (guint h = 0; h < holdings->len; h++)
    {
      Holding *holding = g_ptr_array_index (holdings, h);

      if (follow)
        for (guint i = 0; i < holding->layout.piece_count; i++)
          {
            Kept k = { h, i, 0 };

            if (!bit_get (holding->wanted, holding->length, i)
                || bit_get (holding->target, holding->target_length, i))
              continue;
            if (!bit_get (holding->held, holding->length, i))
              {
                /* Not on disk yet and no longer assigned: stop fetching it. */
                bit_set (holding->wanted, i, FALSE);
                holding->changed = TRUE;
                continue;
              }
            if (holding->recency != NULL && i < holding->recency->len)
              k.assigned = g_array_index (holding->recency, guint32, i);
            g_array_append_val (kept, k);
          }
      total += wanted_bytes (holding->download, &holding->layout, holding->wanted, holding->length);
      if (follow)
        pending_fetch +=
            wanted_bytes (holding->download, &holding->layout, holding->wanted, holding->length)
            - wanted_bytes (holding->download, &holding->layout, holding->held, holding->length);
    }
  g_array_sort (kept, kept_compare);

  /* A lowered cap (or a tracker behind it): kept pieces go first, then
   * assigned ones from the end of each file, until the rest fits. This
   * applies paused or not: the cap is the user's promise about their disk. */
  total = evict_kept (holdings, kept, &next_kept, total, self->storage_cap);
  for (guint h = 0; h < holdings->len && total > self->storage_cap; h++)
    {
      Holding *holding = g_ptr_array_index (holdings, h);

      for (guint i = holding->layout.piece_count; i-- > 0 && total > self->storage_cap;)
        if (bit_get (holding->wanted, holding->length, i))
          {
            bit_set (holding->wanted, i, FALSE);
            holding->changed = TRUE;
            total -= piece_bytes (holding->download, &holding->layout, i);
          }
    }

  /* Room for what is newly assigned (as far as the budget covers it) is
   * made by evicting kept pieces, never assigned ones. */
  budget_room =
      self->budget > 0 ? _atlas_donor_budget_left (self) - (gint64) pending_fetch : G_MAXINT64;
  if (follow)
    {
      for (guint h = 0; h < holdings->len; h++)
        {
          Holding *holding = g_ptr_array_index (holdings, h);

          for (guint i = 0; i < holding->layout.piece_count; i++)
            if (!bit_get (holding->wanted, holding->length, i)
                && bit_get (holding->target, holding->target_length, i))
              growth += piece_bytes (holding->download, &holding->layout, i);
        }
      growth = MIN (growth, (guint64) MAX (budget_room, 0));
      if (growth > 0 && growth <= self->storage_cap)
        total = evict_kept (holdings, kept, &next_kept, total, self->storage_cap - growth);
      else if (growth > self->storage_cap)
        total = evict_kept (holdings, kept, &next_kept, total, 0);
    }

  for (guint h = 0; h < holdings->len; h++)
    {
      Holding *holding = g_ptr_array_index (holdings, h);
      guint64 bytes;

      /* An entry no longer assigned whose last kept piece went: its file goes. */
      if (follow && !holding->assigned && holding_empty (holding))
        {
          g_autofree char *hex = _atlas_donor_download_entry (holding->download, NULL);

          g_debug ("donor: dropping %s", atlas_download_get_name (holding->download));
          if (hex != NULL)
            g_hash_table_remove (self->recency, hex);
          atlas_session_remove (self->session, holding->download, TRUE);
          g_ptr_array_remove_index (holdings, h--);
          continue;
        }
      holding_commit (holding);
      bytes = wanted_bytes (holding->download, &holding->layout, holding->wanted, holding->length);
      if (atlas_download_get_stored_bytes (holding->download) > bytes)
        drops_pending = TRUE;
    }

  if (drops_pending || !follow)
    return;
  room = self->storage_cap - total;
  for (guint h = 0; h < holdings->len; h++)
    {
      Holding *holding = g_ptr_array_index (holdings, h);

      for (guint i = 0; i < holding->layout.piece_count; i++)
        {
          guint64 bytes;

          if (bit_get (holding->wanted, holding->length, i)
              || !bit_get (holding->target, holding->target_length, i))
            continue;
          bytes = piece_bytes (holding->download, &holding->layout, i);
          if (bytes > room || (gint64) bytes > budget_room)
            continue;
          bit_set (holding->wanted, i, TRUE);
          holding->changed = TRUE;
          room -= bytes;
          budget_room -= bytes;
        }
      if (holding->changed)
        g_debug ("donor: %s: %u pieces wanted", atlas_download_get_name (holding->download),
                 sum_pieces (holding->wanted, holding->length, holding->layout.piece_count));
      holding_commit (holding);
    }
}

void
_atlas_donor_drop_all (AtlasDonor *self)
{
  g_hash_table_remove_all (self->targets);
  g_hash_table_remove_all (self->backoffs);
  g_hash_table_remove_all (self->recency);
  self->have_assignment = FALSE;
  if (self->session == NULL)
    return;
  while (g_list_model_get_n_items (G_LIST_MODEL (self->session)) > 0)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (G_LIST_MODEL (self->session), 0);

      g_debug ("donor: donation is off, deleting %s", atlas_download_get_name (download));
      atlas_session_remove (self->session, download, TRUE);
    }
}

/* ---- retrying failed downloads ------------------------------------------------ */

/* A partial download fails when every source gave up on it (a mirror down,
 * no peer holding its pieces). It is tried again after a back-off that
 * doubles with each failure, so a file that stays unreachable costs a few
 * requests an hour, not a stream of them. A download that gets all its
 * pieces starts the back-off afresh. */
void
_atlas_donor_retry_failed (AtlasDonor *self)
{
  GListModel *downloads;
  gint64 now = g_get_monotonic_time ();

  if (self->session == NULL || self->reason != ATLAS_DONOR_PAUSE_NONE)
    return;
  downloads = G_LIST_MODEL (self->session);
  for (guint i = 0; i < g_list_model_get_n_items (downloads); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (downloads, i);
      g_autofree char *hex = _atlas_donor_download_entry (download, NULL);
      AtlasDonorBackoff *backoff;

      if (hex == NULL)
        continue;
      backoff = g_hash_table_lookup (self->backoffs, hex);
      if (atlas_download_get_state (download) != ATLAS_DOWNLOAD_FAILED)
        {
          if (backoff != NULL && backoff->retry_at == 0
              && atlas_download_get_n_held_pieces (download)
                     >= atlas_download_get_n_wanted_pieces (download))
            g_hash_table_remove (self->backoffs, hex);
          continue;
        }
      if (backoff == NULL)
        {
          backoff = g_new0 (AtlasDonorBackoff, 1);
          g_hash_table_insert (self->backoffs, g_steal_pointer (&hex), backoff);
        }
      if (backoff->retry_at == 0)
        {
          const char *why = atlas_download_get_error_message (download);

          backoff->delay = backoff->delay == 0 ? self->retry_min_us
                                               : MIN (backoff->delay * 2, self->retry_max_us);
          backoff->retry_at = now + backoff->delay;
          g_message ("donor: %s failed (%s); trying again in %" G_GINT64_FORMAT " s",
                     atlas_download_get_name (download), why != NULL ? why : "no reason given",
                     backoff->delay / G_USEC_PER_SEC);
          continue;
        }
      if (now < backoff->retry_at)
        continue;
      backoff->retry_at = 0;
      atlas_download_resume (download);
    }
}

/* ---- Metalinks ---------------------------------------------------------------- */

typedef struct
{
  AtlasDonor *donor;
  char *entry;
  char *directory;
} MetalinkJob;

static void
metalink_job_free (MetalinkJob *job)
{
  g_clear_object (&job->donor);
  g_free (job->entry);
  g_free (job->directory);
  g_free (job);
}

/* The engine's Metalink parser, off the main loop, as `atlas get NAME` uses it. */
static void
parse_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  MetalinkJob *job = data;
  GBytes *xml = g_object_get_data (G_OBJECT (task), "xml");
  g_autoptr (AtlasMetalink) metalink = NULL;
  g_autoptr (GPtrArray) requests = NULL;
  g_autoptr (GError) error = NULL;
  gsize size = 0;
  const char *text;

  text = g_bytes_get_data (xml, &size);
  metalink = atlas_metalink_parse (text != NULL ? text : "", size, &error);
  if (metalink == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  requests = atlas_request_list_from_metalink (metalink, job->directory);
  if (requests == NULL || requests->len != 1)
    {
      g_task_return_new_error (task, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                               "the tracker's Metalink for %.12s… does not describe one file",
                               job->entry);
      return;
    }
  g_task_return_pointer (task, atlas_request_copy (g_ptr_array_index (requests, 0)),
                         (GDestroyNotify) atlas_request_free);
}

static void
add_partial (AtlasDonor *self, const char *entry, AtlasRequest *request)
{
  AtlasDonorTarget *target = g_hash_table_lookup (self->targets, entry);
  g_autoptr (GError) error = NULL;
  g_autofree char *hex = NULL;
  g_autoptr (GBytes) nothing = NULL;
  AtlasDownload *download;

  if (target == NULL || self->session == NULL || find_download (self, entry) != NULL)
    return;
  /* Files are named by their entry, so two names never clash in the cache. */
  atlas_request_set_filename (request, entry);
  atlas_request_set_directory (request, self->files_dir);
  nothing = g_bytes_new_take (g_malloc0 ((target->assignment->piece_count + 7) / 8),
                              (target->assignment->piece_count + 7) / 8);
  download = _atlas_session_add_partial (self->session, request, nothing, &error);
  if (download == NULL)
    {
      g_warning ("donor: cannot hold pieces of %s: %s", target->assignment->name, error->message);
      target->retry_at = g_get_monotonic_time () + METALINK_RETRY_US;
      return;
    }
  hex = _atlas_donor_download_entry (download, NULL);
  if (g_strcmp0 (hex, entry) != 0)
    {
      g_warning ("donor: the Metalink of %s is not for entry %.12s…", target->assignment->name,
                 entry);
      atlas_session_remove (self->session, download, TRUE);
      target->retry_at = g_get_monotonic_time () + METALINK_RETRY_US;
      return;
    }
  if (self->reason != ATLAS_DONOR_PAUSE_NONE)
    atlas_download_pause (download);
  _atlas_donor_reconcile (self);
}

static void
parsed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = G_TASK (result);
  MetalinkJob *job = g_task_get_task_data (task);
  AtlasDonor *self = job->donor;
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasRequest) request = g_task_propagate_pointer (task, &error);
  AtlasDonorTarget *target;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  target = g_hash_table_lookup (self->targets, job->entry);
  if (target == NULL)
    return;
  g_clear_object (&target->cancellable);
  if (request == NULL)
    {
      g_warning ("donor: %s", error->message);
      target->retry_at = g_get_monotonic_time () + METALINK_RETRY_US;
      return;
    }
  add_partial (self, job->entry, request);
}

static void
metalink_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) parse = NULL;
  MetalinkJob *job = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) xml =
      atlas_tracker_client_get_metalink_finish (ATLAS_TRACKER_CLIENT (source), result, &error);
  AtlasDonorTarget *target;

  if (xml == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          target = g_hash_table_lookup (job->donor->targets, job->entry);
          if (target != NULL)
            {
              g_clear_object (&target->cancellable);
              target->retry_at = g_get_monotonic_time () + METALINK_RETRY_US;
            }
          g_warning ("donor: cannot fetch the Metalink of %.12s…: %s", job->entry, error->message);
        }
      metalink_job_free (job);
      return;
    }
  target = g_hash_table_lookup (job->donor->targets, job->entry);
  parse = g_task_new (NULL, target != NULL ? target->cancellable : NULL, parsed_cb, NULL);
  g_object_set_data_full (G_OBJECT (parse), "xml", g_steal_pointer (&xml),
                          (GDestroyNotify) g_bytes_unref);
  g_task_set_task_data (parse, job, (GDestroyNotify) metalink_job_free);
  g_task_run_in_thread (parse, parse_thread);
}

static void
fetch_metalink (AtlasDonor *self, const char *entry, AtlasDonorTarget *target)
{
  MetalinkJob *job = g_new0 (MetalinkJob, 1);

  job->donor = g_object_ref (self);
  job->entry = g_strdup (entry);
  job->directory = g_strdup (self->files_dir);
  target->cancellable = g_cancellable_new ();
  atlas_tracker_client_get_metalink_async (self->tracker, target->assignment->id,
                                           target->cancellable, metalink_cb, job);
}

/* Starts fetching the Metalink of every assigned entry the cache has no
 * download for yet (again, a while after a failure). */
void
_atlas_donor_fetch_missing (AtlasDonor *self)
{
  GHashTableIter iter;
  const char *entry;
  AtlasDonorTarget *target;
  gint64 now = g_get_monotonic_time ();

  if (self->session == NULL || self->reason != ATLAS_DONOR_PAUSE_NONE)
    return;
  g_hash_table_iter_init (&iter, self->targets);
  while (g_hash_table_iter_next (&iter, (gpointer *) &entry, (gpointer *) &target))
    if (target->cancellable == NULL && now >= target->retry_at
        && find_download (self, entry) == NULL)
      fetch_metalink (self, entry, target);
}

/* ---- assignments ------------------------------------------------------------ */

/* Forgets the recency of entries neither assigned nor in the cache. */
static void
forget_unheld (AtlasDonor *self)
{
  GHashTableIter iter;
  const char *entry;

  g_hash_table_iter_init (&iter, self->recency);
  while (g_hash_table_iter_next (&iter, (gpointer *) &entry, NULL))
    if (!g_hash_table_contains (self->targets, entry)
        && (self->session == NULL || find_download (self, entry) == NULL))
      g_hash_table_iter_remove (&iter);
}

/* Remembers that this assignment has these pieces, for the eviction order. */
static void
stamp_recency (AtlasDonor *self, const AtlasTrackerAssignment *assignment)
{
  GArray *stamps = g_hash_table_lookup (self->recency, assignment->entry);
  gsize size = 0;
  const guint8 *bits = g_bytes_get_data (assignment->pieces, &size);

  if (stamps != NULL && stamps->len != assignment->piece_count)
    {
      g_hash_table_remove (self->recency, assignment->entry);
      stamps = NULL;
    }
  if (stamps == NULL)
    {
      stamps = g_array_sized_new (FALSE, TRUE, sizeof (guint32), assignment->piece_count);
      g_array_set_size (stamps, assignment->piece_count);
      g_hash_table_insert (self->recency, g_strdup (assignment->entry), stamps);
    }
  for (guint i = 0; i < assignment->piece_count; i++)
    if (bit_get (bits, size, i))
      g_array_index (stamps, guint32, i) = self->assign_serial;
}

void
_atlas_donor_assign_cb (AtlasTrackerClient *tracker, GPtrArray *assignments, AtlasDonor *self)
{
  g_autoptr (GHashTable) previous = NULL;
  AtlasDonorTarget *target;

  /* The tracker assigns nothing to a paused donor; the cache keeps what it
   * holds for when donation resumes (and a new assignment comes). */
  if (self->reason != ATLAS_DONOR_PAUSE_NONE)
    {
      g_debug ("donor: paused, an assignment of %u entries waits for the next one",
               assignments->len);
      return;
    }
  previous = g_steal_pointer (&self->targets);
  self->have_assignment = TRUE;
  self->assign_serial++;
  self->targets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) _atlas_donor_target_free);
  for (guint i = 0; i < assignments->len; i++)
    {
      AtlasTrackerAssignment *assignment = g_ptr_array_index (assignments, i);
      gpointer old_key = NULL;
      AtlasDonorTarget *old = NULL;

      /* A target kept keeps its Metalink fetch in flight. */
      if (g_hash_table_steal_extended (previous, assignment->entry, &old_key, (gpointer *) &old))
        g_free (old_key);
      target = old != NULL ? old : g_new0 (AtlasDonorTarget, 1);
      g_clear_pointer (&target->assignment, atlas_tracker_assignment_free);
      target->assignment = atlas_tracker_assignment_copy (assignment);
      target->retry_at = 0;
      g_hash_table_insert (self->targets, g_strdup (assignment->entry), target);
      stamp_recency (self, assignment);
    }
  /* Entries gone from the assignment: their fetches stop (target_free), and
   * what is remembered of them goes unless the cache keeps some of it. */
  forget_unheld (self);
  _atlas_donor_fetch_missing (self);
  _atlas_donor_reconcile (self);
}

void
_atlas_donor_apply_assignments (AtlasDonor *self, GPtrArray *assignments)
{
  _atlas_donor_assign_cb (self->tracker, assignments, self);
}

AtlasTrackerAssignment *
_atlas_donor_dup_assignment (AtlasDonor *self, const char *entry)
{
  AtlasDonorTarget *target = g_hash_table_lookup (self->targets, entry);

  return target != NULL ? atlas_tracker_assignment_copy (target->assignment) : NULL;
}

guint
_atlas_donor_get_n_assignments (AtlasDonor *self)
{
  return self->assign_serial;
}
