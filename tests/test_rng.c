/* Counter-based random streams: determinism, independence of purposes, ranges. */
#include <gsl/gsl_randist.h>
#include <math.h>

#include "banyan/rng.h"
#include "bn_test.h"

static void bn_rng_stream_should_repeat_for_same_inputs(void) {
  bn_rng a = bn_rng_stream(7, 42, BN_RNG_JOB), b = bn_rng_stream(7, 42, BN_RNG_JOB);
  for (int i = 0; i < 100; i++) CU_ASSERT_EQUAL(bn_rng_next(&a), bn_rng_next(&b));
}

static void bn_rng_stream_should_differ_by_purpose_and_counter(void) {
  bn_rng a = bn_rng_stream(7, 42, BN_RNG_JOB), b = bn_rng_stream(7, 42, BN_RNG_SELECT);
  bn_rng c = bn_rng_stream(7, 43, BN_RNG_JOB);
  uint64_t x = bn_rng_next(&a);
  CU_ASSERT_NOT_EQUAL(x, bn_rng_next(&b));
  CU_ASSERT_NOT_EQUAL(x, bn_rng_next(&c));
}

static void bn_rng_below_should_stay_in_range_and_cover_it(void) {
  bn_rng r = bn_rng_stream(1, 2, 3);
  int seen[7] = {0};
  for (int i = 0; i < 7000; i++) {
    uint32_t v = bn_rng_below(&r, 7);
    CU_ASSERT_FATAL(v < 7);
    seen[v]++;
  }
  for (int v = 0; v < 7; v++) CU_ASSERT(seen[v] > 800 && seen[v] < 1200);
}

static void bn_rng_uniform_should_have_mean_one_half(void) {
  bn_rng r = bn_rng_stream(3, 0, 0);
  double s = 0;
  for (int i = 0; i < 100000; i++) {
    double u = bn_rng_uniform(&r);
    CU_ASSERT_FATAL(u >= 0.0 && u < 1.0);
    s += u;
  }
  CU_ASSERT_DOUBLE_EQUAL(s / 100000, 0.5, 0.01);
}

static void bn_rng_gsl_should_drive_gsl_distributions(void) {
  bn_rng r = bn_rng_stream(11, 0, 0);
  bn_rng_gsl view;
  bn_rng_gsl_init(&view, &r);
  double s = 0, s2 = 0;
  for (int i = 0; i < 50000; i++) {
    double x = gsl_ran_gaussian(&view.gsl, 2.0);
    s += x;
    s2 += x * x;
  }
  double mean = s / 50000, sd = sqrt(s2 / 50000 - mean * mean);
  CU_ASSERT_DOUBLE_EQUAL(mean, 0.0, 0.05);
  CU_ASSERT_DOUBLE_EQUAL(sd, 2.0, 0.05);
  CU_ASSERT(r.counter > 0);
}

BN_TEST_MAIN("rng", BN_TEST(bn_rng_stream_should_repeat_for_same_inputs),
             BN_TEST(bn_rng_stream_should_differ_by_purpose_and_counter),
             BN_TEST(bn_rng_below_should_stay_in_range_and_cover_it),
             BN_TEST(bn_rng_uniform_should_have_mean_one_half),
             BN_TEST(bn_rng_gsl_should_drive_gsl_distributions))
