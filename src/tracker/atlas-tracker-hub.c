/* atlas-tracker-hub.c — peers, swarms and signaling over the tracker's WebSocket.
 *
 * Everything runs on the main context: a message is handled to the end
 * before the next one is read, so the tables below need no locks.
 */
#include "atlas-tracker-hub-private.h"

#include <string.h>

#define HELLO_TIMEOUT_SECONDS 10
/* Beyond this many refused messages in one window, a client is not bursting
 * but flooding, and is disconnected. */
#define ABUSE_WINDOW_USEC (10 * G_USEC_PER_SEC)
#define MAX_SWARMS_PER_PEER 1000
#define MAX_SESSIONS_PER_PEER 256
/* A peers reply must fit the client's 64 KiB message limit with room to spare. */
#define PEERS_REPLY_BUDGET (60 * 1024)
#define MAX_FRAME (2 * ATLAS_TRACKER_MAX_MESSAGE)

/* The hub's own short names for its private types. */
typedef AtlasHubConnection Connection;
typedef AtlasHubMembership Membership;

G_DEFINE_FINAL_TYPE (AtlasTrackerHub, atlas_tracker_hub, G_TYPE_OBJECT)

static void
membership_free (Membership *membership)
{
  g_free (membership->entry);
  g_clear_pointer (&membership->pieces, g_bytes_unref);
  g_free (membership);
}

static const char *
connection_name (Connection *connection)
{
  return connection->peer_id != NULL ? connection->peer_id : connection->address;
}

void
_atlas_tracker_hub_send (Connection *connection, const AtlasTrackerMessage *message)
{
  g_autofree char *json = NULL;

  if (soup_websocket_connection_get_state (connection->socket) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  json = atlas_tracker_message_to_json_full (message, ATLAS_TRACKER_FROM_TRACKER);
  soup_websocket_connection_send_text (connection->socket, json);
}

static void
send_message (Connection *connection, const AtlasTrackerMessage *message)
{
  _atlas_tracker_hub_send (connection, message);
}

static void G_GNUC_PRINTF (3, 4)
    send_error (Connection *connection, const char *code, const char *format, ...)
{
  g_autoptr (AtlasTrackerMessage) message = atlas_tracker_message_new (ATLAS_TRACKER_MSG_ERROR);
  va_list args;

  va_start (args, format);
  message->text = g_strdup_vprintf (format, args);
  va_end (args);
  message->code = g_strdup (code);
  connection->hub->metrics->signaling_errors++;
  send_message (connection, message);
}

static void
close_connection (Connection *connection, gushort code, const char *reason)
{
  SoupWebsocketState state = soup_websocket_connection_get_state (connection->socket);

  if (state == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (connection->socket, code, reason);
}

/* Swarms */

static void
swarm_remove (AtlasTrackerHub *hub, Membership *membership)
{
  GHashTable *swarm = g_hash_table_lookup (hub->swarms, membership->entry);

  if (swarm == NULL || membership->owner->peer_id == NULL)
    return;
  if (g_hash_table_lookup (swarm, membership->owner->peer_id) == membership)
    g_hash_table_remove (swarm, membership->owner->peer_id);
  if (g_hash_table_size (swarm) == 0)
    g_hash_table_remove (hub->swarms, membership->entry);
}

static void
leave_swarm (Connection *connection, const char *entry)
{
  Membership *membership = g_hash_table_lookup (connection->memberships, entry);

  if (membership == NULL)
    return;
  swarm_remove (connection->hub, membership);
  g_hash_table_remove (connection->memberships, entry);
}

static char *
session_key (const char *entry, const char *session, const char *peer_id)
{
  return g_strconcat (entry, " ", session, " ", peer_id, NULL);
}

/* Tells every peer this one was negotiating with that the session is over,
 * with the bye it can no longer send itself. */
static void
end_sessions (Connection *connection)
{
  AtlasTrackerHub *hub = connection->hub;
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, connection->sessions);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_auto (GStrv) parts = g_strsplit (key, " ", 3);
      Connection *other = g_hash_table_lookup (hub->peers, value);
      g_autoptr (AtlasTrackerMessage) bye = NULL;
      g_autofree char *other_key = NULL;

      if (other == NULL || g_strv_length (parts) != 3)
        continue;
      other_key = session_key (parts[0], parts[1], connection->peer_id);
      g_hash_table_remove (other->sessions, other_key);

      bye = atlas_tracker_message_new (ATLAS_TRACKER_MSG_SIGNAL);
      bye->peer_id = g_strdup (connection->peer_id);
      bye->entry = g_strdup (parts[0]);
      bye->session = g_strdup (parts[1]);
      bye->kind = ATLAS_SIGNAL_BYE;
      send_message (other, bye);
    }
  g_hash_table_remove_all (connection->sessions);
}

/* Takes the connection out of every table, so it is gone for other peers at
 * once even if its socket takes a while to close. Safe to call twice. */
static void
connection_detach (Connection *connection)
{
  AtlasTrackerHub *hub = connection->hub;
  GHashTableIter iter;
  gpointer value;

  if (connection->detached)
    return;
  connection->detached = TRUE;
  g_clear_handle_id (&connection->hello_timeout, g_source_remove);

  g_hash_table_iter_init (&iter, connection->memberships);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    swarm_remove (hub, value);
  g_hash_table_remove_all (connection->memberships);

  /* A donor that is gone holds nothing any more; others take its pieces. */
  atlas_tracker_donation_forget (hub->donation, connection);

  if (connection->peer_id != NULL)
    {
      if (g_hash_table_lookup (hub->peers, connection->peer_id) == connection)
        g_hash_table_remove (hub->peers, connection->peer_id);
      end_sessions (connection);
    }
}

static void
connection_free (Connection *connection)
{
  connection_detach (connection);
  g_signal_handlers_disconnect_by_data (connection->socket, connection);
  g_clear_object (&connection->socket);
  atlas_tracker_token_free (connection->token);
  g_clear_pointer (&connection->memberships, g_hash_table_unref);
  g_clear_pointer (&connection->sessions, g_hash_table_unref);
  g_free (connection->peer_id);
  g_free (connection->address);
  g_free (connection);
}

/* Rate limiting */

/* A token bucket: @rate messages per second on average, bursts of @burst. */
static gboolean
take_token (Connection *connection, gint64 now)
{
  AtlasTrackerHub *hub = connection->hub;
  double elapsed = (now - connection->bucket_time) / (double) G_USEC_PER_SEC;

  connection->bucket = MIN (hub->burst, connection->bucket + elapsed * hub->rate);
  connection->bucket_time = now;
  if (connection->bucket < 1.0)
    return FALSE;
  connection->bucket -= 1.0;
  return TRUE;
}

static gboolean
over_rate (Connection *connection, gint64 now)
{
  AtlasTrackerHub *hub = connection->hub;

  if (take_token (connection, now))
    return FALSE;

  if (now - connection->refused_window > ABUSE_WINDOW_USEC)
    {
      connection->refused_window = now;
      connection->refused = 0;
    }
  connection->refused++;
  if (connection->refused > hub->burst)
    {
      g_message ("peer %s: closed for flooding (%u messages over the rate limit)",
                 connection_name (connection), connection->refused);
      connection_detach (connection);
      close_connection (connection, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "rate limit");
      return TRUE;
    }
  /* One error per second is enough to tell a client to slow down; answering
   * each refused message would double the flood. */
  if (now - connection->last_rate_error >= G_USEC_PER_SEC)
    {
      connection->last_rate_error = now;
      send_error (connection, "rate-limited", "more than %g messages per second; message dropped",
                  hub->rate);
    }
  return TRUE;
}

/* Messages */

static void
handle_hello (Connection *connection, const AtlasTrackerMessage *message)
{
  AtlasTrackerHub *hub = connection->hub;
  Connection *old;
  g_autoptr (AtlasTrackerMessage) welcome = NULL;

  if (connection->peer_id != NULL)
    {
      send_error (connection, "invalid-message", "hello was already sent");
      return;
    }

  old = g_hash_table_lookup (hub->peers, message->peer_id);
  if (old != NULL)
    {
      /* Only the same token may take over a peer id: anyone may claim any
       * fingerprint, and must not be able to cut another client off. */
      if (old->token->id != connection->token->id)
        {
          send_error (connection, "forbidden", "peer id %s is connected with another token",
                      message->peer_id);
          connection_detach (connection);
          close_connection (connection, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "peer id in use");
          return;
        }
      g_message ("peer %s: replaced by a newer connection from %s", old->peer_id,
                 connection->address);
      connection_detach (old);
      close_connection (old, SOUP_WEBSOCKET_CLOSE_NORMAL, "replaced by a newer connection");
    }

  g_clear_handle_id (&connection->hello_timeout, g_source_remove);
  connection->peer_id = g_strdup (message->peer_id);
  g_hash_table_insert (hub->peers, connection->peer_id, connection);
  g_message ("peer %s: hello from %s (token %s)", connection->peer_id, connection->address,
             connection->token->name);

  welcome = atlas_tracker_message_new (ATLAS_TRACKER_MSG_WELCOME);
  welcome->peer_id = g_strdup (connection->peer_id);
  send_message (connection, welcome);
}

/* Whether @peer holds a piece that @mine lacks. */
static gboolean
has_missing_piece (GBytes *mine, GBytes *peer)
{
  gsize mine_size, peer_size;
  const guint8 *mine_bits = g_bytes_get_data (mine, &mine_size);
  const guint8 *peer_bits = g_bytes_get_data (peer, &peer_size);

  for (gsize i = 0; i < MIN (mine_size, peer_size); i++)
    if ((peer_bits[i] & ~mine_bits[i]) != 0)
      return TRUE;
  return FALSE;
}

static void
shuffle (GPtrArray *array)
{
  for (guint i = array->len; i > 1; i--)
    {
      guint j = g_random_int_range (0, i);
      gpointer tmp = array->pdata[i - 1];

      array->pdata[i - 1] = array->pdata[j];
      array->pdata[j] = tmp;
    }
}

static void
reply_peers (Connection *connection, Membership *mine, guint want_peers)
{
  GHashTable *swarm = g_hash_table_lookup (connection->hub->swarms, mine->entry);
  g_autoptr (GPtrArray) useful = g_ptr_array_new ();
  g_autoptr (GPtrArray) others = g_ptr_array_new ();
  g_autoptr (AtlasTrackerMessage) reply = atlas_tracker_message_new (ATLAS_TRACKER_MSG_PEERS);
  GHashTableIter iter;
  gpointer value;
  gsize budget = PEERS_REPLY_BUDGET;

  g_hash_table_iter_init (&iter, swarm);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Membership *peer = value;

      if (peer == mine)
        continue;
      g_ptr_array_add (has_missing_piece (mine->pieces, peer->pieces) ? useful : others, peer);
    }
  shuffle (useful);
  shuffle (others);
  g_ptr_array_extend_and_steal (useful, g_steal_pointer (&others));

  reply->entry = g_strdup (mine->entry);
  for (guint i = 0; i < useful->len && reply->peers->len < want_peers; i++)
    {
      Membership *peer = g_ptr_array_index (useful, i);
      /* JSON overhead of one peer plus its bitfield in base64. */
      gsize cost = 128 + (g_bytes_get_size (peer->pieces) + 2) / 3 * 4;
      AtlasTrackerPeer *listed;

      if (cost > budget)
        break;
      budget -= cost;
      listed = atlas_tracker_peer_new (peer->owner->peer_id, peer->complete, peer->pieces);
      listed->donor = peer->donor;
      g_ptr_array_add (reply->peers, listed);
    }
  send_message (connection, reply);
}

static guint64
counter_delta (guint64 before, guint64 now)
{
  /* A counter that went down is a restarted client counting from zero. */
  return now >= before ? now - before : now;
}

static void
handle_announce (Connection *connection, AtlasTrackerMessage *message, gint64 now)
{
  AtlasTrackerHub *hub = connection->hub;
  g_autoptr (GError) error = NULL;
  Membership *membership;
  GHashTable *swarm;
  guint32 piece_count = 0;

  if (!atlas_tracker_store_file_visible (hub->store, message->entry, connection->token,
                                         &piece_count, &error))
    {
      if (error != NULL)
        g_warning ("announce by %s: %s", connection->peer_id, error->message);
      /* The entry may have been deleted, or made invisible, since the peer joined. */
      else
        leave_swarm (connection, message->entry);
      send_error (connection, "not-found", "no entry %s", message->entry);
      return;
    }
  if (piece_count != message->piece_count)
    {
      send_error (connection, "invalid-message", "entry %s has %u pieces, not %u", message->entry,
                  piece_count, message->piece_count);
      return;
    }

  membership = g_hash_table_lookup (connection->memberships, message->entry);
  if (membership == NULL)
    {
      if (g_hash_table_size (connection->memberships) >= MAX_SWARMS_PER_PEER)
        {
          send_error (connection, "forbidden", "a peer may be in at most %d swarms",
                      MAX_SWARMS_PER_PEER);
          return;
        }
      membership = g_new0 (Membership, 1);
      membership->owner = connection;
      membership->entry = g_strdup (message->entry);
      g_hash_table_insert (connection->memberships, membership->entry, membership);

      swarm = g_hash_table_lookup (hub->swarms, message->entry);
      if (swarm == NULL)
        {
          swarm = g_hash_table_new (g_str_hash, g_str_equal);
          g_hash_table_insert (hub->swarms, g_strdup (message->entry), swarm);
        }
      g_hash_table_insert (swarm, connection->peer_id, membership);
      /* Arrivals raise the demand donors are asked to meet (docs/donation.md). */
      if (!message->donor && !message->complete)
        atlas_tracker_donation_note_join (hub->donation, message->entry, connection->peer_id);
    }

  hub->metrics->bytes_up += counter_delta (membership->uploaded, message->uploaded);
  hub->metrics->bytes_down += counter_delta (membership->downloaded, message->downloaded);
  membership->uploaded = message->uploaded;
  membership->downloaded = message->downloaded;
  membership->piece_count = message->piece_count;
  g_clear_pointer (&membership->pieces, g_bytes_unref);
  membership->pieces = g_bytes_ref (message->pieces);
  membership->complete = message->complete;
  membership->donor = message->donor;
  membership->last_announce = now;

  reply_peers (connection, membership, message->want_peers);
}

static void
remember_session (Connection *connection, const AtlasTrackerMessage *message, const char *other)
{
  g_autofree char *key = session_key (message->entry, message->session, other);

  if (message->kind == ATLAS_SIGNAL_BYE)
    {
      g_hash_table_remove (connection->sessions, key);
      return;
    }
  if (g_hash_table_size (connection->sessions) >= MAX_SESSIONS_PER_PEER
      && !g_hash_table_contains (connection->sessions, key))
    return;
  g_hash_table_replace (connection->sessions, g_steal_pointer (&key), g_strdup (other));
}

static void
handle_signal (Connection *connection, AtlasTrackerMessage *message)
{
  AtlasTrackerHub *hub = connection->hub;
  GHashTable *swarm = g_hash_table_lookup (hub->swarms, message->entry);
  Connection *target;
  g_autofree char *to = NULL;

  if (strcmp (message->peer_id, connection->peer_id) == 0)
    {
      send_error (connection, "invalid-message", "a peer cannot signal itself");
      return;
    }
  if (!g_hash_table_contains (connection->memberships, message->entry))
    {
      send_error (connection, "forbidden", "announce %s before signaling in its swarm",
                  message->entry);
      return;
    }
  target = g_hash_table_lookup (hub->peers, message->peer_id);
  if (target == NULL || swarm == NULL || !g_hash_table_contains (swarm, message->peer_id))
    {
      send_error (connection, "peer-gone", "%s is not in the swarm of %s", message->peer_id,
                  message->entry);
      return;
    }

  /* The sender is who said hello on this connection, whatever it claims. */
  to = g_steal_pointer (&message->peer_id);
  message->peer_id = g_strdup (connection->peer_id);
  remember_session (connection, message, to);
  remember_session (target, message, connection->peer_id);
  send_message (target, message);
}

static void
handle_message (Connection *connection, AtlasTrackerMessage *message, gint64 now)
{
  if (message->type == ATLAS_TRACKER_MSG_HELLO)
    {
      handle_hello (connection, message);
      return;
    }
  if (connection->peer_id == NULL)
    {
      send_error (connection, "invalid-message", "the first message must be hello");
      return;
    }
  switch (message->type)
    {
    case ATLAS_TRACKER_MSG_ANNOUNCE:
      handle_announce (connection, message, now);
      break;
    case ATLAS_TRACKER_MSG_LEAVE:
      leave_swarm (connection, message->entry);
      break;
    case ATLAS_TRACKER_MSG_SIGNAL:
      handle_signal (connection, message);
      break;
    case ATLAS_TRACKER_MSG_DONATE:
      /* Any token may donate: a donor only offers to hold what its token may see. */
      atlas_tracker_donation_offer (connection->hub->donation, connection, message->offer);
      break;
    default:
      /* The codec refuses tracker-to-client types from clients. */
      g_assert_not_reached ();
    }
}

static void
message_cb (SoupWebsocketConnection *socket, gint type, GBytes *bytes, gpointer user_data)
{
  Connection *connection = user_data;
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasTrackerMessage) message = NULL;
  gsize length;
  const char *data;

  if (connection->detached)
    return;
  connection->last_message = now;
  if (over_rate (connection, now))
    return;

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      send_error (connection, "invalid-message", "messages are text frames of JSON");
      return;
    }
  data = g_bytes_get_data (bytes, &length);
  if (length > ATLAS_TRACKER_MAX_MESSAGE)
    {
      g_message ("peer %s: closed for a message of %" G_GSIZE_FORMAT " bytes",
                 connection_name (connection), length);
      connection_detach (connection);
      close_connection (connection, SOUP_WEBSOCKET_CLOSE_TOO_BIG, "message over 64 KiB");
      return;
    }
  message = atlas_tracker_message_parse (data, length, ATLAS_TRACKER_FROM_CLIENT, &error);
  if (message == NULL)
    {
      send_error (connection, "invalid-message", "%s", error->message);
      return;
    }
  connection->hub->metrics->signaling_messages++;
  handle_message (connection, message, now);
}

static gboolean
unref_later_cb (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

static void
closed_cb (SoupWebsocketConnection *socket, gpointer user_data)
{
  Connection *connection = user_data;
  AtlasTrackerHub *hub = connection->hub;

  g_message ("peer %s: disconnected (%u)", connection_name (connection),
             soup_websocket_connection_get_close_code (socket));
  /* The socket is still emitting this signal: let it go after. */
  g_idle_add (unref_later_cb, g_object_ref (socket));
  g_hash_table_remove (hub->connections, connection);
}

static gboolean
hello_timeout_cb (gpointer user_data)
{
  Connection *connection = user_data;

  connection->hello_timeout = 0;
  g_message ("peer %s: no hello in %d s", connection->address, HELLO_TIMEOUT_SECONDS);
  close_connection (connection, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "no hello");
  return G_SOURCE_REMOVE;
}

void
atlas_tracker_hub_add_connection (AtlasTrackerHub *hub, SoupWebsocketConnection *socket,
                                  const AtlasTrackerToken *token, const char *remote)
{
  Connection *connection = g_new0 (Connection, 1);

  connection->hub = hub;
  connection->socket = g_object_ref (socket);
  connection->token = atlas_tracker_token_copy (token);
  connection->address = g_strdup (remote != NULL ? remote : "unknown address");
  connection->memberships =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) membership_free);
  connection->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  connection->bucket = hub->burst;
  connection->bucket_time = g_get_monotonic_time ();
  connection->last_message = connection->bucket_time;

  /* libsoup 3.2 drops a connection whose frame is over this size without a
   * close frame; a client should learn why, so the 64 KiB message limit is
   * enforced in message_cb with 1009 and libsoup's cut-off only stops frames
   * that are too big to keep in memory at all. */
  soup_websocket_connection_set_max_incoming_payload_size (socket, MAX_FRAME);
  /* No keepalive pings from this side: libsoup gives each connection its own
   * timer for them, and GLib visits every source on every main-loop
   * iteration, so 10,000 peers meant 10,000 timers checked per message.  A
   * client pings us itself (every 20 s), and a peer whose end vanished stops
   * sending and is closed by sweep_cb. */
  g_signal_connect (socket, "message", G_CALLBACK (message_cb), connection);
  g_signal_connect (socket, "closed", G_CALLBACK (closed_cb), connection);
  connection->hello_timeout =
      g_timeout_add_seconds (HELLO_TIMEOUT_SECONDS, hello_timeout_cb, connection);
  g_hash_table_add (hub->connections, connection);
}

/* Drops memberships not announced within the TTL, closes connections that
 * sent nothing at all for that long, and those whose token was revoked since
 * they connected (`atlas-tracker token revoke` is another process, so this is
 * where the service learns of it). */
static gboolean
sweep_cb (gpointer user_data)
{
  AtlasTrackerHub *hub = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 ttl = (gint64) hub->ttl_seconds * G_USEC_PER_SEC;
  g_autoptr (GPtrArray) idle = g_ptr_array_new ();
  g_autoptr (GPtrArray) revoked = g_ptr_array_new ();
  g_autoptr (GHashTable) live = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, NULL);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, hub->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Connection *connection = key;
      GHashTableIter members;
      gpointer value;

      if (connection->detached)
        continue;
      g_hash_table_iter_init (&members, connection->memberships);
      while (g_hash_table_iter_next (&members, NULL, &value))
        {
          Membership *membership = value;

          if (now - membership->last_announce > ttl)
            {
              swarm_remove (hub, membership);
              g_hash_table_iter_remove (&members);
            }
        }
      if (!g_hash_table_contains (live, &connection->token->id))
        {
          g_autoptr (GError) error = NULL;

          /* A failing database is no reason to cut everyone off. */
          if (!atlas_tracker_store_token_is_live (hub->store, connection->token->id, &error)
              && error == NULL)
            {
              g_ptr_array_add (revoked, connection);
              continue;
            }
          g_hash_table_add (live, &connection->token->id);
        }
      if (now - connection->last_message > ttl)
        g_ptr_array_add (idle, connection);
    }

  for (guint i = 0; i < revoked->len; i++)
    {
      Connection *connection = g_ptr_array_index (revoked, i);

      g_message ("peer %s: token %s was revoked", connection_name (connection),
                 connection->token->name);
      send_error (connection, "forbidden", "the token was revoked");
      connection_detach (connection);
      close_connection (connection, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "token revoked");
    }

  /* Closed after the walk: closing may end up changing the table. */
  for (guint i = 0; i < idle->len; i++)
    {
      Connection *connection = g_ptr_array_index (idle, i);

      g_message ("peer %s: silent for %u s", connection_name (connection), hub->ttl_seconds);
      connection_detach (connection);
      close_connection (connection, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "idle");
    }
  return G_SOURCE_CONTINUE;
}

static void
restart_sweep (AtlasTrackerHub *hub)
{
  guint interval_ms = MAX (hub->ttl_seconds * 1000 / 4, 250);

  g_clear_handle_id (&hub->sweep_source, g_source_remove);
  hub->sweep_source = g_timeout_add (MIN (interval_ms, 30000), sweep_cb, hub);
}

void
atlas_tracker_hub_set_limits (AtlasTrackerHub *hub, guint ttl_seconds, double rate, guint burst)
{
  g_return_if_fail (ATLAS_IS_TRACKER_HUB (hub));
  g_return_if_fail (ttl_seconds > 0 && rate > 0 && burst > 0);

  hub->ttl_seconds = ttl_seconds;
  hub->rate = rate;
  hub->burst = burst;
  restart_sweep (hub);
}

guint
atlas_tracker_hub_get_n_peers (AtlasTrackerHub *hub)
{
  return g_hash_table_size (hub->peers);
}

guint
atlas_tracker_hub_get_n_swarms (AtlasTrackerHub *hub)
{
  return g_hash_table_size (hub->swarms);
}

void
atlas_tracker_hub_count_swarm (AtlasTrackerHub *hub, const char *entry, guint *seeders,
                               guint *peers)
{
  GHashTable *swarm = g_hash_table_lookup (hub->swarms, entry);
  GHashTableIter iter;
  gpointer value;

  *seeders = 0;
  *peers = 0;
  if (swarm == NULL)
    return;
  g_hash_table_iter_init (&iter, swarm);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const Membership *membership = value;

      (*peers)++;
      if (membership->complete)
        (*seeders)++;
    }
}

void
atlas_tracker_hub_close_all (AtlasTrackerHub *hub)
{
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, hub->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (all, key);

  for (guint i = 0; i < all->len; i++)
    {
      connection_detach (g_ptr_array_index (all, i));
      close_connection (g_ptr_array_index (all, i), SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                        "tracker shutting down");
    }
}

static void
atlas_tracker_hub_finalize (GObject *object)
{
  AtlasTrackerHub *hub = ATLAS_TRACKER_HUB (object);

  g_clear_handle_id (&hub->sweep_source, g_source_remove);
  /* Connections tell the coordinator they are gone while they are freed. */
  g_clear_pointer (&hub->connections, g_hash_table_unref);
  g_clear_pointer (&hub->donation, atlas_tracker_donation_free);
  g_clear_pointer (&hub->peers, g_hash_table_unref);
  g_clear_pointer (&hub->swarms, g_hash_table_unref);
  G_OBJECT_CLASS (atlas_tracker_hub_parent_class)->finalize (object);
}

static void
atlas_tracker_hub_class_init (AtlasTrackerHubClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = atlas_tracker_hub_finalize;
}

static void
atlas_tracker_hub_init (AtlasTrackerHub *hub)
{
  hub->connections = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) connection_free, NULL);
  hub->peers = g_hash_table_new (g_str_hash, g_str_equal);
  hub->swarms =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
}

AtlasTrackerHub *
atlas_tracker_hub_new (AtlasTrackerStore *store, AtlasTrackerMetrics *metrics)
{
  AtlasTrackerHub *hub = g_object_new (ATLAS_TYPE_TRACKER_HUB, NULL);

  hub->store = store;
  hub->metrics = metrics;
  hub->donation = atlas_tracker_donation_new (hub);
  atlas_tracker_hub_set_limits (hub, 180, 50, 200);
  return hub;
}

void
atlas_tracker_hub_set_donation_interval (AtlasTrackerHub *hub, guint interval_ms)
{
  g_return_if_fail (ATLAS_IS_TRACKER_HUB (hub));
  g_return_if_fail (interval_ms > 0);

  atlas_tracker_donation_set_interval (hub->donation, interval_ms);
}
