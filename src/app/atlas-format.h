/* atlas-format.h — numbers and folders as a person reads them (sizes,
 * speeds, times, byte offsets, paths), and the decimal units the settings
 * show sizes in. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* "1.5 GB", "230 kB" (g_format_size, SI units as GNOME shows them). */
char *atlas_format_size (guint64 bytes);
/* "3.2 MB/s"; 0 gives an empty string. */
char *atlas_format_speed (guint64 bytes_per_second);
/* "5 s", "3 min", "1 h 20 min", "2 d"; negative gives an empty string. */
char *atlas_format_eta (gint64 seconds);
/* "1.2 GB of 4.0 GB" or "1.2 GB" when the total is unknown (@total < 0). */
char *atlas_format_progress (guint64 done, gint64 total);
/* "1,048,576": every digit, grouped as the locale groups numbers (a comma
 * where it does not say), for byte offsets that are read digit by digit. */
char *atlas_format_grouped (guint64 value);

/* "~/Downloads" for a folder in the home folder, else the path as text. */
char *atlas_format_folder (const char *path);
/* The folder downloads go to when the download-directory key holds
 * @configured: that folder, or when it is empty the user's Downloads folder,
 * or home on a system without one. */
char *atlas_download_folder_for (const char *configured);
/* The same for the key in @settings (NULL: as if the key were empty). */
char *atlas_default_download_folder (GSettings *settings);

/* Sizes are shown in SI units, as GNOME shows them: 1 MB = 10^6 bytes,
 * 1 GB = 10^9 bytes, 1 MB/s = 10^6 bytes per second. */
#define ATLAS_BYTES_PER_MEGABYTE 1e6
#define ATLAS_BYTES_PER_GIGABYTE 1e9

/* @bytes counted in units of @unit_bytes bytes (e.g. for a spin button in MB). */
double atlas_format_bytes_to_units (guint64 bytes, double unit_bytes);
/* Back to bytes, rounded to the nearest byte; a negative count gives 0. */
guint64 atlas_format_units_to_bytes (double units, double unit_bytes);
/* Binds the uint64 @key of @settings (bytes, or bytes per second) to the
 * double @property of @object, shown in units of @unit_bytes bytes. */
void atlas_format_bind_bytes_as_units (GSettings *settings, const char *key, gpointer object,
                                       const char *property, double unit_bytes);

G_END_DECLS
