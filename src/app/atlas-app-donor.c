/* atlas-app-donor.c — GSettings and secrets in, a running AtlasDonor out.
 *
 * Like the peer controller (atlas-app-swarm.c), every setting that shapes the
 * donor's connection (the switch, the tracker, ICE servers and mode, UPnP,
 * the secrets) builds it from scratch, coalesced in one idle callback. One
 * difference: a donor owns a queue file in its cache, and a new donor must
 * not open it while the old one is still closing it, so a rebuild waits for
 * the previous atlas_donor_stop_async to finish.
 *
 * Limits, causes and pause rules are the user's everyday knobs; they go to
 * the running donor, which offers them to the tracker at once. */
#include "atlas-app-donor.h"

#include <glib/gi18n.h>
#include <string.h>

#include "atlas-app-peer-settings.h"
#include "atlas-app-secrets.h"

/* Searching the index for a cause given by name: this many rows is plenty
 * to find the one named exactly so. */
#define NAME_SEARCH_LIMIT 50

struct _AtlasAppDonor
{
  GObject parent_instance;

  GSettings *settings;
  char **local_addresses;

  AtlasDonor *donor;
  guint stopping;            /* donors whose stop has not finished */
  gboolean build_pending;    /* build once they have */
  GPtrArray *shutdown_tasks; /* GTask, answered once nothing is stopping */
  GCancellable *resolving;   /* cause names being looked up */

  AtlasAppDonorStatus status;
  char *error;
  gboolean error_reported;  /* for this configuration */
  gboolean tracker_trouble; /* the error is the tracker's connection */
  gboolean shut_down;
  guint rebuild_id;
  gboolean cause_trouble; /* the error is about a cause */
};

G_DEFINE_FINAL_TYPE (AtlasAppDonor, atlas_app_donor, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_STATUS,
  PROP_DONOR,
  PROP_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Keys whose change builds a new donor. peer-mode only chooses the ICE mode
 * here: the donation switch is the user's consent to upload, so "off" for
 * the user's own downloads does not turn donation off. */
static const char *const rebuild_keys[] = {
  "donate-enabled", "peer-mode",     "tracker-url", "stun-server",
  "turn-server",    "turn-username", "upnp"
};

static void build (AtlasAppDonor *self);
static void teardown (AtlasAppDonor *self);
static void schedule_rebuild (AtlasAppDonor *self);

static void
set_status (AtlasAppDonor *self, AtlasAppDonorStatus status)
{
  if (self->status == status)
    return;
  self->status = status;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

static void
set_error (AtlasAppDonor *self, const char *message)
{
  if (g_strcmp0 (self->error, message) == 0)
    return;
  g_free (self->error);
  self->error = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
}

/* One problem per configuration: a tracker that stays unreachable would
 * otherwise say so on every retry. */
static void
report (AtlasAppDonor *self, const char *message)
{
  if (self->error_reported)
    return;
  self->error_reported = TRUE;
  g_message ("donation: %s", message);
  set_error (self, message);
}

/* A configuration that cannot work: no donor, and the page says why. */
static void
fail (AtlasAppDonor *self, const char *message)
{
  /* Whatever was said before (relay only without a relay), this is what
   * the user needs to know now. */
  self->error_reported = FALSE;
  report (self, message);
  set_status (self, ATLAS_APP_DONOR_FAILED);
}

/* ---- live settings ----------------------------------------------------------- */

/* One key at a time: each setter offers the donation to the tracker again,
 * and one changed spin button should send one offer, not five. */
static void
apply_limit (AtlasAppDonor *self, const char *key)
{
  if (self->donor == NULL)
    return;
  if (g_str_equal (key, "donate-storage-cap"))
    atlas_donor_set_storage_cap (self->donor, g_settings_get_uint64 (self->settings, key));
  else if (g_str_equal (key, "donate-upload-limit"))
    atlas_donor_set_upload_cap (self->donor, g_settings_get_uint64 (self->settings, key));
  else if (g_str_equal (key, "donate-monthly-budget"))
    atlas_donor_set_monthly_budget (self->donor, g_settings_get_uint64 (self->settings, key));
  else if (g_str_equal (key, "donate-pause-on-metered"))
    atlas_donor_set_pause_on_metered (self->donor, g_settings_get_boolean (self->settings, key));
  else if (g_str_equal (key, "donate-pause-on-power-saver"))
    atlas_donor_set_pause_on_power_saver (self->donor,
                                          g_settings_get_boolean (self->settings, key));
}

static const char *const limit_keys[] = { "donate-storage-cap", "donate-upload-limit",
                                          "donate-monthly-budget", "donate-pause-on-metered",
                                          "donate-pause-on-power-saver" };

static void
apply_limits (AtlasAppDonor *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (limit_keys); i++)
    apply_limit (self, limit_keys[i]);
}

static gboolean
is_entry_hash (const char *text)
{
  if (strlen (text) != 64)
    return FALSE;
  for (const char *c = text; *c != '\0'; c++)
    if (!g_ascii_isxdigit (*c))
      return FALSE;
  return TRUE;
}

/* The causes, sorted by kind. Names wait for the index search. */
typedef struct
{
  AtlasAppDonor *self;
  GPtrArray *entries;    /* char *, 64 lower-case hex */
  GPtrArray *publishers; /* char * */
  GPtrArray *unknown;    /* char *: names the index has no file for */
  char *lookup_error;    /* the first search that failed, or NULL */
  GCancellable *cancellable;
  gboolean anywhere;
  guint pending; /* name searches in flight */
} Causes;

static void
causes_free (Causes *causes)
{
  g_object_unref (causes->self);
  g_ptr_array_unref (causes->entries);
  g_ptr_array_unref (causes->publishers);
  g_ptr_array_unref (causes->unknown);
  g_free (causes->lookup_error);
  g_clear_object (&causes->cancellable);
  g_free (causes);
}

static void
causes_send (Causes *causes)
{
  AtlasAppDonor *self = causes->self;

  if (self->donor == NULL)
    return;
  g_ptr_array_add (causes->entries, NULL);
  g_ptr_array_add (causes->publishers, NULL);
  atlas_donor_set_causes (self->donor, causes->anywhere,
                          (const char *const *) causes->entries->pdata,
                          (const char *const *) causes->publishers->pdata);
  g_ptr_array_remove_index (causes->entries, causes->entries->len - 1);
  g_ptr_array_remove_index (causes->publishers, causes->publishers->len - 1);
}

typedef struct
{
  Causes *causes;
  char *name;
} NameSearch;

static void
name_found_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NameSearch *search = user_data;
  Causes *causes = search->causes;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows =
      atlas_tracker_client_search_finish (ATLAS_TRACKER_CLIENT (source), result, NULL, &error);
  g_autofree char *wanted = g_utf8_casefold (search->name, -1);
  gboolean found = FALSE;

  causes->pending--;
  /* Cancelled: the causes or the donor changed; a newer lookup runs. */
  if (g_cancellable_is_cancelled (causes->cancellable))
    goto out;
  /* The search is free text; only a file named exactly so is the cause.
   * Rows come newest version first, and the newest is the one to spread. */
  for (guint i = 0; rows != NULL && i < rows->len && !found; i++)
    {
      AtlasTrackerEntry *row = g_ptr_array_index (rows, i);
      g_autofree char *name = g_utf8_casefold (row->name, -1);

      if (g_str_equal (name, wanted) && row->entry != NULL)
        {
          if (!g_ptr_array_find_with_equal_func (causes->entries, row->entry, g_str_equal, NULL))
            g_ptr_array_add (causes->entries, g_strdup (row->entry));
          found = TRUE;
        }
    }
  if (error != NULL && causes->lookup_error == NULL)
    causes->lookup_error = g_strdup_printf (
        /* Translators: %s is a cause the user typed, then the reason in English. */
        _ ("Cannot look up the cause “%s” in the tracker’s index: %s"), search->name,
        error->message);
  else if (!found && error == NULL)
    g_ptr_array_add (causes->unknown, g_strdup (search->name));
  if (causes->pending == 0)
    {
      causes_send (causes);
      if (causes->lookup_error != NULL || causes->unknown->len > 0)
        causes->self->cause_trouble = TRUE;
      if (causes->lookup_error != NULL)
        set_error (causes->self, causes->lookup_error);
      else if (causes->unknown->len > 0)
        {
          g_autofree char *message = g_strdup_printf (
              /* Translators: %s is a cause the user typed on the Donate page. */
              _ ("The tracker’s index has no file named “%s”; donation does not support it"),
              (const char *) g_ptr_array_index (causes->unknown, 0));
          set_error (causes->self, message);
        }
    }
out:
  if (causes->pending == 0)
    causes_free (causes);
  g_free (search->name);
  g_free (search);
}

/* Each cause is an entry (64 hex digits: the file's SHA-256),
 * "publisher:NAME" (the token name its publisher uploads with), or else the
 * name of a file in the tracker's index. */
static void
apply_causes (AtlasAppDonor *self)
{
  g_auto (GStrv) list = g_settings_get_strv (self->settings, "donate-causes");
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  Causes *causes;

  g_cancellable_cancel (self->resolving);
  g_clear_object (&self->resolving);
  /* A mistake in the previous list is no longer one. */
  if (self->cause_trouble)
    {
      self->cause_trouble = FALSE;
      set_error (self, NULL);
    }
  if (self->donor == NULL)
    return;

  causes = g_new0 (Causes, 1);
  causes->self = g_object_ref (self);
  causes->entries = g_ptr_array_new_with_free_func (g_free);
  causes->publishers = g_ptr_array_new_with_free_func (g_free);
  causes->unknown = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; list[i] != NULL; i++)
    {
      char *cause = g_strstrip (list[i]);

      if (*cause == '\0')
        continue;
      if (is_entry_hash (cause))
        g_ptr_array_add (causes->entries, g_ascii_strdown (cause, -1));
      else if (g_str_has_prefix (cause, "publisher:"))
        {
          g_autofree char *name = g_strstrip (g_strdup (cause + strlen ("publisher:")));

          if (*name != '\0')
            g_ptr_array_add (causes->publishers, g_steal_pointer (&name));
        }
      else
        g_ptr_array_add (names, g_strdup (cause));
    }
  causes->anywhere = causes->entries->len == 0 && causes->publishers->len == 0 && names->len == 0;
  /* What is known now applies now; names follow when the index answers. */
  causes_send (causes);
  if (names->len == 0)
    {
      causes_free (causes);
      return;
    }
  self->resolving = g_cancellable_new ();
  causes->cancellable = g_object_ref (self->resolving);
  causes->pending = names->len;
  for (guint i = 0; i < names->len; i++)
    {
      NameSearch *search = g_new0 (NameSearch, 1);

      search->causes = causes;
      search->name = g_strdup (g_ptr_array_index (names, i));
      atlas_tracker_client_search_async (atlas_donor_get_tracker (self->donor), search->name,
                                         NAME_SEARCH_LIMIT, self->resolving, name_found_cb, search);
    }
}

/* ---- the donor's own reports ------------------------------------------------- */

static void
tracker_disconnected_cb (AtlasTrackerClient *tracker, const GError *error, AtlasAppDonor *self)
{
  g_autofree char *message = NULL;

  if (error == NULL)
    return;
  if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_PERMISSION))
    {
      /* The client does not retry a refused token: this donor is done. */
      message = g_strdup_printf (
          /* Translators: %s is the tracker's reason, in English. */
          _ ("The tracker refused the token; donation is off: %s"), error->message);
      teardown (self);
      fail (self, message);
      return;
    }
  else
    message = g_strdup_printf (_ ("Cannot reach the tracker for donation, trying again: %s"),
                               error->message);
  if (!self->error_reported)
    self->tracker_trouble = TRUE;
  report (self, message);
}

static void
tracker_connected_cb (AtlasTrackerClient *tracker, AtlasAppDonor *self)
{
  if (!self->tracker_trouble)
    return;
  self->tracker_trouble = FALSE;
  self->error_reported = FALSE;
  set_error (self, NULL);
}

static void
donor_failed_cb (AtlasDonor *donor, const GError *error, AtlasAppDonor *self)
{
  g_autofree char *message = g_strdup_printf (
      /* Translators: %s is the engine's reason, in English, naming the file. */
      _ ("Donation is off: the donation cache cannot be opened: %s"), error->message);

  teardown (self);
  fail (self, message);
}

/* ---- building and stopping --------------------------------------------------- */

static void
answer_shutdowns (AtlasAppDonor *self)
{
  while (self->shutdown_tasks->len > 0)
    {
      g_autoptr (GTask) task = g_ptr_array_steal_index (self->shutdown_tasks, 0);

      g_task_return_boolean (task, TRUE);
    }
}

static void
stopped_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasAppDonor) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!atlas_donor_stop_finish (ATLAS_DONOR (source), result, &error))
    g_warning ("donation: stopping: %s", error->message);
  if (--self->stopping > 0)
    return;
  if (self->shut_down)
    answer_shutdowns (self);
  else if (self->build_pending)
    schedule_rebuild (self);
}

/* For a donor let go of while the controller itself goes away. */
static void
orphan_stopped_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  atlas_donor_stop_finish (ATLAS_DONOR (source), result, NULL);
}

static void
release_donor (AtlasAppDonor *self, gboolean orphan)
{
  g_autoptr (AtlasDonor) donor = g_steal_pointer (&self->donor);

  if (donor == NULL)
    return;
  g_signal_handlers_disconnect_by_data (donor, self);
  g_signal_handlers_disconnect_by_data (atlas_donor_get_tracker (donor), self);
  /* Stopping withdraws the offer at once and keeps the cache for the next
   * donor; only the user turning donation off empties it (build). */
  if (orphan)
    atlas_donor_stop_async (donor, NULL, orphan_stopped_cb, NULL);
  else
    {
      self->stopping++;
      atlas_donor_stop_async (donor, NULL, stopped_cb, g_object_ref (self));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DONOR]);
    }
}

static void
teardown (AtlasAppDonor *self)
{
  g_cancellable_cancel (self->resolving);
  g_clear_object (&self->resolving);
  release_donor (self, FALSE);
}

static void
build (AtlasAppDonor *self)
{
  g_autoptr (AtlasAppPeerSettings) peer =
      atlas_app_peer_settings_read (self->settings, (const char *const *) self->local_addresses);
  g_autofree char *cache_dir = NULL;
  g_autoptr (GError) error = NULL;

  /* The user turned donation off: the cache's files go too. A rebuild for
   * other settings, or quitting, keeps them. */
  if (self->donor != NULL && !g_settings_get_boolean (self->settings, "donate-enabled"))
    atlas_donor_set_enabled (self->donor, FALSE);
  teardown (self);
  self->build_pending = FALSE;
  self->error_reported = FALSE;
  self->tracker_trouble = FALSE;
  self->cause_trouble = FALSE;
  set_error (self, NULL);
  if (self->shut_down)
    return;
  if (!g_settings_get_boolean (self->settings, "donate-enabled"))
    {
      set_status (self, ATLAS_APP_DONOR_OFF);
      return;
    }
  if (peer->tracker_url == NULL)
    {
      set_status (self, ATLAS_APP_DONOR_NO_TRACKER);
      return;
    }
  if (!atlas_app_is_tracker_address (peer->tracker_url))
    {
      g_autofree char *message = g_strdup_printf (
          /* Translators: %s is what the user typed as the tracker's address. */
          _ ("Donation is off: “%s” is not a tracker address; write https://host:port"),
          peer->tracker_url);
      fail (self, message);
      return;
    }
  if (peer->token == NULL)
    {
      fail (self, _ ("Donation is off: the tracker needs a token; enter it in Preferences"));
      return;
    }
  /* The previous donor still closes the cache's queue: build after it. */
  if (self->stopping > 0)
    {
      self->build_pending = TRUE;
      return;
    }

  cache_dir = g_build_filename (g_get_user_cache_dir (), "download-atlas", "donation", NULL);
  self->donor =
      atlas_donor_new (cache_dir, peer->tracker_url, peer->token, NULL, &peer->ice, &error);
  if (self->donor == NULL)
    {
      g_autofree char *message = g_strdup_printf (
          /* Translators: %s is the engine's reason, in English, naming the file. */
          _ ("Donation is off: the donation cache cannot be used: %s"), error->message);
      fail (self, message);
      return;
    }
  g_signal_connect_object (self->donor, "failed", G_CALLBACK (donor_failed_cb), self, 0);
  g_signal_connect_object (atlas_donor_get_tracker (self->donor), "disconnected",
                           G_CALLBACK (tracker_disconnected_cb), self, 0);
  g_signal_connect_object (atlas_donor_get_tracker (self->donor), "connected",
                           G_CALLBACK (tracker_connected_cb), self, 0);
  apply_limits (self);
  apply_causes (self);
  atlas_donor_start (self->donor);
  set_status (self, ATLAS_APP_DONOR_RUNNING);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DONOR]);

  switch (atlas_app_peer_settings_turn_problem (peer))
    {
    case ATLAS_APP_TURN_MISSING:
      report (self, _ ("Relay only needs a TURN server: no one can be served until one is set"));
      break;
    case ATLAS_APP_TURN_NO_ACCOUNT:
      report (self, _ ("The TURN server needs a user name and a password"));
      break;
    case ATLAS_APP_TURN_OK:
      break;
    }
}

static gboolean
rebuild_cb (gpointer data)
{
  AtlasAppDonor *self = data;

  self->rebuild_id = 0;
  build (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_rebuild (AtlasAppDonor *self)
{
  if (self->rebuild_id == 0 && !self->shut_down)
    self->rebuild_id = g_idle_add (rebuild_cb, self);
}

static void
settings_changed_cb (GSettings *settings, const char *key, AtlasAppDonor *self)
{
  if (g_strv_contains ((const char *const *) rebuild_keys, key))
    schedule_rebuild (self);
  else if (g_str_equal (key, "donate-causes"))
    apply_causes (self);
  else
    apply_limit (self, key);
}

static void
secret_changed_cb (AtlasAppSecrets *secrets, const char *name, AtlasAppDonor *self)
{
  schedule_rebuild (self);
}

/* ---- the object ---------------------------------------------------------------- */

static void
atlas_app_donor_dispose (GObject *object)
{
  AtlasAppDonor *self = ATLAS_APP_DONOR (object);

  self->shut_down = TRUE;
  g_clear_handle_id (&self->rebuild_id, g_source_remove);
  g_cancellable_cancel (self->resolving);
  g_clear_object (&self->resolving);
  release_donor (self, TRUE);
  if (self->shutdown_tasks != NULL)
    answer_shutdowns (self);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (atlas_app_donor_parent_class)->dispose (object);
}

static void
atlas_app_donor_finalize (GObject *object)
{
  AtlasAppDonor *self = ATLAS_APP_DONOR (object);

  g_strfreev (self->local_addresses);
  g_free (self->error);
  g_clear_pointer (&self->shutdown_tasks, g_ptr_array_unref);
  G_OBJECT_CLASS (atlas_app_donor_parent_class)->finalize (object);
}

static void
atlas_app_donor_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasAppDonor *self = ATLAS_APP_DONOR (object);

  switch (prop_id)
    {
    case PROP_STATUS:
      g_value_set_int (value, self->status);
      break;
    case PROP_DONOR:
      g_value_set_object (value, self->donor);
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_app_donor_class_init (AtlasAppDonorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = atlas_app_donor_dispose;
  object_class->finalize = atlas_app_donor_finalize;
  object_class->get_property = atlas_app_donor_get_property;

  /* An AtlasAppDonorStatus. */
  properties[PROP_STATUS] = g_param_spec_int ("status", NULL, NULL, ATLAS_APP_DONOR_OFF,
                                              ATLAS_APP_DONOR_RUNNING, ATLAS_APP_DONOR_OFF, flags);
  properties[PROP_DONOR] = g_param_spec_object ("donor", NULL, NULL, ATLAS_TYPE_DONOR, flags);
  properties[PROP_ERROR] = g_param_spec_string ("error", NULL, NULL, NULL, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
atlas_app_donor_init (AtlasAppDonor *self)
{
  self->shutdown_tasks = g_ptr_array_new_with_free_func (g_object_unref);
}

AtlasAppDonor *
atlas_app_donor_new (GSettings *settings)
{
  AtlasAppDonor *self;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  self = g_object_new (ATLAS_TYPE_APP_DONOR, NULL);
  self->settings = g_object_ref (settings);
  g_signal_connect_object (settings, "changed", G_CALLBACK (settings_changed_cb), self, 0);
  g_signal_connect_object (atlas_app_secrets_get_default (), "changed",
                           G_CALLBACK (secret_changed_cb), self, 0);
  build (self);
  return self;
}

void
atlas_app_donor_shutdown_async (AtlasAppDonor *self, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (ATLAS_IS_APP_DONOR (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, atlas_app_donor_shutdown_async);
  self->shut_down = TRUE;
  g_clear_handle_id (&self->rebuild_id, g_source_remove);
  teardown (self);
  set_status (self, ATLAS_APP_DONOR_OFF);
  if (self->stopping == 0)
    g_task_return_boolean (task, TRUE);
  else
    g_ptr_array_add (self->shutdown_tasks, g_steal_pointer (&task));
}

void
atlas_app_donor_shutdown_finish (AtlasAppDonor *self, GAsyncResult *result)
{
  g_return_if_fail (g_task_is_valid (result, self));

  g_task_propagate_boolean (G_TASK (result), NULL);
}

void
atlas_app_donor_set_local_addresses (AtlasAppDonor *self, const char *const *addresses)
{
  g_return_if_fail (ATLAS_IS_APP_DONOR (self));

  g_strfreev (self->local_addresses);
  self->local_addresses = g_strdupv ((char **) addresses);
  if (self->donor != NULL)
    schedule_rebuild (self);
}

AtlasAppDonorStatus
atlas_app_donor_get_status (AtlasAppDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_APP_DONOR (self), ATLAS_APP_DONOR_OFF);

  return self->status;
}

AtlasDonor *
atlas_app_donor_get_donor (AtlasAppDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_APP_DONOR (self), NULL);

  return self->donor;
}

const char *
atlas_app_donor_get_error (AtlasAppDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_APP_DONOR (self), NULL);

  return self->error;
}
