/* domain.plugin in a configuration: the declarer that finalize runs before validation, so
 * that the plug-in's own options (domain.<name>.<key>) are known when the config is checked,
 * on rank 0 and on every engine alike. The path becomes absolute here (relative to the
 * config file's directory), so the effective config that rank 0 broadcasts and saves in
 * checkpoints names the same library wherever it is read. */
#include <stdio.h>
#include <string.h>

#include "banyan/domain.h"

bn_err bn_domain_plugin_declare(bn_config *cfg, FILE *errors, void *ctx) {
  (void)ctx;
  const char *raw = bn_config_raw(cfg, "domain.plugin");
  if (!raw || !raw[0]) return BN_OK;
  BN_CALL(bn_config_raw_absolute_path(cfg, "domain.plugin"));
  const char *path = bn_config_raw(cfg, "domain.plugin");
  char where[4200], why[4400];
  bn_config_raw_where(cfg, "domain.plugin", where, sizeof where);

  const bn_domain_ops *ops = NULL;
  bn_err e = bn_domain_plugin_load(path, &ops, why, sizeof why);
  if (e == BN_ERR_NOMEM) return e;
  if (e != BN_OK) {
    fprintf(errors, "%s: domain.plugin: %s\n", where, why);
    return BN_ERR_CONFIG;
  }

  const char *name = bn_config_raw(cfg, "domain.name");
  if (!name) {
    BN_CALL(bn_config_raw_imply(cfg, "domain.name", ops->name, "domain.plugin"));
  } else if (strcmp(name, ops->name) != 0) {
    char name_where[4200];
    bn_config_raw_where(cfg, "domain.name", name_where, sizeof name_where);
    fprintf(errors,
            "%s: domain.name: is \"%s\", but domain.plugin (%s) is the domain \"%s\": "
            "leave domain.name out or make them agree\n",
            name_where, name, where, ops->name);
    return BN_ERR_CONFIG;
  }

  if (ops->n_options && bn_config_declare(cfg, ops->options, ops->n_options) != BN_OK) {
    fprintf(errors, "%s: domain.plugin: the options of plugin %s are not valid (see the error above)\n",
            where, path);
    return BN_ERR_CONFIG;
  }
  return BN_OK;
}
