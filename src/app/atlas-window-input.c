/* atlas-window-input.c — what users paste, drop and open onto the window.
 *
 * Links become downloads at once (a drop or a paste is a clear intent); the
 * result is told in a toast: how many were added, which were already in the
 * queue. Metalink files are read and parsed on a worker thread.
 */
#include "atlas-window-private.h"

#include <glib/gi18n.h>

#include "atlas-input.h"

static char *
download_directory (AtlasWindow *self)
{
  g_autofree char *directory =
      g_settings_get_string (atlas_window_get_settings (self), "download-directory");
  return *directory != '\0' ? g_steal_pointer (&directory) : NULL;
}

/* Adds @requests; returns a sentence for the toast and sets @n_added. */
static char *
add_requests (AtlasWindow *self, GPtrArray *requests, guint *n_added_out)
{
  AtlasSession *session = atlas_window_get_session (self);
  g_autoptr (GString) problems = g_string_new (NULL);
  guint n_added = 0;
  guint n_problems = 0;
  AtlasDownload *last = NULL;

  for (guint i = 0; i < requests->len; i++)
    {
      g_autoptr (GError) error = NULL;
      AtlasDownload *download =
          atlas_session_add (session, g_ptr_array_index (requests, i), &error);

      if (download != NULL)
        {
          n_added++;
          last = download;
          continue;
        }
      /* The engine's message names the file ("… is already in the queue"). */
      if (n_problems++ == 0)
        g_string_append (problems, error->message);
    }
  if (last != NULL)
    atlas_queue_page_select (atlas_window_get_queue_page (self), last, FALSE);
  if (n_added_out != NULL)
    *n_added_out = n_added;
  if (n_added == 0 && n_problems == 1)
    return g_string_free (g_steal_pointer (&problems), FALSE);
  if (n_problems == 0)
    return g_strdup_printf (g_dngettext (NULL, "%u download added", "%u downloads added", n_added),
                            n_added);
  return g_strdup_printf (_ ("%u added, %u not added: %s"), n_added, n_problems, problems->str);
}

guint
atlas_window_add_links (AtlasWindow *self, const char *const *links)
{
  g_autoptr (GPtrArray) requests =
      g_ptr_array_new_with_free_func ((GDestroyNotify) atlas_request_free);
  g_autofree char *directory = download_directory (self);
  g_autofree char *message = NULL;
  guint n_added = 0;

  if (atlas_window_get_session (self) == NULL)
    {
      atlas_window_show_toast (self, _ ("The download queue is not open yet"));
      return 0;
    }
  /* A link that makes no request is left out here and told about below. */
  for (guint i = 0; links != NULL && links[i] != NULL; i++)
    {
      AtlasRequest *request =
          atlas_input_request_for_url (links[i], NULL, NULL, directory, FALSE, NULL);

      if (request != NULL)
        g_ptr_array_add (requests, request);
    }
  if (requests->len == 0)
    {
      atlas_window_show_toast (self, _ ("No http, https or ftp link to download"));
      return 0;
    }
  message = add_requests (self, requests, &n_added);
  atlas_window_show_toast (self, message);
  return n_added;
}

static void
metalink_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) requests = atlas_input_load_metalink_finish (result, &error);
  g_autofree char *message = NULL;

  if (requests == NULL)
    {
      atlas_window_show_toast (self, error->message);
      return;
    }
  if (atlas_window_get_session (self) == NULL)
    return;
  message = add_requests (self, requests, NULL);
  atlas_window_show_toast (self, message);
}

void
atlas_window_add_files (AtlasWindow *self, GFile *const *files, guint n_files)
{
  g_autoptr (GPtrArray) links = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *directory = download_directory (self);

  for (guint i = 0; i < n_files; i++)
    {
      g_autofree char *uri = g_file_get_uri (files[i]);

      if (g_file_is_native (files[i]) && atlas_input_is_metalink_name (uri))
        atlas_input_load_metalink_async (files[i], directory, NULL, metalink_loaded_cb,
                                         g_object_ref (self));
      else if (atlas_url_is_supported (uri))
        g_ptr_array_add (links, g_steal_pointer (&uri));
      else
        {
          g_autofree char *name = g_file_get_parse_name (files[i]);
          g_autofree char *text =
              g_strdup_printf (_ ("“%s” is neither a link nor a Metalink file"), name);
          atlas_window_show_toast (self, text);
        }
    }
  if (links->len > 0)
    {
      g_ptr_array_add (links, NULL);
      atlas_window_add_links (self, (const char *const *) links->pdata);
    }
}

/* ---- drag and drop ------------------------------------------------------ */

static gboolean
drop_cb (GtkDropTarget *target, const GValue *value, double x, double y, AtlasWindow *self)
{
  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      GSList *list = g_value_get_boxed (value);
      g_autoptr (GPtrArray) files = g_ptr_array_new ();

      for (GSList *l = list; l != NULL; l = l->next)
        g_ptr_array_add (files, l->data);
      atlas_window_add_files (self, (GFile *const *) files->pdata, files->len);
      return files->len > 0;
    }
  if (G_VALUE_HOLDS (value, G_TYPE_STRING))
    {
      g_auto (GStrv) links = atlas_input_find_links (g_value_get_string (value));

      if (links[0] == NULL)
        {
          atlas_window_show_toast (self, _ ("The dropped text holds no http, https or ftp link"));
          return FALSE;
        }
      atlas_window_add_links (self, (const char *const *) links);
      return TRUE;
    }
  return FALSE;
}

/* ---- paste and the clipboard watch -------------------------------------- */

static void
paste_text_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasWindow) self = user_data;
  g_autofree char *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, NULL);
  g_auto (GStrv) links = atlas_input_find_links (text);

  if (links[0] == NULL)
    {
      atlas_window_show_toast (self, _ ("The clipboard holds no http, https or ftp link"));
      return;
    }
  atlas_window_add_links (self, (const char *const *) links);
}

void
_atlas_window_paste_links (AtlasWindow *self)
{
  GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (self));

  gdk_clipboard_read_text_async (clipboard, NULL, paste_text_cb, g_object_ref (self));
}

/* The last link offered, so focusing the window again does not offer the
 * same link twice. */
static GQuark offered_quark;

static void
offer_add_cb (AdwToast *toast, AtlasWindow *self)
{
  const char *text = g_object_get_qdata (G_OBJECT (self), offered_quark);

  atlas_window_open_add_dialog (self, text);
}

static void
watch_text_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (AtlasWindow) self = user_data;
  g_autofree char *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, NULL);
  g_auto (GStrv) links = atlas_input_find_links (text);
  g_autofree char *joined = NULL;
  g_autofree char *title = NULL;
  AdwToast *toast;

  if (links[0] == NULL)
    return;
  joined = g_strjoinv ("\n", links);
  if (g_strcmp0 (joined, g_object_get_qdata (G_OBJECT (self), offered_quark)) == 0)
    return;
  g_object_set_qdata_full (G_OBJECT (self), offered_quark, g_strdup (joined), g_free);
  title = g_strdup_printf (g_dngettext (NULL, "The clipboard holds a link",
                                        "The clipboard holds %u links", g_strv_length (links)),
                           g_strv_length (links));
  toast = adw_toast_new (title);
  adw_toast_set_button_label (toast, _ ("_Download…"));
  adw_toast_set_timeout (toast, 8);
  g_signal_connect_object (toast, "button-clicked", G_CALLBACK (offer_add_cb), self, 0);
  _atlas_window_add_toast (self, toast);
}

static void
active_changed_cb (GtkWindow *window, GParamSpec *pspec, AtlasWindow *self)
{
  if (!gtk_window_is_active (window)
      || !g_settings_get_boolean (atlas_window_get_settings (self), "clipboard-watch"))
    return;
  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (GTK_WIDGET (self)), NULL, watch_text_cb,
                                 g_object_ref (self));
}

/* ---- opening a Metalink ------------------------------------------------- */

static void
metalink_chosen_cb (GtkNativeDialog *chooser, int response, AtlasWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      atlas_window_add_files (self, &file, 1);
    }
  g_object_unref (chooser);
}

void
_atlas_window_choose_metalink (AtlasWindow *self)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (
      _ ("Open Metalink File"), GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_OPEN, _ ("_Open"), NULL);
  g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _ ("Metalink files"));
  gtk_file_filter_add_pattern (filter, "*.meta4");
  gtk_file_filter_add_pattern (filter, "*.metalink");
  gtk_file_filter_add_mime_type (filter, "application/metalink4+xml");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect_object (chooser, "response", G_CALLBACK (metalink_chosen_cb), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

void
_atlas_window_setup_input (AtlasWindow *self)
{
  GType types[] = { GDK_TYPE_FILE_LIST, G_TYPE_STRING };
  GtkDropTarget *target = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);

  offered_quark = g_quark_from_static_string ("atlas-window-offered-links");
  gtk_drop_target_set_gtypes (target, types, G_N_ELEMENTS (types));
  g_signal_connect_object (target, "drop", G_CALLBACK (drop_cb), self, 0);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (target));
  g_signal_connect_object (self, "notify::is-active", G_CALLBACK (active_changed_cb), self, 0);
}
