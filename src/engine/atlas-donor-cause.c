/* atlas-donor-cause.c — one file of the donation cache and what it did. */
#include "atlas-donor-private.h"

struct _AtlasDonorCause
{
  GObject parent_instance;

  char *entry;
  char *name;
  guint64 storage_used;
  guint64 bytes_served;
  guint peers_helped;
};

G_DEFINE_FINAL_TYPE (AtlasDonorCause, atlas_donor_cause, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ENTRY,
  PROP_NAME,
  PROP_STORAGE_USED,
  PROP_BYTES_SERVED,
  PROP_PEERS_HELPED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
atlas_donor_cause_finalize (GObject *object)
{
  AtlasDonorCause *self = ATLAS_DONOR_CAUSE (object);

  g_free (self->entry);
  g_free (self->name);
  G_OBJECT_CLASS (atlas_donor_cause_parent_class)->finalize (object);
}

static void
atlas_donor_cause_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasDonorCause *self = ATLAS_DONOR_CAUSE (object);

  switch (prop_id)
    {
    case PROP_ENTRY:
      g_value_set_string (value, self->entry);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_STORAGE_USED:
      g_value_set_uint64 (value, self->storage_used);
      break;
    case PROP_BYTES_SERVED:
      g_value_set_uint64 (value, self->bytes_served);
      break;
    case PROP_PEERS_HELPED:
      g_value_set_uint (value, self->peers_helped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_donor_cause_class_init (AtlasDonorCauseClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = atlas_donor_cause_finalize;
  object_class->get_property = atlas_donor_cause_get_property;

  properties[PROP_ENTRY] = g_param_spec_string ("entry", NULL, NULL, NULL, flags);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PROP_STORAGE_USED] =
      g_param_spec_uint64 ("storage-used", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_BYTES_SERVED] =
      g_param_spec_uint64 ("bytes-served", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_PEERS_HELPED] =
      g_param_spec_uint ("peers-helped", NULL, NULL, 0, G_MAXUINT, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
atlas_donor_cause_init (AtlasDonorCause *self)
{
}

AtlasDonorCause *
_atlas_donor_cause_new (const char *entry, const char *name)
{
  AtlasDonorCause *self = g_object_new (ATLAS_TYPE_DONOR_CAUSE, NULL);

  self->entry = g_strdup (entry);
  self->name = g_strdup (name);
  return self;
}

void
_atlas_donor_cause_update (AtlasDonorCause *self, guint64 storage_used, guint64 bytes_served,
                           guint peers_helped)
{
  g_object_freeze_notify (G_OBJECT (self));
  if (self->storage_used != storage_used)
    {
      self->storage_used = storage_used;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STORAGE_USED]);
    }
  if (self->bytes_served != bytes_served)
    {
      self->bytes_served = bytes_served;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_SERVED]);
    }
  if (self->peers_helped != peers_helped)
    {
      self->peers_helped = peers_helped;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEERS_HELPED]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

const char *
atlas_donor_cause_get_entry (AtlasDonorCause *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR_CAUSE (self), NULL);
  return self->entry;
}

const char *
atlas_donor_cause_get_name (AtlasDonorCause *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR_CAUSE (self), NULL);
  return self->name;
}

guint64
atlas_donor_cause_get_storage_used (AtlasDonorCause *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR_CAUSE (self), 0);
  return self->storage_used;
}

guint64
atlas_donor_cause_get_bytes_served (AtlasDonorCause *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR_CAUSE (self), 0);
  return self->bytes_served;
}

guint
atlas_donor_cause_get_peers_helped (AtlasDonorCause *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR_CAUSE (self), 0);
  return self->peers_helped;
}
