/* Loading plug-in domains (user shared libraries): dlopen, read the domain API version the
 * library was built for before anything else, then take and check its table. Libraries are
 * loaded once per process and never closed: configs borrow their option tables and every
 * rank keeps using the table until exit. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin/plugin.h"

typedef struct loaded_plugin {
  char *path; /* as given to bn_domain_plugin_load */
  const bn_domain_ops *ops;
  struct loaded_plugin *next;
} loaded_plugin;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static loaded_plugin *cache; /* lives until exit, like the libraries */

typedef const bn_domain_ops *(*domain_fn)(void);

/* dlopen and check `path`; on success *ops is its table and the library stays loaded. */
static bn_err load(const char *path, const bn_domain_ops **ops, char *why, size_t whylen) {
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(why, whylen, "plugin %s: %s", path, strerror(errno));
    return BN_ERR_DOMAIN;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, whylen, "plugin %s: not a file", path);
    return BN_ERR_DOMAIN;
  }
  /* RTLD_NOW: a symbol the library needs but cannot find fails here, not mid-run. A path
   * without '/' would be searched for in the library path: it means this directory. */
  char local[4096];
  if (!strchr(path, '/') && (size_t)snprintf(local, sizeof local, "./%s", path) < sizeof local) path = local;
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(why, whylen, "plugin %s cannot be loaded: %s", path, dlerror());
    return BN_ERR_DOMAIN;
  }
  const unsigned *version = dlsym(lib, "banyan_plugin_api_version");
  void *entry = dlsym(lib, "banyan_plugin_domain");
  const bn_domain_ops *table = NULL;
  if (!version) {
    snprintf(why, whylen,
             "plugin %s is not a banyan plug-in: it exports no banyan_plugin_api_version "
             "(define it and banyan_plugin_domain() with BN_DOMAIN_PLUGIN from <banyan/domain.h>)",
             path);
  } else if (*version != BN_DOMAIN_API_VERSION) {
    snprintf(why, whylen,
             "plugin %s was built for domain API version %u, this banyan has version %u: "
             "rebuild it against this banyan's headers",
             path, *version, BN_DOMAIN_API_VERSION);
  } else if (!entry) {
    snprintf(why, whylen,
             "plugin %s is not a banyan plug-in: it exports no banyan_plugin_domain() "
             "(define it with BN_DOMAIN_PLUGIN from <banyan/domain.h>)",
             path);
  } else {
    domain_fn get;
    memcpy(&get, &entry, sizeof get); /* POSIX: dlsym's object pointer holds the function */
    table = get();
    if (bn__plugin_table_ok(table, path, why, whylen)) {
      *ops = table;
      return BN_OK;
    }
  }
  dlclose(lib);
  return BN_ERR_DOMAIN;
}

bn_err bn_domain_plugin_load(const char *path, const bn_domain_ops **ops, char *why, size_t whylen) {
  BN_CHECK(path && ops && why && whylen, BN_ERR_ARG, "bn_domain_plugin_load: NULL argument");
  bn_err err = BN_OK;
  pthread_mutex_lock(&cache_lock);
  const loaded_plugin *p = cache;
  while (p && strcmp(p->path, path)) p = p->next;
  if (p) {
    *ops = p->ops;
  } else {
    const bn_domain_ops *table = NULL;
    err = load(path, &table, why, whylen);
    loaded_plugin *entry = err == BN_OK ? calloc(1, sizeof *entry) : NULL;
    char *copy = entry ? strdup(path) : NULL;
    if (copy) {
      *entry = (loaded_plugin){.path = copy, .ops = table, .next = cache};
      cache = entry;
      *ops = table;
    } else if (err == BN_OK) {
      free(entry);
      snprintf(why, whylen, "plugin %s: out of memory", path);
      err = BN_ERR_NOMEM;
    }
  }
  pthread_mutex_unlock(&cache_lock);
  return err;
}
