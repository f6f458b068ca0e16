/* The synthetic benchmark domain: grammar, planted optimum, determinism, cost model,
 * injected failures, readable form. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/config.h"
#include "banyan/domain.h"
#include "banyan/rng.h"
#include "bn_test.h"
#include "synthetic/synthetic.h"

static const bn_domain_ops *const OPS = &bn_synthetic_domain;

/* The INI text that sets every option to the value in `p`. */
static void params_ini(const bn__synthetic_params *p, char *buf, size_t n) {
  static const char *const cost[] = {"none", "sleep", "spin"};
  static const char *const dist[] = {"fixed", "uniform", "lognormal"};
  snprintf(buf, n,
           "[domain.synthetic]\n"
           "depth = %d\nbranching = %d\nlandscape_seed = %" PRIu64 "\nnoise = %.17g\n"
           "cost = %s\ncost_dist = %s\ncost_mean = %.17g\ncost_min = %.17g\n"
           "cost_max = %.17g\ncost_sigma = %.17g\nfail_rate = %.17g\nsimulate_cost_factor = %.17g\n"
           "early_terminal = %.17g\n",
           p->depth, p->branching, p->landscape_seed, p->noise, cost[p->cost],
           dist[p->cost_dist], p->cost_mean, p->cost_min, p->cost_max, p->cost_sigma,
           p->fail_rate, p->simulate_cost_factor, p->early_terminal);
}

/* Open the domain as the runtime does: INI text -> config -> bn_domain_open. */
static bn_err open_ini(const char *ini, bn_domain *out) {
  bn_config *cfg = NULL;
  CU_ASSERT_EQUAL_FATAL(bn_config_create(&cfg), BN_OK);
  CU_ASSERT_EQUAL_FATAL(bn_config_declare(cfg, OPS->options, OPS->n_options), BN_OK);
  CU_ASSERT_EQUAL_FATAL(bn_config_load_string(cfg, ini, "test"), BN_OK);
  CU_ASSERT_EQUAL_FATAL(bn_config_finalize(cfg, stderr), BN_OK);
  bn_err e = bn_domain_open(out, OPS, cfg);
  bn_config_destroy(&cfg);
  return e;
}

/* An opened synthetic domain for parameters `p`. Kept in a small ring and closed when its
 * slot is reused, so a test can hold a few at once and need not close them. */
static bn_domain open_params(const bn__synthetic_params *p) {
  static bn_domain ring[4];
  static int next;
  bn_domain *slot = &ring[next++ % 4];
  bn_domain_close(slot);
  char ini[1024];
  params_ini(p, ini, sizeof ini);
  CU_ASSERT_EQUAL_FATAL(open_ini(ini, slot), BN_OK);
  return *slot;
}

static bn_domain open_db(int depth, int branching) {
  bn__synthetic_params p;
  bn__synthetic_params_default(&p);
  p.depth = depth;
  p.branching = branching;
  return open_params(&p);
}

static double evaluate_ok(const bn_domain *d, const void *state, uint64_t seed) {
  double r = -1;
  char why[64] = "";
  CU_ASSERT_EQUAL_FATAL(d->ops->evaluate(d->ctx, state, &(bn_eval_request){.seed = seed, .attempt = 1}, &r, why, sizeof why), 0);
  return r;
}

/* A random state at `depth` (actions drawn from `rng`). */
static void random_state(const bn_domain *d, bn_rng *rng, int depth, uint8_t *state) {
  uint8_t tmp[1 + BN__SYNTHETIC_MAX_DEPTH];
  d->ops->root(d->ctx, state);
  for (int i = 0; i < depth; i++) {
    memcpy(tmp, state, d->info.state_size);
    d->ops->apply(d->ctx, tmp, (bn_action)bn_rng_below(rng, (uint32_t)d->info.max_actions), state);
  }
}

static void ops_should_describe_sizes_and_options(void) {
  bn_domain d = open_db(5, 7);
  CU_ASSERT_EQUAL(d.info.state_size, 6);
  CU_ASSERT_EQUAL(d.info.max_actions, 7);
  CU_ASSERT_EQUAL(d.info.max_depth, 5);
  CU_ASSERT_EQUAL(OPS->api_version, BN_DOMAIN_API_VERSION);
  CU_ASSERT_STRING_EQUAL(OPS->name, "synthetic");
  CU_ASSERT_PTR_NULL(OPS->canonicalize);
  CU_ASSERT_EQUAL(OPS->n_options, 13);
  for (size_t i = 0; i < OPS->n_options; i++)
    CU_ASSERT(strncmp(OPS->options[i].name, "domain.synthetic.", 17) == 0);
}

static void actions_should_offer_all_branches_until_depth_D(void) {
  bn_domain d = open_db(4, 5);
  uint8_t s[5], t[5];
  bn_action a[16];
  d.ops->root(d.ctx, s);
  for (int depth = 0; depth < 4; depth++) {
    int n = d.ops->actions(d.ctx, s, a, 16);
    CU_ASSERT_EQUAL_FATAL(n, 5);
    for (int i = 0; i < n; i++) CU_ASSERT_EQUAL(a[i], i);
    CU_ASSERT_EQUAL(d.ops->actions(d.ctx, s, a, 3), 3); /* respects max */
    memcpy(t, s, sizeof s);
    d.ops->apply(d.ctx, t, depth % 5, s);
  }
  CU_ASSERT_EQUAL(d.ops->actions(d.ctx, s, a, 16), 0);
}

static void is_terminal_should_hold_exactly_at_depth_D(void) {
  bn_domain d = open_db(6, 3);
  bn_rng rng = bn_rng_stream(1, 0, 0);
  uint8_t s[7];
  for (int trial = 0; trial < 200; trial++)
    for (int depth = 0; depth <= 6; depth++) {
      random_state(&d, &rng, depth, s);
      CU_ASSERT_EQUAL(s[0], depth);
      CU_ASSERT_EQUAL(d.ops->is_terminal(d.ctx, s), depth == 6);
    }
}

static void apply_should_record_actions_and_keep_unused_bytes_zero(void) {
  bn_domain d = open_db(4, 8);
  uint8_t s[5], t[5];
  memset(s, 0xAA, sizeof s);
  d.ops->root(d.ctx, s);
  for (int i = 0; i < 5; i++) CU_ASSERT_EQUAL(s[i], 0);
  d.ops->apply(d.ctx, s, 7, t);
  d.ops->apply(d.ctx, t, 3, s);
  const uint8_t want[5] = {2, 7, 3, 0, 0};
  CU_ASSERT(memcmp(s, want, sizeof want) == 0);
}

/* Walk every leaf of a small tree: exactly one leaf scores 1.0. */
static void evaluate_should_plant_exactly_one_optimum(void) {
  bn_domain d = open_db(3, 4);
  int ones = 0;
  for (int x = 0; x < 64; x++) {
    uint8_t s[4] = {3, (uint8_t)(x / 16), (uint8_t)(x / 4 % 4), (uint8_t)(x % 4)};
    double r = evaluate_ok(&d, s, 99);
    if (r == 1.0) ones++;
    else CU_ASSERT(r < 0.85);
  }
  CU_ASSERT_EQUAL(ones, 1);
}

static void evaluate_should_score_optimum_one_and_other_leaves_below_0_9(void) {
  bn_domain d = open_db(8, 8);
  const bn__synthetic_ctx *c = d.ctx;
  uint8_t opt[9] = {8};
  memcpy(opt + 1, c->optimum, 8);
  for (uint64_t seed = 0; seed < 100; seed++) CU_ASSERT_EQUAL(evaluate_ok(&d, opt, seed), 1.0);

  bn_rng rng = bn_rng_stream(2, 0, 0);
  uint8_t s[9];
  int checked = 0;
  double best = 0;
  while (checked < 10000) {
    random_state(&d, &rng, 8, s);
    if (memcmp(s, opt, sizeof s) == 0) continue;
    double r = evaluate_ok(&d, s, (uint64_t)checked);
    CU_ASSERT(r >= 0.0 && r < 0.9);
    if (r > best) best = r;
    checked++;
  }
  CU_ASSERT(best < 0.85);
}

/* reward = 0.8 x common prefix / D + noise in [0, noise): the gradient towards the optimum. */
static void evaluate_should_follow_common_prefix_gradient(void) {
  bn_domain d = open_db(8, 8);
  const bn__synthetic_ctx *c = d.ctx;
  for (int common = 0; common < 8; common++) {
    uint8_t s[9] = {8};
    memcpy(s + 1, c->optimum, 8);
    s[1 + common] = (uint8_t)((c->optimum[common] + 1) % 8); /* diverge at `common` */
    for (uint64_t seed = 0; seed < 50; seed++) {
      double r = evaluate_ok(&d, s, seed), base = 0.8 * common / 8.0;
      CU_ASSERT(r >= base && r < base + 0.05);
    }
  }
  /* A non-terminal is scored by its prefix the same way. */
  uint8_t half[9] = {4};
  memcpy(half + 1, c->optimum, 4);
  double r = evaluate_ok(&d, half, 5);
  CU_ASSERT(r >= 0.4 && r < 0.45);
}

static void evaluate_should_be_a_pure_function_of_state_and_seed(void) {
  bn_domain a = open_db(8, 8), b = open_db(8, 8);
  bn_rng rng = bn_rng_stream(3, 0, 0);
  uint8_t s[9];
  int differ = 0;
  for (int i = 0; i < 1000; i++) {
    random_state(&a, &rng, 1 + i % 8, s);
    uint64_t seed = bn_rng_next(&rng);
    double r1 = evaluate_ok(&a, s, seed), r2 = evaluate_ok(&b, s, seed);
    CU_ASSERT_EQUAL(r1, r2); /* bit-identical, also across contexts */
    CU_ASSERT_EQUAL(evaluate_ok(&a, s, seed), r1);
    if (evaluate_ok(&a, s, seed + 1) != r1) differ++;
  }
  CU_ASSERT(differ > 990); /* the noise depends on the seed */
}

static void evaluate_should_plant_different_optima_for_different_landscape_seeds(void) {
  bn__synthetic_params p;
  bn__synthetic_params_default(&p);
  bn_domain a = open_params(&p);
  p.landscape_seed = 54321;
  bn_domain b = open_params(&p);
  CU_ASSERT(memcmp(((bn__synthetic_ctx *)a.ctx)->optimum, ((bn__synthetic_ctx *)b.ctx)->optimum,
                   8) != 0);
}

static bn_domain open_cost(bn__synthetic_cost_kind kind, bn__synthetic_cost_dist dist) {
  bn__synthetic_params p;
  bn__synthetic_params_default(&p);
  p.cost = kind;
  p.cost_dist = dist;
  return open_params(&p);
}

static void draw_stats(const bn_domain *d, double *mean, double *lo, double *hi) {
  double s = 0;
  *lo = INFINITY;
  *hi = -INFINITY;
  for (uint64_t seed = 0; seed < 20000; seed++) {
    double x = bn__synthetic_cost(d->ctx, bn_mix64(seed));
    s += x;
    if (x < *lo) *lo = x;
    if (x > *hi) *hi = x;
  }
  *mean = s / 20000;
}

static void bn__synthetic_cost_should_match_the_distribution_means(void) {
  double mean, lo, hi;
  bn_domain d = open_cost(BN__SYNTHETIC_COST_SLEEP, BN__SYNTHETIC_DIST_FIXED);
  draw_stats(&d, &mean, &lo, &hi);
  CU_ASSERT_EQUAL(lo, 0.01);
  CU_ASSERT_EQUAL(hi, 0.01);

  d = open_cost(BN__SYNTHETIC_COST_SLEEP, BN__SYNTHETIC_DIST_UNIFORM);
  draw_stats(&d, &mean, &lo, &hi);
  CU_ASSERT_DOUBLE_EQUAL(mean, 0.025, 0.025 * 0.02);
  CU_ASSERT(lo >= 0.01 && lo < 0.0101);
  CU_ASSERT(hi <= 0.04 && hi > 0.0399);

  d = open_cost(BN__SYNTHETIC_COST_SPIN, BN__SYNTHETIC_DIST_LOGNORMAL);
  draw_stats(&d, &mean, &lo, &hi);
  CU_ASSERT_DOUBLE_EQUAL(mean, 0.01, 0.01 * 0.03);
  CU_ASSERT(lo > 0);
  CU_ASSERT(hi > 0.03); /* a real right tail */
}

static void bn__synthetic_cost_should_be_zero_for_none_and_repeat_per_seed(void) {
  bn_domain none = open_cost(BN__SYNTHETIC_COST_NONE, BN__SYNTHETIC_DIST_LOGNORMAL);
  bn_domain logn = open_cost(BN__SYNTHETIC_COST_SLEEP, BN__SYNTHETIC_DIST_LOGNORMAL);
  for (uint64_t seed = 0; seed < 100; seed++) {
    CU_ASSERT_EQUAL(bn__synthetic_cost(none.ctx, seed), 0.0);
    CU_ASSERT_EQUAL(bn__synthetic_cost(logn.ctx, seed), bn__synthetic_cost(logn.ctx, seed));
  }
  CU_ASSERT_NOT_EQUAL(bn__synthetic_cost(logn.ctx, 1), bn__synthetic_cost(logn.ctx, 2));
}

static void evaluate_should_spin_for_about_the_cost(void) {
  bn__synthetic_params p;
  bn__synthetic_params_default(&p);
  p.cost = BN__SYNTHETIC_COST_SPIN;
  p.cost_mean = 0.05;
  bn_domain d = open_params(&p);
  uint8_t s[9] = {0};
  double w0 = bn_mtime(), c0 = bn_cpu_seconds();
  evaluate_ok(&d, s, 1);
  double wall = bn_mtime() - w0, cpu = bn_cpu_seconds() - c0;
  CU_ASSERT(wall >= 0.05 && wall < 1.0); /* loose: the machine may be busy */
  CU_ASSERT(cpu > 0.01);                  /* it burns a core */
}

static void evaluate_should_sleep_for_about_the_cost(void) {
  bn__synthetic_params p;
  bn__synthetic_params_default(&p);
  p.cost = BN__SYNTHETIC_COST_SLEEP;
  p.cost_mean = 0.05;
  bn_domain d = open_params(&p);
  uint8_t s[9] = {0};
  double w0 = bn_mtime(), c0 = bn_cpu_seconds();
  evaluate_ok(&d, s, 1);
  double wall = bn_mtime() - w0, cpu = bn_cpu_seconds() - c0;
  CU_ASSERT(wall >= 0.05 && wall < 1.0);
  CU_ASSERT(cpu < 0.025); /* it does not burn a core */
}

/* cost `none` must stay cheap: benchmarks run evaluate hundreds of thousands of times/s. */
static void evaluate_should_cost_little_for_none(void) {
  bn_domain d = open_db(8, 8);
  bn_rng rng = bn_rng_stream(4, 0, 0);
  uint8_t s[9];
  random_state(&d, &rng, 8, s);
  const int n = 200000;
  double sum = 0, r;
  char why[32];
  double t0 = bn_mtime();
  for (int i = 0; i < n; i++) {
    s[1 + i % 8] = (uint8_t)(i & 7);
    if (d.ops->evaluate(d.ctx, s, &(bn_eval_request){.seed = (uint64_t)i, .attempt = 1}, &r, why, sizeof why) == 0) sum += r;
  }
  double ns = (bn_mtime() - t0) / n * 1e9;
  printf("\n    evaluate(cost=none): %.1f ns/call (checksum %.3f)\n", ns, sum);
  CU_ASSERT(ns < 5000); /* loose: also holds under sanitizers */
}

static void evaluate_should_fail_at_the_configured_rate(void) {
  bn__synthetic_params p;
  bn__synthetic_params_default(&p);
  p.fail_rate = 0.3;
  bn_domain d = open_params(&p);
  bn_rng rng = bn_rng_stream(5, 0, 0);
  uint8_t s[9];
  int failures = 0;
  const int n = 20000;
  for (int i = 0; i < n; i++) {
    random_state(&d, &rng, 8, s);
    double r = -7;
    char why[64] = "";
    int rc = d.ops->evaluate(d.ctx, s, &(bn_eval_request){.seed = (uint64_t)i, .attempt = 1}, &r, why, sizeof why);
    if (rc) {
      failures++;
      CU_ASSERT_STRING_EQUAL(why, "injected failure");
      CU_ASSERT_EQUAL(r, -7); /* reward untouched on failure */
      double r2;
      CU_ASSERT_NOT_EQUAL(d.ops->evaluate(d.ctx, s, &(bn_eval_request){.seed = (uint64_t)i, .attempt = 1}, &r2, why, sizeof why), 0);
    }
  }
  CU_ASSERT_DOUBLE_EQUAL((double)failures / n, 0.3, 0.02);
}

static void describe_should_write_depth_then_actions(void) {
  bn_domain d = open_db(8, 8);
  uint8_t s[9] = {3, 4, 0, 7};
  char buf[64];
  CU_ASSERT_EQUAL(d.ops->describe(d.ctx, s, buf, sizeof buf), 8);
  CU_ASSERT_STRING_EQUAL(buf, "d3:4.0.7");
  uint8_t root[9] = {0};
  d.ops->describe(d.ctx, root, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "d0:");
  /* Truncates but reports the length it needed, always NUL-terminated. */
  CU_ASSERT_EQUAL(d.ops->describe(d.ctx, s, buf, 4), 8);
  CU_ASSERT_STRING_EQUAL(buf, "d3:");
}

static void parse_should_invert_describe(void) {
  bn_domain d = open_db(64, 256);
  bn_rng rng = bn_rng_stream(6, 0, 0);
  uint8_t s[65], t[65];
  char buf[400];
  for (int i = 0; i < 2000; i++) {
    random_state(&d, &rng, i % 65, s);
    int len = d.ops->describe(d.ctx, s, buf, sizeof buf);
    CU_ASSERT_FATAL(len > 0 && (size_t)len < sizeof buf);
    memset(t, 0xEE, sizeof t);
    CU_ASSERT_EQUAL_FATAL(d.ops->parse(d.ctx, buf, t), 0);
    CU_ASSERT(memcmp(s, t, sizeof s) == 0);
  }
}

static void parse_should_reject_garbage(void) {
  bn_domain d = open_db(3, 8);
  static const char *const bad[] = {
      "",          "d",          "d3",         "d3:",        "d3:4.0",      "d3:4.0.7.1",
      "d3:4.0.8",  "d4:1.1.1.1", "x3:4.0.7",   "D3:4.0.7",   "d3:4,0,7",    "d3: 4.0.7",
      "d3:4.0.7 ", " d3:4.0.7",  "d3:-1.0.7",  "d3:+4.0.7",  "d3:04.0.7",   "d03:4.0.7",
      "d3:4..7",   "d3:4.0.",    "d3:4.0.7.",  "d-1:",       "d0:1",        "d3:4.0.99999999999999999999",
      "d99999999999999999999:", "d3:4.0.7\n", "d3:4.0.7x", "d0",
  };
  uint8_t s[4] = {9, 9, 9, 9};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = d.ops->parse(d.ctx, bad[i], s);
    if (rc == 0) fprintf(stderr, "accepted '%s'\n", bad[i]);
    CU_ASSERT_NOT_EQUAL(rc, 0);
  }
  const uint8_t untouched[4] = {9, 9, 9, 9};
  CU_ASSERT(memcmp(s, untouched, 4) == 0); /* output written on success only */
  CU_ASSERT_NOT_EQUAL(d.ops->parse(d.ctx, NULL, s), 0);
  CU_ASSERT_EQUAL(d.ops->parse(d.ctx, "d3:4.0.7", s), 0);
  CU_ASSERT_EQUAL(d.ops->parse(d.ctx, "d1:0", s), 0);
  const uint8_t want[4] = {1, 0, 0, 0};
  CU_ASSERT(memcmp(s, want, 4) == 0); /* unused bytes cleared */
}

static void setup_should_reject_cost_min_above_cost_max(void) {
  bn__synthetic_params p;
  bn__synthetic_params_default(&p);
  p.cost_min = 0.05;
  p.cost_max = 0.04;
  bn__synthetic_ctx c;
  char err[256] = "";
  CU_ASSERT_NOT_EQUAL(bn__synthetic_setup(&c, &p, err, sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "cost_min"));
  p.cost_min = p.cost_max; /* an empty range is fine: a fixed cost */
  CU_ASSERT_EQUAL(bn__synthetic_setup(&c, &p, err, sizeof err), 0);
}

static bool params_equal(const bn__synthetic_params *a, const bn__synthetic_params *b) {
  return a->depth == b->depth && a->branching == b->branching &&
         a->landscape_seed == b->landscape_seed && a->noise == b->noise && a->cost == b->cost &&
         a->cost_dist == b->cost_dist && a->cost_mean == b->cost_mean &&
         a->cost_min == b->cost_min && a->cost_max == b->cost_max &&
         a->cost_sigma == b->cost_sigma && a->fail_rate == b->fail_rate &&
         a->simulate_cost_factor == b->simulate_cost_factor && a->early_terminal == b->early_terminal;
}

static void init_should_read_every_option_from_the_config(void) {
  bn__synthetic_params p = {.depth = 11, .branching = 13, .landscape_seed = 987654321,
                            .noise = 0.125, .cost = BN__SYNTHETIC_COST_SPIN,
                            .cost_dist = BN__SYNTHETIC_DIST_LOGNORMAL, .cost_mean = 0.25,
                            .cost_min = 0.5, .cost_max = 0.75, .cost_sigma = 1.5,
                            .fail_rate = 0.125, .simulate_cost_factor = 4,
                            .early_terminal = 0.25};
  bn_domain d = open_params(&p);
  const bn__synthetic_ctx *c = d.ctx;
  CU_ASSERT(params_equal(&c->p, &p));
  CU_ASSERT_EQUAL(d.info.state_size, 12);
  CU_ASSERT_EQUAL(d.info.max_actions, 13);
  CU_ASSERT_EQUAL(d.info.max_depth, 11);
}

static void init_should_default_to_the_documented_values(void) {
  bn_domain d;
  CU_ASSERT_EQUAL_FATAL(open_ini("", &d), BN_OK);
  bn__synthetic_params want;
  bn__synthetic_params_default(&want);
  CU_ASSERT(params_equal(&((const bn__synthetic_ctx *)d.ctx)->p, &want));
  bn_domain_close(&d);
  CU_ASSERT_PTR_EQUAL(bn_domain_find("synthetic"), OPS);
}

static void init_should_reject_cost_min_above_cost_max(void) {
  bn_domain d = {0};
  CU_ASSERT_EQUAL(open_ini("[domain.synthetic]\ncost_min = 0.5\ncost_max = 0.25\n", &d),
                  BN_ERR_DOMAIN);
  CU_ASSERT_PTR_NULL(d.ops); /* not written on failure */
}

static void setup_should_reject_out_of_range_parameters(void) {
  bn__synthetic_params p;
  bn__synthetic_ctx c;
  char err[256];
  bn__synthetic_params_default(&p);
  p.depth = 65;
  CU_ASSERT_NOT_EQUAL(bn__synthetic_setup(&c, &p, err, sizeof err), 0);
  bn__synthetic_params_default(&p);
  p.branching = 1;
  CU_ASSERT_NOT_EQUAL(bn__synthetic_setup(&c, &p, err, sizeof err), 0);
  bn__synthetic_params_default(&p);
  p.noise = 0.3;
  CU_ASSERT_NOT_EQUAL(bn__synthetic_setup(&c, &p, err, sizeof err), 0);
  bn__synthetic_params_default(&p);
  p.fail_rate = NAN;
  CU_ASSERT_NOT_EQUAL(bn__synthetic_setup(&c, &p, err, sizeof err), 0);
}

BN_TEST_MAIN("synthetic", BN_TEST(ops_should_describe_sizes_and_options),
             BN_TEST(actions_should_offer_all_branches_until_depth_D),
             BN_TEST(is_terminal_should_hold_exactly_at_depth_D),
             BN_TEST(apply_should_record_actions_and_keep_unused_bytes_zero),
             BN_TEST(evaluate_should_plant_exactly_one_optimum),
             BN_TEST(evaluate_should_score_optimum_one_and_other_leaves_below_0_9),
             BN_TEST(evaluate_should_follow_common_prefix_gradient),
             BN_TEST(evaluate_should_be_a_pure_function_of_state_and_seed),
             BN_TEST(evaluate_should_plant_different_optima_for_different_landscape_seeds),
             BN_TEST(bn__synthetic_cost_should_match_the_distribution_means),
             BN_TEST(bn__synthetic_cost_should_be_zero_for_none_and_repeat_per_seed),
             BN_TEST(evaluate_should_spin_for_about_the_cost),
             BN_TEST(evaluate_should_sleep_for_about_the_cost),
             BN_TEST(evaluate_should_cost_little_for_none),
             BN_TEST(evaluate_should_fail_at_the_configured_rate),
             BN_TEST(describe_should_write_depth_then_actions),
             BN_TEST(parse_should_invert_describe), BN_TEST(parse_should_reject_garbage),
             BN_TEST(setup_should_reject_cost_min_above_cost_max),
             BN_TEST(setup_should_reject_out_of_range_parameters),
             BN_TEST(init_should_read_every_option_from_the_config),
             BN_TEST(init_should_default_to_the_documented_values),
             BN_TEST(init_should_reject_cost_min_above_cost_max))
