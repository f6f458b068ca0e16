/* The circuit domain's per-rank context: validating the options (root, interaction bound,
 * fixed letters, reward, delay) and precomputing what the hot paths need (component
 * indices, the root state, the permutation table, the reward's data); and evaluation, which
 * dispatches to the configured reward. Independent of the config module so the tests can
 * build a context directly. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "circuit/circuit.h"

#define BN__CIRCUIT_REWARD_ENTRY(name) &bn__circuit_reward_##name,
static const bn__circuit_reward *const rewards[] = {BN__CIRCUIT_REWARDS(BN__CIRCUIT_REWARD_ENTRY)};
#undef BN__CIRCUIT_REWARD_ENTRY

const bn__circuit_reward *const *bn__circuit_rewards(size_t *n_rewards) {
  *n_rewards = sizeof rewards / sizeof rewards[0];
  return rewards;
}

void bn__circuit_free(bn__circuit_ctx *c) {
  if (!c) return;
  if (c->reward && c->reward->fini) c->reward->fini(c->reward_data);
  free(c->perms);
  free(c);
}

/* "WHERE: KEY: what" into err: WHERE is where the config set KEY (FILE:LINE, --set or
 * (default)), like every other option error; left out without a config (tests). */
static void option_error(char *err, size_t errlen, const bn_config *cfg, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void option_error(char *err, size_t errlen, const bn_config *cfg, const char *key, const char *fmt, ...) {
  char where[4200] = "";
  if (cfg) bn_config_where(cfg, key, where, sizeof where);
  int n = snprintf(err, errlen, "%s%s%s: ", where, where[0] ? ": " : "", key);
  if (n < 0 || (size_t)n >= errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
  va_end(ap);
}

int bn__circuit_setup(const bn__circuit_params *p, const bn_config *cfg, bn__circuit_ctx **out,
                      char *err, size_t errlen) {
  char why[200];
  bn__circuit_text t;
  if (bn__circuit_text_read(p->root, &t, why, sizeof why) != 0) {
    option_error(err, errlen, cfg, "domain.circuit.root", "%s", why);
    return 1;
  }
  if (t.terminal) {
    option_error(err, errlen, cfg, "domain.circuit.root", "'%s' is terminal ('*'): nothing to search", p->root);
    return 1;
  }
  if (p->max_interactions < 0) {
    option_error(err, errlen, cfg, "domain.circuit.max_interactions", "%d is negative", p->max_interactions);
    return 1;
  }
  if (!(p->delay >= 0) || !isfinite(p->delay)) {
    option_error(err, errlen, cfg, "domain.circuit.delay", "%g is not a finite number of seconds >= 0", p->delay);
    return 1;
  }
  size_t n_rewards;
  bn__circuit_rewards(&n_rewards);
  if (p->reward < 0 || (size_t)p->reward >= n_rewards) {
    option_error(err, errlen, cfg, "domain.circuit.reward", "no reward number %d", p->reward);
    return 1;
  }

  bn__circuit_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return ENOMEM;
  }
  const int n = t.n;
  c->n = n;
  memcpy(c->prefix, t.letters, sizeof c->prefix);
  /* Index components in ascending letter order (insertion sort of at most 8). */
  memcpy(c->letters, t.letters, sizeof c->letters);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && c->letters[j - 1] > c->letters[j]; j--) {
      char tmp = c->letters[j];
      c->letters[j] = c->letters[j - 1];
      c->letters[j - 1] = tmp;
    }
  memset(c->index, -1, sizeof c->index);
  for (int i = 0; i < n; i++) c->index[c->letters[i] - 'A'] = (int8_t)i;

  for (const char *f = p->fixed ? p->fixed : ""; *f; f++) {
    int i = *f >= 'A' && *f <= 'Z' ? c->index[*f - 'A'] : -1;
    if (i < 0) {
      option_error(err, errlen, cfg, "domain.circuit.fixed", "'%c' is not a component of '%s'", *f, c->prefix);
      goto fail;
    }
    if (c->fixed_mask & 1u << i) {
      option_error(err, errlen, cfg, "domain.circuit.fixed", "'%c' is given twice", *f);
      goto fail;
    }
    c->fixed_mask |= 1u << i;
  }

  c->max_interactions = p->max_interactions == 0 || p->max_interactions > n * n
                            ? n * n
                            : p->max_interactions;
  c->delay = p->delay;
  c->info.state_size = 1 + (size_t)(n * n);
  c->info.max_actions = 1 + 2 * n * n;
  if (bn__circuit_parse_why(c, p->root, c->root, why, sizeof why) != 0) {
    option_error(err, errlen, cfg, "domain.circuit.root", "%s", why);
    goto fail;
  }
  /* From a root that already holds interactions fewer can be added; at the bound (or past
   * it) only terminate is left. */
  int room = c->max_interactions - bn__circuit_count(c, c->root);
  c->info.max_depth = (room > 0 ? room : 0) + 1;

  if (bn__circuit_perms_build(c, why, sizeof why) != 0) {
    snprintf(err, errlen, "%s", why);
    goto fail;
  }
  c->reward = rewards[p->reward];
  if (c->reward->init && c->reward->init(c, cfg, &c->reward_data, err, errlen) != 0) {
    c->reward = NULL; /* its fini must not see data it did not make */
    goto fail;
  }
  *out = c;
  return 0;
fail:
  bn__circuit_free(c);
  return 1;
}

int bn__circuit_evaluate(const void *ctx, const void *state, const bn_eval_request *req,
                         double *reward, char *why, size_t whylen) {
  const bn__circuit_ctx *c = ctx;
  /* The tutorial's "expensive" flag: a fixed cost per evaluation, to measure scaling. */
  if (c->delay > 0) bn_sleep(c->delay);
  return c->reward->evaluate(c, c->reward_data, state, req, reward, why, whylen);
}
