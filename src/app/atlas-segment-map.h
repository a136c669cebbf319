/* atlas-segment-map.h — a download's pieces, drawn by state and by source.
 *
 * Every piece gets a cell: missing (dim), being received (yellow), written
 * (grey), verified (the colour of the source that delivered it), bad (red). With
 * more pieces than fit, each cell stands for a run of pieces and shows the
 * worst state in it, so a bad piece is never hidden among 100,000.
 */
#pragma once

#include <gtk/gtk.h>

#include "atlas.h"

G_BEGIN_DECLS

#define ATLAS_TYPE_SEGMENT_MAP (atlas_segment_map_get_type ())
G_DECLARE_FINAL_TYPE (AtlasSegmentMap, atlas_segment_map, ATLAS, SEGMENT_MAP, GtkWidget)

GtkWidget *atlas_segment_map_new (void);

/* Follows @download (redrawing when its piece-map-serial changes); NULL clears. */
void atlas_segment_map_set_download (AtlasSegmentMap *self, AtlasDownload *download);
AtlasDownload *atlas_segment_map_get_download (AtlasSegmentMap *self);

/* Shows a snapshot: one AtlasPieceState byte per piece, and for each piece
 * the index of its source (guint16, 0xffff for none) or NULL. */
void atlas_segment_map_set_pieces (AtlasSegmentMap *self, GBytes *states, GBytes *sources);

/* What the map says in words, as its accessible label: “812 of 1,000 pieces
 * verified, 2 bad”. */
const char *atlas_segment_map_get_summary (AtlasSegmentMap *self);

/* The colours the map draws with (they follow the light or dark style), for
 * legends next to it. Source colours repeat after a few sources; the state
 * colour of ATLAS_PIECE_VERIFIED is for pieces whose source is not known. */
void atlas_segment_map_get_source_color (AtlasSegmentMap *self, guint source_index, GdkRGBA *color);
void atlas_segment_map_get_state_color (AtlasSegmentMap *self, AtlasPieceState state,
                                        GdkRGBA *color);

G_END_DECLS
