/* Private state of the rank-0 search driver, shared by the files of src/search. */
#ifndef BANYAN_SEARCH_IMPL_H
#define BANYAN_SEARCH_IMPL_H

#include <stdatomic.h>
#include <stdint.h>

#include "banyan/engine.h"
#include "banyan/search.h"
#include "banyan/tree.h"

/* A lock-free MPMC pool of free job slots (Concurrency Kit ring). */
typedef struct bn_slot_pool bn_slot_pool;
bn_err bn__slot_pool_create(bn_slot_pool **pool, uint32_t n_slots);
void bn__slot_pool_destroy(bn_slot_pool **pool);
bool bn__slot_pool_take(bn_slot_pool *pool, uint32_t *slot);
void bn__slot_pool_give(bn_slot_pool *pool, uint32_t slot);

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

typedef struct bn_search {
  const bn_config *cfg;
  const bn_domain *domain;
  bn_tree *tree;
  bn_dispatcher *disp;
  bn_outbox *outbox;
  bn_slot_pool *pool;
  bn_top_evals *top; /* best single evaluations */

  /* One record per slot: the job, its path through the tree, its state buffers. */
  uint32_t n_slots;
  int path_cap;
  bn_job *jobs;
  bn_path *paths;
  bn_edge_id *path_edges;  /* n_slots * path_cap */
  unsigned char *state_mem; /* 2 * n_slots * state_size */

  /* Parameters. */
  uint64_t budget;
  double max_seconds;
  uint64_t seed;
  int threads, grain;
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
/* Set the stop reason if none is set yet. */
void bn__search_set_stop(bn_search *s, bn_stop_reason r);
/* Jobs issued (claimed and not cancelled). */
uint64_t bn__search_issued(const bn_search *s);

/* progress.c: progress line (dispatcher thread). */
void bn__search_progress(bn_search *s, double now, int final);
/* report.c: the final table on stdout and the JSON summary. */
bn_err bn__search_report(bn_search *s, const bn_engine_stats *engines, const char *summary_path);

#endif
