/* Readable form of synthetic states and its inverse: "d<depth>:<a1>.<a2>...", e.g.
 * "d3:4.0.7" (depth 3, actions 4, 0, 7) and "d0:" for the root.
 *
 * parse is strict, so that every state has exactly one spelling: decimal numbers without
 * signs, blanks or leading zeros, depth <= D, exactly `depth` actions, each < B. */
#include <stdio.h>
#include <string.h>

#include "synthetic/synthetic.h"

int bn__synthetic_describe(const void *vctx, const void *vstate, char *buf, size_t n) {
  const bn__synthetic_ctx *ctx = vctx;
  const uint8_t *state = vstate;
  int d = state[0] <= ctx->p.depth ? state[0] : ctx->p.depth;
  /* Longest form: "d64:" + 64 actions of up to 3 digits with 63 dots = 259 characters. */
  char tmp[4 + BN__SYNTHETIC_MAX_DEPTH * 4 + 8];
  int len = snprintf(tmp, sizeof tmp, "d%d:", d);
  for (int i = 0; i < d; i++)
    len += snprintf(tmp + len, sizeof tmp - (size_t)len, i ? ".%u" : "%u", (unsigned)state[1 + i]);
  if (n > 0) {
    size_t k = (size_t)len < n - 1 ? (size_t)len : n - 1;
    memcpy(buf, tmp, k);
    buf[k] = '\0';
  }
  return len;
}

/* A decimal number in [0, limit] at *s, advancing *s past it: "0" or [1-9][0-9]*. */
static int parse_number(const char **s, unsigned limit, unsigned *out) {
  const char *p = *s;
  if (*p < '0' || *p > '9') return 1;
  if (*p == '0' && p[1] >= '0' && p[1] <= '9') return 1; /* leading zero */
  unsigned v = 0;
  while (*p >= '0' && *p <= '9') {
    v = v * 10 + (unsigned)(*p++ - '0');
    if (v > limit) return 1; /* also keeps v from overflowing */
  }
  *s = p;
  *out = v;
  return 0;
}

int bn__synthetic_parse(const void *vctx, const char *text, void *state) {
  const bn__synthetic_ctx *ctx = vctx;
  const int D = ctx->p.depth;
  uint8_t tmp[1 + BN__SYNTHETIC_MAX_DEPTH] = {0};
  const char *s = text;
  unsigned depth, a;
  if (!s || *s++ != 'd') return 1;
  if (parse_number(&s, (unsigned)D, &depth) || *s++ != ':') return 1;
  tmp[0] = (uint8_t)depth;
  for (unsigned i = 0; i < depth; i++) {
    if (i > 0 && *s++ != '.') return 1;
    if (parse_number(&s, (unsigned)ctx->p.branching - 1, &a)) return 1;
    tmp[1 + i] = (uint8_t)a;
  }
  if (*s != '\0') return 1;
  memcpy(state, tmp, (size_t)D + 1);
  return 0;
}
