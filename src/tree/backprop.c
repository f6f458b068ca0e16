/* Backpropagation and abandonment: apply a finished evaluation along its selection path,
 * or drop a failed one's in-flight marks so no phantom visit remains.
 *
 * Only the path taken is updated (CircuiTree backpropagates along the selection path, not
 * to every parent of the DAG), so a node's visits equal the sum of its incoming edges'
 * visits. Visits are added before in-flight marks are removed (release), so selection
 * never sees a visited edge with neither visits nor marks and takes it for new. */
#include "tree/tree_impl.h"

void bn__unmark(bn_tree *t, const bn_edge_id *edges, int len) {
  for (int i = 0; i < len; i++) {
    bn__edge *e = &t->edges[edges[i]];
    atomic_fetch_sub_explicit(&e->in_flight, 1, memory_order_release);
    atomic_fetch_sub_explicit(&t->nodes[e->child].in_flight, 1, memory_order_relaxed);
  }
  atomic_fetch_sub_explicit(&t->nodes[0].in_flight, 1, memory_order_relaxed);
}

static void visit_node(bn__node *n, double reward) {
  atomic_fetch_add_explicit(&n->visits, 1, memory_order_relaxed);
  bn__add_double(&n->reward_sum, reward);
}

void bn_tree_backprop(bn_tree *t, const bn_path *path, double reward) {
  if (!t || !path) return;
  const double sq = reward * reward;
  visit_node(&t->nodes[0], reward);
  for (int i = 0; i < path->len; i++) {
    bn__edge *e = &t->edges[path->edges[i]];
    atomic_fetch_add_explicit(&e->visits, 1, memory_order_relaxed);
    bn__add_double(&e->reward_sum, reward);
    bn__add_double(&e->reward_sq, sq);
    visit_node(&t->nodes[e->child], reward);
  }
  bn__unmark(t, path->edges, path->len);
  atomic_fetch_add_explicit(&t->n_backprops, 1, memory_order_relaxed);
}

void bn_tree_abandon(bn_tree *t, const bn_path *path) {
  if (!t || !path) return;
  bn__unmark(t, path->edges, path->len);
  atomic_fetch_add_explicit(&t->n_abandons, 1, memory_order_relaxed);
}
