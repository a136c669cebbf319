/* atlas-store.h — the durable queue: SQLite (WAL) owned by one worker thread.
 *
 * Every call queues a job for the worker and returns at once, so the main loop
 * never waits for SQLite. Jobs run in the order they were queued. Results come
 * back on the thread-default main context of the caller at the time of the call.
 * Write failures are reported through the "error" signal (and the callback, if given).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define ATLAS_STORE_SCHEMA_VERSION 2

typedef struct
{
  gint64 id;       /* 0 before insertion */
  gint64 position; /* queue order, ascending */
  int state;       /* AtlasDownloadState */
  char *name;
  char *directory;
  char *filename;
  gint64 size;           /* -1 unknown */
  guint64 piece_length;  /* 0 before the layout is fixed */
  GBytes *request;       /* serialised AtlasRequest (opaque to the store) */
  GBytes *verified;      /* bitmap: bit i set = piece i verified and durable */
  GBytes *piece_digests; /* SHA-256 of each verified piece, for our own records */
  GBytes *validators;    /* serialised per-source ETag/Last-Modified (opaque) */
  char *error_message;
  gint64 created;   /* unix seconds */
  gint64 finished;  /* unix seconds, 0 if not finished */
  gboolean partial; /* fetches and keeps only @wanted (the donation cache) */
  GBytes *wanted;   /* partial: bitfield, bit i (most significant first) = piece i */
} AtlasStoreRecord;

AtlasStoreRecord *atlas_store_record_new (void);
AtlasStoreRecord *atlas_store_record_copy (const AtlasStoreRecord *record);
void atlas_store_record_free (AtlasStoreRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasStoreRecord, atlas_store_record_free)

#define ATLAS_TYPE_STORE (atlas_store_get_type ())
G_DECLARE_FINAL_TYPE (AtlasStore, atlas_store, ATLAS, STORE, GObject)

/* Opens (creating if needed) and migrates the database at @path on the worker.
 * @path may be ":memory:" for tests. */
void atlas_store_open_async (const char *path, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
AtlasStore *atlas_store_open_finish (GAsyncResult *result, GError **error);
/* Blocking variant for tools and tests that have no main loop yet. */
AtlasStore *atlas_store_open_sync (const char *path, GError **error);

/* All records ordered by position; a GPtrArray of AtlasStoreRecord*. */
void atlas_store_load_async (AtlasStore *self, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *atlas_store_load_finish (AtlasStore *self, GAsyncResult *result, GError **error);

/* Inserts @record (position goes last; its id is kept when nonzero, else assigned);
 * the finish function returns the new id, 0 on error. */
void atlas_store_insert_async (AtlasStore *self, const AtlasStoreRecord *record,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data);
gint64 atlas_store_insert_finish (AtlasStore *self, GAsyncResult *result, GError **error);

/* Fire-and-forget updates, ordered after every earlier call. */
void atlas_store_update_state (AtlasStore *self, gint64 id, int state, const char *error_message);
void atlas_store_update_layout (AtlasStore *self, gint64 id, gint64 size, guint64 piece_length);
/* Call only after the pieces set in @verified are durable on disk (fdatasync). */
void atlas_store_update_pieces (AtlasStore *self, gint64 id, GBytes *verified,
                                GBytes *piece_digests);
void atlas_store_update_validators (AtlasStore *self, gint64 id, GBytes *validators);
void atlas_store_update_request (AtlasStore *self, gint64 id, GBytes *request);
/* A partial download's wanted pieces (same layout as AtlasStoreRecord.wanted). */
void atlas_store_update_wanted (AtlasStore *self, gint64 id, GBytes *wanted);
void atlas_store_set_position (AtlasStore *self, gint64 id, gint64 position);
void atlas_store_delete (AtlasStore *self, gint64 id);

void atlas_store_set_setting (AtlasStore *self, const char *key, const char *value);
/* Blocking read of a setting; waits for earlier queued writes. NULL if unset. */
char *atlas_store_get_setting_sync (AtlasStore *self, const char *key, GError **error);

/* Completes when every job queued before it has run (writes committed). */
void atlas_store_flush_async (AtlasStore *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean atlas_store_flush_finish (AtlasStore *self, GAsyncResult *result, GError **error);
/* Blocking flush for shutdown paths. */
gboolean atlas_store_flush_sync (AtlasStore *self, GError **error);

G_END_DECLS
