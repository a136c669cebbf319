/* atlas-cli-peers.c — peers for `atlas get` and `atlas seed`: the "peers"
 * option group, the swarm those options describe (identity, tracker channel,
 * ICE), and the loop that keeps serving complete files until the user stops it.
 *
 * Peers are on when a tracker is given and at least one file can be shared
 * (SHA-256 piece hashes and a whole-file SHA-256, as `atlas publish` writes);
 * a plain URL never opens a tracker connection. The swarm is started before
 * the session, as the engine asks, so that the first mirror claims are
 * already spread over the file.
 */

#include "atlas-config.h"

#include <stdio.h>
#include <string.h>

#include "atlas-cli.h"
#include "atlas-swarm.h"

/* How often `atlas seed` reports its totals (when they changed). */
#define TOTALS_INTERVAL_S 5

struct _AtlasCliPeers
{
  AtlasSession *session;
  AtlasCliProgress *progress; /* not owned: the command outlives us */
  AtlasPeerIdentity *identity;
  AtlasTrackerClient *tracker;
  AtlasSwarm *swarm;
  char *tracker_url;
  gulong connected_id;
  gulong disconnected_id;
  GError *refused; /* set when the tracker refused the token */
  gboolean refusal_ends_command;
  gboolean warned_down;
  gboolean started;
};

/* ---- options ---- */

void
atlas_cli_peer_options_clear (AtlasCliPeerOptions *o)
{
  g_clear_pointer (&o->stun, g_free);
  g_clear_pointer (&o->turn, g_free);
  g_clear_pointer (&o->turn_user, g_free);
  g_clear_pointer (&o->turn_password, g_free);
  g_clear_pointer (&o->local_addresses, g_strfreev);
  g_clear_pointer (&o->upload_limit, g_free);
  g_clear_pointer (&o->peer_upload_limit, g_free);
  g_clear_pointer (&o->identity, g_free);
}

GOptionGroup *
atlas_cli_peer_option_group (AtlasCliPeerOptions *o, gboolean with_seed_after)
{
  const GOptionEntry entries[] = {
    { "no-peers", 0, 0, G_OPTION_ARG_NONE, &o->no_peers,
      "Do not exchange pieces with peers (mirrors only)", NULL },
    { "relay-only", 0, 0, G_OPTION_ARG_NONE, &o->relay_only,
      "Reach peers only through the TURN relay, so no local address leaves this machine", NULL },
    { "stun", 0, 0, G_OPTION_ARG_STRING, &o->stun,
      "STUN server that tells this machine its public address", "HOST:PORT" },
    { "turn", 0, 0, G_OPTION_ARG_STRING, &o->turn, "TURN relay for peers that cannot meet directly",
      "HOST:PORT" },
    { "turn-user", 0, 0, G_OPTION_ARG_STRING, &o->turn_user, "User name on the TURN relay", "U" },
    { "turn-password", 0, 0, G_OPTION_ARG_STRING, &o->turn_password,
      "Password on the TURN relay (better: $ATLAS_TURN_PASSWORD, which ps does not show)", "P" },
    { "upnp", 0, 0, G_OPTION_ARG_NONE, &o->upnp,
      "Ask the router to forward a port (UPnP; off by default)", NULL },
    { "local-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->local_addresses,
      "Offer peers only this local address (repeatable; default: every one but loopback)", "IP" },
    { "upload-limit", 0, 0, G_OPTION_ARG_STRING, &o->upload_limit,
      "Upload limit over all peers, e.g. 500K, 2M (bytes/s; 0 = none)", "RATE" },
    { "peer-upload-limit", 0, 0, G_OPTION_ARG_STRING, &o->peer_upload_limit,
      "Upload limit for each peer", "RATE" },
    { "max-peers", 0, 0, G_OPTION_ARG_INT, &o->max_peers, "Peers per file (default: 30)", "N" },
    { "identity", 0, 0, G_OPTION_ARG_FILENAME, &o->identity,
      "Folder of this peer's key and certificate (default: $XDG_DATA_HOME/download-atlas/peer)",
      "DIR" },
    { NULL }
  };
  const GOptionEntry seed_after[] = {
    { "seed-after", 0, 0, G_OPTION_ARG_NONE, &o->seed_after,
      "When done, keep serving the files to peers until interrupted", NULL },
    { NULL }
  };
  GOptionGroup *group = g_option_group_new (
      "peers", "Peer options (used with a tracker):", "Show the peer options", NULL, NULL);

  g_option_group_add_entries (group, entries);
  if (with_seed_after)
    g_option_group_add_entries (group, seed_after);
  return group;
}

gboolean
atlas_cli_request_is_shareable (const AtlasRequest *request)
{
  GArray *sums = atlas_request_get_checksums (request);

  if (atlas_request_get_piece_type (request) != ATLAS_HASH_SHA256
      || atlas_request_get_piece_digests (request) == NULL)
    return FALSE;
  for (guint i = 0; sums != NULL && i < sums->len; i++)
    if (g_array_index (sums, AtlasChecksum, i).type == ATLAS_HASH_SHA256)
      return TRUE;
  return FALSE;
}

gboolean
atlas_cli_peers_wanted (const AtlasCliPeerOptions *o, const char *tracker_url, GPtrArray *requests)
{
  if (o->no_peers || tracker_url == NULL)
    return FALSE;
  for (guint i = 0; requests != NULL && i < requests->len; i++)
    if (atlas_cli_request_is_shareable (g_ptr_array_index (requests, i)))
      return TRUE;
  return FALSE;
}

/* libnice wants numeric server addresses; a name is resolved once, here. */
static char *
resolve_server (const char *option, const char *text, GError **error)
{
  g_autoptr (GSocketConnectable) address = NULL;
  g_autoptr (GResolver) resolver = g_resolver_get_default ();
  g_autoptr (GList) resolved = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *ip = NULL;
  const char *host;
  guint16 port;

  address = g_network_address_parse (text, 3478, &local_error);
  if (address == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s wants HOST:PORT, not '%s': %s", option, text, local_error->message);
      return NULL;
    }
  host = g_network_address_get_hostname (G_NETWORK_ADDRESS (address));
  port = g_network_address_get_port (G_NETWORK_ADDRESS (address));
  if (g_hostname_is_ip_address (host))
    ip = g_strdup (host);
  else
    {
      resolved = g_resolver_lookup_by_name (resolver, host, atlas_cli_interrupt_cancellable (),
                                            &local_error);
      if (resolved == NULL)
        {
          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NETWORK,
                       "cannot resolve the %s server '%s': %s", option + 2, host,
                       local_error->message);
          return NULL;
        }
      ip = g_inet_address_to_string (resolved->data);
      g_list_free_full (g_steal_pointer (&resolved), g_object_unref);
    }
  /* IPv6 literals need brackets to carry a port. */
  return strchr (ip, ':') != NULL ? g_strdup_printf ("[%s]:%u", ip, port)
                                  : g_strdup_printf ("%s:%u", ip, port);
}

static void
ice_config_clear (AtlasIceConfig *ice)
{
  g_clear_pointer (&ice->stun_server, g_free);
  g_clear_pointer (&ice->turn_server, g_free);
  g_clear_pointer (&ice->turn_username, g_free);
  g_clear_pointer (&ice->turn_password, g_free);
  g_clear_pointer (&ice->local_addresses, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (AtlasIceConfig, ice_config_clear)

/* Usage mistakes are G_OPTION_ERROR, as for the other options. */
static gboolean
build_ice_config (const AtlasCliPeerOptions *o, AtlasIceConfig *ice, GError **error)
{
  const char *password = o->turn_password;
  g_autoptr (AtlasIceLink) probe = NULL;
  g_autoptr (GError) local_error = NULL;

  if (password == NULL || *password == '\0')
    password = g_getenv ("ATLAS_TURN_PASSWORD");
  if (o->turn == NULL && (o->turn_user != NULL || o->turn_password != NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "--turn-user and --turn-password go with --turn HOST:PORT");
      return FALSE;
    }
  if (o->turn != NULL && (o->turn_user == NULL || password == NULL || *password == '\0'))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "--turn needs --turn-user and a password (--turn-password or "
                   "$ATLAS_TURN_PASSWORD)");
      return FALSE;
    }
  for (guint i = 0; o->local_addresses != NULL && o->local_addresses[i] != NULL; i++)
    if (!g_hostname_is_ip_address (o->local_addresses[i]))
      {
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     "--local-address wants an IP address such as 192.0.2.7, not '%s'",
                     o->local_addresses[i]);
        return FALSE;
      }

  ice->mode = o->relay_only ? ATLAS_ICE_MODE_RELAY_ONLY : ATLAS_ICE_MODE_DIRECT;
  ice->upnp = o->upnp;
  ice->local_addresses = g_strdupv (o->local_addresses);
  if (o->stun != NULL && (ice->stun_server = resolve_server ("--stun", o->stun, error)) == NULL)
    return FALSE;
  if (o->turn != NULL)
    {
      ice->turn_server = resolve_server ("--turn", o->turn, error);
      if (ice->turn_server == NULL)
        return FALSE;
      ice->turn_username = g_strdup (o->turn_user);
      ice->turn_password = g_strdup (password);
    }

  /* The swarm makes its links much later, where a bad setting would only be
   * a log line per peer; one trial link here turns it into a usage error. */
  probe = atlas_ice_link_new (TRUE, ice, &local_error);
  if (probe == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s", local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* ---- the swarm ---- */

static void
emit_tracker_event (AtlasCliPeers *self, gboolean connected, const GError *error)
{
  g_autoptr (GString) line = g_string_new ("{\"event\":\"tracker\",\"url\":");

  atlas_cli_json_append_string (line, self->tracker_url);
  g_string_append_printf (line, ",\"connected\":%s,\"error\":", connected ? "true" : "false");
  atlas_cli_json_append_string (line, error != NULL ? error->message : NULL);
  g_string_append_c (line, '}');
  atlas_cli_progress_json (self->progress, line->str);
}

static void
tracker_connected_cb (AtlasTrackerClient *tracker, gpointer user_data)
{
  AtlasCliPeers *self = user_data;

  emit_tracker_event (self, TRUE, NULL);
  if (self->warned_down)
    atlas_cli_progress_print (self->progress, TRUE, "atlas: connected to the tracker %s again.",
                              self->tracker_url);
  self->warned_down = FALSE;
}

static void
tracker_disconnected_cb (AtlasTrackerClient *tracker, const GError *error, gpointer user_data)
{
  AtlasCliPeers *self = user_data;

  if (error == NULL)
    return; /* our own stop */
  emit_tracker_event (self, FALSE, error);
  if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_PERMISSION))
    {
      /* The client does not retry a refused token; the command decides
       * whether that ends it (seed) or only its peers (get). */
      if (self->refused == NULL)
        {
          self->refused = g_error_copy (error);
          if (!self->refusal_ends_command)
            atlas_cli_progress_print (self->progress, TRUE,
                                      "atlas: warning: %s; continuing without peers",
                                      error->message);
        }
      return;
    }
  /* Links already made go on without the tracker, and the client keeps
   * reconnecting; say so once, not at every attempt. */
  if (!self->warned_down
      && (atlas_cli_progress_get_mode (self->progress) == ATLAS_CLI_PROGRESS_TTY
          || atlas_cli_progress_get_mode (self->progress) == ATLAS_CLI_PROGRESS_PLAIN))
    atlas_cli_progress_print (self->progress, TRUE,
                              "atlas: no connection to the tracker %s (%s); retrying, and "
                              "peers already connected keep trading.",
                              self->tracker_url, error->message);
  self->warned_down = TRUE;
}

AtlasCliPeers *
atlas_cli_peers_new (const AtlasCliPeerOptions *o, const char *tracker_url, const char *token,
                     const char *ca_file, AtlasSession *session, AtlasCliProgress *progress,
                     gboolean refusal_ends_command, GError **error)
{
  g_auto (AtlasIceConfig) ice = { 0 };
  g_autofree char *default_identity = NULL;
  g_autoptr (AtlasPeerIdentity) identity = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *identity_dir = o->identity;
  guint64 upload = 0;
  guint64 per_peer = 0;
  guint max_peers = 0;
  AtlasCliPeers *self;

  if (o->upload_limit != NULL && !atlas_cli_parse_rate (o->upload_limit, &upload, error))
    return NULL;
  if (o->peer_upload_limit != NULL
      && !atlas_cli_parse_rate (o->peer_upload_limit, &per_peer, error))
    return NULL;
  if (o->max_peers != 0 && !atlas_cli_parse_count ("--max-peers", o->max_peers, &max_peers, error))
    return NULL;
  if (token == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "peers need a tracker token: set ATLAS_TRACKER_TOKEN (or --token), or "
                   "use --no-peers");
      return NULL;
    }
  if (!build_ice_config (o, &ice, error))
    return NULL;

  if (identity_dir == NULL)
    identity_dir = default_identity =
        g_build_filename (g_get_user_data_dir (), "download-atlas", "peer", NULL);
  identity = atlas_peer_identity_load_or_create (identity_dir, &local_error);
  if (identity == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "cannot use the peer identity in '%s': ", identity_dir);
      return NULL;
    }

  self = g_new0 (AtlasCliPeers, 1);
  self->session = g_object_ref (session);
  self->progress = progress;
  self->refusal_ends_command = refusal_ends_command;
  self->identity = g_steal_pointer (&identity);
  self->tracker_url = g_strdup (tracker_url);
  self->tracker = atlas_tracker_client_new (tracker_url, token, ca_file);
  self->connected_id =
      g_signal_connect (self->tracker, "connected", G_CALLBACK (tracker_connected_cb), self);
  self->disconnected_id =
      g_signal_connect (self->tracker, "disconnected", G_CALLBACK (tracker_disconnected_cb), self);
  self->swarm = atlas_swarm_new (session, self->identity, self->tracker, &ice);
  if (max_peers > 0)
    atlas_swarm_set_max_peers (self->swarm, max_peers);
  atlas_swarm_set_upload_limits (self->swarm, upload, per_peer);
  if (o->relay_only && o->turn == NULL)
    atlas_cli_warning ("--relay-only without --turn: no peer can be reached, so every byte comes "
                       "from the mirrors");
  return self;
}

void
atlas_cli_peers_start (AtlasCliPeers *self)
{
  if (self->started)
    return;
  self->started = TRUE;
  atlas_cli_progress_set_swarm (self->progress, self->swarm);
  atlas_swarm_start (self->swarm);
}

void
atlas_cli_peers_stop (AtlasCliPeers *self)
{
  if (!self->started)
    return;
  self->started = FALSE;
  atlas_cli_progress_set_swarm (self->progress, NULL);
  /* Leaves every swarm and says goodbye to each peer, so they move on at
   * once instead of waiting for a timeout. */
  atlas_swarm_stop (self->swarm);
}

void
atlas_cli_peers_free (AtlasCliPeers *self)
{
  if (self == NULL)
    return;
  atlas_cli_peers_stop (self);
  g_clear_signal_handler (&self->connected_id, self->tracker);
  g_clear_signal_handler (&self->disconnected_id, self->tracker);
  g_clear_object (&self->swarm);
  g_clear_object (&self->tracker);
  g_clear_object (&self->identity);
  g_clear_object (&self->session);
  g_clear_error (&self->refused);
  g_free (self->tracker_url);
  g_free (self);
}

AtlasSwarm *
atlas_cli_peers_get_swarm (AtlasCliPeers *self)
{
  return self->swarm;
}

const GError *
atlas_cli_peers_get_refusal (AtlasCliPeers *self)
{
  return self->refused;
}

/* ---- seeding ---- */

typedef struct
{
  AtlasCliPeers *peers;
  GPtrArray *downloads;
  guint64 last_uploaded;
  guint last_peers;
  gboolean first;
  gboolean stop;
} Server;

static char *
entry_of (AtlasDownload *download)
{
  GArray *sums = atlas_download_get_checksums (download); /* owned by the download */

  for (guint i = 0; sums != NULL && i < sums->len; i++)
    {
      const AtlasChecksum *sum = &g_array_index (sums, AtlasChecksum, i);

      if (sum->type == ATLAS_HASH_SHA256)
        return atlas_checksum_to_string (sum);
    }
  return NULL;
}

void
atlas_cli_peers_announce_seeding (AtlasCliPeers *self, AtlasDownload *download)
{
  g_autofree char *entry = entry_of (download);
  g_autoptr (GString) line = g_string_new ("{\"event\":\"seeding\",\"id\":");

  if (entry == NULL)
    return; /* nothing to seed: peers cannot check its pieces */
  g_string_append_printf (line,
                          "%" G_GUINT64_FORMAT ",\"name\":", atlas_download_get_id (download));
  atlas_cli_json_append_string (line, atlas_download_get_name (download));
  g_string_append (line, ",\"path\":");
  atlas_cli_json_append_string (line, atlas_download_get_path (download));
  g_string_append_printf (line,
                          ",\"pieces\":%u,\"entry\":", atlas_download_get_n_pieces (download));
  atlas_cli_json_append_string (line, entry);
  g_string_append_c (line, '}');
  atlas_cli_progress_json (self->progress, line->str);
  atlas_cli_progress_print (self->progress, FALSE, "seeding %s (%u pieces) as %s",
                            atlas_download_get_name (download),
                            atlas_download_get_n_pieces (download), entry);
}

static void
report_totals (Server *server, gboolean always)
{
  AtlasCliPeers *self = server->peers;
  guint64 uploaded = 0;
  guint n_peers = atlas_swarm_get_n_peers (self->swarm);

  for (guint i = 0; i < server->downloads->len; i++)
    uploaded += atlas_download_get_bytes_to_peers (g_ptr_array_index (server->downloads, i));
  if (!always && uploaded == server->last_uploaded && n_peers == server->last_peers)
    return;
  server->last_uploaded = uploaded;
  server->last_peers = n_peers;

  if (atlas_cli_progress_get_mode (self->progress) == ATLAS_CLI_PROGRESS_JSON)
    {
      g_autofree char *line = g_strdup_printf (
          "{\"event\":\"seeding-totals\",\"uploaded\":%" G_GUINT64_FORMAT ",\"peers\":%u}",
          uploaded, n_peers);
      atlas_cli_progress_json (self->progress, line);
    }
  else
    {
      g_autofree char *size = atlas_cli_format_size (uploaded);

      atlas_cli_progress_print (self->progress, FALSE, "uploaded %s to peers; %u %s connected",
                                size, n_peers, n_peers == 1 ? "peer" : "peers");
    }
}

static gboolean
totals_cb (gpointer user_data)
{
  report_totals (user_data, FALSE);
  return G_SOURCE_CONTINUE;
}

static void
serve_interrupt_cb (gpointer user_data)
{
  Server *server = user_data;

  server->stop = TRUE;
}

int
atlas_cli_peers_serve (AtlasCliPeers *self, GPtrArray *downloads)
{
  Server server = { .peers = self, .downloads = downloads };
  guint totals_id;
  int exit_code = ATLAS_CLI_EXIT_OK;

  atlas_cli_interrupt_set_handler (G_CALLBACK (serve_interrupt_cb), &server);
  totals_id = g_timeout_add_seconds (TOTALS_INTERVAL_S, totals_cb, &server);
  server.stop = atlas_cli_interrupted ();
  while (!server.stop && self->refused == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (totals_id);
  atlas_cli_interrupt_set_handler (NULL, NULL);

  if (self->refused != NULL)
    exit_code = atlas_cli_report_error (self->refused, "cannot seed through the tracker %s",
                                        self->tracker_url);
  else
    report_totals (&server, TRUE);
  atlas_cli_peers_stop (self);
  return exit_code;
}
