/* atlas-preferences-window.h — download folder, concurrent downloads,
 * connections per server, speed limits, clipboard watch, metered networks
 * (page "general"); peer-to-peer mode, tracker, STUN/TURN, UPnP and peer
 * limits (page "peers"). Every row is bound to GSettings, so changes apply
 * at once; the tracker token and TURN password go to private files instead
 * (AtlasAppSecrets). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define ATLAS_TYPE_PREFERENCES_WINDOW (atlas_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (AtlasPreferencesWindow, atlas_preferences_window, ATLAS, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

GtkWidget *atlas_preferences_window_new (GtkWindow *parent, GSettings *settings);

G_END_DECLS
