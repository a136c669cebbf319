/* atlas-tracker-server.c — SoupServer setup: listening, TLS, authentication,
 * body limits, /health, /metrics and the WebSocket upgrade. */
#include "atlas-tracker-server.h"

#include "atlas-error.h"
#include "atlas-tracker-server-private.h"
#include "atlas-tracker-wire.h"

#include <gio/gnetworking.h>
#include <string.h>

#define TOKEN_KEY "atlas-tracker-token"
/* Connections the kernel queues before the tracker accepts them. */
#define LISTEN_BACKLOG 1024

struct _AtlasTrackerServer
{
  GObject parent_instance;

  SoupServer *soup;
  AtlasTrackerStore *store;
  AtlasTrackerMetrics *metrics;
  AtlasTrackerHub *hub;
  char *metrics_token;
  gboolean https;
};

G_DEFINE_FINAL_TYPE (AtlasTrackerServer, atlas_tracker_server, G_TYPE_OBJECT)

const AtlasTrackerToken *
_atlas_tracker_request_token (SoupServerMessage *msg)
{
  return g_object_get_data (G_OBJECT (msg), TOKEN_KEY);
}

void
_atlas_tracker_reply_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  soup_server_message_set_status (msg, status, NULL);
  if (node != NULL)
    {
      g_autoptr (JsonGenerator) generator = json_generator_new ();
      gsize length = 0;
      char *json;

      json_generator_set_root (generator, node);
      json = json_generator_to_data (generator, &length);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, json, length);
    }
}

void
_atlas_tracker_reply_error (SoupServerMessage *msg, guint status, const char *format, ...)
{
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, text);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  _atlas_tracker_reply_json (msg, status, node);
}

/* Refuses a request before its body is read. The body of a refused request
 * is still received (HTTP/1.1 has no other way to find the next request) but
 * not kept, and the connection is closed after the reply. */
static void G_GNUC_PRINTF (3, 4)
    refuse_early (SoupServerMessage *msg, guint status, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
  _atlas_tracker_reply_error (msg, status, "%s", text);
}

/* Every /api/v1 request: a bounded body and a live token, checked on the
 * headers alone, so an unauthenticated or oversized upload costs no memory. */
static void
early_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
          gpointer user_data)
{
  AtlasTrackerServer *server = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_autofree char *token = NULL;
  g_autofree char *hash = NULL;
  g_autoptr (GError) error = NULL;
  AtlasTrackerToken *found;

  switch (soup_message_headers_get_encoding (headers))
    {
    case SOUP_ENCODING_NONE:
      break;
    case SOUP_ENCODING_CONTENT_LENGTH:
      if (soup_message_headers_get_content_length (headers) > ATLAS_TRACKER_MAX_BODY)
        {
          refuse_early (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                        "the request body is over %d bytes", ATLAS_TRACKER_MAX_BODY);
          return;
        }
      break;
    default:
      refuse_early (msg, SOUP_STATUS_LENGTH_REQUIRED, "a request body needs a Content-Length");
      return;
    }

  token = atlas_tracker_bearer_token (soup_message_headers_get_one (headers, "Authorization"));
  if (token == NULL)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "WWW-Authenticate", "Bearer realm=\"atlas-tracker\"");
      refuse_early (msg, SOUP_STATUS_UNAUTHORIZED, "a bearer token is required");
      return;
    }
  hash = atlas_tracker_token_hash (token);
  found = atlas_tracker_store_lookup_token (server->store, hash, &error);
  if (error != NULL)
    {
      g_warning ("token lookup: %s", error->message);
      refuse_early (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "the tracker's database failed");
      return;
    }
  if (found == NULL)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "WWW-Authenticate",
                                    "Bearer realm=\"atlas-tracker\", error=\"invalid_token\"");
      refuse_early (msg, SOUP_STATUS_UNAUTHORIZED, "unknown or revoked token");
      return;
    }
  g_object_set_data_full (G_OBJECT (msg), TOKEN_KEY, found,
                          (GDestroyNotify) atlas_tracker_token_free);
}

static void
api_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
        gpointer user_data)
{
  AtlasTrackerServer *server = user_data;

  if (g_str_has_prefix (path, "/api/v1/entries") && (path[15] == '\0' || path[15] == '/'))
    _atlas_tracker_api_entries (server, msg, path + 15, query);
  else
    _atlas_tracker_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
}

/* The upgrade itself: only reached with a valid token (see early_cb). */
static void
peer_cb (SoupServer *soup, SoupServerMessage *msg, const char *path,
         SoupWebsocketConnection *connection, gpointer user_data)
{
  AtlasTrackerServer *server = user_data;

  /* A stolen connection never reaches request-finished: count the 101 here. */
  atlas_tracker_metrics_count_http (server->metrics, SOUP_STATUS_SWITCHING_PROTOCOLS);
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  g_autofree char *address = NULL;

  if (G_IS_INET_SOCKET_ADDRESS (remote))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (remote);
      g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      address = g_strdup_printf ("%s port %u", host, g_inet_socket_address_get_port (inet));
    }
  atlas_tracker_hub_add_connection (server->hub, connection, _atlas_tracker_request_token (msg),
                                    address);
}

static void
health_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
           gpointer user_data)
{
  static const char body[] = "{\"status\":\"ok\"}";

  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET
      && soup_server_message_get_method (msg) != SOUP_METHOD_HEAD)
    {
      _atlas_tracker_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET");
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body,
                                    sizeof body - 1);
}

static void
metrics_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer user_data)
{
  AtlasTrackerServer *server = user_data;
  char *text;

  if (server->metrics_token != NULL)
    {
      SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
      g_autofree char *token =
          atlas_tracker_bearer_token (soup_message_headers_get_one (headers, "Authorization"));

      if (token == NULL || !atlas_tracker_constant_time_equal (token, server->metrics_token))
        {
          _atlas_tracker_reply_error (msg, SOUP_STATUS_UNAUTHORIZED,
                                      "the metrics token is required");
          return;
        }
    }
  text = atlas_tracker_metrics_render (server->metrics, atlas_tracker_hub_get_n_peers (server->hub),
                                       atlas_tracker_hub_get_n_swarms (server->hub),
                                       atlas_tracker_store_count_entries (server->store));
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain; version=0.0.4", SOUP_MEMORY_TAKE, text,
                                    strlen (text));
}

/* libsoup before 3.3 never frees a kept-alive connection that the client
 * closes while it is idle (GNOME/libsoup commit d20c6601), so every HTTP
 * client would cost the tracker a file descriptor for good. API requests are
 * few and small: each response closes its connection instead. WebSocket
 * upgrades keep theirs, of course. */
static void
request_read_cb (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);

  if (soup_message_headers_get_one (request, "Upgrade") == NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                  "close");
}

static void
request_finished_cb (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  AtlasTrackerServer *server = user_data;
  guint status = soup_server_message_get_status (msg);

  atlas_tracker_metrics_count_http (server->metrics, status);
  if (status >= 500)
    g_message ("%s %s: %u", soup_server_message_get_method (msg),
               g_uri_get_path (soup_server_message_get_uri (msg)), status);
}

gboolean
atlas_tracker_server_set_tls_files (AtlasTrackerServer *server, const char *cert_file,
                                    const char *key_file, GError **error)
{
  g_autoptr (GError) tls_error = NULL;
  g_autoptr (GTlsCertificate) certificate =
      g_tls_certificate_new_from_files (cert_file, key_file, &tls_error);

  if (certificate == NULL)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT, "TLS certificate %s / key %s: %s",
                   cert_file, key_file, tls_error->message);
      return FALSE;
    }
  soup_server_set_tls_certificate (server->soup, certificate);
  server->https = TRUE;
  return TRUE;
}

static GSocketAddress *
parse_address (const char *text, GError **error)
{
  const char *colon = strrchr (text, ':');
  g_autofree char *host = NULL;
  guint64 port = 0;
  GSocketAddress *address = NULL;

  if (colon != NULL && g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    {
      host = g_strndup (text, colon - text);
      if (host[0] == '[' && host[strlen (host) - 1] == ']')
        {
          char *inner = g_strndup (host + 1, strlen (host) - 2);

          g_free (host);
          host = inner;
        }
      address = g_inet_socket_address_new_from_string (host, port);
    }
  if (address == NULL)
    g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                 "listen address “%s” is not IP:PORT (like 127.0.0.1:8080 or [::1]:8080)", text);
  return address;
}

gboolean
atlas_tracker_server_listen (AtlasTrackerServer *server, const char *address, GError **error)
{
  g_autoptr (GSocketAddress) socket_address = parse_address (address, error);
  g_autoptr (GError) listen_error = NULL;
  g_autoptr (GSocket) socket = NULL;
  GSocketFamily family;

  if (socket_address == NULL)
    return FALSE;
  /* The socket is made here, not by soup_server_listen, for its backlog:
   * libsoup keeps GLib's default of 10, and when more clients connect at
   * once (all of them again after a restart) the kernel drops their SYNs,
   * which they retry after 1, 3, 7, 15... s. 10,000 WebSocket clients took
   * 241 s to connect, some over 60 s (bench/bench-tracker-load.sh). The
   * kernel caps the value at net.core.somaxconn. */
  family = g_socket_address_get_family (socket_address);
  socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &listen_error);
  if (socket != NULL)
    {
      /* As libsoup does: [::] serves IPv6 only, 0.0.0.0 is its own listen. */
      if (family == G_SOCKET_FAMILY_IPV6)
        g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, NULL);
      g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
    }
  if (socket == NULL || !g_socket_bind (socket, socket_address, TRUE, &listen_error)
      || !g_socket_listen (socket, &listen_error)
      || !soup_server_listen_socket (server->soup, socket,
                                     server->https ? SOUP_SERVER_LISTEN_HTTPS : 0, &listen_error))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NETWORK, "listening on %s: %s", address,
                   listen_error->message);
      return FALSE;
    }
  return TRUE;
}

char *
atlas_tracker_server_get_uri (AtlasTrackerServer *server)
{
  GSList *uris = soup_server_get_uris (server->soup);
  char *text = NULL;

  if (uris != NULL)
    {
      GUri *uri = uris->data;
      const char *host = g_uri_get_host (uri);
      gboolean ipv6 = strchr (host, ':') != NULL;

      text = g_strdup_printf ("%s://%s%s%s:%d", g_uri_get_scheme (uri), ipv6 ? "[" : "", host,
                              ipv6 ? "]" : "", g_uri_get_port (uri));
    }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return text;
}

AtlasTrackerHub *
atlas_tracker_server_get_hub (AtlasTrackerServer *server)
{
  return server->hub;
}

AtlasTrackerStore *
atlas_tracker_server_get_store (AtlasTrackerServer *server)
{
  return server->store;
}

void
atlas_tracker_server_shutdown (AtlasTrackerServer *server)
{
  atlas_tracker_hub_close_all (server->hub);
  soup_server_disconnect (server->soup);
}

static void
atlas_tracker_server_dispose (GObject *object)
{
  AtlasTrackerServer *server = ATLAS_TRACKER_SERVER (object);

  if (server->soup != NULL)
    {
      g_signal_handlers_disconnect_by_data (server->soup, server);
      soup_server_disconnect (server->soup);
    }
  g_clear_object (&server->soup);
  g_clear_object (&server->hub);
  G_OBJECT_CLASS (atlas_tracker_server_parent_class)->dispose (object);
}

static void
atlas_tracker_server_finalize (GObject *object)
{
  AtlasTrackerServer *server = ATLAS_TRACKER_SERVER (object);

  g_clear_pointer (&server->metrics, atlas_tracker_metrics_free);
  g_clear_pointer (&server->store, atlas_tracker_store_free);
  g_free (server->metrics_token);
  G_OBJECT_CLASS (atlas_tracker_server_parent_class)->finalize (object);
}

static void
atlas_tracker_server_class_init (AtlasTrackerServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = atlas_tracker_server_dispose;
  object_class->finalize = atlas_tracker_server_finalize;
}

static void
atlas_tracker_server_init (AtlasTrackerServer *server)
{
}

AtlasTrackerServer *
atlas_tracker_server_new (AtlasTrackerStore *store, const char *metrics_token)
{
  AtlasTrackerServer *server = g_object_new (ATLAS_TYPE_TRACKER_SERVER, NULL);
  char *protocols[] = { (char *) ATLAS_TRACKER_SUBPROTOCOL, NULL };

  server->store = store;
  server->metrics = atlas_tracker_metrics_new ();
  server->hub = atlas_tracker_hub_new (store, server->metrics);
  server->metrics_token = g_strdup (metrics_token);
  server->soup = soup_server_new ("server-header", "atlas-tracker ", NULL);
  /* Compressed frames could inflate far past the 64 KiB message limit. */
  soup_server_remove_websocket_extension (server->soup, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);

  soup_server_add_early_handler (server->soup, "/api/v1", early_cb, server, NULL);
  soup_server_add_handler (server->soup, "/api/v1", api_cb, server, NULL);
  /* Early and normal handlers are matched by the same path, so the upgrade
   * path needs its own copy of the authentication. */
  soup_server_add_early_handler (server->soup, "/api/v1/peer", early_cb, server, NULL);
  soup_server_add_websocket_handler (server->soup, "/api/v1/peer", NULL, protocols, peer_cb, server,
                                     NULL);
  soup_server_add_handler (server->soup, "/health", health_cb, server, NULL);
  soup_server_add_handler (server->soup, "/metrics", metrics_cb, server, NULL);
  g_signal_connect (server->soup, "request-read", G_CALLBACK (request_read_cb), server);
  g_signal_connect (server->soup, "request-finished", G_CALLBACK (request_finished_cb), server);
  return server;
}
