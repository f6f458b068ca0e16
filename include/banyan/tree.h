/* The search graph on rank 0: a DAG of unique (canonical) states with statistics on edges.
 *
 * Nodes and edges live in flat arrays indexed by 32-bit ids (no pointers), reserved up
 * front in virtual memory so they never move while threads read them: cheap to snapshot,
 * to write to HDF5 and to read back. A transposition table maps canonical state bytes to
 * node ids. Statistics are updated with atomics; one thread expands a node, others wait.
 *
 * Selection follows CircuiTree (CIRCUIT-MODEL.md §2): UCT per edge, at most one new edge
 * per iteration, virtual loss (default) or WU-UCT for evaluations in flight, exhaustion of
 * terminals sampled `exhaust_after` times and of parents whose children are all exhausted.
 *
 * Thread safety: bn_tree_select, bn_tree_backprop, bn_tree_abandon and the read accessors
 * may run concurrently from any number of threads. bn_tree_check needs a quiescent tree
 * (no select/backprop running). Never calls MPI. */
#ifndef BANYAN_TREE_H
#define BANYAN_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "banyan/domain.h"
#include "banyan/error.h"

typedef uint32_t bn_node_id;
typedef uint32_t bn_edge_id;
#define BN_NONE UINT32_MAX

typedef enum bn_select_rule {
  BN_SELECT_VIRTUAL_LOSS = 0, /* in-flight visits count as visits with reward 0 */
  BN_SELECT_WU_UCT = 1        /* in-flight visits count in the exploration term only */
} bn_select_rule;

typedef struct bn_tree_params {
  double c;               /* exploration constant, >= 0 */
  bn_select_rule rule;
  double virtual_loss;    /* virtual visits per in-flight evaluation (VIRTUAL_LOSS), >= 0 */
  uint32_t exhaust_after; /* a terminal selected this many times is exhausted; 0 = never */
  uint64_t max_nodes;     /* capacity of the node store (< 2^32 - 1) */
  uint64_t max_edges;     /* capacity of the edge store (< 2^32 - 1) */
} bn_tree_params;

typedef struct bn_tree bn_tree;

/* The edges of one iteration, root first. Storage is the caller's: `edges` must hold
 * bn_tree_path_capacity() entries. */
typedef struct bn_path {
  bn_edge_id *edges;
  int len;          /* number of edges (0: the leaf is the root) */
  bn_node_id leaf;  /* the node the iteration evaluates (terminal) or rolls out from */
  bool terminal;    /* leaf is terminal: a reward job; else a simulate job */
  uint32_t sample;  /* terminal leaf: times it was selected before (BN_SAMPLE_NONE if not) */
} bn_path;

/* Create a tree holding the root state of `domain` (borrowed: must outlive the tree).
 * BN_ERR_NOMEM if the stores cannot be reserved. *tree written on success only. */
BN_API BN_NODISCARD bn_err bn_tree_create(bn_tree **tree, const bn_domain *domain,
                                          const bn_tree_params *params);
/* Free; accepts NULL and *tree == NULL; sets *tree = NULL. */
BN_API void bn_tree_destroy(bn_tree **tree);

/* Entries a bn_path.edges array needs (max_depth of the domain + 1). */
BN_API int bn_tree_path_capacity(const bn_tree *tree);

/* One selection: descend from the root by the rule, expanding nodes on the way, marking
 * the path in flight. `seed` drives random tie-breaks and the choice among new edges.
 * On success *exhausted tells whether the root is exhausted (then no path was taken and
 * the search is over). BN_ERR_FULL when a store is full, BN_ERR_DOMAIN when the domain
 * misbehaves (e.g. a path longer than max_depth). Thread-safe. */
BN_API BN_NODISCARD bn_err bn_tree_select(bn_tree *tree, uint64_t seed, bn_path *path,
                                          bool *exhausted);
/* Apply a finished evaluation: along the path visits += 1, reward added, in-flight mark
 * removed (the root's visit count too). Thread-safe. */
BN_API void bn_tree_backprop(bn_tree *tree, const bn_path *path, double reward);
/* A failed evaluation: remove the path's in-flight marks and nothing else, so no phantom
 * visit remains. Thread-safe. */
BN_API void bn_tree_abandon(bn_tree *tree, const bn_path *path);

/* Read accessors (thread-safe; figures may be a moment stale while threads run). */
BN_API uint64_t bn_tree_node_count(const bn_tree *tree);
BN_API uint64_t bn_tree_edge_count(const bn_tree *tree);
BN_API const void *bn_tree_state(const bn_tree *tree, bn_node_id node); /* borrowed */
BN_API bool bn_tree_is_terminal(const bn_tree *tree, bn_node_id node);
BN_API bool bn_tree_is_exhausted(const bn_tree *tree, bn_node_id node);
BN_API uint64_t bn_tree_node_visits(const bn_tree *tree, bn_node_id node);
BN_API double bn_tree_node_reward_sum(const bn_tree *tree, bn_node_id node);
/* Find a node by state (canonicalized first if the domain canonicalizes); BN_NONE if absent. */
BN_API bn_node_id bn_tree_find(const bn_tree *tree, const void *state);
/* Edges out of a node: first id and count (count 0 if not expanded or terminal). */
BN_API void bn_tree_children(const bn_tree *tree, bn_node_id node, bn_edge_id *first, uint32_t *count);
BN_API bn_node_id bn_tree_edge_child(const bn_tree *tree, bn_edge_id edge);
BN_API uint64_t bn_tree_edge_visits(const bn_tree *tree, bn_edge_id edge);
BN_API uint64_t bn_tree_edge_in_flight(const bn_tree *tree, bn_edge_id edge);
BN_API double bn_tree_edge_reward_sum(const bn_tree *tree, bn_edge_id edge);
/* More read accessors, for the checkpoint writer and for tests (thread-safe, may be a moment
 * stale; out-of-range ids give 0, -1 or BN_NONE). Sum of squared rewards through an edge;
 * the node whose out-edges hold the edge; the first of the domain's actions (in its order)
 * that reaches the edge's child (actions reaching the same child share one edge); how many
 * of the parent's actions reach the child (>= 1: selection takes a new edge with
 * probability proportional to it); evaluations in flight through a node; times a terminal
 * node was selected; edges from the root to the node on the path that created it (0 for
 * the root). */
BN_API double bn_tree_edge_reward_sq(const bn_tree *tree, bn_edge_id edge);
BN_API bn_node_id bn_tree_edge_parent(const bn_tree *tree, bn_edge_id edge);
BN_API bn_action bn_tree_edge_action(const bn_tree *tree, bn_edge_id edge);
BN_API uint32_t bn_tree_edge_n_actions(const bn_tree *tree, bn_edge_id edge);
BN_API uint64_t bn_tree_node_in_flight(const bn_tree *tree, bn_node_id node);
BN_API uint64_t bn_tree_node_samples(const bn_tree *tree, bn_node_id node);
BN_API int bn_tree_node_depth(const bn_tree *tree, bn_node_id node);

typedef struct bn_tree_best {
  bn_node_id node;
  double mean;     /* reward sum / visits */
  uint64_t visits;
} bn_tree_best;
/* The up to `k` terminal nodes with the highest mean reward among those with at least
 * `min_visits` visits, best first (ties: more visits first). Returns how many were written. */
BN_API size_t bn_tree_best_terminals(const bn_tree *tree, size_t k, uint64_t min_visits,
                                     bn_tree_best *out);

/* Verify every invariant of a quiescent tree (ids in range, canonical unique states found
 * through the table, node visits == sum of incoming edge visits, root visits == number of
 * backprops, no in-flight marks left, exhaustion consistent, ...). Returns BN_OK or
 * BN_ERR_CORRUPT with the first violation written to `why`. */
BN_API BN_NODISCARD bn_err bn_tree_check(const bn_tree *tree, char *why, size_t whylen);

/* --- persistence: the graph as flat arrays (checkpoints) ------------------------------ */

/* Node flags in bn_tree_arrays.node_flags. */
enum { BN_NODE_TERMINAL = 1, BN_NODE_EXHAUSTED = 2, BN_NODE_EXPANDED = 4 };

/* The whole graph as structure-of-arrays, one array per HDF5 dataset. In-flight marks are
 * not part of it (a checkpoint stores the paths of pending iterations instead). */
typedef struct bn_tree_arrays {
  uint64_t n_nodes, n_edges;
  size_t state_size;
  uint64_t n_backprops;       /* results applied (the root's visit count) */
  unsigned char *states;      /* n_nodes * state_size */
  uint64_t *node_visits;      /* n_nodes each ... */
  double *node_reward_sum;
  uint32_t *node_first_edge;  /* first out-edge (0 when the node has none) */
  uint32_t *node_n_edges;
  uint16_t *node_depth;
  uint8_t *node_flags;        /* BN_NODE_* */
  uint32_t *node_samples;     /* times selected as a terminal leaf */
  uint32_t *edge_parent;      /* n_edges each ... */
  uint32_t *edge_child;
  int32_t *edge_action;
  uint32_t *edge_n_actions;   /* actions reaching the child (NULL on import: derived by
                                 replaying the expansion) */
  uint64_t *edge_visits;
  double *edge_reward_sum;
  double *edge_reward_sq;
  uint8_t *edge_flags;        /* BN_EDGE_* (NULL on import: derived from the children) */
} bn_tree_arrays;

/* Edge flags in bn_tree_arrays.edge_flags. Selection marks an edge when it finds the child
 * exhausted and skips it from then on; the mark changes later random draws, so an exact
 * restart needs it saved. */
enum { BN_EDGE_CHILD_EXHAUSTED = 1 };

/* Copy the graph into freshly allocated arrays (free with bn_tree_arrays_free). The tree
 * must be quiescent (no select/backprop running): the caller pauses its threads; the copy
 * is a few memory passes (tens of ms for a million nodes). *out written on success only. */
BN_API BN_NODISCARD bn_err bn_tree_export(const bn_tree *tree, bn_tree_arrays *out);
BN_API void bn_tree_arrays_free(bn_tree_arrays *a);

/* Build a tree from arrays (e.g. read from a checkpoint) for `domain` with `params`.
 * Validates everything a damaged or hostile file could break, and returns BN_ERR_CORRUPT
 * with the first problem in `why` rather than crash: sizes, every index in range, edge
 * ranges inside the edge array and consistent with edge_parent, states canonical, unique
 * and agreeing with their terminal flag, visit sums, finite rewards, capacity. The arrays
 * are only read. *tree written on success only. */
BN_API BN_NODISCARD bn_err bn_tree_import(bn_tree **tree, const bn_domain *domain,
                                          const bn_tree_params *params, const bn_tree_arrays *a,
                                          char *why, size_t whylen);

/* The checks of bn_tree_import that need no domain: sizes and capacity, every index and
 * edge range, links, acyclicity and the statistics. For a reader that must not run the
 * domain's code (a plug-in named by an untrusted file): the states themselves are not
 * checked (uniqueness, canonical form, the replay of each expansion), so a graph that
 * passes may still be refused by bn_tree_import. BN_ERR_CORRUPT with the reason in `why`,
 * BN_ERR_NOMEM. The arrays are only read. */
BN_API BN_NODISCARD bn_err bn_tree_check_arrays(const bn_tree_params *params, const bn_tree_arrays *a, char *why,
                                                size_t whylen);

/* Put the in-flight marks of a pending iteration back (after bn_tree_import): checks that
 * the path is a chain of edges from the root ending at path->leaf. BN_ERR_CORRUPT if not. */
BN_API BN_NODISCARD bn_err bn_tree_restore_path(bn_tree *tree, const bn_path *path);

/* Random rollout from `start` to a terminal state (uniform over the domain's actions,
 * canonicalizing after each step), written to `terminal`. Deterministic in (start, seed).
 * BN_ERR_DOMAIN if no terminal is reached within max_depth steps. Thread-safe. */
BN_API BN_NODISCARD bn_err bn_rollout(const bn_domain *domain, const void *start, uint64_t seed,
                                      void *terminal);

#endif
