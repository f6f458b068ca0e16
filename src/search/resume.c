/* Resuming a run from a checkpoint: counters, the results log, statistics and the
 * iterations that were in flight, whose paths get their in-flight marks back and whose
 * jobs (same id, same seed) are queued again. Before any rank starts work the checkpoint
 * went through bn_search_check_checkpoint (below), the one validation `inspect`, `export`
 * and `resume` share; the checks repeated in the restore are a last guard. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/log.h"
#include "banyan/rng.h"
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
    BN_CALL(bn_failure_tally_add_group(&s->failures_by_reason, &snap->failure_groups[i]));
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
  s->moves_before = malloc((snap->n_pool_moves ? snap->n_pool_moves : 1) * sizeof *s->moves_before);
  BN_CHECK(s->moves_before, BN_ERR_NOMEM, "no memory");
  memcpy(s->moves_before, snap->pool_moves, snap->n_pool_moves * sizeof *s->moves_before);
  s->n_moves_before = snap->n_pool_moves;
  return restore_pending(s, snap);
}

/* --- the one validation of a checkpoint: inspect, export and resume ---------------------
 *
 * Everything the resumed search relies on is checked here, before any rank starts work, so
 * that a file `resume` would refuse is refused by `inspect` and `export` too, in one line.
 * Every loop is bounded by sizes checked before it: the counters first (they bound the
 * job-id bitmap), then the statistics tables, the graph, the pending iterations and last
 * the rows of /results, streamed a strip at a time. */

#define ULL(x) ((unsigned long long)(x))

/* Counters a resumed run increments stay this far below 2^64. */
#define COUNTER_LIMIT ((uint64_t)1 << 62)
/* A free-mode session cancels at most one iteration per search thread (claimed after the
 * budget was reached, or when selection found the space exhausted or the graph full), so a
 * run never cancels more than it ran plus this many. */
#define CANCEL_SLACK ((uint64_t)1 << 20)
/* Deterministic mode's window when search.max_in_flight is 0: it must not depend on the
 * number of engines (the driver takes it from bn_search_deterministic_window too). */
#define DETERMINISTIC_DEFAULT_WINDOW 64u

static bn_err nomem(char *why, size_t whylen) {
  snprintf(why, whylen, "no memory to check the checkpoint");
  return BN_ERR_NOMEM;
}

static bn_err bad(char *why, size_t whylen, const char *fmt, ...) BN_PRINTF(3, 4);
static bn_err bad(char *why, size_t whylen, const char *fmt, ...) {
  if (why && whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return BN_ERR_CORRUPT;
}

uint32_t bn_search_deterministic_window(const bn_config *cfg) {
  const int64_t w = bn_config_int(cfg, "search.max_in_flight");
  return w > 0 ? (uint32_t)w : DETERMINISTIC_DEFAULT_WINDOW;
}

/* The counters add up, leave room to go on, and suit the mode. */
static bn_err check_counters(const bn_snapshot *s, bool det, uint32_t window, char *why, size_t whylen) {
  /* The reader checked completed + cancelled + pending <= next_iteration, so this cannot
   * overflow. */
  if (s->completed + s->n_pending + s->cancelled != s->next_iteration)
    return bad(why, whylen, "counters disagree: %llu applied, %llu pending, %llu cancelled, %llu claimed",
               ULL(s->completed), ULL(s->n_pending), ULL(s->cancelled), ULL(s->next_iteration));
  if (s->finished && s->n_pending > 0)
    return bad(why, whylen, "marked finished, but %llu iterations are pending", ULL(s->n_pending));
  if (s->next_iteration >= COUNTER_LIMIT || s->next_segment >= COUNTER_LIMIT || s->checkpoints >= COUNTER_LIMIT)
    return bad(why, whylen, "next_iteration %llu, next_segment %llu, checkpoints %llu: counters this close to 2^64 "
               "leave no room to continue", ULL(s->next_iteration), ULL(s->next_segment), ULL(s->checkpoints));
  if (det) {
    if (s->cancelled != 0)
      return bad(why, whylen, "deterministic mode, but %llu iterations are cancelled: deterministic mode never "
                 "cancels one, and its schedule would wait for their results forever", ULL(s->cancelled));
    if (s->applied_upto != s->completed)
      return bad(why, whylen, "deterministic mode, but applied_upto is %llu with %llu results applied (a run that was "
                 "not deterministic up to here cannot continue deterministically)", ULL(s->applied_upto),
                 ULL(s->completed));
    if (s->n_pending > (uint64_t)window + 1)
      return bad(why, whylen, "deterministic mode: %llu iterations in flight, more than a window of %u "
                 "(search.max_in_flight) allows", ULL(s->n_pending), window);
  } else if (s->cancelled > s->completed + s->n_pending + CANCEL_SLACK) {
    return bad(why, whylen, "%llu iterations cancelled for %llu run: far more than a run cancels", ULL(s->cancelled),
               ULL(s->completed + s->n_pending));
  }
  return BN_OK;
}

/* Statistics the resumed run merges or shows: one /stats/engines row per rank (merged rank
 * by rank), finite best means and rewards. */
static bn_err check_stats(const bn_snapshot *s, char *why, size_t whylen) {
  if (s->n_engines > BN_SEARCH_MAX_RANKS)
    return bad(why, whylen, "/stats/engines has %llu rows, more than the %u ranks a run can have", ULL(s->n_engines),
               BN_SEARCH_MAX_RANKS);
  uint8_t *seen = calloc(BN_SEARCH_MAX_RANKS / 8, 1);
  if (!seen) return nomem(why, whylen);
  bn_err err = BN_OK;
  for (uint64_t i = 0; i < s->n_engines && err == BN_OK; i++) {
    const bn_engine_row *e = &s->engines[i];
    if (e->rank < 0 || (uint32_t)e->rank >= BN_SEARCH_MAX_RANKS)
      err = bad(why, whylen, "/stats/engines row %llu: rank %d outside 0..%u", ULL(i), e->rank, BN_SEARCH_MAX_RANKS - 1);
    else if (seen[e->rank / 8] & (1u << (e->rank % 8)))
      err = bad(why, whylen, "/stats/engines row %llu: rank %d is listed twice", ULL(i), e->rank);
    else if (!isfinite(e->busy_seconds) || !isfinite(e->idle_seconds) || e->busy_seconds < 0 || e->idle_seconds < 0)
      err = bad(why, whylen, "/stats/engines row %llu: busy %g s, idle %g s", ULL(i), e->busy_seconds, e->idle_seconds);
    else
      seen[e->rank / 8] |= (uint8_t)(1u << (e->rank % 8));
  }
  free(seen);
  if (err != BN_OK) return err;
  for (uint64_t i = 0; i < s->n_best; i++)
    if (!isfinite(s->best[i].mean) || s->best[i].node >= s->tree.n_nodes)
      return bad(why, whylen, "/best row %llu: node %u, mean reward %g", ULL(i), s->best[i].node, s->best[i].mean);
  for (uint64_t i = 0; i < s->n_timeline; i++)
    if (isinf(s->timeline[i].best_reward)) /* NaN: no reward yet */
      return bad(why, whylen, "/stats/timeline row %llu: best reward %g", ULL(i), s->timeline[i].best_reward);
  return BN_OK;
}

static int by_u64(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Each pending iteration is the job the search would send again: listed once, its path a
 * chain of the graph from the root to its leaf, its kind the leaf's (reward for a
 * terminal, simulate otherwise), its state the leaf's, its seed the one search.seed gives;
 * in deterministic mode exactly the iterations applied_upto .. next_iteration - 1.
 * *sorted (OUT, caller frees): the pending iterations in increasing order. */
static bn_err check_pending(const bn_config *cfg, const bn_snapshot *s, bool det, uint64_t **sorted, char *why,
                            size_t whylen) {
  const bn_tree_arrays *a = &s->tree;
  const size_t S = (size_t)s->state_size;
  const uint64_t seed = (uint64_t)bn_config_int(cfg, "search.seed");
  uint64_t *ids = malloc((s->n_pending ? s->n_pending : 1) * sizeof *ids);
  if (!ids) return nomem(why, whylen);
  for (uint64_t k = 0; k < s->n_pending; k++) {
    const bn_pending_row *p = &s->pending[k];
    const bool reward = p->kind == BN_JOB_REWARD;
    const char *what = reward ? "reward" : "simulate";
    bn_err err = BN_OK;
    ids[k] = p->iteration;
    if ((!reward && p->kind != BN_JOB_SIMULATE) || p->iteration >= s->next_iteration || p->path_len > s->path_cap ||
        p->leaf >= a->n_nodes) {
      err = bad(why, whylen, "pending iteration %llu: kind %u, path of %u edges, leaf %u", ULL(p->iteration), p->kind,
                p->path_len, p->leaf);
    } else if (det && p->iteration < s->applied_upto) {
      err = bad(why, whylen, "pending iteration %llu: deterministic mode applied every iteration below %llu already",
                ULL(p->iteration), ULL(s->applied_upto));
    } else if (((a->node_flags[p->leaf] & BN_NODE_TERMINAL) != 0) != reward) {
      err = bad(why, whylen, "pending iteration %llu: a %s job, but its leaf %u is %sterminal", ULL(p->iteration), what,
                p->leaf, reward ? "not " : "");
    } else if (!reward && p->sample != BN_SAMPLE_NONE) {
      err = bad(why, whylen, "pending iteration %llu: a rollout job with a sample index", ULL(p->iteration));
    } else if (memcmp(s->pending_states + k * S, a->states + (size_t)p->leaf * S, S) != 0) {
      err = bad(why, whylen, "pending iteration %llu: its state is not its leaf's", ULL(p->iteration));
    } else if (p->seed != bn_seed_derive(seed, p->iteration, BN_RNG_JOB)) {
      err = bad(why, whylen, "pending iteration %llu carries a seed that search.seed (%llu) does not give",
                ULL(p->iteration), ULL(seed));
    } else {
      const uint32_t *edges = s->pending_paths + k * s->path_cap;
      uint64_t node = 0;
      for (uint32_t i = 0; i < p->path_len && err == BN_OK; i++) {
        if (edges[i] >= a->n_edges || a->edge_parent[edges[i]] != node || a->edge_child[edges[i]] >= a->n_nodes)
          err = bad(why, whylen, "pending iteration %llu: its path is not a chain of the graph (edge %u at step %u)",
                    ULL(p->iteration), edges[i], i);
        else
          node = a->edge_child[edges[i]];
      }
      if (err == BN_OK && node != p->leaf)
        err = bad(why, whylen, "pending iteration %llu: its path ends at node %llu, not at its leaf %u",
                  ULL(p->iteration), ULL(node), p->leaf);
    }
    if (err != BN_OK) {
      free(ids);
      return err;
    }
  }
  qsort(ids, (size_t)s->n_pending, sizeof *ids, by_u64);
  for (uint64_t k = 1; k < s->n_pending; k++)
    if (ids[k] == ids[k - 1]) {
      const uint64_t dup = ids[k];
      free(ids);
      return bad(why, whylen, "pending iteration %llu is listed twice", ULL(dup));
    }
  /* Deterministic: n_pending == next_iteration - applied_upto (counters), all distinct and
   * in that range, so they are exactly that range. */
  *sorted = ids;
  return BN_OK;
}

static bool pending_has(const uint64_t *sorted, uint64_t n, uint64_t id) {
  return n > 0 && bsearch(&id, sorted, (size_t)n, sizeof *sorted, by_u64) != NULL;
}

/* Stream /results: finite rewards, each job id once and never a pending one (deterministic
 * mode: row k is job k); then the best evaluations must be finished jobs. The rows are
 * also checked by bn_results_next (kind, status, ids, checksums, failure count). */
static bn_err check_results(const char *path, const bn_snapshot *s, bool det, const uint64_t *pending, char *why,
                            size_t whylen) {
  const size_t S = (size_t)s->state_size;
  size_t batch = ((size_t)4 << 20) / (sizeof(bn_result_row) + S);
  if (batch == 0) batch = 1;
  if (batch > 4096) batch = 4096;
  bn_err err = BN_OK;
  bn_results_reader *rd = NULL;
  /* Free mode: one bit per iteration number; the counters bound next_iteration by twice
   * the rows and pending iterations plus CANCEL_SLACK. */
  uint8_t *seen = det ? NULL : calloc((size_t)(s->next_iteration / 8 + 1), 1);
  bn_result_row *rows = malloc(batch * sizeof *rows);
  unsigned char *states = malloc(batch * S);
  if ((!det && !seen) || !rows || !states) {
    snprintf(why, whylen, "no memory to check %llu job ids", ULL(s->next_iteration));
    err = BN_ERR_NOMEM;
    goto done;
  }
  err = bn_results_open(path, s, &rd, why, whylen);
  uint64_t row = 0;
  size_t n = 0;
  while (err == BN_OK) {
    err = bn_results_next(rd, rows, states, batch, &n);
    if (err != BN_OK) {
      snprintf(why, whylen, "%s", bn_results_why(rd));
      break;
    }
    if (n == 0) break;
    for (size_t i = 0; i < n && err == BN_OK; i++, row++) {
      const bn_result_row *r = &rows[i];
      const uint64_t id = r->job_id; /* below next_iteration (bn_results_next) */
      if (!isfinite(r->reward))
        err = bad(why, whylen, "/results row %llu (job %llu): reward %g is not finite", ULL(row), ULL(id), r->reward);
      else if (det && id != row)
        err = bad(why, whylen, "/results row %llu is job %llu: deterministic mode applies job %llu there", ULL(row),
                  ULL(id), ULL(row));
      else if (!det && pending_has(pending, s->n_pending, id))
        err = bad(why, whylen, "job %llu is both finished (/results row %llu) and pending", ULL(id), ULL(row));
      else if (!det && (seen[id / 8] & (1u << (id % 8))))
        err = bad(why, whylen, "job %llu appears twice in /results (again at row %llu)", ULL(id), ULL(row));
      else if (!det)
        seen[id / 8] |= (uint8_t)(1u << (id % 8));
    }
  }
  for (uint64_t i = 0; err == BN_OK && i < s->n_top; i++) {
    const uint64_t id = s->top[i].job_id;
    if (det ? id >= s->completed : !(seen[id / 8] & (1u << (id % 8))))
      err = bad(why, whylen, "/stats/top_evaluations row %llu: job %llu is not in /results", ULL(i), ULL(id));
  }
done:
  bn_results_close(&rd);
  free(seen);
  free(rows);
  free(states);
  return err;
}

bn_err bn_search_check_checkpoint(const bn_config *cfg, const bn_domain *domain, const char *path,
                                  const bn_snapshot *snap, bn_tree **keep, char *why, size_t whylen) {
  if (why && whylen) why[0] = '\0';
  BN_CHECK(cfg && path && snap && why && whylen, BN_ERR_ARG, "null argument");
  const bool det = bn_config_bool(cfg, "search.deterministic");
  bn_err err = check_counters(snap, det, bn_search_deterministic_window(cfg), why, whylen);
  if (err == BN_OK) err = check_stats(snap, why, whylen);
  if (err != BN_OK) return err;

  bn_tree_params tp;
  bn__search_tree_params(cfg, &tp);
  bn_tree *tree = NULL;
  if (domain) {
    err = bn_tree_import(&tree, domain, &tp, &snap->tree, why, whylen);
    if (err == BN_OK && (int)snap->path_cap != bn_tree_path_capacity(tree))
      err = bad(why, whylen, "pending paths hold %u edges, the domain's paths %d", snap->path_cap,
                bn_tree_path_capacity(tree));
  } else {
    err = bn_tree_check_arrays(&tp, &snap->tree, why, whylen);
  }
  uint64_t *pending = NULL;
  if (err == BN_OK) err = check_pending(cfg, snap, det, &pending, why, whylen);
  if (err == BN_OK) err = check_results(path, snap, det, pending, why, whylen);
  free(pending);
  if (err == BN_OK && keep)
    *keep = tree;
  else
    bn_tree_destroy(&tree);
  return err;
}
