/* atlas-tracker-auth.c — bearer tokens: generation, hashing, header parsing. */
#include "atlas-tracker-auth.h"

#include "atlas-hash.h"

#include <gnutls/crypto.h>
#include <string.h>

#define TOKEN_BYTES 32

static const char *const role_names[] = {
  [ATLAS_TRACKER_ROLE_DOWNLOADER] = "downloader",
  [ATLAS_TRACKER_ROLE_UPLOADER] = "uploader",
  [ATLAS_TRACKER_ROLE_ADMIN] = "admin",
};

const char *
atlas_tracker_role_to_string (AtlasTrackerRole role)
{
  g_return_val_if_fail (role <= ATLAS_TRACKER_ROLE_ADMIN, NULL);
  return role_names[role];
}

gboolean
atlas_tracker_role_from_string (const char *text, AtlasTrackerRole *role)
{
  for (guint i = 0; i < G_N_ELEMENTS (role_names); i++)
    if (g_strcmp0 (text, role_names[i]) == 0)
      {
        *role = i;
        return TRUE;
      }
  return FALSE;
}

AtlasTrackerToken *
atlas_tracker_token_copy (const AtlasTrackerToken *token)
{
  AtlasTrackerToken *copy = g_new0 (AtlasTrackerToken, 1);

  *copy = *token;
  copy->name = g_strdup (token->name);
  return copy;
}

void
atlas_tracker_token_free (AtlasTrackerToken *token)
{
  if (token == NULL)
    return;
  g_free (token->name);
  g_free (token);
}

char *
atlas_tracker_token_generate (void)
{
  guint8 random[TOKEN_BYTES];
  g_autofree char *text = NULL;
  int rc;

  /* GNUTLS_RND_KEY: the token is a long-lived secret. */
  rc = gnutls_rnd (GNUTLS_RND_KEY, random, sizeof random);
  if (rc < 0)
    g_error ("gnutls_rnd failed: %s", gnutls_strerror (rc));

  text = g_base64_encode (random, sizeof random);
  g_strdelimit (text, "+", '-');
  g_strdelimit (text, "/", '_');
  *strchr (text, '=') = '\0';
  return g_steal_pointer (&text);
}

char *
atlas_tracker_token_hash (const char *token)
{
  guint8 digest[32];

  atlas_hash_buffer (ATLAS_HASH_SHA256, token, strlen (token), digest);
  return atlas_hex_encode (digest, sizeof digest);
}

char *
atlas_tracker_bearer_token (const char *authorization)
{
  const char *token;

  if (authorization == NULL || g_ascii_strncasecmp (authorization, "Bearer ", 7) != 0)
    return NULL;
  token = authorization + 7;
  while (*token == ' ')
    token++;
  if (*token == '\0' || strlen (token) > 256)
    return NULL;
  return g_strchomp (g_strdup (token));
}

gboolean
atlas_tracker_token_name_is_valid (const char *name)
{
  gsize length = name != NULL ? strlen (name) : 0;

  if (length == 0 || length > 64)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '.' && name[i] != '_' && name[i] != '-')
      return FALSE;
  return TRUE;
}

gboolean
atlas_tracker_constant_time_equal (const char *a, const char *b)
{
  gsize length_a = strlen (a);
  gsize length_b = strlen (b);
  guint8 difference = length_a != length_b;

  for (gsize i = 0; i < length_a; i++)
    difference |= (guint8) a[i] ^ (guint8) b[i % MAX (length_b, 1)];
  return difference == 0;
}
