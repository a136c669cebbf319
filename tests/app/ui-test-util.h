/* ui-test-util.h — what every UI test needs: waiting on the main loop with
 * a bound, finding widgets, and saving screenshots for people to look at. */
#pragma once

#include <adwaita.h>

#include "atlas-test-util.h"

G_BEGIN_DECLS

/* gtk_test_init + adw_init, animations off (the wrapper provides Xvfb and a
 * memory settings backend). */
void ui_test_init (int *argc, char ***argv);

/* Runs the main loop until @check returns TRUE (polled every 20 ms) or
 * @timeout_ms passed; returns the last result. (Flags and plain waits:
 * test_run_until and test_run_for from atlas-test-util.h.) */
gboolean ui_test_wait_until (gboolean (*check) (gpointer data), gpointer data, guint timeout_ms);

/* The first descendant of @root of @type (depth first), for which @match
 * (may be NULL) returns TRUE. */
GtkWidget *ui_test_find (GtkWidget *root, GType type,
                         gboolean (*match) (GtkWidget *widget, gpointer data), gpointer data);
/* Whether @widget is labelled @data (a string) the way assistive technology
 * would find it: tooltip, button label, label text, preferences row title or
 * accessible label. A match function for ui_test_find. */
gboolean ui_test_has_label (GtkWidget *widget, gpointer data);
/* The first widget below @root labelled @text. */
GtkWidget *ui_test_find_by_label (GtkWidget *root, const char *text);

/* Renders @widget (mapped) into a texture. */
GdkTexture *ui_test_render (GtkWidget *widget);
/* Saves @widget as $ATLAS_SCREENSHOT_DIR/@name (.png), when that is set. */
void ui_test_save_screenshot (GtkWidget *widget, const char *name);

G_END_DECLS
