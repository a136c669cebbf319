/* fuzz-replay-main.c — runs a libFuzzer target over saved inputs without libFuzzer.
 *
 * Built without clang's -fsanitize=fuzzer, each fuzz target links this main
 * instead, so its corpus and every crasher ever found replay as an ordinary
 * regression test under `meson test --suite fuzz`.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static gboolean
replay_file (const char *path, guint *count)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autofree guint8 *exact = NULL;

  if (!g_file_get_contents (path, &contents, &length, &error))
    {
      g_printerr ("%s\n", error->message);
      return FALSE;
    }
  /* A copy of exactly @length bytes, so AddressSanitizer (when enabled) sees a
   * read past the input instead of the terminating NUL g_file_get_contents adds. */
  exact = g_memdup2 (contents, length);
  LLVMFuzzerTestOneInput (exact, length);
  (*count)++;
  return TRUE;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char **) a, *(const char **) b);
}

static gboolean
replay_path (const char *path, guint *count)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    return replay_file (path, count);

  dir = g_dir_open (path, 0, &error);
  if (dir == NULL)
    {
      g_printerr ("%s\n", error->message);
      return FALSE;
    }
  /* Sorted, so a failure points at the same input on every machine. */
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *child = g_build_filename (path, g_ptr_array_index (names, i), NULL);

      if (!replay_path (child, count))
        return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  guint count = 0;

  if (argc < 2)
    {
      g_printerr ("usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    if (!replay_path (argv[i], &count))
      return 1;
  if (count == 0)
    {
      g_printerr ("no inputs found in the given paths\n");
      return 1;
    }
  printf ("replayed %u inputs without a crash\n", count);
  return 0;
}
