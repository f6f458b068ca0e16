/* Running one job in this process: the rollout of a simulate job, the domain's evaluate,
 * and turning every way that can go wrong into a failed outcome with a reason; and the
 * form of reasons ("KIND: DETAIL", bn_failure_reason), made here, where every failure
 * passes, so that rank 0, the results log and the counts all see one form. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/engine.h"
#include "banyan/tree.h"

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, three bytes of UTF-8 */

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* A kind is 1 .. BN_FAILURE_KIND_LEN - 1 bytes without digits, quotes, parentheses or colons. */
static bool valid_kind(const char *s, size_t len) {
  if (len == 0 || len >= BN_FAILURE_KIND_LEN) return false;
  for (size_t i = 0; i < len; i++)
    if ((s[i] >= '0' && s[i] <= '9') || s[i] == '"' || s[i] == '(' || s[i] == ')' || s[i] == ':') return false;
  return true;
}

/* Shrink [*a, *b) of s past blanks on both sides. */
static void trim(const char *s, size_t *a, size_t *b) {
  while (*a < *b && blank(s[*a])) (*a)++;
  while (*b > *a && blank(s[*b - 1])) (*b)--;
}

/* The longest prefix of s[0..len) of at most `max` bytes that ends after a word, if one ends
 * in the second half of that room; else at a UTF-8 character boundary. */
static size_t word_cut(const char *s, size_t len, size_t max) {
  if (len <= max) return len;
  size_t cut = max;
  if (!blank(s[cut])) {
    size_t b = cut;
    while (b > 0 && !blank(s[b])) b--;
    if (b > 0 && b >= max / 2) cut = b;
    else
      while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) cut--;
  }
  while (cut > 0 && (blank(s[cut - 1]) || s[cut - 1] == ',' || s[cut - 1] == ';')) cut--;
  return cut;
}

/* s[0..len) into dst (at most `room` bytes and a NUL): whole if it fits, else cut after a
 * word with an ellipsis, and a detail in double quotes keeps its closing quote. How many
 * bytes of s were kept. */
static size_t fit(char *dst, size_t room, const char *s, size_t len) {
  if (len <= room) {
    memcpy(dst, s, len);
    dst[len] = '\0';
    return len;
  }
  const bool quoted = len >= 2 && s[0] == '"' && s[len - 1] == '"';
  const size_t tail = strlen(ELLIPSIS) + (quoted ? 1 : 0);
  const size_t keep = room > tail ? word_cut(s, len, room - tail) : 0;
  size_t at = keep;
  memcpy(dst, s, keep);
  if (room >= tail) {
    memcpy(dst + at, ELLIPSIS, strlen(ELLIPSIS));
    at += strlen(ELLIPSIS);
    if (quoted) dst[at++] = '"';
  }
  dst[at] = '\0';
  return keep - (quoted && keep > 0);
}

/* Kind and detail of `text`, as bn_failure_reason describes; the detail at most `room` bytes. */
static void parse(const char *text, char kind[BN_FAILURE_KIND_LEN], char *detail, size_t room) {
  char buf[4 * BN_JOB_REASON_LEN];
  size_t len = 0;
  const char *p = text ? text : "";
  for (; *p && len < sizeof buf - 1; p++) buf[len++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
  if (*p && len > 0 && p[strlen(p) - 1] == '"') buf[len - 1] = '"'; /* cut here: keep a closing quote */
  buf[len] = '\0';
  size_t a = 0, b = len;
  trim(buf, &a, &b);
  size_t ka = a, kb, da, db = b;
  const char *colon = memchr(buf + a, ':', b - a);
  size_t c = colon ? (size_t)(colon - buf) : b, ce = c;
  trim(buf, &ka, &ce);
  if (colon && valid_kind(buf + ka, ce - ka)) { /* "KIND: DETAIL" */
    kb = ce;
    da = c + 1;
  } else { /* the text up to its first digit, quote, parenthesis or colon */
    kb = a;
    while (kb < b && valid_kind(buf + a, kb + 1 - a)) kb++;
    if (kb < b && kb - a == BN_FAILURE_KIND_LEN - 1) kb = a + word_cut(buf + a, b - a, kb - a);
    da = kb;
    trim(buf, &ka, &kb);
  }
  trim(buf, &da, &db);
  if (da < db && buf[da] == ':') {
    da++;
    trim(buf, &da, &db);
  }
  if (kb == ka) { /* nothing usable as a kind */
    snprintf(kind, BN_FAILURE_KIND_LEN, "error");
    if (da == db) {
      fit(detail, room, "no reason given", strlen("no reason given"));
      return;
    }
  } else {
    memcpy(kind, buf + ka, kb - ka);
    kind[kb - ka] = '\0';
  }
  fit(detail, room, buf + da, db - da);
}

void bn_failure_reason(char *reason, size_t n, const char *text) {
  if (!reason || n == 0) return;
  char kind[BN_FAILURE_KIND_LEN], detail[BN_FAILURE_DETAIL_LEN];
  parse(text, kind, detail, BN_FAILURE_DETAIL_LEN - 1);
  const size_t klen = strlen(kind);
  if (n < klen + 1) {
    reason[0] = '\0';
    return;
  }
  char fitted[BN_FAILURE_DETAIL_LEN];
  if (detail[0] && n > klen + 3) { /* room for "KIND: " and something */
    const size_t room = n - 1 - klen - 2;
    if (fit(fitted, room < sizeof fitted - 1 ? room : sizeof fitted - 1, detail, strlen(detail)) > 0) {
      snprintf(reason, n, "%s: %s", kind, fitted);
      return;
    }
  }
  memcpy(reason, kind, klen + 1); /* no detail, or not even its first word fits */
}

void bn_failure_split(const char *reason, char kind[BN_FAILURE_KIND_LEN], char detail[BN_FAILURE_DETAIL_LEN]) {
  char norm[BN_JOB_REASON_LEN];
  bn_failure_reason(norm, sizeof norm, reason);
  parse(norm, kind, detail, BN_FAILURE_DETAIL_LEN - 1);
}

static void fail(bn_job_outcome *out, const char *why) {
  out->status = BN_JOB_FAILED;
  out->reward = 0.0;
  bn_failure_reason(out->reason, sizeof out->reason, why);
}

void bn_job_execute(const bn_domain *domain, int kind, const bn_eval_request *req, int retries,
                    const void *state, void *terminal, bn_job_outcome *out) {
  const uint64_t seed = req->seed;
  memset(out, 0, sizeof *out);
  out->t_started = bn_wtime();
  const size_t size = domain->info.state_size;
  if (kind == BN_JOB_SIMULATE) {
    if (bn_rollout(domain, state, seed, terminal) != BN_OK) {
      fail(out, "rollout: did not reach a terminal state");
      out->t_finished = bn_wtime();
      return;
    }
  } else if (kind == BN_JOB_REWARD) {
    memmove(terminal, state, size);
  } else {
    fail(out, "internal error: unknown job kind");
    out->t_finished = bn_wtime();
    return;
  }
  bn_eval_request r = *req;
  for (r.attempt = 1; r.attempt <= 1u + (unsigned)(retries > 0 ? retries : 0); r.attempt++) {
    double reward = 0.0;
    char why[4 * BN_JOB_REASON_LEN] = ""; /* room to spare: the reason is fitted from it */
    int rc = domain->ops->evaluate(domain->ctx, terminal, &r, &reward, why, sizeof why);
    out->attempts = (uint16_t)(r.attempt > UINT16_MAX ? UINT16_MAX : r.attempt);
    if (rc != 0) {
      why[sizeof why - 1] = '\0';
      fail(out, why[0] ? why : "error: the domain gave no reason");
    } else if (!isfinite(reward)) {
      snprintf(why, sizeof why, "non-finite reward: %g", reward);
      fail(out, why);
    } else {
      out->status = BN_JOB_OK;
      out->reward = reward;
      out->reason[0] = '\0';
      break;
    }
  }
  out->t_finished = bn_wtime();
}

void bn_engine_params_from_config(const bn_config *cfg, bn_engine_params *p) {
  p->depth = (int)bn_config_int(cfg, "engine.depth");
  p->batch = (int)bn_config_int(cfg, "engine.batch");
  p->max_batch = (int)bn_config_int(cfg, "engine.max_batch");
  if (p->batch > p->max_batch) p->max_batch = p->batch;
  p->message_overhead = bn_config_real(cfg, "engine.message_overhead");
  p->idle_sleep_max = bn_config_real(cfg, "engine.idle_sleep_max");
  p->retries = (int)bn_config_int(cfg, "engine.retries");
  p->heartbeat_seconds = bn_config_real(cfg, "engine.heartbeat_seconds");
  p->lost_after = bn_config_real(cfg, "engine.lost_after");
  char why[256];
  if (!bn_pools_parse(bn_config_string(cfg, "engine.pools"), &p->pools, why, sizeof why))
    p->pools = (bn_pool_spec){0}; /* cannot happen: finalize checked it */
  p->pool_rebalance = bn_config_bool(cfg, "engine.pool_rebalance");
  p->pool_rebalance_seconds = bn_config_real(cfg, "engine.pool_rebalance_seconds");
}
