/* atlas-app-donor.h — the app's donation controller.
 *
 * Builds the engine's AtlasDonor from GSettings (donate-enabled, the
 * Peer-to-Peer page's tracker, STUN/TURN and relay-only mode) and the private
 * secrets (tracker token, TURN password), with its cache in
 * $XDG_CACHE_HOME/download-atlas/donation. The donate-* limits, causes and
 * pause rules apply to the running donor without a rebuild; a change of
 * tracker, ICE servers, mode or secret stops the donor and makes a new one.
 *
 * Problems (no tracker token, a refused token, an unusable cache) never stop
 * the app: donation stays off and the "error" property says what happened,
 * once per configuration, in the user's language.
 */
#pragma once

#include "atlas-donor.h"
#include "atlas.h"

G_BEGIN_DECLS

/* Why donation runs or does not (property "status"). */
typedef enum
{
  ATLAS_APP_DONOR_OFF,        /* donate-enabled is off */
  ATLAS_APP_DONOR_NO_TRACKER, /* on, but no tracker is set in Preferences */
  ATLAS_APP_DONOR_FAILED,     /* on, but the configuration cannot work: see "error" */
  ATLAS_APP_DONOR_RUNNING,    /* a donor runs: see "donor" for its figures */
} AtlasAppDonorStatus;

#define ATLAS_TYPE_APP_DONOR (atlas_app_donor_get_type ())
G_DECLARE_FINAL_TYPE (AtlasAppDonor, atlas_app_donor, ATLAS, APP_DONOR, GObject)

/* Reads @settings and starts a donor when they ask for one. */
AtlasAppDonor *atlas_app_donor_new (GSettings *settings);

/* Stops the donor for good (it leaves the tracker, saves its budget ledger
 * and closes the cache's queue); later setting changes are ignored. */
void atlas_app_donor_shutdown_async (AtlasAppDonor *self, GAsyncReadyCallback callback,
                                     gpointer user_data);
void atlas_app_donor_shutdown_finish (AtlasAppDonor *self, GAsyncResult *result);

/* Gather host candidates only on these addresses (NULL-terminated; NULL:
 * every interface but loopback). For tests; rebuilds a running donor. */
void atlas_app_donor_set_local_addresses (AtlasAppDonor *self, const char *const *addresses);

AtlasAppDonorStatus atlas_app_donor_get_status (AtlasAppDonor *self);
/* The running donor (property "donor"), or NULL. */
AtlasDonor *atlas_app_donor_get_donor (AtlasAppDonor *self);
/* The last problem, or NULL (property "error"). */
const char *atlas_app_donor_get_error (AtlasAppDonor *self);

G_END_DECLS
