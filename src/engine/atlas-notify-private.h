/* atlas-notify-private.h — the one way the engine publishes a property:
 * assign, and notify only when the value really changed (properties use
 * G_PARAM_EXPLICIT_NOTIFY so a list of thousands does not re-sort for nothing). */
#pragma once

#include <glib-object.h>

#define ATLAS_PUBLISH(object, field, value, pspec)                                                 \
  G_STMT_START                                                                                     \
  {                                                                                                \
    if ((object)->field != (value))                                                                \
      {                                                                                            \
        (object)->field = (value);                                                                 \
        g_object_notify_by_pspec (G_OBJECT (object), (pspec));                                     \
      }                                                                                            \
  }                                                                                                \
  G_STMT_END
