/* atlas-add-dialog.c — the dialog that turns typed or pasted links into queued
 * downloads. Everything it checks (links, checksum) is checked as the user
 * types, so "Add" is only offered when it can succeed; what only the engine
 * can know (a file already queued) is reported inline after "Add". */
#include "atlas-add-dialog.h"

#include <glib/gi18n.h>

#include "atlas-format.h"
#include "atlas-input.h"

struct _AtlasAddDialog
{
  AdwWindow parent_instance;

  AtlasSession *session;
  GSettings *settings;
  char *directory;
  GtkFileChooserNative *chooser;

  GtkButton *add_button;
  GtkTextBuffer *urls_buffer;
  GtkLabel *urls_status;
  GtkLabel *add_error;
  AdwExpanderRow *mirrors_row;
  GtkTextBuffer *mirrors_buffer;
  AdwEntryRow *checksum_row;
  GtkLabel *checksum_error;
  AdwActionRow *folder_row;
  GtkSwitch *start_switch;
};

G_DEFINE_FINAL_TYPE (AtlasAddDialog, atlas_add_dialog, ADW_TYPE_WINDOW)

enum
{
  PROP_0,
  PROP_SESSION,
  PROP_SETTINGS,
  N_PROPS
};

enum
{
  SIGNAL_ADDED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static char *
buffer_get_all_text (GtkTextBuffer *buffer)
{
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

/* Lines that hold something but no link: the user typed them, so saying they
 * will be skipped is kinder than skipping them silently. */
static guint
count_lines_without_links (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = g_strstrip (lines[i]);
      g_auto (GStrv) links = NULL;

      if (line[0] == '\0' || line[0] == '#')
        continue;
      links = atlas_input_find_links (line);
      if (links[0] == NULL)
        n++;
    }
  return n;
}

static char *
dup_checksum_text (AtlasAddDialog *self)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->checksum_row))));
}

static void
update_folder_row (AtlasAddDialog *self)
{
  /* "~/Downloads" reads better than "/home/someone/Downloads" in a row subtitle. */
  g_autofree char *display = atlas_format_folder (self->directory);

  adw_action_row_set_subtitle (self->folder_row, display);
}

static void
set_add_error (AtlasAddDialog *self, const char *text)
{
  gtk_label_set_text (self->add_error, text != NULL ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->add_error), text != NULL && text[0] != '\0');
}

static void
update_state (AtlasAddDialog *self)
{
  g_autofree char *text = buffer_get_all_text (self->urls_buffer);
  g_autofree char *mirrors_text = buffer_get_all_text (self->mirrors_buffer);
  g_autofree char *checksum_text = dup_checksum_text (self);
  g_auto (GStrv) links = atlas_input_find_links (text);
  g_auto (GStrv) mirrors = atlas_input_find_links (mirrors_text);
  guint n_links = g_strv_length (links);
  guint n_mirrors = g_strv_length (mirrors);
  guint n_skipped = count_lines_without_links (text);
  g_autoptr (GString) status = g_string_new (NULL);
  const char *checksum_problem = NULL;

  if (n_links > 0)
    g_string_append_printf (
        status, ngettext ("%u link will be added.", "%u links will be added.", n_links), n_links);
  if (n_skipped > 0)
    {
      if (status->len > 0)
        g_string_append_c (status, ' ');
      g_string_append_printf (status,
                              ngettext ("%u line is not an http, https or ftp link and will be "
                                        "skipped.",
                                        "%u lines are not http, https or ftp links and will be "
                                        "skipped.",
                                        n_skipped),
                              n_skipped);
    }
  if (status->len == 0)
    g_string_append (status, _ ("Paste or type one or more links."));
  gtk_label_set_text (self->urls_status, status->str);

  /* Mirrors are more addresses of one file; with several links there is no
   * single file they could belong to. The text is kept, not cleared, so that
   * removing the extra links brings it back into use. */
  gtk_widget_set_sensitive (GTK_WIDGET (self->mirrors_row), n_links <= 1);
  if (n_links > 1)
    {
      adw_expander_row_set_expanded (self->mirrors_row, FALSE);
      adw_expander_row_set_subtitle (self->mirrors_row,
                                     _ ("Only for a single link: several links are several files"));
    }
  else if (n_mirrors > 0)
    {
      g_autofree char *subtitle =
          g_strdup_printf (ngettext ("%u other address of the same file",
                                     "%u other addresses of the same file", n_mirrors),
                           n_mirrors);
      adw_expander_row_set_subtitle (self->mirrors_row, subtitle);
    }
  else
    adw_expander_row_set_subtitle (self->mirrors_row, _ ("Other addresses of the same file"));

  if (checksum_text[0] != '\0')
    {
      AtlasChecksum checksum;

      if (!atlas_checksum_parse (checksum_text, &checksum, NULL))
        checksum_problem = _ ("Not a checksum: enter “sha256:” and the hexadecimal digest, or the "
                              "digest alone.");
      else if (n_links > 1)
        checksum_problem = _ ("A checksum belongs to a single file: add one link at a time, or "
                              "clear the checksum.");
    }
  gtk_label_set_text (self->checksum_error, checksum_problem != NULL ? checksum_problem : "");
  gtk_widget_set_visible (GTK_WIDGET (self->checksum_error), checksum_problem != NULL);
  if (checksum_problem != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->checksum_row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->checksum_row), "error");

  gtk_widget_set_sensitive (GTK_WIDGET (self->add_button),
                            n_links > 0 && checksum_problem == NULL && self->session != NULL);
}

static void
urls_changed_cb (AtlasAddDialog *self)
{
  /* An earlier failure is about text that has now changed. */
  set_add_error (self, NULL);
  update_state (self);
}

static void
checksum_changed_cb (AtlasAddDialog *self)
{
  update_state (self);
}

/* The name a person recognises the file by: the last segment of the URL's
 * path, or the whole URL when it has none. */
static char *
name_for_link (const char *link, const AtlasRequest *request)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree char *base = NULL;

  if (request != NULL && atlas_request_get_filename (request) != NULL)
    return g_strdup (atlas_request_get_filename (request));
  uri = g_uri_parse (link, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    return g_strdup (link);
  base = g_path_get_basename (g_uri_get_path (uri));
  if (base[0] == '\0' || g_str_equal (base, "/") || g_str_equal (base, "."))
    return g_strdup (link);
  return g_uri_unescape_string (base, NULL);
}

/* Engine messages are English and meant for logs; the app says the common
 * cases in the user's language and keeps the engine's words for the rest. */
static char *
describe_failure (const char *link, const AtlasRequest *request, const GError *error)
{
  g_autofree char *name = name_for_link (link, request);

  if (request == NULL)
    return g_strdup (error->message);
  if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_EXISTS))
    return g_strdup_printf (_ ("“%s” is already in the queue."), name);
  if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_UNSAFE_INPUT))
    return g_strdup_printf (_ ("“%s” was not added: its file name is not safe to use."), name);
  return g_strdup_printf (_ ("“%s” was not added: %s"), name, error->message);
}

static void
add_clicked_cb (AtlasAddDialog *self)
{
  g_autofree char *text = buffer_get_all_text (self->urls_buffer);
  g_autofree char *mirrors_text = buffer_get_all_text (self->mirrors_buffer);
  g_autofree char *checksum_text = dup_checksum_text (self);
  g_auto (GStrv) links = atlas_input_find_links (text);
  g_auto (GStrv) mirrors = NULL;
  g_autoptr (GPtrArray) kept = g_ptr_array_new ();
  g_autoptr (GString) problems = g_string_new (NULL);
  gboolean paused = !gtk_switch_get_active (self->start_switch);
  gboolean single = g_strv_length (links) == 1;
  guint n_added = 0;

  if (self->session == NULL || links[0] == NULL)
    return;

  /* With several links the mirrors and checksum rows are not in use (the
   * state update says so), so they must not be applied to any of them. */
  if (single)
    mirrors = atlas_input_find_links (mirrors_text);

  for (guint i = 0; links[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (AtlasRequest) request = NULL;
      g_autofree char *problem = NULL;

      request = atlas_input_request_for_url (links[i], (const char *const *) mirrors,
                                             single ? checksum_text : NULL, self->directory, paused,
                                             &error);
      if (request != NULL && atlas_session_add (self->session, request, &error) != NULL)
        {
          n_added++;
          continue;
        }

      problem = describe_failure (links[i], request, error);
      if (problems->len > 0)
        g_string_append_c (problems, '\n');
      g_string_append (problems, problem);
      g_ptr_array_add (kept, links[i]);
    }

  if (n_added > 0)
    g_signal_emit (self, signals[SIGNAL_ADDED], 0, n_added);

  if (kept->len == 0)
    {
      gtk_window_close (GTK_WINDOW (self));
      return;
    }

  /* Only the links that were not added stay in the box, so pressing "Add"
   * again after fixing them cannot queue the others twice. */
  {
    g_autofree char *remaining = NULL;

    g_ptr_array_add (kept, NULL);
    remaining = g_strjoinv ("\n", (char **) kept->pdata);
    gtk_text_buffer_set_text (self->urls_buffer, remaining, -1);
  }
  set_add_error (self, problems->str);
}

static void
chooser_response_cb (AtlasAddDialog *self, int response, GtkFileChooserNative *chooser)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = folder != NULL ? g_file_get_path (folder) : NULL;

      /* A folder without a local path (a remote location) cannot hold a
       * .part file the engine writes at offsets. */
      if (path != NULL)
        {
          g_free (self->directory);
          self->directory = g_steal_pointer (&path);
          update_folder_row (self);
        }
    }
  g_clear_object (&self->chooser);
}

static void
folder_clicked_cb (AtlasAddDialog *self)
{
  g_autoptr (GFile) current = g_file_new_for_path (self->directory);

  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (_ ("Choose Download Folder"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _ ("_Select"),
                                               _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (self->chooser), current, NULL);
  g_signal_connect_object (self->chooser, "response", G_CALLBACK (chooser_response_cb), self,
                           G_CONNECT_SWAPPED);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
atlas_add_dialog_constructed (GObject *object)
{
  AtlasAddDialog *self = ATLAS_ADD_DIALOG (object);

  G_OBJECT_CLASS (atlas_add_dialog_parent_class)->constructed (object);

  self->directory = atlas_default_download_folder (self->settings);
  update_folder_row (self);
  update_state (self);
}

static void
atlas_add_dialog_dispose (GObject *object)
{
  AtlasAddDialog *self = ATLAS_ADD_DIALOG (object);

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  gtk_widget_dispose_template (GTK_WIDGET (self), ATLAS_TYPE_ADD_DIALOG);
  g_clear_object (&self->session);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (atlas_add_dialog_parent_class)->dispose (object);
}

static void
atlas_add_dialog_finalize (GObject *object)
{
  AtlasAddDialog *self = ATLAS_ADD_DIALOG (object);

  g_free (self->directory);

  G_OBJECT_CLASS (atlas_add_dialog_parent_class)->finalize (object);
}

static void
atlas_add_dialog_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasAddDialog *self = ATLAS_ADD_DIALOG (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_add_dialog_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  AtlasAddDialog *self = ATLAS_ADD_DIALOG (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      self->session = g_value_dup_object (value);
      break;
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_add_dialog_class_init (AtlasAddDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = atlas_add_dialog_constructed;
  object_class->dispose = atlas_add_dialog_dispose;
  object_class->finalize = atlas_add_dialog_finalize;
  object_class->get_property = atlas_add_dialog_get_property;
  object_class->set_property = atlas_add_dialog_set_property;

  properties[PROP_SESSION] =
      g_param_spec_object ("session", NULL, NULL, ATLAS_TYPE_SESSION,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* Only read for the default folder; NULL falls back to the XDG folder. */
  properties[PROP_SETTINGS] =
      g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* Emitted with how many downloads were queued, also when some links failed
   * and the dialog stays open, so the window can confirm what happened. */
  signals[SIGNAL_ADDED] = g_signal_new ("added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/downloadatlas/DownloadAtlas/"
                                                             "atlas-add-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, AtlasAddDialog, add_button);
  gtk_widget_class_bind_template_child (widget_class, AtlasAddDialog, urls_buffer);
  gtk_widget_class_bind_template_child (widget_class, AtlasAddDialog, urls_status);
  gtk_widget_class_bind_template_child (widget_class, AtlasAddDialog, add_error);
  gtk_widget_class_bind_template_child (widget_class, AtlasAddDialog, mirrors_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasAddDialog, mirrors_buffer);
  gtk_widget_class_bind_template_child (widget_class, AtlasAddDialog, checksum_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasAddDialog, checksum_error);
  gtk_widget_class_bind_template_child (widget_class, AtlasAddDialog, folder_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasAddDialog, start_switch);
  gtk_widget_class_bind_template_callback (widget_class, urls_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, checksum_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, add_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, folder_clicked_cb);
}

static void
atlas_add_dialog_init (AtlasAddDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
atlas_add_dialog_new (GtkWindow *parent, AtlasSession *session, GSettings *settings)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (ATLAS_IS_SESSION (session), NULL);
  g_return_val_if_fail (settings == NULL || G_IS_SETTINGS (settings), NULL);

  return g_object_new (ATLAS_TYPE_ADD_DIALOG, "transient-for", parent, "session", session,
                       "settings", settings, NULL);
}

void
atlas_add_dialog_set_urls (AtlasAddDialog *self, const char *text)
{
  g_return_if_fail (ATLAS_IS_ADD_DIALOG (self));

  gtk_text_buffer_set_text (self->urls_buffer, text != NULL ? text : "", -1);
}
