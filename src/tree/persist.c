/* Export of the search graph as structure-of-arrays, for checkpoints.
 *
 * The tree is quiescent (the caller has paused its threads), so this is a straight copy:
 * one allocation per array, then one pass over the node records and one over the edge
 * records, each writing its columns side by side. What is derived or transient stays out:
 * in-flight counts (a checkpoint stores the pending paths instead). The EDGE_DEAD mark goes
 * out as BN_EDGE_CHILD_EXHAUSTED: selection sets it lazily and it changes later random
 * draws, so an exact restart needs it. The reverse is in import.c. Without the states, the
 * same copy feeds bn_tree_check the arrays graph.c checks. */
#include <stdlib.h>

#include "tree/tree_impl.h"

/* malloc(count * size), never of 0 bytes, so an empty array is still a valid pointer. */
static void *alloc_array(uint64_t count, size_t size) {
  size_t bytes;
  if (count == 0) count = 1;
  if (count > SIZE_MAX || __builtin_mul_overflow((size_t)count, size, &bytes)) return NULL;
  return malloc(bytes);
}

void bn_tree_arrays_free(bn_tree_arrays *a) {
  if (!a) return;
  free(a->states);
  free(a->node_visits);
  free(a->node_reward_sum);
  free(a->node_first_edge);
  free(a->node_n_edges);
  free(a->node_depth);
  free(a->node_flags);
  free(a->node_samples);
  free(a->edge_parent);
  free(a->edge_child);
  free(a->edge_action);
  free(a->edge_n_actions);
  free(a->edge_visits);
  free(a->edge_reward_sum);
  free(a->edge_reward_sq);
  free(a->edge_flags);
  memset(a, 0, sizeof *a);
}

bn_err bn_tree_export(const bn_tree *t, bn_tree_arrays *out) {
  return bn__tree_export(t, true, out);
}

bn_err bn__tree_export(const bn_tree *t, bool states, bn_tree_arrays *out) {
  BN_CHECK(t && out, BN_ERR_ARG, "null argument");
  bn_err err = BN_OK;
  const uint64_t nn = atomic_load_explicit((_Atomic uint32_t *)&t->n_nodes, memory_order_acquire);
  const uint64_t ne = atomic_load_explicit((_Atomic uint64_t *)&t->n_edges, memory_order_acquire);
  bn_tree_arrays a = {.n_nodes = nn, .n_edges = ne, .state_size = t->state_size};

  if (states) a.states = alloc_array(nn, t->state_size);
  a.node_visits = alloc_array(nn, sizeof *a.node_visits);
  a.node_reward_sum = alloc_array(nn, sizeof *a.node_reward_sum);
  a.node_first_edge = alloc_array(nn, sizeof *a.node_first_edge);
  a.node_n_edges = alloc_array(nn, sizeof *a.node_n_edges);
  a.node_depth = alloc_array(nn, sizeof *a.node_depth);
  a.node_flags = alloc_array(nn, sizeof *a.node_flags);
  a.node_samples = alloc_array(nn, sizeof *a.node_samples);
  a.edge_parent = alloc_array(ne, sizeof *a.edge_parent);
  a.edge_child = alloc_array(ne, sizeof *a.edge_child);
  a.edge_action = alloc_array(ne, sizeof *a.edge_action);
  a.edge_n_actions = alloc_array(ne, sizeof *a.edge_n_actions);
  a.edge_visits = alloc_array(ne, sizeof *a.edge_visits);
  a.edge_reward_sum = alloc_array(ne, sizeof *a.edge_reward_sum);
  a.edge_reward_sq = alloc_array(ne, sizeof *a.edge_reward_sq);
  a.edge_flags = alloc_array(ne, sizeof *a.edge_flags);
  BN_CHECK_GOTO((a.states || !states) && a.node_visits && a.node_reward_sum && a.node_first_edge &&
                    a.node_n_edges && a.node_depth && a.node_flags && a.node_samples &&
                    a.edge_parent && a.edge_child && a.edge_action && a.edge_n_actions &&
                    a.edge_visits && a.edge_reward_sum && a.edge_reward_sq && a.edge_flags,
                BN_ERR_NOMEM, "export arrays for %llu nodes and %llu edges",
                (unsigned long long)nn, (unsigned long long)ne);

  if (states) memcpy(a.states, t->states, (size_t)nn * t->state_size);
  for (uint64_t i = 0; i < nn; i++) {
    const bn__node *n = &t->nodes[i];
    const uint8_t status = atomic_load_explicit((_Atomic uint8_t *)&n->status,
                                                memory_order_acquire);
    const uint8_t f = atomic_load_explicit((_Atomic uint8_t *)&n->flags, memory_order_relaxed);
    /* A node half expanded means a thread is still running: its edges would be orphans. */
    BN_CHECK_GOTO(status != BN__EXPANDING, BN_ERR_ARG,
                  "node %llu is being expanded: export needs a quiescent tree",
                  (unsigned long long)i);
    const bool expanded = status == BN__EXPANDED;
    a.node_visits[i] = atomic_load_explicit((_Atomic uint64_t *)&n->visits, memory_order_relaxed);
    a.node_reward_sum[i] = bn__load_double(&n->reward_sum);
    a.node_n_edges[i] = expanded ? n->n_edges : 0;
    a.node_first_edge[i] = expanded && n->n_edges ? n->first_edge : 0;
    a.node_depth[i] = n->depth;
    a.node_flags[i] = (uint8_t)((f & BN__TERMINAL ? BN_NODE_TERMINAL : 0) |
                                (f & BN__EXHAUSTED ? BN_NODE_EXHAUSTED : 0) |
                                (expanded ? BN_NODE_EXPANDED : 0));
    a.node_samples[i] = atomic_load_explicit((_Atomic uint32_t *)&t->node_samples[i],
                                             memory_order_relaxed);
  }
  for (uint64_t e = 0; e < ne; e++) {
    const bn__edge *edge = &t->edges[e];
    a.edge_parent[e] = t->edge_parent[e];
    a.edge_child[e] = edge->child;
    a.edge_action[e] = t->edge_action[e];
    a.edge_n_actions[e] = t->edge_n_actions[e];
    a.edge_visits[e] = atomic_load_explicit((_Atomic uint64_t *)&edge->visits,
                                            memory_order_relaxed);
    a.edge_reward_sum[e] = bn__load_double(&edge->reward_sum);
    a.edge_reward_sq[e] = bn__load_double(&edge->reward_sq);
    a.edge_flags[e] = (atomic_load_explicit(&edge->in_flight, memory_order_relaxed) & BN__EDGE_DEAD)
                          ? BN_EDGE_CHILD_EXHAUSTED
                          : 0;
  }
  a.n_backprops = atomic_load_explicit((_Atomic uint64_t *)&t->nodes[0].visits,
                                       memory_order_relaxed);
  *out = a;
  return BN_OK;
fail:
  bn_tree_arrays_free(&a);
  return err;
}
