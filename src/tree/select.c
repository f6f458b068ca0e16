/* Selection: one descent from the root by UCT, marking the path in flight.
 *
 * As in CircuiTree (CIRCUIT-MODEL.md §2): at a node, if some out-edges are new (never
 * visited, nothing in flight), take one at random and stop at its child, so an iteration
 * adds at most one edge to the explored graph; otherwise take the edge with the best
 * score, ties broken at random. CircuiTree shuffles the *actions* and stops at the first
 * whose edge is new, so a child that k actions reach is taken k times as often as one
 * that a single action reaches; expansion merges those actions into one edge and keeps
 * their number (edge_n_actions), and the pick among new edges is weighted by it (a
 * weighted reservoir over one pass: edge i replaces the pick with probability w_i / W, W
 * the weight seen so far). With every weight 1 it is the uniform pick, with the same
 * random draws. Evaluations in flight enter the score by the rule:
 *
 *   VIRTUAL_LOSS  d = N + vl*F          Q = R / d   score = Q + c*sqrt(ln(Np + vl*Fp) / d)
 *   WU_UCT        d = N + F             Q = R / N   score = Q + c*sqrt(ln(Np + Fp) / d)
 *
 * with N, R, F the edge's visits, reward sum and evaluations in flight, Np the parent's
 * visits and Fp the evaluations in flight through the parent *other than this one* (the
 * selecting thread's own mark is not counted, so a run with one evaluation at a time is
 * exactly plain UCT). The log argument is clamped to >= 1.
 *
 * A new edge is claimed by CAS on its in-flight word, so concurrent selections never take
 * the same new edge. Edges whose child is exhausted are skipped; a node left with nothing
 * to select is exhausted, and the descent starts again from the root. No allocation. */
#include <math.h>

#include "banyan/rng.h"
#include "tree/tree_impl.h"

/* Pick an out-edge of expanded node `n` and mark it in flight; BN_NONE if every child is
 * exhausted. *fresh tells whether the edge was new. */
static bn_edge_id choose(bn_tree *t, const bn__node *n, bn_rng *rng, bool *fresh) {
  const uint32_t first = n->first_edge, count = n->n_edges;
  const bool wu = t->params.rule == BN_SELECT_WU_UCT;
  const double c = t->params.c, vl = t->params.virtual_loss;
  bn__edge *const edges = t->edges;

  for (;;) {
    bn_edge_id best = BN_NONE, pick = BN_NONE;
    uint32_t n_new = 0, ties = 0;
    uint32_t weight = 0; /* actions reaching the new edges seen so far */
    double best_score = 0, c_sqrt_ln = -1;
    for (uint32_t i = 0; i < count; i++) {
      bn__edge *e = &edges[first + i];
      /* Acquire pairs with backprop's release decrement: in_flight read as 0 means the
       * visit that came before it is visible, so a visited edge never looks new. */
      uint32_t f = atomic_load_explicit(&e->in_flight, memory_order_acquire);
      if (f & BN__EDGE_DEAD) continue;
      uint64_t nv = atomic_load_explicit(&e->visits, memory_order_relaxed);
      if (nv == 0 && f == 0) {
        const uint32_t w = t->edge_n_actions[first + i]; /* >= 1; sums fit: <= max_actions */
        n_new++;
        weight += w;
        if (weight == w || bn_rng_below(rng, weight) < w) pick = first + i;
        continue;
      }
      if (n_new) continue;
      if (c_sqrt_ln < 0) {
        double np = (double)atomic_load_explicit((_Atomic uint64_t *)&n->visits,
                                                 memory_order_relaxed);
        uint32_t fpi = atomic_load_explicit((_Atomic uint32_t *)&n->in_flight,
                                            memory_order_relaxed);
        double fp = fpi > 0 ? (double)(fpi - 1) : 0; /* not our own mark */
        double arg = wu ? np + fp : np + vl * fp;
        c_sqrt_ln = c * sqrt(arg > 1 ? log(arg) : 0);
      }
      double r = bn__load_double(&e->reward_sum), score;
      double fe = (double)f, ne = (double)nv;
      if (wu) {
        double q = nv ? r / ne : 0;
        score = q + c_sqrt_ln * sqrt(1 / (ne + fe));
      } else {
        double d = ne + vl * fe;
        score = d > 0 ? r / d + c_sqrt_ln * sqrt(1 / d) : INFINITY;
      }
      if (best == BN_NONE || score > best_score) {
        best = first + i;
        best_score = score;
        ties = 1;
      } else if (score == best_score) {
        ties++;
        if (bn_rng_below(rng, ties) == 0) best = first + i;
      }
    }

    bn_edge_id take = n_new ? pick : best;
    if (take == BN_NONE) return BN_NONE;
    bn__edge *e = &edges[take];
    if (bn__node_exhausted(&t->nodes[e->child])) {
      atomic_fetch_or_explicit(&e->in_flight, BN__EDGE_DEAD, memory_order_relaxed);
      continue;
    }
    if (n_new) {
      uint32_t zero = 0;
      if (!atomic_compare_exchange_strong_explicit(&e->in_flight, &zero, 1, memory_order_relaxed,
                                                   memory_order_relaxed))
        continue; /* another selection took it first: look again */
    } else {
      atomic_fetch_add_explicit(&e->in_flight, 1, memory_order_relaxed);
    }
    *fresh = n_new > 0;
    return take;
  }
}

bn_err bn_tree_select(bn_tree *t, uint64_t seed, bn_path *path, bool *exhausted) {
  BN_CHECK(t && path && path->edges && exhausted, BN_ERR_ARG, "null argument");
  bn_rng rng = bn_rng_stream(seed, 0, BN_RNG_SELECT);
  bn__node *const nodes = t->nodes;
  bn_edge_id *const pe = path->edges;

  for (uint64_t restarts = 0;; restarts++) {
    if (bn__node_exhausted(&nodes[0])) {
      path->len = 0;
      path->leaf = BN_NONE;
      path->terminal = false;
      *exhausted = true;
      return BN_OK;
    }
    /* Every restart follows a node newly found exhausted, so there are at most as many
     * as nodes; more means a broken invariant. */
    BN_CHECK(restarts <= (uint64_t)atomic_load(&t->n_nodes) + 1024, BN_ERR_INTERNAL,
             "selection restarted %llu times", (unsigned long long)restarts);

    atomic_fetch_add_explicit(&nodes[0].in_flight, 1, memory_order_relaxed);
    bn_node_id id = 0;
    int len = 0;
    bool fresh = false;
    while (!fresh && !bn__node_terminal(&nodes[id])) {
      if (len >= t->max_depth) {
        bn__unmark(t, pe, len);
        BN_CHECK(false, BN_ERR_DOMAIN, "domain %s: no terminal within max_depth %d",
                 t->domain->ops->name, t->max_depth);
      }
      bn_err err = bn__ensure_expanded(t, id);
      if (err != BN_OK) {
        bn__unmark(t, pe, len);
        BN_CALL(err);
      }
      bn_edge_id e = choose(t, &nodes[id], &rng, &fresh);
      if (e == BN_NONE) {
        bn__unmark(t, pe, len);
        bn__exhaust(t, id, pe, len);
        goto restart;
      }
      id = t->edges[e].child;
      atomic_fetch_add_explicit(&nodes[id].in_flight, 1, memory_order_relaxed);
      pe[len++] = e;
    }

    bool terminal = bn__node_terminal(&nodes[id]);
    path->sample = BN_SAMPLE_NONE;
    if (terminal) {
      uint32_t s =
          atomic_fetch_add_explicit(&t->node_samples[id], 1, memory_order_relaxed) + 1;
      path->sample = s - 1;
      if (t->params.exhaust_after > 0 && s >= t->params.exhaust_after)
        bn__exhaust(t, id, pe, len);
    }
    atomic_fetch_add_explicit(&t->n_selects, 1, memory_order_relaxed);
    path->len = len;
    path->leaf = id;
    path->terminal = terminal;
    *exhausted = false;
    return BN_OK;
  restart:;
  }
}
