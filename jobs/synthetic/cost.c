/* The synthetic cost model: how long an evaluation takes, and how it spends that time.
 *
 * The duration is drawn from the job seed (stream (seed, 0, BN_RNG_COST)), so a job costs
 * the same on any rank and in a replay. Distributions: fixed (cost_mean), uniform
 * [cost_min, cost_max], or lognormal with mean cost_mean and shape cost_sigma. The time is
 * spent asleep (an engine waiting on an external simulator) or spinning (an engine burning
 * a core). Cost `none` returns at once, without drawing or calling the system. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>

#include "banyan/clock.h"
#include "banyan/rng.h"
#include "synthetic/synthetic.h"

int bn__synthetic_cost_setup(bn__synthetic_ctx *ctx, char *err, size_t errlen) {
  const bn__synthetic_params *p = &ctx->p;
  if (!(p->cost_min <= p->cost_max)) {
    snprintf(err, errlen,
             "domain.synthetic.cost_min (%g) must not exceed domain.synthetic.cost_max (%g)",
             p->cost_min, p->cost_max);
    return 1;
  }
  /* E[exp(N(mu, sigma^2))] = exp(mu + sigma^2 / 2): choose mu so that the mean is cost_mean. */
  ctx->cost_mu = p->cost_mean > 0 ? log(p->cost_mean) - 0.5 * p->cost_sigma * p->cost_sigma : 0.0;
  return 0;
}

double bn__synthetic_cost(const void *vctx, uint64_t seed) {
  const bn__synthetic_ctx *ctx = vctx;
  const bn__synthetic_params *p = &ctx->p;
  if (p->cost == BN__SYNTHETIC_COST_NONE) return 0.0;
  switch (p->cost_dist) {
  case BN__SYNTHETIC_DIST_FIXED:
    return p->cost_mean;
  case BN__SYNTHETIC_DIST_UNIFORM:
  case BN__SYNTHETIC_DIST_LOGNORMAL: {
    bn_rng stream = bn_rng_stream(seed, 0, BN_RNG_COST);
    bn_rng_gsl view;
    bn_rng_gsl_init(&view, &stream);
    if (p->cost_dist == BN__SYNTHETIC_DIST_UNIFORM)
      return gsl_ran_flat(&view.gsl, p->cost_min, p->cost_max);
    if (!(p->cost_mean > 0)) return 0.0;
    return gsl_ran_lognormal(&view.gsl, ctx->cost_mu, p->cost_sigma);
  }
  }
  return 0.0;
}

void bn__synthetic_pay(const bn__synthetic_ctx *ctx, uint64_t seed, double factor) {
  switch (ctx->p.cost) {
  case BN__SYNTHETIC_COST_NONE:
    return;
  case BN__SYNTHETIC_COST_SLEEP:
    bn_sleep(factor * bn__synthetic_cost(ctx, seed));
    return;
  case BN__SYNTHETIC_COST_SPIN:
    bn_spin(factor * bn__synthetic_cost(ctx, seed));
    return;
  }
}
