#pragma once

#include "atlas-curl-driver.h"
#include "atlas-rate-limiter.h"
#include "atlas-session.h"
#include "atlas-store.h"

G_BEGIN_DECLS

AtlasCurlDriver *_atlas_session_get_driver (AtlasSession *self);
AtlasStore *_atlas_session_get_store (AtlasSession *self);
AtlasRateLimiter *_atlas_session_get_limiter (AtlasSession *self);
/* Set while an AtlasSwarm shares this session's downloads: downloads that
 * peers can help start with mirrors spreading their claims (see
 * atlas_download_set_swarming). */
void _atlas_session_set_swarming (AtlasSession *self, gboolean swarming);
gboolean _atlas_session_get_swarming (AtlasSession *self);
GMainContext *_atlas_session_get_context (AtlasSession *self);
/* Per-server connection caps across every download of the session. */
gboolean _atlas_session_acquire_host (AtlasSession *self, const char *host_key);
void _atlas_session_release_host (AtlasSession *self, const char *host_key);
/* A download changed state: the session fills free slots. */
void _atlas_session_download_changed (AtlasSession *self, AtlasDownload *download);
/* Schedules a wake-up of throttled transfers @delay_us from now. */
void _atlas_session_wake_after (AtlasSession *self, gint64 delay_us);

G_END_DECLS
