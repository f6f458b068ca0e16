/* Jobs and the engines that run them.
 *
 * A job asks for one evaluation: a *reward* job evaluates exactly its state, a *simulate*
 * job first rolls out randomly from its state to a terminal, then evaluates that terminal.
 * On rank 0 the search keeps one bn_job record per job slot; the dispatcher (one thread,
 * the only one that calls MPI) sends jobs to engines in batches under credit-based load
 * balancing and writes the results back into the same records. Ranks >= 1 run
 * bn_engine_run: wait for a batch (the receive for the next one is always pre-posted), run
 * it, send the results, never burning a core while idle. With a single rank the
 * dispatcher runs jobs itself. */
#ifndef BANYAN_ENGINE_H
#define BANYAN_ENGINE_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "banyan/config.h"
#include "banyan/domain.h"
#include "banyan/error.h"

typedef enum bn_job_kind { BN_JOB_REWARD = 1, BN_JOB_SIMULATE = 2 } bn_job_kind;
typedef enum bn_job_status { BN_JOB_PENDING = 0, BN_JOB_OK = 1, BN_JOB_FAILED = 2 } bn_job_status;

/* Failure reasons. A failed job's reason is "KIND: DETAIL" (or KIND alone): KIND is a short
 * fixed phrase naming the cause, the same for every failure of that cause ("exit status",
 * "signal", "timeout", "unparsable output", "non-finite reward", "event cap", or a domain's
 * own), at most BN_FAILURE_KIND_LEN - 1 bytes, without digits, quotes or parentheses;
 * DETAIL holds this failure's values ("3", "11 (SIGSEGV)", "after 60 s"). Failures are
 * counted by kind; the results log keeps kind and detail in fields of their own. */
#define BN_FAILURE_KIND_LEN 24    /* a kind and its NUL */
#define BN_FAILURE_DETAIL_LEN 104 /* a detail and its NUL */
#define BN_JOB_REASON_LEN (BN_FAILURE_KIND_LEN + BN_FAILURE_DETAIL_LEN) /* "KIND: DETAIL" and its NUL */

/* The reason of a failure described by `text` (what a domain wrote to evaluate's `why`),
 * written to reason[n] (n >= BN_FAILURE_KIND_LEN): "KIND: DETAIL" where text is already of
 * that form (the part before the first ": " a valid kind); else the kind is the text up to
 * its first digit, quote, parenthesis or colon ("exit status 3": kind "exit status",
 * detail "3"), "error" when that is empty. Control characters become blanks; a detail
 * too long for n (or BN_FAILURE_DETAIL_LEN) is cut after a word and ends in "…", never in
 * the middle of a word or of a UTF-8 character, and a quoted detail keeps its closing
 * quote. Idempotent. Thread-safe. */
BN_API void bn_failure_reason(char *reason, size_t n, const char *text);
/* The kind and the detail of a reason (normalised with bn_failure_reason first, so any
 * text is accepted); detail is "" when there is none. Thread-safe. */
BN_API void bn_failure_split(const char *reason, char kind[BN_FAILURE_KIND_LEN], char detail[BN_FAILURE_DETAIL_LEN]);

/* Rank 0's record of one job. The search writes id/seed/kind/state and t_created; the
 * dispatcher writes engine/t_sent and, from the result, everything else. */
typedef struct bn_job {
  uint64_t id;   /* unique in the run (the iteration number) */
  uint64_t seed; /* drives the rollout and the evaluation */
  uint32_t sample; /* bn_eval_request.sample: times the state was selected before */
  uint16_t attempts; /* evaluations tried (1 + retries used) */
  uint8_t kind;  /* bn_job_kind */
  uint8_t status; /* bn_job_status */
  int32_t engine; /* rank that ran it (0: rank 0 itself) */
  double reward;
  double t_created, t_sent, t_started, t_finished, t_received; /* bn_wtime() seconds */
  char reason[BN_JOB_REASON_LEN]; /* why it failed, NUL-terminated */
  unsigned char *state;        /* state_size bytes: state evaluated or rollout start */
  unsigned char *result_state; /* state_size bytes: the terminal that was evaluated */
} bn_job;

/* Outcome of running one job on some rank. */
typedef struct bn_job_outcome {
  uint8_t status; /* BN_JOB_OK or BN_JOB_FAILED */
  uint16_t attempts; /* evaluations tried */
  double reward;
  double t_started, t_finished;
  char reason[BN_JOB_REASON_LEN];
} bn_job_outcome;

/* Run one job in this process: rollout (simulate) then evaluate; a domain error, a
 * rollout that does not terminate or a non-finite reward give status FAILED with a reason.
 * A failed evaluation is tried again up to `retries` more times (req->attempt counts up
 * from 1; the outcome's reason is the last attempt's). `terminal` receives the evaluated
 * state (state_size bytes). Thread-safe. */
BN_API void bn_job_execute(const bn_domain *domain, int kind, const bn_eval_request *req,
                           int retries, const void *state, void *terminal, bn_job_outcome *out);

typedef struct bn_engine_params {
  int depth;               /* jobs one engine may hold (engine.depth) */
  int batch;               /* jobs per message; 0 = adaptive (engine.batch) */
  int max_batch;           /* largest batch (engine.max_batch) */
  double message_overhead; /* seconds per message assumed by adaptive batching */
  double idle_sleep_max;   /* longest idle back-off sleep, seconds */
  int retries;             /* extra attempts of a failed evaluation (engine.retries) */
  double heartbeat_seconds; /* a busy engine says it is alive this often (0: never) */
  double lost_after;       /* rank 0: an engine holding jobs and silent this long is lost (0: never) */
  bn_pool_spec pools;      /* engine.pools (n = 0: one pool, every kind) */
  bool pool_rebalance;     /* engine.pool_rebalance */
  double pool_rebalance_seconds; /* engine.pool_rebalance_seconds */
} bn_engine_params;

/* Fill params from a finalized config. */
BN_API void bn_engine_params_from_config(const bn_config *cfg, bn_engine_params *p);

/* Statistics an engine reports when it stops. */
typedef struct bn_engine_stats {
  uint64_t jobs, failures, messages;
  double busy_seconds; /* inside jobs */
  double cpu_seconds;  /* process CPU time spent in the engine loop */
  double wall_seconds; /* from first wait to stop */
} bn_engine_stats;

/* The engine loop of ranks >= 1: runs batches from rank 0 of `comm` until told to stop,
 * then sends its statistics. Collective with rank 0's dispatcher. While a long batch runs
 * (on a thread of its own) it sends heartbeats every p->heartbeat_seconds; a STOP that
 * comes meanwhile leaves that batch running and sets *left_running (OUT, may be NULL): the
 * caller must then not close the domain, and should finalize MPI and exit at once. */
BN_API BN_NODISCARD bn_err bn_engine_run(const bn_domain *domain, const bn_engine_params *p,
                                         MPI_Comm comm, int *left_running);

/* --- rank 0 --------------------------------------------------------------------------- */

/* The outbox: slot ids of jobs ready to send. Many producers (search tasks), one consumer
 * (the dispatcher). Capacity fixed at creation (>= number of slots). */
typedef struct bn_outbox bn_outbox;
BN_API BN_NODISCARD bn_err bn_outbox_create(bn_outbox **box, uint32_t capacity);
BN_API void bn_outbox_destroy(bn_outbox **box);
/* Thread-safe; false only if full (a caller bug: capacity covers every slot). */
BN_API bool bn_outbox_push(bn_outbox *box, uint32_t slot);
/* Dispatcher thread only. */
BN_API bool bn_outbox_pop(bn_outbox *box, uint32_t *slot);
BN_API uint32_t bn_outbox_size(const bn_outbox *box);

typedef struct bn_dispatch_hooks {
  void *ctx;
  /* Results have been written into jobs[slots[0..n-1]] (status, reward, times, ...).
   * Called on the dispatcher thread; `slots` is valid only during the call. */
  void (*on_results)(void *ctx, const uint32_t *slots, size_t n);
  /* True when the search will issue nothing more and every issued job has been handled. */
  bool (*finished)(void *ctx);
  /* Called once per dispatcher pass (progress lines, time limits, signals). */
  void (*tick)(void *ctx);
  /* True to return at once even with jobs in flight (they stay pending for the caller; the
   * engines running them drop them when bn_dispatcher_shutdown sends STOP). */
  bool (*give_up)(void *ctx);
  /* True while no new job may be sent (stopping: what is in the outbox stays there).
   * Optional (NULL: never held). Then run returns once nothing is in flight and finished()
   * holds, whatever the outbox holds. */
  bool (*hold)(void *ctx);
} bn_dispatch_hooks;

typedef struct bn_dispatch_stats {
  int engines;             /* ranks running jobs (0: rank 0 runs them itself) */
  uint64_t sent, received, failures, messages_sent, messages_received;
  uint64_t in_flight;      /* jobs sent and not yet answered */
  double busy_seconds;     /* sum over engines of time spent inside jobs */
  double mean_batch;       /* jobs per message sent */
  uint32_t capacity;       /* jobs the engines can hold now (sum of effective depths; with
                              engine pools twice that, the rest waiting in the pools' queues) */
  int lost;                /* engines lost (silent for engine.lost_after, failed requests,
                              no answer to STOP): no work goes to them */
  uint64_t resent;         /* jobs of lost engines sent again to others */
  uint64_t late_messages;  /* results dropped: from lost engines, or after rank 0 gave up */
  uint64_t heartbeats;     /* heartbeats received */
  int pools;               /* engine pools (0: one pool, every kind) */
  uint64_t pool_moves;     /* engines moved between pools (engine.pool_rebalance) */
} bn_dispatch_stats;

typedef struct bn_dispatcher bn_dispatcher;

/* Create the dispatcher of rank 0 over `comm` (ranks >= 1 are engines). `jobs` (n_slots
 * records) and `outbox` are borrowed for the dispatcher's lifetime. */
BN_API BN_NODISCARD bn_err bn_dispatcher_create(bn_dispatcher **d, const bn_domain *domain,
                                                const bn_engine_params *p, MPI_Comm comm,
                                                bn_job *jobs, uint32_t n_slots, bn_outbox *outbox);
/* Largest number of jobs the engines could ever hold (sizing the search's slot table). */
BN_API uint32_t bn_dispatcher_max_capacity(const bn_engine_params *p, int engines);
/* Run until hooks->finished() holds and nothing is in flight (the outbox empty too, unless
 * held), or hooks->give_up() says so. Engines found lost meanwhile get no more work and
 * their jobs are sent again to the others (bn_dispatch_stats.lost). Only the thread that
 * initialised MPI may call this. */
BN_API BN_NODISCARD bn_err bn_dispatcher_run(bn_dispatcher *d, const bn_dispatch_hooks *hooks);
/* Tell every engine to stop and gather their statistics into per_engine[rank-1] (may be
 * NULL; left alone for engines that do not answer). Jobs may still be in flight: engines
 * drop them, and their late results are dropped here. Waits a bounded time (engines
 * answer within a poll; lost ones are not waited for). *all_answered (OUT, may be NULL):
 * every engine answered (none lost), so MPI_Finalize will not wait for a frozen rank (true
 * with no engines). Collective
 * with the engines' bn_engine_run. */
BN_API BN_NODISCARD bn_err bn_dispatcher_shutdown(bn_dispatcher *d, bn_engine_stats *per_engine,
                                                  bool *all_answered);
/* STOP to every engine of `comm` without a dispatcher (none was made, e.g. set-up failed
 * before), waiting a bounded time for their statistics. True if every one answered. */
BN_API bool bn_engines_stop(MPI_Comm comm, const bn_engine_params *p);
/* With no engines: the local runner is inside a job (abandoned if the run ends now). */
BN_API bool bn_dispatcher_job_running(const bn_dispatcher *d);
BN_API void bn_dispatcher_stats(const bn_dispatcher *d, bn_dispatch_stats *out);
/* Figures of engine `rank` (1..engines; 0 = rank 0 itself when there are no engines). */
BN_API void bn_dispatcher_engine_figures(const bn_dispatcher *d, int rank, uint64_t *jobs, uint64_t *failures,
                                         double *busy_seconds);
/* --- engine pools (engine.pools) ---
 * Each job kind goes only to the engines of its pool, each pool with its own queue and the
 * credits of its engines. With engine.pool_rebalance, an engine of a pool that has had an
 * idle engine and nothing queued for engine.pool_rebalance_seconds, while the other pool
 * had jobs waiting with every engine full for as long, moves (idle, holding nothing) to the
 * busy pool; a pool keeps at least one engine. A pool whose every engine is lost hands its
 * kinds to the other pool. Pools are named by their kind sets (bn_pool_spec). */
typedef struct bn_pool_figures {
  unsigned kinds;        /* its job kinds, as a bit set (BN_POOL_ALL: the single pool) */
  int engines;           /* engines in it now (lost ones not counted) */
  uint64_t jobs;         /* results its engines returned */
  double busy_seconds;   /* inside its jobs */
  double engine_seconds; /* engine time spent in the pool (each engine from the start or its move in) */
  uint64_t moves_in, moves_out;
} bn_pool_figures;
/* An engine's move from one pool to another. */
typedef struct bn_pool_move {
  double t;       /* bn_wtime() (Unix seconds) of the move: jobs it was sent before ran in `from` */
  int32_t rank;   /* the engine */
  uint8_t from, to; /* kind sets of the pools */
} bn_pool_move;
/* Figures of each pool into out[BN_POOLS_MAX]; returns the number of pools (0 without
 * engine.pools, or with no engines). Dispatcher thread (or after run). */
BN_API int bn_dispatcher_pools(const bn_dispatcher *d, bn_pool_figures *out);
/* The kind set of the pool engine `rank` is in now (BN_POOL_ALL without pools). */
BN_API unsigned bn_dispatcher_engine_pool(const bn_dispatcher *d, int rank);
/* The moves so far, oldest first; borrowed until the next dispatcher pass or destroy. */
BN_API const bn_pool_move *bn_dispatcher_pool_moves(const bn_dispatcher *d, size_t *n);
BN_API void bn_dispatcher_destroy(bn_dispatcher **d);

#endif
