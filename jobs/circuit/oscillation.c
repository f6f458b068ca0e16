/* Reward 2, oscillation (CIRCUIT-MODEL.md §4): one evaluation simulates the circuit once,
 * with one parameter set and one random initial state, and rewards 1 if the free proteins
 * oscillate, else 0; the mean reward of a circuit estimates Q, its probability of
 * oscillating over the parameter space.
 *
 * Evaluation k of a circuit (req->sample = k) uses set k mod N of a Latin hypercube built
 * at init from domain.circuit.lhs_seed, identical on every rank; a rollout's terminal
 * (BN_SAMPLE_NONE) draws its set from the job seed. The initial state and the trajectory
 * draw from the stream (req->seed, 0, BN_RNG_EVALUATE), so (circuit, set, seed) fixes the
 * trajectory on any rank. Each call allocates its own buffers: the model is read-only. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "circuit/oscillation.h"

void bn__osc_options_default(bn__osc_options *o) {
  o->parameter_sets = BN__OSC_DEFAULT_PARAMETER_SETS;
  o->lhs_seed = BN__OSC_DEFAULT_LHS_SEED;
  o->max_events = BN__OSC_DEFAULT_MAX_EVENTS;
  o->samples = BN__OSC_DEFAULT_SAMPLES;
  o->sample_interval = BN__OSC_DEFAULT_SAMPLE_INTERVAL;
}

int bn__osc_model_create(const bn__osc_options *o, bn__osc_model **out, char *err,
                         size_t errlen) {
  if (o->parameter_sets < 1 || o->samples < 18 || o->max_events < 1 ||
      !(o->sample_interval > 0) || !isfinite(o->sample_interval)) {
    snprintf(err, errlen,
             "oscillation: need parameter_sets >= 1, samples >= 18, max_events >= 1 and a "
             "finite sample_interval > 0");
    return 1;
  }
  bn__osc_model *m = calloc(1, sizeof *m);
  double *unit = malloc((size_t)o->parameter_sets * BN__OSC_DIMS * sizeof *unit);
  if (!m || !unit) {
    free(m);
    free(unit);
    snprintf(err, errlen, "oscillation: out of memory for %" PRId64 " parameter sets",
             o->parameter_sets);
    return 1;
  }
  m->options = *o;
  m->unit = unit;
  bn__osc_lhs(o->lhs_seed, o->parameter_sets, unit);
  *out = m;
  return 0;
}

void bn__osc_model_free(bn__osc_model *m) {
  if (!m) return;
  free(m->unit);
  free(m);
}

int64_t bn__osc_parameter_set(const bn__osc_model *m, const bn_eval_request *req) {
  const int64_t n = m->options.parameter_sets;
  if (req->sample != BN_SAMPLE_NONE) return (int64_t)req->sample % n;
  /* A stream apart from the trajectory's (counter 1 instead of 0). */
  bn_rng r = bn_rng_stream(req->seed, 1, BN_RNG_EVALUATE);
  bn_rng_gsl view;
  bn_rng_gsl_init(&view, &r);
  return (int64_t)gsl_rng_uniform_int(&view.gsl, (unsigned long)n);
}

int bn__osc_run_one(const bn__circuit_ctx *c, const bn__osc_model *m, const uint8_t *state,
                    const bn_eval_request *req, double *series, double *work, bn__osc_result *res,
                    char *why, size_t whylen) {
  bn__osc_network net;
  bn__osc_network_build(c, state, &net);
  res->set = bn__osc_parameter_set(m, req);
  bn__osc_params p;
  bn__osc_params_from_unit(m->unit + res->set * BN__OSC_DIMS, &p);

  bn_rng rng = bn_rng_stream(req->seed, 0, BN_RNG_EVALUATE);
  bn__osc_species s;
  bn__osc_initial_state(&net, &rng, &s);
  const bn__osc_run run = {m->options.samples, m->options.sample_interval, m->options.max_events};
  if (bn__osc_simulate(&net, &p, &run, &rng, &s, series, &res->outcome) != 0) {
    res->acf_min = NAN;
    res->oscillating = false;
    snprintf(why, whylen, "event cap: %" PRId64 " events reached at t=%.0f s (parameter set %" PRId64 ")",
             m->options.max_events, res->outcome.end_time, res->set);
    return 1;
  }
  res->acf_min = bn__osc_acf_min(series, net.n_components, run.samples, work);
  res->oscillating = res->acf_min < BN__OSC_THRESHOLD;
  return 0;
}

static int oscillation_init(const bn__circuit_ctx *c, const bn_config *cfg, void **data,
                            char *err, size_t errlen) {
  (void)c;
  bn__osc_options o;
  bn__osc_options_default(&o);
  if (cfg) {
    o.parameter_sets = bn_config_int(cfg, "domain.circuit.parameter_sets");
    o.lhs_seed = (uint64_t)bn_config_int(cfg, "domain.circuit.lhs_seed");
    o.max_events = bn_config_int(cfg, "domain.circuit.max_events");
    o.samples = (int)bn_config_int(cfg, "domain.circuit.samples");
    o.sample_interval = bn_config_real(cfg, "domain.circuit.sample_interval");
  }
  bn__osc_model *m;
  if (bn__osc_model_create(&o, &m, err, errlen) != 0) return 1;
  *data = m;
  return 0;
}

static void oscillation_fini(void *data) { bn__osc_model_free(data); }

static int oscillation_evaluate(const bn__circuit_ctx *c, const void *data, const uint8_t *state,
                                const bn_eval_request *req, double *reward, char *why,
                                size_t whylen) {
  const bn__osc_model *m = data;
  const size_t nt = (size_t)m->options.samples;
  /* Per call, so concurrent evaluations share nothing: M series and the test's scratch. */
  double *buf = malloc(((size_t)c->n + 2) * nt * sizeof *buf);
  if (!buf) {
    snprintf(why, whylen, "oscillation: out of memory");
    return 1;
  }
  bn__osc_result res;
  int rc = bn__osc_run_one(c, m, state, req, buf, buf + (size_t)c->n * nt, &res, why, whylen);
  free(buf);
  if (rc != 0) return rc;
  *reward = res.oscillating ? 1.0 : 0.0;
  return 0;
}

const bn__circuit_reward bn__circuit_reward_oscillation = {
    .name = "oscillation",
    .init = oscillation_init,
    .fini = oscillation_fini,
    .evaluate = oscillation_evaluate,
};
