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

/* How many pieces are claimed, received-but-unchecked, or done. */
guint atlas_scheduler_count_missing (AtlasScheduler *self);

G_END_DECLS
