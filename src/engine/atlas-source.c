#include "atlas-source-private.h"
#include "atlas-notify-private.h"

#include "atlas-enums.h"

struct _AtlasSource
{
  GObject parent_instance;

  char *url;
  char *host;
  guint priority;
  char *location;
  AtlasSourceState state;
  guint64 speed;
  guint64 bytes_received;
  guint connections;
  guint errors;
  guint bad_pieces;
  char *last_error;
};

G_DEFINE_FINAL_TYPE (AtlasSource, atlas_source, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_URL,
  PROP_HOST,
  PROP_STATE,
  PROP_PRIORITY,
  PROP_LOCATION,
  PROP_SPEED,
  PROP_BYTES_RECEIVED,
  PROP_CONNECTIONS,
  PROP_ERRORS,
  PROP_BAD_PIECES,
  PROP_LAST_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
atlas_source_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasSource *self = ATLAS_SOURCE (object);

  switch (prop_id)
    {
    case PROP_URL:
      g_value_set_string (value, self->url);
      break;
    case PROP_HOST:
      g_value_set_string (value, self->host);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_PRIORITY:
      g_value_set_uint (value, self->priority);
      break;
    case PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    case PROP_SPEED:
      g_value_set_uint64 (value, self->speed);
      break;
    case PROP_BYTES_RECEIVED:
      g_value_set_uint64 (value, self->bytes_received);
      break;
    case PROP_CONNECTIONS:
      g_value_set_uint (value, self->connections);
      break;
    case PROP_ERRORS:
      g_value_set_uint (value, self->errors);
      break;
    case PROP_BAD_PIECES:
      g_value_set_uint (value, self->bad_pieces);
      break;
    case PROP_LAST_ERROR:
      g_value_set_string (value, self->last_error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_source_finalize (GObject *object)
{
  AtlasSource *self = ATLAS_SOURCE (object);

  g_free (self->url);
  g_free (self->host);
  g_free (self->location);
  g_free (self->last_error);
  G_OBJECT_CLASS (atlas_source_parent_class)->finalize (object);
}

static void
atlas_source_class_init (AtlasSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = atlas_source_get_property;
  object_class->finalize = atlas_source_finalize;

  properties[PROP_URL] = g_param_spec_string ("url", NULL, NULL, NULL, flags);
  properties[PROP_HOST] = g_param_spec_string ("host", NULL, NULL, NULL, flags);
  properties[PROP_STATE] =
      g_param_spec_enum ("state", NULL, NULL, ATLAS_TYPE_SOURCE_STATE, ATLAS_SOURCE_IDLE, flags);
  properties[PROP_PRIORITY] = g_param_spec_uint ("priority", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_LOCATION] = g_param_spec_string ("location", NULL, NULL, NULL, flags);
  properties[PROP_SPEED] = g_param_spec_uint64 ("speed", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_BYTES_RECEIVED] =
      g_param_spec_uint64 ("bytes-received", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_CONNECTIONS] =
      g_param_spec_uint ("connections", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_ERRORS] = g_param_spec_uint ("errors", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_BAD_PIECES] =
      g_param_spec_uint ("bad-pieces", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_LAST_ERROR] = g_param_spec_string ("last-error", NULL, NULL, NULL, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
atlas_source_init (AtlasSource *self)
{
}

AtlasSource *
_atlas_source_new (const char *url, const char *host, guint priority, const char *location)
{
  AtlasSource *self = g_object_new (ATLAS_TYPE_SOURCE, NULL);

  self->url = g_strdup (url);
  self->host = g_strdup (host);
  self->priority = priority;
  self->location = g_strdup (location);
  return self;
}

void
_atlas_source_publish (AtlasSource *self, AtlasSourceState state, guint64 speed,
                       guint64 bytes_received, guint connections, guint errors, guint bad_pieces,
                       const char *last_error)
{
  g_object_freeze_notify (G_OBJECT (self));
  ATLAS_PUBLISH (self, state, state, properties[PROP_STATE]);
  ATLAS_PUBLISH (self, speed, speed, properties[PROP_SPEED]);
  ATLAS_PUBLISH (self, bytes_received, bytes_received, properties[PROP_BYTES_RECEIVED]);
  ATLAS_PUBLISH (self, connections, connections, properties[PROP_CONNECTIONS]);
  ATLAS_PUBLISH (self, errors, errors, properties[PROP_ERRORS]);
  ATLAS_PUBLISH (self, bad_pieces, bad_pieces, properties[PROP_BAD_PIECES]);
  if (g_strcmp0 (self->last_error, last_error) != 0)
    {
      g_free (self->last_error);
      self->last_error = g_strdup (last_error);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ERROR]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

const char *
atlas_source_get_url (AtlasSource *self)
{
  return self->url;
}
const char *
atlas_source_get_host (AtlasSource *self)
{
  return self->host;
}
AtlasSourceState
atlas_source_get_state (AtlasSource *self)
{
  return self->state;
}
guint
atlas_source_get_priority (AtlasSource *self)
{
  return self->priority;
}
const char *
atlas_source_get_location (AtlasSource *self)
{
  return self->location;
}
guint64
atlas_source_get_speed (AtlasSource *self)
{
  return self->speed;
}
guint64
atlas_source_get_bytes_received (AtlasSource *self)
{
  return self->bytes_received;
}
guint
atlas_source_get_connections (AtlasSource *self)
{
  return self->connections;
}
guint
atlas_source_get_errors (AtlasSource *self)
{
  return self->errors;
}
guint
atlas_source_get_bad_pieces (AtlasSource *self)
{
  return self->bad_pieces;
}
const char *
atlas_source_get_last_error (AtlasSource *self)
{
  return self->last_error;
}
