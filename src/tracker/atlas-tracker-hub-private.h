/* atlas-tracker-hub-private.h — the hub's connections and swarms, shared with
 * the donation coordinator (atlas-tracker-donation.c), which reads the swarms
 * to measure demand and sends assignments over the connections. */
#pragma once

#include "atlas-tracker-donation.h"
#include "atlas-tracker-hub.h"
#include "atlas-tracker-wire.h"

G_BEGIN_DECLS

typedef struct _AtlasHubConnection AtlasHubConnection;

/* One peer in one swarm: its latest announce. */
typedef struct
{
  AtlasHubConnection *owner;
  char *entry;
  guint32 piece_count;
  GBytes *pieces;
  gboolean complete;
  gboolean donor; /* announced with "donor": true: supply for the allocator, not demand */
  guint64 uploaded, downloaded;
  gint64 last_announce; /* monotonic usec */
} AtlasHubMembership;

struct _AtlasHubConnection
{
  AtlasTrackerHub *hub;
  SoupWebsocketConnection *socket;
  AtlasTrackerToken *token;
  char *peer_id;           /* NULL until hello */
  char *address;           /* for logs */
  GHashTable *memberships; /* entry -> AtlasHubMembership*, owned */
  /* Signaling sessions this peer is part of: "entry session peer" -> the
   * other peer's id, so a vanished peer's partners can be told. */
  GHashTable *sessions;
  double bucket;
  gint64 bucket_time;
  guint refused;
  gint64 refused_window;
  gint64 last_rate_error;
  gint64 last_message;
  guint hello_timeout;
  gboolean detached;
};

struct _AtlasTrackerHub
{
  GObject parent_instance;

  AtlasTrackerStore *store;
  AtlasTrackerMetrics *metrics;
  GHashTable *connections; /* AtlasHubConnection* set, owned */
  GHashTable *peers;       /* peer_id -> AtlasHubConnection* */
  GHashTable *swarms;      /* entry -> (peer_id -> AtlasHubMembership*) */
  guint ttl_seconds;
  double rate;
  guint burst;
  guint sweep_source;
  AtlasTrackerDonation *donation;
};

/* Sends @message to the peer if its socket is open. */
void _atlas_tracker_hub_send (AtlasHubConnection *connection, const AtlasTrackerMessage *message);

G_END_DECLS
