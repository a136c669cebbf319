/* atlas-worker-thread.c — scheduling of the engine's bulk worker threads. */
#include "atlas-worker-thread.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Nice 5 gives a thread about a third of the share a nice-0 thread gets when
 * they compete, enough for the main loop to answer within a frame. */
#define WORKER_NICENESS 5

void
atlas_worker_thread_lower_priority (void)
{
#ifdef __linux__
  /* On Linux, PRIO_PROCESS with a thread id sets that thread's nice value. */
  pid_t tid = (pid_t) syscall (SYS_gettid);
  int current;

  errno = 0;
  current = getpriority (PRIO_PROCESS, (id_t) tid);
  if (errno == 0 && current < WORKER_NICENESS)
    (void) setpriority (PRIO_PROCESS, (id_t) tid, WORKER_NICENESS);
#endif
}
