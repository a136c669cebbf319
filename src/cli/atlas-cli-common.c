/* atlas-cli-common.c — parsing, formatting, errors and session helpers shared
 * by the subcommands of `atlas`. */

#include "atlas-config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "atlas-cli.h"

/* ---- exit codes ---- */

AtlasCliExit
atlas_cli_exit_code_for_error (const GError *error)
{
  if (error == NULL)
    return ATLAS_CLI_EXIT_OK;

  if (error->domain == ATLAS_ERROR)
    {
      switch ((AtlasError) error->code)
        {
        case ATLAS_ERROR_INVALID_INPUT:
        case ATLAS_ERROR_UNSAFE_INPUT:
        case ATLAS_ERROR_NOT_FOUND:
          return ATLAS_CLI_EXIT_INVALID_INPUT;
        case ATLAS_ERROR_HASH_MISMATCH:
          return ATLAS_CLI_EXIT_VERIFY;
        case ATLAS_ERROR_DISK_FULL:
        case ATLAS_ERROR_IO:
        case ATLAS_ERROR_STORE:
          return ATLAS_CLI_EXIT_IO;
        case ATLAS_ERROR_BUSY:
          return ATLAS_CLI_EXIT_BUSY;
        case ATLAS_ERROR_CANCELLED:
          return ATLAS_CLI_EXIT_INTERRUPTED;
        case ATLAS_ERROR_FAILED:
        case ATLAS_ERROR_NETWORK:
        case ATLAS_ERROR_MIRROR_REJECTED:
        case ATLAS_ERROR_NO_SOURCES:
        default:
          return ATLAS_CLI_EXIT_FAILED;
        }
    }

  if (error->domain == G_OPTION_ERROR)
    return ATLAS_CLI_EXIT_USAGE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return ATLAS_CLI_EXIT_INTERRUPTED;
  if (error->domain == G_IO_ERROR || error->domain == G_FILE_ERROR)
    return ATLAS_CLI_EXIT_IO;
  if (error->domain == G_MARKUP_ERROR || error->domain == G_CONVERT_ERROR)
    return ATLAS_CLI_EXIT_INVALID_INPUT;

  return ATLAS_CLI_EXIT_FAILED;
}

/* AtlasDownload only exposes its error as text (there is no code), so the
 * class of failure is recovered from the words the engine uses. This is the
 * only place that does so; it goes away once the download exposes a GError. */
AtlasCliExit
atlas_cli_exit_code_for_download (AtlasDownload *download)
{
  const char *message = atlas_download_get_error_message (download);
  g_autofree char *lower = NULL;

  if (atlas_download_get_state (download) == ATLAS_DOWNLOAD_COMPLETE)
    return ATLAS_CLI_EXIT_OK;
  /* The engine's code classes local failures whatever their wording: a .part
   * file deleted underneath says "No such file or directory", which the words
   * below would take for a network failure (exit 1, "check the network"). */
  switch (atlas_download_get_error_code (download))
    {
    case ATLAS_ERROR_DISK_FULL:
    case ATLAS_ERROR_IO:
    case ATLAS_ERROR_STORE:
      return ATLAS_CLI_EXIT_IO;
    case ATLAS_ERROR_HASH_MISMATCH:
      return ATLAS_CLI_EXIT_VERIFY;
    default:
      break;
    }
  if (message == NULL)
    return ATLAS_CLI_EXIT_FAILED;

  lower = g_ascii_strdown (message, -1);
  if (strstr (lower, "mismatch") != NULL || strstr (lower, "does not match") != NULL)
    return ATLAS_CLI_EXIT_VERIFY;
  if (strstr (lower, "no space") != NULL || strstr (lower, "disk full") != NULL
      || strstr (lower, "permission denied") != NULL
      || strstr (lower, "read-only file system") != NULL || strstr (lower, "quota") != NULL)
    return ATLAS_CLI_EXIT_IO;

  return ATLAS_CLI_EXIT_FAILED;
}

const char *
atlas_cli_error_hint (const GError *error)
{
  if (error == NULL)
    return NULL;

  if (error->domain == ATLAS_ERROR)
    {
      switch ((AtlasError) error->code)
        {
        case ATLAS_ERROR_INVALID_INPUT:
          return "Check the file or value and try again";
        case ATLAS_ERROR_UNSAFE_INPUT:
          return "The input was refused as unsafe; get it from a trusted source";
        case ATLAS_ERROR_NETWORK:
        case ATLAS_ERROR_MIRROR_REJECTED:
        case ATLAS_ERROR_NO_SOURCES:
          return "Check the network and the URLs, or add mirrors with -m URL";
        case ATLAS_ERROR_HASH_MISMATCH:
          return "The data is not what was expected; check the checksum or try other mirrors";
        case ATLAS_ERROR_DISK_FULL:
          return "Free some space or choose another folder with -d DIR";
        case ATLAS_ERROR_IO:
          return "Check the folder's permissions and free space";
        case ATLAS_ERROR_STORE:
          return "The queue file may be damaged; try --queue-file PATH or --no-queue";
        case ATLAS_ERROR_BUSY:
          return "another Download Atlas process owns the queue; use it, or wait";
        case ATLAS_ERROR_NOT_FOUND:
          return "Run 'atlas list' to see the queue";
        case ATLAS_ERROR_FAILED:
        case ATLAS_ERROR_CANCELLED:
        default:
          return NULL;
        }
    }

  if (error->domain == G_FILE_ERROR || error->domain == G_IO_ERROR)
    return "Check the path and its permissions";

  return NULL;
}

/* ---- messages ---- */

void
atlas_cli_error (const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  fflush (stdout);
  fprintf (stderr, "atlas: %s\n", text);
}

void
atlas_cli_warning (const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  fflush (stdout);
  fprintf (stderr, "atlas: warning: %s\n", text);
}

/* Engine messages may or may not end with a full stop; avoid printing two. */
static char *
strip_full_stop (const char *message)
{
  char *copy = g_strdup (message != NULL ? message : "unknown error");
  gsize len = strlen (copy);

  while (len > 0 && (copy[len - 1] == '.' || g_ascii_isspace (copy[len - 1])))
    copy[--len] = '\0';
  return copy;
}

int
atlas_cli_report_error (const GError *error, const char *context_format, ...)
{
  g_autofree char *context = NULL;
  g_autofree char *message = strip_full_stop (error != NULL ? error->message : NULL);
  const char *hint = atlas_cli_error_hint (error);
  va_list args;

  va_start (args, context_format);
  context = g_strdup_vprintf (context_format, args);
  va_end (args);

  if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_BUSY))
    {
      /* The engine names the owner; the hint goes on its own line so
       * scripts that grep for the owner still find it on the first. */
      atlas_cli_error ("%s: %s.", context, message);
      fprintf (stderr, "atlas: %s.\n", hint);
    }
  else if (hint != NULL)
    atlas_cli_error ("%s: %s. %s.", context, message, hint);
  else
    atlas_cli_error ("%s: %s.", context, message);

  return atlas_cli_exit_code_for_error (error);
}

int
atlas_cli_usage_error (const char *command, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  atlas_cli_error ("%s", text);
  if (command != NULL)
    fprintf (stderr, "Run 'atlas help %s' for usage.\n", command);
  else
    fprintf (stderr, "Run 'atlas --help' for usage.\n");
  return ATLAS_CLI_EXIT_USAGE;
}

/* ---- parsing ---- */

gboolean
atlas_cli_parse_rate (const char *text, guint64 *bytes_per_second, GError **error)
{
  g_autofree char *copy = NULL;
  char *end = NULL;
  double value;
  double multiplier = 1;
  gsize len;

  g_return_val_if_fail (text != NULL, FALSE);

  copy = g_strstrip (g_strdup (text));
  len = strlen (copy);

  /* Accept the ways people write rates: "20M", "20MiB", "20MB/s", "20m". */
  if (len >= 2 && g_ascii_strcasecmp (copy + len - 2, "/s") == 0)
    copy[len -= 2] = '\0';
  if (len >= 1 && (copy[len - 1] == 'B' || copy[len - 1] == 'b'))
    copy[--len] = '\0';
  if (len >= 1 && (copy[len - 1] == 'i' || copy[len - 1] == 'I'))
    copy[--len] = '\0';

  if (len >= 1)
    {
      switch (g_ascii_toupper (copy[len - 1]))
        {
        case 'K':
          multiplier = 1024.0;
          break;
        case 'M':
          multiplier = 1024.0 * 1024;
          break;
        case 'G':
          multiplier = 1024.0 * 1024 * 1024;
          break;
        case 'T':
          multiplier = 1024.0 * 1024 * 1024 * 1024;
          break;
        default:
          break;
        }
      if (multiplier != 1)
        copy[--len] = '\0';
    }

  if (len == 0 || !(g_ascii_isdigit (copy[0]) || copy[0] == '.'))
    goto invalid;

  errno = 0;
  value = g_ascii_strtod (copy, &end);
  if (errno != 0 || end == copy || *end != '\0' || value < 0)
    goto invalid;

  value *= multiplier;
  if (value >= 18446744073709551615.0)
    goto invalid;

  *bytes_per_second = (guint64) (value + 0.5);
  return TRUE;

invalid:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "'%s' is not a rate; write bytes per second like 500K, 20M, 1G or 1048576", text);
  return FALSE;
}

gboolean
atlas_cli_parse_count (const char *option, int value, guint *out, GError **error)
{
  if (value <= 0 || value > 1000)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s needs a number from 1 to 1000, not %d", option, value);
      return FALSE;
    }
  *out = (guint) value;
  return TRUE;
}

gboolean
atlas_cli_parse_id (const char *text, guint64 *id, GError **error)
{
  guint64 value = 0;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT64, &value, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "'%s' is not a download id (see the first column of 'atlas list')", text);
      return FALSE;
    }
  *id = value;
  return TRUE;
}

/* ---- formatting ---- */

char *
atlas_cli_format_size (guint64 bytes)
{
  return g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
}

char *
atlas_cli_format_speed (guint64 bytes_per_second)
{
  g_autofree char *size = atlas_cli_format_size (bytes_per_second);

  return g_strconcat (size, "/s", NULL);
}

char *
atlas_cli_format_eta (gint64 seconds)
{
  if (seconds < 0)
    return g_strdup ("--:--");
  if (seconds >= 100 * 3600)
    return g_strdup (">99h");
  if (seconds >= 3600)
    return g_strdup_printf ("%dh%02dm", (int) (seconds / 3600), (int) (seconds % 3600 / 60));
  if (seconds >= 60)
    return g_strdup_printf ("%dm%02ds", (int) (seconds / 60), (int) (seconds % 60));
  return g_strdup_printf ("%ds", (int) seconds);
}

void
atlas_cli_json_append_string (GString *out, const char *text)
{
  const char *p;

  if (text == NULL)
    {
      g_string_append (out, "null");
      return;
    }

  g_string_append_c (out, '"');
  for (p = text; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, (char) c);
        }
    }
  g_string_append_c (out, '"');
}

/* ---- interrupts ---- */

static struct
{
  GCancellable *cancellable;
  guint n_signals;
  GCallback handler;
  gpointer handler_data;
  gboolean installed;
} interrupt;

static gboolean
interrupt_cb (gpointer user_data)
{
  interrupt.n_signals++;

  if (interrupt.n_signals > 1)
    {
      /* Verified pieces are durable before the queue says so, so leaving
       * now costs at most the pieces in flight. */
      fflush (stdout);
      fprintf (stderr, "\natlas: interrupted again; exiting without waiting for the queue.\n");
      _exit (ATLAS_CLI_EXIT_INTERRUPTED);
    }

  g_cancellable_cancel (interrupt.cancellable);
  if (interrupt.handler != NULL)
    ((void (*) (gpointer)) interrupt.handler) (interrupt.handler_data);

  return G_SOURCE_CONTINUE;
}

void
atlas_cli_interrupt_install (void)
{
  if (interrupt.installed)
    return;

  interrupt.installed = TRUE;
  interrupt.cancellable = g_cancellable_new ();
  g_unix_signal_add (SIGINT, interrupt_cb, NULL);
  g_unix_signal_add (SIGTERM, interrupt_cb, NULL);
}

gboolean
atlas_cli_interrupted (void)
{
  return interrupt.n_signals > 0;
}

GCancellable *
atlas_cli_interrupt_cancellable (void)
{
  return interrupt.cancellable;
}

void
atlas_cli_interrupt_set_handler (GCallback handler, gpointer user_data)
{
  interrupt.handler = handler;
  interrupt.handler_data = user_data;
}

/* ---- sessions ---- */

char *
atlas_cli_queue_path (const char *option_value)
{
  const char *env;

  if (option_value != NULL && *option_value != '\0')
    return g_canonicalize_filename (option_value, NULL);

  env = g_getenv ("ATLAS_QUEUE_FILE");
  if (env != NULL && *env != '\0')
    return g_canonicalize_filename (env, NULL);

  return atlas_session_default_store_path ();
}

void
atlas_cli_store_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

AtlasSession *
atlas_cli_session_open (const char *store_path, AtlasSettings *settings, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  if (store_path != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (store_path);

      /* A first run has no data directory yet. */
      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                       "cannot create the folder '%s': %s", dir, g_strerror (saved_errno));
          return NULL;
        }
    }

  atlas_session_open_async (store_path, settings, atlas_cli_interrupt_cancellable (),
                            atlas_cli_store_result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);

  return atlas_session_open_finish (result, error);
}

gboolean
atlas_cli_session_close (AtlasSession *session, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  /* Not cancellable: closing is what keeps progress after an interrupt. */
  atlas_session_close_async (session, NULL, atlas_cli_store_result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);

  return atlas_session_close_finish (session, result, error);
}

AtlasSession *
atlas_cli_open_queue (const char *store_path, AtlasSettings *settings, int *exit_code)
{
  g_autoptr (GError) error = NULL;
  AtlasSession *session;

  session = atlas_cli_session_open (store_path, settings, &error);
  if (session == NULL)
    {
      if (store_path != NULL)
        *exit_code = atlas_cli_report_error (error, "cannot open the queue '%s'", store_path);
      else
        *exit_code = atlas_cli_report_error (error, "cannot start the download engine");
      if (atlas_cli_interrupted ())
        *exit_code = ATLAS_CLI_EXIT_INTERRUPTED;
    }
  return session;
}

/* ---- inputs ---- */

AtlasMetalink *
atlas_cli_load_metalink (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize length = 0;
  AtlasMetalink *metalink;

  if (!g_file_get_contents (path, &data, &length, &local_error))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "cannot read Metalink '%s': ", path);
      return NULL;
    }

  /* The parser itself refuses a document without any <file>. */
  metalink = atlas_metalink_parse (data, length, &local_error);
  if (metalink == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                "cannot read Metalink '%s': ", path);
  return metalink;
}

GPtrArray *
atlas_cli_load_sums (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize length = 0;
  GPtrArray *entries;

  if (!g_file_get_contents (path, &data, &length, &local_error))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "cannot read checksum file '%s': ", path);
      return NULL;
    }

  entries = atlas_sums_parse (data, length, ATLAS_HASH_NONE, &local_error);
  if (entries == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                "cannot read checksum file '%s': ", path);
  return entries;
}

gboolean
atlas_cli_is_metalink_path (const char *arg)
{
  if (g_uri_peek_scheme (arg) != NULL && strstr (arg, "://") != NULL)
    return FALSE;
  return g_str_has_suffix (arg, ".meta4") || g_str_has_suffix (arg, ".metalink");
}

gboolean
atlas_cli_apply_settings (AtlasSettings *settings, int max_per_server, int max_per_download,
                          int max_concurrent, const char *limit, const char *ca_file,
                          GError **error)
{
  guint count;

  if (max_per_server != 0)
    {
      if (!atlas_cli_parse_count ("--max-connections-per-server", max_per_server, &count, error))
        return FALSE;
      atlas_settings_set_max_connections_per_server (settings, count);
    }
  if (max_per_download != 0)
    {
      if (!atlas_cli_parse_count ("--max-connections", max_per_download, &count, error))
        return FALSE;
      atlas_settings_set_max_connections_per_download (settings, count);
    }
  if (max_concurrent != 0)
    {
      if (!atlas_cli_parse_count ("--max-concurrent", max_concurrent, &count, error))
        return FALSE;
      atlas_settings_set_max_concurrent_downloads (settings, count);
    }
  if (limit != NULL)
    {
      guint64 rate = 0;

      if (!atlas_cli_parse_rate (limit, &rate, error))
        return FALSE;
      atlas_settings_set_global_speed_limit (settings, rate);
    }
  if (ca_file != NULL)
    {
      g_autofree char *absolute = g_canonicalize_filename (ca_file, NULL);

      /* Checked here so a typo is a clear usage error, not a TLS failure later. */
      if (!g_file_test (absolute, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--ca-file '%s' is not a readable file", ca_file);
          return FALSE;
        }
      atlas_settings_set_ca_file (settings, absolute);
    }
  return TRUE;
}
