/* atlas-queue-page.h — the download queue: a list of every download with a
 * filter by state, a search by name, a sort order, several selected at once
 * and actions on the selection (pause, resume, remove, move, open). */
#pragma once

#include <adwaita.h>

#include "atlas.h"

G_BEGIN_DECLS

typedef enum
{
  ATLAS_QUEUE_FILTER_ALL,
  ATLAS_QUEUE_FILTER_ACTIVE, /* downloading or verifying */
  ATLAS_QUEUE_FILTER_QUEUED, /* waiting or paused */
  ATLAS_QUEUE_FILTER_DONE,
  ATLAS_QUEUE_FILTER_FAILED,
} AtlasQueueFilter;

typedef enum
{
  ATLAS_QUEUE_SORT_QUEUE, /* the engine's queue order, which move up/down edits */
  ATLAS_QUEUE_SORT_NAME,
  ATLAS_QUEUE_SORT_PROGRESS,
  ATLAS_QUEUE_SORT_SIZE,
} AtlasQueueSort;

#define ATLAS_TYPE_QUEUE_PAGE (atlas_queue_page_get_type ())
G_DECLARE_FINAL_TYPE (AtlasQueuePage, atlas_queue_page, ATLAS, QUEUE_PAGE, AdwBin)

GtkWidget *atlas_queue_page_new (void);
void atlas_queue_page_set_session (AtlasQueuePage *self, AtlasSession *session);

void atlas_queue_page_set_filter (AtlasQueuePage *self, AtlasQueueFilter filter);
void atlas_queue_page_set_search (AtlasQueuePage *self, const char *text);
void atlas_queue_page_set_sort (AtlasQueuePage *self, AtlasQueueSort sort);
void atlas_queue_page_focus_search (AtlasQueuePage *self);

/* What the page shows: "list", "empty" (no downloads at all) or
 * "no-matches" (the filter or search hides every download). */
const char *atlas_queue_page_get_shown (AtlasQueuePage *self);

/* The downloads shown, in display order (a GListModel of AtlasDownload). */
GListModel *atlas_queue_page_get_visible (AtlasQueuePage *self);
/* The selected downloads, in display order. */
GPtrArray *atlas_queue_page_get_selected (AtlasQueuePage *self);
void atlas_queue_page_select (AtlasQueuePage *self, AtlasDownload *download, gboolean extend);

/* Signals:
 *   show-details (AtlasDownload *download): a row was activated. */

G_END_DECLS
