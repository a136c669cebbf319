#include "atlas-error.h"

G_DEFINE_QUARK (atlas - error - quark, atlas_error)
