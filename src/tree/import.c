/* Import of the search graph from arrays (a checkpoint read back), and the in-flight marks
 * of the iterations that were pending when it was written.
 *
 * The arrays may come from a damaged or hostile file, so nothing in them is trusted until
 * checked, and the first problem is reported in words with BN_ERR_CORRUPT:
 *
 *   1. sizes and capacity, before any array is read; node 0 is the domain's root;
 *   2. links, without calling the domain: the rules of graph.c, shared with bn_tree_check
 *      (flags, every id and edge range in bounds, each edge in exactly one node's range,
 *      distinct children, acyclic, ...); then the tree is built from the arrays, states
 *      unique while the transposition table is rebuilt;
 *   3. states against the domain. A state is trusted once derived: the root, then each
 *      child an expanded trusted node's actions lead to. Expansion (expand.c) is replayed
 *      for every expanded node, and its edges must be exactly the ones it would make (same
 *      children, canonical, same first actions, same order, same number of actions reaching
 *      each child: these counts are derived here, and checked against the arrays' when they
 *      have them). So the domain's functions only
 *      ever see states it produced itself, never raw bytes from the file; and a state that
 *      is not canonical, or not the child it claims to be, is caught. Nodes that no edge
 *      reaches (children of an expansion undone when a store filled up) are derived from
 *      the unexpanded nodes in a second pass, needed only when they exist;
 *   4. statistics, graph.c's rules again: finite rewards, node visits == sum of incoming
 *      edge visits, reward sums, samples and exhaustion.
 *
 * The tree is handed out only when everything holds, after bn_tree_check as a last guard.
 * Every pass is O(N + E); step 3 costs about one expansion per expanded node. */
#include <limits.h>
#include <stdlib.h>

#include "tree/tree_impl.h"

/* Step 3's state: which nodes are trusted, a stack of those to expand, scratch. */
enum { UNTRUSTED = 0, TRUSTED = 1, DONE = 2 };
typedef struct derive {
  bn_tree *t;
  const bn_tree_arrays *a;
  uint8_t *trust;     /* UNTRUSTED / TRUSTED (derived, not yet replayed) / DONE */
  uint32_t *stamp;    /* node + 1 of the last expansion that listed the child */
  uint32_t *edge_of;  /* the edge of that expansion leading to the child */
  bn_node_id *stack;  /* TRUSTED nodes the id-order sweep has passed already */
  uint64_t depth;     /* entries on the stack */
  uint64_t untrusted; /* nodes still UNTRUSTED */
  bn_action *acts;
  unsigned char *child;
  char *why;
  size_t whylen;
} derive;

/* Compute the children of trusted `state` into x->child one by one: the domain's actions
 * in x->acts, or BN_ERR_DOMAIN. */
static bn_err domain_actions(derive *x, uint64_t id, const unsigned char *state, int *n) {
  const bn_domain *d = x->t->domain;
  *n = d->ops->actions(d->ctx, state, x->acts, x->t->max_actions);
  if (*n < 0 || *n > x->t->max_actions) {
    bn__tree_why(x->why, x->whylen, "domain %s: actions() returned %d (max_actions %d) at node %llu",
            d->ops->name, *n, x->t->max_actions, BN__ULL(id));
    return BN_ERR_DOMAIN;
  }
  return BN_OK;
}
static void domain_child(derive *x, const unsigned char *state, bn_action action) {
  const bn_domain *d = x->t->domain;
  memset(x->child, 0, x->t->state_size); /* as expand.c: states are compared as bytes */
  d->ops->apply(d->ctx, state, action, x->child);
  if (d->ops->canonicalize) d->ops->canonicalize(d->ctx, x->child);
}

static void trust(derive *x, bn_node_id c, uint64_t sweep) {
  if (x->trust[c] != UNTRUSTED) return;
  x->trust[c] = TRUSTED;
  x->untrusted--;
  if (c < sweep) x->stack[x->depth++] = c; /* else the sweep gets there */
}

/* Replay the expansion of trusted node `id`: its terminal flag must be the domain's, and its
 * edges exactly those expand.c makes. Walking the actions in order, an action is either the
 * next edge's (and leads to that edge's child) or leads to the child of an edge already
 * walked (actions reaching one child share the edge of the first, which counts them).
 * Children are trusted. */
static bn_err replay(derive *x, bn_node_id id, uint64_t sweep) {
  bn_tree *t = x->t;
  const bn_tree_arrays *a = x->a;
  const bn_domain *d = t->domain;
  const size_t ss = t->state_size;
  char *why = x->why;
  size_t whylen = x->whylen;
  bn_err err = BN_OK;
  const unsigned char *state = bn__state(t, id);
  const bool term = a->node_flags[id] & BN_NODE_TERMINAL;
  x->trust[id] = DONE;
  if (term != d->ops->is_terminal(d->ctx, state))
    BN__VIOLATION("node %u: terminal flag %d disagrees with the domain", id, term);
  if (!(a->node_flags[id] & BN_NODE_EXPANDED)) return BN_OK;

  const uint32_t first = a->node_first_edge[id], m = a->node_n_edges[id];
  int n;
  BN__QUIET(domain_actions(x, id, state, &n));
  uint32_t j = 0;
  for (int i = 0; i < n; i++) {
    domain_child(x, state, x->acts[i]);
    if (j < m && a->edge_action[first + j] == x->acts[i]) {
      const bn_node_id c = a->edge_child[first + j];
      if (memcmp(x->child, bn__state(t, c), ss) != 0)
        BN__VIOLATION("edge %llu: its child %u does not hold the canonical state that action %d "
                "leads to from node %u",
                BN__ULL(first + j), c, (int)x->acts[i], id);
      x->stamp[c] = id + 1;
      x->edge_of[c] = first + j;
      t->edge_n_actions[first + j] = 1;
      trust(x, c, sweep);
      j++;
      continue;
    }
    const bn_node_id k = bn__table_lookup(t, x->child);
    if (k == BN_NONE)
      BN__VIOLATION("node %u: action %d leads to a state missing from the graph (edges lost, or "
              "another domain configuration?)",
              id, (int)x->acts[i]);
    if (x->stamp[k] != id + 1)
      BN__VIOLATION("node %u: action %d leads to node %u, but no edge before edge %llu does "
              "(edges out of the domain's order?)",
              id, (int)x->acts[i], k, BN__ULL(first + j));
    t->edge_n_actions[x->edge_of[k]]++;
  }
  if (j != m)
    BN__VIOLATION("node %u: %u edges, but the domain's actions give %u (edge %llu, action %d, is "
            "not one of them)",
            id, m, j, BN__ULL(first + j), (int)a->edge_action[first + j]);
  if (a->edge_n_actions)
    for (uint32_t i = 0; i < m; i++)
      if (a->edge_n_actions[first + i] != t->edge_n_actions[first + i])
        BN__VIOLATION("edge %llu: %u of node %u's actions reach its child, not %u",
                BN__ULL(first + i), t->edge_n_actions[first + i], id, a->edge_n_actions[first + i]);
fail:
  return err;
}

static bn_err drain(derive *x, uint64_t sweep) {
  bn_err err = BN_OK;
  while (x->depth > 0) BN__QUIET(replay(x, x->stack[--x->depth], sweep));
fail:
  return err;
}

/* Step 3. Ids are dense in creation order and a node is created by its first parent, so a
 * sweep in id order almost always meets a node after the parent that trusts it; the stack
 * takes the others. */
static bn_err derive_states(derive *x) {
  const bn_tree_arrays *a = x->a;
  const uint64_t nn = a->n_nodes;
  char *why = x->why;
  size_t whylen = x->whylen;
  bn_err err = BN_OK;
  x->trust[0] = TRUSTED; /* compared with the domain's root already */
  x->untrusted = nn - 1;
  for (uint64_t id = 0; id < nn; id++) {
    if (x->trust[id] != TRUSTED) continue;
    BN__QUIET(replay(x, (bn_node_id)id, id));
    BN__QUIET(drain(x, id));
  }
  /* No edge leads to the children of an expansion undone (store full, domain error) unless
   * their parent was expanded later: their parent is an unexpanded node. */
  for (uint64_t id = 0; id < nn && x->untrusted > 0; id++) {
    if (x->trust[id] != DONE || (a->node_flags[id] & (BN_NODE_EXPANDED | BN_NODE_TERMINAL)))
      continue;
    const unsigned char *state = bn__state(x->t, (bn_node_id)id);
    int n;
    BN__QUIET(domain_actions(x, id, state, &n));
    for (int i = 0; i < n; i++) {
      domain_child(x, state, x->acts[i]);
      const bn_node_id k = bn__table_lookup(x->t, x->child);
      if (k != BN_NONE) trust(x, k, nn);
    }
    BN__QUIET(drain(x, nn));
  }
  if (x->untrusted > 0)
    for (uint64_t id = 0; id < nn; id++)
      if (x->trust[id] == UNTRUSTED)
        BN__VIOLATION("node %llu: not reachable from the root by the domain's actions", BN__ULL(id));
fail:
  return err;
}

bn_err bn_tree_import(bn_tree **tree, const bn_domain *domain, const bn_tree_params *params,
                      const bn_tree_arrays *a, char *why, size_t whylen) {
  if (why && whylen) why[0] = '\0';
  BN_CHECK(tree && domain && domain->ops && params && a, BN_ERR_ARG, "null argument");
  const bn_domain_ops *ops = domain->ops;
  const uint64_t nn = a->n_nodes, ne = a->n_edges;
  const size_t ss = domain->info.state_size;
  /* Nodes without their creating edge are allowed: a search that filled its store and
   * undid an expansion is the usual reason to restart with a larger one. */
  const bn__graph_rules rules = {.max_nodes = params->max_nodes,
                                 .max_edges = params->max_edges,
                                 .exhaust_after = params->exhaust_after,
                                 .max_actions = domain->info.max_actions,
                                 .orphans_allowed = true};
  bn_err err = BN_OK;
  bn_tree *t = NULL;
  bool undone = false; /* some node only an undone expansion explains */
  derive x = {.a = a, .why = why, .whylen = whylen};

  /* 1. Sizes and capacity, before any array is read; the root. */
  if (a->state_size != ss)
    BN__VIOLATION("states of %zu bytes, but domain %s has %zu-byte states", a->state_size,
            ops->name ? ops->name : "?", ss);
  BN__QUIET(bn__graph_check_size(nn, ne, &rules, why, whylen));
  if (!a->states) BN__VIOLATION("the state array is missing");
  BN_TRY(bn_tree_create(&t, domain, params)); /* the domain's root as node 0, as a new search */
  if (memcmp(a->states, bn__state(t, 0), ss) != 0)
    BN__VIOLATION("node 0 is not the root state of domain %s (another domain or configuration?)",
            ops->name ? ops->name : "?");

  /* 2. Links (graph.c); from here on every id and range in the arrays can be followed. */
  BN__QUIET(bn__graph_check_links(a, &rules, &undone, why, whylen));
  memcpy(t->states, a->states, (size_t)nn * ss);
  for (uint64_t id = 0; id < nn; id++) {
    const uint8_t flags = a->node_flags[id];
    const uint32_t n_edges = a->node_n_edges[id];
    bn__node *node = &t->nodes[id];
    atomic_store_explicit(&node->visits, a->node_visits[id], memory_order_relaxed);
    atomic_store_explicit(&node->reward_sum, bn__double_to_bits(a->node_reward_sum[id]),
                          memory_order_relaxed);
    node->first_edge = n_edges ? a->node_first_edge[id] : 0;
    node->n_edges = n_edges;
    node->depth = a->node_depth[id];
    atomic_store_explicit(&node->status,
                          (flags & BN_NODE_EXPANDED) ? BN__EXPANDED : BN__UNEXPANDED,
                          memory_order_relaxed);
    atomic_store_explicit(&node->flags,
                          (uint8_t)((flags & BN_NODE_TERMINAL ? BN__TERMINAL : 0) |
                                    (flags & BN_NODE_EXHAUSTED ? BN__EXHAUSTED : 0)),
                          memory_order_relaxed);
    atomic_store_explicit(&t->node_samples[id], a->node_samples[id], memory_order_relaxed);
  }
  /* Unique states: the transposition table, rebuilt from the bytes (no domain call). */
  bn_node_id dup = 0, orig = 0;
  err = bn__table_rebuild(t, nn, &dup, &orig);
  if (err == BN_ERR_CORRUPT)
    BN__VIOLATION("node %u: same state as node %u (states must be unique)", dup, orig);
  BN_TRY(err);
  atomic_store_explicit(&t->n_nodes, (uint32_t)nn, memory_order_relaxed);
  atomic_store_explicit(&t->node_reserved, nn, memory_order_relaxed);
  for (uint64_t e = 0; e < ne; e++) {
    const bn_node_id c = a->edge_child[e];
    bn__edge *edge = &t->edges[e];
    edge->child = c;
    atomic_store_explicit(&edge->visits, a->edge_visits[e], memory_order_relaxed);
    atomic_store_explicit(&edge->reward_sum, bn__double_to_bits(a->edge_reward_sum[e]),
                          memory_order_relaxed);
    atomic_store_explicit(&edge->reward_sq, bn__double_to_bits(a->edge_reward_sq[e]),
                          memory_order_relaxed);
    /* The dead-child mark as saved (it steers later random draws); without saved flags,
     * derived from the child. */
    const bool dead = a->edge_flags ? (a->edge_flags[e] & BN_EDGE_CHILD_EXHAUSTED) != 0
                                    : (a->node_flags[c] & BN_NODE_EXHAUSTED) != 0;
    atomic_store_explicit(&edge->in_flight, dead ? BN__EDGE_DEAD : 0u, memory_order_relaxed);
    t->edge_parent[e] = a->edge_parent[e];
    t->edge_action[e] = a->edge_action[e];
    /* edge_n_actions: counted by the replay of step 3, then compared with the arrays'. */
  }
  atomic_store_explicit(&t->n_edges, ne, memory_order_relaxed);

  /* 3. States against the domain. */
  x.t = t;
  x.trust = calloc(nn, 1);
  x.stamp = calloc(nn, sizeof *x.stamp);
  x.edge_of = malloc(nn * sizeof *x.edge_of);
  x.stack = malloc(nn * sizeof *x.stack);
  x.acts = malloc((size_t)t->max_actions * sizeof *x.acts);
  x.child = malloc(ss);
  BN_CHECK_GOTO(x.trust && x.stamp && x.edge_of && x.stack && x.acts && x.child, BN_ERR_NOMEM,
                "import scratch for %llu nodes", BN__ULL(nn));
  BN__QUIET(derive_states(&x));

  /* 4. Statistics (graph.c). */
  BN__QUIET(bn__graph_check_stats(a, &rules, why, whylen));

  atomic_store_explicit(&t->n_selects, a->n_backprops, memory_order_relaxed);
  atomic_store_explicit(&t->n_backprops, a->n_backprops, memory_order_relaxed);
  atomic_store_explicit(&t->n_abandons, 0, memory_order_relaxed);
  /* bn_tree_check accepts nodes without their creating edge once an undone expansion is on
   * record. */
  atomic_store_explicit(&t->expand_failures, undone ? 1 : 0, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);

  /* The last guard: every invariant the other files rely on, on the tree as built. */
  err = bn_tree_check(t, why, whylen);
  if (err != BN_OK) goto fail;
  *tree = t;
  t = NULL;
fail:
  free(x.trust);
  free(x.stamp);
  free(x.edge_of);
  free(x.stack);
  free(x.acts);
  free(x.child);
  bn_tree_destroy(&t);
  return err;
}

bn_err bn_tree_check_arrays(const bn_tree_params *params, const bn_tree_arrays *a, char *why,
                            size_t whylen) {
  if (why && whylen) why[0] = '\0';
  BN_CHECK(params && a, BN_ERR_ARG, "null argument");
  /* Steps 2 and 4 of bn_tree_import: without the domain, a node's action counts are bounded
   * only by what an int holds, and states are neither compared nor replayed. */
  const bn__graph_rules rules = {.max_nodes = params->max_nodes < UINT32_MAX - 1 ? params->max_nodes : UINT32_MAX - 2,
                                 .max_edges = params->max_edges,
                                 .exhaust_after = params->exhaust_after,
                                 .max_actions = INT_MAX,
                                 .orphans_allowed = true};
  BN_CALL(bn__graph_check_links(a, &rules, NULL, why, whylen));
  return bn__graph_check_stats(a, &rules, why, whylen);
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
           path->leaf, BN__ULL(nn));
  bn_node_id node = 0;
  for (int i = 0; i < len; i++) {
    const bn_edge_id e = path->edges[i];
    BN_CHECK(e < ne, BN_ERR_CORRUPT, "pending path: edge %d is %u, out of range (%llu edges)",
             i, e, BN__ULL(ne));
    BN_CHECK(t->edge_parent[e] == node, BN_ERR_CORRUPT,
             "pending path: edge %d (%u) leaves node %u, not node %u where the path is", i, e,
             t->edge_parent[e], node);
    node = t->edges[e].child;
  }
  BN_CHECK(node == path->leaf, BN_ERR_CORRUPT,
           "pending path ends at node %u, not at its leaf %u", node, path->leaf);

  /* The marks bn_tree_select leaves: the root, then each edge and its child. The sample a
   * terminal leaf counted at selection is in the arrays already. */
  atomic_fetch_add_explicit(&t->nodes[0].in_flight, 1, memory_order_relaxed);
  for (int i = 0; i < len; i++) {
    bn__edge *e = &t->edges[path->edges[i]];
    atomic_fetch_add_explicit(&e->in_flight, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->nodes[e->child].in_flight, 1, memory_order_relaxed);
  }
  atomic_fetch_add_explicit(&t->n_selects, 1, memory_order_relaxed);
  return BN_OK;
}
