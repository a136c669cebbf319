/* atlas-app-secrets.h — the app's few secrets (the tracker token, the TURN
 * password), kept out of GSettings.
 *
 * GSettings values are readable by every program of the user and end up in
 * backups and `gsettings list-recursively`; libsecret is not among the
 * project's dependencies. So each secret is one file in
 * $XDG_CONFIG_HOME/download-atlas (the directory 0700, the file 0600),
 * written atomically. "changed" (detailed by the secret's name) tells the
 * swarm controller to pick up a new value.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define ATLAS_SECRET_TRACKER_TOKEN "tracker-token"
#define ATLAS_SECRET_TURN_PASSWORD "turn-password"

#define ATLAS_TYPE_APP_SECRETS (atlas_app_secrets_get_type ())
G_DECLARE_FINAL_TYPE (AtlasAppSecrets, atlas_app_secrets, ATLAS, APP_SECRETS, GObject)

/* The process-wide instance (not thread-safe; main thread only). */
AtlasAppSecrets *atlas_app_secrets_get_default (void);

/* Where the secret @name is kept (newly allocated). */
char *atlas_app_secrets_get_path (const char *name);

/* The secret's value without surrounding white space, or NULL when it is not
 * set or its file cannot be read. */
char *atlas_app_secrets_lookup (AtlasAppSecrets *self, const char *name);

/* Stores @value (NULL or empty removes the secret) and emits "changed" when
 * the value differs. FALSE with ATLAS_ERROR_IO when the file cannot be
 * written. */
gboolean atlas_app_secrets_store (AtlasAppSecrets *self, const char *name, const char *value,
                                  GError **error);

G_END_DECLS
