/* test-peer-session.c — two sessions talking through an in-memory stream, and
 * sessions facing a hostile remote that writes frames with the codec directly. */
#include "atlas-error.h"
#include "atlas-peer-session-private.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define KIB 1024
#define BLOCK (16 * KIB)
#define TIMEOUT_MS 10000

/* A file on disk with known content. */

typedef struct
{
  char *path;
  int fd;
  guint8 *content;
  AtlasPeerLayout layout;
  guint8 *all_bits;
} TestFile;

static TestFile *
test_file_new (guint32 piece_length, guint32 full_pieces, guint32 tail)
{
  TestFile *file = g_new0 (TestFile, 1);
  g_autoptr (GError) error = NULL;
  gsize size = (gsize) piece_length * full_pieces + tail;
  GRand *rand = g_rand_new_with_seed (size);

  file->content = g_malloc (size);
  for (gsize i = 0; i < size; i++)
    file->content[i] = g_rand_int (rand) & 0xff;
  g_rand_free (rand);

  file->fd = g_file_open_tmp ("atlas-peer-session-XXXXXX", &file->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (write (file->fd, file->content, size), ==, (gssize) size);

  memset (file->layout.entry_id, 0xa7, sizeof file->layout.entry_id);
  file->layout.file_size = size;
  file->layout.piece_length = piece_length;
  file->layout.piece_count = full_pieces + (tail > 0 ? 1 : 0);
  file->all_bits = g_malloc0 (atlas_peer_bitfield_size (file->layout.piece_count));
  for (guint32 i = 0; i < file->layout.piece_count; i++)
    atlas_peer_bitfield_set (file->all_bits, i);
  return file;
}

static void
test_file_free (TestFile *file)
{
  close (file->fd);
  unlink (file->path);
  g_free (file->path);
  g_free (file->content);
  g_free (file->all_bits);
  g_free (file);
}

static guint32
piece_size (TestFile *file, guint32 piece)
{
  return MIN (file->layout.piece_length,
              file->layout.file_size - (guint64) piece * file->layout.piece_length);
}

/* What a session told its owner. */

typedef struct
{
  int ready;
  GArray *haves;
  int choked_events;
  gboolean choked;
  guint8 *received; /* assembled file */
  guint64 received_bytes;
  guint blocks;
  GArray *rejected; /* AtlasPeerBlock */
  int closed;
  GError *error;
  gboolean unref_on_close;
  gint64 closed_at;
} Observer;

static void
observer_init (Observer *obs, TestFile *file)
{
  memset (obs, 0, sizeof *obs);
  obs->haves = g_array_new (FALSE, FALSE, sizeof (guint32));
  obs->rejected = g_array_new (FALSE, FALSE, sizeof (AtlasPeerBlock));
  obs->received = g_malloc0 (file->layout.file_size);
}

static void
observer_clear (Observer *obs)
{
  g_array_unref (obs->haves);
  g_array_unref (obs->rejected);
  g_free (obs->received);
  g_clear_error (&obs->error);
}

static void
on_ready (AtlasPeerSession *session, gpointer user_data)
{
  ((Observer *) user_data)->ready++;
}

static void
on_have (AtlasPeerSession *session, guint32 piece, gpointer user_data)
{
  g_array_append_val (((Observer *) user_data)->haves, piece);
}

static void
on_choked (AtlasPeerSession *session, gboolean choked, gpointer user_data)
{
  Observer *obs = user_data;

  obs->choked_events++;
  obs->choked = choked;
}

static void
on_block (AtlasPeerSession *session, guint32 piece, guint32 offset, const guint8 *data,
          guint32 length, gpointer user_data)
{
  Observer *obs = user_data;
  guint64 at = (guint64) piece * session->layout.piece_length + offset;

  memcpy (obs->received + at, data, length);
  obs->received_bytes += length;
  obs->blocks++;
}

static void
on_rejected (AtlasPeerSession *session, guint32 piece, guint32 offset, guint32 length,
             gpointer user_data)
{
  AtlasPeerBlock block = { piece, offset, length };

  g_array_append_val (((Observer *) user_data)->rejected, block);
}

static void
on_closed (AtlasPeerSession *session, const GError *error, gpointer user_data)
{
  Observer *obs = user_data;

  obs->closed++;
  obs->closed_at = g_get_monotonic_time ();
  g_clear_error (&obs->error);
  if (error != NULL)
    obs->error = g_error_copy (error);
  if (obs->unref_on_close)
    g_object_unref (session);
}

static const AtlasPeerSessionEvents observer_events = {
  on_ready, on_have, on_choked, on_block, on_rejected, on_closed,
};

/* Bounded main loops. */

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the default context until @flag's condition holds or @ms pass. */
#define RUN_UNTIL(condition, ms)                                                                   \
  G_STMT_START                                                                                     \
  {                                                                                                \
    gboolean timed_out_ = FALSE;                                                                   \
    guint timer_ = g_timeout_add (ms, timeout_cb, &timed_out_);                                    \
    while (!(condition) && !timed_out_)                                                            \
      g_main_context_iteration (NULL, TRUE);                                                       \
    if (!timed_out_)                                                                               \
      g_source_remove (timer_);                                                                    \
  }                                                                                                \
  G_STMT_END

static void
run_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, timeout_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* An in-memory stream: what one session writes reaches the other's receive()
 * from an idle source, through a buffer of bounded size. */

typedef struct _End End;
struct _End
{
  AtlasPeerSession *session; /* writes into this end */
  End *other;
  GByteArray *pending;
  gsize capacity;
  gsize max_write;
  gboolean blocked;
  gboolean closed;
  guint idle_id;
  gsize max_queued; /* the most the session ever held back, for memory bounds */
};

static gboolean deliver_cb (gpointer data);

static gsize
end_write (gpointer transport, const guint8 *data, gsize length)
{
  End *end = transport;
  gsize room, taken;

  g_assert_false (end->closed);
  room = end->capacity - end->pending->len;
  taken = MIN (MIN (length, room), end->max_write);
  g_byte_array_append (end->pending, data, taken);
  if (taken < length)
    end->blocked = TRUE;
  if (taken > 0 && end->idle_id == 0)
    end->idle_id = g_idle_add (deliver_cb, end);
  end->max_queued = MAX (end->max_queued, end->session->out->len - end->session->out_start);
  return taken;
}

static void
end_close (gpointer transport, const char *reason)
{
  End *end = transport;

  end->closed = TRUE;
}

static const AtlasPeerTransportFuncs end_funcs = { end_write, end_close };

static gboolean
deliver_cb (gpointer data)
{
  End *end = data;
  g_autoptr (GByteArray) bytes = end->pending;

  end->idle_id = 0;
  end->pending = g_byte_array_new ();
  atlas_peer_session_receive (end->other->session, bytes->data, bytes->len);
  if (end->blocked)
    {
      end->blocked = FALSE;
      atlas_peer_session_writable (end->session);
    }
  return G_SOURCE_REMOVE;
}

typedef struct
{
  End a, b;
} Pair;

static void
pair_init (Pair *pair, AtlasPeerSession *a, AtlasPeerSession *b, gsize capacity, gsize max_write)
{
  End *ends[] = { &pair->a, &pair->b };

  memset (pair, 0, sizeof *pair);
  pair->a.session = a;
  pair->b.session = b;
  pair->a.other = &pair->b;
  pair->b.other = &pair->a;
  for (guint i = 0; i < 2; i++)
    {
      ends[i]->pending = g_byte_array_new ();
      ends[i]->capacity = capacity;
      ends[i]->max_write = max_write;
      atlas_peer_session_set_transport (ends[i]->session, &end_funcs, ends[i]);
    }
}

static void
pair_clear (Pair *pair)
{
  End *ends[] = { &pair->a, &pair->b };

  for (guint i = 0; i < 2; i++)
    {
      g_clear_handle_id (&ends[i]->idle_id, g_source_remove);
      g_byte_array_unref (ends[i]->pending);
    }
}

static AtlasPeerSession *
session_new (TestFile *file, const guint8 *bits, int fd, const char *name, Observer *obs)
{
  AtlasPeerSession *session = atlas_peer_session_new (&file->layout, bits, fd);

  atlas_peer_session_set_name (session, name);
  atlas_peer_session_set_events (session, &observer_events, obs);
  return session;
}

/* A seeder A and a leecher B, connected and ready. */
typedef struct
{
  TestFile *file;
  AtlasPeerSession *a, *b;
  Observer obs_a, obs_b;
  Pair pair;
} Swarm;

static void
swarm_init (Swarm *swarm, TestFile *file, gsize capacity, gsize max_write)
{
  swarm->file = file;
  observer_init (&swarm->obs_a, file);
  observer_init (&swarm->obs_b, file);
  swarm->a = session_new (file, file->all_bits, file->fd, "seeder", &swarm->obs_a);
  swarm->b = session_new (file, NULL, -1, "leecher", &swarm->obs_b);
  pair_init (&swarm->pair, swarm->a, swarm->b, capacity, max_write);
}

static void
swarm_start (Swarm *swarm)
{
  atlas_peer_session_start (swarm->a);
  atlas_peer_session_start (swarm->b);
  RUN_UNTIL (swarm->obs_a.ready && swarm->obs_b.ready, TIMEOUT_MS);
  g_assert_cmpint (swarm->obs_a.ready, ==, 1);
  g_assert_cmpint (swarm->obs_b.ready, ==, 1);
}

static void
swarm_clear (Swarm *swarm)
{
  g_clear_object (&swarm->a);
  g_clear_object (&swarm->b);
  pair_clear (&swarm->pair);
  observer_clear (&swarm->obs_a);
  observer_clear (&swarm->obs_b);
}

static void
request_whole_file (AtlasPeerSession *session, TestFile *file, guint32 block)
{
  for (guint32 piece = 0; piece < file->layout.piece_count; piece++)
    for (guint32 offset = 0; offset < piece_size (file, piece); offset += block)
      atlas_peer_session_request (session, piece, offset,
                                  MIN (block, piece_size (file, piece) - offset));
}

/* A hostile remote: the test writes its frames with the codec and reads what
 * the session sent back from a capture. */

typedef struct
{
  GByteArray *captured;
  gboolean closed;
  gboolean stuck; /* takes nothing, like a stream whose reader stopped */
} Raw;

static gsize
raw_write (gpointer transport, const guint8 *data, gsize length)
{
  Raw *raw = transport;

  if (raw->stuck)
    return 0;
  g_byte_array_append (raw->captured, data, length);
  return length;
}

static void
raw_close (gpointer transport, const char *reason)
{
  ((Raw *) transport)->closed = TRUE;
}

static const AtlasPeerTransportFuncs raw_funcs = { raw_write, raw_close };

typedef struct
{
  AtlasPeerMessageType type;
  guint32 piece, offset, length;
  guint16 reason;
  GBytes *data;
} Seen;

static void
seen_clear (gpointer data)
{
  g_clear_pointer (&((Seen *) data)->data, g_bytes_unref);
}

/* Decodes everything a session sent to the hostile remote. */
static GArray *
decode_captured (Raw *raw, guint32 piece_count)
{
  g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
  GArray *seen = g_array_new (FALSE, TRUE, sizeof (Seen));
  AtlasPeerMessage message;
  g_autoptr (GError) error = NULL;
  int status;

  g_array_set_clear_func (seen, seen_clear);
  atlas_peer_decoder_feed (decoder, raw->captured->data, raw->captured->len);
  while ((status = atlas_peer_decoder_next (decoder, &message, &error)) == 1)
    {
      Seen item = { message.type, message.piece, message.offset, message.length, message.reason };

      if (message.type == ATLAS_PEER_MSG_HELLO)
        atlas_peer_decoder_set_piece_count (decoder, piece_count);
      if (message.type == ATLAS_PEER_MSG_DATA)
        item.data = g_bytes_new (message.data, message.data_length);
      g_array_append_val (seen, item);
    }
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  return seen;
}

static guint
count_seen (GArray *seen, AtlasPeerMessageType type)
{
  guint count = 0;

  for (guint i = 0; i < seen->len; i++)
    count += g_array_index (seen, Seen, i).type == type;
  return count;
}

static void
raw_feed (AtlasPeerSession *session, GByteArray *frames)
{
  atlas_peer_session_receive (session, frames->data, frames->len);
  g_byte_array_set_size (frames, 0);
}

static void
raw_handshake (AtlasPeerSession *session, TestFile *file, const guint8 *bits)
{
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  g_autofree guint8 *none = g_malloc0 (atlas_peer_bitfield_size (file->layout.piece_count));

  atlas_peer_wire_append_hello (frames, file->layout.entry_id, file->layout.file_size,
                                file->layout.piece_length, file->layout.piece_count);
  atlas_peer_wire_append_bitfield (frames, bits != NULL ? bits : none, file->layout.piece_count);
  raw_feed (session, frames);
}

/* Tests. */

static void
test_download (void)
{
  TestFile *file = test_file_new (64 * KIB, 5, 10000);
  Swarm swarm;
  const guint8 *bits;

  swarm_init (&swarm, file, 256 * KIB, G_MAXSIZE);
  swarm_start (&swarm);

  /* Each side sees what the other holds. */
  bits = atlas_peer_session_get_remote_bits (swarm.b);
  for (guint32 i = 0; i < file->layout.piece_count; i++)
    g_assert_true (atlas_peer_bitfield_get (bits, i));
  bits = atlas_peer_session_get_remote_bits (swarm.a);
  for (guint32 i = 0; i < file->layout.piece_count; i++)
    g_assert_false (atlas_peer_bitfield_get (bits, i));
  g_assert_true (atlas_peer_session_is_ready (swarm.b));
  g_assert_false (atlas_peer_session_is_choking_us (swarm.b));

  atlas_peer_session_set_interested (swarm.b, TRUE);
  request_whole_file (swarm.b, file, BLOCK);
  /* A duplicate of an outstanding request is not asked twice. */
  atlas_peer_session_request (swarm.b, 0, 0, BLOCK);
  g_assert_cmpuint (atlas_peer_session_get_outstanding_bytes (swarm.b), ==, file->layout.file_size);

  RUN_UNTIL (swarm.obs_b.received_bytes >= file->layout.file_size, TIMEOUT_MS);
  g_assert_cmpuint (swarm.obs_b.received_bytes, ==, file->layout.file_size);
  g_assert_true (memcmp (swarm.obs_b.received, file->content, file->layout.file_size) == 0);
  g_assert_cmpuint (atlas_peer_session_get_bytes_received (swarm.b), ==, file->layout.file_size);
  g_assert_cmpuint (atlas_peer_session_get_bytes_sent (swarm.a), ==, file->layout.file_size);
  g_assert_cmpuint (atlas_peer_session_get_outstanding_bytes (swarm.b), ==, 0);
  g_assert_true (atlas_peer_session_is_remote_interested (swarm.a));
  g_assert_cmpuint (swarm.obs_b.rejected->len, ==, 0);

  /* A piece verified after the start reaches the other side as HAVE. */
  atlas_peer_session_have (swarm.b, 3);
  RUN_UNTIL (swarm.obs_a.haves->len > 0, TIMEOUT_MS);
  g_assert_cmpuint (swarm.obs_a.haves->len, ==, 1);
  g_assert_cmpuint (g_array_index (swarm.obs_a.haves, guint32, 0), ==, 3);
  g_assert_true (atlas_peer_bitfield_get (atlas_peer_session_get_remote_bits (swarm.a), 3));

  /* A clean goodbye closes both ends without an error. */
  atlas_peer_session_close (swarm.b, ATLAS_PEER_GOODBYE_NORMAL, "done");
  RUN_UNTIL (swarm.obs_a.closed, TIMEOUT_MS);
  g_assert_cmpint (swarm.obs_a.closed, ==, 1);
  g_assert_cmpint (swarm.obs_b.closed, ==, 1);
  g_assert_no_error (swarm.obs_a.error);
  g_assert_no_error (swarm.obs_b.error);
  g_assert_true (swarm.pair.a.closed && swarm.pair.b.closed);
  g_assert_false (atlas_peer_session_is_ready (swarm.a));

  /* Closing again does nothing: closed is emitted once. */
  atlas_peer_session_close (swarm.b, ATLAS_PEER_GOODBYE_NORMAL, NULL);
  g_assert_cmpint (swarm.obs_b.closed, ==, 1);

  swarm_clear (&swarm);
  test_file_free (file);
}

static void
test_ban (void)
{
  TestFile *file = test_file_new (64 * KIB, 2, 0);
  Swarm swarm;

  swarm_init (&swarm, file, 256 * KIB, G_MAXSIZE);
  swarm_start (&swarm);

  /* The owner drops its reference from the closed handler, as engines do. */
  swarm.obs_b.unref_on_close = TRUE;
  atlas_peer_session_close (swarm.b, ATLAS_PEER_GOODBYE_BANNED, "piece 1 failed its hash");
  swarm.b = NULL;
  RUN_UNTIL (swarm.obs_a.closed, TIMEOUT_MS);
  g_assert_error (swarm.obs_b.error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (swarm.obs_b.error->message, "banned"));
  g_assert_error (swarm.obs_a.error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (swarm.obs_a.error->message, "said goodbye (banned)"));
  g_assert_nonnull (strstr (swarm.obs_a.error->message, "piece 1 failed its hash"));

  swarm_clear (&swarm);
  test_file_free (file);
}

static void
test_wrong_entry (void)
{
  TestFile *file = test_file_new (64 * KIB, 2, 100);
  AtlasPeerLayout other = file->layout;
  Observer obs_a, obs_b;
  AtlasPeerSession *a, *b;
  Pair pair;

  other.entry_id[7] ^= 1;
  observer_init (&obs_a, file);
  observer_init (&obs_b, file);
  a = session_new (file, file->all_bits, file->fd, "a", &obs_a);
  b = atlas_peer_session_new (&other, NULL, -1);
  atlas_peer_session_set_name (b, "b");
  atlas_peer_session_set_events (b, &observer_events, &obs_b);
  pair_init (&pair, a, b, 256 * KIB, G_MAXSIZE);
  atlas_peer_session_start (a);
  atlas_peer_session_start (b);
  RUN_UNTIL (obs_a.closed && obs_b.closed, TIMEOUT_MS);

  g_assert_cmpint (obs_a.ready + obs_b.ready, ==, 0);
  g_assert_error (obs_a.error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  g_assert_error (obs_b.error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (obs_a.error->message, "wrong entry"));
  g_assert_nonnull (strstr (obs_b.error->message, "wrong entry"));

  g_object_unref (a);
  g_object_unref (b);
  pair_clear (&pair);
  observer_clear (&obs_a);
  observer_clear (&obs_b);
  test_file_free (file);
}

/* A session facing the hostile remote, served from the test file. */
typedef struct
{
  AtlasPeerSession *session;
  Observer obs;
  Raw raw;
} Hostile;

static void
hostile_init (Hostile *hostile, TestFile *file, const guint8 *bits)
{
  observer_init (&hostile->obs, file);
  hostile->raw.captured = g_byte_array_new ();
  hostile->raw.closed = FALSE;
  hostile->raw.stuck = FALSE;
  hostile->session = session_new (file, bits, file->fd, "hostile", &hostile->obs);
  atlas_peer_session_set_transport (hostile->session, &raw_funcs, &hostile->raw);
  atlas_peer_session_start (hostile->session);
}

static void
hostile_clear (Hostile *hostile)
{
  g_clear_object (&hostile->session);
  g_byte_array_unref (hostile->raw.captured);
  observer_clear (&hostile->obs);
}

/* Checks that the session closed with a protocol error saying @what and told
 * the remote why with GOODBYE @reason. */
static void
assert_closed_for (Hostile *hostile, TestFile *file, const char *what, guint16 reason)
{
  g_autoptr (GArray) seen = NULL;
  const Seen *last;

  g_assert_cmpint (hostile->obs.closed, ==, 1);
  g_assert_error (hostile->obs.error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  if (strstr (hostile->obs.error->message, what) == NULL)
    g_error ("expected \"%s\" in \"%s\"", what, hostile->obs.error->message);
  g_assert_true (g_str_has_prefix (hostile->obs.error->message, "peer hostile: "));
  g_assert_true (hostile->raw.closed);

  seen = decode_captured (&hostile->raw, file->layout.piece_count);
  g_assert_cmpuint (seen->len, >=, 3);
  g_assert_cmpint (g_array_index (seen, Seen, 0).type, ==, ATLAS_PEER_MSG_HELLO);
  g_assert_cmpint (g_array_index (seen, Seen, 1).type, ==, ATLAS_PEER_MSG_BITFIELD);
  last = &g_array_index (seen, Seen, seen->len - 1);
  g_assert_cmpint (last->type, ==, ATLAS_PEER_MSG_GOODBYE);
  g_assert_cmpuint (last->reason, ==, reason);
  g_assert_cmpuint (count_seen (seen, ATLAS_PEER_MSG_DATA), ==, 0);
}

typedef struct
{
  const char *name;
  gboolean handshake;
  void (*frames) (GByteArray *out, TestFile *file);
  const char *what;
} HostileCase;

static void
frames_unrequested_data (GByteArray *out, TestFile *file)
{
  atlas_peer_wire_append_data (out, 0, 0, file->content, 100);
}

static void
frames_unannounced_request (GByteArray *out, TestFile *file)
{
  atlas_peer_wire_append_request (out, 4, 0, BLOCK);
}

static void
frames_bitfield_twice (GByteArray *out, TestFile *file)
{
  atlas_peer_wire_append_bitfield (out, file->all_bits, file->layout.piece_count);
}

static void
frames_request_beyond_file (GByteArray *out, TestFile *file)
{
  atlas_peer_wire_append_request (out, 5, 0, BLOCK);
}

static void
frames_request_across_piece (GByteArray *out, TestFile *file)
{
  atlas_peer_wire_append_request (out, 1, 60 * KIB, 8 * KIB);
}

static void
frames_garbage (GByteArray *out, TestFile *file)
{
  g_byte_array_append (out, (const guint8 *) "\x00\x00\x00\x05\x03garbage!", 13);
}

static void
frames_have_out_of_range (GByteArray *out, TestFile *file)
{
  atlas_peer_wire_append_have (out, file->layout.piece_count);
}

static void
frames_too_many_requests (GByteArray *out, TestFile *file)
{
  for (guint32 i = 0; i <= ATLAS_PEER_SESSION_MAX_REQUESTS; i++)
    atlas_peer_wire_append_request (out, i % 4, (i / 4) * KIB, KIB);
}

static void
frames_request_first (GByteArray *out, TestFile *file)
{
  atlas_peer_wire_append_request (out, 0, 0, BLOCK);
}

static const HostileCase hostile_cases[] = {
  { "unrequested-data", TRUE, frames_unrequested_data, "sent DATA we did not request" },
  { "unannounced-piece", TRUE, frames_unannounced_request, "piece 4, which we did not announce" },
  { "bitfield-twice", TRUE, frames_bitfield_twice, "sent BITFIELD twice" },
  { "beyond-file", TRUE, frames_request_beyond_file, "past the end of the file" },
  { "across-piece", TRUE, frames_request_across_piece, "past the piece's end" },
  { "garbage", TRUE, frames_garbage, "REQUEST frame has a 4-byte payload" },
  { "garbage-first", FALSE, frames_garbage, "REQUEST frame has a 4-byte payload" },
  { "have-out-of-range", TRUE, frames_have_out_of_range, "HAVE of piece 6" },
  { "too-many-requests", TRUE, frames_too_many_requests, "more than 64 requests" },
  { "request-before-hello", FALSE, frames_request_first, "sent REQUEST before HELLO" },
};

static void
test_hostile (gconstpointer data)
{
  const HostileCase *test = data;
  TestFile *file = test_file_new (64 * KIB, 5, 10000);
  g_autofree guint8 *bits = g_memdup2 (file->all_bits, 1);
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  Hostile hostile;

  /* We hold every piece but piece 4. */
  bits[0] &= ~(0x80 >> 4);
  hostile_init (&hostile, file, bits);
  if (test->handshake)
    {
      raw_handshake (hostile.session, file, NULL);
      g_assert_cmpint (hostile.obs.ready, ==, 1);
    }
  test->frames (frames, file);
  raw_feed (hostile.session, frames);
  assert_closed_for (&hostile, file, test->what, ATLAS_PEER_GOODBYE_PROTOCOL_ERROR);

  /* Inert after closing: more bytes change nothing. */
  atlas_peer_wire_append_simple (frames, ATLAS_PEER_MSG_KEEPALIVE);
  raw_feed (hostile.session, frames);
  g_assert_cmpint (hostile.obs.closed, ==, 1);

  /* Reads that were in flight finish harmlessly after the session is gone. */
  hostile_clear (&hostile);
  run_for (50);
  test_file_free (file);
}

static void
test_hello_checks (void)
{
  TestFile *file = test_file_new (64 * KIB, 5, 10000);
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  Hostile hostile;

  /* A newer protocol version we do not speak. */
  hostile_init (&hostile, file, file->all_bits);
  atlas_peer_wire_append_hello (frames, file->layout.entry_id, file->layout.file_size,
                                file->layout.piece_length, file->layout.piece_count);
  frames->data[5] = 2;
  raw_feed (hostile.session, frames);
  assert_closed_for (&hostile, file, "unsupported version 2", ATLAS_PEER_GOODBYE_PROTOCOL_ERROR);
  hostile_clear (&hostile);

  /* The same entry id with another layout is the wrong entry too. */
  hostile_init (&hostile, file, file->all_bits);
  atlas_peer_wire_append_hello (frames, file->layout.entry_id, 64 * KIB * 5, 64 * KIB, 5);
  raw_feed (hostile.session, frames);
  assert_closed_for (&hostile, file, "wrong entry", ATLAS_PEER_GOODBYE_WRONG_ENTRY);
  hostile_clear (&hostile);

  /* HELLO, then anything but BITFIELD. */
  hostile_init (&hostile, file, file->all_bits);
  atlas_peer_wire_append_hello (frames, file->layout.entry_id, file->layout.file_size,
                                file->layout.piece_length, file->layout.piece_count);
  atlas_peer_wire_append_simple (frames, ATLAS_PEER_MSG_KEEPALIVE);
  atlas_peer_wire_append_have (frames, 1);
  raw_feed (hostile.session, frames);
  assert_closed_for (&hostile, file, "sent HAVE before its BITFIELD",
                     ATLAS_PEER_GOODBYE_PROTOCOL_ERROR);
  hostile_clear (&hostile);

  test_file_free (file);
}

/* A HAVE of a piece the remote already announced is not news: reported
 * again, the download would count that peer twice as the piece's holder and,
 * after the peer left, keep mirrors away from a piece nobody connected has. */
static void
test_repeated_have (void)
{
  TestFile *file = test_file_new (64 * KIB, 5, 10000);
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  g_autofree guint8 *bits = g_malloc0 (atlas_peer_bitfield_size (file->layout.piece_count));
  Hostile hostile;

  atlas_peer_bitfield_set (bits, 1);
  hostile_init (&hostile, file, NULL);
  raw_handshake (hostile.session, file, bits);
  atlas_peer_wire_append_have (frames, 1);
  atlas_peer_wire_append_have (frames, 2);
  atlas_peer_wire_append_have (frames, 2);
  atlas_peer_wire_append_have (frames, 1);
  raw_feed (hostile.session, frames);
  g_assert_false (hostile.raw.closed);
  g_assert_cmpuint (hostile.obs.haves->len, ==, 1);
  g_assert_cmpuint (g_array_index (hostile.obs.haves, guint32, 0), ==, 2);
  g_assert_true (atlas_peer_bitfield_get (atlas_peer_session_get_remote_bits (hostile.session), 1));
  g_assert_true (atlas_peer_bitfield_get (atlas_peer_session_get_remote_bits (hostile.session), 2));
  hostile_clear (&hostile);
  test_file_free (file);
}

static gboolean
seen_data_for (Raw *raw, TestFile *file, guint32 piece)
{
  g_autoptr (GArray) seen = decode_captured (raw, file->layout.piece_count);

  for (guint i = 0; i < seen->len; i++)
    if (g_array_index (seen, Seen, i).type == ATLAS_PEER_MSG_DATA
        && g_array_index (seen, Seen, i).piece == piece)
      return TRUE;
  return FALSE;
}

static void
test_cancel (void)
{
  TestFile *file = test_file_new (64 * KIB, 5, 10000);
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  g_autoptr (GArray) seen = NULL;
  Hostile hostile;
  const Seen *data = NULL;

  /* The remote cancels a request before we served it: its DATA never comes. */
  hostile_init (&hostile, file, file->all_bits);
  raw_handshake (hostile.session, file, NULL);
  atlas_peer_wire_append_request (frames, 0, 0, BLOCK);
  atlas_peer_wire_append_cancel (frames, 0, 0, BLOCK);
  atlas_peer_wire_append_request (frames, 1, BLOCK, BLOCK);
  /* A CANCEL of something never asked for is a harmless race. */
  atlas_peer_wire_append_cancel (frames, 2, 0, BLOCK);
  raw_feed (hostile.session, frames);
  RUN_UNTIL (seen_data_for (&hostile.raw, file, 1), TIMEOUT_MS);
  run_for (100);

  seen = decode_captured (&hostile.raw, file->layout.piece_count);
  g_assert_cmpuint (count_seen (seen, ATLAS_PEER_MSG_DATA), ==, 1);
  for (guint i = 0; i < seen->len; i++)
    if (g_array_index (seen, Seen, i).type == ATLAS_PEER_MSG_DATA)
      data = &g_array_index (seen, Seen, i);
  g_assert_cmpuint (data->piece, ==, 1);
  g_assert_cmpuint (data->offset, ==, BLOCK);
  g_assert_cmpuint (g_bytes_get_size (data->data), ==, BLOCK);
  g_assert_true (
      memcmp (g_bytes_get_data (data->data, NULL), file->content + 64 * KIB + BLOCK, BLOCK) == 0);
  g_assert_cmpint (hostile.obs.closed, ==, 0);
  hostile_clear (&hostile);

  /* We cancel: DATA already on its way is dropped quietly, a second copy is not
   * something we asked for. */
  hostile_init (&hostile, file, NULL);
  raw_handshake (hostile.session, file, file->all_bits);
  atlas_peer_session_request (hostile.session, 2, 0, 1000);
  atlas_peer_session_request (hostile.session, 2, 1000, 1000);
  g_assert_cmpuint (atlas_peer_session_get_outstanding_bytes (hostile.session), ==, 2000);
  atlas_peer_session_cancel (hostile.session, 2, 0, 1000);
  g_assert_cmpuint (atlas_peer_session_get_outstanding_bytes (hostile.session), ==, 1000);
  atlas_peer_wire_append_data (frames, 2, 0, file->content + 2 * 64 * KIB, 1000);
  atlas_peer_wire_append_data (frames, 2, 1000, file->content + 2 * 64 * KIB + 1000, 1000);
  raw_feed (hostile.session, frames);
  g_assert_cmpint (hostile.obs.closed, ==, 0);
  g_assert_cmpuint (hostile.obs.blocks, ==, 1);
  g_assert_cmpuint (hostile.obs.received_bytes, ==, 1000);
  g_assert_cmpuint (atlas_peer_session_get_outstanding_bytes (hostile.session), ==, 0);
  atlas_peer_wire_append_data (frames, 2, 0, file->content + 2 * 64 * KIB, 1000);
  raw_feed (hostile.session, frames);
  assert_closed_for (&hostile, file, "sent DATA we did not request",
                     ATLAS_PEER_GOODBYE_PROTOCOL_ERROR);
  hostile_clear (&hostile);

  test_file_free (file);
}

static void
test_choke_remote (void)
{
  TestFile *file = test_file_new (64 * KIB, 5, 10000);
  Swarm swarm;

  swarm_init (&swarm, file, 256 * KIB, G_MAXSIZE);
  swarm_start (&swarm);

  /* The seeder chokes while the leecher's requests are on their way: the
   * leecher learns they are void and gets each back to re-schedule. */
  atlas_peer_session_set_choking (swarm.a, TRUE);
  atlas_peer_session_request (swarm.b, 0, 0, BLOCK);
  atlas_peer_session_request (swarm.b, 0, BLOCK, BLOCK);
  atlas_peer_session_request (swarm.b, 1, 0, BLOCK);
  RUN_UNTIL (swarm.obs_b.choked && swarm.obs_b.rejected->len >= 3, TIMEOUT_MS);
  g_assert_true (atlas_peer_session_is_choking_us (swarm.b));
  g_assert_cmpint (swarm.obs_b.choked_events, ==, 1);
  g_assert_cmpuint (swarm.obs_b.rejected->len, ==, 3);
  g_assert_cmpuint (atlas_peer_session_get_outstanding_bytes (swarm.b), ==, 0);

  /* New requests to a choking peer come back rejected. */
  atlas_peer_session_request (swarm.b, 2, 0, BLOCK);
  RUN_UNTIL (swarm.obs_b.rejected->len >= 4, TIMEOUT_MS);
  g_assert_cmpuint (swarm.obs_b.rejected->len, ==, 4);
  g_assert_cmpuint (g_array_index (swarm.obs_b.rejected, AtlasPeerBlock, 3).piece, ==, 2);
  run_for (50);
  g_assert_cmpuint (swarm.obs_b.blocks, ==, 0);
  g_assert_cmpuint (atlas_peer_session_get_bytes_sent (swarm.a), ==, 0);
  g_assert_cmpint (swarm.obs_b.closed, ==, 0);

  /* Unchoked, the same blocks are served. */
  atlas_peer_session_set_choking (swarm.a, FALSE);
  RUN_UNTIL (!swarm.obs_b.choked, TIMEOUT_MS);
  g_assert_false (atlas_peer_session_is_choking_us (swarm.b));
  for (guint i = 0; i < swarm.obs_b.rejected->len; i++)
    {
      const AtlasPeerBlock *block = &g_array_index (swarm.obs_b.rejected, AtlasPeerBlock, i);

      atlas_peer_session_request (swarm.b, block->piece, block->offset, block->length);
    }
  RUN_UNTIL (swarm.obs_b.blocks >= 4, TIMEOUT_MS);
  g_assert_cmpuint (swarm.obs_b.received_bytes, ==, 4 * BLOCK);
  g_assert_true (memcmp (swarm.obs_b.received, file->content, 2 * BLOCK) == 0);
  g_assert_true (memcmp (swarm.obs_b.received + 2 * 64 * KIB, file->content + 2 * 64 * KIB, BLOCK)
                 == 0);

  swarm_clear (&swarm);
  test_file_free (file);
}

static void
test_choke_in_flight (void)
{
  TestFile *file = test_file_new (64 * KIB, 5, 10000);
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  g_autoptr (GArray) seen = NULL;
  Hostile hostile;

  /* Requests being read when we choke are rejected, not served. */
  hostile_init (&hostile, file, file->all_bits);
  raw_handshake (hostile.session, file, NULL);
  for (guint32 i = 0; i < 3; i++)
    atlas_peer_wire_append_request (frames, i, 0, BLOCK);
  raw_feed (hostile.session, frames);
  atlas_peer_session_set_choking (hostile.session, TRUE);
  atlas_peer_wire_append_request (frames, 3, 0, BLOCK);
  raw_feed (hostile.session, frames);
  run_for (100);

  seen = decode_captured (&hostile.raw, file->layout.piece_count);
  g_assert_cmpuint (count_seen (seen, ATLAS_PEER_MSG_CHOKE), ==, 1);
  g_assert_cmpuint (count_seen (seen, ATLAS_PEER_MSG_REJECT), ==, 4);
  g_assert_cmpuint (count_seen (seen, ATLAS_PEER_MSG_DATA), ==, 0);
  g_clear_pointer (&seen, g_array_unref);

  atlas_peer_session_set_choking (hostile.session, FALSE);
  atlas_peer_wire_append_request (frames, 3, 0, BLOCK);
  raw_feed (hostile.session, frames);
  RUN_UNTIL (seen_data_for (&hostile.raw, file, 3), TIMEOUT_MS);
  seen = decode_captured (&hostile.raw, file->layout.piece_count);
  /* One UNCHOKE after BITFIELD, one now. */
  g_assert_cmpuint (count_seen (seen, ATLAS_PEER_MSG_UNCHOKE), ==, 2);
  g_assert_cmpuint (count_seen (seen, ATLAS_PEER_MSG_DATA), ==, 1);
  g_assert_cmpint (hostile.obs.closed, ==, 0);

  hostile_clear (&hostile);
  test_file_free (file);
}

static double
timed_download (Swarm *swarms, guint n)
{
  gint64 start = g_get_monotonic_time ();
  gboolean done = FALSE;

  for (guint i = 0; i < n; i++)
    request_whole_file (swarms[i].b, swarms[i].file, BLOCK);
  while (!done)
    {
      gboolean timed_out = FALSE;
      guint timer = g_timeout_add (TIMEOUT_MS, timeout_cb, &timed_out);

      g_main_context_iteration (NULL, TRUE);
      if (!timed_out)
        g_source_remove (timer);
      g_assert_false (timed_out);
      done = TRUE;
      for (guint i = 0; i < n; i++)
        done = done && swarms[i].obs_b.received_bytes == swarms[i].file->layout.file_size;
    }
  for (guint i = 0; i < n; i++)
    g_assert_true (
        memcmp (swarms[i].obs_b.received, swarms[i].file->content, swarms[i].file->layout.file_size)
        == 0);
  return (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
}

static void
test_upload_limit (void)
{
  /* 1 MiB in 64 blocks: as many requests as a remote may have outstanding. */
  TestFile *file = test_file_new (64 * KIB, 16, 0);
  Swarm swarm;
  double seconds;

  swarm_init (&swarm, file, 1024 * KIB, G_MAXSIZE);
  atlas_peer_session_set_upload_limits (swarm.a, NULL, 2 * 1024 * KIB);
  swarm_start (&swarm);
  seconds = timed_download (&swarm, 1);
  g_test_message ("1 MiB at 2 MiB/s per peer took %.3f s", seconds);
  g_assert_cmpfloat (seconds, >=, 0.45);
  g_assert_cmpfloat (seconds, <=, 1.5);
  swarm_clear (&swarm);
  test_file_free (file);
}

static void
test_upload_limit_global (void)
{
  TestFile *file = test_file_new (64 * KIB, 16, 0);
  AtlasRateLimiter global;
  Swarm swarms[2];
  double seconds;

  /* Two sessions share 2 MiB/s; each has a per-peer limit that alone would
   * let it go faster. Together they move 2 MiB. */
  atlas_rate_limiter_init (&global, 2 * 1024 * KIB);
  for (guint i = 0; i < 2; i++)
    {
      swarm_init (&swarms[i], file, 1024 * KIB, G_MAXSIZE);
      atlas_peer_session_set_upload_limits (swarms[i].a, &global, 8 * 1024 * KIB);
      swarm_start (&swarms[i]);
    }
  seconds = timed_download (swarms, 2);
  g_test_message ("2 x 1 MiB under a shared 2 MiB/s took %.3f s", seconds);
  g_assert_cmpfloat (seconds, >=, 0.9);
  g_assert_cmpfloat (seconds, <=, 2.5);
  for (guint i = 0; i < 2; i++)
    swarm_clear (&swarms[i]);
  test_file_free (file);
}

static void
test_backpressure (void)
{
  TestFile *file = test_file_new (64 * KIB, 5, 10000);
  Swarm swarm;

  /* The stream takes at most 1,000 bytes per write and holds 4,000. */
  swarm_init (&swarm, file, 4000, 1000);
  swarm_start (&swarm);
  timed_download (&swarm, 1);
  g_assert_cmpuint (atlas_peer_session_get_bytes_sent (swarm.a), ==, file->layout.file_size);
  /* What the seeder held back never exceeded one block plus a few small frames. */
  g_test_message ("most output held back: %" G_GSIZE_FORMAT " bytes", swarm.pair.a.max_queued);
  g_assert_cmpuint (swarm.pair.a.max_queued, <=, 64 * KIB + 4 * KIB);
  g_assert_cmpint (swarm.obs_a.closed + swarm.obs_b.closed, ==, 0);
  swarm_clear (&swarm);
  test_file_free (file);
}

static void
test_unread_answers (void)
{
  TestFile *file = test_file_new (64 * KIB, 5, 10000);
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  Hostile hostile;
  guint fed = 0;

  /* A remote that stops reading but keeps asking a choking seeder: each REQUEST
   * earns a REJECT that cannot leave. Memory stays bounded: the session gives up. */
  hostile_init (&hostile, file, file->all_bits);
  raw_handshake (hostile.session, file, NULL);
  atlas_peer_session_set_choking (hostile.session, TRUE);
  hostile.raw.stuck = TRUE;
  while (!hostile.obs.closed && fed < 200000)
    {
      for (guint i = 0; i < 1000; i++)
        atlas_peer_wire_append_request (frames, 0, 0, BLOCK);
      raw_feed (hostile.session, frames);
      fed += 1000;
    }
  g_test_message ("closed after %u requests", fed);
  g_assert_cmpint (hostile.obs.closed, ==, 1);
  g_assert_error (hostile.obs.error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (hostile.obs.error->message, "without reading our answers"));
  g_assert_cmpuint (fed, <=, 2 * 1024 * KIB / 17);
  g_assert_true (hostile.raw.closed);

  hostile_clear (&hostile);
  test_file_free (file);
}

static gboolean
send_keepalive_cb (gpointer data)
{
  g_autoptr (GByteArray) frames = g_byte_array_new ();

  atlas_peer_wire_append_simple (frames, ATLAS_PEER_MSG_KEEPALIVE);
  raw_feed (data, frames);
  return G_SOURCE_CONTINUE;
}

static void
test_idle_timeout (void)
{
  TestFile *file = test_file_new (64 * KIB, 2, 0);
  g_autoptr (GArray) seen = NULL;
  Hostile hostile;
  gint64 start;
  guint keepalive_id;

  /* A remote that keeps sending KEEPALIVE stays connected. */
  hostile_init (&hostile, file, file->all_bits);
  _atlas_peer_session_set_timeouts (hostile.session, 50, 300);
  raw_handshake (hostile.session, file, NULL);
  keepalive_id = g_timeout_add (100, send_keepalive_cb, hostile.session);
  run_for (700);
  g_source_remove (keepalive_id);
  g_assert_cmpint (hostile.obs.closed, ==, 0);

  /* Silent from now on: we keep sending KEEPALIVE, then give up. */
  start = g_get_monotonic_time ();
  RUN_UNTIL (hostile.obs.closed, TIMEOUT_MS);
  g_assert_cmpint (hostile.obs.closed, ==, 1);
  g_assert_cmpint (hostile.obs.closed_at - start, >=, 150 * 1000);
  g_assert_error (hostile.obs.error, ATLAS_ERROR, ATLAS_ERROR_NETWORK);
  g_assert_nonnull (strstr (hostile.obs.error->message, "nothing heard"));
  g_assert_true (hostile.raw.closed);
  seen = decode_captured (&hostile.raw, file->layout.piece_count);
  g_test_message ("%u KEEPALIVEs sent", count_seen (seen, ATLAS_PEER_MSG_KEEPALIVE));
  g_assert_cmpuint (count_seen (seen, ATLAS_PEER_MSG_KEEPALIVE), >=, 10);
  g_assert_cmpint (g_array_index (seen, Seen, seen->len - 1).type, ==, ATLAS_PEER_MSG_GOODBYE);

  hostile_clear (&hostile);
  test_file_free (file);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/peer-session/download", test_download);
  g_test_add_func ("/peer-session/ban", test_ban);
  g_test_add_func ("/peer-session/wrong-entry", test_wrong_entry);
  g_test_add_func ("/peer-session/hello-checks", test_hello_checks);
  for (guint i = 0; i < G_N_ELEMENTS (hostile_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/peer-session/hostile/%s", hostile_cases[i].name);

      g_test_add_data_func (path, &hostile_cases[i], test_hostile);
    }
  g_test_add_func ("/peer-session/repeated-have", test_repeated_have);
  g_test_add_func ("/peer-session/cancel", test_cancel);
  g_test_add_func ("/peer-session/choke", test_choke_remote);
  g_test_add_func ("/peer-session/choke-in-flight", test_choke_in_flight);
  g_test_add_func ("/peer-session/upload-limit", test_upload_limit);
  g_test_add_func ("/peer-session/upload-limit-global", test_upload_limit_global);
  g_test_add_func ("/peer-session/backpressure", test_backpressure);
  g_test_add_func ("/peer-session/unread-answers", test_unread_answers);
  g_test_add_func ("/peer-session/idle-timeout", test_idle_timeout);

  return g_test_run ();
}
