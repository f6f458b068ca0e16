/* Exhaustion (CircuiTree's n_exhausted): a terminal sampled `exhaust_after` times is no
 * longer selected; a node whose children are all exhausted is exhausted too, and so on up
 * the path; an exhausted root ends the search.
 *
 * Propagation walks up the path that reached the node, not every parent of the DAG: a
 * parent elsewhere learns it when a selection reaches it and finds nothing selectable
 * (select.c marks it then). Flags are set and read with sequentially consistent order
 * here, so two threads exhausting the last two children of one parent cannot both miss
 * the other's mark. */
#include "tree/tree_impl.h"

static void mark_exhausted(bn__node *n) {
  atomic_fetch_or_explicit(&n->flags, BN__EXHAUSTED, memory_order_seq_cst);
}

bool bn__children_exhausted(bn_tree *t, bn_node_id id) {
  const bn__node *n = &t->nodes[id];
  if (atomic_load_explicit((_Atomic uint8_t *)&n->status, memory_order_acquire) != BN__EXPANDED)
    return false;
  for (uint32_t i = 0; i < n->n_edges; i++) {
    bn__edge *e = &t->edges[n->first_edge + i];
    if (atomic_load_explicit(&e->in_flight, memory_order_relaxed) & BN__EDGE_DEAD) continue;
    if (!(atomic_load_explicit(&t->nodes[e->child].flags, memory_order_seq_cst) & BN__EXHAUSTED))
      return false;
    atomic_fetch_or_explicit(&e->in_flight, BN__EDGE_DEAD, memory_order_relaxed);
  }
  return true;
}

void bn__exhaust(bn_tree *t, bn_node_id node, const bn_edge_id *edges, int len) {
  mark_exhausted(&t->nodes[node]);
  for (int i = len - 1; i >= 0; i--) {
    atomic_fetch_or_explicit(&t->edges[edges[i]].in_flight, BN__EDGE_DEAD, memory_order_relaxed);
    bn_node_id parent = t->edge_parent[edges[i]];
    /* Go on even if the parent is already exhausted: whoever marked it walked up its own
     * path, and ours may reach the root through other ancestors. */
    if (!bn__children_exhausted(t, parent)) return;
    mark_exhausted(&t->nodes[parent]);
  }
}
