/* atlas-verify-page.h — check a file already on disk against a pasted hash,
 * a Metalink or a SUMS file; show progress, a verdict with the bad byte
 * ranges, and repair only the bad pieces when a Metalink gives mirrors. */
#pragma once

#include <adwaita.h>

#include "atlas.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_VERIFY_PAGE (atlas_verify_page_get_type ())
G_DECLARE_FINAL_TYPE (AtlasVerifyPage, atlas_verify_page, ATLAS, VERIFY_PAGE, AdwBin)

GtkWidget *atlas_verify_page_new (void);
/* The queue that repairs are added to (may be set later than construction). */
void atlas_verify_page_set_session (AtlasVerifyPage *self, AtlasSession *session);

/* What the file chooser or a drop would do (tests use these directly). */
void atlas_verify_page_set_file (AtlasVerifyPage *self, GFile *file);
void atlas_verify_page_set_reference_text (AtlasVerifyPage *self, const char *hash_text);
void atlas_verify_page_set_reference_file (AtlasVerifyPage *self, GFile *metalink_or_sums);
/* Starts verifying with what was set. */
void atlas_verify_page_start (AtlasVerifyPage *self);

G_END_DECLS
