/* test-donor.c — the donation cache in-process: a real atlas-tracker, the
 * test mirror, a donor, and a downloader with its own session and swarm, on
 * 127.0.0.1. What a user would notice: the donor holds exactly the pieces the
 * tracker assigned it and no more than its storage cap (on disk), a
 * downloader gets bytes from it, lowering the cap frees disk at once, a
 * metered network or power saver pauses it unless overridden and a pause
 * keeps the cache, pieces no longer assigned stay until newly assigned ones
 * need their space, the monthly budget holds when uploads spend it, a stopped
 * donor lets go of its cache at once, and a failed file is tried again. */
#include "atlas-test-tracker.h"
#include "atlas-test-util.h"

#include "atlas-donor-ledger.h"
#include "atlas-donor-private.h"
#include "atlas-download-private.h"
#include "atlas-hash.h"
#include "atlas-rate-limiter.h"
#include "atlas-swarm.h"

#include <libsoup/soup.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIECE (256 * 1024)
#define N_PIECES 16
#define FILE_SIZE (N_PIECES * PIECE - 1000)

typedef struct
{
  TestTracker *tracker;
  TestMirror *mirror;
  AtlasChecksum sum;
  GBytes *pieces;
  char *cache;
  AtlasDonor *donor;
} Fixture;

static Fixture fx;

static char *local_addresses[] = { "127.0.0.1", NULL };

/* Disk blocks the donation cache's files really use. */
/* Bytes of file data the cache's files take on disk: the allocated extents
 * (SEEK_DATA to SEEK_HOLE), each rounded out to whole blocks. Not st_blocks,
 * which also counts the file system's own metadata: ext4 adds a 4 KiB extent
 * tree block once a sparse file has more than four extents (the test saw
 * 1576960 bytes for a full 1572864-byte cap), and that is not donated data. */
static guint64
file_data_bytes (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  guint64 sum = 0;
  off_t data;

  if (fd < 0)
    return 0;
  if (fstat (fd, &st) != 0 || st.st_blksize <= 0)
    {
      close (fd);
      return 0;
    }
  for (data = lseek (fd, 0, SEEK_DATA); data >= 0; data = lseek (fd, data, SEEK_DATA))
    {
      off_t hole = lseek (fd, data, SEEK_HOLE);
      off_t first = data - data % st.st_blksize;
      off_t end = hole + (st.st_blksize - hole % st.st_blksize) % st.st_blksize;

      if (hole < 0)
        break;
      sum += (guint64) (end - first);
      data = hole;
    }
  close (fd);
  return sum;
}

static guint64
cache_disk_bytes (void)
{
  g_autofree char *files = g_build_filename (fx.cache, "files", NULL);
  g_autoptr (GDir) dir = g_dir_open (files, 0, NULL);
  const char *name;
  guint64 sum = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (files, name, NULL);

      sum += file_data_bytes (path);
    }
  return sum;
}

static AtlasDownload *
donor_download (void)
{
  AtlasSession *session = _atlas_donor_get_session (fx.donor);
  g_autoptr (AtlasDownload) download = NULL;

  if (session == NULL || g_list_model_get_n_items (G_LIST_MODEL (session)) == 0)
    return NULL;
  download = g_list_model_get_item (G_LIST_MODEL (session), 0);
  return download; /* the session keeps it */
}

static gboolean
donor_settled (void)
{
  AtlasDownload *download = donor_download ();

  return download != NULL && atlas_download_get_n_wanted_pieces (download) > 0
         && atlas_download_get_n_held_pieces (download)
                == atlas_download_get_n_wanted_pieces (download);
}

static gboolean
wait_for (gboolean (*condition) (void), guint timeout_s)
{
  for (guint i = 0; i < timeout_s * 10; i++)
    {
      if (condition ())
        return TRUE;
      test_run_for (100);
    }
  return condition ();
}

static gboolean
donating (void)
{
  return atlas_donor_get_pause_reason (fx.donor) == ATLAS_DONOR_PAUSE_NONE;
}

/* ---- the tracker's side ------------------------------------------------------ */

static void
metrics_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GBytes **body = user_data;
  g_autoptr (GError) error = NULL;

  *body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
}

/* One sample of the tracker's /metrics, e.g. atlas_tracker_donors. */
static double
tracker_metric (const char *name)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (fx.tracker->url, "/metrics", NULL);
  g_autoptr (SoupMessage) message = soup_message_new ("GET", url);
  g_autofree char *needle = g_strconcat ("\n", name, " ", NULL);
  g_autoptr (GBytes) body = NULL;
  g_autofree char *text = NULL;
  const char *line;

  soup_session_send_and_read_async (session, message, G_PRIORITY_DEFAULT, NULL, metrics_read_cb,
                                    &body);
  for (guint i = 0; i < 400 && body == NULL; i++)
    test_run_for (25);
  g_assert_nonnull (body);
  g_assert_cmpuint (soup_message_get_status (message), ==, SOUP_STATUS_OK);
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  line = strstr (text, needle);
  g_assert_nonnull (line);
  return g_ascii_strtod (line + strlen (needle), NULL);
}

/* The tracker's allocation counts @donors offering donors (it updates the
 * figure when it has sent that run's assignments). */
static gboolean
tracker_counts_donors (double donors, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  double seen;

  while ((seen = tracker_metric ("atlas_tracker_donors")) != donors
         && g_get_monotonic_time () < deadline)
    test_run_for (200);
  if (seen != donors)
    g_test_message ("the tracker counts %g donors, not %g", seen, donors);
  return seen == donors;
}

/* ---- a downloader ------------------------------------------------------------- */

typedef struct
{
  char *out_dir;
  AtlasSession *session;
  AtlasPeerIdentity *identity;
  AtlasTrackerClient *tracker;
  AtlasSwarm *swarm;
  AtlasDownload *download; /* the session keeps it */
} Downloader;

/* A downloader of the donated file with its own session and swarm; its
 * mirror is slow (256 KiB/s), so the donor is its fast source. */
static Downloader *
downloader_start (void)
{
  Downloader *downloader = g_new0 (Downloader, 1);
  g_autoptr (AtlasSettings) settings = atlas_settings_new ();
  g_autoptr (AtlasRequest) request = atlas_request_new ();
  g_autoptr (GError) error = NULL;
  AtlasIceConfig ice = { .local_addresses = local_addresses, .mode = ATLAS_ICE_MODE_DIRECT };
  g_autofree char *url = test_mirror_url (fx.mirror, "rate=256K", "donated.bin");

  downloader->out_dir = test_make_temp_dir ();
  atlas_settings_set_download_directory (settings, downloader->out_dir);
  downloader->session = test_open_session (NULL, settings, &error);
  g_assert_no_error (error);
  downloader->identity = atlas_peer_identity_new_ephemeral (&error);
  g_assert_no_error (error);
  downloader->tracker = atlas_tracker_client_new (fx.tracker->url, fx.tracker->token, NULL);
  downloader->swarm =
      atlas_swarm_new (downloader->session, downloader->identity, downloader->tracker, &ice);
  atlas_swarm_start (downloader->swarm);
  atlas_session_start (downloader->session);
  atlas_request_add_url (request, url, 1, NULL);
  atlas_request_set_size (request, FILE_SIZE);
  atlas_request_set_pieces (request, ATLAS_HASH_SHA256, PIECE, fx.pieces);
  atlas_request_add_checksum (request, &fx.sum);
  atlas_request_set_filename (request, "donated.bin");
  downloader->download = atlas_session_add (downloader->session, request, &error);
  g_assert_no_error (error);
  return downloader;
}

static void
downloader_stop (Downloader *downloader)
{
  atlas_swarm_stop (downloader->swarm);
  g_clear_object (&downloader->swarm);
  test_close_session (g_steal_pointer (&downloader->session));
  g_clear_object (&downloader->tracker);
  g_clear_object (&downloader->identity);
  test_remove_tree (downloader->out_dir);
  g_free (downloader->out_dir);
  g_free (downloader);
}

/* ---- tests --------------------------------------------------------------------- */

static void
test_fetches_assigned_pieces (void)
{
  AtlasDownload *download;
  g_autoptr (GBytes) wanted = NULL;
  guint64 cap = 6 * PIECE;
  guint64 mirror_before = test_mirror_bytes_sent (fx.mirror);
  guint held;

  atlas_donor_set_storage_cap (fx.donor, cap);
  atlas_donor_start (fx.donor);
  g_assert_true (wait_for (donor_settled, 40));
  download = donor_download ();
  held = atlas_download_get_n_held_pieces (download);
  g_test_message ("donor holds %u pieces, %" G_GUINT64_FORMAT " bytes on disk", held,
                  cache_disk_bytes ());
  /* Within the cap: a whole number of pieces, on disk as well. */
  g_assert_cmpuint (held, >, 0);
  g_assert_cmpuint (held, <=, cap / PIECE);
  g_assert_cmpuint (atlas_donor_get_storage_used (fx.donor), <=, cap);
  test_run_for (1500);
  g_assert_cmpuint (cache_disk_bytes (), <=, cap);
  /* Exactly its pieces came from the mirror, nothing else. */
  g_assert_cmpuint (test_mirror_bytes_sent (fx.mirror) - mirror_before, <=, (guint64) held * PIECE);
  g_assert_cmpuint (test_mirror_bytes_sent (fx.mirror) - mirror_before, >=,
                    (guint64) (held - 1) * PIECE);
  g_assert_cmpuint (atlas_donor_get_fetched_this_month (fx.donor), >=,
                    (guint64) (held - 1) * PIECE);
  g_assert_cmpuint (g_list_model_get_n_items (atlas_donor_get_causes (fx.donor)), ==, 1);
}

static void
test_serves_downloader (void)
{
  Downloader *downloader = downloader_start ();
  AtlasDownload *download = downloader->download;
  AtlasDownloadState state;
  guint64 served_before = atlas_donor_get_bytes_served (fx.donor);

  state = test_wait_for_end (download, 60);
  g_assert_cmpint (state, ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (test_file_matches (atlas_download_get_path (download), &fx.sum));
  g_test_message ("downloader: %" G_GUINT64_FORMAT " bytes from peers, %" G_GUINT64_FORMAT
                  " from the mirror; donor served %" G_GUINT64_FORMAT,
                  atlas_download_get_bytes_from_peers (download),
                  atlas_download_get_bytes_from_mirrors (download),
                  atlas_donor_get_bytes_served (fx.donor) - served_before);
  g_assert_cmpuint (atlas_download_get_bytes_from_peers (download), >=, PIECE);
  g_assert_cmpuint (atlas_donor_get_bytes_served (fx.donor) - served_before, >=, PIECE);
  test_run_for (1200);
  g_assert_cmpuint (atlas_donor_get_downloads_helped (fx.donor), >=, 1);
  downloader_stop (downloader);
}

static guint64
budget_used (void)
{
  return atlas_donor_get_uploaded_this_month (fx.donor)
         + atlas_donor_get_fetched_this_month (fx.donor);
}

/* The budget runs out by uploading: the donor's cache is full (fetched
 * under a generous budget), then the budget is lowered to what is spent
 * plus a little while a downloader pulls from it. Uploaded + fetched never
 * passes the budget, and the donor says the budget is spent. */
static void
test_budget_through_upload (void)
{
  Downloader *downloader;
  guint64 uploaded_before;
  guint64 budget;
  guint64 most = 0;

  atlas_donor_set_monthly_budget (fx.donor, (guint64) 1 << 30);
  g_assert_true (wait_for (donor_settled, 20));
  g_assert_true (wait_for (donating, 10));
  uploaded_before = atlas_donor_get_uploaded_this_month (fx.donor);
  /* The donor keeps two of the largest blocks out of any budget and calls
   * it spent below 64 KiB: this leaves two pieces to upload. */
  budget = budget_used () + 2 * (guint64) ATLAS_PEER_MAX_BLOCK + 64 * 1024 + 2 * PIECE;
  atlas_donor_set_monthly_budget (fx.donor, budget);
  g_assert_cmpint (atlas_donor_get_pause_reason (fx.donor), ==, ATLAS_DONOR_PAUSE_NONE);

  downloader = downloader_start ();
  for (guint i = 0; i < 600 && atlas_donor_get_pause_reason (fx.donor) != ATLAS_DONOR_PAUSE_BUDGET;
       i++)
    {
      test_run_for (50);
      most = MAX (most, budget_used ());
      g_assert_cmpuint (budget_used (), <=, budget);
    }
  g_test_message ("budget %" G_GUINT64_FORMAT ": spent %" G_GUINT64_FORMAT
                  ", uploaded %" G_GUINT64_FORMAT " of it to the downloader (%" G_GUINT64_FORMAT
                  " from peers)",
                  budget, most, atlas_donor_get_uploaded_this_month (fx.donor) - uploaded_before,
                  atlas_download_get_bytes_from_peers (downloader->download));
  g_assert_cmpint (atlas_donor_get_pause_reason (fx.donor), ==, ATLAS_DONOR_PAUSE_BUDGET);
  g_assert_cmpstr (atlas_donor_get_pause_text (fx.donor), ==,
                   "paused: this month's budget is spent");
  /* It was the uploads that spent it. */
  g_assert_cmpuint (atlas_donor_get_uploaded_this_month (fx.donor) - uploaded_before, >=, PIECE);
  /* And nothing more goes out while the downloader still wants it. */
  for (guint i = 0; i < 20; i++)
    {
      test_run_for (100);
      g_assert_cmpuint (budget_used (), <=, budget);
    }
  g_assert_cmpint (atlas_download_get_state (downloader->download), !=, ATLAS_DOWNLOAD_COMPLETE);
  downloader_stop (downloader);

  /* No budget: donating again, with the cache as it was. */
  atlas_donor_set_monthly_budget (fx.donor, 0);
  g_assert_true (wait_for (donating, 10));
}

static gboolean
bytes_equal (GBytes *a, GBytes *b)
{
  return a != NULL && b != NULL && g_bytes_equal (a, b);
}

/* A metered network pauses donation without emptying the cache: the files
 * stay on disk while the tracker, which no longer counts the donor, assigns
 * it nothing; on resume the tracker keeps the same pieces with it, and the
 * origin is not asked for them again. */
static void
test_pause_keeps_cache (void)
{
  AtlasDownload *download;
  g_autoptr (GBytes) held = NULL;
  g_autoptr (GBytes) wanted = NULL;
  g_autoptr (GBytes) held_after = NULL;
  g_autoptr (GBytes) wanted_after = NULL;
  guint64 disk;
  guint64 mirror_before;

  g_assert_true (wait_for (donor_settled, 40));
  g_assert_true (tracker_counts_donors (1, 10));
  download = donor_download ();
  held = atlas_download_dup_peer_bits (download);
  wanted = atlas_download_dup_wanted_pieces (download);
  disk = cache_disk_bytes ();
  mirror_before = test_mirror_bytes_sent (fx.mirror);
  g_assert_cmpuint (disk, >, 0);

  _atlas_donor_set_conditions (fx.donor, TRUE, FALSE);
  g_assert_cmpint (atlas_donor_get_pause_reason (fx.donor), ==, ATLAS_DONOR_PAUSE_METERED);
  g_assert_true (tracker_counts_donors (0, 10));
  /* Time for the tracker's empty assignment to arrive, and more. */
  test_run_for (1500);
  g_assert_true (donor_download () == download);
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_PAUSED);
  g_assert_cmpuint (cache_disk_bytes (), ==, disk);
  held_after = atlas_download_dup_peer_bits (download);
  wanted_after = atlas_download_dup_wanted_pieces (download);
  g_assert_true (bytes_equal (held, held_after));
  g_assert_true (bytes_equal (wanted, wanted_after));
  g_clear_pointer (&held_after, g_bytes_unref);
  g_clear_pointer (&wanted_after, g_bytes_unref);

  _atlas_donor_set_conditions (fx.donor, FALSE, FALSE);
  g_assert_true (wait_for (donating, 10));
  g_assert_true (tracker_counts_donors (1, 10));
  /* The assignment after the resume has been applied by now. */
  test_run_for (2000);
  g_assert_true (wait_for (donor_settled, 10));
  held_after = atlas_download_dup_peer_bits (donor_download ());
  wanted_after = atlas_download_dup_wanted_pieces (donor_download ());
  g_test_message ("disk %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
                  " bytes; the mirror sent %" G_GUINT64_FORMAT " more",
                  disk, cache_disk_bytes (), test_mirror_bytes_sent (fx.mirror) - mirror_before);
  g_assert_true (bytes_equal (held, held_after));
  g_assert_true (bytes_equal (wanted, wanted_after));
  g_assert_cmpuint (cache_disk_bytes (), ==, disk);
  g_assert_cmpuint (test_mirror_bytes_sent (fx.mirror), ==, mirror_before);
}

/* ---- reassignment: kept pieces and eviction ---------------------------------- */

static guint assignments_seen;

static gboolean
new_assignment (void)
{
  return _atlas_donor_get_n_assignments (fx.donor) > assignments_seen;
}

static guint
count_bits (GBytes *bits)
{
  gsize size = 0;
  const guint8 *data = bits != NULL ? g_bytes_get_data (bits, &size) : NULL;
  guint n = 0;

  for (gsize i = 0; i < size; i++)
    for (guint8 b = data[i]; b != 0; b &= b - 1)
      n++;
  return n;
}

static gboolean
has_bit (GBytes *bits, guint i)
{
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (bits, &size);

  return i / 8 < size && (data[i / 8] & (0x80 >> (i % 8))) != 0;
}

/* An assignment of donated.bin with the pieces listed (ending in -1). */
static GPtrArray *
assignment_of (const AtlasTrackerAssignment *like, const int *pieces)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_tracker_assignment_free);
  guint8 bits[(N_PIECES + 7) / 8] = { 0 };
  g_autoptr (GBytes) bytes = NULL;

  for (guint i = 0; pieces[i] >= 0; i++)
    bits[pieces[i] / 8] |= 0x80 >> (pieces[i] % 8);
  bytes = g_bytes_new (bits, sizeof bits);
  g_ptr_array_add (list,
                   atlas_tracker_assignment_new (like->entry, like->id, like->name,
                                                 like->piece_count, like->piece_length, bytes));
  return list;
}

static gboolean
donor_holds_wanted (void)
{
  AtlasDownload *download = donor_download ();

  return download != NULL
         && atlas_download_get_n_held_pieces (download)
                == atlas_download_get_n_wanted_pieces (download);
}

static guint
peer_bits_count (AtlasDownload *download)
{
  g_autoptr (GBytes) bits = atlas_download_dup_peer_bits (download);

  return count_bits (bits);
}

/* The tracker stops assigning the file while the cache has room: its
 * pieces stay on disk and in the peer bitfield, and nothing is fetched.
 * Then new pieces are assigned that need the space: the pieces no longer
 * assigned make room, the least recently assigned first, while the disk
 * never holds more than the cap, and the ones still kept are not fetched
 * again. */
static void
test_keeps_unassigned_until_space_needed (void)
{
  g_autofree char *entry = atlas_hex_encode (fx.sum.digest, 32);
  g_autofree char *elsewhere = g_strnfill (64, '0');
  const char *causes[] = { elsewhere, NULL };
  const char *back[] = { entry, NULL };
  g_autoptr (AtlasTrackerAssignment) first = NULL;
  g_autoptr (GBytes) held = NULL;
  g_autoptr (GBytes) after = NULL;
  g_autoptr (GPtrArray) list = NULL;
  int old[7], fresh[5], recent[3];
  guint n_old = 0, n_fresh = 0;
  guint64 disk, mirror_before, most = 0;
  guint64 cap = 6 * PIECE;
  AtlasDownload *download;

  g_assert_true (wait_for (donor_settled, 40));
  download = donor_download ();
  first = _atlas_donor_dup_assignment (fx.donor, entry);
  g_assert_nonnull (first);
  held = atlas_download_dup_peer_bits (download);
  g_assert_cmpuint (count_bits (held), ==, cap / PIECE);
  for (guint i = 0; i < N_PIECES; i++)
    if (has_bit (held, i))
      old[n_old++] = i;
    else if (n_fresh < 4)
      fresh[n_fresh++] = i;
  old[n_old] = fresh[n_fresh] = -1;
  disk = cache_disk_bytes ();
  mirror_before = test_mirror_bytes_sent (fx.mirror);

  /* The file is no longer supported: the tracker assigns nothing. */
  assignments_seen = _atlas_donor_get_n_assignments (fx.donor);
  atlas_donor_set_causes (fx.donor, FALSE, causes, NULL);
  g_assert_true (wait_for (new_assignment, 20));
  g_assert_null (_atlas_donor_dup_assignment (fx.donor, entry));
  test_run_for (1500);
  g_assert_true (donor_download () == download);
  after = atlas_download_dup_peer_bits (download);
  g_assert_true (bytes_equal (held, after));
  g_assert_cmpuint (cache_disk_bytes (), ==, disk);
  g_assert_cmpuint (test_mirror_bytes_sent (fx.mirror), ==, mirror_before);
  g_clear_pointer (&after, g_bytes_unref);

  /* Two of them assigned again, then four others: the four pieces
   * assigned longest ago make room. */
  recent[0] = old[0];
  recent[1] = old[1];
  recent[2] = -1;
  list = assignment_of (first, recent);
  _atlas_donor_apply_assignments (fx.donor, list);
  g_clear_pointer (&list, g_ptr_array_unref);
  g_assert_cmpuint (atlas_download_get_n_wanted_pieces (download), ==, cap / PIECE);
  list = assignment_of (first, fresh);
  _atlas_donor_apply_assignments (fx.donor, list);
  /* Until the pieces are also in the peer bitfield, which lags the held count
   * until they are synced (the check below read it too early on a busy
   * machine: 4 of 6); at most 30 s, stretched for the sanitizer builds. */
  for (guint i = 0;
       i < 600 * test_time_scale ()
       && !(donor_holds_wanted () && atlas_download_get_n_held_pieces (download) == cap / PIECE
            && peer_bits_count (download) == cap / PIECE);
       i++)
    {
      test_run_for (50);
      most = MAX (most, cache_disk_bytes ());
      g_assert_cmpuint (cache_disk_bytes (), <=, cap);
      g_assert_cmpuint (atlas_donor_get_storage_used (fx.donor), <=, cap);
    }
  after = atlas_download_dup_peer_bits (download);
  g_test_message ("after the new assignment: %u pieces held, at most %" G_GUINT64_FORMAT
                  " bytes on disk; the mirror sent %" G_GUINT64_FORMAT,
                  count_bits (after), most, test_mirror_bytes_sent (fx.mirror) - mirror_before);
  g_assert_cmpuint (count_bits (after), ==, cap / PIECE);
  for (guint i = 0; fresh[i] >= 0; i++)
    g_assert_true (has_bit (after, fresh[i]));
  g_assert_true (has_bit (after, recent[0]));
  g_assert_true (has_bit (after, recent[1]));
  /* Only the new pieces came from the mirror. */
  g_assert_cmpuint (test_mirror_bytes_sent (fx.mirror) - mirror_before, <=,
                    (guint64) n_fresh * PIECE);
  g_assert_cmpuint (cache_disk_bytes (), <=, cap);

  /* The file supported again: the tracker's next assignment applies. */
  assignments_seen = _atlas_donor_get_n_assignments (fx.donor);
  atlas_donor_set_causes (fx.donor, FALSE, back, NULL);
  g_assert_true (wait_for (new_assignment, 20));
  g_assert_true (wait_for (donor_settled, 30));
  test_run_for (1000);
}

static gboolean
disk_within_two_pieces (void)
{
  return cache_disk_bytes () <= 2 * PIECE;
}

static void
test_lower_cap_drops_at_once (void)
{
  guint64 before = cache_disk_bytes ();

  g_assert_cmpuint (before, >, 2 * PIECE);
  atlas_donor_set_storage_cap (fx.donor, 2 * PIECE);
  /* The cap is applied before anything else happens on the loop... */
  g_assert_cmpuint (atlas_download_get_n_wanted_pieces (donor_download ()), <=, 2);
  /* ...and the holes are punched by a worker within moments. */
  g_assert_true (wait_for (disk_within_two_pieces, 3));
  g_test_message ("disk: %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " bytes", before,
                  cache_disk_bytes ());
  /* It stays there while the tracker catches up with the new offer. */
  for (guint i = 0; i < 60; i++)
    {
      test_run_for (100);
      g_assert_cmpuint (cache_disk_bytes (), <=, 2 * PIECE);
      g_assert_cmpuint (atlas_donor_get_storage_used (fx.donor), <=, 2 * PIECE);
    }
}

static gboolean
cache_empty (void)
{
  return cache_disk_bytes () == 0;
}

static gboolean
paused (void)
{
  return !donating ();
}

static void
test_pause_policy (void)
{
  AtlasDownload *download;

  g_assert_true (wait_for (donating, 10));
  _atlas_donor_set_conditions (fx.donor, TRUE, FALSE);
  g_assert_cmpint (atlas_donor_get_pause_reason (fx.donor), ==, ATLAS_DONOR_PAUSE_METERED);
  g_assert_cmpstr (atlas_donor_get_pause_text (fx.donor), ==, "paused: the network is metered");
  download = donor_download ();
  if (download != NULL)
    g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_PAUSED);

  _atlas_donor_set_conditions (fx.donor, FALSE, FALSE);
  g_assert_true (wait_for (donating, 10));

  _atlas_donor_set_conditions (fx.donor, FALSE, TRUE);
  g_assert_cmpint (atlas_donor_get_pause_reason (fx.donor), ==, ATLAS_DONOR_PAUSE_POWER_SAVER);
  _atlas_donor_set_conditions (fx.donor, FALSE, FALSE);
  g_assert_true (wait_for (donating, 10));

  /* The overrides: both conditions at once, and donating goes on. */
  atlas_donor_set_pause_on_metered (fx.donor, FALSE);
  atlas_donor_set_pause_on_power_saver (fx.donor, FALSE);
  _atlas_donor_set_conditions (fx.donor, TRUE, TRUE);
  g_assert_cmpint (atlas_donor_get_pause_reason (fx.donor), ==, ATLAS_DONOR_PAUSE_NONE);
  test_run_for (1500);
  g_assert_cmpint (atlas_donor_get_pause_reason (fx.donor), ==, ATLAS_DONOR_PAUSE_NONE);

  /* Turned off, unlike paused: the cache is emptied, files and all. */
  atlas_donor_set_enabled (fx.donor, FALSE);
  g_assert_true (paused ());
  g_assert_cmpint (atlas_donor_get_pause_reason (fx.donor), ==, ATLAS_DONOR_PAUSE_DISABLED);
  g_assert_null (donor_download ());
  g_assert_true (wait_for (cache_empty, 3));
  atlas_donor_set_enabled (fx.donor, TRUE);
  g_assert_true (wait_for (donating, 10));
}

/* The upload limiter as the peer sessions drive it: a block goes out
 * whenever the delay is 0. Over simulated time, no 1 s window carries more
 * than the rate plus one burst plus one block. */
static void
test_limiter_burst (void)
{
  const guint64 rate = 1024 * 1024;
  const gsize block = 64 * 1024;
  AtlasRateLimiter limiter;
  g_autoptr (GArray) sent = g_array_new (FALSE, TRUE, sizeof (guint64)); /* bytes per ms */
  gint64 start = 1000 * G_USEC_PER_SEC;
  guint64 worst = 0;

  atlas_rate_limiter_init (&limiter, rate);
  g_array_set_size (sent, 5000);
  for (guint ms = 0; ms < 5000; ms++)
    while (atlas_rate_limiter_delay (&limiter, start + ms * 1000) == 0)
      {
        atlas_rate_limiter_consume (&limiter, block);
        g_array_index (sent, guint64, ms) += block;
      }
  for (guint from = 0; from + 1000 <= 5000; from++)
    {
      guint64 window = 0;

      for (guint ms = from; ms < from + 1000; ms++)
        window += g_array_index (sent, guint64, ms);
      worst = MAX (worst, window);
    }
  g_test_message ("worst 1 s window: %" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT " B/s",
                  worst, rate);
  g_assert_cmpuint (worst, <=, rate + atlas_rate_limiter_burst (rate) + block);
  g_assert_cmpuint (worst, >=, rate - block);
  g_assert_cmpuint (limiter.total, >=, 4 * rate);
}

/* An allowance shared by two limiters (upload and fetch): once it is spent
 * neither lets anything through, whatever the rate. */
static void
test_limiter_allowance (void)
{
  AtlasAllowance allowance = { .left = 100 * 1024 };
  AtlasRateLimiter up, down;
  guint64 passed = 0;

  atlas_rate_limiter_init (&up, 0);
  atlas_rate_limiter_init (&down, 0);
  atlas_rate_limiter_set_allowance (&up, &allowance);
  atlas_rate_limiter_set_allowance (&down, &allowance);
  for (guint i = 0; i < 100; i++)
    {
      AtlasRateLimiter *limiter = i % 2 ? &up : &down;

      if (atlas_rate_limiter_delay (limiter, i) == 0 && atlas_rate_limiter_may_receive (limiter, i))
        {
          atlas_rate_limiter_consume (limiter, 16 * 1024);
          passed += 16 * 1024;
        }
    }
  g_assert_cmpuint (passed, ==, 112 * 1024); /* 100 KiB, the last block in debt */
  g_assert_cmpuint (up.total + down.total, ==, passed);
  g_assert_cmpint (atlas_rate_limiter_delay (&up, 0), ==, ATLAS_RATE_LIMITER_ALLOWANCE_RETRY_US);
  g_assert_false (atlas_rate_limiter_may_receive (&down, 0));
  allowance.left += 64 * 1024;
  g_assert_true (atlas_rate_limiter_may_receive (&down, 0));
}

/* A run that died after reserving budget on disk: the restart counts the
 * whole reservation as spent; last month's spending does not count. */
static void
test_ledger_restart (void)
{
  g_autofree char *dir = test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "budget.ini", NULL);
  g_autofree char *month = _atlas_donor_ledger_month_now ();
  g_autofree char *text = g_strdup_printf ("[budget]\nmonth=%s\nuploaded=100\nfetched=200\n"
                                           "unaccounted=0\nreserved=1000\n",
                                           month);
  AtlasDonorLedger ledger = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_assert_true (_atlas_donor_ledger_load (&ledger, path, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ledger.uploaded, ==, 100);
  g_assert_cmpuint (ledger.fetched, ==, 200);
  g_assert_cmpuint (_atlas_donor_ledger_used (&ledger), ==, 1000);
  _atlas_donor_ledger_clear (&ledger);

  g_assert_true (g_file_set_contents (
      path, "[budget]\nmonth=1999-01\nuploaded=5\nfetched=5\nreserved=10\n", -1, NULL));
  g_assert_true (_atlas_donor_ledger_load (&ledger, path, &error));
  g_assert_cmpuint (_atlas_donor_ledger_used (&ledger), ==, 0);
  g_assert_cmpstr (ledger.month, ==, month);
  _atlas_donor_ledger_clear (&ledger);
  test_remove_tree (dir);
}

/* A ledger that cannot say what this month spent counts the budget as
 * spent: reading it as zero could let the donor spend the budget twice. */
static void
test_ledger_damaged (void)
{
  g_autofree char *month = _atlas_donor_ledger_month_now ();
  g_autofree char *garbage_counts = g_strdup_printf (
      "[budget]\nmonth=%s\nuploaded=lots\nfetched=1\nunaccounted=0\nreserved=9\n", month);
  g_autofree char *missing_count =
      g_strdup_printf ("[budget]\nmonth=%s\nuploaded=1\nreserved=9\n", month);
  g_autofree char *negative = g_strdup_printf (
      "[budget]\nmonth=%s\nuploaded=-5\nfetched=1\nunaccounted=0\nreserved=9\n", month);
  const char *damaged[] = { "\x01\x02 not a key file [", "[budget]\nmonth=next month\n",
                            garbage_counts, missing_count, negative };
  g_autofree char *huge = g_strdup_printf ("[budget]\nmonth=%s\nuploaded=18446744073709551615\n"
                                           "fetched=18446744073709551615\nunaccounted=7\n"
                                           "reserved=18446744073709551615\n",
                                           month);
  AtlasDonorLedger ledger = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (damaged); i++)
    {
      g_assert_false (_atlas_donor_ledger_parse (&ledger, damaged[i], strlen (damaged[i]), month));
      g_assert_cmpuint (_atlas_donor_ledger_used (&ledger), ==, G_MAXUINT64);
      _atlas_donor_ledger_clear (&ledger);
    }
  /* Counts near the top do not wrap around to a small total. */
  g_assert_true (_atlas_donor_ledger_parse (&ledger, huge, strlen (huge), month));
  g_assert_cmpuint (_atlas_donor_ledger_used (&ledger), ==, G_MAXUINT64);
  _atlas_donor_ledger_clear (&ledger);
}

static void
stopped_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  gboolean *done = data;

  g_assert_true (atlas_donor_stop_finish (ATLAS_DONOR (source), result, NULL));
  *done = TRUE;
}

static void
failed_cb (AtlasDonor *donor, const GError *error, gpointer data)
{
  GError **failure = data;

  if (*failure == NULL)
    *failure = g_error_copy (error);
}

static GError *failure;

static AtlasDonor *
make_donor (void)
{
  AtlasIceConfig ice = { .local_addresses = local_addresses, .mode = ATLAS_ICE_MODE_DIRECT };
  g_autoptr (GError) error = NULL;
  g_autofree char *entry = atlas_hex_encode (fx.sum.digest, 32);
  const char *entries[] = { entry, NULL };
  AtlasDonor *donor =
      atlas_donor_new (fx.cache, fx.tracker->url, fx.tracker->token, NULL, &ice, &error);

  g_assert_no_error (error);
  _atlas_donor_set_conditions (donor, FALSE, FALSE);
  atlas_donor_set_causes (donor, FALSE, entries, NULL);
  atlas_donor_set_storage_cap (donor, 6 * PIECE);
  g_signal_connect (donor, "failed", G_CALLBACK (failed_cb), &failure);
  return donor;
}

static void
stop_donor (AtlasDonor *donor)
{
  gboolean stopped = FALSE;

  atlas_donor_stop_async (donor, NULL, stopped_cb, &stopped);
  g_assert_true (test_run_until (&stopped, 20));
}

static gboolean
donor_opened_or_failed (void)
{
  return _atlas_donor_get_session (fx.donor) != NULL || failure != NULL;
}

/* Makes and starts the next donor from inside the previous one's stop
 * callback: the earliest moment a program can. */
static void
restart_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  gboolean *restarted = data;
  g_autoptr (GError) error = NULL;

  g_assert_true (atlas_donor_stop_finish (ATLAS_DONOR (source), result, &error));
  g_assert_no_error (error);
  g_clear_object (&fx.donor);
  fx.donor = make_donor ();
  atlas_donor_start (fx.donor);
  *restarted = TRUE;
}

/* A stopped donor has let go of its cache when the stop completes: a new
 * donor on the same directory opens it at once, however quickly it comes;
 * and a stop while the queue is still opening completes (and lets go) too. */
static void
test_stop_then_restart (void)
{
  for (guint round = 0; round < 5; round++)
    {
      gint64 start = g_get_monotonic_time ();
      gboolean restarted = FALSE;

      atlas_donor_stop_async (fx.donor, NULL, restart_cb, &restarted);
      g_assert_true (test_run_until (&restarted, 20));
      g_assert_true (wait_for (donor_opened_or_failed, 10));
      g_assert_no_error (failure);
      g_test_message ("round %u: stopped and opened again in %" G_GINT64_FORMAT " ms", round,
                      (g_get_monotonic_time () - start) / 1000);
    }

  /* Stopped right after it started, while its queue opens. */
  stop_donor (fx.donor);
  g_clear_object (&fx.donor);
  fx.donor = make_donor ();
  atlas_donor_start (fx.donor);
  stop_donor (fx.donor);
  g_assert_null (_atlas_donor_get_session (fx.donor));
  g_clear_object (&fx.donor);
  fx.donor = make_donor ();
  atlas_donor_start (fx.donor);
  g_assert_true (wait_for (donor_opened_or_failed, 10));
  g_assert_no_error (failure);
  /* What the cache held is still there for the new donor to serve. */
  g_assert_true (wait_for (donor_settled, 30));
}

static char *late_entry;

static AtlasDownload *
late_download (void)
{
  AtlasSession *session = _atlas_donor_get_session (fx.donor);

  for (guint i = 0; session != NULL && i < g_list_model_get_n_items (G_LIST_MODEL (session)); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (G_LIST_MODEL (session), i);

      if (g_str_has_suffix (atlas_download_get_path (download), late_entry))
        return download; /* the session keeps it */
    }
  return NULL;
}

static gboolean
late_failed (void)
{
  AtlasDownload *download = late_download ();

  return download != NULL && atlas_download_get_state (download) == ATLAS_DOWNLOAD_FAILED;
}

static gboolean
late_settled (void)
{
  AtlasDownload *download = late_download ();

  return download != NULL && atlas_download_get_state (download) != ATLAS_DOWNLOAD_FAILED
         && atlas_download_get_n_wanted_pieces (download) > 0
         && atlas_download_get_n_held_pieces (download)
                == atlas_download_get_n_wanted_pieces (download);
}

/* A file whose mirror does not have it yet: the donor's partial download
 * fails, and is tried again after a back-off (shortened here to 1 s) until
 * the mirror has it. */
static void
test_retries_failed_download (void)
{
  g_autofree char *dir = test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "late.bin", NULL);
  g_autofree char *url = test_mirror_url (fx.mirror, "-", "late.bin");
  g_autoptr (GBytes) pieces = NULL;
  g_autoptr (GBytes) metalink = NULL;
  AtlasChecksum sum = test_make_file (dir, "late.bin", FILE_SIZE, 7);
  gint64 failed_at;

  pieces = test_piece_digests (path, PIECE);
  metalink = test_make_metalink ("late.bin", FILE_SIZE, PIECE, &sum, pieces, url);
  test_tracker_publish (fx.tracker, "late.bin", metalink);
  late_entry = atlas_hex_encode (sum.digest, 32);
  _atlas_donor_set_retry_delays (fx.donor, G_USEC_PER_SEC, 4 * G_USEC_PER_SEC);
  {
    const char *entries[] = { late_entry, NULL };

    atlas_donor_set_causes (fx.donor, FALSE, entries, NULL);
  }
  g_assert_true (wait_for (late_failed, 30));
  failed_at = g_get_monotonic_time ();
  g_test_message ("failed: %s", atlas_download_get_error_message (late_download ()));

  /* Failed again and again while the mirror lacks it, but only as often
   * as the back-off allows... */
  test_run_for (2500);
  g_assert_true (late_download () != NULL);
  /* ...and held once the mirror has it. */
  test_make_file (fx.mirror->root, "late.bin", FILE_SIZE, 7);
  g_assert_true (wait_for (late_settled, 20));
  g_test_message ("held %u pieces %" G_GINT64_FORMAT " ms after the first failure",
                  atlas_download_get_n_held_pieces (late_download ()),
                  (g_get_monotonic_time () - failed_at) / 1000);
  test_remove_tree (dir);
  g_clear_pointer (&late_entry, g_free);
}

int
main (int argc, char **argv)
{
  g_autofree char *path = NULL;
  g_autofree char *url = NULL;
  g_autoptr (GBytes) metalink = NULL;
  g_autoptr (GError) error = NULL;
  AtlasIceConfig ice = { .local_addresses = local_addresses, .mode = ATLAS_ICE_MODE_DIRECT };
  g_autofree char *entry = NULL;
  gboolean stopped = FALSE;
  int status;

  g_test_init (&argc, &argv, NULL);

  fx.tracker = test_tracker_start (g_getenv ("ATLAS_TRACKER"));
  fx.mirror = test_mirror_start ();
  fx.sum = test_make_file (fx.mirror->root, "donated.bin", FILE_SIZE, 5);
  path = g_build_filename (fx.mirror->root, "donated.bin", NULL);
  fx.pieces = test_piece_digests (path, PIECE);
  url = test_mirror_url (fx.mirror, "-", "donated.bin");
  metalink = test_make_metalink ("donated.bin", FILE_SIZE, PIECE, &fx.sum, fx.pieces, url);
  test_tracker_publish (fx.tracker, "donated.bin", metalink);

  fx.cache = test_make_temp_dir ();
  fx.donor = atlas_donor_new (fx.cache, fx.tracker->url, fx.tracker->token, NULL, &ice, &error);
  g_assert_no_error (error);
  _atlas_donor_set_conditions (fx.donor, FALSE, FALSE);
  /* The file as the cause: "anywhere" only covers files with downloaders,
   * and the first test has none yet. */
  entry = atlas_hex_encode (fx.sum.digest, 32);
  {
    const char *entries[] = { entry, NULL };

    atlas_donor_set_causes (fx.donor, FALSE, entries, NULL);
  }

  g_test_add_func ("/donor/limiter-burst", test_limiter_burst);
  g_test_add_func ("/donor/limiter-allowance", test_limiter_allowance);
  g_test_add_func ("/donor/ledger-restart", test_ledger_restart);
  g_test_add_func ("/donor/ledger-damaged", test_ledger_damaged);
  g_test_add_func ("/donor/fetches-assigned-pieces", test_fetches_assigned_pieces);
  g_test_add_func ("/donor/keeps-unassigned-until-space-needed",
                   test_keeps_unassigned_until_space_needed);
  g_test_add_func ("/donor/pause-keeps-cache", test_pause_keeps_cache);
  g_test_add_func ("/donor/serves-downloader", test_serves_downloader);
  g_test_add_func ("/donor/budget-through-upload", test_budget_through_upload);
  g_test_add_func ("/donor/lower-cap-drops-at-once", test_lower_cap_drops_at_once);
  g_test_add_func ("/donor/pause-policy", test_pause_policy);
  g_test_add_func ("/donor/stop-then-restart", test_stop_then_restart);
  g_test_add_func ("/donor/retries-failed-download", test_retries_failed_download);
  status = g_test_run ();

  atlas_donor_stop_async (fx.donor, NULL, stopped_cb, &stopped);
  test_run_until (&stopped, 10);
  g_clear_object (&fx.donor);
  test_remove_tree (fx.cache);
  g_free (fx.cache);
  g_bytes_unref (fx.pieces);
  test_mirror_stop (fx.mirror);
  test_tracker_stop (fx.tracker);
  return status;
}
