/* atlas-donor-private.h — the donor's internals shared by its files and tests. */
#pragma once

#include "atlas-donor.h"
#include "atlas-session.h"

G_BEGIN_DECLS

/* AtlasDonorCause (atlas-donor-cause.c): figures are set by the donor, which
 * notifies each property only on change. */
AtlasDonorCause *_atlas_donor_cause_new (const char *entry, const char *name);
void _atlas_donor_cause_update (AtlasDonorCause *self, guint64 storage_used, guint64 bytes_served,
                                guint peers_helped);

/* Tests: stop following the system's network and power monitors and use
 * these values instead. */
void _atlas_donor_set_conditions (AtlasDonor *self, gboolean metered, gboolean power_saver);
/* Tests: how long a failed partial download waits before it is tried
 * again (doubling per failure up to @max_us). */
void _atlas_donor_set_retry_delays (AtlasDonor *self, gint64 min_us, gint64 max_us);
/* Tests: applies @assignments (AtlasTrackerAssignment *) as if the tracker
 * had sent them. */
void _atlas_donor_apply_assignments (AtlasDonor *self, GPtrArray *assignments);
/* Tests: a copy of what the latest assignment has of @entry, or NULL
 * (free with atlas_tracker_assignment_free). */
AtlasTrackerAssignment *_atlas_donor_dup_assignment (AtlasDonor *self, const char *entry);
/* Tests: how many assignments the donor has applied since it was made. */
guint _atlas_donor_get_n_assignments (AtlasDonor *self);
/* The cache's own session (NULL until opened). */
AtlasSession *_atlas_donor_get_session (AtlasDonor *self);

G_END_DECLS
