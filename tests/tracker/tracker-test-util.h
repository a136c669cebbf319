/* tracker-test-util.h — what the in-process tracker tests share: bounded
 * waits on the main context and tokens added straight to the store. */
#pragma once

#include "atlas-tracker-store.h"

G_BEGIN_DECLS

/* A timeout callback that does nothing: a g_timeout_add of it wakes the
 * loop now and then, so deadlines are noticed when nothing else happens. */
gboolean tracker_test_tick_cb (gpointer user_data);
/* Runs the main context until *@flag is set; fails the test after 5 s. */
void tracker_test_wait_for_flag (const gboolean *flag);
/* Runs the main context for @msec, for things that must not happen. */
void tracker_test_run_for (guint msec);
/* A new token of @role named @name, stored by its hash; @id (nullable)
 * receives its row id. Returns the token itself. */
char *tracker_test_add_token (AtlasTrackerStore *store, const char *name, AtlasTrackerRole role,
                              gint64 *id);

G_END_DECLS
