/* `banyan export --csv`: the results table as RFC 4180 CSV, one line per job in log order,
 * streamed from the segments a strip at a time (bounded memory for any run length).
 * Numbers are printed losslessly (%.17g), kind and status by name, the failure's kind and
 * detail and the state (readable via the domain, hex without one) always quoted with
 * quotes doubled, so commas, quotes and newlines in them cannot break a row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint_impl.h"

static const char header[] =
    "job_id,iteration,seed,kind,status,attempts,sample,engine,reward,t_created,t_sent,t_started,t_finished,"
    "t_received,failure_kind,failure_detail,state\n";

static void put_quoted(FILE *out, const char *s, size_t max) {
  putc('"', out);
  for (size_t i = 0; i < max && s[i]; i++) {
    if (s[i] == '"') putc('"', out);
    putc(s[i], out);
  }
  putc('"', out);
}

/* Kind and status by name; an unknown code (not in a validated snapshot) as its number. */
static const char *kind_text(uint8_t k, char *buf, size_t n) {
  if (k == BN_JOB_REWARD) return "reward";
  if (k == BN_JOB_SIMULATE) return "simulate";
  snprintf(buf, n, "%u", k);
  return buf;
}

static const char *status_text(uint8_t s, char *buf, size_t n) {
  if (s == BN_JOB_OK) return "ok";
  if (s == BN_JOB_FAILED) return "failed";
  if (s == BN_JOB_PENDING) return "pending";
  snprintf(buf, n, "%u", s);
  return buf;
}

static void put_row(FILE *out, const bn_result_row *r) {
  char kb[8], sb[8];
  char sample[16] = ""; /* empty for a rollout's terminal (no sample index) */
  if (r->sample != UINT32_MAX) snprintf(sample, sizeof sample, "%u", (unsigned)r->sample);
  fprintf(out, "%llu,%llu,%llu,%s,%s,%u,%s,%d,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,", (unsigned long long)r->job_id,
          (unsigned long long)r->job_id, (unsigned long long)r->seed, kind_text(r->kind, kb, sizeof kb),
          status_text(r->status, sb, sizeof sb), (unsigned)r->attempts, sample, (int)r->engine, r->reward, r->t_created,
          r->t_sent, r->t_started, r->t_finished, r->t_received);
  put_quoted(out, r->failure_kind, sizeof r->failure_kind);
  putc(',', out);
  put_quoted(out, r->failure_detail, sizeof r->failure_detail);
  putc(',', out);
}

enum { BATCH = 4096 };

bn_err bn_checkpoint_export_csv(const char *ckpt_path, const bn_snapshot *snap, const bn_domain *domain, FILE *out) {
  BN_CHECK(ckpt_path && snap && out, BN_ERR_ARG, "export: null path, snapshot or stream");
  BN_CHECK(!domain || domain->info.state_size == snap->state_size, BN_ERR_ARG,
           "export: the domain has %zu-byte states but the checkpoint %llu-byte ones", domain ? domain->info.state_size : 0,
           (unsigned long long)snap->state_size);
  bn_err err = BN_OK;
  char *text = NULL, why[512] = "";
  size_t cap = 0, n = 0;
  const size_t ss = (size_t)snap->state_size;
  bn_results_reader *rd = NULL;
  bn_result_row *rows = malloc(BATCH * sizeof *rows);
  unsigned char *states = malloc(BATCH * ss);
  BN_CHECK_GOTO(rows && states, BN_ERR_NOMEM, "export: no memory");
  err = bn_results_open(ckpt_path, snap, &rd, why, sizeof why);
  BN_CHECK_GOTO(err == BN_OK, err, "export: %s", why);
  fputs(header, out);
  for (;;) {
    err = bn_results_next(rd, rows, states, BATCH, &n);
    BN_CHECK_GOTO(err == BN_OK, err, "export: %s", bn_results_why(rd));
    if (n == 0) break;
    for (size_t i = 0; i < n; i++) {
      put_row(out, &rows[i]);
      BN_TRY(bn__state_text(domain, states + i * ss, ss, &text, &cap));
      put_quoted(out, text, cap);
      putc('\n', out);
    }
    if (ferror(out)) break;
  }
  BN_CHECK_GOTO(fflush(out) == 0 && !ferror(out), BN_ERR_IO, "export: cannot write the CSV output");
fail:
  bn_results_close(&rd);
  free(rows);
  free(states);
  free(text);
  return err;
}
