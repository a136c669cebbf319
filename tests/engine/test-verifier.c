/* test-verifier.c — checking files on disk against piece and whole-file hashes.
 *
 * meson runs this twice: as is, where files are read with pread, and with
 * ATLAS_VERIFY_MMAP=1, where they are mapped.
 */
#include "atlas-verifier.h"

#include "atlas-error.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define PIECE_LENGTH (64 * 1024)

typedef struct
{
  char *dir;
  char *path;
  GBytes *data; /* what the file should hold */
} Fixture;

/* Deterministic, incompressible-looking content, so tests are reproducible. */
static GBytes *
make_data (gsize size)
{
  guint8 *bytes = g_malloc (MAX (size, 1));
  guint32 x = 2463534242u;

  for (gsize i = 0; i < size; i++)
    {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      bytes[i] = (guint8) x;
    }
  return g_bytes_new_take (bytes, size);
}

static void
write_file (const char *path, const void *data, gsize size)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, data, size, &error);
  g_assert_no_error (error);
}

static void
fixture_set_up (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("atlas-verifier-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "file", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer user_data)
{
  g_unlink (f->path);
  g_assert_cmpint (g_rmdir (f->dir), ==, 0);
  g_clear_pointer (&f->data, g_bytes_unref);
  g_free (f->path);
  g_free (f->dir);
}

/* Writes @size bytes of test data as the file and returns them. */
static const guint8 *
fixture_write (Fixture *f, gsize size)
{
  g_clear_pointer (&f->data, g_bytes_unref);
  f->data = make_data (size);
  write_file (f->path, g_bytes_get_data (f->data, NULL), size);
  return g_bytes_get_data (f->data, NULL);
}

/* Overwrites one byte of the file on disk, leaving the expected data alone. */
static void
corrupt_byte (Fixture *f, gsize offset)
{
  gsize size = 0;
  g_autofree guint8 *copy = NULL;
  g_autoptr (GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (f->path, &contents, &size, &error);
  g_assert_no_error (error);
  copy = (guint8 *) contents;
  g_assert_cmpuint (offset, <, size);
  copy[offset] ^= 0x5a;
  write_file (f->path, copy, size);
}

static GBytes *
piece_digests (AtlasHashType type, const guint8 *data, gsize size, gsize piece_length)
{
  gsize n = (size + piece_length - 1) / piece_length;
  gsize digest_length = atlas_hash_type_digest_length (type);
  guint8 *digests = g_malloc (MAX (n * digest_length, 1));

  for (gsize i = 0; i < n; i++)
    {
      gsize start = i * piece_length;

      atlas_hash_buffer (type, data + start, MIN (piece_length, size - start),
                         digests + i * digest_length);
    }
  return g_bytes_new_take (digests, n * digest_length);
}

static AtlasChecksum
whole_checksum (AtlasHashType type, const guint8 *data, gsize size)
{
  AtlasChecksum checksum = { type, { 0 } };

  atlas_hash_buffer (type, data, size, checksum.digest);
  return checksum;
}

/* An expectation of SHA-256 pieces plus a whole-file SHA-256 of @f's data. */
static void
expectation_init (AtlasVerifyExpectation *expect, Fixture *f)
{
  gsize size = g_bytes_get_size (f->data);
  const guint8 *data = g_bytes_get_data (f->data, NULL);
  AtlasChecksum whole = whole_checksum (ATLAS_HASH_SHA256, data, size);

  expect->piece_type = ATLAS_HASH_SHA256;
  expect->piece_length = PIECE_LENGTH;
  expect->piece_digests = piece_digests (ATLAS_HASH_SHA256, data, size, PIECE_LENGTH);
  expect->checksums = g_array_new (FALSE, TRUE, sizeof (AtlasChecksum));
  g_array_append_val (expect->checksums, whole);
  expect->size = (gint64) size;
}

static void
expectation_clear (AtlasVerifyExpectation *expect)
{
  g_clear_pointer (&expect->piece_digests, g_bytes_unref);
  g_clear_pointer (&expect->checksums, g_array_unref);
}

static AtlasVerifyResult *
verify (Fixture *f, const AtlasVerifyExpectation *expect)
{
  g_autoptr (GError) error = NULL;
  AtlasVerifyResult *result = atlas_verify_file_sync (f->path, expect, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (result);
  return result;
}

static void
assert_bad_pieces (AtlasVerifyResult *result, const guint *expected, guint n)
{
  g_assert_cmpuint (result->bad_pieces->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (g_array_index (result->bad_pieces, guint, i), ==, expected[i]);
}

static void
assert_range (AtlasVerifyResult *result, guint index, guint64 offset, guint64 length)
{
  AtlasByteRange *range;

  g_assert_cmpuint (index, <, result->bad_ranges->len);
  range = &g_array_index (result->bad_ranges, AtlasByteRange, index);
  g_assert_cmpuint (range->offset, ==, offset);
  g_assert_cmpuint (range->length, ==, length);
}

static void
test_intact (Fixture *f, gconstpointer user_data)
{
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (AtlasVerifyResult) result = NULL;
  const guint8 *data = fixture_write (f, 40 * PIECE_LENGTH);
  AtlasChecksum whole = whole_checksum (ATLAS_HASH_SHA256, data, 40 * PIECE_LENGTH);

  expectation_init (&expect, f);
  result = verify (f, &expect);

  g_assert_true (result->ok);
  g_assert_true (result->size_matched);
  g_assert_cmpuint (result->size, ==, 40 * PIECE_LENGTH);
  g_assert_cmpuint (result->n_pieces, ==, 40);
  g_assert_cmpuint (result->bad_pieces->len, ==, 0);
  g_assert_cmpuint (result->bad_ranges->len, ==, 0);
  g_assert_true (result->whole_file_checked);
  g_assert_true (result->whole_file_matched);
  g_assert_cmpint (result->whole_file.type, ==, ATLAS_HASH_SHA256);
  g_assert_cmpmem (result->whole_file.digest, 32, whole.digest, 32);
  g_assert_cmpfloat (result->seconds, >=, 0);
  expectation_clear (&expect);
}

static void
test_corrupt_pieces (Fixture *f, gconstpointer user_data)
{
  static const guint bad[] = { 3, 4, 9 };
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (AtlasVerifyResult) result = NULL;

  fixture_write (f, 20 * PIECE_LENGTH);
  expectation_init (&expect, f);
  corrupt_byte (f, 3 * PIECE_LENGTH + 17);
  corrupt_byte (f, 5 * PIECE_LENGTH - 1); /* the last byte of piece 4 */
  corrupt_byte (f, 9 * PIECE_LENGTH);     /* the first byte of piece 9 */
  result = verify (f, &expect);

  g_assert_false (result->ok);
  g_assert_true (result->size_matched);
  g_assert_true (result->whole_file_checked);
  g_assert_false (result->whole_file_matched);
  assert_bad_pieces (result, bad, G_N_ELEMENTS (bad));
  g_assert_cmpuint (result->bad_ranges->len, ==, 2);
  assert_range (result, 0, 3 * PIECE_LENGTH, 2 * PIECE_LENGTH);
  assert_range (result, 1, 9 * PIECE_LENGTH, PIECE_LENGTH);
  expectation_clear (&expect);
}

static void
test_short_last_piece (Fixture *f, gconstpointer user_data)
{
  static const guint bad[] = { 7 };
  const gsize size = 7 * PIECE_LENGTH + 1000;
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (AtlasVerifyResult) intact = NULL;
  g_autoptr (AtlasVerifyResult) result = NULL;

  fixture_write (f, size);
  expectation_init (&expect, f);
  intact = verify (f, &expect);
  g_assert_true (intact->ok);
  g_assert_cmpuint (intact->n_pieces, ==, 8);

  corrupt_byte (f, size - 1);
  result = verify (f, &expect);
  g_assert_false (result->ok);
  assert_bad_pieces (result, bad, 1);
  g_assert_cmpuint (result->bad_ranges->len, ==, 1);
  assert_range (result, 0, 7 * PIECE_LENGTH, 1000);
  expectation_clear (&expect);
}

static void
test_truncated (Fixture *f, gconstpointer user_data)
{
  static const guint bad[] = { 5, 6, 7, 8, 9 };
  const gsize size = 9 * PIECE_LENGTH + 500;
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (AtlasVerifyResult) result = NULL;
  const guint8 *data = fixture_write (f, size);

  expectation_init (&expect, f);
  /* The file stops in the middle of piece 5. */
  write_file (f->path, data, 5 * PIECE_LENGTH + 10);
  result = verify (f, &expect);

  g_assert_false (result->ok);
  g_assert_false (result->size_matched);
  g_assert_cmpuint (result->size, ==, 5 * PIECE_LENGTH + 10);
  g_assert_cmpuint (result->n_pieces, ==, 10);
  g_assert_false (result->whole_file_matched);
  assert_bad_pieces (result, bad, G_N_ELEMENTS (bad));
  /* Clipped to the expected size, not to whole pieces. */
  g_assert_cmpuint (result->bad_ranges->len, ==, 1);
  assert_range (result, 0, 5 * PIECE_LENGTH, size - 5 * PIECE_LENGTH);
  expectation_clear (&expect);
}

static void
test_too_long (Fixture *f, gconstpointer user_data)
{
  const gsize size = 4 * PIECE_LENGTH;
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (AtlasVerifyResult) result = NULL;
  g_autofree guint8 *longer = g_malloc0 (size + 3);

  memcpy (longer, fixture_write (f, size), size);
  expectation_init (&expect, f);
  write_file (f->path, longer, size + 3);
  result = verify (f, &expect);

  /* Every piece is intact, but the extra bytes make it the wrong file. */
  g_assert_false (result->ok);
  g_assert_false (result->size_matched);
  g_assert_cmpuint (result->size, ==, size + 3);
  g_assert_cmpuint (result->bad_pieces->len, ==, 0);
  g_assert_false (result->whole_file_matched);
  expectation_clear (&expect);
}

static void
test_whole_file_mismatch (Fixture *f, gconstpointer user_data)
{
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (AtlasVerifyResult) result = NULL;
  AtlasChecksum *whole;

  fixture_write (f, 6 * PIECE_LENGTH);
  expectation_init (&expect, f);
  whole = &g_array_index (expect.checksums, AtlasChecksum, 0);
  whole->digest[31] ^= 1;
  result = verify (f, &expect);

  g_assert_false (result->ok);
  g_assert_true (result->size_matched);
  g_assert_cmpuint (result->bad_pieces->len, ==, 0);
  g_assert_cmpuint (result->bad_ranges->len, ==, 0);
  g_assert_true (result->whole_file_checked);
  g_assert_false (result->whole_file_matched);
  expectation_clear (&expect);
}

static void
test_whole_file_types (Fixture *f, gconstpointer user_data)
{
  static const AtlasHashType types[] = { ATLAS_HASH_MD5, ATLAS_HASH_SHA1, ATLAS_HASH_SHA512 };
  const gsize size = 300 * 1000 + 7;
  const guint8 *data = fixture_write (f, size);

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      AtlasVerifyExpectation expect = { .size = -1 };
      g_autoptr (AtlasVerifyResult) result = NULL;
      g_autoptr (AtlasVerifyResult) wrong = NULL;
      g_autoptr (GArray) checksums = g_array_new (FALSE, TRUE, sizeof (AtlasChecksum));
      AtlasChecksum good = whole_checksum (types[i], data, size);
      gsize length = atlas_hash_type_digest_length (types[i]);

      g_array_append_val (checksums, good);
      expect.checksums = checksums;
      result = verify (f, &expect);
      g_assert_true (result->ok);
      g_assert_true (result->whole_file_matched);
      g_assert_cmpint (result->whole_file.type, ==, types[i]);
      g_assert_cmpmem (result->whole_file.digest, length, good.digest, length);
      g_assert_cmpuint (result->n_pieces, ==, 0);

      g_array_index (checksums, AtlasChecksum, 0).digest[0] ^= 0x80;
      wrong = verify (f, &expect);
      g_assert_false (wrong->ok);
      g_assert_false (wrong->whole_file_matched);
    }
}

static void
test_strongest_checksum (Fixture *f, gconstpointer user_data)
{
  const gsize size = 1000;
  const guint8 *data = fixture_write (f, size);
  AtlasVerifyExpectation expect = { .size = size };
  g_autoptr (AtlasVerifyResult) result = NULL;
  g_autoptr (GArray) checksums = g_array_new (FALSE, TRUE, sizeof (AtlasChecksum));
  AtlasChecksum md5 = whole_checksum (ATLAS_HASH_MD5, data, size);
  AtlasChecksum sha256 = whole_checksum (ATLAS_HASH_SHA256, data, size);
  AtlasChecksum sha1 = whole_checksum (ATLAS_HASH_SHA1, data, size);

  /* A wrong MD5 next to a right SHA-256: the SHA-256 is the one checked. */
  md5.digest[0] ^= 1;
  g_array_append_val (checksums, md5);
  g_array_append_val (checksums, sha256);
  g_array_append_val (checksums, sha1);
  expect.checksums = checksums;
  result = verify (f, &expect);

  g_assert_true (result->ok);
  g_assert_cmpint (result->whole_file.type, ==, ATLAS_HASH_SHA256);
}

static void
test_pieces_only (Fixture *f, gconstpointer user_data)
{
  static const guint bad[] = { 3 };
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (AtlasVerifyResult) result = NULL;

  fixture_write (f, 3 * PIECE_LENGTH + 5);
  expectation_init (&expect, f);
  g_array_set_size (expect.checksums, 0);
  expect.size = -1;
  corrupt_byte (f, 3 * PIECE_LENGTH);
  result = verify (f, &expect);

  g_assert_false (result->ok);
  g_assert_true (result->size_matched);
  g_assert_false (result->whole_file_checked);
  g_assert_cmpint (result->whole_file.type, ==, ATLAS_HASH_NONE);
  g_assert_cmpuint (result->n_pieces, ==, 4);
  assert_bad_pieces (result, bad, G_N_ELEMENTS (bad));
  assert_range (result, 0, 3 * PIECE_LENGTH, 5);
  expectation_clear (&expect);
}

static void
test_empty_file (Fixture *f, gconstpointer user_data)
{
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (AtlasVerifyResult) result = NULL;
  g_autoptr (AtlasVerifyResult) nothing = NULL;
  AtlasVerifyExpectation none = { .size = -1 };
  static const guint8 empty_sha256[] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
  };

  fixture_write (f, 0);
  expectation_init (&expect, f);
  result = verify (f, &expect);

  g_assert_true (result->ok);
  g_assert_cmpuint (result->size, ==, 0);
  g_assert_cmpuint (result->n_pieces, ==, 0);
  g_assert_true (result->whole_file_matched);
  g_assert_cmpmem (result->whole_file.digest, 32, empty_sha256, 32);

  /* Nothing asked, nothing wrong. */
  nothing = verify (f, &none);
  g_assert_true (nothing->ok);
  g_assert_false (nothing->whole_file_checked);
  expectation_clear (&expect);
}

static void
test_inconsistent_expectation (Fixture *f, gconstpointer user_data)
{
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (GError) error = NULL;
  AtlasVerifyResult *result;

  fixture_write (f, 4 * PIECE_LENGTH);
  expectation_init (&expect, f);
  /* Four digests cannot describe a file of five pieces. */
  expect.size = 4 * PIECE_LENGTH + 1;
  result = atlas_verify_file_sync (f->path, &expect, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT);
  expectation_clear (&expect);
}

static void
test_huge_piece_length (Fixture *f, gconstpointer user_data)
{
  static const guint bad[] = { 0, 1, 2 };
  const guint8 *data = fixture_write (f, 1000);
  g_autofree guint8 *digests = g_malloc0 (3 * 32);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (AtlasVerifyResult) result = NULL;
  AtlasVerifyExpectation expect = {
    .piece_type = ATLAS_HASH_SHA256,
    .piece_length = G_GUINT64_CONSTANT (1) << 63,
    .size = -1,
  };

  /* A hostile Metalink: offsets of the later pieces would wrap around 2^64.
   * The file ends inside piece 0, which is not the last, so all are missing. */
  atlas_hash_buffer (ATLAS_HASH_SHA256, data, 1000, digests);
  bytes = g_bytes_new (digests, 3 * 32);
  expect.piece_digests = bytes;
  result = verify (f, &expect);

  g_assert_false (result->ok);
  g_assert_cmpuint (result->n_pieces, ==, 3);
  assert_bad_pieces (result, bad, G_N_ELEMENTS (bad));
  g_assert_cmpuint (result->bad_ranges->len, ==, 1);
  assert_range (result, 0, 0, G_MAXUINT64);
}

static void
test_cancelled (Fixture *f, gconstpointer user_data)
{
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  AtlasVerifyResult *result;

  fixture_write (f, 16 * PIECE_LENGTH);
  expectation_init (&expect, f);
  g_cancellable_cancel (cancellable);
  result = atlas_verify_file_sync (f->path, &expect, cancellable, &error);

  g_assert_null (result);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_CANCELLED);
  expectation_clear (&expect);
}

static void
test_nonexistent (Fixture *f, gconstpointer user_data)
{
  AtlasVerifyExpectation expect = { .size = -1 };
  g_autoptr (GError) error = NULL;
  AtlasVerifyResult *result;

  result = atlas_verify_file_sync (f->path, &expect, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_IO);
  g_assert_nonnull (strstr (error->message, f->path));
  g_assert_nonnull (strstr (error->message, g_strerror (ENOENT)));
}

typedef struct
{
  GMainContext *context;
  GThread *thread;
  guint64 last_done;
  guint64 total;
  guint calls;
  gboolean finished;
  gboolean progress_after_finish;
  AtlasVerifyResult *result;
  GError *error;
} AsyncState;

static void
progress_cb (guint64 done, guint64 total, gpointer user_data)
{
  AsyncState *state = user_data;

  g_assert_true (g_thread_self () == state->thread);
  g_assert_true (g_main_context_is_owner (state->context));
  g_assert_cmpuint (done, >=, state->last_done);
  g_assert_cmpuint (done, <=, total);
  if (state->finished)
    state->progress_after_finish = TRUE;
  state->last_done = done;
  state->total = total;
  state->calls++;
}

static void
verify_done_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AsyncState *state = user_data;

  g_assert_true (g_thread_self () == state->thread);
  state->result = atlas_verify_file_finish (res, &state->error);
  state->finished = TRUE;
  g_main_context_wakeup (state->context);
}

static void
test_async_progress (Fixture *f, gconstpointer user_data)
{
  /* Large enough to take a few progress ticks, small enough for a quick test. */
  const gsize size = 64 * 1024 * 1024 + 12345;
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (GMainContext) context = g_main_context_new ();
  AsyncState state = { 0 };

  fixture_write (f, size);
  expectation_init (&expect, f);

  g_main_context_push_thread_default (context);
  state.context = context;
  state.thread = g_thread_self ();
  atlas_verify_file_async (f->path, &expect, NULL, progress_cb, &state, verify_done_cb, &state);
  /* The caller's structure may go away as soon as the call returns. */
  expectation_clear (&expect);
  while (!state.finished)
    g_main_context_iteration (context, TRUE);
  /* Let any stray source fire, so a late progress call would be caught. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);

  g_assert_no_error (state.error);
  g_assert_nonnull (state.result);
  g_assert_true (state.result->ok);
  g_assert_cmpuint (state.calls, >=, 1);
  g_assert_cmpuint (state.last_done, ==, size);
  g_assert_cmpuint (state.total, ==, size);
  g_assert_false (state.progress_after_finish);
  atlas_verify_result_free (state.result);
}

static void
test_async_cancelled (Fixture *f, gconstpointer user_data)
{
  AtlasVerifyExpectation expect = { 0 };
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GMainContext) context = g_main_context_new ();
  AsyncState state = { 0 };

  fixture_write (f, 8 * PIECE_LENGTH);
  expectation_init (&expect, f);
  g_cancellable_cancel (cancellable);

  g_main_context_push_thread_default (context);
  state.context = context;
  state.thread = g_thread_self ();
  atlas_verify_file_async (f->path, &expect, cancellable, NULL, NULL, verify_done_cb, &state);
  while (!state.finished)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  g_assert_null (state.result);
  g_assert_error (state.error, ATLAS_ERROR, ATLAS_ERROR_CANCELLED);
  g_clear_error (&state.error);
  expectation_clear (&expect);
}

static void
cancel_on_progress_cb (guint64 done, guint64 total, gpointer user_data)
{
  GCancellable *cancellable = user_data;

  g_cancellable_cancel (cancellable);
}

static void
test_async_cancel_midway (Fixture *f, gconstpointer user_data)
{
  /* A sparse file: cheap to make, yet it takes a few hundred milliseconds to
   * hash, enough for the first progress tick to cancel the verify. */
  const goffset size = 768 * 1024 * 1024;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GArray) checksums = g_array_new (FALSE, TRUE, sizeof (AtlasChecksum));
  AtlasChecksum whole = { ATLAS_HASH_SHA256, { 0 } };
  AtlasVerifyExpectation expect = { .size = -1, .checksums = checksums };
  AsyncState state = { 0 };

  fixture_write (f, 0);
  g_assert_cmpint (truncate (f->path, size), ==, 0);
  g_array_append_val (checksums, whole);

  g_main_context_push_thread_default (context);
  state.context = context;
  state.thread = g_thread_self ();
  atlas_verify_file_async (f->path, &expect, cancellable, cancel_on_progress_cb, cancellable,
                           verify_done_cb, &state);
  while (!state.finished)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  /* On a machine that hashes the file before the first tick there was
   * nothing to cancel. */
  if (state.result != NULL && !g_cancellable_is_cancelled (cancellable))
    {
      atlas_verify_result_free (state.result);
      g_test_skip ("The verify finished before the first progress tick");
      return;
    }
  g_assert_null (state.result);
  g_assert_error (state.error, ATLAS_ERROR, ATLAS_ERROR_CANCELLED);
  g_clear_error (&state.error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func)                                                                            \
  g_test_add ("/verifier/" name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("intact", test_intact);
  ADD ("corrupt-pieces", test_corrupt_pieces);
  ADD ("short-last-piece", test_short_last_piece);
  ADD ("truncated", test_truncated);
  ADD ("too-long", test_too_long);
  ADD ("whole-file-mismatch", test_whole_file_mismatch);
  ADD ("whole-file-types", test_whole_file_types);
  ADD ("strongest-checksum", test_strongest_checksum);
  ADD ("pieces-only", test_pieces_only);
  ADD ("empty-file", test_empty_file);
  ADD ("inconsistent-expectation", test_inconsistent_expectation);
  ADD ("huge-piece-length", test_huge_piece_length);
  ADD ("cancelled", test_cancelled);
  ADD ("nonexistent", test_nonexistent);
  ADD ("async-progress", test_async_progress);
  ADD ("async-cancelled", test_async_cancelled);
  ADD ("async-cancel-midway", test_async_cancel_midway);
#undef ADD

  return g_test_run ();
}
