/* The synthetic reward landscape: one planted optimum leaf with reward exactly 1.0, and a
 * gradient towards it everywhere else (0.8 x common prefix with the optimum / D, plus
 * deterministic noise in [0, noise) from the job seed). A tree search that follows high
 * rewards finds the optimum; the noise keeps it from being trivial.
 *
 * Everything here is a pure function of (state, seed): no allocation, no system calls, so
 * evaluate stays cheap enough to run hundreds of thousands of times per second. */
#include <string.h>
#include <xxhash.h>

#include "banyan/rng.h"
#include "synthetic/synthetic.h"

void bn__synthetic_plant(bn__synthetic_ctx *ctx) {
  /* Counter 0 for every depth: the optimum for depth D+1 extends the one for depth D (with
   * the same branching), which keeps benchmark series over D comparable. */
  bn_rng r = bn_rng_stream(ctx->p.landscape_seed, 0, BN_RNG_EVALUATE);
  memset(ctx->optimum, 0, sizeof ctx->optimum);
  for (int i = 0; i < ctx->p.depth; i++)
    ctx->optimum[i] = (uint8_t)bn_rng_below(&r, (uint32_t)ctx->p.branching);
}

double bn__synthetic_reward(const bn__synthetic_ctx *ctx, const uint8_t *state, uint64_t seed,
                            int *failed) {
  const int D = ctx->p.depth;
  int d = state[0] <= D ? state[0] : D;
  int common = 0;
  while (common < d && state[1 + common] == ctx->optimum[common]) common++;

  /* One stream per (state, seed): the same state under the same seed gives the same draws on
   * any rank; the draws do not depend on the options, so changing fail_rate does not move
   * the noise. Draw 1 decides failure, draw 2 is the noise. */
  uint64_t h = XXH3_64bits(state, (size_t)D + 1);
  bn_rng r = bn_rng_stream(seed, h, BN_RNG_EVALUATE);
  double u_fail = bn_rng_uniform(&r);
  double u_noise = bn_rng_uniform(&r);
  *failed = u_fail < ctx->p.fail_rate;

  if (common == D) return 1.0; /* the planted optimum, exactly */
  return 0.8 * (double)common / (double)D + ctx->p.noise * u_noise;
}
