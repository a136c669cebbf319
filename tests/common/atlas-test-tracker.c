/* atlas-test-tracker.c — see the header. */
#include "atlas-test-tracker.h"

#include "atlas-metalink.h"
#include "atlas-tracker-client.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* The token is the one long base64url word `token add` prints. */
static char *
find_token (const char *output)
{
  g_auto (GStrv) words = g_strsplit_set (output, " \t\r\n:", -1);

  for (guint i = 0; words[i] != NULL; i++)
    {
      gboolean token_like = strlen (words[i]) >= 40;

      for (const char *p = words[i]; token_like && *p != '\0'; p++)
        token_like = g_ascii_isalnum (*p) || *p == '-' || *p == '_';
      if (token_like)
        return g_strdup (words[i]);
    }
  return NULL;
}

char *
test_tracker_add_token (const char *exe, const char *database, const char *role, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  char *token;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              &error, exe, "token", "add", "--database", database, "--role", role,
                              "--name", name, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (process))
    g_error ("token add failed: %s", err);
  token = find_token (out);
  if (token == NULL)
    g_error ("no token in the output of token add: %s", out);
  return token;
}

TestTracker *
test_tracker_start (const char *exe)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GDataInputStream) lines = NULL;
  TestTracker *tracker = g_new0 (TestTracker, 1);

  g_assert_nonnull (exe);
  tracker->dir = g_dir_make_tmp ("atlas-tracker-XXXXXX", &error);
  g_assert_no_error (error);
  tracker->database = g_build_filename (tracker->dir, "tracker.db", NULL);

  tracker->token = test_tracker_add_token (exe, tracker->database, "uploader", "tests");

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  tracker->process =
      g_subprocess_launcher_spawn (launcher, &error, exe, "serve", "--database", tracker->database,
                                   "--listen", "127.0.0.1:0", NULL);
  g_assert_no_error (error);

  /* "listening on http://127.0.0.1:PORT"; the tracker prints it once bound.
   * Reading blocks, but only until that line or the tracker's exit (EOF). */
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (tracker->process));
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, NULL);
      const char *found;

      if (line == NULL)
        g_error ("atlas-tracker exited before saying which port it listens on");
      found = strstr (line, "://127.0.0.1:");
      if (strstr (line, "listening on ") != NULL && found != NULL)
        {
          tracker->port = (guint) g_ascii_strtoull (found + strlen ("://127.0.0.1:"), NULL, 10);
          break;
        }
    }
  g_assert_cmpuint (tracker->port, >, 0);
  /* Keep draining what it prints, so it never blocks on a full pipe. */
  {
    g_autoptr (GOutputStream) sink = g_memory_output_stream_new_resizable ();
    g_output_stream_splice_async (sink, G_INPUT_STREAM (lines), G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE,
                                  G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  }
  tracker->url = g_strdup_printf ("http://127.0.0.1:%u", tracker->port);
  return tracker;
}

void
test_tracker_stop (TestTracker *tracker)
{
  if (tracker == NULL)
    return;
  if (tracker->process != NULL)
    {
      g_subprocess_send_signal (tracker->process, SIGTERM);
      g_subprocess_wait (tracker->process, NULL, NULL);
      g_object_unref (tracker->process);
    }
  g_unlink (tracker->database);
  {
    g_autofree char *wal = g_strconcat (tracker->database, "-wal", NULL);
    g_autofree char *shm = g_strconcat (tracker->database, "-shm", NULL);
    g_unlink (wal);
    g_unlink (shm);
  }
  g_rmdir (tracker->dir);
  g_free (tracker->dir);
  g_free (tracker->database);
  g_free (tracker->url);
  g_free (tracker->token);
  g_free (tracker);
}

GBytes *
test_make_metalink (const char *name, guint64 size, guint piece_length, const AtlasChecksum *sum,
                    GBytes *pieces, const char *url)
{
  g_autoptr (AtlasMetalink) metalink = atlas_metalink_new ();
  AtlasMetalinkFile *file = atlas_metalink_file_new ();
  AtlasMetalinkUrl *mirror = g_new0 (AtlasMetalinkUrl, 1);
  char *xml;

  file->name = g_strdup (name);
  file->size = (gint64) size;
  g_array_append_val (file->hashes, *sum);
  file->piece_type = ATLAS_HASH_SHA256;
  file->piece_length = piece_length;
  file->n_pieces = (guint) (g_bytes_get_size (pieces) / 32);
  file->piece_digests = g_bytes_ref (pieces);
  mirror->url = g_strdup (url);
  mirror->priority = 1;
  g_ptr_array_add (file->urls, mirror);
  g_ptr_array_add (metalink->files, file);
  xml = atlas_metalink_to_xml (metalink);
  return g_bytes_new_take (xml, strlen (xml));
}

static void
publish_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

void
test_tracker_publish (TestTracker *tracker, const char *name, GBytes *metalink)
{
  g_autoptr (AtlasTrackerClient) client =
      atlas_tracker_client_new (tracker->url, tracker->token, NULL);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  atlas_tracker_client_publish_async (client, name, "1", "a test file", metalink, FALSE, NULL, NULL,
                                      publish_done_cb, &result);
  while (result == NULL && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  g_assert_nonnull (result);
  g_assert_cmpint (atlas_tracker_client_publish_finish (client, result, NULL, &error), >, 0);
  g_assert_no_error (error);
}
