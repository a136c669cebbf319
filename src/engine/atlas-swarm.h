/* atlas-swarm.h — connects a session's downloads to their peers.
 *
 * The swarm announces every download that peers can help (one with SHA-256
 * piece hashes and a whole-file SHA-256, which names its tracker entry) to
 * the tracker, connects to the peers the tracker suggests and accepts the
 * peers that call, and hands each authenticated link to its download:
 *
 *   tracker signaling (offer/answer, trickled candidates, fingerprints)
 *     -> AtlasIceLink (libnice, UDP: host, server-reflexive, relayed)
 *     -> AtlasQuicConnection (ngtcp2 + GnuTLS; both certificates checked
 *        against the fingerprints the tracker relayed)
 *     -> AtlasPeerSession (the peer protocol, docs/protocol.md)
 *     -> atlas_download_add_peer (the download's scheduler takes it from there)
 *
 * Complete downloads stay announced while the swarm runs, so they are served
 * (seeding). Everything runs on the session's main context.
 */
#pragma once

#include "atlas-ice-link.h"
#include "atlas-peer-identity.h"
#include "atlas-rate-limiter.h"
#include "atlas-session.h"
#include "atlas-tracker-client.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_SWARM (atlas_swarm_get_type ())
G_DECLARE_FINAL_TYPE (AtlasSwarm, atlas_swarm, ATLAS, SWARM, GObject)

/* @ice is copied. The identity's fingerprint is the peer id announced. */
AtlasSwarm *atlas_swarm_new (AtlasSession *session, AtlasPeerIdentity *identity,
                             AtlasTrackerClient *tracker, const AtlasIceConfig *ice);
/* Connects to the tracker and starts announcing; stop leaves every swarm
 * and closes every peer link. */
void atlas_swarm_start (AtlasSwarm *self);
void atlas_swarm_stop (AtlasSwarm *self);

/* Limits: peers per download (default 30) and upload in bytes per second,
 * over all peers and per peer (0 = none). */
void atlas_swarm_set_max_peers (AtlasSwarm *self, guint max_peers);
void atlas_swarm_set_upload_limits (AtlasSwarm *self, guint64 total, guint64 per_peer);

/* The total upload limiter also draws on @allowance (not owned; NULL: none),
 * so no peer is sent more than it allows. */
void atlas_swarm_set_upload_allowance (AtlasSwarm *self, AtlasAllowance *allowance);
/* Bytes of piece data sent to peers since the swarm was made. */
guint64 atlas_swarm_get_bytes_uploaded (AtlasSwarm *self);

/* Peer links that are up (QUIC established), over all downloads. */
guint atlas_swarm_get_n_peers (AtlasSwarm *self);

G_END_DECLS
