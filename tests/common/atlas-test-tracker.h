/* atlas-test-tracker.h — a real atlas-tracker process for tests: a temporary
 * database, an uploader token made with its own `token add`, listening on an
 * ephemeral port of 127.0.0.1, stopped by its PID (and dying with the test). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *process;
  char *dir;
  char *database;
  char *url;   /* http://127.0.0.1:PORT */
  char *token; /* role uploader */
  guint port;
} TestTracker;

/* @exe: the atlas-tracker executable (tests get it from $ATLAS_TRACKER). */
TestTracker *test_tracker_start (const char *exe);
void test_tracker_stop (TestTracker *tracker);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestTracker, test_tracker_stop)

G_END_DECLS
