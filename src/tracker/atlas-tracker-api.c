/* atlas-tracker-api.c — /api/v1/entries: publishing, listing, reading and
 * deleting index entries. Authentication already happened (early_cb). */
#include "atlas-error.h"
#include "atlas-json-guard.h"
#include "atlas-metalink.h"
#include "atlas-tracker-server-private.h"

#include <string.h>

#define MAX_NAME 128
#define MAX_VERSION 64
#define MAX_DESCRIPTION 4096
#define MAX_METALINK (4 * 1024 * 1024)
#define MAX_ALLOWED_TOKENS 1000
#define DEFAULT_LIMIT 50
#define MAX_LIMIT 500

static gboolean
is_name (const char *name)
{
  gsize length = strlen (name);

  if (length == 0 || length > MAX_NAME)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (name[i]) && strchr ("._+-", name[i]) == NULL)
      return FALSE;
  return TRUE;
}

/* Free text shown to users: UTF-8 without control characters other than
 * newlines and tabs (which a description may hold). */
static gboolean
is_text (const char *text, gboolean multiline)
{
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p < 0x20 && !(multiline && (*p == '\n' || *p == '\t')))
      return FALSE;
  return TRUE;
}

static JsonNode *
entry_to_json (AtlasTrackerServer *server, const AtlasTrackerIndexEntry *entry)
{
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  guint seeders = 0, peers = 0;

  atlas_tracker_hub_count_swarm (atlas_tracker_server_get_hub (server), entry->entry, &seeders,
                                 &peers);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_int_value (builder, entry->id);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, entry->name);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, entry->version);
  json_builder_set_member_name (builder, "description");
  json_builder_add_string_value (builder, entry->description);
  json_builder_set_member_name (builder, "entry");
  json_builder_add_string_value (builder, entry->entry);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, entry->size);
  json_builder_set_member_name (builder, "piece_length");
  json_builder_add_int_value (builder, entry->piece_length);
  json_builder_set_member_name (builder, "piece_count");
  json_builder_add_int_value (builder, entry->piece_count);
  json_builder_set_member_name (builder, "private");
  json_builder_add_boolean_value (builder, entry->is_private);
  json_builder_set_member_name (builder, "seeders");
  json_builder_add_int_value (builder, seeders);
  json_builder_set_member_name (builder, "peers");
  json_builder_add_int_value (builder, peers);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
reply_store_error (SoupServerMessage *msg, const GError *error)
{
  g_warning ("tracker database: %s", error->message);
  _atlas_tracker_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                              "the tracker's database failed");
}

/* A string member: FALSE with a 400 reply when present but not a string, or
 * missing while @required. */
static gboolean
member_string (SoupServerMessage *msg, JsonObject *object, const char *name, gboolean required,
               const char **out)
{
  JsonNode *node = json_object_get_member (object, name);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "“%s” is missing", name);
      return !required;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "“%s” must be a string", name);
      return FALSE;
    }
  *out = json_node_get_string (node);
  return TRUE;
}

/* What the tracker requires of a published Metalink: one file with a size, a
 * SHA-256 of the whole file and SHA-256 piece hashes. */
static gboolean
check_metalink (SoupServerMessage *msg, const char *xml, AtlasTrackerIndexEntry *entry)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasMetalink) metalink = atlas_metalink_parse (xml, strlen (xml), &error);
  const AtlasMetalinkFile *file;
  const AtlasChecksum *whole = NULL;

  if (metalink == NULL)
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid Metalink: %s",
                                  error->message);
      return FALSE;
    }
  if (metalink->files->len != 1)
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                                  "invalid Metalink: it describes %u files, not exactly one",
                                  metalink->files->len);
      return FALSE;
    }
  file = g_ptr_array_index (metalink->files, 0);
  for (guint i = 0; i < file->hashes->len; i++)
    if (g_array_index (file->hashes, AtlasChecksum, i).type == ATLAS_HASH_SHA256)
      whole = &g_array_index (file->hashes, AtlasChecksum, i);
  if (file->size < 0)
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid Metalink: no <size>");
      return FALSE;
    }
  if (whole == NULL)
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                                  "invalid Metalink: no sha-256 hash of the whole file");
      return FALSE;
    }
  if (file->piece_type != ATLAS_HASH_SHA256 || file->n_pieces == 0)
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                                  "invalid Metalink: no sha-256 piece hashes");
      return FALSE;
    }

  entry->entry = atlas_checksum_to_hex (whole);
  entry->size = file->size;
  entry->piece_length = file->piece_length;
  entry->piece_count = file->n_pieces;
  return TRUE;
}

static void
publish (AtlasTrackerServer *server, SoupServerMessage *msg, const AtlasTrackerToken *token)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasTrackerIndexEntry) entry = g_new0 (AtlasTrackerIndexEntry, 1);
  g_autoptr (GPtrArray) allowed = g_ptr_array_new ();
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonNode) reply = NULL;
  JsonObject *object;
  JsonNode *node;
  const char *name, *version, *description, *metalink;
  gsize length;
  const char *data = g_bytes_get_data (bytes, &length);

  if (token->role == ATLAS_TRACKER_ROLE_DOWNLOADER)
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_FORBIDDEN,
                                  "token “%s” is a downloader and may not publish", token->name);
      return;
    }
  if (length > ATLAS_TRACKER_MAX_BODY || !atlas_json_is_one_object (data, length)
      || !json_parser_load_from_data (parser, data, length, &error)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                                  "the body must be a JSON object%s%s", error != NULL ? ": " : "",
                                  error != NULL ? error->message : "");
      return;
    }
  object = json_node_get_object (json_parser_get_root (parser));

  if (!member_string (msg, object, "name", TRUE, &name)
      || !member_string (msg, object, "version", TRUE, &version)
      || !member_string (msg, object, "description", FALSE, &description)
      || !member_string (msg, object, "metalink", TRUE, &metalink))
    return;
  if (!is_name (name))
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                                  "“name” must be 1..%d of A-Z a-z 0-9 . _ + -", MAX_NAME);
      return;
    }
  if (strlen (version) > MAX_VERSION || !is_text (version, FALSE))
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                                  "“version” must be at most %d printable characters", MAX_VERSION);
      return;
    }
  if (description == NULL)
    description = "";
  if (strlen (description) > MAX_DESCRIPTION || !is_text (description, TRUE))
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                                  "“description” must be at most %d bytes of text",
                                  MAX_DESCRIPTION);
      return;
    }
  if (strlen (metalink) > MAX_METALINK)
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "“metalink” is over %d bytes",
                                  MAX_METALINK);
      return;
    }

  node = json_object_get_member (object, "private");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        {
          _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "“private” must be a boolean");
          return;
        }
      entry->is_private = json_node_get_boolean (node);
    }
  node = json_object_get_member (object, "allowed_tokens");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      JsonArray *array = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;

      if (array == NULL || json_array_get_length (array) > MAX_ALLOWED_TOKENS)
        {
          _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                                      "“allowed_tokens” must be an array of at most %d names",
                                      MAX_ALLOWED_TOKENS);
          return;
        }
      if (!entry->is_private && json_array_get_length (array) > 0)
        {
          _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                                      "“allowed_tokens” is only for private entries");
          return;
        }
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (!JSON_NODE_HOLDS_VALUE (element)
              || json_node_get_value_type (element) != G_TYPE_STRING)
            {
              _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                                          "“allowed_tokens” must hold token names");
              return;
            }
          g_ptr_array_add (allowed, (gpointer) json_node_get_string (element));
        }
    }
  g_ptr_array_add (allowed, NULL);

  if (!check_metalink (msg, metalink, entry))
    return;
  entry->name = g_strdup (name);
  entry->version = g_strdup (version);
  entry->description = g_strdup (description);
  entry->uploader = token->id;

  if (!atlas_tracker_store_add_entry (atlas_tracker_server_get_store (server), entry, metalink,
                                      strlen (metalink), (const char *const *) allowed->pdata,
                                      &error))
    {
      if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_EXISTS))
        _atlas_tracker_reply_error (msg, SOUP_STATUS_CONFLICT, "%s", error->message);
      else if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND))
        _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "“allowed_tokens”: %s",
                                    error->message);
      else
        reply_store_error (msg, error);
      return;
    }
  g_message ("published %s %s (%s) as entry %" G_GINT64_FORMAT " by token %s", entry->name,
             entry->version, entry->entry, entry->id, token->name);

  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_int_value (builder, entry->id);
  json_builder_set_member_name (builder, "entry");
  json_builder_add_string_value (builder, entry->entry);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, entry->name);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, entry->version);
  json_builder_end_object (builder);
  reply = json_builder_get_root (builder);
  _atlas_tracker_reply_json (msg, SOUP_STATUS_CREATED, reply);
}

static gboolean
query_uint (SoupServerMessage *msg, GHashTable *query, const char *name, guint min, guint max,
            guint fallback, guint *out)
{
  const char *text = query != NULL ? g_hash_table_lookup (query, name) : NULL;
  guint64 value;

  *out = fallback;
  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, min, max, &value, NULL))
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "“%s” must be %u..%u", name, min,
                                  max);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

static void
list (AtlasTrackerServer *server, SoupServerMessage *msg, GHashTable *query,
      const AtlasTrackerToken *token)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr (JsonNode) reply = NULL;
  const char *q = query != NULL ? g_hash_table_lookup (query, "q") : NULL;
  const char *name = query != NULL ? g_hash_table_lookup (query, "name") : NULL;
  guint limit, offset, total = 0;

  if (!query_uint (msg, query, "limit", 1, G_MAXINT32, DEFAULT_LIMIT, &limit)
      || !query_uint (msg, query, "offset", 0, G_MAXINT32, 0, &offset))
    return;
  /* More than a page's worth is not an error, just not granted. */
  limit = MIN (limit, MAX_LIMIT);
  if ((q != NULL && strlen (q) > MAX_DESCRIPTION) || (name != NULL && strlen (name) > MAX_NAME))
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "the query is too long");
      return;
    }

  entries = atlas_tracker_store_list_entries (atlas_tracker_server_get_store (server), token, q,
                                              name, limit, offset, &total, &error);
  if (entries == NULL)
    {
      reply_store_error (msg, error);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "entries");
  json_builder_begin_array (builder);
  for (guint i = 0; i < entries->len; i++)
    json_builder_add_value (builder, entry_to_json (server, g_ptr_array_index (entries, i)));
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "total");
  json_builder_add_int_value (builder, total);
  json_builder_end_object (builder);
  reply = json_builder_get_root (builder);
  _atlas_tracker_reply_json (msg, SOUP_STATUS_OK, reply);
}

static void
one_entry (AtlasTrackerServer *server, SoupServerMessage *msg, gint64 id, gboolean metalink,
           const AtlasTrackerToken *token)
{
  AtlasTrackerStore *store = atlas_tracker_server_get_store (server);
  const char *method = soup_server_message_get_method (msg);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasTrackerIndexEntry) entry =
      atlas_tracker_store_get_entry (store, id, token, &error);

  if (error != NULL)
    {
      reply_store_error (msg, error);
      return;
    }
  /* An entry the token may not see does not exist for it. */
  if (entry == NULL)
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no entry %" G_GINT64_FORMAT, id);
      return;
    }

  if (metalink)
    {
      g_autoptr (GBytes) xml = NULL;

      if (method != SOUP_METHOD_GET)
        {
          _atlas_tracker_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET");
          return;
        }
      xml = atlas_tracker_store_get_metalink (store, id, token, &error);
      if (xml == NULL)
        {
          if (error != NULL)
            reply_store_error (msg, error);
          else
            _atlas_tracker_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no entry %" G_GINT64_FORMAT,
                                        id);
          return;
        }
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (msg, "application/metalink4+xml", SOUP_MEMORY_COPY,
                                        g_bytes_get_data (xml, NULL), g_bytes_get_size (xml));
      return;
    }

  if (method == SOUP_METHOD_GET)
    {
      g_autoptr (JsonNode) node = entry_to_json (server, entry);

      _atlas_tracker_reply_json (msg, SOUP_STATUS_OK, node);
    }
  else if (method == SOUP_METHOD_DELETE)
    {
      if (token->role != ATLAS_TRACKER_ROLE_ADMIN
          && !(token->role == ATLAS_TRACKER_ROLE_UPLOADER && entry->uploader == token->id))
        {
          _atlas_tracker_reply_error (
              msg, SOUP_STATUS_FORBIDDEN,
              "only its uploader or an admin may delete entry %" G_GINT64_FORMAT, id);
          return;
        }
      if (!atlas_tracker_store_delete_entry (store, id, &error))
        {
          reply_store_error (msg, error);
          return;
        }
      g_message ("deleted entry %" G_GINT64_FORMAT " (%s %s) by token %s", id, entry->name,
                 entry->version, token->name);
      _atlas_tracker_reply_json (msg, SOUP_STATUS_NO_CONTENT, NULL);
    }
  else
    _atlas_tracker_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET or DELETE");
}

void
_atlas_tracker_api_entries (AtlasTrackerServer *server, SoupServerMessage *msg, const char *rest,
                            GHashTable *query)
{
  const AtlasTrackerToken *token = _atlas_tracker_request_token (msg);
  const char *method = soup_server_message_get_method (msg);
  g_auto (GStrv) parts = NULL;
  guint64 id;

  g_return_if_fail (token != NULL);

  if (*rest == '\0' || strcmp (rest, "/") == 0)
    {
      if (method == SOUP_METHOD_POST)
        publish (server, msg, token);
      else if (method == SOUP_METHOD_GET)
        list (server, msg, query, token);
      else
        _atlas_tracker_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET or POST");
      return;
    }

  /* "/ID" or "/ID/metalink" */
  parts = g_strsplit (rest + 1, "/", 3);
  if (!g_ascii_string_to_unsigned (parts[0], 10, 1, G_MAXINT64, &id, NULL)
      || (parts[1] != NULL && (strcmp (parts[1], "metalink") != 0 || parts[2] != NULL)))
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
      return;
    }
  one_entry (server, msg, id, parts[1] != NULL, token);
}
