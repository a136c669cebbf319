/* atlas-donor-ledger.h — what a donor spent of its monthly budget.
 *
 * Bytes uploaded to peers and fetched for the donation cache both count, per
 * calendar month in local time. The ledger lives in a small key file in the
 * cache directory, replaced atomically. So that a donor killed at any moment
 * never overspends after a restart, it spends only what the file already
 * reserves: the donor raises "reserved" on disk before it lets more bytes
 * through, and a restart counts every reserved byte it cannot account for as
 * spent ("unaccounted").
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  char *month; /* "YYYY-MM", local time */
  guint64 uploaded;
  guint64 fetched;
  guint64 unaccounted; /* reserved by an earlier run that ended without saying */
  guint64 reserved;    /* what the file allows this month; >= the sum of the above */
} AtlasDonorLedger;

/* "YYYY-MM" of now, local time. */
char *_atlas_donor_ledger_month_now (void);

void _atlas_donor_ledger_clear (AtlasDonorLedger *ledger);
/* uploaded + fetched + unaccounted. */
guint64 _atlas_donor_ledger_used (const AtlasDonorLedger *ledger);
/* Starts a fresh month if @month is not the ledger's, except the month just
 * before it (a wall clock set back keeps the spending). TRUE if it did. */
gboolean _atlas_donor_ledger_roll (AtlasDonorLedger *ledger, const char *month);

/* Reads @path (a missing file is an empty ledger of this month; a damaged
 * one is logged and counts as spent, see _atlas_donor_ledger_parse). Whatever
 * the file reserved beyond what it accounts for becomes unaccounted. Small
 * and done once, when the donor is made. */
gboolean _atlas_donor_ledger_load (AtlasDonorLedger *ledger, const char *path, GError **error);

/* Reads a ledger's text as of @month. A damaged ledger (not a key file, a
 * bad month, a count of this month missing or not a number) counts the whole
 * month's budget as spent and returns FALSE: it cannot prove what was spent,
 * and guessing low could overspend. Pure (no I/O, no logging), so it is
 * fuzzed (tests/fuzz/fuzz-donor-ledger.c). */
gboolean _atlas_donor_ledger_parse (AtlasDonorLedger *ledger, const char *data, gsize length,
                                    const char *month);

/* Writes a copy of @ledger to @path atomically, on a worker thread. */
void _atlas_donor_ledger_save_async (const AtlasDonorLedger *ledger, const char *path,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean _atlas_donor_ledger_save_finish (GAsyncResult *result, GError **error);

G_END_DECLS
