/* Threads that do background work for rank 0 (the checkpoint writer, segment compaction):
 * how they step aside for the search and the engines, and where they run. */
#ifndef BANYAN_UTIL_BACKGROUND_H
#define BANYAN_UTIL_BACKGROUND_H

#include <sched.h>
#include <stdbool.h>

/* The CPUs the job's ranks on this node are bound to (the union of their masks), set once
 * on rank 0 before any background thread starts. Unset, background threads stay on rank
 * 0's CPUs. */
void bn__background_job_cpus(const cpu_set_t *cpus);

/* Called first thing by a background thread. `idle_only`: it runs on idle cycles only
 * (SCHED_IDLE, else nice 19); otherwise at nice 10. Either way it moves to the job's CPUs
 * (above) other than rank 0's own, and stays on rank 0's if that leaves none. `what` names
 * the thread (at most 15 characters: top -H and ps -L show it) and the debug log's line
 * when the kernel refuses. */
void bn__background_thread(const char *what, bool idle_only);

#endif
