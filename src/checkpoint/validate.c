/* Coherence checks of a snapshot, shared by the writer (a snapshot that could not be read
 * back is refused before anything touches the disk) and the reader (a file that parses but
 * does not add up is corrupt). Indices into the graph are bn_tree_import's business; this
 * checks what the checkpoint format itself promises. The result rows live in segments and
 * are checked one by one as they are streamed (bn__result_row_check, used by
 * bn_results_next); here the segments must tile the rows the counters claim. */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/engine.h"
#include "checkpoint/checkpoint_impl.h"

bn_err bn__why(bn_err e, char *why, size_t whylen, const char *fmt, ...) {
  if (why && whylen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return e;
}

#define BAD(...) return bn__why(BN_ERR_CORRUPT, why, whylen, __VA_ARGS__)
#define ULL(x) ((unsigned long long)(x))

static bool valid_kind(uint8_t k) { return k == BN_JOB_REWARD || k == BN_JOB_SIMULATE; }

static bn_err check_identity(const bn_snapshot *s, char *why, size_t whylen) {
  if (s->state_size == 0 || s->state_size > BN__CKPT_MAX_STATE_SIZE)
    BAD("state_size %llu outside 1..%llu", ULL(s->state_size), ULL(BN__CKPT_MAX_STATE_SIZE));
  if (s->path_cap > BN__CKPT_MAX_PATH_CAP) BAD("path_cap %llu above %u", ULL(s->path_cap), BN__CKPT_MAX_PATH_CAP);
  if (s->tree.state_size != s->state_size)
    BAD("tree state size %llu differs from state_size %llu", ULL(s->tree.state_size), ULL(s->state_size));
  if (!isfinite(s->created) || !isfinite(s->updated)) BAD("created/updated times are not finite");
  if (!isfinite(s->elapsed_seconds) || s->elapsed_seconds < 0)
    BAD("elapsed_seconds %g is not a finite non-negative number", s->elapsed_seconds);
  if (s->deterministic > 1 || s->finished > 1)
    BAD("deterministic (%u) and finished (%u) must be 0 or 1", s->deterministic, s->finished);
  return BN_OK;
}

/* Every claimed iteration is at most one of: applied (a row of /results), cancelled, or
 * pending; results split into evaluations and failures; the root saw at most every result. */
static bn_err check_counters(const bn_snapshot *s, char *why, size_t whylen) {
  if (s->failures > s->completed || s->evaluations != s->completed - s->failures)
    BAD("evaluations (%llu) + failures (%llu) != completed (%llu)", ULL(s->evaluations), ULL(s->failures),
        ULL(s->completed));
  if (s->completed > s->next_iteration)
    BAD("%llu results but only %llu iterations claimed", ULL(s->completed), ULL(s->next_iteration));
  if (s->cancelled > s->next_iteration - s->completed ||
      s->n_pending > s->next_iteration - s->completed - s->cancelled)
    BAD("completed (%llu) + cancelled (%llu) + pending (%llu) exceed the %llu iterations claimed",
        ULL(s->completed), ULL(s->cancelled), ULL(s->n_pending), ULL(s->next_iteration));
  if (s->applied_upto > s->next_iteration)
    BAD("applied_upto %llu beyond next_iteration %llu", ULL(s->applied_upto), ULL(s->next_iteration));
  if (s->tree.n_backprops > s->completed)
    BAD("the tree has %llu backprops but only %llu results were applied", ULL(s->tree.n_backprops),
        ULL(s->completed));
  return BN_OK;
}

static int by_seq(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The segments tile rows 0 .. completed - 1 in order, each numbered below next_segment and
 * each number used once, their failed rows add up to `failures`; the directory name cannot
 * leave the checkpoint's directory. */
static bn_err check_segments(const bn_snapshot *s, char *why, size_t whylen) {
  const char *d = s->segment_dir;
  if (!d || !d[0] || strchr(d, '/') || strcmp(d, ".") == 0 || strcmp(d, "..") == 0 || strlen(d) > 255)
    BAD("segment_dir \"%s\" is not a plain directory name", d ? d : "");
  uint64_t row = 0, failed = 0;
  for (uint64_t i = 0; i < s->n_segments; i++) {
    const bn_segment_info *g = &s->segments[i];
    if (g->first_row != row || g->rows == 0 || g->rows > s->completed - row)
      BAD("/segments row %llu: rows %llu..+%llu do not continue the log at row %llu of %llu", ULL(i),
          ULL(g->first_row), ULL(g->rows), ULL(row), ULL(s->completed));
    if (g->failures > g->rows || g->failures > s->failures - failed)
      BAD("/segments row %llu: %llu failed rows, more than its rows or the run's failures", ULL(i), ULL(g->failures));
    failed += g->failures;
    if (g->seq >= s->next_segment)
      BAD("/segments row %llu: segment %llu not below next_segment %llu", ULL(i), ULL(g->seq), ULL(s->next_segment));
    row += g->rows;
  }
  if (row != s->completed) BAD("the segments hold %llu rows but completed = %llu", ULL(row), ULL(s->completed));
  if (failed != s->failures)
    BAD("the segments hold %llu failed rows but failures = %llu", ULL(failed), ULL(s->failures));
  if (s->n_segments > 1) {
    uint64_t *seqs = malloc(s->n_segments * sizeof *seqs);
    if (!seqs) return bn__why(BN_ERR_NOMEM, why, whylen, "no memory to check %llu segments", ULL(s->n_segments));
    for (uint64_t i = 0; i < s->n_segments; i++) seqs[i] = s->segments[i].seq;
    qsort(seqs, s->n_segments, sizeof *seqs, by_seq);
    uint64_t dup = UINT64_MAX;
    for (uint64_t i = 1; i < s->n_segments && dup == UINT64_MAX; i++)
      if (seqs[i] == seqs[i - 1]) dup = seqs[i];
    free(seqs);
    if (dup != UINT64_MAX) BAD("/segments: segment %llu is listed twice", ULL(dup));
  }
  return BN_OK;
}

/* The failure tally adds up to `failures`; the best evaluations are well-formed. */
static bn_err check_tallies(const bn_snapshot *s, char *why, size_t whylen) {
  uint64_t sum = 0;
  if (s->n_failure_groups > BN_FAILURE_REASONS + 1)
    BAD("/stats/failures has %llu reasons (at most %d)", ULL(s->n_failure_groups), BN_FAILURE_REASONS + 1);
  for (uint64_t i = 0; i < s->n_failure_groups; i++) {
    const bn_failure_group *g = &s->failure_groups[i];
    if (!memchr(g->kind, '\0', sizeof g->kind) || !memchr(g->detail, '\0', sizeof g->detail))
      BAD("/stats/failures row %llu: kind or detail is not NUL-terminated", ULL(i));
    if (g->count > s->failures - sum)
      BAD("/stats/failures counts more than the %llu failures", ULL(s->failures));
    sum += g->count;
  }
  if (sum != s->failures) BAD("/stats/failures counts %llu failures but failures = %llu", ULL(sum), ULL(s->failures));
  for (uint64_t i = 0; i < s->n_top; i++)
    if (s->top[i].job_id >= s->next_iteration || !isfinite(s->top[i].reward))
      BAD("/stats/top_evaluations row %llu: job %llu, reward %g", ULL(i), ULL(s->top[i].job_id), s->top[i].reward);
  return BN_OK;
}

bn_err bn__result_row_check(const bn_snapshot *s, const bn_result_row *r, char *why, size_t whylen) {
  if (!valid_kind(r->kind)) BAD("kind %u is neither reward (1) nor simulate (2)", r->kind);
  if (r->status != BN_JOB_OK && r->status != BN_JOB_FAILED)
    BAD("status %u is neither ok (1) nor failed (2)", r->status);
  if (r->job_id >= s->next_iteration)
    BAD("job_id %llu not below next_iteration %llu", ULL(r->job_id), ULL(s->next_iteration));
  if (!memchr(r->failure_kind, '\0', sizeof r->failure_kind) || !memchr(r->failure_detail, '\0', sizeof r->failure_detail))
    BAD("failure_kind or failure_detail is not NUL-terminated");
  return BN_OK;
}

static bn_err check_rows(const bn_snapshot *s, char *why, size_t whylen) {
  for (uint64_t i = 0; i < s->n_pending; i++) {
    const bn_pending_row *p = &s->pending[i];
    if (!valid_kind(p->kind)) BAD("/pending row %llu: kind %u is neither reward nor simulate", ULL(i), p->kind);
    if (p->path_len > s->path_cap)
      BAD("/pending row %llu: path_len %u above path_cap %u", ULL(i), p->path_len, s->path_cap);
    if (p->iteration >= s->next_iteration)
      BAD("/pending row %llu: iteration %llu not below next_iteration %llu", ULL(i), ULL(p->iteration),
          ULL(s->next_iteration));
  }
  for (uint64_t i = 0; i < s->n_best; i++)
    if (!memchr(s->best[i].text, '\0', sizeof s->best[i].text))
      BAD("/best row %llu: text is not NUL-terminated", ULL(i));
  return BN_OK;
}

static bool valid_pool(uint8_t p) { return p >= 1 && p <= BN_POOL_ALL; }

/* Pools: each engine's pool is a non-empty set of job kinds; a move goes between two
 * different single-kind pools, by an engine rank, at a finite time, in time order. */
static bn_err check_pools(const bn_snapshot *s, char *why, size_t whylen) {
  for (uint64_t i = 0; i < s->n_engines; i++)
    if (!valid_pool(s->engines[i].pool))
      BAD("/stats/engines row %llu: pool %u is not a set of job kinds (1 reward, 2 simulate, 3 both)", ULL(i),
          s->engines[i].pool);
  double last = -INFINITY;
  for (uint64_t i = 0; i < s->n_pool_moves; i++) {
    const bn_pool_move_row *m = &s->pool_moves[i];
    if (!valid_pool(m->from_pool) || !valid_pool(m->to_pool) || m->from_pool == BN_POOL_ALL ||
        m->to_pool == BN_POOL_ALL || m->from_pool == m->to_pool)
      BAD("/stats/pool_moves row %llu: a move from pool %u to pool %u (pools are 1 reward, 2 simulate)", ULL(i),
          m->from_pool, m->to_pool);
    if (m->rank < 1) BAD("/stats/pool_moves row %llu: rank %d is not an engine", ULL(i), m->rank);
    if (!isfinite(m->t_unix) || m->t_unix < last)
      BAD("/stats/pool_moves row %llu: time %g is not finite or goes back", ULL(i), m->t_unix);
    last = m->t_unix;
  }
  return BN_OK;
}

bn_err bn__snapshot_check(const bn_snapshot *s, char *why, size_t whylen) {
  BN_CALL(check_identity(s, why, whylen));
  BN_CALL(check_counters(s, why, whylen));
  BN_CALL(check_segments(s, why, whylen));
  BN_CALL(check_tallies(s, why, whylen));
  BN_CALL(check_rows(s, why, whylen));
  BN_CALL(check_pools(s, why, whylen));
  return BN_OK;
}
