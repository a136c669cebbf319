#include "atlas-app-peer-settings.h"

#include "atlas-app-secrets.h"

char *
atlas_app_settings_get_string_or_null (GSettings *settings, const char *key)
{
  g_autofree char *value = g_strstrip (g_settings_get_string (settings, key));

  return *value != '\0' ? g_steal_pointer (&value) : NULL;
}

gboolean
atlas_app_is_tracker_address (const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  const char *host = uri != NULL ? g_uri_get_host (uri) : NULL;

  return scheme != NULL && host != NULL && *host != '\0'
         && (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0);
}

AtlasAppPeerSettings *
atlas_app_peer_settings_read (GSettings *settings, const char *const *local_addresses)
{
  AtlasAppPeerSettings *peer = g_new0 (AtlasAppPeerSettings, 1);
  AtlasAppSecrets *secrets = atlas_app_secrets_get_default ();

  peer->mode = g_settings_get_enum (settings, "peer-mode");
  peer->tracker_url = atlas_app_settings_get_string_or_null (settings, "tracker-url");
  peer->token = atlas_app_secrets_lookup (secrets, ATLAS_SECRET_TRACKER_TOKEN);
  peer->stun_server = atlas_app_settings_get_string_or_null (settings, "stun-server");
  peer->turn_server = atlas_app_settings_get_string_or_null (settings, "turn-server");
  peer->turn_username = atlas_app_settings_get_string_or_null (settings, "turn-username");
  peer->turn_password = atlas_app_secrets_lookup (secrets, ATLAS_SECRET_TURN_PASSWORD);
  peer->local_addresses = g_strdupv ((char **) local_addresses);

  peer->ice.stun_server = peer->stun_server;
  peer->ice.turn_server = peer->turn_server;
  peer->ice.turn_username = peer->turn_username;
  peer->ice.turn_password = peer->turn_password;
  /* Relay only hides this computer's addresses from peers, whichever
   * controller connects. */
  peer->ice.mode = peer->mode == ATLAS_APP_PEER_MODE_RELAY_ONLY ? ATLAS_ICE_MODE_RELAY_ONLY
                                                                : ATLAS_ICE_MODE_DIRECT;
  peer->ice.upnp = g_settings_get_boolean (settings, "upnp");
  peer->ice.local_addresses = peer->local_addresses;
  return peer;
}

void
atlas_app_peer_settings_free (AtlasAppPeerSettings *peer)
{
  if (peer == NULL)
    return;
  g_free (peer->tracker_url);
  g_free (peer->token);
  g_free (peer->stun_server);
  g_free (peer->turn_server);
  g_free (peer->turn_username);
  g_free (peer->turn_password);
  g_strfreev (peer->local_addresses);
  g_free (peer);
}

AtlasAppTurnProblem
atlas_app_peer_settings_turn_problem (const AtlasAppPeerSettings *peer)
{
  if (peer->mode == ATLAS_APP_PEER_MODE_RELAY_ONLY && peer->turn_server == NULL)
    return ATLAS_APP_TURN_MISSING;
  if (peer->turn_server != NULL && (peer->turn_username == NULL || peer->turn_password == NULL))
    return ATLAS_APP_TURN_NO_ACCOUNT;
  return ATLAS_APP_TURN_OK;
}
