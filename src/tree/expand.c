/* Expansion: give a non-terminal node its out-edges, exactly once.
 *
 * The thread that moves the node from UNEXPANDED to EXPANDING (CAS) computes the actions,
 * the canonical child of each, finds or creates each child through the transposition
 * table, merges actions that reach the same child into one edge (as CircuiTree's
 * networkx DiGraph does) while counting them (the edge's multiplicity, which selection
 * weighs new edges by, as CircuiTree's shuffle of the actions does), allocates the edges
 * contiguously and publishes them with a release store of EXPANDED. Other threads that
 * reach the node meanwhile wait. On failure (store full, misbehaving domain) the node goes
 * back to UNEXPANDED; children created before the failure stay in the table and are linked
 * when the node is expanded again. */
#include <stdlib.h>

#include "tree/tree_impl.h"

/* Scratch that fits most domains on the stack; larger ones use the heap. */
#define STACK_ACTIONS 256
#define STACK_STATE 1024

/* Remove duplicate children, keeping the first action that reaches each, in the domain's
 * order, and count in cnt[] the actions that reach each child kept. Returns the new count
 * in *n. Quadratic for small n; sorts a copy for large n. */
static int cmp_pair(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static bn_err dedupe(bn_node_id *kids, bn_action *acts, uint32_t *cnt, int *n) {
  int m = 0;
  if (*n <= 48) {
    for (int i = 0; i < *n; i++) {
      int j = 0;
      while (j < m && kids[j] != kids[i]) j++;
      if (j == m) {
        kids[m] = kids[i];
        acts[m] = acts[i];
        cnt[m] = 0;
        m++;
      }
      cnt[j]++;
    }
    *n = m;
    return BN_OK;
  }
  /* (child << 32 | position): sorting groups a child's actions with the first one first. */
  uint64_t *pairs = malloc((size_t)*n * sizeof *pairs);
  if (!pairs) return BN_ERR_NOMEM;
  for (int i = 0; i < *n; i++) pairs[i] = (uint64_t)kids[i] << 32 | (uint32_t)i;
  qsort(pairs, (size_t)*n, sizeof *pairs, cmp_pair);
  /* Keep the position that comes first in each run of equal children, with the length of
   * the run (0: not kept). */
  uint32_t *keep = calloc((size_t)*n, sizeof *keep);
  if (!keep) {
    free(pairs);
    return BN_ERR_NOMEM;
  }
  for (int i = 0, run = 0; i < *n; i = run) {
    for (run = i + 1; run < *n && (pairs[run] >> 32) == (pairs[i] >> 32); run++) {
    }
    keep[(uint32_t)pairs[i]] = (uint32_t)(run - i);
  }
  for (int i = 0; i < *n; i++)
    if (keep[i]) {
      kids[m] = kids[i];
      acts[m] = acts[i];
      cnt[m] = keep[i];
      m++;
    }
  free(keep);
  free(pairs);
  *n = m;
  return BN_OK;
}

static bn_err expand(bn_tree *t, bn_node_id id) {
  const bn_domain *d = t->domain;
  bn_action acts_stack[STACK_ACTIONS];
  bn_node_id kids_stack[STACK_ACTIONS];
  uint32_t cnt_stack[STACK_ACTIONS];
  unsigned char state_stack[STACK_STATE];
  bn_action *acts = acts_stack;
  bn_node_id *kids = kids_stack;
  uint32_t *cnt = cnt_stack;
  unsigned char *child = state_stack;
  bn_err err = BN_OK;

  if (t->max_actions > STACK_ACTIONS) {
    acts = malloc((size_t)t->max_actions * sizeof *acts);
    kids = malloc((size_t)t->max_actions * sizeof *kids);
    cnt = malloc((size_t)t->max_actions * sizeof *cnt);
    BN_CHECK_GOTO(acts && kids && cnt, BN_ERR_NOMEM, "expansion scratch for %d actions", t->max_actions);
  }
  if (t->state_size > STACK_STATE) {
    child = malloc(t->state_size);
    BN_CHECK_GOTO(child, BN_ERR_NOMEM, "expansion scratch for a state");
  }

  const unsigned char *state = bn__state(t, id);
  int n = d->ops->actions(d->ctx, state, acts, t->max_actions);
  BN_CHECK_GOTO(n >= 0 && n <= t->max_actions, BN_ERR_DOMAIN,
                "domain %s: actions() returned %d (max_actions %d)", d->ops->name, n,
                t->max_actions);
  /* Fail before creating children when the edges cannot fit anyway. */
  BN_CHECK_GOTO(atomic_load_explicit(&t->n_edges, memory_order_relaxed) + (uint64_t)n <=
                    t->params.max_edges,
                BN_ERR_FULL, "edge store full (%llu edges)",
                (unsigned long long)t->params.max_edges);

  uint32_t depth = (uint32_t)t->nodes[id].depth + 1;
  for (int i = 0; i < n; i++) {
    memset(child, 0, t->state_size); /* states are hashed as bytes: no stale padding */
    d->ops->apply(d->ctx, state, acts[i], child);
    if (d->ops->canonicalize) d->ops->canonicalize(d->ctx, child);
    bool created;
    err = bn__table_intern(t, child, depth, &kids[i], &created);
    if (err == BN_ERR_FULL) {
      bn__errorf(__FILE__, __LINE__, __func__, "node store full (%llu nodes)",
                 (unsigned long long)t->params.max_nodes);
      goto fail;
    }
    BN_TRY(err);
    BN_CHECK_GOTO(kids[i] != id, BN_ERR_DOMAIN,
                  "domain %s: action %d leads from a state back to itself", d->ops->name,
                  (int)acts[i]);
  }
  BN_TRY(dedupe(kids, acts, cnt, &n));

  bn_edge_id first = 0;
  if (n > 0) {
    err = bn__edges_alloc(t, (uint32_t)n, &first);
    BN_CHECK_GOTO(err == BN_OK, err, "edge store full (%llu edges)",
                  (unsigned long long)t->params.max_edges);
  }
  for (int i = 0; i < n; i++) {
    /* Fresh edges are zero (mapped zero, never reused): only the links need writing. */
    t->edges[first + (uint32_t)i].child = kids[i];
    t->edge_parent[first + (uint32_t)i] = id;
    t->edge_action[first + (uint32_t)i] = acts[i];
    t->edge_n_actions[first + (uint32_t)i] = cnt[i];
  }
  t->nodes[id].first_edge = first;
  t->nodes[id].n_edges = (uint32_t)n;

fail:
  if (acts != acts_stack) free(acts);
  if (kids != kids_stack) free(kids);
  if (cnt != cnt_stack) free(cnt);
  if (child != state_stack) free(child);
  return err;
}

bn_err bn__ensure_expanded(bn_tree *t, bn_node_id id) {
  bn__node *node = &t->nodes[id];
  unsigned spins = 0;
  uint8_t s = atomic_load_explicit(&node->status, memory_order_acquire);
  while (s != BN__EXPANDED) {
    if (s == BN__UNEXPANDED &&
        atomic_compare_exchange_strong_explicit(&node->status, &s, BN__EXPANDING,
                                                memory_order_acquire, memory_order_acquire)) {
      bn_err err = expand(t, id);
      if (err != BN_OK) {
        atomic_fetch_add_explicit(&t->expand_failures, 1, memory_order_relaxed);
        atomic_store_explicit(&node->status, BN__UNEXPANDED, memory_order_release);
        return err;
      }
      atomic_store_explicit(&node->status, BN__EXPANDED, memory_order_release);
      return BN_OK;
    }
    if (s == BN__EXPANDING) bn__backoff(&spins);
    s = atomic_load_explicit(&node->status, memory_order_acquire);
  }
  return BN_OK;
}
