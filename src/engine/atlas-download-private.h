#pragma once

#include <curl/curl.h>

#include "atlas-download.h"
#include "atlas-peer-session.h"
#include "atlas-request.h"
#include "atlas-store.h"

G_BEGIN_DECLS

typedef struct _AtlasSession AtlasSession;

/* Takes @request. @final_path is where the verified file will land. */
AtlasDownload *_atlas_download_new (AtlasSession *session, guint64 id, AtlasRequest *request,
                                    const char *final_path);
/* Rebuilds a download's progress from its queue record. */
void _atlas_download_restore (AtlasDownload *self, const AtlasStoreRecord *record);
/* The record to insert for a new download. */
AtlasStoreRecord *_atlas_download_to_record (AtlasDownload *self);

/* Makes a new download partial before it is recorded or started (see
 * _atlas_session_add_partial): only the pieces in @wanted (a bitfield, most
 * significant bit first, ceil(n_pieces / 8) bytes) are fetched. Needs the
 * layout; FALSE with @error if @wanted does not fit it. */
gboolean _atlas_download_make_partial (AtlasDownload *self, GBytes *wanted, GError **error);

/* Marks pieces already good on disk (repair of an existing file). */
void _atlas_download_preset_pieces (AtlasDownload *self, guint64 piece_length, gint64 size,
                                    const guint8 *good, guint n_pieces);

/* Session-driven lifecycle. */
void _atlas_download_activate (AtlasDownload *self); /* QUEUED -> ACTIVE */
void _atlas_download_deactivate (AtlasDownload *self, AtlasDownloadState state);
void _atlas_download_tick (AtlasDownload *self, gint64 now);
/* Whether the next tick has anything to do: only a running download changes
 * between ticks (a stopped one published its final figures when it stopped). */
gboolean _atlas_download_wants_tick (AtlasDownload *self);
/* Resumes transfers paused by a speed limit once tokens are available. */
void _atlas_download_unpause_transfers (AtlasDownload *self);
/* Stops everything and forgets the session (the download is being removed). */
void _atlas_download_detach (AtlasDownload *self);
/* TRUE while the verified file is being moved into place. */
gboolean _atlas_download_is_finalizing (AtlasDownload *self);
/* Persists progress now (pause, close). */
void _atlas_download_persist (AtlasDownload *self);

/* Peers (atlas-download-peers.c), driven by the swarm. */
/* What a peer must agree on: FALSE until the download knows its size, SHA-256
 * piece hashes and whole-file SHA-256 (only such downloads join swarms). */
gboolean atlas_download_get_peer_layout (AtlasDownload *self, AtlasPeerLayout *layout);
/* A session announcing and serving what the download has verified. */
AtlasPeerSession *atlas_download_new_peer_session (AtlasDownload *self);
/* Hands a connected session (from atlas_download_new_peer_session, with its
 * transport set) to the download, which starts it, fetches from the peer what
 * it lacks and serves what it has. @name identifies the peer in the UI. */
void atlas_download_add_peer (AtlasDownload *self, AtlasPeerSession *session, const char *name);
/* The download is in a swarm: its mirrors take small claims of the rarest
 * pieces from a random place, so downloaders fetch different pieces. */
void atlas_download_set_swarming (AtlasDownload *self);
/* The other incomplete downloaders of this file that the swarm knows of, by
 * peer id (@own_id is ours): mirrors fetch our share of the file first, and
 * while peers outpace them only that (atlas-piece-share.h). */
void atlas_download_set_swarm_members (AtlasDownload *self, const char *own_id,
                                       const char *const *others);
/* The verified pieces as the peer protocol's bitfield (what we announce). */
GBytes *atlas_download_dup_peer_bits (AtlasDownload *self);
/* Whether the peer called @name was banned from this download (bad data). */
gboolean atlas_download_is_peer_banned (AtlasDownload *self, const char *name);

/* Partial downloads (the donation cache; atlas-donor.c). Only the pieces set
 * in the wanted bitfield (bit i, most significant first, is piece i) are
 * fetched, kept and served. A partial download never finalizes: no
 * whole-file hash, no rename, no "complete" state; it stays ACTIVE (or
 * PAUSED) and simply has nothing to fetch once every wanted piece is
 * verified. Its file stays sparse (no preallocation). The flag and the
 * wanted set persist in the queue, so a restart never turns it into a full
 * download. The request must give the size and piece hashes (else
 * ATLAS_ERROR_INVALID_INPUT), and @wanted must be ceil(n_pieces / 8) bytes.
 * Partial downloads take no slot of max-concurrent-downloads. See
 * docs/engine.md, "Partial downloads". */
AtlasDownload *_atlas_session_add_partial (AtlasSession *session, const AtlasRequest *request,
                                           GBytes *wanted, GError **error);
gboolean atlas_download_is_partial (AtlasDownload *self);
/* Changes what a partial download holds (in any state): newly wanted pieces
 * are fetched; verified pieces no longer wanted are dropped (refused to peers
 * at once, with DROP and REJECT; taken out of the verified set and the queue;
 * then their blocks freed with FALLOC_FL_PUNCH_HOLE on a worker thread);
 * transfers of pieces no longer wanted are released. @wanted has the size
 * given to _atlas_session_add_partial. */
void atlas_download_set_wanted_pieces (AtlasDownload *self, GBytes *wanted);
/* NULL for a whole download. */
GBytes *atlas_download_dup_wanted_pieces (AtlasDownload *self);
/* Verified wanted pieces, and wanted pieces in all (every piece of a whole
 * download). */
guint atlas_download_get_n_held_pieces (AtlasDownload *self);
guint atlas_download_get_n_wanted_pieces (AtlasDownload *self);
/* Upper bound of the disk space the file uses: every wanted piece that is
 * verified, being fetched or being hashed, in bytes (pieces being dropped
 * count until their hole is punched; where the filesystem cannot punch
 * holes, until the session ends). Each counts as a full piece (the last one
 * its real size). The donor keeps this under its cap. */
guint64 atlas_download_get_stored_bytes (AtlasDownload *self);
/* How many distinct peers have received at least one block from this
 * download (for "downloads helped"). */
guint atlas_download_get_n_peers_served (AtlasDownload *self);

G_END_DECLS
