/* atlas-verify-page.c — checks a file already on disk against a pasted hash,
 * a Metalink or a SUMS file, shows the verdict with the bad byte ranges, and
 * repairs only the bad pieces when a Metalink names mirrors. */
#include "atlas-verify-page.h"

#include <glib/gi18n.h>
#include <string.h>

#include "atlas-format.h"
#include "atlas-segment-map.h"
#include "atlas-verify-reference.h"

/* A long list of ranges is unreadable; the segment map shows the rest. */
#define MAX_RANGES_LISTED 20

struct _AtlasVerifyPage
{
  AdwBin parent_instance;

  AtlasSession *session;
  GFile *file;
  GFile *reference_file;
  /* NULL while no reference is chosen, while a file loads, or when it
   * cannot be used; reference_problem then says why. */
  AtlasVerifyReference *reference;
  char *reference_problem;

  GCancellable *load_cancellable;
  GCancellable *verify_cancellable;
  GCancellable *repair_cancellable;
  gint64 verify_started_us;
  AtlasDownload *repair_download;
  gboolean setting_hash_text;

  GtkFileChooserNative *chooser;

  AdwActionRow *file_row;
  AdwEntryRow *hash_row;
  AdwActionRow *reference_row;
  GtkWidget *clear_reference_button;
  GtkLabel *reference_error_label;
  GtkWidget *verify_button;
  GtkWidget *progress_box;
  GtkProgressBar *progress_bar;
  GtkLabel *progress_label;
  GtkWidget *cancel_button;
  GtkWidget *verdict_box;
  GtkImage *verdict_icon;
  GtkLabel *verdict_title;
  GtkLabel *verdict_details;
  GtkWidget *bad_ranges_heading;
  GtkLabel *bad_ranges_label;
  AtlasSegmentMap *segment_map;
  GtkWidget *repair_button;
  GtkLabel *repair_label;
};

G_DEFINE_FINAL_TYPE (AtlasVerifyPage, atlas_verify_page, ADW_TYPE_BIN)

/* One asynchronous job of the page. It holds the page weakly so that closing
 * the window is not delayed by a long hash; the job's cancellable tells
 * whether the page still waits for this job or has moved on to another. */
typedef struct
{
  GWeakRef page;
  GCancellable *cancellable;
  /* For a verify: what was expected, to explain the verdict. */
  GArray *checksums;
  gint64 size;
  AtlasHashType piece_type;
  guint64 piece_length;
} PageJob;

static PageJob *
page_job_new (AtlasVerifyPage *self, GCancellable *cancellable)
{
  PageJob *job = g_new0 (PageJob, 1);

  g_weak_ref_init (&job->page, self);
  job->cancellable = g_object_ref (cancellable);
  job->size = -1;
  return job;
}

static void
page_job_free (PageJob *job)
{
  g_weak_ref_clear (&job->page);
  g_clear_object (&job->cancellable);
  g_clear_pointer (&job->checksums, g_array_unref);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PageJob, page_job_free)

/* The page if it is still alive and still waiting for @job, else NULL. */
static AtlasVerifyPage *
page_job_get_page (PageJob *job)
{
  AtlasVerifyPage *self = g_weak_ref_get (&job->page);

  if (self == NULL)
    return NULL;
  if (g_cancellable_is_cancelled (job->cancellable))
    {
      g_object_unref (self);
      return NULL;
    }
  return self;
}

static gboolean
is_cancel_error (const GError *error)
{
  return g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_CANCELLED)
         || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* "SHA-256" for people; the engine's names are the lower-case IANA ones. */
static char *
hash_display_name (AtlasHashType type)
{
  return g_ascii_strup (atlas_hash_type_to_name (type), -1);
}

/* Fills @expect from the file and the reference. On FALSE, @problem says
 * what the user has to change, or stays NULL when something is simply not
 * chosen yet. Either way @expect is to be cleared by the caller. */
static gboolean
build_expectation (AtlasVerifyPage *self, AtlasVerifyExpectation *expect, char **problem)
{
  g_autofree char *path = NULL;
  g_autofree char *base = NULL;
  g_autoptr (GError) error = NULL;

  memset (expect, 0, sizeof (*expect));
  expect->size = -1;
  *problem = NULL;

  if (self->reference_problem != NULL)
    {
      *problem = g_strdup (self->reference_problem);
      return FALSE;
    }
  if (self->file == NULL || self->reference == NULL)
    return FALSE;

  path = g_file_get_path (self->file);
  if (path == NULL)
    {
      *problem = g_strdup (_ ("Only files on this computer can be checked. Copy the file to a "
                              "local folder first."));
      return FALSE;
    }
  base = g_path_get_basename (path);
  if (!atlas_verify_reference_get_expectation (self->reference, base, expect, &error))
    {
      *problem = g_strdup (error->message);
      return FALSE;
    }
  return TRUE;
}

static void
update_controls (AtlasVerifyPage *self)
{
  AtlasVerifyExpectation expect;
  g_autofree char *problem = NULL;
  gboolean ready = build_expectation (self, &expect, &problem);
  gboolean running = self->verify_cancellable != NULL;

  atlas_verify_reference_clear_expectation (&expect);

  gtk_label_set_text (self->reference_error_label, problem != NULL ? problem : "");
  gtk_widget_set_visible (GTK_WIDGET (self->reference_error_label), problem != NULL);
  gtk_widget_set_sensitive (self->verify_button, ready && !running);

  /* The entry is marked only for its own mistakes, not for a bad file. */
  if (self->reference_problem != NULL && self->reference_file == NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->hash_row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->hash_row), "error");

  if (self->reference_file != NULL)
    {
      g_autofree char *name = g_file_get_basename (self->reference_file);

      adw_action_row_set_subtitle (self->reference_row, name);
    }
  else
    adw_action_row_set_subtitle (self->reference_row, _ ("None"));
  gtk_widget_set_visible (self->clear_reference_button, self->reference_file != NULL);
}

static void
stop_following_repair (AtlasVerifyPage *self)
{
  if (self->repair_cancellable != NULL)
    g_cancellable_cancel (self->repair_cancellable);
  g_clear_object (&self->repair_cancellable);
  if (self->repair_download != NULL)
    g_signal_handlers_disconnect_by_data (self->repair_download, self);
  g_clear_object (&self->repair_download);
}

/* Forgets the verdict and stops a running check: what it said was about a
 * file or a reference that is no longer the chosen one. */
static void
reset_verdict (AtlasVerifyPage *self)
{
  if (self->verify_cancellable != NULL)
    g_cancellable_cancel (self->verify_cancellable);
  g_clear_object (&self->verify_cancellable);
  stop_following_repair (self);

  gtk_widget_set_visible (self->progress_box, FALSE);
  gtk_widget_set_visible (self->verdict_box, FALSE);
  gtk_widget_set_visible (self->bad_ranges_heading, FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->bad_ranges_label), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->segment_map), FALSE);
  gtk_widget_set_visible (self->repair_button, FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->repair_label), FALSE);
  atlas_segment_map_set_pieces (self->segment_map, NULL, NULL);
}

static void
forget_reference (AtlasVerifyPage *self)
{
  if (self->load_cancellable != NULL)
    g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  g_clear_object (&self->reference_file);
  g_clear_pointer (&self->reference, atlas_verify_reference_free);
  g_clear_pointer (&self->reference_problem, g_free);
}

static void
set_reference_problem (AtlasVerifyPage *self, char *problem)
{
  g_clear_pointer (&self->reference, atlas_verify_reference_free);
  g_free (self->reference_problem);
  self->reference_problem = problem;
}

/* ---- verdict ------------------------------------------------------------ */

static void
set_verdict_header (AtlasVerifyPage *self, const char *icon_name, const char *style,
                    const char *title)
{
  gtk_image_set_from_icon_name (self->verdict_icon, icon_name);
  gtk_widget_remove_css_class (GTK_WIDGET (self->verdict_icon), "success");
  gtk_widget_remove_css_class (GTK_WIDGET (self->verdict_icon), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (self->verdict_icon), "warning");
  gtk_widget_add_css_class (GTK_WIDGET (self->verdict_icon), style);
  gtk_label_set_text (self->verdict_title, title);
  gtk_widget_set_visible (self->verdict_box, TRUE);
}

static const AtlasChecksum *
expected_of_type (GArray *checksums, AtlasHashType type)
{
  for (guint i = 0; checksums != NULL && i < checksums->len; i++)
    {
      const AtlasChecksum *checksum = &g_array_index (checksums, AtlasChecksum, i);

      if (checksum->type == type)
        return checksum;
    }
  return NULL;
}

static void
append_line (GString *text, const char *line)
{
  if (text->len > 0)
    g_string_append_c (text, '\n');
  g_string_append (text, line);
}

static char *
describe_result (const PageJob *job, const AtlasVerifyResult *result)
{
  GString *text = g_string_new (NULL);
  guint n_bad = result->bad_pieces != NULL ? result->bad_pieces->len : 0;

  if (job->size >= 0 && !result->size_matched)
    {
      g_autofree char *actual = atlas_format_grouped (result->size);
      g_autofree char *expected = atlas_format_grouped ((guint64) job->size);
      g_autofree char *line = g_strdup_printf (
          _ ("The file has %s bytes, but %s bytes were expected."), actual, expected);

      append_line (text, line);
    }

  if (result->whole_file_checked)
    {
      g_autofree char *name = hash_display_name (result->whole_file.type);
      g_autofree char *actual = atlas_checksum_to_hex (&result->whole_file);
      g_autofree char *line = NULL;

      if (result->whole_file_matched)
        /* TRANSLATORS: "SHA-256 matches: 3a7b…", the hash name and its hex digits. */
        line = g_strdup_printf (_ ("%s matches: %s"), name, actual);
      else
        {
          const AtlasChecksum *want = expected_of_type (job->checksums, result->whole_file.type);
          g_autofree char *expected = want != NULL ? atlas_checksum_to_hex (want) : NULL;

          if (expected != NULL)
            /* TRANSLATORS: the hash name, the expected hex digits, the computed ones. */
            line = g_strdup_printf (_ ("%s does not match.\nExpected: %s\nFound: %s"), name,
                                    expected, actual);
          else
            line = g_strdup_printf (_ ("%s does not match: %s"), name, actual);
        }
      append_line (text, line);
    }

  if (result->n_pieces > 0)
    {
      g_autofree char *name = hash_display_name (job->piece_type);
      g_autofree char *line = NULL;

      if (n_bad == 0)
        line = g_strdup_printf (g_dngettext (NULL, "The %u %s piece hash matches.",
                                             "All %u %s piece hashes match.", result->n_pieces),
                                result->n_pieces, name);
      else
        line = g_strdup_printf (g_dngettext (NULL, "%u of %u piece is damaged.",
                                             "%u of %u pieces are damaged.", result->n_pieces),
                                n_bad, result->n_pieces);
      append_line (text, line);
    }

  if (text->len == 0 && result->size_matched)
    {
      g_autofree char *size = atlas_format_grouped (result->size);
      g_autofree char *line = g_strdup_printf (_ ("The size matches: %s bytes."), size);

      append_line (text, line);
    }
  return g_string_free (text, FALSE);
}

/* "bytes 1,048,576–2,097,151 (piece 1)", one line per merged range. */
static char *
describe_bad_ranges (const PageJob *job, const AtlasVerifyResult *result)
{
  GString *text = g_string_new (NULL);
  guint n = result->bad_ranges != NULL ? result->bad_ranges->len : 0;

  for (guint i = 0; i < MIN (n, MAX_RANGES_LISTED); i++)
    {
      const AtlasByteRange *range = &g_array_index (result->bad_ranges, AtlasByteRange, i);
      guint64 last = range->offset + range->length - 1;
      g_autofree char *from = atlas_format_grouped (range->offset);
      g_autofree char *to = atlas_format_grouped (last);
      g_autofree char *line = NULL;

      if (job->piece_length == 0)
        /* TRANSLATORS: a damaged byte range of the file, first and last byte. */
        line = g_strdup_printf (_ ("bytes %s–%s"), from, to);
      else
        {
          guint64 first_piece = range->offset / job->piece_length;
          guint64 last_piece = last / job->piece_length;
          /* Formatted first: a 64-bit format macro in a translated string
           * would hide it from xgettext. */
          g_autofree char *first_text = g_strdup_printf ("%" G_GUINT64_FORMAT, first_piece);
          g_autofree char *last_text = g_strdup_printf ("%" G_GUINT64_FORMAT, last_piece);

          if (first_piece == last_piece)
            /* TRANSLATORS: a damaged byte range and the piece it is in. */
            line = g_strdup_printf (_ ("bytes %s–%s (piece %s)"), from, to, first_text);
          else
            /* TRANSLATORS: a damaged byte range and the pieces it spans. */
            line =
                g_strdup_printf (_ ("bytes %s–%s (pieces %s–%s)"), from, to, first_text, last_text);
        }
      append_line (text, line);
    }
  if (n > MAX_RANGES_LISTED)
    {
      guint more = n - MAX_RANGES_LISTED;
      g_autofree char *line = g_strdup_printf (
          g_dngettext (NULL, "and %u more range", "and %u more ranges", more), more);

      append_line (text, line);
    }
  return g_string_free (text, FALSE);
}

static void
show_piece_map (AtlasVerifyPage *self, const AtlasVerifyResult *result)
{
  g_autoptr (GBytes) states = NULL;
  guint8 *bytes;

  if (result->n_pieces == 0)
    return;
  bytes = g_malloc (result->n_pieces);
  memset (bytes, ATLAS_PIECE_VERIFIED, result->n_pieces);
  for (guint i = 0; result->bad_pieces != NULL && i < result->bad_pieces->len; i++)
    {
      guint piece = g_array_index (result->bad_pieces, guint, i);

      if (piece < result->n_pieces)
        bytes[piece] = ATLAS_PIECE_BAD;
    }
  states = g_bytes_new_take (bytes, result->n_pieces);
  atlas_segment_map_set_pieces (self->segment_map, states, NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->segment_map), TRUE);
}

static gboolean
can_repair (AtlasVerifyPage *self)
{
  g_autofree char *base = NULL;

  if (self->reference == NULL || self->file == NULL)
    return FALSE;
  base = g_file_get_basename (self->file);
  return atlas_verify_reference_can_repair (self->reference, base);
}

static void
update_repair_button (AtlasVerifyPage *self)
{
  gtk_widget_set_sensitive (self->repair_button, self->session != NULL
                                                     && self->repair_cancellable == NULL
                                                     && self->repair_download == NULL);
}

static void
show_result (AtlasVerifyPage *self, const PageJob *job, const AtlasVerifyResult *result)
{
  g_autofree char *details = describe_result (job, result);

  if (result->ok)
    set_verdict_header (self, "emblem-ok-symbolic", "success", _ ("The file is intact"));
  else
    set_verdict_header (self, "dialog-warning-symbolic", "error", _ ("The file is damaged"));
  gtk_label_set_text (self->verdict_details, details);
  gtk_widget_set_visible (GTK_WIDGET (self->verdict_details), TRUE);

  if (result->bad_ranges != NULL && result->bad_ranges->len > 0)
    {
      g_autofree char *ranges = describe_bad_ranges (job, result);

      gtk_label_set_text (self->bad_ranges_label, ranges);
      gtk_widget_set_visible (self->bad_ranges_heading, TRUE);
      gtk_widget_set_visible (GTK_WIDGET (self->bad_ranges_label), TRUE);
    }
  show_piece_map (self, result);

  if (!result->ok && can_repair (self))
    {
      gtk_widget_set_visible (self->repair_button, TRUE);
      update_repair_button (self);
      if (self->session == NULL)
        {
          gtk_label_set_text (self->repair_label,
                              _ ("Repair becomes possible once the download queue is open."));
          gtk_widget_set_visible (GTK_WIDGET (self->repair_label), TRUE);
        }
    }
}

/* A reason a person can act on, in their language; the engine's English
 * message follows for bug reports. */
static const char *
reason_for_error (const GError *error)
{
  if (error->domain == ATLAS_ERROR)
    switch ((AtlasError) error->code)
      {
      case ATLAS_ERROR_IO:
        return _ ("the file cannot be read");
      case ATLAS_ERROR_INVALID_INPUT:
      case ATLAS_ERROR_UNSAFE_INPUT:
        return _ ("the reference does not describe this file");
      case ATLAS_ERROR_NOT_FOUND:
        return _ ("the file does not exist");
      default:
        break;
      }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return _ ("the file does not exist");
  return _ ("something went wrong");
}

static void
show_failure (AtlasVerifyPage *self, const GError *error)
{
  /* TRANSLATORS: the verdict when hashing failed, e.g. "…: the file cannot be read". */
  g_autofree char *title =
      g_strdup_printf (_ ("Could not check the file: %s"), reason_for_error (error));

  set_verdict_header (self, "dialog-error-symbolic", "warning", title);
  gtk_label_set_text (self->verdict_details, error->message);
  gtk_widget_set_visible (GTK_WIDGET (self->verdict_details), TRUE);
}

/* ---- verifying ---------------------------------------------------------- */

static void
verify_progress_cb (guint64 bytes_done, guint64 bytes_total, gpointer user_data)
{
  PageJob *job = user_data;
  g_autoptr (AtlasVerifyPage) self = page_job_get_page (job);
  g_autofree char *amount = NULL;
  g_autofree char *speed = NULL;
  g_autofree char *text = NULL;
  double seconds;

  if (self == NULL)
    return;

  seconds = (g_get_monotonic_time () - self->verify_started_us) / (double) G_USEC_PER_SEC;
  amount = atlas_format_progress (bytes_done, (gint64) bytes_total);
  /* The average since the start: hashing runs at a steady rate, and a
   * number that jumps four times a second is hard to read. */
  speed = atlas_format_speed (seconds > 0.2 ? (guint64) (bytes_done / seconds) : 0);
  if (*speed != '\0')
    /* TRANSLATORS: progress and speed, e.g. "1.2 GB of 4.0 GB — 1.4 GB/s". */
    text = g_strdup_printf (_ ("%s — %s"), amount, speed);
  else
    text = g_steal_pointer (&amount);

  gtk_progress_bar_set_fraction (self->progress_bar,
                                 bytes_total > 0 ? (double) bytes_done / bytes_total : 0.0);
  gtk_label_set_text (self->progress_label, text);
}

static void
verify_done_cb (GObject *source, GAsyncResult *async_result, gpointer user_data)
{
  g_autoptr (PageJob) job = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasVerifyResult) result = atlas_verify_file_finish (async_result, &error);
  g_autoptr (AtlasVerifyPage) self = page_job_get_page (job);

  if (self == NULL)
    return;

  g_clear_object (&self->verify_cancellable);
  gtk_widget_set_visible (self->progress_box, FALSE);
  if (result != NULL)
    show_result (self, job, result);
  else if (!is_cancel_error (error))
    show_failure (self, error);
  update_controls (self);
}

void
atlas_verify_page_start (AtlasVerifyPage *self)
{
  g_autofree char *problem = NULL;
  g_autofree char *path = NULL;
  AtlasVerifyExpectation expect;
  PageJob *job;

  g_return_if_fail (ATLAS_IS_VERIFY_PAGE (self));

  if (self->verify_cancellable != NULL)
    return;
  if (!build_expectation (self, &expect, &problem))
    {
      atlas_verify_reference_clear_expectation (&expect);
      update_controls (self);
      return;
    }

  reset_verdict (self);
  path = g_file_get_path (self->file);
  self->verify_cancellable = g_cancellable_new ();
  self->verify_started_us = g_get_monotonic_time ();

  job = page_job_new (self, self->verify_cancellable);
  job->checksums = g_array_ref (expect.checksums);
  job->size = expect.size;
  job->piece_type = expect.piece_type;
  job->piece_length = expect.piece_length;

  gtk_progress_bar_set_fraction (self->progress_bar, 0.0);
  gtk_label_set_text (self->progress_label, _ ("Starting…"));
  gtk_widget_set_visible (self->progress_box, TRUE);
  update_controls (self);

  /* The expectation is copied by the verifier; the progress callback gets
   * the job so that a late report of a cancelled check is ignored. */
  atlas_verify_file_async (path, &expect, self->verify_cancellable, verify_progress_cb, job,
                           verify_done_cb, job);
  atlas_verify_reference_clear_expectation (&expect);
}

static void
verify_clicked_cb (GtkButton *button, AtlasVerifyPage *self)
{
  atlas_verify_page_start (self);
}

static void
cancel_clicked_cb (GtkButton *button, AtlasVerifyPage *self)
{
  if (self->verify_cancellable != NULL)
    g_cancellable_cancel (self->verify_cancellable);
  g_clear_object (&self->verify_cancellable);
  gtk_widget_set_visible (self->progress_box, FALSE);
  update_controls (self);
}

/* ---- repairing ---------------------------------------------------------- */

static void
update_repair_label (AtlasVerifyPage *self)
{
  AtlasDownload *download = self->repair_download;
  const char *name = atlas_download_get_name (download);
  g_autofree char *text = NULL;

  switch (atlas_download_get_state (download))
    {
    case ATLAS_DOWNLOAD_COMPLETE:
      text = g_strdup_printf (_ ("Repaired: “%s” now matches the Metalink."), name);
      set_verdict_header (self, "emblem-ok-symbolic", "success", _ ("The file is intact"));
      gtk_label_set_text (self->verdict_details,
                          _ ("The damaged pieces were downloaded again and every hash matches."));
      gtk_widget_set_visible (self->bad_ranges_heading, FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->bad_ranges_label), FALSE);
      gtk_widget_set_visible (self->repair_button, FALSE);
      {
        g_autoptr (GBytes) states = atlas_download_get_piece_states (download);

        if (states != NULL && g_bytes_get_size (states) > 0)
          atlas_segment_map_set_pieces (self->segment_map, states, NULL);
      }
      break;

    case ATLAS_DOWNLOAD_FAILED:
      text = g_strdup_printf (_ ("The repair of “%s” failed: %s. Retry it from the queue."), name,
                              atlas_download_get_error_message (download));
      break;

    case ATLAS_DOWNLOAD_QUEUED:
    case ATLAS_DOWNLOAD_ACTIVE:
    case ATLAS_DOWNLOAD_PAUSED:
    case ATLAS_DOWNLOAD_VERIFYING:
    default:
      text = g_strdup_printf (_ ("Repair queued: “%s”. Only the damaged pieces are downloaded "
                                 "again; follow it in the queue."),
                              name);
      break;
    }
  gtk_label_set_text (self->repair_label, text);
  gtk_widget_set_visible (GTK_WIDGET (self->repair_label), TRUE);
}

static void
repair_state_cb (AtlasDownload *download, GParamSpec *pspec, AtlasVerifyPage *self)
{
  update_repair_label (self);
}

static void
repair_done_cb (GObject *source, GAsyncResult *async_result, gpointer user_data)
{
  g_autoptr (PageJob) job = user_data;
  g_autoptr (GError) error = NULL;
  AtlasDownload *download =
      atlas_session_repair_finish (ATLAS_SESSION (source), async_result, &error);
  g_autoptr (AtlasVerifyPage) self = page_job_get_page (job);

  if (self == NULL)
    return;

  g_clear_object (&self->repair_cancellable);
  if (download == NULL)
    {
      g_autofree char *text = NULL;

      if (is_cancel_error (error))
        return;
      /* A file downloaded with this app stays in the queue when complete,
       * and the engine refuses a second download of the same path. */
      if (g_error_matches (error, ATLAS_ERROR, ATLAS_ERROR_EXISTS))
        text = g_strdup (_ ("Could not start the repair: the file is already in the queue. "
                            "Remove it from the queue, keeping the file, and repair again."));
      else
        text = g_strdup_printf (_ ("Could not start the repair: %s"), error->message);
      gtk_label_set_text (self->repair_label, text);
      gtk_widget_set_visible (GTK_WIDGET (self->repair_label), TRUE);
      update_repair_button (self);
      return;
    }

  self->repair_download = g_object_ref (download);
  g_signal_connect_object (download, "notify::state", G_CALLBACK (repair_state_cb), self, 0);
  update_repair_button (self);
  update_repair_label (self);
}

static void
repair_clicked_cb (GtkButton *button, AtlasVerifyPage *self)
{
  g_autofree char *path = NULL;
  g_autoptr (AtlasRequest) request = NULL;

  if (self->session == NULL || self->reference == NULL || self->file == NULL
      || self->repair_cancellable != NULL || self->repair_download != NULL)
    return;

  path = g_file_get_path (self->file);
  /* The button is only shown when the reference can repair this file. */
  request =
      path != NULL ? atlas_verify_reference_get_repair_request (self->reference, path, NULL) : NULL;
  if (request == NULL)
    return;

  self->repair_cancellable = g_cancellable_new ();
  update_repair_button (self);
  gtk_label_set_text (self->repair_label, _ ("Finding the damaged pieces…"));
  gtk_widget_set_visible (GTK_WIDGET (self->repair_label), TRUE);
  atlas_session_repair_async (self->session, path, request, self->repair_cancellable,
                              repair_done_cb, page_job_new (self, self->repair_cancellable));
}

/* ---- the reference ------------------------------------------------------ */

static void
reference_loaded_cb (GObject *source, GAsyncResult *async_result, gpointer user_data)
{
  g_autoptr (PageJob) job = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasVerifyReference) reference =
      atlas_verify_reference_load_finish (async_result, &error);
  g_autoptr (AtlasVerifyPage) self = page_job_get_page (job);

  if (self == NULL)
    return;
  g_clear_object (&self->load_cancellable);

  if (reference != NULL)
    self->reference = g_steal_pointer (&reference);
  else
    set_reference_problem (self, g_strdup (error->message));
  update_controls (self);
}

void
atlas_verify_page_set_reference_file (AtlasVerifyPage *self, GFile *metalink_or_sums)
{
  g_return_if_fail (ATLAS_IS_VERIFY_PAGE (self));
  g_return_if_fail (metalink_or_sums == NULL || G_IS_FILE (metalink_or_sums));

  reset_verdict (self);
  forget_reference (self);

  /* One reference at a time: a chosen file replaces a pasted hash. */
  self->setting_hash_text = TRUE;
  gtk_editable_set_text (GTK_EDITABLE (self->hash_row), "");
  self->setting_hash_text = FALSE;

  if (metalink_or_sums != NULL)
    {
      self->reference_file = g_object_ref (metalink_or_sums);
      self->load_cancellable = g_cancellable_new ();
      atlas_verify_reference_load_async (metalink_or_sums, self->load_cancellable,
                                         reference_loaded_cb,
                                         page_job_new (self, self->load_cancellable));
    }
  update_controls (self);
}

static void
apply_hash_text (AtlasVerifyPage *self, const char *text)
{
  g_autofree char *stripped = g_strstrip (g_strdup (text != NULL ? text : ""));
  g_autoptr (GError) error = NULL;

  reset_verdict (self);
  /* Typing a hash replaces a chosen reference file; clearing the entry
   * leaves a chosen file alone. */
  if (*stripped == '\0')
    {
      if (self->reference_file == NULL)
        forget_reference (self);
      update_controls (self);
      return;
    }

  forget_reference (self);
  self->reference = atlas_verify_reference_new_from_text (stripped, &error);
  if (self->reference == NULL)
    set_reference_problem (self, g_strdup (error->message));
  update_controls (self);
}

static void
hash_changed_cb (GtkEditable *editable, AtlasVerifyPage *self)
{
  if (self->setting_hash_text)
    return;
  apply_hash_text (self, gtk_editable_get_text (editable));
}

void
atlas_verify_page_set_reference_text (AtlasVerifyPage *self, const char *hash_text)
{
  g_return_if_fail (ATLAS_IS_VERIFY_PAGE (self));

  self->setting_hash_text = TRUE;
  gtk_editable_set_text (GTK_EDITABLE (self->hash_row), hash_text != NULL ? hash_text : "");
  self->setting_hash_text = FALSE;
  apply_hash_text (self, hash_text);
}

static void
clear_reference_clicked_cb (GtkButton *button, AtlasVerifyPage *self)
{
  atlas_verify_page_set_reference_file (self, NULL);
}

/* ---- the file ----------------------------------------------------------- */

void
atlas_verify_page_set_file (AtlasVerifyPage *self, GFile *file)
{
  g_return_if_fail (ATLAS_IS_VERIFY_PAGE (self));
  g_return_if_fail (file == NULL || G_IS_FILE (file));

  reset_verdict (self);
  g_set_object (&self->file, file);

  if (file != NULL)
    {
      g_autofree char *name = g_file_get_basename (file);
      g_autoptr (GFile) parent = g_file_get_parent (file);
      g_autofree char *folder = parent != NULL ? g_file_get_parse_name (parent) : NULL;

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->file_row), name);
      adw_action_row_set_subtitle (self->file_row, folder != NULL ? folder : "");
    }
  else
    {
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->file_row), _ ("File"));
      adw_action_row_set_subtitle (self->file_row,
                                   _ ("Choose a file on this computer, or drop it here"));
    }
  update_controls (self);
}

static void
chooser_response_cb (GtkNativeDialog *native, int response, gpointer user_data)
{
  AtlasVerifyPage *self = ATLAS_VERIFY_PAGE (user_data);
  gboolean for_reference =
      GPOINTER_TO_INT (g_object_get_data (G_OBJECT (native), "atlas-for-reference"));

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));

      if (file != NULL && for_reference)
        atlas_verify_page_set_reference_file (self, file);
      else if (file != NULL)
        atlas_verify_page_set_file (self, file);
    }
  if (self->chooser == GTK_FILE_CHOOSER_NATIVE (native))
    g_clear_object (&self->chooser);
}

static void
open_chooser (AtlasVerifyPage *self, gboolean for_reference)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkFileChooserNative *native;

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);

  native = gtk_file_chooser_native_new (for_reference ? _ ("Choose a Metalink or Checksum File")
                                                      : _ ("Choose the File to Check"),
                                        GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                        GTK_FILE_CHOOSER_ACTION_OPEN, _ ("_Open"), _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  if (for_reference)
    {
      g_autoptr (GtkFileFilter) references = gtk_file_filter_new ();
      g_autoptr (GtkFileFilter) all = gtk_file_filter_new ();
      const char *patterns[] = { "*.meta4", "*.metalink", "*SUMS*", "*.sha256", "*.sha512",
                                 "*.sha1",  "*.md5",      "*sum",   "*sums",    "*.txt" };

      gtk_file_filter_set_name (references, _ ("Metalinks and checksum files"));
      for (gsize i = 0; i < G_N_ELEMENTS (patterns); i++)
        gtk_file_filter_add_pattern (references, patterns[i]);
      gtk_file_filter_set_name (all, _ ("All files"));
      gtk_file_filter_add_pattern (all, "*");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (native), references);
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (native), all);
    }
  g_object_set_data (G_OBJECT (native), "atlas-for-reference", GINT_TO_POINTER (for_reference));
  g_signal_connect_object (native, "response", G_CALLBACK (chooser_response_cb), self, 0);
  self->chooser = native;
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

static void
choose_file_clicked_cb (GtkButton *button, AtlasVerifyPage *self)
{
  open_chooser (self, FALSE);
}

static void
choose_reference_clicked_cb (GtkButton *button, AtlasVerifyPage *self)
{
  open_chooser (self, TRUE);
}

static gboolean
is_reference_name (GFile *file)
{
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *lower = g_ascii_strdown (name, -1);

  return g_str_has_suffix (lower, ".meta4") || g_str_has_suffix (lower, ".metalink")
         || strstr (name, "SUMS") != NULL || g_str_has_suffix (lower, ".sha256")
         || g_str_has_suffix (lower, ".sha512") || g_str_has_suffix (lower, ".md5");
}

/* One dropped file is the file to check. With several, one that is named
 * like a Metalink or checksum file becomes the reference, so dropping an
 * image together with its .meta4 sets up both at once. */
static gboolean
drop_cb (GtkDropTarget *target, const GValue *value, double x, double y, AtlasVerifyPage *self)
{
  GSList *files = NULL;
  GFile *reference = NULL;
  GFile *checked = NULL;
  guint n;

  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    files = gdk_file_list_get_files (g_value_get_boxed (value));
  else if (G_VALUE_HOLDS (value, G_TYPE_FILE))
    files = g_slist_prepend (NULL, g_value_get_object (value));

  n = g_slist_length (files);
  for (GSList *l = files; l != NULL; l = l->next)
    {
      if (n > 1 && reference == NULL && is_reference_name (l->data))
        reference = l->data;
      else if (checked == NULL)
        checked = l->data;
    }
  if (checked != NULL)
    atlas_verify_page_set_file (self, checked);
  if (reference != NULL)
    atlas_verify_page_set_reference_file (self, reference);
  g_slist_free (files);
  return checked != NULL || reference != NULL;
}

/* ---- the object --------------------------------------------------------- */

void
atlas_verify_page_set_session (AtlasVerifyPage *self, AtlasSession *session)
{
  g_return_if_fail (ATLAS_IS_VERIFY_PAGE (self));
  g_return_if_fail (session == NULL || ATLAS_IS_SESSION (session));

  if (!g_set_object (&self->session, session))
    return;
  update_repair_button (self);
  if (session != NULL && gtk_widget_get_visible (self->repair_button)
      && self->repair_download == NULL && self->repair_cancellable == NULL)
    gtk_widget_set_visible (GTK_WIDGET (self->repair_label), FALSE);
}

GtkWidget *
atlas_verify_page_new (void)
{
  return g_object_new (ATLAS_TYPE_VERIFY_PAGE, NULL);
}

static void
atlas_verify_page_dispose (GObject *object)
{
  AtlasVerifyPage *self = ATLAS_VERIFY_PAGE (object);

  if (self->verify_cancellable != NULL)
    g_cancellable_cancel (self->verify_cancellable);
  g_clear_object (&self->verify_cancellable);
  stop_following_repair (self);
  forget_reference (self);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  g_clear_object (&self->file);
  g_clear_object (&self->session);

  gtk_widget_dispose_template (GTK_WIDGET (self), ATLAS_TYPE_VERIFY_PAGE);

  G_OBJECT_CLASS (atlas_verify_page_parent_class)->dispose (object);
}

static void
atlas_verify_page_class_init (AtlasVerifyPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = atlas_verify_page_dispose;

  g_type_ensure (ATLAS_TYPE_SEGMENT_MAP);
  gtk_widget_class_set_template_from_resource (
      widget_class, "/org/downloadatlas/DownloadAtlas/atlas-verify-page.ui");
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, file_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, hash_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, reference_row);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, clear_reference_button);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, reference_error_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, verify_button);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, progress_box);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, progress_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, verdict_box);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, verdict_icon);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, verdict_title);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, verdict_details);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, bad_ranges_heading);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, bad_ranges_label);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, segment_map);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, repair_button);
  gtk_widget_class_bind_template_child (widget_class, AtlasVerifyPage, repair_label);
  gtk_widget_class_bind_template_callback (widget_class, choose_file_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, choose_reference_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, clear_reference_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, hash_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, verify_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, cancel_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, repair_clicked_cb);
}

static void
atlas_verify_page_init (AtlasVerifyPage *self)
{
  GType types[] = { GDK_TYPE_FILE_LIST, G_TYPE_FILE };
  GtkDropTarget *target;

  gtk_widget_init_template (GTK_WIDGET (self));

  target = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  gtk_drop_target_set_gtypes (target, types, G_N_ELEMENTS (types));
  g_signal_connect (target, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (target));

  update_controls (self);
}
