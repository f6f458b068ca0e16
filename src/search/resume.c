/* Resuming a run from a checkpoint: counters, the results log, statistics and the
 * iterations that were in flight, whose paths get their in-flight marks back and whose
 * jobs (same id, same seed) are queued again. The graph itself was imported and validated
 * by bn_tree_import before this runs; everything here is checked too, since the file may
 * be damaged or hostile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/log.h"
#include "search/search_impl.h"

static bn_err restore_pending(bn_search *s, const bn_snapshot *snap) {
  const size_t S = s->domain->info.state_size;
  for (uint64_t k = 0; k < snap->n_pending; k++) {
    const bn_pending_row *p = &snap->pending[k];
    BN_CHECK(p->iteration < snap->next_iteration && p->path_len <= snap->path_cap &&
                 (p->kind == BN_JOB_REWARD || p->kind == BN_JOB_SIMULATE),
             BN_ERR_CORRUPT, "pending iteration %llu is inconsistent", (unsigned long long)p->iteration);
    uint32_t slot;
    if (s->deterministic) {
      BN_CHECK(p->iteration >= snap->applied_upto && p->iteration < snap->applied_upto + s->det_window + 1,
               BN_ERR_CORRUPT, "pending iteration %llu is outside the deterministic window",
               (unsigned long long)p->iteration);
      slot = (uint32_t)(p->iteration % (s->det_window + 1u));
      BN_CHECK(!atomic_load(&s->slot_busy[slot]), BN_ERR_CORRUPT, "pending iteration %llu appears twice",
               (unsigned long long)p->iteration);
    } else {
      BN_CHECK(bn__slot_pool_take(s->pool, &slot), BN_ERR_CORRUPT, "more pending iterations than job slots");
    }
    bn_path *path = &s->paths[slot];
    path->len = (int)p->path_len;
    path->leaf = p->leaf;
    path->terminal = p->kind == BN_JOB_REWARD;
    path->sample = p->sample;
    BN_CHECK(path->terminal || p->sample == BN_SAMPLE_NONE, BN_ERR_CORRUPT,
             "pending iteration %llu: a rollout job with a sample index", (unsigned long long)p->iteration);
    memcpy(path->edges, snap->pending_paths + k * snap->path_cap, p->path_len * sizeof *path->edges);
    BN_CHECK(p->leaf < bn_tree_node_count(s->tree) && bn_tree_is_terminal(s->tree, p->leaf) == path->terminal,
             BN_ERR_CORRUPT, "pending iteration %llu names a bad leaf", (unsigned long long)p->iteration);
    BN_CHECK(memcmp(bn_tree_state(s->tree, p->leaf), snap->pending_states + k * S, S) == 0, BN_ERR_CORRUPT,
             "pending iteration %llu: its state is not its leaf's", (unsigned long long)p->iteration);
    BN_CALL(bn_tree_restore_path(s->tree, path));
    /* The same job as before: bn__search_queue_job derives the seed from the iteration. */
    if (!bn__search_queue_job(s, slot, p->iteration, path->terminal)) return BN_ERR_INTERNAL;
    BN_CHECK(s->jobs[slot].seed == p->seed, BN_ERR_CORRUPT,
             "pending iteration %llu carries a seed that search.seed does not give", (unsigned long long)p->iteration);
  }
  return BN_OK;
}

bn_err bn__search_restore(bn_search *s, const bn_snapshot *snap) {
  BN_CHECK(snap->completed + snap->n_pending + snap->cancelled == snap->next_iteration, BN_ERR_CORRUPT,
           "checkpoint counters disagree: %llu applied, %llu pending, %llu cancelled, %llu claimed",
           (unsigned long long)snap->completed,
           (unsigned long long)snap->n_pending, (unsigned long long)snap->cancelled,
           (unsigned long long)snap->next_iteration);
  atomic_store(&s->next_iteration, snap->next_iteration);
  atomic_store(&s->completed, snap->completed);
  atomic_store(&s->failures, snap->failures);
  atomic_store(&s->cancelled, snap->cancelled);
  atomic_store(&s->applied_upto, snap->applied_upto);
  s->completed_at_start = snap->completed;
  s->created = snap->created;
  s->elapsed_before = snap->elapsed_seconds;
  s->checkpoints = snap->checkpoints;

  /* The results log stays in its segments; what the report needs of it was saved. */
  bn__results_log_restart_at(s->log, snap->completed);
  s->segment_requested = snap->completed;
  for (uint64_t i = 0; i < snap->n_top; i++)
    bn__top_evals_offer(s->top, snap->top_states + i * snap->state_size, snap->top[i].reward, snap->top[i].job_id);
  for (uint64_t i = 0; i < snap->n_failure_groups; i++)
    BN_CALL(bn_failure_tally_add(&s->failures_by_reason, snap->failure_groups[i].text, snap->failure_groups[i].count));
  s->history = malloc((snap->n_history ? snap->n_history : 1) * sizeof *s->history);
  s->timeline = malloc((snap->n_timeline ? snap->n_timeline : 1) * sizeof *s->timeline);
  s->engines_before = malloc((snap->n_engines ? snap->n_engines : 1) * sizeof *s->engines_before);
  BN_CHECK(s->history && s->timeline && s->engines_before, BN_ERR_NOMEM, "no memory");
  memcpy(s->history, snap->history, snap->n_history * sizeof *s->history);
  s->n_history = snap->n_history;
  memcpy(s->timeline, snap->timeline, snap->n_timeline * sizeof *s->timeline);
  s->n_timeline = s->cap_timeline = snap->n_timeline;
  memcpy(s->engines_before, snap->engines, snap->n_engines * sizeof *s->engines_before);
  s->n_engines_before = snap->n_engines;
  return restore_pending(s, snap);
}

bn_err bn_search_check_checkpoint(const bn_config *cfg, const bn_domain *domain, const bn_snapshot *snap,
                                  bn_tree **keep, char *why, size_t whylen) {
  bn_tree_params tp;
  bn__search_tree_params(cfg, &tp);
  bn_tree *tree = NULL;
  bn_err err = bn_tree_import(&tree, domain, &tp, &snap->tree, why, whylen);
  if (err != BN_OK) return err;
  bn_edge_id *edges = malloc((snap->path_cap ? snap->path_cap : 1) * sizeof *edges);
  if (!edges) err = BN_ERR_NOMEM;
  for (uint64_t k = 0; err == BN_OK && k < snap->n_pending; k++) {
    const bn_pending_row *p = &snap->pending[k];
    if (p->path_len > snap->path_cap || (int)snap->path_cap != bn_tree_path_capacity(tree)) {
      snprintf(why, whylen, "pending iteration %llu: path of %u edges (capacity %u)",
               (unsigned long long)p->iteration, p->path_len, snap->path_cap);
      err = BN_ERR_CORRUPT;
      break;
    }
    memcpy(edges, snap->pending_paths + k * snap->path_cap, p->path_len * sizeof *edges);
    bn_path path = {.edges = edges, .len = (int)p->path_len, .leaf = p->leaf, .terminal = p->kind == BN_JOB_REWARD};
    if (bn_tree_restore_path(tree, &path) != BN_OK) {
      snprintf(why, whylen, "pending iteration %llu: its path is not a chain of the graph",
               (unsigned long long)p->iteration);
      err = BN_ERR_CORRUPT;
    } else {
      bn_tree_abandon(tree, &path); /* the marks go back on when the search restores it */
    }
  }
  free(edges);
  if (err == BN_OK && keep)
    *keep = tree;
  else
    bn_tree_destroy(&tree);
  return err;
}
