/* atlas-tracker-store.c — the tracker's SQLite database.
 *
 * Unlike the engine, whose queue lives on a worker thread, the tracker calls
 * SQLite on its main thread: it is a small service whose queries are indexed
 * lookups on one local file, and serialising them on the main context keeps
 * every request's view of tokens and entries consistent without locks.
 * Statements are prepared once and kept; writes that touch several rows run in
 * one transaction.
 */
#include "atlas-tracker-store.h"

#include "atlas-error.h"

#include <sqlite3.h>
#include <string.h>

#define SCHEMA_VERSION 1

struct _AtlasTrackerStore
{
  sqlite3 *db;
  GHashTable *statements; /* SQL text -> sqlite3_stmt* */
};

static const char schema_v1[] =
    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('admin', 'uploader', 'downloader')),"
    "  hash TEXT NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE entries ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  description TEXT NOT NULL,"
    "  entry TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  piece_length INTEGER NOT NULL,"
    "  piece_count INTEGER NOT NULL,"
    "  private INTEGER NOT NULL,"
    "  uploader INTEGER NOT NULL REFERENCES tokens (id),"
    "  created INTEGER NOT NULL,"
    /* Last, so listing rows never walks the document's overflow pages. */
    "  metalink BLOB NOT NULL,"
    "  UNIQUE (name, version));"
    "CREATE INDEX entries_entry ON entries (entry);"
    "CREATE TABLE entry_access ("
    "  entry_id INTEGER NOT NULL REFERENCES entries (id) ON DELETE CASCADE,"
    "  token_id INTEGER NOT NULL REFERENCES tokens (id),"
    "  PRIMARY KEY (entry_id, token_id));";

/* Who may see an entry row "e": ?1 is the viewer's token id, ?2 1 for admins. */
#define VISIBLE                                                                                    \
  "(e.private = 0 OR ?2 = 1 OR e.uploader = ?1"                                                    \
  " OR EXISTS (SELECT 1 FROM entry_access a WHERE a.entry_id = e.id AND a.token_id = ?1))"

#define ENTRY_COLUMNS                                                                              \
  "e.id, e.name, e.version, e.description, e.entry, e.size, e.piece_length, e.piece_count,"        \
  " e.private, e.uploader, e.created"

static void
finalize_statement (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static gboolean
sqlite_error (AtlasTrackerStore *store, int rc, const char *what, GError **error)
{
  g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE, "%s: %s (SQLite %d)", what,
               store->db != NULL ? sqlite3_errmsg (store->db) : sqlite3_errstr (rc), rc);
  return FALSE;
}

/* A reset statement for @sql, prepared on first use and kept. */
static sqlite3_stmt *
statement (AtlasTrackerStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (store->statements, sql);
  int rc;

  if (stmt != NULL)
    {
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      return stmt;
    }
  rc = sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      sqlite_error (store, rc, "preparing a statement", error);
      return NULL;
    }
  g_hash_table_insert (store->statements, (gpointer) sql, stmt);
  return stmt;
}

static gboolean
exec (AtlasTrackerStore *store, const char *sql, GError **error)
{
  int rc = sqlite3_exec (store->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return sqlite_error (store, rc, sql, error);
  return TRUE;
}

/* Runs a statement that returns no rows. */
static gboolean
step_done (AtlasTrackerStore *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return sqlite_error (store, rc, what, error);
  return TRUE;
}

static void
bind_viewer (sqlite3_stmt *stmt, const AtlasTrackerToken *viewer)
{
  sqlite3_bind_int64 (stmt, 1, viewer->id);
  sqlite3_bind_int (stmt, 2, viewer->role == ATLAS_TRACKER_ROLE_ADMIN);
}

static gboolean
upgrade_schema (AtlasTrackerStore *store, GError **error)
{
  sqlite3_stmt *stmt;
  int version = 0;

  if (!exec (store, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", error))
    return FALSE;
  stmt = statement (store, "SELECT max(version) FROM schema_version", error);
  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int (stmt, 0);
  sqlite3_reset (stmt);

  if (version > SCHEMA_VERSION)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE,
                   "the database has schema version %d, newer than this tracker's %d", version,
                   SCHEMA_VERSION);
      return FALSE;
    }
  if (version == SCHEMA_VERSION)
    return TRUE;

  if (!exec (store, "BEGIN IMMEDIATE", error))
    return FALSE;
  if (!exec (store, schema_v1, error)
      || !exec (store, "INSERT INTO schema_version (version) VALUES (1)", error))
    {
      exec (store, "ROLLBACK", NULL);
      return FALSE;
    }
  return exec (store, "COMMIT", error);
}

AtlasTrackerStore *
atlas_tracker_store_open (const char *path, GError **error)
{
  g_autoptr (AtlasTrackerStore) store = g_new0 (AtlasTrackerStore, 1);
  int rc;

  store->statements = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, finalize_statement);
  rc = sqlite3_open_v2 (path, &store->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_STORE, "opening %s: %s (SQLite %d)", path,
                   store->db != NULL ? sqlite3_errmsg (store->db) : sqlite3_errstr (rc), rc);
      return NULL;
    }
  sqlite3_busy_timeout (store->db, 5000);
  sqlite3_extended_result_codes (store->db, 1);

  /* WAL lets `atlas-tracker token add` write while the service runs. */
  if (!exec (store, "PRAGMA journal_mode = WAL", error)
      || !exec (store, "PRAGMA synchronous = NORMAL", error)
      || !exec (store, "PRAGMA foreign_keys = ON", error) || !upgrade_schema (store, error))
    return NULL;
  return g_steal_pointer (&store);
}

void
atlas_tracker_store_free (AtlasTrackerStore *store)
{
  if (store == NULL)
    return;
  g_clear_pointer (&store->statements, g_hash_table_unref);
  sqlite3_close (store->db);
  g_free (store);
}

void
atlas_tracker_index_entry_free (AtlasTrackerIndexEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->name);
  g_free (entry->version);
  g_free (entry->description);
  g_free (entry->entry);
  g_free (entry);
}

/* Tokens */

gboolean
atlas_tracker_store_add_token (AtlasTrackerStore *store, const char *name, AtlasTrackerRole role,
                               const char *hash, GError **error)
{
  sqlite3_stmt *stmt = statement (
      store, "INSERT INTO tokens (name, role, hash, created) VALUES (?1, ?2, ?3, ?4)", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, atlas_tracker_role_to_string (role), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, g_get_real_time () / G_USEC_PER_SEC);
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc == SQLITE_CONSTRAINT_UNIQUE)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_EXISTS, "a token named “%s” exists", name);
      return FALSE;
    }
  if (rc != SQLITE_DONE)
    return sqlite_error (store, rc, "adding a token", error);
  return TRUE;
}

static AtlasTrackerToken *
token_from_row (sqlite3_stmt *stmt)
{
  AtlasTrackerToken *token = g_new0 (AtlasTrackerToken, 1);

  token->id = sqlite3_column_int64 (stmt, 0);
  token->name = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  if (!atlas_tracker_role_from_string ((const char *) sqlite3_column_text (stmt, 2), &token->role))
    token->role = ATLAS_TRACKER_ROLE_DOWNLOADER;
  token->created = sqlite3_column_int64 (stmt, 3);
  token->revoked = sqlite3_column_int (stmt, 4) != 0;
  return token;
}

GPtrArray *
atlas_tracker_store_list_tokens (AtlasTrackerStore *store, GError **error)
{
  sqlite3_stmt *stmt =
      statement (store, "SELECT id, name, role, created, revoked FROM tokens ORDER BY name", error);
  g_autoptr (GPtrArray) tokens =
      g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_tracker_token_free);
  int rc;

  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (tokens, token_from_row (stmt));
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      sqlite_error (store, rc, "listing tokens", error);
      return NULL;
    }
  return g_steal_pointer (&tokens);
}

gboolean
atlas_tracker_store_revoke_token (AtlasTrackerStore *store, const char *name, GError **error)
{
  sqlite3_stmt *stmt =
      statement (store, "UPDATE tokens SET revoked = 1 WHERE name = ?1 AND revoked = 0", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  if (!step_done (store, stmt, "revoking a token", error))
    return FALSE;
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND, "no live token named “%s”", name);
      return FALSE;
    }
  return TRUE;
}

AtlasTrackerToken *
atlas_tracker_store_lookup_token (AtlasTrackerStore *store, const char *hash, GError **error)
{
  sqlite3_stmt *stmt = statement (store,
                                  "SELECT id, name, role, created, revoked FROM tokens"
                                  " WHERE hash = ?1 AND revoked = 0",
                                  error);
  AtlasTrackerToken *token = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    token = token_from_row (stmt);
  else if (rc != SQLITE_DONE)
    sqlite_error (store, rc, "looking up a token", error);
  sqlite3_reset (stmt);
  return token;
}

gboolean
atlas_tracker_store_token_is_live (AtlasTrackerStore *store, gint64 id, GError **error)
{
  sqlite3_stmt *stmt =
      statement (store, "SELECT 1 FROM tokens WHERE id = ?1 AND revoked = 0", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return sqlite_error (store, rc, "looking up a token", error);
  return rc == SQLITE_ROW;
}

/* Entries */

static gboolean
find_token_id (AtlasTrackerStore *store, const char *name, gint64 *id, GError **error)
{
  sqlite3_stmt *stmt =
      statement (store, "SELECT id FROM tokens WHERE name = ?1 AND revoked = 0", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *id = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  if (rc == SQLITE_ROW)
    return TRUE;
  if (rc == SQLITE_DONE)
    g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NOT_FOUND, "no token named “%s”", name);
  else
    sqlite_error (store, rc, "looking up a token", error);
  return FALSE;
}

static gboolean
add_entry_rows (AtlasTrackerStore *store, AtlasTrackerIndexEntry *entry, const char *metalink,
                gsize metalink_length, const char *const *allowed, GError **error)
{
  sqlite3_stmt *stmt = statement (
      store,
      "INSERT INTO entries (name, version, description, entry, size, piece_length, piece_count,"
      " private, uploader, created, metalink) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
      "?11)",
      error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  entry->created = g_get_real_time () / G_USEC_PER_SEC;
  sqlite3_bind_text (stmt, 1, entry->name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, entry->version, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, entry->description, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, entry->entry, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, entry->size);
  sqlite3_bind_int64 (stmt, 6, entry->piece_length);
  sqlite3_bind_int64 (stmt, 7, entry->piece_count);
  sqlite3_bind_int (stmt, 8, entry->is_private);
  sqlite3_bind_int64 (stmt, 9, entry->uploader);
  sqlite3_bind_int64 (stmt, 10, entry->created);
  sqlite3_bind_blob64 (stmt, 11, metalink, metalink_length, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc == SQLITE_CONSTRAINT_UNIQUE)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_EXISTS, "“%s” version “%s” is already published",
                   entry->name, entry->version);
      return FALSE;
    }
  if (rc != SQLITE_DONE)
    return sqlite_error (store, rc, "adding an entry", error);
  entry->id = sqlite3_last_insert_rowid (store->db);

  for (guint i = 0; allowed != NULL && allowed[i] != NULL; i++)
    {
      gint64 token_id;

      if (!find_token_id (store, allowed[i], &token_id, error))
        return FALSE;
      stmt = statement (
          store, "INSERT OR IGNORE INTO entry_access (entry_id, token_id) VALUES (?1, ?2)", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, entry->id);
      sqlite3_bind_int64 (stmt, 2, token_id);
      if (!step_done (store, stmt, "granting access", error))
        return FALSE;
    }
  return TRUE;
}

gboolean
atlas_tracker_store_add_entry (AtlasTrackerStore *store, AtlasTrackerIndexEntry *entry,
                               const char *metalink, gsize metalink_length,
                               const char *const *allowed, GError **error)
{
  if (!exec (store, "BEGIN IMMEDIATE", error))
    return FALSE;
  if (!add_entry_rows (store, entry, metalink, metalink_length, allowed, error))
    {
      exec (store, "ROLLBACK", NULL);
      entry->id = 0;
      return FALSE;
    }
  return exec (store, "COMMIT", error);
}

static AtlasTrackerIndexEntry *
entry_from_row (sqlite3_stmt *stmt)
{
  AtlasTrackerIndexEntry *entry = g_new0 (AtlasTrackerIndexEntry, 1);

  entry->id = sqlite3_column_int64 (stmt, 0);
  entry->name = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  entry->version = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  entry->description = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
  entry->entry = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
  entry->size = sqlite3_column_int64 (stmt, 5);
  entry->piece_length = sqlite3_column_int64 (stmt, 6);
  entry->piece_count = sqlite3_column_int64 (stmt, 7);
  entry->is_private = sqlite3_column_int (stmt, 8) != 0;
  entry->uploader = sqlite3_column_int64 (stmt, 9);
  entry->created = sqlite3_column_int64 (stmt, 10);
  return entry;
}

/* Steps a bound statement of ENTRY_COLUMNS rows to the end; NULL with
 * @error (naming @what) if SQLite fails part way. */
static GPtrArray *
collect_entries (AtlasTrackerStore *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
  g_autoptr (GPtrArray) entries =
      g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_tracker_index_entry_free);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (entries, entry_from_row (stmt));
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      sqlite_error (store, rc, what, error);
      return NULL;
    }
  return g_steal_pointer (&entries);
}

AtlasTrackerIndexEntry *
atlas_tracker_store_get_entry (AtlasTrackerStore *store, gint64 id, const AtlasTrackerToken *viewer,
                               GError **error)
{
  sqlite3_stmt *stmt = statement (
      store, "SELECT " ENTRY_COLUMNS " FROM entries e WHERE e.id = ?3 AND " VISIBLE, error);
  AtlasTrackerIndexEntry *entry = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  bind_viewer (stmt, viewer);
  sqlite3_bind_int64 (stmt, 3, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    entry = entry_from_row (stmt);
  else if (rc != SQLITE_DONE)
    sqlite_error (store, rc, "reading an entry", error);
  sqlite3_reset (stmt);
  return entry;
}

GBytes *
atlas_tracker_store_get_metalink (AtlasTrackerStore *store, gint64 id,
                                  const AtlasTrackerToken *viewer, GError **error)
{
  sqlite3_stmt *stmt =
      statement (store, "SELECT e.metalink FROM entries e WHERE e.id = ?3 AND " VISIBLE, error);
  GBytes *bytes = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  bind_viewer (stmt, viewer);
  sqlite3_bind_int64 (stmt, 3, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    bytes = g_bytes_new (sqlite3_column_blob (stmt, 0), sqlite3_column_bytes (stmt, 0));
  else if (rc != SQLITE_DONE)
    sqlite_error (store, rc, "reading a Metalink", error);
  sqlite3_reset (stmt);
  return bytes;
}

/* A LIKE pattern matching @text anywhere, with its wildcards escaped. */
static char *
like_pattern (const char *text)
{
  GString *pattern = g_string_new ("%");

  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '%' || *p == '_' || *p == '\\')
        g_string_append_c (pattern, '\\');
      g_string_append_c (pattern, *p);
    }
  g_string_append_c (pattern, '%');
  return g_string_free (pattern, FALSE);
}

#define LIST_WHERE                                                                                 \
  " FROM entries e WHERE " VISIBLE " AND (?3 IS NULL OR e.name LIKE ?3 ESCAPE '\\'"                \
  " OR e.description LIKE ?3 ESCAPE '\\') AND (?4 IS NULL OR e.name = ?4)"

GPtrArray *
atlas_tracker_store_list_entries (AtlasTrackerStore *store, const AtlasTrackerToken *viewer,
                                  const char *query, const char *name, guint limit, guint offset,
                                  guint *total, GError **error)
{
  g_autofree char *pattern = query != NULL && *query != '\0' ? like_pattern (query) : NULL;
  sqlite3_stmt *stmt;
  int rc;

  stmt = statement (store, "SELECT count(*)" LIST_WHERE, error);
  if (stmt == NULL)
    return NULL;
  bind_viewer (stmt, viewer);
  sqlite3_bind_text (stmt, 3, pattern, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, name, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  *total = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW)
    {
      sqlite_error (store, rc, "counting entries", error);
      return NULL;
    }

  stmt = statement (store,
                    "SELECT " ENTRY_COLUMNS LIST_WHERE " ORDER BY e.name, e.id DESC"
                    " LIMIT ?5 OFFSET ?6",
                    error);
  if (stmt == NULL)
    return NULL;
  bind_viewer (stmt, viewer);
  sqlite3_bind_text (stmt, 3, pattern, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, limit);
  sqlite3_bind_int64 (stmt, 6, offset);
  return collect_entries (store, stmt, "listing entries", error);
}

gboolean
atlas_tracker_store_delete_entry (AtlasTrackerStore *store, gint64 id, GError **error)
{
  sqlite3_stmt *stmt = statement (store, "DELETE FROM entries WHERE id = ?1", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  return step_done (store, stmt, "deleting an entry", error);
}

gboolean
atlas_tracker_store_file_visible (AtlasTrackerStore *store, const char *entry_hex,
                                  const AtlasTrackerToken *viewer, guint32 *piece_count,
                                  GError **error)
{
  sqlite3_stmt *stmt = statement (
      store, "SELECT e.piece_count FROM entries e WHERE e.entry = ?3 AND " VISIBLE " LIMIT 1",
      error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  bind_viewer (stmt, viewer);
  sqlite3_bind_text (stmt, 3, entry_hex, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW && piece_count != NULL)
    *piece_count = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return sqlite_error (store, rc, "looking up a file", error);
  return rc == SQLITE_ROW;
}

gint64
atlas_tracker_store_count_entries (AtlasTrackerStore *store)
{
  sqlite3_stmt *stmt = statement (store, "SELECT count(*) FROM entries", NULL);
  gint64 count = 0;

  if (stmt == NULL)
    return 0;
  if (sqlite3_step (stmt) == SQLITE_ROW)
    count = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  return count;
}

AtlasTrackerIndexEntry *
atlas_tracker_store_find_file (AtlasTrackerStore *store, const char *entry_hex,
                               const AtlasTrackerToken *viewer, GError **error)
{
  sqlite3_stmt *stmt =
      statement (store,
                 "SELECT " ENTRY_COLUMNS " FROM entries e WHERE e.entry = ?3 AND " VISIBLE
                 " ORDER BY e.id DESC LIMIT 1",
                 error);
  AtlasTrackerIndexEntry *entry = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  bind_viewer (stmt, viewer);
  sqlite3_bind_text (stmt, 3, entry_hex, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    entry = entry_from_row (stmt);
  else if (rc != SQLITE_DONE)
    sqlite_error (store, rc, "looking up a file", error);
  sqlite3_reset (stmt);
  return entry;
}

GPtrArray *
atlas_tracker_store_list_by_publisher (AtlasTrackerStore *store, const AtlasTrackerToken *viewer,
                                       const char *publisher, guint limit, GError **error)
{
  sqlite3_stmt *stmt = statement (store,
                                  "SELECT " ENTRY_COLUMNS " FROM entries e"
                                  " JOIN tokens t ON t.id = e.uploader"
                                  " WHERE t.name = ?3 AND " VISIBLE " ORDER BY e.id DESC LIMIT ?4",
                                  error);

  if (stmt == NULL)
    return NULL;
  bind_viewer (stmt, viewer);
  sqlite3_bind_text (stmt, 3, publisher, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, limit);
  return collect_entries (store, stmt, "listing a publisher's entries", error);
}
