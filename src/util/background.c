/* Background threads of rank 0: below the search and the engines, off the search's cores.
 *
 * Priority. Compaction takes only cycles nobody else wants (SCHED_IDLE). The checkpoint
 * writer cannot: where other programs keep every core busy, an idle-only writer would
 * never run, the results buffer would fill and the search would stop (tried: a run beside
 * two `yes` stalled for half a minute). It runs at nice 10: a tenth of a core when others
 * want it, all of it when they do not.
 *
 * Placement. mpirun (and srun with --cpu-bind) binds each rank to its own core, and threads
 * inherit the binding, so the writer and the compaction shared rank 0's one core with the
 * search while an engine's core beside it had idle cycles (0.80 of the throughput without
 * checkpoints at 1 M results/s on two cores, against 0.92-0.96 off it). A background
 * thread therefore moves to the CPUs the job's other ranks on this node are bound to (their
 * union, gathered once at start-up by bn_search_share_cpus in search/job_cpus.c), never to
 * a CPU the launcher gave nobody in the job (Slurm's task/affinity binds without a cpuset).
 * Where that leaves none (one process, or ranks not bound), it stays where rank 0 is.
 * Rank 0's search is the one serial part of a run, so its cores stay its own. */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "banyan/log.h"
#include "util/background.h"

static void lower_priority(const char *what, bool idle_only) {
  const pid_t tid = (pid_t)syscall(SYS_gettid);
  if (idle_only) {
    const struct sched_param idle = {.sched_priority = 0};
    if (sched_setscheduler(tid, SCHED_IDLE, &idle) != 0 && setpriority(PRIO_PROCESS, (id_t)tid, 19) != 0)
      bn_debug("%s: cannot lower its priority", what);
    return;
  }
  if (setpriority(PRIO_PROCESS, (id_t)tid, 10) != 0) bn_debug("%s: cannot lower its priority", what);
}

/* The CPUs the job's ranks on this node are bound to (bn__background_job_cpus). */
static cpu_set_t job_cpus;
static bool job_cpus_known;

void bn__background_job_cpus(const cpu_set_t *cpus) {
  job_cpus = *cpus;
  job_cpus_known = true;
}

static void move_off_search_cpus(const char *what) {
  cpu_set_t bound, other;
  if (!job_cpus_known || sched_getaffinity(0, sizeof bound, &bound) != 0) return;
  CPU_XOR(&other, &job_cpus, &bound);
  CPU_AND(&other, &other, &job_cpus);
  /* The kernel also keeps any mask within the cpuset the process may use. */
  if (CPU_COUNT(&other) > 0 && sched_setaffinity(0, sizeof other, &other) != 0)
    bn_debug("%s: cannot move off the search's CPUs", what);
}

void bn__background_thread(const char *what, bool idle_only) {
  (void)pthread_setname_np(pthread_self(), what); /* shown by top -H, ps -L, gdb */
  lower_priority(what, idle_only);
  move_off_search_cpus(what);
}
