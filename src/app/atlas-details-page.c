/* atlas-details-page.c — one download in full: header, segment map with its
 * legend, sources, expected hashes and log, all following the download's
 * notifications (which the engine coalesces into about four a second). */
#include "atlas-details-page.h"

#include <glib/gi18n.h>

#include "atlas-segment-map.h"

/* The engine keeps the last 500 lines; a long session appends more. */
#define MAX_LOG_LINES 3000

/* Bytes sent to peers grow while a complete download is seeding, when the
 * engine's tick notifies nothing: the transfer line is refreshed this often
 * while a download is shown. */
#define TRANSFER_REFRESH_S 1

struct _AtlasDetailsPage
{
  AdwBin parent_instance;

  AtlasDownload *download;
  GListModel *sources;      /* the download's, while it is shown */
  GPtrArray *hash_verdicts; /* GtkLabel per expected hash, in checksum order */
  AdwActionRow *pieces_row;
  gboolean log_follows; /* the log view shows its last line */

  GtkStack *stack;
  GtkLabel *title_label;
  GtkLabel *path_label;
  GtkLabel *state_label;
  GtkLabel *error_label;
  GtkProgressBar *progress_bar;
  GtkLabel *progress_label;
  GtkLabel *transfer_label;
  guint transfer_refresh_id;
  AtlasSegmentMap *segment_map;
  GtkFlowBox *legend;
  GtkListBox *sources_list;
  GtkListBox *hashes_list;
  GtkScrolledWindow *log_scroller;
  GtkTextView *log_view;
};

G_DEFINE_FINAL_TYPE (AtlasDetailsPage, atlas_details_page, ADW_TYPE_BIN)

enum
{
  PROP_0,
  PROP_DOWNLOAD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ---- words for engine values -------------------------------------------- */

/* Peers appear among the sources as "peer:<12 hex>", the hex also being
 * the source's host. */
static gboolean
source_is_peer (AtlasSource *source)
{
  return g_str_has_prefix (atlas_source_get_url (source), "peer:");
}

/* What a source is called in the list and the legend. */
static char *
source_display_name (AtlasSource *source)
{
  const char *host = atlas_source_get_host (source);

  if (source_is_peer (source))
    /* Translators: a peer, named by the start of its key, “Peer 1a2b3c4d5e6f”. */
    return g_strdup_printf (_ ("Peer %s"), host != NULL ? host : "");
  return g_strdup (host != NULL && *host != '\0' ? host : atlas_source_get_url (source));
}

/* The engine's messages are English; the app says what happened in the
 * user's language and shows the engine's text below as the detail. */
static const char *
failure_headline (int code)
{
  switch (code)
    {
    case ATLAS_ERROR_HASH_MISMATCH:
      return _ ("Failed: the file does not match its expected hash");
    case ATLAS_ERROR_NO_SOURCES:
      return _ ("Failed: every source failed or was banned");
    case ATLAS_ERROR_NETWORK:
      return _ ("Failed: the network transfer broke off");
    case ATLAS_ERROR_MIRROR_REJECTED:
      return _ ("Failed: a mirror sent something other than the file");
    case ATLAS_ERROR_DISK_FULL:
      return _ ("Failed: the disk is full");
    case ATLAS_ERROR_IO:
      return _ ("Failed: the file could not be written");
    case ATLAS_ERROR_INVALID_INPUT:
    case ATLAS_ERROR_UNSAFE_INPUT:
      return _ ("Failed: the download’s description is not usable");
    default:
      return _ ("Failed");
    }
}

static const char *
source_state_text (AtlasSourceState state)
{
  switch (state)
    {
    case ATLAS_SOURCE_CONNECTING:
      return _ ("Connecting");
    case ATLAS_SOURCE_ACTIVE:
      return _ ("Sending");
    case ATLAS_SOURCE_BACKING_OFF:
      return _ ("Waiting to retry");
    case ATLAS_SOURCE_DROPPED:
      return _ ("Dropped");
    case ATLAS_SOURCE_BANNED:
      return _ ("Banned for bad pieces");
    case ATLAS_SOURCE_IDLE:
    default:
      return _ ("Idle");
    }
}

typedef enum
{
  VERDICT_WAITING,
  VERDICT_CHECKING,
  VERDICT_MATCHED,
  VERDICT_MISMATCHED,
  VERDICT_NOT_CHECKED,
} Verdict;

static Verdict
whole_file_verdict (AtlasDownload *download)
{
  switch (atlas_download_get_state (download))
    {
    case ATLAS_DOWNLOAD_VERIFYING:
      return VERDICT_CHECKING;
    case ATLAS_DOWNLOAD_COMPLETE:
      return VERDICT_MATCHED;
    case ATLAS_DOWNLOAD_FAILED:
      return atlas_download_get_error_code (download) == ATLAS_ERROR_HASH_MISMATCH
                 ? VERDICT_MISMATCHED
                 : VERDICT_NOT_CHECKED;
    case ATLAS_DOWNLOAD_QUEUED:
    case ATLAS_DOWNLOAD_ACTIVE:
    case ATLAS_DOWNLOAD_PAUSED:
    default:
      return VERDICT_WAITING;
    }
}

static const char *
verdict_text (Verdict verdict)
{
  switch (verdict)
    {
    case VERDICT_CHECKING:
      return _ ("Checking…");
    case VERDICT_MATCHED:
      return _ ("Matched");
    case VERDICT_MISMATCHED:
      return _ ("Did not match");
    case VERDICT_NOT_CHECKED:
      return _ ("Not checked");
    case VERDICT_WAITING:
    default:
      return _ ("Waiting");
    }
}

/* ---- header -------------------------------------------------------------- */

static void
update_header (AtlasDetailsPage *self)
{
  AtlasDownload *download = self->download;
  AtlasDownloadState state = atlas_download_get_state (download);
  const char *error = atlas_download_get_error_message (download);
  guint64 done = atlas_download_get_completed_bytes (download);
  gint64 size = atlas_download_get_size (download);
  guint64 speed = atlas_download_get_speed (download);
  g_autoptr (GString) progress = g_string_new (NULL);
  g_autofree char *done_text = g_format_size (done);
  const char *state_text;

  gtk_label_set_text (self->title_label, atlas_download_get_name (download));
  gtk_label_set_text (self->path_label, atlas_download_get_path (download));

  switch (state)
    {
    case ATLAS_DOWNLOAD_QUEUED:
      state_text = _ ("Waiting in the queue");
      break;
    case ATLAS_DOWNLOAD_ACTIVE:
      state_text = _ ("Downloading");
      break;
    case ATLAS_DOWNLOAD_PAUSED:
      state_text = _ ("Paused");
      break;
    case ATLAS_DOWNLOAD_VERIFYING:
      state_text = _ ("Checking the whole file…");
      break;
    case ATLAS_DOWNLOAD_COMPLETE:
      state_text = atlas_download_get_checksums (download)->len > 0
                       ? _ ("Complete: every expected hash matched")
                       : _ ("Complete");
      break;
    case ATLAS_DOWNLOAD_FAILED:
    default:
      state_text = failure_headline (atlas_download_get_error_code (download));
      break;
    }
  gtk_label_set_text (self->state_label, state_text);
  gtk_label_set_text (self->error_label, error != NULL ? error : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label),
                          state == ATLAS_DOWNLOAD_FAILED && error != NULL);

  if (size > 0)
    {
      g_autofree char *size_text = g_format_size (size);
      double fraction = MIN ((double) done / size, 1.0);

      /* Translators: “1.2 GB of 4.0 GB (30 %)”. */
      g_string_append_printf (progress, _ ("%s of %s (%d %%)"), done_text, size_text,
                              (int) (fraction * 100));
      gtk_progress_bar_set_fraction (self->progress_bar, fraction);
    }
  else
    {
      g_string_append (progress, done_text);
      gtk_progress_bar_set_fraction (self->progress_bar, 0);
    }
  if (state == ATLAS_DOWNLOAD_ACTIVE)
    {
      g_autofree char *speed_text = g_format_size (speed);
      guint active = atlas_download_get_active_sources (download);

      g_string_append (progress, " · ");
      /* Translators: a transfer speed, “3.2 MB/s”. */
      g_string_append_printf (progress, _ ("%s/s"), speed_text);
      g_string_append (progress, " · ");
      g_string_append_printf (
          progress, g_dngettext (NULL, "%u source sending", "%u sources sending", active), active);
    }
  gtk_label_set_text (self->progress_label, progress->str);
}

/* "Received: 30 MB from peers, 12 MB from mirrors · Sent to peers: 8 MB";
 * shown once peers are involved, so downloads without them read as before. */
static void
update_transfer (AtlasDetailsPage *self)
{
  guint64 from_peers, from_mirrors, to_peers;
  gboolean has_peers = FALSE;
  g_autofree char *from_peers_text = NULL;
  g_autofree char *from_mirrors_text = NULL;
  g_autofree char *to_peers_text = NULL;
  g_autofree char *text = NULL;

  if (self->download == NULL)
    return;
  from_peers = atlas_download_get_bytes_from_peers (self->download);
  from_mirrors = atlas_download_get_bytes_from_mirrors (self->download);
  to_peers = atlas_download_get_bytes_to_peers (self->download);
  for (guint i = 0; i < g_list_model_get_n_items (self->sources) && !has_peers; i++)
    {
      g_autoptr (AtlasSource) source = g_list_model_get_item (self->sources, i);
      has_peers = source_is_peer (source);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->transfer_label),
                          has_peers || from_peers > 0 || to_peers > 0);
  from_peers_text = g_format_size (from_peers);
  from_mirrors_text = g_format_size (from_mirrors);
  to_peers_text = g_format_size (to_peers);
  /* Translators: byte counts, “Received: 30 MB from peers, 12 MB from
   * mirrors · Sent to peers: 8 MB”. */
  text = g_strdup_printf (_ ("Received: %s from peers, %s from mirrors · Sent to peers: %s"),
                          from_peers_text, from_mirrors_text, to_peers_text);
  gtk_label_set_text (self->transfer_label, text);
}

static gboolean
transfer_refresh_cb (gpointer data)
{
  AtlasDetailsPage *self = data;

  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    update_transfer (self);
  return G_SOURCE_CONTINUE;
}

static void
download_progress_cb (AtlasDetailsPage *self)
{
  update_header (self);
  update_transfer (self);
}

/* ---- legend -------------------------------------------------------------- */

static void
swatch_draw_cb (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer user_data)
{
  AtlasDetailsPage *self = user_data;
  int source = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (area), "source-index")) - 1;
  int state = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (area), "piece-state"));
  GdkRGBA color;

  if (source >= 0)
    atlas_segment_map_get_source_color (self->segment_map, source, &color);
  else
    atlas_segment_map_get_state_color (self->segment_map, state, &color);
  gdk_cairo_set_source_rgba (cr, &color);
  cairo_rectangle (cr, 0, 0, width, height);
  cairo_fill (cr);
}

/* One key of the legend; @source_index < 0 for a piece state. */
static void
add_legend_key (AtlasDetailsPage *self, int source_index, AtlasPieceState state, const char *text)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *swatch = gtk_drawing_area_new ();
  GtkWidget *label = gtk_label_new (text);

  gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (swatch), 12);
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (swatch), 12);
  gtk_widget_set_valign (swatch, GTK_ALIGN_CENTER);
  g_object_set_data (G_OBJECT (swatch), "source-index", GINT_TO_POINTER (source_index + 1));
  g_object_set_data (G_OBJECT (swatch), "piece-state", GINT_TO_POINTER (state));
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (swatch), swatch_draw_cb, self, NULL);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "caption");
  gtk_box_append (GTK_BOX (box), swatch);
  gtk_box_append (GTK_BOX (box), label);
  gtk_flow_box_append (self->legend, box);
}

/* Rebuilt when sources come or the style turns dark or light: a handful of
 * widgets, and the swatches redraw with the new colours. */
static void
rebuild_legend (AtlasDetailsPage *self)
{
  GtkWidget *child;
  guint n_sources = self->sources != NULL ? g_list_model_get_n_items (self->sources) : 0;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->legend))) != NULL)
    gtk_flow_box_remove (self->legend, child);

  add_legend_key (self, -1, ATLAS_PIECE_MISSING, _ ("Missing"));
  add_legend_key (self, -1, ATLAS_PIECE_ACTIVE, _ ("Being received"));
  add_legend_key (self, -1, ATLAS_PIECE_WRITTEN, _ ("Not yet verified"));
  add_legend_key (self, -1, ATLAS_PIECE_BAD, _ ("Bad"));
  for (guint i = 0; i < n_sources; i++)
    {
      g_autoptr (AtlasSource) source = g_list_model_get_item (self->sources, i);
      const char *host = atlas_source_get_host (source);
      g_autofree char *name = source_display_name (source);
      g_autofree char *text = NULL;

      /* Mirrors on one host differ only by their URLs. */
      for (guint j = 0; j < n_sources && host != NULL; j++)
        {
          g_autoptr (AtlasSource) other = g_list_model_get_item (self->sources, j);
          if (j != i && g_strcmp0 (atlas_source_get_host (other), host) == 0)
            host = NULL;
        }
      /* Translators: a legend key, “Verified, from mirror.example.org”. */
      text = g_strdup_printf (_ ("Verified, from %s"),
                              host != NULL ? name : atlas_source_get_url (source));
      add_legend_key (self, i, ATLAS_PIECE_VERIFIED, text);
    }
}

/* ---- sources ------------------------------------------------------------- */

static void
update_source_row (AdwActionRow *row, GParamSpec *pspec, AtlasSource *source)
{
  g_autoptr (GString) text = g_string_new (atlas_source_get_url (source));
  g_autofree char *bytes = g_format_size (atlas_source_get_bytes_received (source));
  guint64 speed = atlas_source_get_speed (source);
  guint errors = atlas_source_get_errors (source);
  guint bad = atlas_source_get_bad_pieces (source);
  const char *last_error = atlas_source_get_last_error (source);
  g_autofree char *name = source_display_name (source);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);

  g_string_append_c (text, '\n');
  g_string_append (text, source_state_text (atlas_source_get_state (source)));
  if (speed > 0)
    {
      g_autofree char *speed_text = g_format_size (speed);
      g_string_append (text, " · ");
      /* Translators: a transfer speed, “3.2 MB/s”. */
      g_string_append_printf (text, _ ("%s/s"), speed_text);
    }
  g_string_append (text, " · ");
  /* Translators: bytes a source delivered, “120 MB received”. */
  g_string_append_printf (text, _ ("%s received"), bytes);
  if (errors > 0)
    {
      g_string_append (text, " · ");
      g_string_append_printf (text, g_dngettext (NULL, "%u error", "%u errors", errors), errors);
    }
  if (bad > 0)
    {
      g_string_append (text, " · ");
      g_string_append_printf (text, g_dngettext (NULL, "%u bad piece", "%u bad pieces", bad), bad);
    }
  if (last_error != NULL && *last_error != '\0')
    {
      g_string_append_c (text, '\n');
      /* Translators: the engine's description of what went wrong, in English. */
      g_string_append_printf (text, _ ("Last error: %s"), last_error);
    }
  adw_action_row_set_subtitle (row, text->str);
}

static GtkWidget *
create_source_row_cb (gpointer item, gpointer user_data)
{
  AtlasSource *source = item;
  GtkWidget *row = adw_action_row_new ();
  gboolean peer = source_is_peer (source);
  GtkWidget *icon = gtk_image_new_from_icon_name (peer ? "network-workgroup-symbolic"
                                                       : "network-server-symbolic");

  /* Peers are other users, mirrors are servers: the icon and a word tell
   * them apart at a glance, not only the name. */
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
  if (peer)
    {
      GtkWidget *kind = gtk_label_new (_ ("Peer"));

      gtk_widget_set_valign (kind, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (kind, "caption-heading");
      gtk_widget_add_css_class (kind, "accent");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), kind);
    }
  /* URLs and engine messages are not markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
  update_source_row (ADW_ACTION_ROW (row), NULL, source);
  g_signal_connect_object (source, "notify", G_CALLBACK (update_source_row), row,
                           G_CONNECT_SWAPPED);
  return row;
}

/* ---- hashes -------------------------------------------------------------- */

static void
update_hashes (AtlasDetailsPage *self)
{
  Verdict verdict = whole_file_verdict (self->download);
  g_autoptr (GBytes) states = atlas_download_get_piece_states (self->download);
  gsize n_pieces;
  const guint8 *piece_states = g_bytes_get_data (states, &n_pieces);
  guint verified = 0, bad = 0;
  g_autofree char *verified_text = NULL;
  g_autofree char *total_text = NULL;
  g_autofree char *length_text = NULL;
  g_autoptr (GString) subtitle = g_string_new (NULL);

  if (self->pieces_row == NULL)
    return;
  for (guint i = 0; i < self->hash_verdicts->len; i++)
    {
      GtkWidget *label = g_ptr_array_index (self->hash_verdicts, i);

      gtk_label_set_text (GTK_LABEL (label), verdict_text (verdict));
      gtk_widget_remove_css_class (label, "verdict-good");
      gtk_widget_remove_css_class (label, "verdict-bad");
      if (verdict == VERDICT_MATCHED)
        gtk_widget_add_css_class (label, "verdict-good");
      else if (verdict == VERDICT_MISMATCHED)
        gtk_widget_add_css_class (label, "verdict-bad");
    }

  for (gsize i = 0; i < n_pieces; i++)
    {
      verified += piece_states[i] == ATLAS_PIECE_VERIFIED;
      bad += piece_states[i] == ATLAS_PIECE_BAD;
    }
  if (n_pieces == 0)
    g_string_append (subtitle, _ ("The piece layout is known once the first source answers"));
  else
    {
      verified_text = g_strdup_printf ("%'u", verified);
      total_text = g_strdup_printf ("%'" G_GSIZE_FORMAT, n_pieces);
      length_text = g_format_size (atlas_download_get_piece_length (self->download));
      /* Translators: “812 of 1,000 pieces of 1.0 MB verified”. */
      g_string_append_printf (subtitle,
                              g_dngettext (NULL, "%s of %s piece of %s verified",
                                           "%s of %s pieces of %s verified", n_pieces),
                              verified_text, total_text, length_text);
      if (bad > 0)
        {
          g_string_append (subtitle, " · ");
          g_string_append_printf (subtitle,
                                  g_dngettext (NULL, "%u failed its hash, fetching it again",
                                               "%u failed their hash, fetching them again", bad),
                                  bad);
        }
    }
  adw_action_row_set_subtitle (self->pieces_row, subtitle->str);
}

static void
rebuild_hashes (AtlasDetailsPage *self)
{
  GArray *checksums;
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->hashes_list))) != NULL)
    gtk_list_box_remove (self->hashes_list, child);
  g_ptr_array_set_size (self->hash_verdicts, 0);
  self->pieces_row = NULL;
  if (self->download == NULL)
    return;

  checksums = atlas_download_get_checksums (self->download);

  for (guint i = 0; i < checksums->len; i++)
    {
      g_autofree char *text =
          atlas_checksum_to_string (&g_array_index (checksums, AtlasChecksum, i));
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *verdict = gtk_label_new (NULL);

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), text);
      adw_preferences_row_set_title_selectable (ADW_PREFERENCES_ROW (row), TRUE);
      adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 0);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _ ("Whole file"));
      gtk_widget_add_css_class (verdict, "heading");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), verdict);
      gtk_list_box_append (self->hashes_list, row);
      g_ptr_array_add (self->hash_verdicts, verdict);
    }
  if (checksums->len == 0)
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _ ("No expected hash"));
      adw_action_row_set_subtitle (
          ADW_ACTION_ROW (row),
          _ ("Nothing tells whether the whole file is the one you wanted; add a hash to be sure"));
      gtk_list_box_append (self->hashes_list, row);
    }

  self->pieces_row = ADW_ACTION_ROW (adw_action_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->pieces_row), _ ("Piece hashes"));
  gtk_list_box_append (self->hashes_list, GTK_WIDGET (self->pieces_row));
  update_hashes (self);
}

/* ---- log ----------------------------------------------------------------- */

static void
append_log_line (AtlasDetailsPage *self, const char *line)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->log_view);
  GtkTextIter end;
  int excess;

  gtk_text_buffer_get_end_iter (buffer, &end);
  if (gtk_text_buffer_get_char_count (buffer) > 0)
    gtk_text_buffer_insert (buffer, &end, "\n", 1);
  gtk_text_buffer_insert (buffer, &end, line, -1);

  excess = gtk_text_buffer_get_line_count (buffer) - MAX_LOG_LINES;
  if (excess > 0)
    {
      GtkTextIter start, cut;

      gtk_text_buffer_get_start_iter (buffer, &start);
      gtk_text_buffer_get_iter_at_line (buffer, &cut, excess);
      gtk_text_buffer_delete (buffer, &start, &cut);
    }
  if (self->log_follows)
    gtk_text_view_scroll_to_mark (self->log_view, gtk_text_buffer_get_mark (buffer, "log-end"), 0,
                                  FALSE, 0, 0);
}

/* Follow new lines unless the user scrolled back to read older ones. Lines
 * come in bursts, before a scroll to the end has happened: the position is
 * judged when it changes, not when a line arrives. */
static void
log_scrolled_cb (GtkAdjustment *adjustment, AtlasDetailsPage *self)
{
  self->log_follows =
      gtk_adjustment_get_value (adjustment) + gtk_adjustment_get_page_size (adjustment)
      >= gtk_adjustment_get_upper (adjustment) - 1;
}

static void
download_log_cb (AtlasDownload *download, guint level, const char *message, AtlasDetailsPage *self)
{
  append_log_line (self, message);
}

static void
load_log (AtlasDetailsPage *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->log_view);
  g_auto (GStrv) lines = self->download != NULL ? atlas_download_get_log (self->download) : NULL;
  g_autofree char *text = lines != NULL ? g_strjoinv ("\n", lines) : NULL;

  gtk_text_buffer_set_text (buffer, text != NULL ? text : "", -1);
  self->log_follows = TRUE;
  gtk_text_view_scroll_to_mark (self->log_view, gtk_text_buffer_get_mark (buffer, "log-end"), 0,
                                FALSE, 0, 0);
}

/* ---- the download -------------------------------------------------------- */

static void
download_state_cb (AtlasDetailsPage *self)
{
  update_header (self);
  update_hashes (self);
}

static void
disconnect_download (AtlasDetailsPage *self)
{
  if (self->download != NULL)
    g_signal_handlers_disconnect_by_data (self->download, self);
  if (self->sources != NULL)
    g_signal_handlers_disconnect_by_data (self->sources, self);
  g_clear_handle_id (&self->transfer_refresh_id, g_source_remove);
  g_clear_object (&self->sources);
  g_clear_object (&self->download);
}

static void
atlas_details_page_dispose (GObject *object)
{
  AtlasDetailsPage *self = ATLAS_DETAILS_PAGE (object);

  disconnect_download (self);
  g_signal_handlers_disconnect_by_data (adw_style_manager_get_default (), self);
  /* AdwBin unparents its child (the template's stack) itself. */
  G_OBJECT_CLASS (atlas_details_page_parent_class)->dispose (object);
}

static void
atlas_details_page_finalize (GObject *object)
{
  AtlasDetailsPage *self = ATLAS_DETAILS_PAGE (object);

  g_ptr_array_unref (self->hash_verdicts);
  G_OBJECT_CLASS (atlas_details_page_parent_class)->finalize (object);
}

static void
atlas_details_page_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  AtlasDetailsPage *self = ATLAS_DETAILS_PAGE (object);

  switch (prop_id)
    {
    case PROP_DOWNLOAD:
      g_value_set_object (value, self->download);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_details_page_set_property (GObject *object, guint prop_id, const GValue *value,
                                 GParamSpec *pspec)
{
  AtlasDetailsPage *self = ATLAS_DETAILS_PAGE (object);

  switch (prop_id)
    {
    case PROP_DOWNLOAD:
      atlas_details_page_set_download (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
atlas_details_page_class_init (AtlasDetailsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = atlas_details_page_dispose;
  object_class->finalize = atlas_details_page_finalize;
  object_class->get_property = atlas_details_page_get_property;
  object_class->set_property = atlas_details_page_set_property;

  properties[PROP_DOWNLOAD] =
      g_param_spec_object ("download", NULL, NULL, ATLAS_TYPE_DOWNLOAD,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (ATLAS_TYPE_SEGMENT_MAP);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/downloadatlas/DownloadAtlas/"
                                                             "atlas-details-page.ui");
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, stack);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, title_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, path_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, state_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, progress_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, transfer_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, segment_map);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, legend);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, sources_list);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, hashes_list);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, log_scroller);
  gtk_widget_class_bind_template_child (widget_class, AtlasDetailsPage, log_view);
}

static void
atlas_details_page_init (AtlasDetailsPage *self)
{
  GtkWidget *placeholder = gtk_label_new (_ ("No sources yet"));
  GtkTextBuffer *buffer;
  GtkTextIter end;

  gtk_widget_init_template (GTK_WIDGET (self));
  buffer = gtk_text_view_get_buffer (self->log_view);
  gtk_text_buffer_get_end_iter (buffer, &end);
  /* Right gravity: the mark stays after every appended line. */
  gtk_text_buffer_create_mark (buffer, "log-end", &end, FALSE);
  self->log_follows = TRUE;
  g_signal_connect_object (gtk_scrolled_window_get_vadjustment (self->log_scroller),
                           "value-changed", G_CALLBACK (log_scrolled_cb), self, 0);
  self->hash_verdicts = g_ptr_array_new ();

  gtk_widget_add_css_class (placeholder, "dim-label");
  gtk_widget_set_margin_top (placeholder, 12);
  gtk_widget_set_margin_bottom (placeholder, 12);
  gtk_list_box_set_placeholder (self->sources_list, placeholder);
  g_signal_connect_object (adw_style_manager_get_default (), "notify::dark",
                           G_CALLBACK (rebuild_legend), self, G_CONNECT_SWAPPED);
}

GtkWidget *
atlas_details_page_new (void)
{
  return g_object_new (ATLAS_TYPE_DETAILS_PAGE, NULL);
}

void
atlas_details_page_set_download (AtlasDetailsPage *self, AtlasDownload *download)
{
  g_return_if_fail (ATLAS_IS_DETAILS_PAGE (self));
  g_return_if_fail (download == NULL || ATLAS_IS_DOWNLOAD (download));

  if (self->download == download)
    return;
  disconnect_download (self);
  atlas_segment_map_set_download (self->segment_map, download);

  if (download == NULL)
    {
      gtk_list_box_bind_model (self->sources_list, NULL, NULL, NULL, NULL);
      rebuild_legend (self);
      rebuild_hashes (self);
      load_log (self);
      gtk_stack_set_visible_child_name (self->stack, "empty");
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DOWNLOAD]);
      return;
    }

  self->download = g_object_ref (download);
  self->sources = g_object_ref (atlas_download_get_sources (download));

  g_signal_connect_object (download, "notify::name", G_CALLBACK (update_header), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "notify::path", G_CALLBACK (update_header), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "notify::size", G_CALLBACK (update_header), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "notify::completed-bytes", G_CALLBACK (download_progress_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "notify::speed", G_CALLBACK (update_header), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "notify::active-sources", G_CALLBACK (update_header), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "notify::error-message", G_CALLBACK (update_header), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "notify::state", G_CALLBACK (download_state_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "notify::piece-map-serial", G_CALLBACK (update_hashes), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "notify::piece-length", G_CALLBACK (update_hashes), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (download, "log", G_CALLBACK (download_log_cb), self, 0);
  g_signal_connect_object (self->sources, "items-changed", G_CALLBACK (rebuild_legend), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->sources, "items-changed", G_CALLBACK (update_transfer), self,
                           G_CONNECT_SWAPPED);
  self->transfer_refresh_id = g_timeout_add_seconds (TRANSFER_REFRESH_S, transfer_refresh_cb, self);

  gtk_list_box_bind_model (self->sources_list, self->sources, create_source_row_cb, NULL, NULL);
  update_header (self);
  update_transfer (self);
  rebuild_legend (self);
  rebuild_hashes (self);
  load_log (self);
  gtk_stack_set_visible_child_name (self->stack, "details");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DOWNLOAD]);
}

AtlasDownload *
atlas_details_page_get_download (AtlasDetailsPage *self)
{
  g_return_val_if_fail (ATLAS_IS_DETAILS_PAGE (self), NULL);

  return self->download;
}
