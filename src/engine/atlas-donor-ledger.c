/* atlas-donor-ledger.c — the monthly budget's ledger on disk. */
#include "atlas-donor-ledger.h"

#include "atlas-error.h"

#include <string.h>

#define GROUP "budget"

char *
_atlas_donor_ledger_month_now (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();

  return g_date_time_format (now, "%Y-%m");
}

void
_atlas_donor_ledger_clear (AtlasDonorLedger *ledger)
{
  g_clear_pointer (&ledger->month, g_free);
  ledger->uploaded = ledger->fetched = ledger->unaccounted = ledger->reserved = 0;
}

static guint64
add_saturating (guint64 a, guint64 b)
{
  return a > G_MAXUINT64 - b ? G_MAXUINT64 : a + b;
}

guint64
_atlas_donor_ledger_used (const AtlasDonorLedger *ledger)
{
  return add_saturating (add_saturating (ledger->uploaded, ledger->fetched), ledger->unaccounted);
}

static gboolean is_month (const char *text);

/* Months since year 0 of a "YYYY-MM", or -1. */
static int
month_number (const char *text)
{
  if (!is_month (text))
    return -1;
  return g_ascii_digit_value (text[0]) * 12000 + g_ascii_digit_value (text[1]) * 1200
         + g_ascii_digit_value (text[2]) * 120 + g_ascii_digit_value (text[3]) * 12
         + g_ascii_digit_value (text[5]) * 10 + g_ascii_digit_value (text[6]) - 1;
}

/* The wall clock set back into the month before the ledger's (by hand, a
 * wrong time server, a time zone change at a month's start): the ledger
 * keeps its month and its spending. Starting a month there would give the
 * budget again, and once more when the clock comes back. A clock further
 * back means the ledger's month was the mistake (a clock that ran ahead):
 * then a month starts, or the donor would stay out of budget for years. */
static gboolean
clock_set_back (const char *ledger_month, const char *month)
{
  int from = month_number (ledger_month);
  int to = month_number (month);

  return from >= 0 && to >= 0 && to == from - 1;
}

gboolean
_atlas_donor_ledger_roll (AtlasDonorLedger *ledger, const char *month)
{
  if (g_strcmp0 (ledger->month, month) == 0 || clock_set_back (ledger->month, month))
    return FALSE;
  _atlas_donor_ledger_clear (ledger);
  ledger->month = g_strdup (month);
  return TRUE;
}

/* A count of this month's ledger: decimal digits only. FALSE when it is
 * missing or anything else ("-5" would read as a huge number elsewhere). */
static gboolean
get_count (GKeyFile *file, const char *key, guint64 *value)
{
  g_autofree char *text = g_key_file_get_value (file, GROUP, key, NULL);

  return text != NULL && g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, value, NULL);
}

/* "YYYY-MM" with a month from 01 to 12, and nothing else: month arithmetic
 * (a clock set back one month) must not take "2025-24" for a month (found by
 * fuzz-donor-ledger). */
static gboolean
is_month (const char *text)
{
  return text != NULL && strlen (text) == 7 && g_ascii_isdigit (text[0])
         && g_ascii_isdigit (text[1]) && g_ascii_isdigit (text[2]) && g_ascii_isdigit (text[3])
         && text[4] == '-'
         && ((text[5] == '0' && text[6] >= '1' && text[6] <= '9')
             || (text[5] == '1' && text[6] >= '0' && text[6] <= '2'));
}

gboolean
_atlas_donor_ledger_parse (AtlasDonorLedger *ledger, const char *data, gsize length,
                           const char *month)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autofree char *stored_month = NULL;
  gboolean intact;
  guint64 used;

  _atlas_donor_ledger_roll (ledger, month);
  intact = g_key_file_load_from_data (file, data, length, G_KEY_FILE_NONE, NULL);
  if (intact)
    {
      stored_month = g_key_file_get_string (file, GROUP, "month", NULL);
      intact = is_month (stored_month);
    }
  /* Written while the clock was a month ahead of now: still this ledger. */
  if (intact && clock_set_back (stored_month, month))
    _atlas_donor_ledger_roll (ledger, stored_month);
  else if (intact && strcmp (stored_month, month) != 0)
    return TRUE; /* last month's spending does not count against this one */
  intact = intact && get_count (file, "uploaded", &ledger->uploaded)
           && get_count (file, "fetched", &ledger->fetched)
           && get_count (file, "unaccounted", &ledger->unaccounted)
           && get_count (file, "reserved", &ledger->reserved);
  if (!intact)
    {
      /* A damaged ledger cannot tell what this month spent; counting the
       * whole budget as spent never overspends, and next month starts
       * afresh. Resetting it to zero could spend the budget twice. */
      ledger->uploaded = ledger->fetched = 0;
      ledger->unaccounted = ledger->reserved = G_MAXUINT64;
      return FALSE;
    }
  used = _atlas_donor_ledger_used (ledger);
  if (ledger->reserved > used)
    ledger->unaccounted = add_saturating (ledger->unaccounted, ledger->reserved - used);
  ledger->reserved = MAX (ledger->reserved, _atlas_donor_ledger_used (ledger));
  return TRUE;
}

gboolean
_atlas_donor_ledger_load (AtlasDonorLedger *ledger, const char *path, GError **error)
{
  g_autofree char *month = _atlas_donor_ledger_month_now ();
  g_autofree char *data = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize length;

  _atlas_donor_ledger_roll (ledger, month);
  if (!g_file_get_contents (path, &data, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_IO, "cannot read the donation budget “%s”: %s",
                   path, local_error->message);
      return FALSE;
    }
  if (!_atlas_donor_ledger_parse (ledger, data, length, month))
    g_warning ("the donation budget “%s” is damaged: this month's budget counts as spent", path);
  return TRUE;
}

typedef struct
{
  char *path;
  char *contents;
} SaveJob;

static void
save_job_free (SaveJob *job)
{
  g_free (job->path);
  g_free (job->contents);
  g_free (job);
}

static void
save_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  SaveJob *job = data;
  g_autoptr (GError) error = NULL;

  /* g_file_set_contents writes a temporary file, syncs it and renames it
   * over the old one, so a crash leaves the old or the new ledger. */
  if (!g_file_set_contents_full (job->path, job->contents, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600,
                                 &error))
    g_task_return_new_error (task, ATLAS_ERROR, ATLAS_ERROR_IO,
                             "cannot write the donation budget “%s”: %s", job->path,
                             error->message);
  else
    g_task_return_boolean (task, TRUE);
}

void
_atlas_donor_ledger_save_async (const AtlasDonorLedger *ledger, const char *path,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  SaveJob *job = g_new0 (SaveJob, 1);

  job->path = g_strdup (path);
  job->contents = g_strdup_printf ("[" GROUP "]\n"
                                   "month=%s\n"
                                   "uploaded=%" G_GUINT64_FORMAT "\n"
                                   "fetched=%" G_GUINT64_FORMAT "\n"
                                   "unaccounted=%" G_GUINT64_FORMAT "\n"
                                   "reserved=%" G_GUINT64_FORMAT "\n",
                                   ledger->month, ledger->uploaded, ledger->fetched,
                                   ledger->unaccounted, ledger->reserved);
  g_task_set_source_tag (task, _atlas_donor_ledger_save_async);
  g_task_set_task_data (task, job, (GDestroyNotify) save_job_free);
  g_task_run_in_thread (task, save_thread);
}

gboolean
_atlas_donor_ledger_save_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
