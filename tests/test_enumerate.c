/* Exhaustive enumeration: exact counts on the synthetic tree, the max_states limit, and
 * transpositions on a small multiset domain defined here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/config.h"
#include "banyan/enumerate.h"
#include "bn_test.h"

/* The synthetic domain of depth D and branching B, opened as the runtime does (config,
 * then bn_domain_open). One at a time: the previous one is closed on the next call. */
static bn_domain open_synthetic(int depth, int branching) {
  static bn_domain d;
  bn_domain_close(&d);
  const bn_domain_ops *ops = bn_domain_find("synthetic");
  CU_ASSERT_PTR_NOT_NULL_FATAL(ops);
  char ini[128];
  snprintf(ini, sizeof ini, "[domain.synthetic]\ndepth = %d\nbranching = %d\n", depth,
           branching);
  bn_config *cfg = NULL;
  CU_ASSERT_EQUAL_FATAL(bn_config_create(&cfg), BN_OK);
  CU_ASSERT_EQUAL_FATAL(bn_config_declare(cfg, ops->options, ops->n_options), BN_OK);
  CU_ASSERT_EQUAL_FATAL(bn_config_load_string(cfg, ini, "test"), BN_OK);
  CU_ASSERT_EQUAL_FATAL(bn_config_finalize(cfg, stderr), BN_OK);
  CU_ASSERT_EQUAL_FATAL(bn_domain_open(&d, ops, cfg), BN_OK);
  bn_config_destroy(&cfg);
  return d;
}

/* Multisets of K items out of N: state = count byte + K item bytes (unused 0). Action a adds
 * item a % N, so each item has two action codes (two moves with the same effect) and the
 * children of a parent repeat; canonicalize sorts the items, so orders that give the same
 * multiset are transpositions. */
enum { MS_N = 3, MS_K = 3 };

static void ms_root(const void *ctx, void *state) { memset(state, 0, 1 + MS_K); }
static int ms_actions(const void *ctx, const void *state, bn_action *out, int max) {
  if (((const uint8_t *)state)[0] >= MS_K) return 0;
  int n = 2 * MS_N < max ? 2 * MS_N : max;
  for (int i = 0; i < n; i++) out[i] = i;
  return n;
}
static void ms_apply(const void *ctx, const void *state, bn_action a, void *next) {
  uint8_t *s = next;
  memcpy(s, state, 1 + MS_K);
  s[1 + s[0]] = (uint8_t)(a % MS_N);
  s[0]++;
}
static bool ms_is_terminal(const void *ctx, const void *state) {
  return ((const uint8_t *)state)[0] >= MS_K;
}
static void ms_canonicalize(const void *ctx, void *state) {
  uint8_t *s = state;
  for (int i = 1; i < s[0]; i++) /* insertion sort of items 1..count */
    for (int j = i; j > 0 && s[1 + j - 1] > s[1 + j]; j--) {
      uint8_t t = s[1 + j];
      s[1 + j] = s[1 + j - 1];
      s[1 + j - 1] = t;
    }
}
static int ms_evaluate(const void *ctx, const void *state, const bn_eval_request *req, double *reward,
                       char *why, size_t whylen) {
  *reward = 0;
  return 0;
}
static int ms_describe(const void *ctx, const void *state, char *buf, size_t n) {
  return snprintf(buf, n, "multiset");
}
static int ms_parse(const void *ctx, const char *text, void *state) { return 1; }

static const bn_domain_ops multiset_ops = {
    .api_version = BN_DOMAIN_API_VERSION, .name = "multiset", .root = ms_root,
    .actions = ms_actions, .apply = ms_apply, .is_terminal = ms_is_terminal,
    .canonicalize = ms_canonicalize, .evaluate = ms_evaluate, .describe = ms_describe,
    .parse = ms_parse};

static bn_domain open_multiset(const bn_domain_ops *ops) {
  return (bn_domain){.ops = ops, .info = {.state_size = 1 + MS_K, .max_actions = 2 * MS_N,
                                          .max_depth = MS_K}};
}

static void bn_enumerate_should_count_the_synthetic_tree_by_depth(void) {
  bn_domain d = open_synthetic(3, 4);
  bn_enum_result r;
  CU_ASSERT_EQUAL_FATAL(bn_enumerate(&d, 1000, &r), BN_OK);
  CU_ASSERT_EQUAL_FATAL(r.n_levels, 4);
  const uint64_t nonterminal[4] = {1, 4, 16, 0}, terminal[4] = {0, 0, 0, 64},
                 edges[4] = {4, 16, 64, 0};
  for (int i = 0; i < 4; i++) {
    CU_ASSERT_EQUAL(r.levels[i].nonterminal, nonterminal[i]);
    CU_ASSERT_EQUAL(r.levels[i].terminal, terminal[i]);
    CU_ASSERT_EQUAL(r.levels[i].edges, edges[i]);
  }
  CU_ASSERT_EQUAL(r.nonterminal, 1 + 4 + 16);
  CU_ASSERT_EQUAL(r.terminal, 64);
  CU_ASSERT_EQUAL(r.edges, 84);
  bn_enum_result_free(&r);
  CU_ASSERT_PTR_NULL(r.levels);
}

static void bn_enumerate_should_stop_full_past_max_states(void) {
  bn_domain d = open_synthetic(3, 4); /* 85 states */
  bn_enum_result r = {.n_levels = -5};
  CU_ASSERT_EQUAL(bn_enumerate(&d, 84, &r), BN_ERR_FULL);
  CU_ASSERT_EQUAL(r.n_levels, -5); /* untouched on failure */
  CU_ASSERT_PTR_NULL(r.levels);
  CU_ASSERT_EQUAL(bn_enumerate(&d, 0, &r), BN_ERR_FULL);
  CU_ASSERT_EQUAL_FATAL(bn_enumerate(&d, 85, &r), BN_OK); /* exactly at the limit is fine */
  CU_ASSERT_EQUAL(r.terminal + r.nonterminal, 85);
  bn_enum_result_free(&r);
}

/* Big enough to grow the arena and the hash table several times. */
static void bn_enumerate_should_count_a_large_tree(void) {
  bn_domain d = open_synthetic(5, 8); /* 8^5 = 32768 leaves, 4681 inner states */
  bn_enum_result r;
  CU_ASSERT_EQUAL_FATAL(bn_enumerate(&d, 1u << 20, &r), BN_OK);
  CU_ASSERT_EQUAL(r.terminal, 32768);
  CU_ASSERT_EQUAL(r.nonterminal, 4681);
  CU_ASSERT_EQUAL(r.edges, 32768 + 4681 - 1);
  bn_enum_result_free(&r);
}

static void bn_enumerate_should_count_each_multiset_once_and_dedupe_edges(void) {
  bn_domain d = open_multiset(&multiset_ops);
  bn_enum_result r;
  CU_ASSERT_EQUAL_FATAL(bn_enumerate(&d, 1000, &r), BN_OK);
  CU_ASSERT_EQUAL_FATAL(r.n_levels, 4);
  /* Multisets of size k from 3 items: C(k + 2, 2) = 1, 3, 6, 10. Each inner multiset has
   * 6 actions but 3 distinct children. */
  const uint64_t nonterminal[4] = {1, 3, 6, 0}, terminal[4] = {0, 0, 0, 10},
                 edges[4] = {3, 9, 18, 0};
  for (int i = 0; i < 4; i++) {
    CU_ASSERT_EQUAL(r.levels[i].nonterminal, nonterminal[i]);
    CU_ASSERT_EQUAL(r.levels[i].terminal, terminal[i]);
    CU_ASSERT_EQUAL(r.levels[i].edges, edges[i]);
  }
  CU_ASSERT_EQUAL(r.nonterminal, 10);
  CU_ASSERT_EQUAL(r.terminal, 10);
  CU_ASSERT_EQUAL(r.edges, 30);
  bn_enum_result_free(&r);
}

static void bn_enumerate_should_count_sequences_without_canonicalize(void) {
  bn_domain_ops ops = multiset_ops;
  ops.canonicalize = NULL;
  bn_domain d = open_multiset(&ops);
  bn_enum_result r;
  CU_ASSERT_EQUAL_FATAL(bn_enumerate(&d, 1000, &r), BN_OK);
  CU_ASSERT_EQUAL(r.nonterminal, 1 + 3 + 9);
  CU_ASSERT_EQUAL(r.terminal, 27);
  CU_ASSERT_EQUAL(r.edges, 3 + 9 + 27);
  bn_enum_result_free(&r);
}

static void bn_enumerate_should_reject_missing_arguments(void) {
  bn_domain d = open_synthetic(2, 2), closed = {0};
  bn_enum_result r;
  CU_ASSERT_EQUAL(bn_enumerate(NULL, 10, &r), BN_ERR_ARG);
  CU_ASSERT_EQUAL(bn_enumerate(&d, 10, NULL), BN_ERR_ARG);
  CU_ASSERT_EQUAL(bn_enumerate(&closed, 10, &r), BN_ERR_ARG);
}

static void bn_enum_result_print_should_list_depths_and_totals(void) {
  bn_domain d = open_synthetic(3, 4);
  bn_enum_result r;
  CU_ASSERT_EQUAL_FATAL(bn_enumerate(&d, 1000, &r), BN_OK);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  bn_enum_result_print(&r, f);
  fclose(f);
  const char *want = "depth     nonterminal        terminal           edges\n"
                     "    0               1               0               4\n"
                     "    1               4               0              16\n"
                     "    2              16               0              64\n"
                     "    3               0              64               0\n"
                     "total              21              64              84\n";
  CU_ASSERT_STRING_EQUAL(text, want);
  free(text);
  bn_enum_result_free(&r);
  bn_enum_result_free(NULL);
}

BN_TEST_MAIN("enumerate", BN_TEST(bn_enumerate_should_count_the_synthetic_tree_by_depth),
             BN_TEST(bn_enumerate_should_stop_full_past_max_states),
             BN_TEST(bn_enumerate_should_count_a_large_tree),
             BN_TEST(bn_enumerate_should_count_each_multiset_once_and_dedupe_edges),
             BN_TEST(bn_enumerate_should_count_sequences_without_canonicalize),
             BN_TEST(bn_enumerate_should_reject_missing_arguments),
             BN_TEST(bn_enum_result_print_should_list_depths_and_totals))
