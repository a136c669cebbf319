/* atlas-ice-link.c — ICE with libnice in non-reliable mode (see the header). */
#include "atlas-ice-link.h"

#include "atlas-error.h"

#include <gio/gio.h>
#include <nice/agent.h>
#include <string.h>
#include <sys/socket.h>

/* RFC 5245 15.4: ufrag 4–256 and password 22–256 ice-chars. */
#define MIN_UFRAG_LENGTH 4
#define MIN_PASSWORD_LENGTH 22
#define MAX_CREDENTIAL_LENGTH 256
/* Remote candidates are untrusted input from the signaling channel: a line is
 * bounded, and so is how many the peer may send, since each one costs
 * connectivity checks. */
#define MAX_CANDIDATE_LINE 512
#define MAX_REMOTE_CANDIDATES 32
#define DEFAULT_CONNECT_TIMEOUT_MS 20000
#define COMPONENT_ID 1

/* libnice emits its signals on whichever thread released the agent's lock.
 * Everything is on one context today, but a call from another thread would
 * otherwise run our handlers there, so handlers only queue an event and the
 * link acts on it on its own context, in order. */
typedef enum
{
  EVENT_LOCAL_CANDIDATE,
  EVENT_GATHERING_DONE,
  EVENT_GATHERING_FAILED,
  EVENT_STATE,
  EVENT_SELECTED_PAIR,
} EventKind;

typedef struct
{
  EventKind kind;
  char *line;                    /* EVENT_LOCAL_CANDIDATE */
  NiceCandidateType type;        /* EVENT_LOCAL_CANDIDATE, EVENT_SELECTED_PAIR */
  NiceCandidateType remote_type; /* EVENT_SELECTED_PAIR */
  NiceComponentState state;
} Event;

struct _AtlasIceLink
{
  GObject parent_instance;

  GMainContext *context;
  NiceAgent *agent;
  guint stream_id;
  AtlasIceMode mode;
  guint connect_timeout_ms;

  GMutex events_lock;
  GQueue events; /* Event*, guarded by events_lock */
  GSource *events_source;
  GSource *timeout_source;

  gboolean gathering;
  char *remote_ufrag;
  char *remote_password;
  GSList *pending_remote; /* NiceCandidate* held until both sides can check */
  guint n_remote;
  gboolean remote_done;
  guint n_local;
  guint n_local_relayed;

  gboolean connected; /* libnice reported CONNECTED or READY */
  const char *selected_kind;
  const char *selected_remote_kind;
  gboolean ready;
  gboolean failed;
  guint64 dropped;

  AtlasDatagramReceiveFunc receive_func;
  gpointer receive_data;
};

enum
{
  SIGNAL_LOCAL_CANDIDATE,
  SIGNAL_GATHERING_DONE,
  SIGNAL_READY,
  SIGNAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void atlas_ice_link_datagram_path_init (AtlasDatagramPathInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (AtlasIceLink, atlas_ice_link, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ATLAS_TYPE_DATAGRAM_PATH,
                                                      atlas_ice_link_datagram_path_init))

/* Links made and not yet finalized: see _atlas_ice_link_get_n_live(). */
static gint n_live;

static void
event_free (Event *event)
{
  g_free (event->line);
  g_free (event);
}

static const char *
candidate_type_name (NiceCandidateType type)
{
  switch (type)
    {
    case NICE_CANDIDATE_TYPE_HOST:
      return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
      return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED:
      return "relay";
    default:
      return NULL;
    }
}

static void
fail (AtlasIceLink *self, GError *error)
{
  g_autoptr (GError) owned = error;

  /* Nothing to report once failed, or once a handler disposed of the link. */
  if (self->failed || self->agent == NULL)
    return;
  self->failed = TRUE;
  if (self->timeout_source != NULL)
    {
      g_source_destroy (self->timeout_source);
      g_clear_pointer (&self->timeout_source, g_source_unref);
    }
  g_debug ("ICE link %p failed: %s", self, owned->message);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, owned);
}

/* Bulk QUIC traffic in bursts overflows the default socket buffers (about
 * 200 KiB): each overflow is a lost packet that QUIC must detect and resend,
 * and the link slows to what the kernel drops. Measured on loopback (QUIC,
 * 512 MiB, one process): 129-146 MiB/s with 160-270 lost frames before,
 * see docs/ice.md for after. Best effort: the kernel caps it at rmem_max. */
#define ICE_SOCKET_BUFFER (4 * 1024 * 1024)

static void
enlarge_socket_buffers (AtlasIceLink *self)
{
  g_autoptr (GSocket) socket =
      nice_agent_get_selected_socket (self->agent, self->stream_id, COMPONENT_ID);

  if (socket == NULL)
    return;
  (void) g_socket_set_option (socket, SOL_SOCKET, SO_RCVBUF, ICE_SOCKET_BUFFER, NULL);
  (void) g_socket_set_option (socket, SOL_SOCKET, SO_SNDBUF, ICE_SOCKET_BUFFER, NULL);
}

static void
maybe_ready (AtlasIceLink *self)
{
  if (self->ready || self->failed || !self->connected || self->selected_kind == NULL)
    return;
  self->ready = TRUE;
  enlarge_socket_buffers (self);
  if (self->timeout_source != NULL)
    {
      g_source_destroy (self->timeout_source);
      g_clear_pointer (&self->timeout_source, g_source_unref);
    }
  g_signal_emit (self, signals[SIGNAL_READY], 0);
}

static void
handle_event (AtlasIceLink *self, Event *event)
{
  switch (event->kind)
    {
    case EVENT_LOCAL_CANDIDATE:
      self->n_local++;
      if (event->type == NICE_CANDIDATE_TYPE_RELAYED)
        self->n_local_relayed++;
      g_signal_emit (self, signals[SIGNAL_LOCAL_CANDIDATE], 0, event->line);
      break;

    case EVENT_GATHERING_DONE:
      g_signal_emit (self, signals[SIGNAL_GATHERING_DONE], 0);
      /* In relay-only mode nothing else may be offered, so without a relayed
       * candidate the link cannot work, whatever the peer sends. */
      if (self->mode == ATLAS_ICE_MODE_RELAY_ONLY && self->n_local_relayed == 0)
        fail (self, g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                                 "Relay-only ICE gathered no relayed candidate: no TURN server "
                                 "is configured, or it refused or did not answer"));
      else if (self->n_local == 0)
        fail (self, g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                                 "ICE gathered no local candidate (no usable network address)"));
      break;

    case EVENT_GATHERING_FAILED:
      fail (self, g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                               "libnice could not start gathering candidates "
                               "(no usable local address or port)"));
      break;

    case EVENT_STATE:
      if (event->state == NICE_COMPONENT_STATE_FAILED)
        fail (self, g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                                 "ICE failed: no candidate pair reached the peer "
                                 "(libnice component state: %s)",
                                 nice_component_state_to_string (event->state)));
      else if (event->state == NICE_COMPONENT_STATE_CONNECTED
               || event->state == NICE_COMPONENT_STATE_READY)
        {
          self->connected = TRUE;
          maybe_ready (self);
        }
      break;

    case EVENT_SELECTED_PAIR:
      self->selected_kind = candidate_type_name (event->type);
      self->selected_remote_kind = candidate_type_name (event->remote_type);
      maybe_ready (self);
      break;
    }
}

static gboolean
events_dispatch_cb (gpointer user_data)
{
  g_autoptr (AtlasIceLink) self = g_object_ref (ATLAS_ICE_LINK (user_data));
  GQueue events = G_QUEUE_INIT;
  Event *event;

  g_source_set_ready_time (self->events_source, -1);
  g_mutex_lock (&self->events_lock);
  events = self->events;
  g_queue_init (&self->events);
  g_mutex_unlock (&self->events_lock);

  while ((event = g_queue_pop_head (&events)) != NULL)
    {
      /* A signal handler may have disposed of the link. */
      if (self->agent != NULL)
        handle_event (self, event);
      event_free (event);
    }
  return G_SOURCE_CONTINUE;
}

/* Any thread. */
static void
push_event (AtlasIceLink *self, Event *event)
{
  g_mutex_lock (&self->events_lock);
  g_queue_push_tail (&self->events, event);
  g_mutex_unlock (&self->events_lock);
  g_source_set_ready_time (self->events_source, 0);
}

static gboolean
events_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return callback (user_data);
}

static GSourceFuncs events_source_funcs = {
  .dispatch = events_source_dispatch,
};

static void
new_candidate_cb (NiceAgent *agent, NiceCandidate *candidate, gpointer user_data)
{
  AtlasIceLink *self = user_data;
  Event *event;
  g_autofree char *sdp = NULL;

  if (candidate->stream_id != self->stream_id
      || candidate->transport != NICE_CANDIDATE_TRANSPORT_UDP)
    return;
  /* Peer-reflexive candidates are found by the checks themselves on both
   * sides; signaling them adds nothing. In relay-only mode nothing but a
   * relayed address may leave the machine, whatever libnice reports. */
  if (candidate->type == NICE_CANDIDATE_TYPE_PEER_REFLEXIVE)
    return;
  if (self->mode == ATLAS_ICE_MODE_RELAY_ONLY && candidate->type != NICE_CANDIDATE_TYPE_RELAYED)
    return;

  if (self->mode == ATLAS_ICE_MODE_RELAY_ONLY)
    {
      /* libnice gives a relayed candidate the host socket's address as its
       * base, and the line would carry it as "raddr … rport …": exactly the
       * address relay-only mode must not reveal. Omit it. */
      NiceCandidate *copy = nice_candidate_copy (candidate);

      nice_address_init (&copy->base_addr);
      sdp = nice_agent_generate_local_candidate_sdp (agent, copy);
      nice_candidate_free (copy);
    }
  else
    sdp = nice_agent_generate_local_candidate_sdp (agent, candidate);
  if (sdp == NULL)
    return;
  event = g_new0 (Event, 1);
  event->kind = EVENT_LOCAL_CANDIDATE;
  event->type = candidate->type;
  event->line = g_strdup (g_str_has_prefix (sdp, "a=") ? sdp + 2 : sdp);
  push_event (self, event);
}

static void
gathering_done_cb (NiceAgent *agent, guint stream_id, gpointer user_data)
{
  AtlasIceLink *self = user_data;
  Event *event;

  if (stream_id != self->stream_id)
    return;
  event = g_new0 (Event, 1);
  event->kind = EVENT_GATHERING_DONE;
  push_event (self, event);
}

static void
component_state_changed_cb (NiceAgent *agent, guint stream_id, guint component_id, guint state,
                            gpointer user_data)
{
  AtlasIceLink *self = user_data;
  Event *event;

  if (stream_id != self->stream_id)
    return;
  event = g_new0 (Event, 1);
  event->kind = EVENT_STATE;
  event->state = state;
  push_event (self, event);
}

static void
new_selected_pair_cb (NiceAgent *agent, guint stream_id, guint component_id, NiceCandidate *local,
                      NiceCandidate *remote, gpointer user_data)
{
  AtlasIceLink *self = user_data;
  Event *event;

  if (stream_id != self->stream_id)
    return;
  event = g_new0 (Event, 1);
  event->kind = EVENT_SELECTED_PAIR;
  event->type = local->type;
  event->remote_type = remote->type;
  push_event (self, event);
}

/* Runs on the link's context: libnice dispatches received datagrams on the
 * context given to nice_agent_attach_recv. */
static void
receive_cb (NiceAgent *agent, guint stream_id, guint component_id, guint length, gchar *buffer,
            gpointer user_data)
{
  AtlasIceLink *self = user_data;

  if (self->receive_func != NULL && length > 0)
    self->receive_func ((const guint8 *) buffer, length, self->receive_data);
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  AtlasIceLink *self = user_data;

  g_clear_pointer (&self->timeout_source, g_source_unref);
  fail (self, g_error_new (ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                           "No ICE connection to the peer within %u ms", self->connect_timeout_ms));
  return G_SOURCE_REMOVE;
}

static gboolean
parse_server (const char *text, const char *what, char **host, guint *port, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GSocketConnectable) address = NULL;

  address = g_network_address_parse (text, 3478, &local_error);
  if (address == NULL)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT, "Invalid %s address “%s”: %s",
                   what, text, local_error->message);
      return FALSE;
    }
  *host = g_strdup (g_network_address_get_hostname (G_NETWORK_ADDRESS (address)));
  *port = g_network_address_get_port (G_NETWORK_ADDRESS (address));
  return TRUE;
}

static gboolean
configure_agent (AtlasIceLink *self, const AtlasIceConfig *config, GError **error)
{
  if (config->local_addresses != NULL)
    {
      for (guint i = 0; config->local_addresses[i] != NULL; i++)
        {
          NiceAddress address;

          nice_address_init (&address);
          if (!nice_address_set_from_string (&address, config->local_addresses[i]))
            {
              g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                           "Invalid local address “%s” for ICE", config->local_addresses[i]);
              return FALSE;
            }
          nice_agent_add_local_address (self->agent, &address);
        }
    }

  /* A STUN server only reveals the public address, which relay-only mode
   * must not use; libnice's force-relay skips it too. */
  if (config->stun_server != NULL && config->mode != ATLAS_ICE_MODE_RELAY_ONLY)
    {
      g_autofree char *host = NULL;
      guint port;

      if (!parse_server (config->stun_server, "STUN server", &host, &port, error))
        return FALSE;
      g_object_set (self->agent, "stun-server", host, "stun-server-port", port, NULL);
    }

  if (config->turn_server != NULL)
    {
      g_autofree char *host = NULL;
      guint port;

      if (!parse_server (config->turn_server, "TURN server", &host, &port, error))
        return FALSE;
      if (config->turn_username == NULL || config->turn_password == NULL)
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                       "TURN server “%s” needs a username and a password", config->turn_server);
          return FALSE;
        }
      /* UDP only: in RFC 5245 mode libnice's TURN "TLS" is plain TCP, and it
       * makes no TURN-TCP allocations, so nothing else would help here. */
      if (!nice_agent_set_relay_info (self->agent, self->stream_id, COMPONENT_ID, host, port,
                                      config->turn_username, config->turn_password,
                                      NICE_RELAY_TYPE_TURN_UDP))
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                       "libnice refused TURN server “%s”", config->turn_server);
          return FALSE;
        }
    }
  return TRUE;
}

AtlasIceLink *
atlas_ice_link_new (gboolean controlling, const AtlasIceConfig *config, GError **error)
{
  g_autoptr (AtlasIceLink) self = NULL;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (ATLAS_TYPE_ICE_LINK, NULL);
  self->context = g_main_context_ref_thread_default ();
  self->mode = config->mode;
  self->connect_timeout_ms =
      config->connect_timeout_ms > 0 ? config->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;

  self->events_source = g_source_new (&events_source_funcs, sizeof (GSource));
  g_source_set_callback (self->events_source, events_dispatch_cb, self, NULL);
  g_source_set_name (self->events_source, "AtlasIceLink events");
  g_source_attach (self->events_source, self->context);

  /* Trickle mode: candidates are exchanged as they appear, and ICE may not
   * declare failure before the peer says it has sent them all. */
  self->agent = nice_agent_new_full (self->context, NICE_COMPATIBILITY_RFC5245,
                                     NICE_AGENT_OPTION_ICE_TRICKLE);
  /* Datagrams only (QUIC provides reliability). No ICE-TCP: QUIC needs UDP.
   * UPnP opens ports on the user's router, so only on request. Consent
   * freshness stays off (it is a construct-time option, not passed above):
   * 0.1.21 drops working links after 10 s; QUIC's idle timeout notices a
   * vanished peer instead. Keepalives (STUN binding
   * indications) are always sent in full mode and keep NAT bindings open. */
  g_object_set (self->agent, "controlling-mode", controlling, "upnp", config->upnp, "ice-tcp",
                FALSE, "ice-udp", TRUE, "force-relay", config->mode == ATLAS_ICE_MODE_RELAY_ONLY,
                NULL);

  self->stream_id = nice_agent_add_stream (self->agent, 1);
  if (self->stream_id == 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_FAILED, "libnice could not add an ICE stream");
      return NULL;
    }

  if (!configure_agent (self, config, error))
    return NULL;

  g_signal_connect (self->agent, "new-candidate-full", G_CALLBACK (new_candidate_cb), self);
  g_signal_connect (self->agent, "candidate-gathering-done", G_CALLBACK (gathering_done_cb), self);
  g_signal_connect (self->agent, "component-state-changed", G_CALLBACK (component_state_changed_cb),
                    self);
  g_signal_connect (self->agent, "new-selected-pair-full", G_CALLBACK (new_selected_pair_cb), self);
  /* libnice makes no progress on a component without a receiver. */
  nice_agent_attach_recv (self->agent, self->stream_id, COMPONENT_ID, self->context, receive_cb,
                          self);

  return g_steal_pointer (&self);
}

/* Remote candidates wait until gathering has started and the peer's
 * credentials are known, so that libnice never checks a pair it cannot
 * authenticate. */
static void
flush_remote (AtlasIceLink *self)
{
  if (!self->gathering || self->remote_ufrag == NULL)
    return;

  if (self->pending_remote != NULL)
    {
      int added;

      added = nice_agent_set_remote_candidates (self->agent, self->stream_id, COMPONENT_ID,
                                                self->pending_remote);
      if (added < 0)
        g_debug ("libnice rejected %u remote candidates", g_slist_length (self->pending_remote));
      g_slist_free_full (g_steal_pointer (&self->pending_remote),
                         (GDestroyNotify) nice_candidate_free);
    }
  if (self->remote_done)
    nice_agent_peer_candidate_gathering_done (self->agent, self->stream_id);
}

void
atlas_ice_link_gather (AtlasIceLink *self)
{
  g_return_if_fail (ATLAS_IS_ICE_LINK (self));
  g_return_if_fail (!self->gathering);

  self->gathering = TRUE;
  self->timeout_source = g_timeout_source_new (self->connect_timeout_ms);
  g_source_set_callback (self->timeout_source, connect_timeout_cb, self, NULL);
  g_source_set_name (self->timeout_source, "AtlasIceLink connect timeout");
  g_source_attach (self->timeout_source, self->context);

  if (!nice_agent_gather_candidates (self->agent, self->stream_id))
    {
      Event *event = g_new0 (Event, 1);

      event->kind = EVENT_GATHERING_FAILED;
      push_event (self, event);
      return;
    }
  flush_remote (self);
}

void
atlas_ice_link_get_local_credentials (AtlasIceLink *self, char **ufrag, char **password)
{
  g_autofree char *local_ufrag = NULL;
  g_autofree char *local_password = NULL;

  g_return_if_fail (ATLAS_IS_ICE_LINK (self));

  nice_agent_get_local_credentials (self->agent, self->stream_id, &local_ufrag, &local_password);
  if (ufrag != NULL)
    *ufrag = g_steal_pointer (&local_ufrag);
  if (password != NULL)
    *password = g_steal_pointer (&local_password);
}

static gboolean
is_ice_credential (const char *text, gsize min_length)
{
  gsize length = strnlen (text, MAX_CREDENTIAL_LENGTH + 1);

  if (length < min_length || length > MAX_CREDENTIAL_LENGTH)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (text[i]) && text[i] != '+' && text[i] != '/')
      return FALSE;
  return TRUE;
}

gboolean
atlas_ice_link_set_remote_credentials (AtlasIceLink *self, const char *ufrag, const char *password,
                                       GError **error)
{
  g_return_val_if_fail (ATLAS_IS_ICE_LINK (self), FALSE);
  g_return_val_if_fail (ufrag != NULL && password != NULL, FALSE);

  if (!is_ice_credential (ufrag, MIN_UFRAG_LENGTH)
      || !is_ice_credential (password, MIN_PASSWORD_LENGTH))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "Invalid ICE credentials from the peer (ufrag “%.64s”): expected 4–256 and "
                   "22–256 characters of A–Z, a–z, 0–9, “+” and “/”",
                   ufrag);
      return FALSE;
    }
  if (self->remote_ufrag != NULL)
    {
      if (g_str_equal (self->remote_ufrag, ufrag) && g_str_equal (self->remote_password, password))
        return TRUE;
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "The peer changed its ICE credentials; ICE restarts are not supported");
      return FALSE;
    }
  if (!nice_agent_set_remote_credentials (self->agent, self->stream_id, ufrag, password))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "libnice refused the peer's ICE credentials");
      return FALSE;
    }
  self->remote_ufrag = g_strdup (ufrag);
  self->remote_password = g_strdup (password);
  flush_remote (self);
  return TRUE;
}

static gboolean
is_decimal (const char *text, guint64 min, guint64 max, guint64 *value)
{
  guint64 number;

  if (!g_ascii_string_to_unsigned (text, 10, min, max, &number, NULL))
    return FALSE;
  if (value != NULL)
    *value = number;
  return TRUE;
}

static gboolean
is_foundation (const char *text)
{
  gsize length = strlen (text);

  if (length == 0 || length > 32)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (text[i]) && text[i] != '+' && text[i] != '/')
      return FALSE;
  return TRUE;
}

/* libnice's own parser trusts its input (a TCP line without "tcptype" hits a
 * critical, an empty foundation is taken as is), so the grammar of RFC 5245
 * 15.1 is checked here first: foundation, component, transport, priority,
 * address, port, "typ" type, then name/value pairs. Only IP literals are
 * accepted as addresses: resolving names from a peer would leak lookups. */
static gboolean
check_candidate_line (const char *line, gboolean *is_udp, const char **reason)
{
  g_auto (GStrv) tokens = NULL;
  g_autoptr (GInetAddress) address = NULL;
  guint n_tokens;
  gboolean have_type = FALSE;
  gboolean have_tcptype = FALSE;
  guint64 component;

  for (const char *p = line; *p != '\0'; p++)
    if (!g_ascii_isgraph (*p) && *p != ' ')
      {
        *reason = "control or non-ASCII character";
        return FALSE;
      }
  if (!g_str_has_prefix (line, "candidate:"))
    {
      *reason = "does not start with “candidate:”";
      return FALSE;
    }

  tokens = g_strsplit (line + strlen ("candidate:"), " ", -1);
  n_tokens = g_strv_length (tokens);
  if (n_tokens < 8 || (n_tokens - 6) % 2 != 0)
    {
      *reason = "wrong number of fields";
      return FALSE;
    }
  for (guint i = 0; i < n_tokens; i++)
    if (*tokens[i] == '\0')
      {
        *reason = "empty field";
        return FALSE;
      }
  if (!is_foundation (tokens[0]))
    {
      *reason = "bad foundation";
      return FALSE;
    }
  if (!is_decimal (tokens[1], 1, 256, &component) || component != COMPONENT_ID)
    {
      *reason = "component is not 1";
      return FALSE;
    }
  if (g_ascii_strcasecmp (tokens[2], "UDP") == 0)
    *is_udp = TRUE;
  else if (g_ascii_strcasecmp (tokens[2], "TCP") == 0)
    *is_udp = FALSE;
  else
    {
      *reason = "transport is neither UDP nor TCP";
      return FALSE;
    }
  if (!is_decimal (tokens[3], 1, G_MAXUINT32, NULL))
    {
      *reason = "bad priority";
      return FALSE;
    }
  address = g_inet_address_new_from_string (tokens[4]);
  if (address == NULL || g_inet_address_get_is_any (address)
      || g_inet_address_get_is_multicast (address))
    {
      *reason = "address is not a unicast IP address";
      return FALSE;
    }
  if (!is_decimal (tokens[5], 1, 65535, NULL))
    {
      *reason = "bad port";
      return FALSE;
    }
  for (guint i = 6; i + 1 < n_tokens; i += 2)
    {
      const char *name = tokens[i], *value = tokens[i + 1];

      if (g_str_equal (name, "typ"))
        {
          if (!g_str_equal (value, "host") && !g_str_equal (value, "srflx")
              && !g_str_equal (value, "prflx") && !g_str_equal (value, "relay"))
            {
              *reason = "unknown candidate type";
              return FALSE;
            }
          have_type = TRUE;
        }
      else if (g_str_equal (name, "rport") && !is_decimal (value, 0, 65535, NULL))
        {
          *reason = "bad rport";
          return FALSE;
        }
      else if (g_str_equal (name, "tcptype"))
        {
          if (!g_str_equal (value, "active") && !g_str_equal (value, "passive")
              && !g_str_equal (value, "so"))
            {
              *reason = "unknown tcptype";
              return FALSE;
            }
          have_tcptype = TRUE;
        }
    }
  if (!*is_udp && !have_tcptype)
    {
      *reason = "TCP candidate without “tcptype”";
      return FALSE;
    }
  if (!have_type || !g_str_equal (tokens[6], "typ"))
    {
      *reason = "no “typ” after the port";
      return FALSE;
    }
  return TRUE;
}

gboolean
atlas_ice_link_add_remote_candidate (AtlasIceLink *self, const char *candidate_line, GError **error)
{
  g_autofree char *sdp = NULL;
  const char *line;
  const char *reason = NULL;
  gboolean is_udp = FALSE;
  NiceCandidate *candidate;

  g_return_val_if_fail (ATLAS_IS_ICE_LINK (self), FALSE);
  g_return_val_if_fail (candidate_line != NULL, FALSE);

  line = g_str_has_prefix (candidate_line, "a=") ? candidate_line + 2 : candidate_line;
  if (strnlen (candidate_line, MAX_CANDIDATE_LINE + 1) > MAX_CANDIDATE_LINE)
    {
      g_autofree char *start = g_strndup (candidate_line, 64);
      g_autofree char *escaped = g_strescape (start, NULL);

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "ICE candidate line longer than %d bytes: “%s…”", MAX_CANDIDATE_LINE, escaped);
      return FALSE;
    }
  if (!check_candidate_line (line, &is_udp, &reason))
    {
      /* Escaped: the message must stay readable UTF-8 whatever the peer sent. */
      g_autofree char *escaped = g_strescape (candidate_line, NULL);

      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "Invalid ICE candidate line (%s): “%s”", reason, escaped);
      return FALSE;
    }
  if (self->n_remote >= MAX_REMOTE_CANDIDATES)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL,
                   "The peer sent more than %d ICE candidates", MAX_REMOTE_CANDIDATES);
      return FALSE;
    }
  self->n_remote++;
  if (!is_udp)
    return TRUE;

  sdp = g_strconcat ("a=", line, NULL);
  candidate = nice_agent_parse_remote_candidate_sdp (self->agent, self->stream_id, sdp);
  if (candidate == NULL)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "libnice could not parse the ICE candidate line “%s”", candidate_line);
      return FALSE;
    }
  self->pending_remote = g_slist_append (self->pending_remote, candidate);
  flush_remote (self);
  return TRUE;
}

void
atlas_ice_link_remote_gathering_done (AtlasIceLink *self)
{
  g_return_if_fail (ATLAS_IS_ICE_LINK (self));

  if (self->remote_done)
    return;
  self->remote_done = TRUE;
  flush_remote (self);
}

const char *
atlas_ice_link_get_selected_kind (AtlasIceLink *self)
{
  g_return_val_if_fail (ATLAS_IS_ICE_LINK (self), NULL);
  return self->selected_kind;
}

const char *
atlas_ice_link_get_selected_remote_kind (AtlasIceLink *self)
{
  g_return_val_if_fail (ATLAS_IS_ICE_LINK (self), NULL);
  return self->selected_remote_kind;
}

guint64
atlas_ice_link_get_dropped_count (AtlasIceLink *self)
{
  g_return_val_if_fail (ATLAS_IS_ICE_LINK (self), 0);
  return self->dropped;
}

static gboolean
atlas_ice_link_send (AtlasDatagramPath *path, const guint8 *data, gsize length, GError **error)
{
  AtlasIceLink *self = ATLAS_ICE_LINK (path);

  if (self->failed || !self->ready)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NETWORK, "The ICE link is %s",
                   self->failed ? "broken" : "not connected yet");
      return FALSE;
    }
  if (length == 0 || length > ATLAS_ICE_LINK_MAX_DATAGRAM)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "Datagram of %" G_GSIZE_FORMAT " bytes; an ICE link carries 1 to %d", length,
                   ATLAS_ICE_LINK_MAX_DATAGRAM);
      return FALSE;
    }
  /* A negative return is a full socket buffer (EWOULDBLOCK) or a transient
   * send error: to the caller this is a lost datagram, as on UDP. */
  if (nice_agent_send (self->agent, self->stream_id, COMPONENT_ID, length, (const char *) data) < 0)
    self->dropped++;
  return TRUE;
}

static void
atlas_ice_link_set_receive_func (AtlasDatagramPath *path, AtlasDatagramReceiveFunc func,
                                 gpointer user_data)
{
  AtlasIceLink *self = ATLAS_ICE_LINK (path);

  self->receive_func = func;
  self->receive_data = func != NULL ? user_data : NULL;
}

/* 1200 bytes is QUIC's minimum datagram size, and it fits everywhere: an IPv6
 * minimum MTU of 1280 minus 40 bytes of IPv6 and 8 of UDP header leaves 1232,
 * room for a TURN ChannelData header (4) and a little tunnel overhead. A
 * larger datagram could be fragmented or silently dropped on a relayed or
 * tunnelled path. */
static gsize
atlas_ice_link_get_max_datagram_size (AtlasDatagramPath *path)
{
  return ATLAS_ICE_LINK_MAX_DATAGRAM;
}

static void
atlas_ice_link_datagram_path_init (AtlasDatagramPathInterface *iface)
{
  iface->send = atlas_ice_link_send;
  iface->set_receive_func = atlas_ice_link_set_receive_func;
  iface->get_max_datagram_size = atlas_ice_link_get_max_datagram_size;
}

static void
atlas_ice_link_dispose (GObject *object)
{
  AtlasIceLink *self = ATLAS_ICE_LINK (object);

  if (self->timeout_source != NULL)
    {
      g_source_destroy (self->timeout_source);
      g_clear_pointer (&self->timeout_source, g_source_unref);
    }
  if (self->events_source != NULL)
    {
      g_source_destroy (self->events_source);
      g_clear_pointer (&self->events_source, g_source_unref);
    }
  if (self->agent != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->agent, self);
      if (self->stream_id != 0)
        nice_agent_attach_recv (self->agent, self->stream_id, COMPONENT_ID, self->context, NULL,
                                NULL);
      /* Releases TURN allocations on the server in the background; the task
       * keeps the agent alive until that is done. */
      nice_agent_close_async (self->agent, NULL, NULL);
      g_clear_object (&self->agent);
    }
  g_slist_free_full (g_steal_pointer (&self->pending_remote), (GDestroyNotify) nice_candidate_free);

  G_OBJECT_CLASS (atlas_ice_link_parent_class)->dispose (object);
}

static void
atlas_ice_link_finalize (GObject *object)
{
  AtlasIceLink *self = ATLAS_ICE_LINK (object);

  g_queue_clear_full (&self->events, (GDestroyNotify) event_free);
  g_mutex_clear (&self->events_lock);
  g_free (self->remote_ufrag);
  g_free (self->remote_password);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_atomic_int_add (&n_live, -1);

  G_OBJECT_CLASS (atlas_ice_link_parent_class)->finalize (object);
}

static void
atlas_ice_link_class_init (AtlasIceLinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = atlas_ice_link_dispose;
  object_class->finalize = atlas_ice_link_finalize;

  /* A local candidate line to send to the peer ("candidate:…"). */
  signals[SIGNAL_LOCAL_CANDIDATE] =
      g_signal_new ("local-candidate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  /* Every local candidate has been emitted; tell the peer. */
  signals[SIGNAL_GATHERING_DONE] =
      g_signal_new ("gathering-done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 0);
  /* A pair is selected; datagrams flow. Emitted once. */
  signals[SIGNAL_READY] = g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* The link cannot be used (before or after "ready"). Emitted once. */
  signals[SIGNAL_FAILED] =
      g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
atlas_ice_link_init (AtlasIceLink *self)
{
  g_mutex_init (&self->events_lock);
  g_queue_init (&self->events);
  g_atomic_int_inc (&n_live);
}

guint
_atlas_ice_link_get_n_live (void)
{
  return (guint) g_atomic_int_get (&n_live);
}
