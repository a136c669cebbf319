/* atlas-segment-map.c — a download's pieces as a wrapping grid of cells.
 *
 * The pieces are aggregated into at most MAX_CELLS cells whenever the data
 * changes, never while drawing: a snapshot then costs one colour node per run
 * of equal cells in a row, whatever the number of pieces.
 */
#include "atlas-segment-map-private.h"

#include <adwaita.h>
#include <glib/gi18n.h>

/* Enough to show a bad piece among 100,000 as a visible cell while keeping a
 * snapshot to a few hundred nodes. */
#define MAX_CELLS 1024
#define NO_SOURCE 0xffff
#define N_SOURCE_COLORS 8
#define EMPTY_HEIGHT 12

/* What a cell is drawn as: a piece state, or "verified by palette slot N". */
enum
{
  KIND_MISSING,
  KIND_ACTIVE,
  KIND_WRITTEN,
  KIND_BAD,
  KIND_VERIFIED, /* by a source we do not know (pieces restored from the queue) */
  KIND_SOURCE0,  /* KIND_SOURCE0 + i: verified, delivered by a source of colour i */
};

struct _AtlasSegmentMap
{
  GtkWidget parent_instance;

  AtlasDownload *download;
  GBytes *states;  /* one AtlasPieceState byte per piece */
  GBytes *sources; /* one guint16 per piece, or NULL */

  guint n_pieces;
  guint n_cells;
  guint8 *cells; /* n_cells kinds */
  guint n_verified;
  guint n_bad;
  char *summary;

  /* Layout for the current width (size_allocate). */
  guint columns;
  guint rows;
};

G_DEFINE_FINAL_TYPE (AtlasSegmentMap, atlas_segment_map, GTK_TYPE_WIDGET)

/* GNOME palette colours that stay apart from each other, from the red of bad
 * pieces and from the yellow of pieces being received; light and dark
 * variants keep their contrast against either background. */
static const char *const source_colors[N_SOURCE_COLORS][2] = {
  { "#1c71d8", "#62a0ea" }, /* blue */
  { "#26a269", "#57e389" }, /* green */
  { "#9141ac", "#c061cb" }, /* purple */
  { "#e66100", "#ffa348" }, /* orange */
  { "#1b8da0", "#5fd3e6" }, /* teal */
  { "#865e3c", "#cdab8f" }, /* brown */
  { "#5e8c1f", "#b5df6c" }, /* olive */
  { "#c01c8c", "#f07cc7" }, /* magenta */
};
static const char *const bad_color[2] = { "#e01b24", "#ff5c57" };
static const char *const active_color[2] = { "#e5a50a", "#f6d32d" };

/* Higher wins when a cell stands for several pieces: one bad piece must stay
 * visible, and a run is only shown done when all of it is. */
static const guint8 state_rank[] = {
  [ATLAS_PIECE_VERIFIED] = 0, [ATLAS_PIECE_WRITTEN] = 1, [ATLAS_PIECE_MISSING] = 2,
  [ATLAS_PIECE_ACTIVE] = 3,   [ATLAS_PIECE_BAD] = 4,
};

static gboolean
is_dark (void)
{
  return adw_style_manager_get_dark (adw_style_manager_get_default ());
}

static void
parse_color (GdkRGBA *color, const char *const variants[2])
{
  gdk_rgba_parse (color, variants[is_dark () ? 1 : 0]);
}

/* Unfinished states are shades of the text colour, so they follow the style
 * (and high contrast) without a palette of their own. */
static void
shade_of_foreground (AtlasSegmentMap *self, float alpha, GdkRGBA *color)
{
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (self)), color);
  color->alpha *= alpha;
}

void
atlas_segment_map_get_source_color (AtlasSegmentMap *self, guint source_index, GdkRGBA *color)
{
  g_return_if_fail (ATLAS_IS_SEGMENT_MAP (self));

  parse_color (color, source_colors[source_index % N_SOURCE_COLORS]);
}

void
atlas_segment_map_get_state_color (AtlasSegmentMap *self, AtlasPieceState state, GdkRGBA *color)
{
  g_return_if_fail (ATLAS_IS_SEGMENT_MAP (self));

  switch (state)
    {
    case ATLAS_PIECE_ACTIVE:
      parse_color (color, active_color);
      break;
    case ATLAS_PIECE_WRITTEN:
      shade_of_foreground (self, 0.35f, color);
      break;
    case ATLAS_PIECE_VERIFIED:
      shade_of_foreground (self, 0.7f, color);
      break;
    case ATLAS_PIECE_BAD:
      parse_color (color, bad_color);
      break;
    case ATLAS_PIECE_MISSING:
    default:
      shade_of_foreground (self, 0.15f, color);
      break;
    }
}

static AtlasPieceState
kind_state (guint8 kind)
{
  static const AtlasPieceState states[] = {
    [KIND_MISSING] = ATLAS_PIECE_MISSING,   [KIND_ACTIVE] = ATLAS_PIECE_ACTIVE,
    [KIND_WRITTEN] = ATLAS_PIECE_WRITTEN,   [KIND_BAD] = ATLAS_PIECE_BAD,
    [KIND_VERIFIED] = ATLAS_PIECE_VERIFIED,
  };

  return kind < KIND_SOURCE0 ? states[kind] : ATLAS_PIECE_VERIFIED;
}

static void
kind_color (AtlasSegmentMap *self, guint8 kind, GdkRGBA *color)
{
  if (kind >= KIND_SOURCE0)
    atlas_segment_map_get_source_color (self, kind - KIND_SOURCE0, color);
  else
    atlas_segment_map_get_state_color (self, kind_state (kind), color);
}

/* ---- the data ---------------------------------------------------------- */

static const guint8 *
piece_states (AtlasSegmentMap *self)
{
  return self->states != NULL ? g_bytes_get_data (self->states, NULL) : NULL;
}

static const guint16 *
piece_sources (AtlasSegmentMap *self)
{
  if (self->sources == NULL || g_bytes_get_size (self->sources) < self->n_pieces * sizeof (guint16))
    return NULL;
  return g_bytes_get_data (self->sources, NULL);
}

static AtlasPieceState
clamp_state (guint8 state)
{
  return state <= ATLAS_PIECE_BAD ? state : ATLAS_PIECE_MISSING;
}

static guint
cell_first_piece (AtlasSegmentMap *self, guint cell)
{
  return (guint) ((guint64) cell * self->n_pieces / self->n_cells);
}

static guint8
aggregate_cell (AtlasSegmentMap *self, guint first, guint end)
{
  const guint8 *states = piece_states (self);
  const guint16 *sources = piece_sources (self);
  guint by_color[N_SOURCE_COLORS + 1] = { 0 }; /* the last one: source unknown */
  AtlasPieceState worst = ATLAS_PIECE_VERIFIED;
  guint best = N_SOURCE_COLORS;

  for (guint piece = first; piece < end; piece++)
    {
      AtlasPieceState state = clamp_state (states[piece]);

      if (state_rank[state] > state_rank[worst])
        worst = state;
      if (state == ATLAS_PIECE_VERIFIED)
        {
          guint source = sources != NULL ? sources[piece] : NO_SOURCE;
          by_color[source == NO_SOURCE ? N_SOURCE_COLORS : source % N_SOURCE_COLORS]++;
        }
    }

  switch (worst)
    {
    case ATLAS_PIECE_MISSING:
      return KIND_MISSING;
    case ATLAS_PIECE_ACTIVE:
      return KIND_ACTIVE;
    case ATLAS_PIECE_WRITTEN:
      return KIND_WRITTEN;
    case ATLAS_PIECE_BAD:
      return KIND_BAD;
    case ATLAS_PIECE_VERIFIED:
    default:
      break;
    }
  /* Every piece is verified: the run takes the colour of the source that
   * delivered most of it. */
  for (guint i = 0; i < N_SOURCE_COLORS; i++)
    if (by_color[i] > by_color[best])
      best = i;
  return best == N_SOURCE_COLORS ? KIND_VERIFIED : KIND_SOURCE0 + best;
}

static void
update_summary (AtlasSegmentMap *self)
{
  g_autofree char *summary = NULL;

  if (self->n_pieces == 0)
    summary = g_strdup (_ ("No pieces yet"));
  else
    {
      g_autofree char *verified = g_strdup_printf ("%'u", self->n_verified);
      g_autofree char *total = g_strdup_printf ("%'u", self->n_pieces);

      /* Translators: “812 of 1,000 pieces verified”. */
      summary = g_strdup_printf (
          g_dngettext (NULL, "%s of %s piece verified", "%s of %s pieces verified", self->n_pieces),
          verified, total);
      if (self->n_bad > 0)
        {
          g_autofree char *bad =
              g_strdup_printf (g_dngettext (NULL, "%'u bad", "%'u bad", self->n_bad), self->n_bad);
          g_autofree char *both = g_strdup_printf (_ ("%s, %s"), summary, bad);
          g_free (summary);
          summary = g_steal_pointer (&both);
        }
    }

  if (g_strcmp0 (summary, self->summary) == 0)
    return;
  g_free (self->summary);
  self->summary = g_steal_pointer (&summary);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  self->summary, -1);
}

/* Recomputes the cells from the pieces: the only place that walks them. */
static void
rebuild_cells (AtlasSegmentMap *self)
{
  const guint8 *states = piece_states (self);
  guint n_pieces = self->states != NULL ? g_bytes_get_size (self->states) : 0;
  guint n_cells = MIN (n_pieces, MAX_CELLS);
  g_autofree guint8 *cells = g_new (guint8, MAX (n_cells, 1));
  gboolean resized = n_cells != self->n_cells;

  self->n_pieces = n_pieces;
  self->n_cells = n_cells;
  self->n_verified = 0;
  self->n_bad = 0;
  for (guint piece = 0; piece < n_pieces; piece++)
    {
      self->n_verified += states[piece] == ATLAS_PIECE_VERIFIED;
      self->n_bad += states[piece] == ATLAS_PIECE_BAD;
    }
  for (guint cell = 0; cell < n_cells; cell++)
    cells[cell] =
        aggregate_cell (self, cell_first_piece (self, cell), cell_first_piece (self, cell + 1));
  update_summary (self);

  if (resized)
    gtk_widget_queue_resize (GTK_WIDGET (self));
  else if (n_cells > 0 && memcmp (cells, self->cells, n_cells) == 0)
    return;
  g_free (self->cells);
  self->cells = g_steal_pointer (&cells);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
set_snapshot (AtlasSegmentMap *self, GBytes *states, GBytes *sources)
{
  g_clear_pointer (&self->states, g_bytes_unref);
  g_clear_pointer (&self->sources, g_bytes_unref);
  self->states = states != NULL ? g_bytes_ref (states) : NULL;
  self->sources = sources != NULL ? g_bytes_ref (sources) : NULL;
  rebuild_cells (self);
}

static void
download_changed_cb (AtlasSegmentMap *self)
{
  g_autoptr (GBytes) states = atlas_download_get_piece_states (self->download);
  g_autoptr (GBytes) sources = atlas_download_get_piece_sources (self->download);

  set_snapshot (self, states, sources);
}

/* ---- layout ------------------------------------------------------------ */

typedef struct
{
  int cell; /* smallest cell side */
  int hgap;
  int vgap;
} Geometry;

/* Few pieces get big separate cells; many get small ones that touch
 * horizontally, so runs of one colour read as bars. */
static Geometry
geometry (AtlasSegmentMap *self)
{
  if (self->n_cells <= 64)
    return (Geometry){ 20, 2, 2 };
  if (self->n_cells <= 256)
    return (Geometry){ 10, 1, 1 };
  return (Geometry){ 6, 0, 1 };
}

static guint
columns_for_width (AtlasSegmentMap *self, int width)
{
  Geometry g = geometry (self);
  int columns = (width + g.hgap) / (g.cell + g.hgap);

  return CLAMP (columns, 1, (int) MAX (self->n_cells, 1));
}

static int
height_for_columns (AtlasSegmentMap *self, guint columns)
{
  Geometry g = geometry (self);
  guint rows = (self->n_cells + columns - 1) / columns;

  if (self->n_cells == 0)
    return EMPTY_HEIGHT;
  return rows * (g.cell + g.vgap) - g.vgap;
}

static GtkSizeRequestMode
atlas_segment_map_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void
atlas_segment_map_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                           int *minimum, int *natural, int *minimum_baseline, int *natural_baseline)
{
  AtlasSegmentMap *self = ATLAS_SEGMENT_MAP (widget);
  Geometry g = geometry (self);
  int pitch = g.cell + g.hgap;

  int cells = MAX ((int) self->n_cells, 1);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = MIN (cells, 8) * pitch - g.hgap;
      *natural = MIN (cells, 100) * pitch - g.hgap;
    }
  else
    {
      int width = for_size >= 0 ? for_size : MIN (cells, 100) * pitch - g.hgap;

      *minimum = *natural = height_for_columns (self, columns_for_width (self, width));
    }
}

static void
atlas_segment_map_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  AtlasSegmentMap *self = ATLAS_SEGMENT_MAP (widget);

  self->columns = columns_for_width (self, width);
  self->rows = self->n_cells > 0 ? (self->n_cells + self->columns - 1) / self->columns : 0;
}

/* Integer cell edges: columns and rows share the allocation exactly, and no
 * edge is blended into its neighbour. */
static int
edge (int index, int count, int length, int gap)
{
  return (int) ((gint64) index * (length + gap) / count);
}

static void
atlas_segment_map_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  AtlasSegmentMap *self = ATLAS_SEGMENT_MAP (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  Geometry g = geometry (self);
  GdkRGBA colors[KIND_SOURCE0 + N_SOURCE_COLORS];

  if (self->n_cells == 0 || self->columns == 0)
    {
      GdkRGBA missing;

      atlas_segment_map_get_state_color (self, ATLAS_PIECE_MISSING, &missing);
      gtk_snapshot_append_color (snapshot, &missing, &GRAPHENE_RECT_INIT (0, 0, width, height));
      return;
    }

  for (guint8 kind = 0; kind < G_N_ELEMENTS (colors); kind++)
    kind_color (self, kind, &colors[kind]);

  for (guint row = 0; row < self->rows; row++)
    {
      int top = edge (row, self->rows, height, g.vgap);
      int bottom = edge (row + 1, self->rows, height, g.vgap) - g.vgap;
      guint first = row * self->columns;
      guint end = MIN (first + self->columns, self->n_cells);

      for (guint cell = first; cell < end;)
        {
          guint run_end = cell + 1;
          int left = edge (cell - first, self->columns, width, g.hgap);
          int right;

          /* Touching cells of one colour become one rectangle. */
          if (g.hgap == 0)
            while (run_end < end && self->cells[run_end] == self->cells[cell])
              run_end++;
          right = edge (run_end - first, self->columns, width, g.hgap) - g.hgap;
          gtk_snapshot_append_color (snapshot, &colors[self->cells[cell]],
                                     &GRAPHENE_RECT_INIT (left, top, right - left, bottom - top));
          cell = run_end;
        }
    }
}

/* ---- tooltip ----------------------------------------------------------- */

static int
cell_at (AtlasSegmentMap *self, int x, int y)
{
  Geometry g = geometry (self);
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self));
  int column, row, cell;

  if (self->n_cells == 0 || self->columns == 0 || x < 0 || y < 0 || x >= width || y >= height)
    return -1;
  column = (int) ((gint64) x * self->columns / (width + g.hgap));
  row = (int) ((gint64) y * self->rows / (height + g.vgap));
  cell = row * self->columns + MIN (column, (int) self->columns - 1);
  return cell < (int) self->n_cells ? cell : -1;
}

static char *
source_name (AtlasSegmentMap *self, guint index)
{
  GListModel *sources = self->download ? atlas_download_get_sources (self->download) : NULL;
  g_autoptr (AtlasSource) source = NULL;

  if (sources != NULL && index < g_list_model_get_n_items (sources))
    source = g_list_model_get_item (sources, index);
  if (source != NULL && atlas_source_get_host (source) != NULL)
    return g_strdup (atlas_source_get_host (source));
  if (source != NULL)
    return g_strdup (atlas_source_get_url (source));
  /* Translators: a source we know only by its position, as in “source 2”. */
  return g_strdup_printf (_ ("source %u"), index + 1);
}

static const char *
state_name (AtlasPieceState state)
{
  switch (state)
    {
    case ATLAS_PIECE_ACTIVE:
      return _ ("being received");
    case ATLAS_PIECE_WRITTEN:
      return _ ("written, not yet verified");
    case ATLAS_PIECE_VERIFIED:
      return _ ("verified");
    case ATLAS_PIECE_BAD:
      return _ ("bad");
    case ATLAS_PIECE_MISSING:
    default:
      return _ ("missing");
    }
}

static char *
describe_cell (AtlasSegmentMap *self, guint cell)
{
  static const AtlasPieceState by_rank[] = { ATLAS_PIECE_BAD, ATLAS_PIECE_ACTIVE,
                                             ATLAS_PIECE_MISSING, ATLAS_PIECE_WRITTEN,
                                             ATLAS_PIECE_VERIFIED };
  const guint8 *states = piece_states (self);
  const guint16 *sources = piece_sources (self);
  guint first = cell_first_piece (self, cell);
  guint end = cell_first_piece (self, cell + 1);
  guint counts[ATLAS_PIECE_BAD + 1] = { 0 };
  guint found[3], n_found = 0, n_more = 0;
  GString *text = g_string_new (NULL);

  for (guint piece = first; piece < end; piece++)
    {
      guint source = sources != NULL ? sources[piece] : NO_SOURCE;
      gboolean seen = FALSE;

      counts[clamp_state (states[piece])]++;
      if (source == NO_SOURCE)
        continue;
      for (guint i = 0; i < n_found; i++)
        seen |= found[i] == source;
      if (seen)
        continue;
      if (n_found < G_N_ELEMENTS (found))
        found[n_found++] = source;
      else
        n_more++;
    }

  /* Piece numbers as the log writes them, so a tooltip and a log line about
   * the same piece agree. */
  if (end - first == 1)
    g_string_append_printf (text, _ ("Piece %'u: %s"), first,
                            state_name (clamp_state (states[first])));
  else
    {
      g_string_append_printf (text, _ ("Pieces %'u–%'u:"), first, end - 1);
      for (guint i = 0; i < G_N_ELEMENTS (by_rank); i++)
        if (counts[by_rank[i]] > 0)
          g_string_append_printf (text, "\n%'u %s", counts[by_rank[i]], state_name (by_rank[i]));
    }

  if (n_found > 0)
    {
      g_autoptr (GString) names = g_string_new (NULL);

      for (guint i = 0; i < n_found; i++)
        {
          g_autofree char *name = source_name (self, found[i]);
          g_string_append_printf (names, "%s%s", i > 0 ? ", " : "", name);
        }
      if (n_more > 0)
        /* Translators: the end of a list of hosts, “a.org, b.org and 2 more”. */
        g_string_append_printf (names, g_dngettext (NULL, " and %u more", " and %u more", n_more),
                                n_more);
      g_string_append_c (text, '\n');
      /* Translators: the hosts that delivered a run of pieces. */
      g_string_append_printf (text, _ ("From %s"), names->str);
    }
  return g_string_free (text, FALSE);
}

static gboolean
atlas_segment_map_query_tooltip (GtkWidget *widget, int x, int y, gboolean keyboard_mode,
                                 GtkTooltip *tooltip)
{
  AtlasSegmentMap *self = ATLAS_SEGMENT_MAP (widget);
  int cell = cell_at (self, x, y);
  g_autofree char *text = NULL;

  if (cell < 0)
    {
      if (self->summary == NULL)
        return FALSE;
      gtk_tooltip_set_text (tooltip, self->summary);
      return TRUE;
    }
  text = describe_cell (self, cell);
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

/* ---- object ------------------------------------------------------------ */

static void
atlas_segment_map_dispose (GObject *object)
{
  AtlasSegmentMap *self = ATLAS_SEGMENT_MAP (object);

  if (self->download != NULL)
    g_signal_handlers_disconnect_by_data (self->download, self);
  g_clear_object (&self->download);
  g_signal_handlers_disconnect_by_data (adw_style_manager_get_default (), self);
  G_OBJECT_CLASS (atlas_segment_map_parent_class)->dispose (object);
}

static void
atlas_segment_map_finalize (GObject *object)
{
  AtlasSegmentMap *self = ATLAS_SEGMENT_MAP (object);

  g_clear_pointer (&self->states, g_bytes_unref);
  g_clear_pointer (&self->sources, g_bytes_unref);
  g_free (self->cells);
  g_free (self->summary);
  G_OBJECT_CLASS (atlas_segment_map_parent_class)->finalize (object);
}

static void
atlas_segment_map_class_init (AtlasSegmentMapClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = atlas_segment_map_dispose;
  object_class->finalize = atlas_segment_map_finalize;
  widget_class->get_request_mode = atlas_segment_map_get_request_mode;
  widget_class->measure = atlas_segment_map_measure;
  widget_class->size_allocate = atlas_segment_map_size_allocate;
  widget_class->snapshot = atlas_segment_map_snapshot;
  widget_class->query_tooltip = atlas_segment_map_query_tooltip;

  gtk_widget_class_set_css_name (widget_class, "segment-map");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
atlas_segment_map_init (AtlasSegmentMap *self)
{
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
  g_signal_connect_object (adw_style_manager_get_default (), "notify::dark",
                           G_CALLBACK (gtk_widget_queue_draw), self, G_CONNECT_SWAPPED);
  rebuild_cells (self);
}

GtkWidget *
atlas_segment_map_new (void)
{
  return g_object_new (ATLAS_TYPE_SEGMENT_MAP, NULL);
}

void
atlas_segment_map_set_download (AtlasSegmentMap *self, AtlasDownload *download)
{
  g_return_if_fail (ATLAS_IS_SEGMENT_MAP (self));
  g_return_if_fail (download == NULL || ATLAS_IS_DOWNLOAD (download));

  if (self->download == download)
    return;
  if (self->download != NULL)
    g_signal_handlers_disconnect_by_data (self->download, self);
  g_set_object (&self->download, download);

  if (download == NULL)
    {
      set_snapshot (self, NULL, NULL);
      return;
    }
  g_signal_connect_object (download, "notify::piece-map-serial", G_CALLBACK (download_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "notify::n-pieces", G_CALLBACK (download_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "notify::state", G_CALLBACK (download_changed_cb), self,
                           G_CONNECT_SWAPPED);
  download_changed_cb (self);
}

AtlasDownload *
atlas_segment_map_get_download (AtlasSegmentMap *self)
{
  g_return_val_if_fail (ATLAS_IS_SEGMENT_MAP (self), NULL);

  return self->download;
}

void
atlas_segment_map_set_pieces (AtlasSegmentMap *self, GBytes *states, GBytes *sources)
{
  g_return_if_fail (ATLAS_IS_SEGMENT_MAP (self));

  set_snapshot (self, states, sources);
}

const char *
atlas_segment_map_get_summary (AtlasSegmentMap *self)
{
  g_return_val_if_fail (ATLAS_IS_SEGMENT_MAP (self), NULL);

  return self->summary;
}

guint
_atlas_segment_map_get_n_cells (AtlasSegmentMap *self)
{
  return self->n_cells;
}

AtlasPieceState
_atlas_segment_map_get_cell_state (AtlasSegmentMap *self, guint cell)
{
  g_return_val_if_fail (cell < self->n_cells, ATLAS_PIECE_MISSING);

  return kind_state (self->cells[cell]);
}

char *
_atlas_segment_map_describe_cell (AtlasSegmentMap *self, guint cell)
{
  g_return_val_if_fail (cell < self->n_cells, NULL);

  return describe_cell (self, cell);
}
