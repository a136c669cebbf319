/* atlas-donor.h — giving capped storage and upload to files others download.
 *
 * A donor keeps a donation cache apart from the user's downloads: its own
 * queue (cache_dir/queue.sqlite), files (cache_dir/files), peer identity
 * (cache_dir/identity), tracker connection and swarm. It offers the tracker
 * its storage and upload; the tracker assigns it the pieces most in demand
 * among the files the user supports (the causes); the donor fetches them
 * (mirrors or peers), verifies them, serves them to downloaders, and drops
 * them when reassigned or when the storage cap shrinks.
 *
 * Hard limits: the cache never holds more than the storage cap (shrinks are
 * applied before growths, and a lowered cap drops pieces at once); upload
 * never runs faster than the upload cap beyond one burst; uploaded plus
 * fetched bytes never exceed the monthly budget, across restarts.
 *
 * Everything runs on the GMainContext that is thread-default when the donor
 * is made. Figures (properties) are notified at most about once a second.
 */
#pragma once

#include <gio/gio.h>

#include "atlas-ice-link.h"
#include "atlas-tracker-client.h"

G_BEGIN_DECLS

typedef enum
{
  ATLAS_DONOR_PAUSE_NONE,        /* donating */
  ATLAS_DONOR_PAUSE_DISABLED,    /* the user turned donation off */
  ATLAS_DONOR_PAUSE_METERED,     /* the network is metered */
  ATLAS_DONOR_PAUSE_POWER_SAVER, /* power saver is on */
  ATLAS_DONOR_PAUSE_BUDGET,      /* this month's budget is spent */
  ATLAS_DONOR_PAUSE_OFFLINE,     /* no connection to the tracker */
} AtlasDonorPauseReason;

#define ATLAS_TYPE_DONOR_PAUSE_REASON (atlas_donor_pause_reason_get_type ())
GType atlas_donor_pause_reason_get_type (void);

/* One file the donor holds pieces of, with its figures. */
#define ATLAS_TYPE_DONOR_CAUSE (atlas_donor_cause_get_type ())
G_DECLARE_FINAL_TYPE (AtlasDonorCause, atlas_donor_cause, ATLAS, DONOR_CAUSE, GObject)

/* The tracker entry (64 hex digits: the file's SHA-256) and its name. */
const char *atlas_donor_cause_get_entry (AtlasDonorCause *self);
const char *atlas_donor_cause_get_name (AtlasDonorCause *self);
guint64 atlas_donor_cause_get_storage_used (AtlasDonorCause *self);
guint64 atlas_donor_cause_get_bytes_served (AtlasDonorCause *self);
guint atlas_donor_cause_get_peers_helped (AtlasDonorCause *self);

#define ATLAS_TYPE_DONOR (atlas_donor_get_type ())
G_DECLARE_FINAL_TYPE (AtlasDonor, atlas_donor, ATLAS, DONOR, GObject)

/* Makes a stopped donor: loads or creates the identity and reads the budget
 * ledger in @cache_dir (created 0700). @ice is copied; its local_addresses
 * bind the peer links (127.0.0.1 in tests). @ca_file is nullable. */
AtlasDonor *atlas_donor_new (const char *cache_dir, const char *tracker_url, const char *token,
                             const char *ca_file, const AtlasIceConfig *ice, GError **error);

/* Opens the cache's queue (asynchronously), connects to the tracker, offers
 * the donation and serves. Errors opening the queue are reported by
 * "failed" (const GError *). */
void atlas_donor_start (AtlasDonor *self);
/* Withdraws the offer, leaves every swarm, saves the ledger and closes the
 * cache's queue, keeping its files. Completes once the queue's lock is
 * released, so a new donor on the same cache may start from the callback.
 * Start again only after it completed. */
void atlas_donor_stop_async (AtlasDonor *self, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
gboolean atlas_donor_stop_finish (AtlasDonor *self, GAsyncResult *result, GError **error);

/* Settings; each applies at once and is offered to the tracker. */
/* FALSE (the user turns donation off) also deletes every file of the cache;
 * a pause (metered, power saver, budget, offline) keeps them. */
void atlas_donor_set_enabled (AtlasDonor *self, gboolean enabled);
/* Bytes the cache may hold; lowering it drops pieces at once. */
void atlas_donor_set_storage_cap (AtlasDonor *self, guint64 bytes);
/* Bytes per second to all peers together; 0 = not capped. */
void atlas_donor_set_upload_cap (AtlasDonor *self, guint64 bytes_per_second);
/* Bytes uploaded + fetched per calendar month (local time); 0 = no budget. */
void atlas_donor_set_monthly_budget (AtlasDonor *self, guint64 bytes);
/* What to support: anywhere it is most needed, and/or these entries (64
 * hex) and publishers (token names). Arrays are NULL-terminated, nullable. */
void atlas_donor_set_causes (AtlasDonor *self, gboolean anywhere, const char *const *entries,
                             const char *const *publishers);
/* Pause on a metered network / in power saver mode (both default TRUE). */
void atlas_donor_set_pause_on_metered (AtlasDonor *self, gboolean pause);
void atlas_donor_set_pause_on_power_saver (AtlasDonor *self, gboolean pause);

/* Figures. */
AtlasDonorPauseReason atlas_donor_get_pause_reason (AtlasDonor *self);
/* "donating", "paused: the network is metered", … */
const char *atlas_donor_get_pause_text (AtlasDonor *self);
guint64 atlas_donor_get_storage_used (AtlasDonor *self);
guint64 atlas_donor_get_storage_cap (AtlasDonor *self);
guint64 atlas_donor_get_upload_cap (AtlasDonor *self);
guint64 atlas_donor_get_monthly_budget (AtlasDonor *self);
/* Bytes per second over the last second. */
guint64 atlas_donor_get_upload_rate (AtlasDonor *self);
guint64 atlas_donor_get_uploaded_this_month (AtlasDonor *self);
guint64 atlas_donor_get_fetched_this_month (AtlasDonor *self);
/* Bytes uploaded to peers since start, and distinct peers served. */
guint64 atlas_donor_get_bytes_served (AtlasDonor *self);
guint atlas_donor_get_downloads_helped (AtlasDonor *self);
/* AtlasDonorCause items, one per file held. */
GListModel *atlas_donor_get_causes (AtlasDonor *self);
/* The donor's tracker client (for its "disconnected" errors and the index). */
AtlasTrackerClient *atlas_donor_get_tracker (AtlasDonor *self);

G_END_DECLS
