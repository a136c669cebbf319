/* The segment map as a user sees it: the pixels it draws at a known size, the
 * words it gives to screen readers, and what its cells say under the pointer. */
#include "atlas-segment-map-private.h"
#include "ui-test-util.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 600

/* Shows a copy of @states, as the engine hands out snapshots. */
static void
show_pieces (AtlasSegmentMap *map, const guint8 *states, guint n, GBytes *sources)
{
  g_autoptr (GBytes) bytes = g_bytes_new (states, n);

  atlas_segment_map_set_pieces (map, bytes, sources);
}

/* Pieces from three sources in turn, in runs of @run as connections fetch them. */
static GBytes *
sources_new (guint n, guint run)
{
  guint16 *sources = g_new (guint16, n);

  for (guint i = 0; i < n; i++)
    sources[i] = i / run % 3;
  return g_bytes_new_take (sources, n * sizeof (guint16));
}

/* The map has the height it asks for at its width (a new number of pieces
 * queues a resize that lands on a later frame), and a frame was painted since
 * the last change: renders of a widget use the node its last frame drew. */
typedef struct
{
  GtkWidget *map;
  gboolean painted;
} Settle;

static void
after_paint_cb (GdkFrameClock *clock, Settle *settle)
{
  settle->painted = TRUE;
}

static gboolean
laid_out_and_painted (gpointer data)
{
  Settle *settle = data;
  int wanted;

  if (!settle->painted || gtk_widget_get_width (settle->map) == 0)
    return FALSE;
  gtk_widget_measure (settle->map, GTK_ORIENTATION_VERTICAL, gtk_widget_get_width (settle->map),
                      &wanted, NULL, NULL, NULL);
  if (gtk_widget_get_height (settle->map) == wanted)
    return TRUE;
  settle->painted = FALSE;
  return FALSE;
}

static void
settle (GtkWidget *map)
{
  Settle settle = { map, FALSE };
  GdkFrameClock *clock = gtk_widget_get_frame_clock (map);
  gulong handler;

  g_assert_nonnull (clock);
  handler = g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), &settle);
  gtk_widget_queue_draw (map);
  g_assert_true (ui_test_wait_until (laid_out_and_painted, &settle, 5000));
  g_signal_handler_disconnect (clock, handler);
}

static void
mapped (GtkWidget *map, gboolean *done)
{
  *done = TRUE;
}

/* A window showing @map at WIDTH pixels. */
static GtkWidget *
show_map (GtkWidget *map)
{
  GtkWidget *window = gtk_window_new ();
  gboolean done = FALSE;

  gtk_window_set_default_size (GTK_WINDOW (window), WIDTH, 50);
  gtk_widget_set_valign (map, GTK_ALIGN_START);
  gtk_window_set_child (GTK_WINDOW (window), map);
  g_signal_connect (map, "map", G_CALLBACK (mapped), &done);
  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (test_run_until (&done, 5));
  settle (map);
  return window;
}

/* Opaque pixels of @texture within 3/255 of @color. */
static guint
count_pixels (GdkTexture *texture, const GdkRGBA *color)
{
  int width = gdk_texture_get_width (texture);
  int height = gdk_texture_get_height (texture);
  g_autofree guint32 *pixels = g_new (guint32, width * height);
  int want[3] = { color->red * 255 + 0.5, color->green * 255 + 0.5, color->blue * 255 + 0.5 };
  guint count = 0;

  gdk_texture_download (texture, (guchar *) pixels, width * 4);
  for (int i = 0; i < width * height; i++)
    {
      /* CAIRO_FORMAT_ARGB32: one native-endian word per pixel. */
      int got[3] = { (pixels[i] >> 16) & 0xff, (pixels[i] >> 8) & 0xff, pixels[i] & 0xff };
      count += pixels[i] >> 24 == 0xff && ABS (got[0] - want[0]) <= 3 && ABS (got[1] - want[1]) <= 3
               && ABS (got[2] - want[2]) <= 3;
    }
  return count;
}

static char *
expected_summary (guint verified, guint total, guint bad)
{
  g_autofree char *head = g_strdup_printf ("%'u of %'u pieces verified", verified, total);

  return bad > 0 ? g_strdup_printf ("%s, %'u bad", head, bad) : g_steal_pointer (&head);
}

static void
test_ten_pieces (void)
{
  static const AtlasPieceState layout[10] = {
    ATLAS_PIECE_VERIFIED, ATLAS_PIECE_VERIFIED, ATLAS_PIECE_VERIFIED, ATLAS_PIECE_BAD,
    ATLAS_PIECE_ACTIVE,   ATLAS_PIECE_WRITTEN,  ATLAS_PIECE_MISSING,  ATLAS_PIECE_MISSING,
    ATLAS_PIECE_VERIFIED, ATLAS_PIECE_VERIFIED,
  };
  GtkWidget *map = atlas_segment_map_new ();
  AtlasSegmentMap *self = ATLAS_SEGMENT_MAP (map);
  GtkWidget *window = show_map (map);
  guint8 data[10];
  g_autoptr (GBytes) sources = sources_new (10, 1);
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *summary = expected_summary (5, 10, 1);
  g_autofree char *tooltip = NULL;
  GdkRGBA bad, active, first_source;

  for (guint i = 0; i < 10; i++)
    data[i] = layout[i];
  show_pieces (self, data, 10, sources);
  settle (map);

  /* One cell per piece, big enough to point at: ten cells fill the width. */
  g_assert_cmpuint (_atlas_segment_map_get_n_cells (self), ==, 10);
  for (guint i = 0; i < 10; i++)
    g_assert_cmpint (_atlas_segment_map_get_cell_state (self, i), ==, layout[i]);
  g_assert_cmpint (gtk_widget_get_height (map), >=, 16);

  gtk_test_accessible_assert_role (GTK_ACCESSIBLE (map), GTK_ACCESSIBLE_ROLE_IMG);
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (map), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       summary);
  tooltip = _atlas_segment_map_describe_cell (self, 3);
  g_assert_cmpstr (tooltip, ==, "Piece 3: bad\nFrom source 1");

  texture = ui_test_render (map);
  ui_test_save_screenshot (map, "segment-map-10.png");
  atlas_segment_map_get_state_color (self, ATLAS_PIECE_BAD, &bad);
  atlas_segment_map_get_state_color (self, ATLAS_PIECE_ACTIVE, &active);
  atlas_segment_map_get_source_color (self, 0, &first_source);
  /* A tenth of the width each, less the gaps. */
  g_assert_cmpuint (count_pixels (texture, &bad), >=, (WIDTH / 10 - 4) * 16);
  g_assert_cmpuint (count_pixels (texture, &active), >=, (WIDTH / 10 - 4) * 16);
  g_assert_cmpuint (count_pixels (texture, &first_source), >=, (WIDTH / 10 - 4) * 16);

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_hundred_thousand_pieces (void)
{
  const guint n = 100000, bad_piece = 54321;
  GtkWidget *map = atlas_segment_map_new ();
  AtlasSegmentMap *self = ATLAS_SEGMENT_MAP (map);
  GtkWidget *window = show_map (map);
  g_autofree guint8 *data = g_malloc (n);
  g_autoptr (GBytes) sources = sources_new (n, 4000);
  g_autoptr (GdkTexture) texture = NULL;
  g_autoptr (GdkTexture) clean_texture = NULL;
  g_autofree char *summary = expected_summary (n - 11, n, 1);
  guint bad_cells = 0, bad_cell = 0;
  GdkRGBA bad;

  memset (data, ATLAS_PIECE_VERIFIED, n);
  data[bad_piece] = ATLAS_PIECE_BAD;
  for (guint i = n - 10; i < n; i++)
    data[i] = ATLAS_PIECE_MISSING;
  show_pieces (self, data, n, sources);
  settle (map);

  /* Cells stand for runs of pieces, and exactly one of them shows the bad one. */
  g_assert_cmpuint (_atlas_segment_map_get_n_cells (self), <=, 4096);
  g_assert_cmpuint (_atlas_segment_map_get_n_cells (self), >=, 256);
  for (guint i = 0; i < _atlas_segment_map_get_n_cells (self); i++)
    if (_atlas_segment_map_get_cell_state (self, i) == ATLAS_PIECE_BAD)
      {
        bad_cells++;
        bad_cell = i;
      }
  g_assert_cmpuint (bad_cells, ==, 1);
  {
    g_autofree char *tooltip = _atlas_segment_map_describe_cell (self, bad_cell);
    g_autofree char *piece = g_strdup_printf ("%'u", bad_piece);

    g_assert_nonnull (strstr (tooltip, "1 bad"));
    g_assert_nonnull (strstr (tooltip, "\nFrom source 2"));
    g_assert_cmpint (atoi (strstr (tooltip, "Pieces ") + 7), <=, bad_piece);
    g_test_message ("bad cell %u: %s (piece %s)", bad_cell, tooltip, piece);
  }
  g_assert_cmpint (
      _atlas_segment_map_get_cell_state (self, _atlas_segment_map_get_n_cells (self) - 1), ==,
      ATLAS_PIECE_MISSING);
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (map), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       summary);
  /* Sensible on screen: not a sliver, not a wall. */
  g_assert_cmpint (gtk_widget_get_height (map), >=, 24);
  g_assert_cmpint (gtk_widget_get_height (map), <=, 400);

  atlas_segment_map_get_state_color (self, ATLAS_PIECE_BAD, &bad);
  texture = ui_test_render (map);
  ui_test_save_screenshot (map, "segment-map-100000.png");
  g_assert_cmpuint (count_pixels (texture, &bad), >=, 9);

  /* The same map without the bad piece has no red at all. */
  data[bad_piece] = ATLAS_PIECE_VERIFIED;
  show_pieces (self, data, n, sources);
  settle (map);
  clean_texture = ui_test_render (map);
  g_assert_cmpuint (count_pixels (clean_texture, &bad), ==, 0);
  g_free (summary);
  summary = expected_summary (n - 10, n, 0);
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (map), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       summary);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* A run shows its most important piece: bad > active > missing > written > verified. */
static void
test_run_shows_most_important_state (void)
{
  static const AtlasPieceState runs[][4] = {
    { ATLAS_PIECE_VERIFIED, ATLAS_PIECE_VERIFIED, ATLAS_PIECE_VERIFIED, ATLAS_PIECE_WRITTEN },
    { ATLAS_PIECE_VERIFIED, ATLAS_PIECE_MISSING, ATLAS_PIECE_WRITTEN, ATLAS_PIECE_VERIFIED },
    { ATLAS_PIECE_MISSING, ATLAS_PIECE_ACTIVE, ATLAS_PIECE_VERIFIED, ATLAS_PIECE_WRITTEN },
    { ATLAS_PIECE_ACTIVE, ATLAS_PIECE_VERIFIED, ATLAS_PIECE_BAD, ATLAS_PIECE_MISSING },
    { ATLAS_PIECE_VERIFIED, ATLAS_PIECE_VERIFIED, ATLAS_PIECE_VERIFIED, ATLAS_PIECE_VERIFIED },
  };
  static const AtlasPieceState shown[] = { ATLAS_PIECE_WRITTEN, ATLAS_PIECE_MISSING,
                                           ATLAS_PIECE_ACTIVE, ATLAS_PIECE_BAD,
                                           ATLAS_PIECE_VERIFIED };
  g_autoptr (AtlasSegmentMap) map =
      g_object_ref_sink (ATLAS_SEGMENT_MAP (atlas_segment_map_new ()));
  guint n_cells, per_cell;
  g_autofree guint8 *data = g_malloc (64 * 1024);

  memset (data, ATLAS_PIECE_VERIFIED, 64 * 1024);
  show_pieces (map, data, 64 * 1024, NULL);
  n_cells = _atlas_segment_map_get_n_cells (map);
  g_assert_cmpuint (64 * 1024 % n_cells, ==, 0);
  per_cell = 64 * 1024 / n_cells;
  g_assert_cmpuint (per_cell, >=, 4);

  for (guint run = 0; run < G_N_ELEMENTS (runs); run++)
    for (guint i = 0; i < 4; i++)
      data[run * per_cell + i] = runs[run][i];
  show_pieces (map, data, 64 * 1024, NULL);
  for (guint run = 0; run < G_N_ELEMENTS (runs); run++)
    g_assert_cmpint (_atlas_segment_map_get_cell_state (map, run), ==, shown[run]);

  /* No pieces yet (size unknown): an empty map says so. */
  atlas_segment_map_set_pieces (map, NULL, NULL);
  g_assert_cmpuint (_atlas_segment_map_get_n_cells (map), ==, 0);
  g_assert_cmpstr (atlas_segment_map_get_summary (map), ==, "No pieces yet");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  ui_test_init (&argc, &argv);

  g_test_add_func ("/segment-map/ten-pieces", test_ten_pieces);
  g_test_add_func ("/segment-map/hundred-thousand-pieces", test_hundred_thousand_pieces);
  g_test_add_func ("/segment-map/run-shows-most-important-state",
                   test_run_shows_most_important_state);
  return g_test_run ();
}
