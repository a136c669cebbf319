/* atlas-donor.c — the donor object: its settings, and starting and stopping
 * the donation cache.
 *
 * The donor's work is spread over files with one purpose each (see
 * atlas-donor-internal.h). Once a second the tick ties them together: it
 * charges the bytes moved to the budget, decides whether donation is paused
 * and why, retries what failed, brings the partial downloads closer to the
 * tracker's assignment, and updates the figures the user sees.
 */
#include "atlas-donor-internal.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "atlas-error.h"
#include "atlas-peer-identity.h"
#include "atlas-session-private.h"

#define TICK_MS 1000
/* A failed partial download is tried again after this long, doubling with
 * each failure up to the maximum. */
#define RETRY_MIN_US (30 * G_USEC_PER_SEC)
#define RETRY_MAX_US (600 * G_USEC_PER_SEC)
/* A stop gives up waiting for the cache's queue to be let go after this
 * long, and says so, rather than never completing. */
#define STOP_TIMEOUT_S 15

G_DEFINE_ENUM_TYPE (AtlasDonorPauseReason, atlas_donor_pause_reason,
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_NONE, "none"),
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_DISABLED, "disabled"),
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_METERED, "metered"),
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_POWER_SAVER, "power-saver"),
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_BUDGET, "budget"),
                    G_DEFINE_ENUM_VALUE (ATLAS_DONOR_PAUSE_OFFLINE, "offline"))

G_DEFINE_FINAL_TYPE (AtlasDonor, atlas_donor, G_TYPE_OBJECT)

static GParamSpec *properties[ATLAS_DONOR_N_PROPS];

enum
{
  SIGNAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

void
_atlas_donor_notify (AtlasDonor *self, AtlasDonorProperty prop)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static gboolean
tick_cb (gpointer data)
{
  AtlasDonor *self = data;

  _atlas_donor_update_ledger (self);
  _atlas_donor_update_pause (self);
  _atlas_donor_fetch_missing (self);
  _atlas_donor_retry_failed (self);
  _atlas_donor_reconcile (self);
  _atlas_donor_update_figures (self);
  return G_SOURCE_CONTINUE;
}

static void
tracker_connected_cb (AtlasTrackerClient *tracker, AtlasDonor *self)
{
  _atlas_donor_update_pause (self);
}

static void
tracker_disconnected_cb (AtlasTrackerClient *tracker, const GError *error, AtlasDonor *self)
{
  _atlas_donor_update_pause (self);
}

/* ---- the cache's queue, until its lock is released ---------------------------- */

/* The queue's lock (atlas-session.c) is released when the session object is
 * finalized, which may be after its close completes: a close task, a swarm
 * link or a worker may still hold a reference. A stop completes only after
 * that, so a new donor on the same cache never finds it busy. The watch is
 * data on the session, freed by GObject's finalize after the lock is closed,
 * possibly on a worker thread: it hands over to the donor's own context. */
typedef struct
{
  GWeakRef donor;
  GMainContext *context;
} SessionWatch;

static void continue_stopping (AtlasDonor *self);

static void
session_watch_free (gpointer data)
{
  SessionWatch *watch = data;

  g_weak_ref_clear (&watch->donor);
  g_main_context_unref (watch->context);
  g_free (watch);
}

static gboolean
session_gone_cb (gpointer data)
{
  SessionWatch *watch = data;
  g_autoptr (AtlasDonor) self = g_weak_ref_get (&watch->donor);

  if (self != NULL && self->sessions_alive > 0)
    {
      self->sessions_alive--;
      continue_stopping (self);
    }
  return G_SOURCE_REMOVE;
}

static void
session_finalized (gpointer data)
{
  SessionWatch *watch = data;
  g_autoptr (GSource) source = g_idle_source_new ();

  g_source_set_callback (source, session_gone_cb, watch, session_watch_free);
  g_source_attach (source, watch->context);
}

static void
watch_session (AtlasDonor *self, AtlasSession *session)
{
  SessionWatch *watch = g_new0 (SessionWatch, 1);

  g_weak_ref_init (&watch->donor, self);
  watch->context = g_main_context_ref (self->context);
  self->sessions_alive++;
  g_object_set_data_full (G_OBJECT (session), "atlas-donor-watch", watch, session_finalized);
}

/* ---- starting ------------------------------------------------------------------ */

static void
session_opened_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasDonor) self = user_data;
  g_autoptr (GError) error = NULL;
  AtlasSession *session = atlas_session_open_finish (result, &error);

  self->opening = FALSE;
  /* Failed or not, the session object held (or tried to take) the lock. */
  watch_session (self, ATLAS_SESSION (source));
  if (session == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_signal_emit (self, signals[SIGNAL_FAILED], 0, error);
      continue_stopping (self);
      return;
    }
  self->session = session;
  if (!self->started)
    {
      /* Stopped while opening: the stop closes it. */
      if (self->stop_task == NULL)
        {
          atlas_session_close_async (session, NULL, NULL, NULL);
          g_clear_object (&self->session);
        }
      continue_stopping (self);
      return;
    }
  /* Turned off before the queue was open: its files go now. */
  if (!self->enabled)
    _atlas_donor_drop_all (self);
  self->swarm = atlas_swarm_new (session, self->identity, self->tracker, &self->ice);
  atlas_swarm_set_upload_limits (self->swarm, self->upload_cap, 0);
  /* What the last run fetched and uploaded is in the ledger already. */
  self->last_uploaded = 0;
  self->last_fetched = _atlas_session_get_limiter (session)->total;
  _atlas_donor_update_allowance (self);
  atlas_tracker_client_set_donor (self->tracker, TRUE);
  /* Held pieces wait for the tracker's first assignment before they are
   * served or fetched again. */
  self->reason = ATLAS_DONOR_PAUSE_OFFLINE;
  _atlas_donor_apply_pause_to_downloads (self);
  atlas_session_start (session);
  atlas_swarm_start (self->swarm);
  /* No offer yet: the tick finds the donor connected (or the connection
   * does), resumes the downloads, which announce what the cache holds, and
   * offers after them (atlas-donor-policy.c), so the tracker's first
   * allocation already keeps those pieces here. */
  tick_cb (self);
}

void
atlas_donor_start (AtlasDonor *self)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));

  /* A start before the stop completed would find the queue locked. */
  g_return_if_fail (self->stop_task == NULL);
  if (self->started)
    return;
  self->started = TRUE;
  _atlas_donor_watch_conditions (self);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  self->opening = TRUE;
  atlas_session_open_async (self->store_path, self->settings, self->cancellable, session_opened_cb,
                            g_object_ref (self));
  self->tick_id = g_timeout_add (TICK_MS, tick_cb, self);
}

/* ---- stopping ------------------------------------------------------------------ */

static void
session_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasDonor) self = user_data;
  g_autoptr (GError) error = NULL;

  self->closing = FALSE;
  if (!atlas_session_close_finish (ATLAS_SESSION (source), result, &error)
      && self->stop_error == NULL)
    self->stop_error = g_steal_pointer (&error);
  /* The close task still holds the session: its finalization, not this
   * callback, lets the stop complete (session_gone_cb). */
  continue_stopping (self);
}

static gboolean
stop_timeout_cb (gpointer data)
{
  AtlasDonor *self = data;

  self->stop_timeout_id = 0;
  if (self->stop_error == NULL)
    self->stop_error =
        g_error_new (ATLAS_ERROR, ATLAS_ERROR_BUSY,
                     "the donation cache's queue “%s” is still in use", self->store_path);
  self->sessions_alive = 0;
  continue_stopping (self);
  return G_SOURCE_REMOVE;
}

/* The stop's steps, each waiting for the one before: the ledger saved, the
 * queue opened (if it was opening), closed, and let go of. */
static void
continue_stopping (AtlasDonor *self)
{
  g_autoptr (GTask) task = NULL;

  if (self->stop_task == NULL || self->final_saving || self->opening || self->closing)
    return;
  if (self->session != NULL)
    {
      g_autoptr (AtlasSession) session = g_steal_pointer (&self->session);

      self->closing = TRUE;
      atlas_session_close_async (session, NULL, session_closed_cb, g_object_ref (self));
      return;
    }
  if (self->sessions_alive > 0)
    {
      if (self->stop_timeout_id == 0)
        self->stop_timeout_id = g_timeout_add_seconds (STOP_TIMEOUT_S, stop_timeout_cb, self);
      return;
    }
  g_clear_handle_id (&self->stop_timeout_id, g_source_remove);
  task = g_steal_pointer (&self->stop_task);
  if (self->stop_error != NULL)
    g_task_return_error (task, g_steal_pointer (&self->stop_error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
final_save_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasDonor) self = user_data;
  g_autoptr (GError) error = NULL;

  self->final_saving = FALSE;
  if (!_atlas_donor_ledger_save_finish (result, &error))
    g_warning ("donor: %s", error->message);
  continue_stopping (self);
}

/* Everything that serves or fetches stops; the session stays for the stop
 * (or dispose) to close. */
static void
quiesce (AtlasDonor *self)
{
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->offer_id, g_source_remove);
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
  g_clear_object (&self->swarm);
}

void
atlas_donor_stop_async (AtlasDonor *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_return_if_fail (ATLAS_IS_DONOR (self));
  g_task_set_source_tag (task, atlas_donor_stop_async);
  if (self->stop_task != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING, "the donor is stopping");
      return;
    }
  if (self->started)
    {
      _atlas_donor_update_ledger (self);
      /* At once, so the tracker reassigns this donor's pieces without
       * waiting for its connection to close. */
      _atlas_donor_withdraw_offer (self);
    }
  self->started = FALSE;
  self->have_assignment = FALSE;
  quiesce (self);
  /* A clean stop gives back the reservation: only bytes really spent count. */
  self->ledger.reserved = _atlas_donor_ledger_used (&self->ledger);
  self->stop_task = g_steal_pointer (&task);
  self->final_saving = TRUE;
  _atlas_donor_ledger_save_async (&self->ledger, self->ledger_path, NULL, final_save_cb,
                                  g_object_ref (self));
}

gboolean
atlas_donor_stop_finish (AtlasDonor *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- settings ------------------------------------------------------------------- */

static void
settings_changed (AtlasDonor *self)
{
  _atlas_donor_update_pause (self);
  _atlas_donor_reconcile (self);
  _atlas_donor_send_offer (self);
}

void
atlas_donor_set_enabled (AtlasDonor *self, gboolean enabled)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->enabled = !!enabled;
  settings_changed (self);
  /* Unlike a pause, turning donation off gives the disk back. */
  if (!self->enabled)
    _atlas_donor_drop_all (self);
}

void
atlas_donor_set_storage_cap (AtlasDonor *self, guint64 bytes)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  if (self->storage_cap == bytes)
    return;
  self->storage_cap = bytes;
  _atlas_donor_notify (self, ATLAS_DONOR_PROP_STORAGE_CAP);
  settings_changed (self);
}

void
atlas_donor_set_upload_cap (AtlasDonor *self, guint64 bytes_per_second)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->upload_cap = bytes_per_second;
  if (self->swarm != NULL)
    atlas_swarm_set_upload_limits (self->swarm, bytes_per_second, 0);
  _atlas_donor_send_offer (self);
}

void
atlas_donor_set_monthly_budget (AtlasDonor *self, guint64 bytes)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->budget = bytes;
  _atlas_donor_update_allowance (self);
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
  _atlas_donor_send_offer (self);
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
_atlas_donor_set_retry_delays (AtlasDonor *self, gint64 min_us, gint64 max_us)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->retry_min_us = min_us;
  self->retry_max_us = max_us;
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

/* ---- the object ------------------------------------------------------------------ */

static void
atlas_donor_dispose (GObject *object)
{
  AtlasDonor *self = ATLAS_DONOR (object);

  quiesce (self);
  g_clear_handle_id (&self->stop_timeout_id, g_source_remove);
  if (self->tracker != NULL)
    g_signal_handlers_disconnect_by_data (self->tracker, self);
  if (self->session != NULL)
    atlas_session_close_async (self->session, NULL, NULL, NULL);
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
  g_clear_pointer (&self->backoffs, g_hash_table_unref);
  g_clear_pointer (&self->recency, g_hash_table_unref);
  g_clear_error (&self->stop_error);
  _atlas_donor_ledger_clear (&self->ledger);
  g_free (self->ice.stun_server);
  g_free (self->ice.turn_server);
  g_free (self->ice.turn_username);
  g_free (self->ice.turn_password);
  g_strfreev (self->ice.local_addresses);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (atlas_donor_parent_class)->finalize (object);
}

static void
atlas_donor_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasDonor *self = ATLAS_DONOR (object);

  switch (prop_id)
    {
    case ATLAS_DONOR_PROP_PAUSE_REASON:
      g_value_set_enum (value, self->reason);
      break;
    case ATLAS_DONOR_PROP_STORAGE_USED:
      g_value_set_uint64 (value, self->storage_used);
      break;
    case ATLAS_DONOR_PROP_STORAGE_CAP:
      g_value_set_uint64 (value, self->storage_cap);
      break;
    case ATLAS_DONOR_PROP_UPLOAD_RATE:
      g_value_set_uint64 (value, self->upload_rate);
      break;
    case ATLAS_DONOR_PROP_UPLOADED_THIS_MONTH:
      g_value_set_uint64 (value, self->ledger.uploaded);
      break;
    case ATLAS_DONOR_PROP_FETCHED_THIS_MONTH:
      g_value_set_uint64 (value, self->ledger.fetched);
      break;
    case ATLAS_DONOR_PROP_BYTES_SERVED:
      g_value_set_uint64 (value, self->bytes_served);
      break;
    case ATLAS_DONOR_PROP_DOWNLOADS_HELPED:
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

  properties[ATLAS_DONOR_PROP_PAUSE_REASON] = g_param_spec_enum (
      "pause-reason", NULL, NULL, ATLAS_TYPE_DONOR_PAUSE_REASON, ATLAS_DONOR_PAUSE_OFFLINE, flags);
  properties[ATLAS_DONOR_PROP_STORAGE_USED] =
      g_param_spec_uint64 ("storage-used", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[ATLAS_DONOR_PROP_STORAGE_CAP] =
      g_param_spec_uint64 ("storage-cap", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[ATLAS_DONOR_PROP_UPLOAD_RATE] =
      g_param_spec_uint64 ("upload-rate", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[ATLAS_DONOR_PROP_UPLOADED_THIS_MONTH] =
      g_param_spec_uint64 ("uploaded-this-month", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[ATLAS_DONOR_PROP_FETCHED_THIS_MONTH] =
      g_param_spec_uint64 ("fetched-this-month", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[ATLAS_DONOR_PROP_BYTES_SERVED] =
      g_param_spec_uint64 ("bytes-served", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[ATLAS_DONOR_PROP_DOWNLOADS_HELPED] =
      g_param_spec_uint ("downloads-helped", NULL, NULL, 0, G_MAXUINT, 0, flags);
  g_object_class_install_properties (object_class, ATLAS_DONOR_N_PROPS, properties);

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
  self->retry_min_us = RETRY_MIN_US;
  self->retry_max_us = RETRY_MAX_US;
  self->context = g_main_context_ref_thread_default ();
  self->targets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) _atlas_donor_target_free);
  self->backoffs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->recency =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref);
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
  g_signal_connect (self->tracker, "assign", G_CALLBACK (_atlas_donor_assign_cb), self);
  g_signal_connect (self->tracker, "connected", G_CALLBACK (tracker_connected_cb), self);
  g_signal_connect (self->tracker, "disconnected", G_CALLBACK (tracker_disconnected_cb), self);
  return g_steal_pointer (&self);
}
