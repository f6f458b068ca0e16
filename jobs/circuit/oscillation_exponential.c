/* Exponential waiting times for the Gillespie simulation: a 256-layer ziggurat (Marsaglia and
 * Tsang, "The ziggurat method for generating random variables", 2000) over the counter-based
 * streams of banyan/rng.h. About 99% of draws cost one 64-bit draw, a multiply and a
 * compare; -log(u) costs a libm call, which was a third of the simulation's time. GSL has no
 * exponential ziggurat (only a Gaussian one), hence this file.
 *
 * Layers i = 0..255 with right edges x_0 > x_1 = R > x_2 > ... > x_256 = 0 and equal areas
 * V: layer i >= 1 is the box [0, x_i] x [f(x_i), f(x_{i+1})] with f(x) = exp(-x); layer 0 is
 * the box [0, R] x [0, f(R)] plus the tail beyond R, drawn as if it were a box of width
 * x_0 = V / f(R). A point x = U x_i left of x_{i+1} lies under f at once; otherwise layer 0
 * draws from the tail (R plus a fresh exponential, by memorylessness) and the other layers
 * test the point against f. The tables are built once per process (pthread_once) with
 * exp/log; every rank running the same binary builds the same tables. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "circuit/oscillation.h"

#define LAYERS 256
#define ZIG_R 7.69711747013104972
#define ZIG_V 3.949659822581572e-3
#define TWO_53 9007199254740992.0

static double width[LAYERS];    /* x_i / 2^53: x = j * width[i] for a 53-bit j */
static uint64_t inside[LAYERS]; /* j < inside[i] <=> j * width[i] < x_{i+1} */
static double edge[LAYERS + 1]; /* x_i */
static double height[LAYERS + 1]; /* f(x_i) */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
  edge[0] = ZIG_V / exp(-ZIG_R);
  edge[1] = ZIG_R;
  for (int i = 1; i < LAYERS - 1; i++) edge[i + 1] = -log(ZIG_V / edge[i] + exp(-edge[i]));
  edge[LAYERS] = 0;
  for (int i = 0; i <= LAYERS; i++) height[i] = exp(-edge[i]);
  for (int i = 0; i < LAYERS; i++) {
    width[i] = edge[i] / TWO_53;
    inside[i] = (uint64_t)(edge[i + 1] / edge[i] * TWO_53);
  }
}

void bn__osc_exponential_init(void) { pthread_once(&tables_once, build_tables); }

double bn__osc_exponential(bn_rng *rng) {
  for (;;) {
    const uint64_t bits = bn_rng_next(rng);
    const int i = (int)(bits & (LAYERS - 1));
    const uint64_t j = bits >> 11; /* 53 bits, apart from the 8 that chose the layer */
    const double x = (double)j * width[i];
    if (j < inside[i]) return x;
    if (i == 0) return ZIG_R - log(1.0 - bn_rng_uniform(rng));
    const double y = height[i] + bn_rng_uniform(rng) * (height[i + 1] - height[i]);
    if (y < exp(-x)) return x;
  }
}
