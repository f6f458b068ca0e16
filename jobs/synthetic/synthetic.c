/* The built-in `synthetic` benchmark domain: its options, per-rank set-up, grammar and
 * ops table.
 *
 * A tree of depth D and branching B: from a state at depth d < D the actions are 0..B-1,
 * and the terminals are exactly the states at depth D. No transpositions (canonicalize is
 * NULL). The reward landscape is in landscape.c, the cost model in cost.c, the readable
 * form in text.c; the state layout is described in synthetic.h. */
#include <errno.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "banyan/config.h"
#include "banyan/domain.h"
#include "synthetic/synthetic.h"

#define OPT(key) "domain.synthetic." key

static const bn_option options[] = {
    {OPT("depth"), BN_OPT_INT, "8", 1, BN__SYNTHETIC_MAX_DEPTH, NULL,
     "depth D of the tree; the terminals are exactly the states at depth D"},
    {OPT("branching"), BN_OPT_INT, "8", 2, BN__SYNTHETIC_MAX_BRANCHING, NULL,
     "branching B: actions 0..B-1 from every non-terminal state"},
    {OPT("landscape_seed"), BN_OPT_INT, "12345", 0, 9007199254740991.0, NULL,
     "chooses which leaf is the planted optimum (reward 1.0)"},
    {OPT("noise"), BN_OPT_REAL, "0.05", 0, 0.2, NULL,
     "amplitude of the deterministic per-(state, seed) reward noise"},
    {OPT("cost"), BN_OPT_ENUM, "none", 0, 0, "none|sleep|spin",
     "what an evaluation costs: nothing, sleeping, or a busy core"},
    {OPT("cost_dist"), BN_OPT_ENUM, "fixed", 0, 0, "fixed|uniform|lognormal",
     "distribution of an evaluation's duration (drawn from the job seed)"},
    {OPT("cost_mean"), BN_OPT_REAL, "0.01", 0, 3600, NULL,
     "seconds: the fixed duration, or the mean of the lognormal"},
    {OPT("cost_min"), BN_OPT_REAL, "0.01", 0, 3600, NULL, "seconds: lower end of the uniform"},
    {OPT("cost_max"), BN_OPT_REAL, "0.04", 0, 3600, NULL, "seconds: upper end of the uniform"},
    {OPT("cost_sigma"), BN_OPT_REAL, "0.5", 0, 5, NULL,
     "lognormal shape: sigma of the underlying normal (the mean stays cost_mean)"},
    {OPT("fail_rate"), BN_OPT_REAL, "0", 0, 1, NULL,
     "probability that an evaluation reports an injected failure"},
    {OPT("simulate_cost_factor"), BN_OPT_REAL, "1", 0, 1000, NULL,
     "the evaluation of a rollout's terminal (a simulate job) costs this many times the drawn duration"},
    {OPT("early_terminal"), BN_OPT_REAL, "0", 0, 0.99, NULL,
     "share of the states above depth D (off the optimum's path) that are terminal: leaves at every depth, so a "
     "search makes reward and simulate jobs side by side all along"},
};

void bn__synthetic_params_default(bn__synthetic_params *p) {
  *p = (bn__synthetic_params){.depth = 8,
                              .branching = 8,
                              .landscape_seed = 12345,
                              .noise = 0.05,
                              .cost = BN__SYNTHETIC_COST_NONE,
                              .cost_dist = BN__SYNTHETIC_DIST_FIXED,
                              .cost_mean = 0.01,
                              .cost_min = 0.01,
                              .cost_max = 0.04,
                              .cost_sigma = 0.5,
                              .fail_rate = 0.0,
                              .simulate_cost_factor = 1.0,
                              .early_terminal = 0.0};
}

/* Bounds are checked here as well as by the config, because tests and benchmarks fill the
 * parameters directly. */
static int check_range(const char *key, double v, double lo, double hi, char *err, size_t errlen) {
  if (v >= lo && v <= hi) return 0;
  snprintf(err, errlen, "domain.synthetic.%s = %g is outside [%g, %g]", key, v, lo, hi);
  return 1;
}

int bn__synthetic_setup(bn__synthetic_ctx *ctx, const bn__synthetic_params *p, char *err,
                        size_t errlen) {
  if (check_range("depth", p->depth, 1, BN__SYNTHETIC_MAX_DEPTH, err, errlen) ||
      check_range("branching", p->branching, 2, BN__SYNTHETIC_MAX_BRANCHING, err, errlen) ||
      check_range("noise", p->noise, 0, 0.2, err, errlen) ||
      check_range("cost_mean", p->cost_mean, 0, 3600, err, errlen) ||
      check_range("cost_min", p->cost_min, 0, 3600, err, errlen) ||
      check_range("cost_max", p->cost_max, 0, 3600, err, errlen) ||
      check_range("cost_sigma", p->cost_sigma, 0, 5, err, errlen) ||
      check_range("fail_rate", p->fail_rate, 0, 1, err, errlen) ||
      check_range("simulate_cost_factor", p->simulate_cost_factor, 0, 1000, err, errlen) ||
      check_range("early_terminal", p->early_terminal, 0, 0.99, err, errlen))
    return 1;
  if ((unsigned)p->cost > BN__SYNTHETIC_COST_SPIN ||
      (unsigned)p->cost_dist > BN__SYNTHETIC_DIST_LOGNORMAL) {
    snprintf(err, errlen, "domain.synthetic: unknown cost kind or distribution");
    return 1;
  }
  bn__synthetic_ctx c;
  memset(&c, 0, sizeof c);
  c.p = *p;
  if (bn__synthetic_cost_setup(&c, err, errlen)) return 1;
  bn__synthetic_plant(&c);
  *ctx = c;
  return 0;
}

bn_domain_info bn__synthetic_info(const bn__synthetic_ctx *ctx) {
  return (bn_domain_info){.state_size = 1 + (size_t)ctx->p.depth,
                          .max_actions = ctx->p.branching,
                          .max_depth = ctx->p.depth};
}

static int syn_init(const bn_config *cfg, void **out, bn_domain_info *info, char *err,
                    size_t errlen) {
  bn__synthetic_params p;
  p.depth = (int)bn_config_int(cfg, OPT("depth"));
  p.branching = (int)bn_config_int(cfg, OPT("branching"));
  p.landscape_seed = (uint64_t)bn_config_int(cfg, OPT("landscape_seed"));
  p.noise = bn_config_real(cfg, OPT("noise"));
  p.cost = (bn__synthetic_cost_kind)bn_config_enum(cfg, OPT("cost"));
  p.cost_dist = (bn__synthetic_cost_dist)bn_config_enum(cfg, OPT("cost_dist"));
  p.cost_mean = bn_config_real(cfg, OPT("cost_mean"));
  p.cost_min = bn_config_real(cfg, OPT("cost_min"));
  p.cost_max = bn_config_real(cfg, OPT("cost_max"));
  p.cost_sigma = bn_config_real(cfg, OPT("cost_sigma"));
  p.fail_rate = bn_config_real(cfg, OPT("fail_rate"));
  p.simulate_cost_factor = bn_config_real(cfg, OPT("simulate_cost_factor"));
  p.early_terminal = bn_config_real(cfg, OPT("early_terminal"));

  bn__synthetic_ctx *ctx = malloc(sizeof *ctx);
  if (!ctx) {
    snprintf(err, errlen, "out of memory");
    return ENOMEM;
  }
  if (bn__synthetic_setup(ctx, &p, err, errlen)) {
    /* "domain.synthetic.KEY ...": put where the config set KEY in front, as for any option. */
    char key[64] = "", where[4200] = "";
    if (sscanf(err, "%63[a-z_.]", key) == 1 && strncmp(key, "domain.synthetic.", 17) == 0) {
      char *why = strdup(err);
      bn_config_where(cfg, key, where, sizeof where);
      if (why) snprintf(err, errlen, "%s: %s", where, why);
      free(why);
    }
    free(ctx);
    return 1;
  }
  *info = bn__synthetic_info(ctx);
  *out = ctx;
  return 0;
}

static void syn_fini(void *ctx) { free(ctx); }

static void syn_root(const void *vctx, void *state) {
  const bn__synthetic_ctx *ctx = vctx;
  memset(state, 0, 1 + (size_t)ctx->p.depth);
}

/* Terminal: at depth D, or (early_terminal) an inner state off the optimum's path whose
 * hash falls below the share; the root and the optimum's prefixes never are. */
static bool terminal(const bn__synthetic_ctx *ctx, const uint8_t *state) {
  const int D = ctx->p.depth;
  if (state[0] >= D) return true;
  if (ctx->p.early_terminal <= 0 || state[0] == 0) return false;
  if (memcmp(state + 1, ctx->optimum, state[0]) == 0) return false;
  const uint64_t h = XXH3_64bits_withSeed(state, (size_t)D + 1, 0x5ea1ed1eaf5ULL);
  return (double)(h >> 11) * 0x1.0p-53 < ctx->p.early_terminal;
}

static int syn_actions(const void *vctx, const void *vstate, bn_action *out, int max) {
  const bn__synthetic_ctx *ctx = vctx;
  const uint8_t *state = vstate;
  if (terminal(ctx, state)) return 0;
  int n = ctx->p.branching < max ? ctx->p.branching : max;
  for (int i = 0; i < n; i++) out[i] = i;
  return n > 0 ? n : 0;
}

static void syn_apply(const void *vctx, const void *vstate, bn_action action, void *vnext) {
  const bn__synthetic_ctx *ctx = vctx;
  const uint8_t *state = vstate;
  uint8_t *next = vnext;
  size_t size = 1 + (size_t)ctx->p.depth;
  memcpy(next, state, size);
  /* Illegal moves are caller bugs; in release builds leave the state unchanged rather than
   * write past it. */
  assert(state[0] < ctx->p.depth && action >= 0 && action < ctx->p.branching);
  if (state[0] >= ctx->p.depth || action < 0 || action >= ctx->p.branching) return;
  next[1 + state[0]] = (uint8_t)action;
  next[0] = (uint8_t)(state[0] + 1);
}

static bool syn_is_terminal(const void *vctx, const void *vstate) {
  return terminal(vctx, vstate);
}

static int syn_evaluate(const void *vctx, const void *state, const bn_eval_request *req,
                        double *reward, char *why, size_t whylen) {
  const bn__synthetic_ctx *ctx = vctx;
  const uint64_t seed = req->seed;
  /* A failed job costs its time too; a rollout's terminal (sample NONE) is a simulate job's. */
  bn__synthetic_pay(ctx, seed, req->sample == BN_SAMPLE_NONE ? ctx->p.simulate_cost_factor : 1.0);
  int failed;
  double r = bn__synthetic_reward(ctx, state, seed, &failed);
  if (failed) {
    if (why && whylen) snprintf(why, whylen, "injected failure");
    return 1;
  }
  *reward = r;
  return 0;
}

const bn_domain_ops bn_synthetic_domain = {
    .api_version = BN_DOMAIN_API_VERSION,
    .name = "synthetic",
    .summary = "benchmark tree of depth D and branching B with one planted optimum leaf",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = syn_init,
    .fini = syn_fini,
    .root = syn_root,
    .actions = syn_actions,
    .apply = syn_apply,
    .is_terminal = syn_is_terminal,
    .canonicalize = NULL,
    .evaluate = syn_evaluate,
    .describe = bn__synthetic_describe,
    .parse = bn__synthetic_parse,
};
