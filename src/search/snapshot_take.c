/* Taking a snapshot of the quiescent search for the checkpoint writer (dispatcher thread,
 * after a taskwait): counters, a copy of the graph's flat arrays, the iterations in flight,
 * the best states and evaluations, the failure tally and the statistics. The writer adds
 * the segment table (checkpoint_writer.h). */
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/log.h"
#include "search/checkpoint_writer.h"

static void free_partial(bn_snapshot *snap) {
  bn_snapshot_free(snap);
  free(snap);
}

static bn_err fill_top(bn_search *s, bn_snapshot *snap) {
  const size_t k = (size_t)bn_config_int(s->cfg, "search.top"), S = s->domain->info.state_size;
  bn_top_eval *evals = calloc(k ? k : 1, sizeof *evals);
  snap->top = calloc(k ? k : 1, sizeof *snap->top);
  snap->top_states = calloc(k ? k : 1, S);
  if (!evals || !snap->top || !snap->top_states) {
    free(evals);
    return BN_ERR_NOMEM;
  }
  const size_t n = bn__top_evals_get(s->top, evals, k);
  for (size_t i = 0; i < n; i++) {
    snap->top[i] = (bn_top_row){.job_id = evals[i].job_id, .reward = evals[i].reward};
    memcpy(snap->top_states + i * S, evals[i].state, S);
  }
  snap->n_top = n;
  free(evals);
  return BN_OK;
}

static bn_err fill_failures(bn_search *s, bn_snapshot *snap) {
  pthread_mutex_lock(&s->failures_mu);
  const size_t n = s->failures_by_reason.n;
  snap->failure_groups = malloc((n ? n : 1) * sizeof *snap->failure_groups);
  if (snap->failure_groups && n > 0) memcpy(snap->failure_groups, s->failures_by_reason.groups, n * sizeof *snap->failure_groups);
  pthread_mutex_unlock(&s->failures_mu);
  BN_CHECK(snap->failure_groups, BN_ERR_NOMEM, "no memory");
  snap->n_failure_groups = n;
  return BN_OK;
}

static bool finished_search(const bn_search *s) {
  int r = atomic_load(&s->stop);
  return (r == BN_STOP_BUDGET || r == BN_STOP_EXHAUSTED) &&
         bn__search_issued(s) == atomic_load(&s->completed);
}

static bn_err fill_pending(bn_search *s, bn_snapshot *snap) {
  const size_t S = s->domain->info.state_size, cap = (size_t)s->path_cap;
  uint64_t n = 0;
  for (uint32_t i = 0; i < s->n_slots; i++) n += atomic_load(&s->slot_busy[i]) != 0;
  snap->pending = calloc(n ? n : 1, sizeof *snap->pending);
  snap->pending_paths = calloc((n ? n : 1) * cap, sizeof *snap->pending_paths);
  snap->pending_states = calloc(n ? n : 1, S);
  BN_CHECK(snap->pending && snap->pending_paths && snap->pending_states, BN_ERR_NOMEM,
           "no memory for pending iterations");
  uint64_t k = 0;
  for (uint32_t i = 0; i < s->n_slots; i++) {
    if (!atomic_load(&s->slot_busy[i])) continue;
    const bn_job *j = &s->jobs[i];
    const bn_path *p = &s->paths[i];
    snap->pending[k] = (bn_pending_row){.iteration = j->id, .seed = j->seed, .kind = j->kind,
                                        .path_len = (uint32_t)p->len, .leaf = p->leaf,
                                        .sample = j->sample};
    memcpy(snap->pending_paths + k * cap, p->edges, (size_t)p->len * sizeof *p->edges);
    memcpy(snap->pending_states + k * S, j->state, S);
    k++;
  }
  snap->n_pending = k;
  return BN_OK;
}

static bn_err fill_best(bn_search *s, bn_snapshot *snap) {
  size_t k = (size_t)bn_config_int(s->cfg, "search.top");
  if (k == 0) return BN_OK;
  bn_tree_best *best = calloc(k, sizeof *best);
  snap->best = calloc(k, sizeof *snap->best);
  if (!best || !snap->best) {
    free(best);
    return BN_ERR_NOMEM;
  }
  size_t n = bn_tree_best_terminals(s->tree, k, s->best_min_visits, best);
  for (size_t i = 0; i < n; i++) {
    snap->best[i] = (bn_best_row){.node = best[i].node, .mean = best[i].mean, .visits = best[i].visits};
    s->domain->ops->describe(s->domain->ctx, bn_tree_state(s->tree, best[i].node), snap->best[i].text,
                             sizeof snap->best[i].text);
  }
  snap->n_best = n;
  free(best);
  return BN_OK;
}

bn_err bn__ckpt_take_snapshot(bn_search *s, bn_snapshot **out) {
  bn_err err = BN_OK;
  bn_snapshot *snap = calloc(1, sizeof *snap);
  BN_CHECK(snap, BN_ERR_NOMEM, "no memory for a snapshot");
  const double now = bn_mtime();
  snap->domain = strdup(s->domain->ops->name);
  snap->config_text = bn_config_effective_text(s->cfg);
  snap->banyan_version = strdup(BANYAN_VERSION);
  BN_CHECK_GOTO(snap->domain && snap->config_text && snap->banyan_version, BN_ERR_NOMEM, "no memory");
  snap->created = s->created;
  snap->updated = bn_wtime();
  snap->seed = s->seed;
  snap->state_size = s->domain->info.state_size;
  snap->path_cap = (uint32_t)s->path_cap;
  snap->budget = s->budget;
  snap->next_iteration = atomic_load(&s->next_iteration);
  snap->completed = atomic_load(&s->completed);
  snap->failures = atomic_load(&s->failures);
  snap->evaluations = snap->completed - snap->failures;
  snap->cancelled = atomic_load(&s->cancelled);
  snap->applied_upto = s->deterministic ? atomic_load(&s->applied_upto) : snap->completed;
  snap->deterministic = (uint8_t)s->deterministic;
  snap->finished = finished_search(s);
  snap->stop_reason = (uint32_t)atomic_load(&s->stop);
  snap->elapsed_seconds = s->elapsed_before + (now - s->t_start);
  snap->checkpoints = s->checkpoints + 1;
  BN_TRY(bn_tree_export(s->tree, &snap->tree));
  BN_TRY(fill_top(s, snap));
  BN_TRY(fill_failures(s, snap));
  BN_TRY(fill_pending(s, snap));
  BN_TRY(fill_best(s, snap));
  snap->timeline = malloc((s->n_timeline ? s->n_timeline : 1) * sizeof *snap->timeline);
  BN_CHECK_GOTO(snap->timeline, BN_ERR_NOMEM, "no memory");
  if (s->n_timeline) /* none yet in a campaign's first checkpoint */
    memcpy(snap->timeline, s->timeline, s->n_timeline * sizeof *snap->timeline);
  snap->n_timeline = s->n_timeline;
  size_t n_eng = 0;
  snap->engines = bn__stats_engine_rows(s, &n_eng);
  BN_CHECK_GOTO(snap->engines, BN_ERR_NOMEM, "no memory");
  snap->n_engines = n_eng;
  size_t n_moves = 0;
  snap->pool_moves = bn__stats_pool_moves(s, &n_moves);
  BN_CHECK_GOTO(snap->pool_moves, BN_ERR_NOMEM, "no memory");
  snap->n_pool_moves = n_moves;
  /* This checkpoint's own history row; its write time is filled in by the next one. */
  bn_checkpoint_row *h = realloc(s->history, (s->n_history + 1) * sizeof *h);
  BN_CHECK_GOTO(h, BN_ERR_NOMEM, "no memory");
  s->history = h;
  s->history[s->n_history++] = (bn_checkpoint_row){.t_unix = snap->updated, .iterations = snap->completed};
  snap->history = malloc(s->n_history * sizeof *snap->history);
  BN_CHECK_GOTO(snap->history, BN_ERR_NOMEM, "no memory");
  memcpy(snap->history, s->history, s->n_history * sizeof *snap->history);
  snap->n_history = s->n_history;
  *out = snap;
  return BN_OK;
fail:
  free_partial(snap);
  return err;
}

