/* atlas-launch.h — opening a downloaded file, or its folder with the file
 * selected, in the user's applications. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Opens @path with its default application. Errors are logged (the caller
 * has usually moved on by the time an application fails to start). */
void atlas_launch_open_file (GtkWindow *parent, const char *path);
/* Shows @path in the file manager, selected (org.freedesktop.FileManager1),
 * or opens its folder when no file manager offers that. */
void atlas_launch_show_in_folder (GtkWindow *parent, const char *path);

G_END_DECLS
