/* atlas-app-swarm.c — GSettings and secrets in, a running AtlasSwarm out.
 *
 * Every setting that shapes the swarm (mode, tracker, ICE servers, UPnP,
 * the secrets) rebuilds it from scratch: stopping a swarm leaves every swarm
 * and closes every link cleanly, and a rebuild is rare (the user edits a
 * preference), so there is no half-updated state to reason about. Changes
 * are coalesced in an idle callback: a form that sets three keys rebuilds
 * once. */
#include "atlas-app-swarm.h"

#include <glib/gi18n.h>

#include "atlas-app-peer-settings.h"
#include "atlas-app-secrets.h"
#include "atlas-swarm.h"

struct _AtlasAppSwarm
{
  GObject parent_instance;

  GSettings *settings;
  AtlasSession *session;
  char **local_addresses;

  AtlasPeerIdentity *identity;
  AtlasTrackerClient *tracker;
  AtlasSwarm *swarm;

  char *error;
  gboolean error_reported;  /* for this configuration */
  gboolean tracker_trouble; /* the error is the tracker's connection */
  gboolean paused;
  gboolean shut_down;
  guint rebuild_id;
};

G_DEFINE_FINAL_TYPE (AtlasAppSwarm, atlas_app_swarm, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_RUNNING,
  PROP_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Keys whose change rebuilds the swarm. */
static const char *const rebuild_keys[] = { "peer-mode",   "tracker-url",   "stun-server",
                                            "turn-server", "turn-username", "upnp" };

static void
set_error (AtlasAppSwarm *self, const char *message)
{
  if (g_strcmp0 (self->error, message) == 0)
    return;
  g_free (self->error);
  self->error = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
}

/* Reports one problem per configuration: a tracker that stays unreachable
 * would otherwise say so on every retry. */
static void
report (AtlasAppSwarm *self, const char *message)
{
  if (self->error_reported)
    return;
  self->error_reported = TRUE;
  g_message ("peer-to-peer: %s", message);
  set_error (self, message);
}

static void
apply_limits (AtlasAppSwarm *self)
{
  if (self->swarm == NULL)
    return;
  atlas_swarm_set_max_peers (self->swarm, g_settings_get_uint (self->settings, "max-peers"));
  atlas_swarm_set_upload_limits (self->swarm,
                                 g_settings_get_uint64 (self->settings, "global-upload-limit"),
                                 g_settings_get_uint64 (self->settings, "peer-upload-limit"));
}

static void
tracker_disconnected_cb (AtlasTrackerClient *tracker, const GError *error, AtlasAppSwarm *self)
{
  g_autofree char *message = NULL;

  if (error == NULL)
    return;
  if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_PERMISSION))
    /* Translators: %s is the tracker's reason, in English. */
    message = g_strdup_printf (_ ("The tracker refused the token: %s"), error->message);
  else if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT))
    message = g_strdup_printf (_ ("Peer-to-peer is off: %s"), error->message);
  else
    message = g_strdup_printf (_ ("Cannot reach the tracker, trying again: %s"), error->message);
  if (!self->error_reported)
    self->tracker_trouble = TRUE;
  report (self, message);
}

static void
tracker_connected_cb (AtlasTrackerClient *tracker, AtlasAppSwarm *self)
{
  /* A tracker that was away and came back is no longer a problem; other
   * problems (relay only without a relay) still are. */
  if (!self->tracker_trouble)
    return;
  self->tracker_trouble = FALSE;
  self->error_reported = FALSE;
  set_error (self, NULL);
}

static void
teardown (AtlasAppSwarm *self)
{
  gboolean was_running = self->swarm != NULL;

  if (self->swarm != NULL)
    atlas_swarm_stop (self->swarm);
  g_clear_object (&self->swarm);
  if (self->tracker != NULL)
    g_signal_handlers_disconnect_by_data (self->tracker, self);
  g_clear_object (&self->tracker);
  if (was_running)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
}

static void
build (AtlasAppSwarm *self)
{
  g_autoptr (AtlasAppPeerSettings) peer =
      atlas_app_peer_settings_read (self->settings, (const char *const *) self->local_addresses);
  g_autoptr (GError) error = NULL;

  teardown (self);
  self->error_reported = FALSE;
  self->tracker_trouble = FALSE;
  set_error (self, NULL);
  if (self->shut_down || self->paused || peer->mode == ATLAS_APP_PEER_MODE_OFF
      || peer->tracker_url == NULL)
    return;

  if (!atlas_app_is_tracker_address (peer->tracker_url))
    {
      g_autofree char *message = g_strdup_printf (
          /* Translators: %s is what the user typed as the tracker's address. */
          _ ("Peer-to-peer is off: “%s” is not a tracker address; write https://host:port"),
          peer->tracker_url);
      report (self, message);
      return;
    }
  if (peer->token == NULL)
    {
      report (self, _ ("Peer-to-peer is off: the tracker needs a token; enter it in Preferences"));
      return;
    }
  if (self->identity == NULL)
    {
      g_autofree char *dir =
          g_build_filename (g_get_user_data_dir (), "download-atlas", "peer", NULL);

      self->identity = atlas_peer_identity_load_or_create (dir, &error);
      if (self->identity == NULL)
        {
          g_autofree char *message = g_strdup_printf (
              /* Translators: %s is the engine's reason, in English, naming the file. */
              _ ("Peer-to-peer is off: this computer’s peer identity cannot be used: %s"),
              error->message);
          report (self, message);
          return;
        }
    }

  self->tracker = atlas_tracker_client_new (peer->tracker_url, peer->token, NULL);
  g_signal_connect_object (self->tracker, "disconnected", G_CALLBACK (tracker_disconnected_cb),
                           self, 0);
  g_signal_connect_object (self->tracker, "connected", G_CALLBACK (tracker_connected_cb), self, 0);
  self->swarm = atlas_swarm_new (self->session, self->identity, self->tracker, &peer->ice);
  apply_limits (self);
  atlas_swarm_start (self->swarm);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);

  /* Relay only sends through a TURN relay; without one no peer can be
   * reached. The swarm still runs (it announces and fails each link), so a
   * relay added later is used at once, but the user should know. */
  switch (atlas_app_peer_settings_turn_problem (peer))
    {
    case ATLAS_APP_TURN_MISSING:
      report (self, _ ("Relay only needs a TURN server: no peer can be reached until one is set"));
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
  AtlasAppSwarm *self = data;

  self->rebuild_id = 0;
  build (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_rebuild (AtlasAppSwarm *self)
{
  if (self->rebuild_id == 0 && !self->shut_down)
    self->rebuild_id = g_idle_add (rebuild_cb, self);
}

static void
settings_changed_cb (GSettings *settings, const char *key, AtlasAppSwarm *self)
{
  if (g_strv_contains ((const char *const *) rebuild_keys, key))
    schedule_rebuild (self);
  else if (g_str_equal (key, "max-peers") || g_str_equal (key, "peer-upload-limit")
           || g_str_equal (key, "global-upload-limit"))
    apply_limits (self);
}

static void
secret_changed_cb (AtlasAppSecrets *secrets, const char *name, AtlasAppSwarm *self)
{
  schedule_rebuild (self);
}

/* ---- the object ------------------------------------------------------------ */

static void
atlas_app_swarm_dispose (GObject *object)
{
  AtlasAppSwarm *self = ATLAS_APP_SWARM (object);

  self->shut_down = TRUE;
  g_clear_handle_id (&self->rebuild_id, g_source_remove);
  teardown (self);
  g_clear_object (&self->identity);
  g_clear_object (&self->session);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (atlas_app_swarm_parent_class)->dispose (object);
}

static void
atlas_app_swarm_finalize (GObject *object)
{
  AtlasAppSwarm *self = ATLAS_APP_SWARM (object);

  g_strfreev (self->local_addresses);
  g_free (self->error);
  G_OBJECT_CLASS (atlas_app_swarm_parent_class)->finalize (object);
}

static void
atlas_app_swarm_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasAppSwarm *self = ATLAS_APP_SWARM (object);

  switch (prop_id)
    {
    case PROP_RUNNING:
      g_value_set_boolean (value, atlas_app_swarm_is_running (self));
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_app_swarm_class_init (AtlasAppSwarmClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = atlas_app_swarm_dispose;
  object_class->finalize = atlas_app_swarm_finalize;
  object_class->get_property = atlas_app_swarm_get_property;

  properties[PROP_RUNNING] =
      g_param_spec_boolean ("running", NULL, NULL, FALSE,
                            G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ERROR] =
      g_param_spec_string ("error", NULL, NULL, NULL,
                           G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
atlas_app_swarm_init (AtlasAppSwarm *self)
{
}

AtlasAppSwarm *
atlas_app_swarm_new (GSettings *settings, AtlasSession *session)
{
  AtlasAppSwarm *self;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);
  g_return_val_if_fail (ATLAS_IS_SESSION (session), NULL);

  self = g_object_new (ATLAS_TYPE_APP_SWARM, NULL);
  self->settings = g_object_ref (settings);
  self->session = g_object_ref (session);
  g_signal_connect_object (settings, "changed", G_CALLBACK (settings_changed_cb), self, 0);
  g_signal_connect_object (atlas_app_secrets_get_default (), "changed",
                           G_CALLBACK (secret_changed_cb), self, 0);
  build (self);
  return self;
}

void
atlas_app_swarm_shutdown (AtlasAppSwarm *self)
{
  g_return_if_fail (ATLAS_IS_APP_SWARM (self));

  self->shut_down = TRUE;
  g_clear_handle_id (&self->rebuild_id, g_source_remove);
  teardown (self);
}

void
atlas_app_swarm_set_paused (AtlasAppSwarm *self, gboolean paused)
{
  g_return_if_fail (ATLAS_IS_APP_SWARM (self));

  if (self->paused == !!paused)
    return;
  self->paused = !!paused;
  /* At once, not in an idle: pausing is for a metered network, and
   * resuming should precede the session's start. */
  g_clear_handle_id (&self->rebuild_id, g_source_remove);
  build (self);
}

void
atlas_app_swarm_set_local_addresses (AtlasAppSwarm *self, const char *const *addresses)
{
  g_return_if_fail (ATLAS_IS_APP_SWARM (self));

  g_strfreev (self->local_addresses);
  self->local_addresses = g_strdupv ((char **) addresses);
  if (self->swarm != NULL)
    schedule_rebuild (self);
}

gboolean
atlas_app_swarm_is_running (AtlasAppSwarm *self)
{
  g_return_val_if_fail (ATLAS_IS_APP_SWARM (self), FALSE);

  return self->swarm != NULL;
}

const char *
atlas_app_swarm_get_error (AtlasAppSwarm *self)
{
  g_return_val_if_fail (ATLAS_IS_APP_SWARM (self), NULL);

  return self->error;
}

guint
atlas_app_swarm_get_n_peers (AtlasAppSwarm *self)
{
  g_return_val_if_fail (ATLAS_IS_APP_SWARM (self), 0);

  return self->swarm != NULL ? atlas_swarm_get_n_peers (self->swarm) : 0;
}

const char *
atlas_app_swarm_get_peer_id (AtlasAppSwarm *self)
{
  g_return_val_if_fail (ATLAS_IS_APP_SWARM (self), NULL);

  return self->swarm != NULL ? atlas_peer_identity_get_fingerprint (self->identity) : NULL;
}
