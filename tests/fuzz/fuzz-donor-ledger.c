/* fuzz-donor-ledger.c — the donation budget's ledger file: no crash, and
 * whatever the file says, the ledger never claims less was spent than it
 * reserved, and a damaged one counts the whole month as spent. */
#include "atlas-donor-ledger.h"

#include <stdint.h>

#define MONTH "2026-11"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  AtlasDonorLedger ledger = { 0 };
  gboolean intact = _atlas_donor_ledger_parse (&ledger, (const char *) data, size, MONTH);

  /* A ledger written while the clock was a month ahead keeps its month. */
  g_assert_true (g_strcmp0 (ledger.month, MONTH) == 0 || g_strcmp0 (ledger.month, "2026-12") == 0);
  g_assert_cmpuint (ledger.reserved, >=, _atlas_donor_ledger_used (&ledger));
  if (!intact)
    g_assert_cmpuint (_atlas_donor_ledger_used (&ledger), ==, G_MAXUINT64);
  _atlas_donor_ledger_clear (&ledger);
  return 0;
}
