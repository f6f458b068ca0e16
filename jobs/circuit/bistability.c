/* Reward 1, bistability (CircuiTree tutorial; CIRCUIT-MODEL.md §3): with k the number of the
 * five positive-feedback patterns present, reward = 0.25 + 0.1*k + N(0, 0.1), not clipped.
 * The noise comes from the counter-based stream (seed, 0, BN_RNG_EVALUATE), so the reward is
 * a pure function of (state, seed). */
#include <gsl/gsl_randist.h>
#include <stdio.h>
#include <stdlib.h>

#include "banyan/rng.h"
#include "circuit/circuit.h"

static const char *const patterns[] = {
    "AAa",         /* self-activation */
    "ABi_BAi",     /* mutual inhibition */
    "ABa_BAa",     /* mutual activation */
    "ABa_BCa_CAa", /* all-activation 3-cycle */
    "ABa_BCi_CAi", /* 3-cycle with two inhibitions */
};
#define N_PATTERNS (sizeof patterns / sizeof patterns[0])

typedef struct bistability {
  bn__circuit_pattern pattern[N_PATTERNS];
} bistability;

static int bistability_init(const bn__circuit_ctx *c, const bn_config *cfg, void **data,
                            char *err, size_t errlen) {
  (void)cfg;
  bistability *b = malloc(sizeof *b);
  if (!b) {
    snprintf(err, errlen, "bistability: out of memory");
    return 1;
  }
  for (size_t i = 0; i < N_PATTERNS; i++)
    if (bn__circuit_pattern_compile(c, patterns[i], &b->pattern[i]) != 0) {
      snprintf(err, errlen, "bistability: bad built-in pattern '%s'", patterns[i]);
      free(b);
      return 1;
    }
  *data = b;
  return 0;
}

static void bistability_fini(void *data) { free(data); }

static int bistability_evaluate(const bn__circuit_ctx *c, const void *data, const uint8_t *state,
                                const bn_eval_request *req, double *reward, char *why,
                                size_t whylen) {
  (void)why;
  (void)whylen;
  const bistability *b = data;
  int k = 0;
  for (size_t i = 0; i < N_PATTERNS; i++) k += bn__circuit_pattern_match(c, &b->pattern[i], state);
  bn_rng r = bn_rng_stream(req->seed, 0, BN_RNG_EVALUATE);
  bn_rng_gsl v;
  bn_rng_gsl_init(&v, &r);
  *reward = 0.25 + 0.1 * k + gsl_ran_gaussian(&v.gsl, 0.1);
  return 0;
}

const bn__circuit_reward bn__circuit_reward_bistability = {
    .name = "bistability",
    .init = bistability_init,
    .fini = bistability_fini,
    .evaluate = bistability_evaluate,
};
