/* Failed results by kind and detail: counted as they happen (bn_failure_tally, kept by the
 * search and stored as /stats/failures, so nobody needs the results log to know them), and
 * grouped by kind (bn_failure_count_groups): the one grouping behind `banyan inspect`'s
 * failure section and the end-of-run report and JSON summary, printed by the two writers
 * below so both show the same thing. A reason's kind and detail come from
 * bn_failure_split (src/engine/job.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint_impl.h"

static const char other_details[] = "(other details)";
static const char other_kinds[] = "(other kinds)";
static const char no_kind[] = "error";

enum { PRINTED_DETAILS = 3 };

static int same(const bn_failure_group *g, const char *kind, const char *detail) {
  return strncmp(g->kind, kind, sizeof g->kind) == 0 && strncmp(g->detail, detail, sizeof g->detail) == 0;
}

static void set_group(bn_failure_group *g, const char *kind, const char *detail, uint64_t count) {
  memset(g, 0, sizeof *g);
  snprintf(g->kind, sizeof g->kind, "%.*s", (int)sizeof g->kind - 1, kind);
  snprintf(g->detail, sizeof g->detail, "%.*s", (int)sizeof g->detail - 1, detail);
  g->count = count;
}

static bn_err append(bn_failure_tally *t, const char *kind, const char *detail, uint64_t count) {
  if (t->n == t->cap) {
    const size_t cap = t->cap ? 2 * t->cap : 16;
    bn_failure_group *g = realloc(t->groups, cap * sizeof *g);
    BN_CHECK(g, BN_ERR_NOMEM, "no memory to count failures");
    t->groups = g;
    t->cap = cap;
  }
  set_group(&t->groups[t->n++], kind, detail, count);
  return BN_OK;
}

/* Count under (kind, detail), or where the limits of bn_failure_tally send it. */
static bn_err tally(bn_failure_tally *t, const char *kind, const char *detail, uint64_t count) {
  size_t of_kind = 0;
  for (size_t i = t->n; i-- > 0;) { /* the newest rows are the likeliest to repeat */
    if (same(&t->groups[i], kind, detail)) {
      t->groups[i].count += count;
      return BN_OK;
    }
    of_kind += strncmp(t->groups[i].kind, kind, sizeof t->groups[i].kind) == 0;
  }
  if (of_kind == 0) { /* a new kind */
    if (t->n < BN_FAILURE_REASONS || strcmp(kind, other_kinds) == 0) return append(t, kind, detail, count);
    return tally(t, other_kinds, "", count);
  }
  if (of_kind < BN_FAILURE_DETAILS_PER_KIND && t->n < BN_FAILURE_REASONS) return append(t, kind, detail, count);
  if (strcmp(detail, other_details) == 0) { /* no room for the kind's own overflow row */
    if (t->n < BN_FAILURE_REASONS) return append(t, kind, detail, count);
    return tally(t, other_kinds, "", count);
  }
  return tally(t, kind, other_details, count);
}

bn_err bn_failure_tally_add(bn_failure_tally *t, const char *reason, uint64_t count) {
  char kind[BN_FAILURE_KIND_LEN], detail[BN_FAILURE_DETAIL_LEN];
  bn_failure_split(reason, kind, detail);
  return tally(t, kind, detail, count);
}

bn_err bn_failure_tally_add_group(bn_failure_tally *t, const bn_failure_group *g) {
  bn_failure_group c;
  set_group(&c, g->kind[0] ? g->kind : no_kind, g->detail, g->count); /* terminated copies */
  return tally(t, c.kind, c.detail, c.count);
}

void bn_failure_tally_free(bn_failure_tally *t) {
  free(t->groups);
  memset(t, 0, sizeof *t);
}

/* --- grouping --------------------------------------------------------------------------- */

static int by_kind_detail(const void *a, const void *b) {
  const bn_failure_group *x = a, *y = b;
  int c = strncmp(x->kind, y->kind, sizeof x->kind);
  return c ? c : strncmp(x->detail, y->detail, sizeof x->detail);
}

static int by_count(const void *a, const void *b) {
  const bn_failure_group *x = a, *y = b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  return by_kind_detail(a, b);
}

/* Merge equal rows of g[0..n) (summing counts); the new length, sorted by kind and detail. */
static size_t merge(bn_failure_group *g, size_t n) {
  qsort(g, n, sizeof *g, by_kind_detail);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (k > 0 && by_kind_detail(&g[k - 1], &g[i]) == 0)
      g[k - 1].count += g[i].count;
    else
      g[k++] = g[i];
  }
  return k;
}

/* The rank of a kind in fc->kinds (most frequent first). */
static size_t kind_rank(const bn_failure_counts *fc, const char *kind) {
  for (size_t i = 0; i < fc->n_kinds; i++)
    if (strncmp(fc->kinds[i].kind, kind, sizeof fc->kinds[i].kind) == 0) return i;
  return fc->n_kinds;
}

typedef struct ranked {
  size_t rank; /* of its kind */
  bn_failure_group g;
} ranked;

static int by_rank(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
  return by_count(&x->g, &y->g);
}

/* Order fc->reasons by the rank of their kind, then most frequent first. */
static bn_err order_reasons(bn_failure_counts *fc) {
  ranked *r = malloc(fc->n_reasons * sizeof *r);
  BN_CHECK(r, BN_ERR_NOMEM, "no memory to count failures");
  for (size_t i = 0; i < fc->n_reasons; i++) r[i] = (ranked){kind_rank(fc, fc->reasons[i].kind), fc->reasons[i]};
  qsort(r, fc->n_reasons, sizeof *r, by_rank);
  for (size_t i = 0; i < fc->n_reasons; i++) fc->reasons[i] = r[i].g;
  free(r);
  return BN_OK;
}

bn_err bn_failure_count_groups(const bn_failure_group *groups, size_t n, bn_failure_counts *out) {
  bn_failure_counts fc;
  memset(&fc, 0, sizeof fc);
  if (n > 0) {
    fc.reasons = malloc(n * sizeof *fc.reasons);
    fc.kinds = malloc(n * sizeof *fc.kinds);
    if (!fc.reasons || !fc.kinds) {
      bn_failure_counts_free(&fc);
      BN_CHECK(0, BN_ERR_NOMEM, "no memory to count failures");
    }
    for (size_t i = 0; i < n; i++) {
      /* Terminated copies; an empty kind (in a table not written by banyan) is named too. */
      set_group(&fc.reasons[i], groups[i].kind[0] ? groups[i].kind : no_kind, groups[i].detail, groups[i].count);
      fc.failed += groups[i].count;
      set_group(&fc.kinds[i], fc.reasons[i].kind, "", groups[i].count);
    }
    fc.n_reasons = merge(fc.reasons, n);
    fc.n_kinds = merge(fc.kinds, n);
    qsort(fc.kinds, fc.n_kinds, sizeof *fc.kinds, by_count);
    if (order_reasons(&fc) != BN_OK) {
      bn_failure_counts_free(&fc);
      return BN_ERR_NOMEM;
    }
  }
  *out = fc;
  return BN_OK;
}

void bn_failure_counts_free(bn_failure_counts *fc) {
  free(fc->reasons);
  free(fc->kinds);
  memset(fc, 0, sizeof *fc);
}

/* --- writing ---------------------------------------------------------------------------- */

void bn_failure_counts_print(const bn_failure_counts *fc, uint64_t results, size_t max_kinds, FILE *out) {
  fprintf(out, "failures by kind (%llu of %llu results)\n", (unsigned long long)fc->failed,
          (unsigned long long)results);
  size_t r = 0; /* fc->reasons is grouped by kind in the order of fc->kinds */
  for (size_t k = 0; k < fc->n_kinds && k < max_kinds; k++) {
    const bn_failure_group *kind = &fc->kinds[k];
    fprintf(out, "  %10llu  %s\n", (unsigned long long)kind->count, kind->kind);
    size_t shown = 0, more = 0;
    for (; r < fc->n_reasons && strncmp(fc->reasons[r].kind, kind->kind, sizeof kind->kind) == 0; r++) {
      const bn_failure_group *g = &fc->reasons[r];
      if (!g->detail[0] && g->count == kind->count) continue; /* no details at all */
      if (shown < PRINTED_DETAILS)
        fprintf(out, "  %10s  %10llu  %s\n", "", (unsigned long long)g->count, g->detail[0] ? g->detail : "(none)");
      else
        more++;
      shown++;
    }
    if (more) fprintf(out, "  %10s  %10s  ... %zu more detail%s\n", "", "", more, more == 1 ? "" : "s");
  }
  if (fc->n_kinds > max_kinds) fprintf(out, "  ... %zu more kinds\n", fc->n_kinds - max_kinds);
}

/* s as a JSON string literal. */
static void json_string(FILE *f, const char *s, size_t max) {
  fputc('"', f);
  for (size_t i = 0; i < max && s[i]; i++) {
    const unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20 || c == 0x7f)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

void bn_failure_counts_json(const bn_failure_counts *fc, size_t max_reasons, FILE *out) {
  fprintf(out, ",\n  \"failures_by_kind\": {");
  for (size_t i = 0; i < fc->n_kinds; i++) {
    fprintf(out, "%s\n    ", i ? "," : "");
    json_string(out, fc->kinds[i].kind, sizeof fc->kinds[i].kind);
    fprintf(out, ": %llu", (unsigned long long)fc->kinds[i].count);
  }
  fprintf(out, "%s},\n  \"failures_by_reason\": {", fc->n_kinds ? "\n  " : "");
  /* Most frequent first over all kinds: a sorted copy of the indices. */
  bn_failure_group *sorted = fc->n_reasons ? malloc(fc->n_reasons * sizeof *sorted) : NULL;
  const bn_failure_group *rows = fc->reasons;
  if (sorted) {
    memcpy(sorted, fc->reasons, fc->n_reasons * sizeof *sorted);
    qsort(sorted, fc->n_reasons, sizeof *sorted, by_count);
    rows = sorted;
  }
  for (size_t i = 0; i < fc->n_reasons && i < max_reasons; i++) {
    char text[BN_JOB_REASON_LEN + 8];
    snprintf(text, sizeof text, "%s%s%s", rows[i].kind, rows[i].detail[0] ? ": " : "", rows[i].detail);
    fprintf(out, "%s\n    ", i ? "," : "");
    json_string(out, text, sizeof text);
    fprintf(out, ": %llu", (unsigned long long)rows[i].count);
  }
  fprintf(out, "%s}", fc->n_reasons ? "\n  " : "");
  free(sorted);
}
