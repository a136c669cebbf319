/* test-tracker-client.c — AtlasTrackerClient against the real atlas-tracker.
 *
 * The tracker executable ($ATLAS_TRACKER) runs on 127.0.0.1 with a temporary
 * database and tokens made with its own `token add`. Each test asserts what a
 * user of the client would notice: entries found, errors by kind, peers and
 * signals delivered, and a reconnect after the tracker restarts.
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "atlas-error.h"
#include "atlas-hash.h"
#include "atlas-metalink.h"
#include "atlas-test-tracker.h"
#include "atlas-tracker-client.h"

#define PIECE (64 * 1024)
#define WAIT_MS 10000

typedef struct
{
  char *exe;
  char *dir;
  char *database;
  GSubprocess *process;
  guint port;
  char *url;
  char *uploader;
  char *downloader;
  char *admin;
} Tracker;

static Tracker tracker;

/* ---- waiting on the main context, always bounded ---- */

static gboolean
timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates until *@counter >= @target or @ms pass. */
static gboolean
wait_count (const guint *counter, guint target, guint ms)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (ms, timeout_cb, &expired);

  while (*counter < target && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  return *counter >= target;
}

static void
spin (guint ms)
{
  gboolean expired = FALSE;

  g_timeout_add (ms, timeout_cb, &expired);
  while (!expired)
    g_main_context_iteration (NULL, TRUE);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (WAIT_MS, timeout_cb, &expired);

  while (*slot == NULL && !expired)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (expired);
  g_source_remove (id);
  return *slot;
}

static void
store_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* ---- the tracker process ---- */

static char *
token_add (const char *role, const char *name)
{
  return test_tracker_add_token (tracker.exe, tracker.database, role, name);
}

typedef struct
{
  GDataInputStream *lines;
  guint port;
  gboolean done;
} PortReader;

static void
read_line_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PortReader *reader = user_data;
  g_autofree char *line = NULL;
  const char *found;

  line =
      g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, NULL);
  if (line == NULL)
    {
      reader->done = TRUE;
      return;
    }
  /* "listening on http://127.0.0.1:PORT" or https:// with TLS. */
  found = strstr (line, "://127.0.0.1:");
  if (strstr (line, "listening on ") != NULL && found != NULL)
    {
      reader->port = (guint) g_ascii_strtoull (found + strlen ("://127.0.0.1:"), NULL, 10);
      reader->done = TRUE;
      return;
    }
  g_data_input_stream_read_line_async (reader->lines, G_PRIORITY_DEFAULT, NULL, read_line_cb,
                                       reader);
}

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts `atlas-tracker serve` on @port (0: any), with TLS when @cert and
 * @key are given, and waits until it says which port it listens on. */
static GSubprocess *
spawn_tracker (guint port, const char *cert, const char *key, guint *out_port)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", port);
  g_autoptr (GOutputStream) sink = NULL;
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  GSubprocess *process;
  PortReader reader = { 0 };
  gboolean expired = FALSE;
  guint id;

  /* A failed assertion aborts this process; the tracker must not outlive it. */
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  if (cert != NULL)
    process = g_subprocess_launcher_spawn (launcher, &error, tracker.exe, "serve", "--database",
                                           tracker.database, "--listen", listen, "--tls-cert", cert,
                                           "--tls-key", key, NULL);
  else
    process = g_subprocess_launcher_spawn (launcher, &error, tracker.exe, "serve", "--database",
                                           tracker.database, "--listen", listen, NULL);
  g_assert_no_error (error);

  reader.lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  g_data_input_stream_read_line_async (reader.lines, G_PRIORITY_DEFAULT, NULL, read_line_cb,
                                       &reader);
  id = g_timeout_add (WAIT_MS, timeout_cb, &expired);
  while (!reader.done && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  if (reader.port == 0)
    g_error ("atlas-tracker did not say which port it listens on");
  if (port != 0)
    g_assert_cmpuint (reader.port, ==, port);

  /* Keep draining its stdout so it never blocks on a full pipe. */
  sink = g_memory_output_stream_new_resizable ();
  g_output_stream_splice_async (sink, G_INPUT_STREAM (reader.lines),
                                G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE, G_PRIORITY_DEFAULT, NULL, NULL,
                                NULL);
  g_object_unref (reader.lines);
  *out_port = reader.port;
  return process;
}

static void
tracker_start (guint port)
{
  tracker.process = spawn_tracker (port, NULL, NULL, &tracker.port);
  g_free (tracker.url);
  tracker.url = g_strdup_printf ("http://127.0.0.1:%u", tracker.port);
}

static void
wait_process_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) user_data = TRUE;
}

/* Stops a tracker by its PID: SIGTERM, or SIGKILL when @kill. */
static void
stop_process (GSubprocess **process, gboolean kill)
{
  gboolean exited = FALSE;
  gboolean expired = FALSE;
  guint id;

  if (*process == NULL)
    return;
  if (kill)
    g_subprocess_force_exit (*process);
  else
    g_subprocess_send_signal (*process, SIGTERM);
  g_subprocess_wait_async (*process, NULL, wait_process_cb, &exited);
  id = g_timeout_add (5000, timeout_cb, &expired);
  while (!exited && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  if (!exited)
    {
      g_subprocess_force_exit (*process);
      g_subprocess_wait (*process, NULL, NULL);
    }
  g_clear_object (process);
}

static void
tracker_stop (gboolean kill)
{
  stop_process (&tracker.process, kill);
}

/* ---- content to publish ---- */

typedef struct
{
  GBytes *xml;
  char *entry; /* sha-256 hex */
  gsize size;
} Published;

static void
published_clear (Published *p)
{
  g_clear_pointer (&p->xml, g_bytes_unref);
  g_clear_pointer (&p->entry, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Published, published_clear)

/* A Metalink for @size pseudo-random bytes made from @seed. */
static void
make_metalink (guint seed, gsize size, Published *out)
{
  g_autoptr (AtlasMetalink) metalink = atlas_metalink_new ();
  AtlasMetalinkFile *file = atlas_metalink_file_new ();
  g_autofree guint8 *data = g_malloc (size);
  g_autoptr (GByteArray) pieces = g_byte_array_new ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  AtlasChecksum whole = { .type = ATLAS_HASH_SHA256 };
  AtlasMetalinkUrl *url = g_new0 (AtlasMetalinkUrl, 1);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_rand_int (rand);
  atlas_hash_buffer (ATLAS_HASH_SHA256, data, size, whole.digest);
  for (gsize offset = 0; offset < size; offset += PIECE)
    {
      guint8 digest[32];

      atlas_hash_buffer (ATLAS_HASH_SHA256, data + offset, MIN (PIECE, size - offset), digest);
      g_byte_array_append (pieces, digest, 32);
    }

  file->name = g_strdup_printf ("file-%u.bin", seed);
  file->size = (gint64) size;
  g_array_append_val (file->hashes, whole);
  file->piece_type = ATLAS_HASH_SHA256;
  file->piece_length = PIECE;
  file->n_pieces = pieces->len / 32;
  file->piece_digests = g_byte_array_free_to_bytes (g_steal_pointer (&pieces));
  url->url = g_strdup_printf ("http://127.0.0.1:9/file-%u.bin", seed);
  g_ptr_array_add (file->urls, url);
  g_ptr_array_add (metalink->files, file);

  {
    char *xml = atlas_metalink_to_xml (metalink);

    out->xml = g_bytes_new_take (xml, strlen (xml));
  }
  out->entry = atlas_hex_encode (whole.digest, 32);
  out->size = size;
}

static gint64
publish (AtlasTrackerClient *client, const char *name, const char *version, GBytes *xml,
         gboolean private_entry, const char *const *allowed, char **entry_hex, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  atlas_tracker_client_publish_async (client, name, version, "a test entry", xml, private_entry,
                                      allowed, NULL, store_result_cb, &result);
  return atlas_tracker_client_publish_finish (client, wait_result (&result), entry_hex, error);
}

static GBytes *
find (AtlasTrackerClient *client, const char *name, const char *version, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  atlas_tracker_client_find_async (client, name, version, NULL, store_result_cb, &result);
  return atlas_tracker_client_find_finish (client, wait_result (&result), error);
}

static const AtlasMetalinkFile *
only_file (AtlasMetalink *metalink)
{
  g_assert_nonnull (metalink);
  g_assert_cmpuint (metalink->files->len, ==, 1);
  return g_ptr_array_index (metalink->files, 0);
}

/* ---- HTTP ---- */

static void
test_publish_find_round_trip (void)
{
  g_autoptr (AtlasTrackerClient) client =
      atlas_tracker_client_new (tracker.url, tracker.uploader, NULL);
  g_autoptr (AtlasTrackerClient) reader =
      atlas_tracker_client_new (tracker.url, tracker.downloader, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *entry1 = NULL;
  g_autofree char *entry2 = NULL;
  g_auto (Published) v1 = { 0 };
  g_auto (Published) v2 = { 0 };
  gint64 id1, id2;

  make_metalink (1, 300 * 1024, &v1);
  make_metalink (2, 200 * 1024 + 7, &v2);

  id1 = publish (client, "round-trip", "1.0", v1.xml, FALSE, NULL, &entry1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id1, >, 0);
  g_assert_cmpstr (entry1, ==, v1.entry);

  /* A downloader finds it by exact name and gets the same file description. */
  {
    g_autoptr (GBytes) xml = find (reader, "round-trip", NULL, &error);
    g_autoptr (AtlasMetalink) metalink = NULL;
    const AtlasMetalinkFile *file;
    g_autofree char *hex = NULL;

    g_assert_no_error (error);
    metalink = atlas_metalink_parse (g_bytes_get_data (xml, NULL), g_bytes_get_size (xml), &error);
    g_assert_no_error (error);
    file = only_file (metalink);
    g_assert_cmpstr (file->name, ==, "file-1.bin");
    g_assert_cmpint (file->size, ==, 300 * 1024);
    g_assert_cmpuint (file->n_pieces, ==, 5);
    hex = atlas_checksum_to_hex (atlas_checksum_pick_strongest (file->hashes));
    g_assert_cmpstr (hex, ==, v1.entry);
  }

  /* A second version: the newest wins without a version, and either can be named. */
  id2 = publish (client, "round-trip", "2.0", v2.xml, FALSE, NULL, &entry2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id2, !=, id1);
  {
    g_autoptr (GBytes) newest = find (reader, "round-trip", NULL, &error);
    g_autoptr (GBytes) old = NULL;
    g_autoptr (AtlasMetalink) m_new = NULL;
    g_autoptr (AtlasMetalink) m_old = NULL;

    g_assert_no_error (error);
    m_new =
        atlas_metalink_parse (g_bytes_get_data (newest, NULL), g_bytes_get_size (newest), &error);
    g_assert_no_error (error);
    g_assert_cmpint (only_file (m_new)->size, ==, 200 * 1024 + 7);

    old = find (reader, "round-trip", "1.0", &error);
    g_assert_no_error (error);
    m_old = atlas_metalink_parse (g_bytes_get_data (old, NULL), g_bytes_get_size (old), &error);
    g_assert_no_error (error);
    g_assert_cmpint (only_file (m_old)->size, ==, 300 * 1024);
  }

  /* Search lists both versions, newest first. */
  {
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GPtrArray) entries = NULL;
    const AtlasTrackerEntry *first;
    guint total = 0;

    atlas_tracker_client_search_async (reader, "round", 10, NULL, store_result_cb, &result);
    entries = atlas_tracker_client_search_finish (reader, wait_result (&result), &total, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (entries->len, ==, 2);
    g_assert_cmpuint (total, ==, 2);
    first = g_ptr_array_index (entries, 0);
    g_assert_cmpstr (first->name, ==, "round-trip");
    g_assert_cmpstr (first->version, ==, "2.0");
    g_assert_cmpstr (first->entry, ==, v2.entry);
    g_assert_cmpuint (first->size, ==, 200 * 1024 + 7);
    g_assert_cmpuint (first->piece_count, ==, 4);
  }
}

static void
test_http_errors (void)
{
  g_autoptr (AtlasTrackerClient) uploader =
      atlas_tracker_client_new (tracker.url, tracker.uploader, NULL);
  g_autoptr (AtlasTrackerClient) downloader =
      atlas_tracker_client_new (tracker.url, tracker.downloader, NULL);
  g_autoptr (AtlasTrackerClient) stranger =
      atlas_tracker_client_new (tracker.url, "not-a-token-the-tracker-ever-made", NULL);
  g_autoptr (AtlasTrackerClient) nowhere = NULL;
  g_auto (Published) p = { 0 };
  g_autoptr (GBytes) bad = g_bytes_new_static ("<metalink>no</metalink>", 23);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) xml = NULL;

  make_metalink (3, 100 * 1024, &p);

  /* 401: unknown token, with the tracker's reason in the message. */
  g_assert_cmpint (publish (stranger, "errors", "1", p.xml, FALSE, NULL, NULL, &error), ==, -1);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "401"));
  g_assert_null (strstr (error->message, "not-a-token-the-tracker-ever-made"));
  g_clear_error (&error);
  xml = find (stranger, "errors", NULL, &error);
  g_assert_null (xml);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_PERMISSION);
  g_clear_error (&error);

  /* 403: a downloader may not publish, and nothing was created. */
  g_assert_cmpint (publish (downloader, "errors", "1", p.xml, FALSE, NULL, NULL, &error), ==, -1);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "403"));
  g_clear_error (&error);
  xml = find (downloader, "errors", NULL, &error);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "errors"));
  g_clear_error (&error);

  /* 409: the same name and version twice. */
  g_assert_cmpint (publish (uploader, "errors", "1", p.xml, FALSE, NULL, NULL, &error), >, 0);
  g_assert_no_error (error);
  g_assert_cmpint (publish (uploader, "errors", "1", p.xml, FALSE, NULL, NULL, &error), ==, -1);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_EXISTS);
  g_clear_error (&error);

  /* 400: not a Metalink the tracker accepts. */
  g_assert_cmpint (publish (uploader, "errors", "2", bad, FALSE, NULL, NULL, &error), ==, -1);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  /* 404: no such version; a private entry is invisible to others. */
  xml = find (downloader, "errors", "9", &error);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND);
  g_clear_error (&error);
  {
    g_auto (Published) secret = { 0 };
    g_autoptr (GBytes) own = NULL;

    make_metalink (4, 10 * 1024, &secret);
    g_assert_cmpint (publish (uploader, "secret", "1", secret.xml, TRUE, NULL, NULL, &error), >, 0);
    g_assert_no_error (error);
    xml = find (downloader, "secret", NULL, &error);
    g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND);
    g_clear_error (&error);
    own = find (uploader, "secret", NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (own);
  }

  /* Nothing listens on the port: a network error, not a hang. */
  nowhere = atlas_tracker_client_new ("http://127.0.0.1:9", tracker.uploader, NULL);
  xml = find (nowhere, "errors", NULL, &error);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_NETWORK);
  g_clear_error (&error);

  /* A bad address is reported on use. */
  {
    g_autoptr (AtlasTrackerClient) bogus =
        atlas_tracker_client_new ("ftp://tracker.example", tracker.uploader, NULL);

    xml = find (bogus, "errors", NULL, &error);
    g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
    g_clear_error (&error);
  }
}

/* ---- WebSocket ---- */

typedef struct
{
  const char *label;
  AtlasTrackerClient *client;
  char *peer_id;
  guint connected;
  guint disconnected;
  GError *last_error;
  guint peers_messages;
  GHashTable *peers_seen; /* peer_id */
  guint signals;
  AtlasTrackerMessage *last_signal;
  guint errors;
  char *last_error_code;
} Peer;

static void
connected_cb (AtlasTrackerClient *client, gpointer user_data)
{
  Peer *peer = user_data;

  peer->connected++;
}

static void
disconnected_cb (AtlasTrackerClient *client, const GError *error, gpointer user_data)
{
  Peer *peer = user_data;

  peer->disconnected++;
  g_clear_error (&peer->last_error);
  if (error != NULL)
    peer->last_error = g_error_copy (error);
}

static void
peers_cb (AtlasTrackerClient *client, const char *entry, GPtrArray *peers, gpointer user_data)
{
  Peer *peer = user_data;

  for (guint i = 0; i < peers->len; i++)
    {
      const AtlasTrackerPeer *other = g_ptr_array_index (peers, i);

      g_assert_cmpstr (other->peer_id, !=, peer->peer_id);
      g_hash_table_add (peer->peers_seen, g_strdup (other->peer_id));
    }
  peer->peers_messages++;
}

static AtlasTrackerMessage *
copy_signal (const AtlasTrackerMessage *message)
{
  AtlasTrackerMessage *copy = atlas_tracker_message_new (ATLAS_TRACKER_MSG_SIGNAL);

  copy->peer_id = g_strdup (message->peer_id);
  copy->entry = g_strdup (message->entry);
  copy->kind = message->kind;
  copy->session = g_strdup (message->session);
  copy->ufrag = g_strdup (message->ufrag);
  copy->pwd = g_strdup (message->pwd);
  copy->candidate = g_strdup (message->candidate);
  return copy;
}

static void
signal_cb (AtlasTrackerClient *client, const AtlasTrackerMessage *message, gpointer user_data)
{
  Peer *peer = user_data;

  g_clear_pointer (&peer->last_signal, atlas_tracker_message_free);
  peer->last_signal = copy_signal (message);
  peer->signals++;
}

static void
error_cb (AtlasTrackerClient *client, const char *code, const char *text, gpointer user_data)
{
  Peer *peer = user_data;

  g_test_message ("%s: tracker error %s: %s", peer->label, code, text);
  g_free (peer->last_error_code);
  peer->last_error_code = g_strdup (code);
  peer->errors++;
}

static void
peer_init (Peer *peer, const char *label, const char *token)
{
  guint8 digest[32];
  g_autofree char *hex = NULL;

  atlas_hash_buffer (ATLAS_HASH_SHA256, label, strlen (label), digest);
  hex = atlas_hex_encode (digest, 32);
  peer->label = label;
  peer->peer_id = g_strconcat ("sha256:", hex, NULL);
  peer->peers_seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  peer->client = atlas_tracker_client_new (tracker.url, token, NULL);
  g_signal_connect (peer->client, "connected", G_CALLBACK (connected_cb), peer);
  g_signal_connect (peer->client, "disconnected", G_CALLBACK (disconnected_cb), peer);
  g_signal_connect (peer->client, "peers", G_CALLBACK (peers_cb), peer);
  g_signal_connect (peer->client, "signal", G_CALLBACK (signal_cb), peer);
  g_signal_connect (peer->client, "error", G_CALLBACK (error_cb), peer);
}

static void
peer_clear (Peer *peer)
{
  if (peer->client != NULL)
    {
      atlas_tracker_client_stop (peer->client);
      g_signal_handlers_disconnect_by_data (peer->client, peer);
    }
  g_clear_object (&peer->client);
  g_clear_pointer (&peer->peer_id, g_free);
  g_clear_pointer (&peer->peers_seen, g_hash_table_unref);
  g_clear_pointer (&peer->last_signal, atlas_tracker_message_free);
  g_clear_error (&peer->last_error);
  g_clear_pointer (&peer->last_error_code, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Peer, peer_clear)

/* A bitfield of @n pieces, all set or none. */
static GBytes *
bitfield (guint n, gboolean all)
{
  gsize size = (n + 7) / 8;
  guint8 *bits = g_malloc0 (size);

  if (all)
    {
      for (guint i = 0; i < n; i++)
        bits[i / 8] |= (guint8) (0x80 >> (i % 8));
    }
  return g_bytes_new_take (bits, size);
}

/* Announces until the tracker's answer names @other (bounded): the other
 * peer's own announce may still be on its way. */
static gboolean
announce_until_seen (Peer *peer, const char *entry, guint n_pieces, gboolean complete,
                     const Peer *other)
{
  g_autoptr (GBytes) pieces = bitfield (n_pieces, complete);

  for (guint i = 0; i < 20; i++)
    {
      guint before = peer->peers_messages;

      atlas_tracker_client_announce (peer->client, entry, n_pieces, pieces, complete, 0, 0, 10);
      wait_count (&peer->peers_messages, before + 1, 1000);
      if (g_hash_table_contains (peer->peers_seen, other->peer_id))
        return TRUE;
      spin (100);
    }
  return FALSE;
}

static char *
publish_swarm_entry (guint seed, const char *name, guint *n_pieces)
{
  g_autoptr (AtlasTrackerClient) client =
      atlas_tracker_client_new (tracker.url, tracker.uploader, NULL);
  g_autoptr (GError) error = NULL;
  g_auto (Published) p = { 0 };

  make_metalink (seed, 5 * PIECE + 3, &p);
  g_assert_cmpint (publish (client, name, "1", p.xml, FALSE, NULL, NULL, &error), >, 0);
  g_assert_no_error (error);
  *n_pieces = 6;
  return g_strdup (p.entry);
}

static void
test_socket_peers_and_signals (void)
{
  g_auto (Peer) a = { 0 };
  g_auto (Peer) b = { 0 };
  g_autoptr (AtlasTrackerMessage) offer = atlas_tracker_message_new (ATLAS_TRACKER_MSG_SIGNAL);
  g_autoptr (AtlasTrackerMessage) answer = atlas_tracker_message_new (ATLAS_TRACKER_MSG_SIGNAL);
  guint n_pieces = 0;
  g_autofree char *entry = publish_swarm_entry (10, "swarm", &n_pieces);

  peer_init (&a, "peer-a", tracker.downloader);
  peer_init (&b, "peer-b", tracker.uploader);

  /* Not connected yet: a signal is refused, not queued. */
  offer->peer_id = g_strdup (b.peer_id);
  offer->entry = g_strdup (entry);
  offer->kind = ATLAS_SIGNAL_OFFER;
  offer->session = g_strdup ("s-1");
  offer->ufrag = g_strdup ("ufrA");
  offer->pwd = g_strdup ("passwordpasswordpasswordA");
  g_assert_false (atlas_tracker_client_send_signal (a.client, offer));

  atlas_tracker_client_start (a.client, a.peer_id);
  atlas_tracker_client_start (b.client, b.peer_id);
  g_assert_true (wait_count (&a.connected, 1, WAIT_MS));
  g_assert_true (wait_count (&b.connected, 1, WAIT_MS));
  g_assert_true (atlas_tracker_client_is_connected (a.client));

  /* Each announces the entry and finds the other among its peers. */
  {
    g_autoptr (GBytes) seed = bitfield (n_pieces, TRUE);

    atlas_tracker_client_announce (a.client, entry, n_pieces, seed, TRUE, 0, 0, 10);
  }
  g_assert_true (announce_until_seen (&b, entry, n_pieces, FALSE, &a));
  g_assert_true (announce_until_seen (&a, entry, n_pieces, TRUE, &b));

  /* A signal goes A -> B with "from" set to A by the tracker. */
  g_assert_true (atlas_tracker_client_send_signal (a.client, offer));
  g_assert_true (wait_count (&b.signals, 1, WAIT_MS));
  g_assert_cmpstr (b.last_signal->peer_id, ==, a.peer_id);
  g_assert_cmpint (b.last_signal->kind, ==, ATLAS_SIGNAL_OFFER);
  g_assert_cmpstr (b.last_signal->session, ==, "s-1");
  g_assert_cmpstr (b.last_signal->ufrag, ==, "ufrA");
  g_assert_cmpstr (b.last_signal->pwd, ==, "passwordpasswordpasswordA");
  g_assert_cmpstr (b.last_signal->entry, ==, entry);

  /* And back B -> A. */
  answer->peer_id = g_strdup (a.peer_id);
  answer->entry = g_strdup (entry);
  answer->kind = ATLAS_SIGNAL_ANSWER;
  answer->session = g_strdup ("s-1");
  answer->ufrag = g_strdup ("ufrB");
  answer->pwd = g_strdup ("passwordpasswordpasswordB");
  g_assert_true (atlas_tracker_client_send_signal (b.client, answer));
  g_assert_true (wait_count (&a.signals, 1, WAIT_MS));
  g_assert_cmpstr (a.last_signal->peer_id, ==, b.peer_id);
  g_assert_cmpint (a.last_signal->kind, ==, ATLAS_SIGNAL_ANSWER);
  g_assert_cmpstr (a.last_signal->ufrag, ==, "ufrB");

  /* A signal to a peer that is not connected comes back as an error. */
  {
    g_autoptr (AtlasTrackerMessage) lost = copy_signal (offer);
    guint before = a.errors;

    g_free (lost->peer_id);
    lost->peer_id = g_strdup ("sha256:"
                              "0000000000000000000000000000000000000000000000000000000000000000");
    g_assert_true (atlas_tracker_client_send_signal (a.client, lost));
    g_assert_true (wait_count (&a.errors, before + 1, WAIT_MS));
    g_assert_cmpstr (a.last_error_code, ==, "peer-gone");
    /* The channel survives the error. */
    g_assert_true (atlas_tracker_client_is_connected (a.client));
  }

  /* stop() says so once, with no error. */
  atlas_tracker_client_stop (a.client);
  g_assert_cmpuint (a.disconnected, ==, 1);
  g_assert_null (a.last_error);
  g_assert_false (atlas_tracker_client_is_connected (a.client));
}

static void
test_socket_reconnects_after_restart (void)
{
  g_auto (Peer) a = { 0 };
  g_auto (Peer) b = { 0 };
  guint n_pieces = 0;
  g_autofree char *entry = publish_swarm_entry (11, "restart", &n_pieces);
  g_autoptr (GBytes) seed = bitfield (n_pieces, TRUE);
  guint port = tracker.port;
  gint64 killed_at;
  double seconds;

  peer_init (&a, "restart-a", tracker.downloader);
  peer_init (&b, "restart-b", tracker.downloader);
  atlas_tracker_client_start (a.client, a.peer_id);
  atlas_tracker_client_start (b.client, b.peer_id);
  g_assert_true (wait_count (&a.connected, 1, WAIT_MS));
  g_assert_true (wait_count (&b.connected, 1, WAIT_MS));
  atlas_tracker_client_announce (a.client, entry, n_pieces, seed, TRUE, 0, 0, 10);
  g_assert_true (announce_until_seen (&b, entry, n_pieces, FALSE, &a));

  /* The tracker dies without a goodbye and comes back on the same port,
   * with its swarms gone. */
  tracker_stop (TRUE);
  killed_at = g_get_monotonic_time ();
  g_assert_true (wait_count (&a.disconnected, 1, WAIT_MS));
  g_assert_error (a.last_error, ATLAS_ERROR, ATLAS_ERROR_NETWORK);
  g_assert_false (atlas_tracker_client_is_connected (a.client));
  spin (300);
  tracker_start (port);

  /* Both come back by themselves, within the backoff's first steps. */
  g_assert_true (wait_count (&a.connected, 2, 15000));
  g_assert_true (wait_count (&b.connected, 2, 15000));
  seconds = (g_get_monotonic_time () - killed_at) / (double) G_USEC_PER_SEC;
  g_test_message ("reconnected %.2f s after the kill; %u disconnected signals", seconds,
                  a.disconnected);
  g_assert_cmpfloat (seconds, <, 10.0);
  /* One for the loss, at most a couple for attempts while it was down. */
  g_assert_cmpuint (a.disconnected, <=, 4);

  /* A re-announced on its own: the new tracker knows it without the test
   * calling announce on A again. */
  g_hash_table_remove_all (b.peers_seen);
  g_assert_true (announce_until_seen (&b, entry, n_pieces, FALSE, &a));
}

static void
test_socket_bad_token (void)
{
  g_auto (Peer) a = { 0 };

  peer_init (&a, "bad-token", "not-a-token-the-tracker-ever-made");
  atlas_tracker_client_start (a.client, a.peer_id);
  g_assert_true (wait_count (&a.disconnected, 1, WAIT_MS));
  g_assert_error (a.last_error, ATLAS_ERROR, ATLAS_ERROR_PERMISSION);

  /* No retries: the refusal is final, so nothing more happens. */
  spin (3500);
  g_assert_cmpuint (a.disconnected, ==, 1);
  g_assert_cmpuint (a.connected, ==, 0);
  g_assert_false (atlas_tracker_client_is_connected (a.client));
}

/* ---- donation ---- */

typedef struct
{
  guint assigns;
  GPtrArray *last;         /* AtlasTrackerAssignment* copies */
  GHashTable *donors_seen; /* peer ids listed with "donor": true */
} Donation;

static void
assign_cb (AtlasTrackerClient *client, GPtrArray *assignments, gpointer user_data)
{
  Donation *donation = user_data;

  g_clear_pointer (&donation->last, g_ptr_array_unref);
  donation->last = g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_tracker_assignment_free);
  for (guint i = 0; i < assignments->len; i++)
    g_ptr_array_add (donation->last,
                     atlas_tracker_assignment_copy (g_ptr_array_index (assignments, i)));
  donation->assigns++;
}

static void
donor_peers_cb (AtlasTrackerClient *client, const char *entry, GPtrArray *peers, gpointer user_data)
{
  Donation *donation = user_data;

  for (guint i = 0; i < peers->len; i++)
    {
      const AtlasTrackerPeer *other = g_ptr_array_index (peers, i);

      if (other->donor)
        g_hash_table_add (donation->donors_seen, g_strdup (other->peer_id));
    }
}

static GBytes *
get_metalink (AtlasTrackerClient *client, gint64 id, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  atlas_tracker_client_get_metalink_async (client, id, NULL, store_result_cb, &result);
  return atlas_tracker_client_get_metalink_finish (client, wait_result (&result), error);
}

static void
test_donation (void)
{
  g_autoptr (AtlasTrackerClient) uploader =
      atlas_tracker_client_new (tracker.url, tracker.uploader, NULL);
  g_auto (Peer) donor = { 0 };
  g_auto (Peer) leecher = { 0 };
  g_auto (Published) p = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) xml = NULL;
  g_autoptr (GBytes) missing = NULL;
  g_autoptr (GBytes) all = NULL;
  g_autoptr (GBytes) none = NULL;
  Donation donation = { 0 };
  Donation seen = { 0 };
  const AtlasTrackerAssignment *assignment;
  char *entries[2] = { NULL, NULL };
  AtlasDonateOffer offer = { 0 };
  guint port = tracker.port;
  gint64 id;

  make_metalink (20, 6 * PIECE, &p);
  id = publish (uploader, "donated.bin", "1", p.xml, FALSE, NULL, NULL, &error);
  g_assert_no_error (error);

  /* The Metalink by id, exactly as published; an id nobody published is
   * not found. */
  xml = get_metalink (uploader, id, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (xml, p.xml));
  missing = get_metalink (uploader, id + 1000, &error);
  g_assert_null (missing);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A donor offering 4 pieces' worth for this entry, set before it connects. */
  peer_init (&donor, "donor", tracker.downloader);
  g_signal_connect (donor.client, "assign", G_CALLBACK (assign_cb), &donation);
  entries[0] = p.entry;
  offer.storage = 4 * PIECE;
  offer.upload_rate = 1 << 20;
  offer.entries = entries;
  atlas_tracker_client_donate (donor.client, &offer);
  atlas_tracker_client_set_donor (donor.client, TRUE);
  atlas_tracker_client_start (donor.client, donor.peer_id);
  g_assert_true (wait_count (&donation.assigns, 1, WAIT_MS));
  g_assert_cmpuint (donation.last->len, ==, 1);
  assignment = g_ptr_array_index (donation.last, 0);
  g_assert_cmpstr (assignment->entry, ==, p.entry);
  g_assert_cmpint (assignment->id, ==, id);
  g_assert_cmpstr (assignment->name, ==, "donated.bin");
  g_assert_cmpuint (assignment->piece_count, ==, 6);
  g_assert_cmpuint (assignment->piece_length, ==, PIECE);
  {
    guint n = 0;

    for (guint i = 0; i < 6; i++)
      n += atlas_tracker_bitfield_get (assignment->pieces, i);
    g_assert_cmpuint (n, ==, 4);
  }

  /* Its announces carry the donor flag: a downloader sees it as a donor. */
  all = bitfield (6, TRUE);
  none = bitfield (6, FALSE);
  atlas_tracker_client_announce (donor.client, p.entry, 6, all, TRUE, 0, 0, 10);
  peer_init (&leecher, "leecher", tracker.downloader);
  seen.donors_seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_signal_connect (leecher.client, "peers", G_CALLBACK (donor_peers_cb), &seen);
  atlas_tracker_client_start (leecher.client, leecher.peer_id);
  g_assert_true (wait_count (&leecher.connected, 1, WAIT_MS));
  g_assert_true (announce_until_seen (&leecher, p.entry, 6, FALSE, &donor));
  g_assert_true (g_hash_table_contains (seen.donors_seen, donor.peer_id));
  atlas_tracker_client_stop (leecher.client);

  /* The tracker restarts and forgets every offer: the client offers again
   * by itself and hears its assignment again. */
  tracker_stop (TRUE);
  spin (300);
  tracker_start (port);
  g_assert_true (wait_count (&donor.connected, 2, 15000));
  g_assert_true (wait_count (&donation.assigns, 2, WAIT_MS));
  g_assert_cmpuint (donation.last->len, ==, 1);

  /* Withdrawn: the tracker assigns nothing. */
  atlas_tracker_client_donate (donor.client, NULL);
  g_assert_true (wait_count (&donation.assigns, 3, WAIT_MS));
  g_assert_cmpuint (donation.last->len, ==, 0);

  g_clear_pointer (&donation.last, g_ptr_array_unref);
  g_clear_pointer (&seen.donors_seen, g_hash_table_unref);
}

/* ---- TLS ---- */

/* A self-signed certificate for 127.0.0.1 (and only that), with openssl. */
static gboolean
make_certificate (const char *stem, char **cert, char **key)
{
  g_autofree char *out = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;
  g_autofree char *cmd = NULL;

  *cert = g_strconcat (stem, "-cert.pem", NULL);
  *key = g_strconcat (stem, "-key.pem", NULL);
  cmd = g_strdup_printf ("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                         "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
                         "-keyout '%s' -out '%s'",
                         *key, *cert);
  if (!g_spawn_command_line_sync (cmd, NULL, &out, &status, &error)
      || !g_spawn_check_wait_status (status, NULL))
    {
      g_test_message ("openssl failed: %s", error != NULL ? error->message : out);
      return FALSE;
    }
  return TRUE;
}

static void
test_tls (void)
{
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;
  g_autofree char *other_cert = NULL;
  g_autofree char *other_key = NULL;
  g_autofree char *stem = g_build_filename (tracker.dir, "tls", NULL);
  g_autofree char *other_stem = g_build_filename (tracker.dir, "other", NULL);
  g_autofree char *url = NULL;
  g_autofree char *by_name = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) xml = NULL;
  guint port = 0;

  if (!make_certificate (stem, &cert, &key)
      || !make_certificate (other_stem, &other_cert, &other_key))
    {
      g_test_skip ("openssl cannot make a test certificate");
      return;
    }
  /* An entry to find, published over plain HTTP to the same database. */
  {
    g_autoptr (AtlasTrackerClient) plain =
        atlas_tracker_client_new (tracker.url, tracker.uploader, NULL);
    g_auto (Published) p = { 0 };

    make_metalink (20, 50 * 1024, &p);
    g_assert_cmpint (publish (plain, "tls-entry", "1", p.xml, FALSE, NULL, NULL, &error), >, 0);
    g_assert_no_error (error);
  }
  process = spawn_tracker (0, cert, key, &port);
  url = g_strdup_printf ("https://127.0.0.1:%u", port);
  by_name = g_strdup_printf ("https://localhost:%u", port);

  /* Trusted through the extra CA: the request reaches the tracker. */
  {
    g_autoptr (AtlasTrackerClient) client =
        atlas_tracker_client_new (url, tracker.downloader, cert);

    xml = find (client, "tls-entry", NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (xml);
  }

  /* Not trusted: without the CA, with another CA, or under a name the
   * certificate does not carry. Verification is never skipped. */
  {
    const char *urls[] = { url, url, by_name };
    const char *cas[] = { NULL, other_cert, cert };

    for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
      {
        g_autoptr (AtlasTrackerClient) client =
            atlas_tracker_client_new (urls[i], tracker.downloader, cas[i]);
        g_autoptr (GBytes) refused = find (client, "tls-entry", NULL, &error);

        g_assert_null (refused);
        g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_AUTHENTICATION);
        g_clear_error (&error);
      }
  }

  /* The peer channel over wss:// uses the same trust. */
  {
    g_auto (Peer) trusted = { 0 };
    g_auto (Peer) untrusted = { 0 };

    peer_init (&trusted, "tls-trusted", tracker.downloader);
    g_clear_object (&trusted.client);
    trusted.client = atlas_tracker_client_new (url, tracker.downloader, cert);
    g_signal_connect (trusted.client, "connected", G_CALLBACK (connected_cb), &trusted);
    g_signal_connect (trusted.client, "disconnected", G_CALLBACK (disconnected_cb), &trusted);
    atlas_tracker_client_start (trusted.client, trusted.peer_id);
    g_assert_true (wait_count (&trusted.connected, 1, WAIT_MS));

    peer_init (&untrusted, "tls-untrusted", tracker.downloader);
    g_clear_object (&untrusted.client);
    untrusted.client = atlas_tracker_client_new (url, tracker.downloader, NULL);
    g_signal_connect (untrusted.client, "connected", G_CALLBACK (connected_cb), &untrusted);
    g_signal_connect (untrusted.client, "disconnected", G_CALLBACK (disconnected_cb), &untrusted);
    atlas_tracker_client_start (untrusted.client, untrusted.peer_id);
    g_assert_true (wait_count (&untrusted.disconnected, 1, WAIT_MS));
    g_assert_error (untrusted.last_error, ATLAS_ERROR, ATLAS_ERROR_AUTHENTICATION);
    g_assert_cmpuint (untrusted.connected, ==, 0);
  }

  stop_process (&process, FALSE);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  tracker.exe = g_strdup (g_getenv ("ATLAS_TRACKER"));
  /* The tracker is always built with the engine: without it this is a broken
   * set-up, not something to skip. */
  if (tracker.exe == NULL || !g_file_test (tracker.exe, G_FILE_TEST_IS_EXECUTABLE))
    g_error ("ATLAS_TRACKER does not name the atlas-tracker executable");

  tracker.dir = g_dir_make_tmp ("atlas-tracker-client-XXXXXX", &error);
  g_assert_no_error (error);
  tracker.database = g_build_filename (tracker.dir, "tracker.sqlite", NULL);
  tracker.admin = token_add ("admin", "admin");
  tracker.uploader = token_add ("uploader", "up");
  tracker.downloader = token_add ("downloader", "down");
  tracker_start (0);

  g_test_add_func ("/tracker-client/http/publish-find", test_publish_find_round_trip);
  g_test_add_func ("/tracker-client/http/errors", test_http_errors);
  g_test_add_func ("/tracker-client/socket/peers-signals", test_socket_peers_and_signals);
  g_test_add_func ("/tracker-client/socket/reconnect", test_socket_reconnects_after_restart);
  g_test_add_func ("/tracker-client/socket/bad-token", test_socket_bad_token);
  g_test_add_func ("/tracker-client/socket/donation", test_donation);
  g_test_add_func ("/tracker-client/tls/trust", test_tls);
  status = g_test_run ();

  tracker_stop (FALSE);
  {
    g_autofree char *wal = g_strconcat (tracker.database, "-wal", NULL);
    g_autofree char *shm = g_strconcat (tracker.database, "-shm", NULL);

    g_unlink (wal);
    g_unlink (shm);
    g_unlink (tracker.database);
    g_rmdir (tracker.dir);
  }
  return status;
}
