/* Private state of the rank-0 search driver, shared by the files of src/search. */
#ifndef BANYAN_SEARCH_IMPL_H
#define BANYAN_SEARCH_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "banyan/checkpoint.h"
#include "banyan/engine.h"
#include "banyan/search.h"
#include "banyan/tree.h"

/* A lock-free MPMC pool of free job slots (Concurrency Kit ring). */
typedef struct bn_slot_pool bn_slot_pool;
bn_err bn__slot_pool_create(bn_slot_pool **pool, uint32_t n_slots);
/* Only one thread will take and give slots from now on (search.threads = 1): cheaper. */
void bn__slot_pool_one_thread(bn_slot_pool *pool);
void bn__slot_pool_destroy(bn_slot_pool **pool);
bool bn__slot_pool_take(bn_slot_pool *pool, uint32_t *slot);
void bn__slot_pool_give(bn_slot_pool *pool, uint32_t slot);

/* The search threads of rank 0 (crew.c): the caller of bn__crew_run dispatches, `workers`
 * OpenMP threads run the work it submits and sleep (no spinning) while there is none. With
 * 0 workers there is no team and submitted work runs at once in the caller. */
typedef struct bn_crew bn_crew;
bn_err bn__crew_create(bn_crew **c, int workers);
void bn__crew_destroy(bn_crew **c);
/* Run main_fn(ctx) on this thread while the workers serve; returns its result once every
 * submitted item has run and the workers have left. */
bn_err bn__crew_run(bn_crew *c, bn_err (*main_fn)(void *), void *ctx);
/* Queue fn(arg) for a worker (inline without workers). Called by the dispatcher thread. */
void bn__crew_submit(bn_crew *c, void (*fn)(void *), void *arg);
/* Until every submitted item has run (the caller runs queued items meanwhile): the search
 * is quiescent after it, as after an OpenMP taskwait. */
void bn__crew_wait(bn_crew *c);
/* Items submitted, and how many of them had to wake a sleeping worker. */
void bn__crew_figures(bn_crew *c, uint64_t *submitted, uint64_t *wakeups);

/* The best single evaluations (top_evaluations.c). Thread-safe. */
typedef struct bn_top_eval {
  double reward;
  uint64_t job_id;
  const unsigned char *state; /* borrowed from the list; valid while nothing is offered */
} bn_top_eval;
typedef struct bn_top_evals bn_top_evals;
bn_err bn__top_evals_create(bn_top_evals **t, size_t k, size_t state_size);
void bn__top_evals_destroy(bn_top_evals **t);
void bn__top_evals_offer(bn_top_evals *t, const void *state, double reward, uint64_t job_id);
/* Copy up to max entries, best first; states point into the list. */
size_t bn__top_evals_get(bn_top_evals *t, bn_top_eval *out, size_t max);

/* The results buffer: rows from their application until they are in a segment on disk
 * (results_log.c). Row numbers are those of the run (a resumed session continues them). */
typedef struct bn_results_log bn_results_log;
/* keep = 0: rows are only counted. one_appender: a single thread ever appends (cheaper
 * appends). buffer_bytes sizes the chunks and the ring; extra_rows: how many rows tasks may
 * append beyond twice the buffer while the search waits. */
bn_err bn__results_log_create(bn_results_log **log, size_t state_size, int keep, bool one_appender,
                              size_t buffer_bytes, uint64_t extra_rows);
void bn__results_log_destroy(bn_results_log **log);
/* Thread-safe unless created with one_appender. BN_ERR_NOMEM, or BN_ERR_FULL if the ring is full of rows not on disk. */
bn_err bn__results_log_append(bn_results_log *log, const bn_result_row *row, const void *state);
/* Writer thread, when idle: map one more spare chunk and touch its pages, so that appends
 * do not fault memory in; true while the buffer's size is not mapped yet. */
bool bn__results_log_prefault(bn_results_log *log);
uint64_t bn__results_log_size(const bn_results_log *log);
/* Rows in memory (appended, not yet durable). */
uint64_t bn__results_log_buffered(const bn_results_log *log);
/* The end of the complete whole chunks from row `from` on (at least `from`): rows below it
 * may be written to a segment while tasks go on appending. */
uint64_t bn__results_log_complete(const bn_results_log *log, uint64_t from);
/* Rows below `upto` are on disk: free their chunks (writer thread). */
void bn__results_log_release(bn_results_log *log, uint64_t upto);
/* A resumed session: rows 0 .. rows - 1 are in segments already. */
void bn__results_log_restart_at(bn_results_log *log, uint64_t rows);
/* The rows as a segment source (valid for rows not yet released; a row given is valid until
 * the calling thread asks for the next). */
bn_result_source bn__results_log_source(const bn_results_log *log);
/* Bytes of memory a buffered row takes (its failure text aside: 128 bytes more for each row
 * of a chunk in which a row failed). */
size_t bn__results_log_row_bytes(size_t state_size);

/* The background checkpoint writer (checkpointing.c). */
typedef struct bn_ckpt_writer bn_ckpt_writer;

typedef struct bn_search {
  const bn_config *cfg;
  const bn_domain *domain;
  bn_tree *tree;
  bn_dispatcher *disp;
  bn_outbox *outbox;
  bn_slot_pool *pool;
  bn_crew *crew;     /* search threads */
  /* A replicate of a campaign (campaign.c): jobs, outbox, dispatcher and crew belong to the
   * campaign; this search's slot k is the campaign's slot slot_base + k (the one the
   * outbox and the dispatcher see), and its window is its share of the engines' capacity
   * (capacity / share, rounded up). A lone search: slot_base 0, share 1, shared 0. */
  int shared;
  uint32_t slot_base, share;
  bn_top_evals *top; /* best single evaluations */

  /* One record per slot: the job, its path through the tree, its state buffers. */
  uint32_t n_slots;
  int path_cap;
  bn_job *jobs;
  bn_path *paths;
  bn_edge_id *path_edges;  /* n_slots * path_cap */
  unsigned char *state_mem; /* 2 * n_slots * state_size */

  /* Persistence. */
  bn_results_log *log;
  _Atomic uint8_t *slot_busy;   /* [n_slots]: an issued iteration not yet applied */
  const char *ckpt_path;        /* NULL: no checkpoints */
  bn_ckpt_writer *writer;
  double ckpt_every_seconds, next_ckpt_time, drain_seconds, drain_deadline;
  double ckpt_max_share;        /* writing may take at most this share of the run's time */
  double ckpt_cost;             /* seconds the last checkpoint cost (snapshot + write) */
  uint64_t ckpt_every_evals, next_ckpt_evals;
  uint64_t buffer_rows;         /* rows in memory before a segment is written early */
  uint64_t segment_requested;   /* rows handed to the writer for segments so far */
  const char *resume_path;      /* the checkpoint resumed (its segments), or NULL */
  const bn_snapshot *resume_snap; /* its segment table (until the writer has taken it) */
  bn_failure_tally failures_by_reason; /* guarded by failures_mu */
  pthread_mutex_t failures_mu;
  uint64_t run_id;
  int signal_checkpointed;      /* the checkpoint taken on a stop signal is on its way */
  int signalled;                /* a stop signal was honoured (in any phase) */
  int draining;                 /* stopped short of the budget (or signalled): waiting at most
                                   until drain_deadline for the jobs in flight */
  int abandoned;                /* gave up waiting for jobs in flight */
  uint64_t checkpoints;         /* written so far, earlier sessions included */
  bn_checkpoint_row *history;
  size_t n_history;
  double created, elapsed_before; /* run start (Unix) and search seconds of earlier sessions */
  uint64_t completed_at_start;    /* results applied before this session */
  bn_engine_row *engines_before;  /* per-rank figures of earlier sessions */
  size_t n_engines_before;
  bn_pool_move_row *moves_before; /* engines moved between pools in earlier sessions */
  size_t n_moves_before;

  /* Statistics timeline (dispatcher thread). */
  bn_timeline_row *timeline;
  size_t n_timeline, cap_timeline;
  double timeline_seconds, next_timeline, timeline_busy, timeline_t;
  double timeline_pool_busy[2], timeline_pool_engine[2]; /* per pool (reward, simulate) at the last row */

  /* Deterministic mode (sequencer.c): iteration i is selected after exactly the results of
   * iterations < i - W are applied, in order; slot of iteration i = i % (W + 1). */
  int deterministic;
  uint32_t det_window;
  _Atomic uint64_t applied_upto;  /* results of iterations below this are applied */
  _Atomic uint8_t *slot_done;     /* [n_slots]: the slot's result has arrived */
  _Atomic int seq_running;

  /* Parameters. */
  uint64_t budget;
  double max_seconds;
  uint64_t seed;
  int threads, grain;
  uint32_t to_issue;               /* threads = 1: iterations of the window not issued yet */
  double progress_seconds;
  uint64_t best_min_visits;
  int quiet;

  /* Counters shared by tasks and the dispatcher thread. */
  _Atomic uint64_t next_iteration; /* iteration numbers claimed */
  _Atomic uint64_t cancelled;      /* claimed but never issued */
  _Atomic uint64_t completed;      /* results applied (ok or failed) */
  _Atomic uint64_t failures;        /* the first few are logged with their reason */
  _Atomic uint32_t window;         /* iterations allowed in flight now */
  _Atomic int stop;                /* bn_stop_reason, first one wins */
  _Atomic int error;               /* first bn_err from a task */

  /* Dispatcher-thread-only state. */
  double t_start, t_end, next_progress;
  uint64_t last_completed;
  double last_progress_t;
} bn_search;

/* iterate.c: issue up to `n` new iterations (fewer if the window, slots or budget say
 * so). Runs inside tasks. Thread-safe. */
void bn__search_issue(bn_search *s, uint32_t n);
/* iterate.c: apply the results in `slots` to the tree and refill. Runs inside a task. */
void bn__search_apply(bn_search *s, const uint32_t *slots, size_t n);
/* iterate.c: select iteration `it` into the path of `slot`; false (stop reason set) when
 * the space is exhausted, the graph is full or selection failed. */
bool bn__search_select(bn_search *s, uint64_t it, uint32_t slot);
/* Record the first error of a task and stop the run. */
void bn__search_fail(bn_search *s, bn_err e);
/* Set the stop reason if none is set yet. */
void bn__search_set_stop(bn_search *s, bn_stop_reason r);
/* Jobs issued (claimed and not cancelled). */
uint64_t bn__search_issued(const bn_search *s);

/* iterate.c: fill slot `slot` with a job for iteration `it` along `path` (selected already),
 * mark it busy and queue it. False (stop set) if the outbox refused it. */
bool bn__search_queue_job(bn_search *s, uint32_t slot, uint64_t it, bool terminal);
/* iterate.c: apply one finished slot (backprop or abandon, results log, free the slot's
 * busy mark). Does not count it as completed nor free the slot. */
void bn__search_apply_one(bn_search *s, uint32_t slot);

/* sequencer.c: deterministic mode. on_results marks slots done and kicks the sequencer. */
void bn__sequencer_results(bn_search *s, const uint32_t *slots, size_t n);
void bn__sequencer_kick(bn_search *s);
/* The stop ends the run for good (budget, exhausted): every result gets applied. */
bool bn__sequencer_final(const bn_search *s);
/* Stopped and nothing more may be applied now (what is left stays pending). */
bool bn__sequencer_done(const bn_search *s);

/* checkpointing.c (dispatcher thread unless said otherwise). */
bn_err bn__ckpt_start(bn_search *s);
void bn__ckpt_stop(bn_search *s);
/* Quiesce (taskwait), copy the state into a snapshot and hand it to the writer thread; with
 * `wait`, block until it is on disk. Skipped (BN_OK) if a write is still running and not
 * `wait`. */
bn_err bn__ckpt_now(bn_search *s, bool wait);
/* Triggers: periodic, every N results, on a stop signal; and segments written early when
 * the results buffer fills (waiting for the disk when it holds twice its size). */
bn_err bn__ckpt_tick(bn_search *s, double now);
/* The first error of the writer thread (BN_OK if none). */
bn_err bn__ckpt_error(bn_search *s);

/* stats.c: timeline rows and per-engine rows (dispatcher thread). */
void bn__stats_tick(bn_search *s, double now, int force);
/* Per-engine rows for a snapshot: earlier sessions plus this one. Caller frees. */
bn_engine_row *bn__stats_engine_rows(bn_search *s, size_t *n);
/* stats.c: the moves between engine pools of earlier sessions and this one, oldest first;
 * caller frees. NULL when out of memory. */
bn_pool_move_row *bn__stats_pool_moves(bn_search *s, size_t *n);
/* stats.c: a resumed session's engines start in the pools engine.pools gives them; one
 * whose last recorded pool differs gets a move at the start. */
BN_NODISCARD bn_err bn__stats_session_pools(bn_search *s);

/* driver.c: the graph's parameters from the configuration. */
void bn__search_tree_params(const bn_config *cfg, bn_tree_params *tp);

/* resume.c: restore counters, results, statistics and pending iterations of a snapshot
 * into a search whose tree was imported from it. */
bn_err bn__search_restore(bn_search *s, const bn_snapshot *snap);

/* driver.c, for campaign.c: the pieces of bn_search_run. set up a search's parameters,
 * graph and slot count (`cap`: the engines' capacity, `engines` their number); with
 * `jobs`, its slot records are jobs[0 .. n_slots - 1] of the campaign's array (NULL: its
 * own); then its buffers, and (once the outbox and dispatcher are in place) its restore. */
/* The engine parameters of cfg, the number of engines in comm and the most jobs they can
 * hold. */
bn_err bn__search_engines(const bn_config *cfg, MPI_Comm comm, bn_engine_params *ep, int *engines, uint32_t *cap);
bn_err bn__search_setup_params(bn_search *s, const bn_config *cfg, const bn_domain *domain, int engines, uint32_t cap,
                               const bn_search_options *opt);
bn_err bn__search_setup_slots(bn_search *s, bn_job *jobs);
bn_err bn__search_setup_restore(bn_search *s, const bn_search_options *opt);
void bn__search_teardown(bn_search *s);
/* Dispatcher hooks of one search (ctx: the bn_search), and its start. */
void bn__search_on_results(void *ctx, const uint32_t *slots, size_t n);
bool bn__search_finished(void *ctx);
void bn__search_tick(void *ctx);
bool bn__search_give_up(void *ctx);
bool bn__search_hold(void *ctx);
void bn__search_start(bn_search *s);
/* The automatic window from the engines' capacity. */
uint32_t bn__search_automatic_window(uint32_t cap, int engines, int threads, int grain);
/* Whether the search will end short of its budget (signal, time, error, engines lost). */
bool bn__search_stopping_short(const bn_search *s);
/* Start the clocks of a search that begins now (progress, checkpoints, statistics). */
void bn__search_begin(bn_search *s, double now);
/* Every issued iteration has been applied. */
bool bn__search_balanced(const bn_search *s);
/* Catch SIGINT/SIGTERM/SIGUSR1 as a stop request for every search of this process. */
void bn__search_catch_signals(void);
/* Stop the engines after a failure (through `disp`, or without one): true if all answered. */
bool bn__search_stop_engines(bn_dispatcher *disp, MPI_Comm comm, const bn_config *cfg);
/* Why the search stopped, once it has: its stop reason, or BN_STOP_SIGNAL when a signal
 * came during the last jobs of a spent budget and left some pending (dispatcher thread). */
bn_stop_reason bn__search_reason(const bn_search *s);
/* The outcome of a search after its run (counters, reason). */
void bn__search_outcome(const bn_search *s, bn_search_outcome *o);

/* progress.c: progress line (dispatcher thread). */
/* The best state in words ("0.9123 *ABC::... (n=42)", or "-"): the best mean of the graph,
 * else the best single evaluation; its value in *mean (may be NULL). False if none. */
bool bn__search_best_text(bn_search *s, char *buf, size_t n, double *mean);
void bn__search_progress(bn_search *s, double now, int final);
/* report.c: the final table on stdout and the JSON summary. */
bn_err bn__search_report(bn_search *s, const bn_engine_stats *engines, const char *summary_path);
/* With engine pools, a line per pool (engines, jobs, utilization) on stdout. */
void bn__search_print_pools(const bn_dispatcher *disp, const bn_dispatch_stats *ds);
/* Write str as a JSON string literal. */
void bn__json_string(FILE *f, const char *str);

#endif
