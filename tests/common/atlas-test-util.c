#include "atlas-test-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

/* A failed assertion aborts the test before its teardown: the mirror must not
 * outlive it (holding the test's output pipe open and its port). */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

TestMirror *
test_mirror_start (void)
{
  const char *binary = g_getenv ("ATLAS_TEST_MIRROR");
  TestMirror *mirror = g_new0 (TestMirror, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  int out_fd;
  g_autoptr (GIOChannel) channel = NULL;
  char *argv[8];

  g_assert_nonnull (binary);
  mirror->root = test_make_temp_dir ();
  mirror->log_path = g_build_filename (mirror->root, ".requests.log", NULL);
  argv[0] = (char *) binary;
  argv[1] = "--root";
  argv[2] = mirror->root;
  argv[3] = "--port";
  argv[4] = "0";
  argv[5] = "--log";
  argv[6] = mirror->log_path;
  argv[7] = NULL;

  g_spawn_async_with_pipes (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, NULL,
                            &mirror->pid, NULL, &out_fd, NULL, &error);
  g_assert_no_error (error);
  channel = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  g_io_channel_read_line (channel, &line, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "PORT "));
  mirror->port = atoi (line + 5);
  g_assert_cmpuint (mirror->port, >, 0);
  return mirror;
}

void
test_mirror_stop (TestMirror *mirror)
{
  if (mirror == NULL)
    return;
  kill (mirror->pid, SIGTERM);
  waitpid (mirror->pid, NULL, 0);
  g_spawn_close_pid (mirror->pid);
  test_remove_tree (mirror->root);
  g_free (mirror->root);
  g_free (mirror->log_path);
  g_free (mirror);
}

char *
test_mirror_url (TestMirror *mirror, const char *modes, const char *name)
{
  return g_strdup_printf ("http://127.0.0.1:%u/%s/%s", mirror->port, modes, name);
}

GArray *
test_mirror_requests (TestMirror *mirror)
{
  GArray *requests = g_array_new (FALSE, TRUE, sizeof (TestMirrorRequest));
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (mirror->log_path, &contents, NULL, NULL))
    return requests;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *range = strstr (lines[i], " range=");
      const char *status = strstr (lines[i], " status=");
      const char *bytes = strstr (lines[i], " bytes=");
      TestMirrorRequest request = { 0 };
      guint code;

      if (range == NULL || status == NULL || bytes == NULL)
        continue;
      code = (guint) g_ascii_strtoull (status + 8, NULL, 10);
      request.file_body = code == 200 || code == 206;
      if (code == 206)
        request.first = g_ascii_strtoull (range + 7, NULL, 10);
      request.sent = g_ascii_strtoull (bytes + 7, NULL, 10);
      g_array_append_val (requests, request);
    }
  return requests;
}

guint64
test_mirror_bytes_sent (TestMirror *mirror)
{
  g_autoptr (GArray) requests = test_mirror_requests (mirror);
  guint64 total = 0;

  for (guint i = 0; i < requests->len; i++)
    total += g_array_index (requests, TestMirrorRequest, i).sent;
  return total;
}

AtlasChecksum
test_make_file (const char *dir, const char *name, gsize size, guint32 seed)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree guint32 *data = g_malloc (size + 4);
  g_autoptr (GError) error = NULL;
  AtlasChecksum sum = { .type = ATLAS_HASH_SHA256 };
  GRand *rand = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < size / 4 + 1; i++)
    data[i] = g_rand_int (rand);
  g_rand_free (rand);
  g_file_set_contents (path, (const char *) data, size, &error);
  g_assert_no_error (error);
  atlas_hash_buffer (ATLAS_HASH_SHA256, data, size, sum.digest);
  return sum;
}

GBytes *
test_piece_digests (const char *path, guint64 piece_length)
{
  g_autofree char *contents = NULL;
  gsize length;
  GByteArray *digests = g_byte_array_new ();

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  for (gsize offset = 0; offset < length; offset += piece_length)
    {
      guint8 digest[32];
      atlas_hash_buffer (ATLAS_HASH_SHA256, contents + offset, MIN (piece_length, length - offset),
                         digest);
      g_byte_array_append (digests, digest, 32);
    }
  return g_byte_array_free_to_bytes (digests);
}

gboolean
test_file_matches (const char *path, const AtlasChecksum *sum)
{
  g_autofree char *contents = NULL;
  gsize length;
  guint8 digest[32];

  if (!g_file_get_contents (path, &contents, &length, NULL))
    return FALSE;
  atlas_hash_buffer (ATLAS_HASH_SHA256, contents, length, digest);
  return memcmp (digest, sum->digest, 32) == 0;
}

char *
test_make_temp_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("atlas-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
test_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    {
      g_unlink (path);
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        test_remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

guint
test_time_scale (void)
{
  static guint scale;

  if (scale == 0)
    {
      const char *text = g_getenv ("ATLAS_TEST_TIME_SCALE");
      guint64 value = text != NULL ? g_ascii_strtoull (text, NULL, 10) : 0;

      scale = CLAMP (value, 1, 100);
    }
  return scale;
}

gboolean
test_run_until (gboolean *done, guint timeout_s)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (timeout_s * test_time_scale (), timeout_cb, &timed_out);

  while (!*done && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return *done;
}

static void
state_cb (AtlasDownload *download, GParamSpec *pspec, gboolean *done)
{
  AtlasDownloadState state = atlas_download_get_state (download);
  *done = state == ATLAS_DOWNLOAD_COMPLETE || state == ATLAS_DOWNLOAD_FAILED;
}

void
test_run_for (guint ms)
{
  gboolean done = FALSE;

  /* Not scaled: callers use a fixed span also as a window within which
   * something must not have happened yet. */
  g_timeout_add (ms, timeout_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

AtlasDownloadState
test_wait_for_end (AtlasDownload *download, guint timeout_s)
{
  gboolean done = FALSE;
  gulong id = g_signal_connect (download, "notify::state", G_CALLBACK (state_cb), &done);

  state_cb (download, NULL, &done);
  test_run_until (&done, timeout_s);
  g_signal_handler_disconnect (download, id);
  return atlas_download_get_state (download);
}

static void
opened_cb (GObject *object, GAsyncResult *result, gpointer data)
{
  GTask *task = data;
  GError *error = NULL;
  AtlasSession *session = atlas_session_open_finish (result, &error);

  g_task_set_task_data (task, session, NULL);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

AtlasSession *
test_open_session (const char *store_path, AtlasSettings *settings, GError **error)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, NULL, NULL);

  atlas_session_open_async (store_path, settings, NULL, opened_cb, task);
  while (!g_task_get_completed (task))
    g_main_context_iteration (NULL, TRUE);
  if (!g_task_propagate_boolean (task, error))
    return NULL;
  return g_task_get_task_data (task);
}

static void
closed_cb (GObject *object, GAsyncResult *result, gpointer data)
{
  atlas_session_close_finish (ATLAS_SESSION (object), result, NULL);
  *(gboolean *) data = TRUE;
}

void
test_close_session (AtlasSession *session)
{
  gboolean done = FALSE;

  atlas_session_close_async (session, NULL, closed_cb, &done);
  test_run_until (&done, 30);
  g_object_unref (session);
}
