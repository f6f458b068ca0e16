/* Counter-based random streams: (seed, counter, purpose) -> an independent stream.
 *
 * No generator state is shared between threads or ranks: every job carries a seed, and
 * any rank that gets the same seed draws the same numbers. The generator is SplitMix64
 * used in its counter form (output i = mix(key + i * golden)), which passes BigCrush and
 * costs a few instructions. bn_rng_as_gsl() lets GSL's distributions draw from a stream. */
#ifndef BANYAN_RNG_H
#define BANYAN_RNG_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

#include "banyan/error.h"

typedef struct bn_rng {
  uint64_t key;
  uint64_t counter;
} bn_rng;

/* Purposes keep streams derived from one (seed, counter) pair apart. */
enum {
  BN_RNG_SELECT = 1,   /* tie-breaking and shuffling during selection */
  BN_RNG_JOB = 2,      /* the seed a job carries to its engine */
  BN_RNG_ROLLOUT = 3,  /* random actions of a rollout (derived from the job seed) */
  BN_RNG_EVALUATE = 4, /* the domain's evaluate (derived from the job seed) */
  BN_RNG_COST = 5      /* synthetic cost model */
};

/* Mix a 64-bit value (SplitMix64 finalizer). Pure, thread-safe. */
BN_API uint64_t bn_mix64(uint64_t x);
/* Derive a 64-bit seed from three words. Pure, thread-safe. */
BN_API uint64_t bn_seed_derive(uint64_t seed, uint64_t counter, uint64_t purpose);
/* A fresh stream for (seed, counter, purpose). */
BN_API bn_rng bn_rng_stream(uint64_t seed, uint64_t counter, uint64_t purpose);
BN_API uint64_t bn_rng_next(bn_rng *r);
/* Uniform double in [0, 1). */
BN_API double bn_rng_uniform(bn_rng *r);
/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift, unbiased). */
BN_API uint32_t bn_rng_below(bn_rng *r, uint32_t n);

/* A gsl_rng view of a stream, for gsl_ran_* calls: the stream advances as GSL draws.
 * Usage: bn_rng_gsl v; bn_rng_gsl_init(&v, &stream); gsl_ran_gaussian(&v.gsl, sd);
 * The view borrows `stream`, which must outlive it. No allocation. */
typedef struct bn_rng_gsl {
  gsl_rng gsl;
  bn_rng *stream;
} bn_rng_gsl;
BN_API void bn_rng_gsl_init(bn_rng_gsl *view, bn_rng *stream);

#endif
