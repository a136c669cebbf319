/* atlas-donor-internal.h — the donor's state, shared by the files that make
 * it up (not by tests: they use atlas-donor-private.h).
 *
 *   atlas-donor.c         the object: settings, starting and stopping
 *   atlas-donor-budget.c  the monthly budget: ledger on disk, allowances
 *   atlas-donor-policy.c  pausing and the offer the tracker hears
 *   atlas-donor-assign.c  assignments in, partial downloads out, retries
 *   atlas-donor-figures.c what the user sees: storage, upload, causes
 */
#pragma once

#include "atlas-donor-ledger.h"
#include "atlas-donor-private.h"
#include "atlas-peer-session.h"
#include "atlas-rate-limiter.h"
#include "atlas-swarm.h"

G_BEGIN_DECLS

/* An entry the tracker assigned us pieces of. */
typedef struct
{
  AtlasTrackerAssignment *assignment;
  GCancellable *cancellable; /* the Metalink fetch in flight, or NULL */
  gint64 retry_at;           /* its Metalink failed: not before this (monotonic µs) */
} AtlasDonorTarget;

void _atlas_donor_target_free (AtlasDonorTarget *target);

/* A partial download that failed: when it is tried again. */
typedef struct
{
  gint64 retry_at; /* monotonic µs */
  gint64 delay;    /* the back-off that led there; doubles per failure */
} AtlasDonorBackoff;

struct _AtlasDonor
{
  GObject parent_instance;

  GMainContext *context; /* the donor's own, where stops complete */
  char *cache_dir;
  char *files_dir;
  char *store_path;
  char *ledger_path;
  AtlasPeerIdentity *identity;
  AtlasTrackerClient *tracker;
  AtlasIceConfig ice;
  AtlasSettings *settings;
  AtlasSession *session;
  AtlasSwarm *swarm;
  GCancellable *cancellable;
  gboolean started;

  /* Stopping: the task completes once the ledger is saved and every queue
   * this donor opened is closed and finalized (its lock released). */
  gboolean opening;      /* atlas_session_open_async in flight */
  guint sessions_alive;  /* queues opened and not yet finalized */
  gboolean final_saving; /* the stop's ledger save in flight */
  gboolean closing;      /* atlas_session_close_async in flight */
  GTask *stop_task;
  GError *stop_error;
  guint stop_timeout_id;

  /* Settings. */
  gboolean enabled;
  guint64 storage_cap;
  guint64 upload_cap;
  guint64 budget;
  gboolean anywhere;
  char **cause_entries;
  char **cause_publishers;
  gboolean pause_on_metered;
  gboolean pause_on_power_saver;

  /* Conditions. */
  GNetworkMonitor *network;
  GPowerProfileMonitor *power;
  gboolean fixed_conditions; /* tests */
  gboolean metered;
  gboolean power_saver;

  /* Budget. */
  AtlasDonorLedger ledger;
  AtlasAllowance allowance;
  gboolean saving;
  gboolean ledger_dirty;
  guint64 last_uploaded;
  guint64 last_fetched;
  gint64 last_tick;

  GHashTable *targets;      /* entry hex -> AtlasDonorTarget */
  gboolean have_assignment; /* the tracker assigned since we last started donating */
  AtlasDonorPauseReason reason;
  /* When each piece was last assigned, so that pieces kept past their
   * assignment leave the cache oldest first: entry hex -> GArray of guint32,
   * one assign_serial per piece (0: never since the donor started). */
  GHashTable *recency;
  guint32 assign_serial; /* assignments received, this one included */
  guint tick_id;
  guint offer_id; /* a resumed donor's offer, sent after its announces */

  /* Failed partial downloads: entry hex -> AtlasDonorBackoff. */
  GHashTable *backoffs;
  gint64 retry_min_us;
  gint64 retry_max_us;

  /* Figures. */
  guint64 storage_used;
  guint64 upload_rate;
  guint64 bytes_served;
  guint downloads_helped;
  GListStore *causes;
};

typedef enum
{
  ATLAS_DONOR_PROP_0,
  ATLAS_DONOR_PROP_PAUSE_REASON,
  ATLAS_DONOR_PROP_STORAGE_USED,
  ATLAS_DONOR_PROP_STORAGE_CAP,
  ATLAS_DONOR_PROP_UPLOAD_RATE,
  ATLAS_DONOR_PROP_UPLOADED_THIS_MONTH,
  ATLAS_DONOR_PROP_FETCHED_THIS_MONTH,
  ATLAS_DONOR_PROP_BYTES_SERVED,
  ATLAS_DONOR_PROP_DOWNLOADS_HELPED,
  ATLAS_DONOR_N_PROPS
} AtlasDonorProperty;

/* atlas-donor.c */
void _atlas_donor_notify (AtlasDonor *self, AtlasDonorProperty prop);

/* atlas-donor-budget.c */
/* What is left of this month's budget after the safety margin (may be < 0). */
gint64 _atlas_donor_budget_left (AtlasDonor *self);
void _atlas_donor_update_allowance (AtlasDonor *self);
/* Charges the bytes moved since the last call and reserves more budget on
 * disk before the limiters run out. */
void _atlas_donor_update_ledger (AtlasDonor *self);

/* atlas-donor-policy.c */
void _atlas_donor_send_offer (AtlasDonor *self);
/* Tells the tracker this donor no longer offers anything (it stops). */
void _atlas_donor_withdraw_offer (AtlasDonor *self);
void _atlas_donor_update_pause (AtlasDonor *self);
void _atlas_donor_apply_pause_to_downloads (AtlasDonor *self);
void _atlas_donor_watch_conditions (AtlasDonor *self);

/* atlas-donor-assign.c */
char *_atlas_donor_download_entry (AtlasDownload *download, AtlasPeerLayout *layout);
void _atlas_donor_assign_cb (AtlasTrackerClient *tracker, GPtrArray *assignments, AtlasDonor *self);
void _atlas_donor_fetch_missing (AtlasDonor *self);
void _atlas_donor_reconcile (AtlasDonor *self);
void _atlas_donor_retry_failed (AtlasDonor *self);
/* The user turned donation off: every file of the cache goes. */
void _atlas_donor_drop_all (AtlasDonor *self);

/* atlas-donor-figures.c */
void _atlas_donor_update_figures (AtlasDonor *self);

G_END_DECLS
