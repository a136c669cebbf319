#include "atlas-types.h"

const char *
atlas_download_state_to_string (AtlasDownloadState state)
{
  switch (state)
    {
    case ATLAS_DOWNLOAD_QUEUED:
      return "queued";
    case ATLAS_DOWNLOAD_ACTIVE:
      return "active";
    case ATLAS_DOWNLOAD_PAUSED:
      return "paused";
    case ATLAS_DOWNLOAD_VERIFYING:
      return "verifying";
    case ATLAS_DOWNLOAD_COMPLETE:
      return "complete";
    case ATLAS_DOWNLOAD_FAILED:
      return "failed";
    default:
      return "unknown";
    }
}

const char *
atlas_source_state_to_string (AtlasSourceState state)
{
  switch (state)
    {
    case ATLAS_SOURCE_IDLE:
      return "idle";
    case ATLAS_SOURCE_CONNECTING:
      return "connecting";
    case ATLAS_SOURCE_ACTIVE:
      return "active";
    case ATLAS_SOURCE_BACKING_OFF:
      return "backing-off";
    case ATLAS_SOURCE_DROPPED:
      return "dropped";
    case ATLAS_SOURCE_BANNED:
      return "banned";
    default:
      return "unknown";
    }
}
