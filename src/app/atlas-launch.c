/* atlas-launch.c — handing files to the user's applications. */
#include "atlas-launch.h"

static void
launched_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!g_app_info_launch_default_for_uri_finish (result, &error))
    g_warning ("Could not open: %s", error->message);
}

static void
launch_uri (GtkWindow *parent, const char *uri)
{
  g_autoptr (GdkAppLaunchContext) context = NULL;

  if (parent != NULL)
    context = gdk_display_get_app_launch_context (gtk_widget_get_display (GTK_WIDGET (parent)));
  g_app_info_launch_default_for_uri_async (uri, G_APP_LAUNCH_CONTEXT (context), NULL, launched_cb,
                                           NULL);
}

void
atlas_launch_open_file (GtkWindow *parent, const char *path)
{
  g_autofree char *uri = g_filename_to_uri (path, NULL, NULL);

  if (uri != NULL)
    launch_uri (parent, uri);
}

typedef struct
{
  GtkWindow *parent;
  char *path;
} ShowData;

static void
show_data_free (ShowData *data)
{
  g_clear_object (&data->parent);
  g_free (data->path);
  g_free (data);
}

static void
open_folder (ShowData *data)
{
  g_autofree char *folder = g_path_get_dirname (data->path);
  g_autofree char *uri = g_filename_to_uri (folder, NULL, NULL);

  if (uri != NULL)
    launch_uri (data->parent, uri);
}

static void
show_items_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ShowData *data = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  /* No file manager speaks FileManager1: the folder alone is still useful. */
  if (reply == NULL)
    open_folder (data);
  show_data_free (data);
}

void
atlas_launch_show_in_folder (GtkWindow *parent, const char *path)
{
  GDBusConnection *bus = g_application_get_dbus_connection (g_application_get_default ());
  g_autofree char *uri = g_filename_to_uri (path, NULL, NULL);
  const char *uris[] = { uri, NULL };
  ShowData *data;

  if (uri == NULL)
    return;
  data = g_new0 (ShowData, 1);
  data->parent = parent != NULL ? g_object_ref (parent) : NULL;
  data->path = g_strdup (path);
  if (bus == NULL)
    {
      open_folder (data);
      show_data_free (data);
      return;
    }
  g_dbus_connection_call (bus, "org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
                          "org.freedesktop.FileManager1", "ShowItems",
                          g_variant_new ("(^ass)", uris, ""), NULL, G_DBUS_CALL_FLAGS_NONE, 5000,
                          NULL, show_items_cb, data);
}
