/* atlas-tracker-metrics.h — the tracker's counters, in Prometheus text format.
 *
 * Counters only grow while the process runs; gauges (peers, swarms, entries)
 * are read from their owners when /metrics is scraped.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint64 bytes_up; /* reported by peers in announces */
  guint64 bytes_down;
  guint64 signaling_messages; /* valid messages received over the WebSocket */
  guint64 signaling_errors;   /* error messages sent to peers */
  GHashTable *http_requests;  /* status code (GUINT_TO_POINTER) -> count (guint64*) */
  /* Donation, as of the coordinator's last run (atlas-tracker-donation.c). */
  guint donors;                   /* connected donors offering storage, not paused */
  guint64 donor_storage;          /* bytes they offer */
  guint64 donation_assigned;      /* bytes assigned to them */
  guint64 donation_demand_met;    /* piece copies donors add towards demand */
  guint64 donation_shortfall;     /* piece copies still missing after donors */
  guint64 donation_runs;          /* allocations run */
  guint64 donation_run_usec;      /* their total duration */
  guint64 donation_last_run_usec; /* the last one's duration */
} AtlasTrackerMetrics;

AtlasTrackerMetrics *atlas_tracker_metrics_new (void);
void atlas_tracker_metrics_free (AtlasTrackerMetrics *metrics);
void atlas_tracker_metrics_count_http (AtlasTrackerMetrics *metrics, guint status);
/* The exposition text, with the gauges given. */
char *atlas_tracker_metrics_render (const AtlasTrackerMetrics *metrics, guint peers, guint swarms,
                                    gint64 entries);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasTrackerMetrics, atlas_tracker_metrics_free)

G_END_DECLS
