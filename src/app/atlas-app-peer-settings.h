/* atlas-app-peer-settings.h — what the Peer-to-Peer preferences say about
 * reaching the tracker and other peers.
 *
 * Both controllers that talk to peers (the swarm, atlas-app-swarm.c, and the
 * donor, atlas-app-donor.c) read the same keys and secrets when they build
 * their engine objects; reading them in one place keeps relay-only, STUN/TURN
 * and the token meaning the same thing for both. */
#pragma once

#include <gio/gio.h>

#include "atlas-ice-link.h"

G_BEGIN_DECLS

/* The values of the PeerMode enum in the schema. */
typedef enum
{
  ATLAS_APP_PEER_MODE_OFF,
  ATLAS_APP_PEER_MODE_ON,
  ATLAS_APP_PEER_MODE_RELAY_ONLY,
} AtlasAppPeerMode;

/* What a relay setting lacks, for the controllers to tell the user. */
typedef enum
{
  ATLAS_APP_TURN_OK,
  ATLAS_APP_TURN_MISSING,    /* relay only, but no TURN server */
  ATLAS_APP_TURN_NO_ACCOUNT, /* a TURN server without user name or password */
} AtlasAppTurnProblem;

typedef struct
{
  AtlasAppPeerMode mode;
  char *tracker_url; /* trimmed; NULL when not set */
  char *token;       /* from the secrets file; NULL when not set */
  char *stun_server;
  char *turn_server;
  char *turn_username;
  char *turn_password;
  char **local_addresses;
  AtlasIceConfig ice; /* points into the fields above */
} AtlasAppPeerSettings;

/* Reads the keys and secrets now. @local_addresses (nullable, copied) binds
 * the ICE agents, for tests on 127.0.0.1. */
AtlasAppPeerSettings *atlas_app_peer_settings_read (GSettings *settings,
                                                    const char *const *local_addresses);
void atlas_app_peer_settings_free (AtlasAppPeerSettings *peer);
AtlasAppTurnProblem atlas_app_peer_settings_turn_problem (const AtlasAppPeerSettings *peer);

/* A string key, trimmed, or NULL when it is empty. */
char *atlas_app_settings_get_string_or_null (GSettings *settings, const char *key);

/* Whether @url can be a tracker: http(s) with a host. The engine checks it
 * too, but only once it connects; checked here, a typo is said at once
 * instead of retried for ever. */
gboolean atlas_app_is_tracker_address (const char *url);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasAppPeerSettings, atlas_app_peer_settings_free)

G_END_DECLS
