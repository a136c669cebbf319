/* atlas-details-page.h — everything about one download: its segment map, the
 * sources with speed, bytes and errors, the expected hashes and whether they
 * matched, and a readable log. */
#pragma once

#include <adwaita.h>

#include "atlas.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_DETAILS_PAGE (atlas_details_page_get_type ())
G_DECLARE_FINAL_TYPE (AtlasDetailsPage, atlas_details_page, ATLAS, DETAILS_PAGE, AdwBin)

GtkWidget *atlas_details_page_new (void);
void atlas_details_page_set_download (AtlasDetailsPage *self, AtlasDownload *download);
AtlasDownload *atlas_details_page_get_download (AtlasDetailsPage *self);

G_END_DECLS
