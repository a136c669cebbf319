/* atlas-worker-thread.h — how the engine's bulk worker threads behave. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Called first thing on a thread that hashes or writes in bulk: lowers its
 * scheduling priority (a per-thread nice on Linux) so that, when every core
 * is busy with a download, the thread running the main loop (the app's
 * window, libcurl's sockets) still gets the CPU when it needs it. Throughput
 * is unchanged whenever a core is free. */
void atlas_worker_thread_lower_priority (void);

/* On a GLib pool thread (a GTask's thread) the lower priority stays after
 * the task: raising it back needs a privilege users lack (RLIMIT_NICE). That
 * is harmless, as the pool only ever runs background work; it is noted here
 * so nobody expects otherwise. */

G_END_DECLS
