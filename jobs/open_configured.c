/* Opening the domain a configuration names, the same way on rank 0 and on every engine:
 * the plug-in library named by domain.plugin (loaded once per process, see jobs/plugin/)
 * or else the built-in domain called domain.name, then, when exec.command is set,
 * evaluation wrapped to run that external program. One function, so that no rank can end
 * up with a different domain. */
#include <stdio.h>
#include <string.h>

#include "banyan/domain.h"
#include "banyan/log.h"
#include "exec/exec.h"

/* The table of the domain cfg names: its plug-in's, or a built-in one. BN_ERR_CONFIG (logged
 * with the config location) if there is none. The plug-in was normally loaded already when
 * the config was finalized (bn_domain_plugin_declare); this finds it in the cache. */
static bn_err configured_ops(const bn_config *cfg, const bn_domain_ops **ops) {
  const char *name = bn_config_string(cfg, "domain.name");
  const char *plugin = bn_config_string(cfg, "domain.plugin");
  char where[4200];
  if (plugin[0]) {
    char why[4400];
    bn_config_where(cfg, "domain.plugin", where, sizeof where);
    bn_err e = bn_domain_plugin_load(plugin, ops, why, sizeof why);
    if (e == BN_OK && strcmp((*ops)->name, name) == 0) return BN_OK;
    if (e == BN_OK)
      snprintf(why, sizeof why, "plugin %s is the domain \"%s\", but domain.name is \"%s\"", plugin,
               (*ops)->name, name);
    bn_error("%s: domain.plugin: %s", where, why);
    return e == BN_ERR_NOMEM ? e : BN_ERR_CONFIG;
  }
  *ops = bn_domain_find(name);
  if (*ops) return BN_OK;
  char known[256] = "";
  size_t used = 0;
  bn_config_where(cfg, "domain.name", where, sizeof where);
  for (size_t i = 0; bn_domain_builtin(i) && used < sizeof known; i++)
    used += (size_t)snprintf(known + used, sizeof known - used, " %s", bn_domain_builtin(i)->name);
  bn_error("%s: domain.name: unknown domain \"%s\" (built in:%s; or set domain.plugin)", where, name, known);
  return BN_ERR_CONFIG;
}

bn_err bn_domain_open_configured(bn_domain *out, const bn_config *cfg) {
  const bn_domain_ops *ops = NULL;
  bn_err found = configured_ops(cfg, &ops);
  if (found != BN_OK) return found;
  bn_domain d = {0};
  bn_err e = bn_domain_open(&d, ops, cfg);
  if (e != BN_OK) return e;
  e = bn__exec_wrap(&d, cfg); /* a no-op unless exec.command is set */
  if (e != BN_OK) {
    bn_domain_close(&d);
    return e;
  }
  *out = d;
  return BN_OK;
}
