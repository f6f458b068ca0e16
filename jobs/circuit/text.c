/* The text form of circuit states, "[*]<components>::<XYt>_<XYt>...": reading and checking
 * it (used for the configured root and by parse) and writing it (describe). Tokens are
 * written in ascending byte order; parse accepts them in any order. */
#include <stdio.h>
#include <string.h>

#include "circuit/circuit.h"

static bool is_upper(char ch) { return ch >= 'A' && ch <= 'Z'; }

int bn__circuit_text_read(const char *text, bn__circuit_text *out, char *err, size_t errlen) {
  bn__circuit_text t = {0};
  if (!text) {
    snprintf(err, errlen, "no text");
    return 1;
  }
  const char *s = text;
  if (*s == '*') {
    t.terminal = true;
    s++;
  }
  const char *sep = strstr(s, "::");
  if (!sep) {
    snprintf(err, errlen, "'%s': expected <components>::<interactions>, e.g. 'ABC::ABa'", text);
    return 1;
  }
  int8_t seen[26];
  memset(seen, -1, sizeof seen);
  for (const char *p = s; p < sep; p++) {
    if (!is_upper(*p)) {
      snprintf(err, errlen, "'%s': component '%c' is not an upper-case letter A-Z", text, *p);
      return 1;
    }
    if (seen[*p - 'A'] >= 0) {
      snprintf(err, errlen, "'%s': component '%c' is given twice", text, *p);
      return 1;
    }
    if (t.n == BN__CIRCUIT_MAX_N) {
      snprintf(err, errlen, "'%s': more than %d components", text, BN__CIRCUIT_MAX_N);
      return 1;
    }
    seen[*p - 'A'] = (int8_t)t.n;
    t.letters[t.n++] = *p;
  }
  if (t.n == 0) {
    snprintf(err, errlen, "'%s': no components before '::'", text);
    return 1;
  }
  bool used[BN__CIRCUIT_MAX_N][BN__CIRCUIT_MAX_N] = {{false}};
  const char *p = sep + 2;
  while (*p) {
    /* One token of exactly three characters, then '_' and another token, or the end. */
    size_t len = strcspn(p, "_");
    if (len != 3) {
      snprintf(err, errlen, "'%s': interaction '%.*s' is not of the form XYt (e.g. ABa)", text,
               (int)(len > 16 ? 16 : len), p);
      return 1;
    }
    for (int k = 0; k < 2; k++) {
      if (!is_upper(p[k]) || seen[p[k] - 'A'] < 0) {
        snprintf(err, errlen, "'%s': interaction '%.3s': '%c' is not a component of '%s'", text,
                 p, p[k], t.letters);
        return 1;
      }
    }
    if (p[2] != 'a' && p[2] != 'i') {
      snprintf(err, errlen, "'%s': interaction '%.3s': type '%c' is neither 'a' nor 'i'", text, p,
               p[2]);
      return 1;
    }
    int x = seen[p[0] - 'A'], y = seen[p[1] - 'A'];
    if (used[x][y]) {
      snprintf(err, errlen, "'%s': more than one interaction of %c on %c", text, p[0], p[1]);
      return 1;
    }
    used[x][y] = true;
    memcpy(t.tokens[t.n_tokens++], p, 3);
    p += 3;
    if (*p == '_') {
      p++;
      if (!*p) {
        snprintf(err, errlen, "'%s': ends with '_'", text);
        return 1;
      }
    }
  }
  *out = t;
  return 0;
}

int bn__circuit_parse_why(const bn__circuit_ctx *c, const char *text, uint8_t *state, char *err,
                          size_t errlen) {
  bn__circuit_text t;
  if (bn__circuit_text_read(text, &t, err, errlen) != 0) return 1;
  bool same = t.n == c->n;
  for (int i = 0; same && i < t.n; i++) same = c->index[t.letters[i] - 'A'] >= 0;
  if (!same) {
    snprintf(err, errlen, "'%s': components '%s' differ from the configured '%s'", text, t.letters,
             c->prefix);
    return 1;
  }
  memset(state, 0, 1 + (size_t)(c->n * c->n));
  state[0] = t.terminal;
  for (int k = 0; k < t.n_tokens; k++) {
    int x = c->index[t.tokens[k][0] - 'A'], y = c->index[t.tokens[k][1] - 'A'];
    BN__CIRCUIT_CELL(state, c->n, x, y) = t.tokens[k][2] == 'a' ? BN__CIRCUIT_ACT : BN__CIRCUIT_INH;
  }
  return 0;
}

int bn__circuit_parse(const void *ctx, const char *text, void *state) {
  char why[160];
  return bn__circuit_parse_why(ctx, text, state, why, sizeof why);
}

int bn__circuit_describe(const void *ctx, const void *state, char *buf, size_t n) {
  const bn__circuit_ctx *c = ctx;
  const uint8_t *s = state;
  char text[BN__CIRCUIT_TEXT_MAX + 1];
  size_t len = 0;
  if (s[0]) text[len++] = '*';
  size_t plen = strlen(c->prefix);
  memcpy(text + len, c->prefix, plen);
  len += plen;
  text[len++] = ':';
  text[len++] = ':';
  bool first = true;
  for (int x = 0; x < c->n; x++)
    for (int y = 0; y < c->n; y++) {
      uint8_t v = BN__CIRCUIT_CELL(s, c->n, x, y);
      if (v == BN__CIRCUIT_NONE) continue;
      if (!first) text[len++] = '_';
      first = false;
      text[len++] = c->letters[x];
      text[len++] = c->letters[y];
      text[len++] = v == BN__CIRCUIT_ACT ? 'a' : 'i';
    }
  text[len] = '\0';
  if (n > 0) {
    size_t k = len < n - 1 ? len : n - 1;
    memcpy(buf, text, k);
    buf[k] = '\0';
  }
  return (int)len;
}
