/* The circuit domain (CIRCUIT-MODEL.md §1, §3): grammar, canonical forms, patterns, text,
 * the bistability reward, options. Internal pieces are tested through circuit/circuit.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/config.h"
#include "banyan/domain.h"
#include "banyan/rng.h"
#include "bn_test.h"
#include "circuit/circuit.h"

extern const bn_domain_ops bn_circuit_domain;

#define MAX_STATE (1 + BN__CIRCUIT_MAX_CELLS)
#define MAX_ACTIONS (1 + 2 * BN__CIRCUIT_MAX_CELLS)

/* A context from options given directly (no config module involved). */
static bn__circuit_ctx *ctx_with(const char *root, int max_interactions, const char *fixed,
                                 double delay) {
  bn__circuit_params p = {root, max_interactions, fixed, 0, delay};
  bn__circuit_ctx *c = NULL;
  char err[256] = "";
  int rc = bn__circuit_setup(&p, NULL, &c, err, sizeof err);
  if (rc != 0) fprintf(stderr, "setup(%s): %s\n", root, err);
  CU_ASSERT_FATAL(rc == 0 && c != NULL);
  return c;
}

static bn__circuit_ctx *ctx_for(const char *root) { return ctx_with(root, 0, "", 0); }

/* Parse a text that must be valid. */
static void state_of(const bn__circuit_ctx *c, const char *text, uint8_t *s) {
  char err[256] = "";
  int rc = bn__circuit_parse_why(c, text, s, err, sizeof err);
  if (rc != 0) fprintf(stderr, "parse(%s): %s\n", text, err);
  CU_ASSERT_FATAL(rc == 0);
}

static const char *text_of(const bn__circuit_ctx *c, const uint8_t *s, char *buf) {
  bn__circuit_describe(c, s, buf, BN__CIRCUIT_TEXT_MAX);
  return buf;
}

static bool contains(const bn_action *a, int n, bn_action x) {
  for (int i = 0; i < n; i++)
    if (a[i] == x) return true;
  return false;
}

/* The text of the canonical form of `text`. */
static const char *canonical_text(const bn__circuit_ctx *c, const char *text, char *buf) {
  uint8_t s[MAX_STATE];
  state_of(c, text, s);
  bn__circuit_canonicalize(c, s);
  return text_of(c, s, buf);
}

/* A random state reached from the root by random legal actions, stopping with chance
 * 1/stop before each step. */
static void random_walk(const bn__circuit_ctx *c, bn_rng *r, uint8_t *s, bool canonical,
                        uint32_t stop) {
  bn_action a[MAX_ACTIONS];
  uint8_t next[MAX_STATE];
  bn__circuit_root(c, s);
  for (;;) {
    int k = bn__circuit_actions(c, s, a, MAX_ACTIONS);
    if (k == 0 || bn_rng_below(r, stop) == 0) return;
    bn__circuit_apply(c, s, a[bn_rng_below(r, (uint32_t)k)], next);
    if (canonical) bn__circuit_canonicalize(c, next);
    memcpy(s, next, c->info.state_size);
  }
}

static void random_state(const bn__circuit_ctx *c, bn_rng *r, uint8_t *s, bool canonical) {
  random_walk(c, r, s, canonical, 8);
}

/* ---- grammar ---- */

static void actions_should_offer_every_typed_pair_but_not_terminate_from_empty(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  uint8_t s[MAX_STATE];
  bn_action a[MAX_ACTIONS];
  bn__circuit_root(c, s);
  int k = bn__circuit_actions(c, s, a, MAX_ACTIONS);
  CU_ASSERT_EQUAL(k, 18);
  CU_ASSERT_FALSE(contains(a, k, BN__CIRCUIT_TERMINATE));
  for (int x = 0; x < 3; x++)
    for (int y = 0; y < 3; y++)
      for (int t = 1; t <= 2; t++) CU_ASSERT(contains(a, k, bn__circuit_action(3, x, y, t)));
  bn__circuit_free(c);
}

static void actions_should_keep_the_circuit_connected(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  uint8_t s[MAX_STATE];
  bn_action a[MAX_ACTIONS];
  state_of(c, "ABC::ABa", s);
  int k = bn__circuit_actions(c, s, a, MAX_ACTIONS);
  /* terminate + 7 pairs touching A or B (all but CC, and AB is taken) x 2 types */
  CU_ASSERT_EQUAL(k, 1 + 7 * 2);
  CU_ASSERT(contains(a, k, BN__CIRCUIT_TERMINATE));
  for (int x = 0; x < 3; x++)
    for (int y = 0; y < 3; y++) {
      bool expect = !(x == 0 && y == 1) && !(x == 2 && y == 2);
      for (int t = 1; t <= 2; t++)
        CU_ASSERT_EQUAL(contains(a, k, bn__circuit_action(3, x, y, t)), expect);
    }
  /* A self-loop makes its component part of the circuit. */
  state_of(c, "ABC::CCi", s);
  k = bn__circuit_actions(c, s, a, MAX_ACTIONS);
  CU_ASSERT_EQUAL(k, 1 + 4 * 2); /* AC, BC, CA, CB */
  CU_ASSERT(contains(a, k, bn__circuit_action(3, 0, 2, BN__CIRCUIT_INH)));
  CU_ASSERT_FALSE(contains(a, k, bn__circuit_action(3, 0, 1, BN__CIRCUIT_ACT)));
  bn__circuit_free(c);
}

static void actions_should_offer_only_terminate_at_max_interactions(void) {
  bn__circuit_ctx *c = ctx_with("ABC::", 2, "", 0);
  uint8_t s[MAX_STATE];
  bn_action a[MAX_ACTIONS];
  state_of(c, "ABC::ABa_BAi", s);
  int k = bn__circuit_actions(c, s, a, MAX_ACTIONS);
  CU_ASSERT_EQUAL(k, 1);
  CU_ASSERT_EQUAL(a[0], BN__CIRCUIT_TERMINATE);
  bn__circuit_free(c);
  /* Default bound n*n: the full circuit can only terminate. */
  c = ctx_for("AB::");
  state_of(c, "AB::AAa_ABi_BAi_BBa", s);
  k = bn__circuit_actions(c, s, a, MAX_ACTIONS);
  CU_ASSERT_EQUAL(k, 1);
  CU_ASSERT_EQUAL(a[0], BN__CIRCUIT_TERMINATE);
  bn__circuit_free(c);
}

static void actions_should_offer_nothing_when_terminal_and_respect_max(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  uint8_t s[MAX_STATE];
  bn_action a[MAX_ACTIONS];
  state_of(c, "*ABC::ABa", s);
  CU_ASSERT_EQUAL(bn__circuit_actions(c, s, a, MAX_ACTIONS), 0);
  bn__circuit_root(c, s);
  CU_ASSERT_EQUAL(bn__circuit_actions(c, s, a, 5), 5);
  CU_ASSERT_EQUAL(bn__circuit_actions(c, s, a, 0), 0);
  bn__circuit_free(c);
}

static void apply_should_add_interactions_and_terminate(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  uint8_t s[MAX_STATE], t[MAX_STATE], u[MAX_STATE];
  char buf[BN__CIRCUIT_TEXT_MAX];
  bn__circuit_root(c, s);
  CU_ASSERT_FALSE(bn__circuit_is_terminal(c, s));
  bn__circuit_apply(c, s, bn__circuit_action(3, 1, 0, BN__CIRCUIT_INH), t);
  CU_ASSERT_STRING_EQUAL(text_of(c, t, buf), "ABC::BAi");
  bn__circuit_apply(c, t, bn__circuit_action(3, 0, 0, BN__CIRCUIT_ACT), u);
  CU_ASSERT_STRING_EQUAL(text_of(c, u, buf), "ABC::AAa_BAi");
  CU_ASSERT_FALSE(bn__circuit_is_terminal(c, u));
  bn__circuit_apply(c, u, BN__CIRCUIT_TERMINATE, t);
  CU_ASSERT_STRING_EQUAL(text_of(c, t, buf), "*ABC::AAa_BAi");
  CU_ASSERT(bn__circuit_is_terminal(c, t));
  CU_ASSERT_STRING_EQUAL(text_of(c, u, buf), "ABC::AAa_BAi"); /* input untouched */
  bn__circuit_free(c);
}

static void setup_should_size_states_actions_and_depth(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  CU_ASSERT_EQUAL(c->info.state_size, 10);
  CU_ASSERT_EQUAL(c->info.max_actions, 19);
  CU_ASSERT_EQUAL(c->info.max_depth, 10);
  bn__circuit_free(c);
  c = ctx_for("ABCDE::");
  CU_ASSERT_EQUAL(c->info.state_size, 26);
  CU_ASSERT_EQUAL(c->info.max_actions, 51);
  CU_ASSERT_EQUAL(c->info.max_depth, 26);
  CU_ASSERT_EQUAL(c->n_perms, 120);
  bn__circuit_free(c);
  c = ctx_with("ABC::ABa_BCi", 0, "", 0);
  CU_ASSERT_EQUAL(c->info.max_depth, 9 - 2 + 1);
  bn__circuit_free(c);
  c = ctx_with("ABC::ABa_BCi_CAi", 2, "", 0); /* past the bound: terminate only */
  CU_ASSERT_EQUAL(c->info.max_depth, 1);
  bn__circuit_free(c);
  c = ctx_with("ABC::", 100, "", 0); /* more than n*n is n*n */
  CU_ASSERT_EQUAL(c->max_interactions, 9);
  bn__circuit_free(c);
}

/* Every random walk ends within max_depth steps and never offers more than max_actions. */
static void actions_should_stay_within_reported_bounds(void) {
  const char *roots[] = {"ABC::", "ABCDE::", "AB::ABa", "ABCD::BCi_CDa"};
  const int bounds[] = {0, 4, 0, 3};
  bn_rng r = bn_rng_stream(5, 0, 0);
  for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
    bn__circuit_ctx *c = ctx_with(roots[i], bounds[i], "", 0);
    for (int walk = 0; walk < 300; walk++) {
      uint8_t s[MAX_STATE], next[MAX_STATE];
      bn_action a[MAX_ACTIONS];
      bn__circuit_root(c, s);
      int depth = 0;
      for (;;) {
        int k = bn__circuit_actions(c, s, a, MAX_ACTIONS);
        CU_ASSERT_FATAL(k <= c->info.max_actions);
        if (k == 0) break;
        bn__circuit_apply(c, s, a[bn_rng_below(&r, (uint32_t)k)], next);
        bn__circuit_canonicalize(c, next);
        memcpy(s, next, c->info.state_size);
        depth++;
      }
      CU_ASSERT(bn__circuit_is_terminal(c, s));
      CU_ASSERT(depth <= c->info.max_depth);
    }
    bn__circuit_free(c);
  }
}

/* ---- canonical forms ---- */

static void canonicalize_should_merge_transpositions(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  char b1[BN__CIRCUIT_TEXT_MAX], b2[BN__CIRCUIT_TEXT_MAX];
  CU_ASSERT_STRING_EQUAL(canonical_text(c, "*ABC::BAa_ABi", b1), "*ABC::ABa_BAi");
  CU_ASSERT_STRING_EQUAL(canonical_text(c, "*ABC::ABa_BAi", b2), "*ABC::ABa_BAi");
  CU_ASSERT_STRING_EQUAL(canonical_text(c, "ABC::CCi", b1), "ABC::AAi");
  CU_ASSERT_STRING_EQUAL(canonical_text(c, "ABC::", b1), "ABC::");
  bn__circuit_free(c);
}

static void canonicalize_should_map_every_relabelling_of_the_repressilator_to_one_state(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  const char *variants[] = {"*ABC::ABi_BCi_CAi", "*ABC::ACi_CBi_BAi", "*ABC::BAi_ACi_CBi",
                            "*ABC::BCi_CAi_ABi", "*ABC::CBi_BAi_ACi", "*ABC::CAi_ABi_BCi"};
  uint8_t first[MAX_STATE], s[MAX_STATE];
  state_of(c, variants[0], first);
  bn__circuit_canonicalize(c, first);
  char buf[BN__CIRCUIT_TEXT_MAX];
  CU_ASSERT_STRING_EQUAL(text_of(c, first, buf), "*ABC::ABi_BCi_CAi");
  for (int i = 1; i < 6; i++) {
    state_of(c, variants[i], s);
    bn__circuit_canonicalize(c, s);
    CU_ASSERT(memcmp(s, first, c->info.state_size) == 0);
  }
  bn__circuit_free(c);
}

/* Reference: the smallest text over all permutations of the free letters, built as text. */
static int cmp_token(const void *a, const void *b) { return memcmp(a, b, 3); }

static void reference_canonical(const bn__circuit_ctx *c, const char *fixed, const char *text,
                                char *best) {
  bn__circuit_text t;
  char err[200];
  CU_ASSERT_FATAL(bn__circuit_text_read(text, &t, err, sizeof err) == 0);
  char free_letters[9] = "";
  int m = 0;
  for (int i = 0; i < c->n; i++)
    if (!strchr(fixed, c->letters[i])) free_letters[m++] = c->letters[i];
  int perm[8];
  for (int i = 0; i < m; i++) perm[i] = i;
  best[0] = '\0';
  for (;;) {
    char rename[26];
    for (int i = 0; i < 26; i++) rename[i] = (char)('A' + i);
    for (int i = 0; i < m; i++) rename[free_letters[i] - 'A'] = free_letters[perm[i]];
    char tok[64][3];
    for (int k = 0; k < t.n_tokens; k++) {
      tok[k][0] = rename[t.tokens[k][0] - 'A'];
      tok[k][1] = rename[t.tokens[k][1] - 'A'];
      tok[k][2] = t.tokens[k][2];
    }
    qsort(tok, (size_t)t.n_tokens, 3, cmp_token);
    char out[BN__CIRCUIT_TEXT_MAX];
    int len = snprintf(out, sizeof out, "%s%s::", t.terminal ? "*" : "", c->prefix);
    for (int k = 0; k < t.n_tokens; k++)
      len += snprintf(out + len, sizeof out - (size_t)len, "%s%.3s", k ? "_" : "", tok[k]);
    if (!best[0] || strcmp(out, best) < 0) strcpy(best, out);
    int i = m - 2;
    while (i >= 0 && perm[i] > perm[i + 1]) i--;
    if (i < 0) break;
    int j = m - 1;
    while (perm[j] < perm[i]) j--;
    int x = perm[i];
    perm[i] = perm[j];
    perm[j] = x;
    for (int a = i + 1, b = m - 1; a < b; a++, b--) {
      x = perm[a];
      perm[a] = perm[b];
      perm[b] = x;
    }
  }
}

static void canonicalize_should_give_the_smallest_text_over_permutations(void) {
  static const struct {
    const char *root, *fixed;
    int trials;
  } cases[] = {{"ABC::", "", 300},      {"ABCD::", "", 300},   {"ABCDE::", "", 300},
               {"ABCDE::", "A", 300},   {"ABCDE::", "BD", 300}, {"DBCA::", "C", 300},
               {"ABCDEF::", "", 30},    {"ABCDEFGH::", "", 3}};
  bn_rng r = bn_rng_stream(9, 0, 0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *fixed = cases[i].fixed;
    bn__circuit_ctx *c = ctx_with(cases[i].root, 0, fixed, 0);
    for (int trial = 0; trial < cases[i].trials; trial++) {
      uint8_t s[MAX_STATE];
      char text[BN__CIRCUIT_TEXT_MAX], want[BN__CIRCUIT_TEXT_MAX], got[BN__CIRCUIT_TEXT_MAX];
      /* shallow and deep states alike */
      random_walk(c, &r, s, false, trial % 2 ? 4 : 64);
      text_of(c, s, text);
      reference_canonical(c, fixed, text, want);
      bn__circuit_canonicalize(c, s);
      CU_ASSERT_STRING_EQUAL(text_of(c, s, got), want);
    }
    bn__circuit_free(c);
  }
}

static void canonicalize_should_respect_fixed_letters(void) {
  bn__circuit_ctx *c = ctx_with("ABC::", 0, "A", 0);
  char buf[BN__CIRCUIT_TEXT_MAX];
  CU_ASSERT_EQUAL(c->n_perms, 2);
  /* A stays A: a self-loop on C may move to B but not to A. */
  CU_ASSERT_STRING_EQUAL(canonical_text(c, "ABC::CCa", buf), "ABC::BBa");
  CU_ASSERT_STRING_EQUAL(canonical_text(c, "ABC::CAi", buf), "ABC::BAi");
  CU_ASSERT_STRING_EQUAL(canonical_text(c, "ABC::AAa", buf), "ABC::AAa");
  bn__circuit_free(c);
  c = ctx_with("ABC::", 0, "ABC", 0);
  CU_ASSERT_EQUAL(c->n_perms, 1);
  CU_ASSERT_STRING_EQUAL(canonical_text(c, "*ABC::CBi_BAa", buf), "*ABC::BAa_CBi");
  bn__circuit_free(c);
}

static void canonicalize_should_be_idempotent_and_keep_the_terminal_flag(void) {
  bn__circuit_ctx *c = ctx_for("ABCDE::");
  bn_rng r = bn_rng_stream(3, 1, 0);
  for (int trial = 0; trial < 500; trial++) {
    uint8_t s[MAX_STATE], once[MAX_STATE];
    random_state(c, &r, s, true);
    memcpy(once, s, c->info.state_size);
    bn__circuit_canonicalize(c, once);
    CU_ASSERT(memcmp(s, once, c->info.state_size) == 0); /* already canonical */
    CU_ASSERT_EQUAL(once[0], s[0]);
    CU_ASSERT_EQUAL(bn__circuit_count(c, once), bn__circuit_count(c, s));
  }
  bn__circuit_free(c);
}

static double ns_per_canonicalize(const char *root, int states) {
  bn__circuit_ctx *c = ctx_for(root);
  bn_rng r = bn_rng_stream(17, 0, 0);
  size_t size = c->info.state_size;
  uint8_t *pool = malloc((size_t)states * size);
  uint8_t s[MAX_STATE];
  CU_ASSERT_FATAL(pool != NULL);
  for (int i = 0; i < states; i++) {
    random_state(c, &r, s, false);
    memcpy(pool + (size_t)i * size, s, size);
  }
  int reps = 0;
  unsigned sink = 0;
  double t0 = bn_mtime(), t;
  do {
    for (int i = 0; i < states; i++) {
      memcpy(s, pool + (size_t)i * size, size);
      bn__circuit_canonicalize(c, s);
      sink += s[1];
    }
    reps++;
  } while ((t = bn_mtime() - t0) < 0.2);
  CU_ASSERT(sink != 1u); /* keep the work */
  free(pool);
  bn__circuit_free(c);
  return t / (double)reps / states * 1e9;
}

static void canonicalize_should_be_fast(void) {
  double n3 = ns_per_canonicalize("ABC::", 1000), n5 = ns_per_canonicalize("ABCDE::", 1000);
  printf("\n    canonicalize: n=3 %.0f ns, n=5 %.0f ns (random states) ", n3, n5);
  CU_ASSERT(n3 < 5e3);
  CU_ASSERT(n5 < 5e4);
}

/* ---- patterns ---- */

static bool has(const bn__circuit_ctx *c, const char *state, const char *pattern) {
  uint8_t s[MAX_STATE];
  state_of(c, state, s);
  return bn__circuit_has_pattern(c, s, pattern);
}

static void has_pattern_should_match_under_some_relabelling(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  CU_ASSERT(has(c, "*ABC::AAa", "AAa"));
  CU_ASSERT(has(c, "*ABC::CCa", "AAa"));
  CU_ASSERT(has(c, "*ABC::BCi_CBi", "ABi_BAi"));
  CU_ASSERT(has(c, "ABC::ACi_BBa_CAi", "ABi_BAi"));
  CU_ASSERT(has(c, "*ABC::ACa_CBi_BAi", "ABa_BCi_CAi"));
  CU_ASSERT(has(c, "*ABC::ABi_BCi_CAi", "BCi_CAi_ABi")); /* token order is free */
  CU_ASSERT(has(c, "*ABC::ABa_BCa", "ABa"));
  bn__circuit_free(c);
}

static void has_pattern_should_require_exact_types_and_distinct_letters(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  CU_ASSERT_FALSE(has(c, "*ABC::AAi", "AAa"));
  CU_ASSERT_FALSE(has(c, "*ABC::ABa_BAi", "ABi_BAi"));
  CU_ASSERT_FALSE(has(c, "*ABC::ABa_BAi", "ABa_BAa"));
  CU_ASSERT_FALSE(has(c, "*ABC::ABa", "ABa_BAa"));
  CU_ASSERT_FALSE(has(c, "*ABC::ABa_BCi_CAa", "ABa_BCi_CAi"));
  /* A and B must be different components: a self-loop is not mutual activation. */
  CU_ASSERT_FALSE(has(c, "*ABC::AAa", "ABa_BAa"));
  /* The three letters of a 3-cycle map to three distinct components. */
  CU_ASSERT_FALSE(has(c, "*ABC::ABa_BAa", "ABa_BCa_CAa"));
  bn__circuit_free(c);
}

static void has_pattern_should_be_false_for_empty_circuits_and_foreign_letters(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  uint8_t s[MAX_STATE];
  bn__circuit_root(c, s);
  CU_ASSERT_FALSE(bn__circuit_has_pattern(c, s, "AAa"));
  CU_ASSERT_FALSE(has(c, "*ABC::AAa", "DDa"));        /* D is not a component */
  CU_ASSERT_FALSE(has(c, "*ABC::AAa", "AAa_DDa"));
  CU_ASSERT_FALSE(has(c, "*ABC::AAa", ""));           /* malformed patterns never match */
  CU_ASSERT_FALSE(has(c, "*ABC::AAa", "AAx"));
  CU_ASSERT_FALSE(has(c, "*ABC::AAa", "AAa_"));
  bn__circuit_free(c);
  c = ctx_for("AB::");
  CU_ASSERT_FALSE(has(c, "*AB::ABa_BAa", "ABa_BCa_CAa")); /* C is not a component */
  CU_ASSERT(has(c, "*AB::ABa_BAa", "ABa_BAa"));
  bn__circuit_free(c);
}

/* ---- text ---- */

static void describe_and_parse_should_round_trip_random_states(void) {
  const char *roots[] = {"ABC::", "ABCDE::", "CAB::", "ABCDEFGH::", "Z::"};
  bn_rng r = bn_rng_stream(4, 4, 4);
  for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
    bn__circuit_ctx *c = ctx_with(roots[i], 0, "", 0);
    for (int trial = 0; trial < 400; trial++) {
      uint8_t s[MAX_STATE], back[MAX_STATE];
      char text[BN__CIRCUIT_TEXT_MAX], again[BN__CIRCUIT_TEXT_MAX];
      random_state(c, &r, s, trial % 2 == 0);
      int len = bn__circuit_describe(c, s, text, sizeof text);
      CU_ASSERT_EQUAL((size_t)len, strlen(text));
      memset(back, 0xAB, sizeof back);
      CU_ASSERT_FATAL(bn__circuit_parse(c, text, back) == 0);
      CU_ASSERT(memcmp(s, back, c->info.state_size) == 0);
      CU_ASSERT_STRING_EQUAL(text_of(c, back, again), text);
    }
    bn__circuit_free(c);
  }
}

static void describe_should_sort_tokens_and_mark_terminal_states(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  uint8_t s[MAX_STATE];
  char buf[BN__CIRCUIT_TEXT_MAX];
  state_of(c, "*ABC::CAi_ABi_BCi", s);
  CU_ASSERT_STRING_EQUAL(text_of(c, s, buf), "*ABC::ABi_BCi_CAi");
  bn__circuit_root(c, s);
  CU_ASSERT_STRING_EQUAL(text_of(c, s, buf), "ABC::");
  /* A short buffer is truncated and NUL-terminated; the needed length is returned. */
  char small[6];
  state_of(c, "ABC::ABa", s);
  CU_ASSERT_EQUAL(bn__circuit_describe(c, s, small, sizeof small), 8);
  CU_ASSERT_STRING_EQUAL(small, "ABC::");
  bn__circuit_free(c);
}

static void parse_should_reject_invalid_text(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  uint8_t s[MAX_STATE];
  const char *bad[] = {"",          "ABC",        "ABC:",      "ABC::AB",   "ABC::ABx",
                       "ABC::ABA",  "ABC::ADa",   "ABC::ABa_", "ABC::_ABa", "ABC::ABa__BCi",
                       "ABC::ABaBCi", "ABC::ABa_ABi", "ABC::ABa_ABa", "AB::ABa", "ABCD::",
                       "ABD::",     "**ABC::",    "ABC::abA",  " ABC::",    "ABC:: ABa",
                       "ABC::ABa ", "AAC::",      "abc::",     "ABC::ABai"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (bn__circuit_parse(c, bad[i], s) == 0) {
      fprintf(stderr, "parse accepted '%s'\n", bad[i]);
      CU_FAIL("invalid text accepted");
    }
  }
  /* Same component set in another order, tokens in any order: accepted. */
  CU_ASSERT(bn__circuit_parse(c, "CBA::BAi_AAa", s) == 0);
  char buf[BN__CIRCUIT_TEXT_MAX];
  CU_ASSERT_STRING_EQUAL(text_of(c, s, buf), "ABC::AAa_BAi");
  char why[256] = "";
  CU_ASSERT(bn__circuit_parse_why(c, "ABC::ADa", s, why, sizeof why) != 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "'D' is not a component"));
  bn__circuit_free(c);
}

/* ---- bistability reward ---- */

static void mean_sd(const bn__circuit_ctx *c, const char *text, double *mean, double *sd) {
  uint8_t s[MAX_STATE];
  state_of(c, text, s);
  double sum = 0, sum2 = 0;
  const int n = 2000;
  for (int seed = 0; seed < n; seed++) {
    double x = NAN;
    char why[64];
    CU_ASSERT_FATAL(bn__circuit_evaluate(c, s, &(bn_eval_request){.seed = (uint64_t)seed, .attempt = 1}, &x, why, sizeof why) == 0);
    CU_ASSERT_FATAL(isfinite(x));
    sum += x;
    sum2 += x * x;
  }
  *mean = sum / n;
  *sd = sqrt(sum2 / n - *mean * *mean);
}

static void evaluate_should_reward_positive_feedback_patterns(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  double m, sd;
  mean_sd(c, "*ABC::AAa", &m, &sd);
  CU_ASSERT_DOUBLE_EQUAL(m, 0.35, 0.01);
  CU_ASSERT_DOUBLE_EQUAL(sd, 0.1, 0.01);
  mean_sd(c, "*ABC::ABa", &m, &sd);
  CU_ASSERT_DOUBLE_EQUAL(m, 0.25, 0.01);
  CU_ASSERT_DOUBLE_EQUAL(sd, 0.1, 0.01);
  mean_sd(c, "*ABC::AAa_ABi_BAi", &m, &sd);
  CU_ASSERT_DOUBLE_EQUAL(m, 0.45, 0.01);
  CU_ASSERT_DOUBLE_EQUAL(sd, 0.1, 0.01);
  mean_sd(c, "*ABC::", &m, &sd); /* no interactions, no patterns */
  CU_ASSERT_DOUBLE_EQUAL(m, 0.25, 0.01);
  bn__circuit_free(c);
  /* All five: self-activation (AA), mutual inhibition (AB), mutual activation (CD), the
   * all-activation 3-cycle (CDE) and the 3-cycle with two inhibitions (DEF). */
  c = ctx_for("ABCDEF::");
  mean_sd(c, "*ABCDEF::AAa_ABi_BAi_CDa_DCa_DEa_ECa_EFi_FDi", &m, &sd);
  CU_ASSERT_DOUBLE_EQUAL(m, 0.75, 0.01);
  bn__circuit_free(c);
}

static void evaluate_should_be_a_pure_function_of_state_and_seed(void) {
  bn__circuit_ctx *c = ctx_for("ABC::");
  uint8_t s[MAX_STATE];
  char why[64];
  double a, b, d;
  state_of(c, "*ABC::AAa", s);
  CU_ASSERT(bn__circuit_evaluate(c, s, &(bn_eval_request){.seed = 12345, .attempt = 1}, &a, why, sizeof why) == 0);
  CU_ASSERT(bn__circuit_evaluate(c, s, &(bn_eval_request){.seed = 12346, .attempt = 1}, &d, why, sizeof why) == 0);
  CU_ASSERT(bn__circuit_evaluate(c, s, &(bn_eval_request){.seed = 12345, .attempt = 1}, &b, why, sizeof why) == 0);
  CU_ASSERT_EQUAL(a, b);
  CU_ASSERT_NOT_EQUAL(a, d);
  /* A non-terminal state is scored by its patterns too. */
  state_of(c, "ABC::AAa", s);
  CU_ASSERT(bn__circuit_evaluate(c, s, &(bn_eval_request){.seed = 12345, .attempt = 1}, &b, why, sizeof why) == 0);
  CU_ASSERT_EQUAL(a, b);
  bn__circuit_free(c);
}

static void evaluate_should_sleep_the_configured_delay(void) {
  bn__circuit_ctx *c = ctx_with("ABC::", 0, "", 0.05);
  uint8_t s[MAX_STATE];
  char why[64];
  double x;
  state_of(c, "*ABC::AAa", s);
  double t0 = bn_mtime();
  CU_ASSERT(bn__circuit_evaluate(c, s, &(bn_eval_request){.seed = 1, .attempt = 1}, &x, why, sizeof why) == 0);
  double dt = bn_mtime() - t0;
  CU_ASSERT(dt >= 0.05);
  CU_ASSERT(dt < 0.05 + 0.05);
  bn__circuit_free(c);
}

/* ---- options ---- */

static void setup_error(const char *root, const char *fixed, char *err, size_t n) {
  bn__circuit_params p = {root, 0, fixed, 0, 0};
  bn__circuit_ctx *c = NULL;
  err[0] = '\0';
  CU_ASSERT(bn__circuit_setup(&p, NULL, &c, err, n) != 0);
  CU_ASSERT_PTR_NULL(c);
  CU_ASSERT(err[0] != '\0');
}

static void setup_should_reject_bad_roots_with_a_reason(void) {
  char err[256];
  struct {
    const char *root, *says;
  } cases[] = {
      {"AbC::", "not an upper-case letter"},
      {"ABA::", "given twice"},
      {"ABCDEFGHI::", "more than 8 components"},
      {"ABC", "expected <components>::"},
      {"::", "no components"},
      {"ABC::AB", "not of the form XYt"},
      {"ABC::ABa_", "ends with '_'"},
      {"ABC::ADa", "'D' is not a component"},
      {"ABC::ABx", "neither 'a' nor 'i'"},
      {"ABC::ABa_ABi", "more than one interaction"},
      {"*ABC::ABa", "terminal"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    setup_error(cases[i].root, "", err, sizeof err);
    if (!strstr(err, cases[i].says)) fprintf(stderr, "root '%s': %s\n", cases[i].root, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].says));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "domain.circuit.root"));
  }
}

static void setup_should_reject_fixed_letters_that_are_not_components(void) {
  char err[256];
  setup_error("ABC::", "D", err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "domain.circuit.fixed"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'D' is not a component"));
  setup_error("ABC::", "a", err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "domain.circuit.fixed"));
  setup_error("ABC::", "AA", err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "twice"));
}

/* ---- through the config and the domain API ---- */

/* A finalized config holding the circuit options and the INI text given. */
static bn_config *config_of(const char *ini) {
  bn_config *cfg = NULL;
  CU_ASSERT_FATAL(bn_config_create(&cfg) == BN_OK);
  CU_ASSERT_FATAL(bn_config_declare(cfg, bn_circuit_domain.options, bn_circuit_domain.n_options) ==
                  BN_OK);
  CU_ASSERT_FATAL(bn_config_load_string(cfg, ini, "test") == BN_OK);
  CU_ASSERT_FATAL(bn_config_finalize(cfg, stderr) == BN_OK);
  return cfg;
}

static void bn_domain_find_should_return_the_circuit_domain(void) {
  CU_ASSERT_PTR_EQUAL(bn_domain_find("circuit"), &bn_circuit_domain);
  CU_ASSERT_STRING_EQUAL(bn_circuit_domain.name, "circuit");
  CU_ASSERT_EQUAL(bn_circuit_domain.api_version, BN_DOMAIN_API_VERSION);
  CU_ASSERT_PTR_NOT_NULL(bn_circuit_domain.canonicalize);
}

static void bn_domain_open_should_apply_the_option_defaults(void) {
  bn_config *cfg = config_of("");
  CU_ASSERT_STRING_EQUAL(bn_config_string(cfg, "domain.circuit.root"), "ABC::");
  bn_domain d;
  CU_ASSERT_FATAL(bn_domain_open(&d, &bn_circuit_domain, cfg) == BN_OK);
  CU_ASSERT_EQUAL(d.info.state_size, 10);
  CU_ASSERT_EQUAL(d.info.max_actions, 19);
  CU_ASSERT_EQUAL(d.info.max_depth, 10);
  uint8_t s[MAX_STATE];
  char buf[BN__CIRCUIT_TEXT_MAX];
  d.ops->root(d.ctx, s);
  d.ops->describe(d.ctx, s, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "ABC::");
  bn_action a[MAX_ACTIONS];
  CU_ASSERT_EQUAL(d.ops->actions(d.ctx, s, a, d.info.max_actions), 18);
  bn_domain_close(&d);
  bn_config_destroy(&cfg);
}

static void bn_domain_open_should_read_every_option(void) {
  bn_config *cfg = config_of("[domain.circuit]\n"
                             "root = ABCDE::ABa\n"
                             "max_interactions = 4\n"
                             "fixed = A\n"
                             "reward = bistability\n"
                             "delay = 0.05\n");
  bn_domain d;
  CU_ASSERT_FATAL(bn_domain_open(&d, &bn_circuit_domain, cfg) == BN_OK);
  const bn__circuit_ctx *c = d.ctx;
  CU_ASSERT_EQUAL(d.info.state_size, 26);
  CU_ASSERT_EQUAL(d.info.max_depth, 4 - 1 + 1);
  CU_ASSERT_EQUAL(c->max_interactions, 4);
  CU_ASSERT_EQUAL(c->fixed_mask, 1u);
  CU_ASSERT_EQUAL(c->n_perms, 24);
  uint8_t s[MAX_STATE];
  char buf[BN__CIRCUIT_TEXT_MAX];
  d.ops->root(d.ctx, s);
  d.ops->describe(d.ctx, s, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "ABCDE::ABa");
  /* The delay is honoured through the ops table. */
  CU_ASSERT_FATAL(d.ops->parse(d.ctx, "*ABCDE::AAa", s) == 0);
  double x, t0 = bn_mtime();
  char why[64];
  CU_ASSERT(d.ops->evaluate(d.ctx, s, &(bn_eval_request){.seed = 7, .attempt = 1}, &x, why, sizeof why) == 0);
  double dt = bn_mtime() - t0;
  CU_ASSERT(dt >= 0.05 && dt < 0.05 + 0.05);
  bn_domain_close(&d);
  bn_config_destroy(&cfg);
}

static void init_should_reject_a_bad_root_with_a_reason(void) {
  bn_config *cfg = config_of("[domain.circuit]\nroot = ABCA::\n");
  void *ctx = NULL;
  bn_domain_info info;
  char err[256] = "";
  CU_ASSERT(bn_circuit_domain.init(cfg, &ctx, &info, err, sizeof err) != 0);
  CU_ASSERT_PTR_NULL(ctx);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'A' is given twice"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "test:2: domain.circuit.root: ")); /* FILE:LINE, like other option errors */
  bn_domain d;
  CU_ASSERT(bn_domain_open(&d, &bn_circuit_domain, cfg) == BN_ERR_DOMAIN);
  bn_config_destroy(&cfg);
  cfg = config_of("[domain.circuit]\nfixed = Q\n");
  CU_ASSERT(bn_circuit_domain.init(cfg, &ctx, &info, err, sizeof err) != 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'Q' is not a component"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "test:2: domain.circuit.fixed: "));
  bn_config_destroy(&cfg);
}

BN_TEST_MAIN("circuit",
             BN_TEST(actions_should_offer_every_typed_pair_but_not_terminate_from_empty),
             BN_TEST(actions_should_keep_the_circuit_connected),
             BN_TEST(actions_should_offer_only_terminate_at_max_interactions),
             BN_TEST(actions_should_offer_nothing_when_terminal_and_respect_max),
             BN_TEST(apply_should_add_interactions_and_terminate),
             BN_TEST(setup_should_size_states_actions_and_depth),
             BN_TEST(actions_should_stay_within_reported_bounds),
             BN_TEST(canonicalize_should_merge_transpositions),
             BN_TEST(canonicalize_should_map_every_relabelling_of_the_repressilator_to_one_state),
             BN_TEST(canonicalize_should_give_the_smallest_text_over_permutations),
             BN_TEST(canonicalize_should_respect_fixed_letters),
             BN_TEST(canonicalize_should_be_idempotent_and_keep_the_terminal_flag),
             BN_TEST(canonicalize_should_be_fast),
             BN_TEST(has_pattern_should_match_under_some_relabelling),
             BN_TEST(has_pattern_should_require_exact_types_and_distinct_letters),
             BN_TEST(has_pattern_should_be_false_for_empty_circuits_and_foreign_letters),
             BN_TEST(describe_and_parse_should_round_trip_random_states),
             BN_TEST(describe_should_sort_tokens_and_mark_terminal_states),
             BN_TEST(parse_should_reject_invalid_text),
             BN_TEST(evaluate_should_reward_positive_feedback_patterns),
             BN_TEST(evaluate_should_be_a_pure_function_of_state_and_seed),
             BN_TEST(evaluate_should_sleep_the_configured_delay),
             BN_TEST(setup_should_reject_bad_roots_with_a_reason),
             BN_TEST(setup_should_reject_fixed_letters_that_are_not_components),
             BN_TEST(bn_domain_find_should_return_the_circuit_domain),
             BN_TEST(bn_domain_open_should_apply_the_option_defaults),
             BN_TEST(bn_domain_open_should_read_every_option),
             BN_TEST(init_should_reject_a_bad_root_with_a_reason))
