/* Private header of the circuit domain's oscillation reward (CIRCUIT-MODEL.md §4): parameter
 * sets and their Latin hypercube, the reaction network of a circuit, the Gillespie
 * simulation and the autocorrelation test. The reward (oscillation.c) glues them together;
 * tests/test_oscillation.c includes this header to test each piece on its own.
 *
 * Files: oscillation_params.c (ranges, derived values, Latin hypercube),
 * oscillation_network.c (species, reactions, dependencies), oscillation_exponential.c (fast
 * exponential draws), oscillation_gillespie.c (the simulation), oscillation_acf.c (filter,
 * autocorrelation, minima), oscillation.c (options, init/fini/evaluate).
 *
 * Thread safety: every function here is reentrant; none keeps state between calls. */
#ifndef BN_CIRCUIT_OSCILLATION_H
#define BN_CIRCUIT_OSCILLATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banyan/rng.h"
#include "circuit/circuit.h"

/* ---- options (oscillation.c) ---- */

/* The reward's options, as entries of the circuit domain's option table. */
#define BN__OSC_DEFAULT_PARAMETER_SETS 10000
#define BN__OSC_DEFAULT_LHS_SEED 2024
#define BN__OSC_DEFAULT_MAX_EVENTS 500000000
#define BN__OSC_DEFAULT_SAMPLES 2000
#define BN__OSC_DEFAULT_SAMPLE_INTERVAL 20.0
#define BN__OSC_STR_(x) #x
#define BN__OSC_STR(x) BN__OSC_STR_(x)
#define BN__OSC_OPTIONS                                                                        \
  {"domain.circuit.parameter_sets", BN_OPT_INT, BN__OSC_STR(BN__OSC_DEFAULT_PARAMETER_SETS),   \
   1, 1000000, NULL,                                                                           \
   "oscillation: N parameter sets of the Latin hypercube; evaluation k of a circuit uses set "  \
   "k mod N (set search.exhaust_after = N to try each once)"},                                 \
  {"domain.circuit.lhs_seed", BN_OPT_INT, BN__OSC_STR(BN__OSC_DEFAULT_LHS_SEED), 0,            \
   9007199254740991.0, NULL,                                                                   \
   "oscillation: seed of the Latin hypercube of parameter sets (same on every rank)"},         \
  {"domain.circuit.max_events", BN_OPT_INT, BN__OSC_STR(BN__OSC_DEFAULT_MAX_EVENTS), 1000,     \
   1e12, NULL,                                                                                 \
   "oscillation: most Gillespie events in one simulation; a simulation that needs more is "    \
   "a failed job"},                                                                            \
  {"domain.circuit.samples", BN_OPT_INT, BN__OSC_STR(BN__OSC_DEFAULT_SAMPLES), 18, 100000,    \
   NULL, "oscillation: nt, time points recorded per simulation (t = 0, dt, ..., (nt-1) dt)"},  \
  {"domain.circuit.sample_interval", BN_OPT_REAL, "20", 1e-6, 1e9, NULL,                       \
   "oscillation: dt, seconds of simulated time between recorded time points"}

typedef struct bn__osc_options {
  int64_t parameter_sets; /* N >= 1 */
  uint64_t lhs_seed;
  int64_t max_events;     /* >= 1 */
  int samples;            /* nt >= 18 (the filter and the minima need room) */
  double sample_interval; /* dt > 0, seconds */
} bn__osc_options;

/* The defaults above. */
void bn__osc_options_default(bn__osc_options *o);

/* ---- parameters (oscillation_params.c) ---- */

enum {
  BN__OSC_LOG10_KD1,      /* log10 kd1 in [-2, 4] */
  BN__OSC_KD_RATIO,       /* kd2/kd1 in [0, 0.25] */
  BN__OSC_KM_UNBOUND,     /* [0, 1] */
  BN__OSC_KM_ACT,         /* [1, 10] */
  BN__OSC_NLOG10_REP,     /* -log10(km_rep/km_unbound) in [0, 5] */
  BN__OSC_KP,             /* [0.015, 0.25] */
  BN__OSC_GAMMA_M,        /* [0.001, 0.1] */
  BN__OSC_GAMMA_P,        /* [0.001, 0.1] */
  BN__OSC_DIMS
};

/* The sampling range of dimension d (CIRCUIT-MODEL.md §4 "Parameters"). */
void bn__osc_range(int d, double *lo, double *hi);

/* One parameter set: what was sampled and every rate the simulation uses. */
typedef struct bn__osc_params {
  double sampled[BN__OSC_DIMS]; /* in the units of the ranges above */
  double kd1, k_off1, k_on, k_off2;
  double km_unbound, km_act, km_rep;
  double kp, gamma_m, gamma_p;
  double k_tx[3][3]; /* transcription rate with a bound activators and r bound repressors */
  double k_on_n[3];  /* binding rate constant with n complexes at the target's promoter */
  double k_off_c[3]; /* unbinding rate with c complexes of the edge itself */
} bn__osc_params;

/* Derive a parameter set from a point of the unit cube (each coordinate in [0, 1)):
 * coordinate d is mapped linearly onto range d, then the derived values are computed. */
void bn__osc_params_from_unit(const double unit[BN__OSC_DIMS], bn__osc_params *p);

/* A Latin hypercube of n points in [0, 1)^BN__OSC_DIMS from `seed`: in every dimension
 * each stratum [s/n, (s+1)/n) holds exactly one point. out[i * BN__OSC_DIMS + d]
 * (caller's array of n * BN__OSC_DIMS doubles). Deterministic: same (seed, n), same points,
 * on any rank. */
void bn__osc_lhs(uint64_t seed, int64_t n, double *out);

/* ---- reaction network (oscillation_network.c) ---- */

#define BN__OSC_MAX_EDGES BN__CIRCUIT_MAX_CELLS
#define BN__OSC_MAX_REACTIONS (4 * BN__CIRCUIT_MAX_N + 3 * BN__OSC_MAX_EDGES)
/* Longest dependency list: own propensity plus everything its species change touches. */
#define BN__OSC_MAX_DEPS (4 + 2 * BN__CIRCUIT_MAX_N)

typedef enum bn__osc_kind {
  BN__OSC_BIND,        /* edge j: P_X -1, C_j +1 at rate P_X * k_on[n_Y] */
  BN__OSC_UNBIND,      /* edge j: P_X +1, C_j -1 at rate k_off[C_j] */
  BN__OSC_TRANSLATE,   /* component i: P_i +1 at rate kp * mRNA_i */
  BN__OSC_PROTEIN_DECAY, /* component i: P_i -1 at rate gamma_p * P_i */
  BN__OSC_TRANSCRIBE,  /* component i: mRNA_i +1 at rate k_tx[a_i][r_i] */
  BN__OSC_MRNA_DECAY,  /* component i: mRNA_i -1 at rate gamma_m * mRNA_i */
  BN__OSC_BOUND_DECAY  /* edge j: C_j -1 at rate gamma_p * C_j */
} bn__osc_kind;

/* The simulation keeps every count in one array of "slots" so that each propensity is
 * count[amount] * rate[table + count[level]] and each firing adds delta[k] to
 * count[slot[k]] for k < 4, without a branch on the kind:
 *   BN__OSC_SLOT_ZERO, BN__OSC_SLOT_ONE   constants 0 and 1
 *   BN__OSC_SLOT_SCRATCH + k, k < 4       written by padding change k, never read (one
 *                                         slot each: no chain of stores to one address)
 *   mRNA_i, P_i, C_j                      the species
 *   occupancy_i = a_i + r_i               complexes bound to promoter i
 *   tx_level_i = 3 a_i + r_i              the entry of k_tx that applies
 * and the rates in one array (BN__OSC_RATE_*; see bn__osc_rates). */
enum { BN__OSC_SLOT_ZERO, BN__OSC_SLOT_ONE, BN__OSC_SLOT_SCRATCH, BN__OSC_SLOT_SPECIES = 6 };
#define BN__OSC_SLOT_MRNA(net, i) (BN__OSC_SLOT_SPECIES + (i))
#define BN__OSC_SLOT_PROTEIN(net, i) (BN__OSC_SLOT_SPECIES + (net)->n_components + (i))
#define BN__OSC_SLOT_COMPLEX(net, j) (BN__OSC_SLOT_SPECIES + 2 * (net)->n_components + (j))
#define BN__OSC_SLOT_OCCUPANCY(net, i) \
  (BN__OSC_SLOT_SPECIES + 2 * (net)->n_components + (net)->n_edges + (i))
#define BN__OSC_SLOT_TX_LEVEL(net, i) \
  (BN__OSC_SLOT_SPECIES + 3 * (net)->n_components + (net)->n_edges + (i))
#define BN__OSC_MAX_SLOTS (BN__OSC_SLOT_SPECIES + 4 * BN__CIRCUIT_MAX_N + BN__OSC_MAX_EDGES)

enum {
  BN__OSC_RATE_KP = 0,
  BN__OSC_RATE_GAMMA_M = 1,
  BN__OSC_RATE_GAMMA_P = 2,
  BN__OSC_RATE_K_ON = 3,  /* 3 entries by occupancy */
  BN__OSC_RATE_K_OFF = 6, /* 3 entries by the edge's complexes */
  BN__OSC_RATE_K_TX = 9,  /* 9 entries by tx level 3a + r */
  BN__OSC_RATES = 18
};

typedef struct bn__osc_reaction {
  uint8_t kind;   /* bn__osc_kind */
  uint8_t index;  /* component i or edge j */
  uint8_t amount, level, table; /* propensity = count[amount] * rate[table + count[level]] */
  uint8_t slot[4];              /* firing: count[slot[k]] += delta[k] */
  int8_t delta[4];
  uint8_t n_deps; /* reactions whose propensity this one's firing can change (itself too) */
  uint8_t deps[BN__OSC_MAX_DEPS];
} bn__osc_reaction;

/* The species and reactions of a circuit (CIRCUIT-MODEL.md §4 "Species", "Reactions"). */
typedef struct bn__osc_network {
  int n_components; /* M */
  int n_edges;      /* A + R, in the order of the canonical token list (row-major matrix) */
  uint8_t source[BN__OSC_MAX_EDGES], target[BN__OSC_MAX_EDGES];
  bool activates[BN__OSC_MAX_EDGES];
  int n_reactions; /* 4M + 3(A + R) */
  /* Reactions in the order the selection scans them: the usually fast ones first (binding,
   * unbinding, translation, protein decay), which shortens the scan; the order does not
   * change the distribution of trajectories. */
  bn__osc_reaction reactions[BN__OSC_MAX_REACTIONS];
} bn__osc_network;

/* Build the network of a circuit state (terminal or not) of context c. */
void bn__osc_network_build(const bn__circuit_ctx *c, const uint8_t *state, bn__osc_network *net);

/* ---- exponential draws (oscillation_exponential.c) ---- */

/* Build the ziggurat tables (once per process; thread-safe). bn__osc_simulate calls it. */
void bn__osc_exponential_init(void);
/* An exponential waiting time with mean 1 from `rng`, after bn__osc_exponential_init. */
double bn__osc_exponential(bn_rng *rng);

/* ---- Gillespie simulation (oscillation_gillespie.c) ---- */

/* Species counts: mRNA and free protein per component, complexes per edge, and per promoter
 * the bound activator and repressor complexes (sums of C_j over edges into it). */
typedef struct bn__osc_species {
  int64_t mrna[BN__CIRCUIT_MAX_N], protein[BN__CIRCUIT_MAX_N];
  int64_t complexes[BN__OSC_MAX_EDGES];
  int64_t bound_act[BN__CIRCUIT_MAX_N], bound_rep[BN__CIRCUIT_MAX_N];
} bn__osc_species;

typedef struct bn__osc_run {
  int samples;            /* nt */
  double sample_interval; /* dt */
  int64_t max_events;     /* cap */
} bn__osc_run;

typedef struct bn__osc_outcome {
  int64_t events;    /* events fired */
  double end_time;   /* time of the last event fired (0 if none) */
  bool capped;       /* the cap stopped the simulation before the last time point */
  bool extinct;      /* the total propensity reached 0 (the state stayed fixed) */
} bn__osc_outcome;

/* The rate array of the simulation (BN__OSC_RATE_* layout) from a parameter set. */
void bn__osc_rates(const bn__osc_params *p, double rates[BN__OSC_RATES]);

/* Draw the initial state: free proteins ~ Poisson(10) each, mRNA and complexes 0. */
void bn__osc_initial_state(const bn__osc_network *net, bn_rng *rng, bn__osc_species *s);

/* Simulate from *s (updated to the final state) with the Gillespie direct method, drawing
 * from `rng`, and record the free proteins at t_j = j * dt, j = 0 .. nt-1: the state after
 * every event with time <= t_j. series[i * nt + j] is P_i at t_j (caller's array of
 * M * nt doubles). Returns 0, or 1 when the cap was reached first (outcome->capped; the
 * series is then incomplete). No allocation. */
int bn__osc_simulate(const bn__osc_network *net, const bn__osc_params *p, const bn__osc_run *run,
                     bn_rng *rng, bn__osc_species *s, double *series, bn__osc_outcome *outcome);

/* ---- oscillation test (oscillation_acf.c) ---- */

/* The 9-point binomial filter (1,8,28,56,70,56,28,8,1)/256, valid part only: out[k] for
 * k = 0 .. n-9 from x[k .. k+8]. n >= 9. */
void bn__osc_filter(const double *x, int n, double *out);

/* Subtract the mean of x[0..n-1] in place, then acf[k] = sum_i x[i] x[i+k] for
 * k = 0 .. n/2-1, divided by acf[0] (by 1 when acf[0] is 0). Returns the number of lags,
 * n/2. */
int bn__osc_autocorrelation(double *x, int n, double *acf);

/* Lowest interior local minimum of a[0..n-1] (a[i]-a[i-1] <= 0 and a[i+1]-a[i] >= 0,
 * 0 < i < n-1); +INFINITY when there is none. */
double bn__osc_lowest_minimum(const double *a, int n);

#define BN__OSC_THRESHOLD (-0.4)

/* acf_min over the M series of nt samples (series[i * nt + j]): min(0, lowest interior
 * minimum of the autocorrelation of any filtered series). `work` holds 2 * nt doubles
 * (caller's). Oscillating when the result is < BN__OSC_THRESHOLD. */
double bn__osc_acf_min(const double *series, int m, int nt, double *work);

/* ---- the reward (oscillation.c) ---- */

/* What init precomputes: the options and the Latin hypercube. */
typedef struct bn__osc_model {
  bn__osc_options options;
  double *unit; /* owned: parameter_sets * BN__OSC_DIMS points of the Latin hypercube */
} bn__osc_model;

/* Build a model from options (tests use this instead of a config). *out written on success
 * (free with bn__osc_model_free); non-zero with a reason in err otherwise. */
int bn__osc_model_create(const bn__osc_options *o, bn__osc_model **out, char *err, size_t errlen);
void bn__osc_model_free(bn__osc_model *m); /* accepts NULL */

/* The parameter set an evaluation uses: req->sample mod N, or one drawn from req->seed for
 * a rollout's terminal (BN_SAMPLE_NONE). */
int64_t bn__osc_parameter_set(const bn__osc_model *m, const bn_eval_request *req);

/* Everything one evaluation produced, for tests and benchmarks. */
typedef struct bn__osc_result {
  int64_t set;             /* parameter set used */
  bn__osc_outcome outcome;
  double acf_min;          /* NAN when capped */
  bool oscillating;
} bn__osc_result;

/* Run one evaluation: parameter set, initial state and trajectory from (state, req), then
 * the test. series (M * nt doubles) and work (2 * nt doubles) are the caller's; series
 * holds the trajectory afterwards. 0 on success; 1 when the event cap was reached, with a
 * reason in why. */
int bn__osc_run_one(const bn__circuit_ctx *c, const bn__osc_model *m, const uint8_t *state,
                    const bn_eval_request *req, double *series, double *work, bn__osc_result *res,
                    char *why, size_t whylen);

#endif
