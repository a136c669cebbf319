/* A download with peers: a peer session on the other end of an in-memory
 * stream stands in for a QUIC link, so these tests check what the download
 * does with peers — which bytes it takes from them, how it treats a peer
 * that lies, what it serves — without any network below the stream. */
#include "atlas-test-pipe.h"
#include "atlas-test-util.h"

#include "atlas-download-private.h"
#include "atlas-peer-session.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define PIECE (256 * 1024)
#define FILE_SIZE (6 * 1024 * 1024 + 4321) /* a short last piece on purpose */
#define N_PIECES (FILE_SIZE / PIECE + 1)

/* ---- a peer that serves a file ------------------------------------------ */

typedef struct
{
  AtlasPeerSession *session;
  int fd;
  gboolean closed;
  char *closed_message;
  guint64 received;
} Seeder;

static void
seeder_closed_cb (AtlasPeerSession *session, const GError *error, gpointer user_data)
{
  Seeder *seeder = user_data;

  seeder->closed = TRUE;
  seeder->closed_message = g_strdup (error != NULL ? error->message : "clean");
}

static void
seeder_block_cb (AtlasPeerSession *session, guint32 piece, guint32 offset, const guint8 *data,
                 guint32 length, gpointer user_data)
{
  Seeder *seeder = user_data;

  seeder->received += length;
}

static const AtlasPeerSessionEvents seeder_events = {
  .closed = seeder_closed_cb,
  .block = seeder_block_cb,
};

/* A peer serving @path that announces pieces [0, @n_held). */
static void
seeder_init_holding (Seeder *seeder, const AtlasPeerLayout *layout, const char *path, guint n_held)
{
  g_autofree guint8 *bits = g_new0 (guint8, (layout->piece_count + 7) / 8);

  for (guint p = 0; p < n_held && p < layout->piece_count; p++)
    atlas_peer_bitfield_set (bits, p);
  memset (seeder, 0, sizeof *seeder);
  seeder->fd = path != NULL ? open (path, O_RDONLY | O_CLOEXEC) : -1;
  seeder->session = atlas_peer_session_new (layout, bits, seeder->fd);
  atlas_peer_session_set_name (seeder->session, "seeder");
  atlas_peer_session_set_events (seeder->session, &seeder_events, seeder);
}

static void
seeder_init (Seeder *seeder, const AtlasPeerLayout *layout, const char *path, gboolean holds_all)
{
  seeder_init_holding (seeder, layout, path, holds_all ? layout->piece_count : 0);
}

static void
seeder_clear (Seeder *seeder)
{
  g_clear_object (&seeder->session);
  if (seeder->fd >= 0)
    close (seeder->fd);
  g_free (seeder->closed_message);
}

/* ---- fixture ------------------------------------------------------------- */

typedef struct
{
  TestMirror *mirror;
  char *out_dir;
  char *source_path;
  AtlasChecksum sum;
  GBytes *pieces;
  AtlasSettings *settings;
  AtlasSession *session;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->mirror = test_mirror_start ();
  fixture->sum = test_make_file (fixture->mirror->root, "file.bin", FILE_SIZE, 7);
  fixture->source_path = g_build_filename (fixture->mirror->root, "file.bin", NULL);
  fixture->pieces = test_piece_digests (fixture->source_path, PIECE);
  fixture->out_dir = test_make_temp_dir ();
  fixture->settings = atlas_settings_new ();
  atlas_settings_set_download_directory (fixture->settings, fixture->out_dir);
  atlas_settings_set_stall_timeout (fixture->settings, 3);
  fixture->session = test_open_session (NULL, fixture->settings, &error);
  g_assert_no_error (error);
  atlas_session_start (fixture->session);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  test_close_session (fixture->session);
  g_object_unref (fixture->settings);
  g_bytes_unref (fixture->pieces);
  test_remove_tree (fixture->out_dir);
  g_free (fixture->out_dir);
  g_free (fixture->source_path);
  test_mirror_stop (fixture->mirror);
}

/* Peer links outlive completion (a complete download goes on serving), so
 * a test ends them before freeing the stream under them: removing the
 * download from the queue closes its links, keeping the file. */
static void
end_links (Fixture *fixture, AtlasDownload *download)
{
  atlas_session_remove (fixture->session, download, FALSE);
}

static AtlasDownload *
add_download_paused (Fixture *fixture, const char *modes, gboolean paused)
{
  g_autoptr (AtlasRequest) request = atlas_request_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *url = test_mirror_url (fixture->mirror, modes, "file.bin");
  AtlasDownload *download;

  atlas_request_add_url (request, url, 1, NULL);
  atlas_request_set_size (request, FILE_SIZE);
  atlas_request_set_pieces (request, ATLAS_HASH_SHA256, PIECE, fixture->pieces);
  atlas_request_add_checksum (request, &fixture->sum);
  atlas_request_set_filename (request, "file.bin");
  atlas_request_set_paused (request, paused);
  download = atlas_session_add (fixture->session, request, &error);
  g_assert_no_error (error);
  return download;
}

static AtlasDownload *
add_download (Fixture *fixture, const char *modes)
{
  return add_download_paused (fixture, modes, FALSE);
}

/* Connects @seeder to @download through an in-memory stream. */
static void
attach (AtlasDownload *download, Seeder *seeder, TestPipeEnd ends[2])
{
  g_autoptr (AtlasPeerSession) ours = atlas_download_new_peer_session (download);

  g_assert_nonnull (ours);
  test_pipe_connect (ours, seeder->session, ends);
  atlas_peer_session_start (seeder->session);
  atlas_download_add_peer (download, ours, "seeder");
}

static AtlasSource *
peer_source (AtlasDownload *download)
{
  GListModel *sources = atlas_download_get_sources (download);

  for (guint i = 0; i < g_list_model_get_n_items (sources); i++)
    {
      g_autoptr (AtlasSource) source = g_list_model_get_item (sources, i);
      if (g_str_has_prefix (atlas_source_get_url (source), "peer:"))
        return source;
    }
  g_assert_not_reached ();
}

static void
test_layout_needs_hashes (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasRequest) request = atlas_request_new ();
  g_autofree char *url = test_mirror_url (fixture->mirror, "stall=0", "file.bin");
  g_autoptr (GError) error = NULL;
  AtlasDownload *download;
  AtlasPeerLayout layout;

  /* A plain link has no piece hashes: its bytes could not be checked, so it
   * never joins a swarm. */
  atlas_request_add_url (request, url, 0, NULL);
  atlas_request_set_size (request, FILE_SIZE);
  atlas_request_set_filename (request, "plain.bin");
  download = atlas_session_add (fixture->session, request, &error);
  g_assert_no_error (error);
  g_assert_false (atlas_download_get_peer_layout (download, &layout));
  g_assert_null (atlas_download_new_peer_session (download));

  download = add_download (fixture, "stall=0");
  g_assert_true (atlas_download_get_peer_layout (download, &layout));
  g_assert_cmpmem (layout.entry_id, 32, fixture->sum.digest, 32);
  g_assert_cmpuint (layout.piece_count, ==, N_PIECES);
  g_assert_cmpuint (layout.piece_length, ==, PIECE);
}

static void
test_from_peer_only (Fixture *fixture, gconstpointer data)
{
  /* The mirror never sends a byte: everything has to come from the peer. */
  AtlasDownload *download = add_download (fixture, "stall=0");
  AtlasPeerLayout layout;
  Seeder seeder;
  TestPipeEnd ends[2] = { 0 };

  g_assert_true (atlas_download_get_peer_layout (download, &layout));
  seeder_init (&seeder, &layout, fixture->source_path, TRUE);
  attach (download, &seeder, ends);

  g_assert_cmpint (test_wait_for_end (download, 60), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (atlas_download_get_path (download), &fixture->sum));
  g_assert_cmpuint (atlas_download_get_bytes_from_peers (download), ==, FILE_SIZE);
  g_assert_cmpuint (atlas_download_get_bytes_from_mirrors (download), ==, 0);
  g_assert_cmpuint (atlas_peer_session_get_bytes_sent (seeder.session), ==, FILE_SIZE);
  /* Complete, the download keeps the link to serve the peer in turn. */
  test_run_for (300);
  g_assert_false (seeder.closed);
  g_assert_cmpint (atlas_source_get_state (peer_source (download)), ==, ATLAS_SOURCE_IDLE);

  end_links (fixture, download);
  test_pipe_clear (ends);
  seeder_clear (&seeder);
}

static void
test_peer_and_mirror (Fixture *fixture, gconstpointer data)
{
  /* A slow mirror and a peer: both deliver, and the file is right. */
  AtlasDownload *download = add_download (fixture, "rate=1M");
  AtlasPeerLayout layout;
  Seeder seeder;
  TestPipeEnd ends[2] = { 0 };

  g_assert_true (atlas_download_get_peer_layout (download, &layout));
  seeder_init (&seeder, &layout, fixture->source_path, TRUE);
  /* Let the mirror start first, so it holds a claim when the peer comes. */
  test_run_for (300);
  attach (download, &seeder, ends);

  g_assert_cmpint (test_wait_for_end (download, 60), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (atlas_download_get_path (download), &fixture->sum));
  g_assert_cmpuint (atlas_download_get_bytes_from_mirrors (download), >, 0);
  g_assert_cmpuint (atlas_download_get_bytes_from_peers (download), >, FILE_SIZE / 2);

  end_links (fixture, download);
  test_pipe_clear (ends);
  seeder_clear (&seeder);
}

static void
test_lying_peer_banned (Fixture *fixture, gconstpointer data)
{
  /* The peer serves a copy with one flipped byte in piece 22. */
  g_autofree char *bad_path = g_build_filename (fixture->out_dir, "bad-copy.bin", NULL);
  g_autofree char *contents = NULL;
  gsize length;
  AtlasDownload *download;
  AtlasPeerLayout layout;
  AtlasSource *source;
  Seeder seeder;
  TestPipeEnd ends[2] = { 0 };

  g_assert_true (g_file_get_contents (fixture->source_path, &contents, &length, NULL));
  contents[22 * PIECE + 100] ^= 0x01;
  g_assert_true (g_file_set_contents (bad_path, contents, (gssize) length, NULL));

  /* One mirror connection claims the whole file from its start; the peer,
   * however late it gets ready, splits that range and takes its second half,
   * so piece 22 is the peer's (with four mirror connections, which piece the
   * peer got depended on timing, and a slowed run under valgrind never had it
   * sent piece 3). */
  atlas_settings_set_max_connections_per_download (fixture->settings, 1);
  download = add_download (fixture, "rate=2M");
  g_assert_true (atlas_download_get_peer_layout (download, &layout));
  seeder_init (&seeder, &layout, bad_path, TRUE);
  attach (download, &seeder, ends);

  /* The bad piece is caught by its hash; the mirror supplies it; the file is
   * right, and the peer is banned and told so. */
  g_assert_cmpint (test_wait_for_end (download, 60), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (atlas_download_get_path (download), &fixture->sum));
  source = peer_source (download);
  g_assert_cmpint (atlas_source_get_state (source), ==, ATLAS_SOURCE_BANNED);
  g_assert_cmpuint (atlas_source_get_bad_pieces (source), ==, 1);
  g_assert_true (seeder.closed);
  g_assert_nonnull (strstr (seeder.closed_message, "ban"));
  g_unlink (bad_path);

  end_links (fixture, download);
  test_pipe_clear (ends);
  seeder_clear (&seeder);
}

static void
test_peer_leaving_frees_its_pieces (Fixture *fixture, gconstpointer data)
{
  /* A slow peer holds every piece, so the mirror leaves them to it; then the
   * peer goes away mid-transfer. Its pieces must count as nobody's again,
   * or the mirror would never fetch them and the download would hang. */
  AtlasDownload *download = add_download (fixture, "rate=4M");
  AtlasPeerLayout layout;
  Seeder seeder, empty;
  TestPipeEnd ends[2] = { 0 };
  TestPipeEnd empty_ends[2] = { 0 };

  g_assert_true (atlas_download_get_peer_layout (download, &layout));
  atlas_download_set_swarming (download);
  seeder_init (&seeder, &layout, fixture->source_path, TRUE);
  atlas_peer_session_set_upload_limits (seeder.session, NULL, 512 * 1024);
  attach (download, &seeder, ends);
  /* Another peer that stays, holding nothing: with a peer ready, mirrors
   * leave to the peers whatever the holder counts say peers hold. */
  seeder_init (&empty, &layout, NULL, FALSE);
  attach (download, &empty, empty_ends);
  test_run_for (1000);
  g_assert_cmpuint (atlas_download_get_bytes_from_peers (download), >, 0);
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_ACTIVE);

  atlas_peer_session_close (seeder.session, ATLAS_PEER_GOODBYE_SHUTTING_DOWN, "going away");
  g_assert_cmpint (test_wait_for_end (download, 30), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (atlas_download_get_path (download), &fixture->sum));
  g_assert_cmpuint (atlas_download_get_bytes_from_mirrors (download), >, FILE_SIZE / 2);

  end_links (fixture, download);
  test_pipe_clear (ends);
  test_pipe_clear (empty_ends);
  seeder_clear (&seeder);
  seeder_clear (&empty);
}

/* A peer that sends (pieces [0, n_held), at an upload cap) and one that
 * announces every piece and refuses each request (its file cannot be read). */
typedef struct
{
  Seeder sender, refuser;
  TestPipeEnd sender_ends[2], refuser_ends[2];
} SenderAndRefuser;

static void
sender_and_refuser_attach (SenderAndRefuser *peers, AtlasDownload *download,
                           const AtlasPeerLayout *layout, const char *path, guint n_held,
                           guint64 upload_limit)
{
  memset (peers, 0, sizeof *peers);
  seeder_init_holding (&peers->sender, layout, path, n_held);
  atlas_peer_session_set_upload_limits (peers->sender.session, NULL, upload_limit);
  attach (download, &peers->sender, peers->sender_ends);
  seeder_init (&peers->refuser, layout, NULL, TRUE);
  attach (download, &peers->refuser, peers->refuser_ends);
}

static void
sender_and_refuser_clear (SenderAndRefuser *peers)
{
  test_pipe_clear (peers->sender_ends);
  test_pipe_clear (peers->refuser_ends);
  seeder_clear (&peers->sender);
  seeder_clear (&peers->refuser);
}

/* Two peers hold every piece: one sends, slowly, so mirrors leave the pieces
 * to the peers; the other refuses each request (its file cannot be read).
 * When the sender leaves, nothing arrives from anyone and both measured
 * speeds fall to zero; mirrors must not go on deferring to the refuser, or
 * the download waits for good. The mirror is the slower source here. */
static void
test_refusing_peer_does_not_hold_mirrors_back (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *download = add_download (fixture, "rate=512K");
  AtlasPeerLayout layout;
  SenderAndRefuser peers;
  guint64 from_mirrors;

  g_assert_true (atlas_download_get_peer_layout (download, &layout));
  atlas_download_set_swarming (download);
  sender_and_refuser_attach (&peers, download, &layout, fixture->source_path, N_PIECES,
                             1024 * 1024);
  test_run_for (3000);
  g_assert_cmpuint (atlas_download_get_bytes_from_peers (download), >, 0);
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_ACTIVE);
  from_mirrors = atlas_download_get_bytes_from_mirrors (download);

  atlas_peer_session_close (peers.sender.session, ATLAS_PEER_GOODBYE_SHUTTING_DOWN, "going away");
  g_assert_cmpint (test_wait_for_end (download, 30), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (atlas_download_get_path (download), &fixture->sum));
  g_test_message ("mirrors sent %" G_GUINT64_FORMAT
                  " bytes before the sender left, %" G_GUINT64_FORMAT " after",
                  from_mirrors, atlas_download_get_bytes_from_mirrors (download) - from_mirrors);
  g_assert_cmpuint (atlas_download_get_bytes_from_mirrors (download), >, from_mirrors);

  end_links (fixture, download);
  sender_and_refuser_clear (&peers);
}

/* The soak's stuck peer: in a swarm, mirrors fetch only this downloader's
 * share while peers send faster.  The fast peer sends all it has (half the
 * file) and stays; the only other holder of the rest refuses every request.
 * Nobody sends anything any more, but the peers' decaying average stayed
 * above the mirror's, so mirrors went on leaving the rest to peers: the
 * download stopped short for good. */
static void
test_quiet_peers_do_not_hold_mirrors_back (Fixture *fixture, gconstpointer data)
{
  /* Added paused, so that the mirror's first claim is made in the swarm. */
  AtlasDownload *download = add_download_paused (fixture, "rate=1M", TRUE);
  const char *others[] = { "other-1", "other-2", "other-3", NULL };
  AtlasPeerLayout layout;
  SenderAndRefuser peers;

  g_assert_true (atlas_download_get_peer_layout (download, &layout));
  atlas_download_set_swarming (download);
  atlas_download_set_swarm_members (download, "this-one", others);
  sender_and_refuser_attach (&peers, download, &layout, fixture->source_path, N_PIECES / 2,
                             4 * 1024 * 1024);
  test_run_for (200);
  atlas_download_resume (download);
  g_assert_cmpint (test_wait_for_end (download, 30), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (atlas_download_get_path (download), &fixture->sum));
  g_test_message ("peers sent %" G_GUINT64_FORMAT " bytes, mirrors %" G_GUINT64_FORMAT,
                  atlas_download_get_bytes_from_peers (download),
                  atlas_download_get_bytes_from_mirrors (download));

  end_links (fixture, download);
  sender_and_refuser_clear (&peers);
}

/* The only peer announces every piece and refuses each request (in the
 * soak, an app whose user had deleted the finished file).  Nobody has sent
 * anything, so peers "outpace" mirrors at 0 = 0 and mirrors leave held pieces
 * to peers: without a limit on refusals the download waited for good. */
static void
test_refusing_peer_alone (Fixture *fixture, gconstpointer data)
{
  /* Added paused, so that the mirror's first claim is made in the swarm. */
  AtlasDownload *download = add_download_paused (fixture, "rate=4M", TRUE);
  AtlasPeerLayout layout;
  Seeder refuser;
  TestPipeEnd ends[2] = { 0 };

  g_assert_true (atlas_download_get_peer_layout (download, &layout));
  atlas_download_set_swarming (download);
  seeder_init (&refuser, &layout, NULL, TRUE);
  attach (download, &refuser, ends);
  test_run_for (200);
  atlas_download_resume (download);

  g_assert_cmpint (test_wait_for_end (download, 30), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (atlas_download_get_path (download), &fixture->sum));
  g_assert_cmpuint (atlas_download_get_bytes_from_mirrors (download), >=, FILE_SIZE);
  g_assert_cmpuint (atlas_download_get_bytes_from_peers (download), ==, 0);

  end_links (fixture, download);
  test_pipe_clear (ends);
  seeder_clear (&refuser);
}

typedef struct
{
  Seeder base;
  guint blocks;
  gboolean ready;
} Leecher;

static void
leecher_ready_cb (AtlasPeerSession *session, gpointer user_data)
{
  Leecher *leecher = user_data;

  leecher->ready = TRUE;
}

static void
leecher_block_cb (AtlasPeerSession *session, guint32 piece, guint32 offset, const guint8 *data,
                  guint32 length, gpointer user_data)
{
  Leecher *leecher = user_data;

  leecher->base.received += length;
  leecher->blocks++;
}

static const AtlasPeerSessionEvents leecher_events = {
  .ready = leecher_ready_cb,
  .block = leecher_block_cb,
};

/* Connects a peer that holds nothing to a download that serves; returns
 * the download's end of the link. */
static AtlasPeerSession *
leecher_attach (Leecher *leecher, AtlasDownload *download, TestPipeEnd ends[2])
{
  AtlasPeerLayout layout;
  AtlasPeerSession *ours;

  g_assert_true (atlas_download_get_peer_layout (download, &layout));
  leecher->base.fd = -1;
  leecher->base.session = atlas_peer_session_new (&layout, NULL, -1);
  atlas_peer_session_set_events (leecher->base.session, &leecher_events, leecher);
  ours = atlas_download_new_peer_session (download);
  test_pipe_connect (ours, leecher->base.session, ends);
  atlas_peer_session_start (leecher->base.session);
  atlas_download_add_peer (download, ours, "leecher");
  return ours;
}

/* How many of this process's descriptors are open on @path. */
static guint
descriptors_on (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;
  guint count = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *link = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);

      count += g_strcmp0 (target, path) == 0;
    }
  return count;
}

static void
test_serves_verified_pieces (Fixture *fixture, gconstpointer data)
{
  /* A complete download serves every piece to a peer that asks. */
  AtlasDownload *download = add_download (fixture, "-");
  Leecher leecher = { 0 };
  TestPipeEnd ends[2] = { 0 };
  g_autoptr (AtlasPeerSession) ours = NULL;

  g_assert_cmpint (test_wait_for_end (download, 60), ==, ATLAS_DOWNLOAD_COMPLETE);
  ours = leecher_attach (&leecher, download, ends);

  g_assert_true (test_run_until (&leecher.ready, 10));
  g_assert_true (atlas_peer_bitfield_get (atlas_peer_session_get_remote_bits (leecher.base.session),
                                          N_PIECES - 1));
  for (guint p = 0; p < N_PIECES; p++)
    {
      guint32 size = p == N_PIECES - 1 ? FILE_SIZE - p * PIECE : PIECE;
      atlas_peer_session_request (leecher.base.session, p, 0, size);
    }
  for (guint i = 0; i < 200 && leecher.blocks < N_PIECES; i++)
    test_run_for (50);
  g_assert_cmpuint (leecher.base.received, ==, FILE_SIZE);
  g_assert_cmpuint (atlas_download_get_bytes_to_peers (download), ==, FILE_SIZE);

  /* The leecher leaves; the download stays in the queue, complete. Nothing
   * may keep the file open now: a queue of finished downloads would hold a
   * descriptor each, and a file the user deletes would keep its space. */
  atlas_peer_session_close (leecher.base.session, ATLAS_PEER_GOODBYE_SHUTTING_DOWN, "done");
  test_run_for (200);
  g_clear_object (&ours);
  test_pipe_clear (ends);
  g_assert_cmpuint (descriptors_on (atlas_download_get_path (download)), ==, 0);

  end_links (fixture, download);
  seeder_clear (&leecher.base);
}

/* The user deleted the finished file while the download stays in the
 * queue: peers are told we hold nothing instead of being refused piece after
 * piece, and the swarm announces nothing; the file put back is shared again. */
static void
test_deleted_file_not_announced (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *download = add_download (fixture, "-");
  g_autofree char *kept = NULL;
  Leecher leecher = { 0 };
  TestPipeEnd ends[2] = { 0 };
  g_autoptr (AtlasPeerSession) ours = NULL;
  g_autoptr (GBytes) bits = NULL;
  guint announced = 0;

  g_assert_cmpint (test_wait_for_end (download, 60), ==, ATLAS_DOWNLOAD_COMPLETE);
  kept = g_strconcat (atlas_download_get_path (download), ".kept", NULL);
  g_assert_cmpint (rename (atlas_download_get_path (download), kept), ==, 0);

  ours = leecher_attach (&leecher, download, ends);
  g_assert_true (test_run_until (&leecher.ready, 10));
  for (guint p = 0; p < N_PIECES; p++)
    announced +=
        atlas_peer_bitfield_get (atlas_peer_session_get_remote_bits (leecher.base.session), p);
  g_assert_cmpuint (announced, ==, 0);
  atlas_peer_session_close (leecher.base.session, ATLAS_PEER_GOODBYE_SHUTTING_DOWN, "done");
  test_run_for (200);
  g_clear_object (&ours);
  test_pipe_clear (ends);
  seeder_clear (&leecher.base);

  bits = atlas_download_dup_peer_bits (download);
  for (gsize i = 0; i < g_bytes_get_size (bits); i++)
    g_assert_cmpuint (((const guint8 *) g_bytes_get_data (bits, NULL))[i], ==, 0);
  g_clear_pointer (&bits, g_bytes_unref);

  g_assert_cmpint (rename (kept, atlas_download_get_path (download)), ==, 0);
  bits = atlas_download_dup_peer_bits (download);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (bits, NULL))[0], ==, 0xff);
  g_assert_cmpuint (descriptors_on (atlas_download_get_path (download)), ==, 0);

  end_links (fixture, download);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn)                                                                              \
  g_test_add ("/download-peers/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("layout-needs-hashes", test_layout_needs_hashes);
  ADD ("from-peer-only", test_from_peer_only);
  ADD ("peer-and-mirror", test_peer_and_mirror);
  ADD ("lying-peer-banned", test_lying_peer_banned);
  ADD ("peer-leaving-frees-its-pieces", test_peer_leaving_frees_its_pieces);
  ADD ("refusing-peer-does-not-hold-mirrors-back", test_refusing_peer_does_not_hold_mirrors_back);
  ADD ("refusing-peer-alone", test_refusing_peer_alone);
  ADD ("quiet-peers-do-not-hold-mirrors-back", test_quiet_peers_do_not_hold_mirrors_back);
  ADD ("serves-verified-pieces", test_serves_verified_pieces);
  ADD ("deleted-file-not-announced", test_deleted_file_not_announced);
#undef ADD
  return g_test_run ();
}
