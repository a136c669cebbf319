/* atlas-tracker-client.h — the engine's side of the tracker (atlas-tracker).
 *
 * Two channels share one object: the HTTP index API (publish, find, search),
 * and the WebSocket peer channel (announces, peer lists, ICE signaling). Both
 * run on the GMainContext that is thread-default when the client is made; all
 * callbacks and signals arrive there. The token goes in an Authorization
 * header on every request and never appears in a message or a log line.
 *
 * Signals of the peer channel:
 *   "connected"    ()                                   hello was answered by welcome
 *   "disconnected" (const GError *error)                 after every lost connection or
 *                  failed attempt; NULL error after atlas_tracker_client_stop()
 *   "peers"        (const char *entry, GPtrArray *peers) AtlasTrackerPeer*, owned by the client
 *   "signal"       (const AtlasTrackerMessage *message)  message->peer_id is the sender
 *   "error"        (const char *code, const char *text)  an error message from the tracker
 *   "assign"       (GPtrArray *assignments)              AtlasTrackerAssignment*, owned by the
 *                  client: a donor's complete assignment (an entry absent = hold none of it)
 */
#pragma once

#include <gio/gio.h>

#include "atlas-tracker-wire.h"

G_BEGIN_DECLS

/* One row of the tracker's index, as GET /entries lists it. */
typedef struct
{
  gint64 id;
  char *name;
  char *version;
  char *description;
  char *entry; /* sha-256 of the file, 64 lower-case hex */
  guint64 size;
  guint64 piece_length;
  guint32 piece_count;
  gboolean private_entry;
  guint seeders;
  guint peers;
} AtlasTrackerEntry;

#define ATLAS_TYPE_TRACKER_ENTRY (atlas_tracker_entry_get_type ())
GType atlas_tracker_entry_get_type (void);
AtlasTrackerEntry *atlas_tracker_entry_copy (const AtlasTrackerEntry *entry);
void atlas_tracker_entry_free (AtlasTrackerEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasTrackerEntry, atlas_tracker_entry_free)

#define ATLAS_TYPE_TRACKER_CLIENT (atlas_tracker_client_get_type ())
G_DECLARE_FINAL_TYPE (AtlasTrackerClient, atlas_tracker_client, ATLAS, TRACKER_CLIENT, GObject)

/* @base_url: the tracker's root, "https://host:port" (a trailing "/api/v1" is
 * accepted). @ca_file: also trust the certificates in this PEM file; TLS
 * verification itself is never turned off. */
AtlasTrackerClient *atlas_tracker_client_new (const char *base_url, const char *token,
                                              const char *ca_file);

/* ---- HTTP: the index ---- */

/* Registers a Metalink (POST /entries). @allowed_tokens: token names that may
 * see a private entry; NULL-terminated, nullable. */
void atlas_tracker_client_publish_async (AtlasTrackerClient *self, const char *name,
                                         const char *version, const char *description,
                                         GBytes *metalink_xml, gboolean private_entry,
                                         const char *const *allowed_tokens,
                                         GCancellable *cancellable, GAsyncReadyCallback callback,
                                         gpointer user_data);
/* The new entry's id, or -1 with @error set. @entry_hex (nullable) receives
 * the sha-256 of the file as the tracker computed it. */
gint64 atlas_tracker_client_publish_finish (AtlasTrackerClient *self, GAsyncResult *result,
                                            char **entry_hex, GError **error);

/* Looks up the entry named exactly @name, of @version or else the newest, and
 * fetches its Metalink. */
void atlas_tracker_client_find_async (AtlasTrackerClient *self, const char *name,
                                      const char *version, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
/* The Metalink XML; ATLAS_ERROR_NOT_FOUND when no such entry is visible. */
GBytes *atlas_tracker_client_find_finish (AtlasTrackerClient *self, GAsyncResult *result,
                                          GError **error);

/* Free-text search of the index (GET /entries?q=), at most @limit rows. */
void atlas_tracker_client_search_async (AtlasTrackerClient *self, const char *query, guint limit,
                                        GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data);
/* AtlasTrackerEntry*, newest version first; @total (nullable): all matches. */
GPtrArray *atlas_tracker_client_search_finish (AtlasTrackerClient *self, GAsyncResult *result,
                                               guint *total, GError **error);

/* ---- WebSocket: the peer channel ---- */

/* Connects as @peer_id ("sha256:<64 hex>", the certificate fingerprint) and
 * stays connected until stop: a lost connection is retried with exponential
 * backoff (1 s to 30 s, with jitter), and after each reconnect hello and every
 * current announce are sent again. A refused token (HTTP 401/403) is not
 * retried: "disconnected" carries ATLAS_ERROR_PERMISSION and the client stops. */
void atlas_tracker_client_start (AtlasTrackerClient *self, const char *peer_id);
/* Closes the channel and forgets nothing: a later start re-announces. */
void atlas_tracker_client_stop (AtlasTrackerClient *self);
/* TRUE between "connected" and "disconnected". */
gboolean atlas_tracker_client_is_connected (AtlasTrackerClient *self);

/* Announces (or updates) this peer in the swarm of @entry_hex. The latest
 * announce per entry is kept, sent whenever the channel (re)connects and
 * repeated every 45 s, within the tracker's 60 s lifetime. */
void atlas_tracker_client_announce (AtlasTrackerClient *self, const char *entry_hex,
                                    guint32 piece_count, GBytes *pieces, gboolean complete,
                                    guint64 uploaded, guint64 downloaded, guint want_peers);
/* Leaves the swarm of @entry_hex and stops announcing it. */
void atlas_tracker_client_leave (AtlasTrackerClient *self, const char *entry_hex);
/* ---- Donation ---- */

/* Offers donation (AtlasDonateOffer is in atlas-tracker-wire.h; copied). The
 * offer is kept and sent again after every reconnect, and the tracker answers
 * each one with "assign". An offer equal to the current one is not sent
 * again. NULL withdraws it (the tracker is told to assign nothing). */
void atlas_tracker_client_donate (AtlasTrackerClient *self, const AtlasDonateOffer *offer);
/* Every announce of this client carries "donor": true (re-sent at once when
 * this changes), so the tracker counts its pieces as donated, not as demand. */
void atlas_tracker_client_set_donor (AtlasTrackerClient *self, gboolean donor);

/* The Metalink of index entry @id (GET /entries/{id}/metalink). */
void atlas_tracker_client_get_metalink_async (AtlasTrackerClient *self, gint64 id,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback, gpointer user_data);
/* The Metalink XML; ATLAS_ERROR_NOT_FOUND when the entry is gone or not visible. */
GBytes *atlas_tracker_client_get_metalink_finish (AtlasTrackerClient *self, GAsyncResult *result,
                                                  GError **error);

/* Sends a SIGNAL message (@signal->peer_id is the recipient). FALSE when the
 * channel is not connected or @signal is not a signal; nothing is queued. */
gboolean atlas_tracker_client_send_signal (AtlasTrackerClient *self,
                                           const AtlasTrackerMessage *signal);

G_END_DECLS
