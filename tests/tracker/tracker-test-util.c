#include "tracker-test-util.h"

#include "atlas-tracker-auth.h"

#define TIMEOUT_USEC (5 * G_USEC_PER_SEC)

gboolean
tracker_test_tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

void
tracker_test_wait_for_flag (const gboolean *flag)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_USEC;
  guint tick = g_timeout_add (20, tracker_test_tick_cb, NULL);

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  g_assert_true (*flag);
}

void
tracker_test_run_for (guint msec)
{
  gint64 deadline = g_get_monotonic_time () + msec * 1000;
  guint tick = g_timeout_add (10, tracker_test_tick_cb, NULL);

  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
}

char *
tracker_test_add_token (AtlasTrackerStore *store, const char *name, AtlasTrackerRole role,
                        gint64 *id)
{
  g_autoptr (GError) error = NULL;
  char *token = atlas_tracker_token_generate ();
  g_autofree char *hash = atlas_tracker_token_hash (token);

  atlas_tracker_store_add_token (store, name, role, hash, &error);
  g_assert_no_error (error);
  if (id != NULL)
    {
      g_autoptr (AtlasTrackerToken) found = atlas_tracker_store_lookup_token (store, hash, &error);

      g_assert_no_error (error);
      *id = found->id;
    }
  return token;
}
