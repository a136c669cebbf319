/* atlas-download.h — one file being fetched, as the app and CLI see it.
 *
 * Properties (read-only; notified on the session's tick, about 4 times a second,
 * and only when their value changed):
 *   id (guint64), name, path (final path), state (AtlasDownloadState),
 *   size (gint64, -1 unknown), completed-bytes (guint64), speed (guint64 bytes/s),
 *   eta (gint64 seconds, -1 unknown), error-message, n-pieces, piece-length,
 *   active-sources (guint), piece-map-serial (guint, bumps when the map changed).
 *
 * Signals:
 *   log (GLogLevelFlags level, const char *message): a readable account of what
 *   happened (a mirror dropped and why, a bad piece, a retry).
 */
#pragma once

#include <gio/gio.h>

#include "atlas-checksum.h"
#include "atlas-types.h"
#include "atlas-verifier.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_DOWNLOAD (atlas_download_get_type ())
G_DECLARE_FINAL_TYPE (AtlasDownload, atlas_download, ATLAS, DOWNLOAD, GObject)

guint64 atlas_download_get_id (AtlasDownload *self);
const char *atlas_download_get_name (AtlasDownload *self);
const char *atlas_download_get_path (AtlasDownload *self);
AtlasDownloadState atlas_download_get_state (AtlasDownload *self);
gint64 atlas_download_get_size (AtlasDownload *self);
guint64 atlas_download_get_completed_bytes (AtlasDownload *self);
guint64 atlas_download_get_speed (AtlasDownload *self);
gint64 atlas_download_get_eta (AtlasDownload *self);
const char *atlas_download_get_error_message (AtlasDownload *self);
/* The AtlasError code of a failed download (ATLAS_ERROR_FAILED otherwise). */
int atlas_download_get_error_code (AtlasDownload *self);
guint atlas_download_get_n_pieces (AtlasDownload *self);
guint64 atlas_download_get_piece_length (AtlasDownload *self);
guint atlas_download_get_active_sources (AtlasDownload *self);

/* A GListModel of AtlasSource. */
GListModel *atlas_download_get_sources (AtlasDownload *self);
/* One AtlasPieceState byte per piece; a snapshot. */
GBytes *atlas_download_get_piece_states (AtlasDownload *self);
/* For each piece, the index in the sources model of the source that delivered
 * it, or 0xffff if none yet; a snapshot. */
GBytes *atlas_download_get_piece_sources (AtlasDownload *self);
/* Expected whole-file hashes (AtlasChecksum). */
GArray *atlas_download_get_checksums (AtlasDownload *self);
/* The log lines so far, oldest first. */
GStrv atlas_download_get_log (AtlasDownload *self);

/* Bytes received from peers and from mirrors, and sent to peers, this run. */
guint64 atlas_download_get_bytes_from_peers (AtlasDownload *self);
guint64 atlas_download_get_bytes_from_mirrors (AtlasDownload *self);
guint64 atlas_download_get_bytes_to_peers (AtlasDownload *self);

void atlas_download_pause (AtlasDownload *self);
/* Resumes a paused download, or retries a failed one keeping its verified pieces. */
void atlas_download_resume (AtlasDownload *self);

G_END_DECLS
