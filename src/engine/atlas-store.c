/* atlas-store.c — the durable queue: SQLite (WAL) owned by one worker thread.
 *
 * Copyright 2026 The Download Atlas authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Threading model
 *
 * One thread owns the sqlite3 handle for its whole life. Every public call
 * turns into a Job pushed on a GAsyncQueue; the worker pops jobs one by one,
 * so they run strictly in the order they were queued. The worker never
 * touches the AtlasStore GObject: it only sees a small refcounted StoreShared
 * block. That way the last reference to the store can never be dropped on
 * the worker (whose dispose would then try to join itself), and the worker
 * never needs anything from the main thread to finish, so dispose can drain
 * the queue and join the thread from the main thread without deadlocking.
 *
 * Results go back through GTask on the caller's thread-default context. The
 * worker does not call g_task_return_*() itself: it hands its reference to
 * the task to an idle on the task's context, and the return and the final
 * unref happen there. A task holds a reference to the store, so this is what
 * keeps the store's last unref off the worker thread.
 *
 * Batching and coalescing
 *
 * When the worker finds several writes waiting, it runs them in one
 * transaction (one WAL commit, one sync at checkpoint) instead of one each,
 * still in queue order. update_pieces for an id whose previous update_pieces
 * is still queued replaces that job's bitmap instead of queueing another:
 * only the latest bitmap matters. This is only done while that queued job is
 * the newest job for the id and no read or flush was queued after it, so no
 * other job can observe a different order than the one the caller used.
 */

#define G_LOG_DOMAIN "atlas-store"

#include "atlas-store.h"

#include <errno.h>
#include <sqlite3.h>

#include "atlas-error.h"
#include "atlas-types.h"

/* More than this many writes per transaction would only delay the results of
 * inserts and the "error" signal; fsync savings are long gone by then. */
#define MAX_BATCH 1000

/* Another process (a second instance, "atlas queue" from the CLI) may hold the
 * write lock briefly; wait for it rather than failing a write. */
#define BUSY_TIMEOUT_MS 5000

typedef enum
{
  JOB_OPEN,
  JOB_LOAD,
  JOB_INSERT,
  JOB_UPDATE_STATE,
  JOB_UPDATE_LAYOUT,
  JOB_UPDATE_PIECES,
  JOB_UPDATE_VALIDATORS,
  JOB_UPDATE_REQUEST,
  JOB_UPDATE_WANTED,
  JOB_SET_POSITION,
  JOB_DELETE,
  JOB_SET_SETTING,
  JOB_GET_SETTING,
  JOB_FLUSH,
  JOB_QUIT,
} JobKind;

/* How a blocking caller waits for its job; lives on the caller's stack and is
 * protected by StoreShared.lock. */
typedef struct
{
  gboolean done;
  GError *error;
  char *value;
} SyncWait;

typedef struct
{
  JobKind kind;
  gint64 id;
  gint64 a;      /* state, size, position */
  gint64 b;      /* piece_length */
  char *text;    /* error_message, setting key */
  char *text2;   /* setting value */
  GBytes *blob;  /* verified, validators, request, wanted */
  GBytes *blob2; /* piece_digests */
  AtlasStoreRecord *record;
  GTask *task;    /* async callers */
  SyncWait *wait; /* blocking callers */
} Job;

typedef enum
{
  STMT_BEGIN,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_LOAD,
  STMT_INSERT,
  STMT_UPDATE_STATE,
  STMT_UPDATE_LAYOUT,
  STMT_UPDATE_PIECES,
  STMT_UPDATE_VALIDATORS,
  STMT_UPDATE_REQUEST,
  STMT_UPDATE_WANTED,
  STMT_SET_POSITION,
  STMT_DELETE,
  STMT_SET_SETTING,
  STMT_DELETE_SETTING,
  STMT_GET_SETTING,
  N_STMTS
} StmtId;

static const char *const stmt_sql[N_STMTS] = {
  /* IMMEDIATE takes the write lock up front, so a batch never has to upgrade
   * a read lock (which can fail with SQLITE_BUSY without waiting). */
  [STMT_BEGIN] = "BEGIN IMMEDIATE",
  [STMT_COMMIT] = "COMMIT",
  [STMT_ROLLBACK] = "ROLLBACK",
  [STMT_LOAD] = "SELECT id, position, state, name, directory, filename, size, piece_length,"
                " request, verified, piece_digests, validators, error_message, created, finished,"
                " partial, wanted FROM downloads ORDER BY position, id",
  [STMT_INSERT] = "INSERT INTO downloads (id, position, state, name, directory, filename, size,"
                  " piece_length, request, verified, piece_digests, validators, error_message,"
                  " created, finished, partial, wanted)"
                  " VALUES (?14, (SELECT IFNULL (MAX (position), 0) + 1 FROM downloads),"
                  " ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?15, ?16)",
  /* "finished" follows the state so that a restarted download forgets it. */
  [STMT_UPDATE_STATE] =
      "UPDATE downloads SET state = ?2, error_message = ?3,"
      " finished = CASE WHEN ?2 = ?4 THEN (CASE WHEN finished > 0 THEN finished ELSE ?5 END)"
      " ELSE 0 END WHERE id = ?1",
  [STMT_UPDATE_LAYOUT] = "UPDATE downloads SET size = ?2, piece_length = ?3 WHERE id = ?1",
  [STMT_UPDATE_PIECES] = "UPDATE downloads SET verified = ?2, piece_digests = ?3 WHERE id = ?1",
  [STMT_UPDATE_VALIDATORS] = "UPDATE downloads SET validators = ?2 WHERE id = ?1",
  [STMT_UPDATE_REQUEST] = "UPDATE downloads SET request = ?2 WHERE id = ?1",
  [STMT_UPDATE_WANTED] = "UPDATE downloads SET wanted = ?2 WHERE id = ?1",
  [STMT_SET_POSITION] = "UPDATE downloads SET position = ?2 WHERE id = ?1",
  [STMT_DELETE] = "DELETE FROM downloads WHERE id = ?1",
  [STMT_SET_SETTING] = "INSERT INTO settings (key, value) VALUES (?1, ?2)"
                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  [STMT_DELETE_SETTING] = "DELETE FROM settings WHERE key = ?1",
  [STMT_GET_SETTING] = "SELECT value FROM settings WHERE key = ?1",
};

/* State shared by the store object and its worker. Everything below "worker
 * only" is touched by the worker thread alone. */
typedef struct
{
  gatomicrefcount ref;
  GAsyncQueue *queue;
  GMutex lock; /* protects pending_pieces, SyncWait, coalesced */
  GCond cond;
  GHashTable *pending_pieces; /* gint64 id → queued JOB_UPDATE_PIECES Job */
  guint coalesced;
  GWeakRef store;        /* read on the main context only */
  GMainContext *context; /* where the store was created: "error" goes here */
  char *path;

  /* worker only */
  sqlite3 *db;
  sqlite3_stmt *stmts[N_STMTS];
} StoreShared;

struct _AtlasStore
{
  GObject parent_instance;

  StoreShared *shared;
  GThread *worker;
};

G_DEFINE_TYPE (AtlasStore, atlas_store, G_TYPE_OBJECT)

enum
{
  SIGNAL_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* Records */

AtlasStoreRecord *
atlas_store_record_new (void)
{
  AtlasStoreRecord *record = g_new0 (AtlasStoreRecord, 1);

  record->size = -1;

  return record;
}

static GBytes *
bytes_ref0 (GBytes *bytes)
{
  return bytes != NULL ? g_bytes_ref (bytes) : NULL;
}

AtlasStoreRecord *
atlas_store_record_copy (const AtlasStoreRecord *record)
{
  AtlasStoreRecord *copy;

  g_return_val_if_fail (record != NULL, NULL);

  copy = g_new0 (AtlasStoreRecord, 1);
  *copy = *record;
  copy->name = g_strdup (record->name);
  copy->directory = g_strdup (record->directory);
  copy->filename = g_strdup (record->filename);
  copy->request = bytes_ref0 (record->request);
  copy->verified = bytes_ref0 (record->verified);
  copy->piece_digests = bytes_ref0 (record->piece_digests);
  copy->validators = bytes_ref0 (record->validators);
  copy->wanted = bytes_ref0 (record->wanted);
  copy->error_message = g_strdup (record->error_message);

  return copy;
}

void
atlas_store_record_free (AtlasStoreRecord *record)
{
  if (record == NULL)
    return;

  g_free (record->name);
  g_free (record->directory);
  g_free (record->filename);
  g_clear_pointer (&record->request, g_bytes_unref);
  g_clear_pointer (&record->verified, g_bytes_unref);
  g_clear_pointer (&record->piece_digests, g_bytes_unref);
  g_clear_pointer (&record->validators, g_bytes_unref);
  g_clear_pointer (&record->wanted, g_bytes_unref);
  g_free (record->error_message);
  g_free (record);
}

/* Jobs and shared state */

static Job *
job_new (JobKind kind, gint64 id)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  job->id = id;

  return job;
}

/* Never called with a task still attached: tasks are handed to their context
 * before the job is freed (see return_to_task). */
static void
job_free (Job *job)
{
  g_assert (job->task == NULL);

  g_free (job->text);
  g_free (job->text2);
  g_clear_pointer (&job->blob, g_bytes_unref);
  g_clear_pointer (&job->blob2, g_bytes_unref);
  g_clear_pointer (&job->record, atlas_store_record_free);
  g_free (job);
}

static gboolean
job_is_write (const Job *job)
{
  switch (job->kind)
    {
    case JOB_INSERT:
    case JOB_UPDATE_STATE:
    case JOB_UPDATE_LAYOUT:
    case JOB_UPDATE_PIECES:
    case JOB_UPDATE_VALIDATORS:
    case JOB_UPDATE_REQUEST:
    case JOB_UPDATE_WANTED:
    case JOB_SET_POSITION:
    case JOB_DELETE:
    case JOB_SET_SETTING:
      return TRUE;
    case JOB_OPEN:
    case JOB_LOAD:
    case JOB_GET_SETTING:
    case JOB_FLUSH:
    case JOB_QUIT:
    default:
      return FALSE;
    }
}

/* Reads, flushes and the like see every earlier write exactly as queued, so
 * after one of them nothing may be coalesced into a job queued before it. */
static gboolean
job_is_barrier (const Job *job)
{
  return !job_is_write (job);
}

static StoreShared *
store_shared_new (const char *path)
{
  StoreShared *shared = g_new0 (StoreShared, 1);

  g_atomic_ref_count_init (&shared->ref);
  shared->queue = g_async_queue_new ();
  g_mutex_init (&shared->lock);
  g_cond_init (&shared->cond);
  shared->pending_pieces = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_weak_ref_init (&shared->store, NULL);
  shared->context = g_main_context_ref_thread_default ();
  shared->path = g_strdup (path);

  return shared;
}

static StoreShared *
store_shared_ref (StoreShared *shared)
{
  g_atomic_ref_count_inc (&shared->ref);
  return shared;
}

static void
store_shared_unref (StoreShared *shared)
{
  if (!g_atomic_ref_count_dec (&shared->ref))
    return;

  g_assert (shared->db == NULL);
  g_async_queue_unref (shared->queue);
  g_mutex_clear (&shared->lock);
  g_cond_clear (&shared->cond);
  g_hash_table_unref (shared->pending_pieces);
  g_weak_ref_clear (&shared->store);
  g_main_context_unref (shared->context);
  g_free (shared->path);
  g_free (shared);
}

/* Queues @job, keeping the coalescing table honest: a pieces job is only
 * coalescible while it is the newest job for its id and no barrier follows. */
static void
store_shared_push_locked (StoreShared *shared, Job *job)
{
  if (job_is_barrier (job))
    g_hash_table_remove_all (shared->pending_pieces);
  else if (job->kind == JOB_UPDATE_PIECES)
    g_hash_table_replace (shared->pending_pieces, &job->id, job);
  else if (job->id != 0)
    g_hash_table_remove (shared->pending_pieces, &job->id);

  g_async_queue_push (shared->queue, job);
}

static void
store_shared_push (StoreShared *shared, Job *job)
{
  g_mutex_lock (&shared->lock);
  store_shared_push_locked (shared, job);
  g_mutex_unlock (&shared->lock);
}

/* Called by the worker for every job it pops. Once a job is taken out of the
 * coalescing table callers can no longer change it, so its blobs are stable. */
static Job *
store_shared_take (StoreShared *shared, Job *job)
{
  if (job != NULL && job->kind == JOB_UPDATE_PIECES)
    {
      g_mutex_lock (&shared->lock);
      if (g_hash_table_lookup (shared->pending_pieces, &job->id) == job)
        g_hash_table_remove (shared->pending_pieces, &job->id);
      g_mutex_unlock (&shared->lock);
    }

  return job;
}

static void
complete_sync (StoreShared *shared, SyncWait *wait, GError *error, char *value)
{
  g_mutex_lock (&shared->lock);
  wait->error = error;
  wait->value = value;
  wait->done = TRUE;
  g_cond_broadcast (&shared->cond);
  g_mutex_unlock (&shared->lock);
}

static void
wait_sync (StoreShared *shared, SyncWait *wait)
{
  g_mutex_lock (&shared->lock);
  while (!wait->done)
    g_cond_wait (&shared->cond, &shared->lock);
  g_mutex_unlock (&shared->lock);
}

/* Returning results on the caller's context */

/* g_main_context_invoke() would run @func right here on the worker whenever it
 * can acquire the global default context, i.e. whenever the main thread is not
 * iterating it at this instant. Always go through an idle source instead. */
static void
run_in_context (GMainContext *context, GSourceFunc func, gpointer data)
{
  g_autoptr (GSource) source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, NULL);
  g_source_set_static_name (source, "[atlas-store] result");
  g_source_attach (source, context);
}

typedef enum
{
  RETURN_BOOLEAN,
  RETURN_INT,
  RETURN_POINTER,
  RETURN_TASK_DATA,
} ReturnKind;

typedef struct
{
  GTask *task;
  ReturnKind kind;
  GError *error;
  gint64 int_value;
  gpointer pointer;
  GDestroyNotify pointer_free;
} ReturnData;

static gboolean
return_to_task_cb (gpointer user_data)
{
  ReturnData *data = user_data;

  if (data->error != NULL)
    g_task_return_error (data->task, g_steal_pointer (&data->error));
  else
    switch (data->kind)
      {
      case RETURN_BOOLEAN:
        g_task_return_boolean (data->task, TRUE);
        break;
      case RETURN_INT:
        g_task_return_int (data->task, data->int_value);
        break;
      case RETURN_POINTER:
        g_task_return_pointer (data->task, g_steal_pointer (&data->pointer), data->pointer_free);
        break;
      case RETURN_TASK_DATA:
        g_task_return_pointer (data->task, g_object_ref (g_task_get_task_data (data->task)),
                               g_object_unref);
        break;
      default:
        g_assert_not_reached ();
      }

  g_clear_object (&data->task);
  if (data->pointer != NULL && data->pointer_free != NULL)
    data->pointer_free (data->pointer);
  g_free (data);

  return G_SOURCE_REMOVE;
}

/* Worker side: moves the job's task (and its reference) to the task's own
 * context, so the callback, the return and the final unref all happen there. */
static void
return_to_task (Job *job, ReturnKind kind, GError *error, gint64 int_value, gpointer pointer,
                GDestroyNotify pointer_free)
{
  ReturnData *data = g_new0 (ReturnData, 1);
  data->task = g_steal_pointer (&job->task);
  data->kind = kind;
  data->error = error;
  data->int_value = int_value;
  data->pointer = pointer;
  data->pointer_free = pointer_free;

  run_in_context (g_task_get_context (data->task), return_to_task_cb, data);
}

typedef struct
{
  StoreShared *shared;
  GError *error;
} EmitErrorData;

static gboolean
emit_error_cb (gpointer user_data)
{
  EmitErrorData *data = user_data;
  g_autoptr (AtlasStore) store = g_weak_ref_get (&data->shared->store);

  if (store != NULL)
    g_signal_emit (store, signals[SIGNAL_ERROR], 0, data->error);

  g_clear_error (&data->error);
  store_shared_unref (data->shared);
  g_free (data);

  return G_SOURCE_REMOVE;
}

/* Worker side: a fire-and-forget write failed and nobody is waiting for it. */
static void
report_write_error (StoreShared *shared, GError *error)
{
  EmitErrorData *data;

  g_warning ("%s", error->message);

  data = g_new0 (EmitErrorData, 1);
  data->shared = store_shared_ref (shared);
  data->error = error;
  run_in_context (shared->context, emit_error_cb, data);
}

/* SQLite helpers (worker only) */

static GError *
sqlite_error_new (StoreShared *shared, int code, const char *what)
{
  const char *message = shared->db != NULL ? sqlite3_errmsg (shared->db) : sqlite3_errstr (code);

  return g_error_new (ATLAS_ERROR, ATLAS_ERROR_STORE,
                      "Download queue “%s”: %s failed: %s (SQLite error %d)", shared->path, what,
                      message, code);
}

static sqlite3_stmt *
get_stmt (StoreShared *shared, StmtId id, GError **error)
{
  int rc;

  if (shared->stmts[id] != NULL)
    return shared->stmts[id];

  rc = sqlite3_prepare_v3 (shared->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                           &shared->stmts[id], NULL);
  if (rc != SQLITE_OK)
    {
      g_propagate_error (error, sqlite_error_new (shared, rc, "preparing a statement"));
      return NULL;
    }

  return shared->stmts[id];
}

static void
bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, index);
}

/* An empty GBytes and NULL are different things to callers (an empty bitmap is
 * not "no bitmap"), so an empty blob is stored as a zero-length blob. */
static void
bind_bytes (sqlite3_stmt *stmt, int index, GBytes *bytes)
{
  gsize size;
  gconstpointer data;

  if (bytes == NULL)
    {
      sqlite3_bind_null (stmt, index);
      return;
    }

  data = g_bytes_get_data (bytes, &size);
  if (size == 0)
    sqlite3_bind_zeroblob (stmt, index, 0);
  else
    sqlite3_bind_blob64 (stmt, index, data, size, SQLITE_TRANSIENT);
}

static char *
column_text (sqlite3_stmt *stmt, int column)
{
  if (sqlite3_column_type (stmt, column) == SQLITE_NULL)
    return NULL;
  return g_strdup ((const char *) sqlite3_column_text (stmt, column));
}

static GBytes *
column_bytes (sqlite3_stmt *stmt, int column)
{
  const void *data;
  int size;

  if (sqlite3_column_type (stmt, column) == SQLITE_NULL)
    return NULL;

  data = sqlite3_column_blob (stmt, column);
  size = sqlite3_column_bytes (stmt, column);

  return g_bytes_new (data, size);
}

/* Runs a statement that returns no rows and resets it, so no statement keeps
 * a read transaction open (which would stop WAL checkpoints). */
static gboolean
step_done (StoreShared *shared, sqlite3_stmt *stmt, const char *what, GError **error)
{
  int rc = sqlite3_step (stmt);
  gboolean ok = (rc == SQLITE_DONE || rc == SQLITE_ROW);

  if (!ok)
    g_propagate_error (error, sqlite_error_new (shared, rc, what));

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);

  return ok;
}

static gboolean
exec_sql (StoreShared *shared, const char *sql, const char *what, GError **error)
{
  int rc = sqlite3_exec (shared->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    {
      g_propagate_error (error, sqlite_error_new (shared, rc, what));
      return FALSE;
    }

  return TRUE;
}

static gboolean
query_int (StoreShared *shared, const char *sql, gint64 *out, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (shared->db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        {
          *out = sqlite3_column_int64 (stmt, 0);
          rc = SQLITE_OK;
        }
    }

  if (rc != SQLITE_OK)
    local_error = sqlite_error_new (shared, rc, sql);
  sqlite3_finalize (stmt);

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  return TRUE;
}

/* Schema and migrations */

typedef gboolean (*MigrationFunc) (StoreShared *shared, GError **error);

static gboolean
migrate_0_to_1 (StoreShared *shared, GError **error)
{
  /* AUTOINCREMENT so that an id is never reused: an update still queued for
   * a deleted download must not land on a newer one, and later tables (peers,
   * donations) reference downloads(id) ON DELETE CASCADE. Sources stay in the
   * opaque request blob for now; a later migration can move them into their
   * own table without touching these columns. */
  static const char sql[] = "CREATE TABLE downloads ("
                            "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                            "  position INTEGER NOT NULL,"
                            "  state INTEGER NOT NULL DEFAULT 0,"
                            "  name TEXT,"
                            "  directory TEXT,"
                            "  filename TEXT,"
                            "  size INTEGER NOT NULL DEFAULT -1,"
                            "  piece_length INTEGER NOT NULL DEFAULT 0,"
                            "  request BLOB,"
                            "  verified BLOB,"
                            "  piece_digests BLOB,"
                            "  validators BLOB,"
                            "  error_message TEXT,"
                            "  created INTEGER NOT NULL DEFAULT 0,"
                            "  finished INTEGER NOT NULL DEFAULT 0"
                            ");"
                            "CREATE INDEX downloads_by_position ON downloads (position, id);"
                            "CREATE TABLE settings ("
                            "  key TEXT PRIMARY KEY NOT NULL,"
                            "  value TEXT"
                            ");";

  return exec_sql (shared, sql, "creating the schema", error);
}

static gboolean
migrate_1_to_2 (StoreShared *shared, GError **error)
{
  /* Partial downloads (the donation cache) fetch and keep only the pieces
   * in "wanted" (a bitfield, most significant bit first) and never finish.
   * Existing downloads are whole ones: partial 0, wanted NULL. */
  static const char sql[] = "ALTER TABLE downloads ADD COLUMN partial INTEGER NOT NULL DEFAULT 0;"
                            "ALTER TABLE downloads ADD COLUMN wanted BLOB;";

  return exec_sql (shared, sql, "adding partial downloads to the schema", error);
}

/* migrations[i] takes the schema from version i to i + 1. */
static const MigrationFunc migrations[] = {
  migrate_0_to_1,
  migrate_1_to_2,
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == ATLAS_STORE_SCHEMA_VERSION);

static gboolean
migrate (StoreShared *shared, GError **error)
{
  gint64 version = 0;

  if (!query_int (shared, "PRAGMA user_version", &version, error))
    return FALSE;

  if (version > ATLAS_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE,
                   "The download queue “%s” was created by a newer Download Atlas "
                   "(schema version %" G_GINT64_FORMAT ", this version understands up to %d)",
                   shared->path, version, ATLAS_STORE_SCHEMA_VERSION);
      return FALSE;
    }

  for (; version < ATLAS_STORE_SCHEMA_VERSION; version++)
    {
      g_autofree char *set_version = NULL;
      g_autoptr (GError) local_error = NULL;

      /* Each step and its version bump commit together, so an interrupted
       * upgrade resumes at the step that did not finish. */
      if (!exec_sql (shared, "BEGIN IMMEDIATE", "starting a migration", error))
        return FALSE;

      set_version = g_strdup_printf ("PRAGMA user_version = %" G_GINT64_FORMAT, version + 1);
      if (!migrations[version](shared, &local_error)
          || !exec_sql (shared, set_version, "recording the schema version", &local_error)
          || !exec_sql (shared, "COMMIT", "committing a migration", &local_error))
        {
          sqlite3_exec (shared->db, "ROLLBACK", NULL, NULL, NULL);
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }

  return TRUE;
}

static gboolean
is_memory_path (const char *path)
{
  return g_str_equal (path, ":memory:") || g_str_has_prefix (path, "file:");
}

static gboolean
worker_open (StoreShared *shared, GError **error)
{
  int rc;

  if (!is_memory_path (shared->path))
    {
      g_autofree char *dir = g_path_get_dirname (shared->path);

      /* The queue lists what the user downloads and from where: private. */
      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE,
                       "Cannot create the folder for the download queue “%s”: %s", shared->path,
                       g_strerror (saved_errno));
          return FALSE;
        }
    }

  /* Only this thread ever uses the handle, so SQLite's own mutexes are
   * pure overhead. */
  rc = sqlite3_open_v2 (
      shared->path, &shared->db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL);
  if (rc != SQLITE_OK)
    goto fail;

  sqlite3_extended_result_codes (shared->db, 1);
  sqlite3_busy_timeout (shared->db, BUSY_TIMEOUT_MS);

  /* WAL: readers never block the writer and a commit is one append.
   *
   * synchronous=NORMAL: in WAL mode a power loss can lose the last few
   * commits but never corrupts the database. Losing a "verified" bit only
   * costs re-downloading that piece; it can never make the store claim that
   * bad bytes are good, because a piece is recorded only after its bytes are
   * durable. FULL would add an fsync to every commit for no safety we need.
   *
   * The first statement that reads the file is also where a file that is not
   * a database is detected. */
  if ((rc = sqlite3_exec (shared->db,
                          "PRAGMA journal_mode = WAL;"
                          "PRAGMA synchronous = NORMAL;"
                          "PRAGMA foreign_keys = ON;",
                          NULL, NULL, NULL))
      != SQLITE_OK)
    goto fail;

  if (!migrate (shared, error))
    {
      g_clear_pointer (&shared->db, sqlite3_close_v2);
      return FALSE;
    }

  return TRUE;

fail:
  g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE,
               "Cannot open the download queue “%s”: %s (SQLite error %d)", shared->path,
               shared->db != NULL ? sqlite3_errmsg (shared->db) : sqlite3_errstr (rc), rc);
  g_clear_pointer (&shared->db, sqlite3_close_v2);
  return FALSE;
}

static void
worker_close (StoreShared *shared)
{
  for (guint i = 0; i < N_STMTS; i++)
    g_clear_pointer (&shared->stmts[i], sqlite3_finalize);

  /* close_v2 defers the close if something is still unfinalised instead of
   * failing; there should be nothing, and the handle is gone either way. */
  g_clear_pointer (&shared->db, sqlite3_close_v2);
}

/* Job execution (worker only) */

static GPtrArray *
worker_load (StoreShared *shared, GError **error)
{
  g_autoptr (GPtrArray) records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_store_record_free);
  sqlite3_stmt *stmt = get_stmt (shared, STMT_LOAD, error);
  int rc;

  if (stmt == NULL)
    return NULL;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      AtlasStoreRecord *record = g_new0 (AtlasStoreRecord, 1);

      record->id = sqlite3_column_int64 (stmt, 0);
      record->position = sqlite3_column_int64 (stmt, 1);
      record->state = sqlite3_column_int (stmt, 2);
      record->name = column_text (stmt, 3);
      record->directory = column_text (stmt, 4);
      record->filename = column_text (stmt, 5);
      record->size = sqlite3_column_int64 (stmt, 6);
      record->piece_length = (guint64) sqlite3_column_int64 (stmt, 7);
      record->request = column_bytes (stmt, 8);
      record->verified = column_bytes (stmt, 9);
      record->piece_digests = column_bytes (stmt, 10);
      record->validators = column_bytes (stmt, 11);
      record->error_message = column_text (stmt, 12);
      record->created = sqlite3_column_int64 (stmt, 13);
      record->finished = sqlite3_column_int64 (stmt, 14);
      record->partial = sqlite3_column_int (stmt, 15) != 0;
      record->wanted = column_bytes (stmt, 16);
      g_ptr_array_add (records, record);
    }

  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      g_propagate_error (error, sqlite_error_new (shared, rc, "loading the queue"));
      return NULL;
    }

  return g_steal_pointer (&records);
}

static char *
worker_get_setting (StoreShared *shared, const char *key, GError **error)
{
  sqlite3_stmt *stmt = get_stmt (shared, STMT_GET_SETTING, error);
  char *value = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;

  bind_text (stmt, 1, key);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    value = column_text (stmt, 0);
  else if (rc != SQLITE_DONE)
    g_propagate_error (error, sqlite_error_new (shared, rc, "reading a setting"));

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);

  return value;
}

/* The statement and the words for the log of each single-row write. */
static const struct
{
  int stmt;
  const char *what;
} simple_writes[] = {
  [JOB_UPDATE_STATE] = { STMT_UPDATE_STATE, "saving a download's state" },
  [JOB_UPDATE_LAYOUT] = { STMT_UPDATE_LAYOUT, "saving a download's size" },
  [JOB_UPDATE_PIECES] = { STMT_UPDATE_PIECES, "saving verified pieces" },
  [JOB_UPDATE_VALIDATORS] = { STMT_UPDATE_VALIDATORS, "saving validators" },
  [JOB_UPDATE_REQUEST] = { STMT_UPDATE_REQUEST, "saving a download's request" },
  [JOB_UPDATE_WANTED] = { STMT_UPDATE_WANTED, "saving a partial download's wanted pieces" },
  [JOB_SET_POSITION] = { STMT_SET_POSITION, "moving a download" },
  [JOB_DELETE] = { STMT_DELETE, "removing a download" },
};

/* Runs one write; for an insert, stores the new id in @out_id. */
static gboolean
worker_write (StoreShared *shared, Job *job, gint64 *out_id, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  const char *what = NULL;

  if (job->kind < G_N_ELEMENTS (simple_writes) && simple_writes[job->kind].what != NULL)
    {
      what = simple_writes[job->kind].what;
      if ((stmt = get_stmt (shared, simple_writes[job->kind].stmt, error)) == NULL)
        return FALSE;
    }

  switch (job->kind)
    {
    case JOB_INSERT:
      {
        const AtlasStoreRecord *r = job->record;

        if ((stmt = get_stmt (shared, STMT_INSERT, error)) == NULL)
          return FALSE;
        sqlite3_bind_int (stmt, 1, r->state);
        bind_text (stmt, 2, r->name);
        bind_text (stmt, 3, r->directory);
        bind_text (stmt, 4, r->filename);
        sqlite3_bind_int64 (stmt, 5, r->size);
        sqlite3_bind_int64 (stmt, 6, (gint64) r->piece_length);
        bind_bytes (stmt, 7, r->request);
        bind_bytes (stmt, 8, r->verified);
        bind_bytes (stmt, 9, r->piece_digests);
        bind_bytes (stmt, 10, r->validators);
        bind_text (stmt, 11, r->error_message);
        sqlite3_bind_int64 (stmt, 12, r->created);
        sqlite3_bind_int64 (stmt, 13, r->finished);
        /* The session numbers downloads itself so it can show an id at once;
         * 0 lets SQLite choose. */
        if (r->id > 0)
          sqlite3_bind_int64 (stmt, 14, r->id);
        else
          sqlite3_bind_null (stmt, 14);
        sqlite3_bind_int (stmt, 15, r->partial ? 1 : 0);
        bind_bytes (stmt, 16, r->wanted);
        if (!step_done (shared, stmt, "adding a download", error))
          return FALSE;
        *out_id = sqlite3_last_insert_rowid (shared->db);
        return TRUE;
      }

    case JOB_UPDATE_STATE:
      sqlite3_bind_int64 (stmt, 2, job->a);
      bind_text (stmt, 3, job->text);
      sqlite3_bind_int (stmt, 4, ATLAS_DOWNLOAD_COMPLETE);
      sqlite3_bind_int64 (stmt, 5, g_get_real_time () / G_USEC_PER_SEC);
      break;

    case JOB_UPDATE_LAYOUT:
      sqlite3_bind_int64 (stmt, 2, job->a);
      sqlite3_bind_int64 (stmt, 3, job->b);
      break;

    case JOB_UPDATE_PIECES:
      /* The job left the coalescing table when it was popped, so no caller
       * replaces these blobs any more. */
      bind_bytes (stmt, 2, job->blob);
      bind_bytes (stmt, 3, job->blob2);
      break;

    case JOB_UPDATE_VALIDATORS:
      bind_bytes (stmt, 2, job->blob);
      break;

    case JOB_UPDATE_REQUEST:
    case JOB_UPDATE_WANTED:
      bind_bytes (stmt, 2, job->blob);
      break;

    case JOB_SET_POSITION:
      sqlite3_bind_int64 (stmt, 2, job->a);
      break;

    case JOB_DELETE:
      break;

    case JOB_SET_SETTING:
      if (job->text2 != NULL)
        {
          if ((stmt = get_stmt (shared, STMT_SET_SETTING, error)) == NULL)
            return FALSE;
          bind_text (stmt, 1, job->text);
          bind_text (stmt, 2, job->text2);
        }
      else
        {
          if ((stmt = get_stmt (shared, STMT_DELETE_SETTING, error)) == NULL)
            return FALSE;
          bind_text (stmt, 1, job->text);
        }
      return step_done (shared, stmt, "saving a setting", error);

    case JOB_OPEN:
    case JOB_LOAD:
    case JOB_GET_SETTING:
    case JOB_FLUSH:
    case JOB_QUIT:
    default:
      g_assert_not_reached ();
    }

  sqlite3_bind_int64 (stmt, 1, job->id);
  return step_done (shared, stmt, what, error);
}

/* Ends a write job: an insert gets its answer, a failed fire-and-forget
 * write is reported. Takes @error. */
static void
finish_write (StoreShared *shared, Job *job, gint64 id, GError *error)
{
  if (job->task != NULL)
    return_to_task (job, RETURN_INT, error, id, NULL, NULL);
  else if (error != NULL)
    report_write_error (shared, error);

  job_free (job);
}

/* Runs @first and every write already waiting behind it in one transaction.
 * The first non-write job found is left in @out_next for the caller. */
static void
worker_write_batch (StoreShared *shared, Job *first, Job **out_next)
{
  g_autoptr (GPtrArray) done = g_ptr_array_new (); /* Job* that succeeded */
  g_autoptr (GArray) ids = g_array_new (FALSE, TRUE, sizeof (gint64));
  g_autoptr (GError) tx_error = NULL;
  sqlite3_stmt *begin;
  Job *job = first;
  guint n_jobs = 0;
  gboolean in_tx;

  begin = get_stmt (shared, STMT_BEGIN, &tx_error);
  in_tx = begin != NULL && step_done (shared, begin, "starting a transaction", &tx_error);

  if (!in_tx)
    {
      /* Without a transaction every write would fail the same way; report
       * the cause once per job so that inserts get their answer. */
      finish_write (shared, first, 0, g_error_copy (tx_error));
      return;
    }

  while (job != NULL)
    {
      GError *error = NULL;
      gint64 id = 0;

      /* A failing statement is rolled back on its own (ON CONFLICT ABORT);
       * the rest of the batch still commits. */
      if (worker_write (shared, job, &id, &error))
        {
          g_ptr_array_add (done, job);
          g_array_append_val (ids, id);
        }
      else
        finish_write (shared, job, 0, error);

      if (++n_jobs >= MAX_BATCH)
        break;

      job = store_shared_take (shared, g_async_queue_try_pop (shared->queue));
      if (job != NULL && !job_is_write (job))
        {
          *out_next = job;
          break;
        }
    }

  {
    sqlite3_stmt *commit = get_stmt (shared, STMT_COMMIT, &tx_error);

    if (commit == NULL || !step_done (shared, commit, "committing", &tx_error))
      {
        sqlite3_stmt *rollback = get_stmt (shared, STMT_ROLLBACK, NULL);

        if (rollback != NULL)
          step_done (shared, rollback, "rolling back", NULL);
      }
  }

  /* Fire-and-forget jobs of a failed commit share one report. */
  if (tx_error != NULL)
    {
      gboolean reported = FALSE;

      for (guint i = 0; i < done->len; i++)
        {
          Job *j = g_ptr_array_index (done, i);

          if (j->task != NULL)
            finish_write (shared, j, 0, g_error_copy (tx_error));
          else if (!reported)
            {
              finish_write (shared, j, 0, g_error_copy (tx_error));
              reported = TRUE;
            }
          else
            job_free (j);
        }
      return;
    }

  g_debug ("Committed %u writes in one transaction", n_jobs);

  for (guint i = 0; i < done->len; i++)
    finish_write (shared, g_ptr_array_index (done, i), g_array_index (ids, gint64, i), NULL);
}

static void
worker_run (StoreShared *shared, Job *job)
{
  GError *error = NULL;

  switch (job->kind)
    {
    case JOB_OPEN:
      worker_open (shared, &error);
      if (job->task != NULL)
        return_to_task (job, RETURN_TASK_DATA, error, 0, NULL, NULL);
      else
        complete_sync (shared, job->wait, error, NULL);
      break;

    case JOB_LOAD:
      {
        GCancellable *cancellable = g_task_get_cancellable (job->task);
        GPtrArray *records = NULL;

        if (!g_cancellable_set_error_if_cancelled (cancellable, &error))
          records = worker_load (shared, &error);
        return_to_task (job, RETURN_POINTER, error, 0, records, (GDestroyNotify) g_ptr_array_unref);
        break;
      }

    case JOB_GET_SETTING:
      {
        char *value = worker_get_setting (shared, job->text, &error);

        complete_sync (shared, job->wait, error, value);
        break;
      }

    case JOB_FLUSH:
      /* Every earlier write has already committed: the worker runs jobs in
       * order and commits a batch before it looks at the next non-write. */
      if (job->task != NULL)
        return_to_task (job, RETURN_BOOLEAN, NULL, 0, NULL, NULL);
      else
        complete_sync (shared, job->wait, NULL, NULL);
      break;

    case JOB_QUIT:
    case JOB_INSERT:
    case JOB_UPDATE_STATE:
    case JOB_UPDATE_LAYOUT:
    case JOB_UPDATE_PIECES:
    case JOB_UPDATE_VALIDATORS:
    case JOB_UPDATE_REQUEST:
    case JOB_UPDATE_WANTED:
    case JOB_SET_POSITION:
    case JOB_DELETE:
    case JOB_SET_SETTING:
    default:
      g_assert_not_reached ();
    }

  job_free (job);
}

/* A write queued on a store whose database did not open cannot run. */
static void
worker_reject (StoreShared *shared, Job *job)
{
  GError *error =
      g_error_new (ATLAS_ERROR, ATLAS_ERROR_STORE, "Download queue “%s” is not open", shared->path);

  if (job_is_write (job))
    {
      finish_write (shared, job, 0, error);
      return;
    }

  if (job->task != NULL)
    return_to_task (job, RETURN_POINTER, error, 0, NULL, NULL);
  else if (job->wait != NULL)
    complete_sync (shared, job->wait, error, NULL);
  else
    g_error_free (error);

  job_free (job);
}

static gpointer
worker_main (gpointer data)
{
  StoreShared *shared = data;
  Job *next = NULL;

  for (;;)
    {
      Job *job =
          next != NULL ? next : store_shared_take (shared, g_async_queue_pop (shared->queue));

      next = NULL;

      if (job->kind == JOB_QUIT)
        {
          job_free (job);
          break;
        }

      if (job->kind != JOB_OPEN && shared->db == NULL)
        worker_reject (shared, job);
      else if (job_is_write (job))
        worker_write_batch (shared, job, &next);
      else
        worker_run (shared, job);
    }

  worker_close (shared);
  store_shared_unref (shared);

  return NULL;
}

/* GObject */

static void
atlas_store_dispose (GObject *object)
{
  AtlasStore *self = ATLAS_STORE (object);

  /* Jobs run in order, so QUIT runs after everything already queued: the
   * queue is drained and committed before the database closes. The worker
   * needs nothing from this thread, so joining here cannot deadlock. */
  if (self->worker != NULL)
    {
      g_debug ("Closing “%s”; %u bitmap updates were coalesced", self->shared->path,
               self->shared->coalesced);
      g_async_queue_push (self->shared->queue, job_new (JOB_QUIT, 0));
      g_thread_join (g_steal_pointer (&self->worker));
    }

  G_OBJECT_CLASS (atlas_store_parent_class)->dispose (object);
}

static void
atlas_store_finalize (GObject *object)
{
  AtlasStore *self = ATLAS_STORE (object);

  g_clear_pointer (&self->shared, store_shared_unref);

  G_OBJECT_CLASS (atlas_store_parent_class)->finalize (object);
}

static void
atlas_store_class_init (AtlasStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = atlas_store_dispose;
  object_class->finalize = atlas_store_finalize;

  /**
   * AtlasStore::error:
   * @error: (type GError): what failed, with SQLite's code and message
   *
   * Emitted on the main context where the store was opened when a
   * fire-and-forget write failed.
   */
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
atlas_store_init (AtlasStore *self)
{
}

static AtlasStore *
atlas_store_new (const char *path)
{
  AtlasStore *self = g_object_new (ATLAS_TYPE_STORE, NULL);

  self->shared = store_shared_new (path);
  g_weak_ref_set (&self->shared->store, self);
  self->worker = g_thread_new ("atlas-store", worker_main, store_shared_ref (self->shared));

  return self;
}

/* Public API */

void
atlas_store_open_async (const char *path, GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  AtlasStore *store;
  Job *job;

  g_return_if_fail (path != NULL);

  store = atlas_store_new (path);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, atlas_store_open_async);
  /* The store is handed out by the task and dies with it if opening fails. */
  g_task_set_task_data (task, store, g_object_unref);

  job = job_new (JOB_OPEN, 0);
  job->task = g_object_ref (task);
  store_shared_push (store->shared, job);
}

AtlasStore *
atlas_store_open_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

AtlasStore *
atlas_store_open_sync (const char *path, GError **error)
{
  g_autoptr (AtlasStore) store = NULL;
  SyncWait wait = { 0 };
  Job *job;

  g_return_val_if_fail (path != NULL, NULL);

  store = atlas_store_new (path);
  job = job_new (JOB_OPEN, 0);
  job->wait = &wait;
  store_shared_push (store->shared, job);
  wait_sync (store->shared, &wait);

  if (wait.error != NULL)
    {
      g_propagate_error (error, wait.error);
      return NULL;
    }

  return g_steal_pointer (&store);
}

void
atlas_store_load_async (AtlasStore *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Job *job;

  g_return_if_fail (ATLAS_IS_STORE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, atlas_store_load_async);

  job = job_new (JOB_LOAD, 0);
  job->task = g_object_ref (task);
  store_shared_push (self->shared, job);
}

GPtrArray *
atlas_store_load_finish (AtlasStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
atlas_store_insert_async (AtlasStore *self, const AtlasStoreRecord *record,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Job *job;

  g_return_if_fail (ATLAS_IS_STORE (self));
  g_return_if_fail (record != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, atlas_store_insert_async);
  /* The row exists once the insert ran; cancelling afterwards must not hide
   * its id, or the caller would lose track of a queued download. */
  g_task_set_check_cancellable (task, FALSE);

  job = job_new (JOB_INSERT, 0);
  job->record = atlas_store_record_copy (record);
  if (job->record->created == 0)
    job->record->created = g_get_real_time () / G_USEC_PER_SEC;
  job->task = g_object_ref (task);
  store_shared_push (self->shared, job);
}

gint64
atlas_store_insert_finish (AtlasStore *self, GAsyncResult *result, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  gint64 id;

  g_return_val_if_fail (g_task_is_valid (result, self), 0);

  id = g_task_propagate_int (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return 0;
    }

  return id;
}

void
atlas_store_update_state (AtlasStore *self, gint64 id, int state, const char *error_message)
{
  Job *job;

  g_return_if_fail (ATLAS_IS_STORE (self));

  job = job_new (JOB_UPDATE_STATE, id);
  job->a = state;
  job->text = g_strdup (error_message);
  store_shared_push (self->shared, job);
}

void
atlas_store_update_layout (AtlasStore *self, gint64 id, gint64 size, guint64 piece_length)
{
  Job *job;

  g_return_if_fail (ATLAS_IS_STORE (self));

  job = job_new (JOB_UPDATE_LAYOUT, id);
  job->a = size;
  job->b = (gint64) piece_length;
  store_shared_push (self->shared, job);
}

void
atlas_store_update_pieces (AtlasStore *self, gint64 id, GBytes *verified, GBytes *piece_digests)
{
  StoreShared *shared;
  Job *queued;
  Job *job;

  g_return_if_fail (ATLAS_IS_STORE (self));

  shared = self->shared;

  g_mutex_lock (&shared->lock);
  queued = g_hash_table_lookup (shared->pending_pieces, &id);
  if (queued != NULL)
    {
      /* Still waiting in the queue and still the newest job for this id:
       * the new bitmap supersedes the old one at the old one's place. */
      g_clear_pointer (&queued->blob, g_bytes_unref);
      g_clear_pointer (&queued->blob2, g_bytes_unref);
      queued->blob = bytes_ref0 (verified);
      queued->blob2 = bytes_ref0 (piece_digests);
      shared->coalesced++;
    }
  else
    {
      job = job_new (JOB_UPDATE_PIECES, id);
      job->blob = bytes_ref0 (verified);
      job->blob2 = bytes_ref0 (piece_digests);
      store_shared_push_locked (shared, job);
    }
  g_mutex_unlock (&shared->lock);
}

void
atlas_store_update_validators (AtlasStore *self, gint64 id, GBytes *validators)
{
  Job *job;

  g_return_if_fail (ATLAS_IS_STORE (self));

  job = job_new (JOB_UPDATE_VALIDATORS, id);
  job->blob = bytes_ref0 (validators);
  store_shared_push (self->shared, job);
}

void
atlas_store_update_request (AtlasStore *self, gint64 id, GBytes *request)
{
  Job *job;

  g_return_if_fail (ATLAS_IS_STORE (self));

  job = job_new (JOB_UPDATE_REQUEST, id);
  job->blob = bytes_ref0 (request);
  store_shared_push (self->shared, job);
}

void
atlas_store_update_wanted (AtlasStore *self, gint64 id, GBytes *wanted)
{
  Job *job;

  g_return_if_fail (ATLAS_IS_STORE (self));

  job = job_new (JOB_UPDATE_WANTED, id);
  job->blob = bytes_ref0 (wanted);
  store_shared_push (self->shared, job);
}

/* Sets the sort key only; equal positions keep insertion (id) order. */
void
atlas_store_set_position (AtlasStore *self, gint64 id, gint64 position)
{
  Job *job;

  g_return_if_fail (ATLAS_IS_STORE (self));

  job = job_new (JOB_SET_POSITION, id);
  job->a = position;
  store_shared_push (self->shared, job);
}

void
atlas_store_delete (AtlasStore *self, gint64 id)
{
  g_return_if_fail (ATLAS_IS_STORE (self));

  store_shared_push (self->shared, job_new (JOB_DELETE, id));
}

/* A NULL @value removes the setting. */
void
atlas_store_set_setting (AtlasStore *self, const char *key, const char *value)
{
  Job *job;

  g_return_if_fail (ATLAS_IS_STORE (self));
  g_return_if_fail (key != NULL);

  job = job_new (JOB_SET_SETTING, 0);
  job->text = g_strdup (key);
  job->text2 = g_strdup (value);
  store_shared_push (self->shared, job);
}

char *
atlas_store_get_setting_sync (AtlasStore *self, const char *key, GError **error)
{
  SyncWait wait = { 0 };
  Job *job;

  g_return_val_if_fail (ATLAS_IS_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  job = job_new (JOB_GET_SETTING, 0);
  job->text = g_strdup (key);
  job->wait = &wait;
  store_shared_push (self->shared, job);
  wait_sync (self->shared, &wait);

  if (wait.error != NULL)
    {
      g_propagate_error (error, wait.error);
      return NULL;
    }

  return wait.value;
}

void
atlas_store_flush_async (AtlasStore *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Job *job;

  g_return_if_fail (ATLAS_IS_STORE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, atlas_store_flush_async);

  job = job_new (JOB_FLUSH, 0);
  job->task = g_object_ref (task);
  store_shared_push (self->shared, job);
}

gboolean
atlas_store_flush_finish (AtlasStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
atlas_store_flush_sync (AtlasStore *self, GError **error)
{
  SyncWait wait = { 0 };
  Job *job;

  g_return_val_if_fail (ATLAS_IS_STORE (self), FALSE);

  job = job_new (JOB_FLUSH, 0);
  job->wait = &wait;
  store_shared_push (self->shared, job);
  wait_sync (self->shared, &wait);

  if (wait.error != NULL)
    {
      g_propagate_error (error, wait.error);
      return FALSE;
    }

  return TRUE;
}
