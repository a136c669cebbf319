/* test-piece-writer.c — the writer's back-pressure: a caller told "full"
 * pauses its transfers and waits for "drained", so it must always get it. */
#include "atlas-piece-writer.h"
#include "atlas-test-util.h"

#include <glib/gstdio.h>

#define MIB (1024 * 1024)
#define FILE_MIB 64

static gboolean drained;
static guint hook_calls;

static void
on_checked (const AtlasPieceResult *results, guint n_results, gpointer user_data)
{
}

static void
on_durable (const guint *pieces, guint n_pieces, gpointer user_data)
{
}

static void
on_drained (gpointer user_data)
{
  drained = TRUE;
}

static void
on_failed (const GError *error, gpointer user_data)
{
  g_error ("the writer failed: %s", error->message);
}

static const AtlasPieceWriterCallbacks callbacks = {
  .pieces_checked = on_checked,
  .pieces_durable = on_durable,
  .drained = on_drained,
  .failed = on_failed,
};

/* The caller's thread preempted between the writer's two looks at its
 * queue, long enough for the lanes to write everything. */
static void
wait_until_written (AtlasPieceWriter *writer)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC * test_time_scale ();

  hook_calls++;
  while (atlas_piece_writer_get_queued (writer) > 0 && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpuint (atlas_piece_writer_get_queued (writer), ==, 0);
}

/* Full, then the queue empties before the flag is up: the caller must either
 * hear "not full" or get "drained"; before the fix it heard "full" and then
 * nothing, and a download paused that way never moved again. */
static void
test_full_always_drains (void)
{
  g_autofree char *dir = g_dir_make_tmp ("atlas-writer-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "file.bin", NULL);
  guint rounds = 0;

  g_assert_nonnull (dir);
  _atlas_piece_writer_set_full_check_hook (wait_until_written);
  /* The lanes may write a whole batch before the first look; try again then. */
  for (; rounds < 20 && hook_calls == 0; rounds++)
    {
      AtlasPieceWriter *writer =
          atlas_piece_writer_new (path, (guint64) FILE_MIB * MIB, MIB, ATLAS_HASH_NONE, NULL, FALSE,
                                  g_main_context_default (), &callbacks, NULL);
      gint64 deadline;

      drained = FALSE;
      for (guint i = 0; i < FILE_MIB; i++)
        atlas_piece_writer_write (writer, 1, (guint64) i * MIB, g_malloc0 (MIB), MIB);
      if (atlas_piece_writer_is_full (writer))
        {
          deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC * test_time_scale ();
          while (!drained && g_get_monotonic_time () < deadline)
            if (!g_main_context_iteration (NULL, FALSE))
              g_usleep (1000);
          g_assert_true (drained);
        }
      atlas_piece_writer_close (writer);
      g_unlink (path);
    }
  _atlas_piece_writer_set_full_check_hook (NULL);
  g_test_message ("%u round(s) until the queue was full at the first look", rounds);
  g_assert_cmpuint (hook_calls, ==, 1);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/piece-writer/full-always-drains", test_full_always_drains);
  return g_test_run ();
}
