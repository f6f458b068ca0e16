/* One iteration of the search (select -> expand -> job to the outbox) and the application
 * of results (backprop, or removal of in-flight marks for a failed job; one row in the
 * results log either way), in free mode: results are applied as they arrive and each
 * applied result lets a new iteration start. Both run inside OpenMP tasks on rank 0's
 * search threads; neither calls MPI. Errors never leave a task by return: they are stored
 * in the search record and stop the run. Deterministic mode orders the same pieces
 * differently (sequencer.c). */
#include <string.h>

#include "banyan/clock.h"
#include "banyan/log.h"
#include "banyan/rng.h"
#include "search/search_impl.h"

void bn__search_set_stop(bn_search *s, bn_stop_reason r) {
  int none = BN_STOP_NONE;
  atomic_compare_exchange_strong(&s->stop, &none, (int)r);
}

void bn__search_fail(bn_search *s, bn_err e) {
  int ok = BN_OK;
  atomic_compare_exchange_strong(&s->error, &ok, (int)e);
  bn__search_set_stop(s, BN_STOP_ERROR);
}

bool bn__search_select(bn_search *s, uint64_t it, uint32_t slot) {
  bool exhausted = false;
  bn_err e = bn_tree_select(s->tree, bn_seed_derive(s->seed, it, BN_RNG_SELECT), &s->paths[slot], &exhausted);
  if (e == BN_OK && !exhausted) return true;
  if (exhausted) {
    bn__search_set_stop(s, BN_STOP_EXHAUSTED);
  } else if (e == BN_ERR_FULL) {
    bn__search_set_stop(s, BN_STOP_FULL);
  } else {
    bn_error("iteration %llu: selection failed: %s", (unsigned long long)it, bn_strerror(e));
    bn__search_fail(s, e);
  }
  return false;
}

uint64_t bn__search_issued(const bn_search *s) {
  return atomic_load(&s->next_iteration) - atomic_load(&s->cancelled);
}

static uint64_t in_flight(const bn_search *s) { return bn__search_issued(s) - atomic_load(&s->completed); }

bool bn__search_queue_job(bn_search *s, uint32_t slot, uint64_t it, bool terminal) {
  bn_job *j = &s->jobs[slot];
  j->id = it;
  j->seed = bn_seed_derive(s->seed, it, BN_RNG_JOB);
  j->kind = terminal ? BN_JOB_REWARD : BN_JOB_SIMULATE;
  j->sample = s->paths[slot].sample;
  j->attempts = 0;
  j->status = BN_JOB_PENDING;
  j->engine = -1;
  j->reason[0] = '\0';
  j->t_created = bn_wtime();
  j->t_sent = j->t_started = j->t_finished = j->t_received = 0;
  memcpy(j->state, bn_tree_state(s->tree, s->paths[slot].leaf), s->domain->info.state_size);
  atomic_store_explicit(&s->slot_busy[slot], 1, memory_order_release);
  if (bn_outbox_push(s->outbox, s->slot_base + slot)) return true;
  /* Cannot happen: the outbox holds every slot. Stop loudly. */
  bn_error("outbox full with %u slots", s->n_slots);
  bn__search_fail(s, BN_ERR_INTERNAL);
  return false;
}

/* Claim an iteration and a slot, select, and queue the job. False when nothing may be
 * issued now (stopped, window full, budget spent). */
static bool issue_one(bn_search *s) {
  if (atomic_load_explicit(&s->stop, memory_order_relaxed) != BN_STOP_NONE) return false;
  if (in_flight(s) >= atomic_load_explicit(&s->window, memory_order_relaxed)) return false;
  uint32_t slot;
  if (!bn__slot_pool_take(s->pool, &slot)) return false;
  uint64_t it = atomic_fetch_add(&s->next_iteration, 1);
  /* The budget counts iterations issued: numbers claimed and cancelled (at the end of an
   * earlier session, say) do not use it up. */
  if (it - atomic_load(&s->cancelled) >= s->budget) {
    atomic_fetch_add(&s->cancelled, 1);
    bn__slot_pool_give(s->pool, slot);
    bn__search_set_stop(s, BN_STOP_BUDGET);
    return false;
  }
  if (!bn__search_select(s, it, slot)) {
    atomic_fetch_add(&s->cancelled, 1);
    bn__slot_pool_give(s->pool, slot);
    return false;
  }
  const bn_path *path = &s->paths[slot];
  if (!bn__search_queue_job(s, slot, it, path->terminal)) {
    bn_tree_abandon(s->tree, path);
    atomic_store_explicit(&s->slot_busy[slot], 0, memory_order_release); /* the snapshot reads it after a taskwait */
    atomic_fetch_add(&s->cancelled, 1);
    bn__slot_pool_give(s->pool, slot);
    return false;
  }
  return true;
}

void bn__search_issue(bn_search *s, uint32_t n) {
  for (uint32_t k = 0; k < n; k++)
    if (!issue_one(s)) break;
}

enum { LOGGED_FAILURES = 5 };

/* Say why the first few jobs failed; the rest are only counted. */
static void log_failure(bn_search *s, const bn_job *j) {
  uint64_t nth = atomic_fetch_add(&s->failures, 1) + 1;
  pthread_mutex_lock(&s->failures_mu);
  bn_err e = bn_failure_tally_add(&s->failures_by_reason, j->reason, 1);
  pthread_mutex_unlock(&s->failures_mu);
  if (e != BN_OK) bn__search_fail(s, e);
  if (nth > LOGGED_FAILURES) return;
  char text[128];
  s->domain->ops->describe(s->domain->ctx, j->state, text, sizeof text);
  bn_warn("job %llu (%s %s) failed on rank %d: %s%s", (unsigned long long)j->id,
          j->kind == BN_JOB_REWARD ? "reward of" : "rollout from", text, j->engine, j->reason,
          nth == LOGGED_FAILURES ? " (further failures are only counted)" : "");
}

void bn__search_apply_one(bn_search *s, uint32_t slot) {
  const bn_job *j = &s->jobs[slot];
  if (j->status == BN_JOB_OK) {
    bn_tree_backprop(s->tree, &s->paths[slot], j->reward);
    bn__top_evals_offer(s->top, j->result_state, j->reward, j->id);
  } else {
    bn_tree_abandon(s->tree, &s->paths[slot]);
    log_failure(s, j);
  }
  bn_result_row row = {
      .job_id = j->id,
      .seed = j->seed,
      .kind = j->kind,
      .status = j->status,
      .attempts = j->attempts,
      .sample = j->sample,
      .engine = j->engine,
      .reward = j->status == BN_JOB_OK ? j->reward : 0.0,
      .t_created = j->t_created,
      .t_sent = j->t_sent,
      .t_started = j->t_started,
      .t_finished = j->t_finished,
      .t_received = j->t_received,
  };
  if (j->status != BN_JOB_OK) bn_failure_split(j->reason, row.failure_kind, row.failure_detail);
  bn_err e = bn__results_log_append(s->log, &row, j->result_state);
  if (e != BN_OK) bn__search_fail(s, e);
  atomic_store_explicit(&s->slot_busy[slot], 0, memory_order_release); /* the snapshot reads it after a taskwait */
}

void bn__search_apply(bn_search *s, const uint32_t *slots, size_t n) {
  for (size_t k = 0; k < n; k++) {
    bn__search_apply_one(s, slots[k]);
    bn__slot_pool_give(s->pool, slots[k]);
  }
  atomic_fetch_add(&s->completed, (uint64_t)n);
  /* Refill: every finished iteration frees room for a new one (more if the window grew). */
  bn__search_issue(s, (uint32_t)n + (uint32_t)s->grain);
}
