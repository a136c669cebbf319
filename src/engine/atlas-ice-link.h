/* atlas-ice-link.h — a UDP path to one peer, found by ICE (libnice).
 *
 * Each side gathers candidates (its own addresses, the address a STUN server
 * saw, a TURN relay) and hands them to the other through signaling, one
 * candidate line at a time as they appear (trickle ICE). libnice then checks
 * candidate pairs and selects one; from "ready" on, the link is an
 * AtlasDatagramPath and QUIC runs on top of it.
 *
 * The link runs in non-reliable mode: it carries datagrams and nothing else,
 * because libnice's PseudoTCP is far too slow for bulk transfer (see
 * ARCHITECTURE.md). Everything happens on the thread-default main context the
 * link was created on.
 */
#pragma once

#include <glib-object.h>

#include "atlas-datagram-path.h"

G_BEGIN_DECLS

typedef enum
{
  ATLAS_ICE_MODE_DIRECT,     /* host, server-reflexive and relayed candidates */
  ATLAS_ICE_MODE_RELAY_ONLY, /* only relayed candidates leave the machine */
} AtlasIceMode;

typedef struct
{
  char *stun_server; /* "host:port" or NULL */
  char *turn_server; /* "host:port" or NULL; TURN over UDP */
  char *turn_username;
  char *turn_password;
  AtlasIceMode mode;
  gboolean upnp; /* FALSE unless the user turned it on */
  /* NULL-terminated IP addresses to gather host candidates on, or NULL for
   * every interface but loopback. Tests pass { "127.0.0.1", NULL }. */
  char **local_addresses;
  /* How long the link may take from gathering to "ready"; 0 means 20 s. */
  guint connect_timeout_ms;
} AtlasIceConfig;

/* The largest datagram the link sends (see atlas-ice-link.c for why). */
#define ATLAS_ICE_LINK_MAX_DATAGRAM 1200

#define ATLAS_TYPE_ICE_LINK (atlas_ice_link_get_type ())
G_DECLARE_FINAL_TYPE (AtlasIceLink, atlas_ice_link, ATLAS, ICE_LINK, GObject)

/* Creates a link; @controlling must be TRUE on exactly one of the two sides.
 * Fails with ATLAS_ERROR_INVALID_INPUT on a malformed server address or a
 * TURN server without credentials. @config is only read during the call. */
AtlasIceLink *atlas_ice_link_new (gboolean controlling, const AtlasIceConfig *config,
                                  GError **error);

/* Starts gathering. Candidates come one by one in "local-candidate", then
 * "gathering-done"; the connect timeout starts now. */
void atlas_ice_link_gather (AtlasIceLink *self);

/* The credentials to send to the peer (newly allocated strings). */
void atlas_ice_link_get_local_credentials (AtlasIceLink *self, char **ufrag, char **password);

/* The peer's credentials; ATLAS_ERROR_INVALID_INPUT if they are not valid ICE
 * credentials, or if they were already set to something else. */
gboolean atlas_ice_link_set_remote_credentials (AtlasIceLink *self, const char *ufrag,
                                                const char *password, GError **error);

/* One of the peer's candidate lines ("candidate:…", an optional "a=" is
 * accepted). ATLAS_ERROR_INVALID_INPUT with the line quoted if it is
 * malformed, ATLAS_ERROR_PROTOCOL if the peer sent too many. TCP candidates
 * are valid but unused, and ignored. */
gboolean atlas_ice_link_add_remote_candidate (AtlasIceLink *self, const char *candidate_line,
                                              GError **error);

/* The peer will send no more candidates; ICE may now give up on failure. */
void atlas_ice_link_remote_gathering_done (AtlasIceLink *self);

/* The type of the local candidate in the selected pair: "host", "srflx",
 * "prflx" or "relay"; NULL before a pair is selected. */
const char *atlas_ice_link_get_selected_kind (AtlasIceLink *self);

/* The same for the peer's candidate in the selected pair, as this side
 * sees it; for logs and tests (a "relay" on either end means TURN). */
const char *atlas_ice_link_get_selected_remote_kind (AtlasIceLink *self);

/* Datagrams that the socket would not take (counted as lost). */
guint64 atlas_ice_link_get_dropped_count (AtlasIceLink *self);

/* For tests: links made and not yet finalized in this process. */
guint _atlas_ice_link_get_n_live (void);

G_END_DECLS
