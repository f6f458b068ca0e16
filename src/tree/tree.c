/* The search graph's lifecycle (create/destroy) and its read accessors.
 *
 * The work is elsewhere: store.c (arenas), transpose.c (transposition table), expand.c,
 * select.c, exhaust.c, backprop.c, best.c, check.c, rollout.c. */
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>

#include "tree/tree_impl.h"

bn_err bn_tree_create(bn_tree **tree, const bn_domain *domain, const bn_tree_params *params) {
  BN_CHECK(tree && domain && domain->ops && params, BN_ERR_ARG, "null argument");
  const bn_domain_ops *ops = domain->ops;
  const bn_domain_info *info = &domain->info;
  BN_CHECK(ops->root && ops->actions && ops->apply && ops->is_terminal, BN_ERR_ARG,
           "domain %s lacks a required function", ops->name ? ops->name : "?");
  BN_CHECK(info->state_size > 0 && info->max_actions > 0 && info->max_depth > 0 &&
               info->max_depth <= UINT16_MAX,
           BN_ERR_ARG, "domain sizes: state_size %zu, max_actions %d, max_depth %d (<= %d)",
           info->state_size, info->max_actions, info->max_depth, UINT16_MAX);
  BN_CHECK(isfinite(params->c) && params->c >= 0, BN_ERR_ARG, "exploration constant %g",
           params->c);
  BN_CHECK(params->rule == BN_SELECT_VIRTUAL_LOSS || params->rule == BN_SELECT_WU_UCT,
           BN_ERR_ARG, "selection rule %d", (int)params->rule);
  BN_CHECK(isfinite(params->virtual_loss) && params->virtual_loss >= 0, BN_ERR_ARG,
           "virtual loss %g", params->virtual_loss);
  BN_CHECK(params->max_nodes >= 1 && params->max_nodes < UINT32_MAX - 1, BN_ERR_ARG,
           "max_nodes %llu", (unsigned long long)params->max_nodes);
  BN_CHECK(params->max_edges < UINT32_MAX - 1, BN_ERR_ARG, "max_edges %llu",
           (unsigned long long)params->max_edges);

  bn_err err = BN_OK;
  void *root = NULL;
  /* The counters are cache-line aligned: calloc does not promise 64. */
  size_t bytes = (sizeof(bn_tree) + 63) / 64 * 64;
  bn_tree *t = aligned_alloc(64, bytes);
  BN_CHECK(t, BN_ERR_NOMEM, "tree header");
  memset(t, 0, bytes);
  t->domain = domain;
  t->params = *params;
  t->state_size = info->state_size;
  t->max_actions = info->max_actions;
  t->max_depth = info->max_depth;

  BN_TRY(bn__store_reserve(t));
  BN_TRY(bn__table_init(&t->table, params->max_nodes));
  root = malloc(t->state_size);
  BN_CHECK_GOTO(root, BN_ERR_NOMEM, "root state");
  memset(root, 0, t->state_size);
  ops->root(domain->ctx, root);
  if (ops->canonicalize) ops->canonicalize(domain->ctx, root);
  bn_node_id id;
  bool created;
  BN_TRY(bn__table_intern(t, root, 0, &id, &created));
  BN_CHECK_GOTO(id == 0 && created, BN_ERR_INTERNAL, "root is node %u", id);
  free(root);
  *tree = t;
  return BN_OK;
fail:
  free(root);
  bn_tree_destroy(&t);
  return err;
}

void bn_tree_destroy(bn_tree **tree) {
  if (!tree || !*tree) return;
  bn_tree *t = *tree;
  bn__table_fini(&t->table);
  bn__store_release(t);
  free(t);
  *tree = NULL;
}

int bn_tree_path_capacity(const bn_tree *tree) { return tree->max_depth + 1; }

static inline bool node_ok(const bn_tree *t, bn_node_id n) {
  return n < atomic_load_explicit((_Atomic uint32_t *)&t->n_nodes, memory_order_relaxed);
}
static inline bool edge_ok(const bn_tree *t, bn_edge_id e) {
  return e < atomic_load_explicit((_Atomic uint64_t *)&t->n_edges, memory_order_relaxed);
}

uint64_t bn_tree_node_count(const bn_tree *t) {
  return atomic_load_explicit((_Atomic uint32_t *)&t->n_nodes, memory_order_relaxed);
}
uint64_t bn_tree_edge_count(const bn_tree *t) {
  return atomic_load_explicit((_Atomic uint64_t *)&t->n_edges, memory_order_relaxed);
}
const void *bn_tree_state(const bn_tree *t, bn_node_id n) {
  return node_ok(t, n) ? bn__state(t, n) : NULL;
}
bool bn_tree_is_terminal(const bn_tree *t, bn_node_id n) {
  return node_ok(t, n) && bn__node_terminal(&t->nodes[n]);
}
bool bn_tree_is_exhausted(const bn_tree *t, bn_node_id n) {
  return node_ok(t, n) && bn__node_exhausted(&t->nodes[n]);
}
uint64_t bn_tree_node_visits(const bn_tree *t, bn_node_id n) {
  return node_ok(t, n) ? atomic_load_explicit(&t->nodes[n].visits, memory_order_relaxed) : 0;
}
double bn_tree_node_reward_sum(const bn_tree *t, bn_node_id n) {
  return node_ok(t, n) ? bn__load_double(&t->nodes[n].reward_sum) : 0;
}
uint64_t bn_tree_node_in_flight(const bn_tree *t, bn_node_id n) {
  return node_ok(t, n) ? atomic_load_explicit(&t->nodes[n].in_flight, memory_order_relaxed) : 0;
}
uint64_t bn_tree_node_samples(const bn_tree *t, bn_node_id n) {
  return node_ok(t, n) ? atomic_load_explicit(&t->node_samples[n], memory_order_relaxed) : 0;
}
int bn_tree_node_depth(const bn_tree *t, bn_node_id n) {
  return node_ok(t, n) ? t->nodes[n].depth : -1;
}

bn_node_id bn_tree_find(const bn_tree *t, const void *state) {
  unsigned char buf[1024];
  unsigned char *s = buf;
  if (!t || !state) return BN_NONE;
  if (!t->domain->ops->canonicalize) return bn__table_lookup(t, state);
  if (t->state_size > sizeof buf && !(s = malloc(t->state_size))) return BN_NONE;
  memcpy(s, state, t->state_size);
  t->domain->ops->canonicalize(t->domain->ctx, s);
  bn_node_id id = bn__table_lookup(t, s);
  if (s != buf) free(s);
  return id;
}

void bn_tree_children(const bn_tree *t, bn_node_id n, bn_edge_id *first, uint32_t *count) {
  *first = 0;
  *count = 0;
  if (!node_ok(t, n)) return;
  const bn__node *node = &t->nodes[n];
  if (atomic_load_explicit((_Atomic uint8_t *)&node->status, memory_order_acquire) !=
      BN__EXPANDED)
    return;
  *first = node->first_edge;
  *count = node->n_edges;
}

bn_node_id bn_tree_edge_child(const bn_tree *t, bn_edge_id e) {
  return edge_ok(t, e) ? t->edges[e].child : BN_NONE;
}
bn_node_id bn_tree_edge_parent(const bn_tree *t, bn_edge_id e) {
  return edge_ok(t, e) ? t->edge_parent[e] : BN_NONE;
}
bn_action bn_tree_edge_action(const bn_tree *t, bn_edge_id e) {
  return edge_ok(t, e) ? t->edge_action[e] : -1;
}
uint32_t bn_tree_edge_n_actions(const bn_tree *t, bn_edge_id e) {
  return edge_ok(t, e) ? t->edge_n_actions[e] : 0;
}
uint64_t bn_tree_edge_visits(const bn_tree *t, bn_edge_id e) {
  return edge_ok(t, e) ? atomic_load_explicit(&t->edges[e].visits, memory_order_relaxed) : 0;
}
uint64_t bn_tree_edge_in_flight(const bn_tree *t, bn_edge_id e) {
  return edge_ok(t, e) ? atomic_load_explicit(&t->edges[e].in_flight, memory_order_relaxed) &
                             BN__EDGE_COUNT
                       : 0;
}
double bn_tree_edge_reward_sum(const bn_tree *t, bn_edge_id e) {
  return edge_ok(t, e) ? bn__load_double(&t->edges[e].reward_sum) : 0;
}
double bn_tree_edge_reward_sq(const bn_tree *t, bn_edge_id e) {
  return edge_ok(t, e) ? bn__load_double(&t->edges[e].reward_sq) : 0;
}

bn__node *bn__tree_node_record(bn_tree *t, bn_node_id id) { return &t->nodes[id]; }
bn__edge *bn__tree_edge_record(bn_tree *t, bn_edge_id id) { return &t->edges[id]; }

bn_err bn__tree_why(char *why, size_t whylen, const char *fmt, ...) {
  if (why && whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return BN_ERR_CORRUPT;
}
