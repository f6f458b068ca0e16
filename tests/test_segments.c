/* Result segments: the results log of a checkpoint as immutable files beside it. Rows of
 * several segments stream back equal and in order (states included), an empty log works;
 * bn_segment_merge of adjacent segments gives the same rows and checksum, refuses others
 * and writes nothing when cancelled; a missing segment, one whose data or header bytes
 * changed, one of another run, a segment table that does not tile the rows and rows the
 * format does not allow are each refused with a reason naming the problem (and the file),
 * printing nothing from HDF5 and changing no file; the main file's /results is a virtual dataset that plain HDF5 reads, from any
 * working directory and after the checkpoint moved with its directory; a failed segment
 * write leaves nothing behind; the directory helpers.
 *
 * Runs are built by hand (tests/bn_checkpoint_test.h); damaged variants are made with the
 * HDF5 API or by flipping bytes, each on a checkpoint of its own. */
#include <errno.h>
#include <hdf5.h>
#include <signal.h>
#include <stddef.h>
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

/* --- helpers -------------------------------------------------------------------------- */

/* The path of segment `seq` of checkpoint `ckpt` (4 rotating buffers). */
static const char *seg_file(const char *ckpt, uint64_t seq) {
  static char buf[4][512];
  static int k;
  char *p = buf[k++ % 4];
  char *d = seg_dir_of(ckpt);
  bn_segment_path(d, seq, p, 512);
  free(d);
  return p;
}

/* A good checkpoint `name` of `p` in the test directory, its run kept in *r (may be NULL). */
static const char *fresh(const char *name, const spec *p, run *r) {
  static char path[4][256];
  static int k;
  char *out = path[k++ % 4];
  snprintf(out, 256, "%s", in_dir(name));
  run local;
  run *use = r ? r : &local;
  build(use, p);
  commit(use, out);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(out, &use->s, NULL), BN_OK);
  if (!r) run_free(&local);
  return out;
}

/* The offset of the only occurrence of pattern[0..n) in b (fails if absent or repeated). */
static size_t find_once(blob b, const void *pattern, size_t n) {
  size_t at = SIZE_MAX, found = 0;
  for (size_t i = 0; i + n <= b.size; i++)
    if (memcmp(b.data + i, pattern, n) == 0) {
      if (!found++) at = i;
    }
  CU_ASSERT_EQUAL_FATAL(found, 1);
  return at;
}

/* Flip one byte of the only occurrence of the 8 little-endian bytes of `v` in `path`. */
static void flip_u64_in_file(const char *path, uint64_t v) {
  unsigned char le[8];
  for (int i = 0; i < 8; i++) le[i] = (unsigned char)(v >> (8 * i));
  blob b = slurp(path);
  const blob hdf5_part = {b.data + BN__SEAL_BYTES, b.size - BN__SEAL_BYTES}; /* past the seal */
  const size_t at = BN__SEAL_BYTES + find_once(hdf5_part, le, sizeof le);
  b.data[at + 3] ^= 0x10;
  spit(path, b.data, b.size);
  free(b.data);
}

/* Set a uint64 root attribute of a segment (or any) file. */
static void set_file_attr(const char *path, const char *name, hid_t type, uint64_t v) {
  hid_t f = open_rw(path);
  set_attr_u64(f, name, type, v);
  H5Fclose(f);
}

/* Overwrite a uint64 root attribute in place (the file keeps its size). */
static void overwrite_file_attr(const char *path, const char *name, uint64_t v) {
  hid_t f = open_rw(path);
  hid_t a = H5Aopen(f, name, H5P_DEFAULT);
  CU_ASSERT(a >= 0 && H5Awrite(a, H5T_NATIVE_UINT64, &v) >= 0);
  H5Aclose(a);
  H5Fclose(f);
}

/* Change the copy of the header in a segment's seal (its own checksum made valid again). */
static void edit_seal(const char *path, void (*edit)(bn__seal *, uint64_t), uint64_t v) {
  blob b = slurp(path);
  bn__seal seal;
  CU_ASSERT_FATAL(b.size > BN__SEAL_BYTES && bn__seal_decode(b.data, &seal) == 0);
  edit(&seal, v);
  bn__seal_encode(&seal, b.data);
  spit(path, b.data, b.size);
  free(b.data);
}
static void seal_rows_checksum(bn__seal *s, uint64_t v) { s->rows_checksum = v; }
static void seal_rows(bn__seal *s, uint64_t v) { s->rows = v; }
static void seal_first_row(bn__seal *s, uint64_t v) { s->first_row = v; }
static void seal_state_size(bn__seal *s, uint64_t v) { s->state_size = v; }
static void seal_format_version(bn__seal *s, uint64_t v) { s->format_version = (uint32_t)v; }

static hid_t segment_mem_type(void) {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(bn_segment_info));
  H5Tinsert(t, "seq", offsetof(bn_segment_info, seq), H5T_NATIVE_UINT64);
  H5Tinsert(t, "first_row", offsetof(bn_segment_info, first_row), H5T_NATIVE_UINT64);
  H5Tinsert(t, "rows", offsetof(bn_segment_info, rows), H5T_NATIVE_UINT64);
  H5Tinsert(t, "checksum", offsetof(bn_segment_info, checksum), H5T_NATIVE_UINT64);
  H5Tinsert(t, "bytes", offsetof(bn_segment_info, bytes), H5T_NATIVE_UINT64);
  H5Tinsert(t, "failures", offsetof(bn_segment_info, failures), H5T_NATIVE_UINT64);
  return t;
}

/* Read or overwrite the /segments table of a checkpoint in place (n rows). */
static void segments_io(const char *path, bn_segment_info *rows, size_t n, int write) {
  hid_t f = open_rw(path);
  hid_t d = H5Dopen2(f, "/segments", H5P_DEFAULT);
  CU_ASSERT_FATAL(d >= 0);
  hid_t sp = H5Dget_space(d);
  CU_ASSERT_EQUAL_FATAL(H5Sget_simple_extent_npoints(sp), (hssize_t)n);
  hid_t t = segment_mem_type();
  CU_ASSERT((write ? H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows)
                   : H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows)) >= 0);
  H5Tclose(t);
  H5Sclose(sp);
  H5Dclose(d);
  H5Fclose(f);
}

typedef struct stream_call {
  const char *path;
  char *why;
  size_t whylen;
  uint64_t delivered;
  int read_ok; /* bn_checkpoint_read accepted the file */
} stream_call;

/* Read checkpoint c->path and stream its whole log. */
static bn_err call_stream(void *arg) {
  stream_call *c = arg;
  bn_snapshot s;
  bn_err e = bn_checkpoint_read(c->path, &s, c->why, c->whylen);
  if (e != BN_OK) return e;
  c->read_ok = 1;
  const size_t max = 100, ss = (size_t)s.state_size;
  bn_result_row *rows = xcalloc(max, sizeof *rows);
  unsigned char *states = xcalloc(max * ss, 1);
  bn_results_reader *rd = NULL;
  e = bn_results_open(c->path, &s, &rd, c->why, c->whylen);
  for (size_t n = 1; e == BN_OK && n > 0;) {
    e = bn_results_next(rd, rows, states, max, &n);
    if (e != BN_OK) snprintf(c->why, c->whylen, "%s", bn_results_why(rd));
    else c->delivered += n;
  }
  bn_results_close(&rd);
  free(rows);
  free(states);
  bn_snapshot_free(&s);
  return e;
}

/* The checkpoint reads, but streaming its log must fail with BN_ERR_CORRUPT and a reason
 * containing each of needle and needle2 (may be NULL), printing nothing from HDF5 and
 * changing no file. Returns the rows delivered before the failure. */
static uint64_t expect_stream_refused(const char *path, const char *needle, const char *needle2) {
  blob before = tree_blob(dir);
  char why[768] = "";
  stream_call c = {path, why, sizeof why, 0, 0};
  CU_ASSERT_EQUAL(quietly(call_stream, &c), BN_ERR_CORRUPT);
  CU_ASSERT(c.read_ok);
  expect_reason(why, needle);
  expect_reason(why, needle2);
  blob after = tree_blob(dir);
  CU_ASSERT(same_blob(before, after));
  free(before.data);
  free(after.data);
  return c.delivered;
}

/* Read checkpoint `path` and compare everything, the streamed log included, with `r`. */
static void expect_same_run(const char *path, const run *r, size_t max) {
  bn_snapshot s;
  char why[768] = "";
  bn_err e = bn_checkpoint_read(path, &s, why, sizeof why);
  if (e != BN_OK) fprintf(stderr, "\n  read: %s\n", why);
  CU_ASSERT_EQUAL_FATAL(e, BN_OK);
  const char *d = diff(&r->s, &s);
  if (d) fprintf(stderr, "\n  differs: %s\n", d);
  CU_ASSERT_PTR_NULL(d);
  const char *differs = NULL;
  e = stream_compare(path, &s, r, max, &differs, why, sizeof why);
  if (e != BN_OK || differs) fprintf(stderr, "\n  results log (%zu at a time): %s\n", max, differs ? differs : why);
  CU_ASSERT(e == BN_OK && differs == NULL);
  bn_snapshot_free(&s);
}

/* --- streaming ------------------------------------------------------------------------ */

static void bn_results_next_should_stream_the_rows_of_several_segments_in_order(void) {
  make_dir();
  run r;
  spec p = small;
  p.results = 1000;
  p.seg_rows = 137; /* 7 full segments and one of 41 rows */
  const char *path = fresh("run.h5", &p, &r);
  CU_ASSERT_EQUAL_FATAL(r.s.n_segments, 8);
  const bn_segment_params params = params_of(&r);
  char *d = seg_dir_of(path);
  for (uint64_t i = 0; i < r.s.n_segments; i++) {
    const bn_segment_info *g = &r.s.segments[i];
    struct stat st;
    CU_ASSERT(g->seq == i && g->first_row == 137 * i && g->rows == (i < 7 ? 137 : 41));
    CU_ASSERT(stat(seg_file(path, i), &st) == 0 && (uint64_t)st.st_size == g->bytes);
    char why[768] = "";
    CU_ASSERT_EQUAL(bn_segment_check(d, &params, g, why, sizeof why), BN_OK);
  }
  free(d);
  const size_t batches[] = {1, 50, 137, 5000};
  for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) expect_same_run(path, &r, batches[i]);
  /* misuse of the reader */
  bn_snapshot s;
  char why[768];
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(path, &s, why, sizeof why), BN_OK);
  bn_results_reader *rd = NULL;
  CU_ASSERT_EQUAL_FATAL(bn_results_open(path, &s, &rd, why, sizeof why), BN_OK);
  bn_result_row row;
  unsigned char state[16];
  size_t n = 99;
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_results_next(rd, &row, state, 0, &n), BN_ERR_ARG);
  bn_log_setup(-1, BN_LOG_INFO);
  bn_results_close(&rd);
  bn_results_close(&rd); /* NULL is fine */
  bn_snapshot_free(&s);
  run_free(&r);
  remove_dir();
}

static void bn_results_next_should_end_at_once_for_an_empty_log(void) {
  make_dir();
  run r;
  spec p = small;
  p.results = 0;
  const char *path = fresh("run.h5", &p, &r);
  CU_ASSERT_EQUAL(r.s.n_segments, 0);
  CU_ASSERT(exists(in_dir("run.h5.d")));
  expect_same_run(path, &r, 10);
  bn_snapshot s;
  char why[768];
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(path, &s, why, sizeof why), BN_OK);
  CU_ASSERT(s.n_segments == 0 && s.completed == 0 && s.next_segment == 0);
  bn_results_reader *rd = NULL;
  CU_ASSERT_EQUAL_FATAL(bn_results_open(path, &s, &rd, why, sizeof why), BN_OK);
  bn_result_row row;
  unsigned char state[16];
  size_t n = 99;
  CU_ASSERT(bn_results_next(rd, &row, state, 1, &n) == BN_OK && n == 0);
  n = 99;
  CU_ASSERT(bn_results_next(rd, &row, state, 1, &n) == BN_OK && n == 0); /* and stays at the end */
  bn_results_close(&rd);
  bn_snapshot_free(&s);
  run_free(&r);
  remove_dir();
}

/* --- merging -------------------------------------------------------------------------- */

/* Rows 0..700 with 4000-byte states (about 255 rows per HDF5 chunk) as segments of 300, 1
 * and 400 rows: a merge fills its output chunks from several sources. */
static const spec wide = {.nodes = 2, .edges = 1, .results = 701, .state_size = 4000, .path_cap = 2, .config = ""};
static const uint64_t wide_rows[3] = {300, 1, 400};

/* List segs[0..n) as the run's segment table, numbers below `next` used. */
static void list(run *r, const bn_segment_info *segs, size_t n, uint64_t next) {
  free(r->s.segments);
  r->s.segments = xcalloc(n, sizeof *segs);
  if (n) memcpy(r->s.segments, segs, n * sizeof *segs);
  r->s.n_segments = n;
  r->s.next_segment = next;
}

static void write_wide(run *r, const char *path, bn_segment_info segs[3]) {
  build(r, &wide);
  r->s.segment_dir = bn_checkpoint_segment_dir_name(path);
  char *d = seg_dir_of(path);
  CU_ASSERT_EQUAL_FATAL(bn_segment_dir_create(d), BN_OK);
  const bn_segment_params p = params_of(r);
  const bn_result_source src = source_of(r);
  uint64_t row = 0;
  for (int i = 0; i < 3; i++) {
    CU_ASSERT_EQUAL_FATAL(bn_segment_write(d, &p, (uint64_t)i, row, wide_rows[i], &src, &segs[i]), BN_OK);
    row += wide_rows[i];
  }
  list(r, segs, 3, 3);
  free(d);
}

static void bn_segment_merge_should_give_the_same_rows_and_a_valid_checksum(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  run r;
  bn_segment_info segs[3], merged, direct, tail, packed;
  write_wide(&r, path, segs);
  char *d = seg_dir_of(path);
  const bn_segment_params p = params_of(&r);
  const bn_result_source src = source_of(&r);
  blob sources = tree_blob(d);
  char why[768] = "";

  CU_ASSERT_EQUAL_FATAL(bn_segment_merge(d, &p, segs, 3, 3, &merged), BN_OK);
  CU_ASSERT(merged.seq == 3 && merged.first_row == 0 && merged.rows == 701);
  struct stat st;
  CU_ASSERT(stat(seg_file(path, 3), &st) == 0 && (uint64_t)st.st_size == merged.bytes);
  CU_ASSERT_EQUAL(bn_segment_check(d, &p, &merged, why, sizeof why), BN_OK);
  /* the checksum of the rows themselves: what one segment written at once has */
  CU_ASSERT_EQUAL_FATAL(bn_segment_write(d, &p, 4, 0, 701, &src, &direct), BN_OK);
  CU_ASSERT_EQUAL(merged.checksum, direct.checksum);
  /* the last two only, and a compressed output */
  CU_ASSERT_EQUAL_FATAL(bn_segment_merge(d, &p, segs + 1, 2, 5, &tail), BN_OK);
  CU_ASSERT(tail.first_row == 300 && tail.rows == 401);
  CU_ASSERT_EQUAL(bn_segment_check(d, &p, &tail, why, sizeof why), BN_OK);
  const bn_segment_params deflated = {.run_id = p.run_id, .state_size = p.state_size, .deflate = 6};
  CU_ASSERT_EQUAL_FATAL(bn_segment_merge(d, &deflated, segs, 3, 6, &packed), BN_OK);
  CU_ASSERT_EQUAL(packed.checksum, direct.checksum);
  CU_ASSERT(packed.bytes < merged.bytes);

  /* the sources are left in place, unchanged */
  bn_segment_remove(d, 3);
  bn_segment_remove(d, 4);
  bn_segment_remove(d, 5);
  bn_segment_remove(d, 6);
  blob after = tree_blob(d);
  CU_ASSERT(same_blob(sources, after));
  free(after.data);

  /* a checkpoint listing the merged segment in place of its sources reads back equal */
  CU_ASSERT_EQUAL_FATAL(bn_segment_merge(d, &p, segs, 3, 3, &merged), BN_OK);
  list(&r, &merged, 1, 4);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  expect_same_run(path, &r, 97);
  /* and so does one listing a compressed merge next to an original */
  CU_ASSERT_EQUAL_FATAL(bn_segment_merge(d, &deflated, segs + 1, 2, 4, &tail), BN_OK);
  const bn_segment_info mixed[2] = {segs[0], tail};
  list(&r, mixed, 2, 5);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  expect_same_run(path, &r, 1000);
  free(sources.data);
  free(d);
  run_free(&r);
  remove_dir();
}

static void bn_segment_merge_should_refuse_segments_that_are_not_adjacent(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  run r;
  bn_segment_info segs[3], out = {.seq = 12345}, gap[2], reversed[2];
  write_wide(&r, path, segs);
  char *d = seg_dir_of(path);
  const bn_segment_params p = params_of(&r);
  blob before = tree_blob(dir);
  gap[0] = segs[0], gap[1] = segs[2];
  reversed[0] = segs[1], reversed[1] = segs[0];
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_segment_merge(d, &p, gap, 2, 3, &out), BN_ERR_ARG);
  CU_ASSERT_EQUAL(bn_segment_merge(d, &p, reversed, 2, 3, &out), BN_ERR_ARG);
  CU_ASSERT_EQUAL(bn_segment_merge(d, &p, segs, 0, 3, &out), BN_ERR_ARG);
  bn_log_setup(-1, BN_LOG_INFO);
  CU_ASSERT_EQUAL(out.seq, 12345); /* written on success only */
  blob after = tree_blob(dir);
  CU_ASSERT(same_blob(before, after)); /* no segment 3, no temporary */
  free(before.data);
  free(after.data);
  free(d);
  run_free(&r);
  remove_dir();
}

static void bn_segment_merge_should_refuse_a_damaged_source_and_leave_nothing(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  run r;
  bn_segment_info segs[3], out = {.seq = 12345};
  write_wide(&r, path, segs);
  char *d = seg_dir_of(path);
  const bn_segment_params p = params_of(&r);
  flip_u64_in_file(seg_file(path, 2), r.rows[450].seed);
  blob before = tree_blob(dir);
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_segment_merge(d, &p, segs, 3, 3, &out), BN_ERR_CORRUPT);
  /* a source of another run */
  bn_segment_params other = p;
  other.run_id ^= 1;
  CU_ASSERT_EQUAL(bn_segment_merge(d, &other, segs, 2, 3, &out), BN_ERR_CORRUPT);
  bn_log_setup(-1, BN_LOG_INFO);
  CU_ASSERT_EQUAL(out.seq, 12345);
  blob after = tree_blob(dir);
  CU_ASSERT(same_blob(before, after));
  free(before.data);
  free(after.data);
  free(d);
  run_free(&r);
  remove_dir();
}

static void bn_segment_merge_should_write_nothing_when_cancelled(void) {
  make_dir();
  const char *path = in_dir("run.h5");
  run r;
  bn_segment_info segs[3], out = {.seq = 12345, .rows = 99};
  write_wide(&r, path, segs);
  char *d = seg_dir_of(path);
  volatile int cancel = 1;
  bn_segment_params p = params_of(&r);
  p.cancel = &cancel;
  blob before = tree_blob(dir);
  CU_ASSERT_EQUAL(bn_segment_merge(d, &p, segs, 3, 3, &out), BN_OK);
  CU_ASSERT(out.seq == 3 && out.rows == 0);
  blob after = tree_blob(dir);
  CU_ASSERT(same_blob(before, after)); /* no segment 3, no temporary */
  cancel = 0; /* not cancelled: merged as usual */
  CU_ASSERT_EQUAL(bn_segment_merge(d, &p, segs, 3, 3, &out), BN_OK);
  CU_ASSERT(out.seq == 3 && out.rows == 701 && exists(seg_file(path, 3)));
  free(before.data);
  free(after.data);
  free(d);
  run_free(&r);
  remove_dir();
}

/* --- damaged, missing and foreign segments -------------------------------------------- */

static void bn_checkpoint_read_should_refuse_a_missing_segment(void) {
  make_dir();
  const char *path = fresh("a.h5", &small, NULL);
  CU_ASSERT(unlink(seg_file(path, 3)) == 0);
  expect_refused(path, BN_ERR_IO, "segment /");
  expect_refused(path, BN_ERR_IO, "/a.h5.d/results-000000000003.h5: cannot open");
  expect_refused(path, BN_ERR_IO, "No such file");
  /* the whole directory gone */
  path = fresh("b.h5", &small, NULL);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s.d'", path);
  CU_ASSERT(system(cmd) == 0);
  expect_refused(path, BN_ERR_IO, "/b.h5.d/results-000000000000.h5");
  remove_dir();
}

static void bn_results_next_should_report_a_checksum_mismatch_naming_the_file(void) {
  make_dir();
  run r;
  const char *path = fresh("run.h5", &small, &r);
  /* one byte of row 133's seed, in the data of segment 2 (rows 128..191): the seal (the
   * checksum of the whole file) finds it before HDF5 opens the segment */
  flip_u64_in_file(seg_file(path, 2), r.rows[133].seed);
  uint64_t delivered =
      expect_stream_refused(path, "/run.h5.d/results-000000000002.h5", "do not match the checksum in its seal");
  CU_ASSERT(delivered >= 128 && delivered < 192); /* the segments before it were fine */
  /* the same, resealed: the checksum of the rows finds it */
  reseal(seg_file(path, 2));
  delivered = expect_stream_refused(path, "/run.h5.d/results-000000000002.h5", "do not match their checksum");
  CU_ASSERT(delivered >= 128 && delivered < 192);
  /* the CSV export stops with the same error */
  bn_snapshot s;
  char why[768];
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(path, &s, why, sizeof why), BN_OK);
  FILE *f = fopen("/dev/null", "w");
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_checkpoint_export_csv(path, &s, NULL, f), BN_ERR_CORRUPT);
  bn_log_setup(-1, BN_LOG_INFO);
  fclose(f);
  bn_snapshot_free(&s);
  run_free(&r);
  remove_dir();
}

static void bn_checkpoint_read_should_refuse_a_segment_whose_header_changed(void) {
  make_dir();
  run r;
  /* A checkpoint read checks the copy of the header in each segment's seal (no HDF5). */
  const char *path = fresh("sum.h5", &small, &r);
  edit_seal(seg_file(path, 1), seal_rows_checksum, r.s.segments[1].checksum + 1);
  expect_refused(path, BN_ERR_CORRUPT, "/sum.h5.d/results-000000000001.h5: checksum");
  expect_refused(path, BN_ERR_CORRUPT, "the checkpoint expects");
  run_free(&r);

  path = fresh("rows.h5", &small, NULL);
  edit_seal(seg_file(path, 2), seal_rows, 63);
  expect_refused(path, BN_ERR_CORRUPT, "/rows.h5.d/results-000000000002.h5: holds rows 128..+63");

  path = fresh("first.h5", &small, NULL);
  edit_seal(seg_file(path, 2), seal_first_row, 0);
  expect_refused(path, BN_ERR_CORRUPT, "/first.h5.d/results-000000000002.h5: holds rows 0..+64");

  path = fresh("size.h5", &small, NULL);
  edit_seal(seg_file(path, 0), seal_state_size, 8);
  expect_refused(path, BN_ERR_CORRUPT, "/size.h5.d/results-000000000000.h5: has 8-byte states");

  path = fresh("version.h5", &small, NULL);
  edit_seal(seg_file(path, 7), seal_format_version, 2);
  expect_refused(path, BN_ERR_CORRUPT, "/version.h5.d/results-000000000007.h5: format_version 2, not ");

  /* a segment that grew or shrank */
  path = fresh("grown.h5", &small, NULL);
  set_file_attr(seg_file(path, 3), "rows", H5T_STD_U64LE, 64); /* rewritten elsewhere: a larger file */
  expect_refused(path, BN_ERR_CORRUPT, "/grown.h5.d/results-000000000003.h5: ");
  expect_refused(path, BN_ERR_CORRUPT, "bytes, the checkpoint expects");

  /* The HDF5 header itself (edited and resealed) is checked when the rows are read, in the
   * reader process, before any row is delivered. */
  path = fresh("first5.h5", &small, NULL);
  overwrite_file_attr(seg_file(path, 2), "first_row", 0);
  expect_stream_refused(path, "/first5.h5.d/results-000000000002.h5: ", "holds rows 0..+64");
  path = fresh("gone.h5", &small, NULL);
  hid_t f = open_rw(seg_file(path, 4));
  CU_ASSERT(H5Adelete(f, "run_id") >= 0);
  H5Fclose(f);
  expect_stream_refused(path, "/gone.h5.d/results-000000000004.h5: ", "attribute run_id of / is missing");

  /* raw bytes: one byte of the stored checksum attribute flipped, not resealed */
  path = fresh("raw.h5", &small, &r);
  flip_u64_in_file(seg_file(path, 5), r.s.segments[5].checksum);
  expect_stream_refused(path, "/raw.h5.d/results-000000000005.h5: ", "damaged");
  run_free(&r);
  remove_dir();
}

static void bn_checkpoint_read_should_refuse_a_segment_of_another_run(void) {
  make_dir();
  run r;
  const char *path = fresh("run.h5", &small, &r);
  /* the same rows, numbered alike, written by another run */
  char *d = seg_dir_of(path);
  bn_segment_params other = params_of(&r);
  other.run_id = 0x0123456789abcdefull;
  const bn_result_source src = source_of(&r);
  bn_segment_info g;
  CU_ASSERT_EQUAL_FATAL(bn_segment_write(d, &other, 1, 64, 64, &src, &g), BN_OK);
  CU_ASSERT_EQUAL(g.checksum, r.s.segments[1].checksum);
  expect_refused(path, BN_ERR_CORRUPT, "/run.h5.d/results-000000000001.h5: belongs to another run");
  expect_refused(path, BN_ERR_CORRUPT, "run_id 0123456789abcdef, this run 5eed0123456789ab");
  free(d);
  run_free(&r);
  remove_dir();
}

/* Copy checkpoint `good` (its segments shared) and change one row of the copy's table. */
static const char *with_table(const char *good, const char *name, size_t row, const char *field, uint64_t v) {
  const char *p = copy_of(good, name);
  bn_segment_info t[8];
  segments_io(p, t, 8, 0);
  if (!strcmp(field, "seq")) t[row].seq = v;
  else if (!strcmp(field, "first_row")) t[row].first_row = v;
  else if (!strcmp(field, "rows")) t[row].rows = v;
  else CU_FAIL_FATAL("unknown field");
  segments_io(p, t, 8, 1);
  return p;
}

static void bn_checkpoint_read_should_refuse_a_segment_table_that_does_not_tile_the_rows(void) {
  make_dir();
  char good[256];
  snprintf(good, sizeof good, "%s", fresh("good.h5", &small, NULL)); /* 8 segments of 64 rows, the last 52 */
  const char *p = with_table(good, "gap.h5", 1, "first_row", 65);
  expect_refused(p, BN_ERR_CORRUPT, "/segments row 1: rows 65..+64 do not continue the log at row 64 of 500");
  p = with_table(good, "overlap.h5", 1, "first_row", 63);
  expect_refused(p, BN_ERR_CORRUPT, "/segments row 1: rows 63..+64 do not continue the log at row 64 of 500");
  p = with_table(good, "empty.h5", 3, "rows", 0);
  expect_refused(p, BN_ERR_CORRUPT, "/segments row 3: rows 192..+0 do not continue the log");
  p = with_table(good, "huge.h5", 0, "rows", (uint64_t)1 << 63);
  expect_refused(p, BN_ERR_CORRUPT, "/segments row 0: rows 0..+9223372036854775808 do not continue the log");
  p = with_table(good, "short.h5", 7, "rows", 51);
  expect_refused(p, BN_ERR_CORRUPT, "the segments hold 499 rows but completed = 500");
  p = with_table(good, "dup.h5", 2, "seq", 0);
  expect_refused(p, BN_ERR_CORRUPT, "/segments: segment 0 is listed twice");
  p = with_table(good, "unused.h5", 7, "seq", 8);
  expect_refused(p, BN_ERR_CORRUPT, "/segments row 7: segment 8 not below next_segment 8");
  /* numbers swapped: the table tiles, but the files hold other rows */
  p = with_table(good, "swap1.h5", 1, "seq", 2);
  char swapped[256];
  snprintf(swapped, sizeof swapped, "%s", p);
  bn_segment_info t[8];
  segments_io(swapped, t, 8, 0);
  t[2].seq = 1;
  segments_io(swapped, t, 8, 1);
  expect_refused(swapped, BN_ERR_CORRUPT, "results-000000000002.h5: holds rows 128..+64, the checkpoint expects 64..+64");
  remove_dir();
}

/* Set the bytes of every row of the /segments table of `path` to its file's size. */
static void table_bytes_of_files(const char *path) {
  bn_segment_info t[8];
  segments_io(path, t, 8, 0);
  for (int i = 0; i < 8; i++) {
    struct stat st;
    CU_ASSERT(stat(seg_file(path, t[i].seq), &st) == 0);
    t[i].bytes = (uint64_t)st.st_size;
  }
  segments_io(path, t, 8, 1);
}

static void bn_checkpoint_read_should_refuse_a_segment_table_of_the_wrong_shape(void) {
  make_dir();
  const char *path = fresh("run.h5", &small, NULL);
  /* segment 1: its rows without a seed field */
  hid_t f = open_rw(seg_file(path, 1));
  CU_ASSERT(H5Ldelete(f, "/results", H5P_DEFAULT) >= 0);
  hsize_t w = 9, n = 64;
  hid_t arr = H5Tarray_create2(H5T_STD_U8LE, 1, &w);
  hid_t c = H5Tcreate(H5T_COMPOUND, 8 + 9);
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
  expect_refused(path, BN_ERR_CORRUPT, "/run.h5.d/results-000000000001.h5: "); /* its size changed */
  table_bytes_of_files(path);
  expect_stream_refused(path, "/run.h5.d/results-000000000001.h5: /results has no field seed", NULL);

  /* segment 1 again, the right type but 2^40 rows (chunked, never written) */
  path = fresh("huge.h5", &small, NULL);
  f = open_rw(seg_file(path, 1));
  d = H5Dopen2(f, "/results", H5P_DEFAULT);
  hid_t t = H5Dget_type(d);
  H5Dclose(d);
  CU_ASSERT(H5Ldelete(f, "/results", H5P_DEFAULT) >= 0);
  hsize_t huge = (hsize_t)1 << 40, chunk = 64;
  sp = H5Screate_simple(1, &huge, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, &chunk);
  d = H5Dcreate2(f, "/results", t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  CU_ASSERT(d >= 0);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  H5Tclose(t);
  H5Fclose(f);
  table_bytes_of_files(path);
  expect_stream_refused(path, "/huge.h5.d/results-000000000001.h5: /results claims", NULL);
  remove_dir();
}

/* Rows the format does not allow, written into segments (the writer does not check them),
 * are refused when streamed, naming the segment and the row. */
static const char *write_path;
static bn_err call_write(void *arg) { return bn_checkpoint_write(write_path, &((run *)arg)->s, NULL); }

static void bn_results_next_should_refuse_rows_the_format_does_not_allow(void) {
  make_dir();
  run r;
  build(&r, &small);
  r.rows[70].status = 7;
  const char *path = in_dir("status.h5");
  commit(&r, path);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  expect_stream_refused(path, "/status.h5.d/results-000000000001.h5: /results row 70:",
                        "status 7 is neither ok (1) nor failed (2)");
  run_free(&r);

  build(&r, &small);
  r.rows[10].job_id = 1000000;
  path = in_dir("id.h5");
  commit(&r, path);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  expect_stream_refused(path, "results-000000000000.h5: /results row 10:", "job_id 1000000 not below next_iteration 505");
  run_free(&r);

  /* the text of a failed row names another row (the file resealed: only the format check
   * can find it) */
  build(&r, &small);
  path = in_dir("text.h5");
  commit(&r, path);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  {
    hid_t f = open_rw(seg_file(path, 3));
    hid_t d = H5Dopen2(f, "/result_failures", H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(uint64_t));
    H5Tinsert(t, "row", 0, H5T_NATIVE_UINT64);
    uint64_t rows[64] = {0};
    hid_t sp = H5Dget_space(d);
    const hssize_t n = H5Sget_simple_extent_npoints(sp);
    CU_ASSERT_FATAL(n > 0 && n <= 64);
    CU_ASSERT(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    rows[0]++;
    CU_ASSERT(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
    CU_ASSERT(close_and_reseal(f) >= 0);
  }
  expect_stream_refused(path, "results-000000000003.h5", "failed but /result_failures names another row there");
  run_free(&r);

  /* a row whose text is not NUL-terminated is written cut, NUL-terminated (what HDF5 would
   * give back anyway), and reads back so */
  build(&r, &small);
  r.rows[200].status = BN_JOB_FAILED;
  r.rows[200].reward = 0;
  memset(r.rows[200].failure_detail, 'x', sizeof r.rows[200].failure_detail);
  path = in_dir("reason.h5");
  recount(&r);
  commit(&r, path);
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_write(path, &r.s, NULL), BN_OK);
  r.rows[200].failure_detail[BN_FAILURE_DETAIL_LEN - 1] = 0;
  expect_same_run(path, &r, 64);
  run_free(&r);

  /* one more failed row than the counters say: the segments' failed rows do not add up */
  build(&r, &small);
  r.rows[0].status = BN_JOB_FAILED;
  path = in_dir("failed.h5");
  commit(&r, path);
  write_path = path;
  CU_ASSERT_NOT_EQUAL(quietly(call_write, &r), BN_OK);
  run_free(&r);
  remove_dir();
}

/* Flip bytes all over one segment: reading and streaming must return, never crash, and
 * every refusal name the segment. */
static void bn_results_next_should_survive_flipped_bytes_in_a_segment(void) {
  make_dir();
  spec p = small;
  p.results = 150;
  const char *path = fresh("run.h5", &p, NULL);
  char seg_path[512];
  snprintf(seg_path, sizeof seg_path, "%s", seg_file(path, 1));
  blob b = slurp(seg_path);
  bn_snapshot snap;
  char why[768] = "";
  CU_ASSERT_EQUAL_FATAL(bn_checkpoint_read(path, &snap, why, sizeof why), BN_OK);
  const size_t max = 100;
  bn_result_row *rows = xcalloc(max, sizeof *rows);
  unsigned char *states = xcalloc(max * (size_t)snap.state_size, 1);
  int refused = 0, sealed_refused = 0;
  for (size_t pos = 0; pos < b.size; pos += 131) { /* a reader process or more each */
    /* as flipped (the seal finds it), and for every fourth one resealed too (then HDF5,
     * in the reader process, and the checks behind it see it) */
    for (int sealed = 0; sealed <= ((pos / 131) % 3 == 0); sealed++) {
      unsigned char saved = b.data[pos];
      b.data[pos] ^= 0x5a;
      spit(seg_path, b.data, b.size);
      b.data[pos] = saved;
      if (sealed) reseal(seg_path);
      bn_results_reader *rd = NULL;
      bn_err e = bn_results_open(path, &snap, &rd, why, sizeof why);
      for (size_t n = 1; e == BN_OK && n > 0;) e = bn_results_next(rd, rows, states, max, &n);
      if (e != BN_OK) {
        CU_ASSERT(e == BN_ERR_CORRUPT || e == BN_ERR_IO || e == BN_ERR_NOMEM);
        const char *w = rd ? bn_results_why(rd) : why;
        if (!strstr(w, "results-000000000001.h5")) {
          fprintf(stderr, "\n  flip at %zu: \"%s\" does not name the segment\n", pos, w);
          CU_FAIL("refusal does not name the segment");
        }
        if (!sealed && pos >= BN__SEAL_BYTES && !strstr(w, "do not match the checksum in its seal")) {
          fprintf(stderr, "\n  flip at %zu: \"%s\" is not the seal's\n", pos, w);
          CU_FAIL("a flipped byte not found by the seal");
        }
        refused += !sealed;
        sealed_refused += sealed;
      }
      bn_results_close(&rd);
    }
  }
  CU_ASSERT(refused == (int)((b.size + 130) / 131)); /* every flip, before HDF5 opens the file */
  CU_ASSERT(sealed_refused > 0);
  spit(seg_path, b.data, b.size);
  free(rows);
  free(states);
  bn_snapshot_free(&snap);
  free(b.data);
  remove_dir();
}

/* --- /results as a virtual dataset ---------------------------------------------------- */

/* Read /results of checkpoint `path` with plain HDF5 (a few fields and the state) and
 * compare with the run. */
static void expect_vds_rows(const char *path, const run *r) {
  const size_t ss = (size_t)r->s.state_size;
  typedef struct mem_row {
    uint64_t job_id, seed;
    double reward;
    char detail[BN_FAILURE_DETAIL_LEN];
  } mem_row;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  hid_t d = H5Dopen2(f, "/results", H5P_DEFAULT);
  CU_ASSERT_FATAL(d >= 0);
  hid_t dcpl = H5Dget_create_plist(d);
  size_t mappings = 0;
  if (r->s.n_segments > 0) {
    CU_ASSERT_EQUAL(H5Pget_layout(dcpl), H5D_VIRTUAL);
    CU_ASSERT(H5Pget_virtual_count(dcpl, &mappings) >= 0);
    CU_ASSERT_EQUAL(mappings, r->s.n_segments);
  }
  H5Pclose(dcpl);
  hid_t sp = H5Dget_space(d);
  hsize_t n = 99;
  CU_ASSERT(H5Sget_simple_extent_dims(sp, &n, NULL) == 1 && n == r->n_rows);
  H5Sclose(sp);
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, BN_FAILURE_DETAIL_LEN);
  H5Tset_cset(str, H5T_CSET_UTF8); /* as stored: HDF5 converts no character set */
  hid_t rows_t = H5Tcreate(H5T_COMPOUND, sizeof(mem_row));
  H5Tinsert(rows_t, "job_id", offsetof(mem_row, job_id), H5T_NATIVE_UINT64);
  H5Tinsert(rows_t, "seed", offsetof(mem_row, seed), H5T_NATIVE_UINT64);
  H5Tinsert(rows_t, "reward", offsetof(mem_row, reward), H5T_NATIVE_DOUBLE);
  hid_t fail_t = H5Tcreate(H5T_COMPOUND, sizeof(mem_row));
  H5Tinsert(fail_t, "row", offsetof(mem_row, job_id), H5T_NATIVE_UINT64);
  H5Tinsert(fail_t, "failure_detail", offsetof(mem_row, detail), str);
  const hsize_t width = ss;
  hid_t arr = H5Tarray_create2(H5T_NATIVE_UINT8, 1, &width);
  hid_t states_t = H5Tcreate(H5T_COMPOUND, ss);
  H5Tinsert(states_t, "state", 0, arr);
  mem_row *rows = xcalloc(r->n_rows, sizeof *rows), *failed = xcalloc(r->n_rows + 1, sizeof *failed);
  unsigned char *states = xcalloc(r->n_rows * ss, 1);
  if (r->n_rows > 0) {
    CU_ASSERT(H5Dread(d, rows_t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    CU_ASSERT(H5Dread(d, states_t, H5S_ALL, H5S_ALL, H5P_DEFAULT, states) >= 0);
  }
  /* the failure text: a virtual dataset beside /results, a row per failed row */
  hid_t fd = H5Dopen2(f, "/result_failures", H5P_DEFAULT);
  CU_ASSERT_FATAL(fd >= 0);
  hid_t fsp = H5Dget_space(fd);
  const hssize_t n_failed = H5Sget_simple_extent_npoints(fsp);
  CU_ASSERT(n_failed >= 0 && (uint64_t)n_failed == r->s.failures);
  if (n_failed > 0 && (uint64_t)n_failed <= r->n_rows)
    CU_ASSERT(H5Dread(fd, fail_t, H5S_ALL, H5S_ALL, H5P_DEFAULT, failed) >= 0);
  H5Sclose(fsp);
  H5Dclose(fd);
  uint64_t bad = 0, k = 0;
  for (uint64_t i = 0; i < r->n_rows; i++) {
    const bn_result_row *w = &r->rows[i];
    const int text_ok = w->status != BN_JOB_FAILED ||
                        (k < r->n_rows && failed[k].job_id == i && !strcmp(failed[k++].detail, w->failure_detail));
    if (rows[i].job_id != w->job_id || rows[i].seed != w->seed || memcmp(&rows[i].reward, &w->reward, 8) ||
        !text_ok || memcmp(states + i * ss, r->states + i * ss, ss))
      bad++;
  }
  CU_ASSERT_EQUAL(k, r->s.failures);
  free(failed);
  H5Tclose(fail_t);
  if (bad) fprintf(stderr, "\n  %llu of %llu rows of /results differ\n", (unsigned long long)bad,
                   (unsigned long long)r->n_rows);
  CU_ASSERT_EQUAL(bad, 0);
  free(rows);
  free(states);
  H5Tclose(states_t);
  H5Tclose(arr);
  H5Tclose(rows_t);
  H5Tclose(str);
  H5Dclose(d);
  H5Fclose(f);
}

static void bn_checkpoint_write_should_make_results_a_virtual_dataset_that_hdf5_reads(void) {
  make_dir();
  run r;
  const char *path = fresh("run.h5", &small, &r);
  expect_vds_rows(path, &r);
  /* from another working directory: the segment names are relative to the file */
  char cwd[4096];
  CU_ASSERT_FATAL(getcwd(cwd, sizeof cwd) != NULL);
  CU_ASSERT_FATAL(chdir("/") == 0);
  expect_vds_rows(path, &r);
  /* the checkpoint moved together with its segment directory */
  char moved[128];
  snprintf(moved, sizeof moved, "%s-moved", dir);
  CU_ASSERT_FATAL(rename(dir, moved) == 0);
  char moved_path[256];
  snprintf(moved_path, sizeof moved_path, "%s/run.h5", moved);
  expect_vds_rows(moved_path, &r);
  CU_ASSERT_FATAL(rename(moved, dir) == 0);
  CU_ASSERT_FATAL(chdir(cwd) == 0);
  run_free(&r);
  /* a '%' in the checkpoint's name, which HDF5 reads as a specifier in a source name */
  spec p = small;
  p.results = 70;
  path = fresh("run-100%b%%.h5", &p, &r);
  expect_vds_rows(path, &r);
  expect_same_run(path, &r, 64);
  run_free(&r);
  /* an empty log: an empty /results */
  p.results = 0;
  path = fresh("empty.h5", &p, &r);
  expect_vds_rows(path, &r);
  run_free(&r);
  remove_dir();
}

/* --- writing segments ----------------------------------------------------------------- */

/* A segment write that fails (the file size limit hit inside HDF5, as a full disk would
 * be) leaves neither the segment nor its temporary. In a child: HDF5 may keep the failed
 * file's handle until exit. */
static void bn_segment_write_should_leave_nothing_behind_when_it_fails(void) {
  make_dir();
  run r;
  spec p = small;
  p.results = 5000; /* about 650 KB of rows */
  build(&r, &p);
  const char *d = in_dir("run.h5.d");
  const bn_segment_params params = params_of(&r);
  const bn_result_source src = source_of(&r);
  bn_segment_info g = {.seq = 12345};
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_segment_write(d, &params, 0, 0, 10, &src, &g), BN_ERR_IO); /* no directory */
  CU_ASSERT_EQUAL(bn_segment_write(dir, &params, 0, 0, 0, &src, &g), BN_ERR_ARG); /* no rows */
  bn_log_setup(-1, BN_LOG_INFO);
  CU_ASSERT_EQUAL(g.seq, 12345);
  CU_ASSERT(!exists(d));
  CU_ASSERT_EQUAL_FATAL(bn_segment_dir_create(d), BN_OK);
  fflush(NULL);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    struct rlimit old, lim;
    if (getrlimit(RLIMIT_FSIZE, &old) != 0) _exit(10);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(11);
    bn_log_setup(-1, BN_LOG_SILENT);
    bn_err e = bn_segment_write(d, &params, 0, 0, r.n_rows, &src, &g);
    if (setrlimit(RLIMIT_FSIZE, &old) != 0) _exit(12);
    if (e != BN_ERR_HDF5 && e != BN_ERR_IO) _exit(13);
    uint64_t *seqs = NULL;
    size_t n = 0, n_tmp = 0;
    if (bn_segment_dir_list(d, &seqs, &n, &n_tmp) != BN_OK || n != 0 || n_tmp != 0) _exit(14);
    free(seqs);
    if (bn_segment_write(d, &params, 0, 0, r.n_rows, &src, &g) != BN_OK || g.bytes <= 64 * 1024) _exit(15);
    _exit(0);
  }
  int status = 0;
  CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fprintf(stderr, "\n  child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* what the child left: the segment of its second attempt, whole */
  g = (bn_segment_info){.seq = 0, .first_row = 0, .rows = r.n_rows};
  char why[768] = "";
  bn_segment_info direct;
  CU_ASSERT_EQUAL_FATAL(bn_segment_write(d, &params, 1, 0, r.n_rows, &src, &direct), BN_OK);
  g.checksum = direct.checksum;
  g.failures = direct.failures;
  CU_ASSERT_EQUAL(bn_segment_check(d, &params, &g, why, sizeof why), BN_OK);
  run_free(&r);
  remove_dir();
}

/* --- the segment directory ------------------------------------------------------------ */

static void bn_checkpoint_segment_dir_should_name_the_directory_beside_the_checkpoint(void) {
  char *s = bn_checkpoint_segment_dir_name("/a/b/ck.h5");
  CU_ASSERT_STRING_EQUAL(s, "ck.h5.d");
  free(s);
  s = bn_checkpoint_segment_dir_name("ck.h5");
  CU_ASSERT_STRING_EQUAL(s, "ck.h5.d");
  free(s);
  s = bn_checkpoint_segment_dir("/a/b/ck.h5", "ck.h5.d");
  CU_ASSERT_STRING_EQUAL(s, "/a/b/ck.h5.d");
  free(s);
  s = bn_checkpoint_segment_dir("ck.h5", "old.h5.d");
  CU_ASSERT_STRING_EQUAL(s, "old.h5.d");
  free(s);
  char path[64];
  bn_segment_path("/x", 7, path, sizeof path);
  CU_ASSERT_STRING_EQUAL(path, "/x/results-000000000007.h5");
}

static void bn_segment_dir_create_should_refuse_a_symbolic_link_or_a_file(void) {
  make_dir();
  CU_ASSERT_EQUAL(bn_segment_dir_create(in_dir("new.d")), BN_OK);
  struct stat st;
  CU_ASSERT(lstat(in_dir("new.d"), &st) == 0 && S_ISDIR(st.st_mode));
  CU_ASSERT_EQUAL(bn_segment_dir_create(in_dir("new.d")), BN_OK); /* already there */
  CU_ASSERT(symlink(in_dir("new.d"), in_dir("link.d")) == 0);
  spit(in_dir("file.d"), "x", 1);
  bn_log_setup(-1, BN_LOG_SILENT);
  CU_ASSERT_EQUAL(bn_segment_dir_create(in_dir("link.d")), BN_ERR_IO);
  CU_ASSERT_EQUAL(bn_segment_dir_create(in_dir("file.d")), BN_ERR_IO);
  CU_ASSERT_EQUAL(bn_segment_dir_create(in_dir("no/such.d")), BN_ERR_IO);
  bn_log_setup(-1, BN_LOG_INFO);
  remove_dir();
}

static int by_u64(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void bn_segment_dir_list_should_list_segments_and_remove_temporaries(void) {
  make_dir();
  run r;
  spec p = small;
  p.results = 10;
  build(&r, &p);
  const char *d = in_dir("run.h5.d");
  uint64_t *seqs = (uint64_t *)1;
  size_t n = 99, n_tmp = 99;
  CU_ASSERT(bn_segment_dir_list(d, &seqs, &n, &n_tmp) == BN_OK && n == 0 && n_tmp == 0); /* no directory */
  free(seqs);
  CU_ASSERT_EQUAL_FATAL(bn_segment_dir_create(d), BN_OK);
  const bn_segment_params params = params_of(&r);
  const bn_result_source src = source_of(&r);
  bn_segment_info g;
  CU_ASSERT_EQUAL_FATAL(bn_segment_write(d, &params, 5, 0, 4, &src, &g), BN_OK);
  CU_ASSERT_EQUAL_FATAL(bn_segment_write(d, &params, 0, 4, 6, &src, &g), BN_OK);
  CU_ASSERT_EQUAL_FATAL(bn_segment_write(d, &params, 123456789012, 0, 1, &src, &g), BN_OK);
  spit(in_dir("run.h5.d/results-000000000009.h5.tmp"), "partial", 7); /* left by a killed writer */
  spit(in_dir("run.h5.d/notes.txt"), "x", 1);
  spit(in_dir("run.h5.d/results-abc.h5"), "x", 1);
  spit(in_dir("run.h5.d/results-000000000002.h5.bak"), "x", 1);
  CU_ASSERT_EQUAL_FATAL(bn_segment_dir_list(d, &seqs, &n, &n_tmp), BN_OK);
  CU_ASSERT_EQUAL_FATAL(n, 3);
  qsort(seqs, n, sizeof *seqs, by_u64);
  CU_ASSERT(seqs[0] == 0 && seqs[1] == 5 && seqs[2] == 123456789012);
  free(seqs);
  CU_ASSERT_EQUAL(n_tmp, 1);
  CU_ASSERT(!exists(in_dir("run.h5.d/results-000000000009.h5.tmp")));
  CU_ASSERT(exists(in_dir("run.h5.d/notes.txt")) && exists(in_dir("run.h5.d/results-abc.h5")) &&
            exists(in_dir("run.h5.d/results-000000000002.h5.bak")));
  bn_segment_remove(d, 5);
  bn_log_setup(-1, BN_LOG_SILENT);
  bn_segment_remove(d, 77); /* not there: nothing happens */
  bn_log_setup(-1, BN_LOG_INFO);
  CU_ASSERT_EQUAL_FATAL(bn_segment_dir_list(d, &seqs, &n, NULL), BN_OK);
  CU_ASSERT_EQUAL(n, 2);
  free(seqs);
  CU_ASSERT(!exists(in_dir("run.h5.d/results-000000000005.h5")));
  run_free(&r);
  remove_dir();
}

BN_TEST_MAIN("segments", BN_TEST(bn_results_next_should_stream_the_rows_of_several_segments_in_order),
             BN_TEST(bn_results_next_should_end_at_once_for_an_empty_log),
             BN_TEST(bn_segment_merge_should_give_the_same_rows_and_a_valid_checksum),
             BN_TEST(bn_segment_merge_should_refuse_segments_that_are_not_adjacent),
             BN_TEST(bn_segment_merge_should_refuse_a_damaged_source_and_leave_nothing),
             BN_TEST(bn_segment_merge_should_write_nothing_when_cancelled),
             BN_TEST(bn_checkpoint_read_should_refuse_a_missing_segment),
             BN_TEST(bn_results_next_should_report_a_checksum_mismatch_naming_the_file),
             BN_TEST(bn_checkpoint_read_should_refuse_a_segment_whose_header_changed),
             BN_TEST(bn_checkpoint_read_should_refuse_a_segment_of_another_run),
             BN_TEST(bn_checkpoint_read_should_refuse_a_segment_table_that_does_not_tile_the_rows),
             BN_TEST(bn_checkpoint_read_should_refuse_a_segment_table_of_the_wrong_shape),
             BN_TEST(bn_results_next_should_refuse_rows_the_format_does_not_allow),
             BN_TEST(bn_results_next_should_survive_flipped_bytes_in_a_segment),
             BN_TEST(bn_checkpoint_write_should_make_results_a_virtual_dataset_that_hdf5_reads),
             BN_TEST(bn_segment_write_should_leave_nothing_behind_when_it_fails),
             BN_TEST(bn_checkpoint_segment_dir_should_name_the_directory_beside_the_checkpoint),
             BN_TEST(bn_segment_dir_create_should_refuse_a_symbolic_link_or_a_file),
             BN_TEST(bn_segment_dir_list_should_list_segments_and_remove_temporaries))
