/* atlas-metalink.h — Metalink 4 (RFC 5854) documents.
 *
 * The parser treats every document as hostile: no DTDs or entities beyond the
 * five XML ones, bounded sizes and counts, piece counts that must match the
 * size, and file names sanitised so they never leave the download folder.
 */
#pragma once

#include "atlas-checksum.h"

G_BEGIN_DECLS

/* Limits a document must respect; exceeding one is an error, never a truncation. */
#define ATLAS_METALINK_MAX_DOCUMENT (16 * 1024 * 1024)
#define ATLAS_METALINK_MAX_FILES 10000
#define ATLAS_METALINK_MAX_URLS 1000                          /* per file */
#define ATLAS_METALINK_MAX_PIECES (1u << 22)                  /* per file */
#define ATLAS_METALINK_MAX_SIZE (G_GINT64_CONSTANT (1) << 50) /* 1 PiB */

typedef struct
{
  char *url;
  guint priority; /* 1 = most preferred; 0 = not given */
  char *location; /* ISO 3166-1 alpha-2, lower-case, or NULL */
} AtlasMetalinkUrl;

typedef struct
{
  char *name;               /* sanitised relative path */
  gint64 size;              /* -1 when the document does not say */
  GArray *hashes;           /* AtlasChecksum, whole-file */
  AtlasHashType piece_type; /* NONE when there are no <pieces> */
  guint64 piece_length;
  GBytes *piece_digests; /* n_pieces * digest length, in order */
  guint n_pieces;
  GPtrArray *urls; /* AtlasMetalinkUrl*, sorted by priority (given first, ascending) */
  char *description;
  char *version;
  char *identity;
} AtlasMetalinkFile;

typedef struct
{
  GPtrArray *files; /* AtlasMetalinkFile* */
} AtlasMetalink;

AtlasMetalink *atlas_metalink_parse (const char *data, gsize length, GError **error);
/* Serialises to a Metalink 4 document that atlas_metalink_parse reads back. */
char *atlas_metalink_to_xml (const AtlasMetalink *metalink);
AtlasMetalink *atlas_metalink_new (void);
void atlas_metalink_free (AtlasMetalink *metalink);
/* The <file> that describes a file called @name (a bare name or a path): in
 * order, the first whose name equals @name or @name's basename, else the
 * first whose basename equals @name's basename, else the only <file> of a
 * single-file document whatever its name. NULL when none fits. */
const AtlasMetalinkFile *atlas_metalink_find_file (const AtlasMetalink *metalink, const char *name);
AtlasMetalinkFile *atlas_metalink_file_new (void);
void atlas_metalink_file_free (AtlasMetalinkFile *file);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasMetalink, atlas_metalink_free)

G_END_DECLS
