/* atlas-window.c — the main window: layout, navigation and window actions. */
#include "atlas-window.h"

#include <glib/gi18n.h>

#include "atlas-add-dialog.h"
#include "atlas-details-page.h"
#include "atlas-donate-page.h"
#include "atlas-verify-page.h"
#include "atlas-window-private.h"

struct _AtlasWindow
{
  AdwApplicationWindow parent_instance;

  AtlasSession *session;
  GSettings *settings;

  AdwToastOverlay *toast_overlay;
  AdwViewStack *view_stack;
  AdwLeaflet *leaflet;
  AtlasQueuePage *queue_page;
  GtkWidget *details_box;
  AtlasDetailsPage *details_page;
  AtlasVerifyPage *verify_page;
  AdwBin *donate_bin;
};

G_DEFINE_FINAL_TYPE (AtlasWindow, atlas_window, ADW_TYPE_APPLICATION_WINDOW)

enum
{
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

void
atlas_window_set_session (AtlasWindow *self, AtlasSession *session)
{
  g_return_if_fail (ATLAS_IS_WINDOW (self));

  if (!g_set_object (&self->session, session))
    return;
  atlas_queue_page_set_session (self->queue_page, session);
  atlas_verify_page_set_session (self->verify_page, session);
}

void
atlas_window_set_donor (AtlasWindow *self, AtlasAppDonor *donor)
{
  g_return_if_fail (ATLAS_IS_WINDOW (self));

  atlas_donate_page_set_donor (ATLAS_DONATE_PAGE (adw_bin_get_child (self->donate_bin)), donor);
}

AtlasSession *
atlas_window_get_session (AtlasWindow *self)
{
  return self->session;
}

GSettings *
atlas_window_get_settings (AtlasWindow *self)
{
  return self->settings;
}

AtlasQueuePage *
atlas_window_get_queue_page (AtlasWindow *self)
{
  return self->queue_page;
}

void
atlas_window_show_toast (AtlasWindow *self, const char *text)
{
  AdwToast *toast = adw_toast_new (text);

  adw_toast_set_timeout (toast, 4);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

void
_atlas_window_add_toast (AtlasWindow *self, AdwToast *toast)
{
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

void
atlas_window_show_details (AtlasWindow *self, AtlasDownload *download)
{
  adw_view_stack_set_visible_child_name (self->view_stack, "downloads");
  atlas_details_page_set_download (self->details_page, download);
  adw_leaflet_set_visible_child (self->leaflet, self->details_box);
}

static void
show_details_cb (AtlasQueuePage *page, AtlasDownload *download, AtlasWindow *self)
{
  atlas_window_show_details (self, download);
}

static void
back_clicked_cb (GtkButton *button, AtlasWindow *self)
{
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

/* ---- the add dialog ----------------------------------------------------- */

static void
added_cb (AtlasAddDialog *dialog, guint n_added, AtlasWindow *self)
{
  g_autofree char *text = g_strdup_printf (
      g_dngettext (NULL, "%u download added", "%u downloads added", n_added), n_added);
  atlas_window_show_toast (self, text);
}

void
atlas_window_open_add_dialog (AtlasWindow *self, const char *text)
{
  GtkWidget *dialog;

  if (self->session == NULL)
    {
      atlas_window_show_toast (self, _ ("The download queue is not open yet"));
      return;
    }
  dialog = atlas_add_dialog_new (GTK_WINDOW (self), self->session, self->settings);
  if (text != NULL)
    atlas_add_dialog_set_urls (ATLAS_ADD_DIALOG (dialog), text);
  g_signal_connect_object (dialog, "added", G_CALLBACK (added_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- window actions ----------------------------------------------------- */

static void
add_download_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  atlas_window_open_add_dialog (ATLAS_WINDOW (widget), NULL);
}

static void
open_metalink_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  _atlas_window_choose_metalink (ATLAS_WINDOW (widget));
}

static void
paste_links_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  _atlas_window_paste_links (ATLAS_WINDOW (widget));
}

static void
search_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  AtlasWindow *self = ATLAS_WINDOW (widget);

  adw_view_stack_set_visible_child_name (self->view_stack, "downloads");
  atlas_queue_page_focus_search (self->queue_page);
}

static void
show_page_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  adw_view_stack_set_visible_child_name (ATLAS_WINDOW (widget)->view_stack,
                                         g_variant_get_string (parameter, NULL));
}

/* ---- window state ------------------------------------------------------- */

static void
atlas_window_constructed (GObject *object)
{
  AtlasWindow *self = ATLAS_WINDOW (object);

  G_OBJECT_CLASS (atlas_window_parent_class)->constructed (object);

  g_settings_bind (self->settings, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-height", self, "default-height",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);
  adw_bin_set_child (self->donate_bin, atlas_donate_page_new (self->settings));
  _atlas_window_setup_input (self);
}

static void
atlas_window_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  AtlasWindow *self = ATLAS_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_window_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasWindow *self = ATLAS_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_window_dispose (GObject *object)
{
  AtlasWindow *self = ATLAS_WINDOW (object);

  g_clear_object (&self->session);
  gtk_widget_dispose_template (GTK_WIDGET (self), ATLAS_TYPE_WINDOW);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (atlas_window_parent_class)->dispose (object);
}

static void
atlas_window_class_init (AtlasWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = atlas_window_constructed;
  object_class->dispose = atlas_window_dispose;
  object_class->set_property = atlas_window_set_property;
  object_class->get_property = atlas_window_get_property;

  properties[PROP_SETTINGS] =
      g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* Types used in the template must exist before it is parsed. */
  g_type_ensure (ATLAS_TYPE_QUEUE_PAGE);
  g_type_ensure (ATLAS_TYPE_DETAILS_PAGE);
  g_type_ensure (ATLAS_TYPE_VERIFY_PAGE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/downloadatlas/DownloadAtlas/atlas-window.ui");
  gtk_widget_class_bind_template_child (widget_class, AtlasWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, AtlasWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, AtlasWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, AtlasWindow, queue_page);
  gtk_widget_class_bind_template_child (widget_class, AtlasWindow, details_box);
  gtk_widget_class_bind_template_child (widget_class, AtlasWindow, details_page);
  gtk_widget_class_bind_template_child (widget_class, AtlasWindow, verify_page);
  gtk_widget_class_bind_template_child (widget_class, AtlasWindow, donate_bin);
  gtk_widget_class_bind_template_callback (widget_class, show_details_cb);
  gtk_widget_class_bind_template_callback (widget_class, back_clicked_cb);

  gtk_widget_class_install_action (widget_class, "win.add-download", NULL, add_download_action);
  gtk_widget_class_install_action (widget_class, "win.open-metalink", NULL, open_metalink_action);
  gtk_widget_class_install_action (widget_class, "win.paste-links", NULL, paste_links_action);
  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_action);
  gtk_widget_class_install_action (widget_class, "win.show-page", "s", show_page_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK,
                                       "win.add-download", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK,
                                       "win.open-metalink", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "win.search",
                                       NULL);
  /* Bindings run after the focused widget: a text field still pastes text. */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_v, GDK_CONTROL_MASK, "win.paste-links",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1, GDK_ALT_MASK, "win.show-page", "s",
                                       "downloads");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_2, GDK_ALT_MASK, "win.show-page", "s",
                                       "verify");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_3, GDK_ALT_MASK, "win.show-page", "s",
                                       "donate");
}

static void
atlas_window_init (AtlasWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

AtlasWindow *
atlas_window_new (GtkApplication *application, GSettings *settings)
{
  return g_object_new (ATLAS_TYPE_WINDOW, "application", application, "settings", settings, NULL);
}
