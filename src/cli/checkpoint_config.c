/* Reading a checkpoint for a command: the file (or FILE.prev when FILE is damaged), the
 * configuration saved in it with --set overrides, and its domain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/checkpoint.h"
#include "banyan/log.h"
#include "cli/cli.h"

bn_err bn__cli_read_checkpoint(const char *path, bn_snapshot *snap, char *used, size_t usedlen) {
  char why[512] = "";
  bn_err e = bn_checkpoint_read(path, snap, why, sizeof why);
  if (e == BN_OK) {
    snprintf(used, usedlen, "%s", path);
    return BN_OK;
  }
  char prev[4096], why_prev[512] = "";
  snprintf(prev, sizeof prev, "%s.prev", path);
  if (bn_checkpoint_read(prev, snap, why_prev, sizeof why_prev) == BN_OK) {
    bn_warn("%s is not a usable checkpoint (%s); using the previous one, %s", path, why, prev);
    snprintf(used, usedlen, "%s", prev);
    return BN_OK;
  }
  fprintf(stderr, "banyan: %s: %s\n", path, why);
  return e;
}

bn_err bn__cli_config_from_checkpoint(const char *path, const bn_snapshot *snap, const bn_cli_args *args,
                                      bn_config **out, bn_domain *domain) {
  bn_config *cfg = NULL;
  bn_err err = BN_OK;
  char origin[4200];
  snprintf(origin, sizeof origin, "%s (saved configuration)", path);
  BN_TRY(bn__cli_new_config(&cfg));
  BN_TRY(bn_config_load_string(cfg, snap->config_text, origin));
  for (int i = 0; args && i < args->n_sets; i++) BN_TRY(bn_config_set(cfg, args->sets[i]));
  if (bn_config_finalize(cfg, stderr) != BN_OK) {
    err = BN_ERR_CONFIG;
    goto fail;
  }
  const char *name = bn_config_string(cfg, "domain.name");
  if (strcmp(name, snap->domain) != 0) {
    fprintf(stderr, "banyan: %s holds a search of domain \"%s\", not \"%s\"\n", path, snap->domain, name);
    err = BN_ERR_CONFIG;
    goto fail;
  }
  if (bn__cli_open_domain(cfg, path, domain) != BN_OK) {
    err = BN_ERR_CONFIG;
    goto fail;
  }
  if (domain->info.state_size != snap->state_size) {
    fprintf(stderr, "banyan: %s: states are %llu bytes, the domain's are %zu\n", path,
            (unsigned long long)snap->state_size, domain->info.state_size);
    bn_domain_close(domain);
    err = BN_ERR_CONFIG;
    goto fail;
  }
  *out = cfg;
  return BN_OK;
fail:
  bn_config_destroy(&cfg);
  return err;
}
