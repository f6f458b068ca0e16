/* Node and edge stores: flat arrays reserved once in virtual memory.
 *
 * Each array is mapped at its full capacity with MAP_NORESERVE, so it never moves (threads
 * keep reading records while others append) and costs physical memory only for the pages
 * touched. Ids are handed out densely from 0 by atomic counters that never pass the
 * capacity, so a failed allocation leaves no hole. */
#include <stdint.h>
#include <sys/mman.h>

#include "tree/tree_impl.h"

bn_err bn__arena_reserve(size_t bytes, void **out) {
  if (bytes == 0) bytes = 1; /* mmap refuses 0; one page keeps the code uniform */
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) return BN_ERR_NOMEM;
  *out = p;
  return BN_OK;
}

void bn__arena_release(void *p, size_t bytes) {
  if (p) munmap(p, bytes ? bytes : 1);
}

static bn_err reserve_array(uint64_t count, size_t size, size_t *bytes, void **out) {
  size_t b;
  if (count > SIZE_MAX || __builtin_mul_overflow((size_t)count, size, &b)) return BN_ERR_NOMEM;
  BN_CALL(bn__arena_reserve(b, out));
  *bytes = b;
  return BN_OK;
}

bn_err bn__store_reserve(bn_tree *t) {
  bn_err err = BN_OK;
  uint64_t nn = t->params.max_nodes, ne = t->params.max_edges;
  BN_TRY(reserve_array(nn, sizeof(bn__node), &t->bytes_nodes, (void **)&t->nodes));
  BN_TRY(reserve_array(nn, sizeof(uint32_t), &t->bytes_samples, (void **)&t->node_samples));
  BN_TRY(reserve_array(nn, t->state_size, &t->bytes_states, (void **)&t->states));
  BN_TRY(reserve_array(ne, sizeof(bn__edge), &t->bytes_edges, (void **)&t->edges));
  BN_TRY(reserve_array(ne, sizeof(uint32_t), &t->bytes_edge_parent, (void **)&t->edge_parent));
  BN_TRY(reserve_array(ne, sizeof(bn_action), &t->bytes_edge_action, (void **)&t->edge_action));
  BN_TRY(reserve_array(ne, sizeof(uint32_t), &t->bytes_edge_n_actions,
                       (void **)&t->edge_n_actions));
  return BN_OK;
fail:
  bn__store_release(t);
  return err;
}

void bn__store_release(bn_tree *t) {
  bn__arena_release(t->nodes, t->bytes_nodes);
  bn__arena_release(t->node_samples, t->bytes_samples);
  bn__arena_release(t->states, t->bytes_states);
  bn__arena_release(t->edges, t->bytes_edges);
  bn__arena_release(t->edge_parent, t->bytes_edge_parent);
  bn__arena_release(t->edge_action, t->bytes_edge_action);
  bn__arena_release(t->edge_n_actions, t->bytes_edge_n_actions);
  t->nodes = NULL;
  t->node_samples = NULL;
  t->states = NULL;
  t->edges = NULL;
  t->edge_parent = NULL;
  t->edge_action = NULL;
  t->edge_n_actions = NULL;
}

bn_err bn__node_reserve(bn_tree *t) {
  uint64_t n = atomic_load_explicit(&t->node_reserved, memory_order_relaxed);
  do {
    if (n >= t->params.max_nodes) return BN_ERR_FULL;
  } while (!atomic_compare_exchange_weak_explicit(&t->node_reserved, &n, n + 1,
                                                  memory_order_relaxed, memory_order_relaxed));
  return BN_OK;
}

void bn__node_unreserve(bn_tree *t) {
  atomic_fetch_sub_explicit(&t->node_reserved, 1, memory_order_relaxed);
}

bn_node_id bn__node_commit(bn_tree *t, const void *state, uint32_t depth) {
  /* Promises never exceed max_nodes, so neither does this counter. */
  bn_node_id id = atomic_fetch_add_explicit(&t->n_nodes, 1, memory_order_relaxed);
  memcpy(bn__state(t, id), state, t->state_size);
  bn__node *n = &t->nodes[id];
  n->depth = (uint16_t)depth;
  bool term = t->domain->ops->is_terminal(t->domain->ctx, state);
  /* Published to other threads by the release store of the table slot. */
  atomic_store_explicit(&n->flags, term ? BN__TERMINAL : 0, memory_order_relaxed);
  return id;
}

bn_err bn__edges_alloc(bn_tree *t, uint32_t n, bn_edge_id *first) {
  uint64_t e = atomic_load_explicit(&t->n_edges, memory_order_relaxed);
  do {
    if (e + n > t->params.max_edges) return BN_ERR_FULL;
  } while (!atomic_compare_exchange_weak_explicit(&t->n_edges, &e, e + n, memory_order_relaxed,
                                                  memory_order_relaxed));
  *first = (bn_edge_id)e;
  return BN_OK;
}
