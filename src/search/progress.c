/* The progress line rank 0 prints every search.progress_seconds: iterations done, recent
 * evaluation rate, jobs in flight, failures, engine utilization and the best state. */
#include <stdio.h>

#include "banyan/clock.h"
#include "search/search_impl.h"

/* Fraction of the engines' time spent inside jobs since the search started. */
static double utilization(const bn_dispatch_stats *ds, double elapsed) {
  int workers = ds->engines ? ds->engines : 1;
  return elapsed > 0 ? ds->busy_seconds / (workers * elapsed) : 0.0;
}

bool bn__search_best_text(bn_search *s, char *buf, size_t n, double *mean) {
  /* The best mean in the graph; before the graph has one, the best single evaluation. */
  char text[120];
  bn_tree_best b;
  bn_top_eval e;
  snprintf(buf, n, "-");
  if (bn_tree_best_terminals(s->tree, 1, s->best_min_visits, &b) == 1) {
    s->domain->ops->describe(s->domain->ctx, bn_tree_state(s->tree, b.node), text, sizeof text);
    snprintf(buf, n, "%.4f %s (n=%llu)", b.mean, text, (unsigned long long)b.visits);
    if (mean) *mean = b.mean;
    return true;
  }
  if (bn__top_evals_get(s->top, &e, 1) == 1) {
    s->domain->ops->describe(s->domain->ctx, e.state, text, sizeof text);
    snprintf(buf, n, "%.4f %s (one evaluation)", e.reward, text);
    if (mean) *mean = e.reward;
    return true;
  }
  return false;
}

void bn__search_progress(bn_search *s, double now, int final) {
  bn_dispatch_stats ds;
  bn_dispatcher_stats(s->disp, &ds);
  const double elapsed = now - s->t_start;
  const uint64_t done = atomic_load(&s->completed);
  const double dt = now - s->last_progress_t;
  const double rate = final ? (elapsed > 0 ? (done - s->completed_at_start) / elapsed : 0)
                            : (dt > 0 ? (done - s->last_completed) / dt : 0);
  s->last_completed = done;
  s->last_progress_t = now;

  char best[160];
  bn__search_best_text(s, best, sizeof best, NULL);
  /* With engine pools, each pool's share of its engine time spent in jobs. */
  char pools[96] = "";
  bn_pool_figures pf[BN_POOLS_MAX];
  const int n_pools = bn_dispatcher_pools(s->disp, pf);
  for (int i = 0, at = 0; i < n_pools && at < (int)sizeof pools; i++)
    at += snprintf(pools + at, sizeof pools - (size_t)at, "%s%s %.0f%%%s", i ? ", " : " (", bn_pool_name(pf[i].kinds),
                   pf[i].engine_seconds > 0 ? 100.0 * pf[i].busy_seconds / pf[i].engine_seconds : 0.0,
                   i == n_pools - 1 ? ")" : "");
  printf("[%8.1fs] %s iter %llu/%llu  %.0f eval/s  in-flight %llu  failed %llu  nodes %llu  util %.1f%%%s  best %s\n",
         elapsed, final ? "done" : "    ", (unsigned long long)done, (unsigned long long)s->budget, rate,
         (unsigned long long)(bn__search_issued(s) - done), (unsigned long long)atomic_load(&s->failures),
         (unsigned long long)bn_tree_node_count(s->tree), 100.0 * utilization(&ds, elapsed), pools, best);
  fflush(stdout);
}
