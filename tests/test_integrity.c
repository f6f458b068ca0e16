/* CUnit suite for the defences of the files banyan reads and writes (issue 13): the seal
 * (an XXH3-64 of the whole file in its HDF5 user block) finds damage before HDF5 reads a
 * byte; the reader process turns HDF5 crashes and hangs into one-line errors; temporaries
 * are never written through a planted link; a full disk is one line naming the cause, and
 * leaves the previous checkpoint whole.
 *
 * The reader process's crash, hang and early exit are simulated with BANYAN_TEST_READER_FAULT
 * (guard.c); real HDF5 crashes are what tests/fuzz finds and survives. The full-disk case
 * mounts a 2 MB tmpfs and is skipped where mount(2) is not permitted. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <time.h>

#include "bn_checkpoint_test.h"
#include "checkpoint/seal.h"

/* Run fn(arg) with stderr captured into *text (malloc'ed). */
static bn_err captured(bn_err (*fn)(void *), void *arg, char **text) {
  fflush(stderr);
  const int saved = dup(2);
  FILE *cap = tmpfile();
  CU_ASSERT_FATAL(cap != NULL && saved >= 0);
  dup2(fileno(cap), 2);
  const bn_err e = fn(arg);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  const long n = ftell(cap);
  *text = calloc((size_t)(n > 0 ? n : 0) + 1, 1);
  fseek(cap, 0, SEEK_SET);
  if (n > 0 && fread(*text, 1, (size_t)n, cap) != (size_t)n) CU_FAIL("cannot read the captured stderr");
  fclose(cap);
  return e;
}

static int count_lines(const char *text) {
  int n = 0;
  for (const char *c = text; *c; c++) n += *c == '\n';
  return n;
}

/* Read `path`, expecting `want` and a reason holding `needle`. */
static void expect_read(const char *path, bn_err want, const char *needle) {
  bn_snapshot s;
  char why[768] = "";
  const bn_err e = bn_checkpoint_read(path, &s, why, sizeof why);
  CU_ASSERT_EQUAL(e, want);
  if (e == BN_OK) bn_snapshot_free(&s);
  if (needle && !strstr(why, needle)) {
    fprintf(stderr, "\n  reason \"%s\" lacks \"%s\"\n", why, needle);
    CU_FAIL("reason does not name the problem");
  }
}

static void flip_byte(const char *path, size_t at) {
  blob b = slurp(path);
  CU_ASSERT_FATAL(at < b.size);
  b.data[at] ^= 0x40;
  spit(path, b.data, b.size);
  free(b.data);
}

/* --- the seal ------------------------------------------------------------------------- */

static void bn_checkpoint_read_should_find_damage_before_hdf5_reads_the_file(void) {
  make_dir();
  const char *good = in_dir("good.h5");
  write_run(good, &small);
  expect_read(good, BN_OK, NULL);
  blob b = slurp(good);
  /* The HDF5 signature starts the superblock, right after the 512-byte seal. */
  CU_ASSERT(b.size > 1024 && memcmp(b.data + BN__SEAL_BYTES, "\x89HDF\r\n\x1a\n", 8) == 0);
  const size_t where[] = {BN__SEAL_BYTES, BN__SEAL_BYTES + 9, BN__SEAL_BYTES + 40, b.size / 2, b.size - 1};
  for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "flip%zu.h5", i);
    const char *p = copy_of(good, name);
    flip_byte(p, where[i]);
    /* a broken superblock would be HDF5's "unable to open file"; the seal speaks first */
    expect_read(p, BN_ERR_CORRUPT, "damaged: its bytes do not match the checksum in its seal");
  }
  const char *p = copy_of(good, "seal.h5");
  flip_byte(p, 30); /* the recorded checksum itself */
  expect_read(p, BN_ERR_CORRUPT, "damaged: its seal");
  p = copy_of(good, "short.h5");
  CU_ASSERT(truncate(p, (off_t)b.size - 100) == 0);
  expect_read(p, BN_ERR_CORRUPT, "truncated");
  /* a segment where a checkpoint is expected */
  char seg[512];
  snprintf(seg, sizeof seg, "%s.d/results-000000000000.h5", good);
  expect_read(seg, BN_ERR_CORRUPT, "a results segment, not a checkpoint");
  /* an HDF5 file without a seal */
  hid_t f = H5Fcreate(in_dir("plain.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  H5Fclose(f);
  expect_read(in_dir("plain.h5"), BN_ERR_CORRUPT, "an HDF5 file without banyan's seal");
  free(b.data);
  remove_dir();
}

static void bn_checkpoint_write_should_leave_a_file_hdf5_and_h5py_read_as_it_is(void) {
  make_dir();
  const char *good = in_dir("good.h5");
  write_run(good, &small);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(good, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  hid_t fcpl = H5Fget_create_plist(f);
  hsize_t ub = 0;
  CU_ASSERT(H5Pget_userblock(fcpl, &ub) >= 0 && ub == BN__SEAL_BYTES);
  H5Pclose(fcpl);
  CU_ASSERT(H5Aexists(f, "completed") > 0);
  hid_t d = H5Dopen2(f, "/results", H5P_DEFAULT);
  CU_ASSERT(d >= 0);
  H5Dclose(d);
  CU_ASSERT(H5Fclose(f) >= 0); /* read-only: not resealed, and unchanged */
  expect_read(good, BN_OK, NULL);
  remove_dir();
}

/* --- the reader process ----------------------------------------------------------------- */

typedef struct read_args {
  const char *path;
  char why[768];
  bn_err e;
} read_args;

static bn_err do_read(void *arg) {
  read_args *a = arg;
  bn_snapshot s;
  a->e = bn_checkpoint_read(a->path, &s, a->why, sizeof a->why);
  if (a->e == BN_OK) bn_snapshot_free(&s);
  return a->e;
}

/* Read with the reader process told to misbehave; returns the reason. */
static void expect_reader_fault(const char *path, const char *fault, const char *needle) {
  setenv("BANYAN_TEST_READER_FAULT", fault, 1);
  read_args a = {.path = path};
  char *text = NULL;
  const bn_err e = captured(do_read, &a, &text);
  unsetenv("BANYAN_TEST_READER_FAULT");
  CU_ASSERT_EQUAL(e, BN_ERR_CORRUPT);
  if (!strstr(a.why, needle)) {
    fprintf(stderr, "\n  reason \"%s\" lacks \"%s\"\n", a.why, needle);
    CU_FAIL("reason does not name the problem");
  }
  CU_ASSERT(strchr(a.why, '\n') == NULL);
  CU_ASSERT(strstr(text, "HDF5-DIAG") == NULL && strstr(text, "AddressSanitizer") == NULL);
  free(text);
}

static void bn_checkpoint_read_should_turn_a_crash_or_hang_of_the_reader_into_an_error(void) {
  make_dir();
  const char *good = in_dir("good.h5");
  write_run(good, &small);
  expect_reader_fault(good, "crash", "reading it crashed the reader process (signal 11");
  expect_reader_fault(good, "exit", "the reader process exited with status 7 before it was done");
  setenv("BANYAN_READ_TIMEOUT", "1", 1);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  expect_reader_fault(good, "hang", "reading it took more than 1 s without progress");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  unsetenv("BANYAN_READ_TIMEOUT");
  CU_ASSERT((double)(t1.tv_sec - t0.tv_sec) < 10.0);
  expect_read(good, BN_OK, NULL); /* and the next reader is fine */
  remove_dir();
}

static void bn_results_next_should_turn_a_crash_of_a_segment_reader_into_an_error(void) {
  make_dir();
  run r;
  build(&r, &small);
  const char *path = in_dir("run.h5");
  commit(&r, path);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  bn_snapshot s;
  char why[768] = "";
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(path, &s, why, sizeof why), BN_OK);
  bn_results_reader *rd = NULL;
  CU_ASSERT_EQUAL_FATAL(bn_results_open(path, &s, &rd, why, sizeof why), BN_OK);
  bn_result_row rows[16];
  unsigned char states[16 * 9];
  size_t n = 0;
  setenv("BANYAN_TEST_READER_FAULT", "crash", 1);
  const bn_err e = bn_results_next(rd, rows, states, 16, &n);
  unsetenv("BANYAN_TEST_READER_FAULT");
  CU_ASSERT_EQUAL(e, BN_ERR_CORRUPT);
  CU_ASSERT(strstr(bn_results_why(rd), "results-000000000000.h5: reading it crashed the reader process") != NULL);
  bn_results_close(&rd);
  bn_snapshot_free(&s);
  run_free(&r);
  remove_dir();
}

/* --- files banyan writes ---------------------------------------------------------------- */

static void bn_checkpoint_write_should_never_write_through_a_planted_link(void) {
  make_dir();
  const char *target = in_dir("target.txt");
  spit(target, "precious\n", 9);
  char path[256], tmp[300], dangling[256];
  snprintf(path, sizeof path, "%s", in_dir("run.h5"));
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  snprintf(dangling, sizeof dangling, "%s", in_dir("nothing-here.txt"));
  CU_ASSERT_FATAL(symlink(target, tmp) == 0);
  run r;
  build(&r, &small);
  commit(&r, path);
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  blob t = slurp(target);
  CU_ASSERT(t.size == 9 && memcmp(t.data, "precious\n", 9) == 0);
  free(t.data);
  struct stat st;
  CU_ASSERT(lstat(tmp, &st) != 0 && errno == ENOENT); /* the link was removed, not followed */
  expect_read(path, BN_OK, NULL);
  /* a dangling link: its target is not created */
  CU_ASSERT_FATAL(symlink(dangling, tmp) == 0);
  CU_ASSERT_EQUAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  CU_ASSERT(lstat(dangling, &st) != 0 && errno == ENOENT);
  /* a segment's temporary */
  char *d = seg_dir_of(path);
  char seg_tmp[512];
  snprintf(seg_tmp, sizeof seg_tmp, "%s/results-000000000099.h5.tmp", d);
  CU_ASSERT_FATAL(symlink(target, seg_tmp) == 0);
  const bn_segment_params p = params_of(&r);
  const bn_result_source src = source_of(&r);
  bn_segment_info g;
  CU_ASSERT_EQUAL(bn_segment_write(d, &p, 99, 0, 10, &src, &g), BN_OK);
  t = slurp(target);
  CU_ASSERT(t.size == 9 && memcmp(t.data, "precious\n", 9) == 0);
  free(t.data);
  char why[768];
  CU_ASSERT_EQUAL(bn_segment_check(d, &p, &g, why, sizeof why), BN_OK);
  free(d);
  run_free(&r);
  remove_dir();
}

typedef struct write_args {
  const char *path;
  const bn_snapshot *s;
} write_args;

static bn_err do_write(void *arg) {
  const write_args *a = arg;
  return bn_checkpoint_write(a->path, a->s, NULL);
}

typedef struct seg_args {
  const char *dir;
  const run *r;
  uint64_t seq;
} seg_args;

static bn_err do_segment(void *arg) {
  const seg_args *a = arg;
  const bn_segment_params p = params_of(a->r);
  const bn_result_source src = source_of(a->r);
  bn_segment_info g;
  return bn_segment_write(a->dir, &p, a->seq, 0, a->r->n_rows, &src, &g);
}

/* Fill the file system of `dir` to the last few KiB. */
static void fill(const char *dir_path) {
  char path[512];
  snprintf(path, sizeof path, "%s/fill", dir_path);
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CU_ASSERT_FATAL(fd >= 0);
  static const char zeros[4096];
  while (write(fd, zeros, sizeof zeros) > 0) {
  }
  close(fd);
}

static void bn_checkpoint_write_should_report_a_full_disk_on_one_line(void) {
  make_dir();
  char mnt[256];
  snprintf(mnt, sizeof mnt, "%s", in_dir("full"));
  CU_ASSERT_FATAL(mkdir(mnt, 0755) == 0);
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=2m") != 0) {
    fprintf(stderr, "skipped (cannot mount a tmpfs here: %s) ", strerror(errno));
    remove_dir();
    return;
  }
  char path[512];
  snprintf(path, sizeof path, "%s/run.h5", mnt);
  run r;
  build(&r, &small);
  commit(&r, path);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  blob before = slurp(path);
  fill(mnt);
  /* a bigger graph: the main file cannot be written */
  run big;
  spec p = small;
  p.nodes = 20000;
  p.edges = 40000;
  build(&big, &p);
  big.s.segments = r.s.segments; /* the committed segments, borrowed */
  big.s.n_segments = r.s.n_segments;
  big.s.next_segment = r.s.next_segment;
  big.s.completed = r.s.completed;
  big.s.run_id = r.s.run_id;
  char *own_dir = big.s.segment_dir;
  big.s.segment_dir = r.s.segment_dir;
  write_args w = {path, &big.s};
  char *text = NULL;
  bn_log_setup(-1, BN_LOG_INFO);
  const bn_err e = captured(do_write, &w, &text);
  CU_ASSERT_EQUAL(e, BN_ERR_IO);
  if (count_lines(text) != 1 || !strstr(text, "no space left on device writing") || !strstr(text, "run.h5.tmp")) {
    fprintf(stderr, "\n  stderr was:\n%s\n", text);
    CU_FAIL("a full disk is not one line naming the cause and the file");
  }
  free(text);
  big.s.segments = NULL;
  big.s.n_segments = 0;
  big.s.segment_dir = own_dir;
  blob after = slurp(path);
  CU_ASSERT(same_blob(before, after)); /* the previous checkpoint, whole */
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  CU_ASSERT(!exists(tmp));
  expect_read(path, BN_OK, NULL);
  /* a segment */
  char *d = seg_dir_of(path);
  seg_args sa = {d, &big, 77};
  CU_ASSERT_EQUAL(captured(do_segment, &sa, &text), BN_ERR_IO);
  if (count_lines(text) != 1 || !strstr(text, "no space left on device writing") ||
      !strstr(text, "results-000000000077.h5.tmp")) {
    fprintf(stderr, "\n  stderr was:\n%s\n", text);
    CU_FAIL("a full disk is not one line naming the cause and the segment");
  }
  free(text);
  free(d);
  free(before.data);
  free(after.data);
  run_free(&big);
  run_free(&r);
  CU_ASSERT(umount(mnt) == 0);
  remove_dir();
}

BN_TEST_MAIN("integrity", BN_TEST(bn_checkpoint_read_should_find_damage_before_hdf5_reads_the_file),
             BN_TEST(bn_checkpoint_write_should_leave_a_file_hdf5_and_h5py_read_as_it_is),
             BN_TEST(bn_checkpoint_read_should_turn_a_crash_or_hang_of_the_reader_into_an_error),
             BN_TEST(bn_results_next_should_turn_a_crash_of_a_segment_reader_into_an_error),
             BN_TEST(bn_checkpoint_write_should_never_write_through_a_planted_link),
             BN_TEST(bn_checkpoint_write_should_report_a_full_disk_on_one_line))
