/* Private layout of the search graph (src/tree/ only; no other module includes this).
 *
 * The graph is a handful of flat arrays reserved once in virtual memory (store.c), so
 * records never move while other threads read them and pages are committed only when
 * touched:
 *
 *   nodes[]        hot node records, 32 bytes, read on every selection step
 *   node_samples[] uint32 per node, touched only when a terminal is selected
 *   states[]       state_size bytes per node (the canonical state)
 *   edges[]        hot edge records, 32 bytes, read on every selection step
 *   edge_parent[]  uint32 per edge: the node whose range holds the edge (exhaustion walks
 *                  up through it; the checkpoint writer needs it)
 *   edge_action[]  int32 per edge: the first action (in the domain's order) that led to it
 *   edge_n_actions[] uint32 per edge: how many of the parent's actions reach its child (>= 1);
 *                  selection weighs new edges by it (select.c)
 *
 * A node's out-edges are one contiguous range [first_edge, first_edge + n_edges), written
 * once by the thread that expands it and published by a release store of `status`.
 * Statistics are C11 atomics updated with relaxed order: they are counters, and a reader
 * that sees a value a moment stale is fine. Doubles are kept as their bit patterns in
 * uint64 atomics and updated with a compare-exchange loop. */
#ifndef BANYAN_TREE_IMPL_H
#define BANYAN_TREE_IMPL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "banyan/tree.h"

/* bn__node.status: expansion state machine, moved forward by CAS. */
enum { BN__UNEXPANDED = 0, BN__EXPANDING = 1, BN__EXPANDED = 2 };
/* bn__node.flags */
enum { BN__TERMINAL = 1u, BN__EXHAUSTED = 2u };

/* Edge in_flight word: low 31 bits count evaluations in flight through the edge; bit 31 is
 * a hint that the child is known to be exhausted, so selection skips the edge without
 * touching the child's record. Counts never reach 2^31, so adding and subtracting 1 leaves
 * the hint bit alone. */
#define BN__EDGE_DEAD 0x80000000u
#define BN__EDGE_COUNT 0x7fffffffu

typedef struct bn__node {
  _Atomic uint64_t visits;     /* backprops through the node (the root: all of them) */
  _Atomic uint64_t reward_sum; /* bits of a double */
  uint32_t first_edge;         /* valid once status == EXPANDED (acquire) */
  uint32_t n_edges;            /* idem; 0 for terminals and dead ends */
  _Atomic uint32_t in_flight;  /* selections in flight whose path holds the node */
  uint16_t depth;              /* edges from the root when the node was created */
  _Atomic uint8_t status;      /* BN__UNEXPANDED / EXPANDING / EXPANDED */
  _Atomic uint8_t flags;       /* BN__TERMINAL (set before publication) | BN__EXHAUSTED */
} bn__node;

typedef struct bn__edge {
  _Atomic uint64_t visits;
  _Atomic uint64_t reward_sum; /* bits of a double */
  _Atomic uint64_t reward_sq;  /* bits of a double: sum of squared rewards */
  uint32_t child;              /* written before the parent's status is published */
  _Atomic uint32_t in_flight;  /* BN__EDGE_COUNT bits | BN__EDGE_DEAD hint */
} bn__edge;

_Static_assert(sizeof(bn__node) == 32, "node record: two per cache line");
_Static_assert(sizeof(bn__edge) == 32, "edge record: two per cache line");

/* The transposition table: open addressing, linear probing, power-of-two capacity.
 * A slot is 0 (empty), tag << 32 (reserved: a thread is creating the node) or
 * tag << 32 | (id + 1) (published). Tags always have bit 31 set, so a used slot is never
 * 0. Slots are claimed by CAS and never emptied, so probe chains have no holes. The table
 * grows under the write side of `lock`; every other access holds the read side. */
typedef struct bn__table {
  pthread_rwlock_t lock;
  _Atomic uint64_t *slots;
  uint64_t mask;           /* capacity - 1; changed only under the write lock */
  _Atomic uint64_t used;   /* slots reserved or published */
  uint64_t max_capacity;   /* no growth beyond this (2 * max_nodes, rounded up) */
} bn__table;

struct bn_tree {
  const bn_domain *domain; /* borrowed */
  bn_tree_params params;
  size_t state_size;
  int max_actions;
  int max_depth;

  /* Stores (store.c). Reserved sizes in bytes, for munmap. */
  bn__node *nodes;
  _Atomic uint32_t *node_samples; /* times selected as a terminal leaf */
  unsigned char *states;
  bn__edge *edges;
  uint32_t *edge_parent;
  bn_action *edge_action;
  uint32_t *edge_n_actions;
  size_t bytes_nodes, bytes_samples, bytes_states, bytes_edges, bytes_edge_parent,
      bytes_edge_action, bytes_edge_n_actions;

  bn__table table;

  /* Counters written by many threads: each on its own cache line. */
  _Alignas(64) _Atomic uint64_t node_reserved; /* ids promised to table inserts */
  _Alignas(64) _Atomic uint32_t n_nodes;       /* ids handed out (dense from 0) */
  _Alignas(64) _Atomic uint64_t n_edges;       /* edges allocated (dense from 0) */
  _Alignas(64) _Atomic uint64_t n_selects;     /* successful selections that took a path */
  _Alignas(64) _Atomic uint64_t n_backprops;
  _Alignas(64) _Atomic uint64_t n_abandons;
  _Alignas(64) _Atomic uint64_t expand_failures; /* expansions undone (store full, domain) */
};

/* ---- atomics on doubles ---- */
/* Write a reason for bad data into why (if any) and return BN_ERR_CORRUPT: the checker
 * and the importer report problems this way rather than through the log. */
bn_err bn__tree_why(char *why, size_t whylen, const char *fmt, ...) BN_PRINTF(3, 4);

/* For the graph checks (check.c, graph.c, import.c), in functions with `bn_err err`, a
 * `fail:` label and `why`/`whylen`: record a violation in words and leave; leave on a
 * failed sub-check that wrote its own reason. */
#define BN__VIOLATION(...)                        \
  do {                                            \
    err = bn__tree_why(why, whylen, __VA_ARGS__); \
    goto fail;                                    \
  } while (0)
#define BN__QUIET(expr)          \
  do {                           \
    err = (expr);                \
    if (err != BN_OK) goto fail; \
  } while (0)
#define BN__ULL(x) ((unsigned long long)(x))

static inline double bn__bits_to_double(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}
static inline uint64_t bn__double_to_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}
static inline double bn__load_double(const _Atomic uint64_t *a) {
  return bn__bits_to_double(atomic_load_explicit((_Atomic uint64_t *)a, memory_order_relaxed));
}
static inline void bn__add_double(_Atomic uint64_t *a, double x) {
  uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(a, &old,
                                                bn__double_to_bits(bn__bits_to_double(old) + x),
                                                memory_order_relaxed, memory_order_relaxed)) {
  }
}

static inline bool bn__node_terminal(const bn__node *n) {
  return atomic_load_explicit((_Atomic uint8_t *)&n->flags, memory_order_relaxed) &
         BN__TERMINAL;
}
static inline bool bn__node_exhausted(const bn__node *n) {
  return atomic_load_explicit((_Atomic uint8_t *)&n->flags, memory_order_acquire) &
         BN__EXHAUSTED;
}
static inline unsigned char *bn__state(const bn_tree *t, bn_node_id id) {
  return t->states + (size_t)id * t->state_size;
}

/* Wait politely in a loop that expects another thread to finish soon: pause a while, then
 * give the core away (tests run many threads on two cores). */
static inline void bn__backoff(unsigned *spins) {
  if (*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    (*spins)++;
  } else {
    sched_yield();
  }
}

/* ---- store.c ---- */
/* Reserve (not commit) `bytes` of zeroed memory that never moves. */
bn_err bn__arena_reserve(size_t bytes, void **out);
void bn__arena_release(void *p, size_t bytes);
bn_err bn__store_reserve(bn_tree *t);
void bn__store_release(bn_tree *t);
/* Promise one node id to a table insert; BN_ERR_FULL when max_nodes are promised. */
bn_err bn__node_reserve(bn_tree *t);
void bn__node_unreserve(bn_tree *t);
/* Turn a promise into a node holding `state`: id dense from 0, flags and depth set. */
bn_node_id bn__node_commit(bn_tree *t, const void *state, uint32_t depth);
/* Allocate `n` contiguous edges; BN_ERR_FULL if they do not fit. */
bn_err bn__edges_alloc(bn_tree *t, uint32_t n, bn_edge_id *first);

/* ---- transpose.c ---- */
bn_err bn__table_init(bn__table *tab, uint64_t max_nodes);
void bn__table_fini(bn__table *tab);
uint64_t bn__state_hash(const bn_tree *t, const void *state);
/* Find the node holding canonical `state`, or create it with `depth` (exactly once, even
 * under concurrent inserts of the same state). *created tells which. Thread-safe. */
bn_err bn__table_intern(bn_tree *t, const void *state, uint32_t depth, bn_node_id *id,
                        bool *created);
/* BN_NONE if absent. Thread-safe. */
bn_node_id bn__table_lookup(const bn_tree *t, const void *state);
/* Quiescent only (import): empty the table and insert nodes [0, n), whose states are already
 * in the store, sized so it need not grow before n nodes are in. n <= max_nodes.
 * BN_ERR_CORRUPT if two nodes hold one state: *dup the later id, *orig the earlier. */
bn_err bn__table_rebuild(bn_tree *t, uint64_t n, bn_node_id *dup, bn_node_id *orig);
/* Quiescent only: count of published slots and of reserved-but-unpublished slots. */
void bn__table_census(const bn_tree *t, uint64_t *published, uint64_t *reserved);

/* ---- expand.c ---- */
/* Make sure `node` (non-terminal) is expanded: expand it here or wait for the thread that
 * does. On error the node is left unexpanded. Thread-safe. */
bn_err bn__ensure_expanded(bn_tree *t, bn_node_id node);

/* ---- exhaust.c ---- */
/* Mark `node` exhausted, then walk up `edges[0..len)` (the path that led to it, root
 * first) marking each parent whose children are now all exhausted. */
void bn__exhaust(bn_tree *t, bn_node_id node, const bn_edge_id *edges, int len);
/* True if every child of expanded `node` is exhausted (sets edge hints on the way). */
bool bn__children_exhausted(bn_tree *t, bn_node_id node);

/* ---- backprop.c ---- */
/* Remove the in-flight marks of a path of `len` edges (and the root's). */
void bn__unmark(bn_tree *t, const bn_edge_id *edges, int len);

/* ---- persist.c ---- */
/* bn_tree_export, with `states` false leaving out->states NULL (bn_tree_check needs only the
 * graph). Caller frees with bn_tree_arrays_free. Quiescent only. */
bn_err bn__tree_export(const bn_tree *t, bool states, bn_tree_arrays *out);

/* ---- graph.c: the rules of the graph on its arrays, for bn_tree_import and bn_tree_check ---- */
typedef struct bn__graph_rules {
  uint64_t max_nodes, max_edges; /* capacity of the stores (max_nodes < 2^32 - 1) */
  uint32_t exhaust_after;        /* bn_tree_params.exhaust_after */
  int max_actions;               /* the domain's: bounds the action counts of a node's edges */
  bool orphans_allowed;          /* an expansion was undone: nodes it created may lack the
                                    edge that created them */
} bn__graph_rules;
/* Counts alone, before any array is read: a root, within capacity. BN_ERR_CORRUPT + why. */
bn_err bn__graph_check_size(uint64_t n_nodes, uint64_t n_edges, const bn__graph_rules *r,
                            char *why, size_t whylen);
/* Links (flags, ids, ranges, children, marks, depths, acyclic; see graph.c). After BN_OK every
 * id and range in `a` can be followed. *orphans (OUT, may be NULL, written on success): some
 * node lacks its creating edge. BN_ERR_CORRUPT + why, or BN_ERR_NOMEM. `a` is only read. */
bn_err bn__graph_check_links(const bn_tree_arrays *a, const bn__graph_rules *r, bool *orphans,
                             char *why, size_t whylen);
/* Statistics (rewards, visit and reward sums, samples, exhaustion) of arrays that passed
 * bn__graph_check_links. BN_ERR_CORRUPT + why, or BN_ERR_NOMEM. `a` is only read. */
bn_err bn__graph_check_stats(const bn_tree_arrays *a, const bn__graph_rules *r, char *why,
                             size_t whylen);

/* ---- test-only hooks (tests/test_tree.c) ---- */
/* The record of a node / edge, to corrupt it on purpose in a negative test. */
bn__node *bn__tree_node_record(bn_tree *t, bn_node_id id);
bn__edge *bn__tree_edge_record(bn_tree *t, bn_edge_id id);

#endif
