/* atlas-queue-page.c — the download queue.
 *
 * Models, from the engine outwards: the session (queue order) → a filter
 * (state and search text) → a sorter (none in queue order) → a multi
 * selection → the list view, whose rows are recycled. The filter and sorter
 * are re-run only when a download changes state or the user changes them,
 * never on progress ticks, so 10,000 downloads do not re-sort on every byte.
 */
#include "atlas-queue-page.h"

#include <glib/gi18n.h>
#include <string.h>

#include "atlas-download-row.h"
#include "atlas-launch.h"

struct _AtlasQueuePage
{
  AdwBin parent_instance;

  AtlasSession *session;
  AtlasQueueFilter filter_kind;
  AtlasQueueSort sort_kind;
  char *search; /* casefolded, or NULL */

  GtkCustomFilter *filter;
  GtkFilterListModel *filter_model;
  GtkSortListModel *sort_model;
  GtkMultiSelection *selection;

  GtkSearchEntry *search_entry;
  GtkToggleButton *filter_all;
  GtkToggleButton *filter_active;
  GtkToggleButton *filter_queued;
  GtkToggleButton *filter_done;
  GtkToggleButton *filter_failed;
  GtkDropDown *sort_dropdown;
  GtkStack *stack;
  GtkListView *list_view;
  GtkActionBar *action_bar;
  GtkLabel *selection_label;
};

G_DEFINE_FINAL_TYPE (AtlasQueuePage, atlas_queue_page, ADW_TYPE_BIN)

enum
{
  SIGNAL_SHOW_DETAILS,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

/* ---- filtering and sorting ---------------------------------------------- */

static gboolean
matches_state (AtlasQueueFilter filter, AtlasDownloadState state)
{
  switch (filter)
    {
    case ATLAS_QUEUE_FILTER_ALL:
      return TRUE;
    case ATLAS_QUEUE_FILTER_ACTIVE:
      return state == ATLAS_DOWNLOAD_ACTIVE || state == ATLAS_DOWNLOAD_VERIFYING;
    case ATLAS_QUEUE_FILTER_QUEUED:
      return state == ATLAS_DOWNLOAD_QUEUED || state == ATLAS_DOWNLOAD_PAUSED;
    case ATLAS_QUEUE_FILTER_DONE:
      return state == ATLAS_DOWNLOAD_COMPLETE;
    case ATLAS_QUEUE_FILTER_FAILED:
      return state == ATLAS_DOWNLOAD_FAILED;
    }
  return TRUE;
}

static gboolean
filter_func (gpointer item, gpointer user_data)
{
  AtlasQueuePage *self = user_data;
  AtlasDownload *download = item;
  g_autofree char *name = NULL;

  if (!matches_state (self->filter_kind, atlas_download_get_state (download)))
    return FALSE;
  if (self->search == NULL)
    return TRUE;
  name = g_utf8_casefold (atlas_download_get_name (download), -1);
  return strstr (name, self->search) != NULL;
}

static double
progress_of (AtlasDownload *download)
{
  gint64 size = atlas_download_get_size (download);

  if (atlas_download_get_state (download) == ATLAS_DOWNLOAD_COMPLETE)
    return 1.0;
  return size > 0 ? (double) atlas_download_get_completed_bytes (download) / size : 0.0;
}

static int
sort_func (gconstpointer a, gconstpointer b, gpointer user_data)
{
  AtlasQueuePage *self = user_data;
  AtlasDownload *left = (AtlasDownload *) a;
  AtlasDownload *right = (AtlasDownload *) b;

  switch (self->sort_kind)
    {
    case ATLAS_QUEUE_SORT_NAME:
      return g_utf8_collate (atlas_download_get_name (left), atlas_download_get_name (right));
    case ATLAS_QUEUE_SORT_PROGRESS:
      {
        double l = progress_of (left), r = progress_of (right);
        /* Most advanced first: what is about to finish is what people watch. */
        return (l < r) - (l > r);
      }
    case ATLAS_QUEUE_SORT_SIZE:
      {
        gint64 l = atlas_download_get_size (left), r = atlas_download_get_size (right);
        return (l < r) - (l > r);
      }
    case ATLAS_QUEUE_SORT_QUEUE:
      break;
    }
  return 0;
}

static void
update_view (AtlasQueuePage *self)
{
  guint n_all = self->session != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->session)) : 0;
  guint n_shown = g_list_model_get_n_items (G_LIST_MODEL (self->filter_model));
  g_autoptr (GtkBitset) selected =
      gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  guint64 n_selected = gtk_bitset_get_size (selected);
  gboolean in_queue_order = self->sort_kind == ATLAS_QUEUE_SORT_QUEUE;

  gtk_stack_set_visible_child_name (self->stack, n_all == 0     ? "empty"
                                                 : n_shown == 0 ? "no-matches"
                                                                : "list");
  gtk_action_bar_set_revealed (self->action_bar, n_selected > 0);
  if (n_selected > 0)
    {
      g_autofree char *text =
          g_strdup_printf (g_dngettext (NULL, "%u selected", "%u selected", (gulong) n_selected),
                           (guint) n_selected);
      gtk_label_set_label (self->selection_label, text);
    }
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "queue.pause", n_selected > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "queue.resume", n_selected > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "queue.remove", n_selected > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "queue.open", n_selected == 1);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "queue.open-folder", n_selected == 1);
  /* Moving edits the queue order, which only means something when shown. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "queue.move-up",
                                 n_selected > 0 && in_queue_order);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "queue.move-down",
                                 n_selected > 0 && in_queue_order);
}

static void
items_changed_cb (GListModel *model, guint position, guint removed, guint added,
                  AtlasQueuePage *self)
{
  update_view (self);
}

static void
selection_changed_cb (GtkSelectionModel *model, guint position, guint n_items, AtlasQueuePage *self)
{
  update_view (self);
}

static void
download_state_changed_cb (AtlasSession *session, AtlasDownload *download, AtlasQueuePage *self)
{
  /* A state change can move a download in or out of the filter, and changes
   * its progress ordering; it happens a few times per download, not per tick. */
  if (self->filter_kind != ATLAS_QUEUE_FILTER_ALL)
    gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  if (self->sort_kind == ATLAS_QUEUE_SORT_PROGRESS || self->sort_kind == ATLAS_QUEUE_SORT_SIZE)
    gtk_sorter_changed (gtk_sort_list_model_get_sorter (self->sort_model),
                        GTK_SORTER_CHANGE_DIFFERENT);
  update_view (self);
}

/* ---- public ------------------------------------------------------------- */

void
atlas_queue_page_set_session (AtlasQueuePage *self, AtlasSession *session)
{
  g_return_if_fail (ATLAS_IS_QUEUE_PAGE (self));

  if (self->session == session)
    return;
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_set_object (&self->session, session);
  gtk_filter_list_model_set_model (self->filter_model, G_LIST_MODEL (session));
  if (session != NULL)
    g_signal_connect_object (session, "download-state-changed",
                             G_CALLBACK (download_state_changed_cb), self, 0);
  update_view (self);
}

void
atlas_queue_page_set_filter (AtlasQueuePage *self, AtlasQueueFilter filter)
{
  GtkToggleButton *buttons[] = { self->filter_all, self->filter_active, self->filter_queued,
                                 self->filter_done, self->filter_failed };

  g_return_if_fail (filter < G_N_ELEMENTS (buttons));
  /* The toggled handler does the filtering, so clicks and calls agree. */
  gtk_toggle_button_set_active (buttons[filter], TRUE);
}

static void
apply_filter (AtlasQueuePage *self, AtlasQueueFilter filter)
{
  if (self->filter_kind == filter)
    return;
  self->filter_kind = filter;
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  update_view (self);
}

void
atlas_queue_page_set_search (AtlasQueuePage *self, const char *text)
{
  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), text != NULL ? text : "");
  /* search-changed is delayed for typing; apply a programmatic search now. */
  g_clear_pointer (&self->search, g_free);
  if (text != NULL && *text != '\0')
    self->search = g_utf8_casefold (text, -1);
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  update_view (self);
}

void
atlas_queue_page_set_sort (AtlasQueuePage *self, AtlasQueueSort sort)
{
  gtk_drop_down_set_selected (self->sort_dropdown, sort);
}

void
atlas_queue_page_focus_search (AtlasQueuePage *self)
{
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

const char *
atlas_queue_page_get_shown (AtlasQueuePage *self)
{
  return gtk_stack_get_visible_child_name (self->stack);
}

GListModel *
atlas_queue_page_get_visible (AtlasQueuePage *self)
{
  return G_LIST_MODEL (self->sort_model);
}

GPtrArray *
atlas_queue_page_get_selected (AtlasQueuePage *self)
{
  GPtrArray *result = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GtkBitset) selected =
      gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  GtkBitsetIter iter;
  guint position;

  for (gboolean ok = gtk_bitset_iter_init_first (&iter, selected, &position); ok;
       ok = gtk_bitset_iter_next (&iter, &position))
    g_ptr_array_add (result, g_list_model_get_item (G_LIST_MODEL (self->selection), position));
  return result;
}

void
atlas_queue_page_select (AtlasQueuePage *self, AtlasDownload *download, gboolean extend)
{
  GListModel *model = G_LIST_MODEL (self->selection);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (AtlasDownload) item = g_list_model_get_item (model, i);

      if (item == download)
        {
          gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->selection), i, !extend);
          return;
        }
    }
}

/* ---- actions on the selection ------------------------------------------- */

static void
pause_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  g_autoptr (GPtrArray) selected = atlas_queue_page_get_selected (ATLAS_QUEUE_PAGE (widget));

  for (guint i = 0; i < selected->len; i++)
    atlas_download_pause (g_ptr_array_index (selected, i));
}

static void
resume_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  g_autoptr (GPtrArray) selected = atlas_queue_page_get_selected (ATLAS_QUEUE_PAGE (widget));

  for (guint i = 0; i < selected->len; i++)
    atlas_download_resume (g_ptr_array_index (selected, i));
}

static guint
queue_position (AtlasSession *session, AtlasDownload *download)
{
  GListModel *model = G_LIST_MODEL (session);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (AtlasDownload) item = g_list_model_get_item (model, i);
      if (item == download)
        return i;
    }
  return G_MAXUINT;
}

static void
move_selected (AtlasQueuePage *self, int step)
{
  g_autoptr (GPtrArray) selected = atlas_queue_page_get_selected (self);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->session));

  if (self->session == NULL || selected->len == 0)
    return;
  /* Move a block one step, starting from the end it moves towards, so the
   * selected downloads keep their order and never swap with each other. */
  for (guint k = 0; k < selected->len; k++)
    {
      AtlasDownload *download = g_ptr_array_index (selected, step < 0 ? k : selected->len - 1 - k);
      guint position = queue_position (self->session, download);

      if (step < 0 && position > 0 && position != G_MAXUINT)
        atlas_session_move (self->session, download, position - 1);
      else if (step > 0 && position + 1 < n)
        atlas_session_move (self->session, download, position + 1);
    }
  /* The rows were replaced by the move: select the moved downloads again. */
  gtk_selection_model_unselect_all (GTK_SELECTION_MODEL (self->selection));
  for (guint k = 0; k < selected->len; k++)
    atlas_queue_page_select (self, g_ptr_array_index (selected, k), TRUE);
}

static void
move_up_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  move_selected (ATLAS_QUEUE_PAGE (widget), -1);
}

static void
move_down_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  move_selected (ATLAS_QUEUE_PAGE (widget), +1);
}

static void
open_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  g_autoptr (GPtrArray) selected = atlas_queue_page_get_selected (ATLAS_QUEUE_PAGE (widget));
  GtkWindow *window = GTK_WINDOW (gtk_widget_get_root (widget));

  if (selected->len != 1)
    return;
  if (g_str_equal (action_name, "queue.open"))
    atlas_launch_open_file (window, atlas_download_get_path (g_ptr_array_index (selected, 0)));
  else
    atlas_launch_show_in_folder (window, atlas_download_get_path (g_ptr_array_index (selected, 0)));
}

typedef struct
{
  AtlasQueuePage *self;
  GPtrArray *downloads;
} RemoveData;

static void
remove_response_cb (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  RemoveData *data = user_data;
  gboolean delete_files = g_str_equal (response, "delete");

  if (data->self->session != NULL && (delete_files || g_str_equal (response, "remove")))
    for (guint i = 0; i < data->downloads->len; i++)
      atlas_session_remove (data->self->session, g_ptr_array_index (data->downloads, i),
                            delete_files);
  g_object_unref (data->self);
  g_ptr_array_unref (data->downloads);
  g_free (data);
}

static void
remove_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  AtlasQueuePage *self = ATLAS_QUEUE_PAGE (widget);
  g_autoptr (GPtrArray) selected = atlas_queue_page_get_selected (self);
  RemoveData *data;
  AdwMessageDialog *dialog;
  g_autofree char *heading = NULL;

  if (selected->len == 0)
    return;
  heading = selected->len == 1
                ? g_strdup_printf (_ ("Remove “%s”?"),
                                   atlas_download_get_name (g_ptr_array_index (selected, 0)))
                : g_strdup_printf (g_dngettext (NULL, "Remove %u download?", "Remove %u downloads?",
                                                selected->len),
                                   selected->len);
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (
      GTK_WINDOW (gtk_widget_get_root (widget)), heading,
      _ ("Removing takes it off the queue. Deleting also removes the downloaded file and any "
         "partial data from the disk.")));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _ ("_Cancel"), "remove",
                                    _ ("_Remove"), "delete", _ ("Remove and _Delete Files"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "delete", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "remove");
  adw_message_dialog_set_close_response (dialog, "cancel");
  data = g_new0 (RemoveData, 1);
  data->self = g_object_ref (self);
  data->downloads = g_steal_pointer (&selected);
  g_signal_connect (dialog, "response", G_CALLBACK (remove_response_cb), data);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- template callbacks ------------------------------------------------- */

static void
search_changed_cb (GtkSearchEntry *entry, AtlasQueuePage *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (entry));

  g_clear_pointer (&self->search, g_free);
  if (*text != '\0')
    self->search = g_utf8_casefold (text, -1);
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  update_view (self);
}

static void
filter_toggled_cb (GtkToggleButton *button, AtlasQueuePage *self)
{
  GtkToggleButton *buttons[] = { self->filter_all, self->filter_active, self->filter_queued,
                                 self->filter_done, self->filter_failed };

  if (!gtk_toggle_button_get_active (button))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (buttons); i++)
    if (buttons[i] == button)
      apply_filter (self, (AtlasQueueFilter) i);
}

static void
sort_selected_cb (GtkDropDown *dropdown, GParamSpec *pspec, AtlasQueuePage *self)
{
  guint selected = gtk_drop_down_get_selected (dropdown);

  if (selected > ATLAS_QUEUE_SORT_SIZE)
    return;
  self->sort_kind = (AtlasQueueSort) selected;
  gtk_sorter_changed (gtk_sort_list_model_get_sorter (self->sort_model),
                      GTK_SORTER_CHANGE_DIFFERENT);
  update_view (self);
}

static void
list_activate_cb (GtkListView *list, guint position, AtlasQueuePage *self)
{
  g_autoptr (AtlasDownload) download =
      g_list_model_get_item (G_LIST_MODEL (self->selection), position);

  if (download != NULL)
    g_signal_emit (self, signals[SIGNAL_SHOW_DETAILS], 0, download);
}

/* ---- rows --------------------------------------------------------------- */

static void
setup_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  gtk_list_item_set_child (item, atlas_download_row_new ());
}

static void
bind_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  atlas_download_row_set_download (ATLAS_DOWNLOAD_ROW (gtk_list_item_get_child (item)),
                                   gtk_list_item_get_item (item));
}

static void
unbind_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  atlas_download_row_set_download (ATLAS_DOWNLOAD_ROW (gtk_list_item_get_child (item)), NULL);
}

/* ---- life cycle --------------------------------------------------------- */

static void
atlas_queue_page_dispose (GObject *object)
{
  AtlasQueuePage *self = ATLAS_QUEUE_PAGE (object);

  atlas_queue_page_set_session (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), ATLAS_TYPE_QUEUE_PAGE);
  g_clear_object (&self->selection);
  G_OBJECT_CLASS (atlas_queue_page_parent_class)->dispose (object);
}

static void
atlas_queue_page_finalize (GObject *object)
{
  AtlasQueuePage *self = ATLAS_QUEUE_PAGE (object);

  g_free (self->search);
  G_OBJECT_CLASS (atlas_queue_page_parent_class)->finalize (object);
}

static void
atlas_queue_page_class_init (AtlasQueuePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = atlas_queue_page_dispose;
  object_class->finalize = atlas_queue_page_finalize;

  signals[SIGNAL_SHOW_DETAILS] =
      g_signal_new ("show-details", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, ATLAS_TYPE_DOWNLOAD);

  gtk_widget_class_set_template_from_resource (
      widget_class, "/org/downloadatlas/DownloadAtlas/atlas-queue-page.ui");
  gtk_widget_class_bind_template_child (widget_class, AtlasQueuePage, search_entry);
  gtk_widget_class_bind_template_child (widget_class, AtlasQueuePage, filter_all);
  gtk_widget_class_bind_template_child (widget_class, AtlasQueuePage, filter_active);
  gtk_widget_class_bind_template_child (widget_class, AtlasQueuePage, filter_queued);
  gtk_widget_class_bind_template_child (widget_class, AtlasQueuePage, filter_done);
  gtk_widget_class_bind_template_child (widget_class, AtlasQueuePage, filter_failed);
  gtk_widget_class_bind_template_child (widget_class, AtlasQueuePage, sort_dropdown);
  gtk_widget_class_bind_template_child (widget_class, AtlasQueuePage, stack);
  gtk_widget_class_bind_template_child (widget_class, AtlasQueuePage, list_view);
  gtk_widget_class_bind_template_child (widget_class, AtlasQueuePage, action_bar);
  gtk_widget_class_bind_template_child (widget_class, AtlasQueuePage, selection_label);
  gtk_widget_class_bind_template_callback (widget_class, search_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, filter_toggled_cb);
  gtk_widget_class_bind_template_callback (widget_class, sort_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, list_activate_cb);

  gtk_widget_class_install_action (widget_class, "queue.pause", NULL, pause_action);
  gtk_widget_class_install_action (widget_class, "queue.resume", NULL, resume_action);
  gtk_widget_class_install_action (widget_class, "queue.remove", NULL, remove_action);
  gtk_widget_class_install_action (widget_class, "queue.move-up", NULL, move_up_action);
  gtk_widget_class_install_action (widget_class, "queue.move-down", NULL, move_down_action);
  gtk_widget_class_install_action (widget_class, "queue.open", NULL, open_action);
  gtk_widget_class_install_action (widget_class, "queue.open-folder", NULL, open_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Delete, 0, "queue.remove", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Up, GDK_ALT_MASK, "queue.move-up",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Down, GDK_ALT_MASK, "queue.move-down",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_p, GDK_CONTROL_MASK, "queue.pause",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_r, GDK_CONTROL_MASK, "queue.resume",
                                       NULL);
}

static void
atlas_queue_page_init (AtlasQueuePage *self)
{
  GtkListItemFactory *factory;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->filter = gtk_custom_filter_new (filter_func, self, NULL);
  self->filter_model = gtk_filter_list_model_new (NULL, GTK_FILTER (self->filter));
  self->sort_model =
      gtk_sort_list_model_new (G_LIST_MODEL (self->filter_model),
                               GTK_SORTER (gtk_custom_sorter_new (sort_func, self, NULL)));
  self->selection = gtk_multi_selection_new (G_LIST_MODEL (self->sort_model));
  g_signal_connect_object (self->filter_model, "items-changed", G_CALLBACK (items_changed_cb), self,
                           0);
  g_signal_connect_object (self->selection, "selection-changed", G_CALLBACK (selection_changed_cb),
                           self, 0);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row_cb), NULL);
  gtk_list_view_set_factory (self->list_view, factory);
  g_object_unref (factory);
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (self->selection));
  update_view (self);
}

GtkWidget *
atlas_queue_page_new (void)
{
  return g_object_new (ATLAS_TYPE_QUEUE_PAGE, NULL);
}
