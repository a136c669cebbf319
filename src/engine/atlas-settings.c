#include "atlas-config.h"
#include "atlas-settings.h"

struct _AtlasSettings
{
  GObject parent_instance;

  char *download_directory;
  guint max_concurrent_downloads;
  guint max_connections_per_server;
  guint max_connections_per_download;
  guint64 global_speed_limit;
  char *ca_file;
  char *user_agent;
  guint stall_timeout;
  guint max_retries;
};

G_DEFINE_FINAL_TYPE (AtlasSettings, atlas_settings, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_DOWNLOAD_DIRECTORY,
  PROP_MAX_CONCURRENT_DOWNLOADS,
  PROP_MAX_CONNECTIONS_PER_SERVER,
  PROP_MAX_CONNECTIONS_PER_DOWNLOAD,
  PROP_GLOBAL_SPEED_LIMIT,
  PROP_CA_FILE,
  PROP_USER_AGENT,
  PROP_STALL_TIMEOUT,
  PROP_MAX_RETRIES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
set_string (AtlasSettings *self, char **field, const char *value, int prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_uint (AtlasSettings *self, guint *field, guint value, int prop)
{
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
atlas_settings_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasSettings *self = ATLAS_SETTINGS (object);

  switch (prop_id)
    {
    case PROP_DOWNLOAD_DIRECTORY:
      g_value_set_string (value, self->download_directory);
      break;
    case PROP_MAX_CONCURRENT_DOWNLOADS:
      g_value_set_uint (value, self->max_concurrent_downloads);
      break;
    case PROP_MAX_CONNECTIONS_PER_SERVER:
      g_value_set_uint (value, self->max_connections_per_server);
      break;
    case PROP_MAX_CONNECTIONS_PER_DOWNLOAD:
      g_value_set_uint (value, self->max_connections_per_download);
      break;
    case PROP_GLOBAL_SPEED_LIMIT:
      g_value_set_uint64 (value, self->global_speed_limit);
      break;
    case PROP_CA_FILE:
      g_value_set_string (value, self->ca_file);
      break;
    case PROP_USER_AGENT:
      g_value_set_string (value, self->user_agent);
      break;
    case PROP_STALL_TIMEOUT:
      g_value_set_uint (value, self->stall_timeout);
      break;
    case PROP_MAX_RETRIES:
      g_value_set_uint (value, self->max_retries);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_settings_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  AtlasSettings *self = ATLAS_SETTINGS (object);

  switch (prop_id)
    {
    case PROP_DOWNLOAD_DIRECTORY:
      atlas_settings_set_download_directory (self, g_value_get_string (value));
      break;
    case PROP_MAX_CONCURRENT_DOWNLOADS:
      atlas_settings_set_max_concurrent_downloads (self, g_value_get_uint (value));
      break;
    case PROP_MAX_CONNECTIONS_PER_SERVER:
      atlas_settings_set_max_connections_per_server (self, g_value_get_uint (value));
      break;
    case PROP_MAX_CONNECTIONS_PER_DOWNLOAD:
      atlas_settings_set_max_connections_per_download (self, g_value_get_uint (value));
      break;
    case PROP_GLOBAL_SPEED_LIMIT:
      atlas_settings_set_global_speed_limit (self, g_value_get_uint64 (value));
      break;
    case PROP_CA_FILE:
      atlas_settings_set_ca_file (self, g_value_get_string (value));
      break;
    case PROP_USER_AGENT:
      set_string (self, &self->user_agent, g_value_get_string (value), PROP_USER_AGENT);
      break;
    case PROP_STALL_TIMEOUT:
      atlas_settings_set_stall_timeout (self, g_value_get_uint (value));
      break;
    case PROP_MAX_RETRIES:
      atlas_settings_set_max_retries (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_settings_finalize (GObject *object)
{
  AtlasSettings *self = ATLAS_SETTINGS (object);

  g_free (self->download_directory);
  g_free (self->ca_file);
  g_free (self->user_agent);
  G_OBJECT_CLASS (atlas_settings_parent_class)->finalize (object);
}

static void
atlas_settings_class_init (AtlasSettingsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = atlas_settings_get_property;
  object_class->set_property = atlas_settings_set_property;
  object_class->finalize = atlas_settings_finalize;

  properties[PROP_DOWNLOAD_DIRECTORY] =
      g_param_spec_string ("download-directory", NULL, NULL, NULL, flags);
  properties[PROP_MAX_CONCURRENT_DOWNLOADS] =
      g_param_spec_uint ("max-concurrent-downloads", NULL, NULL, 1, 1000, 3, flags);
  properties[PROP_MAX_CONNECTIONS_PER_SERVER] =
      g_param_spec_uint ("max-connections-per-server", NULL, NULL, 1, 64, 4, flags);
  properties[PROP_MAX_CONNECTIONS_PER_DOWNLOAD] =
      g_param_spec_uint ("max-connections-per-download", NULL, NULL, 1, 256, 8, flags);
  properties[PROP_GLOBAL_SPEED_LIMIT] =
      g_param_spec_uint64 ("global-speed-limit", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_CA_FILE] = g_param_spec_string ("ca-file", NULL, NULL, NULL, flags);
  properties[PROP_USER_AGENT] = g_param_spec_string ("user-agent", NULL, NULL, NULL, flags);
  properties[PROP_STALL_TIMEOUT] =
      g_param_spec_uint ("stall-timeout", NULL, NULL, 1, 3600, 10, flags);
  properties[PROP_MAX_RETRIES] = g_param_spec_uint ("max-retries", NULL, NULL, 0, 1000, 4, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
atlas_settings_init (AtlasSettings *self)
{
  const char *downloads = g_get_user_special_dir (G_USER_DIRECTORY_DOWNLOAD);

  self->download_directory = g_strdup (downloads != NULL ? downloads : g_get_home_dir ());
  self->max_concurrent_downloads = 3;
  self->max_connections_per_server = 4;
  self->max_connections_per_download = 8;
  self->user_agent = g_strdup ("DownloadAtlas/" PACKAGE_VERSION);
  self->stall_timeout = 10;
  self->max_retries = 4;
}

AtlasSettings *
atlas_settings_new (void)
{
  return g_object_new (ATLAS_TYPE_SETTINGS, NULL);
}

const char *
atlas_settings_get_download_directory (AtlasSettings *self)
{
  return self->download_directory;
}

void
atlas_settings_set_download_directory (AtlasSettings *self, const char *path)
{
  set_string (self, &self->download_directory, path, PROP_DOWNLOAD_DIRECTORY);
}

guint
atlas_settings_get_max_concurrent_downloads (AtlasSettings *self)
{
  return self->max_concurrent_downloads;
}

void
atlas_settings_set_max_concurrent_downloads (AtlasSettings *self, guint value)
{
  set_uint (self, &self->max_concurrent_downloads, MAX (value, 1), PROP_MAX_CONCURRENT_DOWNLOADS);
}

guint
atlas_settings_get_max_connections_per_server (AtlasSettings *self)
{
  return self->max_connections_per_server;
}

void
atlas_settings_set_max_connections_per_server (AtlasSettings *self, guint value)
{
  set_uint (self, &self->max_connections_per_server, MAX (value, 1),
            PROP_MAX_CONNECTIONS_PER_SERVER);
}

guint
atlas_settings_get_max_connections_per_download (AtlasSettings *self)
{
  return self->max_connections_per_download;
}

void
atlas_settings_set_max_connections_per_download (AtlasSettings *self, guint value)
{
  set_uint (self, &self->max_connections_per_download, MAX (value, 1),
            PROP_MAX_CONNECTIONS_PER_DOWNLOAD);
}

guint64
atlas_settings_get_global_speed_limit (AtlasSettings *self)
{
  return self->global_speed_limit;
}

void
atlas_settings_set_global_speed_limit (AtlasSettings *self, guint64 bytes_per_second)
{
  if (self->global_speed_limit == bytes_per_second)
    return;
  self->global_speed_limit = bytes_per_second;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_GLOBAL_SPEED_LIMIT]);
}

const char *
atlas_settings_get_ca_file (AtlasSettings *self)
{
  return self->ca_file;
}

void
atlas_settings_set_ca_file (AtlasSettings *self, const char *path)
{
  set_string (self, &self->ca_file, path, PROP_CA_FILE);
}

const char *
atlas_settings_get_user_agent (AtlasSettings *self)
{
  return self->user_agent;
}

guint
atlas_settings_get_stall_timeout (AtlasSettings *self)
{
  return self->stall_timeout;
}

void
atlas_settings_set_stall_timeout (AtlasSettings *self, guint seconds)
{
  set_uint (self, &self->stall_timeout, MAX (seconds, 1), PROP_STALL_TIMEOUT);
}

guint
atlas_settings_get_max_retries (AtlasSettings *self)
{
  return self->max_retries;
}

void
atlas_settings_set_max_retries (AtlasSettings *self, guint value)
{
  set_uint (self, &self->max_retries, value, PROP_MAX_RETRIES);
}
