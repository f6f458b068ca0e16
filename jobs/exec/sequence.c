/* The generic `exec` domain, for users who have only a program that scores a design: a
 * design is a string of domain.exec.length symbols from domain.exec.alphabet ("ACGT"),
 * built one symbol per action from left to right, finished when full. Its text form is
 * the string itself (the prefix built so far, "" at the root), and that is what the
 * program reads on stdin: the domain has no evaluate of its own and needs exec.command.
 *
 * State layout (state_size = length bytes): the symbols placed so far, as characters,
 * then zero bytes. No transpositions (every string is reached one way). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"

#define OPT(key) "domain.exec." key
enum { MAX_LENGTH = 4096 };

static const bn_option options[] = {
    {OPT("length"), BN_OPT_INT, "8", 1, MAX_LENGTH, NULL, "symbols in a finished design string"},
    {OPT("alphabet"), BN_OPT_STRING, "ACGT", 0, 0, NULL,
     "the symbols, each a distinct printable character other than a blank (one action each)"},
};

typedef struct seq_ctx {
  size_t length;
  int n_symbols;
  char alphabet[96];
  signed char index[256]; /* symbol -> action, -1 if not in the alphabet */
} seq_ctx;

static int seq_init(const bn_config *cfg, void **out, bn_domain_info *info, char *err, size_t errlen) {
  if (!bn_config_string(cfg, "exec.command")[0]) {
    char where[512];
    bn_config_where(cfg, "domain.name", where, sizeof where);
    snprintf(err, errlen,
             "%s: domain.name: the exec domain needs exec.command, the program that scores a design "
             "string (read on its stdin)",
             where);
    return 1;
  }
  const char *alphabet = bn_config_string(cfg, OPT("alphabet"));
  seq_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return ENOMEM;
  }
  memset(c->index, -1, sizeof c->index);
  char where[4200];
  bn_config_where(cfg, OPT("alphabet"), where, sizeof where);
  for (const unsigned char *p = (const unsigned char *)alphabet; *p; p++) {
    if (*p <= ' ' || *p > '~' || c->index[*p] >= 0) {
      if (*p <= ' ' || *p > '~')
        snprintf(err, errlen, "%s: domain.exec.alphabet: \"%s\": character %u is not a printable character other "
                 "than a blank", where, alphabet, (unsigned)*p);
      else
        snprintf(err, errlen, "%s: domain.exec.alphabet: \"%s\": '%c' is given twice", where, alphabet, *p);
      free(c);
      return 1;
    }
    c->index[*p] = (signed char)c->n_symbols;
    c->alphabet[c->n_symbols++] = (char)*p;
  }
  if (c->n_symbols == 0) {
    snprintf(err, errlen, "%s: domain.exec.alphabet is empty", where);
    free(c);
    return 1;
  }
  c->length = (size_t)bn_config_int(cfg, OPT("length"));
  *info = (bn_domain_info){.state_size = c->length, .max_actions = c->n_symbols, .max_depth = (int)c->length};
  *out = c;
  return 0;
}

static void seq_fini(void *ctx) { free(ctx); }

static size_t filled(const seq_ctx *c, const char *state) { return strnlen(state, c->length); }

static void seq_root(const void *ctx, void *state) { memset(state, 0, ((const seq_ctx *)ctx)->length); }

static int seq_actions(const void *ctx, const void *state, bn_action *out, int max) {
  const seq_ctx *c = ctx;
  if (filled(c, state) >= c->length) return 0;
  int n = c->n_symbols < max ? c->n_symbols : max;
  for (int i = 0; i < n; i++) out[i] = i;
  return n;
}

static void seq_apply(const void *ctx, const void *state, bn_action action, void *next) {
  const seq_ctx *c = ctx;
  memcpy(next, state, c->length);
  size_t at = filled(c, state);
  if (at < c->length && action >= 0 && action < c->n_symbols) ((char *)next)[at] = c->alphabet[action];
}

static bool seq_is_terminal(const void *ctx, const void *state) {
  const seq_ctx *c = ctx;
  return filled(c, state) >= c->length;
}

static int seq_evaluate(const void *ctx, const void *state, const bn_eval_request *req, double *reward,
                        char *why, size_t whylen) {
  snprintf(why, whylen, "the exec domain needs exec.command");
  return 1;
}

static int seq_describe(const void *ctx, const void *state, char *buf, size_t n) {
  const seq_ctx *c = ctx;
  size_t len = filled(c, state);
  if (n > 0) {
    size_t k = len < n - 1 ? len : n - 1;
    memcpy(buf, state, k);
    buf[k] = '\0';
  }
  return (int)len;
}

static int seq_parse(const void *ctx, const char *text, void *state) {
  const seq_ctx *c = ctx;
  size_t len = strlen(text);
  if (len > c->length) return 1;
  for (size_t i = 0; i < len; i++)
    if (c->index[(unsigned char)text[i]] < 0) return 1;
  memset(state, 0, c->length);
  memcpy(state, text, len);
  return 0;
}

const bn_domain_ops bn_exec_domain = {
    .api_version = BN_DOMAIN_API_VERSION,
    .name = "exec",
    .summary = "strings over an alphabet, scored by the external program of exec.command",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = seq_init,
    .fini = seq_fini,
    .root = seq_root,
    .actions = seq_actions,
    .apply = seq_apply,
    .is_terminal = seq_is_terminal,
    .canonicalize = NULL,
    .evaluate = seq_evaluate,
    .describe = seq_describe,
    .parse = seq_parse,
};
