/* The search graph: expansion, transpositions, selection rules (UCT, virtual loss, WU-UCT),
 * backprop/abandon, exhaustion, full stores, rollouts, best terminals, the invariant
 * checker, and all of it under concurrent use.
 *
 * Two tiny domains live here, opened by filling a bn_domain directly:
 *  - "count": a tree of depth D and branching B (state = depth and path index), no
 *    transpositions; terminals are the states at depth D.
 *  - "bag": a multiset of up to K letters out of L. An action inserts a letter at any
 *    position of the (sorted) word, or terminates a non-empty word; canonical = sorted. So
 *    "ab" is reached from "a" and from "b" (a transposition), and inserting the same letter
 *    at different positions gives the same child (duplicate actions, one edge). */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/config.h"
#include "banyan/rng.h"
#include "banyan/tree.h"
#include "bn_test.h"
#include "tree/tree_impl.h"

/* ---- the count domain ---- */
typedef struct count_ctx {
  int depth, branching;
  uint64_t planted; /* index of the terminal with reward 1 */
} count_ctx;
typedef struct count_state {
  uint32_t depth;
  uint32_t pad;
  uint64_t index; /* base-B digits of the actions taken */
} count_state;

static void count_root(const void *ctx, void *s) {
  (void)ctx;
  memset(s, 0, sizeof(count_state));
}
static int count_actions(const void *ctx, const void *s, bn_action *out, int max) {
  const count_ctx *c = ctx;
  const count_state *st = s;
  if ((int)st->depth >= c->depth) return 0;
  int n = c->branching < max ? c->branching : max;
  for (int i = 0; i < n; i++) out[i] = i;
  return n;
}
static void count_apply(const void *ctx, const void *s, bn_action a, void *next) {
  const count_ctx *c = ctx;
  const count_state *st = s;
  count_state *nx = next;
  nx->depth = st->depth + 1;
  nx->pad = 0;
  nx->index = st->index * (uint64_t)c->branching + (uint64_t)a;
}
static bool count_terminal(const void *ctx, const void *s) {
  return (int)((const count_state *)s)->depth >= ((const count_ctx *)ctx)->depth;
}
static const bn_domain_ops count_ops = {.api_version = BN_DOMAIN_API_VERSION,
                                        .name = "count",
                                        .root = count_root,
                                        .actions = count_actions,
                                        .apply = count_apply,
                                        .is_terminal = count_terminal};

static count_ctx count_ctxs[16];
static int count_next;
static bn_domain count_domain(int depth, int branching) {
  count_ctx *c = &count_ctxs[count_next++ % 16];
  *c = (count_ctx){depth, branching, 0};
  for (int i = 0; i < depth; i++) c->planted = c->planted * (uint64_t)branching + 1;
  return (bn_domain){.ops = &count_ops,
                     .ctx = c,
                     .info = {.state_size = sizeof(count_state),
                              .max_actions = branching,
                              .max_depth = depth}};
}
/* Reward of a count terminal: 1 at the planted one, else a fixed value in [0, 0.5). */
static double count_reward(const bn_domain *d, const void *s) {
  const count_ctx *c = d->ctx;
  const count_state *st = s;
  if (st->index == c->planted && (int)st->depth == c->depth) return 1.0;
  return (double)(bn_mix64(st->index + st->depth) >> 11) * 0x1.0p-53 * 0.5;
}

/* ---- the bag domain ---- */
#define BAG_MAX 8
typedef struct bag_ctx {
  int letters, max_len;
} bag_ctx;
typedef struct bag_state {
  uint8_t len, done;
  char word[BAG_MAX];
} bag_state;

static void bag_root(const void *ctx, void *s) {
  (void)ctx;
  memset(s, 0, sizeof(bag_state));
}
/* Action a < letters * (len + 1): insert letter a % letters at position a / letters;
 * the last action terminates a non-empty word. */
static int bag_actions(const void *ctx, const void *s, bn_action *out, int max) {
  const bag_ctx *c = ctx;
  const bag_state *st = s;
  int n = 0;
  if (st->done) return 0;
  if (st->len < c->max_len)
    for (int i = 0; i < c->letters * (st->len + 1) && n < max; i++) out[n++] = i;
  if (st->len > 0 && n < max) out[n++] = c->letters * (c->max_len + 1);
  return n;
}
static void bag_apply(const void *ctx, const void *s, bn_action a, void *next) {
  const bag_ctx *c = ctx;
  const bag_state *st = s;
  bag_state *nx = next;
  *nx = *st;
  if (a == c->letters * (c->max_len + 1)) {
    nx->done = 1;
    return;
  }
  int letter = a % c->letters, pos = a / c->letters;
  memmove(nx->word + pos + 1, nx->word + pos, (size_t)(st->len - pos));
  nx->word[pos] = (char)('a' + letter);
  nx->len++;
}
static bool bag_terminal(const void *ctx, const void *s) {
  (void)ctx;
  return ((const bag_state *)s)->done;
}
static void bag_canonicalize(const void *ctx, void *s) {
  (void)ctx;
  bag_state *st = s;
  for (int i = 1; i < st->len; i++) /* insertion sort */
    for (int j = i; j > 0 && st->word[j - 1] > st->word[j]; j--) {
      char tmp = st->word[j];
      st->word[j] = st->word[j - 1];
      st->word[j - 1] = tmp;
    }
}
static const bn_domain_ops bag_ops = {.api_version = BN_DOMAIN_API_VERSION,
                                      .name = "bag",
                                      .root = bag_root,
                                      .actions = bag_actions,
                                      .apply = bag_apply,
                                      .is_terminal = bag_terminal,
                                      .canonicalize = bag_canonicalize};

static bag_ctx bag_ctxs[8];
static int bag_next;
static bn_domain bag_domain(int letters, int max_len) {
  bag_ctx *c = &bag_ctxs[bag_next++ % 8];
  *c = (bag_ctx){letters, max_len};
  return (bn_domain){.ops = &bag_ops,
                     .ctx = c,
                     .info = {.state_size = sizeof(bag_state),
                              .max_actions = letters * max_len + 1,
                              .max_depth = max_len + 1}};
}
static bag_state bag_word(const char *w, bool done) {
  bag_state s;
  memset(&s, 0, sizeof s);
  s.len = (uint8_t)strlen(w);
  s.done = done;
  memcpy(s.word, w, s.len);
  return s;
}
/* Reward of a bag terminal: the share of 'a' letters (planted optimum: all 'a'). */
static double bag_reward(const void *s) {
  const bag_state *st = s;
  int a = 0;
  for (int i = 0; i < st->len; i++) a += st->word[i] == 'a';
  return st->len ? (double)a / st->len : 0;
}

/* ---- helpers ---- */
static bn_tree_params params(double c) {
  return (bn_tree_params){.c = c,
                          .rule = BN_SELECT_VIRTUAL_LOSS,
                          .virtual_loss = 1.0,
                          .exhaust_after = 0,
                          .max_nodes = 1u << 20,
                          .max_edges = 1u << 20};
}

static bn_tree *make_tree(const bn_domain *d, const bn_tree_params *p) {
  bn_tree *t = NULL;
  CU_ASSERT_EQUAL_FATAL(bn_tree_create(&t, d, p), BN_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  return t;
}

static void assert_valid(const bn_tree *t) {
  char why[256];
  bn_err e = bn_tree_check(t, why, sizeof why);
  if (e != BN_OK) fprintf(stderr, "\n  tree check: %s\n", why);
  CU_ASSERT_EQUAL(e, BN_OK);
}

/* One select that must succeed and not report exhaustion. */
static void select_ok(bn_tree *t, uint64_t seed, bn_path *p) {
  bool ex = true;
  CU_ASSERT_EQUAL_FATAL(bn_tree_select(t, seed, p, &ex), BN_OK);
  CU_ASSERT_FATAL(!ex);
}

/* The root's out-edge toward root child `action` of the count domain. */
static bn_edge_id root_edge(const bn_tree *t, int action) {
  bn_edge_id first;
  uint32_t n;
  bn_tree_children(t, 0, &first, &n);
  CU_ASSERT_FATAL((uint32_t)action < n);
  return first + (uint32_t)action; /* count domain: edges in action order, no duplicates */
}

/* ---- tests ---- */
static void bn_tree_create_should_hold_the_canonical_root_as_node_0(void) {
  bn_domain d = bag_domain(3, 3);
  bn_tree_params p = params(1.4);
  bn_tree *t = make_tree(&d, &p);
  CU_ASSERT_EQUAL(bn_tree_node_count(t), 1);
  CU_ASSERT_EQUAL(bn_tree_edge_count(t), 0);
  bag_state root = bag_word("", false);
  CU_ASSERT_EQUAL(memcmp(bn_tree_state(t, 0), &root, sizeof root), 0);
  CU_ASSERT_EQUAL(bn_tree_find(t, &root), 0);
  bag_state other = bag_word("a", false);
  CU_ASSERT_EQUAL(bn_tree_find(t, &other), BN_NONE);
  CU_ASSERT_FALSE(bn_tree_is_terminal(t, 0));
  CU_ASSERT_EQUAL(bn_tree_path_capacity(t), 5);
  assert_valid(t);
  bn_tree_destroy(&t);
  CU_ASSERT_PTR_NULL(t);
  bn_tree_destroy(&t);
  bn_tree_destroy(NULL);

  bn_tree_params bad = p;
  bad.max_nodes = 0;
  CU_ASSERT_EQUAL(bn_tree_create(&t, &d, &bad), BN_ERR_ARG);
  bad = p;
  bad.c = -1;
  CU_ASSERT_EQUAL(bn_tree_create(&t, &d, &bad), BN_ERR_ARG);
  CU_ASSERT_PTR_NULL(t);
}

static void bn_tree_select_should_take_every_new_edge_once_before_any_revisit(void) {
  bn_domain d = count_domain(3, 4);
  bn_tree_params p = params(1.4);
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[8];
  bn_path path = {.edges = e};
  bool seen[4] = {false};
  for (int i = 0; i < 4; i++) {
    select_ok(t, (uint64_t)i, &path);
    /* One expansion per iteration: stop at the child of the new edge. */
    CU_ASSERT_EQUAL(path.len, 1);
    CU_ASSERT_FALSE(path.terminal);
    CU_ASSERT_EQUAL(bn_tree_node_count(t), 5); /* root + its 4 children, nothing deeper */
    int a = (int)(e[0] - root_edge(t, 0));
    CU_ASSERT_FALSE(seen[a]);
    seen[a] = true;
    CU_ASSERT_EQUAL(path.leaf, bn_tree_edge_child(t, e[0]));
    bn_tree_backprop(t, &path, 0.5);
  }
  /* All root edges visited: the fifth iteration goes one level deeper. */
  select_ok(t, 4, &path);
  CU_ASSERT_EQUAL(path.len, 2);
  CU_ASSERT_EQUAL(bn_tree_node_count(t), 9);
  bn_tree_backprop(t, &path, 0.5);
  CU_ASSERT_EQUAL(bn_tree_node_visits(t, 0), 5);
  assert_valid(t);

  /* Selections in flight claim distinct new edges even before any result comes back. */
  bn_tree_destroy(&t);
  t = make_tree(&d, &p);
  bn_edge_id es[4][8];
  bn_path ps[4];
  for (int i = 0; i < 4; i++) {
    ps[i] = (bn_path){.edges = es[i]};
    select_ok(t, 100, &ps[i]); /* the same seed every time: only the marks differ */
    for (int j = 0; j < i; j++) CU_ASSERT_NOT_EQUAL(es[i][0], es[j][0]);
  }
  for (int i = 0; i < 4; i++) bn_tree_backprop(t, &ps[i], 0.0);
  assert_valid(t);
  bn_tree_destroy(&t);
}

/* Count domain B = 2: reward 1 under root action 0 (edge A), 0 under action 1 (edge B). */
static double ab_reward(const bn_tree *t, const bn_path *p) {
  return p->edges[0] == root_edge(t, 0) ? 1.0 : 0.0;
}

static void bn_tree_select_should_follow_uct_once_all_edges_are_visited(void) {
  /* Iterations 1-2 take A and B (new). Then N_A = N_B = 1, R_A = 1, R_B = 0, Np = 2, and
   * A wins for any c. Iteration 3 makes N_A = 2, R_A = 2, Np = 3:
   *   A: 1 + c*sqrt(ln 3 / 2) = 1 + 0.7412c,   B: 0 + c*sqrt(ln 3) = 1.0481c
   * so iteration 4 takes A for c = 3 (3.224 > 3.144) and B for c = 4 (3.965 < 4.193). */
  const double cs[2] = {3.0, 4.0};
  const int fourth[2] = {0, 1};
  for (int k = 0; k < 2; k++) {
    bn_domain d = count_domain(3, 2);
    bn_tree_params p = params(cs[k]);
    bn_tree *t = make_tree(&d, &p);
    bn_edge_id e[8];
    bn_path path = {.edges = e};
    for (int i = 0; i < 4; i++) {
      select_ok(t, (uint64_t)i * 7, &path);
      if (i == 2) CU_ASSERT_EQUAL(e[0], root_edge(t, 0));
      if (i == 3) CU_ASSERT_EQUAL(e[0], root_edge(t, fourth[k]));
      bn_tree_backprop(t, &path, ab_reward(t, &path));
    }
    CU_ASSERT_DOUBLE_EQUAL(bn_tree_edge_reward_sum(t, root_edge(t, 0)), k == 0 ? 3.0 : 2.0,
                           1e-12);
    assert_valid(t);
    bn_tree_destroy(&t);
  }
}

/* After A = (1 visit, reward 1) and B = (1 visit, reward 0), select s1 (which takes A with
 * c = 2: 2.665 > 1.665) and keep it in flight; then where does s2 go? Np = 2, Fp = 1, on A
 * F = 1:
 *   VIRTUAL_LOSS: A: 1/2 + 2*sqrt(ln 3 / 2) = 1.982   B: 0 + 2*sqrt(ln 3) = 2.096  -> B
 *   WU_UCT:       A: 1/1 + 2*sqrt(ln 3 / 2) = 2.482   B: 2.096                     -> A */
static void second_selection_root_edge(bn_select_rule rule, bn_tree **out_t, bn_edge_id *s1,
                                       bn_edge_id *s2) {
  bn_domain d = count_domain(3, 2);
  bn_tree_params p = params(2.0);
  p.rule = rule;
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[8], e1[8], e2[8];
  bn_path path = {.edges = e}, p1 = {.edges = e1}, p2 = {.edges = e2};
  for (int i = 0; i < 2; i++) {
    select_ok(t, (uint64_t)i, &path);
    bn_tree_backprop(t, &path, ab_reward(t, &path));
  }
  select_ok(t, 10, &p1);
  select_ok(t, 11, &p2);
  *s1 = e1[0];
  *s2 = e2[0];
  CU_ASSERT_EQUAL(bn_tree_node_in_flight(t, 0), 2);
  bn_tree_backprop(t, &p1, ab_reward(t, &p1));
  bn_tree_abandon(t, &p2);
  assert_valid(t);
  *out_t = t;
}

static void bn_tree_select_should_steer_concurrent_selections_apart_by_virtual_loss(void) {
  bn_tree *t;
  bn_edge_id s1, s2;
  second_selection_root_edge(BN_SELECT_VIRTUAL_LOSS, &t, &s1, &s2);
  CU_ASSERT_EQUAL(s1, root_edge(t, 0));
  CU_ASSERT_EQUAL(s2, root_edge(t, 1));
  bn_tree_destroy(&t);

  /* Equal statistics: k selections in flight spread over k edges. */
  bn_domain d = count_domain(2, 4);
  bn_tree_params p = params(0.5);
  t = make_tree(&d, &p);
  bn_edge_id e[4][4];
  bn_path ps[4];
  for (int i = 0; i < 4; i++) {
    ps[i] = (bn_path){.edges = e[i]};
    select_ok(t, (uint64_t)i, &ps[i]);
    bn_tree_backprop(t, &ps[i], 0.5);
  }
  for (int i = 0; i < 4; i++) {
    select_ok(t, 50 + (uint64_t)i, &ps[i]);
    for (int j = 0; j < i; j++) CU_ASSERT_NOT_EQUAL(e[i][0], e[j][0]);
  }
  for (int i = 0; i < 4; i++) bn_tree_abandon(t, &ps[i]);
  assert_valid(t);
  bn_tree_destroy(&t);
}

static void bn_tree_select_should_count_in_flight_only_in_exploration_with_wu_uct(void) {
  bn_tree *t;
  bn_edge_id s1, s2;
  second_selection_root_edge(BN_SELECT_WU_UCT, &t, &s1, &s2);
  CU_ASSERT_EQUAL(s1, root_edge(t, 0));
  CU_ASSERT_EQUAL(s2, root_edge(t, 0));
  bn_tree_destroy(&t);
}

static void bn_tree_expand_should_share_transpositions_and_merge_duplicate_actions(void) {
  bn_domain d = bag_domain(2, 2);
  bn_tree_params p = params(1.4);
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[8];
  bn_path path = {.edges = e};
  for (int i = 0; i < 60; i++) {
    select_ok(t, (uint64_t)i, &path);
    bn_tree_backprop(t, &path, path.terminal ? bag_reward(bn_tree_state(t, path.leaf)) : 0.5);
  }
  assert_valid(t);
  /* States: "", a, b, aa, ab, bb, *a, *b, *aa, *ab, *bb. */
  CU_ASSERT_EQUAL(bn_tree_node_count(t), 11);
  bag_state a = bag_word("a", false), b = bag_word("b", false), ab = bag_word("ab", false),
            ba = bag_word("ba", false);
  bn_node_id na = bn_tree_find(t, &a), nb = bn_tree_find(t, &b), nab = bn_tree_find(t, &ab);
  CU_ASSERT(na != BN_NONE && nb != BN_NONE && nab != BN_NONE);
  CU_ASSERT_EQUAL(bn_tree_find(t, &ba), nab); /* find canonicalizes */
  /* "a" has 5 actions (0 a@0, 1 b@0, 2 a@1, 3 b@1, 4 stop) but 3 children: aa, ab, *a. */
  bn_edge_id first;
  uint32_t n;
  bn_tree_children(t, na, &first, &n);
  CU_ASSERT_EQUAL(n, 3);
  int into_ab = 0;
  for (uint32_t i = 0; i < n; i++) {
    CU_ASSERT_EQUAL(bn_tree_edge_parent(t, first + i), na);
    const bn_node_id c = bn_tree_edge_child(t, first + i);
    if (c == nab) {
      into_ab++;
      CU_ASSERT_EQUAL(bn_tree_edge_action(t, first + i), 1); /* b@0, not b@1 */
    }
    /* Multiplicities: a@0 and a@1 reach aa, b@0 and b@1 reach ab, stop alone *a. */
    CU_ASSERT_EQUAL(bn_tree_edge_n_actions(t, first + i), bn_tree_is_terminal(t, c) ? 1 : 2);
  }
  CU_ASSERT_EQUAL(into_ab, 1);
  bn_tree_children(t, nb, &first, &n);
  CU_ASSERT_EQUAL(n, 3);
  into_ab = 0;
  for (uint32_t i = 0; i < n; i++) into_ab += bn_tree_edge_child(t, first + i) == nab;
  CU_ASSERT_EQUAL(into_ab, 1);
  /* One node, reached from two parents: its visits are the sum of both edges'. */
  CU_ASSERT(bn_tree_node_visits(t, nab) > 0);
  CU_ASSERT_EQUAL(bn_tree_node_depth(t, nab), 2);
  bn_tree_destroy(&t);
}

static void bn_tree_abandon_should_leave_no_phantom_visit(void) {
  bn_domain d = count_domain(3, 3);
  bn_tree_params p = params(1.4);
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[8];
  bn_path path = {.edges = e};
  select_ok(t, 1, &path);
  bn_edge_id taken = e[0];
  CU_ASSERT_EQUAL(bn_tree_edge_in_flight(t, taken), 1);
  CU_ASSERT_EQUAL(bn_tree_node_in_flight(t, 0), 1);
  char why[256];
  CU_ASSERT_EQUAL(bn_tree_check(t, why, sizeof why), BN_ERR_CORRUPT); /* still in flight */
  bn_tree_abandon(t, &path);
  CU_ASSERT_EQUAL(bn_tree_edge_in_flight(t, taken), 0);
  CU_ASSERT_EQUAL(bn_tree_edge_visits(t, taken), 0);
  CU_ASSERT_EQUAL(bn_tree_node_visits(t, 0), 0);
  CU_ASSERT_EQUAL(bn_tree_node_visits(t, path.leaf), 0);
  CU_ASSERT_EQUAL(bn_tree_node_in_flight(t, path.leaf), 0);
  assert_valid(t);
  /* The edge is new again: three selections in flight take all three root edges. */
  bn_edge_id es[3][8];
  bn_path ps[3];
  bool took = false;
  for (int i = 0; i < 3; i++) {
    ps[i] = (bn_path){.edges = es[i]};
    select_ok(t, 10 + (uint64_t)i, &ps[i]);
    CU_ASSERT_EQUAL(ps[i].len, 1);
    took |= es[i][0] == taken;
  }
  CU_ASSERT(took);
  for (int i = 0; i < 3; i++) bn_tree_backprop(t, &ps[i], 1.0);
  CU_ASSERT_EQUAL(bn_tree_node_visits(t, 0), 3);
  assert_valid(t);
  bn_tree_destroy(&t);
}

static void bn_tree_select_should_exhaust_sampled_terminals_and_then_the_root(void) {
  /* Depth 2, branching 2: four terminals, each exhausted after 3 samples. */
  bn_domain d = count_domain(2, 2);
  bn_tree_params p = params(1.0);
  p.exhaust_after = 3;
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[4];
  bn_path path = {.edges = e};
  bool ex = false;
  int iterations = 0, parent_seen_exhausted = 0;
  for (; iterations < 1000; iterations++) {
    CU_ASSERT_EQUAL_FATAL(bn_tree_select(t, (uint64_t)iterations, &path, &ex), BN_OK);
    if (ex) break;
    if (path.terminal) {
      CU_ASSERT(bn_tree_node_samples(t, path.leaf) <= 3);
      CU_ASSERT_EQUAL(bn_tree_is_exhausted(t, path.leaf),
                      bn_tree_node_samples(t, path.leaf) == 3);
      /* A depth-1 node is exhausted exactly when both its terminals are. */
      bn_node_id parent = bn_tree_edge_parent(t, e[path.len - 1]);
      bn_edge_id f;
      uint32_t n;
      bn_tree_children(t, parent, &f, &n);
      bool both = bn_tree_is_exhausted(t, bn_tree_edge_child(t, f)) &&
                  bn_tree_is_exhausted(t, bn_tree_edge_child(t, f + 1));
      CU_ASSERT_EQUAL(bn_tree_is_exhausted(t, parent), both);
      parent_seen_exhausted += both;
    }
    bn_tree_backprop(t, &path, 0.25);
  }
  CU_ASSERT(ex);
  CU_ASSERT(parent_seen_exhausted >= 2);
  /* 4 terminals x 3 samples + the 2 iterations that stopped at the new depth-1 nodes. */
  CU_ASSERT_EQUAL(iterations, 14);
  CU_ASSERT_EQUAL(path.len, 0);
  CU_ASSERT_EQUAL(path.leaf, BN_NONE);
  CU_ASSERT(bn_tree_is_exhausted(t, 0));
  for (bn_node_id n = 0; n < bn_tree_node_count(t); n++) {
    CU_ASSERT(bn_tree_is_exhausted(t, n));
    CU_ASSERT_EQUAL(bn_tree_node_in_flight(t, n), 0);
    if (bn_tree_is_terminal(t, n)) CU_ASSERT_EQUAL(bn_tree_node_samples(t, n), 3);
  }
  /* Asking again changes nothing and leaves no marks. */
  CU_ASSERT_EQUAL(bn_tree_select(t, 99, &path, &ex), BN_OK);
  CU_ASSERT(ex);
  assert_valid(t);
  bn_tree_destroy(&t);
}

static void bn_tree_select_should_exhaust_up_the_path_while_evaluations_are_in_flight(void) {
  /* bag L = 1, K = 1 is a chain: "" -> "a" -> "*a". With exhaust_after = 1 the terminal
   * is exhausted by its first selection, and the chain above it at once. */
  bn_domain d = bag_domain(1, 1);
  bn_tree_params p = params(1.0);
  p.exhaust_after = 1;
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e1[4], e2[4], e3[4];
  bn_path p1 = {.edges = e1}, p2 = {.edges = e2}, p3 = {.edges = e3};
  bool ex;
  select_ok(t, 0, &p1); /* new edge: stops at "a" */
  CU_ASSERT_FALSE(p1.terminal);
  CU_ASSERT_EQUAL(p1.len, 1);
  select_ok(t, 1, &p2); /* the edge to "a" is in flight, not new: on to "*a" */
  CU_ASSERT(p2.terminal);
  CU_ASSERT_EQUAL(p2.len, 2);
  CU_ASSERT_EQUAL(bn_tree_node_samples(t, p2.leaf), 1);
  CU_ASSERT(bn_tree_is_exhausted(t, p2.leaf));
  CU_ASSERT(bn_tree_is_exhausted(t, p1.leaf));
  CU_ASSERT(bn_tree_is_exhausted(t, 0));
  /* Exhausted with two evaluations in flight: select says so and marks nothing. */
  CU_ASSERT_EQUAL(bn_tree_select(t, 2, &p3, &ex), BN_OK);
  CU_ASSERT(ex);
  CU_ASSERT_EQUAL(bn_tree_node_in_flight(t, 0), 2);
  bn_tree_backprop(t, &p1, 0.0);
  bn_tree_backprop(t, &p2, 1.0);
  CU_ASSERT_EQUAL(bn_tree_node_visits(t, 0), 2);
  CU_ASSERT_DOUBLE_EQUAL(bn_tree_node_reward_sum(t, p2.leaf), 1.0, 0);
  assert_valid(t);
  bn_tree_destroy(&t);
}

static void bn_tree_select_should_report_full_stores_and_keep_the_tree_valid(void) {
  /* Node store: root + 4 children = 5, one expansion below = 9, the next needs 13 > 10. */
  bn_domain d = count_domain(4, 4);
  bn_tree_params p = params(1.4);
  p.max_nodes = 10;
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[8];
  bn_path path = {.edges = e};
  bool ex;
  bn_err err = BN_OK;
  int i;
  for (i = 0; i < 100 && err == BN_OK; i++) {
    err = bn_tree_select(t, (uint64_t)i, &path, &ex);
    if (err == BN_OK) bn_tree_backprop(t, &path, 0.5);
  }
  CU_ASSERT_EQUAL(err, BN_ERR_FULL);
  CU_ASSERT(bn_tree_node_count(t) <= 10);
  assert_valid(t);
  /* Children created before a failure are found, not duplicated, on later attempts. */
  for (i = 0; i < 50; i++) {
    err = bn_tree_select(t, 1000 + (uint64_t)i, &path, &ex);
    CU_ASSERT(err == BN_OK || err == BN_ERR_FULL);
    if (err == BN_OK) bn_tree_backprop(t, &path, 0.5);
  }
  CU_ASSERT_EQUAL(bn_tree_node_count(t), 10);
  assert_valid(t);
  bn_tree_destroy(&t);

  /* Edge store: the root's 4 edges fit, a second expansion does not; no node is created
   * for an expansion that cannot get its edges. */
  p = params(1.4);
  p.max_edges = 6;
  t = make_tree(&d, &p);
  err = BN_OK;
  for (i = 0; i < 100 && err == BN_OK; i++) {
    err = bn_tree_select(t, (uint64_t)i, &path, &ex);
    if (err == BN_OK) bn_tree_backprop(t, &path, 0.5);
  }
  CU_ASSERT_EQUAL(err, BN_ERR_FULL);
  CU_ASSERT_EQUAL(i, 5);
  CU_ASSERT_EQUAL(bn_tree_edge_count(t), 4);
  CU_ASSERT_EQUAL(bn_tree_node_count(t), 5);
  assert_valid(t);
  bn_tree_destroy(&t);
}

static void bn_tree_select_should_reject_paths_longer_than_max_depth(void) {
  bn_domain d = count_domain(4, 2);
  d.info.max_depth = 2; /* the domain lies */
  bn_tree_params p = params(1.4);
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[3];
  bn_path path = {.edges = e};
  bool ex;
  bn_err err = BN_OK;
  for (int i = 0; i < 100 && err == BN_OK; i++) {
    err = bn_tree_select(t, (uint64_t)i, &path, &ex);
    if (err == BN_OK) {
      CU_ASSERT(path.len <= 2);
      bn_tree_backprop(t, &path, 0.5);
    }
  }
  CU_ASSERT_EQUAL(err, BN_ERR_DOMAIN);
  assert_valid(t); /* marks undone */
  bn_tree_destroy(&t);
}

static void bn_rollout_should_reach_a_terminal_deterministically_in_the_seed(void) {
  bn_domain d = count_domain(6, 5);
  count_state root, end1, end2;
  d.ops->root(d.ctx, &root);
  int distinct = 0;
  uint64_t prev = UINT64_MAX;
  for (uint64_t seed = 0; seed < 20; seed++) {
    CU_ASSERT_EQUAL_FATAL(bn_rollout(&d, &root, seed, &end1), BN_OK);
    CU_ASSERT_EQUAL_FATAL(bn_rollout(&d, &root, seed, &end2), BN_OK);
    CU_ASSERT_EQUAL(memcmp(&end1, &end2, sizeof end1), 0);
    CU_ASSERT_EQUAL(end1.depth, 6);
    distinct += end1.index != prev;
    prev = end1.index;
  }
  CU_ASSERT(distinct >= 15);

  /* Canonical after each step; from a terminal it stays put. */
  bn_domain b = bag_domain(3, 5);
  bag_state s = bag_word("", false), out;
  for (uint64_t seed = 0; seed < 50; seed++) {
    CU_ASSERT_EQUAL_FATAL(bn_rollout(&b, &s, seed, &out), BN_OK);
    CU_ASSERT(out.done);
    for (int i = 1; i < out.len; i++) CU_ASSERT(out.word[i - 1] <= out.word[i]);
  }
  bag_state fin = bag_word("abc", true);
  CU_ASSERT_EQUAL(bn_rollout(&b, &fin, 3, &out), BN_OK);
  CU_ASSERT_EQUAL(memcmp(&fin, &out, sizeof out), 0);

  /* A domain that never terminates within max_depth is reported. */
  bn_domain liar = count_domain(6, 2);
  liar.info.max_depth = 3;
  CU_ASSERT_EQUAL(bn_rollout(&liar, &root, 1, &end1), BN_ERR_DOMAIN);
}

static void bn_tree_best_terminals_should_order_by_mean_then_visits(void) {
  /* Depth 1, branching 5: terminals 0..4 with rewards 0.1, 0.9, 0.5, 0.9, 0.2. */
  static const double reward[5] = {0.1, 0.9, 0.5, 0.9, 0.2};
  bn_domain d = count_domain(1, 5);
  bn_tree_params p = params(0.3);
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[2];
  bn_path path = {.edges = e};
  for (int i = 0; i < 40; i++) {
    select_ok(t, (uint64_t)i, &path);
    const count_state *s = bn_tree_state(t, path.leaf);
    bn_tree_backprop(t, &path, reward[s->index]);
  }
  bn_tree_best best[5];
  size_t n = bn_tree_best_terminals(t, 3, 1, best);
  CU_ASSERT_EQUAL_FATAL(n, 3);
  CU_ASSERT_DOUBLE_EQUAL(best[0].mean, 0.9, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(best[1].mean, 0.9, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(best[2].mean, 0.5, 1e-12);
  CU_ASSERT(best[0].visits >= best[1].visits);
  for (size_t i = 0; i < n; i++) {
    CU_ASSERT_EQUAL(best[i].visits, bn_tree_node_visits(t, best[i].node));
    CU_ASSERT(bn_tree_is_terminal(t, best[i].node));
  }
  /* All five, best first; min_visits filters. */
  CU_ASSERT_EQUAL(bn_tree_best_terminals(t, 10, 1, best), 5);
  for (int i = 1; i < 5; i++) CU_ASSERT(best[i - 1].mean >= best[i].mean);
  CU_ASSERT_DOUBLE_EQUAL(best[4].mean, 0.1, 1e-12);
  uint64_t most = 0;
  for (int i = 0; i < 5; i++) most = best[i].visits > most ? best[i].visits : most;
  n = bn_tree_best_terminals(t, 10, most, best);
  CU_ASSERT(n >= 1);
  for (size_t i = 0; i < n; i++) CU_ASSERT_EQUAL(best[i].visits, most);
  CU_ASSERT_EQUAL(bn_tree_best_terminals(t, 0, 1, best), 0);
  bn_tree_destroy(&t);
}

static void bn_tree_check_should_catch_a_corrupted_count(void) {
  bn_domain d = count_domain(4, 3);
  bn_tree_params p = params(1.4);
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[8];
  bn_path path = {.edges = e};
  for (int i = 0; i < 50; i++) {
    select_ok(t, (uint64_t)i, &path);
    bn_tree_backprop(t, &path, 0.3);
  }
  assert_valid(t);
  char why[256] = "";
  bn__edge *rec = bn__tree_edge_record(t, e[path.len - 1]);
  atomic_fetch_add(&rec->visits, 1);
  CU_ASSERT_EQUAL(bn_tree_check(t, why, sizeof why), BN_ERR_CORRUPT);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "visits"));
  atomic_fetch_sub(&rec->visits, 1);
  assert_valid(t);

  bn__node *leaf = bn__tree_node_record(t, path.leaf);
  bn__add_double(&leaf->reward_sum, 1e-3);
  CU_ASSERT_EQUAL(bn_tree_check(t, why, sizeof why), BN_ERR_CORRUPT);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "reward"));
  bn__add_double(&leaf->reward_sum, -1e-3);
  assert_valid(t);

  atomic_fetch_or(&bn__tree_node_record(t, 0)->flags, BN__EXHAUSTED);
  CU_ASSERT_EQUAL(bn_tree_check(t, why, sizeof why), BN_ERR_CORRUPT);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "exhausted"));
  bn_tree_destroy(&t);
}

/* Rules that only the importer applied before the checker shared them (graph.c). */
static void bn_tree_check_should_apply_the_graph_rules_the_import_applies(void) {
  bn_domain d = count_domain(4, 3);
  bn_tree_params p = params(1.4);
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[8];
  bn_path path = {.edges = e};
  for (int i = 0; i < 50; i++) {
    select_ok(t, (uint64_t)i, &path);
    bn_tree_backprop(t, &path, 0.3);
  }
  assert_valid(t);
  CU_ASSERT_FATAL(path.len >= 2);
  char why[256] = "";
  /* An edge from a node to itself. */
  bn__edge *rec = bn__tree_edge_record(t, e[1]);
  const bn_node_id child = rec->child, parent = bn_tree_edge_parent(t, e[1]);
  rec->child = parent;
  CU_ASSERT_EQUAL(bn_tree_check(t, why, sizeof why), BN_ERR_CORRUPT);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "itself"));
  rec->child = child;
  assert_valid(t);
  /* The root's reward sum, which no incoming edge vouches for. */
  bn__node *root = bn__tree_node_record(t, 0);
  const uint64_t bits = atomic_load(&root->reward_sum);
  atomic_store(&root->reward_sum, bn__double_to_bits(NAN));
  CU_ASSERT_EQUAL(bn_tree_check(t, why, sizeof why), BN_ERR_CORRUPT);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "node 0: reward sum"));
  atomic_store(&root->reward_sum, bits);
  assert_valid(t);
  bn_tree_destroy(&t);
}

/* ---- concurrency ---- */
typedef struct stress_result {
  long ok, abandoned, exhausted, errors;
} stress_result;

/* `iterations` select + (backprop or abandon) from 4 threads; rewards from a rollout when
 * the leaf is not terminal. */
static stress_result stress(bn_tree *t, const bn_domain *d, long iterations, bool bag) {
  long ok = 0, abandoned = 0, exhausted = 0, errors = 0;
  const size_t ss = d->info.state_size;
#pragma omp parallel num_threads(4) reduction(+ : ok, abandoned, exhausted, errors)
  {
    bn_edge_id edges[64];
    unsigned char end[64];
    bn_path path = {.edges = edges};
#pragma omp for schedule(dynamic, 256)
    for (long i = 0; i < iterations; i++) {
      bool ex = false;
      if (bn_tree_select(t, (uint64_t)i, &path, &ex) != BN_OK) {
        errors++;
        continue;
      }
      if (ex) {
        exhausted++;
        continue;
      }
      if (i % 13 == 0) {
        bn_tree_abandon(t, &path);
        abandoned++;
        continue;
      }
      memcpy(end, bn_tree_state(t, path.leaf), ss);
      if (!path.terminal && bn_rollout(d, bn_tree_state(t, path.leaf), (uint64_t)i, end)) {
        errors++;
        bn_tree_abandon(t, &path);
        continue;
      }
      bn_tree_backprop(t, &path, bag ? bag_reward(end) : count_reward(d, end));
      ok++;
    }
  }
  return (stress_result){ok, abandoned, exhausted, errors};
}

static void bn_tree_check_should_pass_after_concurrent_search(void) {
  bn_domain d = count_domain(8, 8);
  bn_tree_params p = params(1.4);
  p.max_nodes = p.max_edges = 4u << 20;
  bn_tree *t = make_tree(&d, &p);
  stress_result r = stress(t, &d, 200000, false);
  CU_ASSERT_EQUAL(r.errors, 0);
  CU_ASSERT_EQUAL(r.exhausted, 0);
  CU_ASSERT_EQUAL(r.ok + r.abandoned, 200000);
  CU_ASSERT_EQUAL(bn_tree_node_visits(t, 0), (uint64_t)r.ok);
  assert_valid(t);
  bn_tree_destroy(&t);

  /* Transpositions and exhaustion racing: the bag space is small enough to run out. With
   * 8 letters a word of 5 has 8 * 6 + 1 = 49 actions, enough to take the sorting path of
   * the duplicate merge. */
  bn_domain b = bag_domain(8, 6);
  p = params(1.0);
  p.rule = BN_SELECT_WU_UCT;
  p.exhaust_after = 8;
  t = make_tree(&b, &p);
  r = stress(t, &b, 200000, true);
  CU_ASSERT_EQUAL(r.errors, 0);
  CU_ASSERT(r.exhausted > 0);
  CU_ASSERT(bn_tree_is_exhausted(t, 0));
  CU_ASSERT_EQUAL(bn_tree_node_visits(t, 0), (uint64_t)r.ok);
  /* Every terminal multiset (sizes 1..6 of 8 letters: 3002) is there, sampled 8 times, and
   * every word has one edge per distinct letter it can add, plus stop. */
  uint64_t terminals = 0;
  for (bn_node_id n = 0; n < bn_tree_node_count(t); n++) {
    const bag_state *s = bn_tree_state(t, n);
    bn_edge_id first;
    uint32_t count;
    bn_tree_children(t, n, &first, &count);
    if (bn_tree_is_terminal(t, n)) {
      terminals++;
      CU_ASSERT(bn_tree_node_samples(t, n) >= 8);
    } else {
      CU_ASSERT_EQUAL(count, s->len == 0 ? 8u : s->len == 6 ? 1u : 9u);
    }
  }
  CU_ASSERT_EQUAL(terminals, 3002);
  assert_valid(t);
  bn_tree_destroy(&t);
}

/* ---- persistence: export, import, pending paths ---- */

/* The "hop" domain: a counter from 0 to K, each action adds 1 or 2. State k is reached by
 * paths of different lengths, so a node created deep by one parent can later get an edge
 * from a shallower one (depth is the creating path's length, not the shortest). */
typedef struct hop_state {
  uint32_t k, pad;
} hop_state;
#define HOP_K 14
static void hop_root(const void *ctx, void *s) {
  (void)ctx;
  memset(s, 0, sizeof(hop_state));
}
static int hop_actions(const void *ctx, const void *s, bn_action *out, int max) {
  (void)ctx;
  const hop_state *st = s;
  int n = 0;
  for (uint32_t step = 1; step <= 2 && n < max; step++)
    if (st->k + step <= HOP_K) out[n++] = (bn_action)step;
  return n;
}
static void hop_apply(const void *ctx, const void *s, bn_action a, void *next) {
  (void)ctx;
  hop_state *nx = next;
  *nx = *(const hop_state *)s;
  nx->k += (uint32_t)a;
}
static bool hop_terminal(const void *ctx, const void *s) {
  (void)ctx;
  return ((const hop_state *)s)->k == HOP_K;
}
static const bn_domain_ops hop_ops = {.api_version = BN_DOMAIN_API_VERSION,
                                      .name = "hop",
                                      .root = hop_root,
                                      .actions = hop_actions,
                                      .apply = hop_apply,
                                      .is_terminal = hop_terminal};
static bn_domain hop_domain(void) {
  return (bn_domain){.ops = &hop_ops,
                     .ctx = NULL,
                     .info = {.state_size = sizeof(hop_state),
                              .max_actions = 2,
                              .max_depth = HOP_K}};
}

static void *copy_bytes(const void *p, size_t n) {
  void *q = malloc(n ? n : 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(q);
  if (n) memcpy(q, p, n);
  return q;
}

/* A deep copy, freed with bn_tree_arrays_free like an export. */
static bn_tree_arrays arrays_copy(const bn_tree_arrays *a) {
  bn_tree_arrays c = *a;
  const size_t nn = a->n_nodes, ne = a->n_edges;
#define COPY(f, n) c.f = copy_bytes(a->f, (n) * sizeof *a->f)
  c.states = copy_bytes(a->states, nn * a->state_size);
  COPY(node_visits, nn);
  COPY(node_reward_sum, nn);
  COPY(node_first_edge, nn);
  COPY(node_n_edges, nn);
  COPY(node_depth, nn);
  COPY(node_flags, nn);
  COPY(node_samples, nn);
  COPY(edge_parent, ne);
  COPY(edge_child, ne);
  COPY(edge_action, ne);
  COPY(edge_n_actions, ne);
  COPY(edge_visits, ne);
  COPY(edge_reward_sum, ne);
  COPY(edge_reward_sq, ne);
  COPY(edge_flags, ne);
#undef COPY
  return c;
}

/* Every field and every array, bit for bit (rewards included). */
static void assert_arrays_equal(const bn_tree_arrays *a, const bn_tree_arrays *b) {
  CU_ASSERT_EQUAL_FATAL(a->n_nodes, b->n_nodes);
  CU_ASSERT_EQUAL_FATAL(a->n_edges, b->n_edges);
  CU_ASSERT_EQUAL_FATAL(a->state_size, b->state_size);
  CU_ASSERT_EQUAL(a->n_backprops, b->n_backprops);
  const size_t nn = a->n_nodes, ne = a->n_edges;
#define SAME(f, n) CU_ASSERT(memcmp(a->f, b->f, (n) * sizeof *a->f) == 0)
  CU_ASSERT(memcmp(a->states, b->states, nn * a->state_size) == 0);
  SAME(node_visits, nn);
  SAME(node_reward_sum, nn);
  SAME(node_first_edge, nn);
  SAME(node_n_edges, nn);
  SAME(node_depth, nn);
  SAME(node_flags, nn);
  SAME(node_samples, nn);
  SAME(edge_parent, ne);
  SAME(edge_child, ne);
  SAME(edge_action, ne);
  SAME(edge_n_actions, ne);
  SAME(edge_visits, ne);
  SAME(edge_reward_sum, ne);
  SAME(edge_reward_sq, ne);
  SAME(edge_flags, ne);
#undef SAME
}

static bn_tree_arrays export_ok(const bn_tree *t) {
  bn_tree_arrays a;
  CU_ASSERT_EQUAL_FATAL(bn_tree_export(t, &a), BN_OK);
  return a;
}

static bn_tree *import_ok(const bn_domain *d, const bn_tree_params *p, const bn_tree_arrays *a) {
  bn_tree *t = NULL;
  char why[256] = "";
  bn_err err = bn_tree_import(&t, d, p, a, why, sizeof why);
  if (err != BN_OK) fprintf(stderr, "\n  import: %s (%s)\n", bn_strerror(err), why);
  CU_ASSERT_EQUAL_FATAL(err, BN_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  return t;
}

/* The reward of iteration `seed` whose selection ended at path->leaf: the leaf's own, or a
 * rollout's from it. */
static double iteration_reward(const bn_tree *t, const bn_domain *d, const bn_path *path,
                               uint64_t seed) {
  unsigned char end[64];
  const size_t ss = d->info.state_size;
  memcpy(end, bn_tree_state(t, path->leaf), ss);
  if (!path->terminal)
    CU_ASSERT_EQUAL_FATAL(bn_rollout(d, bn_tree_state(t, path->leaf), seed, end), BN_OK);
  if (d->ops == &bag_ops) return bag_reward(end);
  if (d->ops == &count_ops) return count_reward(d, end);
  return (double)(bn_mix64(seed) >> 11) * 0x1.0p-53;
}

/* `n` serial iterations with seeds first, first + 1, ...: every 11th abandoned, the rest
 * backpropagated. Returns how many found the root exhausted. */
static int run_iterations(bn_tree *t, const bn_domain *d, uint64_t first, int n) {
  bn_edge_id e[64];
  bn_path path = {.edges = e};
  int exhausted = 0;
  for (int i = 0; i < n; i++) {
    const uint64_t seed = first + (uint64_t)i;
    bool ex = false;
    CU_ASSERT_EQUAL_FATAL(bn_tree_select(t, seed, &path, &ex), BN_OK);
    if (ex) {
      exhausted++;
      continue;
    }
    if (seed % 11 == 0)
      bn_tree_abandon(t, &path);
    else
      bn_tree_backprop(t, &path, iteration_reward(t, d, &path, seed));
  }
  return exhausted;
}

static void bn_tree_export_should_round_trip_through_import_with_identical_arrays(void) {
  for (int k = 0; k < 3; k++) {
    bn_domain d = k == 0 ? count_domain(6, 4) : k == 1 ? bag_domain(4, 5) : hop_domain();
    bn_tree_params p = params(1.2);
    p.exhaust_after = k == 1 ? 3 : 0; /* bag: exhaustion flags on the way */
    bn_tree *t = make_tree(&d, &p);
    run_iterations(t, &d, 0, 2000);
    assert_valid(t);
    bn_tree_arrays a = export_ok(t);
    CU_ASSERT_EQUAL(a.n_nodes, bn_tree_node_count(t));
    CU_ASSERT_EQUAL(a.n_edges, bn_tree_edge_count(t));
    CU_ASSERT_EQUAL(a.state_size, d.info.state_size);
    CU_ASSERT_EQUAL(a.n_backprops, bn_tree_node_visits(t, 0));
    for (bn_node_id n = 0; n < a.n_nodes; n++) {
      bn_edge_id first;
      uint32_t count;
      bn_tree_children(t, n, &first, &count);
      CU_ASSERT_EQUAL(a.node_n_edges[n], count);
      CU_ASSERT_EQUAL(!!(a.node_flags[n] & BN_NODE_TERMINAL), bn_tree_is_terminal(t, n));
      CU_ASSERT_EQUAL(!!(a.node_flags[n] & BN_NODE_EXHAUSTED), bn_tree_is_exhausted(t, n));
    }
    if (k == 1) CU_ASSERT(bn_tree_is_exhausted(t, 0)); /* the bag space ran out */

    bn_tree *u = import_ok(&d, &p, &a);
    assert_valid(u);
    CU_ASSERT_EQUAL(bn_tree_node_count(u), bn_tree_node_count(t));
    for (bn_node_id n = 0; n < a.n_nodes; n++)
      CU_ASSERT_EQUAL(bn_tree_find(u, bn_tree_state(t, n)), n);
    bn_tree_arrays b = export_ok(u);
    assert_arrays_equal(&a, &b);
    /* Arrays without the action counts: the import derives them from the domain. */
    uint32_t *counts = a.edge_n_actions;
    a.edge_n_actions = NULL;
    bn_tree *v = import_ok(&d, &p, &a);
    a.edge_n_actions = counts;
    bn_tree_arrays w = export_ok(v);
    assert_arrays_equal(&a, &w);
    bn_tree_arrays_free(&w);
    bn_tree_destroy(&v);
    if (k == 2) { /* hop: some node is deeper than a parent's depth + 1, and that is fine */
      bool deeper = false;
      for (bn_edge_id e = 0; e < a.n_edges; e++)
        deeper |= a.node_depth[a.edge_child[e]] > a.node_depth[a.edge_parent[e]] + 1;
      CU_ASSERT(deeper);
    }
    bn_tree_arrays_free(&a);
    bn_tree_arrays_free(&b);
    CU_ASSERT_PTR_NULL(a.states);
    bn_tree_arrays_free(&a); /* twice is harmless */
    bn_tree_arrays_free(NULL);
    bn_tree_destroy(&u);
    bn_tree_destroy(&t);
  }
}

static void bn_tree_import_should_continue_the_search_exactly_like_the_original(void) {
  /* No exhaustion here: the edges' dead-child hints are not exported (the import sets them
   * for every exhausted child at once, the original as selection meets them), and where
   * they differ, selection may differ too. */
  bn_domain d = bag_domain(4, 6);
  bn_tree_params p = params(1.0);
  bn_tree *t = make_tree(&d, &p);
  run_iterations(t, &d, 0, 300);
  /* Three iterations in flight at the checkpoint. */
  bn_edge_id pe[3][16];
  bn_path pending[3];
  for (int i = 0; i < 3; i++) {
    pending[i] = (bn_path){.edges = pe[i]};
    select_ok(t, 5000 + (uint64_t)i, &pending[i]);
  }
  bn_tree_arrays a = export_ok(t);
  bn_tree *u = import_ok(&d, &p, &a);
  for (int i = 0; i < 3; i++) CU_ASSERT_EQUAL(bn_tree_restore_path(u, &pending[i]), BN_OK);

  bn_edge_id et[16], eu[16];
  bn_path pt = {.edges = et}, pu = {.edges = eu};
  int same = 0, exhausted = 0;
  for (int i = 0; i < 1500; i++) {
    const uint64_t seed = 300 + (uint64_t)i;
    bool ext = false, exu = false;
    CU_ASSERT_EQUAL_FATAL(bn_tree_select(t, seed, &pt, &ext), BN_OK);
    CU_ASSERT_EQUAL_FATAL(bn_tree_select(u, seed, &pu, &exu), BN_OK);
    CU_ASSERT_EQUAL_FATAL(ext, exu);
    if (i == 100)
      for (int j = 0; j < 3; j++) { /* the pending results come back */
        bn_tree_backprop(t, &pending[j], 0.5);
        bn_tree_backprop(u, &pending[j], 0.5);
      }
    if (ext) {
      exhausted++;
      continue;
    }
    bool equal = pt.len == pu.len && pt.leaf == pu.leaf && pt.terminal == pu.terminal &&
                 memcmp(et, eu, (size_t)pt.len * sizeof et[0]) == 0;
    CU_ASSERT(equal);
    same += equal;
    double r = iteration_reward(t, &d, &pt, seed);
    bn_tree_backprop(t, &pt, r);
    bn_tree_backprop(u, &pu, r);
  }
  CU_ASSERT_EQUAL(exhausted, 0);
  CU_ASSERT_EQUAL(same, 1500);
  assert_valid(t);
  assert_valid(u);
  bn_tree_arrays b = export_ok(t), c = export_ok(u);
  assert_arrays_equal(&b, &c);
  bn_tree_arrays_free(&a);
  bn_tree_arrays_free(&b);
  bn_tree_arrays_free(&c);
  bn_tree_destroy(&u);
  bn_tree_destroy(&t);
}

static void bn_tree_restore_path_should_put_back_marks_that_backprop_and_abandon_balance(void) {
  bn_domain d = count_domain(4, 3);
  bn_tree_params p = params(1.4);
  p.exhaust_after = 1;
  bn_tree *t = make_tree(&d, &p);
  run_iterations(t, &d, 1, 40);
  bn_edge_id pe[4][8];
  bn_path pending[5];
  for (int i = 0; i < 4; i++) {
    pending[i] = (bn_path){.edges = pe[i]};
    select_ok(t, 900 + (uint64_t)i, &pending[i]);
  }
  pending[4] = (bn_path){.edges = NULL, .len = 0, .leaf = 0}; /* a path of the root alone */
  bool terminal_pending = false;
  for (int i = 0; i < 4; i++) terminal_pending |= pending[i].terminal;
  CU_ASSERT(terminal_pending); /* a terminal's sample is exported, not counted twice */

  bn_tree_arrays a = export_ok(t);
  bn_tree *u = import_ok(&d, &p, &a);
  for (bn_node_id n = 0; n < a.n_nodes; n++) CU_ASSERT_EQUAL(bn_tree_node_in_flight(u, n), 0);
  for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(bn_tree_restore_path(u, &pending[i]), BN_OK);
  /* Exactly the marks the original holds. */
  for (bn_node_id n = 0; n < a.n_nodes; n++) {
    CU_ASSERT_EQUAL(bn_tree_node_in_flight(u, n), bn_tree_node_in_flight(t, n));
    CU_ASSERT_EQUAL(bn_tree_node_samples(u, n), bn_tree_node_samples(t, n));
    CU_ASSERT_EQUAL(bn_tree_is_exhausted(u, n), bn_tree_is_exhausted(t, n));
  }
  for (bn_edge_id e = 0; e < a.n_edges; e++)
    CU_ASSERT_EQUAL(bn_tree_edge_in_flight(u, e), bn_tree_edge_in_flight(t, e));
  CU_ASSERT_EQUAL(bn_tree_restore_path(u, &pending[4]), BN_OK);
  CU_ASSERT_EQUAL(bn_tree_node_in_flight(u, 0), 5);
  char why[256];
  CU_ASSERT_EQUAL(bn_tree_check(u, why, sizeof why), BN_ERR_CORRUPT); /* in flight */

  bn_tree_backprop(u, &pending[0], 1.0);
  bn_tree_abandon(u, &pending[1]);
  bn_tree_backprop(u, &pending[2], 0.0);
  bn_tree_abandon(u, &pending[3]);
  bn_tree_abandon(u, &pending[4]);
  for (bn_node_id n = 0; n < bn_tree_node_count(u); n++)
    CU_ASSERT_EQUAL(bn_tree_node_in_flight(u, n), 0);
  for (bn_edge_id e = 0; e < bn_tree_edge_count(u); e++)
    CU_ASSERT_EQUAL(bn_tree_edge_in_flight(u, e), 0);
  CU_ASSERT_EQUAL(bn_tree_node_visits(u, 0), a.n_backprops + 2);
  assert_valid(u);
  run_iterations(u, &d, 2000, 50);
  assert_valid(u);
  bn_tree_arrays_free(&a);
  bn_tree_destroy(&u);
  for (int i = 0; i < 4; i++) bn_tree_abandon(t, &pending[i]);
  assert_valid(t);
  bn_tree_destroy(&t);
}

static void bn_tree_restore_path_should_reject_a_broken_chain(void) {
  bn_domain d = count_domain(3, 3);
  bn_tree_params p = params(1.4);
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[8];
  bn_path path = {.edges = e};
  run_iterations(t, &d, 1, 60);
  for (uint64_t seed = 77; seed < 177; seed++) { /* a path of 3 edges, for its links */
    select_ok(t, seed, &path);
    if (path.len == 3) break;
    bn_tree_abandon(t, &path);
  }
  CU_ASSERT_EQUAL_FATAL(path.len, 3);
  bn_tree_arrays a = export_ok(t);
  bn_tree_abandon(t, &path);
  bn_tree *u = import_ok(&d, &p, &a);
  const bn_edge_id good[3] = {e[0], e[1], e[2]};
  const bn_node_id leaf = path.leaf;
  bn_edge_id b[16];
  bn_path bad = {.edges = b};
  /* The path itself is fine. */
  memcpy(b, good, sizeof good);
  bad.len = 3;
  bad.leaf = leaf;
  CU_ASSERT_EQUAL(bn_tree_restore_path(u, &bad), BN_OK);
  bn_tree_abandon(u, &bad);

#define RESTORE_FAILS(damage)                                        \
  do {                                                               \
    memcpy(b, good, sizeof good);                                    \
    bad.len = 3;                                                     \
    bad.leaf = leaf;                                                 \
    damage;                                                          \
    CU_ASSERT_EQUAL(bn_tree_restore_path(u, &bad), BN_ERR_CORRUPT);  \
  } while (0)
  RESTORE_FAILS(bad.leaf = bn_tree_edge_child(u, good[1]));   /* the leaf is not the end */
  RESTORE_FAILS(b[0] = good[1]);                              /* does not start at the root */
  RESTORE_FAILS(b[1] = good[2]);                              /* a link skipped */
  RESTORE_FAILS(b[2] = (bn_edge_id)a.n_edges);                /* edge id out of range */
  RESTORE_FAILS(b[0] = BN_NONE);
  RESTORE_FAILS(bad.leaf = (bn_node_id)a.n_nodes);            /* leaf out of range */
  RESTORE_FAILS(bad.len = 0);                                 /* empty, leaf not the root */
  RESTORE_FAILS(bad.len = -1);
  RESTORE_FAILS(bad.len = bn_tree_path_capacity(u) + 1);      /* longer than a path can be */
#undef RESTORE_FAILS
  /* No failed attempt left a mark. */
  for (bn_node_id n = 0; n < bn_tree_node_count(u); n++)
    CU_ASSERT_EQUAL(bn_tree_node_in_flight(u, n), 0);
  for (bn_edge_id i = 0; i < bn_tree_edge_count(u); i++)
    CU_ASSERT_EQUAL(bn_tree_edge_in_flight(u, i), 0);
  assert_valid(u);
  bn_tree_arrays_free(&a);
  bn_tree_destroy(&u);
  bn_tree_destroy(&t);
}

/* Import `a` expecting BN_ERR_CORRUPT with `word` in the reason and no tree. */
static void import_fails(const bn_domain *d, const bn_tree_params *p, const bn_tree_arrays *a,
                         const char *word, int line) {
  bn_tree *u = NULL;
  char why[256] = "";
  bn_err err = bn_tree_import(&u, d, p, a, why, sizeof why);
  CU_ASSERT_EQUAL(err, BN_ERR_CORRUPT);
  CU_ASSERT_PTR_NULL(u);
  if (err != BN_ERR_CORRUPT || !strstr(why, word)) {
    fprintf(stderr, "\n  line %d: import gave %s \"%s\", expected \"%s\"\n", line,
            bn_strerror(err), why, word);
    CU_FAIL("reason");
  }
  bn_tree_destroy(&u);
}

/* Find a node matching `pred`, skipping the root; BN_NONE if none. */
static bn_node_id find_node(const bn_tree_arrays *a,
                            bool (*pred)(const bn_tree_arrays *, bn_node_id)) {
  for (bn_node_id n = 1; n < a->n_nodes; n++)
    if (pred(a, n)) return n;
  return BN_NONE;
}
static bool is_open_leaf(const bn_tree_arrays *a, bn_node_id n) {
  return a->node_flags[n] == 0; /* neither terminal nor expanded */
}
static bool is_inner(const bn_tree_arrays *a, bn_node_id n) {
  /* expanded, two or more visited edges, and some child not exhausted */
  if (!(a->node_flags[n] & BN_NODE_EXPANDED) || a->node_n_edges[n] < 2) return false;
  const uint32_t f = a->node_first_edge[n];
  return a->edge_visits[f] > 0 && a->edge_visits[f + 1] > 0 &&
         !(a->node_flags[a->edge_child[f]] & BN_NODE_EXHAUSTED);
}
static bool is_unsorted_able(const bn_tree_arrays *a, bn_node_id n) {
  const bag_state *s = (const bag_state *)(a->states + (size_t)n * a->state_size);
  return s->len >= 2 && s->word[0] != s->word[s->len - 1];
}

/* Damage that keeps every id, range and sum valid. */
static void unsort_word(bn_tree_arrays *c, bn_node_id n) {
  bag_state *s = (bag_state *)(c->states + (size_t)n * c->state_size);
  char first = s->word[0];
  s->word[0] = s->word[s->len - 1];
  s->word[s->len - 1] = first;
}
#define SWAP(type, x, y) \
  do {                   \
    type tmp_ = (x);     \
    (x) = (y);           \
    (y) = tmp_;          \
  } while (0)
static void swap_edges(bn_tree_arrays *c, uint32_t e) { /* e and e + 1, statistics included */
  SWAP(uint32_t, c->edge_child[e], c->edge_child[e + 1]);
  SWAP(uint32_t, c->edge_n_actions[e], c->edge_n_actions[e + 1]);
  SWAP(uint64_t, c->edge_visits[e], c->edge_visits[e + 1]);
  SWAP(double, c->edge_reward_sum[e], c->edge_reward_sum[e + 1]);
  SWAP(double, c->edge_reward_sq[e], c->edge_reward_sq[e + 1]);
  SWAP(uint8_t, c->edge_flags[e], c->edge_flags[e + 1]);
}
#undef SWAP

/* An edit that closes a cycle and breaks nothing the links pass checks before it: edge *e
 * (from p, not the root) is to lead back to *q, a parent of p other than the root, and the
 * child it leaves keeps another incoming edge or was never expanded, sampled or visited. */
static bool find_cycle_edit(const bn_tree_arrays *a, uint32_t *e, bn_node_id *q) {
  for (uint32_t i = 0; i < a->n_edges; i++) {
    const bn_node_id p = a->edge_parent[i], g = a->edge_child[i];
    uint32_t in = 0;
    for (uint32_t j = 0; j < a->n_edges; j++) in += a->edge_child[j] == g;
    if (p == 0 || (in < 2 && (a->node_flags[g] || a->node_visits[g] || a->node_samples[g])))
      continue;
    for (uint32_t j = 0; j < a->n_edges; j++)
      if (a->edge_child[j] == p && a->edge_parent[j] != 0) {
        *e = i;
        *q = a->edge_parent[j];
        return true;
      }
  }
  return false;
}

static void bn_tree_import_should_reject_each_corruption_with_a_reason(void) {
  bn_domain d = bag_domain(3, 4);
  bn_tree_params p = params(1.4);
  bn_tree *t = make_tree(&d, &p);
  run_iterations(t, &d, 0, 400);
  bn_tree_arrays a = export_ok(t);
  bn_tree_destroy(&t);
  const uint64_t nn = a.n_nodes, ne = a.n_edges;
  const size_t ss = a.state_size;
  const bn_node_id leaf = find_node(&a, is_open_leaf), inner = find_node(&a, is_inner),
                   mixed = find_node(&a, is_unsorted_able);
  CU_ASSERT_FATAL(leaf != BN_NONE && inner != BN_NONE && mixed != BN_NONE);
  const uint32_t f = a.node_first_edge[inner];
  bn_node_id terminal = BN_NONE, terminal2 = BN_NONE;
  for (bn_node_id n = 1; n < nn; n++)
    if (a.node_flags[n] & BN_NODE_TERMINAL) {
      if (terminal == BN_NONE)
        terminal = n;
      else if (terminal2 == BN_NONE)
        terminal2 = n;
    }
  CU_ASSERT_FATAL(terminal2 != BN_NONE);
  uint32_t back = 0, merged = 0;
  bn_node_id ancestor = 0;
  CU_ASSERT_FATAL(find_cycle_edit(&a, &back, &ancestor));
  while (merged < ne && a.edge_n_actions[merged] < 2) merged++; /* an edge of two actions */
  CU_ASSERT_FATAL(merged < ne);
  bn_tree_arrays c;
  bn_tree_params q;

  /* Each case: a fresh copy, one damage, the word the reason must hold. */
#define CASE(damage, word)                         \
  do {                                             \
    c = arrays_copy(&a);                           \
    q = p;                                         \
    damage;                                        \
    import_fails(&d, &q, &c, word, __LINE__);      \
    bn_tree_arrays_free(&c);                       \
  } while (0)
  CASE(c.edge_child[f] = (uint32_t)nn, "out of range");             /* child out of range */
  CASE(c.edge_child[ne - 1] = UINT32_MAX, "out of range");
  CASE(c.edge_parent[f] = (uint32_t)nn + 7, "out of range");
  CASE(c.node_n_edges[inner] = (uint32_t)(ne - f + 1), "past the end"); /* range too long */
  CASE((c.node_first_edge[inner] = UINT32_MAX, c.node_n_edges[inner] = UINT32_MAX),
       "past the end");                                                  /* no wrap-around */
  CASE(c.edge_parent[f] = leaf, "edge range");                     /* parent mismatch */
  CASE(c.edge_parent[f + 1] = 0, "edge range");
  CASE(c.node_first_edge[inner] = f + 1, "parent");                /* overlapping ranges */
  CASE(memcpy(c.states + (size_t)terminal2 * ss, c.states + (size_t)terminal * ss, ss),
       "same state");                                              /* duplicate state */
  CASE(memcpy(c.states + (size_t)leaf * ss, c.states + (size_t)inner * ss, ss), "same state");
  CASE(unsort_word(&c, mixed), "canonical");
  /* A state the domain would choke on is never handed to it: only derived states are. */
  CASE(((bag_state *)(c.states + (size_t)leaf * ss))->len = 200, "canonical state");
  CASE(c.node_flags[leaf] |= BN_NODE_TERMINAL, "terminal flag");   /* wrong terminal flag */
  CASE(c.node_flags[terminal] &= (uint8_t)~BN_NODE_TERMINAL, "terminal flag");
  CASE(c.node_flags[terminal] |= BN_NODE_EXPANDED, "terminal with out-edges");
  CASE(c.node_n_edges[leaf] = 1, "not expanded");
  CASE(c.node_flags[leaf] = 0x40, "flags");
  CASE(c.edge_visits[f] += 1, "visits");                           /* visit sums */
  CASE(c.node_visits[leaf] += 1, "visits");
  CASE(c.node_visits[0] += 1, "visits");
  CASE(c.n_backprops += 1, "root visits");
  CASE(c.edge_reward_sum[f] = NAN, "reward");                      /* NaN and friends */
  CASE(c.edge_reward_sq[f] = -1, "reward");
  CASE(c.edge_flags[f] = 0x10, "unknown flags");
  CASE(c.edge_reward_sum[f] = INFINITY, "reward");
  CASE(c.node_reward_sum[inner] = NAN, "reward");
  CASE(c.node_reward_sum[leaf] += 0.25, "reward");
  CASE(c.edge_reward_sum[f] = 1e6, "impossible");
  CASE(((bag_state *)c.states)->len = 1, "root");                  /* root state wrong */
  CASE(c.edge_child[f] = 0, "root");
  CASE(c.node_depth[0] = 1, "root depth");
  CASE(q.max_nodes = nn - 1, "search.max_nodes >=");               /* capacity */
  CASE(q.max_edges = ne - 1, "search.max_edges >=");
  CASE(c.state_size = ss + 1, "bytes");                            /* sizes */
  CASE(c.n_nodes = 0, "root");
  CASE(c.edge_visits = (free(c.edge_visits), NULL), "missing");
  CASE(c.node_samples[leaf] = 1, "samples");                      /* samples, exhaustion */
  CASE(c.node_samples[terminal] = 0, "selected only");
  CASE(c.node_flags[inner] |= BN_NODE_EXHAUSTED, "exhausted");
  CASE(c.node_flags[leaf] |= BN_NODE_EXHAUSTED, "exhausted");
  CASE(c.node_flags[terminal] |= BN_NODE_EXHAUSTED, "exhaust_after");
  CASE(c.edge_child[f] = c.edge_child[f + 1], "two edges");        /* edges vs the domain */
  CASE(c.edge_action[f] = c.edge_action[f + 1], "action");
  CASE(c.edge_action[f] = 1000, "action");
  CASE(c.edge_n_actions[f] = 0, "action count 0");                /* action counts */
  CASE(c.edge_n_actions[f] = 1000, "more than the domain's");
  CASE(c.edge_n_actions[merged]--, "actions reach its child, not");
  CASE(c.edge_n_actions[f + (c.edge_n_actions[f] == 1)]++, "actions reach its child, not");
  CASE(c.edge_child[f] = inner, "itself");
  CASE(c.edge_child[back] = ancestor, "cycle");                     /* checked before the domain */
  /* Two sibling edges swapped with their statistics: every sum holds, only the domain
   * can tell that the actions no longer lead to those children. */
  CASE(swap_edges(&c, f), "canonical state that action");
  /* The last edge dropped (its node's count shortened, its child and its sums kept
   * consistent would need more edits): the edge then belongs to no range. */
  CASE(c.node_n_edges[c.edge_parent[ne - 1]]--, "edge range");
#undef CASE

  /* The undamaged arrays still import. */
  bn_tree *u = import_ok(&d, &p, &a);
  bn_tree_destroy(&u);
  bn_tree_arrays_free(&a);
}

static void bn_tree_import_should_accept_the_graph_of_a_search_that_filled_its_store(void) {
  /* As in the full-store test: expansions undone, children left without their edge. A
   * restart with a larger store is the reason to checkpoint such a graph. */
  bn_domain d = count_domain(4, 4);
  bn_tree_params p = params(1.4);
  p.max_nodes = 10;
  bn_tree *t = make_tree(&d, &p);
  bn_edge_id e[8];
  bn_path path = {.edges = e};
  bool ex;
  bn_err err = BN_OK;
  for (int i = 0; i < 100 && err == BN_OK; i++) {
    err = bn_tree_select(t, (uint64_t)i, &path, &ex);
    if (err == BN_OK) bn_tree_backprop(t, &path, 0.5);
  }
  CU_ASSERT_EQUAL(err, BN_ERR_FULL);
  bn_tree_arrays a = export_ok(t);
  bool orphan = false; /* a child of the undone expansion, no edge leads to it */
  for (bn_node_id n = 1; n < a.n_nodes; n++) {
    bool reached = false;
    for (bn_edge_id i = 0; i < a.n_edges; i++) reached |= a.edge_child[i] == n;
    orphan |= !reached;
  }
  CU_ASSERT(orphan);
  bn_tree *u = import_ok(&d, &p, &a); /* the same capacity */
  assert_valid(u);
  bn_tree_destroy(&u);
  p.max_nodes = 9;
  import_fails(&d, &p, &a, "needs search.max_nodes >= 10", __LINE__);
  p.max_nodes = 1000;
  u = import_ok(&d, &p, &a);
  run_iterations(u, &d, 500, 200); /* the search goes on where it stopped */
  CU_ASSERT(bn_tree_node_count(u) > 10);
  assert_valid(u);
  bn_tree_destroy(&u);
  bn_tree_arrays_free(&a);
  bn_tree_destroy(&t);
}

/* ---- CircuiTree's expansion order (CIRCUIT-MODEL.md §2) ---- */
/* CircuiTree shuffles the actions and expands the child of the first one whose edge is new,
 * so a child that k actions reach comes first k times as often as a child that one action
 * reaches. At the root ABC:: of the circuit domain 18 actions reach 4 canonical children:
 * 6 each ABa and ABi (an interaction between two components), 3 each AAa and AAi (a
 * self-loop). A uniform pick among the 4 edges would give the two-component circuits 1/2
 * of first expansions instead of 12/18. Each trial is a new tree and a new seed: the
 * child its first selection stops at. */
static void bn_tree_select_should_expand_a_child_in_proportion_to_the_actions_reaching_it(void) {
  const bn_domain_ops *ops = bn_domain_find("circuit");
  CU_ASSERT_PTR_NOT_NULL_FATAL(ops);
  bn_config *cfg = NULL;
  CU_ASSERT_FATAL(bn_config_create(&cfg) == BN_OK);
  CU_ASSERT_FATAL(bn_config_declare(cfg, ops->options, ops->n_options) == BN_OK);
  CU_ASSERT_FATAL(bn_config_load_string(cfg, "[domain.circuit]\nroot = ABC::\n", "test") == BN_OK);
  CU_ASSERT_FATAL(bn_config_finalize(cfg, stderr) == BN_OK);
  bn_domain d;
  CU_ASSERT_FATAL(bn_domain_open(&d, ops, cfg) == BN_OK);

  enum { TRIALS = 3000, KINDS = 4 };
  static const char *const kind[KINDS] = {"ABC::ABa", "ABC::ABi", "ABC::AAa", "ABC::AAi"};
  static const uint32_t actions[KINDS] = {6, 6, 3, 3}; /* of 18 */
  long count[KINDS] = {0};
  bn_tree_params p = params(M_SQRT2);
  p.max_nodes = 64;
  p.max_edges = 64;
  bn_edge_id e[16];
  bn_path path = {.edges = e};
  char text[128];
  for (int trial = 0; trial < TRIALS; trial++) {
    bn_tree *t = make_tree(&d, &p);
    select_ok(t, (uint64_t)trial, &path);
    CU_ASSERT_EQUAL_FATAL(path.len, 1);
    CU_ASSERT_FATAL(d.ops->describe(d.ctx, bn_tree_state(t, path.leaf), text, sizeof text) >= 0);
    int k = 0;
    while (k < KINDS && strcmp(text, kind[k]) != 0) k++;
    CU_ASSERT_FATAL(k < KINDS);
    count[k]++;
    if (trial == 0) { /* the multiplicities the pick is weighted by */
      bn_edge_id first;
      uint32_t n;
      bn_tree_children(t, 0, &first, &n);
      CU_ASSERT_EQUAL(n, KINDS);
      for (uint32_t i = 0; i < n; i++) {
        d.ops->describe(d.ctx, bn_tree_state(t, bn_tree_edge_child(t, first + i)), text, sizeof text);
        int j = 0;
        while (j < KINDS && strcmp(text, kind[j]) != 0) j++;
        CU_ASSERT_FATAL(j < KINDS);
        CU_ASSERT_EQUAL(bn_tree_edge_n_actions(t, first + i), actions[j]);
      }
    }
    bn_tree_abandon(t, &path);
    bn_tree_destroy(&t);
  }

  /* Binomial test of the two-component share: |z| < 4 against 12/18, and the same sample
   * size puts 1/2 beyond |z| = 4 (about 18 standard deviations away). */
  const double n = TRIALS, ab = (double)(count[0] + count[1]);
  const double z = (ab - n * 12 / 18) / sqrt(n * (12.0 / 18) * (6.0 / 18));
  const double z_half = (ab - n / 2) / sqrt(n / 4);
  /* Chi-square over the 4 children (3 degrees of freedom): 25 is the 0.99998 quantile. */
  double chi2 = 0;
  for (int k = 0; k < KINDS; k++) {
    const double expect = n * actions[k] / 18;
    chi2 += (count[k] - expect) * (count[k] - expect) / expect;
  }
  if (!(fabs(z) < 4 && fabs(z_half) > 4 && chi2 < 25))
    fprintf(stderr, "\n  first expansions over %d trials: ABa %ld ABi %ld AAa %ld AAi %ld; "
            "two-component share %.3f (z %.2f against 12/18, %.2f against 1/2), chi2 %.1f\n",
            TRIALS, count[0], count[1], count[2], count[3], ab / n, z, z_half, chi2);
  CU_ASSERT(fabs(z) < 4);
  CU_ASSERT(fabs(z_half) > 4);
  CU_ASSERT(chi2 < 25);
  bn_domain_close(&d);
  bn_config_destroy(&cfg);

  /* Five components: 50 actions, more than expansion merges pairwise (it sorts them), still
   * 4 children: 20 each of ABa and ABi, 5 each of AAa and AAi. */
  CU_ASSERT_FATAL(bn_config_create(&cfg) == BN_OK);
  CU_ASSERT_FATAL(bn_config_declare(cfg, ops->options, ops->n_options) == BN_OK);
  CU_ASSERT_FATAL(bn_config_load_string(cfg, "[domain.circuit]\nroot = ABCDE::\n", "test") == BN_OK);
  CU_ASSERT_FATAL(bn_config_finalize(cfg, stderr) == BN_OK);
  CU_ASSERT_FATAL(bn_domain_open(&d, ops, cfg) == BN_OK);
  bn_tree *t = make_tree(&d, &p);
  select_ok(t, 1, &path);
  bn_edge_id first;
  uint32_t n_edges, total = 0, twenty = 0;
  bn_tree_children(t, 0, &first, &n_edges);
  CU_ASSERT_EQUAL(n_edges, KINDS);
  for (uint32_t i = 0; i < n_edges; i++) {
    const uint32_t w = bn_tree_edge_n_actions(t, first + i);
    total += w;
    twenty += w == 20;
  }
  CU_ASSERT_EQUAL(total, 50);
  CU_ASSERT_EQUAL(twenty, 2);
  bn_tree_abandon(t, &path);
  assert_valid(t);
  bn_tree_destroy(&t);
  bn_domain_close(&d);
  bn_config_destroy(&cfg);
}

BN_TEST_MAIN("tree", BN_TEST(bn_tree_create_should_hold_the_canonical_root_as_node_0),
             BN_TEST(bn_tree_select_should_take_every_new_edge_once_before_any_revisit),
             BN_TEST(bn_tree_select_should_follow_uct_once_all_edges_are_visited),
             BN_TEST(bn_tree_select_should_steer_concurrent_selections_apart_by_virtual_loss),
             BN_TEST(bn_tree_select_should_count_in_flight_only_in_exploration_with_wu_uct),
             BN_TEST(bn_tree_expand_should_share_transpositions_and_merge_duplicate_actions),
             BN_TEST(bn_tree_abandon_should_leave_no_phantom_visit),
             BN_TEST(bn_tree_select_should_exhaust_sampled_terminals_and_then_the_root),
             BN_TEST(bn_tree_select_should_exhaust_up_the_path_while_evaluations_are_in_flight),
             BN_TEST(bn_tree_select_should_report_full_stores_and_keep_the_tree_valid),
             BN_TEST(bn_tree_select_should_reject_paths_longer_than_max_depth),
             BN_TEST(bn_rollout_should_reach_a_terminal_deterministically_in_the_seed),
             BN_TEST(bn_tree_best_terminals_should_order_by_mean_then_visits),
             BN_TEST(bn_tree_check_should_catch_a_corrupted_count),
             BN_TEST(bn_tree_check_should_apply_the_graph_rules_the_import_applies),
             BN_TEST(bn_tree_check_should_pass_after_concurrent_search),
             BN_TEST(bn_tree_export_should_round_trip_through_import_with_identical_arrays),
             BN_TEST(bn_tree_import_should_continue_the_search_exactly_like_the_original),
             BN_TEST(bn_tree_restore_path_should_put_back_marks_that_backprop_and_abandon_balance),
             BN_TEST(bn_tree_restore_path_should_reject_a_broken_chain),
             BN_TEST(bn_tree_import_should_reject_each_corruption_with_a_reason),
             BN_TEST(bn_tree_import_should_accept_the_graph_of_a_search_that_filled_its_store),
             BN_TEST(bn_tree_select_should_expand_a_child_in_proportion_to_the_actions_reaching_it))
