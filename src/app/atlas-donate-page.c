/* atlas-donate-page.c — the donation settings, bound to GSettings.
 *
 * Nothing here donates yet: the engine has no peers. The page says so, and
 * keeps the choices so they apply once it does. Sizes are shown in SI units
 * (1 GB = 10^9 bytes, 1 MB/s = 10^6 bytes/s), as GNOME shows sizes, and
 * stored in bytes as the keys say. */
#include "atlas-donate-page.h"

#include <glib/gi18n.h>
#include <string.h>

#include "atlas-format.h"

struct _AtlasDonatePage
{
  AdwBin parent_instance;

  GSettings *settings;
  GtkStringList *causes;

  GtkSwitch *enabled_switch;
  AdwPreferencesGroup *caps_group;
  GtkSpinButton *storage_spin;
  GtkSpinButton *upload_spin;
  GtkSpinButton *budget_spin;
  GtkListBox *causes_list;
  AdwEntryRow *cause_entry;
  GtkSwitch *pause_metered_switch;
  GtkSwitch *pause_power_switch;
};

G_DEFINE_FINAL_TYPE (AtlasDonatePage, atlas_donate_page, ADW_TYPE_BIN)

enum
{
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* A budget of 0 means none; "No budget" says so where "0" would read as
 * "donate nothing". */
static gboolean
budget_output_cb (GtkSpinButton *spin, gpointer user_data)
{
  if (gtk_adjustment_get_value (gtk_spin_button_get_adjustment (spin)) > 0)
    return FALSE;
  gtk_editable_set_text (GTK_EDITABLE (spin), _ ("No budget"));
  return TRUE;
}

static int
budget_input_cb (GtkSpinButton *spin, double *new_value, gpointer user_data)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (spin))));
  g_autofree char *folded = g_utf8_casefold (text, -1);
  g_autofree char *no_budget = g_utf8_casefold (_ ("No budget"), -1);

  if (text[0] != '\0' && strcmp (folded, no_budget) != 0)
    return FALSE;
  *new_value = 0;
  return TRUE;
}

static GtkWidget *
create_cause_row_cb (gpointer item, gpointer user_data)
{
  const char *cause = gtk_string_object_get_string (GTK_STRING_OBJECT (item));
  g_autofree char *tooltip = g_strdup_printf (_ ("Remove “%s”"), cause);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *button = gtk_button_new_from_icon_name ("user-trash-symbolic");

  /* Causes are typed by the user: never parse them as markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), cause);
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_widget_add_css_class (button, "flat");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), "donate.remove-cause");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "s", cause);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
  return row;
}

static void
causes_changed_cb (AtlasDonatePage *self)
{
  g_auto (GStrv) causes = g_settings_get_strv (self->settings, "donate-causes");

  gtk_string_list_splice (self->causes, 0, g_list_model_get_n_items (G_LIST_MODEL (self->causes)),
                          (const char *const *) causes);
}

static void
cause_apply_cb (AtlasDonatePage *self)
{
  g_autofree char *cause =
      g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->cause_entry))));
  g_auto (GStrv) causes = NULL;
  g_autoptr (GStrvBuilder) builder = NULL;

  if (self->settings == NULL || cause[0] == '\0')
    return;
  causes = g_settings_get_strv (self->settings, "donate-causes");
  /* Adding a cause twice is a no-op rather than an error: the list already
   * shows it. */
  if (!g_strv_contains ((const char *const *) causes, cause))
    {
      g_auto (GStrv) updated = NULL;

      builder = g_strv_builder_new ();
      g_strv_builder_addv (builder, (const char **) causes);
      g_strv_builder_add (builder, cause);
      updated = g_strv_builder_end (builder);
      g_settings_set_strv (self->settings, "donate-causes", (const char *const *) updated);
    }
  gtk_editable_set_text (GTK_EDITABLE (self->cause_entry), "");
}

static void
remove_cause_cb (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  AtlasDonatePage *self = ATLAS_DONATE_PAGE (widget);
  const char *cause = g_variant_get_string (parameter, NULL);
  g_auto (GStrv) causes = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) updated = NULL;

  if (self->settings == NULL)
    return;
  causes = g_settings_get_strv (self->settings, "donate-causes");
  for (guint i = 0; causes[i] != NULL; i++)
    if (!g_str_equal (causes[i], cause))
      g_strv_builder_add (builder, causes[i]);
  updated = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "donate-causes", (const char *const *) updated);
}

static void
unbind_settings (AtlasDonatePage *self)
{
  /* Each key-bound widget also has its sensitivity bound to the key's
   * writability. */
  GObject *bound[] = {
    G_OBJECT (self->enabled_switch),       G_OBJECT (self->storage_spin),
    G_OBJECT (self->upload_spin),          G_OBJECT (self->budget_spin),
    G_OBJECT (self->pause_metered_switch), G_OBJECT (self->pause_power_switch),
  };

  if (self->settings == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (bound); i++)
    {
      g_settings_unbind (bound[i], GTK_IS_SWITCH (bound[i]) ? "active" : "value");
      g_settings_unbind (bound[i], "sensitive");
    }
  g_settings_unbind (self->caps_group, "sensitive");
  g_signal_handlers_disconnect_by_data (self->settings, self);
}

static void
bind_settings (AtlasDonatePage *self)
{
  if (self->settings == NULL)
    return;
  g_settings_bind (self->settings, "donate-enabled", self->enabled_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  /* The limits only matter while donating; dimming them says so. */
  g_settings_bind (self->settings, "donate-enabled", self->caps_group, "sensitive",
                   G_SETTINGS_BIND_GET);
  atlas_format_bind_bytes_as_units (self->settings, "donate-storage-cap", self->storage_spin,
                                    "value", ATLAS_BYTES_PER_GIGABYTE);
  atlas_format_bind_bytes_as_units (self->settings, "donate-upload-limit", self->upload_spin,
                                    "value", ATLAS_BYTES_PER_MEGABYTE);
  atlas_format_bind_bytes_as_units (self->settings, "donate-monthly-budget", self->budget_spin,
                                    "value", ATLAS_BYTES_PER_GIGABYTE);
  g_settings_bind (self->settings, "donate-pause-on-metered", self->pause_metered_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "donate-pause-on-power-saver", self->pause_power_switch,
                   "active", G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_object (self->settings, "changed::donate-causes", G_CALLBACK (causes_changed_cb),
                           self, G_CONNECT_SWAPPED);
  causes_changed_cb (self);
}

/* Settable at any time, not only at construction, so that a window template
 * can hold the page and hand it the settings once it has them. */
static void
atlas_donate_page_set_settings (AtlasDonatePage *self, GSettings *settings)
{
  if (self->settings == settings)
    return;
  unbind_settings (self);
  g_set_object (&self->settings, settings);
  if (settings == NULL)
    gtk_string_list_splice (self->causes, 0, g_list_model_get_n_items (G_LIST_MODEL (self->causes)),
                            NULL);
  bind_settings (self);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "donate.remove-cause", settings != NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SETTINGS]);
}

static void
atlas_donate_page_dispose (GObject *object)
{
  AtlasDonatePage *self = ATLAS_DONATE_PAGE (object);

  unbind_settings (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), ATLAS_TYPE_DONATE_PAGE);
  g_clear_object (&self->settings);
  g_clear_object (&self->causes);

  G_OBJECT_CLASS (atlas_donate_page_parent_class)->dispose (object);
}

static void
atlas_donate_page_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasDonatePage *self = ATLAS_DONATE_PAGE (object);

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
atlas_donate_page_set_property (GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
  AtlasDonatePage *self = ATLAS_DONATE_PAGE (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      atlas_donate_page_set_settings (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_donate_page_class_init (AtlasDonatePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = atlas_donate_page_dispose;
  object_class->get_property = atlas_donate_page_get_property;
  object_class->set_property = atlas_donate_page_set_property;

  properties[PROP_SETTINGS] =
      g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_install_action (widget_class, "donate.remove-cause", "s", remove_cause_cb);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/downloadatlas/DownloadAtlas/"
                                                             "atlas-donate-page.ui");
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, enabled_switch);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, caps_group);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, storage_spin);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, upload_spin);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, budget_spin);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, causes_list);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, cause_entry);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, pause_metered_switch);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, pause_power_switch);
  gtk_widget_class_bind_template_callback (widget_class, cause_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, budget_input_cb);
  gtk_widget_class_bind_template_callback (widget_class, budget_output_cb);
}

static void
atlas_donate_page_init (AtlasDonatePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->causes = gtk_string_list_new (NULL);
  gtk_list_box_bind_model (self->causes_list, G_LIST_MODEL (self->causes), create_cause_row_cb,
                           self, NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "donate.remove-cause", FALSE);
}

GtkWidget *
atlas_donate_page_new (GSettings *settings)
{
  g_return_val_if_fail (settings == NULL || G_IS_SETTINGS (settings), NULL);

  return g_object_new (ATLAS_TYPE_DONATE_PAGE, "settings", settings, NULL);
}
