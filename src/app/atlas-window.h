/* atlas-window.h — the main window: the queue with a details pane, the
 * verify page and the donation page, behind one header bar. Links and
 * Metalink files can be pasted or dropped anywhere on it. */
#pragma once

#include <adwaita.h>

#include "atlas-app-donor.h"
#include "atlas-queue-page.h"
#include "atlas.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_WINDOW (atlas_window_get_type ())
G_DECLARE_FINAL_TYPE (AtlasWindow, atlas_window, ATLAS, WINDOW, AdwApplicationWindow)

/* @settings: the app's GSettings (org.downloadatlas.DownloadAtlas). */
AtlasWindow *atlas_window_new (GtkApplication *application, GSettings *settings);

/* The queue shown; NULL while it is being opened. */
void atlas_window_set_session (AtlasWindow *self, AtlasSession *session);
AtlasSession *atlas_window_get_session (AtlasWindow *self);
GSettings *atlas_window_get_settings (AtlasWindow *self);
AtlasQueuePage *atlas_window_get_queue_page (AtlasWindow *self);
/* The donation controller whose figures the Donate page shows (nullable). */
void atlas_window_set_donor (AtlasWindow *self, AtlasAppDonor *donor);

void atlas_window_show_toast (AtlasWindow *self, const char *text);
/* Shows a download's details (switching to the downloads page). */
void atlas_window_show_details (AtlasWindow *self, AtlasDownload *download);

/* Adds a download per link, started at once; tells the user what happened
 * (added, already queued, not a link) in a toast. Returns how many were added. */
guint atlas_window_add_links (AtlasWindow *self, const char *const *links);
/* Adds links given as GFiles (http/https/ftp URIs) and Metalink files, as a
 * drop or `download-atlas ARGS…` brings them. Metalinks load asynchronously. */
void atlas_window_add_files (AtlasWindow *self, GFile *const *files, guint n_files);
/* Opens the add dialog, prefilled with @text if not NULL. */
void atlas_window_open_add_dialog (AtlasWindow *self, const char *text);

G_END_DECLS
