/* atlas-donation-alloc.h — which donor holds which pieces (the coordinator's
 * allocation; docs/donation.md gives the formula).
 *
 * Pure computation with no I/O, so the policy is tested directly and with a
 * simulated population. The caller (the tracker hub) describes the entries
 * donors may support, the demand and supply of every piece, and the donors
 * (storage, causes, what they hold now); atlas_donation_alloc_run() then
 * assigns pieces to donors:
 *  - the piece with the largest shortfall (demand minus copies) first, one
 *    copy at a time, so scarce pieces get copies before common ones get more;
 *  - to an eligible donor (the entry is among its causes, it has room, it
 *    does not hold the piece yet), preferring one that holds the piece
 *    already (no churn), else the one with the most free storage, so one
 *    donor's loss costs little; among donors that do not hold it, those
 *    with fewer causes come first (a donor allowed anywhere stays free for
 *    pieces only it may hold), most free storage breaking the tie;
 *  - never beyond a donor's storage, counted in whole pieces of each entry's
 *    piece length;
 *  - then augmenting paths (a piece moves from a full donor to one with
 *    room, so the full one can take a piece nobody else may hold) bring the
 *    result to the optimum when entries share one piece length; pieces a
 *    donor already holds are moved only while the result is more than 2 %
 *    below the optimum.
 * A piece never gets more donor copies than its shortfall.
 * atlas_donation_alloc_optimum() computes the best possible demand met
 * exactly (a maximum flow), for tests and the allocation benchmark; with
 * several piece lengths it is an upper bound (docs/donation.md).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _AtlasDonationAlloc AtlasDonationAlloc;

AtlasDonationAlloc *atlas_donation_alloc_new (void);
void atlas_donation_alloc_free (AtlasDonationAlloc *self);

/* An entry (a file) donors may be assigned pieces of; returns its index
 * (0, 1, ...). Every piece starts with demand 0 and supply 0. */
guint atlas_donation_alloc_add_entry (AtlasDonationAlloc *self, guint32 n_pieces,
                                      guint64 piece_length);

/* @demand: how many copies downloaders want (docs/donation.md, rounded up
 * to whole copies by the caller); @supply: copies held by peers that are not
 * donors. Whole numbers keep the exact optimum a plain integer maximum flow. */
void atlas_donation_alloc_set_piece (AtlasDonationAlloc *self, guint entry, guint32 piece,
                                     guint demand, guint supply);

/* A donor with @storage bytes; returns its index (0, 1, ...). A donor with
 * no allowed entries may take pieces of any entry ("wherever most needed"). */
guint atlas_donation_alloc_add_donor (AtlasDonationAlloc *self, guint64 storage);
void atlas_donation_alloc_donor_allow (AtlasDonationAlloc *self, guint donor, guint entry);
/* What the donor holds (or was assigned) now: kept when still useful. */
void atlas_donation_alloc_donor_holds (AtlasDonationAlloc *self, guint donor, guint entry,
                                       guint32 piece);

/* Computes the assignment; may be called again after changing the inputs. */
void atlas_donation_alloc_run (AtlasDonationAlloc *self);

/* The pieces of @entry assigned to @donor, as a bitfield (bit i, most
 * significant first, is piece i), or NULL if none. */
GBytes *atlas_donation_alloc_get_assignment (AtlasDonationAlloc *self, guint donor, guint entry);
/* Bytes assigned to @donor (whole pieces), never more than its storage. */
guint64 atlas_donation_alloc_get_assigned_bytes (AtlasDonationAlloc *self, guint donor);

/* Demand met by the last run: the sum over pieces of
 * min (demand, supply + donor copies) - min (demand, supply), i.e. what
 * donors add. */
guint64 atlas_donation_alloc_demand_met (AtlasDonationAlloc *self);
/* The largest demand met any assignment could reach with the same inputs
 * (exact: a maximum flow from donors to pieces). With entries of different
 * piece lengths a donor counts as holding storage / (its shortest eligible
 * piece length) pieces, so the result is an upper bound. */
guint64 atlas_donation_alloc_optimum (AtlasDonationAlloc *self);
/* The largest share of the demand met that depends on one donor (0 with no
 * donor copies): how much one donor's loss would cost. Exact: since no piece
 * has more donor copies than its shortfall, losing a donor loses all its
 * copies, so this is the largest donor's copies / all donor copies. */
double atlas_donation_alloc_worst_loss (AtlasDonationAlloc *self);

G_END_DECLS
