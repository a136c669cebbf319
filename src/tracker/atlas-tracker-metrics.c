/* atlas-tracker-metrics.c — Prometheus text exposition of the tracker's counters. */
#include "atlas-tracker-metrics.h"

AtlasTrackerMetrics *
atlas_tracker_metrics_new (void)
{
  AtlasTrackerMetrics *metrics = g_new0 (AtlasTrackerMetrics, 1);

  metrics->http_requests = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  return metrics;
}

void
atlas_tracker_metrics_free (AtlasTrackerMetrics *metrics)
{
  if (metrics == NULL)
    return;
  g_clear_pointer (&metrics->http_requests, g_hash_table_unref);
  g_free (metrics);
}

void
atlas_tracker_metrics_count_http (AtlasTrackerMetrics *metrics, guint status)
{
  guint64 *count = g_hash_table_lookup (metrics->http_requests, GUINT_TO_POINTER (status));

  if (count == NULL)
    {
      count = g_new0 (guint64, 1);
      g_hash_table_insert (metrics->http_requests, GUINT_TO_POINTER (status), count);
    }
  (*count)++;
}

static gint
compare_codes (gconstpointer a, gconstpointer b)
{
  guint code_a = GPOINTER_TO_UINT (*(gconstpointer *) a);
  guint code_b = GPOINTER_TO_UINT (*(gconstpointer *) b);

  return (code_a > code_b) - (code_a < code_b);
}

static void
add_metric (GString *text, const char *name, const char *type, const char *help)
{
  g_string_append_printf (text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *
atlas_tracker_metrics_render (const AtlasTrackerMetrics *metrics, guint peers, guint swarms,
                              gint64 entries)
{
  GString *text = g_string_new (NULL);
  g_autoptr (GPtrArray) codes = g_ptr_array_new ();
  /* Prometheus wants a "." whatever the locale. */
  char number[G_ASCII_DTOSTR_BUF_SIZE];
  GHashTableIter iter;
  gpointer key;

  add_metric (text, "atlas_tracker_peers", "gauge", "Peers connected over the WebSocket.");
  g_string_append_printf (text, "atlas_tracker_peers %u\n", peers);
  add_metric (text, "atlas_tracker_swarms", "gauge", "Files with at least one announced peer.");
  g_string_append_printf (text, "atlas_tracker_swarms %u\n", swarms);
  add_metric (text, "atlas_tracker_entries", "gauge", "Published entries in the index.");
  g_string_append_printf (text, "atlas_tracker_entries %" G_GINT64_FORMAT "\n", entries);

  add_metric (text, "atlas_tracker_bytes_reported_total", "counter",
              "Bytes peers reported moving in their announces.");
  g_string_append_printf (
      text,
      "atlas_tracker_bytes_reported_total{direction=\"up\"} %" G_GUINT64_FORMAT "\n"
      "atlas_tracker_bytes_reported_total{direction=\"down\"} %" G_GUINT64_FORMAT "\n",
      metrics->bytes_up, metrics->bytes_down);
  add_metric (text, "atlas_tracker_signaling_messages_total", "counter",
              "Valid messages received from peers.");
  g_string_append_printf (text, "atlas_tracker_signaling_messages_total %" G_GUINT64_FORMAT "\n",
                          metrics->signaling_messages);
  add_metric (text, "atlas_tracker_signaling_errors_total", "counter",
              "Error messages sent to peers.");
  g_string_append_printf (text, "atlas_tracker_signaling_errors_total %" G_GUINT64_FORMAT "\n",
                          metrics->signaling_errors);

  add_metric (text, "atlas_tracker_donors", "gauge",
              "Connected donors offering storage and not paused.");
  g_string_append_printf (text, "atlas_tracker_donors %u\n", metrics->donors);
  add_metric (text, "atlas_tracker_donor_storage_bytes", "gauge",
              "Storage donors offer, in bytes.");
  g_string_append_printf (text, "atlas_tracker_donor_storage_bytes %" G_GUINT64_FORMAT "\n",
                          metrics->donor_storage);
  add_metric (text, "atlas_tracker_donation_assigned_bytes", "gauge",
              "Bytes of pieces assigned to donors by the last allocation.");
  g_string_append_printf (text, "atlas_tracker_donation_assigned_bytes %" G_GUINT64_FORMAT "\n",
                          metrics->donation_assigned);
  add_metric (text, "atlas_tracker_donation_demand_met", "gauge",
              "Piece copies donors add towards the demand (last allocation).");
  g_string_append_printf (text, "atlas_tracker_donation_demand_met %" G_GUINT64_FORMAT "\n",
                          metrics->donation_demand_met);
  add_metric (text, "atlas_tracker_donation_shortfall", "gauge",
              "Piece copies still wanted beyond peers and donors (last allocation).");
  g_string_append_printf (text, "atlas_tracker_donation_shortfall %" G_GUINT64_FORMAT "\n",
                          metrics->donation_shortfall);
  add_metric (text, "atlas_tracker_donation_runs_total", "counter", "Allocations run.");
  g_string_append_printf (text, "atlas_tracker_donation_runs_total %" G_GUINT64_FORMAT "\n",
                          metrics->donation_runs);
  add_metric (text, "atlas_tracker_donation_run_seconds_total", "counter",
              "Time spent computing allocations.");
  g_string_append_printf (
      text, "atlas_tracker_donation_run_seconds_total %s\n",
      g_ascii_formatd (number, sizeof number, "%.6f", metrics->donation_run_usec / 1e6));
  add_metric (text, "atlas_tracker_donation_last_run_seconds", "gauge",
              "Duration of the last allocation.");
  g_string_append_printf (
      text, "atlas_tracker_donation_last_run_seconds %s\n",
      g_ascii_formatd (number, sizeof number, "%.6f", metrics->donation_last_run_usec / 1e6));

  add_metric (text, "atlas_tracker_http_requests_total", "counter",
              "HTTP requests answered, by status code.");
  /* g_hash_table_get_keys_as_ptr_array () is newer than GLib 2.74. */
  g_hash_table_iter_init (&iter, metrics->http_requests);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (codes, key);
  g_ptr_array_sort (codes, compare_codes);
  for (guint i = 0; i < codes->len; i++)
    {
      gpointer code = g_ptr_array_index (codes, i);
      const guint64 *count = g_hash_table_lookup (metrics->http_requests, code);

      g_string_append_printf (
          text, "atlas_tracker_http_requests_total{code=\"%u\"} %" G_GUINT64_FORMAT "\n",
          GPOINTER_TO_UINT (code), *count);
    }
  return g_string_free (text, FALSE);
}
