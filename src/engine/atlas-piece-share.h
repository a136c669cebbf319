/* atlas-piece-share.h — which pieces this downloader fetches from mirrors for
 * its swarm.
 *
 * Downloaders of one file that start together would otherwise ask the origin
 * for the same pieces before any of them can announce it has them, and the
 * origin sends the file several times over. Each piece gets one owner among
 * the downloaders a client knows of: the member with the highest score
 * mix(hash(member id), piece) (rendezvous hashing). Every client computes
 * the same owners from the same member list, without talking to the others,
 * and when a member joins or leaves only its own pieces change hands.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A bitfield (bit i, most significant first, is piece i; the peer wire's
 * layout) of the pieces @own_id owns among @own_id and @others (ids of
 * incomplete downloaders of the same file; @own_id among them is ignored). */
GBytes *atlas_piece_share_compute (guint n_pieces, const char *own_id, const char *const *others);

G_END_DECLS
