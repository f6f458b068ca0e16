/* Reading a checkpoint for a command: the file (or FILE.prev when FILE is damaged), the
 * configuration saved in it with --set overrides, and its domain: for `resume` as the run
 * needs it (plug-in loaded), for readers without running anything the file names. */
#include <stdbool.h>
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
  if ((err = bn_config_finalize(cfg, stderr)) != BN_OK) {
    if (err != BN_ERR_NOMEM) err = BN_ERR_CONFIG; /* no memory: status 1, not 2 */
    goto fail;
  }
  const char *name = bn_config_string(cfg, "domain.name");
  if (strcmp(name, snap->domain) != 0) {
    fprintf(stderr, "banyan: %s holds a search of domain \"%s\", not \"%s\"\n", path, snap->domain, name);
    err = BN_ERR_CONFIG;
    goto fail;
  }
  if ((err = bn__cli_open_domain(cfg, path, domain)) != BN_OK) goto fail; /* BN_ERR_CONFIG or _NOMEM */
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

/* `text` without the sections of plug-in domain `name` ([domain.NAME] and
 * [domain.NAME.*]). Caller frees; NULL on NOMEM. */
static char *without_plugin_sections(const char *text, const char *name, size_t name_len) {
  char *out = malloc(strlen(text) + 1), *o = out;
  if (!out) return NULL;
  bool skip = false;
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
    if (line[0] == '[') {
      const char *sec = line + 1;
      skip = strncmp(sec, "domain.", 7) == 0 && strncmp(sec + 7, name, name_len) == 0 &&
             (sec[7 + name_len] == ']' || sec[7 + name_len] == '.');
    }
    if (!skip) {
      memcpy(o, line, len);
      o += len;
    }
    line += len;
  }
  *o = '\0';
  return out;
}

bn_err bn__cli_reader_config(const char *path, const bn_snapshot *snap, bn_config **out, bn_domain *domain) {
  bn_config *cfg = NULL;
  bn_err err = BN_OK;
  char origin[4200], *text = NULL;
  snprintf(origin, sizeof origin, "%s (saved configuration)", path);
  /* The raw values in effect (the last given), as the loader would take them. */
  BN_TRY(bn__cli_new_config(&cfg));
  bn_config_set_declarer(cfg, NULL, NULL); /* never load domain.plugin */
  BN_TRY(bn_config_load_string(cfg, snap->config_text, origin));
  const char *plugin = bn_config_raw(cfg, "domain.plugin"), *name = bn_config_raw(cfg, "domain.name");
  /* A plug-in's options cannot be declared without loading it: leave its sections out. */
  text = plugin && plugin[0] && name ? without_plugin_sections(snap->config_text, name, strlen(name))
                                     : strdup(snap->config_text);
  BN_CHECK_GOTO(text, BN_ERR_NOMEM, "no memory");
  bn_config_destroy(&cfg);
  BN_TRY(bn__cli_new_config(&cfg));
  bn_config_set_declarer(cfg, NULL, NULL);
  BN_TRY(bn_config_load_string(cfg, text, origin));
  if ((err = bn_config_finalize(cfg, stderr)) != BN_OK) {
    if (err != BN_ERR_NOMEM) err = BN_ERR_CONFIG;
    goto fail;
  }
  const bool is_plugin = bn_config_string(cfg, "domain.plugin")[0] != '\0';
  const char *dname = bn_config_string(cfg, "domain.name");
  if (strcmp(dname, snap->domain) != 0) {
    fprintf(stderr, "banyan: %s holds a search of domain \"%s\", but its configuration names \"%s\"\n", path,
            snap->domain, dname);
    err = BN_ERR_CONFIG;
    goto fail;
  }
  if (!is_plugin) {
    const bn_domain_ops *ops = bn_domain_find(dname);
    if (!ops) {
      fprintf(stderr, "banyan: %s: domain \"%s\" is neither built in nor a plug-in\n", path, dname);
      err = BN_ERR_CONFIG;
      goto fail;
    }
    /* Built in: part of banyan, so it may describe states. No exec wrapper: nothing runs. */
    if ((err = bn_domain_open(domain, ops, cfg)) != BN_OK) {
      if (err == BN_ERR_NOMEM) goto fail;
      fprintf(stderr, "%s: [domain.%s]: the domain rejected its configuration (see above)\n", origin, dname);
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
  }
  free(text);
  *out = cfg;
  return BN_OK;
fail:
  free(text);
  bn_config_destroy(&cfg);
  return err;
}
