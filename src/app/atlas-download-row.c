/* atlas-download-row.c — one line of the queue. */
#include "atlas-download-row.h"

#include <glib/gi18n.h>

#include "atlas-format.h"

struct _AtlasDownloadRow
{
  GtkWidget parent_instance;

  AtlasDownload *download;
  GtkImage *state_icon;
  GtkLabel *name_label;
  GtkLabel *status_label;
  GtkProgressBar *progress_bar;
  GtkLabel *detail_label;
};

G_DEFINE_FINAL_TYPE (AtlasDownloadRow, atlas_download_row, GTK_TYPE_WIDGET)

const char *
atlas_download_state_describe (AtlasDownloadState state)
{
  switch (state)
    {
    case ATLAS_DOWNLOAD_QUEUED:
      return _ ("Queued");
    case ATLAS_DOWNLOAD_ACTIVE:
      return _ ("Downloading");
    case ATLAS_DOWNLOAD_PAUSED:
      return _ ("Paused");
    case ATLAS_DOWNLOAD_VERIFYING:
      return _ ("Verifying");
    case ATLAS_DOWNLOAD_COMPLETE:
      return _ ("Complete");
    case ATLAS_DOWNLOAD_FAILED:
      return _ ("Failed");
    }
  return "";
}

static const char *
state_icon_name (AtlasDownloadState state)
{
  switch (state)
    {
    case ATLAS_DOWNLOAD_QUEUED:
      return "content-loading-symbolic";
    case ATLAS_DOWNLOAD_ACTIVE:
      return "folder-download-symbolic";
    case ATLAS_DOWNLOAD_PAUSED:
      return "media-playback-pause-symbolic";
    case ATLAS_DOWNLOAD_VERIFYING:
      return "emblem-synchronizing-symbolic";
    case ATLAS_DOWNLOAD_COMPLETE:
      return "emblem-ok-symbolic";
    case ATLAS_DOWNLOAD_FAILED:
      return "dialog-error-symbolic";
    }
  return NULL;
}

/* Peers that are sending right now (sources named "peer:…"). */
static guint
count_sending_peers (AtlasDownload *download)
{
  GListModel *sources = atlas_download_get_sources (download);
  guint count = 0;

  for (guint i = 0; i < g_list_model_get_n_items (sources); i++)
    {
      g_autoptr (AtlasSource) source = g_list_model_get_item (sources, i);

      count += g_str_has_prefix (atlas_source_get_url (source), "peer:")
               && atlas_source_get_state (source) == ATLAS_SOURCE_ACTIVE;
    }
  return count;
}

/* Everything a row shows changes at most once per engine tick (about four
 * times a second), so one function redraws it all. */
static void
update (AtlasDownloadRow *self)
{
  AtlasDownload *download = self->download;
  AtlasDownloadState state;
  gint64 size;
  guint64 done;
  g_autoptr (GString) detail = g_string_new (NULL);
  g_autofree char *progress = NULL;
  g_autofree char *accessible = NULL;

  if (download == NULL)
    return;
  state = atlas_download_get_state (download);
  size = atlas_download_get_size (download);
  done = atlas_download_get_completed_bytes (download);

  gtk_label_set_label (self->name_label, atlas_download_get_name (download));
  gtk_label_set_label (self->status_label, atlas_download_state_describe (state));
  gtk_image_set_from_icon_name (self->state_icon, state_icon_name (state));
  gtk_progress_bar_set_fraction (self->progress_bar, size > 0
                                                         ? MIN (1.0, (double) done / (double) size)
                                                     : state == ATLAS_DOWNLOAD_COMPLETE ? 1.0
                                                                                        : 0.0);

  progress = atlas_format_progress (done, state == ATLAS_DOWNLOAD_COMPLETE ? (gint64) done : size);
  g_string_append (detail, progress);
  if (state == ATLAS_DOWNLOAD_ACTIVE)
    {
      g_autofree char *speed = atlas_format_speed (atlas_download_get_speed (download));
      g_autofree char *eta = atlas_format_eta (atlas_download_get_eta (download));
      guint sources = atlas_download_get_active_sources (download);
      guint peers = count_sending_peers (download);

      if (*speed != '\0')
        g_string_append_printf (detail, " — %s", speed);
      if (*eta != '\0')
        {
          /* TRANSLATORS: time left, e.g. "3 minutes left". */
          g_autofree char *left = g_strdup_printf (_ ("%s left"), eta);
          g_string_append_printf (detail, " — %s", left);
        }
      g_string_append (detail, " — ");
      g_string_append_printf (detail, g_dngettext (NULL, "%u source", "%u sources", sources),
                              sources);
      if (peers > 0)
        {
          g_string_append (detail, " — ");
          /* TRANSLATORS: how many of the sources are peers (other users). */
          g_string_append_printf (detail, g_dngettext (NULL, "%u peer", "%u peers", peers), peers);
        }
    }
  else if (state == ATLAS_DOWNLOAD_FAILED && atlas_download_get_error_message (download) != NULL)
    {
      g_string_assign (detail, atlas_download_get_error_message (download));
    }
  gtk_label_set_label (self->detail_label, detail->str);

  gtk_widget_remove_css_class (GTK_WIDGET (self->status_label), "state-failed");
  gtk_widget_remove_css_class (GTK_WIDGET (self->status_label), "state-complete");
  if (state == ATLAS_DOWNLOAD_FAILED)
    gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "state-failed");
  else if (state == ATLAS_DOWNLOAD_COMPLETE)
    gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "state-complete");

  accessible = g_strdup_printf ("%s, %s, %s", atlas_download_get_name (download),
                                atlas_download_state_describe (state), detail->str);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible,
                                  -1);
}

static void
download_notify_cb (AtlasDownload *download, GParamSpec *pspec, AtlasDownloadRow *self)
{
  update (self);
}

void
atlas_download_row_set_download (AtlasDownloadRow *self, AtlasDownload *download)
{
  g_return_if_fail (ATLAS_IS_DOWNLOAD_ROW (self));

  if (self->download == download)
    return;
  if (self->download != NULL)
    g_signal_handlers_disconnect_by_data (self->download, self);
  g_set_object (&self->download, download);
  if (download == NULL)
    return;
  /* One handler for all properties: they arrive together, once per tick, and
   * only when a value changed. */
  g_signal_connect_object (download, "notify", G_CALLBACK (download_notify_cb), self, 0);
  update (self);
}

AtlasDownload *
atlas_download_row_get_download (AtlasDownloadRow *self)
{
  return self->download;
}

const char *
atlas_download_row_get_status_text (AtlasDownloadRow *self)
{
  return gtk_label_get_label (self->status_label);
}

static void
atlas_download_row_dispose (GObject *object)
{
  AtlasDownloadRow *self = ATLAS_DOWNLOAD_ROW (object);

  atlas_download_row_set_download (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), ATLAS_TYPE_DOWNLOAD_ROW);
  /* GTK 4.8 only clears the bound children; the unnamed top box stays. */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (atlas_download_row_parent_class)->dispose (object);
}

static void
atlas_download_row_class_init (AtlasDownloadRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = atlas_download_row_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
  gtk_widget_class_set_template_from_resource (
      widget_class, "/org/downloadatlas/DownloadAtlas/atlas-download-row.ui");
  gtk_widget_class_bind_template_child (widget_class, AtlasDownloadRow, state_icon);
  gtk_widget_class_bind_template_child (widget_class, AtlasDownloadRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasDownloadRow, status_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasDownloadRow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, AtlasDownloadRow, detail_label);
}

static void
atlas_download_row_init (AtlasDownloadRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
atlas_download_row_new (void)
{
  return g_object_new (ATLAS_TYPE_DOWNLOAD_ROW, NULL);
}
