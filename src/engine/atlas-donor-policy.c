/* atlas-donor-policy.c — when the donor donates, and what the tracker hears.
 *
 * A pause (donation turned off, a metered network, power saver, a spent
 * budget, no tracker) stops fetching and serving: the cache's downloads are
 * paused, so they leave their swarms, and the tracker is told, so it stops
 * counting the donor. A pause keeps the cache: the files stay on disk and
 * assignments that arrive meanwhile are not applied, because the tracker
 * assigns nothing to a paused donor and applying that would throw away
 * pieces the donor will likely be given again (fetching them twice costs
 * the user's bandwidth and the origin's). On resume the downloads rejoin
 * their swarms first and the offer follows, so the tracker's allocation
 * sees the pieces the donor announces and keeps them where still wanted.
 */
#include "atlas-donor-internal.h"

/* Below this much left, the month's budget counts as spent. */
#define BUDGET_SPENT_BELOW (64 * 1024)

static AtlasDonorPauseReason
compute_reason (AtlasDonor *self)
{
  if (!self->enabled)
    return ATLAS_DONOR_PAUSE_DISABLED;
  if (self->budget > 0 && _atlas_donor_budget_left (self) < BUDGET_SPENT_BELOW)
    return ATLAS_DONOR_PAUSE_BUDGET;
  if (self->pause_on_metered && self->metered)
    return ATLAS_DONOR_PAUSE_METERED;
  if (self->pause_on_power_saver && self->power_saver)
    return ATLAS_DONOR_PAUSE_POWER_SAVER;
  if (!atlas_tracker_client_is_connected (self->tracker))
    return ATLAS_DONOR_PAUSE_OFFLINE;
  return ATLAS_DONOR_PAUSE_NONE;
}

void
_atlas_donor_send_offer (AtlasDonor *self)
{
  AtlasDonateOffer offer = {
    .storage = self->storage_cap,
    .upload_rate = self->upload_cap,
    /* Offline is not a choice of ours: the offer stands for when the
     * connection is back. */
    .paused = self->reason != ATLAS_DONOR_PAUSE_NONE && self->reason != ATLAS_DONOR_PAUSE_OFFLINE,
    .anywhere = self->anywhere,
    .entries = self->cause_entries,
    .publishers = self->cause_publishers,
  };

  /* A resumed donor's offer waits for its announces (offer_cb). */
  if (self->started && self->offer_id == 0)
    atlas_tracker_client_donate (self->tracker, &offer);
}

void
_atlas_donor_withdraw_offer (AtlasDonor *self)
{
  g_clear_handle_id (&self->offer_id, g_source_remove);
  atlas_tracker_client_donate (self->tracker, NULL);
}

static gboolean
offer_cb (gpointer data)
{
  AtlasDonor *self = data;

  self->offer_id = 0;
  _atlas_donor_send_offer (self);
  return G_SOURCE_REMOVE;
}

/* Paused downloads leave their swarms: nothing is served or fetched. */
void
_atlas_donor_apply_pause_to_downloads (AtlasDonor *self)
{
  gboolean pause = self->reason != ATLAS_DONOR_PAUSE_NONE;
  GListModel *downloads;

  if (self->session == NULL)
    return;
  downloads = G_LIST_MODEL (self->session);
  for (guint i = 0; i < g_list_model_get_n_items (downloads); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (downloads, i);
      AtlasDownloadState state = atlas_download_get_state (download);

      if (pause && state != ATLAS_DOWNLOAD_PAUSED)
        atlas_download_pause (download);
      else if (!pause && (state == ATLAS_DOWNLOAD_PAUSED || state == ATLAS_DOWNLOAD_FAILED))
        atlas_download_resume (download);
    }
}

void
_atlas_donor_update_pause (AtlasDonor *self)
{
  AtlasDonorPauseReason reason = compute_reason (self);
  gboolean was_paused = self->reason != ATLAS_DONOR_PAUSE_NONE;
  gboolean paused = reason != ATLAS_DONOR_PAUSE_NONE;
  gboolean offer_changed;

  if (reason == self->reason)
    return;
  offer_changed =
      (self->reason == ATLAS_DONOR_PAUSE_NONE || self->reason == ATLAS_DONOR_PAUSE_OFFLINE)
      != (reason == ATLAS_DONOR_PAUSE_NONE || reason == ATLAS_DONOR_PAUSE_OFFLINE);
  g_debug ("donor: %s -> %s", atlas_donor_get_pause_text (self), paused ? "paused" : "donating");
  self->reason = reason;
  if (was_paused && !paused)
    {
      /* What the tracker assigned before the pause may be stale; what the
       * cache holds stays, and nothing new is fetched, until it assigns
       * again. */
      self->have_assignment = FALSE;
      _atlas_donor_apply_pause_to_downloads (self);
      /* The swarm announces the resumed downloads from an idle callback of
       * default priority; a lower one sends the offer after them, on the
       * same connection, so the tracker knows what the donor holds when it
       * next allocates. (The client sends an offer equal to the last one
       * only once.) */
      if (self->started && self->offer_id == 0)
        self->offer_id = g_idle_add_full (G_PRIORITY_LOW, offer_cb, self, NULL);
    }
  else
    {
      if (was_paused != paused)
        _atlas_donor_apply_pause_to_downloads (self);
      if (offer_changed)
        {
          g_clear_handle_id (&self->offer_id, g_source_remove);
          _atlas_donor_send_offer (self);
        }
    }
  _atlas_donor_notify (self, ATLAS_DONOR_PROP_PAUSE_REASON);
}

static void
read_conditions (AtlasDonor *self)
{
  if (self->fixed_conditions)
    return;
  self->metered = self->network != NULL && g_network_monitor_get_network_metered (self->network);
  self->power_saver =
      self->power != NULL && g_power_profile_monitor_get_power_saver_enabled (self->power);
}

static void
conditions_changed_cb (GObject *object, GParamSpec *pspec, AtlasDonor *self)
{
  read_conditions (self);
  _atlas_donor_update_pause (self);
  _atlas_donor_reconcile (self);
}

/* Follows the system's network and power monitors (unless a test fixed
 * the conditions). */
void
_atlas_donor_watch_conditions (AtlasDonor *self)
{
  if (self->fixed_conditions || self->network != NULL)
    return;
  self->network = g_object_ref (g_network_monitor_get_default ());
  self->power = g_power_profile_monitor_dup_default ();
  g_signal_connect_object (self->network, "notify::network-metered",
                           G_CALLBACK (conditions_changed_cb), self, 0);
  if (self->power != NULL)
    g_signal_connect_object (self->power, "notify::power-saver-enabled",
                             G_CALLBACK (conditions_changed_cb), self, 0);
  read_conditions (self);
}

void
_atlas_donor_set_conditions (AtlasDonor *self, gboolean metered, gboolean power_saver)
{
  g_return_if_fail (ATLAS_IS_DONOR (self));
  self->fixed_conditions = TRUE;
  self->metered = !!metered;
  self->power_saver = !!power_saver;
  _atlas_donor_update_pause (self);
  _atlas_donor_reconcile (self);
}
