/* Failed results grouped by reason and by kind (bn_snapshot_count_failures): the one
 * grouping behind `banyan inspect`'s failure section and the end-of-run report and JSON
 * summary of a search. */
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

bn_err bn_snapshot_count_failures(const bn_snapshot *s, bn_failure_counts *out) {
  bn_failure_counts fc;
  memset(&fc, 0, sizeof fc);
  for (uint64_t i = 0; i < s->n_results; i++) fc.failed += bn__result_row(s, i)->status == BN_JOB_FAILED;
  if (fc.failed > 0) {
    fc.reasons = malloc(fc.failed * sizeof *fc.reasons);
    fc.kinds = malloc(fc.failed * sizeof *fc.kinds);
    if (!fc.reasons || !fc.kinds) {
      bn_failure_counts_free(&fc);
      BN_CHECK(0, BN_ERR_NOMEM, "no memory to count failures");
    }
    size_t k = 0;
    for (uint64_t i = 0; i < s->n_results; i++) {
      const bn_result_row *r = bn__result_row(s, i);
      if (r->status != BN_JOB_FAILED) continue;
      snprintf(fc.reasons[k].text, sizeof fc.reasons[k].text, "%.*s", BN_JOB_REASON_LEN - 1,
               r->reason[0] ? r->reason : "(no reason given)");
      fc.reasons[k++].count = 1;
    }
    fc.n_reasons = merge_groups(fc.reasons, k);
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
