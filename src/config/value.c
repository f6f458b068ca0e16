/* Option values: parsing text into INT (exactly, also written as 1e6), REAL, BOOL and
 * ENUM, saying precisely what is wrong when it does not parse, and formatting numbers so
 * that they read back exactly. */
#include <ctype.h>
#include <inttypes.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_impl.h"

typedef enum int_result { INT_OK, INT_NOT_NUMBER, INT_NOT_INTEGER, INT_OVERFLOW } int_result;

/* The digits before and after the decimal point, addressed as one sequence. */
typedef struct digit_seq {
  const char *a, *b;
  size_t na, nb;
} digit_seq;

static unsigned digit_at(const digit_seq *d, size_t i) {
  return (unsigned)((i < d->na ? d->a[i] : d->b[i - d->na]) - '0');
}

/* [+-]digits[.digits][(e|E)[+-]digits] as a 64-bit integer, exactly: 1.5e1 is 15 and
 * 1.55e1 is not an integer. No rounding through double, so 9007199254740993 is itself. */
static int_result parse_int_exact(const char *s, int64_t *out) {
  const char *p = s;
  bool neg = false;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  digit_seq d = {p, NULL, 0, 0};
  while (isdigit((unsigned char)*p)) p++;
  d.na = (size_t)(p - d.a);
  if (*p == '.') {
    d.b = ++p;
    while (isdigit((unsigned char)*p)) p++;
    d.nb = (size_t)(p - d.b);
  }
  if (d.na + d.nb == 0) return INT_NOT_NUMBER;
  long exp = 0;
  if (*p == 'e' || *p == 'E') {
    p++;
    bool eneg = false;
    if (*p == '+' || *p == '-') eneg = *p++ == '-';
    if (!isdigit((unsigned char)*p)) return INT_NOT_NUMBER;
    for (; isdigit((unsigned char)*p); p++)
      if (exp < 1000000) exp = exp * 10 + (*p - '0'); /* beyond: the value is 0 or huge */
    if (eneg) exp = -exp;
  }
  if (*p) return INT_NOT_NUMBER;

  /* value = digits * 10^shift; with shift < 0 the last -shift digits must be zeros */
  size_t n = d.na + d.nb;
  long shift = exp - (long)d.nb;
  size_t keep = n;
  if (shift < 0) keep = (unsigned long)-shift >= n ? 0 : n - (size_t)-shift;
  for (size_t i = keep; i < n; i++)
    if (digit_at(&d, i)) return INT_NOT_INTEGER;
  uint64_t v = 0;
  for (size_t i = 0; i < keep; i++)
    if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, digit_at(&d, i), &v))
      return INT_OVERFLOW;
  for (long i = 0; i < shift && v; i++)
    if (__builtin_mul_overflow(v, 10u, &v)) return INT_OVERFLOW;
  if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) return INT_OVERFLOW;
  *out = neg && v ? -(int64_t)(v - 1) - 1 : (int64_t)v;
  return INT_OK;
}

static bool int_below(int64_t x, double min) {
  if (min >= 0x1p63) return true;
  return min > -0x1p63 && x < (int64_t)ceil(min);
}

static bool int_above(int64_t x, double max) {
  if (max < -0x1p63) return true;
  return max < 0x1p63 && x > (int64_t)floor(max);
}

static bool out_of_range(const bn_option *opt, const char *text, bool above, char *why,
                         size_t n) {
  char bound[48];
  bn__config_format_bound(bound, sizeof bound, above ? opt->max : opt->min, opt->type);
  snprintf(why, n, "%s is %s the %s %s", text, above ? "above" : "below",
           above ? "maximum" : "minimum", bound);
  return false;
}

static bool parse_int(const bn_option *opt, const char *text, bn__cfg_value *out, char *why,
                      size_t n) {
  int64_t x = 0;
  switch (parse_int_exact(text, &x)) {
  case INT_NOT_NUMBER:
    snprintf(why, n, "\"%s\" is not a number", text);
    return false;
  case INT_NOT_INTEGER:
    snprintf(why, n, "\"%s\" is not an integer", text);
    return false;
  case INT_OVERFLOW:
    return out_of_range(opt, text, text[0] != '-', why, n);
  case INT_OK:
    break;
  }
  if (int_below(x, opt->min)) return out_of_range(opt, text, false, why, n);
  if (int_above(x, opt->max)) return out_of_range(opt, text, true, why, n);
  out->i = x;
  return true;
}

static bool parse_real(const bn_option *opt, const char *text, bn__cfg_value *out, char *why,
                       size_t n) {
  char *end = NULL;
  double x = strtod(text, &end);
  if (end == text || *end) {
    snprintf(why, n, "\"%s\" is not a number", text);
    return false;
  }
  if (!isfinite(x)) {
    snprintf(why, n, "\"%s\" is not a finite number", text);
    return false;
  }
  if (x < opt->min) return out_of_range(opt, text, false, why, n);
  if (x > opt->max) return out_of_range(opt, text, true, why, n);
  out->r = x;
  return true;
}

static bool parse_bool(const char *text, bn__cfg_value *out, char *why, size_t n) {
  static const char *const yes[] = {"true", "yes", "on", "1"};
  static const char *const no[] = {"false", "no", "off", "0"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (!strcasecmp(text, yes[i]) || !strcasecmp(text, no[i])) {
      out->b = !strcasecmp(text, yes[i]);
      return true;
    }
  }
  snprintf(why, n, "\"%s\" is not a boolean (true|false|yes|no|on|off|1|0)", text);
  return false;
}

static bool parse_enum(const bn_option *opt, const char *text, bn__cfg_value *out, char *why,
                       size_t n) {
  const char *word;
  size_t len;
  for (int i = 0; bn__config_enum_word(opt->choices, i, &word, &len); i++)
    if (len == strlen(text) && !memcmp(word, text, len)) {
      out->e = i;
      return true;
    }
  snprintf(why, n, "\"%s\" is not one of %s", text, opt->choices);
  return false;
}

bool bn__config_parse(const bn_option *opt, const char *text, bn__cfg_value *out, char *why,
                      size_t n) {
  bn__cfg_value v = {0};
  bool ok;
  if (!*text && opt->type != BN_OPT_STRING) {
    snprintf(why, n, "missing value");
    return false;
  }
  switch (opt->type) {
  case BN_OPT_INT: ok = parse_int(opt, text, &v, why, n); break;
  case BN_OPT_REAL: ok = parse_real(opt, text, &v, why, n); break;
  case BN_OPT_BOOL: ok = parse_bool(text, &v, why, n); break;
  case BN_OPT_ENUM: ok = parse_enum(opt, text, &v, why, n); break;
  case BN_OPT_STRING: ok = true; break;
  default:
    snprintf(why, n, "option has an unknown type %d", (int)opt->type);
    return false;
  }
  if (ok) *out = v;
  return ok;
}

const char *bn__config_string_problem(const char *key, const char *value) {
  size_t len = strlen(value);
  if (strpbrk(value, "\r\n")) return "contains a line break";
  if (len && (isspace((unsigned char)value[0]) || isspace((unsigned char)value[len - 1])))
    return "begins or ends with a blank";
  /* inih reads ';' after a blank (or right after "key = ") as the start of a comment */
  if (value[0] == ';') return "begins with ';', which would read back as a comment";
  for (const char *p = value; p[0] && p[1]; p++)
    if (isspace((unsigned char)p[0]) && p[1] == ';')
      return "has a blank before ';', which would read back as a comment";
  if (strlen(key) + 3 + len > INI_MAX_LINE - 3) return "is too long for one INI line";
  return NULL;
}

/* "1e+15" -> "1e15", "2e-05" -> "2e-5": still read back by strtod. */
static void compact_exponent(char *s) {
  char *e = strchr(s, 'e');
  if (!e) return;
  char *src = e + 1, *dst = e + 1;
  if (*src == '+') src++;
  else if (*src == '-') *dst++ = *src++;
  while (src[0] == '0' && src[1]) src++;
  memmove(dst, src, strlen(src) + 1);
}

void bn__config_format_real(char *buf, size_t n, double x) {
  char g[40], e[40];
  for (int p = 15; p <= 17; p++) { /* %.17g always reads back */
    snprintf(g, sizeof g, "%.*g", p, x);
    if (strtod(g, NULL) == x) break;
  }
  for (int p = 0; p <= 16; p++) { /* so does %.16e */
    snprintf(e, sizeof e, "%.*e", p, x);
    if (strtod(e, NULL) == x) break;
  }
  compact_exponent(g);
  compact_exponent(e);
  /* 4e9 rather than 4000000000, but 1000 and 0.001 as they are */
  snprintf(buf, n, "%s", strlen(e) + 3 <= strlen(g) ? e : g);
}

void bn__config_format_bound(char *buf, size_t n, double bound, bn_opt_type type) {
  if (type == BN_OPT_INT && bound >= 0x1p63) snprintf(buf, n, "%" PRId64, INT64_MAX);
  else if (type == BN_OPT_INT && bound <= -0x1p63) snprintf(buf, n, "%" PRId64, INT64_MIN);
  else bn__config_format_real(buf, n, bound);
}

bool bn__config_enum_word(const char *choices, int index, const char **word, size_t *len) {
  if (!choices || index < 0) return false;
  const char *p = choices;
  for (int i = 0; i < index; i++) {
    p = strchr(p, '|');
    if (!p) return false;
    p++;
  }
  *word = p;
  *len = strcspn(p, "|");
  return true;
}

const char *bn__config_type_name(bn_opt_type type) {
  switch (type) {
  case BN_OPT_BOOL: return "bool";
  case BN_OPT_INT: return "int";
  case BN_OPT_REAL: return "real";
  case BN_OPT_STRING: return "string";
  case BN_OPT_ENUM: return "enum";
  }
  return "?";
}
