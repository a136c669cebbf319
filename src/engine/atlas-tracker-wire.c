/* atlas-tracker-wire.c — strict JSON codec of the tracker's WebSocket messages. */
#include "atlas-tracker-wire.h"
#include "atlas-json-guard.h"

#include "atlas-error.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define ICE_UFRAG_MIN 4
#define ICE_PWD_MIN 22
#define ICE_CREDENTIAL_MAX 256
#define ERROR_CODE_MAX 64
#define ERROR_TEXT_MAX 1024

static const char *const type_names[] = {
  [ATLAS_TRACKER_MSG_HELLO] = "hello",       [ATLAS_TRACKER_MSG_WELCOME] = "welcome",
  [ATLAS_TRACKER_MSG_ANNOUNCE] = "announce", [ATLAS_TRACKER_MSG_LEAVE] = "leave",
  [ATLAS_TRACKER_MSG_PEERS] = "peers",       [ATLAS_TRACKER_MSG_SIGNAL] = "signal",
  [ATLAS_TRACKER_MSG_ERROR] = "error",       [ATLAS_TRACKER_MSG_DONATE] = "donate",
  [ATLAS_TRACKER_MSG_ASSIGN] = "assign",
};

static const char *const kind_names[] = {
  [ATLAS_SIGNAL_OFFER] = "offer",
  [ATLAS_SIGNAL_ANSWER] = "answer",
  [ATLAS_SIGNAL_CANDIDATE] = "candidate",
  [ATLAS_SIGNAL_END_OF_CANDIDATES] = "end-of-candidates",
  [ATLAS_SIGNAL_BYE] = "bye",
};

const char *
atlas_tracker_message_type_to_string (AtlasTrackerMessageType type)
{
  g_return_val_if_fail (type <= ATLAS_TRACKER_MSG_ASSIGN, NULL);
  return type_names[type];
}

const char *
atlas_signal_kind_to_string (AtlasSignalKind kind)
{
  g_return_val_if_fail (kind <= ATLAS_SIGNAL_BYE, NULL);
  return kind_names[kind];
}

gboolean
atlas_signal_kind_from_string (const char *text, AtlasSignalKind *kind)
{
  for (guint i = 0; i < G_N_ELEMENTS (kind_names); i++)
    if (g_strcmp0 (text, kind_names[i]) == 0)
      {
        *kind = i;
        return TRUE;
      }
  return FALSE;
}

static gboolean
is_lower_hex (const char *text, gsize length)
{
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isdigit (text[i]) && !(text[i] >= 'a' && text[i] <= 'f'))
      return FALSE;
  return text[length] == '\0';
}

/* Upper-case hex is refused rather than folded: ids are hash-table keys on
 * the tracker, and one peer must never have two spellings. */
gboolean
atlas_tracker_is_entry (const char *text)
{
  return text != NULL && strlen (text) == 64 && is_lower_hex (text, 64);
}

gboolean
atlas_tracker_is_peer_id (const char *text)
{
  return text != NULL && g_str_has_prefix (text, "sha256:") && strlen (text) == 7 + 64
         && is_lower_hex (text + 7, 64);
}

gboolean
atlas_tracker_is_token_name (const char *text)
{
  gsize length = text != NULL ? strlen (text) : 0;

  if (length == 0 || length > 64)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (text[i]) && strchr ("._-", text[i]) == NULL)
      return FALSE;
  return TRUE;
}

/* The donor may name files after entries, so the rule the API enforces on
 * publishing is enforced again here rather than trusted. */
gboolean
atlas_tracker_is_entry_name (const char *text)
{
  gsize length = text != NULL ? strlen (text) : 0;

  if (length == 0 || length > ATLAS_TRACKER_MAX_NAME)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (text[i]) && strchr ("._+-", text[i]) == NULL)
      return FALSE;
  return TRUE;
}

gboolean
atlas_tracker_bitfield_get (GBytes *bitfield, guint32 index)
{
  gsize size = 0;
  const guint8 *bits = bitfield != NULL ? g_bytes_get_data (bitfield, &size) : NULL;

  if (index / 8 >= size)
    return FALSE;
  return (bits[index / 8] & (0x80u >> (index % 8))) != 0;
}

AtlasTrackerPeer *
atlas_tracker_peer_new (const char *peer_id, gboolean complete, GBytes *pieces)
{
  AtlasTrackerPeer *peer = g_new0 (AtlasTrackerPeer, 1);

  peer->peer_id = g_strdup (peer_id);
  peer->complete = complete;
  peer->pieces = pieces != NULL ? g_bytes_ref (pieces) : g_bytes_new (NULL, 0);
  return peer;
}

void
atlas_tracker_peer_free (AtlasTrackerPeer *peer)
{
  if (peer == NULL)
    return;
  g_free (peer->peer_id);
  g_clear_pointer (&peer->pieces, g_bytes_unref);
  g_free (peer);
}

AtlasDonateOffer *
atlas_donate_offer_copy (const AtlasDonateOffer *offer)
{
  AtlasDonateOffer *copy = g_memdup2 (offer, sizeof *offer);

  copy->entries = g_strdupv (offer->entries);
  copy->publishers = g_strdupv (offer->publishers);
  return copy;
}

void
atlas_donate_offer_free (AtlasDonateOffer *offer)
{
  if (offer == NULL)
    return;
  g_strfreev (offer->entries);
  g_strfreev (offer->publishers);
  g_free (offer);
}

static gboolean
strv_equal (char **a, char **b)
{
  guint length_a = a != NULL ? g_strv_length (a) : 0;
  guint length_b = b != NULL ? g_strv_length (b) : 0;

  if (length_a != length_b)
    return FALSE;
  for (guint i = 0; i < length_a; i++)
    if (strcmp (a[i], b[i]) != 0)
      return FALSE;
  return TRUE;
}

gboolean
atlas_donate_offer_equal (const AtlasDonateOffer *a, const AtlasDonateOffer *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return a->storage == b->storage && a->upload_rate == b->upload_rate && !a->paused == !b->paused
         && !a->anywhere == !b->anywhere && strv_equal (a->entries, b->entries)
         && strv_equal (a->publishers, b->publishers);
}

AtlasTrackerAssignment *
atlas_tracker_assignment_new (const char *entry, gint64 id, const char *name, guint32 piece_count,
                              guint64 piece_length, GBytes *pieces)
{
  AtlasTrackerAssignment *assignment = g_new0 (AtlasTrackerAssignment, 1);

  assignment->entry = g_strdup (entry);
  assignment->id = id;
  assignment->name = g_strdup (name);
  assignment->piece_count = piece_count;
  assignment->piece_length = piece_length;
  assignment->pieces = pieces != NULL ? g_bytes_ref (pieces) : g_bytes_new (NULL, 0);
  return assignment;
}

AtlasTrackerAssignment *
atlas_tracker_assignment_copy (const AtlasTrackerAssignment *assignment)
{
  return atlas_tracker_assignment_new (assignment->entry, assignment->id, assignment->name,
                                       assignment->piece_count, assignment->piece_length,
                                       assignment->pieces);
}

void
atlas_tracker_assignment_free (AtlasTrackerAssignment *assignment)
{
  if (assignment == NULL)
    return;
  g_free (assignment->entry);
  g_free (assignment->name);
  g_clear_pointer (&assignment->pieces, g_bytes_unref);
  g_free (assignment);
}

AtlasTrackerMessage *
atlas_tracker_message_new (AtlasTrackerMessageType type)
{
  AtlasTrackerMessage *message = g_new0 (AtlasTrackerMessage, 1);

  message->type = type;
  if (type == ATLAS_TRACKER_MSG_HELLO || type == ATLAS_TRACKER_MSG_WELCOME)
    message->version = ATLAS_TRACKER_PROTOCOL_VERSION;
  if (type == ATLAS_TRACKER_MSG_PEERS)
    message->peers = g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_tracker_peer_free);
  if (type == ATLAS_TRACKER_MSG_DONATE)
    message->offer = g_new0 (AtlasDonateOffer, 1);
  if (type == ATLAS_TRACKER_MSG_ASSIGN)
    message->assignments =
        g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_tracker_assignment_free);
  return message;
}

void
atlas_tracker_message_free (AtlasTrackerMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->peer_id);
  g_free (message->entry);
  g_clear_pointer (&message->pieces, g_bytes_unref);
  g_clear_pointer (&message->peers, g_ptr_array_unref);
  g_free (message->session);
  g_free (message->ufrag);
  g_free (message->pwd);
  g_free (message->candidate);
  g_free (message->code);
  g_free (message->text);
  g_clear_pointer (&message->offer, atlas_donate_offer_free);
  g_clear_pointer (&message->assignments, g_ptr_array_unref);
  g_free (message);
}

/* Parsing */

static gboolean G_GNUC_PRINTF (3, 4)
    field_error (GError **error, const char *field, const char *format, ...)
{
  g_autofree char *detail = NULL;
  va_list args;

  va_start (args, format);
  detail = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL, "tracker message: field “%s”: %s", field,
               detail);
  return FALSE;
}

static JsonNode *
get_member (JsonObject *object, const char *field, GError **error)
{
  JsonNode *node = json_object_get_member (object, field);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      field_error (error, field, "missing");
      return NULL;
    }
  return node;
}

static gboolean
get_string (JsonObject *object, const char *field, gsize min_length, gsize max_length,
            const char **out, GError **error)
{
  JsonNode *node = get_member (object, field, error);
  const char *text;
  gsize length;

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return field_error (error, field, "expected a string");
  text = json_node_get_string (node);
  /* json-glib turns some malformed escapes into raw bytes, so valid UTF-8
   * input is no promise of valid UTF-8 strings. */
  if (!g_utf8_validate (text, -1, NULL))
    return field_error (error, field, "not valid UTF-8");
  length = strlen (text);
  if (length < min_length || length > max_length)
    return field_error (error, field,
                        "expected %" G_GSIZE_FORMAT "..%" G_GSIZE_FORMAT
                        " characters, got %" G_GSIZE_FORMAT,
                        min_length, max_length, length);
  *out = text;
  return TRUE;
}

/* Integers only: 3.0 or "3" is refused. */
static gboolean
get_integer (JsonObject *object, const char *field, gint64 min, gint64 max, gint64 *out,
             GError **error)
{
  JsonNode *node = get_member (object, field, error);
  gint64 value;

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return field_error (error, field, "expected an integer");
  value = json_node_get_int (node);
  if (value < min || value > max)
    return field_error (error, field,
                        "%" G_GINT64_FORMAT " is out of range %" G_GINT64_FORMAT
                        "..%" G_GINT64_FORMAT,
                        value, min, max);
  *out = value;
  return TRUE;
}

static gboolean
get_boolean (JsonObject *object, const char *field, gboolean *out, GError **error)
{
  JsonNode *node = get_member (object, field, error);

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return field_error (error, field, "expected true or false");
  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
get_peer_id (JsonObject *object, const char *field, char **out, GError **error)
{
  const char *text;

  if (!get_string (object, field, 0, G_MAXSIZE, &text, error))
    return FALSE;
  if (!atlas_tracker_is_peer_id (text))
    return field_error (error, field, "expected “sha256:” and 64 lowercase hex digits");
  *out = g_strdup (text);
  return TRUE;
}

static gboolean
get_entry (JsonObject *object, char **out, GError **error)
{
  const char *text;

  if (!get_string (object, "entry", 0, G_MAXSIZE, &text, error))
    return FALSE;
  if (!atlas_tracker_is_entry (text))
    return field_error (error, "entry", "expected 64 lowercase hex digits");
  *out = g_strdup (text);
  return TRUE;
}

static gboolean
is_base64_char (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/';
}

/* g_base64_decode skips characters it does not know, so it would accept
 * garbage; only canonical, padded standard base64 passes here. */
static GBytes *
decode_base64 (const char *text, const char *field, GError **error)
{
  gsize length = strlen (text);
  gsize padding = 0;
  gsize out_length = 0;
  g_autofree guint8 *data = NULL;
  g_autofree char *again = NULL;

  if (length % 4 != 0)
    {
      field_error (error, field, "base64 length %" G_GSIZE_FORMAT " is not a multiple of 4",
                   length);
      return NULL;
    }
  while (padding < 2 && padding < length && text[length - 1 - padding] == '=')
    padding++;
  for (gsize i = 0; i < length - padding; i++)
    if (!is_base64_char (text[i]))
      {
        field_error (error, field, "invalid base64 character at offset %" G_GSIZE_FORMAT, i);
        return NULL;
      }
  if (length == 0)
    return g_bytes_new (NULL, 0);

  data = g_base64_decode (text, &out_length);
  again = g_base64_encode (data, out_length);
  if (strcmp (again, text) != 0)
    {
      field_error (error, field, "not canonical base64");
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&data), out_length);
}

static gboolean
parse_version (JsonObject *object, AtlasTrackerMessage *message, GError **error)
{
  gint64 version;

  if (!get_integer (object, "version", 0, G_MAXUINT32, &version, error))
    return FALSE;
  if (version != ATLAS_TRACKER_PROTOCOL_VERSION)
    return field_error (error, "version", "version %" G_GINT64_FORMAT " is not supported (%d is)",
                        version, ATLAS_TRACKER_PROTOCOL_VERSION);
  message->version = version;
  return TRUE;
}

/* "pieces": a bitfield of exactly @piece_count bits, spare bits clear. */
static GBytes *
get_bitfield (JsonObject *object, guint32 piece_count, GError **error)
{
  g_autoptr (GBytes) pieces = NULL;
  const char *text;
  const guint8 *bits;
  gsize size;

  if (!get_string (object, "pieces", 0, G_MAXSIZE, &text, error))
    return NULL;
  pieces = decode_base64 (text, "pieces", error);
  if (pieces == NULL)
    return NULL;

  bits = g_bytes_get_data (pieces, &size);
  if (size != (piece_count + 7) / 8)
    {
      field_error (error, "pieces",
                   "%" G_GSIZE_FORMAT " bytes of bitfield for %u pieces (expected %u)", size,
                   piece_count, (piece_count + 7) / 8);
      return NULL;
    }
  /* Spare bits set would mean pieces past the end of the file. */
  if (piece_count % 8 != 0 && (bits[size - 1] & (0xffu >> (piece_count % 8))) != 0)
    {
      field_error (error, "pieces", "bits past piece %u are set", piece_count);
      return NULL;
    }
  return g_steal_pointer (&pieces);
}

/* An optional boolean: absent is FALSE, anything but true/false is refused. */
static gboolean
get_optional_boolean (JsonObject *object, const char *field, gboolean *out, GError **error)
{
  if (!json_object_has_member (object, field))
    {
      *out = FALSE;
      return TRUE;
    }
  return get_boolean (object, field, out, error);
}

static gboolean
parse_announce (JsonObject *object, AtlasTrackerMessage *message, GError **error)
{
  gint64 value;

  if (!get_entry (object, &message->entry, error))
    return FALSE;
  if (!get_integer (object, "piece_count", 0, ATLAS_TRACKER_MAX_PIECES, &value, error))
    return FALSE;
  message->piece_count = value;
  message->pieces = get_bitfield (object, message->piece_count, error);
  if (message->pieces == NULL)
    return FALSE;

  if (!get_boolean (object, "complete", &message->complete, error))
    return FALSE;
  if (!get_integer (object, "uploaded", 0, G_MAXINT64, &value, error))
    return FALSE;
  message->uploaded = value;
  if (!get_integer (object, "downloaded", 0, G_MAXINT64, &value, error))
    return FALSE;
  message->downloaded = value;
  if (!get_integer (object, "want_peers", 0, ATLAS_TRACKER_MAX_WANT_PEERS, &value, error))
    return FALSE;
  message->want_peers = value;
  return get_optional_boolean (object, "donor", &message->donor, error);
}

static gboolean
parse_peers (JsonObject *object, AtlasTrackerMessage *message, GError **error)
{
  JsonNode *node;
  JsonArray *array;

  if (!get_entry (object, &message->entry, error))
    return FALSE;
  node = get_member (object, "peers", error);
  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return field_error (error, "peers", "expected an array");
  array = json_node_get_array (node);
  if (json_array_get_length (array) > ATLAS_TRACKER_MAX_WANT_PEERS)
    return field_error (error, "peers", "more than %d peers", ATLAS_TRACKER_MAX_WANT_PEERS);

  message->peers = g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_tracker_peer_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *peer_object;
      g_autoptr (AtlasTrackerPeer) peer = g_new0 (AtlasTrackerPeer, 1);
      const char *text;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        return field_error (error, "peers", "element %u is not an object", i);
      peer_object = json_node_get_object (element);
      if (!get_peer_id (peer_object, "peer_id", &peer->peer_id, error)
          || !get_boolean (peer_object, "complete", &peer->complete, error)
          || !get_optional_boolean (peer_object, "donor", &peer->donor, error)
          || !get_string (peer_object, "pieces", 0, G_MAXSIZE, &text, error))
        return FALSE;
      peer->pieces = decode_base64 (text, "pieces", error);
      if (peer->pieces == NULL)
        return FALSE;
      g_ptr_array_add (message->peers, g_steal_pointer (&peer));
    }
  return TRUE;
}

static gboolean
is_session_char (char c)
{
  return g_ascii_isalnum (c) || c == '-';
}

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/". */
static gboolean
is_ice_char (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/';
}

static gboolean
get_chars (JsonObject *object, const char *field, gsize min_length, gsize max_length,
           gboolean (*allowed) (char), const char *what, char **out, GError **error)
{
  const char *text;

  if (!get_string (object, field, min_length, max_length, &text, error))
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!allowed (*p))
      return field_error (error, field, "expected %s", what);
  *out = g_strdup (text);
  return TRUE;
}

static gboolean
is_candidate_char (char c)
{
  return c >= 0x20 && c < 0x7f;
}

static gboolean
parse_signal (JsonObject *object, AtlasTrackerMessage *message, AtlasTrackerDirection direction,
              GError **error)
{
  const char *text;

  /* A client never names the sender: the tracker takes "from" from the
   * connection's hello, so a "from" a client writes is simply ignored. */
  if (!get_peer_id (object, direction == ATLAS_TRACKER_FROM_CLIENT ? "to" : "from",
                    &message->peer_id, error))
    return FALSE;
  if (!get_entry (object, &message->entry, error))
    return FALSE;
  if (!get_chars (object, "session", 1, ATLAS_TRACKER_MAX_SESSION, is_session_char,
                  "letters, digits and “-”", &message->session, error))
    return FALSE;
  if (!get_string (object, "kind", 0, G_MAXSIZE, &text, error))
    return FALSE;
  if (!atlas_signal_kind_from_string (text, &message->kind))
    return field_error (error, "kind", "unknown kind “%s”", text);

  switch (message->kind)
    {
    case ATLAS_SIGNAL_OFFER:
    case ATLAS_SIGNAL_ANSWER:
      return get_chars (object, "ufrag", ICE_UFRAG_MIN, ICE_CREDENTIAL_MAX, is_ice_char,
                        "ICE characters (letters, digits, “+”, “/”)", &message->ufrag, error)
             && get_chars (object, "pwd", ICE_PWD_MIN, ICE_CREDENTIAL_MAX, is_ice_char,
                           "ICE characters (letters, digits, “+”, “/”)", &message->pwd, error);
    case ATLAS_SIGNAL_CANDIDATE:
      return get_chars (object, "candidate", 1, ATLAS_TRACKER_MAX_CANDIDATE, is_candidate_char,
                        "printable ASCII", &message->candidate, error);
    case ATLAS_SIGNAL_END_OF_CANDIDATES:
    case ATLAS_SIGNAL_BYE:
    default:
      return TRUE;
    }
}

static gboolean
parse_error_message (JsonObject *object, AtlasTrackerMessage *message, GError **error)
{
  const char *code;
  const char *text;

  if (!get_string (object, "code", 1, ERROR_CODE_MAX, &code, error))
    return FALSE;
  for (const char *p = code; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && *p != '-')
      return field_error (error, "code", "expected lowercase letters and “-”");
  if (!get_string (object, "message", 0, ERROR_TEXT_MAX, &text, error))
    return FALSE;
  message->code = g_strdup (code);
  message->text = g_strdup (text);
  return TRUE;
}

/* A JSON array of at most @max strings, each accepted by @valid. */
static gboolean
get_string_list (JsonObject *object, const char *field, guint max, gboolean (*valid) (const char *),
                 const char *what, char ***out, GError **error)
{
  JsonNode *node = get_member (object, field, error);
  JsonArray *array;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  guint length;

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return field_error (error, field, "expected an array");
  array = json_node_get_array (node);
  length = json_array_get_length (array);
  if (length > max)
    return field_error (error, field, "%u elements, at most %u are allowed", length, max);
  for (guint i = 0; i < length; i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      const char *text;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        return field_error (error, field, "element %u is not a string", i);
      text = json_node_get_string (element);
      if (!g_utf8_validate (text, -1, NULL) || !valid (text))
        return field_error (error, field, "element %u: expected %s", i, what);
      g_strv_builder_add (builder, text);
    }
  *out = g_strv_builder_end (builder);
  return TRUE;
}

static gboolean
parse_donate (JsonObject *object, AtlasTrackerMessage *message, GError **error)
{
  AtlasDonateOffer *offer = message->offer = g_new0 (AtlasDonateOffer, 1);
  JsonNode *node;
  JsonObject *causes;
  gint64 value;

  if (!get_integer (object, "storage", 0, G_MAXINT64, &value, error))
    return FALSE;
  offer->storage = value;
  if (!get_integer (object, "upload", 0, G_MAXINT64, &value, error))
    return FALSE;
  offer->upload_rate = value;
  if (!get_boolean (object, "paused", &offer->paused, error))
    return FALSE;
  node = get_member (object, "causes", error);
  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return field_error (error, "causes", "expected an object");
  causes = json_node_get_object (node);
  return get_boolean (causes, "anywhere", &offer->anywhere, error)
         && get_string_list (causes, "entries", ATLAS_TRACKER_MAX_DONATE_ENTRIES,
                             atlas_tracker_is_entry, "64 lowercase hex digits", &offer->entries,
                             error)
         && get_string_list (
             causes, "publishers", ATLAS_TRACKER_MAX_DONATE_PUBLISHERS, atlas_tracker_is_token_name,
             "a token name (1..64 of letters, digits, “.”, “_”, “-”)", &offer->publishers, error);
}

static gboolean
parse_assignment (JsonObject *object, AtlasTrackerAssignment *assignment, GError **error)
{
  const char *text;
  gint64 value;

  if (!get_entry (object, &assignment->entry, error))
    return FALSE;
  if (!get_integer (object, "id", 1, G_MAXINT64, &assignment->id, error))
    return FALSE;
  if (!get_string (object, "name", 1, ATLAS_TRACKER_MAX_NAME, &text, error))
    return FALSE;
  if (!atlas_tracker_is_entry_name (text))
    return field_error (error, "name", "expected letters, digits, “.”, “_”, “+” and “-”");
  assignment->name = g_strdup (text);
  if (!get_integer (object, "piece_count", 1, ATLAS_TRACKER_MAX_PIECES, &value, error))
    return FALSE;
  assignment->piece_count = value;
  if (!get_integer (object, "piece_length", 1, G_MAXINT64, &value, error))
    return FALSE;
  assignment->piece_length = value;
  assignment->pieces = get_bitfield (object, assignment->piece_count, error);
  return assignment->pieces != NULL;
}

static gboolean
parse_assign (JsonObject *object, AtlasTrackerMessage *message, GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  JsonNode *node = get_member (object, "entries", error);
  JsonArray *array;

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return field_error (error, "entries", "expected an array");
  array = json_node_get_array (node);
  if (json_array_get_length (array) > ATLAS_TRACKER_MAX_ASSIGNMENTS)
    return field_error (error, "entries", "more than %d entries", ATLAS_TRACKER_MAX_ASSIGNMENTS);

  message->assignments =
      g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_tracker_assignment_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      g_autoptr (AtlasTrackerAssignment) assignment = g_new0 (AtlasTrackerAssignment, 1);

      if (!JSON_NODE_HOLDS_OBJECT (element))
        return field_error (error, "entries", "element %u is not an object", i);
      if (!parse_assignment (json_node_get_object (element), assignment, error))
        return FALSE;
      /* The assignment is a set per file: one file twice would leave the
       * donor to guess which one counts. */
      if (!g_hash_table_add (seen, assignment->entry))
        return field_error (error, "entries", "entry %s is listed twice", assignment->entry);
      g_ptr_array_add (message->assignments, g_steal_pointer (&assignment));
    }
  return TRUE;
}

static gboolean
sent_by (AtlasTrackerMessageType type, AtlasTrackerDirection direction)
{
  switch (type)
    {
    case ATLAS_TRACKER_MSG_HELLO:
    case ATLAS_TRACKER_MSG_ANNOUNCE:
    case ATLAS_TRACKER_MSG_LEAVE:
    case ATLAS_TRACKER_MSG_DONATE:
      return direction == ATLAS_TRACKER_FROM_CLIENT;
    case ATLAS_TRACKER_MSG_WELCOME:
    case ATLAS_TRACKER_MSG_PEERS:
    case ATLAS_TRACKER_MSG_ERROR:
    case ATLAS_TRACKER_MSG_ASSIGN:
      return direction == ATLAS_TRACKER_FROM_TRACKER;
    case ATLAS_TRACKER_MSG_SIGNAL:
    default:
      return TRUE;
    }
}

AtlasTrackerMessage *
atlas_tracker_message_parse (const char *json, gsize length, AtlasTrackerDirection direction,
                             GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) json_error = NULL;
  g_autoptr (AtlasTrackerMessage) message = NULL;
  JsonNode *root;
  JsonObject *object;
  const char *type_name;
  gboolean ok = FALSE;

  g_return_val_if_fail (json != NULL || length == 0, NULL);

  if (length > ATLAS_TRACKER_MAX_MESSAGE)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                   "tracker message: %" G_GSIZE_FORMAT " bytes is over the limit of %d", length,
                   ATLAS_TRACKER_MAX_MESSAGE);
      return NULL;
    }
  /* json-glib stops at a NUL byte and would take the prefix as the message. */
  if (memchr (json, '\0', length) != NULL || !g_utf8_validate_len (json, length, NULL))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                   "tracker message: not UTF-8 text without NUL bytes");
      return NULL;
    }

  if (!atlas_json_is_one_object (json, length))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                   "tracker message: expected a JSON object, and nothing after it");
      return NULL;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, length == 0 ? "" : json, length, &json_error))
    {
      g_autofree char *valid = g_utf8_make_valid (json_error->message, -1);

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL, "tracker message: invalid JSON: %s",
                   valid);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                   "tracker message: expected a JSON object");
      return NULL;
    }
  object = json_node_get_object (root);
  if (!get_string (object, "type", 0, G_MAXSIZE, &type_name, error))
    return NULL;

  message = g_new0 (AtlasTrackerMessage, 1);
  message->type = G_N_ELEMENTS (type_names);
  for (guint i = 0; i < G_N_ELEMENTS (type_names); i++)
    if (strcmp (type_name, type_names[i]) == 0)
      message->type = i;
  if (message->type == G_N_ELEMENTS (type_names))
    {
      field_error (error, "type", "unknown type “%s”", type_name);
      return NULL;
    }
  if (!sent_by (message->type, direction))
    {
      field_error (error, "type", "“%s” is not sent by the %s", type_name,
                   direction == ATLAS_TRACKER_FROM_CLIENT ? "client" : "tracker");
      return NULL;
    }

  switch (message->type)
    {
    case ATLAS_TRACKER_MSG_HELLO:
    case ATLAS_TRACKER_MSG_WELCOME:
      ok = parse_version (object, message, error)
           && get_peer_id (object, "peer_id", &message->peer_id, error);
      break;
    case ATLAS_TRACKER_MSG_ANNOUNCE:
      ok = parse_announce (object, message, error);
      break;
    case ATLAS_TRACKER_MSG_LEAVE:
      ok = get_entry (object, &message->entry, error);
      break;
    case ATLAS_TRACKER_MSG_PEERS:
      ok = parse_peers (object, message, error);
      break;
    case ATLAS_TRACKER_MSG_SIGNAL:
      ok = parse_signal (object, message, direction, error);
      break;
    case ATLAS_TRACKER_MSG_ERROR:
      ok = parse_error_message (object, message, error);
      break;
    case ATLAS_TRACKER_MSG_DONATE:
      ok = parse_donate (object, message, error);
      break;
    case ATLAS_TRACKER_MSG_ASSIGN:
      ok = parse_assign (object, message, error);
      break;
    default:
      g_assert_not_reached ();
    }
  return ok ? g_steal_pointer (&message) : NULL;
}

/* Serialising */

static void
add_string (JsonBuilder *builder, const char *field, const char *value)
{
  json_builder_set_member_name (builder, field);
  json_builder_add_string_value (builder, value != NULL ? value : "");
}

static void
add_bitfield (JsonBuilder *builder, const char *field, GBytes *bitfield)
{
  gsize size = 0;
  const guint8 *bits = bitfield != NULL ? g_bytes_get_data (bitfield, &size) : NULL;
  g_autofree char *text = g_base64_encode (bits, size);

  add_string (builder, field, text);
}

static void
add_integer (JsonBuilder *builder, const char *field, guint64 value)
{
  json_builder_set_member_name (builder, field);
  json_builder_add_int_value (builder, (gint64) MIN (value, (guint64) G_MAXINT64));
}

static void
add_boolean (JsonBuilder *builder, const char *field, gboolean value)
{
  json_builder_set_member_name (builder, field);
  json_builder_add_boolean_value (builder, value);
}

static void
add_string_list (JsonBuilder *builder, const char *field, char **list)
{
  json_builder_set_member_name (builder, field);
  json_builder_begin_array (builder);
  for (guint i = 0; list != NULL && list[i] != NULL; i++)
    json_builder_add_string_value (builder, list[i]);
  json_builder_end_array (builder);
}

static void
add_donate (JsonBuilder *builder, const AtlasDonateOffer *offer)
{
  static const AtlasDonateOffer nothing = { 0 };

  if (offer == NULL)
    offer = &nothing;
  add_integer (builder, "storage", offer->storage);
  add_integer (builder, "upload", offer->upload_rate);
  add_boolean (builder, "paused", offer->paused);
  json_builder_set_member_name (builder, "causes");
  json_builder_begin_object (builder);
  add_boolean (builder, "anywhere", offer->anywhere);
  add_string_list (builder, "entries", offer->entries);
  add_string_list (builder, "publishers", offer->publishers);
  json_builder_end_object (builder);
}

char *
atlas_tracker_message_to_json_full (const AtlasTrackerMessage *message,
                                    AtlasTrackerDirection direction)
{
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;

  g_return_val_if_fail (message != NULL, NULL);
  g_return_val_if_fail (message->type <= ATLAS_TRACKER_MSG_ASSIGN, NULL);

  json_builder_begin_object (builder);
  add_string (builder, "type", type_names[message->type]);
  switch (message->type)
    {
    case ATLAS_TRACKER_MSG_HELLO:
    case ATLAS_TRACKER_MSG_WELCOME:
      add_integer (builder, "version", message->version);
      add_string (builder, "peer_id", message->peer_id);
      break;
    case ATLAS_TRACKER_MSG_ANNOUNCE:
      add_string (builder, "entry", message->entry);
      add_integer (builder, "piece_count", message->piece_count);
      add_bitfield (builder, "pieces", message->pieces);
      add_boolean (builder, "complete", message->complete);
      add_integer (builder, "uploaded", message->uploaded);
      add_integer (builder, "downloaded", message->downloaded);
      add_integer (builder, "want_peers", message->want_peers);
      if (message->donor)
        add_boolean (builder, "donor", TRUE);
      break;
    case ATLAS_TRACKER_MSG_LEAVE:
      add_string (builder, "entry", message->entry);
      break;
    case ATLAS_TRACKER_MSG_PEERS:
      add_string (builder, "entry", message->entry);
      json_builder_set_member_name (builder, "peers");
      json_builder_begin_array (builder);
      for (guint i = 0; message->peers != NULL && i < message->peers->len; i++)
        {
          const AtlasTrackerPeer *peer = g_ptr_array_index (message->peers, i);

          json_builder_begin_object (builder);
          add_string (builder, "peer_id", peer->peer_id);
          add_boolean (builder, "complete", peer->complete);
          add_bitfield (builder, "pieces", peer->pieces);
          if (peer->donor)
            add_boolean (builder, "donor", TRUE);
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      break;
    case ATLAS_TRACKER_MSG_SIGNAL:
      add_string (builder, direction == ATLAS_TRACKER_FROM_CLIENT ? "to" : "from",
                  message->peer_id);
      add_string (builder, "entry", message->entry);
      add_string (builder, "session", message->session);
      add_string (builder, "kind", atlas_signal_kind_to_string (message->kind));
      if (message->kind == ATLAS_SIGNAL_OFFER || message->kind == ATLAS_SIGNAL_ANSWER)
        {
          add_string (builder, "ufrag", message->ufrag);
          add_string (builder, "pwd", message->pwd);
        }
      else if (message->kind == ATLAS_SIGNAL_CANDIDATE)
        add_string (builder, "candidate", message->candidate);
      break;
    case ATLAS_TRACKER_MSG_ERROR:
      add_string (builder, "code", message->code);
      add_string (builder, "message", message->text);
      break;
    case ATLAS_TRACKER_MSG_DONATE:
      add_donate (builder, message->offer);
      break;
    case ATLAS_TRACKER_MSG_ASSIGN:
      json_builder_set_member_name (builder, "entries");
      json_builder_begin_array (builder);
      for (guint i = 0; message->assignments != NULL && i < message->assignments->len; i++)
        {
          const AtlasTrackerAssignment *assignment = g_ptr_array_index (message->assignments, i);

          json_builder_begin_object (builder);
          add_string (builder, "entry", assignment->entry);
          add_integer (builder, "id", assignment->id);
          add_string (builder, "name", assignment->name);
          add_integer (builder, "piece_count", assignment->piece_count);
          add_integer (builder, "piece_length", assignment->piece_length);
          add_bitfield (builder, "pieces", assignment->pieces);
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      break;
    default:
      g_assert_not_reached ();
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

char *
atlas_tracker_message_to_json (const AtlasTrackerMessage *message)
{
  g_return_val_if_fail (message != NULL, NULL);

  return atlas_tracker_message_to_json_full (
      message, sent_by (message->type, ATLAS_TRACKER_FROM_CLIENT) ? ATLAS_TRACKER_FROM_CLIENT
                                                                  : ATLAS_TRACKER_FROM_TRACKER);
}
