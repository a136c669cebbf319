/* atlas-cli-entry.c — the tracker's index seen from the command line: where
 * the tracker and the token come from, "NAME[@VERSION]" arguments, and fetching
 * an entry's Metalink for `atlas get`.
 *
 * The token is read from $ATLAS_TRACKER_TOKEN when --token is not given, which
 * is the form the documentation recommends: a command line is visible to every
 * user of the machine through ps.
 */

#include "atlas-config.h"

#include <string.h>

#include "atlas-cli.h"
#include "atlas-tracker-client.h"

/* The tracker's rules for entry names (tracker-api.md). */
#define MAX_NAME 128
#define MAX_VERSION 64

static const char *
option_or_env (const char *option, const char *variable)
{
  const char *value;

  if (option != NULL && *option != '\0')
    return option;
  value = g_getenv (variable);
  return value != NULL && *value != '\0' ? value : NULL;
}

const char *
atlas_cli_tracker_url (const char *option)
{
  return option_or_env (option, "ATLAS_TRACKER_URL");
}

const char *
atlas_cli_tracker_token (const char *option)
{
  return option_or_env (option, "ATLAS_TRACKER_TOKEN");
}

gboolean
atlas_cli_entry_name_is_valid (const char *name)
{
  gsize length = strlen (name);

  if (length == 0 || length > MAX_NAME)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("._+-", *p) == NULL)
      return FALSE;
  return TRUE;
}

gboolean
atlas_cli_entry_parse (const char *spec, char **name, char **version, GError **error)
{
  const char *at = strchr (spec, '@');
  g_autofree char *n = at != NULL ? g_strndup (spec, at - spec) : g_strdup (spec);
  g_autofree char *v = at != NULL ? g_strdup (at + 1) : NULL;

  if (!atlas_cli_entry_name_is_valid (n))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "'%s' is not an index entry name (1 to %d letters, digits and . _ + -)", n,
                   MAX_NAME);
      return FALSE;
    }
  if (v != NULL
      && (*v == '\0' || strlen (v) > MAX_VERSION || !g_utf8_validate (v, -1, NULL)
          || strchr (v, '@') != NULL))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INVALID_INPUT,
                   "'%s' is not a version (1 to %d characters after the @)", v, MAX_VERSION);
      return FALSE;
    }

  *name = g_steal_pointer (&n);
  *version = g_steal_pointer (&v);
  return TRUE;
}

gboolean
atlas_cli_is_entry_argument (const char *arg)
{
  if (atlas_url_is_supported (arg) || atlas_cli_is_metalink_path (arg))
    return FALSE;
  if (g_uri_peek_scheme (arg) != NULL && strstr (arg, "://") != NULL)
    return FALSE;
  return !g_file_test (arg, G_FILE_TEST_EXISTS);
}

AtlasMetalink *
atlas_cli_entry_fetch_metalink (const char *tracker_url, const char *token, const char *ca_file,
                                const char *spec, GError **error)
{
  g_autoptr (AtlasTrackerClient) client = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) xml = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *version = NULL;
  AtlasMetalink *metalink;
  const char *data;
  gsize size = 0;

  if (!atlas_cli_entry_parse (spec, &name, &version, error))
    return NULL;
  if (token == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "looking up '%s' on the tracker needs a token: set ATLAS_TRACKER_TOKEN "
                   "(or --token)",
                   spec);
      return NULL;
    }

  client = atlas_tracker_client_new (tracker_url, token, ca_file);
  atlas_tracker_client_find_async (client, name, version, atlas_cli_interrupt_cancellable (),
                                   atlas_cli_store_result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);

  xml = atlas_tracker_client_find_finish (client, result, &local_error);
  if (xml == NULL)
    {
      if (g_error_matches (local_error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND))
        {
          if (version != NULL)
            g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND,
                         "no entry named '%s' with version '%s' on the tracker %s", name, version,
                         tracker_url);
          else
            g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND,
                         "no entry named '%s' on the tracker %s", name, tracker_url);
        }
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                    "cannot look up '%s' on the tracker %s: ", spec, tracker_url);
      return NULL;
    }

  data = g_bytes_get_data (xml, &size);
  metalink = atlas_metalink_parse (data != NULL ? data : "", size, &local_error);
  if (metalink == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                "the tracker's Metalink for '%s' is not valid: ", spec);
  return metalink;
}
