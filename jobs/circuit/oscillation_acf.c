/* The oscillation test of the oscillation reward (CIRCUIT-MODEL.md §4 "Oscillation test"):
 * smooth each free-protein series with the 9-point binomial filter, take the autocorrelation
 * of the mean-subtracted result over the first half of the lags, and look for the lowest
 * interior local minimum. A series oscillates when its autocorrelation dips below -0.4
 * between two rises. The autocorrelation is the direct sum (about L^2/2 multiply-adds for a
 * series of L points): exact, and a few milliseconds next to the simulation. */
#include <math.h>

#include "circuit/oscillation.h"

static const double binomial9[9] = {1, 8, 28, 56, 70, 56, 28, 8, 1};

void bn__osc_filter(const double *x, int n, double *out) {
  for (int k = 0; k + 9 <= n; k++) {
    double sum = 0;
    for (int w = 0; w < 9; w++) sum += binomial9[w] * x[k + w];
    out[k] = sum / 256.0;
  }
}

int bn__osc_autocorrelation(double *x, int n, double *acf) {
  double mean = 0;
  for (int i = 0; i < n; i++) mean += x[i];
  mean /= n;
  for (int i = 0; i < n; i++) x[i] -= mean;
  const int lags = n / 2;
  for (int k = 0; k < lags; k++) {
    double sum = 0;
    for (int i = 0; i + k < n; i++) sum += x[i] * x[i + k];
    acf[k] = sum;
  }
  const double norm = acf[0] != 0 ? acf[0] : 1.0;
  for (int k = 0; k < lags; k++) acf[k] /= norm;
  return lags;
}

double bn__osc_lowest_minimum(const double *a, int n) {
  double lowest = INFINITY;
  for (int i = 1; i + 1 < n; i++)
    if (a[i] - a[i - 1] <= 0 && a[i + 1] - a[i] >= 0 && a[i] < lowest) lowest = a[i];
  return lowest;
}

double bn__osc_acf_min(const double *series, int m, int nt, double *work) {
  double *smooth = work, *acf = work + nt;
  double acf_min = 0;
  for (int i = 0; i < m; i++) {
    bn__osc_filter(series + (size_t)i * (size_t)nt, nt, smooth);
    int lags = bn__osc_autocorrelation(smooth, nt - 8, acf);
    double lowest = bn__osc_lowest_minimum(acf, lags);
    if (lowest < acf_min) acf_min = lowest;
  }
  return acf_min;
}
