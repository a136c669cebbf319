/* atlas-application.h — the Download Atlas desktop app.
 *
 * One instance per user session (GApplication over D-Bus): `download-atlas
 * URL…` or `download-atlas file.meta4` hands its arguments to the running
 * instance through the open signal. The application owns the engine session
 * (the SQLite queue), binds GSettings onto the engine's settings, sends
 * notifications, inhibits suspend while downloads run and pauses on metered
 * networks unless the user allows them. With the queue it starts the
 * peer-to-peer controller (AtlasAppSwarm), which follows the peer settings;
 * at startup the donation controller (AtlasAppDonor), which follows the
 * donate-* settings.
 */
#pragma once

#include <adwaita.h>

#include "atlas-app-donor.h"
#include "atlas-app-swarm.h"
#include "atlas.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_APPLICATION (atlas_application_get_type ())
G_DECLARE_FINAL_TYPE (AtlasApplication, atlas_application, ATLAS, APPLICATION, AdwApplication)

AtlasApplication *atlas_application_new (void);

/* NULL until the queue has been opened (or if opening it failed). */
AtlasSession *atlas_application_get_session (AtlasApplication *self);
GSettings *atlas_application_get_settings (AtlasApplication *self);
/* The peer-to-peer controller; NULL until the queue has been opened. */
AtlasAppSwarm *atlas_application_get_swarm (AtlasApplication *self);
/* The donation controller; made at startup. */
AtlasAppDonor *atlas_application_get_donor (AtlasApplication *self);

/* Adds downloads for @files (URLs as GFiles for their URIs, or local Metalink,
 * SUMS-free files) into the queue, reporting problems on the active window. */
void atlas_application_add_files (AtlasApplication *self, GFile **files, int n_files);

G_END_DECLS
