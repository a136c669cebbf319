/* atlas-preferences-window.c — every row is bound to its GSettings key, so a
 * change applies at once (the application binds the same keys onto the
 * engine's AtlasSettings) and there is no "Apply" button to forget.
 *
 * Speed limits are shown in MB/s with SI units (1 MB/s = 1,000,000 bytes/s),
 * the units atlas_format_speed uses for the speeds shown in the queue, and
 * stored in bytes per second as the keys say.
 *
 * Text rows (tracker, STUN and TURN servers) write their key when applied
 * (Enter or the apply button), not on every keystroke, because each change
 * of those keys rebuilds the peer swarm. The tracker token and the TURN
 * password never go into GSettings: they are stored through AtlasAppSecrets
 * in private files. */
#include "atlas-preferences-window.h"

#include <glib/gi18n.h>
#include <string.h>

#include "atlas-app-secrets.h"
#include "atlas-format.h"

struct _AtlasPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GSettings *settings;
  GtkFileChooserNative *chooser;

  AdwActionRow *folder_row;
  GtkSpinButton *concurrent_spin;
  GtkSpinButton *connections_spin;
  GtkSpinButton *download_limit_spin;
  GtkSpinButton *upload_limit_spin;
  GtkSwitch *clipboard_switch;
  GtkSwitch *metered_switch;
  AdwComboRow *close_action_row;

  AdwComboRow *peer_mode_row;
  AdwEntryRow *tracker_url_row;
  AdwEntryRow *tracker_token_row;
  AdwEntryRow *stun_server_row;
  AdwEntryRow *turn_server_row;
  AdwEntryRow *turn_username_row;
  AdwEntryRow *turn_password_row;
  GtkSwitch *upnp_switch;
  GtkSpinButton *max_peers_spin;
  GtkSpinButton *peer_upload_limit_spin;
};

G_DEFINE_FINAL_TYPE (AtlasPreferencesWindow, atlas_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

enum
{
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* In the order of the combo rows' items. */
static const char *const close_actions[] = { "ask", "background", "pause", NULL };
static const char *const peer_modes[] = { "off", "on", "relay-only", NULL };

/* A limit of 0 means none; "Unlimited" says so where "0.0" would read as
 * "nothing may be downloaded". */
static gboolean
limit_output_cb (GtkSpinButton *spin, gpointer user_data)
{
  if (gtk_adjustment_get_value (gtk_spin_button_get_adjustment (spin)) > 0)
    return FALSE;
  gtk_editable_set_text (GTK_EDITABLE (spin), _ ("Unlimited"));
  return TRUE;
}

static int
limit_input_cb (GtkSpinButton *spin, double *new_value, gpointer user_data)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (spin))));
  g_autofree char *folded = g_utf8_casefold (text, -1);
  g_autofree char *unlimited = g_utf8_casefold (_ ("Unlimited"), -1);

  if (text[0] != '\0' && strcmp (folded, unlimited) != 0)
    return FALSE;
  *new_value = 0;
  return TRUE;
}

/* An enum key and a combo row's "selected": @user_data is the nicks in the
 * order of the row's items. */
static gboolean
nick_to_index_cb (GValue *value, GVariant *variant, gpointer user_data)
{
  const char *const *nicks = user_data;
  const char *nick = g_variant_get_string (variant, NULL);

  for (guint i = 0; nicks[i] != NULL; i++)
    if (g_str_equal (nick, nicks[i]))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
index_to_nick_cb (const GValue *value, const GVariantType *expected_type, gpointer user_data)
{
  const char *const *nicks = user_data;
  guint index = g_value_get_uint (value);

  if (index >= g_strv_length ((char **) nicks))
    return NULL;
  return g_variant_new_string (nicks[index]);
}

static void
apply_text_key (AtlasPreferencesWindow *self, AdwEntryRow *row, const char *key)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));

  if (self->settings != NULL)
    g_settings_set_string (self->settings, key, text);
}

static void
tracker_url_apply_cb (AtlasPreferencesWindow *self, AdwEntryRow *row)
{
  apply_text_key (self, row, "tracker-url");
}

static void
stun_server_apply_cb (AtlasPreferencesWindow *self, AdwEntryRow *row)
{
  apply_text_key (self, row, "stun-server");
}

static void
turn_server_apply_cb (AtlasPreferencesWindow *self, AdwEntryRow *row)
{
  apply_text_key (self, row, "turn-server");
}

static void
turn_username_apply_cb (AtlasPreferencesWindow *self, AdwEntryRow *row)
{
  apply_text_key (self, row, "turn-username");
}

static void
apply_secret (AtlasPreferencesWindow *self, AdwEntryRow *row, const char *name)
{
  g_autoptr (GError) error = NULL;

  if (!atlas_app_secrets_store (atlas_app_secrets_get_default (), name,
                                gtk_editable_get_text (GTK_EDITABLE (row)), &error))
    {
      /* Translators: %s says which file could not be written and why. */
      g_autofree char *message = g_strdup_printf (_ ("Not saved: %s"), error->message);
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (message));
    }
}

static void
tracker_token_apply_cb (AtlasPreferencesWindow *self, AdwEntryRow *row)
{
  apply_secret (self, row, ATLAS_SECRET_TRACKER_TOKEN);
}

static void
turn_password_apply_cb (AtlasPreferencesWindow *self, AdwEntryRow *row)
{
  apply_secret (self, row, ATLAS_SECRET_TURN_PASSWORD);
}

static void
load_secret (AdwEntryRow *row, const char *name)
{
  g_autofree char *value = atlas_app_secrets_lookup (atlas_app_secrets_get_default (), name);

  gtk_editable_set_text (GTK_EDITABLE (row), value != NULL ? value : "");
}

/* An empty key means the user's Downloads folder; show which one that is. */
static gboolean
folder_to_subtitle_cb (GValue *value, GVariant *variant, gpointer user_data)
{
  g_autofree char *path = atlas_download_folder_for (g_variant_get_string (variant, NULL));

  g_value_take_string (value, atlas_format_folder (path));
  return TRUE;
}

static void
chooser_response_cb (AtlasPreferencesWindow *self, int response, GtkFileChooserNative *chooser)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = folder != NULL ? g_file_get_path (folder) : NULL;

      /* The engine writes .part files at offsets, which needs a local path;
       * a remote location has none. */
      if (path != NULL)
        g_settings_set_string (self->settings, "download-directory", path);
      else
        adw_preferences_window_add_toast (
            ADW_PREFERENCES_WINDOW (self),
            adw_toast_new (_ ("Choose a folder on this computer to download into")));
    }
  g_clear_object (&self->chooser);
}

static void
folder_clicked_cb (AtlasPreferencesWindow *self)
{
  g_autofree char *current_path = NULL;

  if (self->chooser != NULL || self->settings == NULL)
    return;
  current_path = g_settings_get_string (self->settings, "download-directory");
  self->chooser = gtk_file_chooser_native_new (_ ("Choose Download Folder"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _ ("_Select"),
                                               _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  if (current_path[0] != '\0')
    {
      g_autoptr (GFile) current = g_file_new_for_path (current_path);
      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (self->chooser), current, NULL);
    }
  g_signal_connect_object (self->chooser, "response", G_CALLBACK (chooser_response_cb), self,
                           G_CONNECT_SWAPPED);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
bind_speed_limit (GSettings *settings, const char *key, GtkSpinButton *spin)
{
  atlas_format_bind_bytes_as_units (settings, key, spin, "value", ATLAS_BYTES_PER_MEGABYTE);
}

static void
atlas_preferences_window_constructed (GObject *object)
{
  AtlasPreferencesWindow *self = ATLAS_PREFERENCES_WINDOW (object);

  G_OBJECT_CLASS (atlas_preferences_window_parent_class)->constructed (object);

  /* Only a bare g_object_new (a test that instantiates every widget) gets
   * here without settings; atlas_preferences_window_new() requires them. */
  if (self->settings == NULL)
    return;

  g_settings_bind_with_mapping (self->settings, "download-directory", self->folder_row, "subtitle",
                                G_SETTINGS_BIND_GET, folder_to_subtitle_cb, NULL, NULL, NULL);
  g_settings_bind (self->settings, "max-concurrent-downloads", self->concurrent_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "max-connections-per-server", self->connections_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  bind_speed_limit (self->settings, "global-speed-limit", self->download_limit_spin);
  bind_speed_limit (self->settings, "global-upload-limit", self->upload_limit_spin);
  g_settings_bind (self->settings, "clipboard-watch", self->clipboard_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "download-on-metered", self->metered_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "close-action", self->close_action_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, nick_to_index_cb, index_to_nick_cb,
                                (gpointer) close_actions, NULL);

  g_settings_bind_with_mapping (self->settings, "peer-mode", self->peer_mode_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, nick_to_index_cb, index_to_nick_cb,
                                (gpointer) peer_modes, NULL);
  g_settings_bind (self->settings, "tracker-url", self->tracker_url_row, "text",
                   G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "stun-server", self->stun_server_row, "text",
                   G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "turn-server", self->turn_server_row, "text",
                   G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "turn-username", self->turn_username_row, "text",
                   G_SETTINGS_BIND_GET);
  load_secret (self->tracker_token_row, ATLAS_SECRET_TRACKER_TOKEN);
  load_secret (self->turn_password_row, ATLAS_SECRET_TURN_PASSWORD);
  g_settings_bind (self->settings, "upnp", self->upnp_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "max-peers", self->max_peers_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  bind_speed_limit (self->settings, "peer-upload-limit", self->peer_upload_limit_spin);
}

static void
atlas_preferences_window_dispose (GObject *object)
{
  AtlasPreferencesWindow *self = ATLAS_PREFERENCES_WINDOW (object);

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  gtk_widget_dispose_template (GTK_WIDGET (self), ATLAS_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (atlas_preferences_window_parent_class)->dispose (object);
}

static void
atlas_preferences_window_get_property (GObject *object, guint prop_id, GValue *value,
                                       GParamSpec *pspec)
{
  AtlasPreferencesWindow *self = ATLAS_PREFERENCES_WINDOW (object);

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
atlas_preferences_window_set_property (GObject *object, guint prop_id, const GValue *value,
                                       GParamSpec *pspec)
{
  AtlasPreferencesWindow *self = ATLAS_PREFERENCES_WINDOW (object);

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
atlas_preferences_window_class_init (AtlasPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = atlas_preferences_window_constructed;
  object_class->dispose = atlas_preferences_window_dispose;
  object_class->get_property = atlas_preferences_window_get_property;
  object_class->set_property = atlas_preferences_window_set_property;

  properties[PROP_SETTINGS] =
      g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/downloadatlas/DownloadAtlas/"
                                                             "atlas-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, folder_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, concurrent_spin);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, connections_spin);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, download_limit_spin);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, upload_limit_spin);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, clipboard_switch);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, metered_switch);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, close_action_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, peer_mode_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, tracker_url_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, tracker_token_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, stun_server_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, turn_server_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, turn_username_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, turn_password_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, upnp_switch);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow, max_peers_spin);
  gtk_widget_class_bind_template_child (widget_class, AtlasPreferencesWindow,
                                        peer_upload_limit_spin);
  gtk_widget_class_bind_template_callback (widget_class, folder_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, tracker_url_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, tracker_token_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, stun_server_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, turn_server_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, turn_username_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, turn_password_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, limit_input_cb);
  gtk_widget_class_bind_template_callback (widget_class, limit_output_cb);
}

static void
atlas_preferences_window_init (AtlasPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
atlas_preferences_window_new (GtkWindow *parent, GSettings *settings)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  return g_object_new (ATLAS_TYPE_PREFERENCES_WINDOW, "transient-for", parent, "settings", settings,
                       NULL);
}
