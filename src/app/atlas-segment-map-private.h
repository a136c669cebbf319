/* atlas-segment-map-private.h — what tests may ask the segment map. */
#pragma once

#include "atlas-segment-map.h"

G_BEGIN_DECLS

/* The cells as drawn: how many, and the state each one shows (the most
 * important state of its run of pieces). */
guint _atlas_segment_map_get_n_cells (AtlasSegmentMap *self);
AtlasPieceState _atlas_segment_map_get_cell_state (AtlasSegmentMap *self, guint cell);
/* The tooltip text of a cell. */
char *_atlas_segment_map_describe_cell (AtlasSegmentMap *self, guint cell);

G_END_DECLS
