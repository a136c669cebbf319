/* atlas-application.c — the app: one instance, the engine session, GNOME
 * integration (notifications, suspend inhibition, metered networks) and
 * what closing the window means while downloads run. */
#include "atlas-application.h"

#include <glib/gi18n.h>

#include "atlas-app-donor.h"
#include "atlas-app-swarm.h"
#include "atlas-config.h"
#include "atlas-format.h"
#include "atlas-launch.h"
#include "atlas-preferences-window.h"
#include "atlas-window.h"

struct _AtlasApplication
{
  AdwApplication parent_instance;

  GSettings *settings;
  AtlasSettings *engine_settings;
  AtlasSession *session;
  AtlasAppSwarm *swarm; /* peers; made with the session */
  AtlasAppDonor *donor; /* donation; made at startup, it has its own queue */
  GError *open_error;
  GPtrArray *pending_files; /* GFile, opened before the queue was ready */

  guint inhibit_cookie;
  gboolean metered_override; /* "Download anyway" on this metered network */
  gboolean paused_for_metered;
  gboolean background; /* the window was closed, downloads go on */
  gboolean quitting;
};

G_DEFINE_FINAL_TYPE (AtlasApplication, atlas_application, ADW_TYPE_APPLICATION)

AtlasSession *
atlas_application_get_session (AtlasApplication *self)
{
  return self->session;
}

GSettings *
atlas_application_get_settings (AtlasApplication *self)
{
  return self->settings;
}

AtlasAppSwarm *
atlas_application_get_swarm (AtlasApplication *self)
{
  return self->swarm;
}

AtlasAppDonor *
atlas_application_get_donor (AtlasApplication *self)
{
  return self->donor;
}

static AtlasWindow *
main_window (AtlasApplication *self, gboolean create)
{
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (self));
  AtlasWindow *window;

  for (GList *l = windows; l != NULL; l = l->next)
    if (ATLAS_IS_WINDOW (l->data))
      return l->data;
  if (!create)
    return NULL;
  window = atlas_window_new (GTK_APPLICATION (self), self->settings);
  atlas_window_set_session (window, self->session);
  atlas_window_set_donor (window, self->donor);
  return window;
}

static guint
count_running (AtlasApplication *self)
{
  guint running = 0;

  if (self->session == NULL)
    return 0;
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->session)); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (G_LIST_MODEL (self->session), i);
      AtlasDownloadState state = atlas_download_get_state (download);

      running += state == ATLAS_DOWNLOAD_ACTIVE || state == ATLAS_DOWNLOAD_VERIFYING
                 || state == ATLAS_DOWNLOAD_QUEUED;
    }
  return running;
}

/* ---- suspend inhibition and background running -------------------------- */

static void
update_inhibit_and_background (AtlasApplication *self)
{
  guint running = count_running (self);

  if (running > 0 && self->inhibit_cookie == 0 && atlas_session_is_running (self->session))
    self->inhibit_cookie =
        gtk_application_inhibit (GTK_APPLICATION (self), GTK_WINDOW (main_window (self, FALSE)),
                                 GTK_APPLICATION_INHIBIT_SUSPEND, _ ("Downloads are running"));
  else if ((running == 0 || !atlas_session_is_running (self->session)) && self->inhibit_cookie != 0)
    {
      gtk_application_uninhibit (GTK_APPLICATION (self), self->inhibit_cookie);
      self->inhibit_cookie = 0;
    }
  /* Running in the background ends with the last download. */
  if (self->background && running == 0 && main_window (self, FALSE) == NULL)
    {
      self->background = FALSE;
      g_application_release (G_APPLICATION (self));
    }
}

/* ---- notifications ------------------------------------------------------ */

static void
notify_download (AtlasApplication *self, AtlasDownload *download)
{
  AtlasDownloadState state = atlas_download_get_state (download);
  g_autoptr (GNotification) notification = NULL;
  g_autofree char *id = NULL;
  g_autoptr (GVariant) target = NULL;
  AtlasWindow *window = main_window (self, FALSE);

  if (state != ATLAS_DOWNLOAD_COMPLETE && state != ATLAS_DOWNLOAD_FAILED)
    return;
  /* Someone looking at the window sees the row change; tell everyone else. */
  if (window != NULL && gtk_window_is_active (GTK_WINDOW (window)))
    return;
  id = g_strdup_printf ("download-%" G_GUINT64_FORMAT, atlas_download_get_id (download));
  target = g_variant_ref_sink (g_variant_new_uint64 (atlas_download_get_id (download)));
  if (state == ATLAS_DOWNLOAD_COMPLETE)
    {
      notification = g_notification_new (_ ("Download complete"));
      g_notification_set_body (notification, atlas_download_get_name (download));
      g_notification_set_default_action_and_target_value (notification, "app.open-file", target);
      g_notification_add_button_with_target_value (notification, _ ("Open"), "app.open-file",
                                                   target);
      g_notification_add_button_with_target_value (notification, _ ("Show in Folder"),
                                                   "app.show-in-folder", target);
    }
  else
    {
      g_autofree char *body = g_strdup_printf ("%s: %s", atlas_download_get_name (download),
                                               atlas_download_get_error_message (download));
      notification = g_notification_new (_ ("Download failed"));
      g_notification_set_body (notification, body);
      g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_HIGH);
      g_notification_set_default_action_and_target_value (notification, "app.show-details", target);
      g_notification_add_button_with_target_value (notification, _ ("Retry"), "app.retry", target);
    }
  g_application_send_notification (G_APPLICATION (self), id, notification);
}

static void
download_state_changed_cb (AtlasSession *session, AtlasDownload *download, AtlasApplication *self)
{
  notify_download (self, download);
  update_inhibit_and_background (self);
}

/* ---- metered networks --------------------------------------------------- */

static void
update_metered (AtlasApplication *self)
{
  gboolean metered = g_network_monitor_get_network_metered (g_network_monitor_get_default ());
  gboolean allowed = g_settings_get_boolean (self->settings, "download-on-metered");
  gboolean pause = metered && !allowed && !self->metered_override;
  AtlasWindow *window = main_window (self, FALSE);

  if (self->session == NULL)
    return;
  /* Peers upload too: a metered network stops them with the downloads,
   * and they come back before the session starts again. */
  if (self->swarm != NULL)
    atlas_app_swarm_set_paused (self->swarm, pause);
  if (pause && atlas_session_is_running (self->session))
    {
      atlas_session_stop (self->session);
      self->paused_for_metered = TRUE;
      if (window != NULL)
        atlas_window_show_toast (
            window, _ ("Downloads paused: the network is metered. Allow metered networks in "
                       "Preferences, or choose “Download on This Metered Network” in the menu."));
    }
  else if (!pause && !atlas_session_is_running (self->session))
    {
      atlas_session_start (self->session);
      self->paused_for_metered = FALSE;
    }
  if (!metered)
    self->metered_override = FALSE;
  g_action_group_change_action_state (G_ACTION_GROUP (self), "download-anyway",
                                      g_variant_new_boolean (self->metered_override));
  g_simple_action_set_enabled (
      G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (self), "download-anyway")),
      metered && !allowed);
  update_inhibit_and_background (self);
}

static void
metered_changed_cb (GObject *object, GParamSpec *pspec, AtlasApplication *self)
{
  update_metered (self);
}

static void
metered_setting_changed_cb (GSettings *settings, const char *key, AtlasApplication *self)
{
  update_metered (self);
}

/* ---- the queue ---------------------------------------------------------- */

static void
add_pending_files (AtlasApplication *self)
{
  AtlasWindow *window;

  if (self->pending_files->len == 0)
    return;
  window = main_window (self, TRUE);
  atlas_window_add_files (window, (GFile *const *) self->pending_files->pdata,
                          self->pending_files->len);
  g_ptr_array_set_size (self->pending_files, 0);
  gtk_window_present (GTK_WINDOW (window));
}

static void
show_open_error (AtlasApplication *self)
{
  AtlasWindow *window = main_window (self, TRUE);
  AdwMessageDialog *dialog;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (
      GTK_WINDOW (window), _ ("The download queue cannot be opened"), self->open_error->message));
  if (g_error_matches (self->open_error, ATLAS_ERROR, ATLAS_ERROR_BUSY))
    adw_message_dialog_format_body (
        dialog,
        _ ("%s\n\nAnother program — usually a running “atlas” command — is using the queue. "
           "Let it finish or stop it, then start Download Atlas again."),
        self->open_error->message);
  adw_message_dialog_add_response (dialog, "close", _ ("_Close"));
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Peer problems (a tracker address that is not one, a refused token) are
 * said once, in a toast; peers stay off and downloads go on from mirrors. */
static void
swarm_error_cb (AtlasAppSwarm *swarm, GParamSpec *pspec, AtlasApplication *self)
{
  const char *error = atlas_app_swarm_get_error (swarm);
  AtlasWindow *window = main_window (self, FALSE);

  if (error != NULL && window != NULL)
    atlas_window_show_toast (window, error);
}

/* Donation problems likewise; the Donate page also says them while they
 * last. */
static void
donor_error_cb (AtlasAppDonor *donor, GParamSpec *pspec, AtlasApplication *self)
{
  const char *error = atlas_app_donor_get_error (donor);
  AtlasWindow *window = main_window (self, FALSE);

  if (error != NULL && window != NULL)
    atlas_window_show_toast (window, error);
}

static void
session_opened_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasApplication) self = user_data;
  GList *windows;

  self->session = atlas_session_open_finish (result, &self->open_error);
  g_application_release (G_APPLICATION (self));
  if (self->session == NULL)
    {
      show_open_error (self);
      return;
    }
  g_signal_connect_object (self->session, "download-state-changed",
                           G_CALLBACK (download_state_changed_cb), self, 0);
  /* The swarm before the session starts (update_metered starts it). */
  self->swarm = atlas_app_swarm_new (self->settings, self->session);
  g_signal_connect_object (self->swarm, "notify::error", G_CALLBACK (swarm_error_cb), self, 0);
  windows = gtk_application_get_windows (GTK_APPLICATION (self));
  for (GList *l = windows; l != NULL; l = l->next)
    if (ATLAS_IS_WINDOW (l->data))
      atlas_window_set_session (l->data, self->session);
  update_metered (self);
  add_pending_files (self);
  if (atlas_app_swarm_get_error (self->swarm) != NULL)
    swarm_error_cb (self->swarm, NULL, self);
}

static char *
queue_path (void)
{
  const char *env = g_getenv ("ATLAS_QUEUE_FILE");

  return env != NULL && *env != '\0' ? g_strdup (env) : atlas_session_default_store_path ();
}

/* The folder key is empty until the user picks one: follow the user's
 * Downloads folder, wherever it is. */
static gboolean
directory_from_setting (GValue *value, GVariant *variant, gpointer user_data)
{
  g_value_take_string (value, atlas_download_folder_for (g_variant_get_string (variant, NULL)));
  return TRUE;
}

static void
bind_engine_settings (AtlasApplication *self)
{
  const char *keys[] = { "max-concurrent-downloads", "max-connections-per-server",
                         "global-speed-limit" };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    g_settings_bind (self->settings, keys[i], self->engine_settings, keys[i], G_SETTINGS_BIND_GET);
  g_settings_bind_with_mapping (self->settings, "download-directory", self->engine_settings,
                                "download-directory", G_SETTINGS_BIND_GET, directory_from_setting,
                                NULL, NULL, NULL);
}

/* ---- closing ------------------------------------------------------------ */

static void
pause_all (AtlasApplication *self)
{
  for (guint i = 0;
       self->session != NULL && i < g_list_model_get_n_items (G_LIST_MODEL (self->session)); i++)
    {
      g_autoptr (AtlasDownload) download = g_list_model_get_item (G_LIST_MODEL (self->session), i);
      AtlasDownloadState state = atlas_download_get_state (download);

      if (state == ATLAS_DOWNLOAD_ACTIVE || state == ATLAS_DOWNLOAD_QUEUED)
        atlas_download_pause (download);
    }
}

static void
keep_in_background (AtlasApplication *self)
{
  if (!self->background)
    {
      self->background = TRUE;
      g_application_hold (G_APPLICATION (self));
    }
}

static gboolean
destroy_window_cb (gpointer data)
{
  gtk_window_destroy (GTK_WINDOW (data));
  return G_SOURCE_REMOVE;
}

static void
close_response_cb (AdwMessageDialog *dialog, const char *response, AtlasApplication *self)
{
  GtkWindow *window = gtk_window_get_transient_for (GTK_WINDOW (dialog));

  if (g_str_equal (response, "cancel") || window == NULL)
    return;
  if (g_str_equal (response, "pause"))
    pause_all (self);
  else
    keep_in_background (self);
  /* After the dialog is gone: it is transient for the window and lets go of
   * it when it closes, which must not find the window already destroyed. */
  g_idle_add_full (G_PRIORITY_DEFAULT, destroy_window_cb, g_object_ref (window), g_object_unref);
}

static gboolean
close_request_cb (GtkWindow *window, AtlasApplication *self)
{
  AdwMessageDialog *dialog;
  int action = g_settings_get_enum (self->settings, "close-action");

  if (self->quitting || count_running (self) == 0)
    return FALSE;
  if (action == 1)
    {
      keep_in_background (self);
      return FALSE;
    }
  if (action == 2)
    {
      pause_all (self);
      return FALSE;
    }
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (
      window, _ ("Keep downloading?"),
      _ ("Downloads are still running. They can go on in the background, or pause until you open "
         "Download Atlas again. The queue is kept either way.")));
  adw_message_dialog_add_responses (dialog, "cancel", _ ("_Cancel"), "pause", _ ("_Pause All"),
                                    "background", _ ("_Keep Downloading"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "background", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "background");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (close_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
  return TRUE;
}

static void
window_added_cb (GtkApplication *application, GtkWindow *window, AtlasApplication *self)
{
  if (ATLAS_IS_WINDOW (window))
    g_signal_connect_object (window, "close-request", G_CALLBACK (close_request_cb), self, 0);
}

/* ---- actions ------------------------------------------------------------ */

static AtlasDownload *
lookup_target (AtlasApplication *self, GVariant *parameter)
{
  if (self->session == NULL)
    return NULL;
  return atlas_session_lookup (self->session, g_variant_get_uint64 (parameter));
}

static void
open_file_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  AtlasDownload *download = lookup_target (user_data, parameter);

  if (download != NULL)
    atlas_launch_open_file (NULL, atlas_download_get_path (download));
}

static void
show_in_folder_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  AtlasDownload *download = lookup_target (user_data, parameter);

  if (download != NULL)
    atlas_launch_show_in_folder (NULL, atlas_download_get_path (download));
}

static void
retry_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  AtlasDownload *download = lookup_target (user_data, parameter);

  if (download != NULL)
    atlas_download_resume (download);
}

static void
show_details_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  AtlasApplication *self = user_data;
  AtlasDownload *download = lookup_target (self, parameter);
  AtlasWindow *window = main_window (self, TRUE);

  if (download != NULL)
    atlas_window_show_details (window, download);
  gtk_window_present (GTK_WINDOW (window));
}

static void
download_anyway_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  AtlasApplication *self = user_data;

  self->metered_override = !self->metered_override;
  update_metered (self);
}

static void
preferences_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  AtlasApplication *self = user_data;
  GtkWidget *preferences =
      atlas_preferences_window_new (GTK_WINDOW (main_window (self, TRUE)), self->settings);

  gtk_window_present (GTK_WINDOW (preferences));
}

static void
about_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  AtlasApplication *self = user_data;
  const char *developers[] = { "The Download Atlas developers", NULL };

  adw_show_about_window (GTK_WINDOW (main_window (self, TRUE)), "application-name",
                         _ ("Download Atlas"), "application-icon", APPLICATION_ID, "version",
                         PACKAGE_VERSION, "developer-name", _ ("The Download Atlas developers"),
                         "developers", developers, "license-type", GTK_LICENSE_GPL_3_0, "comments",
                         _ ("Fast, verified downloads from many mirrors at once, with a queue "
                            "that survives crashes."),
                         NULL);
}

static void
session_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasApplication) self = user_data;

  atlas_session_close_finish (ATLAS_SESSION (source), result, NULL);
  g_application_quit (G_APPLICATION (self));
}

static void
donor_stopped_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasApplication) self = user_data;

  atlas_app_donor_shutdown_finish (ATLAS_APP_DONOR (source), result);
  /* Closing persists progress and flushes the queue before we go. */
  if (self->session != NULL)
    atlas_session_close_async (self->session, NULL, session_closed_cb, g_object_ref (self));
  else
    g_application_quit (G_APPLICATION (self));
}

static void
quit_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  AtlasApplication *self = user_data;

  if (self->quitting)
    return;
  self->quitting = TRUE;
  /* Peers hear goodbye before the downloads they were fed close. */
  if (self->swarm != NULL)
    atlas_app_swarm_shutdown (self->swarm);
  /* The donor leaves the tracker and saves this month's budget first. */
  atlas_app_donor_shutdown_async (self->donor, donor_stopped_cb, g_object_ref (self));
}

static const GActionEntry app_actions[] = {
  { "open-file", open_file_action, "t" },
  { "show-in-folder", show_in_folder_action, "t" },
  { "retry", retry_action, "t" },
  { "show-details", show_details_action, "t" },
  { "download-anyway", download_anyway_action, NULL, "false" },
  { "preferences", preferences_action },
  { "about", about_action },
  { "quit", quit_action },
};

/* ---- GApplication ------------------------------------------------------- */

static void
atlas_application_startup (GApplication *application)
{
  AtlasApplication *self = ATLAS_APPLICATION (application);
  const char *quit_accels[] = { "<Control>q", NULL };
  const char *preferences_accels[] = { "<Control>comma", NULL };
  const char *close_accels[] = { "<Control>w", NULL };
  g_autofree char *path = queue_path ();

  G_APPLICATION_CLASS (atlas_application_parent_class)->startup (application);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions),
                                   self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences",
                                         preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);

  self->settings = g_settings_new (APPLICATION_ID);
  self->engine_settings = atlas_settings_new ();
  bind_engine_settings (self);
  g_signal_connect_object (g_network_monitor_get_default (), "notify::network-metered",
                           G_CALLBACK (metered_changed_cb), self, 0);
  g_signal_connect_object (self->settings, "changed::download-on-metered",
                           G_CALLBACK (metered_setting_changed_cb), self, 0);
  g_signal_connect_object (self, "window-added", G_CALLBACK (window_added_cb), self, 0);

  /* Donation has its own queue and needs nothing of the user's; the window
   * made later shows its figures. */
  self->donor = atlas_app_donor_new (self->settings);
  g_signal_connect_object (self->donor, "notify::error", G_CALLBACK (donor_error_cb), self, 0);

  /* The queue opens on a worker thread (SQLite); hold the app until then. */
  g_application_hold (application);
  atlas_session_open_async (path, self->engine_settings, NULL, session_opened_cb,
                            g_object_ref (self));
}

static void
atlas_application_activate (GApplication *application)
{
  AtlasApplication *self = ATLAS_APPLICATION (application);

  gtk_window_present (GTK_WINDOW (main_window (self, TRUE)));
}

static void
atlas_application_open (GApplication *application, GFile **files, int n_files, const char *hint)
{
  AtlasApplication *self = ATLAS_APPLICATION (application);

  atlas_application_add_files (self, files, n_files);
}

void
atlas_application_add_files (AtlasApplication *self, GFile **files, int n_files)
{
  for (int i = 0; i < n_files; i++)
    g_ptr_array_add (self->pending_files, g_object_ref (files[i]));
  gtk_window_present (GTK_WINDOW (main_window (self, TRUE)));
  /* Before the queue is open the files wait; session_opened_cb adds them. */
  if (self->session != NULL)
    add_pending_files (self);
}

typedef struct
{
  guint pending; /* the donor and the queue */
  gboolean timed_out;
} CloseWait;

static void
closed_on_shutdown_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CloseWait *wait = user_data;

  atlas_session_close_finish (ATLAS_SESSION (source), result, NULL);
  wait->pending--;
}

static void
donor_stopped_on_shutdown_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CloseWait *wait = user_data;

  atlas_app_donor_shutdown_finish (ATLAS_APP_DONOR (source), result);
  wait->pending--;
}

static gboolean
close_deadline_cb (gpointer user_data)
{
  CloseWait *wait = user_data;

  g_warning ("The queue did not close within 10 s; quitting anyway");
  wait->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

static void
atlas_application_shutdown (GApplication *application)
{
  AtlasApplication *self = ATLAS_APPLICATION (application);

  if (!self->quitting && (self->session != NULL || self->donor != NULL))
    {
      /* On the heap: after a timeout the close may still report, later. */
      CloseWait *wait = g_new0 (CloseWait, 1);
      guint deadline;

      /* The main loop is ending without app.quit (the last window closed):
       * stop donating and close the queue here, so the budget ledger and the
       * last progress are on disk. */
      self->quitting = TRUE;
      if (self->swarm != NULL)
        atlas_app_swarm_shutdown (self->swarm);
      deadline = g_timeout_add_seconds (10, close_deadline_cb, wait);
      if (self->donor != NULL)
        {
          wait->pending++;
          atlas_app_donor_shutdown_async (self->donor, donor_stopped_on_shutdown_cb, wait);
        }
      if (self->session != NULL)
        {
          wait->pending++;
          atlas_session_close_async (self->session, NULL, closed_on_shutdown_cb, wait);
        }
      while (wait->pending > 0 && !wait->timed_out)
        g_main_context_iteration (NULL, TRUE);
      if (!wait->timed_out)
        {
          g_source_remove (deadline);
          g_free (wait);
        }
    }
  G_APPLICATION_CLASS (atlas_application_parent_class)->shutdown (application);
}

static void
atlas_application_dispose (GObject *object)
{
  AtlasApplication *self = ATLAS_APPLICATION (object);

  g_clear_object (&self->swarm);
  g_clear_object (&self->donor);
  g_clear_object (&self->session);
  g_clear_object (&self->engine_settings);
  g_clear_object (&self->settings);
  g_clear_error (&self->open_error);
  g_clear_pointer (&self->pending_files, g_ptr_array_unref);
  G_OBJECT_CLASS (atlas_application_parent_class)->dispose (object);
}

static void
atlas_application_class_init (AtlasApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = atlas_application_dispose;
  application_class->startup = atlas_application_startup;
  application_class->activate = atlas_application_activate;
  application_class->open = atlas_application_open;
  application_class->shutdown = atlas_application_shutdown;
}

static void
atlas_application_init (AtlasApplication *self)
{
  self->pending_files = g_ptr_array_new_with_free_func (g_object_unref);
}

AtlasApplication *
atlas_application_new (void)
{
  return g_object_new (ATLAS_TYPE_APPLICATION, "application-id", APPLICATION_ID, "flags",
                       G_APPLICATION_HANDLES_OPEN, "resource-base-path",
                       "/org/downloadatlas/DownloadAtlas", NULL);
}
