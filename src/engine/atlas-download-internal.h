/* atlas-download-internal.h — the state shared by atlas-download.c (the
 * GObject, its lifecycle and persistence) and atlas-download-transfer.c
 * (connections, response checks and scheduling). Not for other files. */
#pragma once

#include "atlas-download-private.h"
#include "atlas-file-hasher.h"
#include "atlas-peer-session.h"
#include "atlas-piece-writer.h"
#include "atlas-rate-limiter.h"
#include "atlas-scheduler.h"
#include "atlas-session-private.h"
#include "atlas-source-private.h"

G_BEGIN_DECLS

#define ATLAS_DEFAULT_PIECE_LENGTH (1024 * 1024)
/* A source that sends this many bad pieces is banned for this download. */
#define ATLAS_BAD_PIECES_BAN 2
#define ATLAS_MAX_LINK_MIRRORS 16

typedef struct _Source Source;
typedef struct _Connection Connection;

struct _Source
{
  AtlasSource *view;
  guint index;
  char *url;
  char *host_key; /* scheme://host:port: per-server connection caps */
  gboolean is_ftp;
  guint priority;     /* 0 = unspecified, sorts last */
  gboolean preferred; /* located in the user's country */
  AtlasSourceState state;
  guint connections;
  guint connection_cap; /* learned from 503/429 answers to extra connections; 0 = none */
  guint agreements;     /* pieces whose digest another source confirmed */
  guint disagreements;  /* pieces whose digest another source contradicted */
  guint consecutive_failures;
  guint errors;
  guint bad_pieces;
  gint64 retry_at; /* monotonic us; 0 = now */
  char *etag;      /* validators seen on its first good response */
  char *last_modified;
  guint64 bytes;
  guint64 bytes_at_tick;
  double speed;
  char *last_error;
  AtlasPeerSession *peer; /* a peer, not a mirror: it holds only some pieces */
  Connection *link;       /* a peer's one link while it lasts */
};

struct _Connection
{
  AtlasDownload *download;
  Source *source;
  CURL *easy;
  struct curl_slist *headers;
  char error_buffer[CURL_ERROR_SIZE];
  AtlasRange *range; /* NULL while probing for the size */
  guint stream;
  guint64 request_start; /* bytes [request_start, request_end) were asked for */
  guint64 request_end;
  guint64 pos; /* absolute offset of the next byte to arrive */
  guint8 *block;
  gsize block_fill;
  guint64 block_offset;
  GByteArray *copy;    /* endgame copy: held in memory until it wins */
  gboolean https_only; /* redirects may not leave https (see start_connection) */

  /* The response, from its headers. */
  gboolean checked;
  gint64 cr_start, cr_end, cr_total;
  char *etag;
  char *last_modified;
  gint64 retry_after;
  long status;

  /* How it ended. */
  char *reject;        /* the source lied or broke the protocol: drop it */
  char *failure;       /* a transient failure: retry later */
  gboolean range_done; /* we stopped it because its range is complete */
  gboolean lost_race;  /* an endgame copy finished first */
  gboolean paused;
  gint64 started;
  gint64 last_data;
  guint64 received;

  /* A peer's link instead of a libcurl transfer (easy is NULL): blocks up to
   * @requested were asked for, in order, and arrive in that order. */
  AtlasPeerSession *peer;
  guint64 requested;
  gboolean holder_counted; /* its bitfield is in the scheduler's holder counts */
  guint refusals;          /* REJECTs in a row while it was not choking us */
};

struct _AtlasDownload
{
  GObject parent_instance;

  AtlasSession *session; /* weak: the session owns us */
  guint64 id;
  AtlasRequest *request;
  char *name;
  char *path;
  char *part_path;
  AtlasDownloadState state;
  char *error_message;
  int error_code;

  /* Layout: fixed by the Metalink or by the first response. */
  gint64 size;
  guint64 piece_length;
  guint n_pieces;
  AtlasHashType piece_type;
  GBytes *expected_pieces;
  guint8 *piece_states;   /* AtlasPieceState per piece */
  guint16 *piece_sources; /* source index per piece, 0xffff = none */
  guint8 *piece_digests;  /* our own record: digest per good piece */
  guint n_durable;        /* bits set in verified */
  guint8 *verified;       /* bitmap of durable good pieces */
  gboolean verified_dirty;
  guint prefix; /* pieces 0..prefix-1 are good */
  AtlasScheduler *scheduler;

  /* Sources and transfers. */
  GPtrArray *sources;       /* Source* */
  GListStore *source_views; /* AtlasSource */
  GPtrArray *connections;   /* Connection* */
  GArray *stream_sources;   /* guint: source index per stream id */
  guint next_stream;
  gboolean from_metalink;
  AtlasRateLimiter limiter;
  gboolean waiting_for_writer;

  AtlasPieceWriter *writer;
  AtlasFileHasher *file_hasher;
  GArray *file_digests;        /* AtlasChecksum computed, when done */
  gboolean finalizing;         /* the rename into place is running */
  gboolean stopping;           /* the workers are being closed */
  gboolean needs_revalidation; /* restored after a crash: check unrecorded pieces */
  gboolean revalidating;
  guint64 suspected; /* sources (bit per index) blamed for a whole-file mismatch */
  guint16 *witness;  /* per piece: the suspect whose copy is being re-checked, or 0xffff */
  int last_suspect;  /* index of the source suspected last, -1 if none */

  /* A whole-file mismatch although every piece matched: the pieces on disk
   * are hashed again (at most MAX_RECHECKS times per activation). */
  gboolean rechecking;
  guint n_rechecks;

  /* Progress, published on the tick. */
  guint64 good_bytes;
  guint64 received_unchecked;
  guint64 bytes_at_tick;
  gint64 tick_time;
  double speed_window[8];
  guint speed_slot;
  guint64 speed;
  guint64 completed_bytes;
  gint64 eta;
  guint active_sources;
  guint piece_map_serial;
  gboolean piece_map_changed;
  guint64 progress_bytes; /* received from every source, at progress_at */
  gint64 progress_at;     /* monotonic us: last change, or last report */

  GPtrArray *log;
  guint reap_source;

  /* Peers (atlas-download-peers.c). */
  guint64 bytes_from_peers;
  guint64 bytes_from_mirrors;
  guint64 bytes_to_peers_base; /* sent by peer links that have closed */
  int serve_fd;                /* the .part (or final) file, read by peer sessions */
  gboolean cannot_serve;       /* the file could not be opened: peers are told we hold nothing */
  gboolean swarming;           /* announced to peers: mirrors spread their claims */
  gint64 peers_active_at;      /* a peer's last block, or a peer getting ready */
  GHashTable *peers_served;    /* names of peers sent at least one DATA block */

  /* Partial downloads (atlas-download-partial.c). Bitfields, most
   * significant bit first, NULL for a whole download. */
  gboolean partial;
  guint8 *wanted;   /* what the owner wants held */
  guint8 *punching; /* dropped pieces whose blocks are being freed */
  guint8 *stale;    /* dropped pieces whose blocks could not be freed */
  gboolean punch_unsupported;
  gboolean punch_leftovers; /* restored: free what an interrupted drop left */
  gboolean partial_settled; /* every wanted piece is in; synced once */
};

/* atlas-download-progress.c: on the tick, says why nothing arrives. */
void _atlas_download_watch_progress (AtlasDownload *self, gint64 now);

/* atlas-download.c */
void _atlas_download_log (AtlasDownload *self, GLogLevelFlags level, const char *format, ...)
    G_GNUC_PRINTF (3, 4);
void _atlas_download_set_state (AtlasDownload *self, AtlasDownloadState state,
                                const char *error_message);
void _atlas_download_fail (AtlasDownload *self, int code, const char *message);
void _atlas_download_set_layout (AtlasDownload *self, gint64 size, guint64 piece_length);
void _atlas_download_open_storage (AtlasDownload *self);
guint64 _atlas_download_piece_start (AtlasDownload *self, guint piece);
guint64 _atlas_download_piece_end (AtlasDownload *self, guint piece);
void _atlas_download_check_done (AtlasDownload *self);
/* The one way back from a good piece to a missing one (see mark_piece_good). */
void _atlas_download_forget_piece (AtlasDownload *self, guint piece, guint tainted_by);

/* atlas-download-transfer.c */
void _atlas_download_schedule (AtlasDownload *self);
void _atlas_download_cancel_connection (AtlasDownload *self, Connection *connection,
                                        const char *why);
void _atlas_download_cancel_all (AtlasDownload *self);
/* Every piece is in: stops every transfer but keeps peer links, which go on
 * serving the peers what the download now holds. */
void _atlas_download_cancel_transfers (AtlasDownload *self);
void _atlas_download_defer_cancel (AtlasDownload *self, Connection *connection);
void _atlas_download_check_stalls (AtlasDownload *self, gint64 now);
void _atlas_download_unpause_transfers (AtlasDownload *self);
Source *_atlas_download_add_source (AtlasDownload *self, const char *url, guint priority,
                                    const char *location);
void _atlas_download_source_free (Source *source);
void _atlas_download_ban_source (AtlasDownload *self, Source *source, AtlasSourceState state,
                                 const char *reason);
/* The receive path, shared by libcurl transfers and peer links. */
double _atlas_download_range_time_left (AtlasRange *range, gpointer user_data);
void _atlas_download_append (AtlasDownload *self, Connection *connection, const char *data,
                             gsize length);
void _atlas_download_flush_block (AtlasDownload *self, Connection *connection);
gboolean _atlas_download_piece_complete (AtlasDownload *self, Connection *connection);
gboolean _atlas_download_limiters_allow (AtlasDownload *self, gint64 now);
void _atlas_download_release_connection (AtlasDownload *self, Connection *connection);

/* atlas-download-partial.c */
/* TRUE for every piece of a whole download. */
gboolean _atlas_download_is_wanted (AtlasDownload *self, guint piece);
/* A piece that arrived (hash pending or not) after it stopped being wanted:
 * it is not kept, and its blocks are freed. */
void _atlas_download_drop_received (AtlasDownload *self, guint piece);
/* The writer freed (or failed to free) a piece's blocks. */
void _atlas_download_partial_punched (AtlasDownload *self, guint piece, int errsv);
/* Activation of a partial download: frees what a drop interrupted by a
 * crash may have left on disk. */
void _atlas_download_partial_activate (AtlasDownload *self);
void _atlas_download_partial_free (AtlasDownload *self);

/* atlas-download-peers.c */
void _atlas_download_schedule_peers (AtlasDownload *self);
gboolean _atlas_download_has_ready_peer (AtlasDownload *self);
void _atlas_download_peers_piece_good (AtlasDownload *self, guint piece);
void _atlas_download_peer_unpause (AtlasDownload *self, Connection *connection);
void _atlas_download_peer_end (AtlasDownload *self, Connection *connection, const char *why);
void _atlas_download_peer_lost_race (AtlasDownload *self, Connection *connection);
void _atlas_download_peer_stop_fetching (AtlasDownload *self, Connection *connection);
/* Gives the connection's range back (its pieces stopped being wanted) and
 * claims other work from the peer. */
void _atlas_download_peer_release_range (AtlasDownload *self, Connection *connection);
/* We no longer hold @piece: peers are refused it from now on. */
void _atlas_download_peers_piece_dropped (AtlasDownload *self, guint piece);
void _atlas_download_peer_check_stall (AtlasDownload *self, Connection *connection, gint64 now,
                                       guint timeout);

G_END_DECLS
