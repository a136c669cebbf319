/* atlas-download.c — one download: its public properties, its lifecycle
 * (queued, active, verifying, complete), the verdicts of the piece writer and
 * the whole-file hasher, and what is persisted to the queue. The transfers
 * themselves live in atlas-download-transfer.c. */
#include "atlas-download-internal.h"
#include "atlas-notify-private.h"

#include "atlas-enums.h"
#include "atlas-error.h"
#include "atlas-request-private.h"
#include "atlas-verifier.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LOG_LINES 500
/* Whole-file mismatches re-checked from disk per activation: past that the
 * file keeps changing underneath and the download fails instead of looping. */
#define MAX_RECHECKS 3

G_DEFINE_FINAL_TYPE (AtlasDownload, atlas_download, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_PATH,
  PROP_STATE,
  PROP_SIZE,
  PROP_COMPLETED_BYTES,
  PROP_SPEED,
  PROP_ETA,
  PROP_ERROR_MESSAGE,
  PROP_N_PIECES,
  PROP_PIECE_LENGTH,
  PROP_ACTIVE_SOURCES,
  PROP_PIECE_MAP_SERIAL,
  N_PROPS
};

enum
{
  SIGNAL_LOG,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];

static void restart_file_hash (AtlasDownload *self);
static void publish_settled_figures (AtlasDownload *self);
static guint signals[N_SIGNALS];

static void
atlas_download_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasDownload *self = ATLAS_DOWNLOAD (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_uint64 (value, self->id);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_SIZE:
      g_value_set_int64 (value, self->size);
      break;
    case PROP_COMPLETED_BYTES:
      g_value_set_uint64 (value, self->completed_bytes);
      break;
    case PROP_SPEED:
      g_value_set_uint64 (value, self->speed);
      break;
    case PROP_ETA:
      g_value_set_int64 (value, self->eta);
      break;
    case PROP_ERROR_MESSAGE:
      g_value_set_string (value, self->error_message);
      break;
    case PROP_N_PIECES:
      g_value_set_uint (value, self->n_pieces);
      break;
    case PROP_PIECE_LENGTH:
      g_value_set_uint64 (value, self->piece_length);
      break;
    case PROP_ACTIVE_SOURCES:
      g_value_set_uint (value, self->active_sources);
      break;
    case PROP_PIECE_MAP_SERIAL:
      g_value_set_uint (value, self->piece_map_serial);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
stop_workers (AtlasDownload *self)
{
  /* Closing the writer reports its last verdicts and durable pieces
   * synchronously, so they are recorded before it is forgotten. */
  AtlasPieceWriter *writer = g_steal_pointer (&self->writer);

  /* While the writer reports its last results nothing may start or finish:
   * those callbacks only record what happened. */
  self->stopping = TRUE;
  if (writer != NULL)
    atlas_piece_writer_close (writer);
  /* A piece still "written" after the close is either received but never
   * checked or checked but not durable: the writer had failed (disk full, I/O
   * error) and discarded it. Fetch it again after a resume; kept, it would
   * wait forever for a verdict or a sync from a writer that is gone. */
  for (guint piece = 0; self->scheduler != NULL && piece < self->n_pieces; piece++)
    if (self->piece_states[piece] == ATLAS_PIECE_WRITTEN)
      _atlas_download_forget_piece (self, piece, G_MAXUINT);
  self->received_unchecked = 0;
  g_clear_pointer (&self->file_hasher, atlas_file_hasher_free);
  self->stopping = FALSE;
}

static void
atlas_download_dispose (GObject *object)
{
  AtlasDownload *self = ATLAS_DOWNLOAD (object);

  if (self->session != NULL)
    _atlas_download_detach (self);
  G_OBJECT_CLASS (atlas_download_parent_class)->dispose (object);
}

static void
atlas_download_finalize (GObject *object)
{
  AtlasDownload *self = ATLAS_DOWNLOAD (object);

  atlas_request_free (self->request);
  if (self->serve_fd >= 0)
    close (self->serve_fd);
  g_free (self->name);
  g_free (self->path);
  g_free (self->part_path);
  g_free (self->error_message);
  g_clear_pointer (&self->expected_pieces, g_bytes_unref);
  g_free (self->piece_states);
  g_free (self->piece_sources);
  g_free (self->piece_digests);
  g_free (self->verified);
  g_free (self->witness);
  atlas_scheduler_free (self->scheduler);
  g_ptr_array_unref (self->connections);
  g_ptr_array_unref (self->sources);
  g_object_unref (self->source_views);
  g_array_unref (self->stream_sources);
  g_clear_pointer (&self->file_digests, g_array_unref);
  g_ptr_array_unref (self->log);
  g_clear_pointer (&self->peers_served, g_hash_table_unref);
  _atlas_download_partial_free (self);
  G_OBJECT_CLASS (atlas_download_parent_class)->finalize (object);
}

static void
atlas_download_class_init (AtlasDownloadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = atlas_download_get_property;
  object_class->dispose = atlas_download_dispose;
  object_class->finalize = atlas_download_finalize;

  properties[PROP_ID] = g_param_spec_uint64 ("id", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PROP_PATH] = g_param_spec_string ("path", NULL, NULL, NULL, flags);
  properties[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, ATLAS_TYPE_DOWNLOAD_STATE,
                                              ATLAS_DOWNLOAD_QUEUED, flags);
  properties[PROP_SIZE] = g_param_spec_int64 ("size", NULL, NULL, -1, G_MAXINT64, -1, flags);
  properties[PROP_COMPLETED_BYTES] =
      g_param_spec_uint64 ("completed-bytes", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_SPEED] = g_param_spec_uint64 ("speed", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_ETA] = g_param_spec_int64 ("eta", NULL, NULL, -1, G_MAXINT64, -1, flags);
  properties[PROP_ERROR_MESSAGE] = g_param_spec_string ("error-message", NULL, NULL, NULL, flags);
  properties[PROP_N_PIECES] = g_param_spec_uint ("n-pieces", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_PIECE_LENGTH] =
      g_param_spec_uint64 ("piece-length", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_ACTIVE_SOURCES] =
      g_param_spec_uint ("active-sources", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_PIECE_MAP_SERIAL] =
      g_param_spec_uint ("piece-map-serial", NULL, NULL, 0, G_MAXUINT, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_LOG] = g_signal_new ("log", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
}

static void
atlas_download_init (AtlasDownload *self)
{
  self->size = -1;
  self->eta = -1;
  self->last_suspect = -1;
  self->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) _atlas_download_source_free);
  self->source_views = g_list_store_new (ATLAS_TYPE_SOURCE);
  self->connections = g_ptr_array_new ();
  self->stream_sources = g_array_new (FALSE, FALSE, sizeof (guint));
  self->log = g_ptr_array_new_with_free_func (g_free);
  self->serve_fd = -1;
}

/* ---- logging and state ------------------------------------------------- */

void
_atlas_download_log (AtlasDownload *self, GLogLevelFlags level, const char *format, ...)
{
  va_list args;
  char *message;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_debug ("download %" G_GUINT64_FORMAT ": %s", self->id, message);
  if (self->log->len >= MAX_LOG_LINES)
    g_ptr_array_remove_index (self->log, 0);
  g_ptr_array_add (self->log, message);
  g_signal_emit (self, signals[SIGNAL_LOG], 0, (guint) level, message);
}

static void
persist_state (AtlasDownload *self)
{
  AtlasStore *store = self->session ? _atlas_session_get_store (self->session) : NULL;

  if (store != NULL && self->id != 0)
    atlas_store_update_state (store, self->id, self->state, self->error_message);
}

void
_atlas_download_set_state (AtlasDownload *self, AtlasDownloadState state, const char *error_message)
{
  gboolean changed = self->state != state;

  if (g_strcmp0 (self->error_message, error_message) != 0)
    {
      g_free (self->error_message);
      self->error_message = g_strdup (error_message);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR_MESSAGE]);
    }
  if (!changed)
    return;
  self->state = state;
  persist_state (self);
  if (state != ATLAS_DOWNLOAD_ACTIVE && state != ATLAS_DOWNLOAD_VERIFYING)
    {
      publish_settled_figures (self);
    }
  /* State changes are rare and decisive (a CLI waits for them): notify now. */
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  if (self->session != NULL)
    _atlas_session_download_changed (self->session, self);
}

void
_atlas_download_fail (AtlasDownload *self, int code, const char *reason)
{
  /* @reason may belong to a worker that is about to be freed below. */
  g_autofree char *message = g_strdup (reason);

  if (self->state == ATLAS_DOWNLOAD_FAILED)
    return;
  self->error_code = code;
  _atlas_download_log (self, G_LOG_LEVEL_CRITICAL, "%s", message);
  _atlas_download_cancel_all (self);
  /* Closing the writer reports its last durable pieces: persist after it. */
  stop_workers (self);
  _atlas_download_persist (self);
  _atlas_download_set_state (self, ATLAS_DOWNLOAD_FAILED, message);
}

/* ---- layout ------------------------------------------------------------ */

guint64
_atlas_download_piece_start (AtlasDownload *self, guint piece)
{
  return (guint64) piece * self->piece_length;
}

guint64
_atlas_download_piece_end (AtlasDownload *self, guint piece)
{
  return MIN ((guint64) (piece + 1) * self->piece_length, (guint64) self->size);
}

void
_atlas_download_set_layout (AtlasDownload *self, gint64 size, guint64 piece_length)
{
  gsize digest_length;

  g_return_if_fail (self->scheduler == NULL);

  if (piece_length == 0)
    {
      /* 1 MiB pieces, larger only to keep the piece count bounded. */
      piece_length = ATLAS_DEFAULT_PIECE_LENGTH;
      while ((guint64) size / piece_length > ATLAS_METALINK_MAX_PIECES)
        piece_length *= 2;
    }
  self->size = size;
  self->piece_length = piece_length;
  self->n_pieces = (size + piece_length - 1) / piece_length;
  self->scheduler = atlas_scheduler_new (self->n_pieces);
  self->piece_states = g_new0 (guint8, MAX (self->n_pieces, 1));
  self->piece_sources = g_new (guint16, MAX (self->n_pieces, 1));
  memset (self->piece_sources, 0xff, sizeof (guint16) * MAX (self->n_pieces, 1));
  self->verified = g_new0 (guint8, (self->n_pieces + 7) / 8 + 1);

  self->piece_type = atlas_request_get_piece_type (self->request);
  if (self->piece_type != ATLAS_HASH_NONE && atlas_request_get_piece_digests (self->request) != NULL
      && atlas_request_get_piece_length (self->request) == piece_length)
    self->expected_pieces = g_bytes_ref (atlas_request_get_piece_digests (self->request));
  else
    self->piece_type = ATLAS_HASH_SHA256;
  digest_length = atlas_hash_type_digest_length (self->piece_type);
  self->piece_digests = g_new0 (guint8, MAX (self->n_pieces, 1) * digest_length);

  /* Peers can help only with piece hashes to check their data by. */
  if (self->session != NULL && _atlas_session_get_swarming (self->session)
      && self->expected_pieces != NULL)
    self->swarming = TRUE;
  if (self->swarming)
    atlas_scheduler_set_swarming (self->scheduler, TRUE, g_random_int ());

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_PIECES]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PIECE_LENGTH]);

  if (self->session != NULL && _atlas_session_get_store (self->session) != NULL && self->id != 0)
    atlas_store_update_layout (_atlas_session_get_store (self->session), self->id, size,
                               piece_length);
}

static gboolean
piece_is_durable (AtlasDownload *self, guint piece)
{
  return (self->verified[piece / 8] & (1 << (piece % 8))) != 0;
}

static void
mark_piece_good (AtlasDownload *self, guint piece, gboolean durable)
{
  if (!atlas_scheduler_is_done (self->scheduler, piece))
    {
      atlas_scheduler_mark_done (self->scheduler, piece);
      self->good_bytes +=
          _atlas_download_piece_end (self, piece) - _atlas_download_piece_start (self, piece);
      /* Its bytes are in the file and match the hash: peers may have it now.
       * Durability matters for what the queue records, not for serving. */
      _atlas_download_peers_piece_good (self, piece);
    }
  self->piece_states[piece] = durable ? ATLAS_PIECE_VERIFIED : ATLAS_PIECE_WRITTEN;
  if (durable && !piece_is_durable (self, piece))
    {
      self->verified[piece / 8] |= 1 << (piece % 8);
      self->n_durable++;
    }
  self->piece_map_changed = TRUE;
}

/* The piece's bytes can no longer be trusted: it is missing again, and
 * @tainted_by (a source index, or G_MAXUINT for none) may not fetch it. The
 * one place that undoes mark_piece_good, so the counters stay consistent. */
void
_atlas_download_forget_piece (AtlasDownload *self, guint piece, guint tainted_by)
{
  if (atlas_scheduler_is_done (self->scheduler, piece))
    self->good_bytes -=
        _atlas_download_piece_end (self, piece) - _atlas_download_piece_start (self, piece);
  if (piece_is_durable (self, piece))
    {
      self->verified[piece / 8] &= ~(1 << (piece % 8));
      self->n_durable--;
      self->verified_dirty = TRUE;
    }
  atlas_scheduler_piece_checked (self->scheduler, piece, FALSE, tainted_by);
  self->piece_states[piece] = ATLAS_PIECE_MISSING;
  self->piece_sources[piece] = 0xffff;
  self->piece_map_changed = TRUE;
  self->prefix = MIN (self->prefix, piece);
}

/* ---- the writer's and the whole-file hasher's verdicts ---------------- */

static void
advance_prefix (AtlasDownload *self)
{
  guint before = self->prefix;

  while (self->prefix < self->n_pieces && atlas_scheduler_is_done (self->scheduler, self->prefix))
    self->prefix++;
  if (self->prefix != before && self->file_hasher != NULL)
    atlas_file_hasher_advance (self->file_hasher,
                               self->prefix == self->n_pieces
                                   ? (guint64) self->size
                                   : _atlas_download_piece_start (self, self->prefix));
}

/* A suspect's piece came again from @source: do the two copies agree? */
static void
cross_check (AtlasDownload *self, guint piece, Source *source, const guint8 *digest,
             gsize digest_length)
{
  Source *suspect = g_ptr_array_index (self->sources, self->witness[piece]);
  gboolean agree = memcmp (self->piece_digests + piece * digest_length, digest, digest_length) == 0;

  self->witness[piece] = 0xffff;
  if (agree)
    {
      suspect->agreements++;
      source->agreements++;
    }
  else
    {
      suspect->disagreements++;
      source->disagreements++;
    }
}

static void
pieces_checked_cb (const AtlasPieceResult *results, guint n_results, gpointer user_data)
{
  AtlasDownload *self = user_data;
  gsize digest_length = atlas_hash_type_digest_length (self->piece_type);

  for (guint i = 0; i < n_results; i++)
    {
      const AtlasPieceResult *result = &results[i];
      guint piece = result->piece;
      guint source_index = result->stream < self->stream_sources->len
                               ? g_array_index (self->stream_sources, guint, result->stream)
                               : G_MAXUINT;
      Source *source = source_index < self->sources->len
                           ? g_ptr_array_index (self->sources, source_index)
                           : NULL;
      guint64 length =
          _atlas_download_piece_end (self, piece) - _atlas_download_piece_start (self, piece);

      if (piece >= self->n_pieces)
        continue;
      if (self->received_unchecked >= length)
        self->received_unchecked -= length;

      /* It stopped being wanted while it was on its way: not kept. */
      if (!_atlas_download_is_wanted (self, piece))
        {
          _atlas_download_drop_received (self, piece);
          continue;
        }

      if (result->good)
        {
          if (self->witness != NULL && self->witness[piece] != 0xffff && source != NULL)
            cross_check (self, piece, source, result->digest, digest_length);
          memcpy (self->piece_digests + piece * digest_length, result->digest, digest_length);
          mark_piece_good (self, piece, FALSE);
          continue;
        }

      atlas_scheduler_piece_checked (self->scheduler, piece, FALSE,
                                     source ? source->index : G_MAXUINT);
      self->piece_states[piece] = ATLAS_PIECE_BAD;
      self->piece_map_changed = TRUE;
      if (source == NULL)
        continue;
      source->bad_pieces++;
      _atlas_download_log (self, G_LOG_LEVEL_WARNING,
                           "Piece %u (bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                           ") from %s failed its %s check; fetching it again from another source",
                           piece, _atlas_download_piece_start (self, piece),
                           _atlas_download_piece_end (self, piece) - 1, source->url,
                           atlas_hash_type_to_name (self->piece_type));
      /* A peer has no flaky cache to blame: one bad piece is enough. */
      if (source->bad_pieces >= ATLAS_BAD_PIECES_BAN || source->peer != NULL)
        {
          g_autofree char *why =
              g_strdup_printf ("sent %u pieces that failed their hash", source->bad_pieces);
          _atlas_download_ban_source (self, source, ATLAS_SOURCE_BANNED, why);
        }
    }
  advance_prefix (self);
  if (self->stopping)
    return;
  _atlas_download_schedule (self);
  _atlas_download_check_done (self);
}

static void
pieces_durable_cb (const guint *pieces, guint n_pieces, gpointer user_data)
{
  AtlasDownload *self = user_data;

  for (guint i = 0; i < n_pieces; i++)
    if (pieces[i] < self->n_pieces && atlas_scheduler_is_done (self->scheduler, pieces[i]))
      mark_piece_good (self, pieces[i], TRUE);
  self->verified_dirty = TRUE;
  if (!self->stopping)
    _atlas_download_check_done (self);
}

static void
writer_drained_cb (gpointer user_data)
{
  AtlasDownload *self = user_data;

  self->waiting_for_writer = FALSE;
  if (self->session != NULL)
    _atlas_download_unpause_transfers (self);
}

static void
writer_failed_cb (const GError *error, gpointer user_data)
{
  AtlasDownload *self = user_data;

  if (self->stopping)
    {
      /* Reported while closing: record it; the caller decides the state. */
      g_free (self->error_message);
      self->error_message = g_strdup (error->message);
      self->error_code = error->code;
      return;
    }
  _atlas_download_fail (self, error->code, error->message);
}

/* The partial file was not there (deleted, or renamed into place by a run
 * that died before recording it): pieces recorded as verified are not on
 * disk any more, so they must be fetched again — never trusted as zeros. */
static void
writer_created_cb (gpointer user_data)
{
  AtlasDownload *self = user_data;
  guint lost = 0;

  for (guint piece = 0; piece < self->n_pieces; piece++)
    if (atlas_scheduler_is_done (self->scheduler, piece))
      {
        _atlas_download_forget_piece (self, piece, G_MAXUINT);
        lost++;
      }
  if (lost == 0)
    return;
  _atlas_download_log (self, G_LOG_LEVEL_WARNING,
                       "The partial file “%s” was missing; fetching its %u verified pieces again",
                       self->part_path, lost);
  /* The hasher was already told those pieces were there: start it over. */
  restart_file_hash (self);
  /* With every piece done it was waiting for the whole-file hash, a state in
   * which nothing is fetched: it would wait forever. */
  if (self->state == ATLAS_DOWNLOAD_VERIFYING)
    _atlas_download_set_state (self, ATLAS_DOWNLOAD_ACTIVE, NULL);
  if (!self->stopping)
    _atlas_download_schedule (self);
}

static void
writer_punched_cb (guint piece, int errsv, gpointer user_data)
{
  _atlas_download_partial_punched (user_data, piece, errsv);
}

static const AtlasPieceWriterCallbacks writer_callbacks = {
  .punched = writer_punched_cb,
  .pieces_checked = pieces_checked_cb,
  .pieces_durable = pieces_durable_cb,
  .drained = writer_drained_cb,
  .failed = writer_failed_cb,
  .created = writer_created_cb,
};

static void
file_hashed_cb (GArray *digests, const GError *error, gpointer user_data)
{
  AtlasDownload *self = user_data;

  /* The hasher opens the .part by name; when the file was deleted, the
   * writer creates it again on its own thread and reports it (created_cb),
   * possibly after the hasher found it missing. Either way the pieces thought
   * done are not on disk: fetch them again rather than fail the download. */
  if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND) && self->writer != NULL
      && self->n_rechecks == 0)
    {
      self->n_rechecks++;
      writer_created_cb (self);
      return;
    }
  if (error != NULL)
    {
      _atlas_download_fail (self, error->code, error->message);
      return;
    }
  self->file_digests = g_array_ref (digests);
  _atlas_download_check_done (self);
}

/* Every expected whole-file type is computed in one pass; with none given,
 * SHA-256 is computed anyway so the user can see what they got. */
static GArray *
whole_file_types (AtlasDownload *self)
{
  GArray *checksums = atlas_request_get_checksums (self->request);
  GArray *types = g_array_new (FALSE, FALSE, sizeof (AtlasHashType));

  for (guint i = 0; i < checksums->len; i++)
    {
      AtlasHashType type = g_array_index (checksums, AtlasChecksum, i).type;
      gboolean seen = FALSE;

      for (guint j = 0; j < types->len; j++)
        seen |= g_array_index (types, AtlasHashType, j) == type;
      if (!seen)
        g_array_append_val (types, type);
    }
  if (types->len == 0)
    {
      AtlasHashType sha256 = ATLAS_HASH_SHA256;
      g_array_append_val (types, sha256);
    }
  return types;
}

/* (Re)starts the whole-file hash from byte 0, following the good prefix. */
static void
restart_file_hash (AtlasDownload *self)
{
  g_autoptr (GArray) types = NULL;

  /* A partial download never holds the whole file: nothing to hash. */
  if (self->partial)
    return;
  types = whole_file_types (self);
  g_clear_pointer (&self->file_hasher, atlas_file_hasher_free);
  g_clear_pointer (&self->file_digests, g_array_unref);
  self->file_hasher =
      atlas_file_hasher_new (self->part_path, self->size, types,
                             _atlas_session_get_context (self->session), file_hashed_cb, self);
  self->prefix = 0;
  advance_prefix (self);
  if (self->n_pieces == 0)
    atlas_file_hasher_advance (self->file_hasher, 0);
}

void
_atlas_download_open_storage (AtlasDownload *self)
{
  if (self->writer != NULL || self->scheduler == NULL)
    return;

  self->writer = atlas_piece_writer_new (
      self->part_path, self->size, self->piece_length, self->piece_type, self->expected_pieces,
      self->partial, _atlas_session_get_context (self->session), &writer_callbacks, self);
  restart_file_hash (self);
}

/* ---- completion -------------------------------------------------------- */

static char *
describe_mismatch (AtlasDownload *self)
{
  GArray *expected = atlas_request_get_checksums (self->request);

  for (guint i = 0; i < expected->len; i++)
    {
      const AtlasChecksum *want = &g_array_index (expected, AtlasChecksum, i);

      for (guint j = 0; j < self->file_digests->len; j++)
        {
          const AtlasChecksum *got = &g_array_index (self->file_digests, AtlasChecksum, j);

          if (got->type == want->type && !atlas_checksum_equal (got, want))
            {
              g_autofree char *want_hex = atlas_checksum_to_hex (want);
              g_autofree char *got_hex = atlas_checksum_to_hex (got);
              return g_strdup_printf ("The downloaded file does not match its expected %s: "
                                      "expected %s, got %s. The file was kept as “%s”; check "
                                      "the expected hash or the mirrors",
                                      atlas_hash_type_to_name (want->type), want_hex, got_hex,
                                      self->part_path);
            }
        }
    }
  return NULL;
}

/* Without piece hashes nothing tells which piece is wrong, so none can be
 * trusted after a whole-file mismatch: a retry fetches everything again (and
 * the user can leave out the mirror the log points at). */
static void
forget_unproven_pieces (AtlasDownload *self)
{
  g_autoptr (GString) contributors = g_string_new (NULL);

  if (self->expected_pieces != NULL)
    return;
  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);
      guint pieces = 0;

      for (guint piece = 0; piece < self->n_pieces; piece++)
        pieces += self->piece_sources[piece] == source->index;
      if (pieces > 0)
        g_string_append_printf (contributors, "%s%s (%u pieces)", contributors->len ? ", " : "",
                                source->url, pieces);
    }
  _atlas_download_log (self, G_LOG_LEVEL_WARNING,
                       "No piece hashes to tell which source sent bad data; pieces came from: %s. "
                       "A retry fetches the whole file again",
                       contributors->str);
  for (guint piece = 0; piece < self->n_pieces; piece++)
    _atlas_download_forget_piece (self, piece, G_MAXUINT);
  _atlas_download_persist (self);
}

/* Without piece hashes, a whole-file mismatch says only that some source
 * lied. Suspect one, fetch just its pieces again from the others and compare
 * each new copy with the suspect's (our recorded digests): the evidence of
 * agreements and disagreements picks the next suspect and clears an honest
 * one. With one bad mirror among several this finds it at the cost of
 * re-fetching a share of the file instead of failing the download.
 * Returns FALSE when nobody is left to suspect. */
static gboolean
suspect_next_source (AtlasDownload *self)
{
  g_autofree guint *counts = NULL;
  Source *suspect = NULL;
  guint witnesses = 0;

  if (self->expected_pieces != NULL || self->sources->len > 64)
    return FALSE;

  /* The previous suspect's copies all matched the others': it was honest. */
  if (self->last_suspect >= 0)
    {
      Source *previous = g_ptr_array_index (self->sources, self->last_suspect);

      if (previous->disagreements == 0 && previous->state == ATLAS_SOURCE_BANNED)
        {
          previous->state = ATLAS_SOURCE_IDLE;
          g_clear_pointer (&previous->last_error, g_free);
          _atlas_download_log (self, G_LOG_LEVEL_INFO,
                               "%s sent the same data as the other mirrors; using it again",
                               previous->url);
        }
    }

  counts = g_new0 (guint, self->sources->len);
  for (guint piece = 0; piece < self->n_pieces; piece++)
    if (self->piece_sources[piece] < self->sources->len)
      counts[self->piece_sources[piece]]++;

  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);
      gboolean suspected = (self->suspected & (G_GUINT64_CONSTANT (1) << i)) != 0;

      if (source->state == ATLAS_SOURCE_DROPPED || source->state == ATLAS_SOURCE_BANNED)
        continue;
      /* Only sources that have delivered data can serve a suspect's pieces. */
      if (source->bytes > 0)
        witnesses++;
      if (suspected || counts[i] == 0)
        continue;
      /* Most contradicted first; among equals, the smallest share to re-fetch. */
      if (suspect == NULL || source->disagreements > suspect->disagreements
          || (source->disagreements == suspect->disagreements
              && counts[i] < counts[suspect->index]))
        suspect = source;
    }
  if (suspect == NULL || witnesses < 2)
    return FALSE;

  if (self->witness == NULL)
    {
      self->witness = g_new (guint16, MAX (self->n_pieces, 1));
      memset (self->witness, 0xff, sizeof (guint16) * MAX (self->n_pieces, 1));
    }
  self->suspected |= G_GUINT64_CONSTANT (1) << suspect->index;
  self->last_suspect = suspect->index;
  _atlas_download_log (self, G_LOG_LEVEL_WARNING,
                       "The file's hash does not match and there are no piece hashes to say "
                       "which mirror is wrong: fetching the %u pieces from %s again from the "
                       "other mirrors to compare",
                       counts[suspect->index], suspect->url);
  _atlas_download_ban_source (self, suspect, ATLAS_SOURCE_BANNED,
                              "suspected of sending bad data (the whole-file hash failed)");

  for (guint piece = 0; piece < self->n_pieces; piece++)
    if (self->piece_sources[piece] == suspect->index)
      {
        _atlas_download_forget_piece (self, piece, suspect->index);
        self->witness[piece] = suspect->index;
      }
  _atlas_download_persist (self);

  /* The whole-file hash starts over once the prefix is whole again. */
  restart_file_hash (self);

  _atlas_download_set_state (self, ATLAS_DOWNLOAD_ACTIVE, NULL);
  _atlas_download_schedule (self);
  return TRUE;
}

/* Every piece passed its hash when it was written, yet the whole file does
 * not match: either the bytes on disk changed since (the .part file was
 * truncated, or written or punched by another program) or the Metalink's
 * piece hashes and file hash disagree. Failing would be wrong in the first
 * case and a retry would fail the same way forever, so the pieces are
 * hashed again from disk: bad ones are fetched again, and only when all are
 * good is the mismatch reported. */
static void
pieces_rechecked_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasDownload) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasVerifyResult) verdict = atlas_verify_file_finish (result, &error);
  g_autofree char *mismatch = NULL;
  guint lost = 0;

  self->rechecking = FALSE;
  /* Paused, removed or closed meanwhile: a later activation checks again. */
  if (self->session == NULL || self->state != ATLAS_DOWNLOAD_VERIFYING)
    return;
  if (verdict == NULL)
    {
      _atlas_download_fail (self, ATLAS_ERROR_IO, error->message);
      return;
    }
  for (guint i = 0; i < verdict->bad_pieces->len; i++)
    {
      guint piece = g_array_index (verdict->bad_pieces, guint, i);

      if (piece < self->n_pieces && atlas_scheduler_is_done (self->scheduler, piece))
        {
          _atlas_download_forget_piece (self, piece, G_MAXUINT);
          lost++;
        }
    }
  if (lost == 0)
    {
      g_autofree char *reason = NULL;

      mismatch = describe_mismatch (self);
      self->n_rechecks = MAX_RECHECKS;
      if (mismatch == NULL)
        {
          _atlas_download_check_done (self);
          return;
        }
      reason = g_strdup_printf ("%s (every piece on disk matches its piece hash: the file hash "
                                "and the piece hashes of the Metalink disagree)",
                                mismatch);
      _atlas_download_fail (self, ATLAS_ERROR_HASH_MISMATCH, reason);
      return;
    }
  _atlas_download_log (self, G_LOG_LEVEL_WARNING,
                       "%u verified pieces of “%s” no longer match their hash on disk (the file "
                       "was truncated or changed by something else); fetching them again",
                       lost, self->part_path);
  _atlas_download_persist (self);
  restart_file_hash (self);
  _atlas_download_set_state (self, ATLAS_DOWNLOAD_ACTIVE, NULL);
  _atlas_download_schedule (self);
}

static void
recheck_pieces (AtlasDownload *self)
{
  g_autoptr (GArray) no_checksums = g_array_new (FALSE, FALSE, sizeof (AtlasChecksum));
  AtlasVerifyExpectation expect = {
    .piece_type = self->piece_type,
    .piece_length = self->piece_length,
    .piece_digests = self->expected_pieces,
    .checksums = no_checksums,
    .size = self->size,
  };

  self->rechecking = TRUE;
  self->n_rechecks++;
  _atlas_download_log (self, G_LOG_LEVEL_WARNING,
                       "The whole-file hash of “%s” does not match although every piece did: "
                       "checking the pieces on disk again",
                       self->part_path);
  atlas_verify_file_async (self->part_path, &expect, NULL, NULL, NULL, pieces_rechecked_cb,
                           g_object_ref (self));
}

static void
rename_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  AtlasDownload *self = source;
  g_autofree char *dir = g_path_get_dirname (self->path);
  int fd;

  if (g_strcmp0 (self->part_path, self->path) != 0 && rename (self->part_path, self->path) != 0)
    {
      int errsv = errno;
      g_task_return_new_error (
          task, ATLAS_ERROR, errsv == ENOSPC ? ATLAS_ERROR_DISK_FULL : ATLAS_ERROR_IO,
          "Cannot move “%s” into place: %s", self->part_path, g_strerror (errsv));
      return;
    }
  /* The rename itself must survive a power cut, not just the data. */
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
  g_task_return_boolean (task, TRUE);
}

static void
renamed_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  AtlasDownload *self = ATLAS_DOWNLOAD (object);
  g_autoptr (GError) error = NULL;

  self->finalizing = FALSE;
  /* Detached while the rename ran (the session is closing): it still
   * records the outcome below, through the session that waits for it. */
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      _atlas_download_fail (self, error->code, error->message);
      return;
    }
  self->completed_bytes = self->size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COMPLETED_BYTES]);
  _atlas_download_log (self, G_LOG_LEVEL_INFO, "Complete: every expected hash matched");
  _atlas_download_set_state (self, ATLAS_DOWNLOAD_COMPLETE, NULL);
}

void
_atlas_download_check_done (AtlasDownload *self)
{
  g_autofree char *mismatch = NULL;
  g_autoptr (GTask) task = NULL;

  if ((self->state != ATLAS_DOWNLOAD_ACTIVE && self->state != ATLAS_DOWNLOAD_VERIFYING)
      || self->scheduler == NULL || self->finalizing
      || !atlas_scheduler_is_complete (self->scheduler))
    return;

  /* A partial download holds every wanted piece: it stops fetching and goes
   * on serving, ACTIVE, without a whole-file hash or a rename. */
  if (self->partial)
    {
      if (self->connections->len > 0)
        _atlas_download_cancel_transfers (self);
      if (!self->partial_settled && self->writer != NULL)
        atlas_piece_writer_sync_soon (self->writer);
      self->partial_settled = TRUE;
      return;
    }

  /* Every piece is good: stop endgame losers and wait for durability and the
   * whole-file hash. */
  if (self->connections->len > 0)
    _atlas_download_cancel_transfers (self);
  if (self->state != ATLAS_DOWNLOAD_VERIFYING)
    {
      _atlas_download_set_state (self, ATLAS_DOWNLOAD_VERIFYING, NULL);
      /* Nothing more is coming: make the last pieces durable now rather than
       * when the writer's batch interval runs out. */
      if (self->writer != NULL)
        atlas_piece_writer_sync_soon (self->writer);
    }
  if (self->file_digests == NULL || self->n_durable < self->n_pieces || self->rechecking)
    return;

  _atlas_download_persist (self);
  mismatch = describe_mismatch (self);
  if (mismatch != NULL && self->expected_pieces != NULL && self->n_rechecks < MAX_RECHECKS)
    {
      recheck_pieces (self);
      return;
    }
  if (mismatch != NULL && suspect_next_source (self))
    return;
  if (mismatch != NULL)
    {
      forget_unproven_pieces (self);
      _atlas_download_fail (self, ATLAS_ERROR_HASH_MISMATCH, mismatch);
      return;
    }

  self->finalizing = TRUE;
  stop_workers (self);
  task = g_task_new (self, NULL, renamed_cb, NULL);
  g_task_run_in_thread (task, rename_thread);
}

/* ---- lifecycle --------------------------------------------------------- */

AtlasDownload *
_atlas_download_new (AtlasSession *session, guint64 id, AtlasRequest *request,
                     const char *final_path)
{
  AtlasDownload *self = g_object_new (ATLAS_TYPE_DOWNLOAD, NULL);

  self->session = session;
  self->id = id;
  self->request = request;
  self->path = g_strdup (final_path);
  self->part_path = g_strconcat (final_path, ".part", NULL);
  self->name = g_path_get_basename (final_path);
  self->state = atlas_request_get_paused (request) ? ATLAS_DOWNLOAD_PAUSED : ATLAS_DOWNLOAD_QUEUED;
  self->from_metalink =
      atlas_request_get_piece_digests (request) != NULL || atlas_request_get_n_urls (request) > 1;
  atlas_rate_limiter_init (&self->limiter, atlas_request_get_speed_limit (request));

  for (guint i = 0; i < atlas_request_get_n_urls (request); i++)
    {
      guint priority;
      const char *location;
      const char *url = atlas_request_get_url (request, i, &priority, &location);
      _atlas_download_add_source (self, url, priority, location);
    }
  if (atlas_request_get_size (request) >= 0)
    _atlas_download_set_layout (self, atlas_request_get_size (request),
                                atlas_request_get_piece_length (request));
  return self;
}

static GBytes *
serialize_validators (AtlasDownload *self)
{
  GVariantBuilder builder;
  g_autoptr (GVariant) variant = NULL;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sss)"));
  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);
      if (source->etag != NULL || source->last_modified != NULL)
        g_variant_builder_add (&builder, "(sss)", source->url, source->etag ? source->etag : "",
                               source->last_modified ? source->last_modified : "");
    }
  variant = g_variant_ref_sink (g_variant_builder_end (&builder));
  return g_variant_get_data_as_bytes (variant);
}

AtlasStoreRecord *
_atlas_download_to_record (AtlasDownload *self)
{
  AtlasStoreRecord *record = atlas_store_record_new ();

  record->id = self->id;
  record->state = self->state;
  record->name = g_strdup (self->name);
  record->directory = g_path_get_dirname (self->path);
  record->filename = g_strdup (self->name);
  record->size = self->size;
  record->piece_length = self->piece_length;
  record->request = _atlas_request_serialize (self->request);
  record->created = g_get_real_time () / G_USEC_PER_SEC;
  record->partial = self->partial;
  if (self->partial)
    record->wanted = g_bytes_new (self->wanted, (self->n_pieces + 7) / 8);
  return record;
}

void
_atlas_download_restore (AtlasDownload *self, const AtlasStoreRecord *record)
{
  AtlasDownloadState state = record->state;

  if (self->scheduler == NULL && record->size >= 0 && record->piece_length > 0)
    _atlas_download_set_layout (self, record->size, record->piece_length);
  if (record->partial && self->scheduler != NULL)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) none =
          g_bytes_new_take (g_malloc0 ((self->n_pieces + 7) / 8), (self->n_pieces + 7) / 8);

      /* A wanted set that does not fit keeps nothing rather than turning
       * the donation into a whole download. */
      if (!_atlas_download_make_partial (self, record->wanted ? record->wanted : none, &error))
        {
          g_warning ("Download %" G_GUINT64_FORMAT ": %s", self->id, error->message);
          _atlas_download_make_partial (self, none, NULL);
        }
      self->punch_leftovers = TRUE;
    }

  if (self->scheduler != NULL && record->verified != NULL)
    {
      gsize n;
      const guint8 *bits = g_bytes_get_data (record->verified, &n);
      gsize digest_length = atlas_hash_type_digest_length (self->piece_type);
      const guint8 *digests =
          record->piece_digests ? g_bytes_get_data (record->piece_digests, NULL) : NULL;
      gsize n_digests = record->piece_digests ? g_bytes_get_size (record->piece_digests) : 0;

      for (guint piece = 0; piece < self->n_pieces && piece / 8 < n; piece++)
        if ((bits[piece / 8] & (1 << (piece % 8))) && !_atlas_download_is_wanted (self, piece))
          /* Dropped before the record caught up: the next save forgets it. */
          self->verified_dirty = TRUE;
        else if (bits[piece / 8] & (1 << (piece % 8)))
          {
            mark_piece_good (self, piece, TRUE);
            if (digests != NULL && (piece + 1) * digest_length <= n_digests)
              memcpy (self->piece_digests + piece * digest_length, digests + piece * digest_length,
                      digest_length);
          }
    }

  if (record->validators != NULL)
    {
      g_autoptr (GVariant) variant =
          g_variant_new_from_bytes (G_VARIANT_TYPE ("a(sss)"), record->validators, FALSE);
      GVariantIter iter;
      const char *url, *etag, *last_modified;

      g_variant_iter_init (&iter, variant);
      while (g_variant_is_normal_form (variant)
             && g_variant_iter_next (&iter, "(&s&s&s)", &url, &etag, &last_modified))
        for (guint i = 0; i < self->sources->len; i++)
          {
            Source *source = g_ptr_array_index (self->sources, i);
            if (strcmp (source->url, url) == 0)
              {
                source->etag = *etag ? g_strdup (etag) : NULL;
                source->last_modified = *last_modified ? g_strdup (last_modified) : NULL;
              }
          }
    }

  /* A download that was running when the process died runs again, after
   * checking what it had written but not yet recorded. */
  if (state == ATLAS_DOWNLOAD_ACTIVE || state == ATLAS_DOWNLOAD_VERIFYING)
    {
      state = ATLAS_DOWNLOAD_QUEUED;
      self->needs_revalidation = TRUE;
    }
  self->state = state;
  self->error_message = g_strdup (record->error_message);
  self->completed_bytes =
      state == ATLAS_DOWNLOAD_COMPLETE && self->size > 0 ? (guint64) self->size : self->good_bytes;
}

void
_atlas_download_preset_pieces (AtlasDownload *self, guint64 piece_length, gint64 size,
                               const guint8 *good, guint n_pieces)
{
  /* Repair works on the file in place: its good pieces stay where they are. */
  g_free (self->part_path);
  self->part_path = g_strdup (self->path);
  if (self->scheduler == NULL)
    _atlas_download_set_layout (self, size, piece_length);
  for (guint piece = 0; piece < MIN (n_pieces, self->n_pieces); piece++)
    if (good[piece])
      mark_piece_good (self, piece, TRUE);
  self->completed_bytes = self->good_bytes;
}

void
_atlas_download_persist (AtlasDownload *self)
{
  AtlasStore *store = self->session ? _atlas_session_get_store (self->session) : NULL;
  gsize digest_length;

  if (store == NULL || self->id == 0 || self->scheduler == NULL || !self->verified_dirty)
    return;
  digest_length = atlas_hash_type_digest_length (self->piece_type);
  {
    g_autoptr (GBytes) verified = g_bytes_new (self->verified, (self->n_pieces + 7) / 8);
    g_autoptr (GBytes) digests = g_bytes_new (self->piece_digests, self->n_pieces * digest_length);
    g_autoptr (GBytes) validators = serialize_validators (self);

    atlas_store_update_validators (store, self->id, validators);
    atlas_store_update_pieces (store, self->id, verified, digests);
  }
  self->verified_dirty = FALSE;
}

/* ---- revalidation after a restart ------------------------------------ */

typedef struct
{
  char *path;
  char *final_path; /* where the file goes once complete */
  guint64 size;
  guint64 piece_length;
  guint n_pieces;
  AtlasHashType type;
  GBytes *expected;
  guint8 *candidates; /* 1 = not recorded as verified */
  GArray *good;       /* guint pieces that hash right */
  gboolean in_place;  /* the .part is gone, the final file holds every piece */
} Revalidation;

static void
revalidation_free (Revalidation *job)
{
  g_free (job->path);
  g_free (job->final_path);
  g_bytes_unref (job->expected);
  g_free (job->candidates);
  g_clear_pointer (&job->good, g_array_unref);
  g_free (job);
}

/* Hashes the pieces of @fd marked in @candidates; appends those that match
 * to job->good. Holes are skipped with SEEK_DATA, so a mostly empty file
 * costs almost nothing. */
static void
hash_pieces (Revalidation *job, int fd, const guint8 *candidates)
{
  gsize digest_length = atlas_hash_type_digest_length (job->type);
  const guint8 *expected = g_bytes_get_data (job->expected, NULL);
  g_autoptr (AtlasHasher) hasher = atlas_hasher_new (job->type);
  g_autofree guint8 *buffer = g_malloc (1024 * 1024);

  for (guint piece = 0; piece < job->n_pieces; piece++)
    {
      guint64 start = (guint64) piece * job->piece_length;
      guint64 end = MIN (start + job->piece_length, job->size);
      off_t data_at;
      guint8 digest[ATLAS_HASH_MAX_DIGEST];
      gboolean ok = TRUE;

      if (!candidates[piece])
        continue;
      data_at = lseek (fd, start, SEEK_DATA);
      if (data_at < 0 || (guint64) data_at >= end)
        continue;
      for (guint64 offset = start; ok && offset < end;)
        {
          ssize_t n = pread (fd, buffer, MIN (1024 * 1024, end - offset), offset);
          ok = n > 0;
          if (ok)
            {
              atlas_hasher_update (hasher, buffer, n);
              offset += n;
            }
        }
      atlas_hasher_finish (hasher, digest);
      if (ok && memcmp (digest, expected + piece * digest_length, digest_length) == 0)
        g_array_append_val (job->good, piece);
    }
}

/* On a worker: pieces not recorded as verified but holding data (the ones
 * in flight when the process died) are hashed; matches are kept. */
static void
revalidate_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Revalidation *job = data;
  int fd = open (job->path, O_RDONLY | O_CLOEXEC);

  job->good = g_array_new (FALSE, FALSE, sizeof (guint));
  if (fd < 0 && errno == ENOENT && job->final_path != NULL)
    {
      /* The process died after renaming the file into place but before
       * "complete" was recorded (or a power cut took that commit): the
       * .part is gone and the file is at its final path. Every piece of it
       * is checked, since that path could also hold some other file; only a
       * file that matches them all is kept, so nothing is fetched again. */
      g_autofree guint8 *all = g_malloc (MAX (job->n_pieces, 1));
      struct stat st;

      memset (all, 1, MAX (job->n_pieces, 1));
      fd = open (job->final_path, O_RDONLY | O_CLOEXEC);
      if (fd >= 0 && fstat (fd, &st) == 0 && S_ISREG (st.st_mode)
          && (guint64) st.st_size == job->size)
        {
          hash_pieces (job, fd, all);
          job->in_place = job->good->len == job->n_pieces;
        }
      if (!job->in_place)
        g_array_set_size (job->good, 0);
      if (fd >= 0)
        close (fd);
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (fd < 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  hash_pieces (job, fd, job->candidates);
  /* What survived the crash is kept only once it is durable. */
  if (job->good->len > 0)
    fdatasync (fd);
  close (fd);
  g_task_return_boolean (task, TRUE);
}

static void
revalidated_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  AtlasDownload *self = ATLAS_DOWNLOAD (object);
  Revalidation *job = g_task_get_task_data (G_TASK (result));
  gsize digest_length = atlas_hash_type_digest_length (self->piece_type);
  const guint8 *expected = g_bytes_get_data (job->expected, NULL);

  self->revalidating = FALSE;
  if (job->in_place)
    {
      /* Finished in place: the rename into place is skipped. */
      g_free (self->part_path);
      self->part_path = g_strdup (self->path);
      _atlas_download_log (
          self, G_LOG_LEVEL_INFO,
          "“%s” was already in place with every piece right; not fetching it again", self->path);
    }
  for (guint i = 0; i < job->good->len; i++)
    {
      guint piece = g_array_index (job->good, guint, i);
      memcpy (self->piece_digests + piece * digest_length, expected + piece * digest_length,
              digest_length);
      mark_piece_good (self, piece, TRUE);
    }
  if (job->good->len > 0)
    {
      self->verified_dirty = TRUE;
      if (!job->in_place)
        _atlas_download_log (self, G_LOG_LEVEL_INFO,
                             "Kept %u pieces that were on disk but not yet recorded",
                             job->good->len);
      _atlas_download_persist (self);
    }
  if (self->state != ATLAS_DOWNLOAD_ACTIVE)
    return;
  _atlas_download_open_storage (self);
  _atlas_download_partial_activate (self);
  advance_prefix (self);
  _atlas_download_schedule (self);
  _atlas_download_check_done (self);
}

static void
start_revalidation (AtlasDownload *self)
{
  Revalidation *job = g_new0 (Revalidation, 1);
  g_autoptr (GTask) task = g_task_new (self, NULL, revalidated_cb, NULL);

  job->path = g_strdup (self->part_path);
  if (g_strcmp0 (self->part_path, self->path) != 0)
    job->final_path = g_strdup (self->path);
  job->size = self->size;
  job->piece_length = self->piece_length;
  job->n_pieces = self->n_pieces;
  job->type = self->piece_type;
  job->expected = g_bytes_ref (self->expected_pieces);
  job->candidates = g_new0 (guint8, MAX (self->n_pieces, 1));
  for (guint piece = 0; piece < self->n_pieces; piece++)
    job->candidates[piece] = !atlas_scheduler_is_done (self->scheduler, piece)
                             && _atlas_download_is_wanted (self, piece);
  self->revalidating = TRUE;
  self->needs_revalidation = FALSE;
  g_task_set_task_data (task, job, (GDestroyNotify) revalidation_free);
  g_task_run_in_thread (task, revalidate_thread);
}

void
_atlas_download_activate (AtlasDownload *self)
{
  if (self->state != ATLAS_DOWNLOAD_QUEUED)
    return;
  _atlas_download_set_state (self, ATLAS_DOWNLOAD_ACTIVE, NULL);
  if (self->sources->len == 0)
    {
      _atlas_download_fail (self, ATLAS_ERROR_NO_SOURCES,
                            "This download has no usable http, https or ftp source");
      return;
    }
  /* Sources that failed last time get a fresh chance. */
  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);
      if (source->state == ATLAS_SOURCE_BACKING_OFF)
        source->state = ATLAS_SOURCE_IDLE;
      source->retry_at = 0;
      source->consecutive_failures = 0;
    }
  self->tick_time = g_get_monotonic_time ();
  self->bytes_at_tick = self->good_bytes;
  self->n_rechecks = 0;
  if (self->scheduler != NULL && self->needs_revalidation && self->expected_pieces != NULL)
    {
      start_revalidation (self);
      return;
    }
  if (self->scheduler != NULL)
    _atlas_download_open_storage (self);
  _atlas_download_partial_activate (self);
  _atlas_download_schedule (self);
  _atlas_download_check_done (self);
}

void
_atlas_download_deactivate (AtlasDownload *self, AtlasDownloadState state)
{
  _atlas_download_cancel_all (self);
  /* Also forgets pieces that were received or checked but not yet durable. */
  stop_workers (self);
  _atlas_download_persist (self);
  /* Setting the state publishes zero speed and the final figures. */
  {
    g_autofree char *message =
        state == ATLAS_DOWNLOAD_FAILED ? g_strdup (self->error_message) : NULL;
    _atlas_download_set_state (self, state, message);
  }
}

void
_atlas_download_detach (AtlasDownload *self)
{
  if (self->state == ATLAS_DOWNLOAD_ACTIVE || self->state == ATLAS_DOWNLOAD_VERIFYING)
    {
      _atlas_download_cancel_all (self);
      stop_workers (self);
      _atlas_download_persist (self);
    }
  else
    _atlas_download_cancel_all (self); /* a complete download's peer links */
  if (self->reap_source != 0)
    g_source_remove (self->reap_source);
  self->reap_source = 0;
  self->session = NULL;
}

gboolean
_atlas_download_is_finalizing (AtlasDownload *self)
{
  return self->finalizing;
}

/* ---- the tick ---------------------------------------------------------- */

/* Bytes the user may count as done: checked, waiting for their hash, or
 * arriving on a connection. */
static guint64
completed_bytes_now (AtlasDownload *self)
{
  guint64 in_flight = 0;

  if (self->state == ATLAS_DOWNLOAD_COMPLETE && self->size >= 0)
    return self->size;
  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *connection = g_ptr_array_index (self->connections, i);
      if (connection->range != NULL && connection->range->next < connection->range->end
          && connection->copy == NULL)
        in_flight += connection->pos - _atlas_download_piece_start (self, connection->range->next);
    }
  return MIN (self->good_bytes + self->received_unchecked + in_flight,
              self->size >= 0 ? (guint64) self->size : G_MAXUINT64);
}

static void
publish_source (Source *source)
{
  _atlas_source_publish (source->view, source->state, (guint64) source->speed, source->bytes,
                         source->connections, source->errors, source->bad_pieces,
                         source->last_error);
}

static void
publish_piece_map (AtlasDownload *self)
{
  if (!self->piece_map_changed)
    return;
  self->piece_map_changed = FALSE;
  self->piece_map_serial++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PIECE_MAP_SERIAL]);
}

/* The download stopped between ticks (a small file can finish before the
 * first one): whoever reacts to the new state must see final figures, not
 * those of the last tick. */
static void
publish_settled_figures (AtlasDownload *self)
{
  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);

      source->speed = 0;
      source->bytes_at_tick = source->bytes;
      publish_source (source);
    }
  g_object_freeze_notify (G_OBJECT (self));
  ATLAS_PUBLISH (self, completed_bytes, completed_bytes_now (self),
                 properties[PROP_COMPLETED_BYTES]);
  ATLAS_PUBLISH (self, speed, 0, properties[PROP_SPEED]);
  ATLAS_PUBLISH (self, eta, -1, properties[PROP_ETA]);
  ATLAS_PUBLISH (self, active_sources, 0, properties[PROP_ACTIVE_SOURCES]);
  publish_piece_map (self);
  g_object_thaw_notify (G_OBJECT (self));
}

gboolean
_atlas_download_wants_tick (AtlasDownload *self)
{
  return self->state == ATLAS_DOWNLOAD_ACTIVE || self->state == ATLAS_DOWNLOAD_VERIFYING;
}

void
_atlas_download_tick (AtlasDownload *self, gint64 now)
{
  guint64 completed;
  guint64 speed = 0;
  double elapsed = (now - self->tick_time) / (double) G_USEC_PER_SEC;
  guint active = 0;

  if (self->state == ATLAS_DOWNLOAD_ACTIVE)
    _atlas_download_check_stalls (self, now);
  _atlas_download_watch_progress (self, now);

  completed = completed_bytes_now (self);

  /* Speed over a 2 s window of ticks, from bytes received. */
  if (elapsed > 0 && self->state == ATLAS_DOWNLOAD_ACTIVE)
    {
      guint64 received = 0;
      double sum = 0;

      for (guint i = 0; i < self->sources->len; i++)
        received += ((Source *) g_ptr_array_index (self->sources, i))->bytes;
      self->speed_window[self->speed_slot++ % G_N_ELEMENTS (self->speed_window)] =
          (received - self->bytes_at_tick) / elapsed;
      self->bytes_at_tick = received;
      for (guint i = 0; i < G_N_ELEMENTS (self->speed_window); i++)
        sum += self->speed_window[i];
      speed = sum / MIN (self->speed_slot, G_N_ELEMENTS (self->speed_window));
    }
  self->tick_time = now;

  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);
      double instant = elapsed > 0 ? (source->bytes - source->bytes_at_tick) / elapsed : 0;

      source->speed = source->speed * 0.75 + instant * 0.25;
      source->bytes_at_tick = source->bytes;
      if (source->connections > 0 && source->state == ATLAS_SOURCE_ACTIVE)
        active++;
      if (source->state == ATLAS_SOURCE_BACKING_OFF && source->retry_at <= now)
        source->state = ATLAS_SOURCE_IDLE;
      publish_source (source);
    }

  g_object_freeze_notify (G_OBJECT (self));
  ATLAS_PUBLISH (self, completed_bytes, completed, properties[PROP_COMPLETED_BYTES]);
  ATLAS_PUBLISH (self, speed, speed, properties[PROP_SPEED]);
  ATLAS_PUBLISH (self, eta,
                 (speed > 0 && self->size >= 0) ? (gint64) ((self->size - completed) / speed) : -1,
                 properties[PROP_ETA]);
  ATLAS_PUBLISH (self, active_sources, active, properties[PROP_ACTIVE_SOURCES]);
  publish_piece_map (self);
  g_object_thaw_notify (G_OBJECT (self));

  _atlas_download_persist (self);
  if (self->state == ATLAS_DOWNLOAD_ACTIVE)
    {
      _atlas_download_schedule (self);
      if (self->connections->len == 0 && !self->finalizing && !self->revalidating
          && !(self->partial && atlas_scheduler_is_complete (self->scheduler)))
        {
          gboolean any_usable = FALSE;
          gboolean any_waiting = FALSE;

          for (guint i = 0; i < self->sources->len; i++)
            {
              Source *source = g_ptr_array_index (self->sources, i);
              any_usable |=
                  source->state != ATLAS_SOURCE_DROPPED && source->state != ATLAS_SOURCE_BANNED;
              any_waiting |= source->state == ATLAS_SOURCE_BACKING_OFF;
            }
          if (any_usable && !any_waiting && self->scheduler != NULL
              && atlas_scheduler_forgive (self->scheduler))
            {
              /* Nobody may fetch what is left: only sources that once sent a
               * bad copy of it remain. One more chance each; a second bad
               * piece bans a source, so this cannot go round forever. */
              _atlas_download_log (self, G_LOG_LEVEL_MESSAGE,
                                   "Only mirrors that sent a bad copy of the remaining pieces are "
                                   "left; asking them again");
              _atlas_download_schedule (self);
            }
          else if (!any_usable)
            {
              g_autoptr (GString) message = g_string_new ("Every source failed: ");
              for (guint i = 0; i < self->sources->len; i++)
                {
                  Source *source = g_ptr_array_index (self->sources, i);
                  g_string_append_printf (message, "%s%s: %s", i ? "; " : "", source->url,
                                          source->last_error ? source->last_error : "unknown");
                }
              g_string_append (message, ". Add another mirror or retry later");
              _atlas_download_fail (self, ATLAS_ERROR_NO_SOURCES, message->str);
            }
        }
    }
}

/* ---- public API -------------------------------------------------------- */

guint64
atlas_download_get_id (AtlasDownload *self)
{
  return self->id;
}
const char *
atlas_download_get_name (AtlasDownload *self)
{
  return self->name;
}
const char *
atlas_download_get_path (AtlasDownload *self)
{
  return self->path;
}
AtlasDownloadState
atlas_download_get_state (AtlasDownload *self)
{
  return self->state;
}
gint64
atlas_download_get_size (AtlasDownload *self)
{
  return self->size;
}
guint64
atlas_download_get_completed_bytes (AtlasDownload *self)
{
  return self->completed_bytes;
}
guint64
atlas_download_get_speed (AtlasDownload *self)
{
  return self->speed;
}
gint64
atlas_download_get_eta (AtlasDownload *self)
{
  return self->eta;
}
const char *
atlas_download_get_error_message (AtlasDownload *self)
{
  return self->error_message;
}
int
atlas_download_get_error_code (AtlasDownload *self)
{
  return self->error_code;
}
guint
atlas_download_get_n_pieces (AtlasDownload *self)
{
  return self->n_pieces;
}
guint64
atlas_download_get_piece_length (AtlasDownload *self)
{
  return self->piece_length;
}
guint
atlas_download_get_active_sources (AtlasDownload *self)
{
  return self->active_sources;
}

GListModel *
atlas_download_get_sources (AtlasDownload *self)
{
  return G_LIST_MODEL (self->source_views);
}

GBytes *
atlas_download_get_piece_states (AtlasDownload *self)
{
  return g_bytes_new (self->piece_states, self->n_pieces);
}

GBytes *
atlas_download_get_piece_sources (AtlasDownload *self)
{
  return g_bytes_new (self->piece_sources, self->n_pieces * sizeof (guint16));
}

GArray *
atlas_download_get_checksums (AtlasDownload *self)
{
  return atlas_request_get_checksums (self->request);
}

GStrv
atlas_download_get_log (AtlasDownload *self)
{
  GStrv lines = g_new0 (char *, self->log->len + 1);

  for (guint i = 0; i < self->log->len; i++)
    lines[i] = g_strdup (g_ptr_array_index (self->log, i));
  return lines;
}

void
atlas_download_pause (AtlasDownload *self)
{
  if (self->state == ATLAS_DOWNLOAD_ACTIVE)
    _atlas_download_deactivate (self, ATLAS_DOWNLOAD_PAUSED);
  else if (self->state == ATLAS_DOWNLOAD_QUEUED)
    _atlas_download_set_state (self, ATLAS_DOWNLOAD_PAUSED, NULL);
}

void
atlas_download_resume (AtlasDownload *self)
{
  if (self->state != ATLAS_DOWNLOAD_PAUSED && self->state != ATLAS_DOWNLOAD_FAILED)
    return;
  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);
      /* A retry forgives transient give-ups, never a ban for bad data. */
      if (source->state == ATLAS_SOURCE_DROPPED)
        source->state = ATLAS_SOURCE_IDLE;
    }
  _atlas_download_set_state (self, ATLAS_DOWNLOAD_QUEUED, NULL);
}
