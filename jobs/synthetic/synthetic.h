/* Private header of the built-in `synthetic` benchmark domain (jobs/synthetic/).
 *
 * The domain is a tree of depth D and branching B whose leaves hide one planted optimum
 * (reward exactly 1.0) behind a gradient (0.8 x common prefix / D + noise), and whose
 * evaluations cost a configurable, random but reproducible amount of time. It exists to
 * benchmark and test the runtime, so everything is a pure function of (state, seed).
 *
 * State layout (state_size = 1 + D bytes, no padding): byte 0 is the depth d (0..D),
 * bytes 1..d the actions taken (each < B), bytes d+1..D zero.
 *
 * Not for use outside the synthetic domain, its tests and benchmarks. */
#ifndef BANYAN_JOBS_SYNTHETIC_H
#define BANYAN_JOBS_SYNTHETIC_H

#include <stddef.h>
#include <stdint.h>

#include "banyan/domain.h"

#define BN__SYNTHETIC_MAX_DEPTH 64
#define BN__SYNTHETIC_MAX_BRANCHING 256

/* What an evaluation costs (order = choices of domain.synthetic.cost). */
typedef enum bn__synthetic_cost_kind {
  BN__SYNTHETIC_COST_NONE,
  BN__SYNTHETIC_COST_SLEEP,
  BN__SYNTHETIC_COST_SPIN
} bn__synthetic_cost_kind;

/* How the duration is drawn (order = choices of domain.synthetic.cost_dist). */
typedef enum bn__synthetic_cost_dist {
  BN__SYNTHETIC_DIST_FIXED,
  BN__SYNTHETIC_DIST_UNIFORM,
  BN__SYNTHETIC_DIST_LOGNORMAL
} bn__synthetic_cost_dist;

/* The options, as read from the config (or filled in directly by tests). */
typedef struct bn__synthetic_params {
  int depth;               /* D, 1..64 */
  int branching;           /* B, 2..256 */
  uint64_t landscape_seed; /* picks the planted optimum */
  double noise;            /* reward noise amplitude, [0, 0.2] */
  bn__synthetic_cost_kind cost;
  bn__synthetic_cost_dist cost_dist;
  double cost_mean;  /* seconds: fixed value, or lognormal mean */
  double cost_min;   /* seconds: uniform range */
  double cost_max;
  double cost_sigma; /* lognormal: sigma of the underlying normal */
  double fail_rate;  /* probability an evaluation fails, [0, 1] */
  double simulate_cost_factor; /* a rollout's terminal (a simulate job) costs this times the draw, [0, 1000] */
  double early_terminal; /* share of inner states off the optimum's path that are terminal, [0, 1) */
} bn__synthetic_params;

/* Per-rank context; read-only after setup (shared by all threads). */
typedef struct bn__synthetic_ctx {
  bn__synthetic_params p;
  double cost_mu; /* lognormal: mu of the underlying normal, so that the mean is cost_mean */
  uint8_t optimum[BN__SYNTHETIC_MAX_DEPTH]; /* the planted optimum's actions */
} bn__synthetic_ctx;

/* The ops table (synthetic.c), also reachable as bn_domain_find("synthetic"). */
BN_API extern const bn_domain_ops bn_synthetic_domain;

/* The defaults of the option table. */
void bn__synthetic_params_default(bn__synthetic_params *p);

/* Validate `p` and fill `ctx` (plants the optimum, prepares the cost model). Returns 0, or
 * non-zero with a readable reason in err. ctx is caller-owned (no allocation). */
int bn__synthetic_setup(bn__synthetic_ctx *ctx, const bn__synthetic_params *p, char *err,
                        size_t errlen);

/* Sizes of a set-up context. */
bn_domain_info bn__synthetic_info(const bn__synthetic_ctx *ctx);

/* landscape.c: plant the optimum of ctx->p (depth, branching, landscape_seed). */
void bn__synthetic_plant(bn__synthetic_ctx *ctx);
/* landscape.c: the reward of `state` under job seed `seed`, and whether the evaluation is an
 * injected failure (*failed). Pure; no allocation, no system calls. */
double bn__synthetic_reward(const bn__synthetic_ctx *ctx, const uint8_t *state, uint64_t seed,
                            int *failed);

/* cost.c: prepare derived cost parameters (cost_mu). Returns 0, or non-zero with a reason. */
int bn__synthetic_cost_setup(bn__synthetic_ctx *ctx, char *err, size_t errlen);
/* cost.c: the duration in seconds an evaluation with job seed `seed` costs: 0 for cost
 * `none`, otherwise a draw from cost_dist (stream (seed, 0, BN_RNG_COST)). Pure. */
double bn__synthetic_cost(const void *ctx, uint64_t seed);
/* cost.c: pay the cost of an evaluation (sleep or spin for bn__synthetic_cost). Returns at
 * once, without a system call, for cost `none`. */
void bn__synthetic_pay(const bn__synthetic_ctx *ctx, uint64_t seed, double factor);

/* text.c: describe/parse of the ops table ("d3:4.0.7"). */
int bn__synthetic_describe(const void *ctx, const void *state, char *buf, size_t n);
int bn__synthetic_parse(const void *ctx, const char *text, void *state);

#endif
