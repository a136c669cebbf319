/* atlas-request.h — what the user asked for, before it becomes an AtlasDownload.
 *
 * A request names one file: its sources (URLs with Metalink priority and
 * location), what it must hash to, and where it goes. Build one by hand from
 * URLs and flags, or get one per file from a Metalink.
 */
#pragma once

#include <glib.h>

#include "atlas-checksum.h"
#include "atlas-metalink.h"

G_BEGIN_DECLS

typedef struct _AtlasRequest AtlasRequest;

AtlasRequest *atlas_request_new (void);
AtlasRequest *atlas_request_copy (const AtlasRequest *request);
void atlas_request_free (AtlasRequest *request);

/* @priority: 1 is most preferred (Metalink semantics); 0 means "unspecified".
 * @location: ISO 3166-1 alpha-2 code or NULL. */
void atlas_request_add_url (AtlasRequest *request, const char *url, guint priority,
                            const char *location);
void atlas_request_add_checksum (AtlasRequest *request, const AtlasChecksum *checksum);
/* Piece hashes: @digests holds n_pieces digests of @type back to back. */
void atlas_request_set_pieces (AtlasRequest *request, AtlasHashType type, guint64 piece_length,
                               GBytes *digests);
void atlas_request_set_size (AtlasRequest *request, gint64 size);
/* A sanitised relative path inside the directory (see atlas-filename.h). */
void atlas_request_set_filename (AtlasRequest *request, const char *filename);
void atlas_request_set_directory (AtlasRequest *request, const char *directory);
void atlas_request_set_paused (AtlasRequest *request, gboolean paused);
/* Bytes per second for this download, 0 = unlimited. */
void atlas_request_set_speed_limit (AtlasRequest *request, guint64 bytes_per_second);
/* The user's country (ISO 3166-1 alpha-2) to prefer mirrors located there. */
void atlas_request_set_preferred_location (AtlasRequest *request, const char *location);

/* Whether the engine can fetch @url: http, https or ftp (case-insensitive). */
gboolean atlas_url_is_supported (const char *url);

/* One request per <file> of a Metalink, all in @directory. */
GPtrArray *atlas_request_list_from_metalink (const AtlasMetalink *metalink, const char *directory);

/* Accessors */
guint atlas_request_get_n_urls (const AtlasRequest *request);
const char *atlas_request_get_url (const AtlasRequest *request, guint index, guint *priority,
                                   const char **location);
GArray *atlas_request_get_checksums (const AtlasRequest *request); /* AtlasChecksum */
AtlasHashType atlas_request_get_piece_type (const AtlasRequest *request);
guint64 atlas_request_get_piece_length (const AtlasRequest *request);
GBytes *atlas_request_get_piece_digests (const AtlasRequest *request);
gint64 atlas_request_get_size (const AtlasRequest *request);
const char *atlas_request_get_filename (const AtlasRequest *request);
const char *atlas_request_get_directory (const AtlasRequest *request);
gboolean atlas_request_get_paused (const AtlasRequest *request);
guint64 atlas_request_get_speed_limit (const AtlasRequest *request);
const char *atlas_request_get_preferred_location (const AtlasRequest *request);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasRequest, atlas_request_free)

G_END_DECLS
