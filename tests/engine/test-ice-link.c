/* test-ice-link.c — two ICE links on loopback, wired by the test as signaling. */
#include "atlas-error.h"
#include "atlas-ice-link.h"

#include <gio/gio.h>
#include <string.h>

#define N_DATAGRAMS 1000
#define DATAGRAM_SIZE 1000
#define BATCH 50
/* Loopback loses nothing unless a socket buffer overflows; sending is paced
 * so that should not happen, but a handful of drops is not a bug. */
#define MIN_DELIVERED (N_DATAGRAMS * 99 / 100)

static char *loopback_only[] = { "127.0.0.1", NULL };

typedef struct
{
  AtlasIceLink *link;
  AtlasIceLink *peer; /* where this side's signaling goes, or NULL */
  GPtrArray *candidates;
  gboolean gathering_done;
  gboolean ready;
  GError *error;
  gint64 failed_at;
  guint8 seen[N_DATAGRAMS];
  guint received;
  guint corrupt;
  guint sent;
} Side;

static void
side_clear (Side *side)
{
  g_clear_object (&side->link);
  g_clear_pointer (&side->candidates, g_ptr_array_unref);
  g_clear_error (&side->error);
}

static void
local_candidate_cb (AtlasIceLink *link, const char *line, Side *side)
{
  g_ptr_array_add (side->candidates, g_strdup (line));
  if (side->peer != NULL)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (atlas_ice_link_add_remote_candidate (side->peer, line, &error));
      g_assert_no_error (error);
    }
}

static void
gathering_done_cb (AtlasIceLink *link, Side *side)
{
  side->gathering_done = TRUE;
  if (side->peer != NULL)
    atlas_ice_link_remote_gathering_done (side->peer);
}

static void
ready_cb (AtlasIceLink *link, Side *side)
{
  g_assert_false (side->ready);
  side->ready = TRUE;
}

static void
failed_cb (AtlasIceLink *link, const GError *error, Side *side)
{
  g_assert_null (side->error);
  side->error = g_error_copy (error);
  side->failed_at = g_get_monotonic_time ();
}

static void
receive_cb (const guint8 *data, gsize length, gpointer user_data)
{
  Side *side = user_data;
  guint32 seq;

  if (length != DATAGRAM_SIZE)
    {
      side->corrupt++;
      return;
    }
  memcpy (&seq, data, sizeof seq);
  if (seq >= N_DATAGRAMS)
    {
      side->corrupt++;
      return;
    }
  for (gsize i = sizeof seq; i < length; i++)
    if (data[i] != (guint8) (seq + i))
      {
        side->corrupt++;
        return;
      }
  if (!side->seen[seq])
    {
      side->seen[seq] = TRUE;
      side->received++;
    }
}

static void
side_init (Side *side, gboolean controlling, const AtlasIceConfig *config)
{
  g_autoptr (GError) error = NULL;

  memset (side, 0, sizeof *side);
  side->link = atlas_ice_link_new (controlling, config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (side->link);
  side->candidates = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (side->link, "local-candidate", G_CALLBACK (local_candidate_cb), side);
  g_signal_connect (side->link, "gathering-done", G_CALLBACK (gathering_done_cb), side);
  g_signal_connect (side->link, "ready", G_CALLBACK (ready_cb), side);
  g_signal_connect (side->link, "failed", G_CALLBACK (failed_cb), side);
  atlas_datagram_path_set_receive_func (ATLAS_DATAGRAM_PATH (side->link), receive_cb, side);
}

static gboolean
timed_out_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until @done says so or @timeout_ms pass. */
static gboolean
run_until (gboolean (*done) (gpointer), gpointer data, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, timed_out_cb, &timed_out);

  while (!done (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return !timed_out;
}

static void
exchange_credentials (Side *a, Side *b)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ufrag_a = NULL, *pwd_a = NULL, *ufrag_b = NULL, *pwd_b = NULL;

  atlas_ice_link_get_local_credentials (a->link, &ufrag_a, &pwd_a);
  atlas_ice_link_get_local_credentials (b->link, &ufrag_b, &pwd_b);
  g_assert_true (atlas_ice_link_set_remote_credentials (a->link, ufrag_b, pwd_b, &error));
  g_assert_no_error (error);
  g_assert_true (atlas_ice_link_set_remote_credentials (b->link, ufrag_a, pwd_a, &error));
  g_assert_no_error (error);
}

static gboolean
both_settled (gpointer data)
{
  Side *sides = data;

  return (sides[0].ready || sides[0].error) && (sides[1].ready || sides[1].error);
}

static void
connect_pair (Side sides[2])
{
  AtlasIceConfig config = { .local_addresses = loopback_only };

  side_init (&sides[0], TRUE, &config);
  side_init (&sides[1], FALSE, &config);
  sides[0].peer = sides[1].link;
  sides[1].peer = sides[0].link;
  exchange_credentials (&sides[0], &sides[1]);
  atlas_ice_link_gather (sides[0].link);
  atlas_ice_link_gather (sides[1].link);

  g_assert_true (run_until (both_settled, sides, 15000));
  g_assert_no_error (sides[0].error);
  g_assert_no_error (sides[1].error);
  g_assert_true (sides[0].ready && sides[1].ready);
}

static void
send_batch (Side *side)
{
  guint8 datagram[DATAGRAM_SIZE];

  for (guint n = 0; n < BATCH && side->sent < N_DATAGRAMS; n++, side->sent++)
    {
      g_autoptr (GError) error = NULL;
      guint32 seq = side->sent;

      memcpy (datagram, &seq, sizeof seq);
      for (gsize i = sizeof seq; i < sizeof datagram; i++)
        datagram[i] = (guint8) (seq + i);
      g_assert_true (atlas_datagram_path_send (ATLAS_DATAGRAM_PATH (side->link), datagram,
                                               sizeof datagram, &error));
      g_assert_no_error (error);
    }
}

static gboolean
send_tick_cb (gpointer data)
{
  Side *sides = data;

  send_batch (&sides[0]);
  send_batch (&sides[1]);
  return sides[0].sent < N_DATAGRAMS || sides[1].sent < N_DATAGRAMS ? G_SOURCE_CONTINUE
                                                                    : G_SOURCE_REMOVE;
}

static gboolean
all_delivered (gpointer data)
{
  Side *sides = data;

  return sides[0].received == N_DATAGRAMS && sides[1].received == N_DATAGRAMS;
}

static void
test_ice_link_loopback (void)
{
  Side sides[2];
  guint8 big[ATLAS_ICE_LINK_MAX_DATAGRAM + 1] = { 0 };
  g_autoptr (GError) error = NULL;

  connect_pair (sides);

  /* Host candidates only, on the loopback address the test asked for. */
  for (guint s = 0; s < 2; s++)
    {
      g_assert_cmpuint (sides[s].candidates->len, >=, 1);
      for (guint i = 0; i < sides[s].candidates->len; i++)
        {
          const char *line = g_ptr_array_index (sides[s].candidates, i);

          g_assert_true (g_str_has_prefix (line, "candidate:"));
          g_assert_nonnull (strstr (line, " 127.0.0.1 "));
          g_assert_nonnull (strstr (line, " typ host"));
        }
      g_assert_true (sides[s].gathering_done);
      g_assert_cmpstr (atlas_ice_link_get_selected_kind (sides[s].link), ==, "host");
    }
  g_assert_cmpuint (atlas_datagram_path_get_max_datagram_size (ATLAS_DATAGRAM_PATH (sides[0].link)),
                    ==, 1200);
  g_assert_false (
      atlas_datagram_path_send (ATLAS_DATAGRAM_PATH (sides[0].link), big, sizeof big, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);

  /* Paced so that a same-thread receiver keeps up: 50 datagrams a millisecond. */
  g_timeout_add (1, send_tick_cb, sides);
  run_until (all_delivered, sides, 10000);
  g_test_message ("delivered %u and %u of %d; dropped at send %" G_GUINT64_FORMAT
                  " and %" G_GUINT64_FORMAT,
                  sides[1].received, sides[0].received, N_DATAGRAMS,
                  atlas_ice_link_get_dropped_count (sides[0].link),
                  atlas_ice_link_get_dropped_count (sides[1].link));
  g_assert_cmpuint (sides[0].sent, ==, N_DATAGRAMS);
  g_assert_cmpuint (sides[1].sent, ==, N_DATAGRAMS);
  g_assert_cmpuint (sides[0].corrupt, ==, 0);
  g_assert_cmpuint (sides[1].corrupt, ==, 0);
  g_assert_cmpuint (sides[0].received, >=, MIN_DELIVERED);
  g_assert_cmpuint (sides[1].received, >=, MIN_DELIVERED);
  g_assert_no_error (sides[0].error);
  g_assert_no_error (sides[1].error);

  side_clear (&sides[0]);
  side_clear (&sides[1]);
}

static void
test_ice_link_malformed (void)
{
  static const char *bad[] = {
    "",
    "candidate:",
    "garbage",
    "candidate:1 1 UDP 2130706431 127.0.0.1 5000",                  /* no typ */
    "candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ",              /* typ without value */
    "candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ bogus",        /* unknown type */
    "candidate:1 2 UDP 2130706431 127.0.0.1 5000 typ host",         /* second component */
    "candidate:1 1 SCTP 2130706431 127.0.0.1 5000 typ host",        /* transport */
    "candidate:1 1 UDP 2130706431 peer.example 5000 typ host",      /* a name, not an address */
    "candidate:1 1 UDP 2130706431 0.0.0.0 5000 typ host",           /* unspecified */
    "candidate:1 1 UDP 2130706431 224.0.0.1 5000 typ host",         /* multicast */
    "candidate:1 1 UDP 2130706431 127.0.0.1 0 typ host",            /* port 0 */
    "candidate:1 1 UDP 2130706431 127.0.0.1 70000 typ host",        /* port too big */
    "candidate:1 1 UDP -5 127.0.0.1 5000 typ host",                 /* priority */
    "candidate:1  1 UDP 2130706431 127.0.0.1 5000 typ host",        /* empty field */
    "candidate:1 1 TCP 2130706431 127.0.0.1 5000 typ host",         /* TCP without tcptype */
    "candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host\n",       /* control character */
    "candidate:1 1 UDP 2130706431 127.0.0.1 5000 host typ",         /* typ not first */
    "candidate:f\xc3\xa9 1 UDP 2130706431 127.0.0.1 5000 typ host", /* non-ASCII */
  };
  AtlasIceConfig config = { .local_addresses = loopback_only };
  g_autoptr (AtlasIceLink) link = atlas_ice_link_new (TRUE, &config, NULL);
  g_autofree char *long_line = NULL;
  g_autoptr (GError) error = NULL;
  guint accepted = 0;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *shown = g_strescape (bad[i], NULL);

      g_test_message ("line: %s", shown);
      g_assert_false (atlas_ice_link_add_remote_candidate (link, bad[i], &error));
      g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
      /* The user (or a bug report) sees which line was wrong, escaped. */
      g_assert_nonnull (strstr (error->message, shown));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_clear_error (&error);
    }

  long_line = g_strdup_printf ("candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host "
                               "generation %0480d",
                               0);
  g_assert_false (atlas_ice_link_add_remote_candidate (link, long_line, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "longer than 512"));
  g_clear_error (&error);

  /* Well-formed lines are accepted, with or without "a=", TCP ones too
   * (ignored: ICE-TCP is off), and extension attributes are tolerated. */
  g_assert_true (atlas_ice_link_add_remote_candidate (
      link, "candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host", &error));
  g_assert_true (atlas_ice_link_add_remote_candidate (
      link, "a=candidate:2 1 udp 1694498815 203.0.113.7 6000 typ srflx raddr 10.0.0.2 rport 6000",
      &error));
  g_assert_true (atlas_ice_link_add_remote_candidate (
      link, "candidate:3 1 TCP 1010827775 127.0.0.1 9 typ host tcptype active", &error));
  g_assert_true (atlas_ice_link_add_remote_candidate (
      link, "candidate:4 1 UDP 2130706431 ::1 5001 typ host generation 0", &error));
  g_assert_no_error (error);
  accepted = 4;

  /* A peer cannot make the link check an unbounded number of pairs. */
  for (; accepted < 32; accepted++)
    {
      g_autofree char *line = g_strdup_printf (
          "candidate:%u 1 UDP 2130706431 127.0.0.1 %u typ host", accepted, 5000 + accepted);

      g_assert_true (atlas_ice_link_add_remote_candidate (link, line, &error));
      g_assert_no_error (error);
    }
  g_assert_false (atlas_ice_link_add_remote_candidate (
      link, "candidate:99 1 UDP 2130706431 127.0.0.1 7000 typ host", &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
  g_clear_error (&error);

  /* Credentials: too short, and characters outside ice-char. */
  g_assert_false (
      atlas_ice_link_set_remote_credentials (link, "ab", "0123456789012345678901", &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_assert_false (atlas_ice_link_set_remote_credentials (link, "abcd", "short", &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_assert_false (
      atlas_ice_link_set_remote_credentials (link, "ab cd", "0123456789012345678901", &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_assert_true (
      atlas_ice_link_set_remote_credentials (link, "abcd", "0123456789+/456789012345", &error));
  g_assert_no_error (error);

  /* A bad server address is the caller's mistake, reported at creation. */
  {
    AtlasIceConfig bad_config = { .turn_server = "127.0.0.1:99999",
                                  .turn_username = "u",
                                  .turn_password = "p" };
    AtlasIceConfig no_password = { .turn_server = "127.0.0.1:3478" };

    g_assert_null (atlas_ice_link_new (TRUE, &bad_config, &error));
    g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
    g_clear_error (&error);
    g_assert_null (atlas_ice_link_new (TRUE, &no_password, &error));
    g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
    g_clear_error (&error);
  }
}

static gboolean
side_failed (gpointer data)
{
  Side *side = data;

  return side->error != NULL || side->ready;
}

/* @peer_done: the peer says it sent all its candidates, so ICE may give up by
 * itself once every check failed; otherwise only the connect timeout ends it. */
static void
run_unreachable (gboolean peer_done)
{
  AtlasIceConfig config = { .local_addresses = loopback_only,
                            .connect_timeout_ms = peer_done ? 15000 : 2000 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) silent = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *line = NULL;
  Side side;
  gint64 start;

  /* A bound socket that never answers: checks vanish without an ICMP error,
   * as with a peer behind a firewall. */
  silent =
      g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (silent, any_port, FALSE, &error));
  bound = g_socket_get_local_address (silent, &error);
  g_assert_no_error (error);
  line = g_strdup_printf ("candidate:1 1 UDP 2130706431 127.0.0.1 %u typ host",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  side_init (&side, TRUE, &config);
  g_assert_true (
      atlas_ice_link_set_remote_credentials (side.link, "peer", "0123456789012345678901", &error));
  g_assert_true (atlas_ice_link_add_remote_candidate (side.link, line, &error));
  g_assert_no_error (error);
  if (peer_done)
    atlas_ice_link_remote_gathering_done (side.link);
  start = g_get_monotonic_time ();
  atlas_ice_link_gather (side.link);

  g_assert_true (run_until (side_failed, &side, 12000));
  g_assert_false (side.ready);
  g_assert_error (side.error, ATLAS_ERROR, ATLAS_ERROR_NETWORK);
  g_test_message ("failed after %" G_GINT64_FORMAT " ms: %s", (side.failed_at - start) / 1000,
                  side.error->message);
  if (peer_done)
    {
      /* libnice's own verdict, well before the 15 s timeout. */
      g_assert_nonnull (strstr (side.error->message, "ICE failed"));
      g_assert_cmpint (side.failed_at - start, <, 10 * G_TIME_SPAN_SECOND);
    }
  else
    {
      g_assert_nonnull (strstr (side.error->message, "within 2000 ms"));
      g_assert_cmpint (side.failed_at - start, <, 3500 * G_TIME_SPAN_MILLISECOND);
      g_assert_cmpint (side.failed_at - start, >=, 1900 * G_TIME_SPAN_MILLISECOND);
    }
  g_assert_null (atlas_ice_link_get_selected_kind (side.link));
  g_assert_false (
      atlas_datagram_path_send (ATLAS_DATAGRAM_PATH (side.link), (const guint8 *) "x", 1, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_NETWORK);

  side_clear (&side);
}

static void
test_ice_link_unreachable_timeout (void)
{
  run_unreachable (FALSE);
}

static void
test_ice_link_unreachable_checked (void)
{
  run_unreachable (TRUE);
}

static gboolean
gathered_and_failed (gpointer data)
{
  Side *side = data;

  return side->gathering_done && side->error != NULL;
}

static void
test_ice_link_relay_only_without_turn (void)
{
  AtlasIceConfig config = { .local_addresses = loopback_only,
                            .stun_server = "127.0.0.1:3478",
                            .mode = ATLAS_ICE_MODE_RELAY_ONLY };
  Side side;

  side_init (&side, TRUE, &config);
  atlas_ice_link_gather (side.link);
  g_assert_true (run_until (gathered_and_failed, &side, 5000));
  /* Not even the host address left the machine. */
  g_assert_cmpuint (side.candidates->len, ==, 0);
  g_assert_false (side.ready);
  g_assert_error (side.error, ATLAS_ERROR, ATLAS_ERROR_NETWORK);
  g_assert_nonnull (strstr (side.error->message, "TURN"));

  side_clear (&side);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ice-link/loopback", test_ice_link_loopback);
  g_test_add_func ("/ice-link/malformed", test_ice_link_malformed);
  g_test_add_func ("/ice-link/unreachable/timeout", test_ice_link_unreachable_timeout);
  g_test_add_func ("/ice-link/unreachable/all-pairs-failed", test_ice_link_unreachable_checked);
  g_test_add_func ("/ice-link/relay-only-without-turn", test_ice_link_relay_only_without_turn);

  return g_test_run ();
}
