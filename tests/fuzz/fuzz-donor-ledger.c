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

  g_assert_cmpstr (ledger.month, ==, MONTH);
  g_assert_cmpuint (ledger.reserved, >=, _atlas_donor_ledger_used (&ledger));
  if (!intact)
    g_assert_cmpuint (_atlas_donor_ledger_used (&ledger), ==, G_MAXUINT64);
  _atlas_donor_ledger_clear (&ledger);
  return 0;
}
