/* Parameter sets of the oscillation reward (CIRCUIT-MODEL.md §4 "Parameters"): the eight
 * sampled quantities with their ranges, the rates derived from them, and the seeded Latin
 * hypercube that fixes the k-th parameter set of every circuit. */
#include <gsl/gsl_randist.h>
#include <math.h>

#include "circuit/oscillation.h"

static const double range_lo[BN__OSC_DIMS] = {-2, 0, 0, 1, 0, 0.015, 0.001, 0.001};
static const double range_hi[BN__OSC_DIMS] = {4, 0.25, 1, 10, 5, 0.25, 0.1, 0.1};

void bn__osc_range(int d, double *lo, double *hi) {
  *lo = range_lo[d];
  *hi = range_hi[d];
}

void bn__osc_params_from_unit(const double unit[BN__OSC_DIMS], bn__osc_params *p) {
  for (int d = 0; d < BN__OSC_DIMS; d++)
    p->sampled[d] = range_lo[d] + unit[d] * (range_hi[d] - range_lo[d]);
  const double *x = p->sampled;

  p->kd1 = pow(10.0, x[BN__OSC_LOG10_KD1]);
  p->k_off1 = 100.0 * p->kd1 / (1.0 + p->kd1);
  p->k_on = 100.0 - p->k_off1;
  p->k_off2 = p->k_off1 * x[BN__OSC_KD_RATIO];
  p->km_unbound = x[BN__OSC_KM_UNBOUND];
  p->km_act = x[BN__OSC_KM_ACT];
  p->km_rep = p->km_unbound * pow(10.0, -x[BN__OSC_NLOG10_REP]);
  p->kp = x[BN__OSC_KP];
  p->gamma_m = x[BN__OSC_GAMMA_M];
  p->gamma_p = x[BN__OSC_GAMMA_P];

  /* k_tx[a][r]; a + r <= 2 always holds, the entries past it are never used. */
  const double tx[3][3] = {{p->km_unbound, p->km_rep, p->km_rep},
                           {p->km_act, p->km_unbound, 0},
                           {p->km_act, 0, 0}};
  for (int a = 0; a < 3; a++)
    for (int r = 0; r < 3; r++) p->k_tx[a][r] = tx[a][r];
  p->k_on_n[0] = p->k_on;
  p->k_on_n[1] = p->k_on;
  p->k_on_n[2] = 0;
  p->k_off_c[0] = 0;
  p->k_off_c[1] = p->k_off1;
  p->k_off_c[2] = 2.0 * p->k_off2;
}

void bn__osc_lhs(uint64_t seed, int64_t n, double *out) {
  /* Dimension d: a random permutation of the strata (GSL's shuffle over the stream
   * (seed, d)), then a uniform offset inside each stratum (the stream (seed, DIMS + d)). */
  for (int d = 0; d < BN__OSC_DIMS; d++) {
    bn_rng perm_stream = bn_rng_stream(seed, (uint64_t)d, BN_RNG_EVALUATE);
    bn_rng offset_stream = bn_rng_stream(seed, (uint64_t)(BN__OSC_DIMS + d), BN_RNG_EVALUATE);
    bn_rng_gsl view;
    bn_rng_gsl_init(&view, &perm_stream);
    /* The permutation goes through the output column as doubles: stratum s is stored as s. */
    for (int64_t i = 0; i < n; i++) out[i * BN__OSC_DIMS + d] = (double)i;
    for (int64_t i = n - 1; i > 0; i--) {
      /* Fisher-Yates with GSL's uniform integer draw (gsl_ran_shuffle needs a contiguous
       * array; this column is strided). */
      int64_t j = (int64_t)gsl_rng_uniform_int(&view.gsl, (unsigned long)(i + 1));
      double tmp = out[i * BN__OSC_DIMS + d];
      out[i * BN__OSC_DIMS + d] = out[j * BN__OSC_DIMS + d];
      out[j * BN__OSC_DIMS + d] = tmp;
    }
    for (int64_t i = 0; i < n; i++) {
      double u = (out[i * BN__OSC_DIMS + d] + bn_rng_uniform(&offset_stream)) / (double)n;
      /* (s + u)/n rounds up to (s+1)/n only when u is within an ulp of 1: keep the stratum. */
      double top = (out[i * BN__OSC_DIMS + d] + 1.0) / (double)n;
      out[i * BN__OSC_DIMS + d] = u < top ? u : nextafter(top, 0.0);
    }
  }
}
