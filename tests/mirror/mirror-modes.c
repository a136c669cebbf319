/* mirror-modes.c: parsing of the "/<modes>/" path prefix and the per-modes
 * shared state.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "mirror.h"

#include <gio/gio.h>
#include <string.h>

static gboolean
parse_number (const char *key, const char *value, gboolean allow_suffix, guint64 *out,
              GError **error)
{
  if (value == NULL || !mirror_parse_size (value, allow_suffix, out))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "mode %s needs a number, got '%s'", key, value != NULL ? value : "");
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_corrupt (const char *value, MirrorModes *modes, GError **error)
{
  MirrorSpan span;
  const char *dash;
  g_autofree char *first = NULL;

  if (modes->n_corrupt == MIRROR_MAX_CORRUPT)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "at most %d corrupt= modes",
                   MIRROR_MAX_CORRUPT);
      return FALSE;
    }

  if (g_strcmp0 (value, "all") == 0)
    {
      span.first = 0;
      span.last = G_MAXUINT64;
    }
  else
    {
      dash = value != NULL ? strchr (value, '-') : NULL;
      if (dash == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "corrupt= needs A-B or all");
          return FALSE;
        }
      first = g_strndup (value, dash - value);
      if (!mirror_parse_size (first, FALSE, &span.first)
          || !mirror_parse_size (dash + 1, FALSE, &span.last) || span.last < span.first)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad corrupt= range '%s'",
                       value);
          return FALSE;
        }
    }

  modes->corrupt[modes->n_corrupt++] = span;
  return TRUE;
}

static gboolean
parse_redirect (const char *value, MirrorModes *modes, GError **error)
{
  if (value == NULL || *value == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "redirect= needs loop, scheme or a target");
      return FALSE;
    }

  if (strcmp (value, "loop") == 0)
    modes->redirect = MIRROR_REDIRECT_LOOP;
  else if (strcmp (value, "scheme") == 0)
    modes->redirect = MIRROR_REDIRECT_SCHEME;
  else
    {
      modes->redirect = MIRROR_REDIRECT_PATH;
      g_free (modes->redirect_target);
      modes->redirect_target = g_strdup (value);
    }
  return TRUE;
}

static gboolean
parse_one_mode (const char *token, MirrorModes *modes, GError **error)
{
  g_autofree char *decoded = g_uri_unescape_string (token, NULL);
  char *value;
  guint64 n;

  /* A %00 or a broken escape makes the whole request a bad one. */
  if (decoded == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad escape in mode '%s'",
                   token);
      return FALSE;
    }

  value = strchr (decoded, '=');
  if (value != NULL)
    *value++ = '\0';

  if (strcmp (decoded, "norange") == 0 && value == NULL)
    modes->norange = TRUE;
  else if (strcmp (decoded, "noetag") == 0 && value == NULL)
    modes->noetag = TRUE;
  else if (strcmp (decoded, "rate") == 0)
    {
      if (!parse_number (decoded, value, TRUE, &modes->rate, error))
        return FALSE;
      if (modes->rate == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "rate= must be positive");
          return FALSE;
        }
    }
  else if (strcmp (decoded, "stall") == 0)
    {
      modes->has_stall = TRUE;
      return parse_number (decoded, value, TRUE, &modes->stall_after, error);
    }
  else if (strcmp (decoded, "reset") == 0)
    {
      modes->has_reset = TRUE;
      return parse_number (decoded, value, TRUE, &modes->reset_after, error);
    }
  else if (strcmp (decoded, "status") == 0)
    {
      if (!parse_number (decoded, value, FALSE, &n, error))
        return FALSE;
      if (n < 100 || n > 599)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "status= must be 100..599");
          return FALSE;
        }
      modes->status = n;
    }
  else if (strcmp (decoded, "change") == 0)
    {
      if (!parse_number (decoded, value, FALSE, &modes->change_after, error))
        return FALSE;
      /* change=0 means "changed from the first request on". */
      if (modes->change_after == 0)
        modes->change_after = G_MAXUINT64;
    }
  else if (strcmp (decoded, "corrupt") == 0)
    return parse_corrupt (value, modes, error);
  else if (strcmp (decoded, "liesize") == 0)
    {
      modes->has_liesize = TRUE;
      return parse_number (decoded, value, TRUE, &modes->liesize, error);
    }
  else if (strcmp (decoded, "redirect") == 0)
    return parse_redirect (value, modes, error);
  else if (strcmp (decoded, "delay") == 0)
    {
      if (!parse_number (decoded, value, FALSE, &n, error))
        return FALSE;
      modes->delay_ms = MIN (n, 600000);
    }
  else if (strcmp (decoded, "drop") == 0)
    {
      if (!parse_number (decoded, value, FALSE, &modes->drop_every, error))
        return FALSE;
    }
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unknown mode '%s'", token);
      return FALSE;
    }

  return TRUE;
}

/* Parses a raw (still percent-encoded) modes segment.  "-" is the
 * well-behaved mirror. */
gboolean
mirror_modes_parse (const char *text, MirrorModes *modes, GError **error)
{
  g_auto (GStrv) tokens = NULL;

  memset (modes, 0, sizeof *modes);

  if (strcmp (text, "-") == 0)
    return TRUE;

  /* Split before decoding so that an escaped comma (%2C) inside a value,
   * such as a redirect target, does not start a new mode. */
  tokens = g_strsplit (text, ",", -1);
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      if (tokens[i][0] == '\0')
        continue;
      if (!parse_one_mode (tokens[i], modes, error))
        {
          mirror_modes_clear (modes);
          return FALSE;
        }
    }
  return TRUE;
}

void
mirror_modes_clear (MirrorModes *modes)
{
  g_clear_pointer (&modes->redirect_target, g_free);
}

/* Profiles live for the whole run: the set of modes strings a test uses is
 * small, and a request may still hold a profile when another one arrives. */
static GMutex profiles_lock;
static GHashTable *profiles;

MirrorProfile *
mirror_profile_lookup (const char *key, GError **error)
{
  MirrorProfile *profile;
  MirrorModes modes;

  g_mutex_lock (&profiles_lock);
  if (profiles == NULL)
    profiles = g_hash_table_new (g_str_hash, g_str_equal);
  profile = g_hash_table_lookup (profiles, key);
  g_mutex_unlock (&profiles_lock);
  if (profile != NULL)
    return profile;

  if (!mirror_modes_parse (key, &modes, error))
    return NULL;

  g_mutex_lock (&profiles_lock);
  /* Another connection may have created it meanwhile; keep the first one
   * so that both share one bucket and one request counter. */
  profile = g_hash_table_lookup (profiles, key);
  if (profile == NULL)
    {
      profile = g_new0 (MirrorProfile, 1);
      profile->key = g_strdup (key);
      profile->modes = modes;
      if (modes.rate > 0)
        profile->bucket = mirror_bucket_new (modes.rate);
      g_hash_table_insert (profiles, profile->key, profile);
    }
  else
    mirror_modes_clear (&modes);
  g_mutex_unlock (&profiles_lock);

  return profile;
}
