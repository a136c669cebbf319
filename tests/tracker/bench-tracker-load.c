/* bench-tracker-load.c — many simulated peers on one atlas-tracker.
 *
 * Not a test: bench/bench-tracker-load.sh runs it against a real tracker
 * process. N peers (libsoup WebSocket clients on this one main loop) say
 * hello, join one of M entries, and then, for the steady phase, the whole
 * population announces and signals at a fixed total rate: each offer goes
 * to another peer of the sender's swarm, which answers it through the
 * tracker. Latencies are measured from the send to the tracker's reply
 * (welcome, peers) or to the relayed message's arrival (offer one way,
 * offer → answer round trip), all on this process's monotonic clock.
 *
 * usage: bench-tracker-load --url http://127.0.0.1:PORT --token T
 *          --entries FILE (lines "HEX PIECE_COUNT") [--peers N]
 *          [--duration S] [--announce-rate R] [--offer-rate R]
 *          [--window W] [--tracker-pid PID] [--first-index I]
 *          [--ready-file F --go-file F] [--samples F]
 * Prints "key value" lines on stdout; progress on stderr.
 *
 * GLib's main loop polls every source on each iteration, so one process
 * with thousands of sockets spends its time walking them; the script runs
 * several generators of about 1,000 peers each (distinct --first-index),
 * starts their steady phases together through the ready/go files and
 * merges their --samples.
 */
#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define SUBPROTOCOL "atlas-tracker.v1"
#define TICK_MS 10
/* Announces in flight per peer whose send times are kept for matching. */
#define ANNOUNCE_RING 8
#define KEEPALIVE_SECONDS 50

typedef struct
{
  char *hex;
  guint piece_count;
} Entry;

typedef enum
{
  PEER_IDLE,
  PEER_CONNECTING,
  PEER_OPEN,
  PEER_CLOSED,
  PEER_FAILED
} PeerState;

typedef struct
{
  guint index;
  char *peer_id;
  Entry *entry;
  PeerState state;
  SoupWebsocketConnection *ws;
  gint64 connect_start;
  gint64 hello_sent;
  gboolean welcomed;
  gboolean joined;
  gint64 last_announce;
  gint64 ring[ANNOUNCE_RING];
  guint ring_head, ring_len;
  guint64 uploaded;
  guint8 *bits;
} Peer;

typedef struct
{
  GArray *usec; /* guint32 samples */
} Samples;

static struct
{
  char *url;
  char *token;
  guint n_peers;
  guint duration;
  double announce_rate;
  double offer_rate;
  guint window;
  int tracker_pid;
  guint first_index;
  char *ready_file;
  char *go_file;
  char *samples_file;

  SoupSession *session;
  GPtrArray *entries;
  Peer *peers;
  /* Open peers, per entry index, for picking signal targets. */
  guint in_flight;
  guint next_connect;
  guint n_open, n_welcomed, n_joined, n_failed, n_closed;
  GHashTable *close_codes; /* code → count */
  GHashTable *errors;      /* error code → count */
  Samples connect, hello, join, announce, relay, roundtrip;
  guint64 sent_announces, sent_offers, sent_answers;
  guint64 got_peers, got_offers, got_answers, got_byes;
  gboolean steady;
  gint64 steady_start, steady_end;
  double announce_due, offer_due;
  guint64 session_seq;
  GMainLoop *loop;
} g;

static void
sample (Samples *samples, gint64 usec)
{
  guint32 value = (guint32) CLAMP (usec, 0, G_MAXUINT32);

  g_array_append_val (samples->usec, value);
}

static int
compare_u32 (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;

  return x < y ? -1 : x > y;
}

static FILE *samples_out;

static void
report_samples (const char *name, Samples *samples)
{
  GArray *a = samples->usec;
  guint n = a->len;

  g_array_sort (a, compare_u32);
  /* Raw values, so the script can merge several generators' percentiles. */
  for (guint i = 0; samples_out != NULL && i < n; i++)
    fprintf (samples_out, "%s %u\n", name, g_array_index (a, guint32, i));
  printf ("%s_n %u\n", name, n);
  if (n == 0)
    return;
  printf ("%s_p50_ms %.3f\n", name, g_array_index (a, guint32, n / 2) / 1000.0);
  printf ("%s_p99_ms %.3f\n", name, g_array_index (a, guint32, MIN (n - 1, n * 99 / 100)) / 1000.0);
  printf ("%s_max_ms %.3f\n", name, g_array_index (a, guint32, n - 1) / 1000.0);
}

static void
count (GHashTable *table, const char *key)
{
  gpointer old = g_hash_table_lookup (table, key);

  g_hash_table_replace (table, g_strdup (key), GUINT_TO_POINTER (GPOINTER_TO_UINT (old) + 1));
}

/* The tracker's own JSON (json-glib, compact): string fields are found by
 * their "key":" prefix and hold no escapes in what this program reads. */
static char *
field (const char *json, const char *key)
{
  g_autofree char *needle = g_strdup_printf ("\"%s\":\"", key);
  const char *start = strstr (json, needle);
  const char *end;

  if (start == NULL)
    return NULL;
  start += strlen (needle);
  end = strchr (start, '"');
  return end != NULL ? g_strndup (start, end - start) : NULL;
}

/* Sending */

static void
send_text (Peer *peer, const char *text)
{
  if (peer->state == PEER_OPEN
      && soup_websocket_connection_get_state (peer->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (peer->ws, text);
}

static void
send_announce (Peer *peer)
{
  gsize bytes = (peer->entry->piece_count + 7) / 8;
  g_autofree char *pieces = NULL;
  g_autofree char *json = NULL;
  guint piece = g_random_int_range (0, peer->entry->piece_count);

  if (peer->ring_len == ANNOUNCE_RING)
    return;
  /* A downloader gains a piece between announces. */
  peer->bits[piece / 8] |= 0x80 >> (piece % 8);
  peer->uploaded += 65536;
  pieces = g_base64_encode (peer->bits, bytes);
  json = g_strdup_printf ("{\"type\":\"announce\",\"entry\":\"%s\",\"piece_count\":%u,"
                          "\"pieces\":\"%s\",\"complete\":false,\"uploaded\":%" G_GUINT64_FORMAT
                          ",\"downloaded\":%" G_GUINT64_FORMAT ",\"want_peers\":20}",
                          peer->entry->hex, peer->entry->piece_count, pieces, peer->uploaded,
                          peer->uploaded * 2);
  peer->last_announce = g_get_monotonic_time ();
  peer->ring[(peer->ring_head + peer->ring_len) % ANNOUNCE_RING] = peer->last_announce;
  peer->ring_len++;
  g.sent_announces++;
  send_text (peer, json);
}

static void
send_signal (Peer *from, const char *to, const char *session, const char *kind)
{
  g_autofree char *json = g_strdup_printf (
      "{\"type\":\"signal\",\"to\":\"%s\",\"entry\":\"%s\",\"session\":\"%s\",\"kind\":\"%s\","
      "\"ufrag\":\"lo4d\",\"pwd\":\"abcdefghijklmnopqrstuvwx\"}",
      to, from->entry->hex, session, kind);

  send_text (from, json);
}

/* Another joined peer of @peer's swarm, or NULL after a few tries. */
static Peer *
pick_target (Peer *peer)
{
  guint n_entries = g.entries->len;
  guint per_swarm = (g.n_peers + n_entries - 1) / n_entries;

  for (int tries = 0; tries < 8; tries++)
    {
      guint k = g_random_int_range (0, per_swarm);
      /* Peer i is in the swarm of entry i mod M. */
      guint index = k * n_entries + peer->index % n_entries;

      if (index < g.n_peers && index != peer->index && g.peers[index].joined
          && g.peers[index].state == PEER_OPEN)
        return &g.peers[index];
    }
  return NULL;
}

static void
send_offer (Peer *peer)
{
  Peer *target = pick_target (peer);
  char session[64];

  if (target == NULL)
    return;
  /* The send time travels in the session id, so the receiver can time the
   * relay without a shared table. */
  g_snprintf (session, sizeof session, "o-%" G_GINT64_FORMAT "-%" G_GUINT64_FORMAT,
              g_get_monotonic_time (), g.session_seq++);
  g.sent_offers++;
  send_signal (peer, target->peer_id, session, "offer");
}

/* Receiving */

static void
handle_signal (Peer *peer, const char *json, gint64 now)
{
  g_autofree char *kind = field (json, "kind");
  g_autofree char *session = field (json, "session");
  g_autofree char *from = field (json, "from");
  gint64 sent;

  if (kind == NULL || session == NULL || from == NULL)
    return;
  if (strcmp (kind, "bye") == 0)
    {
      g.got_byes++;
      return;
    }
  if (!g_str_has_prefix (session, "o-"))
    return;
  sent = g_ascii_strtoll (session + 2, NULL, 10);
  if (strcmp (kind, "offer") == 0)
    {
      g.got_offers++;
      if (g.steady)
        sample (&g.relay, now - sent);
      g.sent_answers++;
      send_signal (peer, from, session, "answer");
    }
  else if (strcmp (kind, "answer") == 0)
    {
      g.got_answers++;
      if (g.steady)
        sample (&g.roundtrip, now - sent);
    }
}

static void
message_cb (SoupWebsocketConnection *ws, gint type, GBytes *bytes, gpointer user_data)
{
  Peer *peer = user_data;
  gint64 now = g_get_monotonic_time ();
  g_autofree char *json = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_autofree char *kind = field (json, "type");

  if (kind == NULL)
    return;
  if (strcmp (kind, "peers") == 0)
    {
      gint64 sent;

      g.got_peers++;
      if (peer->ring_len == 0)
        return;
      sent = peer->ring[peer->ring_head];
      peer->ring_head = (peer->ring_head + 1) % ANNOUNCE_RING;
      peer->ring_len--;
      if (!peer->joined)
        {
          peer->joined = TRUE;
          g.n_joined++;
          sample (&g.join, now - sent);
        }
      else if (g.steady)
        sample (&g.announce, now - sent);
    }
  else if (strcmp (kind, "signal") == 0)
    handle_signal (peer, json, now);
  else if (strcmp (kind, "welcome") == 0)
    {
      peer->welcomed = TRUE;
      g.n_welcomed++;
      sample (&g.hello, now - peer->hello_sent);
      send_announce (peer);
    }
  else if (strcmp (kind, "error") == 0)
    {
      g_autofree char *code = field (json, "code");

      count (g.errors, code != NULL ? code : "?");
      /* An announce that was refused gets no peers reply. */
      if (code != NULL && (strcmp (code, "not-found") == 0 || strcmp (code, "forbidden") == 0)
          && peer->ring_len > 0)
        {
          peer->ring_head = (peer->ring_head + 1) % ANNOUNCE_RING;
          peer->ring_len--;
        }
    }
}

static void connect_more (void);

static void
closed_cb (SoupWebsocketConnection *ws, gpointer user_data)
{
  Peer *peer = user_data;
  g_autofree char *code = g_strdup_printf ("%u", soup_websocket_connection_get_close_code (ws));

  if (peer->state == PEER_OPEN)
    {
      g.n_open--;
      g.n_closed++;
      count (g.close_codes, code);
    }
  peer->state = PEER_CLOSED;
}

static void
connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *peer = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *hello = NULL;
  gint64 now = g_get_monotonic_time ();

  g.in_flight--;
  peer->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (peer->ws == NULL)
    {
      peer->state = PEER_FAILED;
      g.n_failed++;
      if (g.n_failed <= 5)
        g_printerr ("peer %u: %s\n", peer->index, error->message);
      count (g.errors, "connect-failed");
      connect_more ();
      return;
    }
  sample (&g.connect, now - peer->connect_start);
  peer->state = PEER_OPEN;
  g.n_open++;
  g_signal_connect (peer->ws, "message", G_CALLBACK (message_cb), peer);
  g_signal_connect (peer->ws, "closed", G_CALLBACK (closed_cb), peer);
  hello = g_strdup_printf ("{\"type\":\"hello\",\"version\":1,\"peer_id\":\"%s\"}", peer->peer_id);
  peer->hello_sent = g_get_monotonic_time ();
  send_text (peer, hello);
  connect_more ();
}

/* Keeps at most --window handshakes in flight, so the listen backlog is
 * not what is measured. */
static void
connect_more (void)
{
  g_autofree char *url = g_strconcat (g.url, "/api/v1/peer", NULL);
  g_autofree char *bearer = g_strconcat ("Bearer ", g.token, NULL);
  char *protocols[] = { (char *) SUBPROTOCOL, NULL };

  while (g.in_flight < g.window && g.next_connect < g.n_peers)
    {
      Peer *peer = &g.peers[g.next_connect++];
      SoupMessage *msg = soup_message_new ("GET", url);

      soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization", bearer);
      peer->state = PEER_CONNECTING;
      peer->connect_start = g_get_monotonic_time ();
      g.in_flight++;
      soup_session_websocket_connect_async (g.session, msg, NULL, protocols, G_PRIORITY_DEFAULT,
                                            NULL, connected_cb, peer);
      g_object_unref (msg);
    }
}

/* Phases */

static gboolean
steady_tick_cb (gpointer user_data)
{
  double elapsed;

  if (!g.steady)
    return G_SOURCE_REMOVE;
  elapsed = (g_get_monotonic_time () - g.steady_start) / (double) G_USEC_PER_SEC;
  /* Open loop: what is due is sent whatever the replies do. */
  while (g.announce_due < elapsed * g.announce_rate)
    {
      Peer *peer = &g.peers[g_random_int_range (0, g.n_peers)];

      g.announce_due += 1;
      if (peer->joined && peer->state == PEER_OPEN)
        send_announce (peer);
    }
  while (g.offer_due < elapsed * g.offer_rate)
    {
      Peer *peer = &g.peers[g_random_int_range (0, g.n_peers)];

      g.offer_due += 1;
      if (peer->joined && peer->state == PEER_OPEN)
        send_offer (peer);
    }
  return G_SOURCE_CONTINUE;
}

/* A real client announces at least every 60 s, and the tracker drops a
 * peer silent for 180 s: peers that the random picks miss, or that wait
 * for a slow connect phase, announce on their own. */
static gboolean
keepalive_cb (gpointer user_data)
{
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < g.n_peers; i++)
    {
      Peer *peer = &g.peers[i];

      if (peer->joined && peer->state == PEER_OPEN
          && now - peer->last_announce > KEEPALIVE_SECONDS * G_USEC_PER_SEC)
        send_announce (peer);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (g.loop);
  return G_SOURCE_REMOVE;
}

static guint64 tracker_ticks_start, self_ticks_start, tracker_ticks_end, self_ticks_end;
static guint64 process_ticks (int pid);

static gboolean
end_steady_cb (gpointer user_data)
{
  g.steady = FALSE;
  g.steady_end = g_get_monotonic_time ();
  tracker_ticks_end = process_ticks (g.tracker_pid);
  self_ticks_end = process_ticks (getpid ());
  /* Replies to the last requests still count as held peers, not as samples. */
  g_timeout_add (1000, quit_cb, NULL);
  return G_SOURCE_REMOVE;
}

/* Reads utime+stime (clock ticks) of @pid; 0 when unknown. */
static guint64
process_ticks (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  /* Fields after the command name, which may hold spaces. */
  after = strrchr (text, ')');
  if (after == NULL)
    return 0;
  fields = g_strsplit (after + 2, " ", 0);
  if (g_strv_length (fields) < 13)
    return 0;
  return g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10);
}

static gboolean
start_steady_cb (gpointer user_data)
{
  static gint64 waited_since, ready_since;
  gint64 now = g_get_monotonic_time ();

  if (waited_since == 0)
    waited_since = now;
  /* Everyone connected and joined, or failed; give up waiting after 120 s. */
  if (g.next_connect < g.n_peers || g.in_flight > 0
      || (g.n_joined < g.n_open && now - waited_since < 120 * G_USEC_PER_SEC))
    return G_SOURCE_CONTINUE;
  /* Several generators start their steady phase together: each says it is
   * ready, and the script says go once all are (or after 300 s anyway). */
  if (ready_since == 0)
    {
      ready_since = now;
      printf ("connect_phase_s %.2f\n", (now - waited_since) / 1e6);
      if (g.ready_file != NULL)
        g_file_set_contents (g.ready_file, "", 0, NULL);
    }
  if (g.go_file != NULL && !g_file_test (g.go_file, G_FILE_TEST_EXISTS)
      && now - ready_since < 300 * G_USEC_PER_SEC)
    return G_SOURCE_CONTINUE;

  g_printerr ("connected %u of %u, joined %u, in %.1f s; steady phase %u s\n", g.n_open, g.n_peers,
              g.n_joined, (now - waited_since) / 1e6, g.duration);
  g.steady = TRUE;
  g.steady_start = now;
  tracker_ticks_start = process_ticks (g.tracker_pid);
  self_ticks_start = process_ticks (getpid ());
  g_timeout_add (TICK_MS, steady_tick_cb, NULL);
  g_timeout_add_seconds (g.duration, end_steady_cb, NULL);
  return G_SOURCE_REMOVE;
}

static void
load_entries (const char *path)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) error = NULL;

  if (!g_file_get_contents (path, &text, NULL, &error))
    g_error ("%s", error->message);
  lines = g_strsplit (text, "\n", 0);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto (GStrv) parts = g_strsplit (lines[i], " ", 2);
      Entry *entry;

      if (g_strv_length (parts) != 2)
        continue;
      entry = g_new0 (Entry, 1);
      entry->hex = g_strdup (parts[0]);
      entry->piece_count = (guint) g_ascii_strtoull (parts[1], NULL, 10);
      g_assert (entry->piece_count > 0);
      g_ptr_array_add (g.entries, entry);
    }
  if (g.entries->len == 0)
    g_error ("no entries in %s", path);
}

static void
report_counts (const char *prefix, GHashTable *table)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    printf ("%s_%s %u\n", prefix, (char *) key, GPOINTER_TO_UINT (value));
}

int
main (int argc, char **argv)
{
  g_autofree char *entries_path = NULL;
  int first_index = 0, announce_rate = 100, offer_rate = 100, n_peers = 1000, duration = 20,
      window = 64;
  GOptionEntry options[] = {
    { "url", 0, 0, G_OPTION_ARG_STRING, &g.url, "tracker base URL", "URL" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &g.token, "downloader token", "T" },
    { "entries", 0, 0, G_OPTION_ARG_FILENAME, &entries_path, "HEX PIECES lines", "FILE" },
    { "peers", 0, 0, G_OPTION_ARG_INT, &n_peers, "simulated peers", "N" },
    { "duration", 0, 0, G_OPTION_ARG_INT, &duration, "steady phase, seconds", "S" },
    { "announce-rate", 0, 0, G_OPTION_ARG_INT, &announce_rate, "announces/s, all peers", "R" },
    { "offer-rate", 0, 0, G_OPTION_ARG_INT, &offer_rate, "offers/s, all peers", "R" },
    { "window", 0, 0, G_OPTION_ARG_INT, &window, "handshakes in flight", "W" },
    { "tracker-pid", 0, 0, G_OPTION_ARG_INT, &g.tracker_pid, "for its CPU time", "PID" },
    { "first-index", 0, 0, G_OPTION_ARG_INT, &first_index, "global index of peer 0", "I" },
    { "ready-file", 0, 0, G_OPTION_ARG_FILENAME, &g.ready_file, "made when joined", "F" },
    { "go-file", 0, 0, G_OPTION_ARG_FILENAME, &g.go_file, "steady phase once it exists", "F" },
    { "samples", 0, 0, G_OPTION_ARG_FILENAME, &g.samples_file, "raw latencies", "F" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— tracker load generator");
  g_autoptr (GError) error = NULL;
  struct rusage usage;
  double steady_s, ticks = sysconf (_SC_CLK_TCK);

  g_option_context_add_main_entries (context, options, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || g.url == NULL || g.token == NULL
      || entries_path == NULL || n_peers < 2 || duration < 1 || window < 1)
    {
      g_printerr ("%s\n", error != NULL ? error->message : "--url, --token, --entries needed");
      return 2;
    }
  g.n_peers = n_peers;
  g.first_index = MAX (first_index, 0);
  g.duration = duration;
  g.announce_rate = announce_rate;
  g.offer_rate = offer_rate;
  g.window = window;
  g.entries = g_ptr_array_new ();
  load_entries (entries_path);
  g.close_codes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g.errors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g.connect.usec = g_array_new (FALSE, FALSE, sizeof (guint32));
  g.hello.usec = g_array_new (FALSE, FALSE, sizeof (guint32));
  g.join.usec = g_array_new (FALSE, FALSE, sizeof (guint32));
  g.announce.usec = g_array_new (FALSE, FALSE, sizeof (guint32));
  g.relay.usec = g_array_new (FALSE, FALSE, sizeof (guint32));
  g.roundtrip.usec = g_array_new (FALSE, FALSE, sizeof (guint32));

  g.peers = g_new0 (Peer, g.n_peers);
  for (guint i = 0; i < g.n_peers; i++)
    {
      Peer *peer = &g.peers[i];
      guint global = g.first_index + i;
      g_autofree char *digest =
          g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) &global, sizeof global);

      peer->index = i;
      /* Local peers i and j share a swarm when i = j mod M, as pick_target assumes. */
      peer->entry = g_ptr_array_index (g.entries, global % g.entries->len);
      /* 48 hex digits of a digest, then the index: unique and reversible. */
      peer->peer_id = g_strdup_printf ("sha256:%.48s%016x", digest, global);
      peer->bits = g_malloc0 ((peer->entry->piece_count + 7) / 8);
    }

  /* One session, no connection cap: every WebSocket is its own connection. */
  g.session = soup_session_new_with_options ("max-conns", G_MAXINT, "max-conns-per-host", G_MAXINT,
                                             "timeout", 60, NULL);
  g.loop = g_main_loop_new (NULL, FALSE);
  connect_more ();
  g_timeout_add (100, start_steady_cb, NULL);
  g_timeout_add_seconds (1, keepalive_cb, NULL);
  g_main_loop_run (g.loop);

  steady_s = (g.steady_end - g.steady_start) / 1e6;
  printf ("peers %u\n", g.n_peers);
  printf ("entries %u\n", g.entries->len);
  printf ("steady_s %.2f\n", steady_s);
  printf ("connected %u\n", g.n_open + g.n_closed);
  printf ("welcomed %u\n", g.n_welcomed);
  printf ("joined %u\n", g.n_joined);
  printf ("open_at_end %u\n", g.n_open);
  printf ("closed_by_tracker %u\n", g.n_closed);
  printf ("connect_failed %u\n", g.n_failed);
  report_counts ("close", g.close_codes);
  report_counts ("error", g.errors);
  printf ("sent_announces %" G_GUINT64_FORMAT "\n", g.sent_announces);
  printf ("sent_offers %" G_GUINT64_FORMAT "\n", g.sent_offers);
  printf ("sent_answers %" G_GUINT64_FORMAT "\n", g.sent_answers);
  printf ("got_peers %" G_GUINT64_FORMAT "\n", g.got_peers);
  printf ("got_offers %" G_GUINT64_FORMAT "\n", g.got_offers);
  printf ("got_answers %" G_GUINT64_FORMAT "\n", g.got_answers);
  printf ("got_byes %" G_GUINT64_FORMAT "\n", g.got_byes);
  /* Requests the tracker answered or relayed per second of the steady phase. */
  printf ("steady_requests_per_s %.1f\n",
          (g.announce.usec->len + g.relay.usec->len + g.roundtrip.usec->len)
              / MAX (steady_s, 1e-3));
  if (g.samples_file != NULL)
    samples_out = fopen (g.samples_file, "w");
  report_samples ("connect", &g.connect);
  report_samples ("hello", &g.hello);
  report_samples ("join", &g.join);
  report_samples ("announce", &g.announce);
  report_samples ("relay", &g.relay);
  report_samples ("roundtrip", &g.roundtrip);
  if (samples_out != NULL)
    fclose (samples_out);
  if (g.tracker_pid > 0)
    printf ("tracker_cpu_pct %.1f\n",
            100.0 * (tracker_ticks_end - tracker_ticks_start) / ticks / MAX (steady_s, 1e-3));
  printf ("generator_cpu_pct %.1f\n",
          100.0 * (self_ticks_end - self_ticks_start) / ticks / MAX (steady_s, 1e-3));
  getrusage (RUSAGE_SELF, &usage);
  printf ("generator_cpu_total_s %.2f\n",
          usage.ru_utime.tv_sec + usage.ru_stime.tv_sec
              + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6);
  printf ("generator_maxrss_kb %ld\n", usage.ru_maxrss);
  fflush (stdout);
  /* Exiting closes every socket at once; the tracker sees them all go. */
  return g.n_joined == g.n_peers ? 0 : 1;
}
