/* Partial downloads (the donation cache): only the wanted pieces are
 * fetched, kept on a sparse file and served; dropping a piece frees its
 * blocks and refuses it to peers; the wanted set survives a restart. The
 * test mirror logs every range it sends, and peers are linked by an
 * in-memory stream as in test-download-peers.c. */
#include "atlas-test-pipe.h"
#include "atlas-test-util.h"

#include "atlas-download-private.h"
#include "atlas-peer-session.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIECE (256 * 1024)
#define FILE_SIZE (6 * 1024 * 1024 + 4321) /* 25 pieces, the last one short */
#define N_PIECES (FILE_SIZE / PIECE + 1)
#define BITS_SIZE ((N_PIECES + 7) / 8)
/* What a filesystem may allocate beyond the data, per piece. */
#define BLOCK_SLACK 4096

/* ---- fixture --------------------------------------------------------------- */

typedef struct
{
  TestMirror *mirror;
  char *out_dir;
  char *store_path;
  char *source_path;
  char *source_data;
  AtlasChecksum sum;
  GBytes *pieces;
  AtlasSettings *settings;
  AtlasSession *session;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gsize length;

  fixture->mirror = test_mirror_start ();
  fixture->sum = test_make_file (fixture->mirror->root, "file.bin", FILE_SIZE, 11);
  fixture->source_path = g_build_filename (fixture->mirror->root, "file.bin", NULL);
  g_assert_true (g_file_get_contents (fixture->source_path, &fixture->source_data, &length, NULL));
  fixture->pieces = test_piece_digests (fixture->source_path, PIECE);
  fixture->out_dir = test_make_temp_dir ();
  fixture->store_path = g_build_filename (fixture->out_dir, "queue.db", NULL);
  fixture->settings = atlas_settings_new ();
  atlas_settings_set_download_directory (fixture->settings, fixture->out_dir);
  atlas_settings_set_stall_timeout (fixture->settings, 3);
  fixture->session = test_open_session (fixture->store_path, fixture->settings, &error);
  g_assert_no_error (error);
  atlas_session_start (fixture->session);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  if (fixture->session != NULL)
    test_close_session (fixture->session);
  g_object_unref (fixture->settings);
  g_bytes_unref (fixture->pieces);
  test_remove_tree (fixture->out_dir);
  g_free (fixture->out_dir);
  g_free (fixture->store_path);
  g_free (fixture->source_path);
  g_free (fixture->source_data);
  test_mirror_stop (fixture->mirror);
}

static AtlasRequest *
make_request (Fixture *fixture, const char *modes)
{
  AtlasRequest *request = atlas_request_new ();
  g_autofree char *url = test_mirror_url (fixture->mirror, modes, "file.bin");

  atlas_request_add_url (request, url, 1, NULL);
  atlas_request_set_size (request, FILE_SIZE);
  atlas_request_set_pieces (request, ATLAS_HASH_SHA256, PIECE, fixture->pieces);
  atlas_request_add_checksum (request, &fixture->sum);
  atlas_request_set_filename (request, "file.bin");
  return request;
}

/* A wanted set from a list of pieces ending with -1. */
static GBytes *
wanted_of (const int *pieces)
{
  guint8 *bits = g_new0 (guint8, BITS_SIZE);

  for (; *pieces >= 0; pieces++)
    atlas_peer_bitfield_set (bits, (guint32) *pieces);
  return g_bytes_new_take (bits, BITS_SIZE);
}

static gboolean
in_set (const int *pieces, guint piece)
{
  for (; *pieces >= 0; pieces++)
    if ((guint) *pieces == piece)
      return TRUE;
  return FALSE;
}

static guint64
piece_size (guint piece)
{
  return piece == N_PIECES - 1 ? FILE_SIZE - (guint64) piece * PIECE : PIECE;
}

static guint64
bytes_of (const int *pieces)
{
  guint64 total = 0;

  for (; *pieces >= 0; pieces++)
    total += piece_size ((guint) *pieces);
  return total;
}

static AtlasDownload *
add_partial (Fixture *fixture, AtlasSession *session, const char *modes, const int *pieces)
{
  g_autoptr (AtlasRequest) request = make_request (fixture, modes);
  g_autoptr (GBytes) wanted = wanted_of (pieces);
  g_autoptr (GError) error = NULL;
  AtlasDownload *download = _atlas_session_add_partial (session, request, wanted, &error);

  g_assert_no_error (error);
  g_assert_nonnull (download);
  g_assert_true (atlas_download_is_partial (download));
  return download;
}

static char *
part_path (AtlasDownload *download)
{
  return g_strconcat (atlas_download_get_path (download), ".part", NULL);
}

/* Runs the main loop until @download holds @n pieces (bounded). */
static void
wait_held (AtlasDownload *download, guint n, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

  while (atlas_download_get_n_held_pieces (download) != n && g_get_monotonic_time () < deadline)
    test_run_for (20);
  g_assert_cmpuint (atlas_download_get_n_held_pieces (download), ==, n);
}

/* The peer bitfield equals @pieces once every held piece is durable. */
static gboolean
peer_bits_are (AtlasDownload *download, const int *pieces)
{
  g_autoptr (GBytes) bits = atlas_download_dup_peer_bits (download);

  for (guint piece = 0; piece < N_PIECES; piece++)
    if (atlas_peer_bitfield_get (g_bytes_get_data (bits, NULL), piece) != in_set (pieces, piece))
      return FALSE;
  return TRUE;
}

static void
wait_peer_bits (AtlasDownload *download, const int *pieces)
{
  for (guint i = 0; i < 250 && !peer_bits_are (download, pieces); i++)
    test_run_for (20);
  g_assert_true (peer_bits_are (download, pieces));
}

static guint64
allocated_bytes (const char *path)
{
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, FILE_SIZE);
  return (guint64) st.st_blocks * 512;
}

/* Every wanted piece in the file has the source's bytes. */
static void
assert_pieces_right (Fixture *fixture, AtlasDownload *download, const int *pieces)
{
  g_autofree char *path = part_path (download);
  g_autofree char *contents = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_cmpuint (length, ==, FILE_SIZE);
  for (; *pieces >= 0; pieces++)
    g_assert_cmpmem (contents + (gsize) *pieces * PIECE, piece_size ((guint) *pieces),
                     fixture->source_data + (gsize) *pieces * PIECE, piece_size ((guint) *pieces));
}

/* Every range the mirror sent lies inside pieces of @allowed; returns the
 * bytes it sent. */
static guint64
assert_mirror_ranges_in (Fixture *fixture, const int *allowed)
{
  g_autoptr (GArray) requests = test_mirror_requests (fixture->mirror);
  guint64 total = 0;

  for (guint i = 0; i < requests->len; i++)
    {
      const TestMirrorRequest *request = &g_array_index (requests, TestMirrorRequest, i);
      guint64 first = request->first, last = request->first + request->sent - 1;

      total += request->sent;
      if (request->sent == 0 || !request->file_body)
        continue;
      for (guint64 piece = first / PIECE; piece <= last / PIECE; piece++)
        if (!in_set (allowed, (guint) piece))
          g_error ("the mirror sent bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                   " of unwanted piece %" G_GUINT64_FORMAT,
                   first, last, piece);
    }
  return total;
}

/* ---- tests ------------------------------------------------------------------ */

static const int first_set[] = { 0, 3, 4, 5, 10, 17, 24, -1 };
static const int smaller_set[] = { 3, 10, -1 };
static const int grown_set[] = { 3, 10, 12, 13, 20, -1 };
static const int all_ever[] = { 0, 3, 4, 5, 10, 12, 13, 17, 20, 24, -1 };

static void
test_fetches_wanted_only (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *download = add_partial (fixture, fixture->session, "-", first_set);
  g_autofree char *path = part_path (download);
  guint64 wanted_bytes = bytes_of (first_set);
  guint64 sent;

  g_assert_cmpuint (atlas_download_get_n_wanted_pieces (download), ==, 7);
  wait_held (download, 7, 30);
  assert_pieces_right (fixture, download, first_set);
  wait_peer_bits (download, first_set);

  /* Nothing else happens: no hash of the whole file, no rename, no end. */
  test_run_for (600);
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_ACTIVE);
  g_assert_false (g_file_test (atlas_download_get_path (download), G_FILE_TEST_EXISTS));
  sent = assert_mirror_ranges_in (fixture, first_set);
  g_test_message ("mirror sent %" G_GUINT64_FORMAT " bytes for %" G_GUINT64_FORMAT " wanted", sent,
                  wanted_bytes);
  g_assert_cmpuint (sent, >=, wanted_bytes);
  /* Splitting and endgame copies send some pieces twice (as for any
   * download on loopback), never an unwanted one (checked above). */
  g_assert_cmpuint (sent, <=, 2 * wanted_bytes);

  /* Sparse: the file takes about the wanted pieces' room, not its size. */
  g_test_message ("allocated %" G_GUINT64_FORMAT " bytes of %d", allocated_bytes (path), FILE_SIZE);
  g_assert_cmpuint (allocated_bytes (path), <=, wanted_bytes + 7 * BLOCK_SLACK);
  g_assert_cmpuint (atlas_download_get_stored_bytes (download), ==, wanted_bytes);
}

static void
test_shrink_and_grow (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *download = add_partial (fixture, fixture->session, "-", first_set);
  g_autofree char *path = part_path (download);
  g_autoptr (GBytes) smaller = wanted_of (smaller_set);
  g_autoptr (GBytes) grown = wanted_of (grown_set);
  g_autoptr (GBytes) echoed = NULL;
  guint64 before, after;

  wait_held (download, 7, 30);
  wait_peer_bits (download, first_set);
  before = allocated_bytes (path);

  /* Shrink: dropped pieces leave the peer bitfield at once, their blocks
   * soon after. */
  atlas_download_set_wanted_pieces (download, smaller);
  echoed = atlas_download_dup_wanted_pieces (download);
  g_assert_true (g_bytes_equal (echoed, smaller));
  g_assert_true (peer_bits_are (download, smaller_set));
  g_assert_cmpuint (atlas_download_get_n_held_pieces (download), ==, 2);
  g_assert_cmpuint (atlas_download_get_n_wanted_pieces (download), ==, 2);
  for (guint i = 0; i < 250 && atlas_download_get_stored_bytes (download) > bytes_of (smaller_set);
       i++)
    test_run_for (20);
  g_assert_cmpuint (atlas_download_get_stored_bytes (download), ==, bytes_of (smaller_set));
  after = allocated_bytes (path);
  g_test_message ("allocated %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT, before, after);
  g_assert_cmpuint (after, <=, bytes_of (smaller_set) + 2 * BLOCK_SLACK);
  g_assert_cmpuint (after, <, before);
  assert_pieces_right (fixture, download, smaller_set);

  /* Grow: only the new pieces are fetched (held ones are not again). */
  atlas_download_set_wanted_pieces (download, grown);
  wait_held (download, 5, 30);
  assert_pieces_right (fixture, download, grown_set);
  wait_peer_bits (download, grown_set);
  assert_mirror_ranges_in (fixture, all_ever);
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_ACTIVE);

  /* Shrinking while paused works too (no writer: a worker punches). */
  atlas_download_pause (download);
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_PAUSED);
  atlas_download_set_wanted_pieces (download, smaller);
  for (guint i = 0; i < 250 && atlas_download_get_stored_bytes (download) > bytes_of (smaller_set);
       i++)
    test_run_for (20);
  g_assert_cmpuint (allocated_bytes (path), <=, bytes_of (smaller_set) + 2 * BLOCK_SLACK);
  atlas_download_resume (download);
  test_run_for (300);
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_ACTIVE);
  g_assert_cmpuint (atlas_download_get_n_held_pieces (download), ==, 2);
}

/* The session is closed and opened again from its queue: still partial,
 * same wanted set, same pieces, and nothing more is fetched. */
static void
test_survives_restart (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *download = add_partial (fixture, fixture->session, "-", first_set);
  g_autoptr (GBytes) smaller = wanted_of (smaller_set);
  g_autoptr (GBytes) wanted = NULL;
  g_autoptr (GError) error = NULL;
  guint64 id = atlas_download_get_id (download);
  guint64 sent;

  wait_held (download, 7, 30);
  wait_peer_bits (download, first_set);
  atlas_download_set_wanted_pieces (download, smaller);
  test_run_for (300);
  sent = test_mirror_bytes_sent (fixture->mirror);
  test_close_session (fixture->session);
  fixture->session = NULL;

  fixture->session = test_open_session (fixture->store_path, fixture->settings, &error);
  g_assert_no_error (error);
  atlas_session_start (fixture->session);
  download = atlas_session_lookup (fixture->session, id);
  g_assert_nonnull (download);
  g_assert_true (atlas_download_is_partial (download));
  wanted = atlas_download_dup_wanted_pieces (download);
  g_assert_true (g_bytes_equal (wanted, smaller));
  g_assert_cmpuint (atlas_download_get_n_wanted_pieces (download), ==, 2);
  wait_held (download, 2, 10);
  test_run_for (1500);
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_ACTIVE);
  g_assert_true (peer_bits_are (download, smaller_set));
  g_assert_cmpuint (test_mirror_bytes_sent (fixture->mirror), ==, sent);
  assert_pieces_right (fixture, download, smaller_set);
}

typedef struct
{
  gboolean ready;
  gboolean closed;
  guint rejected;
  guint dropped;
  guint64 received;
} Asker;

static void
asker_ready_cb (AtlasPeerSession *session, gpointer user_data)
{
  ((Asker *) user_data)->ready = TRUE;
}

static void
asker_closed_cb (AtlasPeerSession *session, const GError *error, gpointer user_data)
{
  ((Asker *) user_data)->closed = TRUE;
}

static void
asker_rejected_cb (AtlasPeerSession *session, guint32 piece, guint32 offset, guint32 length,
                   gpointer user_data)
{
  ((Asker *) user_data)->rejected++;
}

static void
asker_block_cb (AtlasPeerSession *session, guint32 piece, guint32 offset, const guint8 *data,
                guint32 length, gpointer user_data)
{
  ((Asker *) user_data)->received += length;
}

static void
asker_dropped_cb (AtlasPeerSession *session, guint32 piece, gpointer user_data)
{
  ((Asker *) user_data)->dropped++;
}

static const AtlasPeerSessionEvents asker_events = {
  .dropped = asker_dropped_cb,
  .ready = asker_ready_cb,
  .closed = asker_closed_cb,
  .rejected = asker_rejected_cb,
  .block = asker_block_cb,
};

/* Peers hear of a drop (DROP); a request that crosses the drop of its piece
 * gets REJECT, not a closed link; the pieces still held are served. */
static void
test_dropped_piece_refused (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *download = add_partial (fixture, fixture->session, "-", first_set);
  g_autoptr (GBytes) smaller = wanted_of (smaller_set);
  g_autoptr (AtlasPeerSession) ours = NULL;
  g_autoptr (AtlasPeerSession) theirs = NULL;
  TestPipeEnd ends[2] = { 0 };
  AtlasPeerLayout layout;
  Asker asker = { 0 };

  wait_held (download, 7, 30);
  wait_peer_bits (download, first_set);
  g_assert_true (atlas_download_get_peer_layout (download, &layout));
  theirs = atlas_peer_session_new (&layout, NULL, -1);
  atlas_peer_session_set_events (theirs, &asker_events, &asker);
  ours = atlas_download_new_peer_session (download);
  test_pipe_connect (ours, theirs, ends);
  atlas_peer_session_start (theirs);
  atlas_download_add_peer (download, ours, "asker");
  g_assert_true (test_run_until (&asker.ready, 10));
  g_assert_true (atlas_peer_bitfield_get (atlas_peer_session_get_remote_bits (theirs), 0));

  /* Piece 0 is asked for, and dropped before the request arrives. */
  atlas_peer_session_request (theirs, 0, 0, PIECE);
  atlas_peer_session_request (theirs, 3, 0, PIECE);
  atlas_download_set_wanted_pieces (download, smaller);
  for (guint i = 0; i < 250 && (asker.rejected < 1 || asker.received < PIECE); i++)
    test_run_for (20);
  g_assert_cmpuint (asker.rejected, ==, 1);
  g_assert_cmpuint (asker.received, ==, PIECE);
  g_assert_false (asker.closed);
  /* Five pieces were dropped: 0, 4, 5, 17 and 24. */
  for (guint i = 0; i < 100 && asker.dropped < 5; i++)
    test_run_for (20);
  g_assert_cmpuint (asker.dropped, ==, 5);
  for (guint piece = 0; piece < N_PIECES; piece++)
    g_assert_cmpint (atlas_peer_bitfield_get (atlas_peer_session_get_remote_bits (theirs), piece),
                     ==, in_set (smaller_set, piece));
  g_assert_cmpuint (atlas_download_get_n_peers_served (download), ==, 1);

  atlas_session_remove (fixture->session, download, FALSE);
  test_pipe_clear (ends);
}

/* A downloader fetching from a donor that drops pieces under it: the
 * REJECTs give those pieces back and the mirror supplies them. */
static void
test_downloader_survives_drops (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *donor = add_partial (fixture, fixture->session, "-", all_ever);
  g_autoptr (GBytes) smaller = wanted_of (smaller_set);
  g_autofree char *other_dir = g_build_filename (fixture->out_dir, "downloader", NULL);
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasPeerSession) donor_side = NULL;
  g_autoptr (AtlasPeerSession) downloader_side = NULL;
  g_autoptr (AtlasRequest) request = NULL;
  g_autoptr (GError) error = NULL;
  AtlasSession *session;
  AtlasDownload *downloader;
  TestPipeEnd ends[2] = { 0 };

  wait_held (donor, 10, 30);
  wait_peer_bits (donor, all_ever);

  g_assert_cmpint (g_mkdir_with_parents (other_dir, 0755), ==, 0);
  atlas_settings_set_download_directory (settings, other_dir);
  atlas_settings_set_stall_timeout (settings, 3);
  session = test_open_session (NULL, settings, &error);
  g_assert_no_error (error);
  atlas_session_start (session);
  /* A slow mirror, so the downloader asks the donor for what it holds. */
  request = make_request (fixture, "rate=1M");
  downloader = atlas_session_add (session, request, &error);
  g_assert_no_error (error);
  donor_side = atlas_download_new_peer_session (donor);
  downloader_side = atlas_download_new_peer_session (downloader);
  test_pipe_connect (donor_side, downloader_side, ends);
  atlas_download_add_peer (donor, donor_side, "downloader");
  atlas_download_add_peer (downloader, downloader_side, "donor");
  test_run_for (150);
  atlas_download_set_wanted_pieces (donor, smaller);

  g_assert_cmpint (test_wait_for_end (downloader, 60), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (atlas_download_get_path (downloader), &fixture->sum));
  g_assert_cmpuint (atlas_download_get_bytes_from_peers (downloader), >, 0);
  g_assert_cmpuint (atlas_download_get_n_peers_served (donor), ==, 1);
  g_test_message ("from the donor: %" G_GUINT64_FORMAT " bytes, from the mirror %" G_GUINT64_FORMAT,
                  atlas_download_get_bytes_from_peers (downloader),
                  atlas_download_get_bytes_from_mirrors (downloader));

  atlas_session_remove (session, downloader, FALSE);
  atlas_session_remove (fixture->session, donor, FALSE);
  test_close_session (session);
  test_pipe_clear (ends);
}

static void
test_remove_deletes_part (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *download = add_partial (fixture, fixture->session, "-", smaller_set);
  g_autofree char *path = part_path (download);

  wait_held (download, 2, 30);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  atlas_session_remove (fixture->session, download, TRUE);
  for (guint i = 0; i < 250 && g_file_test (path, G_FILE_TEST_EXISTS); i++)
    test_run_for (20);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
test_needs_layout (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasRequest) request = atlas_request_new ();
  g_autoptr (AtlasRequest) good = make_request (fixture, "-");
  g_autoptr (GBytes) wanted = wanted_of (smaller_set);
  g_autoptr (GBytes) short_bits = g_bytes_new_static ("\x80", 1);
  g_autoptr (GError) error = NULL;

  /* Without piece hashes nothing could be checked piece by piece. */
  atlas_request_add_url (request, "http://127.0.0.1:1/file.bin", 1, NULL);
  atlas_request_set_size (request, FILE_SIZE);
  g_assert_null (_atlas_session_add_partial (fixture->session, request, wanted, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  /* A wanted set for another layout. */
  g_assert_null (_atlas_session_add_partial (fixture->session, good, short_bits, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (fixture->session)), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn)                                                                              \
  g_test_add ("/partial/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("needs-layout", test_needs_layout);
  ADD ("fetches-wanted-only", test_fetches_wanted_only);
  ADD ("shrink-and-grow", test_shrink_and_grow);
  ADD ("survives-restart", test_survives_restart);
  ADD ("dropped-piece-refused", test_dropped_piece_refused);
  ADD ("downloader-survives-drops", test_downloader_survives_drops);
  ADD ("remove-deletes-part", test_remove_deletes_part);
#undef ADD
  return g_test_run ();
}
