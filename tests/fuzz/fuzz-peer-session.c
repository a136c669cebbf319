/* fuzz-peer-session.c — one peer session (atlas-peer-session.c, -serve.c)
 * facing a hostile remote, with an owner that requests, cancels, chokes, drops
 * and closes in between, and a transport that takes bytes slowly.
 *
 * An input is a 4-byte header and a list of commands:
 *   h0  bit 0: no HELLO prefix (the fuzzer writes the handshake itself)
 *       bit 1: we choke before start; bit 2: no file to serve; bit 3: interested
 *       bits 4-5: the file's layout; bit 6: prefix is HELLO only (no BITFIELD)
 *       bit 7: a per-peer upload limit
 *   h1  which pieces we hold (bit i % 8 for piece i); h2 the same for the
 *       remote's BITFIELD in the prefix; h3 the transport: bits 0-5 the most
 *       one write takes (times 7; 0 = all), bit 7 starts it stuck; bit 6: the
 *       owner asks again on "block" and "rejected". Also derived: how many
 *       blocks "ready" asks for (h2 % 5) and their size (256 << h1 % 4), and
 *       whether the owner drops its last reference in "closed" (h1 & h2 & 1).
 *   A command byte >= 0x80 feeds the next (byte - 0x7f) input bytes as stream
 *   bytes; a smaller one is an owner or transport action (see run_command),
 *   some of which feed well-formed frames (DATA for an outstanding request of
 *   ours, REQUEST for a piece we hold) so the fuzzer reaches the deep states.
 *
 * Invariants: "closed" once and nothing after it; "block" and "rejected" only
 * for requests of ours that are outstanding; outstanding bytes and requests
 * equal our books, at most 64; output held back stays within the session's
 * bound and the decoder holds at most one frame; what the session writes is a
 * valid stream that starts with our HELLO and BITFIELD, says nothing after
 * GOODBYE, answers only requests the remote made (at most one DATA or REJECT
 * each) and carries the file's bytes; a request the remote cancelled, or of a
 * piece we dropped, is no longer queued; nothing is written after the
 * transport was closed; every read is freed before the input ends. Criticals
 * are fatal, so an owner call the session refuses is a finding too.
 *
 * Seeds in corpus/peer-session were written once by a throwaway generator
 * that used the wire encoder (atlas_peer_wire_append_*) to build the
 * conversations the file names describe. */
#include "atlas-error.h"
#include "atlas-peer-session-private.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The session's own bound (atlas-peer-session-serve.c): 1 MiB of answers plus
 * one block, which may be followed by one DATA frame produced before the
 * transport stalled, and the control frames an owner call adds. */
#define MAX_HELD_OUTPUT                                                                            \
  (1024 * 1024 + 2 * (ATLAS_PEER_MAX_BLOCK + ATLAS_PEER_DATA_HEADER_SIZE) + 4096)
/* The largest frame the decoder may hold with these small layouts: a DATA. */
#define MAX_HELD_INPUT (ATLAS_PEER_MAX_BLOCK + ATLAS_PEER_DATA_HEADER_SIZE)
/* Bounds on main-context iterations, so that no input can hang. */
#define MAX_SPINS 64
#define MAX_WAITS 256

typedef struct
{
  guint32 piece_length;
  guint32 full_pieces;
  guint32 tail;
} Layout;

/* Small files: a BITFIELD with spare bits, an exact multiple of the piece
 * length, a single short piece, and a 1-byte last piece. */
static const Layout layouts[] = {
  { 1024, 9, 100 },
  { 4096, 4, 0 },
  { 1024, 0, 700 },
  { 2048, 16, 1 },
};

typedef struct
{
  AtlasPeerLayout layout;
  int fd;
  guint8 *content;
} SharedFile;

static SharedFile files[G_N_ELEMENTS (layouts)];

/* FUZZ_TRACE=1 prints what the session told its owner, to read a crasher. */
static gboolean trace;
#define TRACE(...)                                                                                 \
  G_STMT_START                                                                                     \
  {                                                                                                \
    if (trace)                                                                                     \
      g_printerr (__VA_ARGS__);                                                                    \
  }                                                                                                \
  G_STMT_END

typedef struct
{
  const guint8 *data;
  gsize size;
  gsize pos;

  AtlasPeerSession *session; /* NULL once the owner dropped it in "closed" */
  SharedFile *file;
  guint32 piece_count;
  gboolean unref_on_close;
  gboolean rerequest;
  guint ready_requests;
  guint32 ready_block;

  /* Transport. */
  GByteArray *sent;
  gsize max_write;
  gboolean stuck;
  gboolean short_write;
  int transport_closes;

  /* Owner's books and what it was told. */
  GArray *requests; /* AtlasPeerBlock, ours, outstanding */
  int ready_events;
  int closed_events;
  int file_fd; /* the session's copy, to see reads drain after a drop */
  gboolean shrunk;

  /* The remote's side of the stream, decoded as the session would. */
  AtlasPeerDecoder *in_mirror;
  gboolean in_counted;
  gboolean in_failed;
  GHashTable *asked;  /* AtlasPeerBlock* -> requests not yet answered */
  GArray *asked_list; /* AtlasPeerBlock, for canned CANCELs */
  GArray *withdrawn;  /* AtlasPeerBlock cancelled in the last feed and not asked again */
  guint8 *ever_ours;  /* pieces we held at some point */

  /* Our side of the stream, decoded as the remote would. */
  AtlasPeerDecoder *out_decoder;
  gsize sent_checked;
  guint out_messages;
  gboolean out_goodbye;
  guint8 *initial_bits;
} Fuzz;

static guint
block_hash (gconstpointer key)
{
  const AtlasPeerBlock *b = key;

  return b->piece * 2654435761u ^ b->offset ^ (b->length << 7);
}

static gboolean
block_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, sizeof (AtlasPeerBlock)) == 0;
}

static guint
take_byte (Fuzz *fz)
{
  return fz->pos < fz->size ? fz->data[fz->pos++] : 0;
}

static guint
take_u16 (Fuzz *fz)
{
  guint high = take_byte (fz);

  return high << 8 | take_byte (fz);
}

static guint32
piece_size (Fuzz *fz, guint32 piece)
{
  guint64 start = (guint64) piece * fz->file->layout.piece_length;

  return (guint32) MIN ((guint64) fz->file->layout.piece_length,
                        fz->file->layout.file_size - start);
}

static void
init_once (void)
{
  static gboolean done;

  if (done)
    return;
  done = TRUE;
  trace = g_getenv ("FUZZ_TRACE") != NULL;
  /* A session that refuses an owner call, or warns, is a finding. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_FATAL_MASK);
  for (guint i = 0; i < G_N_ELEMENTS (layouts); i++)
    {
      SharedFile *file = &files[i];
      gsize size = (gsize) layouts[i].piece_length * layouts[i].full_pieces + layouts[i].tail;

      file->content = g_malloc (size);
      for (gsize j = 0; j < size; j++)
        file->content[j] = (guint8) (j * 131 + (j >> 8) + i);
      file->fd = memfd_create ("atlas-fuzz-peer-session", MFD_CLOEXEC);
      g_assert_cmpint (file->fd, >=, 0);
      g_assert_cmpint (write (file->fd, file->content, size), ==, (gssize) size);
      memset (file->layout.entry_id, 0x5a + i, sizeof file->layout.entry_id);
      file->layout.file_size = size;
      file->layout.piece_length = layouts[i].piece_length;
      file->layout.piece_count = layouts[i].full_pieces + (layouts[i].tail > 0 ? 1 : 0);
    }
}

static guint8 *
bits_from_pattern (guint32 piece_count, guint pattern)
{
  guint8 *bits = g_malloc0 (atlas_peer_bitfield_size (piece_count));

  for (guint32 i = 0; i < piece_count; i++)
    if (pattern & (1u << (i % 8)))
      atlas_peer_bitfield_set (bits, i);
  return bits;
}

static int
find_request (Fuzz *fz, const AtlasPeerBlock *block)
{
  for (guint i = 0; i < fz->requests->len; i++)
    if (block_equal (&g_array_index (fz->requests, AtlasPeerBlock, i), block))
      return (int) i;
  return -1;
}

/* The session's copy of the file descriptor, or -1. */
static int
session_fd (AtlasPeerSession *session)
{
  return session->file != NULL ? session->file->fd : -1;
}

/* The transport. */

static gsize
fz_write (gpointer transport, const guint8 *data, gsize length)
{
  Fuzz *fz = transport;
  gsize taken = fz->stuck ? 0 : MIN (length, fz->max_write);

  g_assert_cmpint (fz->transport_closes, ==, 0);
  g_assert_cmpint (fz->closed_events, ==, 0);
  g_byte_array_append (fz->sent, data, taken);
  if (taken < length)
    fz->short_write = TRUE;
  g_assert_cmpuint (fz->session->out->len - fz->session->out_start, <=, MAX_HELD_OUTPUT);
  return taken;
}

static void
fz_close (gpointer transport, const char *reason)
{
  Fuzz *fz = transport;

  g_assert_nonnull (reason);
  g_assert_cmpint (fz->closed_events, ==, 0);
  fz->transport_closes++;
  g_assert_cmpint (fz->transport_closes, ==, 1);
}

static const AtlasPeerTransportFuncs fz_transport = { fz_write, fz_close };

/* The owner. */

/* Requests a block if the session's rules allow it now; the fuzzer chooses
 * numbers, the owner keeps them legal as the engine does. */
static void
owner_request (Fuzz *fz, guint32 piece, guint32 offset, guint32 length)
{
  AtlasPeerSession *session = fz->session;
  AtlasPeerBlock block;
  guint32 size;

  if (fz->closed_events > 0 || !atlas_peer_session_is_ready (session))
    return;
  piece %= fz->piece_count;
  if (!atlas_peer_bitfield_get (atlas_peer_session_get_remote_bits (session), piece))
    return;
  size = piece_size (fz, piece);
  offset %= size;
  length = 1 + length % MIN (size - offset, (guint32) ATLAS_PEER_MAX_BLOCK);
  block = (AtlasPeerBlock){ piece, offset, length };
  if (find_request (fz, &block) < 0)
    {
      if (fz->requests->len >= ATLAS_PEER_SESSION_MAX_REQUESTS)
        return;
      g_array_append_val (fz->requests, block);
    }
  atlas_peer_session_request (session, piece, offset, length);
}

static void
on_ready (AtlasPeerSession *session, gpointer user_data)
{
  Fuzz *fz = user_data;
  guint issued = 0;

  g_assert_cmpint (fz->closed_events, ==, 0);
  fz->ready_events++;
  TRACE ("ready\n");
  g_assert_cmpint (fz->ready_events, ==, 1);
  g_assert_true (atlas_peer_session_is_ready (session));
  /* As the engine does: ask for the first blocks the remote has. */
  for (guint32 piece = 0; piece < fz->piece_count && issued < fz->ready_requests; piece++)
    for (guint32 offset = 0; offset < piece_size (fz, piece) && issued < fz->ready_requests;
         offset += fz->ready_block, issued++)
      if (atlas_peer_bitfield_get (atlas_peer_session_get_remote_bits (session), piece))
        owner_request (fz, piece, offset, fz->ready_block - 1);
}

static void
on_have (AtlasPeerSession *session, guint32 piece, gpointer user_data)
{
  Fuzz *fz = user_data;

  g_assert_cmpint (fz->closed_events, ==, 0);
  g_assert_cmpuint (piece, <, fz->piece_count);
  g_assert_true (atlas_peer_bitfield_get (atlas_peer_session_get_remote_bits (session), piece));
  TRACE ("have %u\n", piece);
}

static void
on_choked (AtlasPeerSession *session, gboolean choked, gpointer user_data)
{
  Fuzz *fz = user_data;

  g_assert_cmpint (fz->closed_events, ==, 0);
  g_assert_cmpint (atlas_peer_session_is_choking_us (session), ==, choked);
  TRACE ("choked %d\n", choked);
}

static void
on_block (AtlasPeerSession *session, guint32 piece, guint32 offset, const guint8 *data,
          guint32 length, gpointer user_data)
{
  Fuzz *fz = user_data;
  AtlasPeerBlock block = { piece, offset, length };
  int index = find_request (fz, &block);

  g_assert_cmpint (fz->closed_events, ==, 0);
  g_assert_cmpint (index, >=, 0);
  g_assert_nonnull (data);
  TRACE ("block %u %u %u\n", piece, offset, length);
  g_array_remove_index (fz->requests, index);
  if (fz->rerequest)
    owner_request (fz, piece + 1, offset, length - 1);
}

static void
on_rejected (AtlasPeerSession *session, guint32 piece, guint32 offset, guint32 length,
             gpointer user_data)
{
  Fuzz *fz = user_data;
  AtlasPeerBlock block = { piece, offset, length };
  int index = find_request (fz, &block);

  g_assert_cmpint (fz->closed_events, ==, 0);
  g_assert_cmpint (index, >=, 0);
  TRACE ("rejected %u %u %u\n", piece, offset, length);
  g_array_remove_index (fz->requests, index);
  /* Asking again at once, even from a choke's REJECTs, is legal. */
  if (fz->rerequest)
    owner_request (fz, piece, offset, length - 1);
}

static void
on_dropped (AtlasPeerSession *session, guint32 piece, gpointer user_data)
{
  Fuzz *fz = user_data;

  g_assert_cmpint (fz->closed_events, ==, 0);
  g_assert_cmpuint (piece, <, fz->piece_count);
  g_assert_false (atlas_peer_bitfield_get (atlas_peer_session_get_remote_bits (session), piece));
  TRACE ("dropped %u\n", piece);
}

static void
on_closed (AtlasPeerSession *session, const GError *error, gpointer user_data)
{
  Fuzz *fz = user_data;

  g_assert_cmpint (fz->closed_events, ==, 0);
  fz->closed_events++;
  TRACE ("closed: %s\n", error != NULL ? error->message : "clean");
  if (error != NULL)
    {
      g_assert_true (error->domain == ATLAS_ERROR);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
  g_assert_false (atlas_peer_session_is_ready (session));
  g_assert_cmpuint (atlas_peer_session_get_outstanding_bytes (session), ==, 0);
  g_array_set_size (fz->requests, 0);
  if (fz->unref_on_close)
    {
      /* The owner drops its last reference here, as the engine does. */
      fz->file_fd = session_fd (session);
      fz->session = NULL;
      g_object_unref (session);
    }
}

static const AtlasPeerSessionEvents fz_events = {
  on_ready, on_have, on_choked, on_block, on_rejected, on_closed, on_dropped,
};

/* The two streams. */

static void
note_remote_message (Fuzz *fz, const AtlasPeerMessage *m)
{
  AtlasPeerBlock block = { m->piece, m->offset, m->length };
  guint count;

  if (m->type == ATLAS_PEER_MSG_HELLO && !fz->in_counted)
    {
      atlas_peer_decoder_set_piece_count (fz->in_mirror, m->piece_count);
      fz->in_counted = TRUE;
    }
  for (guint i = 0; i < fz->withdrawn->len; i++)
    if (block_equal (&g_array_index (fz->withdrawn, AtlasPeerBlock, i), &block))
      g_array_remove_index_fast (fz->withdrawn, i--);
  if (m->type == ATLAS_PEER_MSG_CANCEL)
    g_array_append_val (fz->withdrawn, block);
  if (m->type != ATLAS_PEER_MSG_REQUEST)
    return;
  count = GPOINTER_TO_UINT (g_hash_table_lookup (fz->asked, &block));
  if (count == 0)
    g_array_append_val (fz->asked_list, block);
  g_hash_table_insert (fz->asked, g_memdup2 (&block, sizeof block), GUINT_TO_POINTER (count + 1));
}

/* An answer of ours must match a REQUEST of the remote's not yet answered. */
/* Whether the session still means to serve @block to the remote (its
 * ServeItem, private to atlas-peer-session-serve.c, starts with the block). */
static gboolean
serving (Fuzz *fz, const AtlasPeerBlock *block, gboolean whole_piece)
{
  for (GList *l = fz->session->serve.head; l != NULL; l = l->next)
    {
      const AtlasPeerBlock *item = l->data;

      if (whole_piece ? item->piece == block->piece : block_equal (item, block))
        return TRUE;
    }
  return FALSE;
}

static void
take_answer (Fuzz *fz, const AtlasPeerMessage *m)
{
  AtlasPeerBlock block = { m->piece, m->offset, m->length };
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (fz->asked, &block));

  g_assert_cmpuint (count, >, 0);
  g_hash_table_insert (fz->asked, g_memdup2 (&block, sizeof block), GUINT_TO_POINTER (count - 1));
}

static void
check_output (Fuzz *fz)
{
  const AtlasPeerLayout *layout = &fz->file->layout;
  AtlasPeerMessage m;
  int status;

  /* An empty GByteArray has no data pointer at all. */
  if (fz->sent->len > fz->sent_checked)
    atlas_peer_decoder_feed (fz->out_decoder, fz->sent->data + fz->sent_checked,
                             fz->sent->len - fz->sent_checked);
  fz->sent_checked = fz->sent->len;
  for (;;)
    {
      g_autoptr (GError) error = NULL;

      status = atlas_peer_decoder_next (fz->out_decoder, &m, &error);
      g_assert_no_error (error);
      g_assert_cmpint (status, >=, 0);
      if (status == 0)
        break;
      g_assert_false (fz->out_goodbye);
      fz->out_messages++;
      TRACE ("  sent %s %u %u %u\n", atlas_peer_message_type_name (m.type), m.piece, m.offset,
             m.length);
      if (fz->out_messages == 1)
        {
          g_assert_cmpint (m.type, ==, ATLAS_PEER_MSG_HELLO);
          g_assert_cmpmem (m.entry_id, 32, layout->entry_id, 32);
          g_assert_cmpuint (m.file_size, ==, layout->file_size);
          g_assert_cmpuint (m.piece_length, ==, layout->piece_length);
          g_assert_cmpuint (m.piece_count, ==, layout->piece_count);
          atlas_peer_decoder_set_piece_count (fz->out_decoder, layout->piece_count);
          continue;
        }
      if (fz->out_messages == 2)
        {
          g_assert_cmpint (m.type, ==, ATLAS_PEER_MSG_BITFIELD);
          g_assert_cmpmem (m.data, m.data_length, fz->initial_bits,
                           atlas_peer_bitfield_size (fz->piece_count));
          continue;
        }
      switch (m.type)
        {
        case ATLAS_PEER_MSG_HELLO:
        case ATLAS_PEER_MSG_BITFIELD:
          g_assert_not_reached ();
          break;
        case ATLAS_PEER_MSG_DATA:
          g_assert_true (atlas_peer_bitfield_get (fz->ever_ours, m.piece));
          g_assert_cmpuint ((guint64) m.offset + m.length, <=, piece_size (fz, m.piece));
          g_assert_cmpmem (m.data, m.data_length,
                           fz->file->content + (gsize) m.piece * layout->piece_length + m.offset,
                           m.length);
          take_answer (fz, &m);
          break;
        case ATLAS_PEER_MSG_REJECT:
          take_answer (fz, &m);
          break;
        case ATLAS_PEER_MSG_GOODBYE:
          fz->out_goodbye = TRUE;
          break;
        default:
          break;
        }
    }
}

static void
check_state (Fuzz *fz)
{
  AtlasPeerSession *session = fz->session;
  guint64 outstanding = 0;

  check_output (fz);
  if (session == NULL)
    return;
  for (guint i = 0; i < fz->requests->len; i++)
    {
      AtlasPeerBlock *block = &g_array_index (fz->requests, AtlasPeerBlock, i);

      g_assert_true (g_hash_table_contains (session->requests, block));
      outstanding += block->length;
    }
  g_assert_cmpuint (g_hash_table_size (session->requests), ==, fz->requests->len);
  g_assert_cmpuint (fz->requests->len, <=, ATLAS_PEER_SESSION_MAX_REQUESTS);
  g_assert_cmpuint (atlas_peer_session_get_outstanding_bytes (session), ==, outstanding);
  g_assert_cmpuint (session->out->len - session->out_start, <=, MAX_HELD_OUTPUT);
  g_assert_cmpuint (session->serve.length, <=, ATLAS_PEER_SESSION_MAX_REQUESTS);
  /* At most 8 blocks read ahead (MAX_READS_AHEAD in atlas-peer-session-serve.c). */
  g_assert_cmpuint (session->reads_in_flight + session->ready_count, <=, 8);
  g_assert_cmpint (atlas_peer_session_is_ready (session), ==,
                   fz->ready_events == 1 && fz->closed_events == 0);
  if (fz->closed_events > 0)
    {
      g_assert_cmpuint (session->serve.length, ==, 0);
      g_assert_cmpint (fz->transport_closes, ==, 1);
    }
  else
    g_assert_cmpuint (atlas_peer_decoder_get_buffered (session->decoder), <=, MAX_HELD_INPUT);
}

static void
feed (Fuzz *fz, const guint8 *bytes, gsize length)
{
  AtlasPeerMessage m;

  if (fz->session != NULL)
    atlas_peer_session_receive (fz->session, bytes, length);
  if (fz->in_failed)
    return;
  g_array_set_size (fz->withdrawn, 0);
  atlas_peer_decoder_feed (fz->in_mirror, bytes, length);
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      int status = atlas_peer_decoder_next (fz->in_mirror, &m, &error);

      if (status < 0)
        fz->in_failed = TRUE;
      if (status <= 0)
        break;
      note_remote_message (fz, &m);
    }
  /* A CANCEL withdraws a request whatever its stage: it is never served. */
  for (guint i = 0; i < fz->withdrawn->len && fz->session != NULL; i++)
    g_assert_false (serving (fz, &g_array_index (fz->withdrawn, AtlasPeerBlock, i), FALSE));
}

static void
feed_frames (Fuzz *fz, GByteArray *frames)
{
  feed (fz, frames->data, frames->len);
  g_byte_array_set_size (frames, 0);
}

/* Lets the transport take bytes again and tells the session, as a stream
 * does once its peer read. */
static void
make_writable (Fuzz *fz)
{
  fz->stuck = FALSE;
  fz->short_write = FALSE;
  if (fz->session != NULL)
    atlas_peer_session_writable (fz->session);
}

/* Runs what is ready on the main context; with @wait, also waits for reads
 * in flight to come back (they always do), a bounded number of times. */
static void
spin (Fuzz *fz, gboolean wait)
{
  for (guint i = 0; i < MAX_SPINS && g_main_context_iteration (NULL, FALSE); i++)
    ;
  for (guint i = 0;
       wait && i < MAX_WAITS && fz->session != NULL && fz->session->reads_in_flight > 0; i++)
    g_main_context_iteration (NULL, TRUE);
}

static void
run_command (Fuzz *fz, guint op)
{
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  AtlasPeerSession *session = fz->session;

  if (op >= 0x80)
    {
      gsize n = MIN ((gsize) op - 0x7f, fz->size - fz->pos);

      feed (fz, fz->data + fz->pos, n);
      fz->pos += n;
      return;
    }
  switch (op % 16)
    {
    case 0: /* a long feed */
      {
        gsize n = take_u16 (fz);

        n = MIN (n, fz->size - fz->pos);

        feed (fz, fz->data + fz->pos, n);
        fz->pos += n;
      }
      break;
    case 1:
      {
        guint32 piece = take_byte (fz), offset = take_u16 (fz);

        owner_request (fz, piece, offset, take_u16 (fz));
      }
      break;
    case 2: /* cancel one of ours (the endgame) */
      {
        guint index = take_byte (fz);

        if (fz->requests->len > 0)
          {
            AtlasPeerBlock block =
                g_array_index (fz->requests, AtlasPeerBlock, index % fz->requests->len);

            g_array_remove_index (fz->requests, index % fz->requests->len);
            atlas_peer_session_cancel (session, block.piece, block.offset, block.length);
          }
      }
      break;
    case 3:
      make_writable (fz);
      break;
    case 4:
      if (fz->short_write)
        make_writable (fz);
      spin (fz, TRUE);
      break;
    case 5:
      {
        guint32 piece = take_byte (fz) % fz->piece_count;

        atlas_peer_bitfield_set (fz->ever_ours, piece);
        atlas_peer_session_have (session, piece);
      }
      break;
    case 6:
      {
        AtlasPeerBlock dropped = { take_byte (fz) % fz->piece_count, 0, 0 };

        /* Nothing of a dropped piece is sent afterwards: its blocks are freed. */
        atlas_peer_session_drop (session, dropped.piece);
        g_assert_false (serving (fz, &dropped, TRUE));
      }
      break;
    case 7:
      atlas_peer_session_set_choking (session, !session->choking);
      break;
    case 8:
      atlas_peer_session_set_interested (session, !session->interested);
      break;
    case 9:
      atlas_peer_session_close (session, take_byte (fz) % 8, (op & 0x10) ? "owner closes" : NULL);
      break;
    case 10:
      if (op & 0x10)
        {
          /* The liveness timer ends the session from the main loop, not
           * from receive(): the idle close, after a keepalive or two. */
          gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

          /* Reads coming back and upload timers share the loop, so the
           * bound is time (3 ms is due; 2 s is plenty on a loaded box). */
          _atlas_peer_session_set_timeouts (session, 1, 3);
          while (fz->closed_events == 0 && g_get_monotonic_time () < deadline)
            g_main_context_iteration (NULL, TRUE);
          g_assert_cmpint (fz->closed_events, ==, 1);
        }
      else
        fz->stuck = TRUE;
      break;
    case 11:
      if (session->file == NULL)
        atlas_peer_session_set_file (session, fz->file->fd);
      else
        {
          /* Our file shrinks under the reads: they fail, the remote gets
           * REJECT. The content comes back at the end of the input. Reads
           * running now finish first: a shmem read racing a truncate may
           * copy zeros rather than fail. */
          spin (fz, TRUE);
          g_assert_cmpint (ftruncate (fz->file->fd, fz->file->layout.file_size / 2), ==, 0);
          fz->shrunk = TRUE;
        }
      break;
    case 12: /* the remote answers one of our requests with DATA... */
    case 13: /* ...or with REJECT */
      {
        guint index = take_byte (fz);

        if (fz->requests->len > 0)
          {
            AtlasPeerBlock block =
                g_array_index (fz->requests, AtlasPeerBlock, index % fz->requests->len);
            const guint8 *bytes = fz->file->content
                                  + (gsize) block.piece * fz->file->layout.piece_length
                                  + block.offset;

            if (op % 16 == 12)
              atlas_peer_wire_append_data (frames, block.piece, block.offset, bytes, block.length);
            else
              atlas_peer_wire_append_reject (frames, block.piece, block.offset, block.length);
            feed_frames (fz, frames);
          }
      }
      break;
    case 14: /* the remote asks for a block we announced */
      {
        guint32 piece = take_byte (fz) % fz->piece_count;
        guint32 size = piece_size (fz, piece);
        guint32 offset = take_u16 (fz) % size;
        guint32 length = 1 + take_u16 (fz) % (size - offset);

        if (atlas_peer_bitfield_get (session->our_bits, piece))
          {
            atlas_peer_wire_append_request (frames, piece, offset, length);
            feed_frames (fz, frames);
          }
      }
      break;
    case 15: /* the remote cancels one of its requests */
      {
        guint index = take_byte (fz);

        if (fz->asked_list->len > 0)
          {
            AtlasPeerBlock block =
                g_array_index (fz->asked_list, AtlasPeerBlock, index % fz->asked_list->len);

            atlas_peer_wire_append_cancel (frames, block.piece, block.offset, block.length);
            feed_frames (fz, frames);
          }
      }
      break;
    }
}

/* Reads in flight hold the last references to the session's copy of the file
 * descriptor, and a worker thread may drop them after the read's callback ran
 * here: once that copy is closed every read is freed, so nothing outlives the
 * input (LeakSanitizer would see it, and the next input would pay for it). */
static void
wait_reads_freed (int fd)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (fd >= 0 && fcntl (fd, F_GETFD) >= 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (20);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Fuzz fz = { 0 };
  g_autoptr (GByteArray) prefix = g_byte_array_new ();
  g_autofree guint8 *remote_bits = NULL;
  guint h0, h1, h2, h3;

  if (size < 4)
    return 0;
  init_once ();
  fz.data = data;
  fz.size = size;
  h0 = take_byte (&fz);
  h1 = take_byte (&fz);
  h2 = take_byte (&fz);
  h3 = take_byte (&fz);

  fz.file = &files[(h0 >> 4) & 3];
  fz.piece_count = fz.file->layout.piece_count;
  /* Derived from header bits the options above leave alone, so that no
   * extra byte is spent on them. */
  fz.unref_on_close = (h1 & h2 & 1) != 0;
  fz.rerequest = (h3 & 0x40) != 0;
  fz.ready_requests = h2 % 5;
  fz.ready_block = 256u << (h1 % 4);
  fz.max_write = (h3 & 0x3f) == 0 ? G_MAXSIZE : (gsize) (h3 & 0x3f) * 7;
  fz.stuck = (h3 & 0x80) != 0;
  fz.file_fd = -1;
  fz.sent = g_byte_array_new ();
  fz.requests = g_array_new (FALSE, FALSE, sizeof (AtlasPeerBlock));
  fz.in_mirror = atlas_peer_decoder_new ();
  fz.asked = g_hash_table_new_full (block_hash, block_equal, g_free, NULL);
  fz.asked_list = g_array_new (FALSE, FALSE, sizeof (AtlasPeerBlock));
  fz.withdrawn = g_array_new (FALSE, FALSE, sizeof (AtlasPeerBlock));
  fz.out_decoder = atlas_peer_decoder_new ();
  fz.initial_bits = bits_from_pattern (fz.piece_count, h1);
  fz.ever_ours = g_memdup2 (fz.initial_bits, atlas_peer_bitfield_size (fz.piece_count));
  remote_bits = bits_from_pattern (fz.piece_count, h2);

  fz.session =
      atlas_peer_session_new (&fz.file->layout, fz.initial_bits, (h0 & 4) ? -1 : fz.file->fd);
  atlas_peer_session_set_name (fz.session, "fuzz");
  atlas_peer_session_set_transport (fz.session, &fz_transport, &fz);
  atlas_peer_session_set_events (fz.session, &fz_events, &fz);
  if (h0 & 2)
    atlas_peer_session_set_choking (fz.session, TRUE);
  if (h0 & 8)
    atlas_peer_session_set_interested (fz.session, TRUE);
  if (h0 & 0x80)
    atlas_peer_session_set_upload_limits (fz.session, NULL, 32 * 1024);
  atlas_peer_session_start (fz.session);
  check_state (&fz);

  if (!(h0 & 1))
    {
      atlas_peer_wire_append_hello (prefix, fz.file->layout.entry_id, fz.file->layout.file_size,
                                    fz.file->layout.piece_length, fz.piece_count);
      if (!(h0 & 0x40))
        atlas_peer_wire_append_bitfield (prefix, remote_bits, fz.piece_count);
      feed_frames (&fz, prefix);
      check_state (&fz);
    }

  while (fz.pos < fz.size && fz.session != NULL)
    {
      run_command (&fz, take_byte (&fz));
      check_state (&fz);
    }

  /* Let served reads finish, then end the session as an owner would. */
  if (fz.session != NULL)
    {
      make_writable (&fz);
      spin (&fz, TRUE);
      check_state (&fz);
      atlas_peer_session_close (fz.session, ATLAS_PEER_GOODBYE_SHUTTING_DOWN, NULL);
    }
  g_assert_cmpint (fz.closed_events, ==, 1);
  check_state (&fz);
  if (fz.session != NULL)
    {
      spin (&fz, TRUE);
      g_assert_cmpuint (fz.session->reads_in_flight, ==, 0);
      fz.file_fd = session_fd (fz.session);
      g_clear_object (&fz.session);
    }
  wait_reads_freed (fz.file_fd);
  spin (&fz, FALSE);
  if (fz.shrunk)
    g_assert_cmpint (pwrite (fz.file->fd, fz.file->content, fz.file->layout.file_size, 0), ==,
                     (gssize) fz.file->layout.file_size);

  g_byte_array_unref (fz.sent);
  g_array_unref (fz.requests);
  atlas_peer_decoder_free (fz.in_mirror);
  g_hash_table_unref (fz.asked);
  g_array_unref (fz.asked_list);
  g_array_unref (fz.withdrawn);
  atlas_peer_decoder_free (fz.out_decoder);
  g_free (fz.initial_bits);
  g_free (fz.ever_ours);
  return 0;
}
