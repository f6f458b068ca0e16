/* The Gillespie simulation of the oscillation reward (CIRCUIT-MODEL.md §4 "Initial state",
 * "Simulation"): the direct method over the network of oscillation_network.c, recording the
 * free proteins on the time grid t_j = j * dt.
 *
 * The hot loop allocates nothing and does not branch on reaction kinds: counts, rates and
 * propensities live in stack arrays in the table-driven form of oscillation_network.c; each
 * event applies its four count changes, recomputes only the propensities on its dependency
 * list and updates the total by the difference.
 * The total is recomputed exactly every RESUM_EVENTS events and whenever the selection scan
 * runs past the end, so rounding cannot drift. One event costs two draws from the
 * counter-based stream: the waiting time (a ziggurat, oscillation_exponential.c) and the
 * reaction (a uniform). */
#include <gsl/gsl_randist.h>
#include <math.h>

#include "circuit/oscillation.h"

#define INITIAL_PROTEIN_MEAN 10.0
#define RESUM_EVENTS 1024

void bn__osc_initial_state(const bn__osc_network *net, bn_rng *rng, bn__osc_species *s) {
  bn_rng_gsl view;
  bn_rng_gsl_init(&view, rng);
  *s = (bn__osc_species){0};
  for (int i = 0; i < net->n_components; i++)
    s->protein[i] = (int64_t)gsl_ran_poisson(&view.gsl, INITIAL_PROTEIN_MEAN);
}

void bn__osc_rates(const bn__osc_params *p, double rates[BN__OSC_RATES]) {
  rates[BN__OSC_RATE_KP] = p->kp;
  rates[BN__OSC_RATE_GAMMA_M] = p->gamma_m;
  rates[BN__OSC_RATE_GAMMA_P] = p->gamma_p;
  for (int n = 0; n < 3; n++) {
    rates[BN__OSC_RATE_K_ON + n] = p->k_on_n[n];
    rates[BN__OSC_RATE_K_OFF + n] = p->k_off_c[n];
  }
  for (int a = 0; a < 3; a++)
    for (int r = 0; r < 3; r++) rates[BN__OSC_RATE_K_TX + 3 * a + r] = p->k_tx[a][r];
}

static inline double propensity(const bn__osc_reaction *re, const int64_t *count,
                                const double *rates) {
  return (double)count[re->amount] * rates[re->table + count[re->level]];
}

/* Exact total of every propensity, refreshing the array on the way. */
static double resum(const bn__osc_network *net, const int64_t *count, const double *rates,
                    double *prop) {
  double total = 0;
  for (int r = 0; r < net->n_reactions; r++) {
    prop[r] = propensity(&net->reactions[r], count, rates);
    total += prop[r];
  }
  return total;
}

static inline void record(const bn__osc_network *net, const int64_t *count, double *series,
                          int nt, int j) {
  const int64_t *protein = count + BN__OSC_SLOT_PROTEIN(net, 0);
  for (int i = 0; i < net->n_components; i++) series[i * nt + j] = (double)protein[i];
}

int bn__osc_simulate(const bn__osc_network *net, const bn__osc_params *p, const bn__osc_run *run,
                     bn_rng *rng, bn__osc_species *s, double *series, bn__osc_outcome *outcome) {
  const int nt = run->samples, nr = net->n_reactions, m = net->n_components, e = net->n_edges;
  const double dt = run->sample_interval;
  double rates[BN__OSC_RATES];
  bn__osc_rates(p, rates);
  int64_t count[BN__OSC_MAX_SLOTS] = {0};
  count[BN__OSC_SLOT_ONE] = 1;
  for (int i = 0; i < m; i++) {
    count[BN__OSC_SLOT_MRNA(net, i)] = s->mrna[i];
    count[BN__OSC_SLOT_PROTEIN(net, i)] = s->protein[i];
    count[BN__OSC_SLOT_OCCUPANCY(net, i)] = s->bound_act[i] + s->bound_rep[i];
    count[BN__OSC_SLOT_TX_LEVEL(net, i)] = 3 * s->bound_act[i] + s->bound_rep[i];
  }
  for (int j = 0; j < e; j++) count[BN__OSC_SLOT_COMPLEX(net, j)] = s->complexes[j];

  double prop[BN__OSC_MAX_REACTIONS];
  double total = resum(net, count, rates, prop);
  bn__osc_exponential_init();
  double t = 0;
  int j = 0; /* next time point to record */
  int64_t events = 0;
  int since_resum = 0;
  *outcome = (bn__osc_outcome){0};

  for (;;) {
    if (!(total > 0) && since_resum > 0) {
      total = resum(net, count, rates, prop); /* a running total near 0 may be rounding alone */
      since_resum = 0;
    }
    if (!(total > 0)) {
      /* Nothing can happen any more: the state stays fixed to the end. */
      outcome->extinct = true;
      break;
    }
    const double t_next = t + bn__osc_exponential(rng) / total;
    while (j < nt && (double)j * dt < t_next) record(net, count, series, nt, j++);
    if (j == nt) break;
    if (events >= run->max_events) {
      outcome->capped = true;
      break;
    }

    /* The reaction: the first whose cumulative propensity exceeds u * total. */
    double target = bn_rng_uniform(rng) * total;
    int chosen = -1, last_positive = -1;
    for (int r = 0; r < nr; r++) {
      if (prop[r] <= 0) continue;
      last_positive = r;
      target -= prop[r];
      if (target < 0) {
        chosen = r;
        break;
      }
    }
    if (chosen < 0) {
      /* Rounding in the running total: take the last reaction that can fire, or find that
       * none can. */
      if (last_positive < 0) {
        total = resum(net, count, rates, prop);
        since_resum = 0;
        continue;
      }
      chosen = last_positive;
    }

    const bn__osc_reaction *re = &net->reactions[chosen];
    for (int k = 0; k < 4; k++) count[re->slot[k]] += re->delta[k];
    for (int k = 0; k < re->n_deps; k++) {
      const int d = re->deps[k];
      const double a = propensity(&net->reactions[d], count, rates);
      total += a - prop[d];
      prop[d] = a;
    }
    t = t_next;
    events++;
    if (++since_resum == RESUM_EVENTS) {
      total = resum(net, count, rates, prop);
      since_resum = 0;
    }
  }
  /* Without further events the remaining time points see the final state. */
  if (!outcome->capped)
    while (j < nt) record(net, count, series, nt, j++);

  for (int i = 0; i < m; i++) {
    s->mrna[i] = count[BN__OSC_SLOT_MRNA(net, i)];
    s->protein[i] = count[BN__OSC_SLOT_PROTEIN(net, i)];
    const int64_t occupancy = count[BN__OSC_SLOT_OCCUPANCY(net, i)];
    s->bound_act[i] = (count[BN__OSC_SLOT_TX_LEVEL(net, i)] - occupancy) / 2;
    s->bound_rep[i] = occupancy - s->bound_act[i];
  }
  for (int k = 0; k < e; k++) s->complexes[k] = count[BN__OSC_SLOT_COMPLEX(net, k)];
  outcome->events = events;
  outcome->end_time = t;
  return outcome->capped ? 1 : 0;
}
