/* Failed results by reason: counted as they happen (bn_failure_tally, kept by the search
 * and stored as /stats/failures, so nobody needs the results log to know them), and
 * grouped by reason and by kind (bn_failure_count_groups): the one grouping behind
 * `banyan inspect`'s failure section and the end-of-run report and JSON summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint_impl.h"

/* The kind of a failure: its reason up to the first digit, quote, parenthesis or colon,
 * so "killed by signal 11 (SIGSEGV)" is "killed by signal" and "unparsable output: \"x\""
 * is "unparsable output". */
static void failure_kind(const char *reason, char *kind) {
  size_t n = strcspn(reason, "0123456789\"(:");
  if (n >= BN_JOB_REASON_LEN) n = BN_JOB_REASON_LEN - 1;
  while (n > 0 && reason[n - 1] == ' ') n--;
  if (n == 0) n = strnlen(reason, BN_JOB_REASON_LEN - 1);
  memcpy(kind, reason, n);
  kind[n] = '\0';
}

static int by_text(const void *a, const void *b) {
  return strncmp(((const bn_failure_group *)a)->text, ((const bn_failure_group *)b)->text, BN_JOB_REASON_LEN);
}

static int by_count(const void *a, const void *b) {
  const bn_failure_group *x = a, *y = b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  return strncmp(x->text, y->text, BN_JOB_REASON_LEN);
}

/* Merge equal texts of g[0..n) (summing counts), most frequent first; the new length. */
static size_t merge_groups(bn_failure_group *g, size_t n) {
  qsort(g, n, sizeof *g, by_text);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (k > 0 && strncmp(g[k - 1].text, g[i].text, BN_JOB_REASON_LEN) == 0)
      g[k - 1].count += g[i].count;
    else
      g[k++] = g[i];
  }
  qsort(g, k, sizeof *g, by_count);
  return k;
}

static const char other_reasons[] = "(other reasons)";
static const char no_reason[] = "(no reason given)";

bn_err bn_failure_tally_add(bn_failure_tally *t, const char *reason, uint64_t count) {
  char text[BN_JOB_REASON_LEN];
  snprintf(text, sizeof text, "%.*s", BN_JOB_REASON_LEN - 1, reason && reason[0] ? reason : no_reason);
  for (size_t i = t->n; i-- > 0;) /* the newest reasons are the likeliest to repeat */
    if (strncmp(t->groups[i].text, text, sizeof text) == 0) {
      t->groups[i].count += count;
      return BN_OK;
    }
  if (t->n >= BN_FAILURE_REASONS && strcmp(text, other_reasons) != 0) return bn_failure_tally_add(t, other_reasons, count);
  if (t->n == t->cap) {
    const size_t cap = t->cap ? 2 * t->cap : 16;
    bn_failure_group *g = realloc(t->groups, cap * sizeof *g);
    BN_CHECK(g, BN_ERR_NOMEM, "no memory to count failures");
    t->groups = g;
    t->cap = cap;
  }
  memcpy(t->groups[t->n].text, text, sizeof text);
  t->groups[t->n++].count = count;
  return BN_OK;
}

void bn_failure_tally_free(bn_failure_tally *t) {
  free(t->groups);
  memset(t, 0, sizeof *t);
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
      /* An empty reason (in a table not written by bn_failure_tally_add) is named too. */
      const char *text = groups[i].text[0] ? groups[i].text : no_reason;
      snprintf(fc.reasons[i].text, sizeof fc.reasons[i].text, "%.*s", BN_JOB_REASON_LEN - 1, text);
      fc.reasons[i].count = groups[i].count;
      fc.failed += groups[i].count;
    }
    fc.n_reasons = merge_groups(fc.reasons, n);
    for (size_t i = 0; i < fc.n_reasons; i++) {
      failure_kind(fc.reasons[i].text, fc.kinds[i].text);
      fc.kinds[i].count = fc.reasons[i].count;
    }
    fc.n_kinds = merge_groups(fc.kinds, fc.n_reasons);
  }
  *out = fc;
  return BN_OK;
}

void bn_failure_counts_free(bn_failure_counts *fc) {
  free(fc->reasons);
  free(fc->kinds);
  memset(fc, 0, sizeof *fc);
}
