/* atlas-test-util.h — shared helpers for engine tests: a private copy of the
 * misbehaving test mirror, files with known digests, bounded main loops. */
#pragma once

#include "atlas.h"

G_BEGIN_DECLS

typedef struct
{
  GPid pid;
  guint16 port;
  char *root;     /* served directory */
  char *log_path; /* one line per request */
} TestMirror;

/* Starts atlas-test-mirror (path from $ATLAS_TEST_MIRROR) serving a fresh temp dir. */
TestMirror *test_mirror_start (void);
/* Stops it by its pid and removes its files. */
void test_mirror_stop (TestMirror *mirror);
/* http://127.0.0.1:PORT/MODES/NAME */
char *test_mirror_url (TestMirror *mirror, const char *modes, const char *name);
/* Sum of body bytes the mirror has sent, from its log. */
guint64 test_mirror_bytes_sent (TestMirror *mirror);

/* One line of the mirror's log (tests/mirror/README.md, "Log"). */
typedef struct
{
  gboolean file_body; /* a 206 or 200: the body is the file's bytes, not an error page */
  guint64 first;      /* the file offset of the body's first byte (0 unless a 206) */
  guint64 sent;       /* body bytes that reached the socket */
} TestMirrorRequest;

/* The requests the mirror has logged, oldest first. */
GArray *test_mirror_requests (TestMirror *mirror);

/* Writes @size pseudo-random bytes (seeded) to ROOT/NAME; returns its SHA-256. */
AtlasChecksum test_make_file (const char *dir, const char *name, gsize size, guint32 seed);
/* SHA-256 piece digests of a file, for Metalink-like requests. */
GBytes *test_piece_digests (const char *path, guint64 piece_length);
gboolean test_file_matches (const char *path, const AtlasChecksum *sum);

char *test_make_temp_dir (void);
void test_remove_tree (const char *path);

/* The factor the deadlines below (test_run_until, test_wait_for_end) are
 * multiplied by: $ATLAS_TEST_TIME_SCALE (1 to 100, default 1).
 * tools/test-sanitizers sets it, because ASan and valgrind make every step
 * several times slower without changing what the tests assert.  The fixed
 * span of test_run_for is not scaled. */
guint test_time_scale (void);

/* Runs the default main context until @download is complete or failed, or
 * @timeout_s passes. Returns the final state. */
AtlasDownloadState test_wait_for_end (AtlasDownload *download, guint timeout_s);
/* Runs the main context for @ms milliseconds. */
void test_run_for (guint ms);
/* Runs the main context until @done is TRUE or @timeout_s passes. */
gboolean test_run_until (gboolean *done, guint timeout_s);
/* Opens a session synchronously (iterating the main context). */
AtlasSession *test_open_session (const char *store_path, AtlasSettings *settings, GError **error);
void test_close_session (AtlasSession *session);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestMirror, test_mirror_stop)

G_END_DECLS
