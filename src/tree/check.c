/* The invariant checker of a quiescent search graph (tests, the end of a run, the last guard
 * of an import): every property the other files rely on, checked in O(N + E).
 *
 * The rules of the graph itself (ids, ranges, children, depths, acyclic, visit and reward
 * sums, samples, exhaustion) are stated once, in graph.c, for this checker and for the
 * importer; they run here on a copy of the tree's arrays (bn__tree_export without the
 * states: about 30 bytes per node and 40 per edge). Checked here, before the copy, is what
 * a live tree has and its arrays cannot show: the stores and counters, expansions still
 * running, marks in flight; after it, each state against the domain (terminal flag,
 * canonical) and the transposition table. The first violation is reported in words. */
#include <stdlib.h>

#include "tree/tree_impl.h"

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
  const bn__graph_rules rules = {.max_nodes = t->params.max_nodes,
                                 .max_edges = t->params.max_edges,
                                 .exhaust_after = t->params.exhaust_after,
                                 .max_actions = t->max_actions,
                                 .orphans_allowed = ld64(&t->expand_failures) > 0};
  bn_err err = BN_OK;
  bn_tree_arrays a = {0};
  unsigned char *buf = NULL;

  /* Stores and counters; the counts first, so records are read only inside the stores. */
  BN__QUIET(bn__graph_check_size(nn, ne, &rules, why, whylen));
  if (ld64(&t->node_reserved) != nn)
    BN__VIOLATION("%llu node ids promised but %llu handed out", BN__ULL(ld64(&t->node_reserved)),
              BN__ULL(nn));
  uint64_t published, reserved;
  bn__table_census(t, &published, &reserved);
  if (reserved) BN__VIOLATION("%llu table slots reserved but never published", BN__ULL(reserved));
  if (published != nn || ld64(&t->table.used) != nn)
    BN__VIOLATION("table holds %llu states (used %llu) for %llu nodes", BN__ULL(published),
              BN__ULL(ld64(&t->table.used)), BN__ULL(nn));
  const uint64_t selects = ld64(&t->n_selects), backprops = ld64(&t->n_backprops),
                 abandons = ld64(&t->n_abandons);
  if (selects != backprops + abandons)
    BN__VIOLATION("%llu selections but %llu backprops + %llu abandons: paths still in flight",
              BN__ULL(selects), BN__ULL(backprops), BN__ULL(abandons));

  /* Records: what the arrays cannot show (an export leaves these out or rejects them). */
  for (bn_node_id id = 0; id < nn; id++) {
    const bn__node *n = &t->nodes[id];
    const uint8_t status = ld8(&n->status), flags = ld8(&n->flags);
    if (flags & ~(BN__TERMINAL | BN__EXHAUSTED)) BN__VIOLATION("node %u: flags %#x", id, flags);
    if (status != BN__UNEXPANDED && status != BN__EXPANDED)
      BN__VIOLATION("node %u: expansion state %u (an expansion still running?)", id, status);
    if (status == BN__UNEXPANDED && n->n_edges)
      BN__VIOLATION("node %u: unexpanded but has %u edges", id, n->n_edges);
    if (ld32(&n->in_flight))
      BN__VIOLATION("node %u: %u evaluations still in flight", id, ld32(&n->in_flight));
  }
  for (uint64_t e = 0; e < ne; e++) {
    const uint32_t f = ld32(&t->edges[e].in_flight) & BN__EDGE_COUNT;
    if (f) BN__VIOLATION("edge %llu: %u evaluations still in flight", BN__ULL(e), f);
  }

  /* The graph's rules (graph.c) on its arrays; the root's visits against the backprops. */
  BN_TRY(bn__tree_export(t, false, &a));
  a.n_backprops = backprops;
  BN__QUIET(bn__graph_check_links(&a, &rules, NULL, why, whylen));
  BN__QUIET(bn__graph_check_stats(&a, &rules, why, whylen));

  /* States: the domain's terminal flag, canonical, found at their own id in the table. */
  buf = malloc(t->state_size);
  BN_CHECK_GOTO(buf, BN_ERR_NOMEM, "checker scratch for a state");
  for (bn_node_id id = 0; id < nn; id++) {
    const unsigned char *state = bn__state(t, id);
    const bool term = ld8(&t->nodes[id].flags) & BN__TERMINAL;
    if (term != d->ops->is_terminal(d->ctx, state))
      BN__VIOLATION("node %u: terminal flag %d disagrees with the domain", id, term);
    if (d->ops->canonicalize) {
      memcpy(buf, state, t->state_size);
      d->ops->canonicalize(d->ctx, buf);
      if (memcmp(buf, state, t->state_size) != 0) BN__VIOLATION("node %u: state not canonical", id);
    }
    const bn_node_id found = bn__table_lookup(t, state);
    if (found != id) BN__VIOLATION("node %u: the table finds its state at node %d", id, (int)found);
  }

fail:
  bn_tree_arrays_free(&a);
  free(buf);
  return err;
}
