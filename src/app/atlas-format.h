/* atlas-format.h — numbers as a person reads them (sizes, speeds, times). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "1.5 GB", "230 kB" (g_format_size, SI units as GNOME shows them). */
char *atlas_format_size (guint64 bytes);
/* "3.2 MB/s"; 0 gives an empty string. */
char *atlas_format_speed (guint64 bytes_per_second);
/* "5 s", "3 min", "1 h 20 min", "2 d"; negative gives an empty string. */
char *atlas_format_eta (gint64 seconds);
/* "1.2 GB of 4.0 GB" or "1.2 GB" when the total is unknown (@total < 0). */
char *atlas_format_progress (guint64 done, gint64 total);

G_END_DECLS
