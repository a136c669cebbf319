/* atlas-add-dialog.h — add one or many downloads: URLs (one per line), extra
 * mirrors, an expected checksum, a destination folder, start now or queued.
 * Errors (a bad checksum, a URL already queued) are shown in the dialog, which
 * stays open so nothing typed is lost. */
#pragma once

#include <adwaita.h>

#include "atlas.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_ADD_DIALOG (atlas_add_dialog_get_type ())
G_DECLARE_FINAL_TYPE (AtlasAddDialog, atlas_add_dialog, ATLAS, ADD_DIALOG, AdwWindow)

GtkWidget *atlas_add_dialog_new (GtkWindow *parent, AtlasSession *session, GSettings *settings);
/* Prefills the URL list (a paste, a drop, the clipboard watch). */
void atlas_add_dialog_set_urls (AtlasAddDialog *self, const char *text);

G_END_DECLS
