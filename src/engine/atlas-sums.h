/* atlas-sums.h — SHA256SUMS-style files (GNU "HEX  name", "HEX *name",
 * and BSD "SHA256 (name) = HEX"). Lines that are blank or start with '#' are
 * skipped; any other line that does not parse is an error naming its number. */
#pragma once

#include "atlas-checksum.h"

G_BEGIN_DECLS

#define ATLAS_SUMS_MAX_DOCUMENT (16 * 1024 * 1024)

typedef struct
{
  char *name;
  AtlasChecksum checksum;
} AtlasSumsEntry;

/* @default_type: the type of GNU-style lines when the hex length is ambiguous
 * (NONE = from the length). Returns an array of AtlasSumsEntry* (free with
 * g_ptr_array_unref). */
GPtrArray *atlas_sums_parse (const char *data, gsize length, AtlasHashType default_type,
                             GError **error);
/* Looks @name up by exact match, then by basename. */
const AtlasSumsEntry *atlas_sums_lookup (GPtrArray *entries, const char *name);

G_END_DECLS
