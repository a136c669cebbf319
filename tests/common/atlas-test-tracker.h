/* atlas-test-tracker.h — a real atlas-tracker process for tests: a temporary
 * database, an uploader token made with its own `token add`, listening on an
 * ephemeral port of 127.0.0.1, stopped by its PID (and dying with the test). */
#pragma once

#include <gio/gio.h>

#include "atlas-checksum.h"

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

/* `atlas-tracker token add` on @database: returns the new token. */
char *test_tracker_add_token (const char *exe, const char *database, const char *role,
                              const char *name);
/* A Metalink 4 document for one file: its size, SHA-256, SHA-256 pieces
 * (@pieces: the digests one after another) and one mirror. */
GBytes *test_make_metalink (const char *name, guint64 size, guint piece_length,
                            const AtlasChecksum *sum, GBytes *pieces, const char *url);
/* Publishes @metalink as @name version "1" with the uploader token; asserts
 * that the tracker took it (waiting at most 10 s). */
void test_tracker_publish (TestTracker *tracker, const char *name, GBytes *metalink);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestTracker, test_tracker_stop)

G_END_DECLS
