/* Running jobs off the MPI thread: the job runner of an engine (and of rank 0 when it
 * evaluates its own jobs, with one rank).
 *
 * The thread that calls MPI must stay responsive while a long job runs: an engine sends
 * heartbeats and takes rank 0's STOP, rank 0 ticks (signals, time limits, checkpoints,
 * liveness). So a batch expected to take long runs on a runner thread while the MPI thread
 * waits for it with a time-out; a batch expected to take less than BN__RUNNER_INLINE_SECONDS
 * runs inline, where a hand-off would cost more than the job (the thread is made on the
 * first hand-off, so a run of cheap jobs never has one). A runner whose batch is abandoned
 * (STOP, a drain time-out) is left running: nothing it uses may be freed, and the process
 * exits without closing the domain. */
#ifndef BANYAN_ENGINE_RUNNER_H
#define BANYAN_ENGINE_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banyan/engine.h"
#include "banyan/error.h"

/* Batches expected (from the measured job time) to take at most this long run inline. */
#define BN__RUNNER_INLINE_SECONDS 2e-3

typedef struct bn_runner bn_runner;

/* A runner without a thread yet (made on the first bn__runner_start). BN_ERR_NOMEM. */
BN_NODISCARD bn_err bn__runner_create(bn_runner **r);
/* Run fn(arg) on the runner's thread; the runner must be idle. BN_ERR_NOMEM / BN_ERR_IO if
 * the thread cannot be made (the caller may then run fn inline). */
BN_NODISCARD bn_err bn__runner_start(bn_runner *r, void (*fn)(void *), void *arg);
/* Wait up to `seconds` for the started work to end; true once it has (idle again). */
bool bn__runner_wait(bn_runner *r, double seconds);
bool bn__runner_busy(bn_runner *r);
/* Join and free an idle runner. A busy one is left running (its memory and whatever its
 * work uses are kept): returns false then. *r = NULL either way; accepts NULL. */
bool bn__runner_destroy(bn_runner **r);

/* Run the `count` jobs of a BATCH message `in` (records of job_rec bytes) and write a
 * RESULTS message to `out` (records of res_rec bytes), adding to *stats. Thread-safe. */
void bn__engine_run_batch(const bn_domain *domain, int retries, void *in, uint32_t count, size_t job_rec, void *out,
                          size_t res_rec, bn_engine_stats *stats);

#endif
