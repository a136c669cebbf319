/* test-tracker-donation.c — the tracker's donation coordinator in-process on
 * 127.0.0.1, driven over real WebSockets: donors offer, downloaders announce,
 * and the assign messages must follow demand, storage, causes, private
 * entries and departures. */
#include "atlas-error.h"
#include "atlas-tracker-server.h"
#include "atlas-tracker-wire.h"
#include "tracker-test-util.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#define TIMEOUT_USEC (5 * G_USEC_PER_SEC)
/* The allocation re-runs this often in the tests (5 s in service). */
#define INTERVAL_MS 100
#define PIECE_LENGTH 16384
#define N_PIECES 10
#define PEER(c)                                                                                    \
  "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
      c c c c c c c c c c c c c c c c c c c c c
#define DONOR_A PEER ("a")
#define DONOR_B PEER ("b")
#define SEEDER PEER ("c")
#define LEECHER PEER ("d")
#define SEEDER2 PEER ("e")

typedef struct
{
  char *dir;
  AtlasTrackerServer *server;
  AtlasTrackerStore *store;
  char *uri;
  SoupSession *session;
  char *uploader, *uploader2, *downloader, *reader2;
  gint64 uploader_id, uploader2_id;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = NULL;

  fixture->dir = g_dir_make_tmp ("atlas-donation-XXXXXX", &error);
  g_assert_no_error (error);
  db = g_build_filename (fixture->dir, "tracker.db", NULL);
  fixture->store = atlas_tracker_store_open (db, &error);
  g_assert_no_error (error);
  fixture->uploader = tracker_test_add_token (fixture->store, "uploader",
                                              ATLAS_TRACKER_ROLE_UPLOADER, &fixture->uploader_id);
  fixture->uploader2 = tracker_test_add_token (fixture->store, "uploader2",
                                               ATLAS_TRACKER_ROLE_UPLOADER, &fixture->uploader2_id);
  fixture->downloader =
      tracker_test_add_token (fixture->store, "downloader", ATLAS_TRACKER_ROLE_DOWNLOADER, NULL);
  fixture->reader2 =
      tracker_test_add_token (fixture->store, "reader2", ATLAS_TRACKER_ROLE_DOWNLOADER, NULL);

  fixture->server = atlas_tracker_server_new (fixture->store, NULL);
  atlas_tracker_hub_set_donation_interval (atlas_tracker_server_get_hub (fixture->server),
                                           INTERVAL_MS);
  atlas_tracker_server_listen (fixture->server, "127.0.0.1:0", &error);
  g_assert_no_error (error);
  fixture->uri = atlas_tracker_server_get_uri (fixture->server);
  fixture->session = soup_session_new ();
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  atlas_tracker_server_shutdown (fixture->server);
  tracker_test_run_for (50);
  g_clear_object (&fixture->session);
  g_clear_object (&fixture->server);
  dir = g_dir_open (fixture->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (fixture->dir, name, NULL);

      g_remove (child);
    }
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->uri);
  g_free (fixture->uploader);
  g_free (fixture->uploader2);
  g_free (fixture->downloader);
  g_free (fixture->reader2);
}

/* Puts an entry of N_PIECES pieces in the index, as publishing would, and
 * returns its file hash (made from @seed). */
static char *
add_entry (Fixture *fixture, const char *name, guint seed, gint64 uploader, gboolean is_private,
           const char *allowed, gint64 *id)
{
  g_autoptr (GError) error = NULL;
  const char *const allowed_list[] = { allowed, NULL };
  AtlasTrackerIndexEntry entry = { 0 };
  static const char metalink[] = "<metalink/>";

  entry.name = (char *) name;
  entry.version = (char *) "1";
  entry.description = (char *) "";
  entry.entry = g_strdup_printf ("%064x", seed);
  entry.size = N_PIECES * PIECE_LENGTH;
  entry.piece_length = PIECE_LENGTH;
  entry.piece_count = N_PIECES;
  entry.is_private = is_private;
  entry.uploader = uploader;
  atlas_tracker_store_add_entry (fixture->store, &entry, metalink, strlen (metalink),
                                 allowed != NULL ? allowed_list : NULL, &error);
  g_assert_no_error (error);
  if (id != NULL)
    *id = entry.id;
  return entry.entry;
}

/* WebSocket clients */

typedef struct
{
  SoupWebsocketConnection *ws;
  GQueue messages; /* AtlasTrackerMessage* */
  gboolean closed;
} Client;

static void
client_message_cb (SoupWebsocketConnection *ws, gint type, GBytes *bytes, gpointer user_data)
{
  Client *client = user_data;
  g_autoptr (GError) error = NULL;
  gsize length;
  const char *data = g_bytes_get_data (bytes, &length);
  AtlasTrackerMessage *message =
      atlas_tracker_message_parse (data, length, ATLAS_TRACKER_FROM_TRACKER, &error);

  /* Whatever the tracker sends must pass the client's strict parser. */
  g_assert_no_error (error);
  g_queue_push_tail (&client->messages, message);
}

static void
client_closed_cb (SoupWebsocketConnection *ws, gpointer user_data)
{
  ((Client *) user_data)->closed = TRUE;
}

typedef struct
{
  gboolean done;
  SoupWebsocketConnection *ws;
  GError *error;
} Connect;

static void
connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Connect *connect = user_data;

  connect->ws =
      soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &connect->error);
  connect->done = TRUE;
}

static void
send_message (Client *client, const AtlasTrackerMessage *message)
{
  g_autofree char *json = atlas_tracker_message_to_json (message);

  soup_websocket_connection_send_text (client->ws, json);
}

/* The next message of @type, skipping others; fails after 5 s. */
static AtlasTrackerMessage *
expect_type (Client *client, AtlasTrackerMessageType type)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_USEC;
  guint tick = g_timeout_add (20, tracker_test_tick_cb, NULL);
  AtlasTrackerMessage *found = NULL;

  while (found == NULL && g_get_monotonic_time () < deadline)
    {
      while (found == NULL && !g_queue_is_empty (&client->messages))
        {
          AtlasTrackerMessage *message = g_queue_pop_head (&client->messages);

          if (message->type == type)
            found = message;
          else
            atlas_tracker_message_free (message);
        }
      if (found == NULL)
        g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (tick);
  if (found == NULL)
    g_error ("no %s message within 5 s", atlas_tracker_message_type_to_string (type));
  return found;
}

/* Whether a message of @type arrives within @msec. */
static gboolean
receives_within (Client *client, AtlasTrackerMessageType type, guint msec)
{
  tracker_test_run_for (msec);
  for (GList *l = client->messages.head; l != NULL; l = l->next)
    if (((AtlasTrackerMessage *) l->data)->type == type)
      return TRUE;
  return FALSE;
}

static Client *
client_new (Fixture *fixture, const char *token, const char *peer_id)
{
  g_autofree char *url = g_strconcat (fixture->uri, "/api/v1/peer", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autofree char *bearer = g_strconcat ("Bearer ", token, NULL);
  char *protocols[] = { (char *) ATLAS_TRACKER_SUBPROTOCOL, NULL };
  Connect connect = { 0 };
  Client *client = g_new0 (Client, 1);
  g_autoptr (AtlasTrackerMessage) hello = atlas_tracker_message_new (ATLAS_TRACKER_MSG_HELLO);
  g_autoptr (AtlasTrackerMessage) welcome = NULL;

  soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization", bearer);
  soup_session_websocket_connect_async (fixture->session, msg, NULL, protocols, G_PRIORITY_DEFAULT,
                                        NULL, connected_cb, &connect);
  tracker_test_wait_for_flag (&connect.done);
  g_assert_no_error (connect.error);
  client->ws = connect.ws;
  soup_websocket_connection_set_max_incoming_payload_size (client->ws, ATLAS_TRACKER_MAX_MESSAGE);
  g_queue_init (&client->messages);
  g_signal_connect (client->ws, "message", G_CALLBACK (client_message_cb), client);
  g_signal_connect (client->ws, "closed", G_CALLBACK (client_closed_cb), client);

  hello->peer_id = g_strdup (peer_id);
  send_message (client, hello);
  welcome = expect_type (client, ATLAS_TRACKER_MSG_WELCOME);
  g_assert_cmpstr (welcome->peer_id, ==, peer_id);
  return client;
}

static void
client_free (Client *client)
{
  g_signal_handlers_disconnect_by_data (client->ws, client);
  if (soup_websocket_connection_get_state (client->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_clear_object (&client->ws);
  g_queue_clear_full (&client->messages, (GDestroyNotify) atlas_tracker_message_free);
  g_free (client);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

/* Sends a donate of @pieces pieces' worth of storage for these causes. */
static void
donate (Client *client, guint pieces, gboolean paused, gboolean anywhere, const char *entry,
        const char *publisher)
{
  g_autoptr (AtlasTrackerMessage) message = atlas_tracker_message_new (ATLAS_TRACKER_MSG_DONATE);
  const char *entries[] = { entry, NULL };
  const char *publishers[] = { publisher, NULL };

  message->offer->storage = (guint64) pieces * PIECE_LENGTH;
  message->offer->upload_rate = 1 << 20;
  message->offer->paused = paused;
  message->offer->anywhere = anywhere;
  message->offer->entries = g_strdupv ((char **) entries);
  message->offer->publishers = g_strdupv ((char **) publishers);
  send_message (client, message);
}

/* Announces holding @pieces (a string of '0'/'1' per piece). */
static void
announce (Client *client, const char *entry, const char *pieces, gboolean donor)
{
  g_autoptr (AtlasTrackerMessage) message = atlas_tracker_message_new (ATLAS_TRACKER_MSG_ANNOUNCE);
  guint n = strlen (pieces);
  guint8 *bits = g_malloc0 ((n + 7) / 8);
  gboolean complete = TRUE;

  for (guint i = 0; i < n; i++)
    if (pieces[i] == '1')
      bits[i / 8] |= 0x80 >> (i % 8);
    else
      complete = FALSE;
  message->entry = g_strdup (entry);
  message->piece_count = n;
  message->pieces = g_bytes_new_take (bits, (n + 7) / 8);
  message->complete = complete;
  message->want_peers = 50;
  message->donor = donor;
  send_message (client, message);
}

/* The pieces of @entry in an assign, as '0'/'1' per piece ("" if absent). */
static char *
assigned (const AtlasTrackerMessage *assign, const char *entry)
{
  for (guint i = 0; i < assign->assignments->len; i++)
    {
      const AtlasTrackerAssignment *a = g_ptr_array_index (assign->assignments, i);
      GString *text;

      if (strcmp (a->entry, entry) != 0)
        continue;
      text = g_string_new (NULL);
      for (guint32 p = 0; p < a->piece_count; p++)
        g_string_append_c (text, atlas_tracker_bitfield_get (a->pieces, p) ? '1' : '0');
      return g_string_free (text, FALSE);
    }
  return g_strdup ("");
}

static guint
count_ones (const char *bits)
{
  guint n = 0;

  for (; *bits != '\0'; bits++)
    n += *bits == '1';
  return n;
}

/* Tests */

static void
test_donate_assign (Fixture *fixture, gconstpointer data)
{
  gint64 id = 0;
  g_autofree char *entry =
      add_entry (fixture, "atlas.iso", 1, fixture->uploader_id, FALSE, NULL, &id);
  g_autoptr (Client) donor = client_new (fixture, fixture->downloader, DONOR_A);
  g_autoptr (AtlasTrackerMessage) assign = NULL;
  g_autofree char *bits = NULL;
  const AtlasTrackerAssignment *first;

  /* Nobody asked yet, but a supported file gets one donor copy of each
   * piece (the prior), as far as 4 pieces of storage go. */
  donate (donor, 4, FALSE, FALSE, entry, NULL);
  assign = expect_type (donor, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign->assignments->len, ==, 1);
  first = g_ptr_array_index (assign->assignments, 0);
  g_assert_cmpstr (first->entry, ==, entry);
  g_assert_cmpint (first->id, ==, id);
  g_assert_cmpstr (first->name, ==, "atlas.iso");
  g_assert_cmpuint (first->piece_count, ==, N_PIECES);
  g_assert_cmpuint (first->piece_length, ==, PIECE_LENGTH);
  bits = assigned (assign, entry);
  g_assert_cmpuint (count_ones (bits), ==, 4);

  /* Unchanged: no further assign, however many runs pass. */
  g_assert_false (receives_within (donor, ATLAS_TRACKER_MSG_ASSIGN, 5 * INTERVAL_MS));

  /* More storage, more pieces: all 10, and the first 4 stay where they were. */
  donate (donor, 100, FALSE, FALSE, entry, NULL);
  g_clear_pointer (&assign, atlas_tracker_message_free);
  assign = expect_type (donor, ATLAS_TRACKER_MSG_ASSIGN);
  g_free (g_steal_pointer (&bits));
  bits = assigned (assign, entry);
  g_assert_cmpstr (bits, ==, "1111111111");
}

static void
test_two_donors_split (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry =
      add_entry (fixture, "split.iso", 2, fixture->uploader_id, FALSE, NULL, NULL);
  g_autoptr (Client) a = client_new (fixture, fixture->downloader, DONOR_A);
  g_autoptr (Client) b = client_new (fixture, fixture->reader2, DONOR_B);
  g_autoptr (AtlasTrackerMessage) assign_a = NULL;
  g_autoptr (AtlasTrackerMessage) assign_b = NULL;
  g_autofree char *bits_a = NULL;
  g_autofree char *bits_b = NULL;

  /* Each has room for 6 of the 10 pieces: together they hold every piece
   * once, and neither holds more than it offered. */
  donate (a, 6, FALSE, FALSE, entry, NULL);
  donate (b, 6, FALSE, FALSE, entry, NULL);
  tracker_test_run_for (3 * INTERVAL_MS);
  while (TRUE)
    {
      /* The latest assign of each. */
      gboolean more = FALSE;

      for (GList *l = a->messages.head; l != NULL; l = l->next)
        more |= ((AtlasTrackerMessage *) l->data)->type == ATLAS_TRACKER_MSG_ASSIGN;
      if (!more)
        break;
      g_clear_pointer (&assign_a, atlas_tracker_message_free);
      assign_a = expect_type (a, ATLAS_TRACKER_MSG_ASSIGN);
    }
  while (TRUE)
    {
      gboolean more = FALSE;

      for (GList *l = b->messages.head; l != NULL; l = l->next)
        more |= ((AtlasTrackerMessage *) l->data)->type == ATLAS_TRACKER_MSG_ASSIGN;
      if (!more)
        break;
      g_clear_pointer (&assign_b, atlas_tracker_message_free);
      assign_b = expect_type (b, ATLAS_TRACKER_MSG_ASSIGN);
    }
  g_assert_nonnull (assign_a);
  g_assert_nonnull (assign_b);
  bits_a = assigned (assign_a, entry);
  bits_b = assigned (assign_b, entry);
  g_test_message ("donor a %s, donor b %s", bits_a, bits_b);
  g_assert_cmpuint (count_ones (bits_a), <=, 6);
  g_assert_cmpuint (count_ones (bits_b), <=, 6);
  g_assert_cmpuint (count_ones (bits_a), >=, 4);
  g_assert_cmpuint (count_ones (bits_b), >=, 4);
  for (guint p = 0; p < N_PIECES; p++)
    g_assert_true ((bits_a[p] == '1') != (bits_b[p] == '1'));
}

static void
test_causes_and_private (Fixture *fixture, gconstpointer data)
{
  g_autofree char *public_entry =
      add_entry (fixture, "public.iso", 3, fixture->uploader_id, FALSE, NULL, NULL);
  g_autofree char *other_publisher =
      add_entry (fixture, "other.iso", 4, fixture->uploader2_id, FALSE, NULL, NULL);
  /* Private, and listed for "downloader" only. */
  g_autofree char *private_entry =
      add_entry (fixture, "private.iso", 5, fixture->uploader_id, TRUE, "downloader", NULL);
  g_autofree char *unknown = g_strdup_printf ("%064x", 99);
  g_autoptr (Client) outsider = client_new (fixture, fixture->reader2, DONOR_A);
  g_autoptr (Client) insider = client_new (fixture, fixture->downloader, DONOR_B);
  g_autoptr (AtlasTrackerMessage) assign = NULL;
  g_autofree char *bits = NULL;

  /* A private entry the token may not see, or a hash not in the index:
   * nothing, and no sign that the private entry exists. */
  donate (outsider, 100, FALSE, FALSE, private_entry, NULL);
  assign = expect_type (outsider, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign->assignments->len, ==, 0);
  g_clear_pointer (&assign, atlas_tracker_message_free);
  donate (outsider, 100, FALSE, FALSE, unknown, NULL);
  assign = expect_type (outsider, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign->assignments->len, ==, 0);

  /* A listed token may hold it. */
  donate (insider, 100, FALSE, FALSE, private_entry, NULL);
  g_clear_pointer (&assign, atlas_tracker_message_free);
  assign = expect_type (insider, ATLAS_TRACKER_MSG_ASSIGN);
  bits = assigned (assign, private_entry);
  g_assert_cmpstr (bits, ==, "1111111111");
  g_assert_cmpuint (assign->assignments->len, ==, 1);

  /* A publisher cause: exactly that publisher's entries. */
  donate (outsider, 100, FALSE, FALSE, NULL, "uploader2");
  g_clear_pointer (&assign, atlas_tracker_message_free);
  assign = expect_type (outsider, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign->assignments->len, ==, 1);
  g_free (g_steal_pointer (&bits));
  bits = assigned (assign, other_publisher);
  g_assert_cmpstr (bits, ==, "1111111111");

  /* The same publisher's private entry stays out of a publisher cause
   * whose token may not see it. */
  donate (outsider, 100, FALSE, FALSE, NULL, "uploader");
  g_clear_pointer (&assign, atlas_tracker_message_free);
  assign = expect_type (outsider, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign->assignments->len, ==, 1);
  g_free (g_steal_pointer (&bits));
  bits = assigned (assign, public_entry);
  g_assert_cmpuint (count_ones (bits), >, 0);
}

static void
test_downloader_demand (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry =
      add_entry (fixture, "wanted.iso", 6, fixture->uploader_id, FALSE, NULL, NULL);
  g_autoptr (Client) seeder = client_new (fixture, fixture->uploader, SEEDER);
  g_autoptr (Client) seeder2 = client_new (fixture, fixture->uploader2, SEEDER2);
  g_autoptr (Client) leecher = client_new (fixture, fixture->reader2, LEECHER);
  g_autoptr (Client) donor = client_new (fixture, fixture->downloader, DONOR_A);
  g_autoptr (AtlasTrackerMessage) assign = NULL;
  g_autofree char *bits = NULL;

  /* Seeders cover the prior: nothing is short, nothing assigned. */
  announce (seeder, entry, "1111111111", FALSE);
  announce (seeder2, entry, "1111111111", FALSE);
  tracker_test_run_for (2 * INTERVAL_MS);
  donate (donor, 2, FALSE, FALSE, entry, NULL);
  assign = expect_type (donor, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign->assignments->len, ==, 0);

  /* A downloader lacking pieces 3 and 7: its arrival raises the prior to
   * 2 copies, which the two seeders and the downloader cover for every
   * piece but those it lacks, where live demand makes 3 copies wanted and 2
   * held. The donor's two pieces of storage go exactly there. */
  announce (leecher, entry, "1110111011", FALSE);
  g_clear_pointer (&assign, atlas_tracker_message_free);
  assign = expect_type (donor, ATLAS_TRACKER_MSG_ASSIGN);
  bits = assigned (assign, entry);
  g_assert_cmpstr (bits, ==, "0001000100");
}

static void
test_anywhere (Fixture *fixture, gconstpointer data)
{
  g_autofree char *busy =
      add_entry (fixture, "busy.iso", 12, fixture->uploader_id, FALSE, NULL, NULL);
  g_autofree char *idle =
      add_entry (fixture, "idle.iso", 13, fixture->uploader_id, FALSE, NULL, NULL);
  g_autofree char *hidden =
      add_entry (fixture, "hidden.iso", 14, fixture->uploader_id, TRUE, "downloader", NULL);
  g_autoptr (Client) seeder = client_new (fixture, fixture->uploader, SEEDER);
  g_autoptr (Client) leecher = client_new (fixture, fixture->downloader, LEECHER);
  g_autoptr (Client) donor = client_new (fixture, fixture->reader2, DONOR_A);
  g_autoptr (AtlasTrackerMessage) assign = NULL;
  g_autofree char *bits = NULL;

  /* "Wherever most needed" follows the downloaders: of the busy file, the
   * two pieces its downloader lacks and only the seeder holds; nothing of a
   * file nobody downloads, and nothing of a private file the donor's token
   * may not see, however busy. */
  announce (seeder, busy, "1111111111", FALSE);
  announce (leecher, busy, "1110111011", FALSE);
  announce (leecher, hidden, "0000000000", FALSE);
  tracker_test_run_for (2 * INTERVAL_MS);
  donate (donor, 100, FALSE, TRUE, NULL, NULL);
  assign = expect_type (donor, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign->assignments->len, ==, 1);
  bits = assigned (assign, busy);
  g_assert_cmpstr (bits, ==, "0001000100");
}

static void
test_donor_leaves (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry =
      add_entry (fixture, "handover.iso", 7, fixture->uploader_id, FALSE, NULL, NULL);
  Client *a = client_new (fixture, fixture->downloader, DONOR_A);
  g_autoptr (Client) b = client_new (fixture, fixture->reader2, DONOR_B);
  g_autoptr (AtlasTrackerMessage) assign_a = NULL;
  g_autoptr (AtlasTrackerMessage) assign_b = NULL;
  g_autofree char *bits_a = NULL;
  g_autofree char *bits_b = NULL;

  donate (a, 10, FALSE, FALSE, entry, NULL);
  assign_a = expect_type (a, ATLAS_TRACKER_MSG_ASSIGN);
  bits_a = assigned (assign_a, entry);
  g_assert_cmpstr (bits_a, ==, "1111111111");

  /* The second donor finds every piece taken. */
  donate (b, 10, FALSE, FALSE, entry, NULL);
  assign_b = expect_type (b, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign_b->assignments->len, ==, 0);

  /* The first vanishes: its pieces go to the second. */
  client_free (a);
  g_clear_pointer (&assign_b, atlas_tracker_message_free);
  assign_b = expect_type (b, ATLAS_TRACKER_MSG_ASSIGN);
  bits_b = assigned (assign_b, entry);
  g_assert_cmpstr (bits_b, ==, "1111111111");
}

static void
test_paused_and_zero (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry =
      add_entry (fixture, "pause.iso", 8, fixture->uploader_id, FALSE, NULL, NULL);
  g_autoptr (Client) donor = client_new (fixture, fixture->downloader, DONOR_A);
  g_autoptr (AtlasTrackerMessage) assign = NULL;

  donate (donor, 10, FALSE, FALSE, entry, NULL);
  assign = expect_type (donor, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign->assignments->len, ==, 1);

  donate (donor, 10, TRUE, FALSE, entry, NULL);
  g_clear_pointer (&assign, atlas_tracker_message_free);
  assign = expect_type (donor, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign->assignments->len, ==, 0);

  donate (donor, 10, FALSE, FALSE, entry, NULL);
  g_clear_pointer (&assign, atlas_tracker_message_free);
  assign = expect_type (donor, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign->assignments->len, ==, 1);

  donate (donor, 0, FALSE, FALSE, entry, NULL);
  g_clear_pointer (&assign, atlas_tracker_message_free);
  assign = expect_type (donor, ATLAS_TRACKER_MSG_ASSIGN);
  g_assert_cmpuint (assign->assignments->len, ==, 0);
}

static void
test_malformed_donate (Fixture *fixture, gconstpointer data)
{
  static const char *const bad[] = {
    "{\"type\":\"donate\",\"storage\":1000000,\"upload\":0,\"paused\":false,"
    "\"causes\":{\"anywhere\":false,\"entries\":[\"ABC\"],\"publishers\":[]}}",
    "{\"type\":\"donate\",\"storage\":-1,\"upload\":0,\"paused\":false,"
    "\"causes\":{\"anywhere\":true,\"entries\":[],\"publishers\":[]}}",
    "{\"type\":\"donate\",\"storage\":\"1000000\",\"upload\":0,\"paused\":false,"
    "\"causes\":{\"anywhere\":true,\"entries\":[],\"publishers\":[]}}",
    "{\"type\":\"donate\",\"storage\":1000000,\"upload\":0,\"paused\":false,"
    "\"causes\":{\"anywhere\":true,\"entries\":[],\"publishers\":[\"no spaces\"]}}",
    "{\"type\":\"donate\",\"storage\":1000000,\"upload\":0,\"paused\":false,\"causes\":true}",
  };
  g_autofree char *entry =
      add_entry (fixture, "guarded.iso", 9, fixture->uploader_id, FALSE, NULL, NULL);
  g_autoptr (Client) donor = client_new (fixture, fixture->downloader, DONOR_A);
  GString *many;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (AtlasTrackerMessage) error = NULL;

      soup_websocket_connection_send_text (donor->ws, bad[i]);
      error = expect_type (donor, ATLAS_TRACKER_MSG_ERROR);
      g_assert_cmpstr (error->code, ==, "invalid-message");
    }

  many = g_string_new ("{\"type\":\"donate\",\"storage\":1000000,\"upload\":0,\"paused\":false,"
                       "\"causes\":{\"anywhere\":false,\"publishers\":[],\"entries\":[");
  for (guint i = 0; i <= ATLAS_TRACKER_MAX_DONATE_ENTRIES; i++)
    g_string_append_printf (many, "%s\"%s\"", i > 0 ? "," : "", entry);
  g_string_append (many, "]}}");
  soup_websocket_connection_send_text (donor->ws, many->str);
  g_string_free (many, TRUE);
  {
    g_autoptr (AtlasTrackerMessage) error = expect_type (donor, ATLAS_TRACKER_MSG_ERROR);

    g_assert_nonnull (strstr (error->text, "entries"));
  }

  /* None of them was an offer: nothing is assigned, and the connection is fine. */
  g_assert_false (receives_within (donor, ATLAS_TRACKER_MSG_ASSIGN, 5 * INTERVAL_MS));
  g_assert_false (donor->closed);
}

static void
test_peers_flag_donors (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry =
      add_entry (fixture, "flagged.iso", 10, fixture->uploader_id, FALSE, NULL, NULL);
  g_autoptr (Client) donor = client_new (fixture, fixture->downloader, DONOR_A);
  g_autoptr (Client) leecher = client_new (fixture, fixture->reader2, LEECHER);
  g_autoptr (Client) seeder = client_new (fixture, fixture->uploader, SEEDER);
  g_autoptr (AtlasTrackerMessage) peers = NULL;
  gboolean saw_donor = FALSE;
  gboolean saw_seeder = FALSE;

  /* The seeder holds nothing the downloader lacks; the donor does, so it is
   * listed (and first: useful peers come before the others). */
  announce (seeder, entry, "1111100000", FALSE);
  announce (donor, entry, "0000011111", TRUE);
  tracker_test_run_for (50);
  announce (leecher, entry, "1111100000", FALSE);
  peers = expect_type (leecher, ATLAS_TRACKER_MSG_PEERS);
  g_assert_cmpuint (peers->peers->len, ==, 2);
  for (guint i = 0; i < peers->peers->len; i++)
    {
      const AtlasTrackerPeer *peer = g_ptr_array_index (peers->peers, i);

      if (strcmp (peer->peer_id, DONOR_A) == 0)
        {
          g_assert_true (peer->donor);
          g_assert_cmpuint (i, ==, 0);
          saw_donor = TRUE;
        }
      else
        {
          g_assert_cmpstr (peer->peer_id, ==, SEEDER);
          g_assert_false (peer->donor);
          saw_seeder = TRUE;
        }
    }
  g_assert_true (saw_donor && saw_seeder);
}

/* The value of one sample line of the metrics text, or -1. */
static double
metric (const char *text, const char *name)
{
  g_autofree char *needle = g_strconcat ("\n", name, " ", NULL);
  const char *line = strstr (text, needle);

  return line != NULL ? g_ascii_strtod (line + strlen (needle), NULL) : -1;
}

static void
metrics_sent_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GBytes **body = user_data;
  g_autoptr (GError) error = NULL;

  *body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
}

static void
test_metrics (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry =
      add_entry (fixture, "counted.iso", 11, fixture->uploader_id, FALSE, NULL, NULL);
  g_autoptr (Client) donor = client_new (fixture, fixture->downloader, DONOR_A);
  g_autoptr (AtlasTrackerMessage) assign = NULL;
  g_autofree char *url = g_strconcat (fixture->uri, "/metrics", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = NULL;
  g_autofree char *text = NULL;

  donate (donor, 4, FALSE, FALSE, entry, NULL);
  assign = expect_type (donor, ATLAS_TRACKER_MSG_ASSIGN);
  soup_session_send_and_read_async (fixture->session, msg, G_PRIORITY_DEFAULT, NULL,
                                    metrics_sent_cb, &body);
  while (body == NULL)
    g_main_context_iteration (NULL, TRUE);
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_assert_cmpfloat (metric (text, "atlas_tracker_donors"), ==, 1);
  g_assert_cmpfloat (metric (text, "atlas_tracker_donor_storage_bytes"), ==, 4 * PIECE_LENGTH);
  g_assert_cmpfloat (metric (text, "atlas_tracker_donation_assigned_bytes"), ==, 4 * PIECE_LENGTH);
  /* Prior of one copy per piece: 4 met, 6 short. */
  g_assert_cmpfloat (metric (text, "atlas_tracker_donation_demand_met"), ==, 4);
  g_assert_cmpfloat (metric (text, "atlas_tracker_donation_shortfall"), ==, 6);
  g_assert_cmpfloat (metric (text, "atlas_tracker_donation_runs_total"), >=, 1);
  g_assert_cmpfloat (metric (text, "atlas_tracker_donation_last_run_seconds"), >=, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/tracker-donation/donate-assign", test_donate_assign);
  ADD ("/tracker-donation/two-donors-split", test_two_donors_split);
  ADD ("/tracker-donation/causes-and-private", test_causes_and_private);
  ADD ("/tracker-donation/downloader-demand", test_downloader_demand);
  ADD ("/tracker-donation/anywhere", test_anywhere);
  ADD ("/tracker-donation/donor-leaves", test_donor_leaves);
  ADD ("/tracker-donation/paused-and-zero", test_paused_and_zero);
  ADD ("/tracker-donation/malformed-donate", test_malformed_donate);
  ADD ("/tracker-donation/peers-flag-donors", test_peers_flag_donors);
  ADD ("/tracker-donation/metrics", test_metrics);
#undef ADD

  return g_test_run ();
}
