/* Opening the domain a configuration names, the same way on rank 0 and on every engine:
 * the built-in domain called domain.name (later: a plug-in library named by
 * domain.plugin), then, when exec.command is set, evaluation wrapped to run that external
 * program. One function, so that no rank can end up with a different domain. */
#include <stdio.h>

#include "banyan/domain.h"
#include "banyan/log.h"

bn_err bn_domain_open_configured(bn_domain *out, const bn_config *cfg) {
  const char *name = bn_config_string(cfg, "domain.name");
  const bn_domain_ops *ops = bn_domain_find(name);
  if (!ops) {
    char where[512], known[256] = "";
    size_t used = 0;
    bn_config_where(cfg, "domain.name", where, sizeof where);
    for (size_t i = 0; bn_domain_builtin(i) && used < sizeof known; i++)
      used += (size_t)snprintf(known + used, sizeof known - used, " %s", bn_domain_builtin(i)->name);
    bn_error("%s: domain.name: unknown domain \"%s\" (built in:%s)", where, name, known);
    return BN_ERR_CONFIG;
  }
  return bn_domain_open(out, ops, cfg);
}
