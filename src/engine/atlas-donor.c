/* atlas-donor.c — the donation cache: assignments in, partial downloads out,
 * within the storage cap, the upload cap and the monthly budget.
 *
 * Once a second the donor charges the bytes its swarm uploaded and its
 * session fetched to the ledger (atlas-donor-ledger.h), decides whether it
 * is paused and why, and brings its partial downloads closer to the tracker's
 * latest assignment: shrinks first, growths only once every drop has been
 * punched out of the files, so the bytes on disk never exceed the cap.
 */
#include "atlas-donor-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "atlas-donor-ledger.h"
#include "atlas-download-private.h"
#include "atlas-error.h"
#include "atlas-hash.h"
#include "atlas-metalink.h"
#include "atlas-peer-identity.h"
#include "atlas-peer-wire.h"
#include "atlas-session-private.h"
#include "atlas-swarm.h"

#define TICK_MS 1000
/* Bytes kept out of every budget: the upload limiter and the fetches may
 * each overrun what they were allowed by one block. */
#define BUDGET_MARGIN (2 * (guint64) ATLAS_PEER_MAX_BLOCK)
/* Below this much left, the month's budget counts as spent. */
#define BUDGET_SPENT_BELOW (64 * 1024)
/* The ledger reserves budget on disk in slices of 1/8 of the budget (at
 * least 1 MiB): a restart after a crash loses at most one slice, and the
 * file is written a few times a month rather than every second. */
#define MIN_SLICE (1024 * 1024)
/* A Metalink that could not be fetched or used is tried again this late. */
#define RETRY_US (30 * G_USEC_PER_SEC)

G_DEFINE_ENUM_TYPE (AtlasDonorPauseReason, atlas_donor_pause_reason,
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_NONE, "none"),
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_DISABLED, "disabled"),
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_METERED, "metered"),
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_POWER_SAVER, "power-saver"),
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_BUDGET, "budget"),
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_OFFLINE, "offline"))

/* An entry the tracker assigned us pieces of. */
typedef struct
{
  AtlasTrackerAssignment *assignment;
  GCancellable *cancellable; /* the Metalink fetch in flight, or NULL */
  gint64 retry_at;           /* its Metalink failed: not before this (monotonic µs) */
} Target;

struct _AtlasDonor
{
  GObject parent_instance;

  char *cache_dir;
  char *files_dir;
  char *store_path;
  char *ledger_path;
  AtlasPeerIdentity *identity;
  AtlasTrackerClient *tracker;
  AtlasIceConfig ice;
  AtlasSettings *settings;
  AtlasSession *session;
  AtlasSwarm *swarm;
  GCancellable *cancellable;
  gboolean started;

  /* Settings. */
  gboolean enabled;
  guint64 storage_cap;
  guint64 upload_cap;
  guint64 budget;
  gboolean anywhere;
  char **cause_entries;
  char **cause_publishers;
  gboolean pause_on_metered;
  gboolean pause_on_power_saver;

  /* Conditions. */
  GNetworkMonitor *network;
  GPowerProfileMonitor *power;
  gboolean fixed_conditions; /* tests */
  gboolean metered;
  gboolean power_saver;

  /* Budget. */
  AtlasDonorLedger ledger;
  AtlasAllowance allowance;
  gboolean saving;
  gboolean ledger_dirty;
  guint64 last_uploaded;
  guint64 last_fetched;
  gint64 last_tick;

  GHashTable *targets;      /* entry hex -> Target */
  gboolean have_assignment; /* the tracker spoke since start: targets are real */
  AtlasDonorPauseReason reason;
  guint tick_id;

  /* Figures. */
  guint64 storage_used;
  guint64 upload_rate;
  guint64 bytes_served;
  guint downloads_helped;
  GListStore *causes;
};

G_DEFINE_FINAL_TYPE (AtlasDonor, atlas_donor, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_PAUSE_REASON,
  PROP_STORAGE_USED,
  PROP_STORAGE_CAP,
  PROP_UPLOAD_RATE,
  PROP_UPLOADED_THIS_MONTH,
  PROP_FETCHED_THIS_MONTH,
  PROP_BYTES_SERVED,
  PROP_DOWNLOADS_HELPED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void reconcile (AtlasDonor *self);
static void update_pause (AtlasDonor *self);

static void
target_free (Target *target)
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

static char *
download_entry (AtlasDownload *download, AtlasPeerLayout *layout)
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
      g_autofree char *hex = download_entry (download, NULL);

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

/* ---- the ledger ----------------------------------------------------------------- */

static guint64
budget_limit (AtlasDonor *self)
{
  return self->budget > BUDGET_MARGIN ? self->budget - BUDGET_MARGIN : 0;
}

static gint64
budget_left (AtlasDonor *self)
{
  return (gint64) budget_limit (self) - (gint64) _atlas_donor_ledger_used (&self->ledger);
}

/* The limiters may spend what the ledger on disk reserved and not more. */
static void
update_allowance (AtlasDonor *self)
{
  AtlasAllowance *allowance = self->budget > 0 ? &self->allowance : NULL;
  guint64 reserved = MIN (self->ledger.reserved, budget_limit (self));

  self->allowance.left = (double) reserved - (double) _atlas_donor_ledger_used (&self->ledger);
  if (self->swarm != NULL)
    atlas_swarm_set_upload_allowance (self->swarm, allowance);
  if (self->session != NULL)
    atlas_rate_limiter_set_allowance (_atlas_session_get_limiter (self->session), allowance);
}

typedef struct
{
  AtlasDonor *donor;
  guint64 reserved;
} SaveData;

static void
ledger_saved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SaveData *data = user_data;
  g_autoptr (AtlasDonor) self = data->donor;
  g_autoptr (GError) error = NULL;

  self->saving = FALSE;
  if (!_atlas_donor_ledger_save_finish (result, &error))
    g_warning ("donor: %s", error->message);
  else if (data->reserved > self->ledger.reserved)
    {
      self->ledger.reserved = data->reserved;
      update_allowance (self);
    }
  g_free (data);
}

static void
ledger_save (AtlasDonor *self, guint64 reserved)
{
  AtlasDonorLedger copy = self->ledger;
  SaveData *data = g_new0 (SaveData, 1);

  data->donor = g_object_ref (self);
  data->reserved = reserved;
  copy.reserved = reserved;
  self->saving = TRUE;
  self->ledger_dirty = FALSE;
  _atlas_donor_ledger_save_async (&copy, self->ledger_path, NULL, ledger_saved_cb, data);
}

/* Charges what was uploaded and fetched since the last tick, starts a new
 * month when the calendar says so, and reserves more of the budget on disk
 * before the limiters run out. */
static void
update_ledger (AtlasDonor *self)
{
  g_autofree char *month = _atlas_donor_ledger_month_now ();
  guint64 uploaded = self->swarm != NULL ? atlas_swarm_get_bytes_uploaded (self->swarm) : 0;
  guint64 fetched = self->session != NULL ? _atlas_session_get_limiter (self->session)->total : 0;
  gint64 now = g_get_monotonic_time ();
  guint64 upload_delta = uploaded - self->last_uploaded;
  guint64 used;

  if (_atlas_donor_ledger_roll (&self->ledger, month))
    self->ledger_dirty = TRUE;
  self->ledger.uploaded += upload_delta;
  self->ledger.fetched += fetched - self->last_fetched;
  if (upload_delta > 0 || fetched != self->last_fetched)
    self->ledger_dirty = TRUE;
  self->last_uploaded = uploaded;
  self->last_fetched = fetched;
  if (self->last_tick != 0 && now > self->last_tick)
    self->upload_rate = upload_delta * G_USEC_PER_SEC / (now - self->last_tick);
  self->last_tick = now;

  used = _atlas_donor_ledger_used (&self->ledger);
  if (self->budget == 0)
    self->ledger.reserved = used;
  else
    self->ledger.reserved = MAX (self->ledger.reserved, used);
  update_allowance (self);
  if (self->saving)
    return;
  if (self->budget > 0)
    {
      guint64 slice = MAX (self->budget / 8, MIN_SLICE);
      guint64 limit = budget_limit (self);

      if (self->ledger.reserved < limit && self->ledger.reserved - used < slice / 2)
        {
          ledger_save (self, MIN (limit, used + slice));
          return;
        }
    }
  if (self->ledger_dirty)
    ledger_save (self, self->ledger.reserved);
}

/* ---- pausing ------------------------------------------------------------------ */

static AtlasDonorPauseReason
compute_reason (AtlasDonor *self)
{
  if (!self->enabled)
    return ATLAS_DONOR_PAUSE_DISABLED;
  if (self->budget > 0 && budget_left (self) < BUDGET_SPENT_BELOW)
    return ATLAS_DONOR_PAUSE_BUDGET;
  if (self->pause_on_metered && self->metered)
    return ATLAS_DONOR_PAUSE_METERED;
  if (self->pause_on_power_saver && self->power_saver)
    return ATLAS_DONOR_PAUSE_POWER_SAVER;
  if (!atlas_tracker_client_is_connected (self->tracker))
    return ATLAS_DONOR_PAUSE_OFFLINE;
  return ATLAS_DONOR_PAUSE_NONE;
}

static void
send_offer (AtlasDonor *self)
{
  AtlasDonateOffer offer = {
    .storage = self->storage_cap,
    .upload_rate = self->upload_cap,
    /* Offline is not a choice of ours: the offer stands for when the
     * connection is back. */
    .paused = self->reason != ATLAS_DONOR_PAUSE_NONE && self->reason != ATLAS_DONOR_PAUSE_OFFLINE,
    .anywhere = self->anywhere,
    .entries = self->cause_entries,
    .publishers = self->cause_publishers,
  };

  if (self->started)
    atlas_tracker_client_donate (self->tracker, &offer);
}

/* Paused downloads leave their swarms: nothing is served or fetched. */
static void
apply_pause_to_downloads (AtlasDonor *self)
{
  gboolean pause = self->reason != ATLAS_DONOR_PAUSE_NONE;
  GListModel *downloads;

  if (self->session == NULL)
    return;
  downloads = G_LIST_MODEL (self->session);
  for (guint i = 0; i < g_list_model_get_n_items (downloads); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (downloads, i);
      AtlasDownloadState state = atlas_download_get_state (download);

      if (pause && state != ATLAS_DOWNLOAD_PAUSED)
        atlas_download_pause (download);
      else if (!pause && (state == ATLAS_DOWNLOAD_PAUSED || state == ATLAS_DOWNLOAD_FAILED))
        atlas_download_resume (download);
    }
}

static void
update_pause (AtlasDonor *self)
{
  AtlasDonorPauseReason reason = compute_reason (self);
  gboolean was_paused = self->reason != ATLAS_DONOR_PAUSE_NONE;
  gboolean offer_changed;

  if (reason == self->reason)
    return;
  offer_changed =
      (self->reason == ATLAS_DONOR_PAUSE_NONE || self->reason == ATLAS_DONOR_PAUSE_OFFLINE)
      != (reason == ATLAS_DONOR_PAUSE_NONE || reason == ATLAS_DONOR_PAUSE_OFFLINE);
  g_debug ("donor: %s -> %s", atlas_donor_get_pause_text (self),
           reason == ATLAS_DONOR_PAUSE_NONE ? "donating" : "paused");
  self->reason = reason;
  if (was_paused != (reason != ATLAS_DONOR_PAUSE_NONE))
    apply_pause_to_downloads (self);
  if (offer_changed)
    send_offer (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAUSE_REASON]);
}

static void
read_conditions (AtlasDonor *self)
{
  if (self->fixed_conditions)
    return;
  self->metered = self->network != NULL && g_network_monitor_get_network_metered (self->network);
  self->power_saver =
      self->power != NULL && g_power_profile_monitor_get_power_saver_enabled (self->power);
}

static void
conditions_changed_cb (GObject *object, GParamSpec *pspec, AtlasDonor *self)
{
  read_conditions (self);
  update_pause (self);
  reconcile (self);
}

static void
tracker_connected_cb (AtlasTrackerClient *tracker, AtlasDonor *self)
{
  update_pause (self);
}

static void
tracker_disconnected_cb (AtlasTrackerClient *tracker, const GError *error, AtlasDonor *self)
{
  update_pause (self);
}

/* ---- assignments ------------------------------------------------------------ */

static guint
sum_pieces (const guint8 *bits, gsize length, guint count)
{
  guint n = 0;

  for (guint i = 0; i < count; i++)
    n += bit_get (bits, length, i);
  return n;
}

typedef struct
{
  AtlasDownload *download;
  AtlasPeerLayout layout;
  guint8 *wanted;
  gsize length;
  gboolean changed;
  const guint8 *target; /* NULL: nothing assigned */
  gsize target_length;
} Holding;

static void
holding_free (Holding *holding)
{
  g_object_unref (holding->download);
  g_free (holding->wanted);
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
      Holding *holding;
      g_autofree char *hex = NULL;
      Target *target;

      holding = g_new0 (Holding, 1);
      holding->download = g_object_ref (download);
      hex = download_entry (download, &holding->layout);
      target = hex != NULL ? g_hash_table_lookup (self->targets, hex) : NULL;
      holding->length = (holding->layout.piece_count + 7) / 8;
      wanted = atlas_download_dup_wanted_pieces (download);
      holding->wanted = g_malloc0 (MAX (holding->length, 1));
      if (wanted != NULL)
        memcpy (holding->wanted, g_bytes_get_data (wanted, NULL),
                MIN (g_bytes_get_size (wanted), holding->length));
      if (target != NULL && target->assignment->piece_count == holding->layout.piece_count
          && target->assignment->piece_length == holding->layout.piece_length)
        holding->target = g_bytes_get_data (target->assignment->pieces, &holding->target_length);
      g_ptr_array_add (holdings, holding);
    }
  return holdings;
}

/* Brings the partial downloads toward the targets without ever holding more
 * than the cap: entries no longer assigned go, then pieces no longer
 * assigned, then pieces past a lowered cap; new pieces only once every drop
 * has left the disk, and only as many as the cap and the budget cover. */
static void
reconcile (AtlasDonor *self)
{
  g_autoptr (GPtrArray) holdings = NULL;
  guint64 total = 0;
  guint64 pending_fetch = 0;
  gboolean drops_pending = FALSE;
  gint64 budget_room;
  guint64 room;

  if (self->session == NULL)
    return;
  holdings = collect_holdings (self);

  for (guint h = 0; h < holdings->len; h++)
    {
      Holding *holding = g_ptr_array_index (holdings, h);
      g_autofree char *hex = download_entry (holding->download, NULL);

      /* Until the tracker's first assignment, what the cache holds from the
       * last run stays (paused): most of it is usually assigned again. */
      if (!self->have_assignment)
        {
          total +=
              wanted_bytes (holding->download, &holding->layout, holding->wanted, holding->length);
          continue;
        }
      if (hex == NULL || !g_hash_table_contains (self->targets, hex))
        {
          g_debug ("donor: dropping %s", atlas_download_get_name (holding->download));
          atlas_session_remove (self->session, holding->download, TRUE);
          g_ptr_array_remove_index (holdings, h--);
          continue;
        }
      for (guint i = 0; i < holding->layout.piece_count; i++)
        if (bit_get (holding->wanted, holding->length, i)
            && !bit_get (holding->target, holding->target_length, i))
          {
            bit_set (holding->wanted, i, FALSE);
            holding->changed = TRUE;
          }
      total += wanted_bytes (holding->download, &holding->layout, holding->wanted, holding->length);
    }

  /* A lowered cap (or a tracker behind it): drop from the end of each file
   * until the rest fits. */
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

  for (guint h = 0; h < holdings->len; h++)
    {
      Holding *holding = g_ptr_array_index (holdings, h);
      guint64 bytes;

      if (holding->changed)
        {
          g_autoptr (GBytes) wanted = g_bytes_new (holding->wanted, holding->length);

          atlas_download_set_wanted_pieces (holding->download, wanted);
          holding->changed = FALSE;
        }
      bytes = wanted_bytes (holding->download, &holding->layout, holding->wanted, holding->length);
      if (atlas_download_get_stored_bytes (holding->download) > bytes)
        drops_pending = TRUE;
      pending_fetch += bytes
                       - MIN (bytes, (guint64) atlas_download_get_n_held_pieces (holding->download)
                                         * holding->layout.piece_length);
    }

  if (drops_pending || !self->have_assignment || self->reason != ATLAS_DONOR_PAUSE_NONE)
    return;
  room = self->storage_cap - total;
  budget_room = self->budget > 0 ? budget_left (self) - (gint64) pending_fetch : G_MAXINT64;
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
        {
          g_autoptr (GBytes) wanted = g_bytes_new (holding->wanted, holding->length);

          g_debug ("donor: %s: %u pieces wanted", atlas_download_get_name (holding->download),
                   sum_pieces (holding->wanted, holding->length, holding->layout.piece_count));
          atlas_download_set_wanted_pieces (holding->download, wanted);
        }
    }
}

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
  Target *target = g_hash_table_lookup (self->targets, entry);
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
      target->retry_at = g_get_monotonic_time () + RETRY_US;
      return;
    }
  hex = download_entry (download, NULL);
  if (g_strcmp0 (hex, entry) != 0)
    {
      g_warning ("donor: the Metalink of %s is not for entry %.12s…", target->assignment->name,
                 entry);
      atlas_session_remove (self->session, download, TRUE);
      target->retry_at = g_get_monotonic_time () + RETRY_US;
      return;
    }
  if (self->reason != ATLAS_DONOR_PAUSE_NONE)
    atlas_download_pause (download);
  reconcile (self);
}

static void
parsed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = G_TASK (result);
  MetalinkJob *job = g_task_get_task_data (task);
  AtlasDonor *self = job->donor;
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasRequest) request = g_task_propagate_pointer (task, &error);
  Target *target;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  target = g_hash_table_lookup (self->targets, job->entry);
  if (target == NULL)
    return;
  g_clear_object (&target->cancellable);
  if (request == NULL)
    {
      g_warning ("donor: %s", error->message);
      target->retry_at = g_get_monotonic_time () + RETRY_US;
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
  Target *target;

  if (xml == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          target = g_hash_table_lookup (job->donor->targets, job->entry);
          if (target != NULL)
            {
              g_clear_object (&target->cancellable);
              target->retry_at = g_get_monotonic_time () + RETRY_US;
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
fetch_metalink (AtlasDonor *self, const char *entry, Target *target)
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
static void
fetch_missing (AtlasDonor *self)
{
  GHashTableIter iter;
  const char *entry;
  Target *target;
  gint64 now = g_get_monotonic_time ();

  if (self->session == NULL)
    return;
  g_hash_table_iter_init (&iter, self->targets);
  while (g_hash_table_iter_next (&iter, (gpointer *) &entry, (gpointer *) &target))
    if (target->cancellable == NULL && now >= target->retry_at
        && find_download (self, entry) == NULL)
      fetch_metalink (self, entry, target);
}

static void
assign_cb (AtlasTrackerClient *tracker, GPtrArray *assignments, AtlasDonor *self)
{
  g_autoptr (GHashTable) previous = g_steal_pointer (&self->targets);
  Target *target;

  self->have_assignment = TRUE;
  self->targets =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) target_free);
  for (guint i = 0; i < assignments->len; i++)
    {
      AtlasTrackerAssignment *assignment = g_ptr_array_index (assignments, i);
      gpointer old_key = NULL;
      Target *old = NULL;

      /* A target kept keeps its Metalink fetch in flight. */
      if (g_hash_table_steal_extended (previous, assignment->entry, &old_key, (gpointer *) &old))
        g_free (old_key);
      target = old != NULL ? old : g_new0 (Target, 1);
      g_clear_pointer (&target->assignment, atlas_tracker_assignment_free);
      target->assignment = atlas_tracker_assignment_copy (assignment);
      target->retry_at = 0;
      g_hash_table_insert (self->targets, g_strdup (assignment->entry), target);
    }
  /* Entries gone from the assignment: their fetches stop (target_free). */
  fetch_missing (self);
  reconcile (self);
}

/* ---- figures ------------------------------------------------------------------ */

static AtlasDonorCause *
find_cause (AtlasDonor *self, const char *entry, guint *position)
{
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->causes)); i++)
    {
      g_autoptr (AtlasDonorCause) cause = g_list_model_get_item (G_LIST_MODEL (self->causes), i);

      if (g_strcmp0 (atlas_donor_cause_get_entry (cause), entry) == 0)
        {
          *position = i;
          return cause;
        }
    }
  return NULL;
}

static void
set_figure (AtlasDonor *self, guint64 *field, guint64 value, guint prop)
{
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
update_figures (AtlasDonor *self)
{
  g_autoptr (GHashTable) held = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint64 stored = 0;
  guint helped = 0;
  guint64 helped64;

  g_object_freeze_notify (G_OBJECT (self));
  if (self->session != NULL)
    for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->session)); i++)
      {
        g_autoptr (AtlasDownload) download =
            g_list_model_get_item (G_LIST_MODEL (self->session), i);
        g_autofree char *hex = download_entry (download, NULL);
        Target *target = hex != NULL ? g_hash_table_lookup (self->targets, hex) : NULL;
        guint64 bytes = atlas_download_get_stored_bytes (download);
        guint peers = atlas_download_get_n_peers_served (download);
        AtlasDonorCause *cause;
        guint position;

        stored += bytes;
        helped += peers;
        if (hex == NULL)
          continue;
        cause = find_cause (self, hex, &position);
        if (cause == NULL)
          {
            g_autoptr (AtlasDonorCause) fresh =
                _atlas_donor_cause_new (hex, target != NULL ? target->assignment->name
                                                            : atlas_download_get_name (download));
            g_list_store_append (self->causes, fresh);
            cause = fresh;
          }
        _atlas_donor_cause_update (cause, bytes, atlas_download_get_bytes_to_peers (download),
                                   peers);
        g_hash_table_add (held, g_steal_pointer (&hex));
      }
  for (guint i = g_list_model_get_n_items (G_LIST_MODEL (self->causes)); i-- > 0;)
    {
      g_autoptr (AtlasDonorCause) cause = g_list_model_get_item (G_LIST_MODEL (self->causes), i);

      if (!g_hash_table_contains (held, atlas_donor_cause_get_entry (cause)))
        g_list_store_remove (self->causes, i);
    }

  set_figure (self, &self->storage_used, stored, PROP_STORAGE_USED);
  set_figure (self, &self->bytes_served,
              self->swarm != NULL ? atlas_swarm_get_bytes_uploaded (self->swarm) : 0,
              PROP_BYTES_SERVED);
  helped64 = self->downloads_helped;
  set_figure (self, &helped64, helped, PROP_DOWNLOADS_HELPED);
  self->downloads_helped = (guint) helped64;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UPLOAD_RATE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UPLOADED_THIS_MONTH]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FETCHED_THIS_MONTH]);
  g_object_thaw_notify (G_OBJECT (self));
}

static gboolean
tick_cb (gpointer data)
{
  AtlasDonor *self = data;

  update_ledger (self);
  update_pause (self);
  fetch_missing (self);
  reconcile (self);
  update_figures (self);
  return G_SOURCE_CONTINUE;
}

/* ---- starting and stopping ---------------------------------------------------- */

static void
session_opened_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasDonor) self = user_data;
  g_autoptr (GError) error = NULL;
  AtlasSession *session = atlas_session_open_finish (result, &error);

  if (session == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_signal_emit (self, signals[SIGNAL_FAILED], 0, error);
      return;
    }
  self->session = session;
  if (!self->started)
    {
      atlas_session_close_async (session, NULL, NULL, NULL);
      g_clear_object (&self->session);
      return;
    }
  self->swarm = atlas_swarm_new (session, self->identity, self->tracker, &self->ice);
  atlas_swarm_set_upload_limits (self->swarm, self->upload_cap, 0);
  /* What the last run fetched and uploaded is in the ledger already. */
  self->last_uploaded = 0;
  self->last_fetched = _atlas_session_get_limiter (session)->total;
  update_allowance (self);
  atlas_tracker_client_set_donor (self->tracker, TRUE);
  /* Held pieces wait for the tracker's first assignment before they are
   * served or fetched again. */
  self->reason = ATLAS_DONOR_PAUSE_OFFLINE;
  apply_pause_to_downloads (self);
  atlas_session_start (session);
  atlas_swarm_start (self->swarm);
  send_offer (self);
  tick_cb (self);
}

void
atlas_donor_start (AtlasDonor *self)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));

  if (self->started)
    return;
  self->started = TRUE;
  if (!self->fixed_conditions)
    {
      self->network = g_object_ref (g_network_monitor_get_default ());
      self->power = g_power_profile_monitor_dup_default ();
      g_signal_connect_object (self->network, "notify::network-metered",
                               G_CALLBACK (conditions_changed_cb), self, 0);
      if (self->power != NULL)
        g_signal_connect_object (self->power, "notify::power-saver-enabled",
                                 G_CALLBACK (conditions_changed_cb), self, 0);
      read_conditions (self);
    }
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  atlas_session_open_async (self->store_path, self->settings, self->cancellable, session_opened_cb,
                            g_object_ref (self));
  self->tick_id = g_timeout_add (TICK_MS, tick_cb, self);
}

static void
session_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!atlas_session_close_finish (ATLAS_SESSION (source), result, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
final_save_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  AtlasDonor *self = g_task_get_source_object (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasSession) session = g_steal_pointer (&self->session);

  if (!_atlas_donor_ledger_save_finish (result, &error))
    g_warning ("donor: %s", error->message);
  if (session == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  atlas_session_close_async (session, NULL, session_closed_cb, g_steal_pointer (&task));
}

void
atlas_donor_stop_async (AtlasDonor *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_return_if_fail (ATLAS_IS_DONOR (self));
  g_task_set_source_tag (task, atlas_donor_stop_async);
  if (self->started)
    update_ledger (self);
  self->started = FALSE;
  self->have_assignment = FALSE;
  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_hash_table_remove_all (self->targets);
  if (self->swarm != NULL)
    {
      atlas_swarm_set_upload_allowance (self->swarm, NULL);
      atlas_swarm_stop (self->swarm);
    }
  if (self->session != NULL)
    atlas_rate_limiter_set_allowance (_atlas_session_get_limiter (self->session), NULL);
  g_clear_object (&self->swarm);
  /* A clean stop gives back the reservation: only bytes really spent count. */
  self->ledger.reserved = _atlas_donor_ledger_used (&self->ledger);
  _atlas_donor_ledger_save_async (&self->ledger, self->ledger_path, NULL, final_save_cb,
                                  g_steal_pointer (&task));
}

gboolean
atlas_donor_stop_finish (AtlasDonor *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- the object ------------------------------------------------------------------ */

static void
atlas_donor_dispose (GObject *object)
{
  AtlasDonor *self = ATLAS_DONOR (object);

  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (self->targets != NULL)
    g_hash_table_remove_all (self->targets);
  if (self->swarm != NULL)
    {
      atlas_swarm_set_upload_allowance (self->swarm, NULL);
      atlas_swarm_stop (self->swarm);
    }
  if (self->session != NULL)
    atlas_rate_limiter_set_allowance (_atlas_session_get_limiter (self->session), NULL);
  if (self->tracker != NULL)
    g_signal_handlers_disconnect_by_data (self->tracker, self);
  g_clear_object (&self->swarm);
  g_clear_object (&self->session);
  g_clear_object (&self->tracker);
  g_clear_object (&self->identity);
  g_clear_object (&self->settings);
  g_clear_object (&self->network);
  g_clear_object (&self->power);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->causes);
  G_OBJECT_CLASS (atlas_donor_parent_class)->dispose (object);
}

static void
atlas_donor_finalize (GObject *object)
{
  AtlasDonor *self = ATLAS_DONOR (object);

  g_free (self->cache_dir);
  g_free (self->files_dir);
  g_free (self->store_path);
  g_free (self->ledger_path);
  g_strfreev (self->cause_entries);
  g_strfreev (self->cause_publishers);
  g_clear_pointer (&self->targets, g_hash_table_unref);
  _atlas_donor_ledger_clear (&self->ledger);
  g_free (self->ice.stun_server);
  g_free (self->ice.turn_server);
  g_free (self->ice.turn_username);
  g_free (self->ice.turn_password);
  g_strfreev (self->ice.local_addresses);
  G_OBJECT_CLASS (atlas_donor_parent_class)->finalize (object);
}

static void
atlas_donor_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasDonor *self = ATLAS_DONOR (object);

  switch (prop_id)
    {
    case PROP_PAUSE_REASON:
      g_value_set_enum (value, self->reason);
      break;
    case PROP_STORAGE_USED:
      g_value_set_uint64 (value, self->storage_used);
      break;
    case PROP_STORAGE_CAP:
      g_value_set_uint64 (value, self->storage_cap);
      break;
    case PROP_UPLOAD_RATE:
      g_value_set_uint64 (value, self->upload_rate);
      break;
    case PROP_UPLOADED_THIS_MONTH:
      g_value_set_uint64 (value, self->ledger.uploaded);
      break;
    case PROP_FETCHED_THIS_MONTH:
      g_value_set_uint64 (value, self->ledger.fetched);
      break;
    case PROP_BYTES_SERVED:
      g_value_set_uint64 (value, self->bytes_served);
      break;
    case PROP_DOWNLOADS_HELPED:
      g_value_set_uint (value, self->downloads_helped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_donor_class_init (AtlasDonorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->dispose = atlas_donor_dispose;
  object_class->finalize = atlas_donor_finalize;
  object_class->get_property = atlas_donor_get_property;

  properties[PROP_PAUSE_REASON] = g_param_spec_enum (
      "pause-reason", NULL, NULL, ATLAS_TYPE_DONOR_PAUSE_REASON, ATLAS_DONOR_PAUSE_OFFLINE, flags);
  properties[PROP_STORAGE_USED] =
      g_param_spec_uint64 ("storage-used", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_STORAGE_CAP] =
      g_param_spec_uint64 ("storage-cap", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_UPLOAD_RATE] =
      g_param_spec_uint64 ("upload-rate", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_UPLOADED_THIS_MONTH] =
      g_param_spec_uint64 ("uploaded-this-month", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_FETCHED_THIS_MONTH] =
      g_param_spec_uint64 ("fetched-this-month", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_BYTES_SERVED] =
      g_param_spec_uint64 ("bytes-served", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_DOWNLOADS_HELPED] =
      g_param_spec_uint ("downloads-helped", NULL, NULL, 0, G_MAXUINT, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The cache's queue could not be opened (a GError *). */
  signals[SIGNAL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
atlas_donor_init (AtlasDonor *self)
{
  self->enabled = TRUE;
  self->anywhere = TRUE;
  self->pause_on_metered = TRUE;
  self->pause_on_power_saver = TRUE;
  self->reason = ATLAS_DONOR_PAUSE_OFFLINE;
  self->targets =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) target_free);
  self->causes = g_list_store_new (ATLAS_TYPE_DONOR_CAUSE);
}

AtlasDonor *
atlas_donor_new (const char *cache_dir, const char *tracker_url, const char *token,
                 const char *ca_file, const AtlasIceConfig *ice, GError **error)
{
  g_autoptr (AtlasDonor) self = NULL;
  g_autofree char *identity_dir = NULL;

  g_return_val_if_fail (cache_dir != NULL, NULL);
  g_return_val_if_fail (tracker_url != NULL, NULL);
  g_return_val_if_fail (ice != NULL, NULL);

  self = g_object_new (ATLAS_TYPE_DONOR, NULL);
  self->cache_dir = g_strdup (cache_dir);
  self->files_dir = g_build_filename (cache_dir, "files", NULL);
  self->store_path = g_build_filename (cache_dir, "queue.sqlite", NULL);
  self->ledger_path = g_build_filename (cache_dir, "budget.ini", NULL);
  identity_dir = g_build_filename (cache_dir, "identity", NULL);
  if (g_mkdir_with_parents (self->files_dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_IO, "cannot create the donation cache “%s”: %s",
                   self->files_dir, g_strerror (saved));
      return NULL;
    }
  self->identity = atlas_peer_identity_load_or_create (identity_dir, error);
  if (self->identity == NULL)
    return NULL;
  if (!_atlas_donor_ledger_load (&self->ledger, self->ledger_path, error))
    return NULL;
  self->ledger.reserved = MAX (self->ledger.reserved, _atlas_donor_ledger_used (&self->ledger));

  self->ice = *ice;
  self->ice.stun_server = g_strdup (ice->stun_server);
  self->ice.turn_server = g_strdup (ice->turn_server);
  self->ice.turn_username = g_strdup (ice->turn_username);
  self->ice.turn_password = g_strdup (ice->turn_password);
  self->ice.local_addresses = g_strdupv (ice->local_addresses);

  self->settings = atlas_settings_new ();
  atlas_settings_set_download_directory (self->settings, self->files_dir);
  if (ca_file != NULL)
    atlas_settings_set_ca_file (self->settings, ca_file);
  /* Every file of the cache stays active to serve, whatever it fetches. */
  atlas_settings_set_max_concurrent_downloads (self->settings, 4096);

  self->tracker = atlas_tracker_client_new (tracker_url, token, ca_file);
  g_signal_connect (self->tracker, "assign", G_CALLBACK (assign_cb), self);
  g_signal_connect (self->tracker, "connected", G_CALLBACK (tracker_connected_cb), self);
  g_signal_connect (self->tracker, "disconnected", G_CALLBACK (tracker_disconnected_cb), self);
  return g_steal_pointer (&self);
}

/* ---- settings ------------------------------------------------------------------- */

static void
settings_changed (AtlasDonor *self)
{
  update_pause (self);
  reconcile (self);
  send_offer (self);
}

void
atlas_donor_set_enabled (AtlasDonor *self, gboolean enabled)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->enabled = !!enabled;
  settings_changed (self);
}

void
atlas_donor_set_storage_cap (AtlasDonor *self, guint64 bytes)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  if (self->storage_cap == bytes)
    return;
  self->storage_cap = bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STORAGE_CAP]);
  settings_changed (self);
}

void
atlas_donor_set_upload_cap (AtlasDonor *self, guint64 bytes_per_second)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->upload_cap = bytes_per_second;
  if (self->swarm != NULL)
    atlas_swarm_set_upload_limits (self->swarm, bytes_per_second, 0);
  send_offer (self);
}

void
atlas_donor_set_monthly_budget (AtlasDonor *self, guint64 bytes)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->budget = bytes;
  update_allowance (self);
  settings_changed (self);
}

void
atlas_donor_set_causes (AtlasDonor *self, gboolean anywhere, const char *const *entries,
                        const char *const *publishers)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->anywhere = !!anywhere;
  g_strfreev (self->cause_entries);
  self->cause_entries = g_strdupv ((char **) entries);
  g_strfreev (self->cause_publishers);
  self->cause_publishers = g_strdupv ((char **) publishers);
  send_offer (self);
}

void
atlas_donor_set_pause_on_metered (AtlasDonor *self, gboolean pause)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->pause_on_metered = !!pause;
  settings_changed (self);
}

void
atlas_donor_set_pause_on_power_saver (AtlasDonor *self, gboolean pause)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->pause_on_power_saver = !!pause;
  settings_changed (self);
}

void
_atlas_donor_set_conditions (AtlasDonor *self, gboolean metered, gboolean power_saver)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->fixed_conditions = TRUE;
  self->metered = !!metered;
  self->power_saver = !!power_saver;
  update_pause (self);
  reconcile (self);
}

/* ---- figures -------------------------------------------------------------------- */

AtlasDonorPauseReason
atlas_donor_get_pause_reason (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), ATLAS_DONOR_PAUSE_NONE);
  return self->reason;
}

const char *
atlas_donor_get_pause_text (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), NULL);
  switch (self->reason)
    {
    case ATLAS_DONOR_PAUSE_NONE:
      return "donating";
    case ATLAS_DONOR_PAUSE_DISABLED:
      return "paused: donation is turned off";
    case ATLAS_DONOR_PAUSE_METERED:
      return "paused: the network is metered";
    case ATLAS_DONOR_PAUSE_POWER_SAVER:
      return "paused: power saver is on";
    case ATLAS_DONOR_PAUSE_BUDGET:
      return "paused: this month's budget is spent";
    case ATLAS_DONOR_PAUSE_OFFLINE:
      return "paused: not connected to the tracker";
    }
  return "paused";
}

guint64
atlas_donor_get_storage_used (AtlasDonor *self)
{
  guint64 stored = 0;

  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  if (self->session == NULL)
    return self->storage_used;
  /* Live: the property is notified once a second, but a lowered cap shows
   * at once. */
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->session)); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (G_LIST_MODEL (self->session), i);

      stored += atlas_download_get_stored_bytes (download);
    }
  return stored;
}

guint64
atlas_donor_get_storage_cap (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  return self->storage_cap;
}

guint64
atlas_donor_get_upload_cap (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  return self->upload_cap;
}

guint64
atlas_donor_get_monthly_budget (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  return self->budget;
}

guint64
atlas_donor_get_upload_rate (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  return self->upload_rate;
}

guint64
atlas_donor_get_uploaded_this_month (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  /* Live, so scripts can sample faster than the figures are notified. */
  if (self->swarm != NULL)
    return self->ledger.uploaded + atlas_swarm_get_bytes_uploaded (self->swarm)
           - self->last_uploaded;
  return self->ledger.uploaded;
}

guint64
atlas_donor_get_fetched_this_month (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  if (self->session != NULL)
    return self->ledger.fetched + _atlas_session_get_limiter (self->session)->total
           - self->last_fetched;
  return self->ledger.fetched;
}

guint64
atlas_donor_get_bytes_served (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  if (self->swarm != NULL)
    return atlas_swarm_get_bytes_uploaded (self->swarm);
  return self->bytes_served;
}

guint
atlas_donor_get_downloads_helped (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  return self->downloads_helped;
}

GListModel *
atlas_donor_get_causes (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), NULL);
  return G_LIST_MODEL (self->causes);
}

AtlasTrackerClient *
atlas_donor_get_tracker (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), NULL);
  return self->tracker;
}

AtlasSession *
_atlas_donor_get_session (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), NULL);
  return self->session;
}
