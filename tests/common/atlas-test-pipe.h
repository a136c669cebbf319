/* atlas-test-pipe.h — an in-memory stream between two peer sessions, for
 * engine tests that need peers without ICE or QUIC. Bytes are delivered from
 * an idle callback, through a bounded buffer, so backpressure is exercised
 * as with QUIC. */
#pragma once

#include "atlas-peer-session.h"

G_BEGIN_DECLS

typedef struct _TestPipeEnd TestPipeEnd;

struct _TestPipeEnd
{
  AtlasPeerSession *session; /* the session that writes into this end */
  TestPipeEnd *other;
  GByteArray *in_flight; /* written here, not yet delivered to other->session */
  guint deliver_id;
  gboolean closed;
};

/* Links @a and @b through @ends (zero-initialised, kept alive by the caller
 * until test_pipe_clear). */
void test_pipe_connect (AtlasPeerSession *a, AtlasPeerSession *b, TestPipeEnd ends[2]);
void test_pipe_clear (TestPipeEnd ends[2]);

G_END_DECLS
