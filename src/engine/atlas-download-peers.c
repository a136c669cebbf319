/* atlas-download-peers.c — a download's peers: fetching the pieces they hold
 * and serving them the pieces we have verified.
 *
 * A peer arrives as an AtlasPeerSession the swarm has connected (ICE, QUIC,
 * both certificates checked). It becomes a Source, listed beside the mirrors,
 * with one Connection for the life of the session. That connection claims
 * the rarest pieces the peer holds and asks for them in blocks, enough ahead
 * to keep the link busy. Blocks arrive in the order they were asked for (the
 * protocol promises it) and take the same path as a mirror's bytes: the
 * piece writer checks every piece against the Metalink's piece hash before it
 * counts, is recorded or is served on. One bad piece bans a peer; a mirror
 * gets a second chance because a flaky cache in front of it is common, while
 * a peer has no such excuse.
 */
#include "atlas-download-internal.h"
#include "atlas-piece-share.h"

#include "atlas-error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Bytes asked for and not yet received, per peer: enough to cover the
 * round trip at full speed (150 MiB/s x 25 ms), small enough that a peer
 * that vanishes takes little with it. */
#define PEER_PIPELINE_BYTES (4 * 1024 * 1024)
/* A fresh claim covers about this many seconds of the peer's speed. */
#define PEER_CLAIM_SECONDS 2.0
#define PEER_CLAIM_MIN_BYTES (1024 * 1024)
#define PEER_CLAIM_MAX_BYTES (16 * 1024 * 1024)
/* A peer that refused a request while not choking us is left alone this long. */
#define PEER_REFUSED_BACKOFF_US (G_USEC_PER_SEC)
/* After this many REJECTs in a row from a peer that is not choking us, its
 * pieces stop counting as held (see rejected_cb). */
#define PEER_REFUSALS_NOT_HOLDING 3
#define PEER_REFUSED_BACKOFF_MAX_US (30 * G_USEC_PER_SEC)
/* Endgame copies are held in memory until they win (as for mirrors). */
#define PEER_MAX_COPY_PIECE (16 * 1024 * 1024)

static void pump (AtlasDownload *self, Connection *connection);

static guint64
piece_start (AtlasDownload *self, guint piece)
{
  return _atlas_download_piece_start (self, piece);
}

static guint64
piece_end (AtlasDownload *self, guint piece)
{
  return _atlas_download_piece_end (self, piece);
}

/* The blocks between @from and @to as they were requested: from each piece's
 * start in steps of ATLAS_PEER_MAX_BLOCK. Cancels them. */
static void
cancel_requests (AtlasDownload *self, Connection *connection, guint64 from, guint64 to)
{
  while (from < to)
    {
      guint piece = (guint) (from / self->piece_length);
      guint64 end = MIN (piece_end (self, piece), to);
      guint64 offset = from - piece_start (self, piece);
      guint32 length = (guint32) MIN ((guint64) ATLAS_PEER_MAX_BLOCK,
                                      ATLAS_PEER_MAX_BLOCK - offset % ATLAS_PEER_MAX_BLOCK);

      length = (guint32) MIN ((guint64) length, end - from);
      atlas_peer_session_cancel (connection->peer, piece, (guint32) offset, length);
      from += length;
    }
}

/* The connection stops working on its range (finished, lost an endgame
 * race, refused, or the peer is going): what it did not receive goes back. */
static void
drop_range (AtlasDownload *self, Connection *connection)
{
  AtlasRange *range = connection->range;

  if (range == NULL)
    return;
  cancel_requests (self, connection, connection->pos, connection->requested);
  if (connection->copy == NULL && !connection->lost_race && range->next < range->end)
    _atlas_download_flush_block (self, connection);
  atlas_scheduler_release (self->scheduler, range);
  if (self->writer != NULL)
    atlas_piece_writer_end_stream (self->writer, connection->stream);
  connection->range = NULL;
  connection->lost_race = FALSE;
  g_clear_pointer (&connection->block, g_free);
  connection->block_fill = 0;
  if (connection->copy != NULL)
    g_clear_pointer (&connection->copy, g_byte_array_unref);
}

static guint
claim_pieces (AtlasDownload *self, Source *source)
{
  double bytes = source->speed > 0 ? source->speed * PEER_CLAIM_SECONDS : PEER_CLAIM_MIN_BYTES;

  bytes = CLAMP (bytes, PEER_CLAIM_MIN_BYTES, PEER_CLAIM_MAX_BYTES);
  return MAX (1, (guint) (bytes / self->piece_length));
}

static gboolean
claim (AtlasDownload *self, Connection *connection)
{
  Source *source = connection->source;
  const guint8 *bits = atlas_peer_session_get_remote_bits (connection->peer);
  AtlasRange *range;
  guint stream_source = source->index;

  range =
      atlas_scheduler_claim_held (self->scheduler, source->index, bits, claim_pieces (self, source),
                                  connection, _atlas_download_range_time_left, self);
  if (range != NULL && range->duplicate && self->piece_length > PEER_MAX_COPY_PIECE)
    {
      atlas_scheduler_release (self->scheduler, range);
      range = NULL;
    }
  if (range == NULL)
    return FALSE;

  /* Each claim is a new stream for the writer, so a piece a dropped range
   * left half-written is forgotten and never mixed with the next one. */
  connection->stream = self->next_stream++;
  g_array_append_val (self->stream_sources, stream_source);
  connection->range = range;
  range->owner = connection;
  connection->request_start = piece_start (self, range->start);
  connection->request_end = piece_end (self, range->end - 1);
  connection->pos = connection->requested = connection->request_start;
  connection->range_done = FALSE;
  if (range->duplicate)
    connection->copy = g_byte_array_new ();
  return TRUE;
}

static gboolean
may_transfer (AtlasDownload *self)
{
  return self->state == ATLAS_DOWNLOAD_ACTIVE && self->session != NULL && self->scheduler != NULL
         && self->writer != NULL && !self->finalizing && !self->revalidating && !self->stopping;
}

/* Keeps PEER_PIPELINE_BYTES asked for, claiming work when the range is done. */
static void
pump (AtlasDownload *self, Connection *connection)
{
  AtlasPeerSession *peer = connection->peer;
  gint64 now = g_get_monotonic_time ();
  guint64 end;

  if (!may_transfer (self) || !atlas_peer_session_is_ready (peer) || connection->lost_race
      || connection->source->retry_at > now)
    return;
  if (connection->range == NULL && !claim (self, connection))
    {
      atlas_peer_session_set_interested (peer, FALSE);
      return;
    }
  atlas_peer_session_set_interested (peer, TRUE);
  if (atlas_peer_session_is_choking_us (peer))
    return;
  if (!_atlas_download_limiters_allow (self, now)
      || (connection->copy == NULL && atlas_piece_writer_is_full (self->writer)))
    {
      if (atlas_piece_writer_is_full (self->writer))
        self->waiting_for_writer = TRUE;
      connection->paused = TRUE;
      return;
    }

  /* Another source may have split off the tail of the range. */
  end = piece_end (self, connection->range->end - 1);
  while (connection->requested < end
         && connection->requested - connection->pos < PEER_PIPELINE_BYTES)
    {
      guint piece = (guint) (connection->requested / self->piece_length);
      guint64 offset = connection->requested - piece_start (self, piece);
      guint32 length = (guint32) MIN ((guint64) ATLAS_PEER_MAX_BLOCK,
                                      piece_end (self, piece) - connection->requested);

      atlas_peer_session_request (peer, piece, (guint32) offset, length);
      connection->requested += length;
    }
  if (connection->source->state != ATLAS_SOURCE_ACTIVE)
    connection->source->state = ATLAS_SOURCE_ACTIVE;
}

/* ---- the session's events ---------------------------------------------- */

/* The name the swarm gave the peer: its url without "peer:". */
static const char *
peer_name (Source *source)
{
  return source->url + strlen ("peer:");
}

/* The peer's link, or NULL once it has ended (the session may still report
 * its closing). */
static Connection *
link_of (Source *source)
{
  return source->link;
}

static void
ready_cb (AtlasPeerSession *session, gpointer user_data)
{
  Source *source = user_data;
  Connection *connection = link_of (source);
  AtlasDownload *self;

  if (connection == NULL)
    return;
  self = connection->download;
  atlas_scheduler_add_holder (self->scheduler, atlas_peer_session_get_remote_bits (session));
  connection->holder_counted = TRUE;
  self->peers_active_at = g_get_monotonic_time (); /* a new peer gets its chance */
  _atlas_download_log (self, G_LOG_LEVEL_INFO, "Peer %s connected", peer_name (source));
  pump (self, connection);
}

static void
have_cb (AtlasPeerSession *session, guint32 piece, gpointer user_data)
{
  Source *source = user_data;
  Connection *connection = link_of (source);

  if (connection == NULL || piece >= connection->download->n_pieces)
    return;
  /* Not counted before it is ready (ready_cb counts its whole bitfield then)
   * nor while it refuses what it announces. */
  if (connection->holder_counted)
    atlas_scheduler_add_holder_piece (connection->download->scheduler, piece);
  if (connection->range == NULL)
    pump (connection->download, connection);
}

/* The peer dropped a piece (a donor's cache changed): it no longer counts
 * as a holder, and a range waiting on it is given back rather than asked
 * of the peer only to be refused. */
static void
dropped_cb (AtlasPeerSession *session, guint32 piece, gpointer user_data)
{
  Source *source = user_data;
  Connection *connection = link_of (source);
  AtlasRange *range;

  if (connection == NULL || piece >= connection->download->n_pieces)
    return;
  if (connection->holder_counted)
    atlas_scheduler_remove_holder_piece (connection->download->scheduler, piece);
  range = connection->range;
  if (range != NULL && piece >= range->next && piece < range->end)
    {
      drop_range (connection->download, connection);
      pump (connection->download, connection);
      _atlas_download_schedule (connection->download);
    }
}

static void
choked_cb (AtlasPeerSession *session, gboolean choked, gpointer user_data)
{
  Source *source = user_data;
  Connection *connection = link_of (source);

  if (connection == NULL)
    return;
  /* When choked, the session reports each outstanding request as rejected,
   * which gives the range back; unchoked, ask again. */
  if (!choked)
    pump (connection->download, connection);
}

static void
rejected_cb (AtlasPeerSession *session, guint32 piece, guint32 offset, guint32 length,
             gpointer user_data)
{
  Source *source = user_data;
  Connection *connection = link_of (source);
  AtlasDownload *self;

  if (connection == NULL || connection->range == NULL)
    return;
  self = connection->download;
  drop_range (self, connection);
  if (!atlas_peer_session_is_choking_us (session))
    {
      gint64 backoff = PEER_REFUSED_BACKOFF_US << MIN (connection->refusals, 5);

      connection->refusals++;
      source->retry_at = g_get_monotonic_time () + MIN (backoff, PEER_REFUSED_BACKOFF_MAX_US);
      /* A peer that announces pieces and refuses every request for them (its
       * file was deleted, or it is hostile) would otherwise keep mirrors
       * leaving those pieces to it for good: in a swarm they skip pieces
       * peers hold while no one delivers.  It counts again once it sends. */
      if (connection->refusals == PEER_REFUSALS_NOT_HOLDING && connection->holder_counted)
        {
          atlas_scheduler_remove_holder (self->scheduler,
                                         atlas_peer_session_get_remote_bits (session));
          connection->holder_counted = FALSE;
          _atlas_download_log (self, G_LOG_LEVEL_INFO,
                               "Peer %s refused %u requests in a row: its pieces are fetched "
                               "elsewhere",
                               peer_name (source), connection->refusals);
        }
    }
  _atlas_download_schedule (self);
}

static void
block_cb (AtlasPeerSession *session, guint32 piece, guint32 offset, const guint8 *data,
          guint32 length, gpointer user_data)
{
  Source *source = user_data;
  Connection *connection = link_of (source);
  AtlasDownload *self;
  AtlasRange *range;

  /* An endgame copy elsewhere won this connection's piece: the range is
   * dropped from an idle (as for libcurl transfers) and nothing more of it
   * may reach the writer. */
  if (connection == NULL || connection->lost_race)
    return;
  self = connection->download;
  range = connection->range;
  /* A block of a range given up since it was asked for (split off, lost a
   * race, cancelled): its bytes are not ours to use any more. */
  if (range == NULL || !may_transfer (self) || piece >= self->n_pieces
      || piece_start (self, piece) + offset != connection->pos || range->next >= range->end
      || piece != range->next)
    {
      if (range != NULL && range->next >= range->end)
        drop_range (self, connection);
      pump (self, connection);
      return;
    }

  connection->refusals = 0;
  if (!connection->holder_counted)
    {
      atlas_scheduler_add_holder (self->scheduler, atlas_peer_session_get_remote_bits (session));
      connection->holder_counted = TRUE;
    }
  atlas_rate_limiter_consume (_atlas_session_get_limiter (self->session), length);
  atlas_rate_limiter_consume (&self->limiter, length);
  connection->last_data = self->peers_active_at = g_get_monotonic_time ();
  connection->received += length;
  source->bytes += length;
  source->consecutive_failures = 0;
  self->bytes_from_peers += length;

  _atlas_download_append (self, connection, (const char *) data, length);
  if (connection->copy != NULL)
    connection->pos += length;
  if (connection->pos == piece_end (self, piece)
      && _atlas_download_piece_complete (self, connection))
    drop_range (self, connection);
  pump (self, connection);
  if (connection->range == NULL)
    _atlas_download_schedule (self);
}

static void
closed_cb (AtlasPeerSession *session, const GError *error, gpointer user_data)
{
  Source *source = user_data;
  Connection *connection = link_of (source);
  AtlasDownload *self;

  if (connection == NULL)
    return;
  self = connection->download;
  if (source->state != ATLAS_SOURCE_BANNED)
    {
      source->state = ATLAS_SOURCE_DROPPED;
      g_free (source->last_error);
      source->last_error = g_strdup (error != NULL ? error->message : "the peer left");
    }
  _atlas_download_log (self, G_LOG_LEVEL_INFO, "Peer %s left: %s", peer_name (source),
                       error != NULL ? error->message : "closed");
  _atlas_download_cancel_connection (self, connection, NULL);
  _atlas_download_schedule (self);
  _atlas_download_check_done (self);
}

static const AtlasPeerSessionEvents peer_events = {
  .ready = ready_cb,
  .have = have_cb,
  .dropped = dropped_cb,
  .choked = choked_cb,
  .block = block_cb,
  .rejected = rejected_cb,
  .closed = closed_cb,
};

/* ---- what the rest of the download calls -------------------------------- */

gboolean
atlas_download_get_peer_layout (AtlasDownload *self, AtlasPeerLayout *layout)
{
  GArray *sums = atlas_request_get_checksums (self->request);
  const AtlasChecksum *whole = NULL;

  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), FALSE);

  /* Peers need what makes their data checkable: piece SHA-256 hashes for
   * every piece and the whole-file SHA-256 that names the entry. */
  if (self->scheduler == NULL || self->expected_pieces == NULL
      || self->piece_type != ATLAS_HASH_SHA256 || self->piece_length > G_MAXUINT32)
    return FALSE;
  for (guint i = 0; i < sums->len; i++)
    {
      const AtlasChecksum *sum = &g_array_index (sums, AtlasChecksum, i);
      if (sum->type == ATLAS_HASH_SHA256)
        whole = sum;
    }
  if (whole == NULL)
    return FALSE;

  memcpy (layout->entry_id, whole->digest, sizeof layout->entry_id);
  layout->file_size = (guint64) self->size;
  layout->piece_length = (guint32) self->piece_length;
  layout->piece_count = self->n_pieces;
  return TRUE;
}

/* The verified pieces, as the wire's bitfield (most significant bit first). */
static guint8 *
dup_verified_bits (AtlasDownload *self)
{
  guint8 *bits = g_new0 (guint8, (self->n_pieces + 7) / 8);

  for (guint piece = 0; piece < self->n_pieces; piece++)
    if (self->verified[piece / 8] & (1 << (piece % 8)))
      bits[piece / 8] |= 0x80 >> (piece % 8);
  return bits;
}

/* Serving reads the file the writer writes; it exists once any piece is
 * good, and the descriptor stays valid across the rename into place. */
static int
serve_fd (AtlasDownload *self)
{
  if (self->serve_fd < 0 && self->good_bytes > 0)
    {
      const char *path = self->state == ATLAS_DOWNLOAD_COMPLETE ? self->path : self->part_path;

      self->serve_fd = open (path, O_RDONLY | O_CLOEXEC);
      if (self->serve_fd < 0 && !self->cannot_serve)
        _atlas_download_log (self, G_LOG_LEVEL_WARNING,
                             "Cannot serve “%s” to peers: %s; they are told we hold nothing", path,
                             g_strerror (errno));
      self->cannot_serve = self->serve_fd < 0;
    }
  return self->serve_fd;
}

/* Once complete, the file stays at its final path, so a descriptor can be
 * opened again whenever a new session needs one (each session keeps its own
 * copy). Keeping ours held one descriptor per complete download that had
 * served a peer, for as long as it stayed in the queue: in the app, whose
 * queue keeps every finished download, they only grew (found by
 * bench/soak.sh), and a file the user deleted kept its disk space. */
static void
release_serve_fd_if_complete (AtlasDownload *self)
{
  if (self->state == ATLAS_DOWNLOAD_COMPLETE && self->serve_fd >= 0)
    {
      close (self->serve_fd);
      self->serve_fd = -1;
    }
}

GBytes *
atlas_download_dup_peer_bits (AtlasDownload *self)
{
  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), NULL);
  g_return_val_if_fail (self->scheduler != NULL, NULL);
  /* The swarm asks for these bits every announce round: a download that
   * completed with no peer linked drops the descriptor it cached before. */
  if (self->cannot_serve)
    serve_fd (self); /* the file may be back */
  release_serve_fd_if_complete (self);
  if (self->cannot_serve)
    return g_bytes_new_take (g_new0 (guint8, (self->n_pieces + 7) / 8), (self->n_pieces + 7) / 8);
  return g_bytes_new_take (dup_verified_bits (self), (self->n_pieces + 7) / 8);
}

gboolean
atlas_download_is_peer_banned (AtlasDownload *self, const char *name)
{
  g_autofree char *url = g_strdup_printf ("peer:%s", name);

  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), FALSE);
  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);
      if (source->state == ATLAS_SOURCE_BANNED && strcmp (source->url, url) == 0)
        return TRUE;
    }
  return FALSE;
}

void
atlas_download_set_swarming (AtlasDownload *self)
{
  g_return_if_fail (ATLAS_IS_DOWNLOAD (self));
  if (self->swarming)
    return;
  self->swarming = TRUE;
  if (self->scheduler != NULL)
    atlas_scheduler_set_swarming (self->scheduler, TRUE, g_random_int ());
}

void
atlas_download_set_swarm_members (AtlasDownload *self, const char *own_id,
                                  const char *const *others)
{
  g_return_if_fail (ATLAS_IS_DOWNLOAD (self));
  g_return_if_fail (own_id != NULL);

  g_autoptr (GBytes) share = NULL;

  if (self->scheduler == NULL)
    return; /* no layout yet: the swarm does not announce it either */
  share = atlas_piece_share_compute (self->n_pieces, own_id, others);
  atlas_scheduler_set_mirror_share (self->scheduler, g_bytes_get_data (share, NULL));
}

AtlasPeerSession *
atlas_download_new_peer_session (AtlasDownload *self)
{
  AtlasPeerLayout layout;
  g_autofree guint8 *bits = NULL;
  AtlasPeerSession *session;
  int fd;

  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), NULL);
  if (!atlas_download_get_peer_layout (self, &layout))
    return NULL;
  fd = serve_fd (self);
  /* Announcing pieces we cannot read (the user deleted or moved the finished
   * file) would have the peer ask for each and be refused: we hold nothing. */
  bits = fd >= 0 ? dup_verified_bits (self) : NULL;
  session = atlas_peer_session_new (&layout, bits, fd);
  release_serve_fd_if_complete (self);
  return session;
}

void
atlas_download_add_peer (AtlasDownload *self, AtlasPeerSession *session, const char *name)
{
  Source *source;
  Connection *connection;
  guint stream_source;

  g_return_if_fail (ATLAS_IS_DOWNLOAD (self));
  g_return_if_fail (ATLAS_IS_PEER_SESSION (session));

  source = g_new0 (Source, 1);
  source->index = self->sources->len;
  source->url = g_strdup_printf ("peer:%s", name);
  source->host_key = g_strdup (source->url);
  source->state = ATLAS_SOURCE_CONNECTING;
  source->peer = g_object_ref (session);
  source->view = _atlas_source_new (source->url, name, 0, NULL);
  g_ptr_array_add (self->sources, source);
  g_list_store_append (self->source_views, source->view);

  connection = g_new0 (Connection, 1);
  connection->download = self;
  connection->source = source;
  connection->peer = session;
  connection->stream = self->next_stream++;
  stream_source = source->index;
  g_array_append_val (self->stream_sources, stream_source);
  connection->started = connection->last_data = g_get_monotonic_time ();
  source->connections++;
  source->link = connection;
  g_ptr_array_add (self->connections, connection);

  atlas_download_set_swarming (self);
  atlas_peer_session_set_name (session, name);
  atlas_peer_session_set_events (session, &peer_events, source);
  atlas_peer_session_start (session);
}

gboolean
_atlas_download_has_ready_peer (AtlasDownload *self)
{
  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *connection = g_ptr_array_index (self->connections, i);
      if (connection->peer != NULL && atlas_peer_session_is_ready (connection->peer)
          && !atlas_peer_session_is_choking_us (connection->peer))
        return TRUE;
    }
  return FALSE;
}

void
_atlas_download_schedule_peers (AtlasDownload *self)
{
  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *connection = g_ptr_array_index (self->connections, i);
      if (connection->peer != NULL && connection->range == NULL)
        pump (self, connection);
    }
}

void
_atlas_download_peer_unpause (AtlasDownload *self, Connection *connection)
{
  connection->paused = FALSE;
  pump (self, connection);
}

/* Remembers a peer that has had at least one DATA block from us. */
static void
note_served (AtlasDownload *self, Connection *connection)
{
  if (atlas_peer_session_get_bytes_sent (connection->peer) == 0)
    return;
  if (self->peers_served == NULL)
    self->peers_served = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (!g_hash_table_contains (self->peers_served, peer_name (connection->source)))
    g_hash_table_add (self->peers_served, g_strdup (peer_name (connection->source)));
}

guint
atlas_download_get_n_peers_served (AtlasDownload *self)
{
  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), 0);

  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *connection = g_ptr_array_index (self->connections, i);
      if (connection->peer != NULL)
        note_served (self, connection);
    }
  return self->peers_served != NULL ? g_hash_table_size (self->peers_served) : 0;
}

/* A peer connection ends: called from _atlas_download_cancel_connection. */
void
_atlas_download_peer_end (AtlasDownload *self, Connection *connection, const char *why)
{
  Source *source = connection->source;
  AtlasPeerSession *session = connection->peer;
  guint16 reason = ATLAS_PEER_GOODBYE_NORMAL;

  drop_range (self, connection);
  note_served (self, connection);
  /* Not is_ready(): a session that has just closed is no longer ready, but
   * its pieces are still counted and would keep mirrors away from them. */
  if (connection->holder_counted)
    atlas_scheduler_remove_holder (self->scheduler, atlas_peer_session_get_remote_bits (session));
  connection->holder_counted = FALSE;
  self->bytes_to_peers_base += atlas_peer_session_get_bytes_sent (session);
  source->link = NULL;
  _atlas_download_release_connection (self, connection);
  if (source->state == ATLAS_SOURCE_BANNED)
    reason = ATLAS_PEER_GOODBYE_BANNED;
  else if (self->state != ATLAS_DOWNLOAD_ACTIVE || self->stopping)
    reason = ATLAS_PEER_GOODBYE_SHUTTING_DOWN;
  /* Closing reports "closed" again; the link is gone, so it is ignored. */
  atlas_peer_session_close (session, reason, why != NULL ? why : source->last_error);
  g_clear_object (&source->peer);
  release_serve_fd_if_complete (self);
}

/* Nothing more to fetch: the link stays up to serve the peer. */
void
_atlas_download_peer_stop_fetching (AtlasDownload *self, Connection *connection)
{
  drop_range (self, connection);
  connection->paused = FALSE;
  atlas_peer_session_set_interested (connection->peer, FALSE);
  if (connection->source->state == ATLAS_SOURCE_ACTIVE
      || connection->source->state == ATLAS_SOURCE_CONNECTING)
    connection->source->state = ATLAS_SOURCE_IDLE;
}

/* An endgame copy elsewhere won the race for this connection's piece: only
 * the range stops; the peer stays. */
void
_atlas_download_peer_lost_race (AtlasDownload *self, Connection *connection)
{
  drop_range (self, connection);
  pump (self, connection);
}

void
_atlas_download_peer_release_range (AtlasDownload *self, Connection *connection)
{
  drop_range (self, connection);
  pump (self, connection);
}

void
_atlas_download_peers_piece_dropped (AtlasDownload *self, guint piece)
{
  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *connection = g_ptr_array_index (self->connections, i);

      if (connection->peer != NULL)
        atlas_peer_session_drop (connection->peer, piece);
    }
}

void
_atlas_download_peers_piece_good (AtlasDownload *self, guint piece)
{
  int fd = -1;

  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *connection = g_ptr_array_index (self->connections, i);

      if (connection->peer == NULL)
        continue;
      if (fd < 0)
        fd = serve_fd (self);
      atlas_peer_session_set_file (connection->peer, fd);
      atlas_peer_session_have (connection->peer, piece);
    }
}

/* A peer link with work outstanding that sent nothing for @timeout seconds
 * loses its range (others fetch it) and is left alone for a while; the link
 * itself stays up as long as QUIC says the peer is alive. */
void
_atlas_download_peer_check_stall (AtlasDownload *self, Connection *connection, gint64 now,
                                  guint timeout)
{
  if (connection->range == NULL || connection->requested == connection->pos || connection->paused
      || atlas_peer_session_is_choking_us (connection->peer))
    {
      connection->last_data = now;
      return;
    }
  if (now - connection->last_data <= (gint64) timeout * G_USEC_PER_SEC)
    return;
  _atlas_download_log (self, G_LOG_LEVEL_MESSAGE, "%s: stalled: no data for %u s",
                       connection->source->url, timeout);
  drop_range (self, connection);
  connection->source->errors++;
  connection->source->retry_at = now + (gint64) timeout * G_USEC_PER_SEC;
  connection->last_data = now;
}

guint64
atlas_download_get_bytes_from_peers (AtlasDownload *self)
{
  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), 0);
  return self->bytes_from_peers;
}

guint64
atlas_download_get_bytes_from_mirrors (AtlasDownload *self)
{
  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), 0);
  return self->bytes_from_mirrors;
}

guint64
atlas_download_get_bytes_to_peers (AtlasDownload *self)
{
  guint64 sent = 0;

  g_return_val_if_fail (ATLAS_IS_DOWNLOAD (self), 0);
  sent = self->bytes_to_peers_base;
  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *connection = g_ptr_array_index (self->connections, i);
      if (connection->peer != NULL)
        sent += atlas_peer_session_get_bytes_sent (connection->peer);
    }
  return sent;
}
