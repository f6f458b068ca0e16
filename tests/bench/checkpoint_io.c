/* Benchmark of checkpoint I/O (not part of the test suite): builds in memory a snapshot of
 * a search graph with N nodes (9-byte states, 3 edges per node) and N result rows, then
 * times (median of R runs)
 *
 *   segment    bn_segment_write of the N rows (temporary, fsync, rename), uncompressed and
 *              with shuffle + deflate 1: what each new result row costs once, in µs
 *   write      bn_checkpoint_write of the graph with /results a virtual dataset over the
 *              segment: HDF5 layout into NAME.tmp, fsync, NAME.prev, rename, dir fsync
 *   layout     the HDF5 part alone (bn__checkpoint_write_file, no fsync), for comparison
 *   read       bn_checkpoint_read with full validation (page cache warm; with --cold the
 *              page cache is dropped first, which needs root)
 *
 * usage: checkpoint_io [--nodes N] [--repeat R] [--dir DIR] [--cold]   (defaults 1000000 5 /tmp)
 * Prints one line per figure and the file size. Exit status 1 if anything fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banyan/checkpoint.h"

/* The HDF5 layout writer without the atomic replace (src/checkpoint/checkpoint_impl.h). */
bn_err bn__checkpoint_write_file(const char *path, const bn_snapshot *snap);


static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *must(void *p) {
  if (!p) {
    fprintf(stderr, "checkpoint_io: out of memory\n");
    exit(1);
  }
  return p;
}

static bn_result_row *rows_mem;
static unsigned char *states_mem;

static void build(bn_snapshot *s, uint64_t nodes, uint64_t results) {
  const size_t ss = 9;
  const uint64_t edges = 3 * nodes;
  memset(s, 0, sizeof *s);
  s->domain = must(strdup("synthetic"));
  s->config_text = must(strdup("[search]\niterations = 1000000\n"));
  s->banyan_version = must(strdup("bench"));
  s->created = 1.7e9;
  s->updated = 1.7e9 + 3600;
  s->state_size = ss;
  s->path_cap = 32;
  bn_tree_arrays *a = &s->tree;
  a->n_nodes = nodes;
  a->n_edges = edges;
  a->state_size = ss;
  a->states = must(malloc(nodes * ss));
  a->node_visits = must(malloc(nodes * sizeof *a->node_visits));
  a->node_reward_sum = must(malloc(nodes * sizeof *a->node_reward_sum));
  a->node_first_edge = must(malloc(nodes * sizeof *a->node_first_edge));
  a->node_n_edges = must(malloc(nodes * sizeof *a->node_n_edges));
  a->node_depth = must(malloc(nodes * sizeof *a->node_depth));
  a->node_flags = must(malloc(nodes * sizeof *a->node_flags));
  a->node_samples = must(malloc(nodes * sizeof *a->node_samples));
  for (uint64_t i = 0; i < nodes; i++) {
    for (size_t b = 0; b < ss; b++) a->states[i * ss + b] = (unsigned char)(i >> (b % 4 * 8));
    a->node_visits[i] = i % 1000;
    a->node_reward_sum[i] = (double)(i % 1000) * 0.5;
    a->node_first_edge[i] = (uint32_t)(3 * i);
    a->node_n_edges[i] = 3;
    a->node_depth[i] = (uint16_t)(i % 12);
    a->node_flags[i] = (uint8_t)(i % 8);
    a->node_samples[i] = (uint32_t)(i % 7);
  }
  a->edge_parent = must(malloc(edges * sizeof *a->edge_parent));
  a->edge_child = must(malloc(edges * sizeof *a->edge_child));
  a->edge_action = must(malloc(edges * sizeof *a->edge_action));
  a->edge_n_actions = must(malloc(edges * sizeof *a->edge_n_actions));
  a->edge_visits = must(malloc(edges * sizeof *a->edge_visits));
  a->edge_reward_sum = must(malloc(edges * sizeof *a->edge_reward_sum));
  a->edge_reward_sq = must(malloc(edges * sizeof *a->edge_reward_sq));
  a->edge_flags = must(calloc(edges, sizeof *a->edge_flags));
  for (uint64_t e = 0; e < edges; e++) {
    a->edge_parent[e] = (uint32_t)(e / 3);
    a->edge_child[e] = (uint32_t)((e * 7 + 1) % nodes);
    a->edge_action[e] = (int32_t)(e % 20);
    a->edge_n_actions[e] = (uint32_t)(e % 3) + 1;
    a->edge_visits[e] = e % 300;
    a->edge_reward_sum[e] = (double)(e % 300) * 0.25;
    a->edge_reward_sq[e] = (double)(e % 300) * 0.125;
  }
  s->run_id = 42;
  s->segment_dir = must(strdup("bench.d"));
  uint64_t failures = 0;
  rows_mem = must(calloc(results ? results : 1, sizeof *rows_mem));
  states_mem = must(calloc(results ? results : 1, ss));
  for (uint64_t i = 0; i < results; i++) {
    bn_result_row *r = &rows_mem[i];
    const int failed = i % 100 == 99;
    *r = (bn_result_row){.job_id = i, .seed = i * 0x9e3779b97f4a7c15ull, .kind = 1, .status = failed ? 2 : 1,
                         .attempts = 1, .engine = (int32_t)(1 + i % 8), .reward = failed ? 0 : (double)(i % 97) / 97,
                         .t_created = 1.7e9 + (double)i * 1e-3, .t_sent = 1.7e9 + (double)i * 1e-3 + 1e-4,
                         .t_started = 1.7e9 + (double)i * 1e-3 + 2e-4, .t_finished = 1.7e9 + (double)i * 1e-3 + 8e-4,
                         .t_received = 1.7e9 + (double)i * 1e-3 + 9e-4};
    if (failed) snprintf(r->failure_kind, sizeof r->failure_kind, "timeout");
    failures += failed;
    memcpy(states_mem + i * ss, a->states + (i % nodes) * ss, ss);
  }
  s->failure_groups = must(calloc(1, sizeof *s->failure_groups));
  snprintf(s->failure_groups[0].kind, sizeof s->failure_groups[0].kind, "timeout");
  s->failure_groups[0].count = failures;
  s->n_failure_groups = failures ? 1 : 0;
  s->completed = results;
  s->failures = failures;
  s->evaluations = results - failures;
  s->next_iteration = results;
  s->applied_upto = results;
  s->budget = results;
  a->n_backprops = s->evaluations;
}

static const bn_result_row *src_row(const void *ctx, uint64_t i) {
  (void)ctx;
  return &rows_mem[i];
}
static const unsigned char *src_state(const void *ctx, uint64_t i) {
  (void)ctx;
  return states_mem + i * 9;
}

static void drop_caches(void) {
  sync();
  FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
  if (!f || fputs("3\n", f) < 0 || fclose(f) != 0) {
    fprintf(stderr, "checkpoint_io: cannot drop the page cache (needs root); reading warm\n");
  }
}

static int by_value(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median of `repeat` timings of one write (atomic, or the HDF5 layout alone). */
static double time_write(int layout_only, const char *path, const bn_snapshot *s, int repeat, uint64_t *bytes) {
  double t[64];
  if (repeat > 64) repeat = 64;
  for (int r = 0; r < repeat; r++) {
    double t0 = now();
    bn_err e = layout_only ? bn__checkpoint_write_file(path, s) : bn_checkpoint_write(path, s, bytes);
    t[r] = now() - t0;
    if (e != BN_OK) {
      fprintf(stderr, "checkpoint_io: write failed: %s\n", bn_strerror(e));
      exit(1);
    }
  }
  qsort(t, (size_t)repeat, sizeof *t, by_value);
  return t[repeat / 2];
}

int main(int argc, char **argv) {
  uint64_t nodes = 1000000;
  int repeat = 5, cold = 0;
  const char *dir = "/tmp";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--nodes") && i + 1 < argc) nodes = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--cold")) cold = 1;
    else {
      fprintf(stderr, "usage: %s [--nodes N] [--repeat R] [--dir DIR] [--cold]\n", argv[0]);
      return 2;
    }
  }
  if (nodes == 0 || repeat < 1) return 2;
  char path[4096], layout[4096];
  snprintf(path, sizeof path, "%s/bench-checkpoint-%d.h5", dir, (int)getpid());
  snprintf(layout, sizeof layout, "%s/bench-checkpoint-%d-layout.h5", dir, (int)getpid());

  bn_snapshot full;
  build(&full, nodes, nodes);
  char segdir[4200];
  snprintf(segdir, sizeof segdir, "%s/bench.d", dir);
  if (bn_segment_dir_create(segdir) != BN_OK) return 1;
  const bn_result_source src = {.ctx = NULL, .row = src_row, .state = src_state};
  double t_seg[2] = {0, 0};
  uint64_t seg_bytes[2] = {0, 0};
  bn_segment_info seg;
  for (int deflate = 1; deflate >= 0; deflate--) {
    const bn_segment_params p = {.run_id = 42, .state_size = 9, .deflate = deflate};
    double t[64];
    for (int r = 0; r < repeat && r < 64; r++) {
      double t0 = now();
      if (bn_segment_write(segdir, &p, (uint64_t)deflate, 0, nodes, &src, &seg) != BN_OK) return 1;
      t[r] = now() - t0;
    }
    qsort(t, (size_t)(repeat < 64 ? repeat : 64), sizeof *t, by_value);
    t_seg[deflate] = t[(repeat < 64 ? repeat : 64) / 2];
    seg_bytes[deflate] = seg.bytes;
  }
  full.segments = must(malloc(sizeof seg));
  full.segments[0] = seg; /* the uncompressed one, number 0 */
  full.n_segments = 1;
  full.next_segment = 2;
  uint64_t bytes = 0;
  const double t_write = time_write(0, path, &full, repeat, &bytes);
  const double t_layout = time_write(1, layout, &full, repeat, NULL);

  double reads[64];
  if (repeat > 64) repeat = 64;
  for (int r = 0; r < repeat; r++) {
    if (cold) drop_caches();
    bn_snapshot back;
    char why[256];
    double t0 = now();
    bn_err e = bn_checkpoint_read(path, &back, why, sizeof why);
    double dt = now() - t0;
    if (e != BN_OK) {
      fprintf(stderr, "checkpoint_io: read failed: %s\n", why);
      return 1;
    }
    if (back.completed != nodes || back.n_segments != 1 || back.tree.n_edges != 3 * nodes) {
      fprintf(stderr, "checkpoint_io: read back the wrong sizes\n");
      return 1;
    }
    bn_snapshot_free(&back);
    reads[r] = dt;
  }
  qsort(reads, (size_t)repeat, sizeof *reads, by_value);
  const double t_read = reads[repeat / 2];

  printf("checkpoint_io: %llu nodes, %llu edges, %llu result rows, state 9 bytes, median of %d\n",
         (unsigned long long)nodes, (unsigned long long)(3 * nodes), (unsigned long long)nodes, repeat);
  printf("  main file size      %.1f MB (the graph; /results is virtual)\n", (double)bytes / 1e6);
  printf("  write (atomic)      %.3f s   %.0f MB/s\n", t_write, (double)bytes / 1e6 / t_write);
  printf("  write (layout only) %.3f s   (HDF5 part: no fsync, no rename)\n", t_layout);
  printf("  read  (%s)        %.3f s   %.0f MB/s, validated\n", cold ? "cold" : "warm", t_read,
         (double)bytes / 1e6 / t_read);
  printf("  segment, per row    %.3f us uncompressed (%.1f bytes/row), %.3f us shuffle + deflate 1 (%.1f bytes/row)\n",
         1e6 * t_seg[0] / (double)nodes, (double)seg_bytes[0] / (double)nodes, 1e6 * t_seg[1] / (double)nodes,
         (double)seg_bytes[1] / (double)nodes);

  char prev[4200];
  snprintf(prev, sizeof prev, "%s.prev", path);
  unlink(path);
  unlink(prev);
  unlink(layout);
  for (uint64_t q = 0; q < 2; q++) bn_segment_remove(segdir, q);
  rmdir(segdir);
  bn_snapshot_free(&full);
  free(rows_mem);
  free(states_mem);
  return 0;
}
