/* atlas-tracker-auth.h — the tracker's bearer tokens and roles.
 *
 * A token is 32 random bytes in unpadded base64url. The tracker keeps only
 * the SHA-256 of each token, so a copy of its database lets nobody in.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  ATLAS_TRACKER_ROLE_DOWNLOADER, /* reads the index and joins swarms */
  ATLAS_TRACKER_ROLE_UPLOADER,   /* and publishes, and deletes its own entries */
  ATLAS_TRACKER_ROLE_ADMIN,      /* everything */
} AtlasTrackerRole;

/* "admin", "uploader", "downloader". */
const char *atlas_tracker_role_to_string (AtlasTrackerRole role);
gboolean atlas_tracker_role_from_string (const char *text, AtlasTrackerRole *role);

/* A token as the store knows it: never the token itself. */
typedef struct
{
  gint64 id;
  char *name;
  AtlasTrackerRole role;
  gint64 created; /* Unix time */
  gboolean revoked;
} AtlasTrackerToken;

AtlasTrackerToken *atlas_tracker_token_copy (const AtlasTrackerToken *token);
void atlas_tracker_token_free (AtlasTrackerToken *token);

/* A new random token, 43 characters of base64url. */
char *atlas_tracker_token_generate (void);
/* Lower-case hex SHA-256 of @token: what the store keeps and looks up. */
char *atlas_tracker_token_hash (const char *token);
/* The token of an "Authorization: Bearer TOKEN" header value, or NULL. */
char *atlas_tracker_bearer_token (const char *authorization);
/* Token names: 1..64 of [A-Za-z0-9._-]. */
gboolean atlas_tracker_token_name_is_valid (const char *name);
/* Compares without an early exit, so timing does not reveal a prefix. */
gboolean atlas_tracker_constant_time_equal (const char *a, const char *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasTrackerToken, atlas_tracker_token_free)

G_END_DECLS
