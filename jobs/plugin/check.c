/* Checking a plug-in's domain table before banyan uses it: same version as its exported
 * banyan_plugin_api_version, every required function, a name that can be a config section
 * and is not a built-in domain's, and options named "domain.<name>.<key>". The option
 * values themselves are checked when they are declared (bn_config_declare). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "plugin/plugin.h"

/* "domain." + name must fit a config section (48 characters). */
#define MAX_NAME 41
#define MAX_OPTIONS 4096

static bool name_ok(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > MAX_NAME) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-') return false;
  return true;
}

/* The required functions the table lacks, as " init evaluate" (empty if none). */
static void missing_functions(const bn_domain_ops *ops, char *buf, size_t n) {
  const struct {
    const char *name;
    bool present;
  } required[] = {{"init", ops->init},         {"root", ops->root},
                  {"actions", ops->actions},   {"apply", ops->apply},
                  {"is_terminal", ops->is_terminal}, {"evaluate", ops->evaluate},
                  {"describe", ops->describe}, {"parse", ops->parse}};
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < sizeof required / sizeof required[0] && used < n; i++)
    if (!required[i].present) used += (size_t)snprintf(buf + used, n - used, " %s", required[i].name);
}

bool bn__plugin_table_ok(const bn_domain_ops *ops, const char *path, char *why, size_t whylen) {
  char missing[96];
  if (!ops) {
    snprintf(why, whylen, "plugin %s: banyan_plugin_domain() returned no table", path);
    return false;
  }
  if (ops->api_version != BN_DOMAIN_API_VERSION) {
    snprintf(why, whylen,
             "plugin %s: its table says domain API version %u, its banyan_plugin_api_version says %u: "
             "define both with BN_DOMAIN_PLUGIN",
             path, ops->api_version, BN_DOMAIN_API_VERSION);
    return false;
  }
  if (!name_ok(ops->name)) {
    snprintf(why, whylen,
             "plugin %s: its table's name \"%s\" cannot name a config section "
             "(1 to %d letters, digits, '_' or '-')",
             path, ops->name ? ops->name : "(null)", MAX_NAME);
    return false;
  }
  if (bn_domain_find(ops->name)) {
    snprintf(why, whylen, "plugin %s: it is named \"%s\", like a built-in domain: rename it", path, ops->name);
    return false;
  }
  missing_functions(ops, missing, sizeof missing);
  if (missing[0]) {
    snprintf(why, whylen, "plugin %s: domain \"%s\" lacks required functions:%s", path, ops->name, missing);
    return false;
  }
  if ((ops->options == NULL) != (ops->n_options == 0) || ops->n_options > MAX_OPTIONS) {
    snprintf(why, whylen, "plugin %s: domain \"%s\" has %zu options in a %s table", path, ops->name,
             ops->n_options, ops->options ? "non-NULL" : "NULL");
    return false;
  }
  size_t prefix = strlen("domain.") + strlen(ops->name) + 1;
  for (size_t i = 0; i < ops->n_options; i++) {
    const char *opt = ops->options[i].name;
    if (!opt || strncmp(opt, "domain.", 7) || strncmp(opt + 7, ops->name, prefix - 8) || opt[prefix - 1] != '.' ||
        !opt[prefix] || strchr(opt + prefix, '.')) {
      snprintf(why, whylen, "plugin %s: option %zu (\"%s\") is not named domain.%s.<key>", path, i,
               opt ? opt : "(null)", ops->name);
      return false;
    }
  }
  return true;
}
