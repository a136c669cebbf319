/* atlas-donor-budget.c — the monthly budget as the donor spends it.
 *
 * Uploads (the swarm's limiter) and fetches (the session's limiter) draw on
 * one shared allowance, so neither can overspend while the other is idle.
 * The allowance only ever covers what the ledger on disk already reserves
 * (atlas-donor-ledger.h): a donor killed at any moment has spent no more
 * than its file says, and a restart counts that as spent.
 */
#include "atlas-donor-internal.h"

#include "atlas-peer-wire.h"
#include "atlas-session-private.h"

/* Bytes kept out of every budget: the upload limiter and the fetches may
 * each overrun what they were allowed by one block. */
#define BUDGET_MARGIN (2 * (guint64) ATLAS_PEER_MAX_BLOCK)
/* The ledger reserves budget on disk in slices of 1/8 of the budget (at
 * least 1 MiB): a restart after a crash loses at most one slice, and the
 * file is written a few times a month rather than every second. */
#define MIN_SLICE (1024 * 1024)

static guint64
budget_limit (AtlasDonor *self)
{
  return self->budget > BUDGET_MARGIN ? self->budget - BUDGET_MARGIN : 0;
}

gint64
_atlas_donor_budget_left (AtlasDonor *self)
{
  return (gint64) budget_limit (self) - (gint64) _atlas_donor_ledger_used (&self->ledger);
}

/* The limiters may spend what the ledger on disk reserved and not more. */
void
_atlas_donor_update_allowance (AtlasDonor *self)
{
  AtlasAllowance *allowance = self->budget > 0 ? &self->allowance : NULL;
  guint64 reserved = MIN (self->ledger.reserved, budget_limit (self));

  self->allowance.left = (double) reserved - (double) _atlas_donor_ledger_used (&self->ledger);
  if (self->swarm != NULL)
    atlas_swarm_set_upload_allowance (self->swarm, allowance);
  if (self->session != NULL)
    atlas_rate_limiter_set_allowance (_atlas_session_get_limiter (self->session), allowance);
}

typedef struct
{
  AtlasDonor *donor;
  guint64 reserved;
} SaveData;

static void
ledger_saved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SaveData *data = user_data;
  g_autoptr (AtlasDonor) self = data->donor;
  g_autoptr (GError) error = NULL;

  self->saving = FALSE;
  if (!_atlas_donor_ledger_save_finish (result, &error))
    g_warning ("donor: %s", error->message);
  /* Only once the file says so may the limiters spend the new slice. */
  else if (data->reserved > self->ledger.reserved)
    {
      self->ledger.reserved = data->reserved;
      _atlas_donor_update_allowance (self);
    }
  g_free (data);
}

static void
ledger_save (AtlasDonor *self, guint64 reserved)
{
  AtlasDonorLedger copy = self->ledger;
  SaveData *data = g_new0 (SaveData, 1);

  data->donor = g_object_ref (self);
  data->reserved = reserved;
  copy.reserved = reserved;
  self->saving = TRUE;
  self->ledger_dirty = FALSE;
  _atlas_donor_ledger_save_async (&copy, self->ledger_path, NULL, ledger_saved_cb, data);
}

/* Charges what was uploaded and fetched since the last tick, starts a new
 * month when the calendar says so, and reserves more of the budget on disk
 * before the limiters run out. */
void
_atlas_donor_update_ledger (AtlasDonor *self)
{
  g_autofree char *month = _atlas_donor_ledger_month_now ();
  guint64 uploaded = self->swarm != NULL ? atlas_swarm_get_bytes_uploaded (self->swarm) : 0;
  guint64 fetched = self->session != NULL ? _atlas_session_get_limiter (self->session)->total : 0;
  gint64 now = g_get_monotonic_time ();
  guint64 upload_delta = uploaded - self->last_uploaded;
  guint64 used;

  if (_atlas_donor_ledger_roll (&self->ledger, month))
    self->ledger_dirty = TRUE;
  self->ledger.uploaded += upload_delta;
  self->ledger.fetched += fetched - self->last_fetched;
  if (upload_delta > 0 || fetched != self->last_fetched)
    self->ledger_dirty = TRUE;
  self->last_uploaded = uploaded;
  self->last_fetched = fetched;
  if (self->last_tick != 0 && now > self->last_tick)
    self->upload_rate = upload_delta * G_USEC_PER_SEC / (now - self->last_tick);
  self->last_tick = now;

  used = _atlas_donor_ledger_used (&self->ledger);
  if (self->budget == 0)
    self->ledger.reserved = used;
  else
    self->ledger.reserved = MAX (self->ledger.reserved, used);
  _atlas_donor_update_allowance (self);
  if (self->saving)
    return;
  if (self->budget > 0)
    {
      guint64 slice = MAX (self->budget / 8, MIN_SLICE);
      guint64 limit = budget_limit (self);

      if (self->ledger.reserved < limit && self->ledger.reserved - used < slice / 2)
        {
          ledger_save (self, MIN (limit, used + slice));
          return;
        }
    }
  if (self->ledger_dirty)
    ledger_save (self, self->ledger.reserved);
}
