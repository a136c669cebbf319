/* fuzz-tracker-wire.c — the tracker's WebSocket messages: no crash, every
 * refusal is a protocol error, and whatever is accepted serialises to JSON
 * that parses back to the same text. */
#include "atlas-error.h"
#include "atlas-tracker-wire.h"

#include <stdint.h>
#include <string.h>

static void
check (const uint8_t *data, size_t size, AtlasTrackerDirection direction)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasTrackerMessage) message =
      atlas_tracker_message_parse ((const char *) data, size, direction, &error);
  g_autoptr (AtlasTrackerMessage) back = NULL;
  g_autofree char *json = NULL;
  g_autofree char *again = NULL;

  if (message == NULL)
    {
      g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_PROTOCOL);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return;
    }

  json = atlas_tracker_message_to_json_full (message, direction);
  back = atlas_tracker_message_parse (json, strlen (json), direction, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_cmpint (back->type, ==, message->type);
  again = atlas_tracker_message_to_json_full (back, direction);
  g_assert_cmpstr (json, ==, again);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  check (data, size, ATLAS_TRACKER_FROM_CLIENT);
  check (data, size, ATLAS_TRACKER_FROM_TRACKER);
  return 0;
}
