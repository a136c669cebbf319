/* atlas-format.c — numbers and folders as a person reads them. */
#include "atlas-format.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <math.h>
#include <string.h>

char *
atlas_format_size (guint64 bytes)
{
  return g_format_size (bytes);
}

char *
atlas_format_speed (guint64 bytes_per_second)
{
  g_autofree char *size = NULL;

  if (bytes_per_second == 0)
    return g_strdup ("");
  size = g_format_size (bytes_per_second);
  /* TRANSLATORS: a transfer speed, e.g. "3.2 MB/s". */
  return g_strdup_printf (_ ("%s/s"), size);
}

char *
atlas_format_eta (gint64 seconds)
{
  if (seconds < 0)
    return g_strdup ("");
  if (seconds < 60)
    return g_strdup_printf (g_dngettext (NULL, "%d second", "%d seconds", seconds), (int) seconds);
  if (seconds < 3600)
    {
      int minutes = (int) ((seconds + 30) / 60);
      return g_strdup_printf (g_dngettext (NULL, "%d minute", "%d minutes", minutes), minutes);
    }
  if (seconds < 48 * 3600)
    {
      int hours = (int) (seconds / 3600);
      int minutes = (int) ((seconds % 3600) / 60);
      /* TRANSLATORS: hours and minutes left, e.g. "1 h 20 min". */
      return g_strdup_printf (_ ("%d h %d min"), hours, minutes);
    }
  return g_strdup_printf (g_dngettext (NULL, "%d day", "%d days", seconds / 86400),
                          (int) (seconds / 86400));
}

char *
atlas_format_progress (guint64 done, gint64 total)
{
  g_autofree char *done_text = g_format_size (done);
  g_autofree char *total_text = NULL;

  if (total < 0)
    return g_steal_pointer (&done_text);
  total_text = g_format_size ((guint64) total);
  /* TRANSLATORS: progress of a download, e.g. "1.2 GB of 4.0 GB". */
  return g_strdup_printf (_ ("%s of %s"), done_text, total_text);
}

char *
atlas_format_grouped (guint64 value)
{
  const char *separator = localeconv ()->thousands_sep;
  g_autofree char *digits = g_strdup_printf ("%" G_GUINT64_FORMAT, value);
  GString *out = g_string_new (NULL);
  gsize n = strlen (digits);

  /* The C locale has no separator, and "1048576" is hard to read. */
  if (separator == NULL || *separator == '\0')
    separator = ",";
  for (gsize i = 0; i < n; i++)
    {
      if (i > 0 && (n - i) % 3 == 0)
        g_string_append (out, separator);
      g_string_append_c (out, digits[i]);
    }
  return g_string_free (out, FALSE);
}

char *
atlas_format_folder (const char *path)
{
  const char *home = g_get_home_dir ();
  gsize home_len = strlen (home);

  g_return_val_if_fail (path != NULL, NULL);

  /* A home of "/" would turn every path into "~…". */
  if (home_len > 1 && g_str_has_prefix (path, home)
      && (path[home_len] == '/' || path[home_len] == '\0'))
    {
      g_autofree char *rest = g_filename_display_name (path + home_len);
      return g_strconcat ("~", rest, NULL);
    }
  return g_filename_display_name (path);
}

char *
atlas_download_folder_for (const char *configured)
{
  const char *xdg;

  if (configured != NULL && configured[0] != '\0')
    return g_strdup (configured);
  /* Looked up each time rather than stored in the key, so that the
   * downloads follow the Downloads folder when the user moves it. */
  xdg = g_get_user_special_dir (G_USER_DIRECTORY_DOWNLOAD);
  return g_strdup (xdg != NULL ? xdg : g_get_home_dir ());
}

char *
atlas_default_download_folder (GSettings *settings)
{
  g_autofree char *configured = NULL;

  g_return_val_if_fail (settings == NULL || G_IS_SETTINGS (settings), NULL);

  if (settings != NULL)
    configured = g_settings_get_string (settings, "download-directory");
  return atlas_download_folder_for (configured);
}

double
atlas_format_bytes_to_units (guint64 bytes, double unit_bytes)
{
  return (double) bytes / unit_bytes;
}

guint64
atlas_format_units_to_bytes (double units, double unit_bytes)
{
  return (guint64) llround (MAX (units, 0.0) * unit_bytes);
}

/* The mappings' user data is the number of bytes in one displayed unit. */
static gboolean
bytes_to_units_cb (GValue *value, GVariant *variant, gpointer user_data)
{
  g_value_set_double (value, atlas_format_bytes_to_units (g_variant_get_uint64 (variant),
                                                          *(const double *) user_data));
  return TRUE;
}

static GVariant *
units_to_bytes_cb (const GValue *value, const GVariantType *expected_type, gpointer user_data)
{
  return g_variant_new_uint64 (
      atlas_format_units_to_bytes (g_value_get_double (value), *(const double *) user_data));
}

void
atlas_format_bind_bytes_as_units (GSettings *settings, const char *key, gpointer object,
                                  const char *property, double unit_bytes)
{
  g_return_if_fail (G_IS_SETTINGS (settings));
  g_return_if_fail (G_IS_OBJECT (object));
  g_return_if_fail (unit_bytes > 0);

  g_settings_bind_with_mapping (settings, key, object, property, G_SETTINGS_BIND_DEFAULT,
                                bytes_to_units_cb, units_to_bytes_cb,
                                g_memdup2 (&unit_bytes, sizeof unit_bytes), g_free);
}
