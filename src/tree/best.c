/* The best terminal states found so far: a scan of the node store keeping the top k in a
 * bounded min-heap (O(nodes * log k), no allocation), then sorted best first. */
#include <stdlib.h>

#include "tree/tree_impl.h"

/* Is a better than b? Higher mean, then more visits, then the older node (stable). */
static bool better(const bn_tree_best *a, const bn_tree_best *b) {
  if (a->mean != b->mean) return a->mean > b->mean;
  if (a->visits != b->visits) return a->visits > b->visits;
  return a->node < b->node;
}

/* Min-heap on `better`: h[0] is the worst entry kept. */
static void sift_down(bn_tree_best *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, w = i;
    if (l < n && better(&h[w], &h[l])) w = l;
    if (r < n && better(&h[w], &h[r])) w = r;
    if (w == i) return;
    bn_tree_best tmp = h[i];
    h[i] = h[w];
    h[w] = tmp;
    i = w;
  }
}

static void sift_up(bn_tree_best *h, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!better(&h[p], &h[i])) return;
    bn_tree_best tmp = h[i];
    h[i] = h[p];
    h[p] = tmp;
    i = p;
  }
}

size_t bn_tree_best_terminals(const bn_tree *t, size_t k, uint64_t min_visits,
                              bn_tree_best *out) {
  if (!t || !out || k == 0) return 0;
  if (min_visits == 0) min_visits = 1; /* a mean needs a visit */
  size_t m = 0;
  uint32_t n = atomic_load_explicit((_Atomic uint32_t *)&t->n_nodes, memory_order_relaxed);
  for (bn_node_id id = 0; id < n; id++) {
    const bn__node *node = &t->nodes[id];
    if (!bn__node_terminal(node)) continue;
    uint64_t v = atomic_load_explicit((_Atomic uint64_t *)&node->visits, memory_order_relaxed);
    if (v < min_visits) continue;
    bn_tree_best c = {id, bn__load_double(&node->reward_sum) / (double)v, v};
    if (m < k) {
      out[m] = c;
      sift_up(out, m++);
    } else if (better(&c, &out[0])) {
      out[0] = c;
      sift_down(out, m, 0);
    }
  }
  /* Heap sort in place: move the worst to the end, repeatedly. */
  for (size_t end = m; end > 1; end--) {
    bn_tree_best tmp = out[0];
    out[0] = out[end - 1];
    out[end - 1] = tmp;
    sift_down(out, end - 1, 0);
  }
  return m;
}
