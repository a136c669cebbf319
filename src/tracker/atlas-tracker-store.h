/* atlas-tracker-store.h — the tracker's SQLite database: tokens, published
 * entries with their Metalinks, and who may see private entries.
 *
 * Swarms are not stored: they live in memory (atlas-tracker-hub.h).
 */
#pragma once

#include "atlas-tracker-auth.h"

G_BEGIN_DECLS

typedef struct _AtlasTrackerStore AtlasTrackerStore;

typedef struct
{
  gint64 id;
  char *name;
  char *version;
  char *description;
  char *entry; /* lower-case hex SHA-256 of the file */
  gint64 size;
  gint64 piece_length;
  guint32 piece_count;
  gboolean is_private;
  gint64 uploader; /* token id */
  gint64 created;  /* Unix time */
} AtlasTrackerIndexEntry;

void atlas_tracker_index_entry_free (AtlasTrackerIndexEntry *entry);

/* Opens or creates the database at @path (WAL mode, schema upgraded). */
AtlasTrackerStore *atlas_tracker_store_open (const char *path, GError **error);
void atlas_tracker_store_free (AtlasTrackerStore *store);

/* Tokens. @hash is atlas_tracker_token_hash () of the secret. Adding a name
 * that exists fails with ATLAS_ERROR_EXISTS. */
gboolean atlas_tracker_store_add_token (AtlasTrackerStore *store, const char *name,
                                        AtlasTrackerRole role, const char *hash, GError **error);
/* All tokens, revoked ones too, by name: AtlasTrackerToken*. */
GPtrArray *atlas_tracker_store_list_tokens (AtlasTrackerStore *store, GError **error);
/* ATLAS_ERROR_NOT_FOUND when no live token has that name. */
gboolean atlas_tracker_store_revoke_token (AtlasTrackerStore *store, const char *name,
                                           GError **error);
/* The live token whose hash is @hash, or NULL (no error) if none. */
AtlasTrackerToken *atlas_tracker_store_lookup_token (AtlasTrackerStore *store, const char *hash,
                                                     GError **error);

/* Whether the token with this id exists and is not revoked. */
gboolean atlas_tracker_store_token_is_live (AtlasTrackerStore *store, gint64 id, GError **error);

/* Entries. @entry's id and created are set on success. @allowed holds token
 * names; an unknown one fails with ATLAS_ERROR_NOT_FOUND, a taken
 * name+version with ATLAS_ERROR_EXISTS, and nothing is stored. */
gboolean atlas_tracker_store_add_entry (AtlasTrackerStore *store, AtlasTrackerIndexEntry *entry,
                                        const char *metalink, gsize metalink_length,
                                        const char *const *allowed, GError **error);
/* The entry if @viewer may see it, else NULL without error. */
AtlasTrackerIndexEntry *atlas_tracker_store_get_entry (AtlasTrackerStore *store, gint64 id,
                                                       const AtlasTrackerToken *viewer,
                                                       GError **error);
/* The Metalink XML of an entry @viewer may see, or NULL without error. */
GBytes *atlas_tracker_store_get_metalink (AtlasTrackerStore *store, gint64 id,
                                          const AtlasTrackerToken *viewer, GError **error);
/* Entries @viewer may see: @query a case-insensitive substring of name or
 * description, @name an exact name (either may be NULL); by name, then most
 * recently published first. @total is the count without limit and offset. */
GPtrArray *atlas_tracker_store_list_entries (AtlasTrackerStore *store,
                                             const AtlasTrackerToken *viewer, const char *query,
                                             const char *name, guint limit, guint offset,
                                             guint *total, GError **error);
gboolean atlas_tracker_store_delete_entry (AtlasTrackerStore *store, gint64 id, GError **error);
/* Whether @viewer may see some entry of the file @entry_hex; its piece count then. */
gboolean atlas_tracker_store_file_visible (AtlasTrackerStore *store, const char *entry_hex,
                                           const AtlasTrackerToken *viewer, guint32 *piece_count,
                                           GError **error);
gint64 atlas_tracker_store_count_entries (AtlasTrackerStore *store);
/* The newest entry of the file @entry_hex that @viewer may see, or NULL
 * without error if none. */
AtlasTrackerIndexEntry *atlas_tracker_store_find_file (AtlasTrackerStore *store,
                                                       const char *entry_hex,
                                                       const AtlasTrackerToken *viewer,
                                                       GError **error);
/* Up to @limit entries published with the token named @publisher that @viewer
 * may see, newest first (for donors who support a publisher). */
GPtrArray *atlas_tracker_store_list_by_publisher (AtlasTrackerStore *store,
                                                  const AtlasTrackerToken *viewer,
                                                  const char *publisher, guint limit,
                                                  GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasTrackerStore, atlas_tracker_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasTrackerIndexEntry, atlas_tracker_index_entry_free)

G_END_DECLS
