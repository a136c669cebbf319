/* atlas-settings.h — the engine's tunables as a plain GObject.
 *
 * The app binds GSettings onto these properties and the CLI sets them from
 * flags, so engine tests need no schemas. Changes apply live.
 *
 * Properties:
 *   download-directory            char*   where files land (default: XDG download dir)
 *   max-concurrent-downloads      guint   downloads transferring at once (default 3)
 *   max-connections-per-server    guint   per host:port, across downloads (default 4)
 *   max-connections-per-download  guint   (default 8)
 *   global-speed-limit            guint64 bytes/s for all downloads, 0 = unlimited
 *   ca-file                       char*   extra CA bundle (tests); verification stays on
 *   user-agent                    char*
 *   stall-timeout                 guint   seconds without bytes before a source loses its range
 * (default 10) max-retries                   guint   retries per source before it is given up
 * (default 4)
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define ATLAS_TYPE_SETTINGS (atlas_settings_get_type ())
G_DECLARE_FINAL_TYPE (AtlasSettings, atlas_settings, ATLAS, SETTINGS, GObject)

AtlasSettings *atlas_settings_new (void);

const char *atlas_settings_get_download_directory (AtlasSettings *self);
void atlas_settings_set_download_directory (AtlasSettings *self, const char *path);
guint atlas_settings_get_max_concurrent_downloads (AtlasSettings *self);
void atlas_settings_set_max_concurrent_downloads (AtlasSettings *self, guint value);
guint atlas_settings_get_max_connections_per_server (AtlasSettings *self);
void atlas_settings_set_max_connections_per_server (AtlasSettings *self, guint value);
guint atlas_settings_get_max_connections_per_download (AtlasSettings *self);
void atlas_settings_set_max_connections_per_download (AtlasSettings *self, guint value);
guint64 atlas_settings_get_global_speed_limit (AtlasSettings *self);
void atlas_settings_set_global_speed_limit (AtlasSettings *self, guint64 bytes_per_second);
const char *atlas_settings_get_ca_file (AtlasSettings *self);
void atlas_settings_set_ca_file (AtlasSettings *self, const char *path);
const char *atlas_settings_get_user_agent (AtlasSettings *self);
guint atlas_settings_get_stall_timeout (AtlasSettings *self);
void atlas_settings_set_stall_timeout (AtlasSettings *self, guint seconds);
guint atlas_settings_get_max_retries (AtlasSettings *self);
void atlas_settings_set_max_retries (AtlasSettings *self, guint value);

G_END_DECLS
