/* test-tracker-wire.c — the tracker's WebSocket messages: what both sides
 * write reads back the same, and every malformed field is refused by name. */
#include "atlas-error.h"
#include "atlas-json-guard.h"
#include "atlas-tracker-wire.h"

#include <string.h>

#define PEER_A "sha256:" HEX_A
#define PEER_B "sha256:" HEX_B
#define HEX_A "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define HEX_B "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
#define UFRAG "Ab+/"
#define PWD "abcdefghijklmnopqrstuv"

static AtlasTrackerMessage *
parse_ok (const char *json, AtlasTrackerDirection direction)
{
  g_autoptr (GError) error = NULL;
  AtlasTrackerMessage *message =
      atlas_tracker_message_parse (json, strlen (json), direction, &error);

  g_assert_no_error (error);
  g_assert_nonnull (message);
  return message;
}

/* The refusal must name the field, so a developer sees what was wrong. */
static void
assert_refused (const char *json, AtlasTrackerDirection direction, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasTrackerMessage) message =
      atlas_tracker_message_parse (json, strlen (json), direction, &error);

  if (message != NULL)
    g_error ("accepted: %s", json);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  if (strstr (error->message, needle) == NULL)
    g_error ("“%s” lacks “%s” for %s", error->message, needle, json);
}

/* Serialises, parses back and serialises again: the two texts must match. */
static AtlasTrackerMessage *
round_trip (const AtlasTrackerMessage *message, AtlasTrackerDirection direction)
{
  g_autofree char *json = atlas_tracker_message_to_json_full (message, direction);
  AtlasTrackerMessage *back = parse_ok (json, direction);
  g_autofree char *again = atlas_tracker_message_to_json_full (back, direction);

  g_assert_cmpstr (json, ==, again);
  return back;
}

static void
test_wire_hello_welcome (void)
{
  g_autoptr (AtlasTrackerMessage) hello = atlas_tracker_message_new (ATLAS_TRACKER_MSG_HELLO);
  g_autoptr (AtlasTrackerMessage) welcome = NULL;
  g_autoptr (AtlasTrackerMessage) back = NULL;
  g_autofree char *json = NULL;

  hello->peer_id = g_strdup (PEER_A);
  json = atlas_tracker_message_to_json (hello);
  g_assert_cmpstr (json, ==, "{\"type\":\"hello\",\"version\":1,\"peer_id\":\"" PEER_A "\"}");
  back = parse_ok (json, ATLAS_TRACKER_FROM_CLIENT);
  g_assert_cmpint (back->type, ==, ATLAS_TRACKER_MSG_HELLO);
  g_assert_cmpuint (back->version, ==, 1);
  g_assert_cmpstr (back->peer_id, ==, PEER_A);

  welcome = parse_ok ("{\"type\":\"welcome\",\"version\":1,\"peer_id\":\"" PEER_B
                      "\",\"motd\":\"extra fields are ignored\"}",
                      ATLAS_TRACKER_FROM_TRACKER);
  g_assert_cmpint (welcome->type, ==, ATLAS_TRACKER_MSG_WELCOME);
  g_assert_cmpstr (welcome->peer_id, ==, PEER_B);
}

static void
test_wire_announce (void)
{
  static const guint8 bits[] = { 0xa5, 0xe0 }; /* 11 pieces: 0, 2, 5, 7, 8, 9, 10 */
  g_autoptr (AtlasTrackerMessage) announce = atlas_tracker_message_new (ATLAS_TRACKER_MSG_ANNOUNCE);
  g_autoptr (AtlasTrackerMessage) back = NULL;
  g_autoptr (GBytes) expected = g_bytes_new_static (bits, sizeof bits);

  announce->entry = g_strdup (HEX_A);
  announce->piece_count = 11;
  announce->pieces = g_bytes_new_static (bits, sizeof bits);
  announce->complete = FALSE;
  announce->uploaded = G_GUINT64_CONSTANT (5000000000);
  announce->downloaded = 12345;
  announce->want_peers = 50;
  back = round_trip (announce, ATLAS_TRACKER_FROM_CLIENT);

  g_assert_cmpstr (back->entry, ==, HEX_A);
  g_assert_cmpuint (back->piece_count, ==, 11);
  g_assert_true (g_bytes_equal (back->pieces, expected));
  g_assert_false (back->complete);
  g_assert_cmpuint (back->uploaded, ==, G_GUINT64_CONSTANT (5000000000));
  g_assert_cmpuint (back->downloaded, ==, 12345);
  g_assert_cmpuint (back->want_peers, ==, 50);
  g_assert_true (atlas_tracker_bitfield_get (back->pieces, 0));
  g_assert_false (atlas_tracker_bitfield_get (back->pieces, 1));
  g_assert_true (atlas_tracker_bitfield_get (back->pieces, 10));
  g_assert_false (atlas_tracker_bitfield_get (back->pieces, 16));

  /* An empty file has no pieces and an empty bitfield. */
  g_clear_pointer (&back, atlas_tracker_message_free);
  back = parse_ok ("{\"type\":\"announce\",\"entry\":\"" HEX_A "\",\"piece_count\":0,"
                   "\"pieces\":\"\",\"complete\":true,\"uploaded\":0,\"downloaded\":0,"
                   "\"want_peers\":0}",
                   ATLAS_TRACKER_FROM_CLIENT);
  g_assert_cmpuint (g_bytes_get_size (back->pieces), ==, 0);
  g_assert_true (back->complete);
}

static void
test_wire_peers_leave_error (void)
{
  static const guint8 bits[] = { 0xff, 0x80 };
  g_autoptr (AtlasTrackerMessage) peers = atlas_tracker_message_new (ATLAS_TRACKER_MSG_PEERS);
  g_autoptr (AtlasTrackerMessage) back = NULL;
  g_autoptr (AtlasTrackerMessage) leave = atlas_tracker_message_new (ATLAS_TRACKER_MSG_LEAVE);
  g_autoptr (AtlasTrackerMessage) error = atlas_tracker_message_new (ATLAS_TRACKER_MSG_ERROR);
  g_autoptr (AtlasTrackerMessage) leave_back = NULL;
  g_autoptr (AtlasTrackerMessage) error_back = NULL;
  g_autoptr (GBytes) pieces = g_bytes_new_static (bits, sizeof bits);
  const AtlasTrackerPeer *peer;

  peers->entry = g_strdup (HEX_B);
  g_ptr_array_add (peers->peers, atlas_tracker_peer_new (PEER_A, TRUE, pieces));
  g_ptr_array_add (peers->peers, atlas_tracker_peer_new (PEER_B, FALSE, NULL));
  back = round_trip (peers, ATLAS_TRACKER_FROM_TRACKER);
  g_assert_cmpuint (back->peers->len, ==, 2);
  peer = g_ptr_array_index (back->peers, 0);
  g_assert_cmpstr (peer->peer_id, ==, PEER_A);
  g_assert_true (peer->complete);
  g_assert_true (g_bytes_equal (peer->pieces, pieces));
  peer = g_ptr_array_index (back->peers, 1);
  g_assert_cmpstr (peer->peer_id, ==, PEER_B);
  g_assert_false (peer->complete);
  g_assert_cmpuint (g_bytes_get_size (peer->pieces), ==, 0);

  leave->entry = g_strdup (HEX_A);
  leave_back = round_trip (leave, ATLAS_TRACKER_FROM_CLIENT);
  g_assert_cmpstr (leave_back->entry, ==, HEX_A);

  error->code = g_strdup ("peer-gone");
  error->text = g_strdup ("“sha256:…” is not connected");
  error_back = round_trip (error, ATLAS_TRACKER_FROM_TRACKER);
  g_assert_cmpstr (error_back->code, ==, "peer-gone");
  g_assert_cmpstr (error_back->text, ==, "“sha256:…” is not connected");
}

static void
test_wire_signal (void)
{
  g_autoptr (AtlasTrackerMessage) offer = atlas_tracker_message_new (ATLAS_TRACKER_MSG_SIGNAL);
  g_autofree char *to_json = NULL;
  g_autofree char *from_json = NULL;
  g_autoptr (AtlasTrackerMessage) relayed = NULL;
  g_autoptr (AtlasTrackerMessage) candidate = NULL;
  g_autoptr (AtlasTrackerMessage) bye = NULL;

  offer->peer_id = g_strdup (PEER_B);
  offer->entry = g_strdup (HEX_A);
  offer->session = g_strdup ("s-1");
  offer->kind = ATLAS_SIGNAL_OFFER;
  offer->ufrag = g_strdup (UFRAG);
  offer->pwd = g_strdup (PWD);

  /* A client's signal names the receiver; the tracker's names the sender. */
  to_json = atlas_tracker_message_to_json (offer);
  g_assert_nonnull (strstr (to_json, "\"to\":\"" PEER_B "\""));
  g_assert_null (strstr (to_json, "\"from\""));
  from_json = atlas_tracker_message_to_json_full (offer, ATLAS_TRACKER_FROM_TRACKER);
  g_assert_nonnull (strstr (from_json, "\"from\":\"" PEER_B "\""));
  relayed = parse_ok (from_json, ATLAS_TRACKER_FROM_TRACKER);
  g_assert_cmpint (relayed->kind, ==, ATLAS_SIGNAL_OFFER);
  g_assert_cmpstr (relayed->peer_id, ==, PEER_B);
  g_assert_cmpstr (relayed->session, ==, "s-1");
  g_assert_cmpstr (relayed->ufrag, ==, UFRAG);
  g_assert_cmpstr (relayed->pwd, ==, PWD);

  /* A "from" written by a client is ignored: only "to" counts. */
  candidate = parse_ok ("{\"type\":\"signal\",\"to\":\"" PEER_B "\",\"from\":\"" PEER_A
                        "\",\"entry\":\"" HEX_A "\",\"session\":\"x\",\"kind\":\"candidate\","
                        "\"candidate\":\"candidate:1 1 UDP 2013266431 127.0.0.1 5000 typ host\"}",
                        ATLAS_TRACKER_FROM_CLIENT);
  g_assert_cmpstr (candidate->peer_id, ==, PEER_B);
  g_assert_cmpint (candidate->kind, ==, ATLAS_SIGNAL_CANDIDATE);
  g_assert_cmpstr (candidate->candidate, ==,
                   "candidate:1 1 UDP 2013266431 127.0.0.1 5000 typ host");

  bye = parse_ok ("{\"type\":\"signal\",\"from\":\"" PEER_A "\",\"entry\":\"" HEX_A
                  "\",\"session\":\"x\",\"kind\":\"bye\"}",
                  ATLAS_TRACKER_FROM_TRACKER);
  g_assert_cmpint (bye->kind, ==, ATLAS_SIGNAL_BYE);
  g_assert_null (bye->ufrag);
  g_assert_null (bye->candidate);
}

#define ANNOUNCE_WITH(fields) "{\"type\":\"announce\",\"entry\":\"" HEX_A "\"," fields "}"
#define ANNOUNCE_REST "\"complete\":false,\"uploaded\":0,\"downloaded\":0,\"want_peers\":5"
#define SIGNAL_WITH(fields)                                                                        \
  "{\"type\":\"signal\",\"to\":\"" PEER_B "\",\"entry\":\"" HEX_A "\"," fields "}"

static void
test_wire_rejections (void)
{
  const AtlasTrackerDirection C = ATLAS_TRACKER_FROM_CLIENT;
  const AtlasTrackerDirection T = ATLAS_TRACKER_FROM_TRACKER;
  g_autofree char *oversize = NULL;
  GString *big;

  /* Not a message at all. */
  assert_refused ("", C, "expected a JSON object");
  assert_refused ("{\"type\":", C, "invalid JSON");
  assert_refused ("[1,2]", C, "expected a JSON object");
  assert_refused ("{}", C, "“type”: missing");
  assert_refused ("{\"type\":7}", C, "“type”: expected a string");
  assert_refused ("{\"type\":\"gossip\"}", C, "unknown type “gossip”");
  assert_refused ("{\"type\":\"welcome\",\"version\":1,\"peer_id\":\"" PEER_A "\"}", C,
                  "not sent by the client");
  assert_refused ("{\"type\":\"hello\",\"version\":1,\"peer_id\":\"" PEER_A "\"}", T,
                  "not sent by the tracker");
  {
    static const char with_nul[] = "{\"type\":\"leave\",\"entry\":\"" HEX_A "\"}\0x";
    g_autoptr (GError) error = NULL;
    g_assert_null (atlas_tracker_message_parse (with_nul, sizeof with_nul - 1, C, &error));
    g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  }

  /* json-glib turns this malformed escape into a raw, invalid UTF-8 byte. */
  assert_refused ("{\"type\":\"a\\231\"}", C, "“type”: not valid UTF-8");

  /* hello */
  assert_refused ("{\"type\":\"hello\",\"peer_id\":\"" PEER_A "\"}", C, "“version”: missing");
  assert_refused ("{\"type\":\"hello\",\"version\":2,\"peer_id\":\"" PEER_A "\"}", C,
                  "“version”: version 2 is not supported");
  assert_refused ("{\"type\":\"hello\",\"version\":1.0,\"peer_id\":\"" PEER_A "\"}", C,
                  "“version”: expected an integer");
  assert_refused ("{\"type\":\"hello\",\"version\":1}", C, "“peer_id”: missing");
  assert_refused ("{\"type\":\"hello\",\"version\":1,\"peer_id\":null}", C, "“peer_id”: missing");
  assert_refused ("{\"type\":\"hello\",\"version\":1,\"peer_id\":\"" HEX_A "\"}", C, "“peer_id”");
  assert_refused ("{\"type\":\"hello\",\"version\":1,\"peer_id\":\"sha256:"
                  "CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB\"}",
                  C, "“peer_id”: expected “sha256:” and 64 lowercase hex");
  assert_refused ("{\"type\":\"hello\",\"version\":1,\"peer_id\":\"" PEER_A "0\"}", C, "“peer_id”");

  /* announce: each field wrong in turn. */
  assert_refused ("{\"type\":\"announce\",\"entry\":\"abc\",\"piece_count\":1,\"pieces\":\"gA=="
                  "\"," ANNOUNCE_REST "}",
                  C, "“entry”: expected 64 lowercase hex");
  assert_refused ("{\"type\":\"announce\",\"entry\":\"" HEX_A "zz\",\"piece_count\":1,"
                  "\"pieces\":\"gA==\"," ANNOUNCE_REST "}",
                  C, "“entry”");
  assert_refused (ANNOUNCE_WITH ("\"pieces\":\"gA==\"," ANNOUNCE_REST), C,
                  "“piece_count”: missing");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":-1,\"pieces\":\"gA==\"," ANNOUNCE_REST), C,
                  "“piece_count”: -1 is out of range");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":4194305,\"pieces\":\"gA==\"," ANNOUNCE_REST), C,
                  "“piece_count”: 4194305 is out of range");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":\"1\",\"pieces\":\"gA==\"," ANNOUNCE_REST), C,
                  "“piece_count”: expected an integer");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":1,\"pieces\":[128]," ANNOUNCE_REST), C,
                  "“pieces”: expected a string");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":1,\"pieces\":\"gA=\"," ANNOUNCE_REST), C,
                  "“pieces”: base64 length 3");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":1,\"pieces\":\"g*==\"," ANNOUNCE_REST), C,
                  "“pieces”: invalid base64 character");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":1,\"pieces\":\"g===\"," ANNOUNCE_REST), C,
                  "“pieces”: invalid base64 character");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":1,\"pieces\":\"gB==\"," ANNOUNCE_REST), C,
                  "“pieces”: not canonical base64");
  /* piece_count against the bitfield's length, both ways. */
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":9,\"pieces\":\"gA==\"," ANNOUNCE_REST), C,
                  "“pieces”: 1 bytes of bitfield for 9 pieces (expected 2)");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":1,\"pieces\":\"gAA=\"," ANNOUNCE_REST), C,
                  "“pieces”: 2 bytes of bitfield for 1 pieces");
  /* Spare bits: 0xc0 says pieces 0 and 1, but there is only one. */
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":1,\"pieces\":\"wA==\"," ANNOUNCE_REST), C,
                  "“pieces”: bits past piece 1 are set");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":1,\"pieces\":\"gA==\",\"complete\":1,"
                                 "\"uploaded\":0,\"downloaded\":0,\"want_peers\":5"),
                  C, "“complete”: expected true or false");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":1,\"pieces\":\"gA==\",\"complete\":true,"
                                 "\"uploaded\":-5,\"downloaded\":0,\"want_peers\":5"),
                  C, "“uploaded”: -5 is out of range");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":1,\"pieces\":\"gA==\",\"complete\":true,"
                                 "\"uploaded\":0,\"want_peers\":5"),
                  C, "“downloaded”: missing");
  assert_refused (ANNOUNCE_WITH ("\"piece_count\":1,\"pieces\":\"gA==\",\"complete\":true,"
                                 "\"uploaded\":0,\"downloaded\":0,\"want_peers\":51"),
                  C, "“want_peers”: 51 is out of range");

  /* leave */
  assert_refused ("{\"type\":\"leave\"}", C, "“entry”: missing");

  /* peers */
  assert_refused ("{\"type\":\"peers\",\"entry\":\"" HEX_A "\",\"peers\":{}}", T,
                  "“peers”: expected an array");
  assert_refused ("{\"type\":\"peers\",\"entry\":\"" HEX_A "\",\"peers\":[1]}", T,
                  "“peers”: element 0 is not an object");
  assert_refused ("{\"type\":\"peers\",\"entry\":\"" HEX_A "\",\"peers\":[{\"peer_id\":\"" PEER_A
                  "\",\"complete\":true,\"pieces\":\"%%%%\"}]}",
                  T, "“pieces”: invalid base64");
  assert_refused ("{\"type\":\"peers\",\"entry\":\"" HEX_A "\",\"peers\":[{\"peer_id\":\"x\","
                  "\"complete\":true,\"pieces\":\"\"}]}",
                  T, "“peer_id”");
  big = g_string_new ("{\"type\":\"peers\",\"entry\":\"" HEX_A "\",\"peers\":[");
  for (guint i = 0; i < 51; i++)
    g_string_append_printf (big, "%s{\"peer_id\":\"" PEER_A "\",\"complete\":true,\"pieces\":\"\"}",
                            i == 0 ? "" : ",");
  g_string_append (big, "]}");
  assert_refused (big->str, T, "“peers”: more than 50 peers");
  g_string_free (big, TRUE);

  /* signal */
  assert_refused (SIGNAL_WITH ("\"session\":\"s\",\"kind\":\"wink\""), C, "“kind”: unknown kind");
  assert_refused (SIGNAL_WITH ("\"kind\":\"bye\""), C, "“session”: missing");
  assert_refused (SIGNAL_WITH ("\"session\":\"\",\"kind\":\"bye\""), C,
                  "“session”: expected 1..64");
  assert_refused (SIGNAL_WITH ("\"session\":\"a b\",\"kind\":\"bye\""), C,
                  "“session”: expected letters, digits");
  assert_refused (SIGNAL_WITH ("\"session\":\"" HEX_A "x\",\"kind\":\"bye\""), C,
                  "“session”: expected 1..64 characters, got 65");
  assert_refused ("{\"type\":\"signal\",\"from\":\"" PEER_A "\",\"entry\":\"" HEX_A
                  "\",\"session\":\"s\",\"kind\":\"bye\"}",
                  C, "“to”: missing");
  assert_refused ("{\"type\":\"signal\",\"to\":\"" PEER_A "\",\"entry\":\"" HEX_A
                  "\",\"session\":\"s\",\"kind\":\"bye\"}",
                  T, "“from”: missing");
  assert_refused (SIGNAL_WITH ("\"session\":\"s\",\"kind\":\"offer\",\"pwd\":\"" PWD "\""), C,
                  "“ufrag”: missing");
  assert_refused (
      SIGNAL_WITH ("\"session\":\"s\",\"kind\":\"offer\",\"ufrag\":\"abc\",\"pwd\":\"" PWD "\""), C,
      "“ufrag”: expected 4..256");
  assert_refused (
      SIGNAL_WITH ("\"session\":\"s\",\"kind\":\"answer\",\"ufrag\":\"ab;d\",\"pwd\":\"" PWD "\""),
      C, "“ufrag”: expected ICE characters");
  assert_refused (SIGNAL_WITH ("\"session\":\"s\",\"kind\":\"answer\",\"ufrag\":\"" UFRAG
                               "\",\"pwd\":\"short\""),
                  C, "“pwd”: expected 22..256");
  assert_refused (SIGNAL_WITH ("\"session\":\"s\",\"kind\":\"candidate\""), C,
                  "“candidate”: missing");
  assert_refused (SIGNAL_WITH ("\"session\":\"s\",\"kind\":\"candidate\",\"candidate\":\"a\\nb\""),
                  C, "“candidate”: expected printable ASCII");

  big = g_string_new ("{\"type\":\"signal\",\"to\":\"" PEER_B "\",\"entry\":\"" HEX_A
                      "\",\"session\":\"s\",\"kind\":\"candidate\",\"candidate\":\"");
  for (guint i = 0; i < 513; i++)
    g_string_append_c (big, 'c');
  g_string_append (big, "\"}");
  assert_refused (big->str, C, "“candidate”: expected 1..512 characters, got 513");
  g_string_free (big, TRUE);

  /* error */
  assert_refused ("{\"type\":\"error\",\"message\":\"x\"}", T, "“code”: missing");
  assert_refused ("{\"type\":\"error\",\"code\":\"Bad Code\",\"message\":\"x\"}", T, "“code”");
  assert_refused ("{\"type\":\"error\",\"code\":\"x\"}", T, "“message”: missing");

  /* The whole message is bounded before json-glib sees it. */
  oversize = g_strnfill (ATLAS_TRACKER_MAX_MESSAGE + 1, ' ');
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (atlas_tracker_message_parse (oversize, strlen (oversize),
                                                ATLAS_TRACKER_FROM_CLIENT, &error));
    g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
    g_assert_nonnull (strstr (error->message, "over the limit"));
  }
}

static void
test_wire_donor_flags (void)
{
  static const guint8 bits[] = { 0x80 };
  g_autoptr (AtlasTrackerMessage) announce = atlas_tracker_message_new (ATLAS_TRACKER_MSG_ANNOUNCE);
  g_autoptr (AtlasTrackerMessage) peers = atlas_tracker_message_new (ATLAS_TRACKER_MSG_PEERS);
  g_autoptr (AtlasTrackerMessage) back = NULL;
  g_autoptr (AtlasTrackerMessage) peers_back = NULL;
  g_autoptr (GBytes) pieces = g_bytes_new_static (bits, sizeof bits);
  g_autofree char *plain = NULL;
  AtlasTrackerPeer *peer;

  announce->entry = g_strdup (HEX_A);
  announce->piece_count = 1;
  announce->pieces = g_bytes_ref (pieces);
  /* Without the flag the announce is exactly what issue 4's peers send. */
  plain = atlas_tracker_message_to_json (announce);
  g_assert_null (strstr (plain, "donor"));
  announce->donor = TRUE;
  back = round_trip (announce, ATLAS_TRACKER_FROM_CLIENT);
  g_assert_true (back->donor);
  g_clear_pointer (&back, atlas_tracker_message_free);
  back = parse_ok (plain, ATLAS_TRACKER_FROM_CLIENT);
  g_assert_false (back->donor);

  peers->entry = g_strdup (HEX_A);
  peer = atlas_tracker_peer_new (PEER_A, FALSE, pieces);
  peer->donor = TRUE;
  g_ptr_array_add (peers->peers, peer);
  g_ptr_array_add (peers->peers, atlas_tracker_peer_new (PEER_B, TRUE, pieces));
  peers_back = round_trip (peers, ATLAS_TRACKER_FROM_TRACKER);
  g_assert_true (((AtlasTrackerPeer *) g_ptr_array_index (peers_back->peers, 0))->donor);
  g_assert_false (((AtlasTrackerPeer *) g_ptr_array_index (peers_back->peers, 1))->donor);
}

static void
test_wire_donate (void)
{
  const char *entries[] = { HEX_A, HEX_B, NULL };
  const char *publishers[] = { "ci", "debian.org_mirror-1", NULL };
  g_autoptr (AtlasTrackerMessage) donate = atlas_tracker_message_new (ATLAS_TRACKER_MSG_DONATE);
  g_autoptr (AtlasTrackerMessage) back = NULL;
  g_autoptr (AtlasTrackerMessage) empty = NULL;
  g_autofree char *json = NULL;

  donate->offer->storage = G_GUINT64_CONSTANT (2147483648);
  donate->offer->upload_rate = 5 << 20;
  donate->offer->anywhere = TRUE;
  donate->offer->entries = g_strdupv ((char **) entries);
  donate->offer->publishers = g_strdupv ((char **) publishers);
  json = atlas_tracker_message_to_json (donate);
  g_assert_cmpstr (json, ==,
                   "{\"type\":\"donate\",\"storage\":2147483648,\"upload\":5242880,"
                   "\"paused\":false,\"causes\":{\"anywhere\":true,\"entries\":[\"" HEX_A
                   "\",\"" HEX_B "\"],\"publishers\":[\"ci\",\"debian.org_mirror-1\"]}}");
  back = round_trip (donate, ATLAS_TRACKER_FROM_CLIENT);
  g_assert_true (atlas_donate_offer_equal (back->offer, donate->offer));
  g_assert_cmpstr (back->offer->entries[1], ==, HEX_B);
  g_assert_cmpstr (back->offer->publishers[0], ==, "ci");

  /* The withdrawal: nothing offered. */
  empty = parse_ok ("{\"type\":\"donate\",\"storage\":0,\"upload\":0,\"paused\":true,"
                    "\"causes\":{\"anywhere\":false,\"entries\":[],\"publishers\":[]},"
                    "\"extra\":1}",
                    ATLAS_TRACKER_FROM_CLIENT);
  g_assert_cmpuint (empty->offer->storage, ==, 0);
  g_assert_true (empty->offer->paused);
  g_assert_cmpuint (g_strv_length (empty->offer->entries), ==, 0);
}

static void
test_wire_assign (void)
{
  static const guint8 bits[] = { 0x41, 0x80 }; /* 9 pieces: 1, 7, 8 */
  g_autoptr (AtlasTrackerMessage) assign = atlas_tracker_message_new (ATLAS_TRACKER_MSG_ASSIGN);
  g_autoptr (AtlasTrackerMessage) back = NULL;
  g_autoptr (AtlasTrackerMessage) none = NULL;
  g_autoptr (GBytes) pieces = g_bytes_new_static (bits, sizeof bits);
  g_autoptr (AtlasTrackerAssignment) copy = NULL;
  const AtlasTrackerAssignment *first;

  g_ptr_array_add (assign->assignments,
                   atlas_tracker_assignment_new (HEX_A, 7, "atlas-linux.iso", 9,
                                                 G_GUINT64_CONSTANT (1048576), pieces));
  back = round_trip (assign, ATLAS_TRACKER_FROM_TRACKER);
  g_assert_cmpuint (back->assignments->len, ==, 1);
  first = g_ptr_array_index (back->assignments, 0);
  g_assert_cmpstr (first->entry, ==, HEX_A);
  g_assert_cmpint (first->id, ==, 7);
  g_assert_cmpstr (first->name, ==, "atlas-linux.iso");
  g_assert_cmpuint (first->piece_count, ==, 9);
  g_assert_cmpuint (first->piece_length, ==, 1048576);
  g_assert_true (g_bytes_equal (first->pieces, pieces));
  g_assert_true (atlas_tracker_bitfield_get (first->pieces, 8));
  g_assert_false (atlas_tracker_bitfield_get (first->pieces, 0));
  copy = atlas_tracker_assignment_copy (first);
  g_assert_cmpstr (copy->name, ==, first->name);
  g_assert_true (g_bytes_equal (copy->pieces, first->pieces));

  /* An empty assignment means "hold nothing". */
  none = parse_ok ("{\"type\":\"assign\",\"entries\":[]}", ATLAS_TRACKER_FROM_TRACKER);
  g_assert_cmpuint (none->assignments->len, ==, 0);
}

#define DONATE_WITH(storage, causes)                                                               \
  "{\"type\":\"donate\",\"storage\":" storage ",\"upload\":0,\"paused\":false,\"causes\":" causes  \
  "}"
#define ASSIGN_WITH(fields)                                                                        \
  "{\"type\":\"assign\",\"entries\":[{\"entry\":\"" HEX_A "\"," fields "}]}"

static void
test_wire_donation_rejections (void)
{
  const AtlasTrackerDirection C = ATLAS_TRACKER_FROM_CLIENT;
  const AtlasTrackerDirection T = ATLAS_TRACKER_FROM_TRACKER;
  GString *many;

  /* Each side sends its own. */
  assert_refused ("{\"type\":\"assign\",\"entries\":[]}", C, "not sent by the client");
  assert_refused (DONATE_WITH ("1", "{\"anywhere\":true,\"entries\":[],\"publishers\":[]}"), T,
                  "not sent by the tracker");

  /* donate: numbers, types, hex, names, limits. */
  assert_refused (DONATE_WITH ("-1", "{\"anywhere\":true,\"entries\":[],\"publishers\":[]}"), C,
                  "“storage”: -1 is out of range");
  assert_refused (DONATE_WITH ("1.5", "{\"anywhere\":true,\"entries\":[],\"publishers\":[]}"), C,
                  "“storage”: expected an integer");
  assert_refused (DONATE_WITH ("\"1\"", "{\"anywhere\":true,\"entries\":[],\"publishers\":[]}"), C,
                  "“storage”: expected an integer");
  assert_refused ("{\"type\":\"donate\",\"storage\":1,\"upload\":-5,\"paused\":false,"
                  "\"causes\":{\"anywhere\":true,\"entries\":[],\"publishers\":[]}}",
                  C, "“upload”: -5 is out of range");
  assert_refused ("{\"type\":\"donate\",\"storage\":1,\"upload\":0,\"paused\":0,"
                  "\"causes\":{\"anywhere\":true,\"entries\":[],\"publishers\":[]}}",
                  C, "“paused”: expected true or false");
  assert_refused ("{\"type\":\"donate\",\"storage\":1,\"upload\":0,\"paused\":false}", C,
                  "“causes”: missing");
  assert_refused (DONATE_WITH ("1", "[]"), C, "“causes”: expected an object");
  assert_refused (DONATE_WITH ("1", "{\"entries\":[],\"publishers\":[]}"), C,
                  "“anywhere”: missing");
  assert_refused (
      DONATE_WITH ("1", "{\"anywhere\":true,\"entries\":\"" HEX_A "\",\"publishers\":[]}"), C,
      "“entries”: expected an array");
  assert_refused (DONATE_WITH ("1", "{\"anywhere\":false,\"entries\":[\"ABCD\"],"
                                    "\"publishers\":[]}"),
                  C, "“entries”: element 0: expected 64 lowercase hex digits");
  assert_refused (DONATE_WITH ("1", "{\"anywhere\":false,\"entries\":[\"" HEX_A "\",7],"
                                    "\"publishers\":[]}"),
                  C, "“entries”: element 1 is not a string");
  assert_refused (DONATE_WITH ("1", "{\"anywhere\":false,\"entries\":[],"
                                    "\"publishers\":[\"bad name\"]}"),
                  C, "“publishers”: element 0");
  assert_refused (DONATE_WITH ("1", "{\"anywhere\":false,\"entries\":[],\"publishers\":[\"\"]}"), C,
                  "“publishers”: element 0");

  many = g_string_new ("{\"type\":\"donate\",\"storage\":1,\"upload\":0,\"paused\":false,"
                       "\"causes\":{\"anywhere\":false,\"publishers\":[],\"entries\":[");
  for (guint i = 0; i < ATLAS_TRACKER_MAX_DONATE_ENTRIES + 1; i++)
    g_string_append_printf (many, "%s\"" HEX_A "\"", i > 0 ? "," : "");
  g_string_append (many, "]}}");
  assert_refused (many->str, C, "“entries”: 257 elements, at most 256");
  g_string_free (many, TRUE);

  many = g_string_new ("{\"type\":\"donate\",\"storage\":1,\"upload\":0,\"paused\":false,"
                       "\"causes\":{\"anywhere\":false,\"entries\":[],\"publishers\":[");
  for (guint i = 0; i < ATLAS_TRACKER_MAX_DONATE_PUBLISHERS + 1; i++)
    g_string_append_printf (many, "%s\"p%u\"", i > 0 ? "," : "", i);
  g_string_append (many, "]}}");
  assert_refused (many->str, C, "“publishers”: 65 elements, at most 64");
  g_string_free (many, TRUE);

  /* assign: every field of every entry. */
  assert_refused ("{\"type\":\"assign\"}", T, "“entries”: missing");
  assert_refused ("{\"type\":\"assign\",\"entries\":[1]}", T, "element 0 is not an object");
  assert_refused ("{\"type\":\"assign\",\"entries\":[{\"entry\":\"XYZ\"}]}", T,
                  "“entry”: expected 64 lowercase hex digits");
  assert_refused (ASSIGN_WITH ("\"id\":0,\"name\":\"a\",\"piece_count\":1,"
                               "\"piece_length\":1,\"pieces\":\"gA==\""),
                  T, "“id”: 0 is out of range");
  assert_refused (ASSIGN_WITH ("\"id\":1,\"name\":\"../etc\",\"piece_count\":1,"
                               "\"piece_length\":1,\"pieces\":\"gA==\""),
                  T, "“name”: expected letters");
  assert_refused (ASSIGN_WITH ("\"id\":1,\"name\":\"\",\"piece_count\":1,"
                               "\"piece_length\":1,\"pieces\":\"gA==\""),
                  T, "“name”: expected 1..128 characters");
  assert_refused (ASSIGN_WITH ("\"id\":1,\"name\":\"a\",\"piece_count\":0,"
                               "\"piece_length\":1,\"pieces\":\"\""),
                  T, "“piece_count”: 0 is out of range");
  assert_refused (ASSIGN_WITH ("\"id\":1,\"name\":\"a\",\"piece_count\":1,"
                               "\"piece_length\":-1,\"pieces\":\"gA==\""),
                  T, "“piece_length”: -1 is out of range");
  assert_refused (ASSIGN_WITH ("\"id\":1,\"name\":\"a\",\"piece_count\":1,"
                               "\"piece_length\":1,\"pieces\":\"wA==\""),
                  T, "“pieces”: bits past piece 1 are set");
  assert_refused (ASSIGN_WITH ("\"id\":1,\"name\":\"a\",\"piece_count\":9,"
                               "\"piece_length\":1,\"pieces\":\"gA==\""),
                  T, "“pieces”: 1 bytes of bitfield for 9 pieces");
  assert_refused ("{\"type\":\"assign\",\"entries\":["
                  "{\"entry\":\"" HEX_A "\",\"id\":1,\"name\":\"a\",\"piece_count\":1,"
                  "\"piece_length\":1,\"pieces\":\"gA==\"},"
                  "{\"entry\":\"" HEX_A "\",\"id\":2,\"name\":\"b\",\"piece_count\":1,"
                  "\"piece_length\":1,\"pieces\":\"AA==\"}]}",
                  T, "is listed twice");

  /* The optional donor flags are booleans when present. */
  assert_refused ("{\"type\":\"announce\",\"entry\":\"" HEX_A "\",\"piece_count\":0,"
                  "\"pieces\":\"\",\"complete\":true,\"uploaded\":0,\"downloaded\":0,"
                  "\"want_peers\":0,\"donor\":\"yes\"}",
                  C, "“donor”: expected true or false");
  assert_refused ("{\"type\":\"peers\",\"entry\":\"" HEX_A "\",\"peers\":[{\"peer_id\":\"" PEER_A
                  "\",\"complete\":true,\"pieces\":\"\",\"donor\":1}]}",
                  T, "“donor”: expected true or false");
}

/* One object and nothing after it: json-glib leaks what it built when a
 * document goes on after its first value, so such text never reaches it. */
static void
test_wire_one_object (void)
{
  const char *refused[] = { "",
                            "   ",
                            "1",
                            "[{}]",
                            "1{\"type\":\"hello\"}",
                            "{}{\"a\":{}}",
                            "{\"a\":\"}\"} {}",
                            "{\"a\":[1,{\"b\":2}]}x",
                            "{} \n 1" };
  const char *accepted[] = { "{}", " {\"a\":\"}{\\\"\"} \r\n", "{\"a\":[1,{\"b\":[]}]}",
                             "{\"unterminated\":[" };

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (AtlasTrackerMessage) message = NULL;

      g_assert_false (atlas_json_is_one_object (refused[i], strlen (refused[i])));
      message = atlas_tracker_message_parse (refused[i], strlen (refused[i]),
                                             ATLAS_TRACKER_FROM_CLIENT, &error);
      g_assert_null (message);
      g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
    }
  for (guint i = 0; i < G_N_ELEMENTS (accepted); i++)
    g_assert_true (atlas_json_is_one_object (accepted[i], strlen (accepted[i])));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tracker-wire/hello-welcome", test_wire_hello_welcome);
  g_test_add_func ("/tracker-wire/announce", test_wire_announce);
  g_test_add_func ("/tracker-wire/peers-leave-error", test_wire_peers_leave_error);
  g_test_add_func ("/tracker-wire/signal", test_wire_signal);
  g_test_add_func ("/tracker-wire/rejections", test_wire_rejections);
  g_test_add_func ("/tracker-wire/donor-flags", test_wire_donor_flags);
  g_test_add_func ("/tracker-wire/donate", test_wire_donate);
  g_test_add_func ("/tracker-wire/assign", test_wire_assign);
  g_test_add_func ("/tracker-wire/donation-rejections", test_wire_donation_rejections);
  g_test_add_func ("/tracker-wire/one-object", test_wire_one_object);

  return g_test_run ();
}
