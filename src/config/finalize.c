/* Validation: every raw entry is checked against the declared options and each problem
 * printed as "FILE:LINE: section.key: what is wrong" ("--set: section.key: ..." for
 * overrides), with a nearest-name hint for unknown options. On success the slots hold the
 * values the getters return. */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/log.h"
#include "config_impl.h"

static void report(FILE *out, const bn_config *cfg, const bn__cfg_entry *e, const char *fmt,
                   ...) BN_PRINTF(4, 5);

/* s with control characters shown as \xNN: a name or value read from a damaged file must
 * not break the one-line message (a carriage return would hide its start). */
static void put_visible(FILE *out, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f) fprintf(out, "\\x%02x", *p);
    else fputc(*p, out);
}

static void report(FILE *out, const bn_config *cfg, const bn__cfg_entry *e, const char *fmt,
                   ...) {
  if (e->source == BN__CFG_SOURCE_SET) fputs("--set: ", out);
  else fprintf(out, "%s:%d: ", cfg->origins[e->source], e->line);
  if (e->name) {
    put_visible(out, e->name);
    fputs(": ", out);
  }
  char small[512], *text = small;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof small && (text = malloc((size_t)n + 1))) {
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  put_visible(out, text ? text : small);
  if (text != small) free(text);
  fputc('\n', out);
}

/* Levenshtein distance, or SIZE_MAX for names too long to bother. */
static size_t edit_distance(const char *a, const char *b) {
  enum { MAX = 128 };
  size_t na = strlen(a), nb = strlen(b), row[MAX + 1];
  if (na > MAX || nb > MAX) return SIZE_MAX;
  for (size_t j = 0; j <= nb; j++) row[j] = j;
  for (size_t i = 1; i <= na; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= nb; j++) {
      size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[nb];
}

/* A declared name the user probably meant: a close spelling, or the only option with the
 * same key in another section ("engine.threads" -> "search.threads"). NULL if none. */
static const char *nearest_name(const bn_config *cfg, const char *name) {
  const char *best = NULL;
  size_t best_d = SIZE_MAX, limit = strlen(name) / 4 > 2 ? strlen(name) / 4 : 2;
  for (size_t i = 0; i < cfg->nslots; i++) {
    size_t d = edit_distance(name, cfg->slots[i].opt->name);
    if (d < best_d) {
      best_d = d;
      best = cfg->slots[i].opt->name;
    }
  }
  if (best && best_d <= limit) return best;
  const char *key = strrchr(name, '.');
  key = key ? key + 1 : name;
  const char *same = NULL;
  for (size_t i = 0; i < cfg->nslots; i++) {
    const bn__cfg_slot *s = &cfg->slots[i];
    if (strcmp(s->opt->name + s->section_len + 1, key)) continue;
    if (same) return NULL;
    same = s->opt->name;
  }
  return same;
}

/* Check one entry and apply it; false (after reporting) if it is wrong. */
static bool apply(bn_config *cfg, const bn__cfg_entry *e, FILE *out) {
  if (e->kind == BN__CFG_PROBLEM) {
    report(out, cfg, e, "%s", e->text);
    return false;
  }
  bn__cfg_slot *s = bn__config_find(cfg, e->name);
  if (!s) {
    const char *hint = nearest_name(cfg, e->name);
    if (hint) report(out, cfg, e, "unknown option (did you mean %s?)", hint);
    else report(out, cfg, e, "unknown option");
    return false;
  }
  if (e->source != BN__CFG_SOURCE_SET) {
    if (s->set_source == e->source) {
      report(out, cfg, e, "set twice (first at line %d)", s->set_line);
      return false;
    }
    s->set_source = e->source;
    s->set_line = e->line;
  }
  char why[512];
  bn__cfg_value v;
  if (!bn__config_parse(s->opt, e->text, &v, why, sizeof why)) {
    report(out, cfg, e, "%s", why);
    return false;
  }
  if (s->opt->type == BN_OPT_STRING) {
    const char *bad = bn__config_string_problem(e->name + s->section_len + 1, e->text);
    if (bad) {
      report(out, cfg, e, "\"%s\" %s", e->text, bad);
      return false;
    }
    if (!bn__config_check_text(s->opt->name, e->text, why, sizeof why)) {
      report(out, cfg, e, "%s", why);
      return false;
    }
    s->str = e->text;
  }
  s->val = v;
  s->from_source = e->source;
  s->from_line = e->line;
  return true;
}

bn_err bn_config_finalize(bn_config *cfg, FILE *errors) {
  BN_CHECK(cfg, BN_ERR_ARG, "config: cfg is NULL");
  FILE *out = errors ? errors : stderr;
  cfg->finalized = false;
  if (cfg->declarer) {
    bn_err e = bn__config_run_declarer(cfg, out);
    fflush(out);
    if (e != BN_OK) return e;
  }
  for (size_t i = 0; i < cfg->nslots; i++) {
    bn__cfg_slot *s = &cfg->slots[i];
    s->val = s->def;
    s->str = s->def_str;
    s->set_source = INT_MIN;
    s->set_line = 0;
    s->from_source = INT_MIN;
    s->from_line = 0;
  }
  size_t problems = 0;
  /* files and strings in the order loaded, then --set, so that --set always wins */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < cfg->nentries; i++) {
      const bn__cfg_entry *e = &cfg->entries[i];
      if ((e->source == BN__CFG_SOURCE_SET) == (pass == 1)) problems += !apply(cfg, e, out);
    }
  fflush(out);
  if (problems) {
    bn_debug("config: %zu problem%s", problems, problems > 1 ? "s" : "");
    return BN_ERR_CONFIG;
  }
  cfg->finalized = true;
  return BN_OK;
}
