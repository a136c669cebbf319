/* atlas-tracker-donation.h — the tracker's donation coordinator.
 *
 * Donors send "donate" (storage, upload, causes); the coordinator measures
 * the demand for every piece of the files they support from the swarms the
 * hub keeps, runs the allocator (atlas-donation-alloc.h) every few seconds
 * and soon after an offer changes, and sends each donor "assign" when its
 * assignment changed. docs/donation.md gives the formula; docs/tracker.md the
 * messages and the bounds on the work.
 */
#pragma once

#include <glib.h>

#include "atlas-tracker-wire.h"

G_BEGIN_DECLS

typedef struct _AtlasTrackerDonation AtlasTrackerDonation;
typedef struct _AtlasTrackerHub AtlasTrackerHub;
typedef struct _AtlasHubConnection AtlasHubConnection;

/* The coordinator of @hub (not referenced: the hub owns it). Runs on the
 * thread-default main context. */
AtlasTrackerDonation *atlas_tracker_donation_new (AtlasTrackerHub *hub);
void atlas_tracker_donation_free (AtlasTrackerDonation *self);
/* Milliseconds between allocations (default 5000). */
void atlas_tracker_donation_set_interval (AtlasTrackerDonation *self, guint interval_ms);

/* @connection's offer (a valid DONATE's). The next allocation, soon, sends
 * it an assign even if nothing changed. */
void atlas_tracker_donation_offer (AtlasTrackerDonation *self, AtlasHubConnection *connection,
                                   const AtlasDonateOffer *offer);
/* @connection is gone: it holds nothing, and its pieces go to other donors
 * at the next allocation, which is brought forward. */
void atlas_tracker_donation_forget (AtlasTrackerDonation *self, AtlasHubConnection *connection);
/* A downloader (not a donor) joined the swarm of @entry: an arrival. */
void atlas_tracker_donation_note_join (AtlasTrackerDonation *self, const char *entry,
                                       const char *peer_id);
/* Runs the allocation now and sends the assignments that changed. */
void atlas_tracker_donation_run (AtlasTrackerDonation *self);

G_END_DECLS
