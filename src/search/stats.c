/* Search statistics kept for the checkpoint: the /stats/timeline rows appended every
 * checkpoint.timeline_seconds, and the per-engine figures of /stats/engines (earlier
 * sessions of a resumed run added to this one's, rank by rank). Dispatcher thread only. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "search/search_impl.h"

/* Job-kind bits of a pool's kind set (engine.pools: bit kind - 1). */
#define KIND_BIT(kind) (1u << ((kind) - 1))

/* Each pool's busy share of its engine time since the previous row (NaN without pools, or
 * for a pool with no engine time in between). Pools are told apart by their job kinds. */
static void pool_utilization(bn_search *s, bn_timeline_row *row) {
  row->reward_pool_utilization = row->simulate_pool_utilization = NAN;
  bn_pool_figures pf[BN_POOLS_MAX];
  const int n = bn_dispatcher_pools(s->disp, pf);
  for (int i = 0; i < n; i++) {
    const int k = pf[i].kinds & KIND_BIT(BN_JOB_REWARD) ? 0 : 1;
    const double busy = pf[i].busy_seconds - s->timeline_pool_busy[k];
    const double engine = pf[i].engine_seconds - s->timeline_pool_engine[k];
    const double u = engine > 0 ? busy / engine : NAN;
    if (pf[i].kinds & KIND_BIT(BN_JOB_REWARD)) row->reward_pool_utilization = u;
    if (pf[i].kinds & KIND_BIT(BN_JOB_SIMULATE)) row->simulate_pool_utilization = u;
    s->timeline_pool_busy[k] = pf[i].busy_seconds;
    s->timeline_pool_engine[k] = pf[i].engine_seconds;
  }
}

void bn__stats_tick(bn_search *s, double now, int force) {
  if (!force && now < s->next_timeline) return;
  s->next_timeline = now + s->timeline_seconds;
  if (s->n_timeline == s->cap_timeline) {
    size_t cap = s->cap_timeline ? 2 * s->cap_timeline : 256;
    bn_timeline_row *t = realloc(s->timeline, cap * sizeof *t);
    if (!t) return; /* a missing timeline row is not worth stopping a search for */
    s->timeline = t;
    s->cap_timeline = cap;
  }
  bn_dispatch_stats ds;
  bn_dispatcher_stats(s->disp, &ds);
  const double dt = now - s->timeline_t;
  const int workers = ds.engines ? ds.engines : 1;
  bn_tree_best b;
  const uint64_t done = atomic_load(&s->completed), failed = atomic_load(&s->failures);
  s->timeline[s->n_timeline++] = (bn_timeline_row){
      .t = s->elapsed_before + (now - s->t_start),
      .iterations = done,
      .evaluations = done - failed,
      .failures = failed,
      .in_flight = bn__search_issued(s) - done,
      .best_reward = bn_tree_best_terminals(s->tree, 1, s->best_min_visits, &b) == 1 ? b.mean : NAN,
      .utilization = dt > 0 ? (ds.busy_seconds - s->timeline_busy) / (workers * dt) : 0.0,
  };
  pool_utilization(s, &s->timeline[s->n_timeline - 1]);
  s->timeline_busy = ds.busy_seconds;
  s->timeline_t = now;
}

bn_engine_row *bn__stats_engine_rows(bn_search *s, size_t *n) {
  bn_dispatch_stats ds;
  bn_dispatcher_stats(s->disp, &ds);
  const int first = ds.engines ? 1 : 0, last = ds.engines ? ds.engines : 0;
  size_t cap = (size_t)(last - first + 1) + s->n_engines_before;
  /* Earlier sessions' ranks are distinct and below BN_SEARCH_MAX_RANKS (checked by
   * bn_search_check_checkpoint), as are this session's: a table from rank to row keeps the
   * merge linear. */
  int32_t top = last;
  for (size_t i = 0; i < s->n_engines_before; i++)
    if (s->engines_before[i].rank > top) top = s->engines_before[i].rank;
  bn_engine_row *rows = calloc(cap, sizeof *rows);
  uint32_t *row_of = malloc(((size_t)top + 1) * sizeof *row_of);
  if (!rows || !row_of) {
    free(rows);
    free(row_of);
    return NULL;
  }
  for (int32_t r = 0; r <= top; r++) row_of[r] = UINT32_MAX;
  size_t k = 0;
  const double wall = bn_mtime() - s->t_start;
  for (int r = first; r <= last; r++) {
    uint64_t jobs = 0, failures = 0;
    double busy = 0;
    bn_dispatcher_engine_figures(s->disp, r, &jobs, &failures, &busy);
    row_of[r] = (uint32_t)k;
    rows[k++] = (bn_engine_row){.rank = r, .jobs = jobs, .failures = failures, .busy_seconds = busy,
                                .idle_seconds = wall > busy ? wall - busy : 0,
                                .pool = (uint8_t)bn_dispatcher_engine_pool(s->disp, r)};
  }
  /* Earlier sessions: add to the same rank, or keep as its own row. */
  for (size_t i = 0; i < s->n_engines_before; i++) {
    const bn_engine_row *b = &s->engines_before[i];
    if (b->rank < 0) continue; /* not in a checked checkpoint */
    size_t j = row_of[b->rank];
    if (j == UINT32_MAX) {
      j = row_of[b->rank] = (uint32_t)k;
      rows[k++] = (bn_engine_row){.rank = b->rank, .pool = b->pool}; /* this session's pool otherwise */
    }
    rows[j].jobs += b->jobs;
    rows[j].failures += b->failures;
    rows[j].busy_seconds += b->busy_seconds;
    rows[j].idle_seconds += b->idle_seconds;
  }
  free(row_of);
  *n = k;
  return rows;
}

bn_pool_move_row *bn__stats_pool_moves(bn_search *s, size_t *n) {
  size_t now = 0;
  const bn_pool_move *m = bn_dispatcher_pool_moves(s->disp, &now);
  bn_pool_move_row *rows = malloc((s->n_moves_before + now + 1) * sizeof *rows);
  if (!rows) return NULL;
  if (s->n_moves_before) memcpy(rows, s->moves_before, s->n_moves_before * sizeof *rows);
  for (size_t i = 0; i < now; i++)
    rows[s->n_moves_before + i] =
        (bn_pool_move_row){.t_unix = m[i].t, .rank = m[i].rank, .from_pool = m[i].from, .to_pool = m[i].to};
  *n = s->n_moves_before + now;
  return rows;
}

bn_err bn__stats_session_pools(bn_search *s) {
  /* Each session starts from engine.pools; an engine whose last recorded pool (earlier
   * sessions, engine.pool_rebalance) is another one "moves" back at the start, so that
   * replaying /stats/pool_moves gives every engine's pool at any time of the run. */
  const double now = bn_wtime();
  for (size_t i = 0; i < s->n_engines_before; i++) {
    const bn_engine_row *b = &s->engines_before[i];
    const unsigned pool = bn_dispatcher_engine_pool(s->disp, b->rank);
    if (b->rank < 1 || b->pool == BN_POOL_ALL || pool == BN_POOL_ALL || pool == b->pool) continue;
    bn_pool_move_row *m = realloc(s->moves_before, (s->n_moves_before + 1) * sizeof *m);
    BN_CHECK(m, BN_ERR_NOMEM, "no memory");
    s->moves_before = m;
    m[s->n_moves_before++] =
        (bn_pool_move_row){.t_unix = now, .rank = b->rank, .from_pool = b->pool, .to_pool = (uint8_t)pool};
  }
  return BN_OK;
}
