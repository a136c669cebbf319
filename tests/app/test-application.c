/* The application object in-process: closing the window while downloads run
 * either pauses everything or keeps downloading without a window, as the user
 * chose; the queue is kept either way. */
#include "atlas-application.h"
#include "atlas-config.h"
#include "atlas-window.h"
#include "ui-test-util.h"

#define SLOW_SIZE (6 * 1024 * 1024)

/* ---- a notification server on the test's private bus --------------------- */

static const char notifications_xml[] =
    "<node><interface name='org.freedesktop.Notifications'>"
    "<method name='Notify'><arg type='s' direction='in'/><arg type='u' direction='in'/>"
    "<arg type='s' direction='in'/><arg type='s' direction='in'/><arg type='s' direction='in'/>"
    "<arg type='as' direction='in'/><arg type='a{sv}' direction='in'/>"
    "<arg type='i' direction='in'/><arg type='u' direction='out'/></method>"
    "<method name='CloseNotification'><arg type='u' direction='in'/></method>"
    "<method name='GetCapabilities'><arg type='as' direction='out'/></method>"
    "</interface></node>";

/* One line per notification shown: "SUMMARY|BODY|ACTION LABELS…". */
static GPtrArray *notifications;

static void
notifications_method_cb (GDBusConnection *connection, const char *sender, const char *path,
                         const char *interface, const char *method, GVariant *parameters,
                         GDBusMethodInvocation *invocation, gpointer user_data)
{
  if (g_str_equal (method, "Notify"))
    {
      const char *summary, *body;
      g_autofree const char **actions = NULL;
      g_autoptr (GString) line = g_string_new (NULL);

      g_variant_get (parameters, "(&su&s&s&s^a&s@a{sv}i)", NULL, NULL, NULL, &summary, &body,
                     &actions, NULL, NULL);
      g_string_printf (line, "%s|%s|", summary, body);
      /* Actions come as pairs: an id, then the label a person sees (empty
       * for the default action, taken by clicking the notification). */
      for (guint i = 1; actions != NULL && actions[i - 1] != NULL && actions[i] != NULL; i += 2)
        if (*actions[i] != '\0')
          g_string_append_printf (line, "%s;", actions[i]);
      g_ptr_array_add (notifications, g_string_free (g_steal_pointer (&line), FALSE));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", notifications->len));
    }
  else if (g_str_equal (method, "GetCapabilities"))
    {
      const char *caps[] = { "actions", "body", NULL };
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(^as)", caps));
    }
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
start_notification_server (void)
{
  static const GDBusInterfaceVTable vtable = { notifications_method_cb };
  g_autoptr (GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (notifications_xml, NULL);
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr (GError) error = NULL;

  notifications = g_ptr_array_new_with_free_func (g_free);
  g_assert_nonnull (bus);
  g_dbus_connection_register_object (bus, "/org/freedesktop/Notifications", info->interfaces[0],
                                     &vtable, NULL, NULL, &error);
  g_assert_no_error (error);
  g_bus_own_name_on_connection (bus, "org.freedesktop.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE,
                                NULL, NULL, NULL, NULL);
}

/* ---- a session manager, for suspend inhibition --------------------------- */

static const char session_manager_xml[] =
    "<node><interface name='org.gnome.SessionManager'>"
    "<method name='Inhibit'><arg type='s' direction='in'/><arg type='u' direction='in'/>"
    "<arg type='s' direction='in'/><arg type='u' direction='in'/>"
    "<arg type='u' direction='out'/></method>"
    "<method name='Uninhibit'><arg type='u' direction='in'/></method>"
    "<method name='IsInhibited'><arg type='u' direction='in'/>"
    "<arg type='b' direction='out'/></method>"
    "</interface></node>";

/* Cookies handed out for suspend and not given back yet; the server runs on
 * its own thread (GTK calls Inhibit synchronously from the main thread, which
 * would wait for itself), so the set is guarded. */
static GHashTable *suspend_inhibitors;
static GMutex inhibitors_lock;
static guint next_cookie = 1;

static void
session_manager_method_cb (GDBusConnection *connection, const char *sender, const char *path,
                           const char *interface, const char *method, GVariant *parameters,
                           GDBusMethodInvocation *invocation, gpointer user_data)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&inhibitors_lock);

  if (g_str_equal (method, "Inhibit"))
    {
      guint flags;
      guint cookie = next_cookie++;

      g_variant_get (parameters, "(&su&su)", NULL, NULL, NULL, &flags);
      if (flags & GTK_APPLICATION_INHIBIT_SUSPEND)
        g_hash_table_add (suspend_inhibitors, GUINT_TO_POINTER (cookie));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", cookie));
    }
  else if (g_str_equal (method, "Uninhibit"))
    {
      guint cookie;

      g_variant_get (parameters, "(u)", &cookie);
      g_hash_table_remove (suspend_inhibitors, GUINT_TO_POINTER (cookie));
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else
    g_dbus_method_invocation_return_value (
        invocation, g_variant_new ("(b)", g_hash_table_size (suspend_inhibitors) > 0));
}

static gboolean name_acquired;

static void
session_manager_name_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_atomic_int_set (&name_acquired, TRUE);
}

static gpointer
session_manager_thread (gpointer data)
{
  static const GDBusInterfaceVTable vtable = { session_manager_method_cb };
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (session_manager_xml, NULL);
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SESSION, NULL, &error);

  g_main_context_push_thread_default (context);
  g_assert_no_error (error);
  bus =
      g_dbus_connection_new_for_address_sync (address,
                                              G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
                                                  | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                              NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_register_object (bus, "/org/gnome/SessionManager", info->interfaces[0], &vtable,
                                     NULL, NULL, &error);
  g_assert_no_error (error);
  g_bus_own_name_on_connection (bus, "org.gnome.SessionManager", G_BUS_NAME_OWNER_FLAGS_NONE,
                                session_manager_name_cb, NULL, NULL, NULL);
  /* Serves until the test program exits. */
  while (TRUE)
    g_main_context_iteration (context, TRUE);
  return NULL;
}

static void
start_session_manager (void)
{
  suspend_inhibitors = g_hash_table_new (NULL, NULL);
  g_thread_unref (g_thread_new ("fake-session-manager", session_manager_thread, NULL));
  while (!g_atomic_int_get (&name_acquired))
    g_usleep (10000);
}

/* Earlier tests' applications are gone without giving their cookies back (a
 * real session manager drops those when the client leaves the bus). */
static void
forget_inhibitors (void)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&inhibitors_lock);

  g_hash_table_remove_all (suspend_inhibitors);
}

static guint
n_suspend_inhibitors (void)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&inhibitors_lock);

  return g_hash_table_size (suspend_inhibitors);
}

static gboolean
suspend_inhibited (gpointer data)
{
  return n_suspend_inhibitors () > 0;
}

static gboolean
suspend_allowed (gpointer data)
{
  return n_suspend_inhibitors () == 0;
}

static gboolean
notified (gpointer data)
{
  for (guint i = 0; i < notifications->len; i++)
    if (g_str_has_prefix (notifications->pdata[i], data))
      return TRUE;
  return FALSE;
}

typedef struct
{
  TestMirror *mirror;
  char *out_dir;
  char *queue_dir;
  GSettings *settings;
  AtlasApplication *app;
} Fixture;

static gboolean
session_open (gpointer data)
{
  return atlas_application_get_session (data) != NULL;
}

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  static guint n_apps;
  g_autoptr (GError) error = NULL;
  g_autofree char *queue = NULL;
  g_autofree char *app_id = NULL;

  fixture->mirror = test_mirror_start ();
  test_make_file (fixture->mirror->root, "slow.bin", SLOW_SIZE, 3);
  fixture->out_dir = test_make_temp_dir ();
  fixture->queue_dir = test_make_temp_dir ();
  queue = g_build_filename (fixture->queue_dir, "queue.sqlite", NULL);
  g_setenv ("ATLAS_QUEUE_FILE", queue, TRUE);

  /* The memory backend is one per process: the app reads what we set here. */
  fixture->settings = g_settings_new (APPLICATION_ID);
  g_settings_set_string (fixture->settings, "download-directory", fixture->out_dir);

  fixture->app = atlas_application_new ();
  /* Not the real name on the test's bus, and no single-instance forwarding;
   * a new id per test, as a finished test's object paths may linger. */
  app_id = g_strdup_printf ("%s.Test%u", APPLICATION_ID, n_apps++);
  g_application_set_application_id (G_APPLICATION (fixture->app), app_id);
  g_application_set_flags (G_APPLICATION (fixture->app),
                           G_APPLICATION_HANDLES_OPEN | G_APPLICATION_NON_UNIQUE);
  g_application_register (G_APPLICATION (fixture->app), NULL, &error);
  g_assert_no_error (error);
  g_application_activate (G_APPLICATION (fixture->app));
  g_assert_true (ui_test_wait_until (session_open, fixture->app, 10000));
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (fixture->app));

  while (windows != NULL)
    {
      gtk_window_destroy (windows->data);
      windows = gtk_application_get_windows (GTK_APPLICATION (fixture->app));
    }
  test_close_session (atlas_application_get_session (fixture->app));
  g_object_unref (fixture->app);
  g_settings_reset (fixture->settings, "download-directory");
  g_settings_reset (fixture->settings, "close-action");
  g_object_unref (fixture->settings);
  test_remove_tree (fixture->queue_dir);
  test_remove_tree (fixture->out_dir);
  g_free (fixture->queue_dir);
  g_free (fixture->out_dir);
  test_mirror_stop (fixture->mirror);
}

static AtlasWindow *
main_window (Fixture *fixture)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (fixture->app)); l; l = l->next)
    if (ATLAS_IS_WINDOW (l->data))
      return l->data;
  return NULL;
}

static gboolean
no_main_window (gpointer data)
{
  return main_window (data) == NULL;
}

static gboolean
transferring (gpointer data)
{
  return atlas_download_get_state (data) == ATLAS_DOWNLOAD_ACTIVE
         && atlas_download_get_completed_bytes (data) > 0;
}

/* Starts the slow download from the window and returns it once bytes flow. */
static AtlasDownload *
start_slow_download (Fixture *fixture)
{
  g_autofree char *url = test_mirror_url (fixture->mirror, "rate=1M", "slow.bin");
  const char *links[] = { url, NULL };
  AtlasSession *session = atlas_application_get_session (fixture->app);
  g_autoptr (AtlasDownload) download = NULL;

  g_assert_nonnull (main_window (fixture));
  g_assert_cmpuint (atlas_window_add_links (main_window (fixture), links), ==, 1);
  download = g_list_model_get_item (G_LIST_MODEL (session), 0);
  g_assert_true (ui_test_wait_until (transferring, download, 10000));
  return download; /* the session keeps it alive */
}

static void
test_close_pauses (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *download = start_slow_download (fixture);

  g_settings_set_enum (fixture->settings, "close-action", 2 /* pause */);
  gtk_window_close (GTK_WINDOW (main_window (fixture)));
  g_assert_true (ui_test_wait_until (no_main_window, fixture, 5000));
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_PAUSED);
}

static gboolean
find_dialog (gpointer data)
{
  AdwMessageDialog **dialog = data;
  GListModel *toplevels = gtk_window_get_toplevels (); /* transfer none */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GObject) window = g_list_model_get_item (toplevels, i);
      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        {
          *dialog = ADW_MESSAGE_DIALOG (window);
          return TRUE;
        }
    }
  return FALSE;
}

static void
test_close_asks_and_keeps_downloading (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *download = start_slow_download (fixture);
  AdwMessageDialog *dialog = NULL;
  g_autofree char *path = NULL;

  /* The default is to ask. */
  gtk_window_close (GTK_WINDOW (main_window (fixture)));
  g_assert_true (ui_test_wait_until (find_dialog, &dialog, 5000));
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Keep downloading?");
  g_assert_nonnull (main_window (fixture));
  adw_message_dialog_response (dialog, "background");
  g_assert_true (ui_test_wait_until (no_main_window, fixture, 5000));

  /* No window, and the download goes on to the end. */
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_ACTIVE);
  g_assert_cmpint (test_wait_for_end (download, 30), ==, ATLAS_DOWNLOAD_COMPLETE);
  path = g_build_filename (fixture->out_dir, "slow.bin", NULL);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));

  /* With no window to show it, the user is told, with what to do next. */
  g_assert_true (ui_test_wait_until (notified, "Download complete|slow.bin|", 5000));
  g_assert_true (notified ("Download complete|slow.bin|Open;Show in Folder;"));
}

static void
test_close_cancelled (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *download = start_slow_download (fixture);
  AdwMessageDialog *dialog = NULL;

  gtk_window_close (GTK_WINDOW (main_window (fixture)));
  g_assert_true (ui_test_wait_until (find_dialog, &dialog, 5000));
  adw_message_dialog_response (dialog, "cancel");
  test_run_for (200);
  g_assert_nonnull (main_window (fixture));
  g_assert_cmpint (atlas_download_get_state (download), ==, ATLAS_DOWNLOAD_ACTIVE);
}

static void
test_preferences_apply_live (Fixture *fixture, gconstpointer data)
{
  AtlasSettings *engine = atlas_session_get_settings (atlas_application_get_session (fixture->app));

  /* What the preferences window writes reaches the running engine at once. */
  g_settings_set_uint (fixture->settings, "max-concurrent-downloads", 7);
  g_settings_set_uint64 (fixture->settings, "global-speed-limit", 2000000);
  g_assert_cmpuint (atlas_settings_get_max_concurrent_downloads (engine), ==, 7);
  g_assert_cmpuint (atlas_settings_get_global_speed_limit (engine), ==, 2000000);
  g_assert_cmpstr (atlas_settings_get_download_directory (engine), ==, fixture->out_dir);
  g_settings_reset (fixture->settings, "max-concurrent-downloads");
  g_settings_reset (fixture->settings, "global-speed-limit");
  g_assert_cmpuint (atlas_settings_get_max_concurrent_downloads (engine), ==, 3);
}

typedef struct
{
  Fixture *fixture;
  const char *text;
} ToastWait;

static gboolean
swarm_has_error (gpointer data)
{
  return atlas_app_swarm_get_error (data) != NULL;
}

static gboolean
toast_shown (gpointer data)
{
  ToastWait *wait = data;
  GtkWidget *label = ui_test_find (GTK_WIDGET (main_window (wait->fixture)), GTK_TYPE_LABEL,
                                   ui_test_has_label, (gpointer) wait->text);

  return label != NULL && gtk_widget_get_mapped (label);
}

/* A peer setting that cannot work is said in a toast; peers stay off and
 * the app goes on. */
static void
test_peer_problem_toast (Fixture *fixture, gconstpointer data)
{
  AtlasAppSwarm *swarm = atlas_application_get_swarm (fixture->app);
  ToastWait wait = { fixture, NULL };

  g_assert_nonnull (swarm);
  /* The defaults: "on", but no tracker, so no swarm and nothing to say. */
  g_assert_false (atlas_app_swarm_is_running (swarm));
  g_assert_null (atlas_app_swarm_get_error (swarm));

  g_settings_set_string (fixture->settings, "tracker-url", "ftp://tracker.example.org");
  /* The swarm rebuilds from an idle: bounded wait (100 ms was too short under ASan). */
  g_assert_true (ui_test_wait_until (swarm_has_error, swarm, 5000));
  g_assert_false (atlas_app_swarm_is_running (swarm));
  wait.text = atlas_app_swarm_get_error (swarm);
  g_assert_nonnull (wait.text);
  g_assert_true (ui_test_wait_until (toast_shown, &wait, 5000));
  g_settings_reset (fixture->settings, "tracker-url");
  test_run_for (100);
  g_assert_null (atlas_app_swarm_get_error (swarm));
}

static void
test_inhibits_suspend_while_downloading (Fixture *fixture, gconstpointer data)
{
  AtlasDownload *download;

  forget_inhibitors ();
  download = start_slow_download (fixture);
  g_assert_true (ui_test_wait_until (suspend_inhibited, NULL, 5000));
  g_assert_cmpint (test_wait_for_end (download, 30), ==, ATLAS_DOWNLOAD_COMPLETE);
  g_assert_true (ui_test_wait_until (suspend_allowed, NULL, 5000));
}

int
main (int argc, char **argv)
{
  ui_test_init (&argc, &argv);
  start_notification_server ();
  start_session_manager ();

#define ADD(name, func)                                                                            \
  g_test_add ("/application/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("close-pauses", test_close_pauses);
  ADD ("close-asks-and-keeps-downloading", test_close_asks_and_keeps_downloading);
  ADD ("close-cancelled", test_close_cancelled);
  ADD ("preferences-apply-live", test_preferences_apply_live);
  ADD ("inhibits-suspend-while-downloading", test_inhibits_suspend_while_downloading);
  ADD ("peer-problem-toast", test_peer_problem_toast);
  return g_test_run ();
}
