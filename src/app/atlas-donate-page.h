/* atlas-donate-page.h — the donation panel: on/off, storage and upload caps,
 * a monthly budget, the causes to support, pause rules (all GSettings), and,
 * given the app's donation controller, what donation is doing: why it is
 * paused, storage used against the cap, upload now and this month, bytes
 * served, and a row per file held. */
#pragma once

#include <adwaita.h>

#include "atlas-app-donor.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_DONATE_PAGE (atlas_donate_page_get_type ())
G_DECLARE_FINAL_TYPE (AtlasDonatePage, atlas_donate_page, ATLAS, DONATE_PAGE, AdwBin)

GtkWidget *atlas_donate_page_new (GSettings *settings);

/* The controller whose donor the page shows (property "donor"); NULL shows
 * the settings only. */
void atlas_donate_page_set_donor (AtlasDonatePage *self, AtlasAppDonor *app_donor);
AtlasAppDonor *atlas_donate_page_get_donor (AtlasDonatePage *self);

G_END_DECLS
