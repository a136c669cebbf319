/* atlas-session.h — the engine's entry point: the queue of downloads.
 *
 * An AtlasSession is a GListModel of AtlasDownload in queue order. It runs on
 * the thread-default main context it was opened on: libcurl's sockets and
 * timers are sources there, and all notifications arrive there. Only one
 * process may own a persistent queue at a time; a second open fails with
 * ATLAS_ERROR_BUSY and names the owner.
 *
 * Signals:
 *   download-state-changed (AtlasDownload *download): a download in the queue
 *   changed state (emitted after its own notify::state), so a filtered view or
 *   a notifier needs one handler rather than one per download.
 */
#pragma once

#include <gio/gio.h>

#include "atlas-download.h"
#include "atlas-request.h"
#include "atlas-settings.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_SESSION (atlas_session_get_type ())
G_DECLARE_FINAL_TYPE (AtlasSession, atlas_session, ATLAS, SESSION, GObject)

/* @store_path: the SQLite queue, or NULL for a session that persists nothing
 * (one-shot CLI runs and tests). Loads the queue and starts what was running. */
void atlas_session_open_async (const char *store_path, AtlasSettings *settings,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data);
AtlasSession *atlas_session_open_finish (GAsyncResult *result, GError **error);

/* The default queue location: $XDG_DATA_HOME/download-atlas/queue.sqlite. */
char *atlas_session_default_store_path (void);

AtlasSettings *atlas_session_get_settings (AtlasSession *self);

/* A session opens stopped: it loads the queue but starts no transfer, so
 * queue commands can edit it. start() begins scheduling; stop() pauses every
 * transfer without changing any download's state in the queue. */
void atlas_session_start (AtlasSession *self);
void atlas_session_stop (AtlasSession *self);
gboolean atlas_session_is_running (AtlasSession *self);

/* Adds a download for @request. Fails if the request has no usable source or
 * if a download with the same final path is already queued (ATLAS_ERROR_EXISTS
 * with a message naming it). */
AtlasDownload *atlas_session_add (AtlasSession *self, const AtlasRequest *request, GError **error);
AtlasDownload *atlas_session_lookup (AtlasSession *self, guint64 id);
/* The download whose final file is @path, if one is queued. */
AtlasDownload *atlas_session_lookup_by_path (AtlasSession *self, const char *path);
/* Removes @download from the queue; with @delete_files its .part (and, if
 * complete, its final file) are deleted too. */
void atlas_session_remove (AtlasSession *self, AtlasDownload *download, gboolean delete_files);
void atlas_session_move (AtlasSession *self, AtlasDownload *download, guint position);

/* Repair: re-fetches only the pieces of the existing file at @path that fail
 * the piece hashes in @request (which must carry pieces and mirrors). */
/* The same without blocking: the file is verified on worker threads first;
 * the finish function returns the (transfer none) download that re-fetches
 * the bad pieces. */
void atlas_session_repair_async (AtlasSession *self, const char *path, const AtlasRequest *request,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
AtlasDownload *atlas_session_repair_finish (AtlasSession *self, GAsyncResult *result,
                                            GError **error);

/* Stops transfers, persists progress and flushes the queue. */
void atlas_session_close_async (AtlasSession *self, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean atlas_session_close_finish (AtlasSession *self, GAsyncResult *result, GError **error);

G_END_DECLS
