/* bench-verify.c — times atlas_verify_file_sync on a prepared file.
 *
 * Usage: bench-verify FILE PIECE-DIGESTS PIECE-LENGTH SHA256-HEX [RUNS]
 * PIECE-DIGESTS holds the raw SHA-256 digests of the pieces back to back.
 * Prints one line per run and the median throughput; exits 1 if the file does
 * not verify, so a fast but wrong verifier cannot post a number.
 */
#include "atlas-verifier.h"

#include <stdlib.h>
#include <sys/resource.h>

static double
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec
         + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) checksums = g_array_new (FALSE, TRUE, sizeof (AtlasChecksum));
  g_autoptr (GBytes) digests = NULL;
  g_autofree double *seconds = NULL;
  AtlasVerifyExpectation expect = { 0 };
  AtlasChecksum whole = { ATLAS_HASH_SHA256, { 0 } };
  char *contents = NULL;
  gsize length = 0;
  guint64 size = 0;
  int runs;

  if (argc < 5)
    {
      g_printerr ("Usage: %s FILE PIECE-DIGESTS PIECE-LENGTH SHA256-HEX [RUNS]\n", argv[0]);
      return 2;
    }
  runs = argc > 5 ? atoi (argv[5]) : 5;
  if (runs < 1)
    runs = 1;

  if (!g_file_get_contents (argv[2], &contents, &length, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  digests = g_bytes_new_take (contents, length);
  if (!atlas_hex_decode (argv[4], whole.digest, 32))
    {
      g_printerr ("Not a SHA-256 digest: %s\n", argv[4]);
      return 2;
    }
  g_array_append_val (checksums, whole);

  expect.piece_type = length > 0 ? ATLAS_HASH_SHA256 : ATLAS_HASH_NONE;
  expect.piece_length = g_ascii_strtoull (argv[3], NULL, 10);
  expect.piece_digests = digests;
  expect.checksums = checksums;
  expect.size = -1;

  seconds = g_new0 (double, runs);
  for (int i = 0; i < runs; i++)
    {
      g_autoptr (AtlasVerifyResult) result = NULL;
      gint64 start = g_get_monotonic_time ();
      double cpu_start = cpu_seconds ();

      result = atlas_verify_file_sync (argv[1], &expect, NULL, &error);
      if (result == NULL)
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
      seconds[i] = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
      size = result->size;
      if (!result->ok)
        {
          g_printerr ("The file did not verify: %u bad pieces, whole file %s\n",
                      result->bad_pieces->len, result->whole_file_matched ? "ok" : "bad");
          return 1;
        }
      g_print ("run %d: %.3f s, %.2f GB/s, %.3f s of CPU\n", i + 1, seconds[i],
               size / seconds[i] / 1e9, cpu_seconds () - cpu_start);
    }

  qsort (seconds, runs, sizeof (double), compare_doubles);
  g_print ("median: %.3f s, %.2f GB/s\n", seconds[runs / 2], size / seconds[runs / 2] / 1e9);
  return 0;
}
