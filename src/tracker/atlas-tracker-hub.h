/* atlas-tracker-hub.h — the tracker's WebSocket side: connected peers, the
 * swarms they announced, and the ICE signaling relayed between them.
 *
 * Swarms live only in memory. A peer leaves every swarm when its WebSocket
 * closes, when it sends leave, or when it has not announced for the TTL.
 */
#pragma once

#include <libsoup/soup.h>

#include "atlas-tracker-auth.h"
#include "atlas-tracker-metrics.h"
#include "atlas-tracker-store.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_TRACKER_HUB (atlas_tracker_hub_get_type ())
G_DECLARE_FINAL_TYPE (AtlasTrackerHub, atlas_tracker_hub, ATLAS, TRACKER_HUB, GObject)

/* @store and @metrics must outlive the hub. */
AtlasTrackerHub *atlas_tracker_hub_new (AtlasTrackerStore *store, AtlasTrackerMetrics *metrics);
/* How long a peer may go without announcing (default 180 s), and the per
 * connection token bucket (default 50 messages per second, burst 200). */
void atlas_tracker_hub_set_limits (AtlasTrackerHub *hub, guint ttl_seconds, double rate,
                                   guint burst);
/* How often the donation coordinator re-runs the allocation (default 5000 ms;
 * tests shorten it). */
void atlas_tracker_hub_set_donation_interval (AtlasTrackerHub *hub, guint interval_ms);
/* Takes over an upgraded connection authenticated as @token; @remote (the
 * client's address) is for logs. */
void atlas_tracker_hub_add_connection (AtlasTrackerHub *hub, SoupWebsocketConnection *connection,
                                       const AtlasTrackerToken *token, const char *remote);
/* Peers that said hello and are still connected. */
guint atlas_tracker_hub_get_n_peers (AtlasTrackerHub *hub);
/* Files with at least one announced peer. */
guint atlas_tracker_hub_get_n_swarms (AtlasTrackerHub *hub);
/* Peers in the swarm of the file @entry, and how many of them are complete. */
void atlas_tracker_hub_count_swarm (AtlasTrackerHub *hub, const char *entry, guint *seeders,
                                    guint *peers);
/* Closes every connection (1001, going away), for shutdown. */
void atlas_tracker_hub_close_all (AtlasTrackerHub *hub);

G_END_DECLS
