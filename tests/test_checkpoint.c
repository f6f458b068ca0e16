/* Checkpoint files: every field survives a write/read round trip (empty tables, results in
 * many segments and chunks, pending iterations, long strings), the results log streamed
 * back equal; NAME is replaced atomically and kept as NAME.prev; a failed write leaves NAME
 * as it was and no NAME.tmp; damaged, foreign or inconsistent main files are refused with a
 * reason, without a crash, without HDF5 printing, and without a byte of any file changing;
 * failures counted by kind and detail; the CSV export and the inspect summary. The segment files
 * themselves (merging, damaged or foreign segments, the /results virtual dataset) are
 * tested in test_segments.c.
 *
 * Runs are built by hand (tests/bn_checkpoint_test.h). Damaged variants are made with the
 * HDF5 API on copies of a good file. One test also leaves checkpoint_fixture.h5 (and its
 * segment directory) beside this executable (or at $BN_CHECKPOINT_FIXTURE) for
 * tests/checkpoint/read_with_h5py.py. */
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
#include "bn_checkpoint_test.h"
#include "bn_test.h"

/* --- round trips ---------------------------------------------------------------------- */

/* Write a run of `p`, read it back: every field equal, and the results log streamed `max`
 * rows at a time equal to the rows written, states included. */
static void round_trip(const spec *p, size_t max) {
  make_dir();
  const char *path = in_dir("run.h5");
  run a;
  bn_snapshot b;
  build(&a, p);
  commit(&a, path);
  uint64_t bytes = 0;
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &a.s, &bytes), BN_OK);
  CU_ASSERT(bytes > 0);
  char why[768] = "";
  bn_err e = bn_checkpoint_read(path, &b, why, sizeof why);
  if (e != BN_OK) fprintf(stderr, "\n  read: %s\n", why);
  CU_ASSERT_EQUAL_FATAL(e, BN_OK);
  const char *d = diff(&a.s, &b);
  if (d) fprintf(stderr, "\n  differs: %s\n", d);
  CU_ASSERT_PTR_NULL(d);
  const char *rows_differ = NULL;
  e = stream_compare(path, &b, &a, max, &rows_differ, why, sizeof why);
  if (e != BN_OK || rows_differ) fprintf(stderr, "\n  results log: %s\n", rows_differ ? rows_differ : why);
  CU_ASSERT(e == BN_OK && rows_differ == NULL);
  run_free(&a);
  bn_snapshot_free(&b);
  CU_ASSERT(!exists(in_dir("run.h5.tmp")) && !exists(in_dir("run.h5.prev.tmp")));
  remove_dir();
}

static void bn_checkpoint_write_should_round_trip_every_field(void) { round_trip(&small, 100); }

static void bn_checkpoint_write_should_round_trip_empty_tables(void) {
  spec p = {.nodes = 1, .state_size = 4, .path_cap = 3};
  round_trip(&p, 10);
  spec none = {.state_size = 1, .path_cap = 0}; /* not even a root: still a valid file */
  round_trip(&none, 1);
}

static void bn_checkpoint_write_should_round_trip_results_in_many_segments_and_chunks(void) {
  /* 70,001 rows in segments of 30,000: several HDF5 chunks (about 7,900 rows each at
   * 9-byte states) per segment, read back in 997-row batches that align with nothing, and
   * in batches larger than the reader's 4 MiB strips. */
  spec p = small;
  p.results = 70001;
  p.seg_rows = 30000;
  round_trip(&p, 997);
  round_trip(&p, 100000);
  /* Large states: a few rows per HDF5 chunk, many small segments. */
  spec q = small;
  q.state_size = 100000;
  q.nodes = 3;
  q.results = 130;
  q.seg_rows = 7;
  round_trip(&q, 11);
}

static void bn_checkpoint_write_should_round_trip_a_config_over_64_kib(void) {
  const size_t n = 200000;
  char *config = malloc(n + 1);
  CU_ASSERT_FATAL(config != NULL);
  for (size_t i = 0; i < n; i++) config[i] = (i % 61 == 60) ? '\n' : (char)('a' + i % 26);
  config[n] = '\0';
  spec p = small;
  p.config = config;
  round_trip(&p, 500);
  free(config);
}

/* --- atomic replace ------------------------------------------------------------------- */

static void bn_checkpoint_write_should_keep_the_previous_file_as_prev(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  run a, b;
  build(&a, &small);
  commit(&a, path);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &a.s, NULL), BN_OK);
  blob first = slurp(path);
  CU_ASSERT(!exists(in_dir("run.h5.prev")));
  /* The next checkpoint of the run: 100 more rows in one new segment. */
  spec p = small;
  p.results = 600;
  p.seg_rows = 100;
  build(&b, &p);
  adopt(&b, &a.s);
  commit(&b, path);
  CU_ASSERT_EQUAL(b.s.n_segments, a.s.n_segments + 1);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &b.s, NULL), BN_OK);
  blob prev = slurp(in_dir("run.h5.prev"));
  CU_ASSERT(same_blob(first, prev));
  bn_snapshot s;
  char why[768];
  const char *differs = NULL;
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(path, &s, why, sizeof why), BN_OK);
  CU_ASSERT_EQUAL(s.completed, 600);
  CU_ASSERT(stream_compare(path, &s, &b, 256, &differs, why, sizeof why) == BN_OK && !differs);
  bn_snapshot_free(&s);
  /* NAME.prev still reads with its own (older) segments. */
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(in_dir("run.h5.prev"), &s, why, sizeof why), BN_OK);
  CU_ASSERT_EQUAL(s.completed, 500);
  CU_ASSERT_PTR_NULL(diff(&a.s, &s));
  CU_ASSERT(stream_compare(in_dir("run.h5.prev"), &s, &a, 256, &differs, why, sizeof why) == BN_OK && !differs);
  bn_snapshot_free(&s);
  CU_ASSERT(!exists(in_dir("run.h5.tmp")) && !exists(in_dir("run.h5.prev.tmp")));
  run_free(&a);
  run_free(&b);
  free(first.data);
  free(prev.data);
  remove_dir();
}

static void bn_checkpoint_write_should_fail_cleanly_in_a_missing_directory(void) {
  make_dir();
  const char *path = in_dir("no/such/dir/run.h5");
  run r;
  build(&r, &small);
  commit(&r, in_dir("run.h5")); /* segments elsewhere: the main file cannot be created */
  uint64_t bytes = 12345;
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, &r.s, &bytes), BN_ERR_IO);
  bn_log_setup(-1, BN_LOG_INFO);
  CU_ASSERT_EQUAL(bytes, 12345); /* written on success only */
  CU_ASSERT(!exists(in_dir("no")));
  run_free(&r);
  remove_dir();
}

/* A write that fails half-way (the file size limit is hit inside HDF5, as a full disk
 * would be) must leave NAME byte-identical and remove NAME.tmp; the next write in the same
 * process must succeed. The main file no longer holds the results, so a large graph makes
 * it big. Runs in a child process: HDF5 may keep the failed file's handle until exit.
 * Works as root, unlike a read-only directory. */
static void bn_checkpoint_write_should_leave_name_intact_when_writing_fails(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  write_run(path, &small);
  blob before = slurp(path);
  fflush(NULL);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    spec big = small;
    big.nodes = 20000; /* about 800 KB of graph */
    run r;
    build(&r, &big);
    bn_snapshot old;
    char why[768];
    if (bn_checkpoint_read(path, &old, why, sizeof why) != BN_OK) _exit(9);
    adopt(&r, &old); /* same rows: no new segment */
    bn_snapshot_free(&old);
    commit(&r, path);
    struct rlimit lim_old, lim;
    if (getrlimit(RLIMIT_FSIZE, &lim_old) != 0) _exit(10);
    lim = lim_old;
    lim.rlim_cur = 256 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(11);
    bn_log_setup(-1, BN_LOG_SILENT);
    bn_err e = bn_checkpoint_write(path, &r.s, NULL);
    if (setrlimit(RLIMIT_FSIZE, &lim_old) != 0) _exit(12);
    if (e != BN_ERR_HDF5 && e != BN_ERR_IO) _exit(13);
    blob after = slurp(path);
    if (!same_blob(before, after)) _exit(14);
    if (exists(in_dir("run.h5.tmp")) || exists(in_dir("run.h5.prev"))) _exit(15);
    uint64_t bytes = 0;
    if (bn_checkpoint_write(path, &r.s, &bytes) != BN_OK || bytes <= 256 * 1024) _exit(16);
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
  char why[768];
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(path, &s, why, sizeof why), BN_OK);
  CU_ASSERT_EQUAL(s.tree.n_nodes, 20000);
  CU_ASSERT_EQUAL(s.completed, 500);
  bn_snapshot_free(&s);
  free(prev.data);
  free(before.data);
  remove_dir();
}

static void bn_checkpoint_write_should_refuse_an_incoherent_snapshot(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  run r;
  build(&r, &small);
  commit(&r, path);
  bn_snapshot *s = &r.s;
  bn_log_setup(-1, BN_LOG_SILENT);
  s->completed += 1; /* no longer == the rows of the segments */
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, s, NULL), BN_ERR_ARG);
  s->completed -= 1;
  s->failure_groups[0].count += 1; /* no longer sums to `failures` */
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, s, NULL), BN_ERR_ARG);
  s->failure_groups[0].count -= 1;
  s->segments[1].first_row += 1; /* a gap in the log */
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, s, NULL), BN_ERR_ARG);
  s->segments[1].first_row -= 1;
  s->segments[2].seq = s->next_segment; /* a segment number not yet used */
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, s, NULL), BN_ERR_ARG);
  s->segments[2].seq = 2;
  char *name = s->segment_dir;
  s->segment_dir = "../elsewhere"; /* outside the checkpoint's directory */
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, s, NULL), BN_ERR_ARG);
  s->segment_dir = name;
  s->top[0].job_id = s->next_iteration;
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, s, NULL), BN_ERR_ARG);
  s->top[0].job_id = 0;
  s->state_size = 0;
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, s, NULL), BN_ERR_ARG);
  s->state_size = small.state_size;
  bn_log_setup(-1, BN_LOG_INFO);
  CU_ASSERT(!exists(path) && !exists(in_dir("run.h5.tmp")));
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, s, NULL), BN_OK); /* the restored snapshot is fine */
  run_free(&r);
  remove_dir();
}

/* --- damaged and foreign files -------------------------------------------------------- */

static void bn_checkpoint_read_should_refuse_truncated_files(void) {
  make_dir();
  const char *good = in_dir("good.h5");
  write_run(good, &small);
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
  expect_refused(in_dir("junk.h5"), BN_ERR_CORRUPT, "not a banyan checkpoint file");
  const char text[] = "[search]\niterations = 10\n";
  spit(in_dir("text.h5"), text, sizeof text - 1);
  expect_refused(in_dir("text.h5"), BN_ERR_CORRUPT, "not a banyan checkpoint file");
  expect_refused(in_dir("missing.h5"), BN_ERR_IO, "No such file");
  expect_refused(dir, BN_ERR_IO, "not a regular file");
  remove_dir();
}

static void bn_checkpoint_read_should_refuse_a_missing_dataset(void) {
  make_dir();
  char good[256];
  snprintf(good, sizeof good, "%s", in_dir("good.h5"));
  write_run(good, &small);
  const char *p = copy_of(good, "nochild.h5");
  hid_t f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/tree/edges/child", H5P_DEFAULT) >= 0);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/tree/edges/child is missing");
  /* A version 3 file from before edges kept their action counts: refused, not guessed. */
  p = copy_of(good, "nocounts.h5");
  f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/tree/edges/n_actions", H5P_DEFAULT) >= 0);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/tree/edges/n_actions is missing");
  p = copy_of(good, "nostats.h5");
  f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/stats", H5P_DEFAULT) >= 0);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/stats is missing");
  p = copy_of(good, "nosegments.h5");
  f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/segments", H5P_DEFAULT) >= 0);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/segments is missing");
  p = copy_of(good, "noattr.h5");
  f = open_rw(p);
  CU_ASSERT(H5Adelete(f, "completed") >= 0);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "attribute completed of / is missing");
  p = copy_of(good, "norun.h5");
  f = open_rw(p);
  CU_ASSERT(H5Adelete(f, "run_id") >= 0);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "attribute run_id of / is missing");
  remove_dir();
}

/* Replace dataset `path` with an empty one of `rank` dims and element type `type`. */
static void replace_dataset(hid_t f, const char *path, hid_t type, int rank, const hsize_t *dims) {
  CU_ASSERT(H5Ldelete(f, path, H5P_DEFAULT) >= 0);
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(f, path, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(d >= 0);
  H5Dclose(d);
  H5Sclose(sp);
}

static void bn_checkpoint_read_should_refuse_datasets_of_the_wrong_size_or_type(void) {
  make_dir();
  char good[256];
  snprintf(good, sizeof good, "%s", in_dir("good.h5"));
  write_run(good, &small);

  /* /tree/states one byte too wide per row */
  const char *p = copy_of(good, "states.h5");
  hid_t f = open_rw(p);
  const hsize_t wide[2] = {small.nodes, small.state_size + 1};
  replace_dataset(f, "/tree/states", H5T_STD_U8LE, 2, wide);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/tree/states has 10 columns, expected 9");

  /* one node array shorter than the others */
  p = copy_of(good, "short.h5");
  f = open_rw(p);
  hsize_t n = small.nodes - 1;
  replace_dataset(f, "/tree/nodes/depth", H5T_STD_U16LE, 1, &n);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/tree/nodes/depth has 39 rows, expected 40");

  /* the states of the top evaluations do not match their table */
  p = copy_of(good, "top.h5");
  f = open_rw(p);
  const hsize_t top[2] = {small.top - 1, small.state_size};
  replace_dataset(f, "/stats/top_states", H5T_STD_U8LE, 2, top);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/stats/top_states has 3 rows, expected 4");

  /* node visits stored as doubles */
  p = copy_of(good, "type.h5");
  f = open_rw(p);
  n = small.nodes;
  replace_dataset(f, "/tree/nodes/visits", H5T_IEEE_F64LE, 1, &n);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/tree/nodes/visits is not uint64");

  /* a hostile size: 2^40 rows of an (unwritten, chunked) table in a small file */
  p = copy_of(good, "huge.h5");
  f = open_rw(p);
  CU_ASSERT(H5Ldelete(f, "/stats/engines", H5P_DEFAULT) >= 0);
  hid_t c = H5Tcreate(H5T_COMPOUND, 36);
  H5Tinsert(c, "rank", 0, H5T_STD_I32LE);
  H5Tinsert(c, "jobs", 4, H5T_STD_U64LE);
  H5Tinsert(c, "failures", 12, H5T_STD_U64LE);
  H5Tinsert(c, "busy_seconds", 20, H5T_IEEE_F64LE);
  H5Tinsert(c, "idle_seconds", 28, H5T_IEEE_F64LE);
  hsize_t huge = (hsize_t)1 << 40, chunk = 1024;
  hid_t sp = H5Screate_simple(1, &huge, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, &chunk);
  hid_t d = H5Dcreate2(f, "/stats/engines", c, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  CU_ASSERT(d >= 0);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  H5Tclose(c);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "/stats/engines claims 39582418599936 bytes but the file has");

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

/* Replace string attribute `name` of the root with `value` stored as `type`. */
static void set_attr_str(hid_t f, const char *name, hid_t type, const void *value) {
  CU_ASSERT(H5Adelete(f, name) >= 0);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(a >= 0 && H5Awrite(a, type, value) >= 0);
  H5Aclose(a);
  H5Sclose(sp);
}

static void bn_checkpoint_read_should_refuse_bad_attributes(void) {
  make_dir();
  char good[256];
  snprintf(good, sizeof good, "%s", in_dir("good.h5"));
  write_run(good, &small);
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

  /* one more result claimed (and counted as an evaluation, and claimed as an iteration)
   * than the segments hold */
  p = copy_of(good, "counters.h5");
  f = open_rw(p);
  set_attr_u64(f, "completed", H5T_STD_U64LE, small.results + 1);
  set_attr_u64(f, "evaluations", H5T_STD_U64LE, small.results - 110 + 1);
  set_attr_u64(f, "next_iteration", H5T_STD_U64LE, small.results + small.pending + 2 + 1);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "the segments hold 500 rows but completed = 501");

  p = copy_of(good, "failures.h5");
  f = open_rw(p);
  set_attr_u64(f, "failures", H5T_STD_U64LE, 111);
  set_attr_u64(f, "evaluations", H5T_STD_U64LE, small.results - 111);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "the segments hold 110 failed rows but failures = 111");

  p = copy_of(good, "sign.h5");
  f = open_rw(p);
  set_attr_u64(f, "seed", H5T_STD_I64LE, 5);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "attribute seed of / is not uint64");

  /* a segment directory that would leave the checkpoint's directory */
  p = copy_of(good, "escape.h5");
  f = open_rw(p);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, 16);
  set_attr_str(f, "segment_dir", t, "../good.h5.d\0\0\0\0");
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "segment_dir \"../good.h5.d\" is not a plain directory name");

  /* a NUL-terminated string type whose bytes fill its length without a NUL */
  p = copy_of(good, "unterminated.h5");
  f = open_rw(p);
  H5Tset_size(t, 4);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  set_attr_str(f, "domain", t, "abcd");
  H5Tclose(t);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "attribute domain of / is not NUL-terminated");
  remove_dir();
}

/* Version 2 kept the rows inside the file: refused, with a message naming the version. */
static void bn_checkpoint_read_should_refuse_format_version_2_naming_it(void) {
  make_dir();
  char good[256];
  snprintf(good, sizeof good, "%s", in_dir("good.h5"));
  write_run(good, &small);
  const char *p = copy_of(good, "v2.h5");
  hid_t f = open_rw(p);
  set_attr_u64(f, "format_version", H5T_STD_U32LE, 2);
  H5Fclose(f);
  expect_refused(p, BN_ERR_CORRUPT, "format_version 2 is not supported (this banyan reads version 5");
  expect_refused(p, BN_ERR_CORRUPT, "version 2 files come from banyan before streaming results");
  remove_dir();
}

static void bn_checkpoint_read_should_accept_strings_as_other_tools_write_them(void) {
  make_dir();
  char good[256];
  snprintf(good, sizeof good, "%s", in_dir("good.h5"));
  write_run(good, &small);
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
  const char *config = "[search]\nc = 2\n", *segdir = "good.h5.d";
  set_attr_str(f, "config", vl, &config);
  set_attr_str(f, "segment_dir", vl, &segdir);
  H5Tclose(nullpad);
  H5Tclose(spacepad);
  H5Tclose(vl);
  H5Fclose(f);
  bn_snapshot s;
  char why[768] = "";
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(p, &s, why, sizeof why), BN_OK);
  CU_ASSERT_STRING_EQUAL(s.domain, "synthetic");
  CU_ASSERT_STRING_EQUAL(s.banyan_version, "0.1");
  CU_ASSERT_STRING_EQUAL(s.config_text, config);
  CU_ASSERT_STRING_EQUAL(s.segment_dir, segdir);
  bn_snapshot_free(&s);
  remove_dir();
}

/* Flip bytes all over a small file: every read must return (OK or an error), never crash. */
static void bn_checkpoint_read_should_survive_flipped_bytes(void) {
  make_dir();
  spec p = small;
  p.results = 40;
  const char *good = in_dir("good.h5");
  write_run(good, &p);
  blob b = slurp(good);
  const char *bad = in_dir("flip.h5");
  int refused = 0, accepted = 0;
  for (size_t pos = 0; pos < b.size; pos += 97) {
    unsigned char saved = b.data[pos];
    b.data[pos] ^= 0x5a;
    spit(bad, b.data, b.size);
    b.data[pos] = saved;
    bn_snapshot s;
    char why[768] = "";
    bn_err e = bn_checkpoint_read(bad, &s, why, sizeof why);
    if (e == BN_OK) {
      accepted++;
      bn_snapshot_free(&s);
    } else {
      CU_ASSERT(e == BN_ERR_CORRUPT || e == BN_ERR_IO || e == BN_ERR_NOMEM);
      CU_ASSERT(why[0] != '\0');
      refused++;
    }
    /* the same flip with the seal made valid again: HDF5 and the checks behind the seal
     * see it (in the reader process): an error or valid data, never a crash */
    if ((pos / 97) % 4 != 0) continue; /* a reader process each: a quarter of them */
    reseal(bad);
    e = bn_checkpoint_read(bad, &s, why, sizeof why);
    if (e == BN_OK) bn_snapshot_free(&s);
    else CU_ASSERT(e == BN_ERR_CORRUPT || e == BN_ERR_IO || e == BN_ERR_NOMEM);
  }
  /* the seal catches every flipped byte, before HDF5 reads any */
  CU_ASSERT(refused > 0 && accepted == 0);
  free(b.data);
  remove_dir();
}

/* --- failures by kind ----------------------------------------------------------------- */

static void expect_failure_reason(const char *text, const char *want) {
  char reason[BN_JOB_REASON_LEN];
  bn_failure_reason(reason, sizeof reason, text);
  CU_ASSERT_STRING_EQUAL(reason, want);
  if (strcmp(reason, want)) fprintf(stderr, "\n  reason of \"%s\": \"%s\", not \"%s\"\n", text ? text : "(null)", reason, want);
  char again[BN_JOB_REASON_LEN];
  bn_failure_reason(again, sizeof again, reason);
  CU_ASSERT_STRING_EQUAL(again, reason); /* idempotent */
}

static void bn_failure_reason_should_keep_a_stable_kind_apart_from_the_detail(void) {
  expect_failure_reason("exit status: 3", "exit status: 3");
  expect_failure_reason("exit status 3", "exit status: 3");
  expect_failure_reason("killed by signal 11 (SIGSEGV)", "killed by signal: 11 (SIGSEGV)");
  expect_failure_reason("event cap: 100000 events reached at t=342 s (parameter set 17)",
                "event cap: 100000 events reached at t=342 s (parameter set 17)");
  expect_failure_reason("unparsable output: \"a: b\"", "unparsable output: \"a: b\"");
  expect_failure_reason("  injected failure \n", "injected failure");
  expect_failure_reason("no output", "no output");
  expect_failure_reason("", "error: no reason given");
  expect_failure_reason(NULL, "error: no reason given");
  expect_failure_reason("42 went wrong", "error: 42 went wrong");
  expect_failure_reason("bad\nline\tend", "bad line end");
  expect_failure_reason("step 17: diverged", "step: 17: diverged"); /* "step 17" holds a number: not a kind */
  expect_failure_reason("a very long kind phrase without any digits at all", "a very long kind phrase: without any digits at all");
  char kind[BN_FAILURE_KIND_LEN], detail[BN_FAILURE_DETAIL_LEN];
  bn_failure_split("timeout: after 60 s", kind, detail);
  CU_ASSERT_STRING_EQUAL(kind, "timeout");
  CU_ASSERT_STRING_EQUAL(detail, "after 60 s");
  bn_failure_split("no output", kind, detail);
  CU_ASSERT_STRING_EQUAL(kind, "no output");
  CU_ASSERT_STRING_EQUAL(detail, "");
  bn_failure_split("exit status 4", kind, detail); /* any text: normalised first */
  CU_ASSERT_STRING_EQUAL(kind, "exit status");
  CU_ASSERT_STRING_EQUAL(detail, "4");
}

static void bn_failure_reason_should_cut_a_long_detail_after_a_word(void) {
  /* Words of 1 to 9 letters: wherever the cut falls, a word must end just before "…". */
  char text[1200] = "unparsable output: \"", *p = text + strlen(text);
  for (int i = 0; i < 120; i++) {
    const int n = 1 + i % 9;
    for (int k = 0; k < n; k++) *p++ = (char)('a' + k);
    *p++ = ' ';
  }
  p[-1] = '"';
  *p = '\0';
  for (size_t n = BN_FAILURE_KIND_LEN; n <= BN_JOB_REASON_LEN; n += 7) {
    char reason[BN_JOB_REASON_LEN];
    bn_failure_reason(reason, n, text);
    const size_t len = strlen(reason);
    CU_ASSERT(len < n);
    const char *dots = strstr(reason, "\xe2\x80\xa6");
    if (len > strlen("unparsable output: ") + 5) {
      CU_ASSERT_PTR_NOT_NULL_FATAL(dots);
      CU_ASSERT_STRING_EQUAL(dots, "\xe2\x80\xa6\""); /* the closing quote kept */
      /* the kept text is the original's start, and a word ends where it was cut */
      const size_t kept = (size_t)(dots - reason);
      CU_ASSERT_EQUAL(strncmp(reason, text, kept), 0);
      CU_ASSERT(text[kept] == ' ');
    } else {
      CU_ASSERT_STRING_EQUAL(reason, "unparsable output"); /* no room for a detail: the kind alone */
    }
  }
  /* One long word (a path): cut at a character boundary, never inside a UTF-8 character. */
  char word[400] = "cannot run: ";
  for (int i = 0; i < 100; i++) strcat(word, "\xc3\xa9"); /* é */
  char reason[BN_JOB_REASON_LEN];
  bn_failure_reason(reason, sizeof reason, word);
  const char *dots = strstr(reason, "\xe2\x80\xa6");
  CU_ASSERT_PTR_NOT_NULL_FATAL(dots);
  CU_ASSERT_EQUAL((dots - reason - (long)strlen("cannot run: ")) % 2, 0);
  CU_ASSERT_STRING_EQUAL(dots, "\xe2\x80\xa6");
}

static void bn_failure_tally_add_should_count_by_kind_and_detail(void) {
  bn_failure_tally t = {0};
  CU_ASSERT_EQUAL(bn_failure_tally_add(&t, "exit status: 3", 2), BN_OK);
  CU_ASSERT_EQUAL(bn_failure_tally_add(&t, "timeout", 1), BN_OK);
  CU_ASSERT_EQUAL(bn_failure_tally_add(&t, "exit status 3", 5), BN_OK); /* normalised: the same */
  CU_ASSERT_EQUAL(bn_failure_tally_add(&t, NULL, 1), BN_OK);
  CU_ASSERT_EQUAL(bn_failure_tally_add(&t, "", 2), BN_OK);
  CU_ASSERT_EQUAL_FATAL(t.n, 3);
  CU_ASSERT_STRING_EQUAL(t.groups[0].kind, "exit status");
  CU_ASSERT_STRING_EQUAL(t.groups[0].detail, "3");
  CU_ASSERT_EQUAL(t.groups[0].count, 7);
  CU_ASSERT_STRING_EQUAL(t.groups[1].kind, "timeout");
  CU_ASSERT_STRING_EQUAL(t.groups[1].detail, "");
  CU_ASSERT_STRING_EQUAL(t.groups[2].kind, "error");
  CU_ASSERT_STRING_EQUAL(t.groups[2].detail, "no reason given");
  CU_ASSERT_EQUAL(t.groups[2].count, 3);
  const bn_failure_group g = {.kind = "timeout", .detail = "", .count = 4};
  CU_ASSERT_EQUAL(bn_failure_tally_add_group(&t, &g), BN_OK);
  CU_ASSERT_EQUAL(t.n, 3);
  CU_ASSERT_EQUAL(t.groups[1].count, 5);
  bn_failure_tally_free(&t);
  CU_ASSERT(t.groups == NULL && t.n == 0 && t.cap == 0);
  bn_failure_tally_free(&t); /* twice is harmless */
}

/* One cause with many values (the event cap at many times) stays one kind, with at most
 * BN_FAILURE_DETAILS_PER_KIND details of its own; past BN_FAILURE_REASONS rows new kinds
 * are counted as "(other kinds)", and a checkpoint holding such a tally reads back (one row
 * more is refused). */
static void bn_failure_tally_add_should_keep_every_kind_exact_past_the_caps(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  run r;
  spec p = small;
  p.results = 600;
  build(&r, &p);
  bn_failure_tally t = {0};
  for (uint64_t i = 0; i < r.n_rows; i++) {
    bn_result_row *row = &r.rows[i];
    char why[128];
    if (i < 300) /* 300 values of one cause */
      snprintf(why, sizeof why, "event cap: 100000 events reached at t=%d s (parameter set %d)", (int)i, (int)i % 7);
    else if (i < 580) /* then 280 kinds of one failure each */
      snprintf(why, sizeof why, "kind %c%c: x", 'a' + (int)(i - 300) / 26, 'a' + (int)(i - 300) % 26);
    else
      snprintf(why, sizeof why, "event cap: 100000 events reached at t=%d s (parameter set 1)", (int)i);
    bn_failure_split(why, row->failure_kind, row->failure_detail);
    row->status = BN_JOB_FAILED;
    row->reward = 0.0;
    CU_ASSERT_EQUAL(bn_failure_tally_add(&t, why, 1), BN_OK);
  }
  CU_ASSERT_EQUAL_FATAL(t.n, BN_FAILURE_REASONS + 1);
  uint64_t sum = 0, cap = 0, cap_details = 0, other_kinds = 0;
  for (size_t i = 0; i < t.n; i++) {
    sum += t.groups[i].count;
    if (!strcmp(t.groups[i].kind, "event cap")) {
      cap += t.groups[i].count;
      cap_details++;
    }
    if (!strcmp(t.groups[i].kind, "(other kinds)")) other_kinds += t.groups[i].count;
  }
  CU_ASSERT_EQUAL(sum, r.n_rows);
  CU_ASSERT_EQUAL(cap, 320); /* every event-cap failure, as one kind */
  CU_ASSERT_EQUAL(cap_details, BN_FAILURE_DETAILS_PER_KIND + 1);
  CU_ASSERT_STRING_EQUAL(t.groups[BN_FAILURE_DETAILS_PER_KIND].detail, "(other details)");
  CU_ASSERT_EQUAL(t.groups[BN_FAILURE_DETAILS_PER_KIND].count, 320 - BN_FAILURE_DETAILS_PER_KIND);
  CU_ASSERT_EQUAL(other_kinds, 280 - (BN_FAILURE_REASONS - BN_FAILURE_DETAILS_PER_KIND - 1));

  recount(&r);
  free(r.s.failure_groups);
  r.s.failure_groups = xcalloc(t.n, sizeof *t.groups);
  memcpy(r.s.failure_groups, t.groups, t.n * sizeof *t.groups);
  r.s.n_failure_groups = t.n;
  commit(&r, path);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  bn_snapshot s;
  char why[768] = "";
  const char *differs = NULL;
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(path, &s, why, sizeof why), BN_OK);
  CU_ASSERT_PTR_NULL(diff(&r.s, &s));
  CU_ASSERT(stream_compare(path, &s, &r, 100, &differs, why, sizeof why) == BN_OK && !differs);
  bn_snapshot_free(&s);

  r.s.failure_groups = realloc(r.s.failure_groups, (t.n + 1) * sizeof *t.groups);
  CU_ASSERT_FATAL(r.s.failure_groups != NULL);
  r.s.failure_groups[t.n] = (bn_failure_group){.kind = "one too many", .count = 0};
  r.s.n_failure_groups = t.n + 1;
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, &r.s, NULL), BN_ERR_ARG);
  bn_log_setup(-1, BN_LOG_INFO);
  run_free(&r);
  bn_failure_tally_free(&t);
  remove_dir();
}

static void bn_failure_count_groups_should_group_by_kind_then_detail(void) {
  const bn_failure_group in[] = {
      {"exit status", "3", 2}, {"exit status", "4", 5}, {"signal", "11 (SIGSEGV)", 1},
      {"unparsable output", "\"x\"", 3}, {"exit status", "3", 1}, {"", "", 1}, {"no output", "", 4},
  };
  bn_failure_counts fc;
  memset(&fc, 0x5a, sizeof fc);
  CU_ASSERT_EQUAL_FATAL(bn_failure_count_groups(in, sizeof in / sizeof in[0], &fc), BN_OK);
  CU_ASSERT_EQUAL(fc.failed, 17);
  /* by kind, most frequent first, ties in text order; an empty kind is "error" */
  const bn_failure_group kinds[] = {
      {"exit status", "", 8}, {"no output", "", 4}, {"unparsable output", "", 3}, {"error", "", 1}, {"signal", "", 1}};
  CU_ASSERT_EQUAL_FATAL(fc.n_kinds, 5);
  for (size_t i = 0; i < fc.n_kinds; i++) {
    CU_ASSERT_STRING_EQUAL(fc.kinds[i].kind, kinds[i].kind);
    CU_ASSERT_STRING_EQUAL(fc.kinds[i].detail, "");
    CU_ASSERT_EQUAL(fc.kinds[i].count, kinds[i].count);
  }
  /* by kind and detail: in the order of the kinds, most frequent first within one */
  const bn_failure_group reasons[] = {{"exit status", "4", 5}, {"exit status", "3", 3}, {"no output", "", 4},
                                      {"unparsable output", "\"x\"", 3}, {"error", "", 1}, {"signal", "11 (SIGSEGV)", 1}};
  CU_ASSERT_EQUAL_FATAL(fc.n_reasons, 6);
  for (size_t i = 0; i < fc.n_reasons; i++) {
    CU_ASSERT_STRING_EQUAL(fc.reasons[i].kind, reasons[i].kind);
    CU_ASSERT_STRING_EQUAL(fc.reasons[i].detail, reasons[i].detail);
    CU_ASSERT_EQUAL(fc.reasons[i].count, reasons[i].count);
  }
  /* The printed table and the JSON members. */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CU_ASSERT_FATAL(f != NULL);
  bn_failure_counts_print(&fc, 100, 4, f);
  bn_failure_counts_json(&fc, 3, f);
  fclose(f);
  CU_ASSERT_STRING_EQUAL(text,
                         "failures by kind (17 of 100 results)\n"
                         "           8  exit status\n"
                         "                       5  4\n"
                         "                       3  3\n"
                         "           4  no output\n"
                         "           3  unparsable output\n"
                         "                       3  \"x\"\n"
                         "           1  error\n"
                         "  ... 1 more kinds\n"
                         ",\n  \"failures_by_kind\": {\n    \"exit status\": 8,\n    \"no output\": 4,\n"
                         "    \"unparsable output\": 3,\n    \"error\": 1,\n    \"signal\": 1\n  },\n"
                         "  \"failures_by_reason\": {\n    \"exit status: 4\": 5,\n    \"no output\": 4,\n"
                         "    \"exit status: 3\": 3\n  }");
  free(text);
  bn_failure_counts_free(&fc);
  CU_ASSERT(fc.reasons == NULL && fc.kinds == NULL && fc.n_reasons == 0 && fc.failed == 0);
  CU_ASSERT_EQUAL(bn_failure_count_groups(NULL, 0, &fc), BN_OK); /* no failures */
  CU_ASSERT(fc.failed == 0 && fc.n_reasons == 0 && fc.n_kinds == 0);
  bn_failure_counts_free(&fc);
}

/* --- export and summary --------------------------------------------------------------- */

static const spec three = {.nodes = 2, .edges = 1, .results = 3, .seg_rows = 2, .state_size = 2, .path_cap = 2,
                           .engines = 1, .history = 1, .best = 1, .top = 1, .timeline = 2, .config = "[search]\n"};

/* Write the run `r` as the checkpoint `path` and read it back into *s. */
static void write_and_read(run *r, const char *path, bn_snapshot *s) {
  commit(r, path);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &r->s, NULL), BN_OK);
  char why[768] = "";
  const bn_err e = bn_checkpoint_read(path, s, why, sizeof why);
  if (e != BN_OK) fprintf(stderr, "\n  read: %s\n", why);
  CU_ASSERT_EQUAL_FATAL(e, BN_OK);
}

static char *export_text(const char *path, const bn_snapshot *s, const bn_domain *d) {
  char *text = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&text, &n);
  CU_ASSERT_FATAL(f != NULL);
  CU_ASSERT_EQUAL(bn_checkpoint_export_csv(path, s, d, f), BN_OK);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  return text;
}

static void bn_checkpoint_export_csv_should_write_one_quoted_row_per_result(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  run r;
  bn_snapshot s;
  build(&r, &three);
  snprintf(r.rows[2].failure_kind, sizeof r.rows[2].failure_kind, "bad, kind");
  snprintf(r.rows[2].failure_detail, sizeof r.rows[2].failure_detail, "\"odd\"\nline");
  r.rows[2].status = BN_JOB_FAILED;
  r.rows[2].reward = 0.0;
  r.rows[1].sample = UINT32_MAX; /* a rollout's terminal: no sample index */
  recount(&r);
  write_and_read(&r, path, &s);
  CU_ASSERT_EQUAL(s.n_segments, 2);
  char *text = export_text(path, &s, NULL);
  const char *want =
      "job_id,iteration,seed,kind,status,attempts,sample,engine,reward,t_created,t_sent,t_started,t_finished,"
      "t_received,failure_kind,failure_detail,state\n"
      "0,0,0,reward,ok,1,0,0,0,1700000000,1700000000.125,1700000000.25,1700000001,1700000001.5,\"\",\"\",\"0003\"\n"
      "1,1,11400714819323198485,simulate,ok,2,,1,0.33333333333333331,1700000001,1700000001.125,"
      "1700000001.25,1700000002,1700000002.5,\"\",\"\",\"0104\"\n"
      "2,2,4354685564936845354,reward,failed,3,2,2,0,1700000002,1700000002.125,1700000002.25,1700000003,"
      "1700000003.5,\"bad, kind\",\"\"\"odd\"\"\nline\",\"0205\"\n";
  const char *got = text ? text : "";
  if (strcmp(got, want) != 0) fprintf(stderr, "\n--- got\n%s--- want\n%s", got, want);
  CU_ASSERT_STRING_EQUAL(got, want);
  free(text);
  bn_snapshot_free(&s);
  run_free(&r);
  remove_dir();
}

static int letters(const void *ctx, const void *state, char *buf, size_t n) {
  (void)ctx;
  const unsigned char *b = state;
  return snprintf(buf, n, "S%c%c", 'A' + b[0] % 26, 'A' + b[1] % 26);
}

static void bn_checkpoint_export_csv_should_describe_states_with_the_domain(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  run r;
  bn_snapshot s;
  build(&r, &three);
  write_and_read(&r, path, &s);
  static const bn_domain_ops ops = {.api_version = BN_DOMAIN_API_VERSION, .name = "letters", .describe = letters};
  const bn_domain d = {.ops = &ops, .ctx = NULL, .info = {.state_size = 2, .max_actions = 1, .max_depth = 1}};
  char *text = export_text(path, &s, &d);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, ",\"\",\"SAD\"\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, ",\"\",\"SBE\"\n"));
  free(text);
  const bn_domain wrong = {.ops = &ops, .info = {.state_size = 3}};
  FILE *f = fopen("/dev/null", "w");
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_checkpoint_export_csv(path, &s, &wrong, f), BN_ERR_ARG);
  bn_log_setup(-1, BN_LOG_INFO);
  fclose(f);
  bn_snapshot_free(&s);
  run_free(&r);
  remove_dir();
}

static void bn_checkpoint_print_summary_should_show_every_section(void) {
  make_dir();
  run r;
  spec p = small;
  p.history = 9;
  build(&r, &p);
  commit(&r, in_dir("run.h5"));
  bn_snapshot *s = &r.s;
  s->best[2].text[0] = '\0'; /* no stored text: described from the tree state */
  char *text = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&text, &n);
  CU_ASSERT_FATAL(f != NULL);
  bn_checkpoint_print_summary(s, NULL, f);
  fclose(f);
  const char *want[] = {
      "  domain           synthetic\n",
      "  banyan version   0.1.0-test (format 5)\n",
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
      "failures by kind (110 of 500 results)\n",
      "          71  timeout\n                      71  after 5 s\n",
      "          39  non-finite reward\n                      39  nan \"reward\", bad\n",
      "engines (2)\n",
      "    rank         jobs   failures       busy s       idle s  utilization  pool\n",
      "       1          250          3         90.0         10.0        90.0%  reward\n",
      "  pool simulate   1 engine           251 jobs       91.0 s busy       10.0 s idle        90.1%\n",
      "  2 engine moves between pools (engine.pool_rebalance; /stats/pool_moves)\n",
      "checkpoint history (9)\n",
      "  ... 3 more ...\n",
      "  2023-11-14 22:15:00 UTC  iterations 0          snapshot 0.010 s  write 0.250 s (segment of 0 rows 0.000 s)  1.0 MB\n",
      "timeline (5 rows)\n",
      "  first t 5.0 s  iterations 0  evaluations 0  failures 0  in flight 8  best nan  utilization 87.5% "
      "(pool reward 90.0%, simulate 80.0%)\n",
      "  last  t 25.0 s  iterations 400",
      "results log\n  500 rows in 8 segments (",
      " bytes per row) in run.h5.d\n",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    if (!strstr(text, want[i])) {
      fprintf(stderr, "\n  summary lacks: %s\n--- summary\n%s", want[i], text);
      CU_FAIL("summary line missing");
    }
  }
  free(text);
  s->finished = 1;
  s->stop_reason = 1;
  f = open_memstream(&text, &n);
  CU_ASSERT_FATAL(f != NULL);
  bn_checkpoint_print_summary(s, NULL, f);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "  finished         yes (budget reached)\n"));
  free(text);
  run_free(&r);
  remove_dir();
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
  run r;
  build(&r, &three); /* 3 rows in 2 segments */
  commit(&r, path);
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  run_free(&r);
}

BN_TEST_MAIN("checkpoint", BN_TEST(bn_checkpoint_write_should_round_trip_every_field),
             BN_TEST(bn_checkpoint_write_should_round_trip_empty_tables),
             BN_TEST(bn_checkpoint_write_should_round_trip_results_in_many_segments_and_chunks),
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
             BN_TEST(bn_checkpoint_read_should_refuse_format_version_2_naming_it),
             BN_TEST(bn_checkpoint_read_should_accept_strings_as_other_tools_write_them),
             BN_TEST(bn_checkpoint_read_should_survive_flipped_bytes),
             BN_TEST(bn_failure_reason_should_keep_a_stable_kind_apart_from_the_detail),
             BN_TEST(bn_failure_reason_should_cut_a_long_detail_after_a_word),
             BN_TEST(bn_failure_tally_add_should_count_by_kind_and_detail),
             BN_TEST(bn_failure_tally_add_should_keep_every_kind_exact_past_the_caps),
             BN_TEST(bn_failure_count_groups_should_group_by_kind_then_detail),
             BN_TEST(bn_checkpoint_export_csv_should_write_one_quoted_row_per_result),
             BN_TEST(bn_checkpoint_export_csv_should_describe_states_with_the_domain),
             BN_TEST(bn_checkpoint_print_summary_should_show_every_section),
             BN_TEST(bn_checkpoint_write_should_leave_a_fixture_for_h5py))
