/* atlas-peer-session-private.h — what the session's two files share, and the
 * setters tests use. atlas-peer-session.c runs the protocol and the download
 * side; atlas-peer-session-serve.c serves blocks and owns the output queue. */
#pragma once

#include "atlas-peer-session.h"

G_BEGIN_DECLS

/* Keepalive and idle limits, in milliseconds. */
#define ATLAS_PEER_SESSION_KEEPALIVE_MS (20 * 1000)
#define ATLAS_PEER_SESSION_IDLE_MS (90 * 1000)

typedef struct
{
  guint32 piece;
  guint32 offset;
  guint32 length;
} AtlasPeerBlock;

/* The file served from, shared with reads still running on worker threads so
 * that closing the session never closes a descriptor a read is using. */
typedef struct
{
  int fd;
} AtlasPeerFile;

struct _AtlasPeerSession
{
  GObject parent_instance;

  /* Fixed at creation. */
  AtlasPeerLayout layout;
  gsize bits_size;
  AtlasPeerFile *file; /* atomic rc box, NULL when serving nothing */
  GMainContext *context;

  char *name;
  AtlasPeerTransportFuncs transport_funcs;
  gpointer transport;
  AtlasPeerSessionEvents events;
  gpointer user_data;

  gboolean started;
  gboolean closed;
  gboolean dispatching; /* inside receive()'s message loop */

  /* The remote, as it told us. */
  AtlasPeerDecoder *decoder;
  gboolean got_hello;
  gboolean ready; /* HELLO matched and BITFIELD arrived */
  guint8 *remote_bits;
  gboolean remote_choking;
  gboolean remote_interested;

  /* Downloading: our requests to the remote. */
  gboolean interested;
  GHashTable *requests; /* AtlasPeerBlock* set */
  guint64 outstanding_bytes;
  GQueue cancelled; /* AtlasPeerBlock*, recently voided requests, bounded */
  guint64 bytes_received;

  /* Serving: the remote's requests to us. */
  guint8 *our_bits;
  guint8 *dropped_bits; /* announced once, then dropped: REJECT, not an error; NULL if none */
  gboolean choking;
  GQueue serve;         /* AtlasPeerServeItem*, in the order requested */
  guint64 serve_serial; /* identifies items to reads in flight */
  guint reads_in_flight;
  guint ready_count;
  AtlasRateLimiter *global_limiter;
  AtlasRateLimiter peer_limiter;
  GSource *rate_source;
  guint64 bytes_sent;

  /* Output not yet taken by the transport: out->data[out_start..]. */
  GByteArray *out;
  gsize out_start;

  /* Liveness. */
  guint keepalive_ms;
  guint idle_ms;
  gint64 last_sent;
  gint64 last_heard;
  GSource *liveness_source;
};

/* Test hook: shortens the keepalive interval and the idle limit. */
void _atlas_peer_session_set_timeouts (AtlasPeerSession *self, guint keepalive_ms, guint idle_ms);

/* Shared between the two files. */
void _atlas_peer_file_release (AtlasPeerFile *file);
guint32 _atlas_peer_session_piece_size (AtlasPeerSession *self, guint32 piece);
void _atlas_peer_session_protocol_error (AtlasPeerSession *self, const char *format, ...)
    G_GNUC_PRINTF (2, 3);
gboolean _atlas_peer_session_output_blocked (AtlasPeerSession *self);
void _atlas_peer_session_flush (AtlasPeerSession *self);
void _atlas_peer_session_check_output (AtlasPeerSession *self);
void _atlas_peer_session_serve_request (AtlasPeerSession *self, const AtlasPeerBlock *block);
void _atlas_peer_session_serve_cancel (AtlasPeerSession *self, const AtlasPeerBlock *block);
void _atlas_peer_session_serve_pump (AtlasPeerSession *self);
void _atlas_peer_session_serve_reject_all (AtlasPeerSession *self);
void _atlas_peer_session_serve_clear (AtlasPeerSession *self);

G_END_DECLS
