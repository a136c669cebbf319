/* atlas-tracker-client-socket.c — AtlasTrackerClient's WebSocket peer channel:
 * hello/welcome, announces, peer lists and the ICE signaling relay.
 *
 * The tracker keeps swarms in memory only, so the client is what makes them
 * durable: it remembers its latest announce per entry and sends them all again
 * after every reconnect and every 45 s. Reconnects back off exponentially so a
 * tracker restart is not met by every client at once.
 */

#include "atlas-tracker-client-private.h"

#include "atlas-error.h"

/* Seconds between repeated announces; the tracker drops a peer after 60 s. */
#define REANNOUNCE_INTERVAL 45
/* Seconds the tracker has to answer hello before the attempt counts as failed. */
#define HANDSHAKE_TIMEOUT 10
/* WebSocket pings, so a dead path is noticed even when nothing is sent. */
#define KEEPALIVE_INTERVAL 20
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
/* A connection that lasted this long resets the backoff; one that did not
 * (the tracker drops us right after welcome) still backs off. */
#define STABLE_CONNECTION_US (30 * G_USEC_PER_SEC)

static void connect_now (AtlasTrackerClient *self);

static void
emit_disconnected (AtlasTrackerClient *self, const GError *error)
{
  g_signal_emit (self, _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_DISCONNECTED], 0,
                 error);
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static GSource *
add_timeout (AtlasTrackerClient *self, guint milliseconds, GSourceFunc func)
{
  GSource *source = g_timeout_source_new (milliseconds);

  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

static void
send_message (AtlasTrackerClient *self, const AtlasTrackerMessage *message)
{
  g_autofree char *json = NULL;

  if (self->connection == NULL
      || soup_websocket_connection_get_state (self->connection) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  json = atlas_tracker_message_to_json (message);
  soup_websocket_connection_send_text (self->connection, json);
}

static void
send_all_announces (AtlasTrackerClient *self)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->announces);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    send_message (self, value);
}

/* The current offer, or an empty one that withdraws a previous offer. */
static void
send_donate (AtlasTrackerClient *self, const AtlasDonateOffer *offer)
{
  g_autoptr (AtlasTrackerMessage) donate = atlas_tracker_message_new (ATLAS_TRACKER_MSG_DONATE);

  if (offer != NULL)
    {
      atlas_donate_offer_free (donate->offer);
      donate->offer = atlas_donate_offer_copy (offer);
    }
  send_message (self, donate);
}

/* Drops the connection without telling anyone; the caller decides. */
static void
drop_connection (AtlasTrackerClient *self, gushort close_code)
{
  clear_source (&self->handshake_source);
  clear_source (&self->reannounce_source);
  self->welcomed = FALSE;
  if (self->connection == NULL)
    return;

  g_signal_handlers_disconnect_by_data (self->connection, self);
  if (soup_websocket_connection_get_state (self->connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (self->connection, close_code, NULL);
  g_clear_object (&self->connection);
}

static gboolean
retry_cb (gpointer user_data)
{
  AtlasTrackerClient *self = user_data;

  g_clear_pointer (&self->retry_source, g_source_unref);
  connect_now (self);
  return G_SOURCE_REMOVE;
}

/* Schedules the next attempt: 1 s, 2 s, 4 s … 30 s, each ±25 % so that many
 * clients dropped by one tracker restart do not come back in lockstep. */
static void
schedule_retry (AtlasTrackerClient *self)
{
  guint delay = BACKOFF_MIN_MS << MIN (self->attempt, 5u);
  guint jittered;

  if (!self->started || self->retry_source != NULL)
    return;
  delay = MIN (delay, BACKOFF_MAX_MS);
  jittered = delay * 3 / 4 + (guint) g_random_int_range (0, (gint32) (delay / 2) + 1);
  jittered = CLAMP (jittered, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
  self->attempt++;
  g_debug ("tracker: reconnecting in %u ms (attempt %u)", jittered, self->attempt);
  self->retry_source = add_timeout (self, jittered, retry_cb);
}

/* The connection ended or an attempt failed: schedule the next attempt (if
 * still started) before telling the owner, who may stop us in its handler. */
static void
connection_lost (AtlasTrackerClient *self, const GError *error)
{
  if (self->welcomed && g_get_monotonic_time () - self->welcomed_at >= STABLE_CONNECTION_US)
    self->attempt = 0;
  drop_connection (self, SOUP_WEBSOCKET_CLOSE_NORMAL);
  schedule_retry (self);
  emit_disconnected (self, error);
}

static gboolean
reannounce_cb (gpointer user_data)
{
  AtlasTrackerClient *self = user_data;

  send_all_announces (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
handshake_timeout_cb (gpointer user_data)
{
  AtlasTrackerClient *self = user_data;
  g_autoptr (GError) error =
      g_error_new (ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                   "the tracker did not answer hello within %d s", HANDSHAKE_TIMEOUT);

  g_clear_pointer (&self->handshake_source, g_source_unref);
  connection_lost (self, error);
  return G_SOURCE_REMOVE;
}

static void
handle_welcome (AtlasTrackerClient *self, const AtlasTrackerMessage *message)
{
  if (self->welcomed)
    return;
  clear_source (&self->handshake_source);
  self->welcomed = TRUE;
  self->welcomed_at = g_get_monotonic_time ();
  self->reannounce_source = add_timeout (self, REANNOUNCE_INTERVAL * 1000, reannounce_cb);
  g_debug ("tracker: welcomed as %s", message->peer_id);

  /* Announces first, so a "connected" handler that announces adds to them
   * rather than racing them. */
  send_all_announces (self);
  /* The tracker forgot the offer with the old connection. */
  if (self->offer != NULL)
    send_donate (self, self->offer);
  g_signal_emit (self, _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_CONNECTED], 0);
}

static void
message_cb (SoupWebsocketConnection *connection, SoupWebsocketDataType type, GBytes *data,
            gpointer user_data)
{
  AtlasTrackerClient *self = user_data;
  g_autoptr (AtlasTrackerMessage) message = NULL;
  g_autoptr (GError) error = NULL;
  gsize size = 0;
  const char *text = g_bytes_get_data (data, &size);

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      /* The protocol is text frames only; a tracker that sends binary is not
       * one this client understands. */
      soup_websocket_connection_close (connection, SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA,
                                       "text frames only");
      return;
    }

  message = atlas_tracker_message_parse (text != NULL ? text : "", size, ATLAS_TRACKER_FROM_TRACKER,
                                         &error);
  if (message == NULL)
    {
      g_message ("tracker sent a message this client does not understand: %s", error->message);
      return;
    }

  if (message->type == ATLAS_TRACKER_MSG_WELCOME)
    {
      handle_welcome (self, message);
      return;
    }
  if (message->type == ATLAS_TRACKER_MSG_ERROR)
    {
      g_signal_emit (self, _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_ERROR], 0,
                     message->code, message->text);
      return;
    }
  if (!self->welcomed)
    {
      g_message ("tracker sent %s before welcome; ignored",
                 atlas_tracker_message_type_to_string (message->type));
      return;
    }

  switch (message->type)
    {
    case ATLAS_TRACKER_MSG_PEERS:
      g_signal_emit (self, _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_PEERS], 0,
                     message->entry, message->peers);
      break;
    case ATLAS_TRACKER_MSG_SIGNAL:
      g_signal_emit (self, _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_SIGNAL], 0,
                     message);
      break;
    case ATLAS_TRACKER_MSG_ASSIGN:
      g_signal_emit (self, _atlas_tracker_client_signals[_ATLAS_TRACKER_CLIENT_SIGNAL_ASSIGN], 0,
                     message->assignments);
      break;
    case ATLAS_TRACKER_MSG_DONATE:
    case ATLAS_TRACKER_MSG_HELLO:
    case ATLAS_TRACKER_MSG_WELCOME:
    case ATLAS_TRACKER_MSG_ANNOUNCE:
    case ATLAS_TRACKER_MSG_LEAVE:
    case ATLAS_TRACKER_MSG_ERROR:
    default:
      /* The codec refuses client-side types in this direction. */
      break;
    }
}

static void
closed_cb (SoupWebsocketConnection *connection, gpointer user_data)
{
  AtlasTrackerClient *self = user_data;
  gushort code = soup_websocket_connection_get_close_code (connection);
  const char *reason = soup_websocket_connection_get_close_data (connection);
  g_autoptr (GError) error = NULL;

  if (code == SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION || code == SOUP_WEBSOCKET_CLOSE_TOO_BIG
      || code == SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR)
    error = g_error_new (ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                         "the tracker closed the connection: %s (WebSocket code %u)",
                         reason != NULL && *reason != '\0' ? reason : "protocol violation", code);
  else
    error =
        g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                     "the connection to the tracker closed (WebSocket code %u%s%s)", code,
                     reason != NULL && *reason != '\0' ? ": " : "", reason != NULL ? reason : "");
  g_debug ("tracker: %s", error->message);
  connection_lost (self, error);
}

static void
error_cb (SoupWebsocketConnection *connection, GError *error, gpointer user_data)
{
  /* "closed" follows with the outcome; this only says why. */
  g_debug ("tracker: WebSocket error: %s", error->message);
}

typedef struct
{
  AtlasTrackerClient *self; /* not a reference: stop and dispose cancel first */
  SoupMessage *message;
  GCancellable *cancellable;
} Connect;

static void
connect_free (Connect *connect)
{
  g_clear_object (&connect->message);
  g_clear_object (&connect->cancellable);
  g_free (connect);
}

static GError *
connect_error (SoupMessage *message, const GError *error)
{
  guint status = soup_message_get_status (message);

  if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
    return _atlas_tracker_client_status_error (message, NULL);
  if (status != 0 && status != SOUP_STATUS_SWITCHING_PROTOCOLS)
    return g_error_new (ATLAS_ERROR, status >= 500 ? ATLAS_ERROR_NETWORK : ATLAS_ERROR_PROTOCOL,
                        "the tracker refused the peer channel: %s (HTTP %u)",
                        soup_message_get_reason_phrase (message), status);
  return _atlas_tracker_client_transport_error (error, "cannot open the tracker's peer channel");
}

static void
connect_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Connect *connect = user_data;
  AtlasTrackerClient *self = connect->self;
  g_autoptr (SoupWebsocketConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasTrackerMessage) hello = NULL;

  connection = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (g_cancellable_is_cancelled (connect->cancellable))
    {
      /* stop() or dispose() ran: self may be gone and the connection is unwanted. */
      connect_free (connect);
      return;
    }
  g_clear_object (&self->connecting);

  if (connection == NULL)
    {
      g_autoptr (GError) mapped = connect_error (connect->message, error);

      connect_free (connect);
      if (g_error_matches (mapped, ATLAS_ERROR, ATLAS_ERROR_PERMISSION))
        {
          /* A refused token stays refused; retrying would only hammer the
           * tracker. The owner may start again with another client. */
          self->started = FALSE;
          emit_disconnected (self, mapped);
          return;
        }
      connection_lost (self, mapped);
      return;
    }
  connect_free (connect);

  self->connection = g_steal_pointer (&connection);
  soup_websocket_connection_set_max_incoming_payload_size (self->connection,
                                                           ATLAS_TRACKER_MAX_MESSAGE);
  soup_websocket_connection_set_keepalive_interval (self->connection, KEEPALIVE_INTERVAL);
  g_signal_connect (self->connection, "message", G_CALLBACK (message_cb), self);
  g_signal_connect (self->connection, "closed", G_CALLBACK (closed_cb), self);
  g_signal_connect (self->connection, "error", G_CALLBACK (error_cb), self);

  hello = atlas_tracker_message_new (ATLAS_TRACKER_MSG_HELLO);
  hello->version = ATLAS_TRACKER_PROTOCOL_VERSION;
  hello->peer_id = g_strdup (self->peer_id);
  send_message (self, hello);
  self->handshake_source = add_timeout (self, HANDSHAKE_TIMEOUT * 1000, handshake_timeout_cb);
}

static void
connect_now (AtlasTrackerClient *self)
{
  char *protocols[] = { (char *) ATLAS_TRACKER_SUBPROTOCOL, NULL };
  Connect *connect;

  if (!self->started || self->connecting != NULL || self->connection != NULL)
    return;
  if (self->config_error != NULL)
    {
      self->started = FALSE;
      emit_disconnected (self, self->config_error);
      return;
    }

  connect = g_new0 (Connect, 1);
  connect->self = self;
  connect->message = _atlas_tracker_client_new_message (self, SOUP_METHOD_GET, "/peer");
  connect->cancellable = g_cancellable_new ();
  self->connecting = g_object_ref (connect->cancellable);

  /* The session's context is the one it was created on, which is ours. */
  soup_session_websocket_connect_async (self->socket, connect->message, NULL, protocols,
                                        G_PRIORITY_DEFAULT, connect->cancellable, connect_cb,
                                        connect);
}

void
atlas_tracker_client_start (AtlasTrackerClient *self, const char *peer_id)
{
  g_return_if_fail (ATLAS_IS_TRACKER_CLIENT (self));
  g_return_if_fail (atlas_tracker_is_peer_id (peer_id));

  if (self->started && g_strcmp0 (self->peer_id, peer_id) == 0)
    return;
  if (self->started)
    atlas_tracker_client_stop (self);

  g_free (self->peer_id);
  self->peer_id = g_strdup (peer_id);
  self->started = TRUE;
  self->attempt = 0;
  connect_now (self);
}

/* Everything stop does except telling the owner. */
static gboolean
halt (AtlasTrackerClient *self)
{
  gboolean was_connected = self->welcomed;

  self->started = FALSE;
  if (self->connecting != NULL)
    {
      g_cancellable_cancel (self->connecting);
      g_clear_object (&self->connecting);
    }
  clear_source (&self->retry_source);
  drop_connection (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
  return was_connected;
}

void
atlas_tracker_client_stop (AtlasTrackerClient *self)
{
  g_return_if_fail (ATLAS_IS_TRACKER_CLIENT (self));

  if (halt (self))
    emit_disconnected (self, NULL);
}

void
_atlas_tracker_client_socket_dispose (AtlasTrackerClient *self)
{
  halt (self);
}

gboolean
atlas_tracker_client_is_connected (AtlasTrackerClient *self)
{
  g_return_val_if_fail (ATLAS_IS_TRACKER_CLIENT (self), FALSE);

  return self->connection != NULL && self->welcomed;
}

void
atlas_tracker_client_announce (AtlasTrackerClient *self, const char *entry_hex, guint32 piece_count,
                               GBytes *pieces, gboolean complete, guint64 uploaded,
                               guint64 downloaded, guint want_peers)
{
  AtlasTrackerMessage *announce;

  g_return_if_fail (ATLAS_IS_TRACKER_CLIENT (self));
  g_return_if_fail (atlas_tracker_is_entry (entry_hex));
  g_return_if_fail (pieces != NULL);

  announce = atlas_tracker_message_new (ATLAS_TRACKER_MSG_ANNOUNCE);
  announce->entry = g_strdup (entry_hex);
  announce->piece_count = piece_count;
  announce->pieces = g_bytes_ref (pieces);
  announce->complete = complete;
  /* JSON integers are signed 64-bit; saturate rather than wrap. */
  announce->uploaded = MIN (uploaded, (guint64) G_MAXINT64);
  announce->downloaded = MIN (downloaded, (guint64) G_MAXINT64);
  announce->want_peers = MIN (want_peers, ATLAS_TRACKER_MAX_WANT_PEERS);
  announce->donor = self->donor;
  g_hash_table_replace (self->announces, g_strdup (entry_hex), announce);

  if (self->welcomed)
    send_message (self, announce);
}

void
atlas_tracker_client_leave (AtlasTrackerClient *self, const char *entry_hex)
{
  g_autoptr (AtlasTrackerMessage) leave = NULL;

  g_return_if_fail (ATLAS_IS_TRACKER_CLIENT (self));
  g_return_if_fail (atlas_tracker_is_entry (entry_hex));

  if (!g_hash_table_remove (self->announces, entry_hex) || !self->welcomed)
    return;
  leave = atlas_tracker_message_new (ATLAS_TRACKER_MSG_LEAVE);
  leave->entry = g_strdup (entry_hex);
  send_message (self, leave);
}

void
atlas_tracker_client_donate (AtlasTrackerClient *self, const AtlasDonateOffer *offer)
{
  g_return_if_fail (ATLAS_IS_TRACKER_CLIENT (self));

  if (offer == NULL)
    {
      if (self->offer == NULL)
        return;
      g_clear_pointer (&self->offer, atlas_donate_offer_free);
      if (self->welcomed)
        send_donate (self, NULL);
      return;
    }
  if (atlas_donate_offer_equal (self->offer, offer))
    return;
  g_clear_pointer (&self->offer, atlas_donate_offer_free);
  self->offer = atlas_donate_offer_copy (offer);
  if (self->welcomed)
    send_donate (self, self->offer);
}

void
atlas_tracker_client_set_donor (AtlasTrackerClient *self, gboolean donor)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (ATLAS_IS_TRACKER_CLIENT (self));

  donor = !!donor;
  if (self->donor == donor)
    return;
  self->donor = donor;
  g_hash_table_iter_init (&iter, self->announces);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      AtlasTrackerMessage *announce = value;

      announce->donor = donor;
      if (self->welcomed)
        send_message (self, announce);
    }
}

gboolean
atlas_tracker_client_send_signal (AtlasTrackerClient *self, const AtlasTrackerMessage *signal)
{
  g_autofree char *json = NULL;

  g_return_val_if_fail (ATLAS_IS_TRACKER_CLIENT (self), FALSE);
  g_return_val_if_fail (signal != NULL, FALSE);

  if (signal->type != ATLAS_TRACKER_MSG_SIGNAL || signal->peer_id == NULL || !self->welcomed
      || self->connection == NULL
      || soup_websocket_connection_get_state (self->connection) != SOUP_WEBSOCKET_STATE_OPEN)
    return FALSE;
  json = atlas_tracker_message_to_json_full (signal, ATLAS_TRACKER_FROM_CLIENT);
  soup_websocket_connection_send_text (self->connection, json);
  return TRUE;
}
