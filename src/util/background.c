/* Background threads of rank 0: lower priority, and free to run on any CPU of the job.
 *
 * mpirun (and srun with --cpu-bind) binds each rank to its own core, and threads inherit
 * that binding. The checkpoint writer and the compaction would then share rank 0's one core
 * with the search, which they slow down, while an engine's core beside it may sit idle half
 * the time. So a background thread widens its own CPU mask to every CPU: the kernel keeps it
 * within the job's cpuset (Slurm's task/cgroup, a container's limits), and its scheduler
 * moves the thread to whichever allowed core has idle cycles. The lowered priority keeps it
 * behind the search and the engines on any core it lands on. */
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "banyan/log.h"
#include "util/background.h"

static void widen_cpus(const char *what) {
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int c = 0; c < CPU_SETSIZE; c++) CPU_SET(c, &all);
  /* The kernel intersects the mask with the cpuset the process may use. */
  if (sched_setaffinity(0, sizeof all, &all) != 0) bn_debug("%s: cannot widen its CPU mask", what);
}

void bn__background_thread(const char *what, bool idle_only) {
  const pid_t tid = (pid_t)syscall(SYS_gettid);
  if (idle_only) {
    const struct sched_param idle = {.sched_priority = 0};
    if (sched_setscheduler(tid, SCHED_IDLE, &idle) != 0 && setpriority(PRIO_PROCESS, (id_t)tid, 19) != 0)
      bn_debug("%s: cannot lower its priority", what);
  } else if (setpriority(PRIO_PROCESS, (id_t)tid, 10) != 0) {
    bn_debug("%s: cannot lower its priority", what);
  }
  widen_cpus(what);
}
