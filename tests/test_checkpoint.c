/* Checkpoint files: every field survives a write/read round trip (empty tables, results in
 * many chunks, pending iterations, long strings); NAME is replaced atomically and kept as
 * NAME.prev; a failed write leaves NAME as it was and no NAME.tmp; damaged, foreign or
 * inconsistent files are refused with a reason, without a crash, without HDF5 printing,
 * and without a byte of the file changing; the CSV export and the inspect summary.
 *
 * Snapshots are built by hand (no MPI, no tree). Damaged variants are made with the HDF5
 * API on copies of a good file. One test also leaves checkpoint_fixture.h5 beside this
 * executable (or at $BN_CHECKPOINT_FIXTURE) for tests/checkpoint/read_with_h5py.py. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banyan/checkpoint.h"
#include "banyan/log.h"
#include "bn_test.h"

/* --- building snapshots --------------------------------------------------------------- */

typedef struct spec {
  uint64_t nodes, edges, results, chunk_rows, pending, timeline, engines, history, best;
  size_t state_size;
  uint32_t path_cap;
  const char *config;
} spec;

static const spec small = {.nodes = 40, .edges = 90, .results = 500, .chunk_rows = 64, .pending = 3, .timeline = 5,
                           .engines = 2, .history = 4, .best = 3, .state_size = 9, .path_cap = 6,
                           .config = "[search]\niterations = 1000\n# a \"quoted\" comment, with commas\n"};

static void *xcalloc(uint64_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  CU_ASSERT_FATAL(p != NULL);
  return p;
}

static const char *reason_of(uint64_t i) {
  if (i % 7 == 3) return "timeout after 5 s";
  if (i % 11 == 5) return "nan \"reward\", bad";
  return NULL; /* ok */
}

/* A snapshot whose every value depends on its position, freed with bn_snapshot_free. */
static void build(bn_snapshot *s, const spec *p) {
  memset(s, 0, sizeof *s);
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
  s->stop_reason = 0;

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
  a->edge_visits = xcalloc(p->edges, sizeof *a->edge_visits);
  a->edge_reward_sum = xcalloc(p->edges, sizeof *a->edge_reward_sum);
  a->edge_reward_sq = xcalloc(p->edges, sizeof *a->edge_reward_sq);
  a->edge_flags = xcalloc(p->edges, sizeof *a->edge_flags);
  for (uint64_t e = 0; e < p->edges; e++) {
    a->edge_parent[e] = (uint32_t)(e / 3);
    a->edge_child[e] = (uint32_t)(e + 1);
    a->edge_action[e] = (int32_t)(e % 13) - 1;
    a->edge_visits[e] = e * 5;
    a->edge_reward_sum[e] = (double)e / 3.0;
    a->edge_reward_sq[e] = (double)e / 7.0;
    a->edge_flags[e] = (uint8_t)(e % 2);
  }

  uint64_t failures = 0;
  s->n_results = p->results;
  s->result_chunk_rows = p->chunk_rows;
  if (p->results) {
    const uint64_t chunks = (p->results - 1) / p->chunk_rows + 1;
    s->result_rows = xcalloc(chunks, sizeof *s->result_rows);
    s->result_states = xcalloc(chunks, sizeof *s->result_states);
    for (uint64_t c = 0; c < chunks; c++) {
      s->result_rows[c] = xcalloc(p->chunk_rows, sizeof **s->result_rows);
      s->result_states[c] = xcalloc(p->chunk_rows, ss);
    }
    for (uint64_t i = 0; i < p->results; i++) {
      bn_result_row *r = &s->result_rows[i / p->chunk_rows][i % p->chunk_rows];
      unsigned char *st = s->result_states[i / p->chunk_rows] + (i % p->chunk_rows) * ss;
      const char *why = reason_of(i);
      *r = (bn_result_row){.job_id = i, .seed = i * 0x9e3779b97f4a7c15ull, .kind = (uint8_t)(1 + i % 2),
                           .status = why ? BN_JOB_FAILED : BN_JOB_OK, .attempts = (uint16_t)(1 + i % 3),
                           .engine = (int32_t)(i % 4), .reward = why ? 0.0 : (double)i / 3.0,
                           .t_created = 1700000000.0 + (double)i, .t_sent = 1700000000.125 + (double)i,
                           .t_started = 1700000000.25 + (double)i, .t_finished = 1700000001.0 + (double)i,
                           .t_received = 1700000001.5 + (double)i};
      if (why) snprintf(r->reason, sizeof r->reason, "%s", why);
      failures += why != NULL;
      for (size_t b = 0; b < ss; b++) st[b] = (unsigned char)(i + b * 3);
    }
  }
  s->completed = p->results;
  s->failures = failures;
  s->evaluations = p->results - failures;
  s->cancelled = 2;
  s->next_iteration = p->results + p->pending + s->cancelled;
  s->applied_upto = p->results;
  a->n_backprops = s->evaluations;

  s->n_pending = p->pending;
  s->pending = xcalloc(p->pending, sizeof *s->pending);
  s->pending_paths = xcalloc(p->pending * p->path_cap, sizeof *s->pending_paths);
  s->pending_states = xcalloc(p->pending * ss, 1);
  for (uint64_t k = 0; k < p->pending; k++) {
    s->pending[k] = (bn_pending_row){.iteration = p->results + k, .seed = 77 + k, .kind = (uint8_t)(1 + k % 2),
                                     .path_len = (uint32_t)(k % (p->path_cap + 1)), .leaf = (uint32_t)(k + 4)};
    for (uint32_t j = 0; j < p->path_cap; j++) s->pending_paths[k * p->path_cap + j] = (uint32_t)(k * 10 + j);
    for (size_t b = 0; b < ss; b++) s->pending_states[k * ss + b] = (unsigned char)(200 + k + b);
  }

  s->n_timeline = p->timeline;
  s->timeline = xcalloc(p->timeline, sizeof *s->timeline);
  for (uint64_t i = 0; i < p->timeline; i++)
    s->timeline[i] = (bn_timeline_row){.t = 5.0 * (double)(i + 1), .iterations = i * 100, .evaluations = i * 90,
                                       .failures = i * 10, .in_flight = 8, .best_reward = i ? 0.5 + (double)i : NAN,
                                       .utilization = 0.875};
  s->n_engines = p->engines;
  s->engines = xcalloc(p->engines, sizeof *s->engines);
  for (uint64_t i = 0; i < p->engines; i++)
    s->engines[i] = (bn_engine_row){.rank = (int32_t)(i + 1), .jobs = 250 + i, .failures = 3 + i,
                                    .busy_seconds = 90.0 + (double)i, .idle_seconds = 10.0};
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

/* --- comparing snapshots -------------------------------------------------------------- */

#define SAME(field)                                                                  \
  do {                                                                               \
    if (memcmp(&a->field, &b->field, sizeof a->field) != 0) return #field;           \
  } while (0)
#define SAME_ARRAY(ptr, count)                                                       \
  do {                                                                               \
    if ((count) > 0 && memcmp(a->ptr, b->ptr, (size_t)(count) * sizeof *a->ptr) != 0) \
      return #ptr;                                                                   \
  } while (0)

static const char *str_diff(const char *x, const char *y) {
  return strcmp(x ? x : "", y ? y : "") == 0 ? NULL : "a string";
}

/* NULL if equal, else the name of the first field that differs. */
static const char *diff(const bn_snapshot *a, const bn_snapshot *b) {
  if (str_diff(a->domain, b->domain)) return "domain";
  if (str_diff(a->config_text, b->config_text)) return "config_text";
  if (str_diff(a->banyan_version, b->banyan_version)) return "banyan_version";
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
  SAME_ARRAY(tree.edge_visits, ne);
  SAME_ARRAY(tree.edge_reward_sum, ne);
  SAME_ARRAY(tree.edge_reward_sq, ne);
  SAME_ARRAY(tree.edge_flags, ne);
  SAME(n_results);
  for (uint64_t i = 0; i < a->n_results; i++) {
    const bn_result_row *x = &a->result_rows[i / a->result_chunk_rows][i % a->result_chunk_rows];
    const bn_result_row *y = &b->result_rows[i / b->result_chunk_rows][i % b->result_chunk_rows];
    if (x->job_id != y->job_id || x->seed != y->seed || x->kind != y->kind || x->status != y->status ||
        x->attempts != y->attempts || x->engine != y->engine || memcmp(&x->reward, &y->reward, 8) ||
        x->t_created != y->t_created || x->t_sent != y->t_sent || x->t_started != y->t_started ||
        x->t_finished != y->t_finished || x->t_received != y->t_received ||
        memcmp(x->reason, y->reason, sizeof x->reason))
      return "a result row";
    const unsigned char *sx = a->result_states[i / a->result_chunk_rows] + (i % a->result_chunk_rows) * a->state_size;
    const unsigned char *sy = b->result_states[i / b->result_chunk_rows] + (i % b->result_chunk_rows) * b->state_size;
    if (memcmp(sx, sy, a->state_size)) return "a result state";
  }
  SAME(n_pending);
  for (uint64_t k = 0; k < a->n_pending; k++) {
    const bn_pending_row *x = &a->pending[k], *y = &b->pending[k];
    if (x->iteration != y->iteration || x->seed != y->seed || x->kind != y->kind || x->path_len != y->path_len ||
        x->leaf != y->leaf)
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
        x->busy_seconds != y->busy_seconds || x->idle_seconds != y->idle_seconds)
      return "an engine row";
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

/* --- files ---------------------------------------------------------------------------- */

static char dir[64];

static void make_dir(void) {
  snprintf(dir, sizeof dir, "/tmp/bn-ckpt-XXXXXX");
  CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
}

static void remove_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CU_ASSERT(system(cmd) == 0);
}

/* A path in the test directory; 64 rotating buffers, so keep a copy for long use. */
static char *in_dir(const char *name) {
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

static blob slurp(const char *path) {
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

static void spit(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  CU_ASSERT_FATAL(f != NULL);
  CU_ASSERT(fwrite(data, 1, n, f) == n);
  fclose(f);
}

static int same_blob(blob a, blob b) { return a.size == b.size && (a.size == 0 || !memcmp(a.data, b.data, a.size)); }

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

static void write_small(const char *path, const spec *p) {
  bn_snapshot s;
  build(&s, p);
  uint64_t bytes = 0;
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &s, &bytes), BN_OK);
  struct stat st;
  CU_ASSERT(stat(path, &st) == 0 && (uint64_t)st.st_size == bytes);
  bn_snapshot_free(&s);
}

/* Reading `path` must fail with `want` (or either CORRUPT/IO when want == BN_OK), give a
 * reason containing `needle` (may be NULL), print nothing from HDF5 and change no byte. */
static void expect_refused(const char *path, bn_err want, const char *needle) {
  blob before = slurp(path);
  char why[512] = "untouched";
  bn_snapshot s;
  memset(&s, 0x5a, sizeof s);
  const bn_snapshot canary = s;

  fflush(stderr);
  const int saved = dup(2);
  FILE *cap = tmpfile();
  CU_ASSERT_FATAL(cap != NULL && saved >= 0);
  dup2(fileno(cap), 2);
  bn_err e = bn_checkpoint_read(path, &s, why, sizeof why);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);

  if (want == BN_OK) {
    CU_ASSERT(e == BN_ERR_CORRUPT || e == BN_ERR_IO);
  } else {
    CU_ASSERT_EQUAL(e, want);
  }
  CU_ASSERT(why[0] != '\0' && strcmp(why, "untouched") != 0);
  if (needle && !strstr(why, needle)) {
    fprintf(stderr, "\n  reason \"%s\" lacks \"%s\"\n", why, needle);
    CU_FAIL("reason does not name the problem");
  }
  CU_ASSERT(memcmp(&s, &canary, sizeof s) == 0); /* *out untouched on failure */
  fseek(cap, 0, SEEK_END);
  const long printed = ftell(cap);
  if (printed > 0) {
    char text[512] = "";
    fseek(cap, 0, SEEK_SET);
    size_t n = fread(text, 1, sizeof text - 1, cap);
    text[n] = '\0';
    if (strstr(text, "HDF5-DIAG")) CU_FAIL("HDF5 printed its error stack");
  }
  fclose(cap);
  blob after = slurp(path);
  CU_ASSERT(same_blob(before, after));
  free(before.data);
  free(after.data);
}

/* Copy the good file to `name` in the test directory and return its path. */
static char *copy_of(const char *good, const char *name) {
  char *p = in_dir(name);
  blob b = slurp(good);
  spit(p, b.data, b.size);
  free(b.data);
  return p;
}

/* --- round trips ---------------------------------------------------------------------- */

static void round_trip(const spec *p) {
  make_dir();
  const char *path = in_dir("run.h5");
  bn_snapshot a, b;
  build(&a, p);
  uint64_t bytes = 0;
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &a, &bytes), BN_OK);
  CU_ASSERT(bytes > 0);
  char why[256] = "";
  bn_err e = bn_checkpoint_read(path, &b, why, sizeof why);
  if (e != BN_OK) fprintf(stderr, "\n  read: %s\n", why);
  CU_ASSERT_EQUAL_FATAL(e, BN_OK);
  const char *d = diff(&a, &b);
  if (d) fprintf(stderr, "\n  differs: %s\n", d);
  CU_ASSERT_PTR_NULL(d);
  CU_ASSERT(b.n_results == 0 || b.result_chunk_rows == b.n_results);
  bn_snapshot_free(&a);
  bn_snapshot_free(&b);
  CU_ASSERT(!exists(in_dir("run.h5.tmp")) && !exists(in_dir("run.h5.prev.tmp")));
  remove_dir();
}

static void bn_checkpoint_write_should_round_trip_every_field(void) { round_trip(&small); }

static void bn_checkpoint_write_should_round_trip_empty_tables(void) {
  spec p = {.nodes = 1, .state_size = 4, .path_cap = 3};
  round_trip(&p);
  spec none = {.state_size = 1, .path_cap = 0}; /* not even a root: still a valid file */
  round_trip(&none);
}

static void bn_checkpoint_write_should_round_trip_results_in_many_chunks(void) {
  /* 70,001 rows: several HDF5 chunks (about 32 Ki rows each at 9-byte states) from 997-row
   * memory chunks that align with nothing. */
  spec p = small;
  p.results = 70001;
  p.chunk_rows = 997;
  round_trip(&p);
  /* Large states: a few rows per HDF5 chunk. */
  spec q = small;
  q.state_size = 100000;
  q.nodes = 3;
  q.results = 130;
  q.chunk_rows = 7;
  round_trip(&q);
}

static void bn_checkpoint_write_should_round_trip_a_config_over_64_kib(void) {
  const size_t n = 200000;
  char *config = malloc(n + 1);
  CU_ASSERT_FATAL(config != NULL);
  for (size_t i = 0; i < n; i++) config[i] = (i % 61 == 60) ? '\n' : (char)('a' + i % 26);
  config[n] = '\0';
  spec p = small;
  p.config = config;
  round_trip(&p);
  free(config);
}

/* --- atomic replace ------------------------------------------------------------------- */

static void bn_checkpoint_write_should_keep_the_previous_file_as_prev(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  write_small(path, &small);
  blob first = slurp(path);
  CU_ASSERT(!exists(in_dir("run.h5.prev")));
  spec p = small;
  p.results = 600;
  write_small(path, &p);
  blob prev = slurp(in_dir("run.h5.prev"));
  CU_ASSERT(same_blob(first, prev));
  bn_snapshot s;
  char why[256];
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(path, &s, why, sizeof why), BN_OK);
  CU_ASSERT_EQUAL(s.n_results, 600);
  bn_snapshot_free(&s);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(in_dir("run.h5.prev"), &s, why, sizeof why), BN_OK);
  CU_ASSERT_EQUAL(s.n_results, 500);
  bn_snapshot_free(&s);
  CU_ASSERT(!exists(in_dir("run.h5.tmp")) && !exists(in_dir("run.h5.prev.tmp")));
  free(first.data);
  free(prev.data);
  remove_dir();
}

static void bn_checkpoint_write_should_fail_cleanly_in_a_missing_directory(void) {
  make_dir();
  const char *path = in_dir("no/such/dir/run.h5");
  bn_snapshot s;
  build(&s, &small);
  uint64_t bytes = 12345;
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, &s, &bytes), BN_ERR_IO);
  bn_log_setup(-1, BN_LOG_INFO);
  CU_ASSERT_EQUAL(bytes, 12345); /* written on success only */
  CU_ASSERT(!exists(in_dir("no")));
  bn_snapshot_free(&s);
  remove_dir();
}

/* A write that fails half-way (the file size limit is hit inside HDF5, as a full disk
 * would be) must leave NAME byte-identical and remove NAME.tmp; the next write in the same
 * process must succeed. Runs in a child process: HDF5 may keep the failed file's handle
 * until exit. Works as root, unlike a read-only directory. */
static void bn_checkpoint_write_should_leave_name_intact_when_writing_fails(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  write_small(path, &small);
  blob before = slurp(path);
  fflush(NULL);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    spec big = small;
    big.results = 20000;
    bn_snapshot s;
    build(&s, &big);
    struct rlimit old, lim;
    if (getrlimit(RLIMIT_FSIZE, &old) != 0) _exit(10);
    lim = old;
    lim.rlim_cur = 256 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(11);
    bn_log_setup(-1, BN_LOG_SILENT);
    bn_err e = bn_checkpoint_write(path, &s, NULL);
    if (setrlimit(RLIMIT_FSIZE, &old) != 0) _exit(12);
    if (e != BN_ERR_HDF5 && e != BN_ERR_IO) _exit(13);
    blob after = slurp(path);
    if (!same_blob(before, after)) _exit(14);
    if (exists(in_dir("run.h5.tmp")) || exists(in_dir("run.h5.prev"))) _exit(15);
    uint64_t bytes = 0;
    if (bn_checkpoint_write(path, &s, &bytes) != BN_OK || bytes <= 256 * 1024) _exit(16);
    _exit(0);
  }
  int status = 0;
  CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fprintf(stderr, "\n  child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* What the child left: the new checkpoint, the old one as NAME.prev, no temporaries. */
  blob prev = slurp(in_dir("run.h5.prev"));
  CU_ASSERT(same_blob(before, prev));
  CU_ASSERT(!exists(in_dir("run.h5.tmp")) && !exists(in_dir("run.h5.prev.tmp")));
  bn_snapshot s;
  char why[256];
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(path, &s, why, sizeof why), BN_OK);
  CU_ASSERT_EQUAL(s.n_results, 20000);
  bn_snapshot_free(&s);
  free(prev.data);
  free(before.data);
  remove_dir();
}

static void bn_checkpoint_write_should_refuse_an_incoherent_snapshot(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  bn_snapshot s;
  build(&s, &small);
  bn_log_setup(-1, BN_LOG_SILENT);
  s.completed += 1; /* no longer == rows of /results */
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, &s, NULL), BN_ERR_ARG);
  s.completed -= 1;
  s.result_rows[0][3].status = 7;
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, &s, NULL), BN_ERR_ARG);
  s.result_rows[0][3].status = BN_JOB_FAILED;
  s.state_size = 0;
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, &s, NULL), BN_ERR_ARG);
  bn_log_setup(-1, BN_LOG_INFO);
  CU_ASSERT(!exists(path) && !exists(in_dir("run.h5.tmp")));
  s.state_size = small.state_size;
  bn_snapshot_free(&s);
  remove_dir();
}

/* --- damaged and foreign files -------------------------------------------------------- */

static void bn_checkpoint_read_should_refuse_truncated_files(void) {
  make_dir();
  const char *good = in_dir("good.h5");
  write_small(good, &small);
  blob b = slurp(good);
  const size_t cuts[] = {0, 1, 8, 100, 511, 1024, 2047, b.size / 3, b.size / 2, b.size - 4096, b.size - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    if (cuts[i] >= b.size) continue;
    const char *p = in_dir("cut.h5");
    spit(p, b.data, cuts[i]);
    expect_refused(p, BN_OK, NULL);
  }
  free(b.data);
  remove_dir();
}

static void bn_checkpoint_read_should_refuse_random_bytes_and_text(void) {
  make_dir();
  unsigned char junk[65536];
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < sizeof junk; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    junk[i] = (unsigned char)x;
  }
  spit(in_dir("junk.h5"), junk, sizeof junk);
  expect_refused(in_dir("junk.h5"), BN_ERR_CORRUPT, "not an HDF5 file");
  const char text[] = "[search]\niterations = 10\n";
  spit(in_dir("text.h5"), text, sizeof text - 1);
  expect_refused(in_dir("text.h5"), BN_ERR_CORRUPT, "not an HDF5 file");
  expect_refused(in_dir("missing.h5"), BN_ERR_IO, "No such file");
  expect_refused(dir, BN_ERR_IO, "not a regular file");
  remove_dir();
}

/* Open a copy read-write with HDF5 (quietly), for making damaged variants. */
static hid_t open_rw(const char *path) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  return f;
}

static void set_attr_u64(hid_t f, const char *name, hid_t type, uint64_t v) {
  CU_ASSERT(H5Adelete(f, name) >= 0);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(a >= 0 && H5Awrite(a, H5T_NATIVE_UINT64, &v) >= 0);
  H5Aclose(a);
  H5Sclose(sp);
}

static void bn_checkpoint_read_should_refuse_a_missing_dataset(void) {
  make_dir();
  char good[256];
  snprintf(good, sizeof good, "%s", in_dir("good.h5"));
  write_small(good, &small);
  const char *p = copy_of(good, "nochild.h5");
  hid_t f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/tree/edges/child", H5P_DEFAULT) >= 0);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/tree/edges/child is missing");
  p = copy_of(good, "nostats.h5");
  f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/stats", H5P_DEFAULT) >= 0);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/stats is missing");
  p = copy_of(good, "noattr.h5");
  f = open_rw(p);
  CU_ASSERT(H5Adelete(f, "completed") >= 0);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "attribute completed of / is missing");
  remove_dir();
}

static void bn_checkpoint_read_should_refuse_datasets_of_the_wrong_size_or_type(void) {
  make_dir();
  char good[256];
  snprintf(good, sizeof good, "%s", in_dir("good.h5"));
  write_small(good, &small);

  /* /tree/states one byte too wide per row */
  const char *p = copy_of(good, "states.h5");
  hid_t f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/tree/states", H5P_DEFAULT) >= 0);
  hsize_t dims[2] = {small.nodes, small.state_size + 1};
  hid_t sp = H5Screate_simple(2, dims, NULL);
  hid_t d = H5Dcreate2(f, "/tree/states", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(d >= 0);
  H5Dclose(d);
  H5Sclose(sp);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/tree/states has 10 columns, expected 9");

  /* one node array shorter than the others */
  p = copy_of(good, "short.h5");
  f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/tree/nodes/depth", H5P_DEFAULT) >= 0);
  hsize_t n = small.nodes - 1;
  sp = H5Screate_simple(1, &n, NULL);
  d = H5Dcreate2(f, "/tree/nodes/depth", H5T_STD_U16LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d);
  H5Sclose(sp);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/tree/nodes/depth has 39 rows, expected 40");

  /* node visits stored as doubles */
  p = copy_of(good, "type.h5");
  f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/tree/nodes/visits", H5P_DEFAULT) >= 0);
  n = small.nodes;
  sp = H5Screate_simple(1, &n, NULL);
  d = H5Dcreate2(f, "/tree/nodes/visits", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d);
  H5Sclose(sp);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/tree/nodes/visits is not uint64");

  /* a group where a dataset belongs */
  p = copy_of(good, "group.h5");
  f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/tree/edges/visits", H5P_DEFAULT) >= 0);
  hid_t g = H5Gcreate2(f, "/tree/edges/visits", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Gclose(g);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/tree/edges/visits is not a dataset");

  /* a soft link standing in for a dataset */
  p = copy_of(good, "soft.h5");
  f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/tree/edges/parent", H5P_DEFAULT) >= 0);
  CU_ASSERT(H5Lcreate_soft("/tree/edges/child", f, "/tree/edges/parent", H5P_DEFAULT, H5P_DEFAULT) >= 0);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "soft or external link");
  remove_dir();
}

static void bn_checkpoint_read_should_refuse_bad_attributes(void) {
  make_dir();
  char good[256];
  snprintf(good, sizeof good, "%s", in_dir("good.h5"));
  write_small(good, &small);
  const char *p = copy_of(good, "version.h5");
  hid_t f = open_rw(p);
  set_attr_u64(f, "format_version", H5T_STD_U32LE, 99);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "format_version 99 is not supported");

  p = copy_of(good, "statesize.h5");
  f = open_rw(p);
  set_attr_u64(f, "state_size", H5T_STD_U64LE, (uint64_t)1 << 40);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "state_size 1099511627776 outside");

  p = copy_of(good, "pathcap.h5");
  f = open_rw(p);
  set_attr_u64(f, "path_cap", H5T_STD_U32LE, 1u << 30);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "path_cap");

  p = copy_of(good, "counters.h5");
  f = open_rw(p);
  set_attr_u64(f, "completed", H5T_STD_U64LE, small.results + 1);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "completed = 501 but /results has 500 rows");

  p = copy_of(good, "sign.h5");
  f = open_rw(p);
  set_attr_u64(f, "seed", H5T_STD_I64LE, 5);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "attribute seed of / is not uint64");

  /* a NUL-terminated string type whose bytes fill its length without a NUL */
  p = copy_of(good, "unterminated.h5");
  f = open_rw(p);
  CU_ASSERT(H5Adelete(f, "domain") >= 0);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, 4);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, "domain", t, sp, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(a >= 0 && H5Awrite(a, t, "abcd") >= 0);
  H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "attribute domain of / is not NUL-terminated");
  remove_dir();
}

/* Replace string attribute `name` of the root with `text` stored as `type`. */
static void set_attr_str(hid_t f, const char *name, hid_t type, const void *value) {
  CU_ASSERT(H5Adelete(f, name) >= 0);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(a >= 0 && H5Awrite(a, type, value) >= 0);
  H5Aclose(a);
  H5Sclose(sp);
}

static void bn_checkpoint_read_should_accept_strings_as_other_tools_write_them(void) {
  make_dir();
  char good[256];
  snprintf(good, sizeof good, "%s", in_dir("good.h5"));
  write_small(good, &small);
  const char *p = copy_of(good, "strings.h5");
  hid_t f = open_rw(p);
  hid_t nullpad = H5Tcopy(H5T_C_S1), spacepad = H5Tcopy(H5T_C_S1), vl = H5Tcopy(H5T_C_S1);
  H5Tset_size(nullpad, 9); /* numpy bytes_ through h5py: exactly filled, no NUL */
  H5Tset_strpad(nullpad, H5T_STR_NULLPAD);
  H5Tset_size(spacepad, 8); /* Fortran style */
  H5Tset_strpad(spacepad, H5T_STR_SPACEPAD);
  H5Tset_size(vl, H5T_VARIABLE); /* a Python str through h5py */
  set_attr_str(f, "domain", nullpad, "synthetic");
  set_attr_str(f, "banyan_version", spacepad, "0.1     ");
  const char *config = "[search]\nc = 2\n";
  set_attr_str(f, "config", vl, &config);
  H5Tclose(nullpad);
  H5Tclose(spacepad);
  H5Tclose(vl);
  H5Fclose(f);
  bn_snapshot s;
  char why[256] = "";
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(p, &s, why, sizeof why), BN_OK);
  CU_ASSERT_STRING_EQUAL(s.domain, "synthetic");
  CU_ASSERT_STRING_EQUAL(s.banyan_version, "0.1");
  CU_ASSERT_STRING_EQUAL(s.config_text, config);
  bn_snapshot_free(&s);
  remove_dir();
}

static void bn_checkpoint_read_should_refuse_a_results_table_of_the_wrong_shape(void) {
  make_dir();
  char good[256];
  snprintf(good, sizeof good, "%s", in_dir("good.h5"));
  write_small(good, &small);
  /* state field 8 bytes wide while state_size says 9 */
  const char *p = copy_of(good, "results.h5");
  hid_t f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/results", H5P_DEFAULT) >= 0);
  hsize_t w = 8, n = 0;
  hid_t arr = H5Tarray_create2(H5T_STD_U8LE, 1, &w);
  hid_t c = H5Tcreate(H5T_COMPOUND, 8 + 8);
  H5Tinsert(c, "job_id", 0, H5T_STD_U64LE);
  H5Tinsert(c, "state", 8, arr);
  hid_t sp = H5Screate_simple(1, &n, NULL);
  hid_t d = H5Dcreate2(f, "/results", c, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(d >= 0);
  H5Dclose(d);
  H5Sclose(sp);
  H5Tclose(c);
  H5Tclose(arr);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/results has no field seed");
  remove_dir();
}

/* Flip bytes all over a small file: every read must return (OK or an error), never crash. */
static void bn_checkpoint_read_should_survive_flipped_bytes(void) {
  make_dir();
  spec p = small;
  p.results = 40;
  const char *good = in_dir("good.h5");
  write_small(good, &p);
  blob b = slurp(good);
  const char *bad = in_dir("flip.h5");
  int refused = 0, accepted = 0;
  for (size_t pos = 0; pos < b.size; pos += 97) {
    unsigned char saved = b.data[pos];
    b.data[pos] ^= 0x5a;
    spit(bad, b.data, b.size);
    b.data[pos] = saved;
    bn_snapshot s;
    char why[256] = "";
    bn_err e = bn_checkpoint_read(bad, &s, why, sizeof why);
    if (e == BN_OK) {
      accepted++;
      bn_snapshot_free(&s);
    } else {
      CU_ASSERT(e == BN_ERR_CORRUPT || e == BN_ERR_IO || e == BN_ERR_NOMEM);
      CU_ASSERT(why[0] != '\0');
      refused++;
    }
  }
  CU_ASSERT(refused > 0);
  (void)accepted; /* a flip inside a state or a reward is valid data */
  free(b.data);
  remove_dir();
}

/* --- export and summary --------------------------------------------------------------- */

static const spec three = {.nodes = 2, .edges = 1, .results = 3, .chunk_rows = 2, .state_size = 2, .path_cap = 2,
                           .engines = 1, .history = 1, .best = 1, .timeline = 2, .config = "[search]\n"};

static char *capture(bn_err (*fn)(const bn_snapshot *, const bn_domain *, FILE *), const bn_snapshot *s,
                     const bn_domain *d) {
  char *text = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&text, &n);
  CU_ASSERT_FATAL(f != NULL);
  CU_ASSERT_EQUAL(fn(s, d, f), BN_OK);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  return text;
}

static void bn_checkpoint_export_csv_should_write_one_quoted_row_per_result(void) {
  bn_snapshot s;
  build(&s, &three);
  snprintf(s.result_rows[1][0].reason, sizeof s.result_rows[1][0].reason, "bad, \"odd\"\nline");
  s.result_rows[1][0].status = BN_JOB_FAILED;
  s.result_rows[1][0].reward = 0.0;
  s.failures = 1;
  s.evaluations = 2;
  char *text = capture(bn_checkpoint_export_csv, &s, NULL);
  const char *want =
      "job_id,iteration,seed,kind,status,attempts,sample,engine,reward,t_created,t_sent,t_started,t_finished,"
      "t_received,reason,state\n"
      "0,0,0,reward,ok,1,0,0,0,1700000000,1700000000.125,1700000000.25,1700000001,1700000001.5,\"\",\"0003\"\n"
      "1,1,11400714819323198485,simulate,ok,2,0,1,0.33333333333333331,1700000001,1700000001.125,"
      "1700000001.25,1700000002,1700000002.5,\"\",\"0104\"\n"
      "2,2,4354685564936845354,reward,failed,3,0,2,0,1700000002,1700000002.125,1700000002.25,1700000003,"
      "1700000003.5,\"bad, \"\"odd\"\"\nline\",\"0205\"\n";
  const char *got = text ? text : "";
  if (strcmp(got, want) != 0) fprintf(stderr, "\n--- got\n%s--- want\n%s", got, want);
  CU_ASSERT_STRING_EQUAL(got, want);
  free(text);
  bn_snapshot_free(&s);
}

static int letters(const void *ctx, const void *state, char *buf, size_t n) {
  const unsigned char *b = state;
  return snprintf(buf, n, "S%c%c", 'A' + b[0] % 26, 'A' + b[1] % 26);
}

static void bn_checkpoint_export_csv_should_describe_states_with_the_domain(void) {
  bn_snapshot s;
  build(&s, &three);
  static const bn_domain_ops ops = {.api_version = BN_DOMAIN_API_VERSION, .name = "letters", .describe = letters};
  const bn_domain d = {.ops = &ops, .ctx = NULL, .info = {.state_size = 2, .max_actions = 1, .max_depth = 1}};
  char *text = capture(bn_checkpoint_export_csv, &s, &d);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, ",\"\",\"SAD\"\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, ",\"\",\"SBE\"\n"));
  free(text);
  const bn_domain wrong = {.ops = &ops, .info = {.state_size = 3}};
  FILE *f = fopen("/dev/null", "w");
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_checkpoint_export_csv(&s, &wrong, f), BN_ERR_ARG);
  bn_log_setup(-1, BN_LOG_INFO);
  fclose(f);
  bn_snapshot_free(&s);
}

static bn_err summary(const bn_snapshot *s, const bn_domain *d, FILE *out) {
  bn_checkpoint_print_summary(s, d, out);
  return BN_OK;
}

static void bn_checkpoint_print_summary_should_show_every_section(void) {
  bn_snapshot s;
  spec p = small;
  p.history = 9;
  build(&s, &p);
  s.best[2].text[0] = '\0'; /* no stored text: described from the tree state */
  char *text = capture(summary, &s, NULL);
  const char *want[] = {
      "  domain           synthetic\n",
      "  banyan version   0.1.0-test (format 2)\n",
      "  created          2023-11-14 22:13:20 UTC\n",
      "  seed             18369614221190020847\n",
      "  iterations       500 of budget 5000 (505 claimed)\n",
      "  evaluations      390\n",
      "  failures         110\n",
      "  pending          3\n",
      "  finished         no (in progress)\n",
      "  elapsed          3599.8 s\n",
      "  graph            40 nodes, 90 edges\n",
      "best states (3)\n",
      "    1. mean 0.9          visits 12       node 0        best-state-0\n",
      "    3. mean 0.7          visits 10       node 2        3e454c535a61686f76\n",
      "failures by reason (110 of 500 results)\n",
      "          71  timeout after 5 s\n",
      "          39  nan \"reward\", bad\n",
      "engines (2)\n",
      "       1          250          3         90.0         10.0        90.0%\n",
      "checkpoint history (9)\n",
      "  ... 3 more ...\n",
      "  2023-11-14 22:15:00 UTC  iterations 0          snapshot 0.010 s  write 0.250 s  1.0 MB\n",
      "timeline (5 rows)\n",
      "  first t 5.0 s  iterations 0  evaluations 0  failures 0  in flight 8  best nan  utilization 87.5%\n",
      "  last  t 25.0 s  iterations 400",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    if (!strstr(text, want[i])) {
      fprintf(stderr, "\n  summary lacks: %s\n--- summary\n%s", want[i], text);
      CU_FAIL("summary line missing");
    }
  }
  free(text);
  s.finished = 1;
  s.stop_reason = 1;
  text = capture(summary, &s, NULL);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "  finished         yes (budget reached)\n"));
  free(text);
  bn_snapshot_free(&s);
}

/* --- fixture for tests/checkpoint/read_with_h5py.py ----------------------------------- */

static void bn_checkpoint_write_should_leave_a_fixture_for_h5py(void) {
  char path[4096];
  const char *env = getenv("BN_CHECKPOINT_FIXTURE");
  if (env && env[0]) {
    snprintf(path, sizeof path, "%s", env);
  } else {
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
    CU_ASSERT_FATAL(n > 0);
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    CU_ASSERT_FATAL(slash != NULL);
    strcpy(slash + 1, "checkpoint_fixture.h5");
  }
  bn_snapshot s;
  build(&s, &three);
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, &s, NULL), BN_OK);
  bn_snapshot_free(&s);
}

BN_TEST_MAIN("checkpoint", BN_TEST(bn_checkpoint_write_should_round_trip_every_field),
             BN_TEST(bn_checkpoint_write_should_round_trip_empty_tables),
             BN_TEST(bn_checkpoint_write_should_round_trip_results_in_many_chunks),
             BN_TEST(bn_checkpoint_write_should_round_trip_a_config_over_64_kib),
             BN_TEST(bn_checkpoint_write_should_keep_the_previous_file_as_prev),
             BN_TEST(bn_checkpoint_write_should_fail_cleanly_in_a_missing_directory),
             BN_TEST(bn_checkpoint_write_should_leave_name_intact_when_writing_fails),
             BN_TEST(bn_checkpoint_write_should_refuse_an_incoherent_snapshot),
             BN_TEST(bn_checkpoint_read_should_refuse_truncated_files),
             BN_TEST(bn_checkpoint_read_should_refuse_random_bytes_and_text),
             BN_TEST(bn_checkpoint_read_should_refuse_a_missing_dataset),
             BN_TEST(bn_checkpoint_read_should_refuse_datasets_of_the_wrong_size_or_type),
             BN_TEST(bn_checkpoint_read_should_refuse_bad_attributes),
             BN_TEST(bn_checkpoint_read_should_accept_strings_as_other_tools_write_them),
             BN_TEST(bn_checkpoint_read_should_refuse_a_results_table_of_the_wrong_shape),
             BN_TEST(bn_checkpoint_read_should_survive_flipped_bytes),
             BN_TEST(bn_checkpoint_export_csv_should_write_one_quoted_row_per_result),
             BN_TEST(bn_checkpoint_export_csv_should_describe_states_with_the_domain),
             BN_TEST(bn_checkpoint_print_summary_should_show_every_section),
             BN_TEST(bn_checkpoint_write_should_leave_a_fixture_for_h5py))
