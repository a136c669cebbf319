/* atlas-scheduler.h — which source fetches which pieces.
 *
 * Pure bookkeeping with no I/O, so its policy is unit-tested directly:
 *  - A free connection first takes the lowest missing pieces (up to a chunk), so
 *    the verified prefix grows steadily and the whole-file hash keeps pace.
 *  - When nothing is unclaimed, it takes the larger half of the largest range
 *    still being fetched (dynamic splitting), so fast sources relieve slow ones.
 *  - When every range is down to its piece in progress, it duplicates the piece
 *    that will take longest (endgame); the first copy to finish wins.
 *  - A piece that failed its hash is not given back to the source that sent it
 *    while another source can fetch it.
 *
 * Peers (sources that hold only some pieces) take the rarest piece they hold:
 * the one the fewest connected peers hold, ties broken at random, so a swarm
 * spreads its pieces instead of everyone copying the same ones. In a swarm,
 * mirrors too take the rarest pieces from a random place rather than the
 * lowest, their own share of the file first: what no peer holds has to come
 * from a mirror, and downloaders that start together then ask the origin for
 * different pieces.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _AtlasRange AtlasRange;

struct _AtlasRange
{
  guint start;        /* first piece */
  guint end;          /* one past the last piece; splitting lowers it */
  guint next;         /* the piece being received; start..next-1 are received */
  guint source;       /* index of the source fetching it */
  gpointer owner;     /* the connection */
  AtlasRange *twin;   /* endgame: the other copy of the same piece */
  gboolean duplicate; /* this range is the endgame copy */
  gboolean held;      /* claimed by a peer (claim_held) */
};

typedef struct _AtlasScheduler AtlasScheduler;

/* Seconds the owner of @range still needs for its piece in progress. */
typedef double (*AtlasRangeTimeFunc) (AtlasRange *range, gpointer user_data);

AtlasScheduler *atlas_scheduler_new (guint n_pieces);
void atlas_scheduler_free (AtlasScheduler *self);

/* The piece is verified (from the queue after a restart, or after hashing). */
void atlas_scheduler_mark_done (AtlasScheduler *self, guint piece);
gboolean atlas_scheduler_is_done (AtlasScheduler *self, guint piece);
gboolean atlas_scheduler_is_complete (AtlasScheduler *self);

/* Work for a free connection of @source, or NULL if there is none for it.
 * @max_pieces bounds a fresh claim. @owner is stored in the range. */
AtlasRange *atlas_scheduler_claim (AtlasScheduler *self, guint source, guint max_pieces,
                                   gpointer owner, AtlasRangeTimeFunc time_left,
                                   gpointer user_data);

/* The owner of @range has received all of its piece in progress. Returns TRUE
 * if the range is now finished (next == end). */
gboolean atlas_scheduler_piece_received (AtlasScheduler *self, AtlasRange *range);

/* The hash result of a received piece. A bad piece goes back to missing and
 * is kept from @source while others can fetch it. */
void atlas_scheduler_piece_checked (AtlasScheduler *self, guint piece, gboolean good, guint source);

/* The connection stops (finished, failed or cancelled): its unreceived
 * pieces go back to missing (or to its endgame twin). Frees @range. */
void atlas_scheduler_release (AtlasScheduler *self, AtlasRange *range);

/* Lets every source fetch the missing pieces it once sent bad copies of
 * again (when no other source is left for them). FALSE if none was barred. */
gboolean atlas_scheduler_forgive (AtlasScheduler *self);

/* Peers: @bits is a peer's bitfield (bit i, most significant first, is piece
 * i). Add it when the peer says what it holds, remove it when the peer goes
 * (with the bits it has then); add_holder_piece counts one more holder of
 * @piece (a peer's HAVE). */
void atlas_scheduler_add_holder (AtlasScheduler *self, const guint8 *bits);
void atlas_scheduler_remove_holder (AtlasScheduler *self, const guint8 *bits);
void atlas_scheduler_add_holder_piece (AtlasScheduler *self, guint piece);
/* One holder fewer of @piece (a peer's DROP). */
void atlas_scheduler_remove_holder_piece (AtlasScheduler *self, guint piece);
guint atlas_scheduler_get_holders (AtlasScheduler *self, guint piece);

/* Work for a source that holds only the pieces set in @bits (a peer): the
 * rarest missing piece it holds, extended over neighbours as rare, else the
 * tail of a range it holds, else an endgame copy. */
AtlasRange *atlas_scheduler_claim_held (AtlasScheduler *self, guint source, const guint8 *bits,
                                        guint max_pieces, gpointer owner,
                                        AtlasRangeTimeFunc time_left, gpointer user_data);

/* In a swarm, atlas_scheduler_claim (mirrors) takes the rarest pieces from a
 * random place instead of the lowest. @seed makes the choice repeatable. */
void atlas_scheduler_set_swarming (AtlasScheduler *self, gboolean swarming, guint32 seed);

/* In a swarm, fresh mirror claims skip pieces held by more than @max_holders
 * peers (G_MAXUINT, the default: none skipped). With peers ready to send, 0
 * leaves what peers hold to them, so the origin sends each piece about once;
 * splits and endgame copies still let mirrors help with anything. */
void atlas_scheduler_set_mirror_max_holders (AtlasScheduler *self, guint max_holders);
guint atlas_scheduler_get_mirror_max_holders (AtlasScheduler *self);

/* In a swarm, the pieces this downloader fetches from mirrors for everyone
 * (atlas-piece-share.h; NULL: no share, the default). Mirrors take these
 * first; while peers outpace mirrors (max_holders 0) they take only these,
 * and split only other mirrors' ranges, so the origin sends each piece about
 * once and peers spread it. Copied. */
void atlas_scheduler_set_mirror_share (AtlasScheduler *self, const guint8 *bits);

/* Partial downloads: only the pieces set in @bits (bit i, most significant
 * first, is piece i; copied; NULL: every piece, the default) are claimed by
 * anyone, split or copied in the endgame, and is_complete and count_missing
 * consider only them. A done piece no longer wanted goes back to missing (the
 * caller drops its bytes). Claimed or received pieces no longer wanted keep
 * their state: the caller releases the ranges that cover them
 * (atlas_scheduler_range_has_unwanted) and ignores their hash verdicts. */
void atlas_scheduler_set_wanted (AtlasScheduler *self, const guint8 *bits);
gboolean atlas_scheduler_is_wanted (AtlasScheduler *self, guint piece);
/* Whether any piece of @range not yet received is unwanted. */
gboolean atlas_scheduler_range_has_unwanted (AtlasScheduler *self, AtlasRange *range);
/* The piece is claimed, received (hash pending) or done: its bytes are, or
 * are about to be, on disk. */
gboolean atlas_scheduler_is_taken (AtlasScheduler *self, guint piece);

/* How many wanted pieces nobody has claimed, received or finished. */
guint atlas_scheduler_count_missing (AtlasScheduler *self);

G_END_DECLS
