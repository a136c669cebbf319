/* atlas-app-swarm.h — the app's peer-to-peer controller.
 *
 * Builds the engine's AtlasSwarm from GSettings (peer-mode, tracker-url,
 * STUN/TURN, UPnP) and the private secrets (tracker token, TURN password),
 * and builds it again whenever one of them changes. Peers run only when
 * peer-mode is not "off" and a tracker is set. Upload limits and the peer
 * count apply to the running swarm without a rebuild.
 *
 * Problems (a tracker address that is not one, an unreadable identity, a
 * refused token) never stop the app: the swarm stays off (or retries, for a
 * tracker that cannot be reached) and the "error" property says what
 * happened, once per configuration, in the user's language.
 */
#pragma once

#include "atlas.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_APP_SWARM (atlas_app_swarm_get_type ())
G_DECLARE_FINAL_TYPE (AtlasAppSwarm, atlas_app_swarm, ATLAS, APP_SWARM, GObject)

/* Reads @settings and, when they ask for peers, starts the swarm before
 * returning, so that the app can call atlas_session_start afterwards (the
 * order the engine wants: a download's first claims then already know it is
 * in a swarm). The peer identity is kept in $XDG_DATA_HOME/download-atlas/peer. */
AtlasAppSwarm *atlas_app_swarm_new (GSettings *settings, AtlasSession *session);

/* Stops the swarm for good (before the session closes); later setting
 * changes are ignored. */
void atlas_app_swarm_shutdown (AtlasAppSwarm *self);

/* While paused (a metered network), no swarm runs. */
void atlas_app_swarm_set_paused (AtlasAppSwarm *self, gboolean paused);

/* Gather host candidates only on these addresses (NULL-terminated; NULL:
 * every interface but loopback). For tests and machines with many
 * interfaces; rebuilds a running swarm. */
void atlas_app_swarm_set_local_addresses (AtlasAppSwarm *self, const char *const *addresses);

/* Whether a swarm is running (property "running"). */
gboolean atlas_app_swarm_is_running (AtlasAppSwarm *self);
/* The last problem, or NULL (property "error"). */
const char *atlas_app_swarm_get_error (AtlasAppSwarm *self);
/* Peer links that are up, over all downloads; 0 without a swarm. */
guint atlas_app_swarm_get_n_peers (AtlasAppSwarm *self);
/* This installation's peer id ("sha256:…"), or NULL without a swarm. */
const char *atlas_app_swarm_get_peer_id (AtlasAppSwarm *self);

G_END_DECLS
