/* atlas-window-private.h — shared between atlas-window.c and the file that
 * handles what users paste and drop (atlas-window-input.c). */
#pragma once

#include "atlas-window.h"

G_BEGIN_DECLS

/* Installs the drop target, the paste action and the clipboard watch. */
void _atlas_window_setup_input (AtlasWindow *self);
/* The win.paste-links action. */
void _atlas_window_paste_links (AtlasWindow *self);
/* Shows @toast (taken) in the window's overlay. */
void _atlas_window_add_toast (AtlasWindow *self, AdwToast *toast);
/* The win.open-metalink action: a file chooser for .meta4/.metalink. */
void _atlas_window_choose_metalink (AtlasWindow *self);

G_END_DECLS
