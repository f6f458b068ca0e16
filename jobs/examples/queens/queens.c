/* An example plug-in domain for banyan: the N-queens puzzle.
 *
 * Queens are placed one row at a time, top to bottom, each on a column that no queen above
 * attacks (same column or diagonal). A placement ends when all N rows hold a queen (a
 * solution) or when no column of the next row is free (a dead end). The reward is the
 * share of rows filled: 1.0 exactly for a solution, less for a dead end, so the search is
 * pulled towards placements that leave room below. A board and its mirror image (columns
 * c <-> N-1-c) are the same state for the search (canonicalize).
 *
 * The optional noise models a measured reward: Normal noise drawn from the job's seed
 * through banyan's counter-based streams, so the reward stays a pure function of (state,
 * seed, sample), as the domain API asks.
 *
 * Build it against an installed banyan (CMakeLists.txt here) and name the library in the
 * config: `[domain] plugin = build/libqueens.so` (see queens.ini and README.md). */
#include <gsl/gsl_randist.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <banyan/config.h>
#include <banyan/domain.h>
#include <banyan/rng.h>

#define MAX_N 64
#define EMPTY 0xFF /* a row without a queen */

static const bn_option options[] = {
    {"domain.queens.n", BN_OPT_INT, "10", 4, MAX_N, NULL, "board size: N queens on an N x N board"},
    {"domain.queens.noise", BN_OPT_REAL, "0", 0, 1, NULL,
     "standard deviation of Normal noise added to each reward (0: exact rewards)"},
};

/* Per-rank settings; read-only once init returns. */
typedef struct queens {
  int n;
  double noise;
} queens;

/* A state is N bytes: the column of the queen in row r, or EMPTY; rows fill in order. */
static int rows_filled(const queens *q, const unsigned char *s) {
  int r = 0;
  while (r < q->n && s[r] != EMPTY) r++;
  return r;
}

static bool attacked(const unsigned char *s, int rows, int col) {
  for (int r = 0; r < rows; r++) {
    int d = rows - r;
    if (s[r] == col || s[r] == col - d || s[r] == col + d) return true;
  }
  return false;
}

static int queens_init(const bn_config *cfg, void **ctx, bn_domain_info *info, char *err, size_t errlen) {
  queens *q = malloc(sizeof *q);
  if (!q) {
    snprintf(err, errlen, "out of memory");
    return 1;
  }
  q->n = (int)bn_config_int(cfg, "domain.queens.n");
  q->noise = bn_config_real(cfg, "domain.queens.noise");
  *ctx = q;
  *info = (bn_domain_info){.state_size = (size_t)q->n, .max_actions = q->n, .max_depth = q->n};
  return 0;
}

static void queens_fini(void *ctx) { free(ctx); }

static void queens_root(const void *ctx, void *state) {
  const queens *q = ctx;
  memset(state, EMPTY, (size_t)q->n);
}

static int queens_actions(const void *ctx, const void *state, bn_action *out, int max) {
  const queens *q = ctx;
  const unsigned char *s = state;
  int rows = rows_filled(q, s), k = 0;
  if (rows == q->n) return 0;
  for (int c = 0; c < q->n && k < max; c++)
    if (!attacked(s, rows, c)) out[k++] = c;
  return k;
}

static void queens_apply(const void *ctx, const void *state, bn_action action, void *next) {
  const queens *q = ctx;
  memcpy(next, state, (size_t)q->n);
  ((unsigned char *)next)[rows_filled(q, state)] = (unsigned char)action;
}

static bool queens_is_terminal(const void *ctx, const void *state) {
  const queens *q = ctx;
  const unsigned char *s = state;
  int rows = rows_filled(q, s);
  if (rows == q->n) return true;
  for (int c = 0; c < q->n; c++)
    if (!attacked(s, rows, c)) return false;
  return true;
}

/* The board or its mirror image, whichever is smaller byte by byte. */
static void queens_canonicalize(const void *ctx, void *state) {
  const queens *q = ctx;
  unsigned char *s = state, mirror[MAX_N];
  int rows = rows_filled(q, s);
  memcpy(mirror, s, (size_t)q->n);
  for (int r = 0; r < rows; r++) mirror[r] = (unsigned char)(q->n - 1 - s[r]);
  if (memcmp(mirror, s, (size_t)rows) < 0) memcpy(s, mirror, (size_t)rows);
}

static int queens_evaluate(const void *ctx, const void *state, const bn_eval_request *req, double *reward,
                           char *why, size_t whylen) {
  const queens *q = ctx;
  *reward = (double)rows_filled(q, state) / q->n;
  if (q->noise > 0) {
    bn_rng stream = bn_rng_stream(req->seed, req->sample, BN_RNG_EVALUATE);
    bn_rng_gsl view;
    bn_rng_gsl_init(&view, &stream);
    *reward += gsl_ran_gaussian(&view.gsl, q->noise);
  }
  (void)why;
  (void)whylen;
  return 0;
}

/* "3,0,4": the column of each placed queen, row by row; "-" for the empty board. */
static int queens_describe(const void *ctx, const void *state, char *buf, size_t n) {
  const queens *q = ctx;
  const unsigned char *s = state;
  int rows = rows_filled(q, s), used = 0;
  if (n) buf[0] = '\0';
  if (rows == 0) return snprintf(buf, n, "-");
  for (int r = 0; r < rows; r++) {
    size_t at = (size_t)used < n ? (size_t)used : n;
    used += snprintf(buf + at, n - at, "%s%d", r ? "," : "", s[r]);
  }
  return used;
}

static int queens_parse(const void *ctx, const char *text, void *state) {
  const queens *q = ctx;
  unsigned char *s = state;
  memset(s, EMPTY, (size_t)q->n);
  if (strcmp(text, "-") == 0) return 0;
  int rows = 0;
  for (const char *p = text; *p;) {
    char *end;
    long col = strtol(p, &end, 10);
    if (end == p || col < 0 || col >= q->n || rows == q->n || attacked(s, rows, (int)col)) return 1;
    s[rows++] = (unsigned char)col;
    if (*end == ',' && end[1]) p = end + 1;
    else if (*end) return 1;
    else p = end;
  }
  return 0;
}

static const bn_domain_ops queens_domain = {
    .api_version = BN_DOMAIN_API_VERSION,
    .name = "queens",
    .summary = "N-queens: place N non-attacking queens row by row (reward: share of rows filled)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .init = queens_init,
    .fini = queens_fini,
    .root = queens_root,
    .actions = queens_actions,
    .apply = queens_apply,
    .is_terminal = queens_is_terminal,
    .canonicalize = queens_canonicalize,
    .evaluate = queens_evaluate,
    .describe = queens_describe,
    .parse = queens_parse,
};

BN_DOMAIN_PLUGIN(queens_domain);
