/* The configuration store: declared options with a hash index by name, the raw entries
 * read from INI files and --set, and the getters. Reading is in load.c, validation in
 * finalize.c, values in value.c, output in effective.c, MPI in broadcast.c.
 *
 * INI syntax accepted (parsed by libinih 55 as Debian builds it, one line at a time, see
 * load.c):
 *   [section]              section header; [domain.circuit] then `root = x` is the option
 *                          domain.circuit.root. Blanks around the name are ignored; anything
 *                          after the closing ']' is ignored.
 *   key = value            also `key: value`. Blanks around key and value are stripped, the
 *                          line may be indented; there are no continuation lines.
 *   ; comment              whole-line comment: ';' or '#' as the first non-blank character.
 *   # comment
 *   key = value ; comment  inline comment: ';' preceded by a blank (space or tab), or ';'
 *                          right after `=`: `key = ;x` is an empty value.
 *                          '#' does NOT start an inline comment: `n = 5 # five` is the value
 *                          "5 # five" (an error for a number); `s = a;b` is the value "a;b".
 *   Blank lines are ignored, CRLF line ends and a UTF-8 BOM at the start are accepted.
 * Limits: at most 197 characters per line (inih's INI_MAX_LINE 200 less "\r\n\0"), at most
 * 48 in a section name (inih truncates at 49). Longer lines are reported, not truncated.
 * Errors (all reported by finalize as FILE:LINE: ...): a key before any [section] header;
 * a key given twice in one file or string (sources loaded later override earlier ones, and
 * --set overrides every file whatever the order of the calls; among --set the last wins);
 * `[section` without ']', `[]`, a line without '=' or ':' ("syntax error"); keys under a
 * broken section header are skipped. A STRING value cannot begin with ';', contain a blank
 * followed by ';' or a line break, because bn_config_effective_text could not write it back. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "banyan/log.h"
#include "config_impl.h"

bn_err bn_config_create(bn_config **cfg) {
  BN_CHECK(cfg, BN_ERR_ARG, "config: cfg is NULL");
  bn_config *c = calloc(1, sizeof *c);
  BN_CHECK(c, BN_ERR_NOMEM, "config: out of memory");
  *cfg = c;
  return BN_OK;
}

void bn_config_destroy(bn_config **cfg) {
  if (!cfg || !*cfg) return;
  bn_config *c = *cfg;
  for (size_t i = 0; i < c->nslots; i++) free(c->slots[i].def_str);
  free(c->slots);
  free(c->index);
  for (size_t i = 0; i < c->nentries; i++) {
    free(c->entries[i].name);
    free(c->entries[i].text);
  }
  free(c->entries);
  for (size_t i = 0; i < c->norigins; i++) free(c->origins[i]);
  free(c->origins);
  free(c->origin_is_file);
  free(c);
  *cfg = NULL;
}

char *bn__config_strip_dup(const char *s, size_t n) {
  while (n && isspace((unsigned char)s[0])) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static size_t name_slot(const char *name, size_t mask) {
  return (size_t)XXH3_64bits(name, strlen(name)) & mask;
}

bn__cfg_slot *bn__config_find(const bn_config *cfg, const char *name) {
  if (!cfg->index_cap) return NULL;
  size_t mask = cfg->index_cap - 1;
  for (size_t i = name_slot(name, mask);; i = (i + 1) & mask) {
    uint32_t s = cfg->index[i];
    if (!s) return NULL;
    if (!strcmp(cfg->slots[s - 1].opt->name, name)) return &cfg->slots[s - 1];
  }
}

/* Rebuild the index over the first n slots; the old index stays if memory runs out. */
static bn_err rebuild_index(bn_config *cfg, size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  uint32_t *index = calloc(cap, sizeof *index);
  BN_CHECK(index, BN_ERR_NOMEM, "config: out of memory");
  for (size_t s = 0; s < n; s++) {
    size_t i = name_slot(cfg->slots[s].opt->name, cap - 1);
    while (index[i]) i = (i + 1) & (cap - 1);
    index[i] = (uint32_t)(s + 1);
  }
  free(cfg->index);
  cfg->index = index;
  cfg->index_cap = cap;
  return BN_OK;
}

static bool word_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '-'; }

/* Why `name` cannot be an option name (NULL if it can): words of [A-Za-z0-9_-] joined by
 * dots, a section and a key, short enough for inih and for one INI line. */
static const char *name_problem(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot || dot == name || !dot[1]) return "is not of the form section.key";
  if (strlen(name) > BN__CFG_MAX_NAME) return "is longer than 100 characters";
  if ((size_t)(dot - name) > BN__CFG_MAX_SECTION) return "has a section longer than 48 characters";
  for (const char *p = name; *p; p++)
    if (*p == '.' ? p == name || p[-1] == '.' : !word_char(*p))
      return "may only have letters, digits, '_' and '-' between dots";
  return NULL;
}

static const char *choices_problem(const char *choices) {
  if (!choices || !*choices) return "has no choices";
  const char *w, *v;
  size_t n, m;
  for (int i = 0; bn__config_enum_word(choices, i, &w, &n); i++) {
    if (!n || n > BN__CFG_MAX_WORD) return "has an empty or too long choice";
    for (size_t k = 0; k < n; k++)
      if (!word_char(w[k]) && w[k] != '.')
        return "has a choice with a character not in [A-Za-z0-9_.-]";
    for (int j = 0; j < i && bn__config_enum_word(choices, j, &v, &m); j++)
      if (m == n && !memcmp(v, w, n)) return "has a choice twice";
  }
  return NULL;
}

/* Check opts[i] against the declared options and opts[0, i), and fill its slot. */
static bn_err prepare_slot(const bn_config *cfg, const bn_option *opts, size_t i,
                           bn__cfg_slot *slot) {
  const bn_option *o = &opts[i];
  BN_CHECK(o->name, BN_ERR_ARG, "config: option %zu of the table has no name", i);
  const char *why = name_problem(o->name);
  BN_CHECK(!why, BN_ERR_ARG, "config: option name \"%s\" %s", o->name, why);
  BN_CHECK(!bn__config_find(cfg, o->name), BN_ERR_ARG, "config: option %s declared twice",
           o->name);
  for (size_t j = 0; j < i; j++)
    BN_CHECK(strcmp(opts[j].name, o->name), BN_ERR_ARG, "config: option %s declared twice",
             o->name);
  BN_CHECK(o->type >= BN_OPT_BOOL && o->type <= BN_OPT_ENUM, BN_ERR_ARG,
           "config: option %s has an unknown type %d", o->name, (int)o->type);
  BN_CHECK(o->def, BN_ERR_ARG, "config: option %s has no default", o->name);
  BN_CHECK((o->type != BN_OPT_INT && o->type != BN_OPT_REAL) || o->min <= o->max, BN_ERR_ARG,
           "config: option %s has bounds [%g, %g]", o->name, o->min, o->max);
  why = o->type == BN_OPT_ENUM ? choices_problem(o->choices) : NULL;
  BN_CHECK(!why, BN_ERR_ARG, "config: option %s %s", o->name, why);

  bn__cfg_slot s = {.opt = o, .section_len = (size_t)(strrchr(o->name, '.') - o->name)};
  char *def = bn__config_strip_dup(o->def, strlen(o->def));
  BN_CHECK(def, BN_ERR_NOMEM, "config: out of memory");
  char msg[512];
  bool ok = bn__config_parse(o, def, &s.def, msg, sizeof msg);
  if (ok && o->type == BN_OPT_STRING) {
    why = bn__config_string_problem(o->name + s.section_len + 1, def);
    if (why) snprintf(msg, sizeof msg, "\"%s\" %s", def, why);
    ok = !why;
  }
  if (!ok || o->type != BN_OPT_STRING) free(def);
  BN_CHECK(ok, BN_ERR_ARG, "config: default of option %s: %s", o->name, msg);
  if (o->type == BN_OPT_STRING) s.def_str = def;
  *slot = s;
  return BN_OK;
}

void bn__config_drop_slots(bn_config *cfg, size_t n) {
  if (n >= cfg->nslots) return;
  for (size_t i = n; i < cfg->nslots; i++) free(cfg->slots[i].def_str);
  /* the index only shrinks: clear it and re-insert the slots that stay */
  memset(cfg->index, 0, cfg->index_cap * sizeof *cfg->index);
  for (size_t s = 0; s < n; s++) {
    size_t i = name_slot(cfg->slots[s].opt->name, cfg->index_cap - 1);
    while (cfg->index[i]) i = (i + 1) & (cfg->index_cap - 1);
    cfg->index[i] = (uint32_t)(s + 1);
  }
  cfg->nslots = n;
}

bn_err bn_config_declare(bn_config *cfg, const bn_option *opts, size_t n) {
  bn_err err = BN_OK;
  BN_CHECK(cfg && (opts || !n), BN_ERR_ARG, "config: NULL argument");
  BN_CHECK(!cfg->finalized, BN_ERR_ARG, "config: options declared after finalize");
  BN_CHECK(n < UINT32_MAX / 4 - cfg->nslots, BN_ERR_ARG, "config: too many options");
  size_t old = cfg->nslots, ready = 0;
  if (old + n > cfg->capslots) {
    size_t cap = cfg->capslots ? cfg->capslots : 32;
    while (cap < old + n) cap *= 2;
    bn__cfg_slot *slots = realloc(cfg->slots, cap * sizeof *slots);
    BN_CHECK(slots, BN_ERR_NOMEM, "config: out of memory");
    cfg->slots = slots;
    cfg->capslots = cap;
  }
  for (; ready < n; ready++) BN_TRY(prepare_slot(cfg, opts, ready, &cfg->slots[old + ready]));
  BN_TRY(rebuild_index(cfg, old + n));
  cfg->nslots = old + n;
  return BN_OK;
fail:
  for (size_t i = 0; i < ready; i++) free(cfg->slots[old + i].def_str);
  return err;
}

bn_err bn__config_add_entry(bn_config *cfg, bn__cfg_entry_kind kind, int source, int line,
                            const char *name, const char *text) {
  if (cfg->nentries == cfg->capentries) {
    size_t cap = cfg->capentries ? 2 * cfg->capentries : 64;
    bn__cfg_entry *entries = realloc(cfg->entries, cap * sizeof *entries);
    BN_CHECK(entries, BN_ERR_NOMEM, "config: out of memory");
    cfg->entries = entries;
    cfg->capentries = cap;
  }
  char *n = name ? strdup(name) : NULL, *t = text ? strdup(text) : NULL;
  if ((name && !n) || (text && !t)) {
    free(n);
    free(t);
    BN_CHECK(false, BN_ERR_NOMEM, "config: out of memory");
  }
  cfg->entries[cfg->nentries++] = (bn__cfg_entry){kind, source, line, n, t};
  return BN_OK;
}

bn__cfg_entry *bn__config_raw_entry(const bn_config *cfg, const char *name) {
  bn__cfg_entry *from_file = NULL; /* --set wins over files whatever the order */
  for (size_t i = cfg->nentries; i-- > 0;) {
    bn__cfg_entry *e = &cfg->entries[i];
    if (e->kind != BN__CFG_KEY || strcmp(e->name, name)) continue;
    if (e->source == BN__CFG_SOURCE_SET) return e;
    if (!from_file) from_file = e;
  }
  return from_file;
}

const char *bn_config_raw(const bn_config *cfg, const char *name) {
  if (!cfg || !name) return NULL;
  const bn__cfg_entry *e = bn__config_raw_entry(cfg, name);
  return e ? e->text : NULL;
}

void bn_config_where(const bn_config *cfg, const char *name, char *buf, size_t n) {
  const bn__cfg_slot *s = cfg && name ? bn__config_find(cfg, name) : NULL;
  if (!s || s->from_source == INT_MIN)
    snprintf(buf, n, "(default)");
  else if (s->from_source == BN__CFG_SOURCE_SET)
    snprintf(buf, n, "--set");
  else
    snprintf(buf, n, "%s:%d", cfg->origins[s->from_source], s->from_line);
}

/* The slot a getter reads; misuse is a programming error and aborts. */
static const bn__cfg_slot *get_slot(const bn_config *cfg, const char *name, bn_opt_type type) {
  if (!cfg || !name) {
    bn_error("config: getter called with a NULL %s", cfg ? "name" : "config");
    abort();
  }
  if (!cfg->finalized) {
    bn_error("config: option %s read before a successful bn_config_finalize", name);
    abort();
  }
  const bn__cfg_slot *s = bn__config_find(cfg, name);
  if (!s) {
    bn_error("config: option %s is not declared", name);
    abort();
  }
  if (s->opt->type != type) {
    bn_error("config: option %s is of type %s, read as %s", name,
             bn__config_type_name(s->opt->type), bn__config_type_name(type));
    abort();
  }
  return s;
}

int64_t bn_config_int(const bn_config *cfg, const char *name) {
  return get_slot(cfg, name, BN_OPT_INT)->val.i;
}

double bn_config_real(const bn_config *cfg, const char *name) {
  return get_slot(cfg, name, BN_OPT_REAL)->val.r;
}

bool bn_config_bool(const bn_config *cfg, const char *name) {
  return get_slot(cfg, name, BN_OPT_BOOL)->val.b;
}

const char *bn_config_string(const bn_config *cfg, const char *name) {
  return get_slot(cfg, name, BN_OPT_STRING)->str;
}

int bn_config_enum(const bn_config *cfg, const char *name) {
  return get_slot(cfg, name, BN_OPT_ENUM)->val.e;
}
