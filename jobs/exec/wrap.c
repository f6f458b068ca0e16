/* The exec wrapper: any opened domain whose evaluations run an external program instead of
 * its own evaluate (exec.command). The wrapper owns a copy of the inner domain's table with
 * its own functions in it: each delegates to the inner domain, except evaluate, which
 * describes the state, runs the program with that text on stdin and reads the reward back
 * (spawn.c, reward.c). The name, sizes and options stay the inner domain's, so checkpoints
 * and resume see the same domain with or without exec.command. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "banyan/log.h"
#include "exec/exec.h"

typedef struct exec_wrapper {
  bn_domain_ops ops; /* d->ops points here */
  bn_domain inner;
  bn__exec_argv argv;
  char *path;        /* the program, resolved at init */
  char *workdir;     /* NULL: banyan's current directory */
  double timeout;
  size_t max_output;
} exec_wrapper;

#define INNER(ctx) (&((const exec_wrapper *)(ctx))->inner)

static void w_root(const void *ctx, void *state) { INNER(ctx)->ops->root(INNER(ctx)->ctx, state); }

static int w_actions(const void *ctx, const void *state, bn_action *out, int max) {
  return INNER(ctx)->ops->actions(INNER(ctx)->ctx, state, out, max);
}

static void w_apply(const void *ctx, const void *state, bn_action action, void *next) {
  INNER(ctx)->ops->apply(INNER(ctx)->ctx, state, action, next);
}

static bool w_is_terminal(const void *ctx, const void *state) {
  return INNER(ctx)->ops->is_terminal(INNER(ctx)->ctx, state);
}

static void w_canonicalize(const void *ctx, void *state) {
  INNER(ctx)->ops->canonicalize(INNER(ctx)->ctx, state);
}

static int w_describe(const void *ctx, const void *state, char *buf, size_t n) {
  return INNER(ctx)->ops->describe(INNER(ctx)->ctx, state, buf, n);
}

static int w_parse(const void *ctx, const char *text, void *state) {
  return INNER(ctx)->ops->parse(INNER(ctx)->ctx, text, state);
}

/* The wrapper is only ever made by bn__exec_wrap around an opened domain. */
static int w_init(const bn_config *cfg, void **ctx, bn_domain_info *info, char *err, size_t errlen) {
  snprintf(err, errlen, "an exec wrapper cannot be opened by itself");
  return 1;
}

static void w_fini(void *ctx) {
  exec_wrapper *w = ctx;
  if (!w) return;
  bn_domain_close(&w->inner);
  bn__exec_argv_free(&w->argv);
  free(w->path);
  free(w->workdir);
  free(w);
}

/* The state's text plus a newline (caller frees); NULL on NOMEM. */
static char *state_line(const bn_domain *inner, const void *state, size_t *len) {
  char small[512];
  int need = inner->ops->describe(inner->ctx, state, small, sizeof small);
  if (need < 0) need = 0;
  char *text = malloc((size_t)need + 2);
  if (!text) return NULL;
  if ((size_t)need < sizeof small)
    memcpy(text, small, (size_t)need + 1);
  else
    inner->ops->describe(inner->ctx, state, text, (size_t)need + 1);
  text[need] = '\n';
  text[need + 1] = '\0';
  *len = (size_t)need + 1;
  return text;
}

static int w_evaluate(const void *ctx, const void *state, const bn_eval_request *req, double *reward,
                      char *why, size_t whylen) {
  const exec_wrapper *w = ctx;
  size_t len = 0;
  char *input = state_line(&w->inner, state, &len);
  if (!input) {
    snprintf(why, whylen, "out of memory");
    return 1;
  }
  input[len - 1] = '\0'; /* the environment gets the text without the newline */
  char **envp = bn__exec_environment(req, input, w->inner.ops->name);
  input[len - 1] = '\n';
  if (!envp) {
    free(input);
    snprintf(why, whylen, "out of memory");
    return 1;
  }
  const bn__exec_spec spec = {.path = w->path,
                              .argv = w->argv.argv,
                              .envp = envp,
                              .workdir = w->workdir,
                              .input = input,
                              .input_len = len,
                              .timeout = w->timeout,
                              .max_output = w->max_output};
  bn__exec_result res;
  bn__exec_run(&spec, &res);
  int rc = bn__exec_outcome(&res, &spec, w->argv.argv[0], reward, why, whylen);
  bn__exec_result_free(&res);
  bn__exec_environment_free(envp);
  free(input);
  return rc;
}

/* Log "WHERE: exec.KEY: why" and return BN_ERR_CONFIG. */
static bn_err config_error(const bn_config *cfg, const char *key, const char *why) {
  char where[4200];
  bn_config_where(cfg, key, where, sizeof where);
  bn_error("%s: %s: %s", where, key, why);
  return BN_ERR_CONFIG;
}

bn_err bn__exec_wrap(bn_domain *d, const bn_config *cfg) {
  BN_CHECK(d && d->ops && cfg, BN_ERR_ARG, "exec: no domain to wrap");
  const char *command = bn_config_string(cfg, "exec.command");
  if (!command[0]) return BN_OK;
  const char *workdir = bn_config_string(cfg, "exec.workdir");
  char why[4400];
  exec_wrapper *w = calloc(1, sizeof *w);
  BN_CHECK(w, BN_ERR_NOMEM, "exec: out of memory");
  bn_err err = BN_OK;
  if (bn__exec_split(command, &w->argv, why, sizeof why) != 0) {
    err = config_error(cfg, "exec.command", why);
    goto fail;
  }
  if (workdir[0]) {
    char *real = realpath(workdir, NULL);
    struct stat st;
    if (!real || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
      snprintf(why, sizeof why, "cannot run the program in %s: %s", workdir,
               real ? strerror(ENOTDIR) : strerror(errno));
      free(real);
      err = config_error(cfg, "exec.workdir", why);
      goto fail;
    }
    w->workdir = real;
  }
  if (bn__exec_resolve(w->argv.argv[0], w->workdir, &w->path, why, sizeof why) != 0) {
    err = config_error(cfg, "exec.command", why);
    goto fail;
  }
  w->timeout = bn_config_real(cfg, "exec.timeout");
  w->max_output = (size_t)bn_config_int(cfg, "exec.max_output");
  w->inner = *d;
  w->ops = *d->ops;
  w->ops.init = w_init;
  w->ops.fini = w_fini;
  w->ops.root = w_root;
  w->ops.actions = w_actions;
  w->ops.apply = w_apply;
  w->ops.is_terminal = w_is_terminal;
  w->ops.canonicalize = d->ops->canonicalize ? w_canonicalize : NULL;
  w->ops.evaluate = w_evaluate;
  w->ops.describe = w_describe;
  w->ops.parse = w_parse;
  bn_debug("exec: %s evaluates domain %s (time-out %g s)", w->path, d->ops->name, w->timeout);
  d->ops = &w->ops;
  d->ctx = w;
  return BN_OK;
fail:
  bn__exec_argv_free(&w->argv);
  free(w->workdir);
  free(w);
  return err;
}
