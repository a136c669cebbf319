/* atlas-donate-page.h — the donation panel: on/off, storage and upload caps,
 * a monthly budget, the causes to support, pause rules. Stored in GSettings;
 * the engine applies them once peers and donation exist. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define ATLAS_TYPE_DONATE_PAGE (atlas_donate_page_get_type ())
G_DECLARE_FINAL_TYPE (AtlasDonatePage, atlas_donate_page, ATLAS, DONATE_PAGE, AdwBin)

GtkWidget *atlas_donate_page_new (GSettings *settings);

G_END_DECLS
