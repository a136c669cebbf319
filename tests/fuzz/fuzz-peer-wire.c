/* fuzz-peer-wire.c — the peer protocol decoder on a hostile stream: no crash,
 * bounded buffering, errors that stick, and every message it accepts encodes
 * back to a frame that decodes to the same message.
 *
 * The first input byte chooses how the rest is cut into feeds (as QUIC would
 * cut the stream); 0 feeds it whole. */
#include "atlas-error.h"
#include "atlas-peer-wire.h"

#include <stdint.h>
#include <string.h>

/* The largest legal frame is the BITFIELD of ATLAS_PEER_MAX_PIECES pieces. */
#define MAX_FRAME (4 + 1 + ATLAS_PEER_MAX_PIECES / 8)

static void
assert_same (const AtlasPeerMessage *a, const AtlasPeerMessage *b)
{
  g_assert_cmpint (a->type, ==, b->type);
  g_assert_cmpmem (a->entry_id, sizeof a->entry_id, b->entry_id, sizeof b->entry_id);
  g_assert_cmpuint (a->file_size, ==, b->file_size);
  g_assert_cmpuint (a->piece_length, ==, b->piece_length);
  g_assert_cmpuint (a->piece_count, ==, b->piece_count);
  g_assert_cmpuint (a->piece, ==, b->piece);
  g_assert_cmpuint (a->offset, ==, b->offset);
  g_assert_cmpuint (a->length, ==, b->length);
  g_assert_cmpmem (a->data, a->data_length, b->data, b->data_length);
  g_assert_cmpuint (a->reason, ==, b->reason);
  g_assert_cmpstr (a->text, ==, b->text);
}

static void
encode (GByteArray *out, const AtlasPeerMessage *m)
{
  switch (m->type)
    {
    case ATLAS_PEER_MSG_HELLO:
      atlas_peer_wire_append_hello (out, m->entry_id, m->file_size, m->piece_length,
                                    m->piece_count);
      break;
    case ATLAS_PEER_MSG_BITFIELD:
      atlas_peer_wire_append_bitfield (out, m->data, m->piece_count);
      break;
    case ATLAS_PEER_MSG_HAVE:
      atlas_peer_wire_append_have (out, m->piece);
      break;
    case ATLAS_PEER_MSG_DROP:
      atlas_peer_wire_append_drop (out, m->piece);
      break;
    case ATLAS_PEER_MSG_REQUEST:
      atlas_peer_wire_append_request (out, m->piece, m->offset, m->length);
      break;
    case ATLAS_PEER_MSG_DATA:
      atlas_peer_wire_append_data (out, m->piece, m->offset, m->data, m->length);
      break;
    case ATLAS_PEER_MSG_CANCEL:
      atlas_peer_wire_append_cancel (out, m->piece, m->offset, m->length);
      break;
    case ATLAS_PEER_MSG_REJECT:
      atlas_peer_wire_append_reject (out, m->piece, m->offset, m->length);
      break;
    case ATLAS_PEER_MSG_GOODBYE:
      atlas_peer_wire_append_goodbye (out, m->reason, m->text);
      break;
    case ATLAS_PEER_MSG_CHOKE:
    case ATLAS_PEER_MSG_UNCHOKE:
    case ATLAS_PEER_MSG_INTERESTED:
    case ATLAS_PEER_MSG_NOT_INTERESTED:
    case ATLAS_PEER_MSG_KEEPALIVE:
      atlas_peer_wire_append_simple (out, m->type);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Re-encodes @message and decodes it with @mirror, which has seen the same
 * piece count: the result must be the same message. */
static void
check_round_trip (AtlasPeerDecoder *mirror, const AtlasPeerMessage *message)
{
  g_autoptr (GByteArray) frame = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  AtlasPeerMessage again;

  encode (frame, message);
  atlas_peer_decoder_feed (mirror, frame->data, frame->len);
  g_assert_cmpint (atlas_peer_decoder_next (mirror, &again, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (atlas_peer_decoder_get_buffered (mirror), ==, 0);
  assert_same (message, &again);
  if (message->type == ATLAS_PEER_MSG_HELLO)
    g_assert_cmpuint (again.version, ==, ATLAS_PEER_PROTOCOL_VERSION);
}

static void
assert_failed_for_good (AtlasPeerDecoder *decoder, const GError *first)
{
  g_autoptr (GError) again = NULL;
  AtlasPeerMessage message;

  g_assert_error (first, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  g_assert_true (g_utf8_validate (first->message, -1, NULL));
  g_assert_cmpuint (atlas_peer_decoder_get_buffered (decoder), ==, 0);
  atlas_peer_decoder_feed (decoder, (const guint8 *) "\0\0\0\1\14", 5);
  g_assert_cmpint (atlas_peer_decoder_next (decoder, &message, &again), ==, -1);
  g_assert_cmpstr (again->message, ==, first->message);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (AtlasPeerDecoder) decoder = NULL;
  g_autoptr (AtlasPeerDecoder) mirror = NULL;
  gboolean counted = FALSE;
  gsize chunk;

  if (size == 0)
    return 0;
  chunk = data[0] == 0 ? size : data[0];
  data++;
  size--;

  decoder = atlas_peer_decoder_new ();
  mirror = atlas_peer_decoder_new ();
  for (gsize fed = 0; fed < size;)
    {
      g_autoptr (GError) error = NULL;
      gsize n = MIN (chunk, size - fed);
      AtlasPeerMessage message;
      int status;

      atlas_peer_decoder_feed (decoder, data + fed, n);
      fed += n;
      while ((status = atlas_peer_decoder_next (decoder, &message, &error)) == 1)
        {
          g_assert_no_error (error);
          g_assert_cmpint (message.type, <=, ATLAS_PEER_MSG_DROP);
          check_round_trip (mirror, &message);
          /* The session would compare the HELLO with its own first. */
          if (message.type == ATLAS_PEER_MSG_HELLO && !counted)
            {
              atlas_peer_decoder_set_piece_count (decoder, message.piece_count);
              atlas_peer_decoder_set_piece_count (mirror, message.piece_count);
              counted = TRUE;
            }
        }
      if (status < 0)
        {
          assert_failed_for_good (decoder, error);
          return 0;
        }
      g_assert_no_error (error);
      /* Drained: at most one unfinished frame is held. */
      g_assert_cmpuint (atlas_peer_decoder_get_buffered (decoder), <, MAX_FRAME);
    }
  return 0;
}
