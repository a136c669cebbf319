/* test-tracker.c — the tracker service in-process on 127.0.0.1, driven by a
 * libsoup client: the index API with its roles and private entries, the
 * peers' WebSocket (swarms, signaling, limits), metrics and TLS. */
#include "atlas-error.h"
#include "atlas-hash.h"
#include "atlas-tracker-server.h"
#include "atlas-tracker-wire.h"
#include "tracker-test-util.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#define TIMEOUT_USEC (5 * G_USEC_PER_SEC)
#define PEER_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define PEER_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define PEER_C "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define PEER_D "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define PIECE_LENGTH 16384
#define N_PIECES 10

typedef struct
{
  char *dir;
  AtlasTrackerServer *server;
  char *uri;
  SoupSession *session;
  /* Tokens by role; uploader2 and reader2 are a second of each. */
  char *admin, *uploader, *uploader2, *downloader, *reader2;
} Fixture;

/* Metalink and tokens */

/* A Metalink 4 document for @size bytes of a pattern named by @seed, with
 * SHA-256 pieces; @sha256 receives the whole-file digest in hex. */
static char *
make_metalink (const char *name, guint seed, gsize size, char **sha256)
{
  g_autofree guint8 *data = g_malloc (size);
  GString *xml = g_string_new (NULL);
  guint8 digest[32];
  g_autofree char *whole = NULL;

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 31 + seed);
  atlas_hash_buffer (ATLAS_HASH_SHA256, data, size, digest);
  whole = atlas_hex_encode (digest, sizeof digest);

  g_string_append_printf (xml,
                          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">\n"
                          "  <file name=\"%s\">\n"
                          "    <size>%" G_GSIZE_FORMAT "</size>\n"
                          "    <hash type=\"sha-256\">%s</hash>\n"
                          "    <pieces length=\"%d\" type=\"sha-256\">\n",
                          name, size, whole, PIECE_LENGTH);
  for (gsize offset = 0; offset < size; offset += PIECE_LENGTH)
    {
      g_autofree char *hex = NULL;

      atlas_hash_buffer (ATLAS_HASH_SHA256, data + offset, MIN (PIECE_LENGTH, size - offset),
                         digest);
      hex = atlas_hex_encode (digest, sizeof digest);
      g_string_append_printf (xml, "      <hash>%s</hash>\n", hex);
    }
  g_string_append_printf (xml,
                          "    </pieces>\n"
                          "    <url>https://mirror.example.org/%s</url>\n"
                          "  </file>\n"
                          "</metalink>\n",
                          name);
  if (sha256 != NULL)
    *sha256 = g_steal_pointer (&whole);
  return g_string_free (xml, FALSE);
}

static void
fixture_start (Fixture *fixture, const char *cert, const char *key)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = NULL;
  AtlasTrackerStore *store;

  fixture->dir = g_dir_make_tmp ("atlas-tracker-XXXXXX", &error);
  g_assert_no_error (error);
  db = g_build_filename (fixture->dir, "tracker.db", NULL);
  store = atlas_tracker_store_open (db, &error);
  g_assert_no_error (error);

  fixture->admin = tracker_test_add_token (store, "admin", ATLAS_TRACKER_ROLE_ADMIN, NULL);
  fixture->uploader = tracker_test_add_token (store, "uploader", ATLAS_TRACKER_ROLE_UPLOADER, NULL);
  fixture->uploader2 =
      tracker_test_add_token (store, "uploader2", ATLAS_TRACKER_ROLE_UPLOADER, NULL);
  fixture->downloader =
      tracker_test_add_token (store, "downloader", ATLAS_TRACKER_ROLE_DOWNLOADER, NULL);
  fixture->reader2 = tracker_test_add_token (store, "reader2", ATLAS_TRACKER_ROLE_DOWNLOADER, NULL);

  fixture->server = atlas_tracker_server_new (store, NULL);
  if (cert != NULL)
    {
      atlas_tracker_server_set_tls_files (fixture->server, cert, key, &error);
      g_assert_no_error (error);
    }
  atlas_tracker_server_listen (fixture->server, "127.0.0.1:0", &error);
  g_assert_no_error (error);
  fixture->uri = atlas_tracker_server_get_uri (fixture->server);
  g_assert_nonnull (fixture->uri);
  fixture->session = soup_session_new ();
}

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  fixture_start (fixture, NULL, NULL);
}

static void
remove_dir (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      g_remove (child);
    }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  atlas_tracker_server_shutdown (fixture->server);
  tracker_test_run_for (50);
  g_clear_object (&fixture->session);
  g_clear_object (&fixture->server);
  remove_dir (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->uri);
  g_free (fixture->admin);
  g_free (fixture->uploader);
  g_free (fixture->uploader2);
  g_free (fixture->downloader);
  g_free (fixture->reader2);
}

/* HTTP */

typedef struct
{
  gboolean done;
  GBytes *body;
  GError *error;
} Reply;

static void
sent_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Reply *reply = user_data;

  reply->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &reply->error);
  reply->done = TRUE;
}

/* Sends a request and returns the status; @body_out gets the response body. */
static guint
request (Fixture *fixture, const char *method, const char *path, const char *token,
         const char *body, GBytes **body_out)
{
  g_autofree char *url = g_strconcat (fixture->uri, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  Reply reply = { 0 };

  g_assert_nonnull (msg);
  if (token != NULL)
    {
      g_autofree char *bearer = g_strconcat ("Bearer ", token, NULL);

      soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization", bearer);
    }
  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  soup_session_send_and_read_async (fixture->session, msg, G_PRIORITY_DEFAULT, NULL, sent_cb,
                                    &reply);
  tracker_test_wait_for_flag (&reply.done);
  g_assert_no_error (reply.error);
  if (body_out != NULL)
    *body_out = g_steal_pointer (&reply.body);
  g_clear_pointer (&reply.body, g_bytes_unref);
  return soup_message_get_status (msg);
}

static JsonObject *
parse_object (GBytes *bytes)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gsize length;
  const char *data = g_bytes_get_data (bytes, &length);

  json_parser_load_from_data (parser, data, length, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* Requests and parses a JSON reply, asserting its status. */
static JsonObject *
request_json (Fixture *fixture, const char *method, const char *path, const char *token,
              const char *body, guint expected_status)
{
  g_autoptr (GBytes) reply = NULL;
  guint status = request (fixture, method, path, token, body, &reply);

  if (status != expected_status)
    g_error ("%s %s: %u, expected %u: %.*s", method, path, status, expected_status,
             (int) g_bytes_get_size (reply), (const char *) g_bytes_get_data (reply, NULL));
  if (g_bytes_get_size (reply) == 0)
    return NULL;
  return parse_object (reply);
}

static char *
publish_body (const char *name, const char *version, const char *metalink, gboolean is_private,
              const char *allowed_json)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, version);
  json_builder_set_member_name (builder, "description");
  json_builder_add_string_value (builder, "Atlas test image, with a searchable WORD in it");
  json_builder_set_member_name (builder, "metalink");
  json_builder_add_string_value (builder, metalink);
  json_builder_set_member_name (builder, "private");
  json_builder_add_boolean_value (builder, is_private);
  if (allowed_json != NULL)
    {
      g_autoptr (JsonNode) allowed = json_from_string (allowed_json, NULL);

      json_builder_set_member_name (builder, "allowed_tokens");
      json_builder_add_value (builder, g_steal_pointer (&allowed));
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

/* Publishes as @token and returns the new id. */
static gint64
publish (Fixture *fixture, const char *token, const char *name, const char *version, guint seed,
         gsize size, gboolean is_private, const char *allowed_json, char **sha256)
{
  g_autofree char *metalink = make_metalink (name, seed, size, sha256);
  g_autofree char *body = publish_body (name, version, metalink, is_private, allowed_json);
  g_autoptr (JsonObject) reply =
      request_json (fixture, "POST", "/api/v1/entries", token, body, SOUP_STATUS_CREATED);

  g_assert_cmpstr (json_object_get_string_member (reply, "name"), ==, name);
  g_assert_cmpstr (json_object_get_string_member (reply, "version"), ==, version);
  if (sha256 != NULL)
    g_assert_cmpstr (json_object_get_string_member (reply, "entry"), ==, *sha256);
  return json_object_get_int_member (reply, "id");
}

static void
assert_error_reply (GBytes *reply, const char *needle)
{
  g_autoptr (JsonObject) object = parse_object (reply);
  const char *text = json_object_get_string_member (object, "error");

  if (strstr (text, needle) == NULL)
    g_error ("error “%s” lacks “%s”", text, needle);
}

static void
test_http_auth_and_publish (Fixture *fixture, gconstpointer data)
{
  g_autofree char *metalink = make_metalink ("atlas.iso", 1, 5 * PIECE_LENGTH + 100, NULL);
  g_autofree char *body = publish_body ("atlas.iso", "1.0", metalink, FALSE, NULL);
  g_autofree char *sha256 = NULL;
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (JsonObject) entry = NULL;
  g_autoptr (JsonObject) list = NULL;
  gint64 id;

  /* No token, an unknown token, a downloader: refused, nothing stored. */
  g_assert_cmpuint (request (fixture, "POST", "/api/v1/entries", NULL, body, &reply), ==, 401);
  assert_error_reply (reply, "bearer token is required");
  g_clear_pointer (&reply, g_bytes_unref);
  g_assert_cmpuint (request (fixture, "GET", "/api/v1/entries", "not-a-token", NULL, &reply), ==,
                    401);
  assert_error_reply (reply, "unknown or revoked token");
  g_clear_pointer (&reply, g_bytes_unref);
  g_assert_cmpuint (request (fixture, "POST", "/api/v1/entries", fixture->downloader, body, &reply),
                    ==, 403);
  assert_error_reply (reply, "may not publish");
  g_clear_pointer (&reply, g_bytes_unref);
  list = request_json (fixture, "GET", "/api/v1/entries", fixture->admin, NULL, 200);
  g_assert_cmpint (json_object_get_int_member (list, "total"), ==, 0);
  g_clear_pointer (&list, json_object_unref);

  id = publish (fixture, fixture->uploader, "atlas.iso", "1.0", 1, 5 * PIECE_LENGTH + 100, FALSE,
                NULL, &sha256);
  g_assert_cmpint (id, >, 0);

  /* The same name and version again. */
  g_assert_cmpuint (request (fixture, "POST", "/api/v1/entries", fixture->admin, body, &reply), ==,
                    409);
  assert_error_reply (reply, "already published");
  g_clear_pointer (&reply, g_bytes_unref);

  /* What a reader sees of it. */
  {
    g_autofree char *path = g_strdup_printf ("/api/v1/entries/%" G_GINT64_FORMAT, id);
    g_autofree char *metalink_path = g_strconcat (path, "/metalink", NULL);

    entry = request_json (fixture, "GET", path, fixture->downloader, NULL, 200);
    g_assert_cmpstr (json_object_get_string_member (entry, "entry"), ==, sha256);
    g_assert_cmpint (json_object_get_int_member (entry, "size"), ==, 5 * PIECE_LENGTH + 100);
    g_assert_cmpint (json_object_get_int_member (entry, "piece_length"), ==, PIECE_LENGTH);
    g_assert_cmpint (json_object_get_int_member (entry, "piece_count"), ==, 6);
    g_assert_false (json_object_get_boolean_member (entry, "private"));
    g_assert_cmpint (json_object_get_int_member (entry, "seeders"), ==, 0);
    g_assert_cmpint (json_object_get_int_member (entry, "peers"), ==, 0);

    g_assert_cmpuint (request (fixture, "GET", metalink_path, fixture->downloader, NULL, &reply),
                      ==, 200);
    g_assert_cmpmem (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply), metalink,
                     strlen (metalink));
    g_clear_pointer (&reply, g_bytes_unref);
  }

  g_assert_cmpuint (request (fixture, "GET", "/api/v1/entries/999", fixture->admin, NULL, &reply),
                    ==, 404);
  g_clear_pointer (&reply, g_bytes_unref);
  g_assert_cmpuint (request (fixture, "GET", "/api/v1/nothing", fixture->admin, NULL, &reply), ==,
                    404);
  g_clear_pointer (&reply, g_bytes_unref);
}

static void
assert_bad_publish (Fixture *fixture, const char *body, const char *needle)
{
  g_autoptr (GBytes) reply = NULL;

  g_assert_cmpuint (request (fixture, "POST", "/api/v1/entries", fixture->uploader, body, &reply),
                    ==, 400);
  assert_error_reply (reply, needle);
}

static void
test_http_bad_publish (Fixture *fixture, gconstpointer data)
{
  g_autofree char *good = make_metalink ("x.bin", 2, 3 * PIECE_LENGTH, NULL);
  g_autoptr (GString) no_pieces = g_string_new (good);
  g_autoptr (GString) two_files = g_string_new (good);
  g_autoptr (GString) oversized = g_string_new (NULL);
  g_autoptr (JsonObject) list = NULL;
  g_autoptr (GBytes) reply = NULL;
  g_autofree char *body = NULL;
  char *start, *end;

  /* Not a Metalink at all: the parser's message is passed on. */
  body = publish_body ("x.bin", "1", "<metalink", FALSE, NULL);
  assert_bad_publish (fixture, body, "invalid Metalink: ");
  g_clear_pointer (&body, g_free);

  /* A Metalink without piece hashes. */
  start = strstr (no_pieces->str, "    <pieces");
  end = strstr (no_pieces->str, "</pieces>\n") + strlen ("</pieces>\n");
  g_string_erase (no_pieces, start - no_pieces->str, end - start);
  body = publish_body ("x.bin", "1", no_pieces->str, FALSE, NULL);
  assert_bad_publish (fixture, body, "no sha-256 piece hashes");
  g_clear_pointer (&body, g_free);

  /* Two <file>s. */
  start = strstr (two_files->str, "  <file");
  end = strstr (two_files->str, "</file>\n") + strlen ("</file>\n");
  {
    g_autofree char *copy = g_strndup (start, end - start);
    char *name = strstr (copy, "x.bin");

    name[0] = 'y';
    g_string_insert (two_files, end - two_files->str, copy);
  }
  body = publish_body ("x.bin", "1", two_files->str, FALSE, NULL);
  assert_bad_publish (fixture, body, "2 files, not exactly one");
  g_clear_pointer (&body, g_free);

  /* Fields. */
  body = publish_body ("bad name", "1", good, FALSE, NULL);
  assert_bad_publish (fixture, body, "“name” must be");
  g_clear_pointer (&body, g_free);
  body = publish_body ("x.bin", "1", good, FALSE, "[\"downloader\"]");
  assert_bad_publish (fixture, body, "only for private entries");
  g_clear_pointer (&body, g_free);
  body = publish_body ("x.bin", "1", good, TRUE, "[\"nobody\"]");
  assert_bad_publish (fixture, body, "no token named “nobody”");
  g_clear_pointer (&body, g_free);
  assert_bad_publish (fixture, "{\"name\": \"x.bin\"}", "“version” is missing");
  assert_bad_publish (fixture, "[]", "must be a JSON object");
  assert_bad_publish (fixture, "{\"name\": 5, \"version\": \"1\", \"metalink\": \"\"}",
                      "“name” must be a string");

  /* A body over 5 MiB is refused on its Content-Length. */
  g_string_append (oversized, "{\"name\": \"big\", \"version\": \"1\", \"metalink\": \"");
  while (oversized->len <= ATLAS_TRACKER_MAX_BODY)
    g_string_append (oversized, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  g_string_append (oversized, "\"}");
  g_assert_cmpuint (
      request (fixture, "POST", "/api/v1/entries", fixture->uploader, oversized->str, &reply), ==,
      413);
  assert_error_reply (reply, "over 5242880 bytes");

  /* None of it was stored. */
  list = request_json (fixture, "GET", "/api/v1/entries", fixture->admin, NULL, 200);
  g_assert_cmpint (json_object_get_int_member (list, "total"), ==, 0);
}

/* The names of a list reply's entries, "name/version" joined by spaces. */
static char *
list_names (Fixture *fixture, const char *path, const char *token, gint64 *total)
{
  g_autoptr (JsonObject) list = request_json (fixture, "GET", path, token, NULL, 200);
  JsonArray *entries = json_object_get_array_member (list, "entries");
  GString *names = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonObject *entry = json_array_get_object_element (entries, i);

      g_string_append_printf (names, "%s%s/%s", i > 0 ? " " : "",
                              json_object_get_string_member (entry, "name"),
                              json_object_get_string_member (entry, "version"));
    }
  if (total != NULL)
    *total = json_object_get_int_member (list, "total");
  return g_string_free (names, FALSE);
}

static void
test_http_list_private_delete (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GBytes) reply = NULL;
  g_autofree char *names = NULL;
  g_autofree char *secret_path = NULL;
  g_autofree char *path = NULL;
  gint64 total = 0;
  gint64 secret, old_id;

  old_id =
      publish (fixture, fixture->uploader, "atlas.iso", "1.0", 1, PIECE_LENGTH, FALSE, NULL, NULL);
  publish (fixture, fixture->uploader, "atlas.iso", "1.1", 2, PIECE_LENGTH, FALSE, NULL, NULL);
  publish (fixture, fixture->uploader2, "zeta_tool", "2", 3, PIECE_LENGTH, FALSE, NULL, NULL);
  secret = publish (fixture, fixture->uploader, "secret.bin", "1", 4, PIECE_LENGTH, TRUE,
                    "[\"reader2\"]", NULL);

  /* Sorted by name, newest version of a name first; the private entry only
   * for its uploader, admins and listed tokens. */
  names = list_names (fixture, "/api/v1/entries", fixture->downloader, &total);
  g_assert_cmpstr (names, ==, "atlas.iso/1.1 atlas.iso/1.0 zeta_tool/2");
  g_assert_cmpint (total, ==, 3);
  g_clear_pointer (&names, g_free);
  names = list_names (fixture, "/api/v1/entries", fixture->reader2, &total);
  g_assert_cmpstr (names, ==, "atlas.iso/1.1 atlas.iso/1.0 secret.bin/1 zeta_tool/2");
  g_clear_pointer (&names, g_free);
  names = list_names (fixture, "/api/v1/entries", fixture->admin, NULL);
  g_assert_cmpstr (names, ==, "atlas.iso/1.1 atlas.iso/1.0 secret.bin/1 zeta_tool/2");
  g_clear_pointer (&names, g_free);
  names = list_names (fixture, "/api/v1/entries", fixture->uploader2, NULL);
  g_assert_cmpstr (names, ==, "atlas.iso/1.1 atlas.iso/1.0 zeta_tool/2");
  g_clear_pointer (&names, g_free);

  /* Search, exact name, paging. */
  names = list_names (fixture, "/api/v1/entries?q=ZETA", fixture->downloader, &total);
  g_assert_cmpstr (names, ==, "zeta_tool/2");
  g_clear_pointer (&names, g_free);
  names = list_names (fixture, "/api/v1/entries?q=searchable%20word", fixture->downloader, &total);
  g_assert_cmpint (total, ==, 3);
  g_clear_pointer (&names, g_free);
  /* "_" is a character to find, not a LIKE wildcard. */
  names = list_names (fixture, "/api/v1/entries?q=atlas_iso", fixture->downloader, &total);
  g_assert_cmpstr (names, ==, "");
  g_clear_pointer (&names, g_free);
  names = list_names (fixture, "/api/v1/entries?name=atlas.iso", fixture->downloader, &total);
  g_assert_cmpstr (names, ==, "atlas.iso/1.1 atlas.iso/1.0");
  g_clear_pointer (&names, g_free);
  names = list_names (fixture, "/api/v1/entries?name=atlas", fixture->downloader, &total);
  g_assert_cmpstr (names, ==, "");
  g_clear_pointer (&names, g_free);
  names = list_names (fixture, "/api/v1/entries?limit=1&offset=1", fixture->downloader, &total);
  g_assert_cmpstr (names, ==, "atlas.iso/1.0");
  g_assert_cmpint (total, ==, 3);
  g_clear_pointer (&names, g_free);
  g_assert_cmpuint (
      request (fixture, "GET", "/api/v1/entries?limit=0", fixture->downloader, NULL, &reply), ==,
      400);
  g_clear_pointer (&reply, g_bytes_unref);
  g_assert_cmpuint (
      request (fixture, "GET", "/api/v1/entries?offset=-1", fixture->downloader, NULL, &reply), ==,
      400);
  g_clear_pointer (&reply, g_bytes_unref);
  names = list_names (fixture, "/api/v1/entries?limit=100000", fixture->downloader, &total);
  g_assert_cmpstr (names, ==, "atlas.iso/1.1 atlas.iso/1.0 zeta_tool/2");
  g_clear_pointer (&names, g_free);

  /* The private entry does not exist for others, by id or Metalink. */
  secret_path = g_strdup_printf ("/api/v1/entries/%" G_GINT64_FORMAT, secret);
  g_assert_cmpuint (request (fixture, "GET", secret_path, fixture->downloader, NULL, &reply), ==,
                    404);
  g_clear_pointer (&reply, g_bytes_unref);
  path = g_strconcat (secret_path, "/metalink", NULL);
  g_assert_cmpuint (request (fixture, "GET", path, fixture->uploader2, NULL, &reply), ==, 404);
  g_clear_pointer (&reply, g_bytes_unref);
  g_assert_cmpuint (request (fixture, "GET", path, fixture->reader2, NULL, &reply), ==, 200);
  g_clear_pointer (&reply, g_bytes_unref);
  g_assert_cmpuint (request (fixture, "DELETE", secret_path, fixture->uploader2, NULL, &reply), ==,
                    404);
  g_clear_pointer (&reply, g_bytes_unref);

  /* Delete: not by a downloader or another uploader, yes by its uploader. */
  g_clear_pointer (&path, g_free);
  path = g_strdup_printf ("/api/v1/entries/%" G_GINT64_FORMAT, old_id);
  g_assert_cmpuint (request (fixture, "DELETE", path, fixture->downloader, NULL, &reply), ==, 403);
  g_clear_pointer (&reply, g_bytes_unref);
  g_assert_cmpuint (request (fixture, "DELETE", path, fixture->uploader2, NULL, &reply), ==, 403);
  g_clear_pointer (&reply, g_bytes_unref);
  g_assert_cmpuint (request (fixture, "DELETE", path, fixture->uploader, NULL, &reply), ==, 204);
  g_clear_pointer (&reply, g_bytes_unref);
  g_assert_cmpuint (request (fixture, "GET", path, fixture->uploader, NULL, &reply), ==, 404);
  g_clear_pointer (&reply, g_bytes_unref);
  /* An admin may delete anyone's, a private one included. */
  g_assert_cmpuint (request (fixture, "DELETE", secret_path, fixture->admin, NULL, &reply), ==,
                    204);
  g_clear_pointer (&reply, g_bytes_unref);

  names = list_names (fixture, "/api/v1/entries", fixture->admin, &total);
  g_assert_cmpstr (names, ==, "atlas.iso/1.1 zeta_tool/2");
}

/* WebSocket clients */

typedef struct
{
  SoupWebsocketConnection *ws;
  GQueue messages; /* AtlasTrackerMessage* */
  gboolean closed;
  gushort close_code;
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
  Client *client = user_data;

  client->closed = TRUE;
  client->close_code = soup_websocket_connection_get_close_code (ws);
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

static SoupWebsocketConnection *
ws_connect (Fixture *fixture, const char *token, GError **error)
{
  g_autofree char *url = g_strconcat (fixture->uri, "/api/v1/peer", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  char *protocols[] = { (char *) ATLAS_TRACKER_SUBPROTOCOL, NULL };
  Connect connect = { 0 };

  if (token != NULL)
    {
      g_autofree char *bearer = g_strconcat ("Bearer ", token, NULL);

      soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization", bearer);
    }
  soup_session_websocket_connect_async (fixture->session, msg, NULL, protocols, G_PRIORITY_DEFAULT,
                                        NULL, connected_cb, &connect);
  tracker_test_wait_for_flag (&connect.done);
  if (connect.error != NULL)
    g_propagate_error (error, connect.error);
  return connect.ws;
}

static void
send_text (Client *client, const char *text)
{
  soup_websocket_connection_send_text (client->ws, text);
}

static void
send_message (Client *client, const AtlasTrackerMessage *message)
{
  g_autofree char *json = atlas_tracker_message_to_json (message);

  send_text (client, json);
}

static AtlasTrackerMessage *
next_message (Client *client)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_USEC;
  guint tick = g_timeout_add (20, tracker_test_tick_cb, NULL);

  while (g_queue_is_empty (&client->messages) && !client->closed
         && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  if (g_queue_is_empty (&client->messages))
    g_error ("no message (closed: %d, code %u)", client->closed, client->close_code);
  return g_queue_pop_head (&client->messages);
}

static AtlasTrackerMessage *
expect_type (Client *client, AtlasTrackerMessageType type)
{
  AtlasTrackerMessage *message = next_message (client);

  if (message->type != type)
    {
      g_autofree char *json =
          atlas_tracker_message_to_json_full (message, ATLAS_TRACKER_FROM_TRACKER);

      g_error ("expected %s, got %s", atlas_tracker_message_type_to_string (type), json);
    }
  return message;
}

static void
expect_error (Client *client, const char *code, const char *needle)
{
  g_autoptr (AtlasTrackerMessage) message = expect_type (client, ATLAS_TRACKER_MSG_ERROR);

  g_assert_cmpstr (message->code, ==, code);
  if (needle != NULL && strstr (message->text, needle) == NULL)
    g_error ("error “%s” lacks “%s”", message->text, needle);
}

static Client *
client_new (Fixture *fixture, const char *token, const char *peer_id)
{
  g_autoptr (GError) error = NULL;
  Client *client = g_new0 (Client, 1);

  client->ws = ws_connect (fixture, token, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (soup_websocket_connection_get_protocol (client->ws), ==,
                   ATLAS_TRACKER_SUBPROTOCOL);
  soup_websocket_connection_set_max_incoming_payload_size (client->ws, ATLAS_TRACKER_MAX_MESSAGE);
  g_queue_init (&client->messages);
  g_signal_connect (client->ws, "message", G_CALLBACK (client_message_cb), client);
  g_signal_connect (client->ws, "closed", G_CALLBACK (client_closed_cb), client);

  if (peer_id != NULL)
    {
      g_autoptr (AtlasTrackerMessage) hello = atlas_tracker_message_new (ATLAS_TRACKER_MSG_HELLO);
      g_autoptr (AtlasTrackerMessage) welcome = NULL;

      hello->peer_id = g_strdup (peer_id);
      send_message (client, hello);
      welcome = expect_type (client, ATLAS_TRACKER_MSG_WELCOME);
      g_assert_cmpstr (welcome->peer_id, ==, peer_id);
      g_assert_cmpuint (welcome->version, ==, 1);
    }
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

static void
wait_closed (Client *client)
{
  tracker_test_wait_for_flag (&client->closed);
}

/* Announces holding @pieces (a string of '0'/'1' per piece). */
static void
announce (Client *client, const char *entry, const char *pieces, guint want_peers, guint64 uploaded)
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
  message->uploaded = uploaded;
  message->downloaded = uploaded / 2;
  message->want_peers = want_peers;
  send_message (client, message);
}

/* The peer ids of the next peers reply, in order, joined by spaces. */
static char *
expect_peers (Client *client, const char *entry)
{
  g_autoptr (AtlasTrackerMessage) message = expect_type (client, ATLAS_TRACKER_MSG_PEERS);
  GString *ids = g_string_new (NULL);

  g_assert_cmpstr (message->entry, ==, entry);
  for (guint i = 0; i < message->peers->len; i++)
    {
      const AtlasTrackerPeer *peer = g_ptr_array_index (message->peers, i);

      g_string_append_printf (ids, "%s%c", i > 0 ? " " : "", peer->peer_id[7]);
    }
  return g_string_free (ids, FALSE);
}

static char *
publish_swarm_entry (Fixture *fixture)
{
  char *sha256 = NULL;

  publish (fixture, fixture->uploader, "swarm.bin", "1", 7, N_PIECES * PIECE_LENGTH, FALSE, NULL,
           &sha256);
  return sha256;
}

static void
test_ws_auth_and_hello (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SoupWebsocketConnection) ws = ws_connect (fixture, NULL, &error);
  g_autoptr (Client) client = NULL;
  g_autoptr (Client) again = NULL;

  /* No token: the upgrade is refused with 401. */
  g_assert_null (ws);
  g_assert_error (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_ERROR_NOT_WEBSOCKET);
  g_clear_error (&error);

  client = client_new (fixture, fixture->downloader, NULL);
  /* Anything before hello is refused, and the connection stays. */
  send_text (client, "{\"type\":\"leave\",\"entry\":\""
                     "0000000000000000000000000000000000000000"
                     "000000000000000000000000\"}");
  expect_error (client, "invalid-message", "first message must be hello");
  send_text (client, "{\"type\":\"hello\",\"version\":1,\"peer_id\":\"" PEER_A "\"}");
  g_autoptr (AtlasTrackerMessage) welcome = expect_type (client, ATLAS_TRACKER_MSG_WELCOME);
  g_assert_cmpstr (welcome->peer_id, ==, PEER_A);
  send_text (client, "{\"type\":\"hello\",\"version\":1,\"peer_id\":\"" PEER_A "\"}");
  expect_error (client, "invalid-message", "already");
  g_assert_cmpuint (atlas_tracker_hub_get_n_peers (atlas_tracker_server_get_hub (fixture->server)),
                    ==, 1);

  /* Another token may not take over that peer id... */
  {
    g_autoptr (Client) thief = client_new (fixture, fixture->reader2, NULL);

    send_text (thief, "{\"type\":\"hello\",\"version\":1,\"peer_id\":\"" PEER_A "\"}");
    expect_error (thief, "forbidden", "another token");
    wait_closed (thief);
    g_assert_cmpuint (thief->close_code, ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
    g_assert_false (client->closed);
  }
  /* ...but the same token reconnecting replaces the old connection. */
  again = client_new (fixture, fixture->downloader, PEER_A);
  wait_closed (client);
  g_assert_cmpuint (atlas_tracker_hub_get_n_peers (atlas_tracker_server_get_hub (fixture->server)),
                    ==, 1);
}

static void
test_ws_announce_peers (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry = publish_swarm_entry (fixture);
  g_autoptr (Client) a = client_new (fixture, fixture->downloader, PEER_A);
  g_autoptr (Client) b = client_new (fixture, fixture->uploader, PEER_B);
  g_autoptr (Client) c = client_new (fixture, fixture->reader2, PEER_C);
  g_autoptr (Client) d = client_new (fixture, fixture->admin, PEER_D);
  AtlasTrackerHub *hub = atlas_tracker_server_get_hub (fixture->server);
  g_autofree char *ids = NULL;
  g_autofree char *leave = NULL;
  g_autoptr (JsonObject) object = NULL;
  guint seeders, peers;

  announce (a, entry, "1100000000", 10, 0);
  ids = expect_peers (a, entry);
  g_assert_cmpstr (ids, ==, "");
  g_clear_pointer (&ids, g_free);
  announce (b, entry, "1111111111", 10, 0);
  ids = expect_peers (b, entry);
  g_assert_cmpstr (ids, ==, "a");
  g_clear_pointer (&ids, g_free);
  announce (c, entry, "0000000000", 10, 0);
  ids = expect_peers (c, entry);
  /* Both have pieces c lacks; never c itself. */
  g_assert_true (g_strcmp0 (ids, "a b") == 0 || g_strcmp0 (ids, "b a") == 0);
  g_clear_pointer (&ids, g_free);

  /* d holds what a holds: b, the only one with pieces d lacks, comes first;
   * a and c follow in either order. */
  for (guint round = 0; round < 8; round++)
    {
      announce (d, entry, "1100000000", 1, 0);
      ids = expect_peers (d, entry);
      g_assert_cmpstr (ids, ==, "b");
      g_clear_pointer (&ids, g_free);
      announce (d, entry, "1100000000", 3, 0);
      ids = expect_peers (d, entry);
      g_assert_cmpuint (ids[0], ==, 'b');
      g_assert_cmpuint (ids[4], ==, ids[2] == 'a' ? 'c' : 'a');
      g_assert_cmpuint (strlen (ids), ==, 5);
      g_clear_pointer (&ids, g_free);
    }

  atlas_tracker_hub_count_swarm (hub, entry, &seeders, &peers);
  g_assert_cmpuint (seeders, ==, 1);
  g_assert_cmpuint (peers, ==, 4);
  /* The index shows the swarm too. */
  object = request_json (fixture, "GET", "/api/v1/entries/1", fixture->downloader, NULL, 200);
  g_assert_cmpint (json_object_get_int_member (object, "seeders"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (object, "peers"), ==, 4);

  /* Wrong piece count, unknown entry. */
  announce (a, entry, "11", 10, 0);
  expect_error (a, "invalid-message", "has 10 pieces, not 2");
  announce (a, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "1", 10, 0);
  expect_error (a, "not-found", NULL);

  /* leave */
  leave = g_strdup_printf ("{\"type\":\"leave\",\"entry\":\"%s\"}", entry);
  send_text (c, leave);
  tracker_test_run_for (100);
  atlas_tracker_hub_count_swarm (hub, entry, &seeders, &peers);
  g_assert_cmpuint (peers, ==, 3);
  announce (d, entry, "1100000000", 50, 0);
  ids = expect_peers (d, entry);
  g_assert_null (strchr (ids, 'c'));

  /* Deleting the entry empties its swarm as its peers announce again. */
  g_clear_pointer (&object, json_object_unref);
  object = request_json (fixture, "DELETE", "/api/v1/entries/1", fixture->admin, NULL, 204);
  announce (a, entry, "1100000000", 5, 0);
  expect_error (a, "not-found", NULL);
  atlas_tracker_hub_count_swarm (hub, entry, &seeders, &peers);
  g_assert_cmpuint (peers, ==, 2);
}

static void
test_ws_private_swarm (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry = NULL;
  g_autoptr (Client) outsider = client_new (fixture, fixture->downloader, PEER_A);
  g_autoptr (Client) insider = client_new (fixture, fixture->reader2, PEER_B);

  publish (fixture, fixture->uploader, "hidden.bin", "1", 9, 2 * PIECE_LENGTH, TRUE,
           "[\"reader2\"]", &entry);
  announce (outsider, entry, "00", 5, 0);
  expect_error (outsider, "not-found", NULL);
  announce (insider, entry, "11", 5, 0);
  g_free (expect_peers (insider, entry));
}

static void
test_ws_signal (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry = publish_swarm_entry (fixture);
  g_autoptr (Client) a = client_new (fixture, fixture->downloader, PEER_A);
  g_autoptr (Client) b = client_new (fixture, fixture->downloader, PEER_B);
  g_autoptr (Client) c = client_new (fixture, fixture->downloader, PEER_C);
  g_autoptr (AtlasTrackerMessage) relayed = NULL;
  g_autofree char *text = NULL;

  announce (a, entry, "0000000000", 0, 0);
  g_free (expect_peers (a, entry));
  announce (b, entry, "1111111111", 0, 0);
  g_free (expect_peers (b, entry));

  /* a's offer reaches b with "from" set by the tracker, whatever a wrote. */
  text = g_strdup_printf ("{\"type\":\"signal\",\"to\":\"" PEER_B "\",\"from\":\"" PEER_C
                          "\",\"entry\":\"%s\",\"session\":\"s-1\",\"kind\":\"offer\","
                          "\"ufrag\":\"ufra\",\"pwd\":\"0123456789abcdefghijkl\"}",
                          entry);
  send_text (a, text);
  relayed = expect_type (b, ATLAS_TRACKER_MSG_SIGNAL);
  g_assert_cmpstr (relayed->peer_id, ==, PEER_A);
  g_assert_cmpint (relayed->kind, ==, ATLAS_SIGNAL_OFFER);
  g_assert_cmpstr (relayed->session, ==, "s-1");
  g_assert_cmpstr (relayed->ufrag, ==, "ufra");
  g_assert_cmpstr (relayed->pwd, ==, "0123456789abcdefghijkl");
  g_clear_pointer (&relayed, atlas_tracker_message_free);
  g_assert_true (g_queue_is_empty (&c->messages));

  /* And back. */
  g_clear_pointer (&text, g_free);
  text = g_strdup_printf ("{\"type\":\"signal\",\"to\":\"" PEER_A "\",\"entry\":\"%s\","
                          "\"session\":\"s-1\",\"kind\":\"candidate\","
                          "\"candidate\":\"candidate:1 1 UDP 2013266431 127.0.0.1 5000 typ host\"}",
                          entry);
  send_text (b, text);
  relayed = expect_type (a, ATLAS_TRACKER_MSG_SIGNAL);
  g_assert_cmpstr (relayed->peer_id, ==, PEER_B);
  g_assert_cmpstr (relayed->candidate, ==, "candidate:1 1 UDP 2013266431 127.0.0.1 5000 typ host");
  g_clear_pointer (&relayed, atlas_tracker_message_free);

  /* To a peer that is not connected, or connected but not in the swarm. */
  g_clear_pointer (&text, g_free);
  text = g_strdup_printf ("{\"type\":\"signal\",\"to\":\"" PEER_D "\",\"entry\":\"%s\","
                          "\"session\":\"s-2\",\"kind\":\"bye\"}",
                          entry);
  send_text (a, text);
  expect_error (a, "peer-gone", PEER_D);
  g_clear_pointer (&text, g_free);
  text = g_strdup_printf ("{\"type\":\"signal\",\"to\":\"" PEER_C "\",\"entry\":\"%s\","
                          "\"session\":\"s-2\",\"kind\":\"bye\"}",
                          entry);
  send_text (a, text);
  expect_error (a, "peer-gone", PEER_C);
  /* From a peer outside the swarm. */
  g_clear_pointer (&text, g_free);
  text = g_strdup_printf ("{\"type\":\"signal\",\"to\":\"" PEER_A "\",\"entry\":\"%s\","
                          "\"session\":\"s-3\",\"kind\":\"bye\"}",
                          entry);
  send_text (c, text);
  expect_error (c, "forbidden", "announce");
  tracker_test_run_for (50);
  g_assert_true (g_queue_is_empty (&a->messages));
}

static void
test_ws_malformed_and_limits (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry = publish_swarm_entry (fixture);
  g_autoptr (Client) a = client_new (fixture, fixture->downloader, PEER_A);
  g_autoptr (Client) big = client_new (fixture, fixture->downloader, PEER_B);
  g_autofree char *huge = NULL;

  /* Malformed: an error naming the problem, and the connection lives on. */
  send_text (a, "{\"type\":\"announce\",");
  expect_error (a, "invalid-message", "invalid JSON");
  send_text (a, "{\"type\":\"announce\",\"entry\":\"nothex\"}");
  expect_error (a, "invalid-message", "“entry”");
  send_text (a, "{\"type\":\"peers\",\"entry\":\"x\",\"peers\":[]}");
  expect_error (a, "invalid-message", "not sent by the client");
  announce (a, entry, "0000000000", 5, 0);
  g_free (expect_peers (a, entry));

  /* Over 64 KiB: closed with 1009 (message too big). */
  huge = g_strnfill (ATLAS_TRACKER_MAX_MESSAGE + 10, ' ');
  memcpy (huge, "{\"type\":\"leave\",\"entry\":\"", 25);
  send_text (big, huge);
  wait_closed (big);
  g_assert_cmpuint (big->close_code, ==, SOUP_WEBSOCKET_CLOSE_TOO_BIG);
  g_assert_false (a->closed);

  /* Far over: cut off at once, and the others are not disturbed. */
  g_clear_pointer (&huge, g_free);
  huge = g_strnfill (4 * ATLAS_TRACKER_MAX_MESSAGE, ' ');
  {
    g_autoptr (Client) bigger = client_new (fixture, fixture->downloader, PEER_C);

    send_text (bigger, huge);
    wait_closed (bigger);
  }
  announce (a, entry, "0000000000", 5, 0);
  g_free (expect_peers (a, entry));
  g_assert_cmpuint (atlas_tracker_hub_get_n_peers (atlas_tracker_server_get_hub (fixture->server)),
                    ==, 1);
}

static void
test_ws_rate_limit (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry = publish_swarm_entry (fixture);
  AtlasTrackerHub *hub = atlas_tracker_server_get_hub (fixture->server);
  g_autoptr (Client) a = NULL;
  g_autofree char *leave = NULL;
  guint errors = 0;

  /* 20 per second, bursts of 10. */
  atlas_tracker_hub_set_limits (hub, 180, 20, 10);
  a = client_new (fixture, fixture->downloader, PEER_A);
  leave = g_strdup_printf ("{\"type\":\"leave\",\"entry\":\"%s\"}", entry);

  /* 15 at once: the burst passes, then one rate-limited error. */
  for (guint i = 0; i < 15; i++)
    send_text (a, leave);
  expect_error (a, "rate-limited", "message dropped");
  tracker_test_run_for (100);
  while (!g_queue_is_empty (&a->messages))
    {
      g_autoptr (AtlasTrackerMessage) message = g_queue_pop_head (&a->messages);

      errors++;
      g_assert_cmpstr (message->code, ==, "rate-limited");
    }
  g_assert_cmpuint (errors, ==, 0);

  /* After a pause the bucket has refilled and messages pass again. */
  tracker_test_run_for (600);
  announce (a, entry, "0000000000", 5, 0);
  g_free (expect_peers (a, entry));
  g_assert_false (a->closed);

  /* A flood far over the limit ends the connection with 1008. */
  for (guint i = 0; i < 60; i++)
    send_text (a, leave);
  wait_closed (a);
  g_assert_cmpuint (a->close_code, ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
}

static void
test_ws_vanish (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry = publish_swarm_entry (fixture);
  AtlasTrackerHub *hub = atlas_tracker_server_get_hub (fixture->server);
  g_autoptr (Client) a = client_new (fixture, fixture->downloader, PEER_A);
  Client *b = client_new (fixture, fixture->downloader, PEER_B);
  g_autoptr (AtlasTrackerMessage) bye = NULL;
  g_autofree char *text = NULL;
  g_autofree char *ids = NULL;
  guint seeders, peers;
  gint64 deadline;

  announce (a, entry, "0000000000", 5, 0);
  g_free (expect_peers (a, entry));
  announce (b, entry, "1111111111", 5, 0);
  g_free (expect_peers (b, entry));
  text = g_strdup_printf ("{\"type\":\"signal\",\"to\":\"" PEER_B "\",\"entry\":\"%s\","
                          "\"session\":\"s-9\",\"kind\":\"offer\",\"ufrag\":\"ufra\","
                          "\"pwd\":\"0123456789abcdefghijkl\"}",
                          entry);
  send_text (a, text);
  atlas_tracker_message_free (expect_type (b, ATLAS_TRACKER_MSG_SIGNAL));

  /* b's socket goes away without a close frame, mid-negotiation. */
  g_io_stream_close (soup_websocket_connection_get_io_stream (b->ws), NULL, NULL);
  client_free (b);

  /* a is told the session is over, and b is out of the swarm. */
  bye = expect_type (a, ATLAS_TRACKER_MSG_SIGNAL);
  g_assert_cmpstr (bye->peer_id, ==, PEER_B);
  g_assert_cmpint (bye->kind, ==, ATLAS_SIGNAL_BYE);
  g_assert_cmpstr (bye->session, ==, "s-9");
  deadline = g_get_monotonic_time () + TIMEOUT_USEC;
  do
    {
      tracker_test_run_for (20);
      atlas_tracker_hub_count_swarm (hub, entry, &seeders, &peers);
    }
  while (peers != 1 && g_get_monotonic_time () < deadline);
  g_assert_cmpuint (peers, ==, 1);
  g_assert_cmpuint (atlas_tracker_hub_get_n_peers (hub), ==, 1);
  announce (a, entry, "0000000000", 5, 0);
  ids = expect_peers (a, entry);
  g_assert_cmpstr (ids, ==, "");
  send_text (a, text);
  expect_error (a, "peer-gone", PEER_B);
}

static void
test_ws_ttl (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry = publish_swarm_entry (fixture);
  AtlasTrackerHub *hub = atlas_tracker_server_get_hub (fixture->server);
  g_autoptr (Client) a = NULL;
  g_autoptr (Client) b = NULL;
  guint seeders, peers;

  /* A 1 s TTL: a keeps announcing, b goes silent and is dropped. */
  atlas_tracker_hub_set_limits (hub, 1, 50, 200);
  a = client_new (fixture, fixture->downloader, PEER_A);
  b = client_new (fixture, fixture->downloader, PEER_B);
  announce (b, entry, "1111111111", 5, 0);
  g_free (expect_peers (b, entry));
  for (guint i = 0; i < 6; i++)
    {
      announce (a, entry, "0000000000", 5, 0);
      g_free (expect_peers (a, entry));
      tracker_test_run_for (400);
    }
  atlas_tracker_hub_count_swarm (hub, entry, &seeders, &peers);
  g_assert_cmpuint (peers, ==, 1);
  g_assert_cmpuint (seeders, ==, 0);
  wait_closed (b);
  g_assert_cmpuint (b->close_code, ==, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
  g_assert_false (a->closed);
}

static guint
count_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* Connections that end, cleanly or not, give back their descriptors. */
static void
test_no_fd_leak (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry = publish_swarm_entry (fixture);
  AtlasTrackerHub *hub = atlas_tracker_server_get_hub (fixture->server);
  g_autoptr (GBytes) reply = NULL;
  guint before, after = 0;
  gint64 deadline;

  g_assert_cmpuint (request (fixture, "GET", "/health", NULL, NULL, &reply), ==, 200);
  tracker_test_run_for (100);
  before = count_fds ();
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *peer_id = g_strdup_printf ("sha256:%064u", i);
      Client *client = client_new (fixture, fixture->downloader, peer_id);

      announce (client, entry, "0000000000", 5, 0);
      g_free (expect_peers (client, entry));
      if (i % 2 == 0)
        g_io_stream_close (soup_websocket_connection_get_io_stream (client->ws), NULL, NULL);
      client_free (client);
      g_clear_pointer (&reply, g_bytes_unref);
      g_assert_cmpuint (request (fixture, "GET", "/api/v1/entries", fixture->admin, NULL, &reply),
                        ==, 200);
    }

  deadline = g_get_monotonic_time () + TIMEOUT_USEC;
  while (g_get_monotonic_time () < deadline)
    {
      tracker_test_run_for (50);
      after = count_fds ();
      if (after <= before && atlas_tracker_hub_get_n_peers (hub) == 0)
        break;
    }
  g_assert_cmpuint (atlas_tracker_hub_get_n_peers (hub), ==, 0);
  g_assert_cmpuint (after, <=, before);
}

/* A revoked token's WebSocket is closed, not only its next request. */
static void
test_ws_revoked (Fixture *fixture, gconstpointer data)
{
  AtlasTrackerHub *hub = atlas_tracker_server_get_hub (fixture->server);
  AtlasTrackerStore *store = atlas_tracker_server_get_store (fixture->server);
  g_autoptr (GError) error = NULL;
  g_autoptr (Client) a = NULL;
  g_autoptr (Client) b = NULL;

  /* A 2 s TTL makes the hub look at its connections every 500 ms. */
  atlas_tracker_hub_set_limits (hub, 2, 50, 200);
  a = client_new (fixture, fixture->reader2, PEER_A);
  b = client_new (fixture, fixture->downloader, PEER_B);
  atlas_tracker_store_revoke_token (store, "reader2", &error);
  g_assert_no_error (error);

  expect_error (a, "forbidden", "revoked");
  wait_closed (a);
  g_assert_cmpuint (a->close_code, ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  g_assert_false (b->closed);
  g_assert_cmpuint (atlas_tracker_hub_get_n_peers (hub), ==, 1);
}

/* The value of one sample line of the metrics text, or -1. */
static gint64
metric (const char *text, const char *sample)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gsize length = strlen (sample);

  for (guint i = 0; lines[i] != NULL; i++)
    if (strncmp (lines[i], sample, length) == 0 && lines[i][length] == ' ')
      return g_ascii_strtoll (lines[i] + length + 1, NULL, 10);
  return -1;
}

static void
test_metrics (Fixture *fixture, gconstpointer data)
{
  g_autofree char *entry = publish_swarm_entry (fixture);
  g_autoptr (Client) a = client_new (fixture, fixture->downloader, PEER_A);
  g_autoptr (Client) b = client_new (fixture, fixture->downloader, PEER_B);
  g_autoptr (GBytes) reply = NULL;
  g_autofree char *text = NULL;

  publish (fixture, fixture->uploader, "other.bin", "1", 3, PIECE_LENGTH, FALSE, NULL, NULL);
  g_assert_cmpuint (request (fixture, "GET", "/api/v1/entries", NULL, NULL, &reply), ==, 401);
  g_clear_pointer (&reply, g_bytes_unref);

  /* Counters: a reports 1000 then 1500 up (500 more), b 300. */
  announce (a, entry, "0000000000", 5, 1000);
  g_free (expect_peers (a, entry));
  announce (a, entry, "1000000000", 5, 1500);
  g_free (expect_peers (a, entry));
  announce (b, entry, "1111111111", 5, 300);
  g_free (expect_peers (b, entry));
  send_text (a, "nonsense");
  expect_error (a, "invalid-message", NULL);

  g_assert_cmpuint (request (fixture, "GET", "/metrics", NULL, NULL, &reply), ==, 200);
  text = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
  g_assert_cmpint (metric (text, "atlas_tracker_peers"), ==, 2);
  g_assert_cmpint (metric (text, "atlas_tracker_swarms"), ==, 1);
  g_assert_cmpint (metric (text, "atlas_tracker_entries"), ==, 2);
  g_assert_cmpint (metric (text, "atlas_tracker_bytes_reported_total{direction=\"up\"}"), ==, 1800);
  g_assert_cmpint (metric (text, "atlas_tracker_bytes_reported_total{direction=\"down\"}"), ==,
                   900);
  /* Two hellos and three announces were valid; "nonsense" was not. */
  g_assert_cmpint (metric (text, "atlas_tracker_signaling_messages_total"), ==, 5);
  g_assert_cmpint (metric (text, "atlas_tracker_signaling_errors_total"), ==, 1);
  g_assert_cmpint (metric (text, "atlas_tracker_http_requests_total{code=\"201\"}"), ==, 2);
  g_assert_cmpint (metric (text, "atlas_tracker_http_requests_total{code=\"401\"}"), ==, 1);
  g_assert_cmpint (metric (text, "atlas_tracker_http_requests_total{code=\"101\"}"), ==, 2);
  g_assert_nonnull (strstr (text, "# TYPE atlas_tracker_http_requests_total counter\n"));
}

/* TLS */

static gboolean
make_certificate (const char *dir, char **cert, char **key)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  *cert = g_build_filename (dir, "cert.pem", NULL);
  *key = g_build_filename (dir, "key.pem", NULL);
  {
    const char *argv[] = { "openssl",
                           "req",
                           "-x509",
                           "-newkey",
                           "ec",
                           "-pkeyopt",
                           "ec_paramgen_curve:prime256v1",
                           "-nodes",
                           "-days",
                           "2",
                           "-subj",
                           "/CN=127.0.0.1",
                           "-addext",
                           "subjectAltName=IP:127.0.0.1",
                           "-keyout",
                           *key,
                           "-out",
                           *cert,
                           NULL };

    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                       &status, &error)
        || !g_spawn_check_wait_status (status, NULL))
      {
        g_test_message ("openssl: %s %s", error != NULL ? error->message : "", err);
        return FALSE;
      }
  }
  return TRUE;
}

static void
test_tls (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("atlas-tracker-tls-XXXXXX", &error);
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;
  g_autoptr (GTlsDatabase) ca = NULL;
  g_autoptr (GBytes) reply = NULL;
  Fixture fixture = { 0 };

  g_assert_no_error (error);
  if (!make_certificate (dir, &cert, &key))
    {
      g_test_skip ("openssl could not make a certificate");
      remove_dir (dir);
      return;
    }
  fixture_start (&fixture, cert, key);
  g_assert_true (g_str_has_prefix (fixture.uri, "https://127.0.0.1:"));

  /* Without the CA, the certificate is refused. */
  {
    g_autofree char *url = g_strconcat (fixture.uri, "/health", NULL);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
    Reply result = { 0 };

    soup_session_send_and_read_async (fixture.session, msg, G_PRIORITY_DEFAULT, NULL, sent_cb,
                                      &result);
    tracker_test_wait_for_flag (&result.done);
    g_assert_error (result.error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
    g_clear_error (&result.error);
    g_clear_pointer (&result.body, g_bytes_unref);
  }

  /* With it, the API and the WebSocket work over TLS. */
  ca = g_tls_file_database_new (cert, &error);
  g_assert_no_error (error);
  soup_session_set_tls_database (fixture.session, ca);
  g_assert_cmpuint (request (&fixture, "GET", "/health", NULL, NULL, &reply), ==, 200);
  g_assert_cmpmem (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply), "{\"status\":\"ok\"}",
                   15);
  {
    g_autoptr (Client) client = client_new (&fixture, fixture.downloader, PEER_A);

    g_assert_nonnull (client);
  }
  fixture_teardown (&fixture, NULL);
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/tracker/http/auth-and-publish", test_http_auth_and_publish);
  ADD ("/tracker/http/bad-publish", test_http_bad_publish);
  ADD ("/tracker/http/list-private-delete", test_http_list_private_delete);
  ADD ("/tracker/ws/auth-and-hello", test_ws_auth_and_hello);
  ADD ("/tracker/ws/announce-peers", test_ws_announce_peers);
  ADD ("/tracker/ws/private-swarm", test_ws_private_swarm);
  ADD ("/tracker/ws/signal", test_ws_signal);
  ADD ("/tracker/ws/malformed-and-limits", test_ws_malformed_and_limits);
  ADD ("/tracker/ws/rate-limit", test_ws_rate_limit);
  ADD ("/tracker/ws/vanish", test_ws_vanish);
  ADD ("/tracker/ws/ttl", test_ws_ttl);
  ADD ("/tracker/ws/revoked", test_ws_revoked);
  ADD ("/tracker/no-fd-leak", test_no_fd_leak);
  ADD ("/tracker/metrics", test_metrics);
#undef ADD
  g_test_add_func ("/tracker/tls", test_tls);

  return g_test_run ();
}
