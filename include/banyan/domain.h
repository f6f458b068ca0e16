/* The domain API: what a user implements to search a new design space.
 *
 * A domain is a grammar over fixed-size states (plain bytes, compared and hashed as bytes,
 * sent in MPI messages and stored in HDF5 as they are). The runtime owns the search; the
 * domain owns the meaning of states. A domain is a table of functions (bn_domain_ops);
 * built-in domains are found by name (bn_domain_find), plug-ins are shared libraries.
 *
 * Thread safety: init/fini run once per rank on one thread. Every other function may be
 * called concurrently from many threads with the same const ctx, so it must not modify ctx.
 * evaluate must be a pure function of (state, seed, sample): the same inputs give the same reward
 * on any rank. That is what makes deterministic runs and exact restarts possible. */
#ifndef BANYAN_DOMAIN_H
#define BANYAN_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "banyan/config.h"
#include "banyan/error.h"

/* Version 2: evaluate takes a bn_eval_request (job id, seed, sample index, attempt). */
#define BN_DOMAIN_API_VERSION 2u

/* An action: a small non-negative integer meaningful to the domain. */
typedef int32_t bn_action;

/* `sample` of a request whose state was reached by a rollout on the engine: rank 0 did not
 * select that terminal, so it has no sample index (a domain then draws one from the seed). */
#define BN_SAMPLE_NONE UINT32_MAX

/* What one evaluation is asked for. The reward must depend only on the state, `seed` and
 * `sample`, never on `job_id` or `attempt` (those are for logs and external programs). */
typedef struct bn_eval_request {
  uint64_t job_id;  /* unique in the run (the iteration number) */
  uint64_t seed;    /* drives every random draw of the evaluation */
  uint32_t sample;  /* k: the state was selected k times before this job (0 the first time);
                       BN_SAMPLE_NONE for a rollout's terminal. With search.exhaust_after = N,
                       a terminal gets samples 0..N-1 (e.g. parameter set k of N). */
  uint32_t attempt; /* 1 for the first try, 2.. for engine.retries */
} bn_eval_request;

/* Sizes a domain fixes at init from its configuration. */
typedef struct bn_domain_info {
  size_t state_size; /* bytes per state, > 0 */
  int max_actions;   /* upper bound of actions() from any state, > 0 */
  int max_depth;     /* upper bound on actions from root to any terminal, > 0 */
} bn_domain_info;

typedef struct bn_domain_ops {
  unsigned api_version; /* BN_DOMAIN_API_VERSION */
  const char *name;     /* registry name, also the config section "domain.<name>" */
  const char *summary;  /* one line for --help */
  const bn_option *options; /* options named "domain.<name>.key"; may be NULL */
  size_t n_options;

  /* Read options from cfg and set up a per-rank context. Return 0 on success; on failure
   * write a readable reason to err and return non-zero: ENOMEM (<errno.h>) when memory ran
   * out (a runtime error, exit status 1), anything else for options to fix (status 2). */
  int (*init)(const bn_config *cfg, void **ctx, bn_domain_info *info, char *err, size_t errlen);
  void (*fini)(void *ctx); /* may be NULL */

  /* Write the root state. */
  void (*root)(const void *ctx, void *state);
  /* Write up to `max` legal actions of `state` to out[]; return how many (0 if terminal). */
  int (*actions)(const void *ctx, const void *state, bn_action *out, int max);
  /* Write the state reached by taking `action` in `state` to `next` (never aliases state). */
  void (*apply)(const void *ctx, const void *state, bn_action action, void *next);
  bool (*is_terminal)(const void *ctx, const void *state);
  /* Optional (NULL: every state is already unique): rewrite `state` in place into the
   * representative of its symmetry class, so transpositions meet in one node. */
  void (*canonicalize)(const void *ctx, void *state);

  /* The reward job, run on engines. Return 0 and set *reward (finite) on success; on
   * failure return non-zero and write a short reason to why (the job is reported failed
   * and the search goes on). */
  int (*evaluate)(const void *ctx, const void *state, const bn_eval_request *req, double *reward,
                  char *why, size_t whylen);

  /* Readable form into buf (always NUL-terminated); returns the length it needed. */
  int (*describe)(const void *ctx, const void *state, char *buf, size_t n);
  /* Inverse of describe: 0 on success, non-zero if `text` is not a valid state. */
  int (*parse)(const void *ctx, const char *text, void *state);
} bn_domain_ops;

/* A domain opened on this rank: its table, context and sizes. */
typedef struct bn_domain {
  const bn_domain_ops *ops;
  void *ctx;
  bn_domain_info info;
} bn_domain;

/* Built-in domains, by name. NULL if unknown. */
BN_API const bn_domain_ops *bn_domain_find(const char *name);
/* The i-th built-in domain (i from 0), NULL past the end. */
BN_API const bn_domain_ops *bn_domain_builtin(size_t i);

/* Check the table (API version, required functions) and run init with cfg.
 * BN_ERR_DOMAIN with the domain's reason logged on failure. *out written on success. */
BN_API BN_NODISCARD bn_err bn_domain_open(bn_domain *out, const bn_domain_ops *ops,
                                          const bn_config *cfg);
/* Open the domain `cfg` names, as every rank must: the built-in domain.name (or the
 * plug-in of domain.plugin), wrapped to run exec.command when that is set. BN_ERR_CONFIG
 * (logged with the config location) for an unknown domain, BN_ERR_DOMAIN when the domain
 * refuses its configuration. *out written on success. */
BN_API BN_NODISCARD bn_err bn_domain_open_configured(bn_domain *out, const bn_config *cfg);
/* Run fini; accepts a domain that was never opened (ops == NULL). */
BN_API void bn_domain_close(bn_domain *d);

/* Plug-in domains: a shared library that defines its table with BN_DOMAIN_PLUGIN and is
 * named in the config as `domain.plugin = path/to/libmydomain.so` (relative to the config
 * file's directory). banyan loads it on every rank, reads banyan_plugin_api_version before
 * it touches the table, then calls banyan_plugin_domain(). Build it against the banyan it
 * runs in (find_package(banyan) and banyan::banyan, or `pkg-config banyan`): it calls that
 * banyan's functions (bn_config_int, ...) and does not carry its own copy.
 *
 *     static const bn_domain_ops my_domain = {.api_version = BN_DOMAIN_API_VERSION, ...};
 *     BN_DOMAIN_PLUGIN(my_domain);
 *
 * defines both exported symbols (with default visibility, whatever -fvisibility says). */
#define BN_DOMAIN_PLUGIN(ops)                                                            \
  BN_API const bn_domain_ops *banyan_plugin_domain(void);                                \
  BN_API const bn_domain_ops *banyan_plugin_domain(void) { return &(ops); }              \
  BN_API extern const unsigned banyan_plugin_api_version;                                \
  BN_API const unsigned banyan_plugin_api_version = BN_DOMAIN_API_VERSION

/* Load the plug-in library at `path` (absolute, or relative to the current directory) and
 * check it: it exports banyan_plugin_api_version equal to BN_DOMAIN_API_VERSION and
 * banyan_plugin_domain(), whose table has that version, every required function, a name
 * usable as a config section that no built-in domain has, and options named
 * "domain.<name>.<key>". A library is loaded once per process and stays loaded until exit
 * (configs borrow its option table). *ops written on success; on failure a readable reason
 * ("plugin X was built for domain API version 1, ...") goes to why and the code is
 * BN_ERR_DOMAIN (BN_ERR_NOMEM when memory runs out). Thread-safe. */
BN_API BN_NODISCARD bn_err bn_domain_plugin_load(const char *path, const bn_domain_ops **ops, char *why,
                                                 size_t whylen);
/* A bn_config_declarer (config.h) for domain.plugin: makes its path absolute (relative to
 * the config file's directory), loads the plug-in, checks domain.name against the plug-in's
 * name (domain.name, when left out, becomes the plug-in's name, as if written on the
 * domain.plugin line) and declares the plug-in's options. Problems are printed to `errors`
 * as "FILE:LINE: domain.plugin: why" (BN_ERR_CONFIG). `ctx` is unused. */
BN_API BN_NODISCARD bn_err bn_domain_plugin_declare(bn_config *cfg, FILE *errors, void *ctx);

#endif
