/* atlas-donor-figures.c — what the user sees of the donor: storage, upload,
 * this month's spending, and one AtlasDonorCause per file held.
 *
 * Properties are notified from the donor's once-a-second tick, so a donation
 * page redraws once a second however busy the swarm is; the getters read
 * the live counters, so a script that samples faster still sees the truth.
 */
#include "atlas-donor-internal.h"

#include "atlas-download-private.h"
#include "atlas-session-private.h"

static AtlasDonorCause *
find_cause (AtlasDonor *self, const char *entry)
{
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->causes)); i++)
    {
      g_autoptr (AtlasDonorCause) cause = g_list_model_get_item (G_LIST_MODEL (self->causes), i);

      if (g_strcmp0 (atlas_donor_cause_get_entry (cause), entry) == 0)
        return cause; /* the list keeps it */
    }
  return NULL;
}

static void
set_figure (AtlasDonor *self, guint64 *field, guint64 value, AtlasDonorProperty prop)
{
  if (*field == value)
    return;
  *field = value;
  _atlas_donor_notify (self, prop);
}

void
_atlas_donor_update_figures (AtlasDonor *self)
{
  g_autoptr (GHashTable) held = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint64 stored = 0;
  guint helped = 0;
  guint64 helped64;

  g_object_freeze_notify (G_OBJECT (self));
  if (self->session != NULL)
    for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->session)); i++)
      {
        g_autoptr (AtlasDownload) download =
            g_list_model_get_item (G_LIST_MODEL (self->session), i);
        g_autofree char *hex = _atlas_donor_download_entry (download, NULL);
        AtlasDonorTarget *target = hex != NULL ? g_hash_table_lookup (self->targets, hex) : NULL;
        guint64 bytes = atlas_download_get_stored_bytes (download);
        guint peers = atlas_download_get_n_peers_served (download);
        AtlasDonorCause *cause;

        stored += bytes;
        helped += peers;
        if (hex == NULL)
          continue;
        cause = find_cause (self, hex);
        if (cause == NULL)
          {
            g_autoptr (AtlasDonorCause) fresh =
                _atlas_donor_cause_new (hex, target != NULL ? target->assignment->name
                                                            : atlas_download_get_name (download));
            g_list_store_append (self->causes, fresh);
            cause = fresh;
          }
        _atlas_donor_cause_update (cause, bytes, atlas_download_get_bytes_to_peers (download),
                                   peers);
        g_hash_table_add (held, g_steal_pointer (&hex));
      }
  for (guint i = g_list_model_get_n_items (G_LIST_MODEL (self->causes)); i-- > 0;)
    {
      g_autoptr (AtlasDonorCause) cause = g_list_model_get_item (G_LIST_MODEL (self->causes), i);

      if (!g_hash_table_contains (held, atlas_donor_cause_get_entry (cause)))
        g_list_store_remove (self->causes, i);
    }

  set_figure (self, &self->storage_used, stored, ATLAS_DONOR_PROP_STORAGE_USED);
  set_figure (self, &self->bytes_served,
              self->swarm != NULL ? atlas_swarm_get_bytes_uploaded (self->swarm) : 0,
              ATLAS_DONOR_PROP_BYTES_SERVED);
  helped64 = self->downloads_helped;
  set_figure (self, &helped64, helped, ATLAS_DONOR_PROP_DOWNLOADS_HELPED);
  self->downloads_helped = (guint) helped64;
  _atlas_donor_notify (self, ATLAS_DONOR_PROP_UPLOAD_RATE);
  _atlas_donor_notify (self, ATLAS_DONOR_PROP_UPLOADED_THIS_MONTH);
  _atlas_donor_notify (self, ATLAS_DONOR_PROP_FETCHED_THIS_MONTH);
  g_object_thaw_notify (G_OBJECT (self));
}

AtlasDonorPauseReason
atlas_donor_get_pause_reason (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), ATLAS_DONOR_PAUSE_NONE);
  return self->reason;
}

const char *
atlas_donor_get_pause_text (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), NULL);
  switch (self->reason)
    {
    case ATLAS_DONOR_PAUSE_NONE:
      return "donating";
    case ATLAS_DONOR_PAUSE_DISABLED:
      return "paused: donation is turned off";
    case ATLAS_DONOR_PAUSE_METERED:
      return "paused: the network is metered";
    case ATLAS_DONOR_PAUSE_POWER_SAVER:
      return "paused: power saver is on";
    case ATLAS_DONOR_PAUSE_BUDGET:
      return "paused: this month's budget is spent";
    case ATLAS_DONOR_PAUSE_OFFLINE:
      return "paused: not connected to the tracker";
    }
  return "paused";
}

guint64
atlas_donor_get_storage_used (AtlasDonor *self)
{
  guint64 stored = 0;

  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  if (self->session == NULL)
    return self->storage_used;
  /* Live: the property is notified once a second, but a lowered cap shows
   * at once. */
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->session)); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (G_LIST_MODEL (self->session), i);

      stored += atlas_download_get_stored_bytes (download);
    }
  return stored;
}

guint64
atlas_donor_get_storage_cap (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  return self->storage_cap;
}

guint64
atlas_donor_get_upload_cap (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  return self->upload_cap;
}

guint64
atlas_donor_get_monthly_budget (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  return self->budget;
}

guint64
atlas_donor_get_upload_rate (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  return self->upload_rate;
}

guint64
atlas_donor_get_uploaded_this_month (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  if (self->swarm != NULL)
    return self->ledger.uploaded + atlas_swarm_get_bytes_uploaded (self->swarm)
           - self->last_uploaded;
  return self->ledger.uploaded;
}

guint64
atlas_donor_get_fetched_this_month (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  if (self->session != NULL)
    return self->ledger.fetched + _atlas_session_get_limiter (self->session)->total
           - self->last_fetched;
  return self->ledger.fetched;
}

guint64
atlas_donor_get_bytes_served (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  if (self->swarm != NULL)
    return atlas_swarm_get_bytes_uploaded (self->swarm);
  return self->bytes_served;
}

guint
atlas_donor_get_downloads_helped (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), 0);
  return self->downloads_helped;
}

GListModel *
atlas_donor_get_causes (AtlasDonor *self)
{
  g_return_val_if_fail (ATLAS_IS_DONOR (self), NULL);
  return G_LIST_MODEL (self->causes);
}
