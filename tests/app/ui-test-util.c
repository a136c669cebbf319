/* ui-test-util.c — shared helpers of the UI tests. */
#include "ui-test-util.h"

#include <glib/gstdio.h>

void
ui_test_init (int *argc, char ***argv)
{
  gtk_test_init (argc, argv, NULL);
  adw_init ();
  /* Screenshots and assertions see the end state, not a transition. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
}

gboolean
ui_test_wait_until (gboolean (*check) (gpointer data), gpointer data, guint timeout_ms)
{
  /* Scaled like every wait of test_run_until (atlas-test-util.h). */
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * test_time_scale () * 1000;

  while (!check (data))
    {
      if (g_get_monotonic_time () >= deadline)
        return check (data);
      test_run_for (20);
    }
  return TRUE;
}

GtkWidget *
ui_test_find (GtkWidget *root, GType type, gboolean (*match) (GtkWidget *widget, gpointer data),
              gpointer data)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type) && (match == NULL || match (root, data)))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = ui_test_find (child, type, match, data);
      if (found != NULL)
        return found;
    }
  return NULL;
}

gboolean
ui_test_has_label (GtkWidget *widget, gpointer data)
{
  const char *text = data;
  const char *tooltip = gtk_widget_get_tooltip_text (widget);
  g_autofree char *mismatch = NULL;

  if (tooltip != NULL && g_str_equal (tooltip, text))
    return TRUE;
  if (GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), text) == 0)
    return TRUE;
  if (GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0)
    return TRUE;
  if (ADW_IS_PREFERENCES_ROW (widget)
      && g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), text) == 0)
    return TRUE;
  mismatch = gtk_test_accessible_check_property (GTK_ACCESSIBLE (widget),
                                                 GTK_ACCESSIBLE_PROPERTY_LABEL, text);
  return mismatch == NULL;
}

GtkWidget *
ui_test_find_by_label (GtkWidget *root, const char *text)
{
  return ui_test_find (root, GTK_TYPE_WIDGET, ui_test_has_label, (gpointer) text);
}

static GskRenderNode *
render_node (GtkWidget *widget, int width, int height)
{
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  return gtk_snapshot_free_to_node (snapshot);
}

GdkTexture *
ui_test_render (GtkWidget *widget)
{
  g_autoptr (GskRenderNode) node = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  gint64 deadline = g_get_monotonic_time () + (gint64) 2 * G_USEC_PER_SEC * test_time_scale ();

  g_assert_nonnull (renderer);
  g_assert_cmpint (width, >, 0);
  g_assert_cmpint (height, >, 0);
  /* A widget whose new layout the frame clock has not run yet draws
   * nothing; on a slow run (ASan, a loaded machine) that can outlast the
   * caller's fixed wait, so wait for the drawing, within a deadline. */
  node = render_node (widget, width, height);
  while (node == NULL && g_get_monotonic_time () < deadline)
    {
      test_run_for (20);
      node = render_node (widget, width, height);
    }
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
}

void
ui_test_save_screenshot (GtkWidget *widget, const char *name)
{
  const char *dir = g_getenv ("ATLAS_SCREENSHOT_DIR");
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *path = NULL;

  if (dir == NULL || *dir == '\0')
    return;
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  texture = ui_test_render (widget);
  path = g_build_filename (dir, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}
