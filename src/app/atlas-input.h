/* atlas-input.h — turning what a user pastes, drops or opens into requests.
 *
 * Pure GLib/GIO (no widgets), so the rules are unit-tested: which text is a
 * link, which file is a Metalink, what a checksum field means.
 */
#pragma once

#include <gio/gio.h>

#include "atlas.h"

G_BEGIN_DECLS

/* The http, https and ftp links in @text, in order, without duplicates:
 * one per line, or separated by spaces; text/uri-list comments (#) are
 * skipped; anything else (file:, javascript:, words) is ignored. Never NULL. */
GStrv atlas_input_find_links (const char *text);

/* Whether @uri names a Metalink by its name (.meta4, .metalink). */
gboolean atlas_input_is_metalink_name (const char *uri);

/* One request per file of the Metalink at @file (read and parsed on a worker
 * thread), saved in @directory. The array holds AtlasRequest and frees them. */
void atlas_input_load_metalink_async (GFile *file, const char *directory, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *atlas_input_load_metalink_finish (GAsyncResult *result, GError **error);

/* A request for @url plus @mirrors (may be NULL), with @checksum_text
 * ("sha256:HEX", or bare hex; empty or NULL for none) and @directory
 * (NULL for the default). Fails with a message a person can act on when the
 * URL is not http/https/ftp or the checksum does not parse. */
AtlasRequest *atlas_input_request_for_url (const char *url, const char *const *mirrors,
                                           const char *checksum_text, const char *directory,
                                           gboolean paused, GError **error);

G_END_DECLS
