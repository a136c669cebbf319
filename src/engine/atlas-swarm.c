/* atlas-swarm.c — announcing downloads and connecting their peers (see the
 * header for the chain a link goes through). */
#include "atlas-swarm.h"

#include "atlas-download-private.h"
#include "atlas-error.h"
#include "atlas-hash.h"
#include "atlas-quic-connection.h"
#include "atlas-session-private.h"

#include <gnutls/crypto.h>
#include <string.h>

/* How often announcements are refreshed when the pieces we hold changed; the
 * tracker client re-sends the latest one on its own every 45 s. */
#define ANNOUNCE_INTERVAL_MS 2000
#define MEMBER_EXPIRY_US (10 * G_USEC_PER_SEC)
#define DEFAULT_MAX_PEERS 30
/* Peers asked for in an announcement of a download still missing pieces. */
#define WANT_PEERS 30

typedef struct
{
  AtlasSwarm *swarm;
  char *session_id; /* the signaling session, chosen by the initiator */
  char *remote_id;  /* the remote's certificate fingerprint */
  char *entry;
  gboolean initiator;
  AtlasIceLink *ice;
  AtlasQuicConnection *quic;
  AtlasPeerSession *peer;
  gboolean closing;
  gboolean hung_up; /* the remote said bye: no bye back */
  guint remove_id;
} Link;

typedef struct
{
  AtlasDownload *download; /* weak pointer: the session owns it */
  GBytes *announced;       /* the bitfield last announced */
  gboolean complete;
  GHashTable *members;      /* other incomplete downloaders: peer id -> last heard of (µs) */
  gboolean members_changed; /* the download's mirror share is out of date */
} Entry;

struct _AtlasSwarm
{
  GObject parent_instance;

  AtlasSession *session;
  AtlasPeerIdentity *identity;
  AtlasTrackerClient *tracker;
  AtlasIceConfig ice;
  guint max_peers;
  AtlasRateLimiter upload;
  guint64 upload_per_peer;

  GHashTable *links;   /* session id -> Link */
  GHashTable *entries; /* entry hex -> Entry */
  guint announce_id;
  guint announce_soon_id;
  gboolean started;
};

G_DEFINE_FINAL_TYPE (AtlasSwarm, atlas_swarm, G_TYPE_OBJECT)

static void link_close (Link *link, const char *why);

/* ---- entries ------------------------------------------------------------- */

static char *
entry_hex (const AtlasPeerLayout *layout)
{
  return atlas_hex_encode (layout->entry_id, sizeof layout->entry_id);
}

/* The session owns its downloads and may drop one between two rounds: the
 * entry's pointer is weak, so it reads NULL then. */
static void
entry_set_download (Entry *entry, AtlasDownload *download)
{
  if (entry->download == download)
    return;
  entry->members_changed = TRUE;
  if (entry->download != NULL)
    g_object_remove_weak_pointer (G_OBJECT (entry->download), (gpointer *) &entry->download);
  entry->download = download;
  if (download != NULL)
    g_object_add_weak_pointer (G_OBJECT (download), (gpointer *) &entry->download);
}

static void
entry_free (Entry *entry)
{
  entry_set_download (entry, NULL);
  g_clear_pointer (&entry->announced, g_bytes_unref);
  g_hash_table_unref (entry->members);
  g_free (entry);
}

static Entry *
entry_new (void)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->members = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return entry;
}

/* A downloader we heard of (in a tracker's peer list or by its offer); a
 * complete one fetches nothing and has no share. Callers pass donors as
 * complete: a donor holds pieces the tracker assigned it and fetches them for
 * others, so it takes no share of what mirrors send this swarm. */
static void
entry_note_member (Entry *entry, const char *peer_id, gboolean complete, gint64 now)
{
  gint64 *heard;

  if (complete)
    {
      entry->members_changed |= g_hash_table_remove (entry->members, peer_id);
      return;
    }
  heard = g_hash_table_lookup (entry->members, peer_id);
  if (heard == NULL)
    {
      heard = g_new (gint64, 1);
      g_hash_table_insert (entry->members, g_strdup (peer_id), heard);
      entry->members_changed = TRUE;
    }
  *heard = now;
}

/* While a download makes progress it announces every few seconds and each
 * reply lists the swarm; a member missing from the lists that long has left
 * (or the download stalls, and then a larger share is what it needs). */
static void
entry_expire_members (Entry *entry, gint64 now)
{
  GHashTableIter iter;
  gint64 *heard;

  g_hash_table_iter_init (&iter, entry->members);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &heard))
    if (now - *heard > MEMBER_EXPIRY_US)
      {
        g_hash_table_iter_remove (&iter);
        entry->members_changed = TRUE;
      }
}

/* Tells the download its share of what mirrors fetch for the swarm. */
static void
entry_share_members (AtlasSwarm *self, Entry *entry)
{
  g_autofree const char **others = NULL;

  if (!entry->members_changed || entry->download == NULL)
    return;
  entry->members_changed = FALSE;
  /* A donor's partial download fetches exactly the pieces the tracker
   * assigned it, for others: it takes them all from mirrors rather than
   * waiting for the downloaders it exists to help. */
  if (atlas_download_is_partial (entry->download))
    others = g_new0 (const char *, 1);
  else
    others = (const char **) g_hash_table_get_keys_as_array (entry->members, NULL);
  atlas_download_set_swarm_members (entry->download,
                                    atlas_peer_identity_get_fingerprint (self->identity), others);
}

static AtlasDownload *
download_for_entry (AtlasSwarm *self, const char *entry_id)
{
  Entry *entry = g_hash_table_lookup (self->entries, entry_id);

  return entry != NULL ? entry->download : NULL;
}

/* Whether a download takes part: running (fetching) or complete (seeding). */
static gboolean
download_shares (AtlasDownload *download)
{
  AtlasDownloadState state = atlas_download_get_state (download);

  return state == ATLAS_DOWNLOAD_ACTIVE || state == ATLAS_DOWNLOAD_COMPLETE;
}

static guint
count_links (AtlasSwarm *self, const char *entry_id)
{
  GHashTableIter iter;
  Link *link;
  guint count = 0;

  g_hash_table_iter_init (&iter, self->links);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &link))
    count += strcmp (link->entry, entry_id) == 0;
  return count;
}

static Link *
find_link (AtlasSwarm *self, const char *remote_id, const char *entry_id)
{
  GHashTableIter iter;
  Link *link;

  g_hash_table_iter_init (&iter, self->links);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &link))
    if (strcmp (link->remote_id, remote_id) == 0 && strcmp (link->entry, entry_id) == 0)
      return link;
  return NULL;
}

/* Announces what changed since the last round and leaves swarms of
 * downloads that stopped sharing. */
static gboolean
announce_cb (gpointer data)
{
  AtlasSwarm *self = data;
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GListModel *downloads = G_LIST_MODEL (self->session);
  GHashTableIter iter;
  const char *entry_id;
  Entry *entry;

  for (guint i = 0; i < g_list_model_get_n_items (downloads); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (downloads, i);
      AtlasPeerLayout layout;
      g_autofree char *hex = NULL;
      g_autoptr (GBytes) bits = NULL;
      gboolean complete;

      if (!atlas_download_get_peer_layout (download, &layout))
        continue;
      /* Even before it starts: its first mirror claims should already be
       * spread over the file rather than all start at piece 0. */
      atlas_download_set_swarming (download);
      if (!download_shares (download))
        continue;
      hex = entry_hex (&layout);
      if (g_hash_table_contains (seen, hex))
        continue; /* the same file twice in the queue: the first one speaks */
      g_hash_table_add (seen, g_strdup (hex));

      entry = g_hash_table_lookup (self->entries, hex);
      if (entry == NULL)
        {
          entry = entry_new ();
          g_hash_table_insert (self->entries, g_strdup (hex), entry);
        }
      entry_set_download (entry, download);
      entry_expire_members (entry, g_get_monotonic_time ());
      entry_share_members (self, entry);
      bits = atlas_download_dup_peer_bits (download);
      complete = atlas_download_get_state (download) == ATLAS_DOWNLOAD_COMPLETE;
      if (entry->announced != NULL && g_bytes_equal (entry->announced, bits)
          && entry->complete == complete)
        continue;
      atlas_tracker_client_announce (self->tracker, hex, layout.piece_count, bits, complete,
                                     atlas_download_get_bytes_to_peers (download),
                                     atlas_download_get_bytes_from_peers (download),
                                     complete ? 0 : WANT_PEERS);
      g_clear_pointer (&entry->announced, g_bytes_unref);
      entry->announced = g_bytes_ref (bits);
      entry->complete = complete;
    }

  /* Downloads paused, failed or removed leave their swarm, links and all. */
  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, (gpointer *) &entry_id, (gpointer *) &entry))
    {
      GHashTableIter links;
      Link *link;

      if (g_hash_table_contains (seen, entry_id))
        continue;
      atlas_tracker_client_leave (self->tracker, entry_id);
      g_hash_table_iter_init (&links, self->links);
      while (g_hash_table_iter_next (&links, NULL, (gpointer *) &link))
        if (strcmp (link->entry, entry_id) == 0)
          link_close (link, "the download stopped");
      g_hash_table_iter_remove (&iter);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
announce_soon_cb (gpointer data)
{
  AtlasSwarm *self = data;

  self->announce_soon_id = 0;
  announce_cb (self);
  return G_SOURCE_REMOVE;
}

/* A download that starts, completes or stops is announced (or leaves) at
 * once rather than at the next round, so peers find it from its first second. */
static void
download_state_changed_cb (AtlasSession *session, AtlasDownload *download, AtlasSwarm *self)
{
  if (self->started && self->announce_soon_id == 0)
    self->announce_soon_id = g_idle_add (announce_soon_cb, self);
}

/* ---- signaling ------------------------------------------------------------ */

static void
send_signal (Link *link, AtlasSignalKind kind, const char *ufrag, const char *pwd,
             const char *candidate)
{
  g_autoptr (AtlasTrackerMessage) message = atlas_tracker_message_new (ATLAS_TRACKER_MSG_SIGNAL);

  message->peer_id = g_strdup (link->remote_id);
  message->entry = g_strdup (link->entry);
  message->session = g_strdup (link->session_id);
  message->kind = kind;
  message->ufrag = g_strdup (ufrag);
  message->pwd = g_strdup (pwd);
  message->candidate = g_strdup (candidate);
  atlas_tracker_client_send_signal (link->swarm->tracker, message);
}

static void
send_credentials (Link *link, AtlasSignalKind kind)
{
  g_autofree char *ufrag = NULL;
  g_autofree char *pwd = NULL;

  atlas_ice_link_get_local_credentials (link->ice, &ufrag, &pwd);
  send_signal (link, kind, ufrag, pwd, NULL);
}

/* ---- links ---------------------------------------------------------------- */

static void
link_free (Link *link)
{
  g_clear_handle_id (&link->remove_id, g_source_remove);
  if (link->ice != NULL)
    g_signal_handlers_disconnect_by_data (link->ice, link);
  if (link->quic != NULL)
    {
      g_signal_handlers_disconnect_by_data (link->quic, link);
      atlas_quic_connection_set_stream_funcs (link->quic, NULL, NULL, NULL);
    }
  g_clear_object (&link->peer);
  g_clear_object (&link->quic);
  g_clear_object (&link->ice);
  g_free (link->session_id);
  g_free (link->remote_id);
  g_free (link->entry);
  g_free (link);
}

static gboolean
remove_link_cb (gpointer data)
{
  Link *link = data;

  link->remove_id = 0;
  g_hash_table_remove (link->swarm->links, link->session_id);
  return G_SOURCE_REMOVE;
}

static void
schedule_removal (Link *link)
{
  if (link->remove_id == 0)
    link->remove_id = g_idle_add (remove_link_cb, link);
}

/* Ends a link; it is freed from an idle, since this is often called from
 * one of its own objects' signals. */
static void
link_close (Link *link, const char *why)
{
  if (link->closing)
    return;
  link->closing = TRUE;
  g_debug ("swarm: link %s to %.20s… ends: %s", link->session_id, link->remote_id, why);
  if (link->quic == NULL && link->swarm->started && !link->hung_up)
    send_signal (link, ATLAS_SIGNAL_BYE, NULL, NULL, NULL);
  if (link->peer != NULL)
    atlas_peer_session_close (link->peer, ATLAS_PEER_GOODBYE_SHUTTING_DOWN, why);
  else if (link->quic != NULL)
    atlas_quic_connection_close (link->quic, 0, why);
  schedule_removal (link);
}

/* The peer session's stream is the QUIC connection's one stream. */
static gsize
transport_write (gpointer transport, const guint8 *data, gsize length)
{
  Link *link = transport;

  return link->quic != NULL ? atlas_quic_connection_write (link->quic, data, length) : length;
}

static void
transport_close (gpointer transport, const char *reason)
{
  Link *link = transport;

  if (link->quic != NULL)
    atlas_quic_connection_close (link->quic, 0, reason);
  link->closing = TRUE;
  schedule_removal (link);
}

static const AtlasPeerTransportFuncs quic_transport = {
  .write = transport_write,
  .close = transport_close,
};

static void
stream_receive_cb (const guint8 *data, gsize length, gpointer user_data)
{
  Link *link = user_data;

  if (link->peer != NULL)
    atlas_peer_session_receive (link->peer, data, length);
}

static void
stream_writable_cb (gpointer user_data)
{
  Link *link = user_data;

  if (link->peer != NULL)
    atlas_peer_session_writable (link->peer);
}

static void
quic_established_cb (AtlasQuicConnection *quic, Link *link)
{
  AtlasSwarm *self = link->swarm;
  AtlasDownload *download = download_for_entry (self, link->entry);
  g_autofree char *name = g_strndup (link->remote_id + strlen ("sha256:"), 12);

  if (download == NULL || !download_shares (download))
    {
      link_close (link, "the download is no longer shared");
      return;
    }
  link->peer = atlas_download_new_peer_session (download);
  if (link->peer == NULL)
    {
      link_close (link, "the download cannot be shared");
      return;
    }
  atlas_peer_session_set_transport (link->peer, &quic_transport, link);
  atlas_peer_session_set_upload_limits (link->peer, &self->upload, self->upload_per_peer);
  atlas_quic_connection_set_stream_funcs (quic, stream_receive_cb, stream_writable_cb, link);
  g_debug ("swarm: peer %s connected for %.12s… (%s)", name, link->entry,
           atlas_ice_link_get_selected_kind (link->ice));
  atlas_download_add_peer (download, link->peer, name);
}

static void
quic_closed_cb (AtlasQuicConnection *quic, const GError *error, Link *link)
{
  const char *why = error != NULL ? error->message : "the peer closed the connection";

  if (error != NULL && g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_AUTHENTICATION))
    g_warning ("swarm: %s", error->message);
  /* The session learns that its stream is gone and tells its download. */
  if (link->peer != NULL && !link->closing)
    {
      link->closing = TRUE;
      atlas_peer_session_close (link->peer, ATLAS_PEER_GOODBYE_NORMAL, why);
      schedule_removal (link);
      return;
    }
  link_close (link, why);
}

static void
ice_ready_cb (AtlasIceLink *ice, Link *link)
{
  g_autoptr (GError) error = NULL;

  link->quic = atlas_quic_connection_new (
      ATLAS_DATAGRAM_PATH (ice), link->initiator ? ATLAS_QUIC_ROLE_CLIENT : ATLAS_QUIC_ROLE_SERVER,
      link->swarm->identity, link->remote_id, &error);
  if (link->quic == NULL)
    {
      link_close (link, error->message);
      return;
    }
  g_signal_connect (link->quic, "established", G_CALLBACK (quic_established_cb), link);
  g_signal_connect (link->quic, "closed", G_CALLBACK (quic_closed_cb), link);
}

static void
ice_failed_cb (AtlasIceLink *ice, const GError *error, Link *link)
{
  link_close (link, error != NULL ? error->message : "ICE failed");
}

static void
ice_candidate_cb (AtlasIceLink *ice, const char *candidate, Link *link)
{
  send_signal (link, ATLAS_SIGNAL_CANDIDATE, NULL, NULL, candidate);
}

static void
ice_gathering_done_cb (AtlasIceLink *ice, Link *link)
{
  send_signal (link, ATLAS_SIGNAL_END_OF_CANDIDATES, NULL, NULL, NULL);
}

static char *
new_session_id (void)
{
  guint8 random[12];

  if (gnutls_rnd (GNUTLS_RND_NONCE, random, sizeof random) != 0)
    for (guint i = 0; i < sizeof random; i++)
      random[i] = (guint8) g_random_int ();
  return atlas_hex_encode (random, sizeof random);
}

static Link *
link_new (AtlasSwarm *self, const char *remote_id, const char *entry_id, const char *session_id,
          gboolean initiator, GError **error)
{
  Link *link = g_new0 (Link, 1);

  link->swarm = self;
  link->remote_id = g_strdup (remote_id);
  link->entry = g_strdup (entry_id);
  link->session_id = session_id != NULL ? g_strdup (session_id) : new_session_id ();
  link->initiator = initiator;
  link->ice = atlas_ice_link_new (initiator, &self->ice, error);
  if (link->ice == NULL)
    {
      link_free (link);
      return NULL;
    }
  g_signal_connect (link->ice, "local-candidate", G_CALLBACK (ice_candidate_cb), link);
  g_signal_connect (link->ice, "gathering-done", G_CALLBACK (ice_gathering_done_cb), link);
  g_signal_connect (link->ice, "ready", G_CALLBACK (ice_ready_cb), link);
  g_signal_connect (link->ice, "failed", G_CALLBACK (ice_failed_cb), link);
  g_hash_table_insert (self->links, link->session_id, link);
  return link;
}

/* Whether this download wants another link to @remote_id. */
static gboolean
may_link (AtlasSwarm *self, const char *remote_id, const char *entry_id)
{
  AtlasDownload *download = download_for_entry (self, entry_id);
  g_autofree char *name = NULL;

  if (download == NULL || !download_shares (download)
      || strcmp (remote_id, atlas_peer_identity_get_fingerprint (self->identity)) == 0)
    return FALSE;
  name = g_strndup (remote_id + strlen ("sha256:"), 12);
  return !atlas_download_is_peer_banned (download, name)
         && count_links (self, entry_id) < self->max_peers;
}

static void
peers_cb (AtlasTrackerClient *tracker, const char *entry_id, GPtrArray *peers, AtlasSwarm *self)
{
  Entry *entry = g_hash_table_lookup (self->entries, entry_id);
  AtlasDownload *download = download_for_entry (self, entry_id);
  gboolean we_are_complete =
      download != NULL && atlas_download_get_state (download) == ATLAS_DOWNLOAD_COMPLETE;
  gint64 now = g_get_monotonic_time ();

  if (entry != NULL)
    {
      for (guint i = 0; i < peers->len; i++)
        {
          AtlasTrackerPeer *peer = g_ptr_array_index (peers, i);
          entry_note_member (entry, peer->peer_id, peer->complete || peer->donor, now);
        }
      entry_share_members (self, entry);
    }

  for (guint i = 0; i < peers->len; i++)
    {
      AtlasTrackerPeer *peer = g_ptr_array_index (peers, i);
      g_autoptr (GError) error = NULL;
      Link *link;

      /* Two complete copies have nothing to trade. */
      if ((we_are_complete && peer->complete) || find_link (self, peer->peer_id, entry_id) != NULL
          || !may_link (self, peer->peer_id, entry_id))
        continue;
      link = link_new (self, peer->peer_id, entry_id, NULL, TRUE, &error);
      if (link == NULL)
        {
          g_warning ("swarm: cannot start ICE: %s", error->message);
          return;
        }
      send_credentials (link, ATLAS_SIGNAL_OFFER);
      atlas_ice_link_gather (link->ice);
    }
}

static void
accept_offer (AtlasSwarm *self, const AtlasTrackerMessage *message)
{
  const char *own_id = atlas_peer_identity_get_fingerprint (self->identity);
  Link *existing = find_link (self, message->peer_id, message->entry);
  Entry *entry = g_hash_table_lookup (self->entries, message->entry);
  g_autoptr (GError) error = NULL;
  Link *link;

  /* Most callers are downloaders that just joined; a seeder calling is
   * taken off again by the next peer list, which says it is complete. */
  if (entry != NULL && g_strcmp0 (message->peer_id, own_id) != 0)
    {
      entry_note_member (entry, message->peer_id, FALSE, g_get_monotonic_time ());
      entry_share_members (self, entry);
    }
  if (existing != NULL && !existing->closing)
    {
      /* Both called at once: the call from the smaller peer id goes ahead. */
      if (!existing->initiator || strcmp (own_id, message->peer_id) < 0)
        return;
      /* Closed, not just dropped from the table: when the peer calls again
       * over a link that already carries a peer session (it restarted), the
       * download still holds that session, whose transport is this link. */
      link_close (existing, "the peer called again");
    }
  if (!may_link (self, message->peer_id, message->entry))
    return;
  link = link_new (self, message->peer_id, message->entry, message->session, FALSE, &error);
  if (link == NULL)
    {
      g_warning ("swarm: cannot start ICE: %s", error->message);
      return;
    }
  if (!atlas_ice_link_set_remote_credentials (link->ice, message->ufrag, message->pwd, &error))
    {
      link_close (link, error->message);
      return;
    }
  send_credentials (link, ATLAS_SIGNAL_ANSWER);
  atlas_ice_link_gather (link->ice);
}

static void
signal_cb (AtlasTrackerClient *tracker, const AtlasTrackerMessage *message, AtlasSwarm *self)
{
  Link *link;
  g_autoptr (GError) error = NULL;

  if (message->kind == ATLAS_SIGNAL_OFFER)
    {
      accept_offer (self, message);
      return;
    }
  link = g_hash_table_lookup (self->links, message->session);
  /* Only the peer a link was made with may steer it. */
  if (link == NULL || link->closing || strcmp (link->remote_id, message->peer_id) != 0)
    return;
  switch (message->kind)
    {
    case ATLAS_SIGNAL_ANSWER:
      if (!link->initiator
          || !atlas_ice_link_set_remote_credentials (link->ice, message->ufrag, message->pwd,
                                                     &error))
        link_close (link, error != NULL ? error->message : "an answer to an offer we did not make");
      break;
    case ATLAS_SIGNAL_CANDIDATE:
      if (!atlas_ice_link_add_remote_candidate (link->ice, message->candidate, &error))
        link_close (link, error->message);
      break;
    case ATLAS_SIGNAL_END_OF_CANDIDATES:
      atlas_ice_link_remote_gathering_done (link->ice);
      break;
    case ATLAS_SIGNAL_BYE:
      link->hung_up = TRUE;
      link_close (link, "the peer hung up");
      break;
    case ATLAS_SIGNAL_OFFER:
      break;
    }
}

/* ---- the object ------------------------------------------------------------ */

static void
atlas_swarm_dispose (GObject *object)
{
  AtlasSwarm *self = ATLAS_SWARM (object);

  atlas_swarm_stop (self);
  if (self->tracker != NULL)
    g_signal_handlers_disconnect_by_data (self->tracker, self);
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->tracker);
  g_clear_object (&self->identity);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (atlas_swarm_parent_class)->dispose (object);
}

static void
atlas_swarm_finalize (GObject *object)
{
  AtlasSwarm *self = ATLAS_SWARM (object);

  g_hash_table_unref (self->links);
  g_hash_table_unref (self->entries);
  g_free (self->ice.stun_server);
  g_free (self->ice.turn_server);
  g_free (self->ice.turn_username);
  g_free (self->ice.turn_password);
  g_strfreev (self->ice.local_addresses);
  G_OBJECT_CLASS (atlas_swarm_parent_class)->finalize (object);
}

static void
atlas_swarm_class_init (AtlasSwarmClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = atlas_swarm_dispose;
  object_class->finalize = atlas_swarm_finalize;
}

static void
atlas_swarm_init (AtlasSwarm *self)
{
  self->links = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) link_free);
  self->entries =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) entry_free);
  self->max_peers = DEFAULT_MAX_PEERS;
  atlas_rate_limiter_init (&self->upload, 0);
}

AtlasSwarm *
atlas_swarm_new (AtlasSession *session, AtlasPeerIdentity *identity, AtlasTrackerClient *tracker,
                 const AtlasIceConfig *ice)
{
  AtlasSwarm *self = g_object_new (ATLAS_TYPE_SWARM, NULL);

  self->session = g_object_ref (session);
  self->identity = g_object_ref (identity);
  self->tracker = g_object_ref (tracker);
  self->ice = *ice;
  self->ice.stun_server = g_strdup (ice->stun_server);
  self->ice.turn_server = g_strdup (ice->turn_server);
  self->ice.turn_username = g_strdup (ice->turn_username);
  self->ice.turn_password = g_strdup (ice->turn_password);
  self->ice.local_addresses = g_strdupv (ice->local_addresses);
  g_signal_connect (tracker, "peers", G_CALLBACK (peers_cb), self);
  g_signal_connect (session, "download-state-changed", G_CALLBACK (download_state_changed_cb),
                    self);
  g_signal_connect (tracker, "signal", G_CALLBACK (signal_cb), self);
  return self;
}

void
atlas_swarm_start (AtlasSwarm *self)
{
  g_return_if_fail (ATLAS_IS_SWARM (self));
  if (self->started)
    return;
  self->started = TRUE;
  _atlas_session_set_swarming (self->session, TRUE);
  atlas_tracker_client_start (self->tracker, atlas_peer_identity_get_fingerprint (self->identity));
  announce_cb (self);
  self->announce_id = g_timeout_add (ANNOUNCE_INTERVAL_MS, announce_cb, self);
}

void
atlas_swarm_stop (AtlasSwarm *self)
{
  GHashTableIter iter;
  Link *link;

  g_return_if_fail (ATLAS_IS_SWARM (self));
  if (!self->started)
    return;
  self->started = FALSE;
  _atlas_session_set_swarming (self->session, FALSE);
  g_clear_handle_id (&self->announce_id, g_source_remove);
  g_clear_handle_id (&self->announce_soon_id, g_source_remove);
  g_hash_table_iter_init (&iter, self->links);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &link))
    {
      if (link->peer != NULL)
        atlas_peer_session_close (link->peer, ATLAS_PEER_GOODBYE_SHUTTING_DOWN, "shutting down");
      else if (link->quic != NULL)
        atlas_quic_connection_close (link->quic, 0, "shutting down");
    }
  g_hash_table_remove_all (self->links);
  g_hash_table_remove_all (self->entries);
  atlas_tracker_client_stop (self->tracker);
}

void
atlas_swarm_set_upload_allowance (AtlasSwarm *self, AtlasAllowance *allowance)
{
  g_return_if_fail (ATLAS_IS_SWARM (self));
  atlas_rate_limiter_set_allowance (&self->upload, allowance);
}

guint64
atlas_swarm_get_bytes_uploaded (AtlasSwarm *self)
{
  g_return_val_if_fail (ATLAS_IS_SWARM (self), 0);
  return self->upload.total;
}

void
atlas_swarm_set_max_peers (AtlasSwarm *self, guint max_peers)
{
  g_return_if_fail (ATLAS_IS_SWARM (self));
  self->max_peers = MAX (max_peers, 1);
}

void
atlas_swarm_set_upload_limits (AtlasSwarm *self, guint64 total, guint64 per_peer)
{
  GHashTableIter iter;
  Link *link;

  g_return_if_fail (ATLAS_IS_SWARM (self));
  atlas_rate_limiter_set_rate (&self->upload, total);
  self->upload_per_peer = per_peer;
  g_hash_table_iter_init (&iter, self->links);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &link))
    if (link->peer != NULL)
      atlas_peer_session_set_upload_limits (link->peer, &self->upload, per_peer);
}

guint
atlas_swarm_get_n_peers (AtlasSwarm *self)
{
  GHashTableIter iter;
  Link *link;
  guint count = 0;

  g_return_val_if_fail (ATLAS_IS_SWARM (self), 0);
  g_hash_table_iter_init (&iter, self->links);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &link))
    count += link->peer != NULL && !link->closing;
  return count;
}
