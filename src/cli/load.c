/* Loading a configuration for a command: declare every option (a plug-in's once
 * domain.plugin is read), read the file and the --set overrides, validate, and open the
 * domain it names. */
#include <stdio.h>
#include <string.h>

#include "banyan/log.h"
#include "cli/cli.h"

bn_err bn__cli_new_config(bn_config **out) {
  bn_config *cfg = NULL;
  bn_err err = BN_OK;
  size_t n = 0;
  BN_TRY(bn_config_create(&cfg));
  const bn_option *core = bn_config_core_options(&n);
  BN_TRY(bn_config_declare(cfg, core, n));
  for (size_t i = 0; bn_domain_builtin(i); i++) {
    const bn_domain_ops *ops = bn_domain_builtin(i);
    if (ops->n_options) BN_TRY(bn_config_declare(cfg, ops->options, ops->n_options));
  }
  /* A plug-in's options are declared when the config is finalized, from domain.plugin. */
  bn_config_set_declarer(cfg, bn_domain_plugin_declare, NULL);
  *out = cfg;
  return BN_OK;
fail:
  bn_config_destroy(&cfg);
  return err;
}

bn_err bn__cli_open_domain(const bn_config *cfg, const char *source, bn_domain *domain) {
  bn_err e = bn_domain_open_configured(domain, cfg);
  if (e == BN_ERR_DOMAIN)
    fprintf(stderr, "%s: [domain.%s]: the domain rejected its configuration (see above)\n", source,
            bn_config_string(cfg, "domain.name"));
  return e == BN_OK || e == BN_ERR_NOMEM ? e : BN_ERR_CONFIG; /* no memory is not the user's to fix */
}

bn_err bn__cli_load(const bn_cli_args *args, bn_config **out, bn_domain *domain) {
  bn_config *cfg = NULL;
  bn_err err = BN_OK;
  BN_TRY(bn__cli_new_config(&cfg));
  /* Anything wrong is the user's to fix (status 2), except running out of memory (1). */
  if ((err = bn_config_load_file(cfg, args->config_path)) != BN_OK) {
    if (err != BN_ERR_NOMEM) err = BN_ERR_CONFIG;
    goto fail;
  }
  for (int i = 0; i < args->n_sets; i++) BN_TRY(bn_config_set(cfg, args->sets[i]));
  if ((err = bn_config_finalize(cfg, stderr)) != BN_OK) {
    if (err != BN_ERR_NOMEM) err = BN_ERR_CONFIG;
    goto fail;
  }
  if ((err = bn__cli_open_domain(cfg, args->config_path, domain)) != BN_OK) goto fail;
  *out = cfg;
  return BN_OK;
fail:
  bn_config_destroy(&cfg);
  return err;
}
