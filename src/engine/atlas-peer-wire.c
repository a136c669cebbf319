/* atlas-peer-wire.c — the peer protocol's frames, as specified in docs/protocol.md. */
#include "atlas-peer-wire.h"

#include "atlas-error.h"

#include <string.h>

/* The length prefix and the type byte. */
#define FRAME_HEADER_SIZE 5
#define HELLO_PAYLOAD 50
#define HAVE_PAYLOAD 4
#define BLOCK_PAYLOAD 12 /* REQUEST, CANCEL, REJECT */
#define DATA_FIELDS 8    /* piece and offset before the bytes */
#define GOODBYE_FIELDS 2 /* the reason before the text */

/* A buffer that grew for a large BITFIELD is given back once it is empty, so an
 * idle peer costs little memory; below this it is kept to avoid reallocating. */
#define KEEP_CAPACITY (2 * 1024 * 1024)
#define MIN_CAPACITY (64 * 1024)

struct _AtlasPeerDecoder
{
  guint8 *buffer;
  gsize capacity;
  gsize start;         /* the first byte not yet consumed */
  gsize end;           /* one past the last byte fed */
  guint32 piece_count; /* 0 until set */
  char *text;          /* the last GOODBYE's text, handed out by next() */
  char *failure;       /* the first protocol error, once there was one */
};

static const char *const type_names[] = {
  "HELLO", "BITFIELD", "HAVE",       "REQUEST",        "DATA",    "CANCEL",    "REJECT",
  "CHOKE", "UNCHOKE",  "INTERESTED", "NOT_INTERESTED", "GOODBYE", "KEEPALIVE", "DROP",
};

const char *
atlas_peer_message_type_name (AtlasPeerMessageType type)
{
  if ((guint) type < G_N_ELEMENTS (type_names))
    return type_names[type];
  return "unknown";
}

static inline guint32
read_u32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static inline guint64
read_u64 (const guint8 *p)
{
  return ((guint64) read_u32 (p) << 32) | read_u32 (p + 4);
}

static inline void
write_u16 (guint8 *p, guint16 value)
{
  p[0] = value >> 8;
  p[1] = value;
}

static inline void
write_u32 (guint8 *p, guint32 value)
{
  p[0] = value >> 24;
  p[1] = value >> 16;
  p[2] = value >> 8;
  p[3] = value;
}

static inline void
write_u64 (guint8 *p, guint64 value)
{
  write_u32 (p, value >> 32);
  write_u32 (p + 4, value);
}

gsize
atlas_peer_bitfield_size (guint32 piece_count)
{
  return ((gsize) piece_count + 7) / 8;
}

gboolean
atlas_peer_bitfield_get (const guint8 *bits, guint32 piece)
{
  g_return_val_if_fail (bits != NULL, FALSE);

  return (bits[piece / 8] & (0x80 >> (piece % 8))) != 0;
}

void
atlas_peer_bitfield_set (guint8 *bits, guint32 piece)
{
  g_return_if_fail (bits != NULL);

  bits[piece / 8] |= 0x80 >> (piece % 8);
}

/* The bits of the last byte that lie past the last piece, which must be zero. */
static guint8
bitfield_spare_mask (guint32 piece_count)
{
  return piece_count % 8 == 0 ? 0 : 0xff >> (piece_count % 8);
}

/* The layout rules both ends can check without knowing the file: shared by the
 * decoder (an error for the peer) and the encoder (a bug of ours). */
static char *
check_hello_layout (guint64 file_size, guint32 piece_length, guint32 piece_count)
{
  guint64 needed;

  if (piece_length < ATLAS_PEER_MIN_PIECE_LENGTH || piece_length > ATLAS_PEER_MAX_PIECE_LENGTH)
    return g_strdup_printf ("HELLO piece length %u is outside the allowed %u..%u bytes",
                            piece_length, ATLAS_PEER_MIN_PIECE_LENGTH, ATLAS_PEER_MAX_PIECE_LENGTH);
  if (piece_count < 1 || piece_count > ATLAS_PEER_MAX_PIECES)
    return g_strdup_printf ("HELLO piece count %u is outside the allowed 1..%u", piece_count,
                            ATLAS_PEER_MAX_PIECES);

  needed = file_size / piece_length + (file_size % piece_length != 0);
  if (needed != piece_count)
    return g_strdup_printf ("HELLO says %u pieces of %u bytes for a file of %" G_GUINT64_FORMAT
                            " bytes, which needs %" G_GUINT64_FORMAT,
                            piece_count, piece_length, file_size, needed);
  return NULL;
}

/* Decoder */

AtlasPeerDecoder *
atlas_peer_decoder_new (void)
{
  return g_new0 (AtlasPeerDecoder, 1);
}

void
atlas_peer_decoder_free (AtlasPeerDecoder *self)
{
  if (self == NULL)
    return;
  g_free (self->buffer);
  g_free (self->text);
  g_free (self->failure);
  g_free (self);
}

void
atlas_peer_decoder_set_piece_count (AtlasPeerDecoder *self, guint32 piece_count)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (piece_count >= 1 && piece_count <= ATLAS_PEER_MAX_PIECES);

  self->piece_count = piece_count;
}

gsize
atlas_peer_decoder_get_buffered (AtlasPeerDecoder *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->end - self->start;
}

void
atlas_peer_decoder_feed (AtlasPeerDecoder *self, const guint8 *bytes, gsize length)
{
  gsize held;

  g_return_if_fail (self != NULL);
  g_return_if_fail (bytes != NULL || length == 0);

  /* Nothing after a protocol error will ever be decoded, so it is not kept. */
  if (self->failure != NULL || length == 0)
    return;

  held = self->end - self->start;
  if (held == 0)
    {
      self->start = self->end = 0;
      if (self->capacity > KEEP_CAPACITY)
        {
          g_clear_pointer (&self->buffer, g_free);
          self->capacity = 0;
        }
    }

  if (self->capacity - self->end < length)
    {
      /* Moving the held bytes to the front costs no more than the bytes already
       * consumed in front of them, so the copying stays linear in the stream. */
      if (self->start > 0 && self->start >= held)
        {
          memmove (self->buffer, self->buffer + self->start, held);
          self->start = 0;
          self->end = held;
        }
      if (self->capacity - self->end < length)
        {
          gsize wanted = MAX (self->end + length, MAX (self->capacity * 2, MIN_CAPACITY));

          self->buffer = g_realloc (self->buffer, wanted);
          self->capacity = wanted;
        }
    }

  memcpy (self->buffer + self->end, bytes, length);
  self->end += length;
}

static int
decoder_fail (AtlasPeerDecoder *self, char *problem, GError **error)
{
  self->failure = problem;
  /* The held bytes cannot be decoded any more; give the memory back now. */
  g_clear_pointer (&self->buffer, g_free);
  self->capacity = self->start = self->end = 0;
  g_set_error_literal (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL, problem);
  return -1;
}

static char *
wrong_payload (guint8 type, guint32 payload_length, guint32 expected)
{
  return g_strdup_printf ("%s frame has a %u-byte payload; it must have %u",
                          atlas_peer_message_type_name (type), payload_length, expected);
}

/* Checks a frame's length against its type as soon as the header is in, so
 * that an oversized frame is refused before its payload is waited for. */
static char *
check_frame_length (AtlasPeerDecoder *self, guint8 type, guint32 frame_length)
{
  guint32 payload_length;

  if (frame_length == 0)
    return g_strdup ("frame of length 0 has no type byte");
  payload_length = frame_length - 1;

  switch (type)
    {
    case ATLAS_PEER_MSG_HELLO:
      return payload_length == HELLO_PAYLOAD ? NULL
                                             : wrong_payload (type, payload_length, HELLO_PAYLOAD);

    case ATLAS_PEER_MSG_BITFIELD:
      if (self->piece_count == 0)
        return g_strdup ("BITFIELD arrived before the piece count was known (before HELLO)");
      if (payload_length != atlas_peer_bitfield_size (self->piece_count))
        return g_strdup_printf ("BITFIELD of %u bytes for %u pieces; it must have %" G_GSIZE_FORMAT,
                                payload_length, self->piece_count,
                                atlas_peer_bitfield_size (self->piece_count));
      return NULL;

    case ATLAS_PEER_MSG_HAVE:
    case ATLAS_PEER_MSG_DROP:
      return payload_length == HAVE_PAYLOAD ? NULL
                                            : wrong_payload (type, payload_length, HAVE_PAYLOAD);

    case ATLAS_PEER_MSG_REQUEST:
    case ATLAS_PEER_MSG_CANCEL:
    case ATLAS_PEER_MSG_REJECT:
      return payload_length == BLOCK_PAYLOAD ? NULL
                                             : wrong_payload (type, payload_length, BLOCK_PAYLOAD);

    case ATLAS_PEER_MSG_DATA:
      if (payload_length <= DATA_FIELDS)
        return g_strdup_printf ("DATA frame has a %u-byte payload; it needs more than %u",
                                payload_length, DATA_FIELDS);
      if (payload_length - DATA_FIELDS > ATLAS_PEER_MAX_BLOCK)
        return g_strdup_printf ("DATA of %u bytes exceeds the %u-byte block limit",
                                payload_length - DATA_FIELDS, ATLAS_PEER_MAX_BLOCK);
      return NULL;

    case ATLAS_PEER_MSG_CHOKE:
    case ATLAS_PEER_MSG_UNCHOKE:
    case ATLAS_PEER_MSG_INTERESTED:
    case ATLAS_PEER_MSG_NOT_INTERESTED:
    case ATLAS_PEER_MSG_KEEPALIVE:
      return payload_length == 0 ? NULL : wrong_payload (type, payload_length, 0);

    case ATLAS_PEER_MSG_GOODBYE:
      if (payload_length < GOODBYE_FIELDS)
        return g_strdup_printf ("GOODBYE frame has a %u-byte payload; it needs at least %u",
                                payload_length, GOODBYE_FIELDS);
      if (payload_length - GOODBYE_FIELDS > ATLAS_PEER_MAX_GOODBYE_TEXT)
        return g_strdup_printf ("GOODBYE text of %u bytes exceeds the %u-byte limit",
                                payload_length - GOODBYE_FIELDS, ATLAS_PEER_MAX_GOODBYE_TEXT);
      return NULL;

    default:
      if (frame_length > ATLAS_PEER_MAX_UNKNOWN_FRAME)
        return g_strdup_printf ("frame of unknown type %u and %u bytes exceeds the %u-byte "
                                "limit for skipped frames",
                                type, frame_length, ATLAS_PEER_MAX_UNKNOWN_FRAME);
      return NULL;
    }
}

static char *
check_piece (AtlasPeerDecoder *self, guint8 type, guint32 piece)
{
  if (self->piece_count != 0 && piece >= self->piece_count)
    return g_strdup_printf ("%s of piece %u, but the file has %u pieces",
                            atlas_peer_message_type_name (type), piece, self->piece_count);
  return NULL;
}

static char *
check_range (guint8 type, guint32 offset, guint32 length)
{
  if ((guint64) offset + length > G_MAXUINT32)
    return g_strdup_printf ("%s of %u bytes at offset %u ends past the largest 32-bit offset",
                            atlas_peer_message_type_name (type), length, offset);
  return NULL;
}

/* Fills @message from a complete frame whose length check_frame_length() passed. */
static char *
parse_payload (AtlasPeerDecoder *self, guint8 type, const guint8 *payload, guint32 payload_length,
               AtlasPeerMessage *message)
{
  char *problem;

  message->type = type;
  switch (type)
    {
    case ATLAS_PEER_MSG_HELLO:
      message->version = payload[0];
      message->flags = payload[1];
      memcpy (message->entry_id, payload + 2, sizeof message->entry_id);
      message->file_size = read_u64 (payload + 34);
      message->piece_length = read_u32 (payload + 42);
      message->piece_count = read_u32 (payload + 46);
      if (message->version == 0)
        return g_strdup ("HELLO has protocol version 0; versions start at 1");
      return check_hello_layout (message->file_size, message->piece_length, message->piece_count);

    case ATLAS_PEER_MSG_BITFIELD:
      if ((payload[payload_length - 1] & bitfield_spare_mask (self->piece_count)) != 0)
        return g_strdup_printf ("BITFIELD sets bits past its last piece (%u pieces)",
                                self->piece_count);
      message->piece_count = self->piece_count;
      message->data = payload;
      message->data_length = payload_length;
      return NULL;

    case ATLAS_PEER_MSG_HAVE:
    case ATLAS_PEER_MSG_DROP:
      message->piece = read_u32 (payload);
      return check_piece (self, type, message->piece);

    case ATLAS_PEER_MSG_REQUEST:
    case ATLAS_PEER_MSG_CANCEL:
    case ATLAS_PEER_MSG_REJECT:
      message->piece = read_u32 (payload);
      message->offset = read_u32 (payload + 4);
      message->length = read_u32 (payload + 8);
      if (message->length == 0)
        return g_strdup_printf ("%s of 0 bytes", atlas_peer_message_type_name (type));
      if (message->length > ATLAS_PEER_MAX_BLOCK)
        return g_strdup_printf ("%s of %u bytes exceeds the %u-byte block limit",
                                atlas_peer_message_type_name (type), message->length,
                                ATLAS_PEER_MAX_BLOCK);
      problem = check_piece (self, type, message->piece);
      if (problem != NULL)
        return problem;
      return check_range (type, message->offset, message->length);

    case ATLAS_PEER_MSG_DATA:
      message->piece = read_u32 (payload);
      message->offset = read_u32 (payload + 4);
      message->length = payload_length - DATA_FIELDS;
      message->data = payload + DATA_FIELDS;
      message->data_length = message->length;
      problem = check_piece (self, type, message->piece);
      if (problem != NULL)
        return problem;
      return check_range (type, message->offset, message->length);

    case ATLAS_PEER_MSG_GOODBYE:
      {
        const char *text = (const char *) payload + GOODBYE_FIELDS;
        gsize text_length = payload_length - GOODBYE_FIELDS;

        message->reason = ((guint16) payload[0] << 8) | payload[1];
        /* A NUL inside the text fails validation too, so the C string the
         * caller gets is the whole text. */
        if (!g_utf8_validate_len (text, text_length, NULL))
          return g_strdup ("GOODBYE text is not valid UTF-8");
        self->text = g_strndup (text, text_length);
        message->text = self->text;
        return NULL;
      }

    default:
      /* Messages without payload: the type is all there is. */
      return NULL;
    }
}

int
atlas_peer_decoder_next (AtlasPeerDecoder *self, AtlasPeerMessage *message, GError **error)
{
  g_return_val_if_fail (self != NULL, -1);
  g_return_val_if_fail (message != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  memset (message, 0, sizeof *message);
  g_clear_pointer (&self->text, g_free);

  if (self->failure != NULL)
    {
      g_set_error_literal (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL, self->failure);
      return -1;
    }

  for (;;)
    {
      /* Before the first feed there is no buffer, and NULL + 0 is undefined
       * behaviour (UBSan stops a fuzzer that decodes before feeding). */
      const guint8 *frame = self->buffer != NULL ? self->buffer + self->start : NULL;
      gsize available = self->end - self->start;
      guint32 frame_length;
      guint8 type;
      char *problem;

      if (available < FRAME_HEADER_SIZE)
        {
          /* Even a lone length of 0 is an error, whatever type byte would follow. */
          if (available >= 4 && read_u32 (frame) == 0)
            return decoder_fail (self, check_frame_length (self, 0, 0), error);
          return 0;
        }

      frame_length = read_u32 (frame);
      type = frame[4];
      problem = check_frame_length (self, type, frame_length);
      if (problem != NULL)
        return decoder_fail (self, problem, error);
      if (available - 4 < frame_length)
        return 0;

      /* Consumed now; the bytes stay where they are until the next call, which
       * is as long as @message may point at them. */
      self->start += 4 + (gsize) frame_length;

      if (type > ATLAS_PEER_MSG_DROP)
        continue;

      problem = parse_payload (self, type, frame + FRAME_HEADER_SIZE, frame_length - 1, message);
      if (problem != NULL)
        {
          memset (message, 0, sizeof *message);
          g_clear_pointer (&self->text, g_free);
          return decoder_fail (self, problem, error);
        }
      return 1;
    }
}

/* Encoder */

/* Grows @out by one frame of @payload_length bytes after the header, writes the
 * header, and returns where the payload goes. */
static guint8 *
begin_frame (GByteArray *out, AtlasPeerMessageType type, guint32 payload_length)
{
  guint old_length = out->len;
  guint8 *frame;

  g_byte_array_set_size (out, old_length + FRAME_HEADER_SIZE + payload_length);
  frame = out->data + old_length;
  write_u32 (frame, payload_length + 1);
  frame[4] = type;
  return frame + FRAME_HEADER_SIZE;
}

void
atlas_peer_wire_append_hello (GByteArray *out, const guint8 entry_id[32], guint64 file_size,
                              guint32 piece_length, guint32 piece_count)
{
  g_autofree char *problem = NULL;
  guint8 *payload;

  g_return_if_fail (out != NULL);
  g_return_if_fail (entry_id != NULL);
  problem = check_hello_layout (file_size, piece_length, piece_count);
  if (problem != NULL)
    {
      g_critical ("%s: %s", G_STRFUNC, problem);
      return;
    }

  payload = begin_frame (out, ATLAS_PEER_MSG_HELLO, HELLO_PAYLOAD);
  payload[0] = ATLAS_PEER_PROTOCOL_VERSION;
  payload[1] = 0;
  memcpy (payload + 2, entry_id, 32);
  write_u64 (payload + 34, file_size);
  write_u32 (payload + 42, piece_length);
  write_u32 (payload + 46, piece_count);
}

void
atlas_peer_wire_append_bitfield (GByteArray *out, const guint8 *bits, guint32 piece_count)
{
  gsize size = atlas_peer_bitfield_size (piece_count);
  guint8 *payload;

  g_return_if_fail (out != NULL);
  g_return_if_fail (bits != NULL);
  g_return_if_fail (piece_count >= 1 && piece_count <= ATLAS_PEER_MAX_PIECES);

  payload = begin_frame (out, ATLAS_PEER_MSG_BITFIELD, size);
  memcpy (payload, bits, size);
  payload[size - 1] &= ~bitfield_spare_mask (piece_count);
}

void
atlas_peer_wire_append_have (GByteArray *out, guint32 piece)
{
  g_return_if_fail (out != NULL);

  write_u32 (begin_frame (out, ATLAS_PEER_MSG_HAVE, HAVE_PAYLOAD), piece);
}

void
atlas_peer_wire_append_drop (GByteArray *out, guint32 piece)
{
  g_return_if_fail (out != NULL);

  write_u32 (begin_frame (out, ATLAS_PEER_MSG_DROP, HAVE_PAYLOAD), piece);
}

static void
append_block (GByteArray *out, AtlasPeerMessageType type, guint32 piece, guint32 offset,
              guint32 length)
{
  guint8 *payload;

  g_return_if_fail (out != NULL);
  g_return_if_fail (length >= 1 && length <= ATLAS_PEER_MAX_BLOCK);
  g_return_if_fail ((guint64) offset + length <= G_MAXUINT32);

  payload = begin_frame (out, type, BLOCK_PAYLOAD);
  write_u32 (payload, piece);
  write_u32 (payload + 4, offset);
  write_u32 (payload + 8, length);
}

void
atlas_peer_wire_append_request (GByteArray *out, guint32 piece, guint32 offset, guint32 length)
{
  append_block (out, ATLAS_PEER_MSG_REQUEST, piece, offset, length);
}

void
atlas_peer_wire_append_cancel (GByteArray *out, guint32 piece, guint32 offset, guint32 length)
{
  append_block (out, ATLAS_PEER_MSG_CANCEL, piece, offset, length);
}

void
atlas_peer_wire_append_reject (GByteArray *out, guint32 piece, guint32 offset, guint32 length)
{
  append_block (out, ATLAS_PEER_MSG_REJECT, piece, offset, length);
}

void
atlas_peer_wire_append_simple (GByteArray *out, AtlasPeerMessageType type)
{
  g_return_if_fail (out != NULL);
  g_return_if_fail ((type >= ATLAS_PEER_MSG_CHOKE && type <= ATLAS_PEER_MSG_NOT_INTERESTED)
                    || type == ATLAS_PEER_MSG_KEEPALIVE);

  begin_frame (out, type, 0);
}

void
atlas_peer_wire_append_goodbye (GByteArray *out, guint16 reason, const char *text)
{
  gsize length = 0;
  guint8 *payload;

  g_return_if_fail (out != NULL);
  g_return_if_fail (text == NULL || g_utf8_validate (text, -1, NULL));

  /* Whole characters only, so the cut text is still valid UTF-8. */
  if (text != NULL)
    for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
      {
        gsize next = g_utf8_next_char (p) - text;

        if (next > ATLAS_PEER_MAX_GOODBYE_TEXT)
          break;
        length = next;
      }

  payload = begin_frame (out, ATLAS_PEER_MSG_GOODBYE, GOODBYE_FIELDS + length);
  write_u16 (payload, reason);
  if (length > 0)
    memcpy (payload + GOODBYE_FIELDS, text, length);
}

void
atlas_peer_wire_write_data_header (guint8 out[ATLAS_PEER_DATA_HEADER_SIZE], guint32 piece,
                                   guint32 offset, guint32 length)
{
  g_return_if_fail (out != NULL);
  g_return_if_fail (length >= 1 && length <= ATLAS_PEER_MAX_BLOCK);
  g_return_if_fail ((guint64) offset + length <= G_MAXUINT32);

  write_u32 (out, 1 + DATA_FIELDS + length);
  out[4] = ATLAS_PEER_MSG_DATA;
  write_u32 (out + 5, piece);
  write_u32 (out + 9, offset);
}

void
atlas_peer_wire_append_data (GByteArray *out, guint32 piece, guint32 offset, const guint8 *bytes,
                             guint32 length)
{
  guint old_length;

  g_return_if_fail (out != NULL);
  g_return_if_fail (bytes != NULL);
  g_return_if_fail (length >= 1 && length <= ATLAS_PEER_MAX_BLOCK);
  g_return_if_fail ((guint64) offset + length <= G_MAXUINT32);

  old_length = out->len;
  g_byte_array_set_size (out, old_length + ATLAS_PEER_DATA_HEADER_SIZE + length);
  atlas_peer_wire_write_data_header (out->data + old_length, piece, offset, length);
  memcpy (out->data + old_length + ATLAS_PEER_DATA_HEADER_SIZE, bytes, length);
}
