/* Import of the search graph from arrays (a checkpoint read back), and the in-flight marks
 * of the iterations that were pending when it was written.
 *
 * The arrays may come from a damaged or hostile file, so nothing in them is trusted until
 * checked: sizes and capacity first, then each node (flags, canonical state, terminal flag
 * against the domain, edge range inside the edge array), then uniqueness while the
 * transposition table is rebuilt, then each edge (ids in range, inside its parent's range,
 * finite statistics), then each node's edges against the domain (the actions of the parent,
 * applied and canonicalized, must give exactly the edges expansion would have made, in its
 * order), then the statistics (node visits == sum of incoming edge visits, reward sums,
 * exhaustion). The first problem found is reported in words with BN_ERR_CORRUPT; the tree is
 * built only when everything holds, and bn_tree_check runs last as a guard. Every pass is
 * O(N + E); the domain pass costs about one expansion per expanded node. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tree/tree_impl.h"

/* Per node, what its incoming edges carry. */
typedef struct incoming {
  uint64_t visits;
  double reward; /* sum of the edges' reward sums */
  double abs;    /* bound on the sum of |reward| through them (as bn_tree_check) */
  uint32_t degree;
  bool depth_ok; /* some parent has depth == this depth - 1 (the one that created it) */
} incoming;

static bn_err corrupt(char *why, size_t whylen, const char *fmt, ...) BN_PRINTF(3, 4);
static bn_err corrupt(char *why, size_t whylen, const char *fmt, ...) {
  if (why && whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return BN_ERR_CORRUPT;
}

#define CORRUPT(...)                         \
  do {                                       \
    err = corrupt(why, whylen, __VA_ARGS__); \
    goto fail;                               \
  } while (0)

#define ULL(x) ((unsigned long long)(x))

/* Check every expanded node's edges against the domain: expansion (expand.c) applies the
 * node's actions in order, canonicalizes, and keeps one edge per distinct child, labelled
 * with the first action that reaches it. So walking the actions in order, an action either
 * is the next edge's action (and must reach that edge's child) or reaches the child of an
 * edge already walked. `stamp` is zeroed scratch of n_nodes entries. */
static bn_err check_against_domain(bn_tree *t, const bn_tree_arrays *a, uint32_t *stamp,
                                   char *why, size_t whylen) {
  const bn_domain *d = t->domain;
  const size_t ss = t->state_size;
  bn_err err = BN_OK;
  bn_action *acts = malloc((size_t)t->max_actions * sizeof *acts);
  unsigned char *child = malloc(ss);
  BN_CHECK_GOTO(acts && child, BN_ERR_NOMEM, "import scratch");

  for (uint64_t id = 0; id < a->n_nodes; id++) {
    if (!(a->node_flags[id] & BN_NODE_EXPANDED)) continue;
    const unsigned char *state = bn__state(t, (bn_node_id)id);
    const uint32_t first = a->node_first_edge[id], m = a->node_n_edges[id];
    const int n = d->ops->actions(d->ctx, state, acts, t->max_actions);
    if (n < 0 || n > t->max_actions) {
      err = BN_ERR_DOMAIN;
      corrupt(why, whylen, "domain %s: actions() returned %d (max_actions %d) at node %llu",
              d->ops->name, n, t->max_actions, ULL(id));
      goto fail;
    }
    uint32_t j = 0;
    for (int i = 0; i < n; i++) {
      memset(child, 0, ss); /* as expand.c: states are compared as bytes */
      d->ops->apply(d->ctx, state, acts[i], child);
      if (d->ops->canonicalize) d->ops->canonicalize(d->ctx, child);
      if (j < m && a->edge_action[first + j] == acts[i]) {
        const bn_node_id c = a->edge_child[first + j];
        if (memcmp(child, bn__state(t, c), ss) != 0)
          CORRUPT("edge %llu: action %d from node %llu does not lead to its child %u",
                  ULL(first + j), (int)acts[i], ULL(id), c);
        stamp[c] = (uint32_t)id + 1;
        j++;
        continue;
      }
      /* Not the next edge's action: it must reach a child already listed. */
      const bn_node_id k = bn__table_lookup(t, child);
      if (k == BN_NONE)
        CORRUPT("node %llu: action %d leads to a state missing from the graph (edges lost?)",
                ULL(id), (int)acts[i]);
      if (stamp[k] != (uint32_t)id + 1)
        CORRUPT("node %llu: action %d leads to node %u, but no edge before edge %llu does "
                "(edges out of the domain's order?)",
                ULL(id), (int)acts[i], k, ULL(first + j));
    }
    if (j != m)
      CORRUPT("node %llu: %u edges, but the domain's actions give %u (edge %llu, action %d, "
              "is not one of them)",
              ULL(id), m, j, ULL(first + j), (int)a->edge_action[first + j]);
  }
fail:
  free(acts);
  free(child);
  return err;
}

bn_err bn_tree_import(bn_tree **tree, const bn_domain *domain, const bn_tree_params *params,
                      const bn_tree_arrays *a, char *why, size_t whylen) {
  if (why && whylen) why[0] = '\0';
  BN_CHECK(tree && domain && domain->ops && params && a, BN_ERR_ARG, "null argument");
  const bn_domain_ops *ops = domain->ops;
  const uint64_t nn = a->n_nodes, ne = a->n_edges;
  const size_t ss = domain->info.state_size;
  const uint32_t exhaust_after = params->exhaust_after;
  bn_err err = BN_OK;
  bn_tree *t = NULL;
  incoming *in = NULL;
  uint32_t *stamp = NULL;
  unsigned char *buf = NULL;

  /* Sizes and capacity, before any array is read. */
  if (a->state_size != ss)
    CORRUPT("states of %zu bytes, but domain %s has %zu-byte states", a->state_size,
            ops->name ? ops->name : "?", ss);
  if (nn < 1) CORRUPT("no nodes: the root is missing");
  if (nn > params->max_nodes)
    CORRUPT("the graph has %llu nodes: needs search.max_nodes >= %llu (now %llu)", ULL(nn),
            ULL(nn), ULL(params->max_nodes));
  if (ne > params->max_edges)
    CORRUPT("the graph has %llu edges: needs search.max_edges >= %llu (now %llu)", ULL(ne),
            ULL(ne), ULL(params->max_edges));
  if (!a->states || !a->node_visits || !a->node_reward_sum || !a->node_first_edge ||
      !a->node_n_edges || !a->node_depth || !a->node_flags || !a->node_samples)
    CORRUPT("a node array is missing");
  if (ne && (!a->edge_parent || !a->edge_child || !a->edge_action || !a->edge_visits ||
             !a->edge_reward_sum || !a->edge_reward_sq))
    CORRUPT("an edge array is missing");

  /* A tree holding the domain's root as node 0, exactly as a new search would. */
  BN_TRY(bn_tree_create(&t, domain, params));
  if (memcmp(a->states, bn__state(t, 0), ss) != 0)
    CORRUPT("node 0 is not the root state of domain %s (another domain or configuration?)",
            ops->name ? ops->name : "?");
  in = calloc(nn, sizeof *in);
  stamp = calloc(nn, sizeof *stamp);
  buf = malloc(ss);
  BN_CHECK_GOTO(in && stamp && buf, BN_ERR_NOMEM, "import scratch for %llu nodes", ULL(nn));

  /* Nodes on their own: flags, state, terminal flag, edge range, counters. */
  memcpy(t->states, a->states, (size_t)nn * ss);
  for (uint64_t id = 0; id < nn; id++) {
    const unsigned char *state = bn__state(t, (bn_node_id)id);
    const uint8_t flags = a->node_flags[id];
    const bool term = flags & BN_NODE_TERMINAL, exh = flags & BN_NODE_EXHAUSTED,
               expd = flags & BN_NODE_EXPANDED;
    const uint32_t first = a->node_first_edge[id], n_edges = a->node_n_edges[id];
    const uint32_t samples = a->node_samples[id];
    const uint64_t visits = a->node_visits[id];
    const double reward = a->node_reward_sum[id];
    if (flags & ~(BN_NODE_TERMINAL | BN_NODE_EXHAUSTED | BN_NODE_EXPANDED))
      CORRUPT("node %llu: unknown flags %#x", ULL(id), flags);
    if (ops->canonicalize) {
      memcpy(buf, state, ss);
      ops->canonicalize(domain->ctx, buf);
      if (memcmp(buf, state, ss) != 0) CORRUPT("node %llu: state not canonical", ULL(id));
    }
    if (term != ops->is_terminal(domain->ctx, state))
      CORRUPT("node %llu: terminal flag %d disagrees with the domain", ULL(id), term);
    if (term && (expd || n_edges)) CORRUPT("node %llu: terminal with out-edges", ULL(id));
    if (!expd && n_edges)
      CORRUPT("node %llu: %u edges but not expanded", ULL(id), n_edges);
    if ((uint64_t)first + n_edges > ne)
      CORRUPT("node %llu: edges [%u, %u + %u) past the end of the %llu edges", ULL(id), first,
              first, n_edges, ULL(ne));
    if (id == 0 && a->node_depth[0] != 0) CORRUPT("root depth %u, not 0", a->node_depth[0]);
    if (!isfinite(reward)) CORRUPT("node %llu: reward sum %g", ULL(id), reward);
    if (term) {
      if (visits > samples)
        CORRUPT("node %llu: %llu visits but selected only %u times", ULL(id), ULL(visits),
                samples);
      if (exh != (exhaust_after > 0 && samples >= exhaust_after))
        CORRUPT("node %llu: terminal selected %u times but exhausted=%d with "
                "search.exhaust_after = %u (was it changed?)",
                ULL(id), samples, exh, exhaust_after);
    } else {
      if (samples) CORRUPT("node %llu: not terminal but %u samples", ULL(id), samples);
      if (exh && !expd) CORRUPT("node %llu: exhausted but never expanded", ULL(id));
    }
    bn__node *node = &t->nodes[id];
    atomic_store_explicit(&node->visits, visits, memory_order_relaxed);
    atomic_store_explicit(&node->reward_sum, bn__double_to_bits(reward), memory_order_relaxed);
    node->first_edge = n_edges ? first : 0;
    node->n_edges = n_edges;
    node->depth = a->node_depth[id];
    atomic_store_explicit(&node->status, expd ? BN__EXPANDED : BN__UNEXPANDED,
                          memory_order_relaxed);
    atomic_store_explicit(&node->flags, (uint8_t)((term ? BN__TERMINAL : 0) |
                                                  (exh ? BN__EXHAUSTED : 0)),
                          memory_order_relaxed);
    atomic_store_explicit(&t->node_samples[id], samples, memory_order_relaxed);
  }

  /* Unique states: the transposition table, rebuilt from the states in one pass. */
  bn_node_id dup = 0, orig = 0;
  err = bn__table_rebuild(t, nn, &dup, &orig);
  if (err == BN_ERR_CORRUPT)
    CORRUPT("node %u: same state as node %u (states must be unique)", dup, orig);
  BN_TRY(err);
  atomic_store_explicit(&t->n_nodes, (uint32_t)nn, memory_order_relaxed);
  atomic_store_explicit(&t->node_reserved, nn, memory_order_relaxed);

  /* Edges on their own: ids in range, inside the parent's range, sane statistics. */
  for (uint64_t e = 0; e < ne; e++) {
    const bn_node_id p = a->edge_parent[e], c = a->edge_child[e];
    if (p >= nn) CORRUPT("edge %llu: parent %u out of range (%llu nodes)", ULL(e), p, ULL(nn));
    if (c >= nn) CORRUPT("edge %llu: child %u out of range (%llu nodes)", ULL(e), c, ULL(nn));
    if (c == 0) CORRUPT("edge %llu: leads back to the root", ULL(e));
    if (c == p) CORRUPT("edge %llu: leads from node %u to itself", ULL(e), p);
    if (!(a->node_flags[p] & BN_NODE_EXPANDED) || e < a->node_first_edge[p] ||
        e >= (uint64_t)a->node_first_edge[p] + a->node_n_edges[p])
      CORRUPT("edge %llu: not in the edge range of its parent %u", ULL(e), p);
    const uint64_t v = a->edge_visits[e];
    const double r = a->edge_reward_sum[e], q = a->edge_reward_sq[e];
    if (!isfinite(r) || !isfinite(q) || q < 0)
      CORRUPT("edge %llu: reward sum %g, square sum %g", ULL(e), r, q);
    const double bound = sqrt((double)v * q); /* Cauchy-Schwarz: |sum r| <= sqrt(N sum r^2) */
    if (fabs(r) > bound * (1 + 1e-9) + 1e-12 || (v == 0 && (r != 0 || q != 0)))
      CORRUPT("edge %llu: reward sum %g impossible with %llu visits and square sum %g", ULL(e),
              r, ULL(v), q);
    incoming *s = &in[c];
    if (__builtin_add_overflow(s->visits, v, &s->visits))
      CORRUPT("node %u: incoming edge visits overflow", c);
    s->reward += r;
    s->abs += bound;
    s->degree++;
    if (a->node_depth[c] == a->node_depth[p] + 1) s->depth_ok = true;

    bn__edge *edge = &t->edges[e];
    edge->child = c;
    atomic_store_explicit(&edge->visits, v, memory_order_relaxed);
    atomic_store_explicit(&edge->reward_sum, bn__double_to_bits(r), memory_order_relaxed);
    atomic_store_explicit(&edge->reward_sq, bn__double_to_bits(q), memory_order_relaxed);
    /* The dead-child hint is derived state: set it now rather than on first selection. */
    atomic_store_explicit(&edge->in_flight,
                          a->node_flags[c] & BN_NODE_EXHAUSTED ? BN__EDGE_DEAD : 0u,
                          memory_order_relaxed);
    t->edge_parent[e] = p;
    t->edge_action[e] = a->edge_action[e];
  }
  atomic_store_explicit(&t->n_edges, ne, memory_order_relaxed);

  /* Nodes with their edges: ranges owned, distinct children, exhaustion, visit sums. */
  bool unexplained = false; /* a node only an undone expansion can explain (see below) */
  for (uint64_t id = 0; id < nn; id++) {
    const uint8_t flags = a->node_flags[id];
    const uint64_t visits = a->node_visits[id];
    if (flags & BN_NODE_EXPANDED) {
      const uint32_t first = a->node_first_edge[id], n_edges = a->node_n_edges[id];
      uint64_t out_visits = 0;
      for (uint32_t i = 0; i < n_edges; i++) {
        const uint64_t e = (uint64_t)first + i;
        const bn_node_id c = a->edge_child[e];
        if (a->edge_parent[e] != id)
          CORRUPT("node %llu: edge %llu in its range names parent %u", ULL(id), ULL(e),
                  a->edge_parent[e]);
        if (stamp[c] == (uint32_t)id + 1)
          CORRUPT("node %llu: two edges lead to child %u", ULL(id), c);
        stamp[c] = (uint32_t)id + 1;
        if ((flags & BN_NODE_EXHAUSTED) && !(a->node_flags[c] & BN_NODE_EXHAUSTED))
          CORRUPT("node %llu: exhausted but its child %u is not", ULL(id), c);
        if (__builtin_add_overflow(out_visits, a->edge_visits[e], &out_visits))
          CORRUPT("node %llu: out-edge visits overflow", ULL(id));
      }
      if (out_visits > visits)
        CORRUPT("node %llu: out-edges carry %llu visits, the node only %llu", ULL(id),
                ULL(out_visits), ULL(visits));
    }
    if (id == 0) {
      if (visits != a->n_backprops)
        CORRUPT("root visits %llu != %llu results applied", ULL(visits), ULL(a->n_backprops));
      continue;
    }
    const incoming *s = &in[id];
    if (visits != s->visits)
      CORRUPT("node %llu: %llu visits but its incoming edges carry %llu", ULL(id), ULL(visits),
              ULL(s->visits));
    const double r = a->node_reward_sum[id];
    const double tol = 1e-12 + 4 * DBL_EPSILON * (double)(visits + 1) * s->abs;
    if (!(fabs(r - s->reward) <= tol))
      CORRUPT("node %llu: reward sum %.17g but its incoming edges carry %.17g", ULL(id), r,
              s->reward);
    /* An expansion undone (store full, domain error) leaves the children it created without
     * their creating edge: nodes with no incoming edge, or none from a parent one level up.
     * They are legitimate (a search that filled its store is the usual reason to restart
     * with a larger one); bn_tree_check accepts them once an undone expansion is on record. */
    if (s->degree == 0) {
      if ((flags & BN_NODE_EXPANDED) || a->node_samples[id])
        CORRUPT("node %llu: no incoming edge, yet expanded or sampled", ULL(id));
      unexplained = true;
    } else if (!s->depth_ok) {
      unexplained = true;
    }
  }

  /* The edges are exactly those expansion would make, with the domain's actions. */
  memset(stamp, 0, nn * sizeof *stamp);
  BN_TRY(check_against_domain(t, a, stamp, why, whylen));

  atomic_store_explicit(&t->n_selects, a->n_backprops, memory_order_relaxed);
  atomic_store_explicit(&t->n_backprops, a->n_backprops, memory_order_relaxed);
  atomic_store_explicit(&t->n_abandons, 0, memory_order_relaxed);
  atomic_store_explicit(&t->expand_failures, unexplained ? 1 : 0, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);

  /* The final guard: every invariant the other files rely on. */
  err = bn_tree_check(t, why, whylen);
  if (err != BN_OK) goto fail;

  free(in);
  free(stamp);
  free(buf);
  *tree = t;
  return BN_OK;
fail:
  free(in);
  free(stamp);
  free(buf);
  bn_tree_destroy(&t);
  return err;
}

bn_err bn_tree_restore_path(bn_tree *t, const bn_path *path) {
  BN_CHECK(t && path, BN_ERR_ARG, "null argument");
  const uint64_t nn = atomic_load_explicit(&t->n_nodes, memory_order_relaxed);
  const uint64_t ne = atomic_load_explicit(&t->n_edges, memory_order_relaxed);
  const int len = path->len;
  BN_CHECK(len >= 0 && len <= bn_tree_path_capacity(t), BN_ERR_CORRUPT,
           "pending path of %d edges (capacity %d)", len, bn_tree_path_capacity(t));
  BN_CHECK(len == 0 || path->edges, BN_ERR_ARG, "path without edge storage");
  BN_CHECK(path->leaf < nn, BN_ERR_CORRUPT, "pending path: leaf %u out of range (%llu nodes)",
           path->leaf, ULL(nn));
  bn_node_id node = 0;
  for (int i = 0; i < len; i++) {
    const bn_edge_id e = path->edges[i];
    BN_CHECK(e < ne, BN_ERR_CORRUPT, "pending path: edge %d is %u, out of range (%llu edges)",
             i, e, ULL(ne));
    BN_CHECK(t->edge_parent[e] == node, BN_ERR_CORRUPT,
             "pending path: edge %d (%u) leaves node %u, not node %u where the path is", i, e,
             t->edge_parent[e], node);
    node = t->edges[e].child;
  }
  BN_CHECK(node == path->leaf, BN_ERR_CORRUPT, "pending path ends at node %u, not at its leaf %u",
           node, path->leaf);

  /* The marks bn_tree_select leaves (root, then each edge and its child); the terminal's
   * sample count is part of the arrays already. */
  atomic_fetch_add_explicit(&t->nodes[0].in_flight, 1, memory_order_relaxed);
  for (int i = 0; i < len; i++) {
    bn__edge *e = &t->edges[path->edges[i]];
    atomic_fetch_add_explicit(&e->in_flight, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->nodes[e->child].in_flight, 1, memory_order_relaxed);
  }
  atomic_fetch_add_explicit(&t->n_selects, 1, memory_order_relaxed);
  return BN_OK;
}
