/* atlas-types.h — public enums of libatlas, registered as GTypes by mkenums. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  ATLAS_DOWNLOAD_QUEUED,    /* waiting for a free slot */
  ATLAS_DOWNLOAD_ACTIVE,    /* transferring */
  ATLAS_DOWNLOAD_PAUSED,    /* stopped by the user; keeps its pieces */
  ATLAS_DOWNLOAD_VERIFYING, /* all bytes are here, the whole-file hash is running */
  ATLAS_DOWNLOAD_COMPLETE,  /* every expected hash matched; the file is at its path */
  ATLAS_DOWNLOAD_FAILED,    /* see AtlasDownload:error-message */
} AtlasDownloadState;

typedef enum
{
  ATLAS_PIECE_MISSING,
  ATLAS_PIECE_ACTIVE,   /* being received */
  ATLAS_PIECE_WRITTEN,  /* all bytes on disk, not yet verified or synced */
  ATLAS_PIECE_VERIFIED, /* hash matched and bytes durable */
  ATLAS_PIECE_BAD,      /* hash mismatched; will be fetched again */
} AtlasPieceState;

typedef enum
{
  ATLAS_SOURCE_IDLE,
  ATLAS_SOURCE_CONNECTING,
  ATLAS_SOURCE_ACTIVE,
  ATLAS_SOURCE_BACKING_OFF, /* failed; retried after a delay */
  ATLAS_SOURCE_DROPPED,     /* rejected for a protocol violation or a lie */
  ATLAS_SOURCE_BANNED,      /* delivered bad pieces repeatedly */
} AtlasSourceState;

const char *atlas_download_state_to_string (AtlasDownloadState state);
const char *atlas_source_state_to_string (AtlasSourceState state);

G_END_DECLS
