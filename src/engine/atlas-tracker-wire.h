/* atlas-tracker-wire.h — the JSON messages peers and the tracker exchange over
 * the tracker's WebSocket (subprotocol "atlas-tracker.v1").
 *
 * Both ends parse with the same strict codec: a message is either entirely
 * valid or refused with ATLAS_ERROR_PROTOCOL and a message naming the field,
 * so neither side ever acts on half-understood input. Unknown extra fields
 * are ignored, which lets a later version add fields without breaking this one.
 * docs/tracker.md describes every message.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ATLAS_TRACKER_PROTOCOL_VERSION 1
#define ATLAS_TRACKER_SUBPROTOCOL "atlas-tracker.v1"
/* Largest message either side accepts, in bytes of JSON. */
#define ATLAS_TRACKER_MAX_MESSAGE (64 * 1024)
/* Most peers a client may ask for, and so the most a peers message holds. */
#define ATLAS_TRACKER_MAX_WANT_PEERS 50
/* Most pieces an announce may describe (the Metalink parser's limit). */
#define ATLAS_TRACKER_MAX_PIECES (1u << 22)
#define ATLAS_TRACKER_MAX_SESSION 64
#define ATLAS_TRACKER_MAX_CANDIDATE 512
/* Most causes a donate names: entries (file hashes) and publishers (token names). */
#define ATLAS_TRACKER_MAX_DONATE_ENTRIES 256
#define ATLAS_TRACKER_MAX_DONATE_PUBLISHERS 64
/* Most entries one assign message lists. */
#define ATLAS_TRACKER_MAX_ASSIGNMENTS 256
/* Index entry names, as the tracker's API accepts them: 1..128 of
 * "A-Z a-z 0-9 . _ + -". */
#define ATLAS_TRACKER_MAX_NAME 128

typedef enum
{
  ATLAS_TRACKER_MSG_HELLO,
  ATLAS_TRACKER_MSG_WELCOME,
  ATLAS_TRACKER_MSG_ANNOUNCE,
  ATLAS_TRACKER_MSG_LEAVE,
  ATLAS_TRACKER_MSG_PEERS,
  ATLAS_TRACKER_MSG_SIGNAL,
  ATLAS_TRACKER_MSG_ERROR,
  ATLAS_TRACKER_MSG_DONATE, /* client -> tracker: a donor's offer */
  ATLAS_TRACKER_MSG_ASSIGN, /* tracker -> client: a donor's complete assignment */
} AtlasTrackerMessageType;

typedef enum
{
  ATLAS_SIGNAL_OFFER,
  ATLAS_SIGNAL_ANSWER,
  ATLAS_SIGNAL_CANDIDATE,
  ATLAS_SIGNAL_END_OF_CANDIDATES,
  ATLAS_SIGNAL_BYE,
} AtlasSignalKind;

typedef struct
{
  char *peer_id;
  gboolean complete;
  GBytes *pieces; /* bitfield, most significant bit of byte 0 = piece 0 */
  gboolean donor; /* a donor: holds pieces for others, not a downloader */
} AtlasTrackerPeer;

/* What a donor offers (the DONATE message). Storage 0 or paused means
 * "assign me nothing". */
typedef struct
{
  guint64 storage;     /* bytes; 0 = hold nothing */
  guint64 upload_rate; /* bytes per second; 0 = not capped */
  gboolean paused;
  gboolean anywhere; /* "wherever most needed" */
  char **entries;    /* NULL-terminated entry hashes (64 hex), nullable */
  char **publishers; /* NULL-terminated publisher (token) names, nullable */
} AtlasDonateOffer;

AtlasDonateOffer *atlas_donate_offer_copy (const AtlasDonateOffer *offer);
void atlas_donate_offer_free (AtlasDonateOffer *offer);
/* Whether two offers say the same (NULL and empty lists are equal). */
gboolean atlas_donate_offer_equal (const AtlasDonateOffer *a, const AtlasDonateOffer *b);

/* One entry of a donor's assignment (the ASSIGN message). */
typedef struct
{
  char *entry; /* 64 hex: the file's sha-256, its swarm */
  gint64 id;   /* index entry id: GET /api/v1/entries/{id}/metalink */
  char *name;
  guint32 piece_count;
  guint64 piece_length;
  GBytes *pieces; /* bitfield of pieces to hold */
} AtlasTrackerAssignment;

AtlasTrackerAssignment *atlas_tracker_assignment_new (const char *entry, gint64 id,
                                                      const char *name, guint32 piece_count,
                                                      guint64 piece_length, GBytes *pieces);
AtlasTrackerAssignment *atlas_tracker_assignment_copy (const AtlasTrackerAssignment *assignment);
void atlas_tracker_assignment_free (AtlasTrackerAssignment *assignment);

typedef struct
{
  AtlasTrackerMessageType type;
  guint version; /* HELLO, WELCOME */
  /* HELLO/WELCOME: own id; SIGNAL: "to" (client->tracker) or "from" (tracker->client) */
  char *peer_id;
  char *entry; /* 64 lowercase hex */
  /* ANNOUNCE */
  guint32 piece_count;
  GBytes *pieces;
  gboolean complete;
  guint64 uploaded, downloaded; /* at most G_MAXINT64: JSON integers are signed 64-bit */
  guint want_peers;
  gboolean donor;   /* ANNOUNCE: written only when TRUE */
  GPtrArray *peers; /* PEERS: element AtlasTrackerPeer*, owned */
  /* SIGNAL: ufrag and pwd for offer/answer, candidate for candidate, else NULL */
  AtlasSignalKind kind;
  char *session, *ufrag, *pwd, *candidate;
  char *code, *text;       /* ERROR: "code" and "message" */
  AtlasDonateOffer *offer; /* DONATE */
  GPtrArray *assignments;  /* ASSIGN: element AtlasTrackerAssignment*, owned */
} AtlasTrackerMessage;

typedef enum
{
  ATLAS_TRACKER_FROM_CLIENT,
  ATLAS_TRACKER_FROM_TRACKER,
} AtlasTrackerDirection;

/* Parses one message sent in @direction. Strict: unknown "type", a type the
 * other direction sends, missing or wrongly typed fields, bad hex or base64,
 * limits -> NULL with ATLAS_ERROR_PROTOCOL and a message naming the field.
 * Unknown extra fields are ignored. */
AtlasTrackerMessage *atlas_tracker_message_parse (const char *json, gsize length,
                                                  AtlasTrackerDirection direction, GError **error);
/* Compact JSON for @message; the other side's parse reads it back. A SIGNAL's
 * peer_id is written as "to" (client->tracker) or "from", chosen by @direction. */
char *atlas_tracker_message_to_json_full (const AtlasTrackerMessage *message,
                                          AtlasTrackerDirection direction);
/* atlas_tracker_message_to_json_full () with the direction the type implies:
 * HELLO, ANNOUNCE and LEAVE come from clients, and a SIGNAL whose peer_id is
 * set is written as "to" when built by a client, which is the only side that
 * calls this for signals (the tracker uses the _full variant). */
char *atlas_tracker_message_to_json (const AtlasTrackerMessage *message);
AtlasTrackerMessage *atlas_tracker_message_new (AtlasTrackerMessageType type);
void atlas_tracker_message_free (AtlasTrackerMessage *message);

AtlasTrackerPeer *atlas_tracker_peer_new (const char *peer_id, gboolean complete, GBytes *pieces);
void atlas_tracker_peer_free (AtlasTrackerPeer *peer);

/* The wire name of a kind ("offer", "end-of-candidates"), and back (FALSE if unknown). */
const char *atlas_signal_kind_to_string (AtlasSignalKind kind);
gboolean atlas_signal_kind_from_string (const char *text, AtlasSignalKind *kind);
const char *atlas_tracker_message_type_to_string (AtlasTrackerMessageType type);

/* 1..64 of "A-Z a-z 0-9 . _ -": a token (publisher) name. */
gboolean atlas_tracker_is_token_name (const char *text);
/* 1..128 of "A-Z a-z 0-9 . _ + -": an index entry's name. */
gboolean atlas_tracker_is_entry_name (const char *text);
/* "sha256:" and 64 lowercase hex digits: a peer's certificate fingerprint. */
gboolean atlas_tracker_is_peer_id (const char *text);
/* 64 lowercase hex digits: the SHA-256 of an entry's file. */
gboolean atlas_tracker_is_entry (const char *text);
/* Whether piece @index is set in a bitfield (MSB first); FALSE past its end. */
gboolean atlas_tracker_bitfield_get (GBytes *bitfield, guint32 index);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasTrackerMessage, atlas_tracker_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasTrackerPeer, atlas_tracker_peer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasDonateOffer, atlas_donate_offer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasTrackerAssignment, atlas_tracker_assignment_free)

G_END_DECLS
