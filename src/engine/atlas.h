/* atlas.h — the public API of libatlas. */
#pragma once

#include "atlas-checksum.h"
#include "atlas-download.h"
#include "atlas-error.h"
#include "atlas-filename.h"
#include "atlas-hash.h"
#include "atlas-metalink.h"
#include "atlas-request.h"
#include "atlas-session.h"
#include "atlas-settings.h"
#include "atlas-source.h"
#include "atlas-sums.h"
#include "atlas-types.h"
#include "atlas-verifier.h"
