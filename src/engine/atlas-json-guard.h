/* atlas-json-guard.h — one JSON object and nothing after it, checked before
 * json-glib parses.
 *
 * json-glib 1.6 (Debian 12) leaks the nodes it has built when a document
 * goes on after its first value ("{}{\"a\":{}}", "1[2]"): found by the
 * tracker-wire fuzzer and confirmed with valgrind. Every JSON document the
 * tracker and its clients accept is a single object, so anything else is
 * refused here, before json-glib sees it, and a hostile client cannot grow
 * the tracker's memory one message at a time. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* FALSE when @text (not NUL-terminated, @length bytes) does not start with
 * an object after optional whitespace, or has anything but whitespace after
 * that object's closing brace. An unterminated object passes: json-glib
 * reports it (without leaking). */
gboolean atlas_json_is_one_object (const char *text, gsize length);

G_END_DECLS
