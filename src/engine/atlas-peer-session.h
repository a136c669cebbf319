/* atlas-peer-session.h — one peer connection's protocol state machine.
 *
 * A session speaks the peer protocol (docs/protocol.md) over a reliable byte
 * stream it reaches through a transport vtable: it sends HELLO and BITFIELD,
 * checks everything the remote sends, keeps the books of requests in both
 * directions, serves blocks from a file under upload limits and says GOODBYE.
 * Which blocks to ask for, and what to do with them, is the owner's business.
 *
 * Everything happens on the thread-default GMainContext of the thread that
 * created the session; only file reads run on a worker thread.
 *
 * Re-entrancy: the events are emitted from atlas_peer_session_receive() (any
 * of them), from atlas_peer_session_close() ("closed") and from the session's
 * own timers ("closed" on an idle timeout). The session holds a reference
 * while it emits, so an event handler may drop the owner's last reference
 * (typically in "closed"); the owner must then not touch the session after
 * the call that emitted the event returns. No other function emits events.
 * The transport's functions must not call back into the session synchronously.
 * Dropping the last reference without atlas_peer_session_close() sends nothing
 * and emits nothing; reads still running then finish and are discarded.
 */
#pragma once

#include <glib-object.h>

#include "atlas-peer-wire.h"
#include "atlas-rate-limiter.h"

G_BEGIN_DECLS

/* The most requests a session lets the remote have outstanding at once, and so
 * the most an owner should have outstanding at a remote: one more closes the
 * session with a protocol error. At ATLAS_PEER_MAX_BLOCK each that is 16 MiB. */
#define ATLAS_PEER_SESSION_MAX_REQUESTS 64

#define ATLAS_TYPE_PEER_SESSION (atlas_peer_session_get_type ())
G_DECLARE_FINAL_TYPE (AtlasPeerSession, atlas_peer_session, ATLAS, PEER_SESSION, GObject)

typedef struct
{
  guint8 entry_id[32]; /* whole-file SHA-256 of the shared file */
  guint64 file_size;
  guint32 piece_length;
  guint32 piece_count;
} AtlasPeerLayout;

typedef struct
{
  /* Queues bytes on the stream; returns how many it took (may be fewer: call
   * again after atlas_peer_session_writable). */
  gsize (*write) (gpointer transport, const guint8 *data, gsize length);
  /* Ends the stream/connection after what was written is sent. */
  void (*close) (gpointer transport, const char *reason);
} AtlasPeerTransportFuncs;

typedef struct
{
  /* The remote's HELLO matched our layout and its BITFIELD arrived. */
  void (*ready) (AtlasPeerSession *session, gpointer user_data);
  void (*have) (AtlasPeerSession *session, guint32 piece, gpointer user_data);
  /* When the remote chokes us every outstanding request of ours is void: the
   * session forgets them and reports each through "rejected" right after
   * "choked", so that the owner re-schedules them elsewhere. */
  void (*choked) (AtlasPeerSession *session, gboolean choked, gpointer user_data);
  /* DATA that matched an outstanding request of ours (any other DATA closes the
   * session, except late DATA of a request we voided, which is dropped). @data
   * is valid only during the call. */
  void (*block) (AtlasPeerSession *session, guint32 piece, guint32 offset, const guint8 *data,
                 guint32 length, gpointer user_data);
  void (*rejected) (AtlasPeerSession *session, guint32 piece, guint32 offset, guint32 length,
                    gpointer user_data);
  /* Exactly once; @error is NULL for a clean close. After it the session is
   * inert: outstanding requests are void and not reported one by one. */
  void (*closed) (AtlasPeerSession *session, const GError *error, gpointer user_data);
  /* The remote no longer has @piece (DROP); it was in its bits until now.
   * Requests of ours for it that are outstanding come back as REJECT. (Last,
   * so that owners listing the events in order need not name it.) */
  void (*dropped) (AtlasPeerSession *session, guint32 piece, gpointer user_data);
} AtlasPeerSessionEvents;

/* Creates a session for the file described by @layout. @our_bits: the pieces
 * we hold and serve (copied; ceil(piece_count / 8) bytes; NULL = none). @fd: the
 * file to serve blocks from (dup'ed; -1 = serve nothing). */
AtlasPeerSession *atlas_peer_session_new (const AtlasPeerLayout *layout, const guint8 *our_bits,
                                          int fd);
/* Sets the stream to write to; needed before atlas_peer_session_start(). */
/* Gives a session made with fd -1 the file to serve from, once it exists (a
 * new download's file is created after its first peers may have come).
 * Ignored when the session already has one. */
void atlas_peer_session_set_file (AtlasPeerSession *self, int fd);
void atlas_peer_session_set_transport (AtlasPeerSession *self, const AtlasPeerTransportFuncs *funcs,
                                       gpointer transport);
void atlas_peer_session_set_events (AtlasPeerSession *self, const AtlasPeerSessionEvents *events,
                                    gpointer user_data);
/* Sends HELLO then BITFIELD, and starts the keepalive and idle timers. */
void atlas_peer_session_start (AtlasPeerSession *self);
/* Feeds bytes that arrived on the stream, in any chunking. */
void atlas_peer_session_receive (AtlasPeerSession *self, const guint8 *data, gsize length);
/* Tells the session the transport has room again after a short write. */
void atlas_peer_session_writable (AtlasPeerSession *self);
/* The name used in logs and error messages, set by the owner. */
const char *atlas_peer_session_get_name (AtlasPeerSession *self);
void atlas_peer_session_set_name (AtlasPeerSession *self, const char *name);

/* Downloading from the remote. */

/* TRUE once "ready" was emitted, until the session closes. */
gboolean atlas_peer_session_is_ready (AtlasPeerSession *self);
/* The pieces the remote holds (BITFIELD plus HAVEs); NULL before its HELLO. */
const guint8 *atlas_peer_session_get_remote_bits (AtlasPeerSession *self);
/* FALSE until the remote sends CHOKE (Atlas peers send UNCHOKE right after
 * their BITFIELD unless they choke). */
gboolean atlas_peer_session_is_choking_us (AtlasPeerSession *self);
/* Sends INTERESTED or NOT_INTERESTED when the value changes. */
void atlas_peer_session_set_interested (AtlasPeerSession *self, gboolean interested);
/* Asks for a block of at most ATLAS_PEER_MAX_BLOCK bytes inside one piece that
 * the remote holds, with fewer than ATLAS_PEER_SESSION_MAX_REQUESTS outstanding
 * (g_return_if_fail otherwise). A duplicate of an outstanding request is
 * ignored, and so is any request after the session closed. A request while the
 * remote chokes us is sent all the same; the remote answers it with REJECT. */
void atlas_peer_session_request (AtlasPeerSession *self, guint32 piece, guint32 offset,
                                 guint32 length);
/* Withdraws an outstanding request; DATA for it that was already on its way is
 * dropped quietly. */
void atlas_peer_session_cancel (AtlasPeerSession *self, guint32 piece, guint32 offset,
                                guint32 length);
/* The bytes requested from the remote and not yet received, rejected or cancelled. */
guint64 atlas_peer_session_get_outstanding_bytes (AtlasPeerSession *self);

/* Serving to the remote. */

/* Announces a piece we verified (sends HAVE) and serves it from now on. */
void atlas_peer_session_have (AtlasPeerSession *self, guint32 piece);
/* We no longer hold @piece (a partial download dropped it): sends DROP, and
 * the piece is not served from now on; the remote's unserved and later
 * requests for it get REJECT (not protocol errors: they may have crossed the
 * DROP). A peer that predates DROP skips it and learns from the REJECTs. */
void atlas_peer_session_drop (AtlasPeerSession *self, guint32 piece);
/* Choking REJECTs every unserved request of the remote and every new one.
 * Sessions serve by default: start() sends UNCHOKE unless this was set first. */
void atlas_peer_session_set_choking (AtlasPeerSession *self, gboolean choking);
/* @global may be shared by all sessions (NULL = none) and must outlive them;
 * @per_peer_rate is in bytes per second (0 = none). */
void atlas_peer_session_set_upload_limits (AtlasPeerSession *self, AtlasRateLimiter *global,
                                           guint64 per_peer_rate);
gboolean atlas_peer_session_is_remote_interested (AtlasPeerSession *self);

/* DATA payload bytes received from / sent to the remote. */
guint64 atlas_peer_session_get_bytes_received (AtlasPeerSession *self);
guint64 atlas_peer_session_get_bytes_sent (AtlasPeerSession *self);

/* Sends GOODBYE with @reason (AtlasPeerGoodbyeReason) and @text (UTF-8, may be
 * NULL), closes the transport and emits "closed": with a NULL error for NORMAL
 * and SHUTTING_DOWN, else with an ATLAS_ERROR_PROTOCOL error naming the reason.
 * Does nothing if the session is already closed. */
void atlas_peer_session_close (AtlasPeerSession *self, guint16 reason, const char *text);

G_END_DECLS
