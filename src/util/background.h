/* Threads that do background work for rank 0 (the checkpoint writer, segment compaction):
 * how they step aside for the search and the engines, and where they run. */
#ifndef BANYAN_UTIL_BACKGROUND_H
#define BANYAN_UTIL_BACKGROUND_H

#include <stdbool.h>

/* Called first thing by a background thread. `idle_only`: it runs on idle cycles only
 * (SCHED_IDLE, else nice 19); otherwise at nice 10. Either way it
 * moves to the job's CPUs other than those the launcher bound rank 0 to (all of them if
 * that leaves none). `what` names the thread in the debug log when the kernel refuses. */
void bn__background_thread(const char *what, bool idle_only);

#endif
