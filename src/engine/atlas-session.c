/* atlas-session.c — the queue: a GListModel of downloads, the slots that
 * decide how many run at once, the shared libcurl driver, the global speed
 * limit, the tick that coalesces notifications, and the SQLite store. */
#include "atlas-session-private.h"

#include "atlas-download-private.h"
#include "atlas-error.h"
#include "atlas-filename.h"
#include "atlas-request-private.h"
#include "atlas-verifier.h"

#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* About four notifications a second: smooth to the eye, cheap for long lists. */
#define TICK_MS 250

struct _AtlasSession
{
  GObject parent_instance;

  AtlasSettings *settings;
  AtlasStore *store; /* NULL for a session that persists nothing */
  char *store_path;
  int lock_fd;
  GMainContext *context;
  AtlasCurlDriver *driver;
  AtlasRateLimiter limiter;
  GPtrArray *downloads;         /* AtlasDownload*, queue order */
  GHashTable *host_connections; /* host key -> guint count */
  guint64 next_id;
  gboolean running;
  guint tick_source;
  guint wake_source;
  gint64 wake_at;
  GTask *closing;    /* close_async waiting for renames in flight */
  gboolean swarming; /* a swarm shares its downloads with peers */
};

static void atlas_session_list_model_init (GListModelInterface *iface);
static void continue_closing (AtlasSession *self);

G_DEFINE_FINAL_TYPE_WITH_CODE (AtlasSession, atlas_session, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      atlas_session_list_model_init))

static GType
list_get_item_type (GListModel *model)
{
  return ATLAS_TYPE_DOWNLOAD;
}

static guint
list_get_n_items (GListModel *model)
{
  return ATLAS_SESSION (model)->downloads->len;
}

static gpointer
list_get_item (GListModel *model, guint position)
{
  AtlasSession *self = ATLAS_SESSION (model);

  if (position >= self->downloads->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->downloads, position));
}

static void
atlas_session_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = list_get_item_type;
  iface->get_n_items = list_get_n_items;
  iface->get_item = list_get_item;
}

static void
atlas_session_dispose (GObject *object)
{
  AtlasSession *self = ATLAS_SESSION (object);

  g_clear_handle_id (&self->tick_source, g_source_remove);
  g_clear_handle_id (&self->wake_source, g_source_remove);
  for (guint i = 0; i < self->downloads->len; i++)
    _atlas_download_detach (g_ptr_array_index (self->downloads, i));
  g_ptr_array_set_size (self->downloads, 0);
  g_clear_pointer (&self->driver, atlas_curl_driver_free);
  g_clear_object (&self->store);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (atlas_session_parent_class)->dispose (object);
}

static void
atlas_session_finalize (GObject *object)
{
  AtlasSession *self = ATLAS_SESSION (object);

  g_ptr_array_unref (self->downloads);
  g_hash_table_destroy (self->host_connections);
  if (self->lock_fd >= 0)
    close (self->lock_fd);
  g_free (self->store_path);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (atlas_session_parent_class)->finalize (object);
}

enum
{
  SIGNAL_DOWNLOAD_STATE_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
atlas_session_class_init (AtlasSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = atlas_session_dispose;
  object_class->finalize = atlas_session_finalize;

  signals[SIGNAL_DOWNLOAD_STATE_CHANGED] =
      g_signal_new ("download-state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, ATLAS_TYPE_DOWNLOAD);
}

static void
atlas_session_init (AtlasSession *self)
{
  self->lock_fd = -1;
  self->downloads = g_ptr_array_new_with_free_func (g_object_unref);
  self->host_connections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->next_id = 1;
  self->context = g_main_context_ref_thread_default ();
}

/* ---- slots and the tick ------------------------------------------------ */

static void
fill_slots (AtlasSession *self)
{
  guint limit = atlas_settings_get_max_concurrent_downloads (self->settings);
  guint busy = 0;

  if (!self->running)
    return;
  /* Partial downloads (the donation cache) stay active to serve peers for as
   * long as they are donated: they take no slot and never wait for one. */
  for (guint i = 0; i < self->downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (self->downloads, i);
      AtlasDownloadState state = atlas_download_get_state (download);
      busy += (state == ATLAS_DOWNLOAD_ACTIVE || state == ATLAS_DOWNLOAD_VERIFYING)
              && !atlas_download_is_partial (download);
    }
  for (guint i = 0; i < self->downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (self->downloads, i);
      gboolean partial = atlas_download_is_partial (download);

      if (atlas_download_get_state (download) != ATLAS_DOWNLOAD_QUEUED
          || (!partial && busy >= limit))
        continue;
      _atlas_download_activate (download);
      busy += !partial;
    }
}

static gboolean
tick_cb (gpointer data)
{
  AtlasSession *self = data;
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GPtrArray) downloads = g_ptr_array_new_with_free_func (g_object_unref);

  /* Only running (or just stopped) downloads change between ticks. With
   * 10,000 queued downloads, ticking them all cost the main loop ~15 ms four
   * times a second.
   * A tick may remove a download (through a callback): hold references. */
  for (guint i = 0; i < self->downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (self->downloads, i);

      if (_atlas_download_wants_tick (download))
        g_ptr_array_add (downloads, g_object_ref (download));
    }
  for (guint i = 0; i < downloads->len; i++)
    _atlas_download_tick (g_ptr_array_index (downloads, i), now);
  fill_slots (self);
  return G_SOURCE_CONTINUE;
}

static void
settings_changed_cb (AtlasSettings *settings, GParamSpec *pspec, AtlasSession *self)
{
  atlas_rate_limiter_set_rate (&self->limiter, atlas_settings_get_global_speed_limit (settings));
  fill_slots (self);
}

void
atlas_session_start (AtlasSession *self)
{
  if (self->running)
    return;
  self->running = TRUE;
  self->tick_source = g_timeout_add (TICK_MS, tick_cb, self);
  g_source_set_name_by_id (self->tick_source, "[atlas] session tick");
  fill_slots (self);
}

void
atlas_session_stop (AtlasSession *self)
{
  if (!self->running)
    return;
  self->running = FALSE;
  g_clear_handle_id (&self->tick_source, g_source_remove);
  for (guint i = 0; i < self->downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (self->downloads, i);
      AtlasDownloadState state = atlas_download_get_state (download);

      /* Stopped, not paused: they start again with the next session. */
      if (state == ATLAS_DOWNLOAD_ACTIVE || state == ATLAS_DOWNLOAD_VERIFYING)
        _atlas_download_deactivate (download, ATLAS_DOWNLOAD_QUEUED);
    }
}

gboolean
atlas_session_is_running (AtlasSession *self)
{
  return self->running;
}

/* ---- private services for downloads ----------------------------------- */

AtlasCurlDriver *
_atlas_session_get_driver (AtlasSession *self)
{
  return self->driver;
}

AtlasStore *
_atlas_session_get_store (AtlasSession *self)
{
  return self->store;
}

void
_atlas_session_set_swarming (AtlasSession *self, gboolean swarming)
{
  self->swarming = swarming;
}

gboolean
_atlas_session_get_swarming (AtlasSession *self)
{
  return self->swarming;
}

AtlasRateLimiter *
_atlas_session_get_limiter (AtlasSession *self)
{
  return &self->limiter;
}

GMainContext *
_atlas_session_get_context (AtlasSession *self)
{
  return self->context;
}

gboolean
_atlas_session_acquire_host (AtlasSession *self, const char *host_key)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (self->host_connections, host_key));

  if (count >= atlas_settings_get_max_connections_per_server (self->settings))
    return FALSE;
  g_hash_table_insert (self->host_connections, g_strdup (host_key), GUINT_TO_POINTER (count + 1));
  return TRUE;
}

void
_atlas_session_release_host (AtlasSession *self, const char *host_key)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (self->host_connections, host_key));

  if (count <= 1)
    g_hash_table_remove (self->host_connections, host_key);
  else
    g_hash_table_insert (self->host_connections, g_strdup (host_key), GUINT_TO_POINTER (count - 1));
}

void
_atlas_session_download_changed (AtlasSession *self, AtlasDownload *download)
{
  g_signal_emit (self, signals[SIGNAL_DOWNLOAD_STATE_CHANGED], 0, download);
  if (self->closing != NULL)
    continue_closing (self);
  else
    fill_slots (self);
}

static gboolean
wake_cb (gpointer data)
{
  AtlasSession *self = data;

  self->wake_source = 0;
  for (guint i = 0; i < self->downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (self->downloads, i);
      if (atlas_download_get_state (download) == ATLAS_DOWNLOAD_ACTIVE)
        _atlas_download_unpause_transfers (download);
    }
  return G_SOURCE_REMOVE;
}

void
_atlas_session_wake_after (AtlasSession *self, gint64 delay_us)
{
  gint64 at = g_get_monotonic_time () + delay_us;

  if (self->wake_source != 0 && self->wake_at <= at)
    return;
  g_clear_handle_id (&self->wake_source, g_source_remove);
  self->wake_at = at;
  self->wake_source = g_timeout_add (MAX (1, (delay_us + 999) / 1000), wake_cb, self);
}

/* ---- opening ----------------------------------------------------------- */

char *
atlas_session_default_store_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "download-atlas", "queue.sqlite", NULL);
}

AtlasSettings *
atlas_session_get_settings (AtlasSession *self)
{
  return self->settings;
}

/* Only one process may run a queue: an advisory lock next to the database,
 * holding the owner's pid so a second process can say who has it. */
static gboolean
take_queue_lock (AtlasSession *self, GError **error)
{
  g_autofree char *lock_path = g_strconcat (self->store_path, ".lock", NULL);
  g_autofree char *dir = g_path_get_dirname (self->store_path);
  g_autofree char *pid = NULL;

  g_mkdir_with_parents (dir, 0700);
  self->lock_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (self->lock_fd < 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE, "Cannot open the queue lock “%s”: %s",
                   lock_path, g_strerror (errno));
      return FALSE;
    }
  if (flock (self->lock_fd, LOCK_EX | LOCK_NB) != 0)
    {
      char owner[32] = "";
      ssize_t n = pread (self->lock_fd, owner, sizeof owner - 1, 0);

      owner[MAX (n, 0)] = '\0';
      g_strchomp (owner);
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_BUSY,
                   "The download queue “%s” is in use by another Download Atlas process%s%s%s",
                   self->store_path, *owner ? " (pid " : "", owner, *owner ? ")" : "");
      close (self->lock_fd);
      self->lock_fd = -1;
      return FALSE;
    }
  pid = g_strdup_printf ("%d\n", (int) getpid ());
  if (ftruncate (self->lock_fd, 0) == 0)
    (void) !pwrite (self->lock_fd, pid, strlen (pid), 0);
  return TRUE;
}

static void
loaded_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  AtlasSession *self = g_task_get_source_object (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) records = atlas_store_load_finish (self->store, result, &error);

  if (records == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  for (guint i = 0; i < records->len; i++)
    {
      AtlasStoreRecord *record = g_ptr_array_index (records, i);
      g_autoptr (GError) request_error = NULL;
      AtlasRequest *request = _atlas_request_deserialize (record->request, &request_error);
      g_autofree char *path = NULL;
      AtlasDownload *download;

      if (request == NULL)
        {
          g_warning ("Skipping queued download %" G_GINT64_FORMAT ": %s", record->id,
                     request_error->message);
          continue;
        }
      path = g_build_filename (record->directory, record->filename, NULL);
      download = _atlas_download_new (self, record->id, request, path);
      _atlas_download_restore (download, record);
      g_ptr_array_add (self->downloads, download);
      self->next_id = MAX (self->next_id, (guint64) record->id + 1);
    }
  g_task_return_pointer (task, g_object_ref (self), g_object_unref);
}

static void
store_opened_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  AtlasSession *self = g_task_get_source_object (task);
  g_autoptr (GError) error = NULL;

  self->store = atlas_store_open_finish (result, &error);
  if (self->store == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  {
    /* Read the cancellable before the task is handed over: argument
     * evaluation order is unspecified. */
    GCancellable *cancellable = g_task_get_cancellable (task);
    atlas_store_load_async (self->store, cancellable, loaded_cb, g_steal_pointer (&task));
  }
}

void
atlas_session_open_async (const char *store_path, AtlasSettings *settings,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_autoptr (AtlasSession) self = g_object_new (ATLAS_TYPE_SESSION, NULL);
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr (GError) error = NULL;

  g_task_set_source_tag (task, atlas_session_open_async);
  self->settings = settings != NULL ? g_object_ref (settings) : atlas_settings_new ();
  self->driver = atlas_curl_driver_new (self->context);
  atlas_rate_limiter_init (&self->limiter, atlas_settings_get_global_speed_limit (self->settings));
  g_signal_connect_object (self->settings, "notify", G_CALLBACK (settings_changed_cb), self, 0);

  if (store_path == NULL)
    {
      g_task_return_pointer (task, g_object_ref (self), g_object_unref);
      return;
    }
  self->store_path = g_strdup (store_path);
  if (!take_queue_lock (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  atlas_store_open_async (store_path, cancellable, store_opened_cb, g_steal_pointer (&task));
}

AtlasSession *
atlas_session_open_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the queue --------------------------------------------------------- */

AtlasDownload *
atlas_session_lookup_by_path (AtlasSession *self, const char *path)
{
  for (guint i = 0; i < self->downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (self->downloads, i);
      if (g_strcmp0 (atlas_download_get_path (download), path) == 0)
        return download;
    }
  return NULL;
}

/* "name.iso" taken on disk by something that is not ours: "name (1).iso". */
static char *
unique_path (AtlasSession *self, const char *directory, const char *filename)
{
  g_autofree char *path = g_build_filename (directory, filename, NULL);
  const char *dot = strrchr (filename, '.');
  g_autofree char *stem =
      dot && dot != filename ? g_strndup (filename, dot - filename) : g_strdup (filename);
  const char *extension = dot && dot != filename ? dot : "";

  for (guint n = 1;
       n < 1000
       && (g_file_test (path, G_FILE_TEST_EXISTS) || atlas_session_lookup_by_path (self, path));
       n++)
    {
      g_autofree char *name = g_strdup_printf ("%s (%u)%s", stem, n, extension);
      g_free (path);
      path = g_build_filename (directory, name, NULL);
    }
  return g_steal_pointer (&path);
}

static void
inserted_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (atlas_store_insert_finish (ATLAS_STORE (object), result, &error) == 0)
    g_warning ("Could not save a new download in the queue: %s", error->message);
}

/* @wanted: NULL for a whole download, else the pieces of a partial one. */
static AtlasDownload *
add_download (AtlasSession *self, const AtlasRequest *request, const char *path, GBytes *wanted,
              GError **error)
{
  AtlasDownload *existing = atlas_session_lookup_by_path (self, path);
  AtlasDownload *download;
  guint position = self->downloads->len;

  if (existing != NULL)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_EXISTS,
                   "“%s” is already in the queue as download %" G_GUINT64_FORMAT " (%s)", path,
                   atlas_download_get_id (existing),
                   atlas_download_state_to_string (atlas_download_get_state (existing)));
      return NULL;
    }

  download = _atlas_download_new (self, self->next_id++, atlas_request_copy (request), path);
  if (wanted != NULL && !_atlas_download_make_partial (download, wanted, error))
    {
      _atlas_download_detach (download);
      g_object_unref (download);
      return NULL;
    }
  g_ptr_array_add (self->downloads, download);
  if (self->store != NULL)
    {
      g_autoptr (AtlasStoreRecord) record = _atlas_download_to_record (download);
      record->position = position;
      atlas_store_insert_async (self->store, record, NULL, inserted_cb, NULL);
    }
  g_list_model_items_changed (G_LIST_MODEL (self), position, 0, 1);
  return download;
}

static AtlasDownload *
add_request (AtlasSession *self, const AtlasRequest *request, GBytes *wanted, GError **error)
{
  const char *directory = atlas_request_get_directory (request);
  g_autofree char *filename = NULL;
  g_autofree char *path = NULL;
  g_autofree char *final_path = NULL;
  AtlasDownload *download;

  if (atlas_request_get_n_urls (request) == 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "Nothing to download: give at least one http, https or ftp URL");
      return NULL;
    }
  if (directory == NULL)
    directory = atlas_settings_get_download_directory (self->settings);

  if (atlas_request_get_filename (request) != NULL)
    {
      filename = atlas_filename_sanitize (atlas_request_get_filename (request), error);
      if (filename == NULL)
        return NULL;
    }
  else
    filename = atlas_filename_from_url (atlas_request_get_url (request, 0, NULL, NULL));

  path = g_build_filename (directory, filename, NULL);
  if (atlas_session_lookup_by_path (self, path) != NULL)
    final_path = g_strdup (path); /* reported as a duplicate below */
  else
    final_path = unique_path (self, directory, filename);

  download = add_download (self, request, final_path, wanted, error);
  if (download != NULL)
    fill_slots (self);
  return download;
}

AtlasDownload *
atlas_session_add (AtlasSession *self, const AtlasRequest *request, GError **error)
{
  return add_request (self, request, NULL, error);
}

AtlasDownload *
_atlas_session_add_partial (AtlasSession *self, const AtlasRequest *request, GBytes *wanted,
                            GError **error)
{
  g_return_val_if_fail (ATLAS_IS_SESSION (self), NULL);
  g_return_val_if_fail (request != NULL, NULL);
  g_return_val_if_fail (wanted != NULL, NULL);

  /* Pieces are checked, served and dropped one by one: their hashes and the
   * layout must be known before anything is fetched. */
  if (atlas_request_get_size (request) <= 0 || atlas_request_get_piece_digests (request) == NULL)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "A partial download needs the file's size and piece hashes (a Metalink "
                   "with <size> and <pieces>)");
      return NULL;
    }
  return add_request (self, request, wanted, error);
}

AtlasDownload *
atlas_session_lookup (AtlasSession *self, guint64 id)
{
  for (guint i = 0; i < self->downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (self->downloads, i);
      if (atlas_download_get_id (download) == id)
        return download;
    }
  return NULL;
}

static void
delete_files_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  char **paths = data;

  for (guint i = 0; paths[i] != NULL; i++)
    if (g_unlink (paths[i]) != 0 && errno != ENOENT)
      g_warning ("Cannot delete “%s”: %s", paths[i], g_strerror (errno));
  g_task_return_boolean (task, TRUE);
}

void
atlas_session_remove (AtlasSession *self, AtlasDownload *download, gboolean delete_files)
{
  guint position;

  if (!g_ptr_array_find (self->downloads, download, &position))
    return;

  g_object_ref (download);
  _atlas_download_detach (download);
  g_ptr_array_remove_index (self->downloads, position);
  if (self->store != NULL)
    atlas_store_delete (self->store, atlas_download_get_id (download));
  if (delete_files)
    {
      g_autoptr (GTask) task = g_task_new (NULL, NULL, NULL, NULL);
      char **paths = g_new0 (char *, 3);

      paths[0] = g_strconcat (atlas_download_get_path (download), ".part", NULL);
      if (atlas_download_get_state (download) == ATLAS_DOWNLOAD_COMPLETE)
        paths[1] = g_strdup (atlas_download_get_path (download));
      g_task_set_task_data (task, paths, (GDestroyNotify) g_strfreev);
      g_task_run_in_thread (task, delete_files_thread);
    }
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
  g_object_unref (download);
  fill_slots (self);
}

void
atlas_session_move (AtlasSession *self, AtlasDownload *download, guint position)
{
  guint from;

  if (!g_ptr_array_find (self->downloads, download, &from))
    return;
  position = MIN (position, self->downloads->len - 1);
  if (position == from)
    return;
  g_ptr_array_steal_index (self->downloads, from);
  g_ptr_array_insert (self->downloads, position, download);
  if (self->store != NULL)
    for (guint i = MIN (from, position); i <= MAX (from, position); i++)
      atlas_store_set_position (self->store,
                                atlas_download_get_id (g_ptr_array_index (self->downloads, i)), i);
  g_list_model_items_changed (G_LIST_MODEL (self), MIN (from, position),
                              MAX (from, position) - MIN (from, position) + 1,
                              MAX (from, position) - MIN (from, position) + 1);
  fill_slots (self);
}

static gboolean
repair_expectation (const AtlasRequest *request, AtlasVerifyExpectation *expect, GError **error)
{
  if (atlas_request_get_piece_digests (request) == NULL || atlas_request_get_size (request) < 0
      || atlas_request_get_n_urls (request) == 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "Repair needs piece hashes, the file size and at least one mirror (a "
                   "Metalink with <pieces> and <url>)");
      return FALSE;
    }
  expect->piece_type = atlas_request_get_piece_type (request);
  expect->piece_length = atlas_request_get_piece_length (request);
  expect->piece_digests = atlas_request_get_piece_digests (request);
  expect->checksums = atlas_request_get_checksums (request);
  expect->size = atlas_request_get_size (request);
  return TRUE;
}

/* Queues a download that keeps the verified pieces of @path and fetches the rest. */
static AtlasDownload *
add_repair (AtlasSession *self, const char *path, const AtlasRequest *request,
            const AtlasVerifyResult *result, GError **error)
{
  g_autofree guint8 *good = g_new (guint8, MAX (result->n_pieces, 1));
  AtlasDownload *download;

  memset (good, 1, result->n_pieces);
  for (guint i = 0; i < result->bad_pieces->len; i++)
    {
      guint piece = g_array_index (result->bad_pieces, guint, i);
      if (piece < result->n_pieces)
        good[piece] = 0;
    }
  download = add_download (self, request, path, NULL, error);
  if (download == NULL)
    return NULL;
  _atlas_download_preset_pieces (download, atlas_request_get_piece_length (request),
                                 atlas_request_get_size (request), good, result->n_pieces);
  fill_slots (self);
  return download;
}

typedef struct
{
  char *path;
  AtlasRequest *request;
} RepairJob;

static void
repair_job_free (RepairJob *job)
{
  g_free (job->path);
  atlas_request_free (job->request);
  g_free (job);
}

static void
repair_verified_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  AtlasSession *self = g_task_get_source_object (task);
  RepairJob *job = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasVerifyResult) verdict = atlas_verify_file_finish (result, &error);
  AtlasDownload *download;

  if (verdict == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  download = add_repair (self, job->path, job->request, verdict, &error);
  if (download == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, download, NULL);
}

void
atlas_session_repair_async (AtlasSession *self, const char *path, const AtlasRequest *request,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  AtlasVerifyExpectation expect = { 0 };
  GError *error = NULL;
  RepairJob *job;

  g_task_set_source_tag (task, atlas_session_repair_async);
  if (!repair_expectation (request, &expect, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  job = g_new0 (RepairJob, 1);
  job->path = g_strdup (path);
  job->request = atlas_request_copy (request);
  g_task_set_task_data (task, job, (GDestroyNotify) repair_job_free);
  /* The expectation points into job->request, which the task keeps alive. */
  repair_expectation (job->request, &expect, NULL);
  atlas_verify_file_async (path, &expect, cancellable, NULL, NULL, repair_verified_cb,
                           g_steal_pointer (&task));
}

AtlasDownload *
atlas_session_repair_finish (AtlasSession *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- closing ----------------------------------------------------------- */

static void
flushed_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!atlas_store_flush_finish (ATLAS_STORE (object), result, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static gboolean
any_finalizing (AtlasSession *self)
{
  for (guint i = 0; i < self->downloads->len; i++)
    if (_atlas_download_is_finalizing (g_ptr_array_index (self->downloads, i)))
      return TRUE;
  return FALSE;
}

/* Closing waits for downloads whose file is being moved into place, so the
 * queue records them complete instead of half-finished. */
static void
continue_closing (AtlasSession *self)
{
  GTask *task;

  if (self->closing == NULL || any_finalizing (self))
    return;
  task = g_steal_pointer (&self->closing);
  for (guint i = 0; i < self->downloads->len; i++)
    _atlas_download_detach (g_ptr_array_index (self->downloads, i));

  if (self->store == NULL)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  atlas_store_flush_async (self->store, g_task_get_cancellable (task), flushed_cb, task);
}

void
atlas_session_close_async (AtlasSession *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_return_if_fail (self->closing == NULL);

  /* Running downloads stay "active" in the queue, so they resume next time. */
  g_clear_handle_id (&self->tick_source, g_source_remove);
  self->running = FALSE;
  for (guint i = 0; i < self->downloads->len; i++)
    {
      AtlasDownload *download = g_ptr_array_index (self->downloads, i);
      if (!_atlas_download_is_finalizing (download))
        _atlas_download_detach (download);
    }
  self->closing = task;
  continue_closing (self);
}

gboolean
atlas_session_close_finish (AtlasSession *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
