/* Shared by the checkpoint suites (test_checkpoint.c, test_segments.c): runs built by hand
 * (a snapshot whose every value depends on its position, plus its result rows in memory),
 * their rows committed as segment files beside the checkpoint, comparison of snapshots and
 * of the streamed results log, a scratch directory, and the check that a damaged
 * checkpoint is refused with a reason, printing nothing from HDF5 and changing no byte of
 * any file. No MPI, no tree: the arrays are filled directly. */
#ifndef BN_CHECKPOINT_TEST_H
#define BN_CHECKPOINT_TEST_H

#include <dirent.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banyan/checkpoint.h"
#include "banyan/log.h"
#include "bn_test.h"
#include "checkpoint/seal.h"

/* --- building runs -------------------------------------------------------------------- */

typedef struct spec {
  uint64_t nodes, edges, results, seg_rows, pending, timeline, engines, history, best, top;
  size_t state_size;
  uint32_t path_cap;
  const char *config;
} spec;

static const spec small __attribute__((unused)) = {.nodes = 40, .edges = 90, .results = 500, .seg_rows = 64, .pending = 3, .timeline = 5,
                           .engines = 2, .history = 4, .best = 3, .top = 4, .state_size = 9, .path_cap = 6,
                           .config = "[search]\niterations = 1000\n# a \"quoted\" comment, with commas\n"};

#define RUN_ID 0x5eed0123456789abull

/* A run: its snapshot (segments listed once committed) and every result row and state. */
typedef struct run {
  bn_snapshot s;
  bn_result_row *rows;
  unsigned char *states; /* n_rows * state_size */
  uint64_t n_rows;
  uint64_t seg_rows; /* rows per segment when committed */
} run;

static inline void *xcalloc(uint64_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  CU_ASSERT_FATAL(p != NULL);
  return p;
}

static inline const char *reason_of(uint64_t i) {
  if (i % 7 == 3) return "timeout: after 5 s";
  if (i % 11 == 5) return "non-finite reward: nan \"reward\", bad";
  return NULL; /* ok */
}

static inline bn_result_row row_of(uint64_t i) {
  const char *why = reason_of(i);
  bn_result_row r = {.job_id = i, .seed = i * 0x9e3779b97f4a7c15ull, .kind = (uint8_t)(1 + i % 2),
                     .status = why ? BN_JOB_FAILED : BN_JOB_OK, .attempts = (uint16_t)(1 + i % 3),
                     .sample = (uint32_t)(i % 6 == 5 ? UINT32_MAX : i % 4), .engine = (int32_t)(i % 4),
                     .reward = why ? 0.0 : (double)i / 3.0, .t_created = 1700000000.0 + (double)i,
                     .t_sent = 1700000000.125 + (double)i, .t_started = 1700000000.25 + (double)i,
                     .t_finished = 1700000001.0 + (double)i, .t_received = 1700000001.5 + (double)i};
  if (why) bn_failure_split(why, r.failure_kind, r.failure_detail);
  return r;
}

/* Counters and the failure table from the rows (after a test changed some). */
static inline void recount(run *r) {
  bn_snapshot *s = &r->s;
  free(s->failure_groups);
  s->failure_groups = NULL;
  s->n_failure_groups = 0;
  uint64_t failures = 0;
  for (uint64_t i = 0; i < r->n_rows; i++) {
    if (r->rows[i].status != BN_JOB_FAILED) continue;
    failures++;
    uint64_t g = 0;
    while (g < s->n_failure_groups && (strcmp(s->failure_groups[g].kind, r->rows[i].failure_kind) != 0 ||
                                       strcmp(s->failure_groups[g].detail, r->rows[i].failure_detail) != 0))
      g++;
    if (g == s->n_failure_groups) {
      bn_failure_group *grown = realloc(s->failure_groups, (g + 1) * sizeof *grown);
      CU_ASSERT_FATAL(grown != NULL);
      s->failure_groups = grown;
      memset(&grown[g], 0, sizeof grown[g]);
      snprintf(grown[g].kind, sizeof grown[g].kind, "%s", r->rows[i].failure_kind);
      snprintf(grown[g].detail, sizeof grown[g].detail, "%s", r->rows[i].failure_detail);
      s->n_failure_groups++;
    }
    s->failure_groups[g].count++;
  }
  s->completed = r->n_rows;
  s->failures = failures;
  s->evaluations = r->n_rows - failures;
  s->applied_upto = r->n_rows;
  s->tree.n_backprops = s->evaluations;
  s->next_iteration = r->n_rows + s->n_pending + s->cancelled;
}

/* A run of p->results rows, not yet committed (no segments, segment_dir NULL). */
static inline void build(run *r, const spec *p) {
  memset(r, 0, sizeof *r);
  bn_snapshot *s = &r->s;
  const size_t ss = p->state_size;
  s->domain = strdup("synthetic");
  s->config_text = strdup(p->config ? p->config : "");
  s->banyan_version = strdup("0.1.0-test");
  s->created = 1700000000.25;
  s->updated = 1700003600.5;
  s->seed = 0xfeedfacecafebeefull;
  s->state_size = ss;
  s->path_cap = p->path_cap;
  s->budget = 5000;
  s->elapsed_seconds = 3599.75;
  s->checkpoints = p->history;
  s->deterministic = 1;
  s->run_id = RUN_ID;

  bn_tree_arrays *a = &s->tree;
  a->n_nodes = p->nodes;
  a->n_edges = p->edges;
  a->state_size = ss;
  a->states = xcalloc(p->nodes * ss, 1);
  a->node_visits = xcalloc(p->nodes, sizeof *a->node_visits);
  a->node_reward_sum = xcalloc(p->nodes, sizeof *a->node_reward_sum);
  a->node_first_edge = xcalloc(p->nodes, sizeof *a->node_first_edge);
  a->node_n_edges = xcalloc(p->nodes, sizeof *a->node_n_edges);
  a->node_depth = xcalloc(p->nodes, sizeof *a->node_depth);
  a->node_flags = xcalloc(p->nodes, sizeof *a->node_flags);
  a->node_samples = xcalloc(p->nodes, sizeof *a->node_samples);
  for (uint64_t i = 0; i < p->nodes; i++) {
    for (size_t b = 0; b < ss; b++) a->states[i * ss + b] = (unsigned char)(i * 31 + b * 7);
    a->node_visits[i] = i * 3 + 1;
    a->node_reward_sum[i] = (double)i * 0.1 - 2.0;
    a->node_first_edge[i] = (uint32_t)(i * 2);
    a->node_n_edges[i] = (uint32_t)(i % 3);
    a->node_depth[i] = (uint16_t)(i % 9);
    a->node_flags[i] = (uint8_t)(i % 8);
    a->node_samples[i] = (uint32_t)(i % 5);
  }
  a->edge_parent = xcalloc(p->edges, sizeof *a->edge_parent);
  a->edge_child = xcalloc(p->edges, sizeof *a->edge_child);
  a->edge_action = xcalloc(p->edges, sizeof *a->edge_action);
  a->edge_n_actions = xcalloc(p->edges, sizeof *a->edge_n_actions);
  a->edge_visits = xcalloc(p->edges, sizeof *a->edge_visits);
  a->edge_reward_sum = xcalloc(p->edges, sizeof *a->edge_reward_sum);
  a->edge_reward_sq = xcalloc(p->edges, sizeof *a->edge_reward_sq);
  a->edge_flags = xcalloc(p->edges, sizeof *a->edge_flags);
  for (uint64_t e = 0; e < p->edges; e++) {
    a->edge_parent[e] = (uint32_t)(e / 3);
    a->edge_child[e] = (uint32_t)(e + 1);
    a->edge_action[e] = (int32_t)(e % 13) - 1;
    a->edge_n_actions[e] = (uint32_t)(e % 4) + 1;
    a->edge_visits[e] = e * 5;
    a->edge_reward_sum[e] = (double)e / 3.0;
    a->edge_reward_sq[e] = (double)e / 7.0;
    a->edge_flags[e] = (uint8_t)(e % 2);
  }

  r->n_rows = p->results;
  r->seg_rows = p->seg_rows ? p->seg_rows : 1;
  r->rows = xcalloc(p->results, sizeof *r->rows);
  r->states = xcalloc(p->results * ss, 1);
  for (uint64_t i = 0; i < p->results; i++) {
    r->rows[i] = row_of(i);
    for (size_t b = 0; b < ss; b++) r->states[i * ss + b] = (unsigned char)(i + b * 3);
  }
  s->cancelled = 2;
  s->n_pending = p->pending;
  s->pending = xcalloc(p->pending, sizeof *s->pending);
  s->pending_paths = xcalloc(p->pending * p->path_cap, sizeof *s->pending_paths);
  s->pending_states = xcalloc(p->pending * ss, 1);
  for (uint64_t k = 0; k < p->pending; k++) {
    s->pending[k] = (bn_pending_row){.iteration = p->results + k, .seed = 77 + k, .kind = (uint8_t)(1 + k % 2),
                                     .path_len = (uint32_t)(k % (p->path_cap + 1)), .leaf = (uint32_t)(k + 4),
                                     .sample = (uint32_t)(k * 2)};
    for (uint32_t j = 0; j < p->path_cap; j++) s->pending_paths[k * p->path_cap + j] = (uint32_t)(k * 10 + j);
    for (size_t b = 0; b < ss; b++) s->pending_states[k * ss + b] = (unsigned char)(200 + k + b);
  }
  recount(r);

  s->n_top = p->top < p->results ? p->top : p->results;
  s->top = xcalloc(s->n_top, sizeof *s->top);
  s->top_states = xcalloc(s->n_top * ss, 1);
  for (uint64_t i = 0; i < s->n_top; i++) {
    s->top[i] = (bn_top_row){.job_id = p->results - 1 - i, .reward = 100.0 - (double)i};
    for (size_t b = 0; b < ss; b++) s->top_states[i * ss + b] = (unsigned char)(50 + i * 3 + b);
  }
  s->n_timeline = p->timeline;
  s->timeline = xcalloc(p->timeline, sizeof *s->timeline);
  for (uint64_t i = 0; i < p->timeline; i++)
    s->timeline[i] = (bn_timeline_row){.t = 5.0 * (double)(i + 1), .iterations = i * 100, .evaluations = i * 90,
                                       .failures = i * 10, .in_flight = 8, .best_reward = i ? 0.5 + (double)i : NAN,
                                       .utilization = 0.875, .reward_pool_utilization = 0.9,
                                       .simulate_pool_utilization = 0.8};
  s->n_engines = p->engines;
  s->engines = xcalloc(p->engines, sizeof *s->engines);
  for (uint64_t i = 0; i < p->engines; i++)
    s->engines[i] = (bn_engine_row){.rank = (int32_t)(i + 1), .jobs = 250 + i, .failures = 3 + i,
                                    .busy_seconds = 90.0 + (double)i, .idle_seconds = 10.0,
                                    .pool = (uint8_t)(1 + i % 3)};
  /* Two moves between the engine pools, back and forth. */
  s->n_pool_moves = p->engines ? 2 : 0;
  s->pool_moves = xcalloc(2, sizeof *s->pool_moves);
  s->pool_moves[0] = (bn_pool_move_row){.t_unix = 1700000050.5, .rank = 1, .from_pool = 1, .to_pool = 2};
  s->pool_moves[1] = (bn_pool_move_row){.t_unix = 1700000060.25, .rank = 1, .from_pool = 2, .to_pool = 1};
  s->n_history = p->history;
  s->history = xcalloc(p->history, sizeof *s->history);
  for (uint64_t i = 0; i < p->history; i++)
    s->history[i] = (bn_checkpoint_row){.t_unix = 1700000100.0 + 100.0 * (double)i, .iterations = i * 50,
                                        .snapshot_seconds = 0.01, .write_seconds = 0.25, .bytes = 1000000 + i};
  s->n_best = p->best;
  s->best = xcalloc(p->best, sizeof *s->best);
  for (uint64_t i = 0; i < p->best; i++) {
    s->best[i] = (bn_best_row){.node = (uint32_t)i, .mean = 0.9 - 0.1 * (double)i, .visits = 12 - i};
    snprintf(s->best[i].text, sizeof s->best[i].text, "best-state-%llu", (unsigned long long)i);
  }
}

static inline void run_free(run *r) {
  bn_snapshot_free(&r->s);
  free(r->rows);
  free(r->states);
  memset(r, 0, sizeof *r);
}

static inline const bn_result_row *source_row(const void *ctx, uint64_t i) { return &((const run *)ctx)->rows[i]; }
static inline const unsigned char *source_state(const void *ctx, uint64_t i) {
  const run *r = ctx;
  return r->states + i * r->s.state_size;
}

static inline bn_result_source source_of(const run *r) {
  return (bn_result_source){.ctx = r, .row = source_row, .state = source_state};
}

static inline bn_segment_params params_of(const run *r) {
  return (bn_segment_params){.run_id = r->s.run_id, .state_size = r->s.state_size};
}

/* The segment directory of checkpoint `path` (malloc'ed). */
static inline char *seg_dir_of(const char *path) {
  char *name = bn_checkpoint_segment_dir_name(path);
  CU_ASSERT_FATAL(name != NULL);
  char *d = bn_checkpoint_segment_dir(path, name);
  CU_ASSERT_FATAL(d != NULL);
  free(name);
  return d;
}

/* Write the rows not yet in a segment as segments of r->seg_rows rows beside checkpoint
 * `path` and list them in the snapshot (as the checkpoint writer does before each commit). */
static inline void commit(run *r, const char *path) {
  bn_snapshot *s = &r->s;
  free(s->segment_dir);
  s->segment_dir = bn_checkpoint_segment_dir_name(path);
  char *d = seg_dir_of(path);
  CU_ASSERT_EQUAL_FATAL(bn_segment_dir_create(d), BN_OK);
  uint64_t row = 0;
  for (uint64_t i = 0; i < s->n_segments; i++) row += s->segments[i].rows;
  const bn_segment_params p = params_of(r);
  const bn_result_source src = source_of(r);
  while (row < r->n_rows) {
    const uint64_t n = r->n_rows - row < r->seg_rows ? r->n_rows - row : r->seg_rows;
    bn_segment_info *grown = realloc(s->segments, (s->n_segments + 1) * sizeof *grown);
    CU_ASSERT_FATAL(grown != NULL);
    s->segments = grown;
    CU_ASSERT_EQUAL_FATAL(bn_segment_write(d, &p, s->next_segment, row, n, &src, &s->segments[s->n_segments]),
                          BN_OK);
    s->n_segments++;
    s->next_segment++;
    row += n;
  }
  free(d);
}

/* Take over the segments of an earlier checkpoint of the same run (same rows so far). */
static inline void adopt(run *r, const bn_snapshot *earlier) {
  free(r->s.segments);
  r->s.segments = xcalloc(earlier->n_segments, sizeof *r->s.segments);
  if (earlier->n_segments) memcpy(r->s.segments, earlier->segments, earlier->n_segments * sizeof *r->s.segments);
  r->s.n_segments = earlier->n_segments;
  r->s.next_segment = earlier->next_segment;
}

/* --- comparing ------------------------------------------------------------------------ */

#define SAME(field)                                                                  \
  do {                                                                               \
    if (memcmp(&a->field, &b->field, sizeof a->field) != 0) return #field;           \
  } while (0)
#define SAME_ARRAY(ptr, count)                                                       \
  do {                                                                               \
    if ((count) > 0 && memcmp(a->ptr, b->ptr, (size_t)(count) * sizeof *a->ptr) != 0) \
      return #ptr;                                                                   \
  } while (0)

static inline int str_differ(const char *x, const char *y) { return strcmp(x ? x : "", y ? y : "") != 0; }

/* NULL if equal, else the name of the first field that differs. */
static inline const char *diff(const bn_snapshot *a, const bn_snapshot *b) {
  if (str_differ(a->domain, b->domain)) return "domain";
  if (str_differ(a->config_text, b->config_text)) return "config_text";
  if (str_differ(a->banyan_version, b->banyan_version)) return "banyan_version";
  if (str_differ(a->segment_dir, b->segment_dir)) return "segment_dir";
  SAME(created);
  SAME(updated);
  SAME(seed);
  SAME(state_size);
  SAME(path_cap);
  SAME(budget);
  SAME(next_iteration);
  SAME(completed);
  SAME(evaluations);
  SAME(failures);
  SAME(cancelled);
  SAME(applied_upto);
  SAME(deterministic);
  SAME(finished);
  SAME(stop_reason);
  SAME(elapsed_seconds);
  SAME(checkpoints);
  SAME(run_id);
  SAME(next_segment);
  SAME(tree.n_nodes);
  SAME(tree.n_edges);
  SAME(tree.state_size);
  SAME(tree.n_backprops);
  const uint64_t nn = a->tree.n_nodes, ne = a->tree.n_edges;
  SAME_ARRAY(tree.states, nn * a->state_size);
  SAME_ARRAY(tree.node_visits, nn);
  SAME_ARRAY(tree.node_reward_sum, nn);
  SAME_ARRAY(tree.node_first_edge, nn);
  SAME_ARRAY(tree.node_n_edges, nn);
  SAME_ARRAY(tree.node_depth, nn);
  SAME_ARRAY(tree.node_flags, nn);
  SAME_ARRAY(tree.node_samples, nn);
  SAME_ARRAY(tree.edge_parent, ne);
  SAME_ARRAY(tree.edge_child, ne);
  SAME_ARRAY(tree.edge_action, ne);
  SAME_ARRAY(tree.edge_n_actions, ne);
  SAME_ARRAY(tree.edge_visits, ne);
  SAME_ARRAY(tree.edge_reward_sum, ne);
  SAME_ARRAY(tree.edge_reward_sq, ne);
  SAME_ARRAY(tree.edge_flags, ne);
  SAME(n_segments);
  SAME_ARRAY(segments, a->n_segments);
  SAME(n_failure_groups);
  for (uint64_t i = 0; i < a->n_failure_groups; i++)
    if (strcmp(a->failure_groups[i].kind, b->failure_groups[i].kind) ||
        strcmp(a->failure_groups[i].detail, b->failure_groups[i].detail) ||
        a->failure_groups[i].count != b->failure_groups[i].count)
      return "a failure group";
  SAME(n_top);
  for (uint64_t i = 0; i < a->n_top; i++)
    if (a->top[i].job_id != b->top[i].job_id || memcmp(&a->top[i].reward, &b->top[i].reward, 8))
      return "a top evaluation";
  SAME_ARRAY(top_states, a->n_top * a->state_size);
  SAME(n_pending);
  for (uint64_t k = 0; k < a->n_pending; k++) {
    const bn_pending_row *x = &a->pending[k], *y = &b->pending[k];
    if (x->iteration != y->iteration || x->seed != y->seed || x->kind != y->kind || x->path_len != y->path_len ||
        x->leaf != y->leaf || x->sample != y->sample)
      return "a pending row";
  }
  SAME_ARRAY(pending_paths, a->n_pending * a->path_cap);
  SAME_ARRAY(pending_states, a->n_pending * a->state_size);
  SAME(n_timeline);
  SAME_ARRAY(timeline, a->n_timeline);
  SAME(n_engines);
  for (uint64_t i = 0; i < a->n_engines; i++) {
    const bn_engine_row *x = &a->engines[i], *y = &b->engines[i];
    if (x->rank != y->rank || x->jobs != y->jobs || x->failures != y->failures ||
        x->busy_seconds != y->busy_seconds || x->idle_seconds != y->idle_seconds || x->pool != y->pool)
      return "an engine row";
  }
  SAME(n_pool_moves);
  for (uint64_t i = 0; i < a->n_pool_moves; i++) {
    const bn_pool_move_row *x = &a->pool_moves[i], *y = &b->pool_moves[i];
    if (x->t_unix != y->t_unix || x->rank != y->rank || x->from_pool != y->from_pool || x->to_pool != y->to_pool)
      return "a pool move";
  }
  SAME(n_history);
  SAME_ARRAY(history, a->n_history);
  SAME(n_best);
  for (uint64_t i = 0; i < a->n_best; i++) {
    const bn_best_row *x = &a->best[i], *y = &b->best[i];
    if (x->node != y->node || x->mean != y->mean || x->visits != y->visits || strcmp(x->text, y->text))
      return "a best row";
  }
  return NULL;
}

static inline int same_row(const bn_result_row *x, const bn_result_row *y) {
  return x->job_id == y->job_id && x->seed == y->seed && x->kind == y->kind && x->status == y->status &&
         x->attempts == y->attempts && x->sample == y->sample && x->engine == y->engine &&
         !memcmp(&x->reward, &y->reward, 8) && x->t_created == y->t_created && x->t_sent == y->t_sent &&
         x->t_started == y->t_started && x->t_finished == y->t_finished && x->t_received == y->t_received &&
         /* the text as a string: a segment keeps it, not the bytes after its NUL */
         !strncmp(x->failure_kind, y->failure_kind, sizeof x->failure_kind) &&
         !strncmp(x->failure_detail, y->failure_detail, sizeof x->failure_detail);
}

/* Stream the results log of checkpoint `path` (snapshot `s` as read from it) `max` rows at
 * a time and compare it with the run's rows and states. BN_OK and *differs NULL when all
 * are equal and in order; else the reader's error (reason in why) or *differs says what. */
static inline bn_err stream_compare(const char *path, const bn_snapshot *s, const run *r, size_t max,
                                    const char **differs, char *why, size_t whylen) {
  const size_t ss = (size_t)s->state_size;
  bn_result_row *rows = xcalloc(max, sizeof *rows);
  unsigned char *states = xcalloc(max * ss, 1);
  bn_results_reader *rd = NULL;
  *differs = NULL;
  why[0] = '\0';
  uint64_t at = 0;
  bn_err e = bn_results_open(path, s, &rd, why, whylen);
  while (e == BN_OK) {
    size_t n = 0;
    e = bn_results_next(rd, rows, states, max, &n);
    if (e != BN_OK) {
      snprintf(why, whylen, "%s", bn_results_why(rd));
      break;
    }
    if (n == 0) break;
    if (n > max) *differs = "more rows than asked for";
    for (size_t i = 0; i < n && !*differs; i++, at++) {
      if (at >= r->n_rows) *differs = "more rows than written";
      else if (!same_row(&rows[i], &r->rows[at])) *differs = "a result row";
      else if (memcmp(states + i * ss, r->states + at * ss, ss)) *differs = "a result state";
    }
    if (*differs) break;
  }
  if (e == BN_OK && !*differs && at != r->n_rows) *differs = "fewer rows than written";
  bn_results_close(&rd);
  CU_ASSERT_PTR_NULL(rd);
  free(rows);
  free(states);
  return e;
}

/* --- files ---------------------------------------------------------------------------- */

static char dir[64];

static inline void make_dir(void) {
  snprintf(dir, sizeof dir, "/tmp/bn-ckpt-XXXXXX");
  CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
}

static inline void remove_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CU_ASSERT(system(cmd) == 0);
}

/* A path in the test directory; 64 rotating buffers, so keep a copy for long use. */
static inline char *in_dir(const char *name) {
  static char buf[64][256];
  static int k;
  char *p = buf[k++ % 64];
  snprintf(p, 256, "%s/%s", dir, name);
  return p;
}

typedef struct blob {
  unsigned char *data;
  size_t size;
} blob;

static inline blob slurp(const char *path) {
  blob b = {NULL, 0};
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return b;
  FILE *f = fopen(path, "rb");
  if (!f) return b;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b.data = malloc(n > 0 ? (size_t)n : 1);
  b.size = b.data && n > 0 ? fread(b.data, 1, (size_t)n, f) : 0;
  fclose(f);
  return b;
}

static inline void spit(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  CU_ASSERT_FATAL(f != NULL);
  CU_ASSERT(fwrite(data, 1, n, f) == n);
  fclose(f);
}

static inline int same_blob(blob a, blob b) {
  return a.size == b.size && (a.size == 0 || !memcmp(a.data, b.data, a.size));
}

static inline int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

static inline int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every file under `root` (names, sizes and bytes, in name order, subdirectories too) as
 * one blob: equal blobs mean nothing was created, removed or changed. */
static inline void put_tree(FILE *out, const char *root) {
  DIR *d = opendir(root);
  if (!d) return;
  char *names[512];
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL && n < 512;)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    char path[1024];
    const bool fits = snprintf(path, sizeof path, "%s/%s", root, names[i]) < (int)sizeof path;
    struct stat st;
    if (!fits) {
      fprintf(out, "%s (path too long to list)\n", names[i]);
    } else if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
      fprintf(out, "%s/\n", names[i]);
      put_tree(out, path);
    } else {
      blob b = slurp(path);
      fprintf(out, "%s %zu\n", names[i], b.size);
      if (b.size) fwrite(b.data, 1, b.size, out);
      free(b.data);
    }
    free(names[i]);
  }
}

static inline blob tree_blob(const char *root) {
  blob b = {NULL, 0};
  FILE *f = open_memstream((char **)&b.data, &b.size);
  CU_ASSERT_FATAL(f != NULL);
  put_tree(f, root);
  fclose(f);
  return b;
}

/* Run `fn` with stderr captured; fail if HDF5 printed its error stack. */
static inline bn_err quietly(bn_err (*fn)(void *), void *arg) {
  fflush(stderr);
  const int saved = dup(2);
  FILE *cap = tmpfile();
  CU_ASSERT_FATAL(cap != NULL && saved >= 0);
  dup2(fileno(cap), 2);
  const bn_err e = fn(arg);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  fseek(cap, 0, SEEK_END);
  if (ftell(cap) > 0) {
    char text[512] = "";
    fseek(cap, 0, SEEK_SET);
    size_t n = fread(text, 1, sizeof text - 1, cap);
    text[n] = '\0';
    if (strstr(text, "HDF5-DIAG")) CU_FAIL("HDF5 printed its error stack");
  }
  fclose(cap);
  return e;
}

typedef struct read_call {
  const char *path;
  bn_snapshot *s;
  char *why;
  size_t whylen;
} read_call;

static inline bn_err call_read(void *arg) {
  read_call *c = arg;
  return bn_checkpoint_read(c->path, c->s, c->why, c->whylen);
}

static inline void expect_reason(const char *why, const char *needle) {
  if (needle && !strstr(why, needle)) {
    fprintf(stderr, "\n  reason \"%s\" lacks \"%s\"\n", why, needle);
    CU_FAIL("reason does not name the problem");
  }
}

/* Reading `path` must fail with `want` (or either CORRUPT/IO when want == BN_OK), give a
 * reason containing `needle` (may be NULL), print nothing from HDF5 and change no byte of
 * any file in the test directory (the checkpoint, its copies and their segments). */
static inline void expect_refused(const char *path, bn_err want, const char *needle) {
  blob before = tree_blob(dir);
  char why[768] = "untouched";
  bn_snapshot s;
  memset(&s, 0x5a, sizeof s);
  const bn_snapshot canary = s;
  read_call c = {path, &s, why, sizeof why};
  const bn_err e = quietly(call_read, &c);
  if (want == BN_OK) {
    CU_ASSERT(e == BN_ERR_CORRUPT || e == BN_ERR_IO);
  } else {
    CU_ASSERT_EQUAL(e, want);
  }
  CU_ASSERT(why[0] != '\0' && strcmp(why, "untouched") != 0);
  expect_reason(why, needle);
  CU_ASSERT(memcmp(&s, &canary, sizeof s) == 0); /* *out untouched on failure */
  if (e == BN_OK) bn_snapshot_free(&s);
  blob after = tree_blob(dir);
  CU_ASSERT(same_blob(before, after));
  free(before.data);
  free(after.data);
}

/* Copy the file `good` to `name` in the test directory and return its path. */
static inline char *copy_of(const char *good, const char *name) {
  char *p = in_dir(name);
  blob b = slurp(good);
  spit(p, b.data, b.size);
  free(b.data);
  return p;
}

/* Build a run from `p`, commit its segments beside `path` and write the checkpoint. */
static inline void write_run(const char *path, const spec *p) {
  run r;
  build(&r, p);
  commit(&r, path);
  uint64_t bytes = 0;
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &r.s, &bytes), BN_OK);
  struct stat st;
  CU_ASSERT(stat(path, &st) == 0 && (uint64_t)st.st_size == bytes);
  run_free(&r);
}

/* Open a file read-write with HDF5 (quietly), for making damaged variants. */
static inline hid_t open_rw(const char *path) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  return f;
}

/* Make the seal of `path` (its XXH3-64 checksum in the HDF5 user block, seal.h) match its
 * bytes again, keeping the kind and header it records; a file without a seal is left as
 * it is. A variant edited with the HDF5 API is then "hostile but sealed": what it tests
 * is the reader's own checks behind the seal, not the seal. */
static inline void reseal(const char *path) {
  const int fd = open(path, O_RDWR);
  unsigned char block[BN__SEAL_BYTES];
  bn__seal seal;
  if (fd >= 0 && pread(fd, block, sizeof block, 0) == (ssize_t)sizeof block && bn__seal_decode(block, &seal) == 0)
    CU_ASSERT(bn__seal_write(fd, path, &seal) == BN_OK);
  if (fd >= 0) close(fd);
}

/* H5Fclose, then reseal a file that was open for writing (see reseal). */
static inline herr_t close_and_reseal(hid_t f) {
  char name[4096] = "";
  unsigned intent = 0;
  const ssize_t n = H5Fget_name(f, name, sizeof name);
  const int rw = H5Fget_intent(f, &intent) >= 0 && (intent & H5F_ACC_RDWR);
  const herr_t r = H5Fclose(f);
  if (r >= 0 && rw && n > 0 && (size_t)n < sizeof name) reseal(name);
  return r;
}
/* In the suites, every file edited through the HDF5 API is resealed when it is closed. */
#define H5Fclose(f) close_and_reseal(f)

/* Replace numeric attribute `name` of the root with `v` stored as `type`. */
static inline void set_attr_u64(hid_t f, const char *name, hid_t type, uint64_t v) {
  CU_ASSERT(H5Adelete(f, name) >= 0);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(a >= 0 && H5Awrite(a, H5T_NATIVE_UINT64, &v) >= 0);
  H5Aclose(a);
  H5Sclose(sp);
}

#endif
