/* atlas-tracker-client.c — AtlasTrackerClient: the object, its TLS trust, and
 * the HTTP index API (publish, find, search).
 *
 * Responses are read with a size bound before they are parsed, because the
 * tracker is a server on the network and its answers are untrusted input like
 * any Metalink. The WebSocket peer channel is in atlas-tracker-client-socket.c.
 */

#include "atlas-tracker-client-private.h"
#include "atlas-json-guard.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "atlas-error.h"
#include "atlas-metalink.h"

/* The largest answer read: a Metalink may be this big; JSON lists are smaller. */
#define MAX_RESPONSE_BODY ((gsize) ATLAS_METALINK_MAX_DOCUMENT)
#define READ_CHUNK (64 * 1024)
/* Seconds an HTTP request may wait on the network before it fails. */
#define HTTP_TIMEOUT 30
/* Rows per page when looking for one version among many. */
#define FIND_PAGE 100
#define FIND_MAX_PAGES 100

guint _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_N_SIGNALS];

G_DEFINE_FINAL_TYPE (AtlasTrackerClient, atlas_tracker_client, G_TYPE_OBJECT)

/* ---- AtlasTrackerEntry ---- */

AtlasTrackerEntry *
atlas_tracker_entry_copy (const AtlasTrackerEntry *entry)
{
  AtlasTrackerEntry *copy = g_memdup2 (entry, sizeof *entry);

  copy->name = g_strdup (entry->name);
  copy->version = g_strdup (entry->version);
  copy->description = g_strdup (entry->description);
  copy->entry = g_strdup (entry->entry);
  return copy;
}

void
atlas_tracker_entry_free (AtlasTrackerEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->name);
  g_free (entry->version);
  g_free (entry->description);
  g_free (entry->entry);
  g_free (entry);
}

G_DEFINE_BOXED_TYPE (AtlasTrackerEntry, atlas_tracker_entry, atlas_tracker_entry_copy,
                     atlas_tracker_entry_free)

/* ---- the object ---- */

static void
atlas_tracker_client_dispose (GObject *object)
{
  AtlasTrackerClient *self = ATLAS_TRACKER_CLIENT (object);

  _atlas_tracker_client_socket_dispose (self);
  g_clear_object (&self->http);
  g_clear_object (&self->socket);
  g_clear_object (&self->extra_ca);

  G_OBJECT_CLASS (atlas_tracker_client_parent_class)->dispose (object);
}

static void
atlas_tracker_client_finalize (GObject *object)
{
  AtlasTrackerClient *self = ATLAS_TRACKER_CLIENT (object);

  g_clear_pointer (&self->announces, g_hash_table_unref);
  g_clear_pointer (&self->offer, atlas_donate_offer_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_error (&self->config_error);
  g_free (self->base_url);
  /* The token is a secret: do not leave it in freed memory. */
  if (self->authorization != NULL)
    memset (self->authorization, 0, strlen (self->authorization));
  g_free (self->authorization);
  g_free (self->peer_id);

  G_OBJECT_CLASS (atlas_tracker_client_parent_class)->finalize (object);
}

static void
atlas_tracker_client_class_init (AtlasTrackerClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = atlas_tracker_client_dispose;
  object_class->finalize = atlas_tracker_client_finalize;

  _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_CONNECTED] =
      g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 0);
  _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_DISCONNECTED] =
      g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
  _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_PEERS] = g_signal_new (
      "peers", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
      G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_PTR_ARRAY | G_SIGNAL_TYPE_STATIC_SCOPE);
  _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_SIGNAL] =
      g_signal_new ("signal", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_POINTER);
  _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_ERROR] = g_signal_new (
      "error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
      G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_ASSIGN] =
      g_signal_new ("assign", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_PTR_ARRAY | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
atlas_tracker_client_init (AtlasTrackerClient *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->announces = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) atlas_tracker_message_free);
}

/* "https://host:8443/", "https://host:8443/api/v1" -> "https://host:8443". */
static char *
normalize_base_url (const char *base_url, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree char *copy = NULL;
  const char *scheme;
  gsize len;

  uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0'
      || (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
      || g_uri_get_query (uri) != NULL || g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "'%s' is not a tracker address; write http(s)://HOST[:PORT]", base_url);
      return NULL;
    }

  copy = g_strdup (base_url);
  len = strlen (copy);
  while (len > 0 && copy[len - 1] == '/')
    copy[--len] = '\0';
  if (g_str_has_suffix (copy, "/api/v1"))
    copy[len - strlen ("/api/v1")] = '\0';
  len = strlen (copy);
  while (len > 0 && copy[len - 1] == '/')
    copy[--len] = '\0';
  return g_steal_pointer (&copy);
}

AtlasTrackerClient *
atlas_tracker_client_new (const char *base_url, const char *token, const char *ca_file)
{
  AtlasTrackerClient *self;
  g_autoptr (GError) error = NULL;

  g_return_val_if_fail (base_url != NULL, NULL);
  g_return_val_if_fail (token != NULL, NULL);

  self = g_object_new (ATLAS_TYPE_TRACKER_CLIENT, NULL);
  self->base_url = normalize_base_url (base_url, &error);
  if (self->base_url == NULL)
    self->config_error = g_steal_pointer (&error);
  self->authorization = g_strconcat ("Bearer ", token, NULL);
  /* A header value cannot hold line breaks; refuse rather than inject. */
  for (const char *p = token; *p != '\0' && self->config_error == NULL; p++)
    if ((guchar) *p <= 0x20 || (guchar) *p >= 0x7f)
      self->config_error = g_error_new (ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                                        "the token holds a character tokens never have");
  if (*token == '\0' && self->config_error == NULL)
    self->config_error = g_error_new (ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT, "the token is empty");

  if (ca_file != NULL)
    {
      self->extra_ca = g_tls_file_database_new (ca_file, &error);
      if (self->extra_ca == NULL && self->config_error == NULL)
        self->config_error =
            g_error_new (ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT, "cannot read the CA file '%s': %s",
                         ca_file, error->message);
    }

  /* The sessions pick up the thread-default context, the one kept above. */
  self->http = soup_session_new_with_options ("timeout", HTTP_TIMEOUT, "idle-timeout", 60,
                                              "user-agent", "download-atlas/1 ", NULL);
  self->socket =
      soup_session_new_with_options ("timeout", 0, "user-agent", "download-atlas/1 ", NULL);
  return self;
}

/* ---- shared request plumbing ---- */

SoupMessage *
_atlas_tracker_client_new_message (AtlasTrackerClient *self, const char *method, const char *path)
{
  g_autofree char *url = g_strconcat (self->base_url, "/api/v1", path, NULL);
  SoupMessage *message = soup_message_new (method, url);

  if (message == NULL)
    return NULL;
  soup_message_headers_replace (soup_message_get_request_headers (message), "Authorization",
                                self->authorization);
  _atlas_tracker_client_watch_certificate (self, message);
  return message;
}

/* The system's trust store rejected the certificate: accept it only if the
 * extra CA vouches for it and for this host name. */
static gboolean
accept_certificate_cb (SoupMessage *message, GTlsCertificate *certificate,
                       GTlsCertificateFlags errors, gpointer user_data)
{
  AtlasTrackerClient *self = user_data;
  GUri *uri = soup_message_get_uri (message);
  g_autoptr (GSocketConnectable) identity = NULL;
  GTlsCertificateFlags flags;

  if (self->extra_ca == NULL)
    return FALSE;

  identity = g_network_address_new (g_uri_get_host (uri), (guint16) g_uri_get_port (uri));
  flags = g_tls_database_verify_chain (self->extra_ca, certificate,
                                       G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER, identity, NULL,
                                       G_TLS_DATABASE_VERIFY_NONE, NULL, NULL);
  return flags == 0;
}

void
_atlas_tracker_client_watch_certificate (AtlasTrackerClient *self, SoupMessage *message)
{
  if (self->extra_ca != NULL)
    g_signal_connect_object (message, "accept-certificate", G_CALLBACK (accept_certificate_cb),
                             self, 0);
}

GError *
_atlas_tracker_client_transport_error (const GError *error, const char *what)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_new (ATLAS_ERROR, ATLAS_ERROR_CANCELLED, "%s: cancelled", what);
  if (error->domain == G_TLS_ERROR)
    return g_error_new (ATLAS_ERROR,
                        error->code == G_TLS_ERROR_BAD_CERTIFICATE ? ATLAS_ERROR_AUTHENTICATION
                                                                   : ATLAS_ERROR_NETWORK,
                        "%s: TLS: %s", what, error->message);
  return g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK, "%s: %s", what, error->message);
}

/* The tracker's {"error": "..."} text, if the body is that. */
static char *
body_error_text (GBytes *body)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *object;
  const char *text;
  gsize size = 0;
  const char *data;

  if (body == NULL)
    return NULL;
  data = g_bytes_get_data (body, &size);
  if (size == 0 || size > 64 * 1024 || !atlas_json_is_one_object (data, size)
      || !json_parser_load_from_data (parser, data, size, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  object = json_node_get_object (root);
  if (!json_object_has_member (object, "error"))
    return NULL;
  text = json_object_get_string_member_with_default (object, "error", NULL);
  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    return NULL;
  /* One line, bounded: it goes into terminal output. */
  return g_strdelimit (g_utf8_substring (text, 0, MIN (g_utf8_strlen (text, -1), 300)), "\r\n",
                       ' ');
}

GError *
_atlas_tracker_client_status_error (SoupMessage *message, GBytes *body)
{
  guint status = soup_message_get_status (message);
  g_autofree char *text = body_error_text (body);
  const char *reason = text != NULL ? text : soup_message_get_reason_phrase (message);
  AtlasError code;

  switch (status)
    {
    case SOUP_STATUS_UNAUTHORIZED:
      return g_error_new (ATLAS_ERROR, ATLAS_ERROR_PERMISSION,
                          "the tracker did not accept the token: %s (HTTP 401)", reason);
    case SOUP_STATUS_FORBIDDEN:
      return g_error_new (ATLAS_ERROR, ATLAS_ERROR_PERMISSION, "the tracker refused: %s (HTTP 403)",
                          reason);
    case SOUP_STATUS_NOT_FOUND:
      code = ATLAS_ERROR_NOT_FOUND;
      break;
    case SOUP_STATUS_CONFLICT:
      code = ATLAS_ERROR_EXISTS;
      break;
    case SOUP_STATUS_BAD_REQUEST:
    case SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE:
    case SOUP_STATUS_UNPROCESSABLE_ENTITY:
      code = ATLAS_ERROR_INVALID_INPUT;
      break;
    default:
      code = status >= 500 ? ATLAS_ERROR_NETWORK : ATLAS_ERROR_PROTOCOL;
      break;
    }
  return g_error_new (ATLAS_ERROR, code, "the tracker answered: %s (HTTP %u)",
                      reason != NULL ? reason : "no reason given", status);
}

/* One request, its body read up to MAX_RESPONSE_BODY. The task's data is the
 * request; the result is the body. */
typedef struct
{
  SoupMessage *message;
  GInputStream *stream;
  GByteArray *body;
} Request;

static void
request_free (Request *request)
{
  g_clear_object (&request->message);
  g_clear_object (&request->stream);
  g_clear_pointer (&request->body, g_byte_array_unref);
  g_free (request);
}

static void request_read_next (GTask *task);

static void
request_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) chunk = NULL;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (chunk == NULL)
    {
      g_task_return_error (task, _atlas_tracker_client_transport_error (
                                     error, "reading the tracker's answer failed"));
      return;
    }
  if (g_bytes_get_size (chunk) == 0)
    {
      g_task_return_pointer (task, g_byte_array_free_to_bytes (g_steal_pointer (&request->body)),
                             (GDestroyNotify) g_bytes_unref);
      return;
    }
  if (request->body->len + g_bytes_get_size (chunk) > MAX_RESPONSE_BODY)
    {
      g_task_return_new_error (task, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                               "the tracker's answer is larger than %u MiB",
                               (guint) (MAX_RESPONSE_BODY >> 20));
      return;
    }
  g_byte_array_append (request->body, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  request_read_next (g_steal_pointer (&task));
}

static void
request_read_next (GTask *task)
{
  Request *request = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (request->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), request_read_cb, task);
}

static void
request_sent_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  request->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (request->stream == NULL)
    {
      g_task_return_error (
          task, _atlas_tracker_client_transport_error (error, "cannot reach the tracker"));
      g_object_unref (task);
      return;
    }
  request_read_next (task);
}

/* Sends @message (taking it) and reads the whole body. */
static void
request_async (AtlasTrackerClient *self, SoupMessage *message, GCancellable *cancellable,
               GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Request *request = g_new0 (Request, 1);

  request->message = message;
  request->body = g_byte_array_new ();
  g_task_set_task_data (task, request, (GDestroyNotify) request_free);
  g_task_set_source_tag (task, request_async);
  soup_session_send_async (self->http, message, G_PRIORITY_DEFAULT, cancellable, request_sent_cb,
                           task);
}

/* The body of a 2xx answer; any other status becomes its GError. */
static GBytes *
request_finish (GAsyncResult *result, GError **error)
{
  Request *request = g_task_get_task_data (G_TASK (result));
  g_autoptr (GBytes) body = g_task_propagate_pointer (G_TASK (result), error);
  guint status;

  if (body == NULL)
    return NULL;
  status = soup_message_get_status (request->message);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_propagate_error (error, _atlas_tracker_client_status_error (request->message, body));
      return NULL;
    }
  return g_steal_pointer (&body);
}

/* Fails @task before any request when the client was made with bad settings. */
static gboolean
check_config (AtlasTrackerClient *self, GTask *task)
{
  if (self->config_error == NULL)
    return TRUE;
  g_task_return_error (task, g_error_copy (self->config_error));
  return FALSE;
}

static JsonObject *
parse_object (GBytes *body, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local_error = NULL;
  JsonNode *root;
  gsize size = 0;
  const char *data = g_bytes_get_data (body, &size);

  if (!atlas_json_is_one_object (data, size))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                   "the tracker's answer is not one JSON object");
      return NULL;
    }
  if (!json_parser_load_from_data (parser, data != NULL ? data : "", size, &local_error))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL, "the tracker's answer is not JSON: %s",
                   local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                   "the tracker's answer is not a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

static gboolean
member_is (JsonObject *object, const char *name, GType type)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
is_entry_hex (const char *text)
{
  if (text == NULL || strlen (text) != 64)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

static guint64
unsigned_member (JsonObject *object, const char *name)
{
  gint64 value =
      member_is (object, name, G_TYPE_INT64) ? json_object_get_int_member (object, name) : 0;

  return value > 0 ? (guint64) value : 0;
}

static AtlasTrackerEntry *
entry_from_json (JsonNode *node, GError **error)
{
  g_autoptr (AtlasTrackerEntry) entry = g_new0 (AtlasTrackerEntry, 1);
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    goto invalid;
  object = json_node_get_object (node);
  if (!member_is (object, "id", G_TYPE_INT64) || !member_is (object, "name", G_TYPE_STRING)
      || !member_is (object, "entry", G_TYPE_STRING))
    goto invalid;

  entry->id = json_object_get_int_member (object, "id");
  entry->name = g_strdup (json_object_get_string_member (object, "name"));
  entry->entry = g_strdup (json_object_get_string_member (object, "entry"));
  if (!is_entry_hex (entry->entry) || !g_utf8_validate (entry->name, -1, NULL))
    goto invalid;
  entry->version = g_strdup (json_object_get_string_member_with_default (object, "version", ""));
  entry->description =
      g_strdup (json_object_get_string_member_with_default (object, "description", ""));
  entry->size = unsigned_member (object, "size");
  entry->piece_length = unsigned_member (object, "piece_length");
  entry->piece_count = (guint32) MIN (unsigned_member (object, "piece_count"), G_MAXUINT32);
  entry->private_entry = json_object_get_boolean_member_with_default (object, "private", FALSE);
  entry->seeders = (guint) MIN (unsigned_member (object, "seeders"), G_MAXUINT);
  entry->peers = (guint) MIN (unsigned_member (object, "peers"), G_MAXUINT);
  return g_steal_pointer (&entry);

invalid:
  g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
               "the tracker listed an entry without a valid id, name or entry hash");
  return NULL;
}

/* {"entries": [...], "total": n} -> AtlasTrackerEntry* */
static GPtrArray *
entries_from_body (GBytes *body, guint *total, GError **error)
{
  g_autoptr (JsonObject) object = parse_object (body, error);
  g_autoptr (GPtrArray) entries = NULL;
  JsonNode *list;
  JsonArray *array;

  if (object == NULL)
    return NULL;
  list = json_object_get_member (object, "entries");
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                   "the tracker's list has no \"entries\" array");
      return NULL;
    }
  array = json_node_get_array (list);
  entries = g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_tracker_entry_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      AtlasTrackerEntry *entry = entry_from_json (json_array_get_element (array, i), error);

      if (entry == NULL)
        return NULL;
      g_ptr_array_add (entries, entry);
    }
  if (total != NULL)
    *total = (guint) MIN (unsigned_member (object, "total"), G_MAXUINT);
  return g_steal_pointer (&entries);
}

/* ---- publish ---- */

static void
publish_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = request_finish (result, &error);
  g_autoptr (JsonObject) object = NULL;
  const char *entry;

  if (body == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  object = parse_object (body, &error);
  if (object == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  entry = member_is (object, "entry", G_TYPE_STRING)
              ? json_object_get_string_member (object, "entry")
              : NULL;
  if (!member_is (object, "id", G_TYPE_INT64) || !is_entry_hex (entry))
    {
      g_task_return_new_error (task, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                               "the tracker accepted the entry but did not say its id and hash");
      return;
    }
  g_task_set_task_data (task, g_strdup (entry), g_free);
  g_task_return_int (task, json_object_get_int_member (object, "id"));
}

void
atlas_tracker_client_publish_async (AtlasTrackerClient *self, const char *name, const char *version,
                                    const char *description, GBytes *metalink_xml,
                                    gboolean private_entry, const char *const *allowed_tokens,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *metalink = NULL;
  g_autofree char *json = NULL;
  gsize json_length = 0;
  SoupMessage *message;
  gsize size = 0;
  const char *data;

  g_return_if_fail (ATLAS_IS_TRACKER_CLIENT (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (metalink_xml != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, atlas_tracker_client_publish_async);
  if (!check_config (self, task))
    return;

  /* JSON strings must be UTF-8; a Metalink in another encoding cannot be sent. */
  data = g_bytes_get_data (metalink_xml, &size);
  if (data == NULL || size == 0 || memchr (data, '\0', size) != NULL
      || !g_utf8_validate (data, size, NULL))
    {
      g_task_return_new_error (task, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                               "the Metalink is not UTF-8 text");
      return;
    }
  metalink = g_strndup (data, size);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, version != NULL ? version : "");
  json_builder_set_member_name (builder, "description");
  json_builder_add_string_value (builder, description != NULL ? description : "");
  json_builder_set_member_name (builder, "metalink");
  json_builder_add_string_value (builder, metalink);
  json_builder_set_member_name (builder, "private");
  json_builder_add_boolean_value (builder, private_entry);
  if (allowed_tokens != NULL && allowed_tokens[0] != NULL)
    {
      json_builder_set_member_name (builder, "allowed_tokens");
      json_builder_begin_array (builder);
      for (guint i = 0; allowed_tokens[i] != NULL; i++)
        json_builder_add_string_value (builder, allowed_tokens[i]);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, &json_length);

  message = _atlas_tracker_client_new_message (self, SOUP_METHOD_POST, "/entries");
  {
    g_autoptr (GBytes) request_body = g_bytes_new_take (g_steal_pointer (&json), json_length);

    soup_message_set_request_body_from_bytes (message, "application/json", request_body);
  }
  request_async (self, message, cancellable, publish_cb, g_steal_pointer (&task));
}

gint64
atlas_tracker_client_publish_finish (AtlasTrackerClient *self, GAsyncResult *result,
                                     char **entry_hex, GError **error)
{
  gint64 id;

  g_return_val_if_fail (g_task_is_valid (result, self), -1);

  id = g_task_propagate_int (G_TASK (result), error);
  if (id < 0 || (error != NULL && *error != NULL))
    return -1;
  if (entry_hex != NULL)
    *entry_hex = g_strdup (g_task_get_task_data (G_TASK (result)));
  return id;
}

/* ---- find ---- */

typedef struct
{
  char *name;
  char *version;
  guint page;
} Find;

static void
find_free (Find *find)
{
  g_free (find->name);
  g_free (find->version);
  g_free (find);
}

static void find_request_page (GTask *task);

static void
find_metalink_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = request_finish (result, &error);

  if (body == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, g_steal_pointer (&body), (GDestroyNotify) g_bytes_unref);
}

static void
find_list_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  AtlasTrackerClient *self = g_task_get_source_object (task);
  Find *find = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = request_finish (result, &error);
  g_autoptr (GPtrArray) entries = NULL;
  const AtlasTrackerEntry *found = NULL;
  g_autofree char *path = NULL;
  GCancellable *cancellable;
  guint total = 0;

  if (body != NULL)
    entries = entries_from_body (body, &total, &error);
  if (entries == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* The list is newest first, so without a version the first exact match wins.
   * The name is compared again: the filter is the server's, the promise ours. */
  for (guint i = 0; i < entries->len && found == NULL; i++)
    {
      const AtlasTrackerEntry *entry = g_ptr_array_index (entries, i);

      if (g_strcmp0 (entry->name, find->name) == 0
          && (find->version == NULL || g_strcmp0 (entry->version, find->version) == 0))
        found = entry;
    }

  if (found == NULL)
    {
      find->page++;
      if (find->version != NULL && entries->len == FIND_PAGE && find->page < FIND_MAX_PAGES
          && (guint64) find->page * FIND_PAGE < total)
        {
          find_request_page (g_steal_pointer (&task));
          return;
        }
      if (find->version != NULL)
        g_task_return_new_error (task, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND,
                                 "the tracker has no version '%s' of an entry named '%s'",
                                 find->version, find->name);
      else
        g_task_return_new_error (task, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND,
                                 "the tracker has no entry named '%s'", find->name);
      return;
    }

  path = g_strdup_printf ("/entries/%" G_GINT64_FORMAT "/metalink", found->id);
  cancellable = g_task_get_cancellable (task);
  request_async (self, _atlas_tracker_client_new_message (self, SOUP_METHOD_GET, path), cancellable,
                 find_metalink_cb, g_steal_pointer (&task));
}

static void
find_request_page (GTask *task)
{
  AtlasTrackerClient *self = g_task_get_source_object (task);
  Find *find = g_task_get_task_data (task);
  g_autofree char *escaped = g_uri_escape_string (find->name, NULL, FALSE);
  g_autofree char *path = g_strdup_printf ("/entries?name=%s&limit=%u&offset=%u", escaped,
                                           FIND_PAGE, find->page * FIND_PAGE);

  request_async (self, _atlas_tracker_client_new_message (self, SOUP_METHOD_GET, path),
                 g_task_get_cancellable (task), find_list_cb, task);
}

void
atlas_tracker_client_find_async (AtlasTrackerClient *self, const char *name, const char *version,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Find *find;

  g_return_if_fail (ATLAS_IS_TRACKER_CLIENT (self));
  g_return_if_fail (name != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, atlas_tracker_client_find_async);
  if (!check_config (self, task))
    return;

  find = g_new0 (Find, 1);
  find->name = g_strdup (name);
  find->version = g_strdup (version);
  g_task_set_task_data (task, find, (GDestroyNotify) find_free);
  find_request_page (g_steal_pointer (&task));
}

GBytes *
atlas_tracker_client_find_finish (AtlasTrackerClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- one entry's Metalink ---- */

static void
get_metalink_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = request_finish (result, &error);

  if (body == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, g_steal_pointer (&body), (GDestroyNotify) g_bytes_unref);
}

void
atlas_tracker_client_get_metalink_async (AtlasTrackerClient *self, gint64 id,
                                         GCancellable *cancellable, GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autofree char *path = NULL;

  g_return_if_fail (ATLAS_IS_TRACKER_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, atlas_tracker_client_get_metalink_async);
  if (!check_config (self, task))
    return;
  if (id <= 0)
    {
      g_task_return_new_error (task, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                               "%" G_GINT64_FORMAT " is not an index entry id", id);
      return;
    }
  path = g_strdup_printf ("/entries/%" G_GINT64_FORMAT "/metalink", id);
  request_async (self, _atlas_tracker_client_new_message (self, SOUP_METHOD_GET, path), cancellable,
                 get_metalink_cb, g_steal_pointer (&task));
}

GBytes *
atlas_tracker_client_get_metalink_finish (AtlasTrackerClient *self, GAsyncResult *result,
                                          GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- search ---- */

typedef struct
{
  GPtrArray *entries;
  guint total;
} SearchResult;

static void
search_result_free (SearchResult *search)
{
  g_clear_pointer (&search->entries, g_ptr_array_unref);
  g_free (search);
}

static void
search_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = request_finish (result, &error);
  SearchResult *search;
  GPtrArray *entries = NULL;
  guint total = 0;

  if (body != NULL)
    entries = entries_from_body (body, &total, &error);
  if (entries == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  search = g_new0 (SearchResult, 1);
  search->entries = entries;
  search->total = total;
  g_task_return_pointer (task, search, (GDestroyNotify) search_result_free);
}

void
atlas_tracker_client_search_async (AtlasTrackerClient *self, const char *query, guint limit,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *path = NULL;

  g_return_if_fail (ATLAS_IS_TRACKER_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, atlas_tracker_client_search_async);
  if (!check_config (self, task))
    return;

  escaped = g_uri_escape_string (query != NULL ? query : "", NULL, FALSE);
  path = g_strdup_printf ("/entries?q=%s&limit=%u", escaped, limit > 0 ? limit : 50);
  request_async (self, _atlas_tracker_client_new_message (self, SOUP_METHOD_GET, path), cancellable,
                 search_cb, g_steal_pointer (&task));
}

GPtrArray *
atlas_tracker_client_search_finish (AtlasTrackerClient *self, GAsyncResult *result, guint *total,
                                    GError **error)
{
  SearchResult *search;
  GPtrArray *entries;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  search = g_task_propagate_pointer (G_TASK (result), error);
  if (search == NULL)
    return NULL;
  if (total != NULL)
    *total = search->total;
  entries = g_steal_pointer (&search->entries);
  search_result_free (search);
  return entries;
}
