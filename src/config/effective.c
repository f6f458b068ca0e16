/* Output of a config: the effective INI text (every declared option with its finalized
 * value, which load_string + finalize read back exactly; stored with runs and broadcast to
 * the ranks) and the option table printed by `banyan config --list`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/log.h"
#include "config_impl.h"

static bool same_section(const bn__cfg_slot *a, const bn__cfg_slot *b) {
  return a->section_len == b->section_len && !memcmp(a->opt->name, b->opt->name, a->section_len);
}

/* "key = value" as inih reads it back to the same value (STRING values were checked by
 * finalize; numbers print so that they read back exactly). */
static void write_value(FILE *out, const bn__cfg_slot *s) {
  const char *key = s->opt->name + s->section_len + 1;
  char num[48];
  const char *word;
  size_t len;
  switch (s->opt->type) {
  case BN_OPT_INT: fprintf(out, "%s = %" PRId64 "\n", key, s->val.i); break;
  case BN_OPT_REAL:
    bn__config_format_real(num, sizeof num, s->val.r);
    fprintf(out, "%s = %s\n", key, num);
    break;
  case BN_OPT_BOOL: fprintf(out, "%s = %s\n", key, s->val.b ? "true" : "false"); break;
  case BN_OPT_STRING: fprintf(out, "%s = %s\n", key, s->str); break;
  case BN_OPT_ENUM:
    if (bn__config_enum_word(s->opt->choices, s->val.e, &word, &len))
      fprintf(out, "%s = %.*s\n", key, (int)len, word);
    break;
  }
}

char *bn_config_effective_text(const bn_config *cfg) {
  if (!cfg || !cfg->finalized) {
    bn_error("config: effective text of a config that is not finalized");
    return NULL;
  }
  char *text = NULL;
  size_t len = 0;
  bool *done = calloc(cfg->nslots + 1, sizeof *done);
  FILE *out = done ? open_memstream(&text, &len) : NULL;
  if (!out) {
    free(done);
    bn_error("config: out of memory");
    return NULL;
  }
  /* grouped by section, sections and keys in the order they were declared */
  for (size_t i = 0; i < cfg->nslots; i++) {
    if (done[i]) continue;
    const bn__cfg_slot *head = &cfg->slots[i];
    fprintf(out, "%s[%.*s]\n", i ? "\n" : "", (int)head->section_len, head->opt->name);
    for (size_t j = i; j < cfg->nslots; j++)
      if (!done[j] && same_section(head, &cfg->slots[j])) {
        write_value(out, &cfg->slots[j]);
        done[j] = true;
      }
  }
  free(done);
  bool failed = ferror(out);
  if (fclose(out) || failed) {
    free(text);
    bn_error("config: out of memory");
    return NULL;
  }
  return text;
}

/* The bounds or choices column of one option. */
static void describe_range(char *buf, size_t n, const bn_option *o) {
  char lo[48], hi[48];
  switch (o->type) {
  case BN_OPT_INT:
  case BN_OPT_REAL:
    bn__config_format_bound(lo, sizeof lo, o->min, o->type);
    bn__config_format_bound(hi, sizeof hi, o->max, o->type);
    snprintf(buf, n, "[%s, %s]", lo, hi);
    break;
  case BN_OPT_BOOL: snprintf(buf, n, "true|false"); break;
  case BN_OPT_ENUM: snprintf(buf, n, "%s", o->choices); break;
  case BN_OPT_STRING: snprintf(buf, n, "-"); break;
  }
}

static const char *shown_default(const bn__cfg_slot *s) {
  if (s->opt->type == BN_OPT_STRING) return *s->def_str ? s->def_str : "\"\"";
  return s->opt->def;
}

void bn_config_print_table(const bn_config *cfg, FILE *out) {
  if (!cfg || !out) return;
  int wname = (int)strlen("option"), wdef = (int)strlen("default"), wrange = (int)strlen("range");
  char range[256];
  for (size_t i = 0; i < cfg->nslots; i++) {
    const bn__cfg_slot *s = &cfg->slots[i];
    describe_range(range, sizeof range, s->opt);
    int a = (int)strlen(s->opt->name), b = (int)strlen(shown_default(s)), c = (int)strlen(range);
    wname = a > wname ? a : wname;
    wdef = b > wdef ? b : wdef;
    wrange = c > wrange ? c : wrange;
  }
  fprintf(out, "%-*s  %-6s  %-*s  %-*s  %s\n", wname, "option", "type", wdef, "default", wrange,
          "range", "description");
  for (size_t i = 0; i < cfg->nslots; i++) {
    const bn__cfg_slot *s = &cfg->slots[i];
    describe_range(range, sizeof range, s->opt);
    fprintf(out, "%-*s  %-6s  %-*s  %-*s  %s\n", wname, s->opt->name,
            bn__config_type_name(s->opt->type), wdef, shown_default(s), wrange, range,
            s->opt->help ? s->opt->help : "");
  }
}
