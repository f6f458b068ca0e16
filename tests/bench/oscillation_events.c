/* Benchmark helper (not a test) of tests/bench/oscillation.py: simulates one circuit over
 * parameter sets 0..N-1 of the oscillation reward on one thread, as one engine would, and
 * prints simulated events per second, the distribution of events per simulation, the share
 * of simulations capped and the share oscillating.
 *
 *   build/bench_oscillation_events [CIRCUIT [SETS [MAX_EVENTS [FIRST_SET]]]]
 *
 * CIRCUIT defaults to the repressilator *ABC::ABi_BCi_CAi, SETS to 100, MAX_EVENTS to the
 * reward's default cap, FIRST_SET to 0; the root is CIRCUIT's components (e.g. ABC::). The
 * last line is machine-readable: "events=... seconds=... events_per_second=...". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "circuit/circuit.h"
#include "circuit/oscillation.h"

static int compare_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  const char *circuit = argc > 1 ? argv[1] : "*ABC::ABi_BCi_CAi";
  const int sets = argc > 2 ? atoi(argv[2]) : 100;
  bn__osc_options o;
  bn__osc_options_default(&o);
  if (argc > 3) o.max_events = strtoll(argv[3], NULL, 10);
  const int first = argc > 4 ? atoi(argv[4]) : 0;
  if (sets < 1 || first < 0) {
    fprintf(stderr, "usage: %s [CIRCUIT [SETS [MAX_EVENTS [FIRST_SET]]]]\n", argv[0]);
    return 2;
  }
  if (first + sets > o.parameter_sets) o.parameter_sets = first + sets;

  /* The root: the components of the circuit, no interactions. */
  char root[BN__CIRCUIT_MAX_N + 3];
  const char *letters = circuit[0] == '*' ? circuit + 1 : circuit;
  size_t nl = strcspn(letters, ":");
  if (nl == 0 || nl > BN__CIRCUIT_MAX_N) {
    fprintf(stderr, "bad circuit '%s'\n", circuit);
    return 2;
  }
  snprintf(root, sizeof root, "%.*s::", (int)nl, letters);

  char err[256];
  bn__circuit_params cp = {root, 0, "", 0, 0};
  bn__circuit_ctx *c;
  if (bn__circuit_setup(&cp, NULL, &c, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  uint8_t state[1 + BN__CIRCUIT_MAX_CELLS];
  if (bn__circuit_parse_why(c, circuit, state, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  bn__osc_model *m;
  if (bn__osc_model_create(&o, &m, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }

  const size_t nt = (size_t)o.samples;
  double *series = malloc((size_t)c->n * nt * sizeof *series);
  double *work = malloc(2 * nt * sizeof *work);
  int64_t *events = malloc((size_t)sets * sizeof *events);
  if (!series || !work || !events) return 2;
  int64_t total = 0;
  int capped = 0, oscillating = 0;
  double sim_seconds = 0;
  const double start = bn_mtime();
  for (int k = 0; k < sets; k++) {
    bn_eval_request req = {(uint64_t)k, bn_seed_derive(7, (uint64_t)(first + k), 0),
                           (uint32_t)(first + k), 1};
    bn__osc_result res;
    char why[200];
    double t0 = bn_mtime();
    int rc = bn__osc_run_one(c, m, state, &req, series, work, &res, why, sizeof why);
    sim_seconds += bn_mtime() - t0;
    events[k] = res.outcome.events;
    total += res.outcome.events;
    capped += rc != 0;
    oscillating += rc == 0 && res.oscillating;
  }
  const double seconds = bn_mtime() - start;
  qsort(events, (size_t)sets, sizeof *events, compare_i64);
  printf("circuit %s, parameter sets %d..%d, cap %" PRId64 "\n", circuit, first, first + sets - 1,
         o.max_events);
  printf("events per simulation: min %" PRId64 "  p10 %" PRId64 "  median %" PRId64
         "  p90 %" PRId64 "  p99 %" PRId64 "  max %" PRId64 "  mean %.0f\n",
         events[0], events[sets / 10], events[sets / 2], events[sets * 9 / 10],
         events[sets * 99 / 100], events[sets - 1], (double)total / sets);
  printf("capped %d of %d, oscillating %d of %d (%.1f%%), %.3f s per simulation\n", capped, sets,
         oscillating, sets, 100.0 * oscillating / sets, seconds / sets);
  printf("events=%" PRId64 " seconds=%.4f events_per_second=%.0f\n", total, sim_seconds,
         (double)total / sim_seconds);
  free(events);
  free(work);
  free(series);
  bn__osc_model_free(m);
  bn__circuit_free(c);
  return 0;
}
