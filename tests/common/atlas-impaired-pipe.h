/* atlas-impaired-pipe.h — two AtlasDatagramPath ends joined in process by a
 * link that delays, drops, reorders and rate-limits, driven by GLib timers on
 * the thread-default main context. This kernel has no netem, so QUIC tests
 * and benchmarks make their bad networks here.
 *
 * Loss and reordering decisions come from a GRand seeded per direction, so a
 * run with the same seed makes the same decisions for the same traffic.
 */
#pragma once

#include "atlas-datagram-path.h"

G_BEGIN_DECLS

typedef struct
{
  guint delay_ms;                /* one-way delay */
  guint jitter_ms;               /* plus 0..jitter_ms, uniformly */
  double loss;                   /* 0..1, probability a datagram vanishes */
  double reorder;                /* 0..1, probability a datagram is held back */
  guint64 rate_bytes_per_second; /* 0 = unlimited */
  gsize queue_limit_bytes;       /* bottleneck queue (rate-limited only); 0 = unlimited */
} AtlasImpairment;

#define ATLAS_TYPE_IMPAIRED_PIPE (atlas_impaired_pipe_get_type ())
G_DECLARE_FINAL_TYPE (AtlasImpairedPipe, atlas_impaired_pipe, ATLAS, IMPAIRED_PIPE, GObject)

/* Makes the pipe and its two ends (both returned with a reference). NULL
 * impairments mean a perfect direction. */
AtlasImpairedPipe *atlas_impaired_pipe_new (guint32 seed, const AtlasImpairment *a_to_b,
                                            const AtlasImpairment *b_to_a,
                                            AtlasDatagramPath **end_a, AtlasDatagramPath **end_b);

/* Cuts the link both ways (everything sent, and in flight, is lost) or
 * restores it. */
void atlas_impaired_pipe_set_cut (AtlasImpairedPipe *self, gboolean cut);

/* Delivers @data to end B (@to_b) or A as if it came over the link, without
 * impairment: for injecting garbage. */
void atlas_impaired_pipe_inject (AtlasImpairedPipe *self, gboolean to_b, const guint8 *data,
                                 gsize length);

/* The largest datagram the ends accept (default 1452). */
void atlas_impaired_pipe_set_max_datagram_size (AtlasImpairedPipe *self, gsize size);

/* Datagrams dropped (loss, queue, cut) and delivered in one direction. */
guint64 atlas_impaired_pipe_get_dropped (AtlasImpairedPipe *self, gboolean a_to_b);
guint64 atlas_impaired_pipe_get_delivered (AtlasImpairedPipe *self, gboolean a_to_b);

G_END_DECLS
