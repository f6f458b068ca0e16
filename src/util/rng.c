/* Counter-based SplitMix64 streams and a gsl_rng adapter over them. */
#include <gsl/gsl_rng.h>

#include "banyan/rng.h"

#define GOLDEN 0x9e3779b97f4a7c15ULL

uint64_t bn_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t bn_seed_derive(uint64_t seed, uint64_t counter, uint64_t purpose) {
  uint64_t h = bn_mix64(seed + GOLDEN);
  h = bn_mix64(h ^ (counter + 0x6a09e667f3bcc909ULL));
  return bn_mix64(h ^ (purpose * GOLDEN + 0x3c6ef372fe94f82bULL));
}

bn_rng bn_rng_stream(uint64_t seed, uint64_t counter, uint64_t purpose) {
  bn_rng r = {bn_seed_derive(seed, counter, purpose), 0};
  return r;
}

uint64_t bn_rng_next(bn_rng *r) {
  r->counter++;
  return bn_mix64(r->key + r->counter * GOLDEN);
}

double bn_rng_uniform(bn_rng *r) { return (double)(bn_rng_next(r) >> 11) * 0x1.0p-53; }

uint32_t bn_rng_below(bn_rng *r, uint32_t n) {
  uint64_t m = (uint64_t)(uint32_t)(bn_rng_next(r) >> 32) * n;
  uint32_t low = (uint32_t)m;
  if (low < n) {
    uint32_t t = (uint32_t)(-n) % n;
    while (low < t) {
      m = (uint64_t)(uint32_t)(bn_rng_next(r) >> 32) * n;
      low = (uint32_t)m;
    }
  }
  return (uint32_t)(m >> 32);
}

/* GSL calls set() only through gsl_rng_set/alloc, which the adapter never uses. */
static void gsl_set(void *state, unsigned long seed) {
  bn_rng *r = *(bn_rng **)state;
  r->key = bn_mix64(seed);
  r->counter = 0;
}
static unsigned long gsl_get(void *state) {
  return (unsigned long)(bn_rng_next(*(bn_rng **)state) >> 32);
}
static double gsl_get_double(void *state) { return bn_rng_uniform(*(bn_rng **)state); }

static const gsl_rng_type bn_gsl_type = {"banyan-splitmix", 0xffffffffUL, 0, sizeof(bn_rng *),
                                         gsl_set, gsl_get, gsl_get_double};

void bn_rng_gsl_init(bn_rng_gsl *view, bn_rng *stream) {
  view->stream = stream;
  view->gsl.type = &bn_gsl_type;
  view->gsl.state = &view->stream;
}
