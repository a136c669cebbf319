/* atlas-download-row.h — one line of the queue: name, progress, speed, time
 * left, sources, state. Rows are recycled by the list view, so a row follows
 * whichever download it is bound to and lets go of the previous one. */
#pragma once

#include <gtk/gtk.h>

#include "atlas.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_DOWNLOAD_ROW (atlas_download_row_get_type ())
G_DECLARE_FINAL_TYPE (AtlasDownloadRow, atlas_download_row, ATLAS, DOWNLOAD_ROW, GtkWidget)

GtkWidget *atlas_download_row_new (void);
void atlas_download_row_set_download (AtlasDownloadRow *self, AtlasDownload *download);
AtlasDownload *atlas_download_row_get_download (AtlasDownloadRow *self);

/* The state as the row words it ("Downloading", "Failed: …"), for tests. */
const char *atlas_download_row_get_status_text (AtlasDownloadRow *self);

/* A short translated name for a state ("Queued", "Downloading", …). */
const char *atlas_download_state_describe (AtlasDownloadState state);

G_END_DECLS
