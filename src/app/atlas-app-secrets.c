/* atlas-app-secrets.c — secrets in private files; see the header for why. */
#include "atlas-app-secrets.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#include "atlas.h"

struct _AtlasAppSecrets
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (AtlasAppSecrets, atlas_app_secrets, G_TYPE_OBJECT)

enum
{
  CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
atlas_app_secrets_class_init (AtlasAppSecretsClass *klass)
{
  signals[CHANGED] =
      g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED, 0,
                    NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
atlas_app_secrets_init (AtlasAppSecrets *self)
{
}

AtlasAppSecrets *
atlas_app_secrets_get_default (void)
{
  static AtlasAppSecrets *instance;

  if (instance == NULL)
    instance = g_object_new (ATLAS_TYPE_APP_SECRETS, NULL);
  return instance;
}

char *
atlas_app_secrets_get_path (const char *name)
{
  g_return_val_if_fail (name != NULL && strchr (name, '/') == NULL, NULL);

  return g_build_filename (g_get_user_config_dir (), "download-atlas", name, NULL);
}

char *
atlas_app_secrets_lookup (AtlasAppSecrets *self, const char *name)
{
  g_autofree char *path = atlas_app_secrets_get_path (name);
  g_autofree char *contents = NULL;

  g_return_val_if_fail (ATLAS_IS_APP_SECRETS (self), NULL);

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  g_strstrip (contents);
  if (*contents == '\0')
    return NULL;
  return g_steal_pointer (&contents);
}

gboolean
atlas_app_secrets_store (AtlasAppSecrets *self, const char *name, const char *value, GError **error)
{
  g_autofree char *path = atlas_app_secrets_get_path (name);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *old = atlas_app_secrets_lookup (self, name);
  g_autofree char *stripped = g_strstrip (g_strdup (value != NULL ? value : ""));
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (ATLAS_IS_APP_SECRETS (self), FALSE);

  if (g_strcmp0 (old, *stripped != '\0' ? stripped : NULL) == 0)
    return TRUE;
  if (*stripped == '\0')
    {
      if (g_unlink (path) != 0 && errno != ENOENT)
        {
          int saved = errno;
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_IO, "cannot remove %s: %s", path,
                       g_strerror (saved));
          return FALSE;
        }
    }
  else
    {
      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          int saved = errno;
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_IO, "cannot create %s: %s", dir,
                       g_strerror (saved));
          return FALSE;
        }
      /* The temporary file is made with the final mode, so the secret is
       * never readable by others, not even for a moment. */
      if (!g_file_set_contents_full (path, stripped, -1,
                                     G_FILE_SET_CONTENTS_CONSISTENT
                                         | G_FILE_SET_CONTENTS_ONLY_EXISTING,
                                     0600, &local_error))
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_IO, "cannot write %s: %s", path,
                       local_error->message);
          return FALSE;
        }
    }
  g_signal_emit (self, signals[CHANGED], g_quark_from_string (name), name);
  return TRUE;
}
