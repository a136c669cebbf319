/* test-store.c — the durable queue as its users see it: what goes in comes
 * back, in order, after a restart and after a kill -9.
 *
 * Copyright 2026 The Download Atlas authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <glib/gstdio.h>

#include "atlas-error.h"
#include "atlas-store.h"

/* ATLAS_TEST_TIME_SCALE (1-100), as tests/common/atlas-test-util.h reads it:
 * this test does not link that helper. */
static double
time_scale (void)
{
  guint64 scale = g_ascii_strtoull (g_getenv ("ATLAS_TEST_TIME_SCALE") ?: "1", NULL, 10);

  return CLAMP (scale, 1, 100);
}

#define CRASH_ROWS 50
#define CRASH_FLUSHED_GENERATION 100

/* Warnings from the store are expected in some tests; the default writer
 * would make them fatal under g_test. They are collected here instead. */
static GMutex warnings_lock;
static GPtrArray *store_warnings;
static gboolean expect_store_warnings;

static GLogWriterOutput
log_writer_cb (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields,
               gpointer user_data)
{
  const char *domain = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }

  if ((log_level & G_LOG_LEVEL_WARNING) && g_strcmp0 (domain, "atlas-store") == 0)
    {
      gboolean handled;

      g_mutex_lock (&warnings_lock);
      handled = expect_store_warnings;
      if (handled)
        g_ptr_array_add (store_warnings, g_strdup (message));
      g_mutex_unlock (&warnings_lock);

      if (handled)
        return G_LOG_WRITER_HANDLED;
    }

  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

/* Helpers */

typedef struct
{
  char *dir;
  char *path;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("atlas-store-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->path = g_build_filename (fixture->dir, "queue.db", NULL);
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->path);
}

static void
store_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);

  return *slot;
}

static gint64
insert (AtlasStore *store, const AtlasStoreRecord *record)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  gint64 id;

  atlas_store_insert_async (store, record, NULL, store_result_cb, &result);
  id = atlas_store_insert_finish (store, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);

  return id;
}

static gint64
insert_named (AtlasStore *store, const char *name)
{
  g_autoptr (AtlasStoreRecord) record = atlas_store_record_new ();

  record->name = g_strdup (name);
  return insert (store, record);
}

static GPtrArray *
load (AtlasStore *store)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *records;

  atlas_store_load_async (store, NULL, store_result_cb, &result);
  records = atlas_store_load_finish (store, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_nonnull (records);

  return records;
}

static AtlasStoreRecord *
find (GPtrArray *records, gint64 id)
{
  for (guint i = 0; i < records->len; i++)
    {
      AtlasStoreRecord *record = g_ptr_array_index (records, i);

      if (record->id == id)
        return record;
    }

  return NULL;
}

static AtlasStore *
open_store (const char *path)
{
  g_autoptr (GError) error = NULL;
  AtlasStore *store = atlas_store_open_sync (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);

  return store;
}

static void
assert_bytes_equal (GBytes *a, GBytes *b)
{
  if (a == NULL || b == NULL)
    {
      g_assert_true (a == b);
      return;
    }
  g_assert_true (g_bytes_equal (a, b));
}

static GBytes *
bytes_filled (guint8 value, gsize size)
{
  guint8 *data = g_malloc (size);

  memset (data, value, size);
  return g_bytes_new_take (data, size);
}

static char *
raw_query_text (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *text = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    text = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);

  return text;
}

static void
raw_exec (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  char *message = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
  sqlite3_close (db);
}

/* Tests */

static void
test_round_trip (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasStore) store = open_store (fixture->path);
  g_autoptr (AtlasStoreRecord) full = atlas_store_record_new ();
  g_autoptr (AtlasStoreRecord) sparse = atlas_store_record_new ();
  g_autoptr (GPtrArray) records = NULL;
  static const guint8 request[] = { 'r', 0, 'e', 0xff, 'q', 0 };
  static const guint8 verified[] = { 0xff, 0x00, 0x81 };
  AtlasStoreRecord *got;
  gint64 full_id, sparse_id;

  full->state = 3;
  full->name = g_strdup ("debian-12.iso");
  full->directory = g_strdup ("/home/ann/Downloads");
  full->filename = g_strdup ("debian-12 (1).iso");
  full->size = G_GINT64_CONSTANT (4000000000);
  full->piece_length = G_GUINT64_CONSTANT (1) << 22;
  full->request = g_bytes_new_static (request, sizeof request);
  full->verified = g_bytes_new_static (verified, sizeof verified);
  full->piece_digests = bytes_filled (0xab, 32 * 3);
  full->validators = g_bytes_new_static ("\"etag\"", 6);
  full->error_message = g_strdup ("mirror went away: HTTP 503");
  full->created = 1700000000;
  full->finished = 1700000999;

  /* Unknown size, no layout, no blobs, and an empty (not missing) bitmap. */
  sparse->name = g_strdup ("unknown.bin");
  sparse->verified = g_bytes_new (NULL, 0);

  full_id = insert (store, full);
  sparse_id = insert (store, sparse);
  g_assert_cmpint (full_id, !=, sparse_id);

  records = load (store);
  g_assert_cmpuint (records->len, ==, 2);

  got = find (records, full_id);
  g_assert_nonnull (got);
  g_assert_cmpint (got->state, ==, 3);
  g_assert_cmpstr (got->name, ==, full->name);
  g_assert_cmpstr (got->directory, ==, full->directory);
  g_assert_cmpstr (got->filename, ==, full->filename);
  g_assert_cmpint (got->size, ==, full->size);
  g_assert_cmpuint (got->piece_length, ==, full->piece_length);
  assert_bytes_equal (got->request, full->request);
  assert_bytes_equal (got->verified, full->verified);
  assert_bytes_equal (got->piece_digests, full->piece_digests);
  assert_bytes_equal (got->validators, full->validators);
  g_assert_cmpstr (got->error_message, ==, full->error_message);
  g_assert_cmpint (got->created, ==, full->created);
  g_assert_cmpint (got->finished, ==, full->finished);

  got = find (records, sparse_id);
  g_assert_nonnull (got);
  g_assert_cmpstr (got->name, ==, "unknown.bin");
  g_assert_null (got->directory);
  g_assert_cmpint (got->size, ==, -1);
  g_assert_cmpuint (got->piece_length, ==, 0);
  g_assert_null (got->request);
  g_assert_nonnull (got->verified);
  g_assert_cmpuint (g_bytes_get_size (got->verified), ==, 0);
  g_assert_null (got->piece_digests);
  g_assert_null (got->error_message);
  /* The store stamps records that come without a creation time. */
  g_assert_cmpint (got->created, >, 1700000000);
  g_assert_cmpint (got->finished, ==, 0);
  g_assert_cmpint (got->position, >, find (records, full_id)->position);

  /* Copies are deep: the copy outlives the original's blobs. */
  {
    g_autoptr (AtlasStoreRecord) copy = atlas_store_record_copy (full);

    g_clear_pointer (&full->request, g_bytes_unref);
    g_assert_cmpuint (g_bytes_get_size (copy->request), ==, sizeof request);
    g_assert_cmpstr (copy->name, ==, "debian-12.iso");
  }
}

static void
test_updates (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasStore) store = open_store (fixture->path);
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GBytes) validators = g_bytes_new_static ("W/\"x\"", 5);
  g_autoptr (GBytes) request = g_bytes_new_static ("req2", 4);
  g_autoptr (GBytes) bits = bytes_filled (0x0f, 4);
  g_autoptr (GBytes) digests = bytes_filled (0x11, 64);
  AtlasStoreRecord *got;
  gint64 id = insert_named (store, "a");

  atlas_store_update_layout (store, id, 1 << 20, 1 << 16);
  atlas_store_update_pieces (store, id, bits, digests);
  atlas_store_update_validators (store, id, validators);
  atlas_store_update_request (store, id, request);
  atlas_store_update_state (store, id, 5, "hash mismatch");

  records = load (store);
  got = find (records, id);
  g_assert_cmpint (got->size, ==, 1 << 20);
  g_assert_cmpuint (got->piece_length, ==, 1 << 16);
  assert_bytes_equal (got->verified, bits);
  assert_bytes_equal (got->piece_digests, digests);
  assert_bytes_equal (got->validators, validators);
  assert_bytes_equal (got->request, request);
  g_assert_cmpint (got->state, ==, 5);
  g_assert_cmpstr (got->error_message, ==, "hash mismatch");
  g_assert_cmpint (got->finished, ==, 0);
  g_clear_pointer (&records, g_ptr_array_unref);

  /* Reaching "complete" (4) stamps the finish time; leaving it clears it. */
  atlas_store_update_state (store, id, 4, NULL);
  records = load (store);
  got = find (records, id);
  g_assert_cmpint (got->state, ==, 4);
  g_assert_null (got->error_message);
  g_assert_cmpint (got->finished, >, 0);
  g_clear_pointer (&records, g_ptr_array_unref);

  atlas_store_update_state (store, id, 0, NULL);
  records = load (store);
  g_assert_cmpint (find (records, id)->finished, ==, 0);
}

static void
test_order (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasStore) store = open_store (fixture->path);
  g_autoptr (GPtrArray) records = NULL;
  gint64 a = insert_named (store, "a");
  gint64 b = insert_named (store, "b");
  gint64 c = insert_named (store, "c");
  AtlasStoreRecord *first;

  records = load (store);
  g_assert_cmpuint (records->len, ==, 3);
  g_assert_cmpstr (((AtlasStoreRecord *) records->pdata[0])->name, ==, "a");
  g_assert_cmpstr (((AtlasStoreRecord *) records->pdata[1])->name, ==, "b");
  g_assert_cmpstr (((AtlasStoreRecord *) records->pdata[2])->name, ==, "c");
  first = records->pdata[0];

  /* Moving "c" in front of "a". */
  atlas_store_set_position (store, c, first->position - 1);
  g_clear_pointer (&records, g_ptr_array_unref);
  records = load (store);
  g_assert_cmpint (((AtlasStoreRecord *) records->pdata[0])->id, ==, c);
  g_assert_cmpint (((AtlasStoreRecord *) records->pdata[1])->id, ==, a);
  g_assert_cmpint (((AtlasStoreRecord *) records->pdata[2])->id, ==, b);

  atlas_store_delete (store, a);
  g_clear_pointer (&records, g_ptr_array_unref);
  records = load (store);
  g_assert_cmpuint (records->len, ==, 2);
  g_assert_null (find (records, a));
  g_assert_cmpint (((AtlasStoreRecord *) records->pdata[0])->id, ==, c);

  /* A new download goes last, and never reuses a deleted id. */
  {
    gint64 d = insert_named (store, "d");

    g_assert_cmpint (d, >, c);
    g_clear_pointer (&records, g_ptr_array_unref);
    records = load (store);
    g_assert_cmpint (((AtlasStoreRecord *) records->pdata[2])->id, ==, d);
  }
}

static void
test_settings (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasStore) store = open_store (fixture->path);
  g_autoptr (GError) error = NULL;
  char *value;

  value = atlas_store_get_setting_sync (store, "max-active", &error);
  g_assert_no_error (error);
  g_assert_null (value);

  /* No flush needed: a read waits for the writes queued before it. */
  atlas_store_set_setting (store, "max-active", "3");
  value = atlas_store_get_setting_sync (store, "max-active", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "3");
  g_free (value);

  atlas_store_set_setting (store, "max-active", "5");
  atlas_store_set_setting (store, "folder", "/tmp/d");
  value = atlas_store_get_setting_sync (store, "max-active", &error);
  g_assert_cmpstr (value, ==, "5");
  g_free (value);

  atlas_store_set_setting (store, "max-active", NULL);
  value = atlas_store_get_setting_sync (store, "max-active", &error);
  g_assert_no_error (error);
  g_assert_null (value);

  value = atlas_store_get_setting_sync (store, "folder", &error);
  g_assert_cmpstr (value, ==, "/tmp/d");
  g_free (value);
}

static void
test_flush_ordering (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasStore) store = open_store (fixture->path);
  g_autoptr (GAsyncResult) flushed = NULL;
  g_autoptr (GAsyncResult) loaded = NULL;
  g_autoptr (GPtrArray) before = NULL;
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) early = bytes_filled (1, 8);
  g_autofree char *raw = NULL;
  gint64 id = insert_named (store, "x");
  gint64 doomed = insert_named (store, "doomed");

  /* A load queued between two bitmaps sees the first one, never the later. */
  atlas_store_update_pieces (store, id, early, NULL);
  atlas_store_load_async (store, NULL, store_result_cb, &loaded);
  for (guint i = 2; i <= 500; i++)
    {
      g_autoptr (GBytes) bits = bytes_filled (i % 256, 8);

      atlas_store_update_pieces (store, id, bits, NULL);
      atlas_store_update_pieces (store, doomed, bits, NULL);
    }
  atlas_store_update_state (store, id, 1, NULL);
  atlas_store_delete (store, doomed);
  {
    /* Queued after the delete, so it must not bring the row back. */
    g_autoptr (GBytes) bits = bytes_filled (7, 8);

    atlas_store_update_pieces (store, doomed, bits, NULL);
  }
  atlas_store_set_setting (store, "last", "500");

  atlas_store_flush_async (store, NULL, store_result_cb, &flushed);
  g_assert_true (atlas_store_flush_finish (store, wait_result (&flushed), &error));
  g_assert_no_error (error);

  before = atlas_store_load_finish (store, wait_result (&loaded), &error);
  g_assert_no_error (error);
  assert_bytes_equal (find (before, id)->verified, early);
  g_assert_nonnull (find (before, doomed));

  /* After the flush, a separate connection sees the committed data. */
  raw = raw_query_text (fixture->path, "SELECT value FROM settings WHERE key = 'last'");
  g_assert_cmpstr (raw, ==, "500");

  records = load (store);
  g_assert_cmpuint (records->len, ==, 1);
  g_assert_cmpint (find (records, id)->state, ==, 1);
  g_assert_cmpuint (g_bytes_get_size (find (records, id)->verified), ==, 8);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (find (records, id)->verified, NULL))[0], ==,
                    500 % 256);

  g_assert_true (atlas_store_flush_sync (store, &error));
  g_assert_no_error (error);
}

static void
test_persistence (Fixture *fixture, gconstpointer data)
{
  g_autofree char *nested_dir = g_build_filename (fixture->dir, "a", "b", NULL);
  g_autofree char *path = g_build_filename (nested_dir, "queue.db", NULL);
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GBytes) bits = bytes_filled (0x5a, 100);
  g_autoptr (GError) error = NULL;
  g_autofree char *setting = NULL;
  g_autofree char *journal_mode = NULL;
  AtlasStore *store;
  GStatBuf st;
  gint64 id;

  /* The folder is created, private to the user. */
  store = open_store (path);
  g_assert_cmpint (g_stat (nested_dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  id = insert_named (store, "kept");
  insert_named (store, "dropped");
  atlas_store_update_pieces (store, id, bits, NULL);
  atlas_store_set_setting (store, "theme", "dark");
  atlas_store_delete (store, id + 1);
  /* No flush: dropping the last reference drains the queue first. */
  g_object_unref (store);

  journal_mode = raw_query_text (path, "PRAGMA journal_mode");
  g_assert_cmpstr (journal_mode, ==, "wal");

  store = open_store (path);
  records = load (store);
  g_assert_cmpuint (records->len, ==, 1);
  g_assert_cmpstr (find (records, id)->name, ==, "kept");
  assert_bytes_equal (find (records, id)->verified, bits);
  setting = atlas_store_get_setting_sync (store, "theme", &error);
  g_assert_cmpstr (setting, ==, "dark");
  g_object_unref (store);
}

static void
open_async_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (source);
  *out = g_object_ref (result);
}

static void
test_open_async (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasStore) store = NULL;
  g_autoptr (GPtrArray) records = NULL;

  atlas_store_open_async (":memory:", NULL, open_async_cb, &result);
  store = atlas_store_open_finish (wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_true (ATLAS_IS_STORE (store));

  insert_named (store, "in memory");
  records = load (store);
  g_assert_cmpuint (records->len, ==, 1);
}

static void
test_newer_schema (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *version = NULL;
  AtlasStore *store;

  raw_exec (fixture->path, "CREATE TABLE future (x); PRAGMA user_version = 99;");

  store = atlas_store_open_sync (fixture->path, &error);
  g_assert_null (store);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "newer Download Atlas"));
  g_assert_nonnull (strstr (error->message, fixture->path));
  g_clear_error (&error);

  /* The same through the async path. */
  atlas_store_open_async (fixture->path, NULL, open_async_cb, &result);
  store = atlas_store_open_finish (wait_result (&result), &error);
  g_assert_null (store);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE);

  /* Refusing must not touch the newer database. */
  version = raw_query_text (fixture->path, "PRAGMA user_version");
  g_assert_cmpstr (version, ==, "99");
}

static void
test_garbage_file (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *after = NULL;
  AtlasStore *store;

  contents = g_strnfill (8192, 'z');
  g_assert_true (g_file_set_contents (fixture->path, contents, -1, NULL));

  store = atlas_store_open_sync (fixture->path, &error);
  g_assert_null (store);
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, fixture->path));
  g_assert_nonnull (strstr (error->message, "file is not a database"));

  /* The user's file is left as it was. */
  g_assert_true (g_file_get_contents (fixture->path, &after, NULL, NULL));
  g_assert_cmpstr (after, ==, contents);
}

static void
error_signal_cb (AtlasStore *store, const GError *error, gpointer user_data)
{
  GPtrArray *errors = user_data;

  /* Delivered on the thread (and context) that opened the store. */
  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  g_ptr_array_add (errors, g_error_copy (error));
}

static void
test_error_signal (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasStore) store = open_store (fixture->path);
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *setting = NULL;
  gint64 id = insert_named (store, "victim");
  const GError *reported;

  g_signal_connect (store, "error", G_CALLBACK (error_signal_cb), errors);
  g_assert_true (atlas_store_flush_sync (store, NULL));

  /* Another process (here: a trigger it installed) makes writes to the row
   * fail the way a real SQLite failure would. */
  raw_exec (fixture->path, "CREATE TRIGGER no_updates BEFORE UPDATE OF state ON downloads "
                           "BEGIN SELECT RAISE (ABORT, 'the disk says no'); END;");

  g_mutex_lock (&warnings_lock);
  expect_store_warnings = TRUE;
  g_mutex_unlock (&warnings_lock);

  /* The failing write and the next ones share a batch; the next ones land. */
  atlas_store_update_state (store, id, 2, NULL);
  atlas_store_set_setting (store, "after-failure", "yes");
  atlas_store_update_layout (store, id, 1234, 0);
  g_assert_true (atlas_store_flush_sync (store, NULL));

  while (errors->len == 0)
    g_main_context_iteration (NULL, TRUE);

  g_mutex_lock (&warnings_lock);
  expect_store_warnings = FALSE;
  g_assert_cmpuint (store_warnings->len, ==, 1);
  g_assert_nonnull (strstr (store_warnings->pdata[0], "the disk says no"));
  g_assert_nonnull (strstr (store_warnings->pdata[0], "SQLite error"));
  g_ptr_array_set_size (store_warnings, 0);
  g_mutex_unlock (&warnings_lock);

  g_assert_cmpuint (errors->len, ==, 1);
  reported = errors->pdata[0];
  g_test_message ("%s", reported->message);
  g_assert_error (reported, ATLAS_ERROR, ATLAS_ERROR_STORE);
  g_assert_nonnull (strstr (reported->message, "the disk says no"));
  g_assert_nonnull (strstr (reported->message, "SQLite error"));

  setting = atlas_store_get_setting_sync (store, "after-failure", &error);
  g_assert_cmpstr (setting, ==, "yes");
  records = load (store);
  g_assert_cmpint (find (records, id)->state, ==, 0);
  g_assert_cmpint (find (records, id)->size, ==, 1234);
}

/* The child of test_crash: writes, flushes, keeps writing, dies by SIGKILL. */
static void
crash_child (void)
{
  const char *path = g_getenv ("ATLAS_STORE_CRASH_DB");
  g_autoptr (AtlasStore) store = NULL;
  gint64 ids[CRASH_ROWS];
  guint generation;

  if (!g_test_subprocess ())
    {
      g_test_skip ("only runs as the child of /store/crash");
      return;
    }

  g_assert_nonnull (path);
  store = open_store (path);

  for (guint i = 0; i < CRASH_ROWS; i++)
    ids[i] = insert_named (store, "crash");

  for (generation = 1;; generation++)
    {
      g_autoptr (GBytes) bits = bytes_filled (generation % 256, 64);
      g_autofree char *text = g_strdup_printf ("%u", generation);

      for (guint i = 0; i < CRASH_ROWS; i++)
        {
          atlas_store_update_pieces (store, ids[i], bits, NULL);
          atlas_store_update_state (store, ids[i], generation, NULL);
        }
      atlas_store_set_setting (store, "generation", text);

      if (generation == CRASH_FLUSHED_GENERATION)
        {
          atlas_store_set_setting (store, "flushed", text);
          g_assert_true (atlas_store_flush_sync (store, NULL));
        }

      /* Die with a deep queue, while the worker is busy committing. */
      if (generation == 2 * CRASH_FLUSHED_GENERATION)
        {
          g_usleep (g_random_int_range (0, 8000));
          raise (SIGKILL);
        }
    }
}

static void
test_crash (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasStore) store = NULL;
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *integrity = NULL;
  g_autofree char *flushed = NULL;
  g_autofree char *generation = NULL;
  guint min_generation = G_MAXUINT;

  const char *path = g_getenv ("ATLAS_STORE_CRASH_DB");

  g_test_trap_subprocess ("/store/crash/subprocess", 30 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_DEFAULT);
  /* The child never finishes on its own: it kills itself. */
  g_assert_false (g_test_trap_has_passed ());

  integrity = raw_query_text (path, "PRAGMA integrity_check");
  g_assert_cmpstr (integrity, ==, "ok");

  store = open_store (path);
  flushed = atlas_store_get_setting_sync (store, "flushed", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (flushed, ==, G_STRINGIFY (CRASH_FLUSHED_GENERATION));
  generation = atlas_store_get_setting_sync (store, "generation", &error);
  g_assert_cmpuint (g_ascii_strtoull (generation, NULL, 10), >=, CRASH_FLUSHED_GENERATION);

  records = load (store);
  g_assert_cmpuint (records->len, ==, CRASH_ROWS);
  for (guint i = 0; i < records->len; i++)
    {
      AtlasStoreRecord *record = records->pdata[i];
      const guint8 *bits;
      gsize size;

      g_assert_nonnull (record->verified);
      bits = g_bytes_get_data (record->verified, &size);
      g_assert_cmpuint (size, ==, 64);
      /* Never a torn bitmap: every byte comes from the same write. */
      for (gsize j = 1; j < size; j++)
        g_assert_cmpuint (bits[j], ==, bits[0]);
      /* Everything up to the flush survived. */
      g_assert_cmpint (record->state, >=, CRASH_FLUSHED_GENERATION);
      /* The bitmap and the state were written in the same generation, or the
       * kill fell between two batches one generation apart. */
      g_assert_cmpint (ABS ((int) (record->state % 256) - (int) bits[0]) % 255, <=, 1);
      min_generation = MIN (min_generation, (guint) record->state);
    }

  g_test_message ("after SIGKILL: flushed generation %d, last committed setting %s, "
                  "oldest row at generation %u",
                  CRASH_FLUSHED_GENERATION, generation, min_generation);
}

static void
insert_count_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  guint *remaining = user_data;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (atlas_store_insert_finish (ATLAS_STORE (source), result, &error), >, 0);
  g_assert_no_error (error);
  (*remaining)--;
}

static void
test_load_many (Fixture *fixture, gconstpointer data)
{
  const guint n = 10000;
  g_autoptr (GBytes) request = bytes_filled ('r', 300);
  g_autoptr (GBytes) bits = bytes_filled (0xff, 32);
  g_autoptr (GBytes) digests = bytes_filled (0xd1, 32 * 16);
  g_autoptr (GPtrArray) records = NULL;
  AtlasStore *store;
  guint remaining = n;
  gint64 start;
  double insert_s, load_s;

  store = open_store (fixture->path);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (AtlasStoreRecord) record = atlas_store_record_new ();

      record->name = g_strdup_printf ("file-%05u.iso", i);
      record->directory = g_strdup ("/home/ann/Downloads");
      record->filename = g_strdup (record->name);
      record->size = 1 << 30;
      record->piece_length = 1 << 22;
      record->request = g_bytes_ref (request);
      record->verified = g_bytes_ref (bits);
      record->piece_digests = g_bytes_ref (digests);
      atlas_store_insert_async (store, record, NULL, insert_count_cb, &remaining);
    }
  while (remaining > 0)
    g_main_context_iteration (NULL, TRUE);
  insert_s = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  g_object_unref (store);

  store = open_store (fixture->path);
  start = g_get_monotonic_time ();
  records = load (store);
  load_s = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  g_object_unref (store);

  g_assert_cmpuint (records->len, ==, n);
  g_assert_cmpstr (((AtlasStoreRecord *) records->pdata[0])->name, ==, "file-00000.iso");
  g_assert_cmpstr (((AtlasStoreRecord *) records->pdata[n - 1])->name, ==, "file-09999.iso");

  g_test_message ("%u inserts in %.3f s (%.0f inserts/s); load of %u records in %.3f s", n,
                  insert_s, n / insert_s, n, load_s);
  /* Limits for an ordinary build; stretched for the sanitizer builds. */
  g_assert_cmpfloat (load_s, <, 5.0 * time_scale ());
  g_assert_cmpfloat (insert_s, <, 5.0 * time_scale ());
}

/* A partial download's flag and wanted set survive a reopen, and updates to
 * the wanted set replace it. */
static void
test_partial (Fixture *fixture, gconstpointer data)
{
  g_autoptr (AtlasStoreRecord) record = atlas_store_record_new ();
  g_autoptr (GBytes) wanted = g_bytes_new_static ("\xa0\x01", 2);
  g_autoptr (GBytes) fewer = g_bytes_new_static ("\x80\x00", 2);
  g_autoptr (GPtrArray) records = NULL;
  AtlasStoreRecord *loaded;
  gint64 id, whole;

  {
    g_autoptr (AtlasStore) store = open_store (fixture->path);

    record->name = g_strdup ("donated.iso");
    record->partial = TRUE;
    record->wanted = g_bytes_ref (wanted);
    id = insert (store, record);
    whole = insert_named (store, "whole.iso");
    records = load (store);
    assert_bytes_equal (find (records, id)->wanted, wanted);
    g_clear_pointer (&records, g_ptr_array_unref);
    atlas_store_update_wanted (store, id, fewer);
    g_assert_true (atlas_store_flush_sync (store, NULL));
  }

  {
    g_autoptr (AtlasStore) store = open_store (fixture->path);

    records = load (store);
    loaded = find (records, id);
    g_assert_nonnull (loaded);
    g_assert_true (loaded->partial);
    assert_bytes_equal (loaded->wanted, fewer);
    loaded = find (records, whole);
    g_assert_false (loaded->partial);
    g_assert_null (loaded->wanted);
  }
}

/* A queue written by schema version 1 (before partial downloads) opens:
 * its downloads stay whole downloads and keep everything else. */
static void
test_migrate_v1 (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (AtlasStore) store = NULL;
  g_autofree char *version = NULL;
  AtlasStoreRecord *loaded;

  raw_exec (fixture->path,
            "CREATE TABLE downloads (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " position INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0, name TEXT,"
            " directory TEXT, filename TEXT, size INTEGER NOT NULL DEFAULT -1,"
            " piece_length INTEGER NOT NULL DEFAULT 0, request BLOB, verified BLOB,"
            " piece_digests BLOB, validators BLOB, error_message TEXT,"
            " created INTEGER NOT NULL DEFAULT 0, finished INTEGER NOT NULL DEFAULT 0);"
            "CREATE INDEX downloads_by_position ON downloads (position, id);"
            "CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value TEXT);"
            "INSERT INTO downloads (id, position, state, name, size, piece_length, verified)"
            " VALUES (7, 1, 2, 'old.iso', 3000000, 1048576, x'05');"
            "INSERT INTO settings VALUES ('max-active', '3');"
            "PRAGMA user_version = 1;");

  store = open_store (fixture->path);
  records = load (store);
  g_assert_cmpuint (records->len, ==, 1);
  loaded = find (records, 7);
  g_assert_nonnull (loaded);
  g_assert_cmpstr (loaded->name, ==, "old.iso");
  g_assert_cmpint (loaded->size, ==, 3000000);
  g_assert_cmpuint (g_bytes_get_size (loaded->verified), ==, 1);
  g_assert_false (loaded->partial);
  g_assert_null (loaded->wanted);
  version = raw_query_text (fixture->path, "PRAGMA user_version");
  g_assert_cmpstr (version, ==, G_STRINGIFY (ATLAS_STORE_SCHEMA_VERSION));
}

int
main (int argc, char **argv)
{
  g_autofree char *crash_dir = NULL;
  int status;

  store_warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (log_writer_cb, NULL, NULL);

  /* The crash test's child finds its database through the environment,
   * which may only be changed before the first store starts a thread. */
  if (g_getenv ("ATLAS_STORE_CRASH_DB") == NULL)
    {
      g_autofree char *path = NULL;

      crash_dir = g_dir_make_tmp ("atlas-store-crash-XXXXXX", NULL);
      g_assert_nonnull (crash_dir);
      path = g_build_filename (crash_dir, "queue.db", NULL);
      g_setenv ("ATLAS_STORE_CRASH_DB", path, TRUE);
    }

  g_test_init (&argc, &argv, NULL);

#define ADD(name, func)                                                                            \
  g_test_add ("/store/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("round-trip", test_round_trip);
  ADD ("updates", test_updates);
  ADD ("order", test_order);
  ADD ("settings", test_settings);
  ADD ("flush-ordering", test_flush_ordering);
  ADD ("persistence", test_persistence);
  ADD ("open-async", test_open_async);
  ADD ("newer-schema", test_newer_schema);
  ADD ("garbage-file", test_garbage_file);
  ADD ("error-signal", test_error_signal);
  ADD ("crash", test_crash);
  ADD ("load-10000", test_load_many);
  ADD ("partial", test_partial);
  ADD ("migrate-v1", test_migrate_v1);
  g_test_add_func ("/store/crash/subprocess", crash_child);

#undef ADD

  status = g_test_run ();
  if (crash_dir != NULL)
    remove_tree (crash_dir);

  return status;
}
