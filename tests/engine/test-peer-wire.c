/* test-peer-wire.c — the peer protocol's frames: what one peer encodes, the
 * other decodes, however QUIC cuts the stream; what a hostile peer sends is
 * refused with a message that says why, and nothing is buffered without bound. */
#include "atlas-error.h"
#include "atlas-peer-wire.h"

#include <string.h>

#define PIECE_LENGTH (1024 * 1024)
#define PIECE_COUNT 1001
#define FILE_SIZE ((guint64) (PIECE_COUNT - 1) * PIECE_LENGTH + 12345)

/* A decoded message with its bytes copied out of the decoder. */
typedef struct
{
  AtlasPeerMessage message;
  GBytes *data;
  char *text;
} Decoded;

static void
decoded_free (Decoded *decoded)
{
  g_clear_pointer (&decoded->data, g_bytes_unref);
  g_free (decoded->text);
  g_free (decoded);
}

static const guint8 entry_id[32] = {
  0xde, 0xad, 0xbe, 0xef, 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
  13,   14,   15,   16,   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 0xff,
};

typedef gsize (*ChunkFunc) (gsize remaining);

static gsize
chunk_whole (gsize remaining)
{
  return remaining;
}

static gsize
chunk_one_byte (G_GNUC_UNUSED gsize remaining)
{
  return 1;
}

static gsize
chunk_random (G_GNUC_UNUSED gsize remaining)
{
  return g_test_rand_int_range (1, 3000);
}

/* Decodes @stream fed in pieces chosen by @chunk, draining after every feed and
 * setting the piece count from the first HELLO the way the session does. */
static GPtrArray *
decode_stream (const guint8 *stream, gsize length, ChunkFunc chunk, GError **error)
{
  g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
  g_autoptr (GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) decoded_free);
  gsize fed = 0;

  while (fed < length)
    {
      gsize wanted = chunk (length - fed);
      gsize n = MIN (wanted, length - fed);
      AtlasPeerMessage message;
      int status;

      atlas_peer_decoder_feed (decoder, stream + fed, n);
      fed += n;
      while ((status = atlas_peer_decoder_next (decoder, &message, error)) == 1)
        {
          Decoded *decoded = g_new0 (Decoded, 1);

          decoded->message = message;
          if (message.data != NULL)
            decoded->data = g_bytes_new (message.data, message.data_length);
          decoded->text = g_strdup (message.text);
          decoded->message.data = NULL;
          decoded->message.text = NULL;
          g_ptr_array_add (messages, decoded);
          if (message.type == ATLAS_PEER_MSG_HELLO)
            atlas_peer_decoder_set_piece_count (decoder, message.piece_count);
        }
      if (status < 0)
        return NULL;
      /* One frame at most waits for its end; everything before it was decoded. */
      g_assert_cmpuint (atlas_peer_decoder_get_buffered (decoder), <,
                        ATLAS_PEER_DATA_HEADER_SIZE + ATLAS_PEER_MAX_BLOCK);
    }
  g_assert_cmpuint (atlas_peer_decoder_get_buffered (decoder), ==, 0);
  return g_steal_pointer (&messages);
}

static guint8 *
make_pattern (gsize length, guint seed)
{
  guint8 *bytes = g_malloc (length);

  for (gsize i = 0; i < length; i++)
    bytes[i] = (i * 131 + seed) >> 3;
  return bytes;
}

/* One of every message, as a session's whole conversation might hold them. */
static GByteArray *
make_conversation (void)
{
  GByteArray *out = g_byte_array_new ();
  g_autofree guint8 *bits = g_malloc0 (atlas_peer_bitfield_size (PIECE_COUNT));
  g_autofree guint8 *block = make_pattern (ATLAS_PEER_MAX_BLOCK, 7);

  atlas_peer_bitfield_set (bits, 0);
  atlas_peer_bitfield_set (bits, 9);
  atlas_peer_bitfield_set (bits, PIECE_COUNT - 1);

  atlas_peer_wire_append_hello (out, entry_id, FILE_SIZE, PIECE_LENGTH, PIECE_COUNT);
  atlas_peer_wire_append_bitfield (out, bits, PIECE_COUNT);
  atlas_peer_wire_append_simple (out, ATLAS_PEER_MSG_INTERESTED);
  atlas_peer_wire_append_simple (out, ATLAS_PEER_MSG_UNCHOKE);
  atlas_peer_wire_append_request (out, 9, 262144, 262144);
  atlas_peer_wire_append_data (out, 9, 262144, block, ATLAS_PEER_MAX_BLOCK);
  atlas_peer_wire_append_data (out, PIECE_COUNT - 1, 12344, block + 100, 1);
  atlas_peer_wire_append_have (out, 1000);
  atlas_peer_wire_append_cancel (out, 3, 0, 16384);
  atlas_peer_wire_append_reject (out, 4, 4294967295u - 16384, 16384);
  atlas_peer_wire_append_simple (out, ATLAS_PEER_MSG_CHOKE);
  atlas_peer_wire_append_simple (out, ATLAS_PEER_MSG_NOT_INTERESTED);
  atlas_peer_wire_append_simple (out, ATLAS_PEER_MSG_KEEPALIVE);
  atlas_peer_wire_append_goodbye (out, ATLAS_PEER_GOODBYE_SHUTTING_DOWN, "bis später ✓");
  atlas_peer_wire_append_goodbye (out, ATLAS_PEER_GOODBYE_NORMAL, NULL);
  return out;
}

static const Decoded *
nth (GPtrArray *messages, guint i, AtlasPeerMessageType type)
{
  const Decoded *decoded = g_ptr_array_index (messages, i);

  g_assert_cmpstr (atlas_peer_message_type_name (decoded->message.type), ==,
                   atlas_peer_message_type_name (type));
  return decoded;
}

static void
assert_block (const Decoded *d, guint32 piece, guint32 offset, guint32 length)
{
  g_assert_cmpuint (d->message.piece, ==, piece);
  g_assert_cmpuint (d->message.offset, ==, offset);
  g_assert_cmpuint (d->message.length, ==, length);
}

static void
assert_conversation (GPtrArray *messages)
{
  g_autofree guint8 *block = make_pattern (ATLAS_PEER_MAX_BLOCK, 7);
  const Decoded *d;
  const guint8 *bits;
  gsize size;

  g_assert_nonnull (messages);
  g_assert_cmpuint (messages->len, ==, 15);

  d = nth (messages, 0, ATLAS_PEER_MSG_HELLO);
  g_assert_cmpuint (d->message.version, ==, ATLAS_PEER_PROTOCOL_VERSION);
  g_assert_cmpuint (d->message.flags, ==, 0);
  g_assert_cmpmem (d->message.entry_id, 32, entry_id, 32);
  g_assert_cmpuint (d->message.file_size, ==, FILE_SIZE);
  g_assert_cmpuint (d->message.piece_length, ==, PIECE_LENGTH);
  g_assert_cmpuint (d->message.piece_count, ==, PIECE_COUNT);

  d = nth (messages, 1, ATLAS_PEER_MSG_BITFIELD);
  bits = g_bytes_get_data (d->data, &size);
  g_assert_cmpuint (size, ==, (PIECE_COUNT + 7) / 8);
  for (guint32 piece = 0; piece < PIECE_COUNT; piece++)
    g_assert_cmpint (atlas_peer_bitfield_get (bits, piece), ==,
                     piece == 0 || piece == 9 || piece == PIECE_COUNT - 1);

  nth (messages, 2, ATLAS_PEER_MSG_INTERESTED);
  nth (messages, 3, ATLAS_PEER_MSG_UNCHOKE);
  assert_block (nth (messages, 4, ATLAS_PEER_MSG_REQUEST), 9, 262144, 262144);

  d = nth (messages, 5, ATLAS_PEER_MSG_DATA);
  assert_block (d, 9, 262144, ATLAS_PEER_MAX_BLOCK);
  g_assert_cmpmem (g_bytes_get_data (d->data, NULL), g_bytes_get_size (d->data), block,
                   ATLAS_PEER_MAX_BLOCK);
  d = nth (messages, 6, ATLAS_PEER_MSG_DATA);
  assert_block (d, PIECE_COUNT - 1, 12344, 1);
  g_assert_cmpmem (g_bytes_get_data (d->data, NULL), g_bytes_get_size (d->data), block + 100, 1);

  g_assert_cmpuint (nth (messages, 7, ATLAS_PEER_MSG_HAVE)->message.piece, ==, 1000);
  assert_block (nth (messages, 8, ATLAS_PEER_MSG_CANCEL), 3, 0, 16384);
  assert_block (nth (messages, 9, ATLAS_PEER_MSG_REJECT), 4, 4294967295u - 16384, 16384);
  nth (messages, 10, ATLAS_PEER_MSG_CHOKE);
  nth (messages, 11, ATLAS_PEER_MSG_NOT_INTERESTED);
  nth (messages, 12, ATLAS_PEER_MSG_KEEPALIVE);

  d = nth (messages, 13, ATLAS_PEER_MSG_GOODBYE);
  g_assert_cmpuint (d->message.reason, ==, ATLAS_PEER_GOODBYE_SHUTTING_DOWN);
  g_assert_cmpstr (d->text, ==, "bis später ✓");
  d = nth (messages, 14, ATLAS_PEER_MSG_GOODBYE);
  g_assert_cmpuint (d->message.reason, ==, ATLAS_PEER_GOODBYE_NORMAL);
  g_assert_cmpstr (d->text, ==, "");
}

static void
test_round_trip (void)
{
  g_autoptr (GByteArray) stream = make_conversation ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = decode_stream (stream->data, stream->len, chunk_whole, &error);

  g_assert_no_error (error);
  assert_conversation (messages);
}

static void
test_one_byte_at_a_time (void)
{
  g_autoptr (GByteArray) stream = make_conversation ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages =
      decode_stream (stream->data, stream->len, chunk_one_byte, &error);

  g_assert_no_error (error);
  assert_conversation (messages);
}

static void
test_random_chunks (void)
{
  g_autoptr (GByteArray) stream = make_conversation ();

  for (guint round = 0; round < 50; round++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) messages =
          decode_stream (stream->data, stream->len, chunk_random, &error);

      g_assert_no_error (error);
      assert_conversation (messages);
    }
}

/* The bytes on the wire, as docs/protocol.md specifies them. */
static void
test_exact_bytes (void)
{
  static const guint8 request[] = { 0, 0, 0, 13, 3, 0, 0, 0, 9, 0, 4, 0, 0, 0, 0, 0x40, 0 };
  static const guint8 have[] = { 0, 0, 0, 5, 2, 0x01, 0x02, 0x03, 0x04 };
  static const guint8 choke[] = { 0, 0, 0, 1, 7 };
  static const guint8 goodbye[] = { 0, 0, 0, 5, 11, 0, 3, 'b', 'a' };
  static const guint8 bitfield[] = { 0, 0, 0, 3, 1, 0x80, 0x80 };
  static const guint8 data_header[] = { 0, 0, 0, 12, 4, 0, 0, 0, 2, 0, 0, 0, 16 };
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint8 header[ATLAS_PEER_DATA_HEADER_SIZE];
  guint8 bits[2] = { 0x80, 0xff }; /* spare bits set by a careless caller */

  atlas_peer_wire_append_request (out, 9, 1 << 18, 16384);
  g_assert_cmpmem (out->data, out->len, request, sizeof request);

  g_byte_array_set_size (out, 0);
  atlas_peer_wire_append_have (out, 0x01020304);
  g_assert_cmpmem (out->data, out->len, have, sizeof have);

  g_byte_array_set_size (out, 0);
  atlas_peer_wire_append_simple (out, ATLAS_PEER_MSG_CHOKE);
  g_assert_cmpmem (out->data, out->len, choke, sizeof choke);

  g_byte_array_set_size (out, 0);
  atlas_peer_wire_append_goodbye (out, ATLAS_PEER_GOODBYE_BANNED, "ba");
  g_assert_cmpmem (out->data, out->len, goodbye, sizeof goodbye);

  /* Nine pieces: the encoder clears the seven spare bits rather than send
   * something the other side must refuse. */
  g_byte_array_set_size (out, 0);
  atlas_peer_wire_append_bitfield (out, bits, 9);
  g_assert_cmpmem (out->data, out->len, bitfield, sizeof bitfield);

  atlas_peer_wire_write_data_header (header, 2, 16, 3);
  g_assert_cmpmem (header, sizeof header, data_header, sizeof data_header);

  g_byte_array_set_size (out, 0);
  atlas_peer_wire_append_hello (out, entry_id, FILE_SIZE, PIECE_LENGTH, PIECE_COUNT);
  g_assert_cmpuint (out->len, ==, 4 + 1 + 50);
  g_assert_cmpuint (out->data[3], ==, 51);
  g_assert_cmpuint (out->data[5], ==, 1); /* version */
  g_assert_cmpmem (out->data + 7, 32, entry_id, 32);
}

/* DATA sent as header plus payload from elsewhere decodes like append_data's. */
static void
test_data_header_split (void)
{
  g_autofree guint8 *payload = make_pattern (5000, 3);
  g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
  g_autoptr (GError) error = NULL;
  guint8 header[ATLAS_PEER_DATA_HEADER_SIZE];
  AtlasPeerMessage message;

  atlas_peer_decoder_set_piece_count (decoder, 10);
  atlas_peer_wire_write_data_header (header, 7, 1000, 5000);
  atlas_peer_decoder_feed (decoder, header, sizeof header);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 0);
  atlas_peer_decoder_feed (decoder, payload, 5000);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpint (message.type, ==, ATLAS_PEER_MSG_DATA);
  g_assert_cmpuint (message.piece, ==, 7);
  g_assert_cmpuint (message.offset, ==, 1000);
  g_assert_cmpmem (message.data, message.data_length, payload, 5000);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 0);
}

/* Feeds @frame to a decoder (after HELLO's piece count, when @piece_count is not 0)
 * and expects a protocol error whose message holds @mentions. */
static void
assert_refused_with_count (const guint8 *frame, gsize length, guint32 piece_count,
                           const char *mentions)
{
  g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) again = NULL;
  g_autoptr (GByteArray) good = g_byte_array_new ();
  AtlasPeerMessage message;

  if (piece_count != 0)
    atlas_peer_decoder_set_piece_count (decoder, piece_count);
  atlas_peer_decoder_feed (decoder, frame, length);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, -1);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  if (strstr (error->message, mentions) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, mentions);
  g_assert_cmpint (message.type, ==, 0);
  g_assert_null (message.data);

  /* A failed stream stays failed: a good frame after it is not decoded. */
  atlas_peer_wire_append_simple (good, ATLAS_PEER_MSG_KEEPALIVE);
  atlas_peer_decoder_feed (decoder, good->data, good->len);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &again), ==, -1);
  g_assert_error (again, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  g_assert_cmpstr (again->message, ==, error->message);
  g_assert_cmpuint (atlas_peer_decoder_get_buffered (decoder), ==, 0);
}

static void
assert_refused (GByteArray *frame, guint32 piece_count, const char *mentions)
{
  assert_refused_with_count (frame->data, frame->len, piece_count, mentions);
}

/* A frame of @type with @payload_length bytes of @fill (header written by hand,
 * because the encoder will not write what the decoder refuses). */
static GByteArray *
raw_frame (guint8 type, gsize payload_length, guint8 fill)
{
  GByteArray *frame = g_byte_array_sized_new (5 + payload_length);
  guint32 length = payload_length + 1;
  guint8 header[5] = { length >> 24, length >> 16, length >> 8, length, type };

  g_byte_array_append (frame, header, 5);
  g_byte_array_set_size (frame, 5 + payload_length);
  memset (frame->data + 5, fill, payload_length);
  return frame;
}

static void
put_u32 (GByteArray *frame, gsize at, guint32 value)
{
  frame->data[at] = value >> 24;
  frame->data[at + 1] = value >> 16;
  frame->data[at + 2] = value >> 8;
  frame->data[at + 3] = value;
}

static GByteArray *
block_frame (guint8 type, guint32 piece, guint32 offset, guint32 length)
{
  GByteArray *frame = raw_frame (type, 12, 0);

  put_u32 (frame, 5, piece);
  put_u32 (frame, 9, offset);
  put_u32 (frame, 13, length);
  return frame;
}

static GByteArray *
hello_frame (guint8 version, guint64 file_size, guint32 piece_length, guint32 piece_count)
{
  GByteArray *frame = raw_frame (ATLAS_PEER_MSG_HELLO, 50, 0);

  frame->data[5] = version;
  put_u32 (frame, 39, file_size >> 32);
  put_u32 (frame, 43, file_size);
  put_u32 (frame, 47, piece_length);
  put_u32 (frame, 51, piece_count);
  return frame;
}

static void
test_limits_blocks (void)
{
  for (guint8 type = ATLAS_PEER_MSG_REQUEST; type <= ATLAS_PEER_MSG_REJECT; type++)
    {
      const char *name = atlas_peer_message_type_name (type);
      g_autofree char *too_big = g_strdup_printf ("%s of 300000 bytes exceeds the 262144-byte "
                                                  "block limit",
                                                  name);
      g_autoptr (GByteArray) big = NULL;
      g_autoptr (GByteArray) empty = NULL;
      g_autoptr (GByteArray) overflow = NULL;
      g_autoptr (GByteArray) past = NULL;
      g_autoptr (GByteArray) short_frame = NULL;

      if (type == ATLAS_PEER_MSG_DATA)
        continue;
      big = block_frame (type, 0, 0, 300000);
      assert_refused (big, 10, too_big);
      empty = block_frame (type, 0, 0, 0);
      assert_refused (empty, 10, "of 0 bytes");
      overflow = block_frame (type, 0, 4294967295u - 100, 102);
      assert_refused (overflow, 0, "ends past the largest 32-bit offset");
      past = block_frame (type, 10, 0, 16384);
      assert_refused (past, 10, "piece 10, but the file has 10 pieces");
      short_frame = raw_frame (type, 11, 0);
      assert_refused (short_frame, 10, "11-byte payload; it must have 12");
    }
}

static void
test_limits_data (void)
{
  g_autoptr (GByteArray) huge = raw_frame (ATLAS_PEER_MSG_DATA, 8 + ATLAS_PEER_MAX_BLOCK + 1, 0);
  g_autoptr (GByteArray) empty = raw_frame (ATLAS_PEER_MSG_DATA, 8, 0);
  g_autoptr (GByteArray) past = raw_frame (ATLAS_PEER_MSG_DATA, 8 + 16, 0);
  g_autoptr (GByteArray) overflow = raw_frame (ATLAS_PEER_MSG_DATA, 8 + 16, 0);
  g_autoptr (GByteArray) largest = raw_frame (ATLAS_PEER_MSG_DATA, 8 + ATLAS_PEER_MAX_BLOCK, 0);
  g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
  g_autoptr (GError) error = NULL;
  AtlasPeerMessage message;

  assert_refused (huge, 10, "DATA of 262145 bytes exceeds the 262144-byte block limit");
  /* Refused from its header alone: the decoder does not wait for (and hold)
   * a payload it will refuse anyway. */
  assert_refused_with_count (huge->data, 5, 10, "exceeds the 262144-byte block limit");
  assert_refused (empty, 10, "DATA frame has a 8-byte payload");
  put_u32 (past, 5, 77);
  assert_refused (past, 77, "DATA of piece 77, but the file has 77 pieces");
  put_u32 (overflow, 9, 4294967295u - 15);
  assert_refused (overflow, 10, "ends past the largest 32-bit offset");

  /* The limit itself is allowed, and a block may end at the largest 32-bit offset. */
  put_u32 (largest, 9, 4294967295u - ATLAS_PEER_MAX_BLOCK);
  atlas_peer_decoder_feed (decoder, largest->data, largest->len);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (message.data_length, ==, ATLAS_PEER_MAX_BLOCK);
}

static void
test_limits_bitfield (void)
{
  g_autoptr (GByteArray) before = raw_frame (ATLAS_PEER_MSG_BITFIELD, 2, 0);
  g_autoptr (GByteArray) short_field = raw_frame (ATLAS_PEER_MSG_BITFIELD, 1, 0);
  g_autoptr (GByteArray) long_field = raw_frame (ATLAS_PEER_MSG_BITFIELD, 3, 0);
  g_autoptr (GByteArray) spare = raw_frame (ATLAS_PEER_MSG_BITFIELD, 2, 0);
  g_autoptr (GByteArray) full = raw_frame (ATLAS_PEER_MSG_BITFIELD, 2, 0xff);
  g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
  g_autoptr (GError) error = NULL;
  AtlasPeerMessage message;

  assert_refused (before, 0, "BITFIELD arrived before the piece count was known");
  assert_refused (short_field, 9, "BITFIELD of 1 bytes for 9 pieces; it must have 2");
  assert_refused (long_field, 9, "BITFIELD of 3 bytes for 9 pieces");
  spare->data[6] = 0x01; /* bit 15: piece 15 of 9 */
  assert_refused (spare, 9, "BITFIELD sets bits past its last piece (9 pieces)");
  assert_refused (full, 15, "past its last piece");

  /* All 16 bits of 16 pieces are real pieces. */
  atlas_peer_decoder_set_piece_count (decoder, 16);
  atlas_peer_decoder_feed (decoder, full->data, full->len);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (message.piece_count, ==, 16);
  g_assert_true (atlas_peer_bitfield_get (message.data, 15));
}

static void
test_limits_hello (void)
{
  g_autoptr (GByteArray) inconsistent = hello_frame (1, 10 * 1024 * 1024, 1024 * 1024, 11);
  g_autoptr (GByteArray) too_few = hello_frame (1, 10 * 1024 * 1024 + 1, 1024 * 1024, 10);
  g_autoptr (GByteArray) empty_file = hello_frame (1, 0, 1024, 1);
  g_autoptr (GByteArray) small_pieces = hello_frame (1, 512 * 4, 512, 4);
  g_autoptr (GByteArray) big_pieces = hello_frame (1, 1ull << 30, 128u << 20, 8);
  g_autoptr (GByteArray) many =
      hello_frame (1, 1024ull * (ATLAS_PEER_MAX_PIECES + 1), 1024, ATLAS_PEER_MAX_PIECES + 1);
  g_autoptr (GByteArray) version0 = hello_frame (0, 1024, 1024, 1);
  g_autoptr (GByteArray) truncated = raw_frame (ATLAS_PEER_MSG_HELLO, 49, 0);
  g_autoptr (GByteArray) future = hello_frame (7, 3000, 1024, 3);
  g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
  g_autoptr (GError) error = NULL;
  AtlasPeerMessage message;

  assert_refused (inconsistent, 0,
                  "HELLO says 11 pieces of 1048576 bytes for a file of 10485760 bytes, "
                  "which needs 10");
  assert_refused (too_few, 0, "which needs 11");
  assert_refused (empty_file, 0, "which needs 0");
  assert_refused (small_pieces, 0, "HELLO piece length 512 is outside");
  assert_refused (big_pieces, 0, "HELLO piece length 134217728 is outside");
  assert_refused (many, 0, "HELLO piece count 4194305 is outside");
  assert_refused (version0, 0, "version 0");
  assert_refused (truncated, 0, "HELLO frame has a 49-byte payload; it must have 50");

  /* A newer version is the session's to answer (GOODBYE 1), not a framing error;
   * unknown flag bits are ignored. */
  future->data[6] = 0xa5;
  atlas_peer_decoder_feed (decoder, future->data, future->len);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (message.version, ==, 7);
  g_assert_cmpuint (message.flags, ==, 0xa5);
  g_assert_cmpuint (message.piece_count, ==, 3);
}

static void
test_limits_small (void)
{
  g_autoptr (GByteArray) have_past = raw_frame (ATLAS_PEER_MSG_HAVE, 4, 0);
  g_autoptr (GByteArray) have_long = raw_frame (ATLAS_PEER_MSG_HAVE, 5, 0);
  g_autoptr (GByteArray) choke_payload = raw_frame (ATLAS_PEER_MSG_CHOKE, 3, 0);
  g_autoptr (GByteArray) keepalive_payload = raw_frame (ATLAS_PEER_MSG_KEEPALIVE, 1, 0);
  static const guint8 zero_length[] = { 0, 0, 0, 0 };

  g_autoptr (GByteArray) drop_past = g_byte_array_new ();
  g_autoptr (GByteArray) drop = g_byte_array_new ();
  g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
  g_autoptr (GError) error = NULL;
  AtlasPeerMessage message;

  put_u32 (have_past, 5, 5);
  assert_refused (have_past, 5, "HAVE of piece 5, but the file has 5 pieces");
  /* DROP (type 13) is HAVE's opposite, with HAVE's rules. */
  atlas_peer_wire_append_drop (drop_past, 5);
  assert_refused (drop_past, 5, "DROP of piece 5, but the file has 5 pieces");
  atlas_peer_wire_append_drop (drop, 4);
  g_assert_cmpuint (drop->len, ==, 9);
  g_assert_cmpuint (drop->data[4], ==, 13);
  atlas_peer_decoder_set_piece_count (decoder, 5);
  atlas_peer_decoder_feed (decoder, drop->data, drop->len);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpint (message.type, ==, ATLAS_PEER_MSG_DROP);
  g_assert_cmpuint (message.piece, ==, 4);
  assert_refused (have_long, 5, "HAVE frame has a 5-byte payload; it must have 4");
  assert_refused (choke_payload, 5, "CHOKE frame has a 3-byte payload; it must have 0");
  assert_refused (keepalive_payload, 5, "KEEPALIVE frame has a 1-byte payload");
  assert_refused_with_count (zero_length, sizeof zero_length, 0, "length 0");
}

static void
test_limits_goodbye (void)
{
  static const char *const bad_texts[] = {
    "\xff",     /* never UTF-8 */
    "a\xc3",    /* cut in the middle of a character */
    "\xc0\xaf", /* overlong '/' */
  };
  g_autoptr (GByteArray) long_text = raw_frame (ATLAS_PEER_MSG_GOODBYE, 2 + 257, 'x');
  g_autoptr (GByteArray) no_reason = raw_frame (ATLAS_PEER_MSG_GOODBYE, 1, 0);
  g_autoptr (GByteArray) nul = raw_frame (ATLAS_PEER_MSG_GOODBYE, 2 + 3, 'a');

  assert_refused (long_text, 0, "GOODBYE text of 257 bytes exceeds the 256-byte limit");
  assert_refused (no_reason, 0, "GOODBYE frame has a 1-byte payload");
  nul->data[8] = '\0'; /* "a\0a": the text would be cut short */
  assert_refused (nul, 0, "GOODBYE text is not valid UTF-8");

  for (guint i = 0; i < G_N_ELEMENTS (bad_texts); i++)
    {
      gsize length = strlen (bad_texts[i]);
      g_autoptr (GByteArray) frame = raw_frame (ATLAS_PEER_MSG_GOODBYE, 2 + length, 0);

      memcpy (frame->data + 7, bad_texts[i], length);
      assert_refused (frame, 0, "GOODBYE text is not valid UTF-8");
    }
}

/* The encoder cuts a long text between characters, never inside one. */
static void
test_goodbye_text_cut (void)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
  g_autoptr (GError) error = NULL;
  AtlasPeerMessage message;

  g_string_append_c (text, 'x');
  while (text->len < 400)
    g_string_append (text, "✓"); /* three bytes each: 1 + 85 * 3 = 256 */

  atlas_peer_wire_append_goodbye (out, ATLAS_PEER_GOODBYE_TOO_MANY_PEERS, text->str);
  atlas_peer_decoder_feed (decoder, out->data, out->len);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (message.reason, ==, ATLAS_PEER_GOODBYE_TOO_MANY_PEERS);
  g_assert_cmpuint (strlen (message.text), ==, 256);
  g_assert_true (strncmp (message.text, text->str, 256) == 0);

  /* One byte less room: the last whole character is dropped, not split. */
  g_byte_array_set_size (out, 0);
  g_string_prepend_c (text, 'y');
  atlas_peer_wire_append_goodbye (out, 0, text->str);
  atlas_peer_decoder_feed (decoder, out->data, out->len);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 1);
  g_assert_cmpuint (strlen (message.text), ==, 254);
  g_assert_true (g_utf8_validate (message.text, -1, NULL));
}

static void
test_unknown_types (void)
{
  g_autoptr (GByteArray) stream = g_byte_array_new ();
  g_autoptr (GByteArray) small = raw_frame (14, 100, 0xaa);
  g_autoptr (GByteArray) largest = raw_frame (255, ATLAS_PEER_MAX_UNKNOWN_FRAME - 1, 0xbb);
  g_autoptr (GByteArray) empty = raw_frame (200, 0, 0);
  g_autoptr (GByteArray) huge = raw_frame (15, ATLAS_PEER_MAX_UNKNOWN_FRAME, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = NULL;

  atlas_peer_wire_append_have (stream, 1);
  g_byte_array_append (stream, small->data, small->len);
  g_byte_array_append (stream, largest->data, largest->len);
  g_byte_array_append (stream, empty->data, empty->len);
  atlas_peer_wire_append_have (stream, 2);
  g_byte_array_append (stream, small->data, small->len);

  messages = decode_stream (stream->data, stream->len, chunk_random, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 2);
  g_assert_cmpuint (nth (messages, 0, ATLAS_PEER_MSG_HAVE)->message.piece, ==, 1);
  g_assert_cmpuint (nth (messages, 1, ATLAS_PEER_MSG_HAVE)->message.piece, ==, 2);

  assert_refused (huge, 0, "frame of unknown type 15 and 65537 bytes exceeds the 65536-byte limit");
  /* From the header alone, again. */
  assert_refused_with_count (huge->data, 5, 0, "unknown type 15");
}

/* An error inside a batch: the messages before it are delivered, then -1 for good. */
static void
test_error_after_good_messages (void)
{
  g_autoptr (GByteArray) stream = g_byte_array_new ();
  g_autoptr (GByteArray) bad = block_frame (ATLAS_PEER_MSG_REQUEST, 0, 0, 300000);
  g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
  g_autoptr (GError) error = NULL;
  AtlasPeerMessage message;

  atlas_peer_wire_append_simple (stream, ATLAS_PEER_MSG_INTERESTED);
  g_byte_array_append (stream, bad->data, bad->len);
  atlas_peer_wire_append_simple (stream, ATLAS_PEER_MSG_UNCHOKE);
  atlas_peer_decoder_feed (decoder, stream->data, stream->len);

  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 1);
  g_assert_cmpint (message.type, ==, ATLAS_PEER_MSG_INTERESTED);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, -1);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==,
                   "REQUEST of 300000 bytes exceeds the 262144-byte block limit");
  g_clear_error (&error);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, NULL), ==, -1);
      atlas_peer_decoder_feed (decoder, stream->data, stream->len);
    }
  g_assert_cmpuint (atlas_peer_decoder_get_buffered (decoder), ==, 0);
}

static void
test_bitfield_helpers (void)
{
  guint8 bits[3] = { 0 };

  g_assert_cmpuint (atlas_peer_bitfield_size (1), ==, 1);
  g_assert_cmpuint (atlas_peer_bitfield_size (8), ==, 1);
  g_assert_cmpuint (atlas_peer_bitfield_size (9), ==, 2);
  g_assert_cmpuint (atlas_peer_bitfield_size (ATLAS_PEER_MAX_PIECES), ==, 512 * 1024);

  atlas_peer_bitfield_set (bits, 0);
  atlas_peer_bitfield_set (bits, 7);
  atlas_peer_bitfield_set (bits, 17);
  g_assert_cmpuint (bits[0], ==, 0x81);
  g_assert_cmpuint (bits[1], ==, 0x00);
  g_assert_cmpuint (bits[2], ==, 0x40);
  g_assert_true (atlas_peer_bitfield_get (bits, 17));
  g_assert_false (atlas_peer_bitfield_get (bits, 16));
}

/* The largest BITFIELD decodes, and the memory it needed is given back. */
static void
test_largest_bitfield (void)
{
  gsize size = atlas_peer_bitfield_size (ATLAS_PEER_MAX_PIECES);
  g_autofree guint8 *bits = g_malloc (size);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
  g_autoptr (GError) error = NULL;
  AtlasPeerMessage message;

  memset (bits, 0x5a, size);
  atlas_peer_wire_append_bitfield (out, bits, ATLAS_PEER_MAX_PIECES);
  atlas_peer_wire_append_have (out, ATLAS_PEER_MAX_PIECES - 1);
  atlas_peer_decoder_set_piece_count (decoder, ATLAS_PEER_MAX_PIECES);
  for (gsize fed = 0; fed < out->len; fed += 1200)
    atlas_peer_decoder_feed (decoder, out->data + fed, MIN (1200, out->len - fed));

  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpmem (message.data, message.data_length, bits, size);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 1);
  g_assert_cmpuint (message.piece, ==, ATLAS_PEER_MAX_PIECES - 1);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &error), ==, 0);
  g_assert_cmpuint (atlas_peer_decoder_get_buffered (decoder), ==, 0);
}

/* DATA at the rate peers must sustain, fed in packet-sized pieces as QUIC
 * delivers them. Reports the decode rate; fails only far below the 150 MiB/s
 * the transfer path needs, so a loaded CI machine does not make it flaky. */
static void
test_throughput (void)
{
  const guint rounds = 32; /* of 8 MiB: 256 MiB in all */
  const gsize chunks[] = { 1200, 65536 };
  g_autofree guint8 *block = make_pattern (ATLAS_PEER_MAX_BLOCK, 1);
  g_autoptr (GByteArray) stream = g_byte_array_new ();

  /* One 8 MiB stretch of frames, replayed. */
  for (guint32 i = 0; i < 32; i++)
    atlas_peer_wire_append_data (stream, i, 0, block, ATLAS_PEER_MAX_BLOCK);

  for (guint c = 0; c < G_N_ELEMENTS (chunks); c++)
    {
      g_autoptr (AtlasPeerDecoder) decoder = atlas_peer_decoder_new ();
      g_autoptr (GError) error = NULL;
      gint64 started = g_get_monotonic_time ();
      gsize payload = 0;
      double seconds;

      atlas_peer_decoder_set_piece_count (decoder, 32);
      for (guint round = 0; round < rounds; round++)
        for (gsize fed = 0; fed < stream->len; fed += chunks[c])
          {
            AtlasPeerMessage message;

            atlas_peer_decoder_feed (decoder, stream->data + fed,
                                     MIN (chunks[c], stream->len - fed));
            while (atlas_peer_decoder_next (decoder, &message, &error) == 1)
              payload += message.data_length;
            g_assert_no_error (error);
          }
      seconds = (g_get_monotonic_time () - started) / (double) G_USEC_PER_SEC;
      g_assert_cmpuint (payload, ==, (gsize) rounds * 32 * ATLAS_PEER_MAX_BLOCK);
      g_test_message ("decoded %" G_GSIZE_FORMAT " MiB of DATA fed in %" G_GSIZE_FORMAT
                      "-byte chunks at %.0f MiB/s",
                      payload >> 20, chunks[c], payload / seconds / (1024 * 1024));
      g_assert_cmpfloat (payload / seconds, >, 150.0 * 1024 * 1024);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/peer-wire/round-trip", test_round_trip);
  g_test_add_func ("/peer-wire/one-byte-at-a-time", test_one_byte_at_a_time);
  g_test_add_func ("/peer-wire/random-chunks", test_random_chunks);
  g_test_add_func ("/peer-wire/exact-bytes", test_exact_bytes);
  g_test_add_func ("/peer-wire/data-header-split", test_data_header_split);
  g_test_add_func ("/peer-wire/limits/blocks", test_limits_blocks);
  g_test_add_func ("/peer-wire/limits/data", test_limits_data);
  g_test_add_func ("/peer-wire/limits/bitfield", test_limits_bitfield);
  g_test_add_func ("/peer-wire/limits/hello", test_limits_hello);
  g_test_add_func ("/peer-wire/limits/small", test_limits_small);
  g_test_add_func ("/peer-wire/limits/goodbye", test_limits_goodbye);
  g_test_add_func ("/peer-wire/goodbye-text-cut", test_goodbye_text_cut);
  g_test_add_func ("/peer-wire/unknown-types", test_unknown_types);
  g_test_add_func ("/peer-wire/error-after-good-messages", test_error_after_good_messages);
  g_test_add_func ("/peer-wire/bitfield-helpers", test_bitfield_helpers);
  g_test_add_func ("/peer-wire/largest-bitfield", test_largest_bitfield);
  g_test_add_func ("/peer-wire/throughput", test_throughput);

  return g_test_run ();
}
