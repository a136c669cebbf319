/* atlas-format.c — numbers as a person reads them. */
#include "atlas-format.h"

#include <glib/gi18n.h>

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
