/* The invariant checker of a quiescent search graph (tests, and after loading a
 * checkpoint): every property the other files rely on, stated once, checked in O(N + E)
 * with a few scratch arrays. The first violation is reported in words. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tree/tree_impl.h"

typedef struct scratch {
  uint64_t in_visits; /* sum of incoming edge visits */
  double in_reward;   /* sum of incoming edge reward sums */
  double in_abs;      /* bound on the sum of |reward| through the incoming edges */
  uint32_t in_degree; /* incoming edges (Kahn's algorithm consumes it) */
  uint32_t stamp;     /* last parent + 1 that listed the node as a child */
  bool depth_ok;      /* some parent has depth == this depth - 1 */
} scratch;

#define VIOLATION(...)                              \
  do {                                              \
    err = bn__tree_why(why, whylen, __VA_ARGS__);   \
    goto out;                                       \
  } while (0)

static uint64_t ld64(const _Atomic uint64_t *a) {
  return atomic_load_explicit((_Atomic uint64_t *)a, memory_order_relaxed);
}
static uint32_t ld32(const _Atomic uint32_t *a) {
  return atomic_load_explicit((_Atomic uint32_t *)a, memory_order_relaxed);
}
static uint8_t ld8(const _Atomic uint8_t *a) {
  return atomic_load_explicit((_Atomic uint8_t *)a, memory_order_relaxed);
}

bn_err bn_tree_check(const bn_tree *t, char *why, size_t whylen) {
  if (why && whylen) why[0] = '\0';
  BN_CHECK(t, BN_ERR_ARG, "null tree");
  const bn_domain *d = t->domain;
  const uint64_t nn = ld32(&t->n_nodes), ne = ld64(&t->n_edges);
  const uint32_t exhaust_after = t->params.exhaust_after;
  bn_err err = BN_OK;
  scratch *sc = NULL;
  uint32_t *queue = NULL;
  unsigned char *buf = NULL;

  /* Stores and counters. */
  if (nn < 1 || nn > t->params.max_nodes) VIOLATION("node count %llu outside [1, %llu]",
                                                    (unsigned long long)nn,
                                                    (unsigned long long)t->params.max_nodes);
  if (ld64(&t->node_reserved) != nn)
    VIOLATION("%llu node ids promised but %llu handed out",
              (unsigned long long)ld64(&t->node_reserved), (unsigned long long)nn);
  if (ne > t->params.max_edges)
    VIOLATION("edge count %llu over capacity %llu", (unsigned long long)ne,
              (unsigned long long)t->params.max_edges);
  uint64_t published, reserved;
  bn__table_census(t, &published, &reserved);
  if (reserved) VIOLATION("%llu table slots reserved but never published",
                          (unsigned long long)reserved);
  if (published != nn || ld64(&t->table.used) != nn)
    VIOLATION("table holds %llu states (used %llu) for %llu nodes",
              (unsigned long long)published, (unsigned long long)ld64(&t->table.used),
              (unsigned long long)nn);
  const uint64_t selects = ld64(&t->n_selects), backprops = ld64(&t->n_backprops),
                 abandons = ld64(&t->n_abandons);
  if (selects != backprops + abandons)
    VIOLATION("%llu selections but %llu backprops + %llu abandons: paths still in flight",
              (unsigned long long)selects, (unsigned long long)backprops,
              (unsigned long long)abandons);
  if (ld64(&t->nodes[0].visits) != backprops)
    VIOLATION("root visits %llu != %llu backprops",
              (unsigned long long)ld64(&t->nodes[0].visits), (unsigned long long)backprops);
  if (t->nodes[0].depth != 0) VIOLATION("root depth %u", t->nodes[0].depth);

  sc = calloc(nn, sizeof *sc);
  queue = malloc(nn * sizeof *queue);
  buf = malloc(t->state_size);
  BN_CHECK_GOTO(sc && queue && buf, BN_ERR_NOMEM, "checker scratch for %llu nodes",
                (unsigned long long)nn);

  /* Edges: links in range, owned by their parent's range, no marks, sane statistics. */
  for (uint64_t e = 0; e < ne; e++) {
    const bn__edge *edge = &t->edges[e];
    const bn_node_id c = edge->child, p = t->edge_parent[e];
    if (c >= nn) VIOLATION("edge %llu: child %u out of range", (unsigned long long)e, c);
    if (p >= nn) VIOLATION("edge %llu: parent %u out of range", (unsigned long long)e, p);
    if (c == 0) VIOLATION("edge %llu: leads back to the root", (unsigned long long)e);
    const bn__node *pn = &t->nodes[p];
    if (ld8(&pn->status) != BN__EXPANDED || e < pn->first_edge ||
        e >= (uint64_t)pn->first_edge + pn->n_edges)
      VIOLATION("edge %llu: not in the edge range of its parent %u", (unsigned long long)e, p);
    const uint32_t f = ld32(&edge->in_flight);
    if (f & BN__EDGE_COUNT)
      VIOLATION("edge %llu: %u evaluations still in flight", (unsigned long long)e,
                f & BN__EDGE_COUNT);
    if ((f & BN__EDGE_DEAD) && !(ld8(&t->nodes[c].flags) & BN__EXHAUSTED))
      VIOLATION("edge %llu: marked dead but child %u is not exhausted", (unsigned long long)e,
                c);
    const uint64_t v = ld64(&edge->visits);
    const double r = bn__load_double(&edge->reward_sum), q = bn__load_double(&edge->reward_sq);
    if (!isfinite(r) || !isfinite(q) || q < 0)
      VIOLATION("edge %llu: reward sum %g, square sum %g", (unsigned long long)e, r, q);
    const double bound = sqrt((double)v * q); /* Cauchy-Schwarz: |sum r| <= sqrt(N sum r^2) */
    if (fabs(r) > bound * (1 + 1e-9) + 1e-12 || (v == 0 && (r != 0 || q != 0)))
      VIOLATION("edge %llu: reward sum %g impossible with %llu visits and square sum %g",
                (unsigned long long)e, r, (unsigned long long)v, q);
    scratch *s = &sc[c];
    s->in_visits += v;
    s->in_reward += r;
    s->in_abs += bound;
    s->in_degree++;
    if (t->nodes[c].depth == pn->depth + 1) s->depth_ok = true;
  }

  /* Nodes. */
  const bool orphans_allowed = ld64(&t->expand_failures) > 0;
  uint64_t edges_owned = 0;
  for (bn_node_id id = 0; id < nn; id++) {
    const bn__node *n = &t->nodes[id];
    const unsigned char *state = bn__state(t, id);
    const uint8_t flags = ld8(&n->flags), status = ld8(&n->status);
    const bool term = flags & BN__TERMINAL, exh = flags & BN__EXHAUSTED;
    const uint64_t visits = ld64(&n->visits);
    const uint32_t samples = ld32(&t->node_samples[id]);
    if (flags & ~(BN__TERMINAL | BN__EXHAUSTED)) VIOLATION("node %u: flags %#x", id, flags);
    if (status != BN__UNEXPANDED && status != BN__EXPANDED)
      VIOLATION("node %u: expansion state %u (an expansion still running?)", id, status);
    if (term != d->ops->is_terminal(d->ctx, state))
      VIOLATION("node %u: terminal flag %d disagrees with the domain", id, term);
    if (d->ops->canonicalize) {
      memcpy(buf, state, t->state_size);
      d->ops->canonicalize(d->ctx, buf);
      if (memcmp(buf, state, t->state_size) != 0) VIOLATION("node %u: state not canonical", id);
    }
    bn_node_id found = bn__table_lookup(t, state);
    if (found != id) VIOLATION("node %u: the table finds its state at node %d", id, (int)found);
    if (ld32(&n->in_flight)) VIOLATION("node %u: %u evaluations still in flight", id,
                                       ld32(&n->in_flight));
    if (term) {
      if (status != BN__UNEXPANDED || n->n_edges)
        VIOLATION("node %u: terminal with out-edges", id);
      if (visits > samples)
        VIOLATION("node %u: %llu visits but selected only %u times", id,
                  (unsigned long long)visits, samples);
      if (exh != (exhaust_after > 0 && samples >= exhaust_after))
        VIOLATION("node %u: terminal selected %u times (exhaust_after %u) but exhausted=%d", id,
                  samples, exhaust_after, exh);
    } else {
      if (samples) VIOLATION("node %u: non-terminal counted %u samples", id, samples);
      if (status == BN__UNEXPANDED && (n->n_edges || exh))
        VIOLATION("node %u: unexpanded but has %u edges or is exhausted", id, n->n_edges);
    }
    if (status == BN__EXPANDED) {
      if ((uint64_t)n->first_edge + n->n_edges > ne)
        VIOLATION("node %u: edges [%u, +%u) past the edge count", id, n->first_edge, n->n_edges);
      edges_owned += n->n_edges;
      uint64_t out_visits = 0;
      for (uint32_t i = 0; i < n->n_edges; i++) {
        const bn_edge_id e = n->first_edge + i;
        const bn_node_id c = t->edges[e].child;
        if (t->edge_parent[e] != id)
          VIOLATION("node %u: edge %u names parent %u", id, e, t->edge_parent[e]);
        if (sc[c].stamp == id + 1) VIOLATION("node %u: two edges lead to child %u", id, c);
        sc[c].stamp = id + 1;
        if (exh && !(ld8(&t->nodes[c].flags) & BN__EXHAUSTED))
          VIOLATION("node %u: exhausted but child %u is not", id, c);
        out_visits += ld64(&t->edges[e].visits);
      }
      if (out_visits > visits)
        VIOLATION("node %u: out-edges carry %llu visits, the node only %llu", id,
                  (unsigned long long)out_visits, (unsigned long long)visits);
    }
    if (id == 0) continue;
    const scratch *s = &sc[id];
    if (visits != s->in_visits)
      VIOLATION("node %u: %llu visits but its incoming edges carry %llu", id,
                (unsigned long long)visits, (unsigned long long)s->in_visits);
    const double r = bn__load_double(&n->reward_sum);
    const double tol = 1e-12 + 4 * DBL_EPSILON * (double)(visits + 1) * s->in_abs;
    if (!(fabs(r - s->in_reward) <= tol))
      VIOLATION("node %u: reward sum %.17g but its incoming edges carry %.17g", id, r,
                s->in_reward);
    if (s->in_degree == 0 && !orphans_allowed)
      VIOLATION("node %u: no incoming edge though no expansion ever failed", id);
    if (s->in_degree > 0 && !s->depth_ok && !orphans_allowed)
      VIOLATION("node %u: depth %u is no parent's depth + 1", id, n->depth);
  }
  if (edges_owned != ne)
    VIOLATION("nodes own %llu edges of %llu allocated", (unsigned long long)edges_owned,
              (unsigned long long)ne);

  /* Acyclic (Kahn): repeatedly remove nodes with no incoming edge left. */
  uint64_t head = 0, tail = 0;
  for (bn_node_id id = 0; id < nn; id++)
    if (sc[id].in_degree == 0) queue[tail++] = id;
  while (head < tail) {
    const bn__node *n = &t->nodes[queue[head++]];
    if (ld8(&n->status) != BN__EXPANDED) continue;
    for (uint32_t i = 0; i < n->n_edges; i++) {
      bn_node_id c = t->edges[n->first_edge + i].child;
      if (--sc[c].in_degree == 0) queue[tail++] = c;
    }
  }
  if (tail != nn) VIOLATION("the graph has a cycle (%llu nodes on or behind it)",
                            (unsigned long long)(nn - tail));

out:
  free(sc);
  free(queue);
  free(buf);
  return err;
fail: /* BN_CHECK_GOTO set err */
  goto out;
}
