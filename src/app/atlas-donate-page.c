/* atlas-donate-page.c — the donation settings, bound to GSettings, and
 * what the running donor does with them.
 *
 * The settings reach the donor through AtlasAppDonor, never from here: the
 * page only writes keys and shows figures, so a key changed elsewhere (the
 * CLI, another window) is applied the same way. Figures follow the donor's
 * properties, which it notifies at most about once a second. Sizes are shown
 * in SI units (1 GB = 10^9 bytes, 1 MB/s = 10^6 bytes/s), as GNOME shows
 * sizes, and stored in bytes as the keys say. */
#include "atlas-donate-page.h"

#include <glib/gi18n.h>
#include <string.h>

#include "atlas-format.h"

struct _AtlasDonatePage
{
  AdwBin parent_instance;

  GSettings *settings;
  GtkStringList *causes;
  AtlasAppDonor *app_donor;
  AtlasDonor *donor; /* the app donor's, while it runs */

  GtkSwitch *enabled_switch;
  GtkWidget *status_box;
  GtkImage *status_icon;
  GtkLabel *status_label;
  AdwPreferencesGroup *activity_group;
  AdwActionRow *storage_used_row;
  GtkLevelBar *storage_level;
  AdwActionRow *upload_now_row;
  AdwActionRow *month_row;
  AdwActionRow *served_row;
  AdwPreferencesGroup *held_group;
  GtkListBox *held_list;
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
  PROP_DONOR,
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

/* ---- what the donor does -------------------------------------------------------- */

/* The engine's reasons are English; the page says them in the user's
 * language. */
static const char *
pause_text (AtlasDonor *donor)
{
  switch (atlas_donor_get_pause_reason (donor))
    {
    case ATLAS_DONOR_PAUSE_NONE:
      return _ ("Donating");
    case ATLAS_DONOR_PAUSE_DISABLED:
      return _ ("Paused: donation is turned off");
    case ATLAS_DONOR_PAUSE_METERED:
      return _ ("Paused: the network is metered");
    case ATLAS_DONOR_PAUSE_POWER_SAVER:
      return _ ("Paused: power saver is on");
    case ATLAS_DONOR_PAUSE_BUDGET:
      return _ ("Paused: this month’s budget is spent");
    case ATLAS_DONOR_PAUSE_OFFLINE:
      return _ ("Paused: not connected to the tracker");
    }
  return atlas_donor_get_pause_text (donor);
}

static void
set_status (AtlasDonatePage *self, const char *icon, const char *text)
{
  gtk_image_set_from_icon_name (self->status_icon, icon);
  gtk_label_set_text (self->status_label, text);
}

static void
update_status (AtlasDonatePage *self)
{
  AtlasAppDonorStatus status;

  gtk_widget_set_visible (self->status_box, self->app_donor != NULL);
  if (self->app_donor == NULL)
    return;
  status = atlas_app_donor_get_status (self->app_donor);
  switch (status)
    {
    case ATLAS_APP_DONOR_OFF:
      set_status (self, "dialog-information-symbolic", _ ("Donation is off"));
      break;
    case ATLAS_APP_DONOR_NO_TRACKER:
      set_status (self, "dialog-warning-symbolic",
                  _ ("Donation needs a tracker: set one in Preferences → Peer-to-Peer"));
      break;
    case ATLAS_APP_DONOR_FAILED:
      set_status (self, "dialog-warning-symbolic", atlas_app_donor_get_error (self->app_donor));
      break;
    case ATLAS_APP_DONOR_RUNNING:
      {
        const char *error = atlas_app_donor_get_error (self->app_donor);
        const char *text = self->donor != NULL ? pause_text (self->donor) : _ ("Starting…");
        g_autofree char *full = NULL;

        /* A running donor's problems (an unreachable tracker, a cause the
         * index does not know) stay said under its state, not only in a
         * passing toast. */
        if (error != NULL)
          text = full = g_strdup_printf ("%s\n%s", text, error);
        if (self->donor == NULL)
          set_status (self, "content-loading-symbolic", text);
        else if (atlas_donor_get_pause_reason (self->donor) == ATLAS_DONOR_PAUSE_NONE)
          set_status (self, error != NULL ? "dialog-warning-symbolic" : "emblem-ok-symbolic", text);
        else
          set_status (self, "media-playback-pause-symbolic", text);
      }
      break;
    }
}

static void
set_subtitle (AdwActionRow *row, const char *text)
{
  if (g_strcmp0 (adw_action_row_get_subtitle (row), text) != 0)
    adw_action_row_set_subtitle (row, text);
}

static void
update_figures (AtlasDonatePage *self)
{
  guint64 used, cap, rate, upload_cap, uploaded, fetched, budget, served;
  guint helped;
  g_autofree char *storage = NULL;
  g_autofree char *upload = NULL;
  g_autofree char *month = NULL;
  g_autofree char *served_text = NULL;
  g_autofree char *rate_text = NULL;
  g_autofree char *upload_cap_text = NULL;
  g_autofree char *uploaded_text = NULL;
  g_autofree char *fetched_text = NULL;
  g_autofree char *served_size = NULL;

  update_status (self);
  gtk_widget_set_visible (GTK_WIDGET (self->activity_group), self->donor != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->held_group), self->donor != NULL);
  if (self->donor == NULL)
    return;

  used = atlas_donor_get_storage_used (self->donor);
  cap = atlas_donor_get_storage_cap (self->donor);
  storage = atlas_format_progress (used, (gint64) cap);
  set_subtitle (self->storage_used_row, storage);
  gtk_level_bar_set_value (self->storage_level, cap > 0 ? MIN (1.0, (double) used / cap) : 0);

  rate = atlas_donor_get_upload_rate (self->donor);
  upload_cap = atlas_donor_get_upload_cap (self->donor);
  rate_text = atlas_format_speed (rate);
  upload_cap_text = atlas_format_speed (upload_cap);
  if (rate == 0 && upload_cap > 0)
    /* Translators: %s is the upload cap, e.g. "1.0 MB/s". */
    upload = g_strdup_printf (_ ("Idle, at most %s"), upload_cap_text);
  else if (rate == 0)
    upload = g_strdup (_ ("Idle"));
  else if (upload_cap > 0)
    /* Translators: an upload speed now, then the cap, e.g. "120 kB/s of at most 1.0 MB/s". */
    upload = g_strdup_printf (_ ("%s of at most %s"), rate_text, upload_cap_text);
  else
    upload = g_steal_pointer (&rate_text);
  set_subtitle (self->upload_now_row, upload);

  uploaded = atlas_donor_get_uploaded_this_month (self->donor);
  fetched = atlas_donor_get_fetched_this_month (self->donor);
  budget = atlas_donor_get_monthly_budget (self->donor);
  uploaded_text = atlas_format_size (uploaded);
  fetched_text = atlas_format_size (fetched);
  if (budget > 0)
    {
      g_autofree char *spent = atlas_format_progress (uploaded + fetched, (gint64) budget);

      /* Translators: "1.2 GB of 100 GB budget: 1.0 GB uploaded, 200 MB fetched". */
      month = g_strdup_printf (_ ("%s budget: %s uploaded, %s fetched"), spent, uploaded_text,
                               fetched_text);
    }
  else
    month = g_strdup_printf (_ ("%s uploaded, %s fetched"), uploaded_text, fetched_text);
  set_subtitle (self->month_row, month);

  served = atlas_donor_get_bytes_served (self->donor);
  helped = atlas_donor_get_downloads_helped (self->donor);
  served_size = atlas_format_size (served);
  served_text = g_strdup_printf (
      /* Translators: "3.4 GB to 12 downloads". */
      ngettext ("%s to %u download", "%s to %u downloads", helped), served_size, helped);
  set_subtitle (self->served_row, served_text);
}

static void
donor_notify_cb (AtlasDonatePage *self)
{
  update_figures (self);
}

static char *
held_subtitle (AtlasDonorCause *cause)
{
  g_autofree char *stored = atlas_format_size (atlas_donor_cause_get_storage_used (cause));
  g_autofree char *served = atlas_format_size (atlas_donor_cause_get_bytes_served (cause));
  guint peers = atlas_donor_cause_get_peers_helped (cause);

  return g_strdup_printf (
      /* Translators: "12 MB stored · 40 MB served · 3 peers helped". */
      ngettext ("%s stored · %s served · %u peer helped", "%s stored · %s served · %u peers helped",
                peers),
      stored, served, peers);
}

static void
cause_notify_cb (AtlasDonorCause *cause, GParamSpec *pspec, AdwActionRow *row)
{
  g_autofree char *subtitle = held_subtitle (cause);

  set_subtitle (row, subtitle);
}

static GtkWidget *
create_held_row_cb (gpointer item, gpointer user_data)
{
  AtlasDonorCause *cause = ATLAS_DONOR_CAUSE (item);
  const char *name = atlas_donor_cause_get_name (cause);
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *subtitle = held_subtitle (cause);

  /* Names come from publishers: never parse them as markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (
      ADW_PREFERENCES_ROW (row),
      name != NULL && *name != '\0' ? name : atlas_donor_cause_get_entry (cause));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_widget_set_tooltip_text (row, atlas_donor_cause_get_entry (cause));
  g_signal_connect_object (cause, "notify", G_CALLBACK (cause_notify_cb), row, 0);
  return row;
}

static void
set_donor (AtlasDonatePage *self, AtlasDonor *donor)
{
  if (self->donor == donor)
    return;
  if (self->donor != NULL)
    g_signal_handlers_disconnect_by_data (self->donor, self);
  g_set_object (&self->donor, donor);
  if (donor != NULL)
    g_signal_connect_object (donor, "notify", G_CALLBACK (donor_notify_cb), self,
                             G_CONNECT_SWAPPED);
  gtk_list_box_bind_model (self->held_list, donor != NULL ? atlas_donor_get_causes (donor) : NULL,
                           create_held_row_cb, self, NULL);
  update_figures (self);
}

static void
app_donor_changed_cb (AtlasDonatePage *self)
{
  set_donor (self, self->app_donor != NULL ? atlas_app_donor_get_donor (self->app_donor) : NULL);
  update_figures (self);
}

void
atlas_donate_page_set_donor (AtlasDonatePage *self, AtlasAppDonor *app_donor)
{
  g_return_if_fail (ATLAS_IS_DONATE_PAGE (self));
  g_return_if_fail (app_donor == NULL || ATLAS_IS_APP_DONOR (app_donor));

  if (self->app_donor == app_donor)
    return;
  if (self->app_donor != NULL)
    g_signal_handlers_disconnect_by_data (self->app_donor, self);
  g_set_object (&self->app_donor, app_donor);
  if (app_donor != NULL)
    {
      g_signal_connect_object (app_donor, "notify::status", G_CALLBACK (app_donor_changed_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (app_donor, "notify::donor", G_CALLBACK (app_donor_changed_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (app_donor, "notify::error", G_CALLBACK (app_donor_changed_cb), self,
                               G_CONNECT_SWAPPED);
    }
  app_donor_changed_cb (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DONOR]);
}

AtlasAppDonor *
atlas_donate_page_get_donor (AtlasDonatePage *self)
{
  g_return_val_if_fail (ATLAS_IS_DONATE_PAGE (self), NULL);

  return self->app_donor;
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
  if (self->app_donor != NULL)
    g_signal_handlers_disconnect_by_data (self->app_donor, self);
  if (self->donor != NULL)
    g_signal_handlers_disconnect_by_data (self->donor, self);
  g_clear_object (&self->app_donor);
  g_clear_object (&self->donor);
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
    case PROP_DONOR:
      g_value_set_object (value, self->app_donor);
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
    case PROP_DONOR:
      atlas_donate_page_set_donor (self, g_value_get_object (value));
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
  properties[PROP_DONOR] =
      g_param_spec_object ("donor", NULL, NULL, ATLAS_TYPE_APP_DONOR,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_install_action (widget_class, "donate.remove-cause", "s", remove_cause_cb);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/downloadatlas/DownloadAtlas/"
                                                             "atlas-donate-page.ui");
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, enabled_switch);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, status_box);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, status_icon);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, status_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, activity_group);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, storage_used_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, storage_level);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, upload_now_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, month_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, served_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, held_group);
  gtk_widget_class_bind_template_child (widget_class, AtlasDonatePage, held_list);
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
