/* Wall-clock and CPU time helpers (seconds as double). */
#ifndef BANYAN_CLOCK_H
#define BANYAN_CLOCK_H

#include "banyan/error.h"

/* Seconds since the Unix epoch (CLOCK_REALTIME): comparable across ranks on one node. */
BN_API double bn_wtime(void);
/* Monotonic seconds from an arbitrary origin: for intervals within one process. */
BN_API double bn_mtime(void);
/* CPU seconds (user + system) used by this process so far. */
BN_API double bn_cpu_seconds(void);
/* Sleep for `seconds` (>= 0) against a monotonic deadline; signals do not shorten it. */
BN_API void bn_sleep(double seconds);
/* Busy-wait for `seconds` of wall time (used by cost models that must burn a core). */
BN_API void bn_spin(double seconds);

#endif
