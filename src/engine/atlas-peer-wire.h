/* atlas-peer-wire.h — the peer protocol's framing (version 1): an encoder that
 * appends whole frames to a GByteArray and an incremental decoder fed whatever
 * chunks the QUIC stream delivers. Pure code: no I/O, no GObject, no main context.
 *
 * The decoder parses hostile input. It checks every frame's length against its
 * type before waiting for the payload, so a peer cannot make it buffer more than
 * one legal frame beyond what the caller fed, and every field is validated before
 * a message is returned. docs/protocol.md is the specification it implements.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ATLAS_PEER_PROTOCOL_VERSION 1
/* The largest REQUEST/DATA/CANCEL/REJECT block, in bytes. */
#define ATLAS_PEER_MAX_BLOCK (256 * 1024)
/* The most pieces a file shared between peers may have (a 512 KiB BITFIELD). */
#define ATLAS_PEER_MAX_PIECES (4u * 1024 * 1024)
/* HELLO's piece length bounds, in bytes. */
#define ATLAS_PEER_MIN_PIECE_LENGTH 1024u
#define ATLAS_PEER_MAX_PIECE_LENGTH (64u * 1024 * 1024)
/* The longest GOODBYE text, in bytes of UTF-8. */
#define ATLAS_PEER_MAX_GOODBYE_TEXT 256
/* The largest frame of an unknown type that is skipped rather than refused. */
#define ATLAS_PEER_MAX_UNKNOWN_FRAME (64 * 1024)
/* The length prefix, the type byte, piece and offset: what precedes DATA bytes. */
#define ATLAS_PEER_DATA_HEADER_SIZE 13

typedef enum
{
  ATLAS_PEER_MSG_HELLO = 0,
  ATLAS_PEER_MSG_BITFIELD = 1,
  ATLAS_PEER_MSG_HAVE = 2,
  ATLAS_PEER_MSG_REQUEST = 3,
  ATLAS_PEER_MSG_DATA = 4,
  ATLAS_PEER_MSG_CANCEL = 5,
  ATLAS_PEER_MSG_REJECT = 6,
  ATLAS_PEER_MSG_CHOKE = 7,
  ATLAS_PEER_MSG_UNCHOKE = 8,
  ATLAS_PEER_MSG_INTERESTED = 9,
  ATLAS_PEER_MSG_NOT_INTERESTED = 10,
  ATLAS_PEER_MSG_GOODBYE = 11,
  ATLAS_PEER_MSG_KEEPALIVE = 12,
  /* "I no longer have this piece" (a donor dropped it); added after version
   * 1 shipped, which skips it as an unknown type. */
  ATLAS_PEER_MSG_DROP = 13,
} AtlasPeerMessageType;

/* GOODBYE reason codes. Others may arrive from newer peers; treat them as NORMAL. */
typedef enum
{
  ATLAS_PEER_GOODBYE_NORMAL = 0,
  ATLAS_PEER_GOODBYE_PROTOCOL_ERROR = 1,
  ATLAS_PEER_GOODBYE_WRONG_ENTRY = 2,
  ATLAS_PEER_GOODBYE_BANNED = 3,
  ATLAS_PEER_GOODBYE_TOO_MANY_PEERS = 4,
  ATLAS_PEER_GOODBYE_SHUTTING_DOWN = 5,
} AtlasPeerGoodbyeReason;

/* One decoded message. Only the fields of its type are set; the rest are zero.
 * @data and @text point into the decoder and stay valid until the next call on it. */
typedef struct
{
  AtlasPeerMessageType type;
  /* HELLO */
  guint8 version;
  guint8 flags;
  guint8 entry_id[32];
  guint64 file_size;
  guint32 piece_length;
  guint32 piece_count; /* HELLO; for BITFIELD, the count its bits cover */
  /* HAVE and DROP (piece), REQUEST/CANCEL/REJECT (all three), DATA (length = bytes) */
  guint32 piece;
  guint32 offset;
  guint32 length;
  /* DATA bytes, BITFIELD bits (MSB of byte 0 is piece 0) */
  const guint8 *data;
  gsize data_length;
  /* GOODBYE: reason code and NUL-terminated, validated UTF-8 text ("" when none) */
  guint16 reason;
  char *text;
} AtlasPeerMessage;

typedef struct _AtlasPeerDecoder AtlasPeerDecoder;

/* A decoder for one direction of one peer stream. */
AtlasPeerDecoder *atlas_peer_decoder_new (void);
void atlas_peer_decoder_free (AtlasPeerDecoder *self);
/* Tells the decoder how many pieces the file has (from the HELLOs, once checked),
 * so that BITFIELD can be decoded and piece numbers range-checked. */
void atlas_peer_decoder_set_piece_count (AtlasPeerDecoder *self, guint32 piece_count);
/* Copies @length bytes of the stream into the decoder; decode them with next(). */
void atlas_peer_decoder_feed (AtlasPeerDecoder *self, const guint8 *bytes, gsize length);
/* Decodes the next message: 1 when @message was filled, 0 when more bytes are
 * needed, -1 on a protocol error (ATLAS_ERROR_PROTOCOL saying what was wrong).
 * Frames of unknown types are skipped. After -1 every call returns -1 again. */
int atlas_peer_decoder_next (AtlasPeerDecoder *self, AtlasPeerMessage *message, GError **error);
/* The number of bytes fed but not yet consumed, for the caller's memory limits. */
gsize atlas_peer_decoder_get_buffered (AtlasPeerDecoder *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasPeerDecoder, atlas_peer_decoder_free)

/* The message type's name as the protocol document spells it ("HELLO"), or "unknown". */
const char *atlas_peer_message_type_name (AtlasPeerMessageType type);

/* Encoders: each appends one whole frame to @out. Arguments a decoder would
 * refuse are programming errors (g_return_if_fail). */

void atlas_peer_wire_append_hello (GByteArray *out, const guint8 entry_id[32], guint64 file_size,
                                   guint32 piece_length, guint32 piece_count);
/* @bits holds at least ceil(@piece_count / 8) bytes; spare bits are sent as zero. */
void atlas_peer_wire_append_bitfield (GByteArray *out, const guint8 *bits, guint32 piece_count);
void atlas_peer_wire_append_have (GByteArray *out, guint32 piece);
void atlas_peer_wire_append_drop (GByteArray *out, guint32 piece);
void atlas_peer_wire_append_request (GByteArray *out, guint32 piece, guint32 offset,
                                     guint32 length);
void atlas_peer_wire_append_cancel (GByteArray *out, guint32 piece, guint32 offset, guint32 length);
void atlas_peer_wire_append_reject (GByteArray *out, guint32 piece, guint32 offset, guint32 length);
/* CHOKE, UNCHOKE, INTERESTED, NOT_INTERESTED or KEEPALIVE: messages without payload. */
void atlas_peer_wire_append_simple (GByteArray *out, AtlasPeerMessageType type);
/* @text must be UTF-8 (NULL for none); it is cut at a character boundary to
 * ATLAS_PEER_MAX_GOODBYE_TEXT bytes. */
void atlas_peer_wire_append_goodbye (GByteArray *out, guint16 reason, const char *text);
/* The 13 bytes that precede @length DATA bytes, so that the caller can send the
 * payload from where it already lies without copying it into a frame. */
void atlas_peer_wire_write_data_header (guint8 out[ATLAS_PEER_DATA_HEADER_SIZE], guint32 piece,
                                        guint32 offset, guint32 length);
void atlas_peer_wire_append_data (GByteArray *out, guint32 piece, guint32 offset,
                                  const guint8 *bytes, guint32 length);

/* The number of bytes a BITFIELD of @piece_count pieces has. */
gsize atlas_peer_bitfield_size (guint32 piece_count);
/* Bit @piece of @bits, most significant bit of each byte first. */
gboolean atlas_peer_bitfield_get (const guint8 *bits, guint32 piece);
void atlas_peer_bitfield_set (guint8 *bits, guint32 piece);

G_END_DECLS
