/* Options that depend on the configuration itself (see bn_config_set_declarer in config.h):
 * the declarer attached to a config, run by finalize before validation, and the raw-value
 * helpers it uses: where a raw value was given, making a path in it absolute relative to
 * the file it was written in, and implying a value from another option's place. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banyan/log.h"
#include "config_impl.h"

void bn_config_set_declarer(bn_config *cfg, bn_config_declarer declarer, void *ctx) {
  if (!cfg) return;
  cfg->declarer = declarer;
  cfg->declarer_ctx = ctx;
}

bn_err bn__config_run_declarer(bn_config *cfg, FILE *errors) {
  /* Options declared by anyone else after the declarer's stay; the declarer then meets its
   * own again and reports them as declared twice rather than losing them silently. */
  if (cfg->declarer_count && cfg->declarer_from + cfg->declarer_count == cfg->nslots)
    bn__config_drop_slots(cfg, cfg->declarer_from);
  cfg->declarer_from = cfg->nslots;
  bn_err e = cfg->declarer(cfg, errors, cfg->declarer_ctx);
  cfg->declarer_count = cfg->nslots - cfg->declarer_from;
  return e;
}

bool bn_config_raw_where(const bn_config *cfg, const char *name, char *buf, size_t n) {
  const bn__cfg_entry *e = cfg && name ? bn__config_raw_entry(cfg, name) : NULL;
  if (!e) snprintf(buf, n, "(default)");
  else if (e->source == BN__CFG_SOURCE_SET) snprintf(buf, n, "--set");
  else snprintf(buf, n, "%s:%d", cfg->origins[e->source], e->line);
  return e != NULL;
}

/* The directory relative paths of entry `e` start from (caller frees): its file's, made
 * absolute, or the current one. NULL with the reason logged on failure. */
static char *base_directory(const bn_config *cfg, const bn__cfg_entry *e) {
  if (e->source == BN__CFG_SOURCE_SET || !cfg->origin_is_file[e->source]) {
    char *cwd = getcwd(NULL, 0);
    if (!cwd) bn_error("config: cannot get the current directory: %s", strerror(errno));
    return cwd;
  }
  char *copy = strdup(cfg->origins[e->source]);
  if (!copy) {
    bn_error("config: out of memory");
    return NULL;
  }
  char *dir = realpath(dirname(copy), NULL);
  if (!dir) bn_error("config: cannot resolve the directory of %s: %s", cfg->origins[e->source], strerror(errno));
  free(copy);
  return dir;
}

bn_err bn_config_raw_absolute_path(bn_config *cfg, const char *name) {
  BN_CHECK(cfg && name, BN_ERR_ARG, "config: NULL argument");
  bn__cfg_entry *e = bn__config_raw_entry(cfg, name);
  if (!e || !e->text[0] || e->text[0] == '/') return BN_OK;
  char *dir = base_directory(cfg, e);
  BN_CHECK(dir, BN_ERR_IO, "config: %s: cannot make \"%s\" absolute", name, e->text);
  const char *rel = e->text;
  while (rel[0] == '.' && rel[1] == '/') rel += 2 + strspn(rel + 2, "/");
  size_t n = strlen(dir) + strlen(rel) + 2;
  char *path = malloc(n);
  if (path) snprintf(path, n, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", rel);
  free(dir);
  BN_CHECK(path, BN_ERR_NOMEM, "config: out of memory");
  free(e->text);
  e->text = path;
  return BN_OK;
}

bn_err bn_config_raw_imply(bn_config *cfg, const char *name, const char *text, const char *like) {
  BN_CHECK(cfg && name && text && like, BN_ERR_ARG, "config: NULL argument");
  if (bn__config_raw_entry(cfg, name)) return BN_OK;
  const bn__cfg_entry *from = bn__config_raw_entry(cfg, like);
  if (!from) return BN_OK;
  return bn__config_add_entry(cfg, BN__CFG_KEY, from->source, from->line, name, text);
}
