/* atlas-filename.h — turning untrusted names into safe relative paths. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Returns a relative path that cannot escape its folder: no "..", no absolute
 * path, no empty or "." components, no control characters, no backslashes,
 * valid UTF-8, each component at most 255 bytes. Characters that are merely
 * odd are replaced with '_'; NULL with ATLAS_ERROR_UNSAFE_INPUT when nothing
 * usable remains or the name tries to climb out. */
char *atlas_filename_sanitize (const char *name, GError **error);

/* A safe file name from the last path segment of @url (percent-decoded), or
 * "download" if it has none. */
char *atlas_filename_from_url (const char *url);

/* @name quoted for an error message: control characters and invalid UTF-8
 * shown as \xNN escapes, and cut after about 80 bytes. */
char *atlas_filename_display (const char *name);

G_END_DECLS
