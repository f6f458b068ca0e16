/* Background threads of rank 0: lower priority, and free to run on any CPU of the job.
 *
 * mpirun (and srun with --cpu-bind) binds each rank to its own core, and threads inherit
 * that binding. The checkpoint writer and the compaction would then share rank 0's one core
 * with the search, which they slow down, while an engine's core beside it may sit idle half
 * the time. So a background thread moves to the job's CPUs that rank 0 was not bound to
 * (the kernel keeps any mask within the job's cpuset: Slurm's task/cgroup, a container's
 * limits), where the scheduler gives it the engines' idle cycles; a rank 0 bound to no CPU
 * in particular (or to all of them) leaves it on all of them. The lowered priority keeps it
 * behind the engines on any core it lands on. Rank 0's search is the one serial part of a
 * run, so its cores are kept for it. */
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "banyan/log.h"
#include "util/background.h"

/* Move the calling thread to the CPUs of the job that rank 0 was not bound to, or to all of
 * them when rank 0 was bound to none in particular (or to every one). */
static void move_off_search_cpus(const char *what) {
  cpu_set_t bound, allowed, other;
  if (sched_getaffinity(0, sizeof bound, &bound) != 0) return;
  CPU_ZERO(&allowed);
  for (int c = 0; c < CPU_SETSIZE; c++) CPU_SET(c, &allowed);
  /* The kernel intersects the mask with the cpuset the process may use. */
  if (sched_setaffinity(0, sizeof allowed, &allowed) != 0 || sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    bn_debug("%s: cannot widen its CPU mask", what);
    return;
  }
  CPU_XOR(&other, &allowed, &bound);
  CPU_AND(&other, &other, &allowed);
  if (CPU_COUNT(&other) > 0 && sched_setaffinity(0, sizeof other, &other) != 0)
    bn_debug("%s: cannot move off the search's CPUs", what);
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
  move_off_search_cpus(what);
}
