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
} AtlasTrackerMetrics;

AtlasTrackerMetrics *atlas_tracker_metrics_new (void);
void atlas_tracker_metrics_free (AtlasTrackerMetrics *metrics);
void atlas_tracker_metrics_count_http (AtlasTrackerMetrics *metrics, guint status);
/* The exposition text, with the gauges given. */
char *atlas_tracker_metrics_render (const AtlasTrackerMetrics *metrics, guint peers, guint swarms,
                                    gint64 entries);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasTrackerMetrics, atlas_tracker_metrics_free)

G_END_DECLS
