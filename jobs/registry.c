/* Registry of the built-in domains, and opening/closing a domain on a rank. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banyan/domain.h"
#include "banyan/log.h"

extern const bn_domain_ops bn_circuit_domain;
extern const bn_domain_ops bn_synthetic_domain;
extern const bn_domain_ops bn_exec_domain;

static const bn_domain_ops *const builtins[] = {&bn_circuit_domain, &bn_synthetic_domain, &bn_exec_domain};

const bn_domain_ops *bn_domain_builtin(size_t i) {
  return i < sizeof builtins / sizeof builtins[0] ? builtins[i] : NULL;
}

const bn_domain_ops *bn_domain_find(const char *name) {
  for (size_t i = 0; name && bn_domain_builtin(i); i++)
    if (strcmp(builtins[i]->name, name) == 0) return builtins[i];
  return NULL;
}

bn_err bn_domain_open(bn_domain *out, const bn_domain_ops *ops, const bn_config *cfg) {
  BN_CHECK(ops, BN_ERR_ARG, "no domain given");
  BN_CHECK(ops->api_version == BN_DOMAIN_API_VERSION, BN_ERR_DOMAIN,
           "domain '%s' was built for domain API version %u, this banyan has version %u",
           ops->name ? ops->name : "?", ops->api_version, BN_DOMAIN_API_VERSION);
  BN_CHECK(ops->name && ops->init && ops->root && ops->actions && ops->apply && ops->is_terminal &&
               ops->evaluate && ops->describe && ops->parse,
           BN_ERR_DOMAIN, "domain '%s' lacks a required function", ops->name ? ops->name : "?");
  bn_domain d = {.ops = ops};
  char why[4608] = ""; /* room for a config location (a path) before the reason */
  const int rc = ops->init(cfg, &d.ctx, &d.info, why, sizeof why);
  if (rc != 0) {
    bn_error("domain '%s': %s", ops->name, why[0] ? why : "initialisation failed");
    return rc == ENOMEM ? BN_ERR_NOMEM : BN_ERR_DOMAIN;
  }
  if (d.info.state_size == 0 || d.info.max_actions <= 0 || d.info.max_depth <= 0) {
    if (ops->fini) ops->fini(d.ctx);
    bn_error("domain '%s' reported invalid sizes (state %zu bytes, %d actions, depth %d)", ops->name,
             d.info.state_size, d.info.max_actions, d.info.max_depth);
    return BN_ERR_DOMAIN;
  }
  *out = d;
  return BN_OK;
}

void bn_domain_close(bn_domain *d) {
  if (d && d->ops && d->ops->fini) d->ops->fini(d->ctx);
  if (d) memset(d, 0, sizeof *d);
}
