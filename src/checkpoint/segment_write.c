/* Result segments, the write side: one immutable HDF5 file per range of the results log
 * (DIR/results-<seq>.h5), written once by the checkpoint writer thread and never changed,
 * so a checkpoint only writes the rows that arrived since the previous one, and a reader
 * can use any committed segment while the run goes on. bn_segment_merge combines adjacent
 * segments into one (compaction, so a long run does not collect thousands of files).
 *
 * A segment is written to "results-<seq>.h5.tmp" (created fresh with O_EXCL | O_NOFOLLOW,
 * so a planted symlink is never followed, and opened by HDF5 through that descriptor),
 * flushed, closed, sealed (an XXH3-64 of the whole file and a copy of the header in its
 * first 512 bytes, seal.h), synced and renamed into place, then the directory is synced: a
 * crash leaves either no segment or a complete one. Its root
 * attributes name the run, its rows, its failed rows and an XXH3-64 checksum of the rows
 * in the wire layout (checkpoint_impl.h); the rows are /results, the same compound type as
 * the main file's virtual /results, chunked and, if asked, shuffled and deflated (HDF5's
 * built-in filters, which every HDF5 and h5py read). The text of failed rows goes to
 * /result_failures beside them, so the rows that succeeded carry no text bytes. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/h5check.h"
#include "checkpoint/seal.h"
#include "util/bulk_hash.h"
#include "util/thread_buffer.h"

void bn_segment_path(const char *dir, uint64_t seq, char *buf, size_t n) {
  snprintf(buf, n, "%s/" BN__SEGMENT_PREFIX "%012llu" BN__SEGMENT_SUFFIX, dir, (unsigned long long)seq);
}

/* An open segment being written. */
typedef struct seg_out {
  hid_t file, ds, fspace, mtype;
  int fd;                      /* the temporary, created by banyan; HDF5 opens it through it */
  uint64_t run_id, first_row, state_size;
  uint64_t rows, done;
  hsize_t chunk;
  size_t row_bytes;            /* a wire row (what seg_put takes and the checksum covers) */
  size_t file_bytes;           /* a row of /results as stored: no failure text */
  size_t status_at;            /* offset of `status` in a row */
  int deflate;                 /* > 0: chunks compressed here, written with H5Dwrite_chunk */
  unsigned char *scratch, *zbuf, *rows_buf; /* rows_buf: one chunk of stored rows */
  size_t zcap;
  hid_t fail_ds, fail_mtype;   /* /result_failures, extended as failed rows come */
  bn_result_failure *fail_buf; /* failed rows not yet written to it */
  size_t fail_n;
  uint64_t failures;
  uint64_t unsynced;           /* bytes given to HDF5 since writeback was last started */
  XXH3_state_t *xxh;
  char path[4096], tmp[4200];
} seg_out;

static bn_err attr_u64(hid_t loc, const char *name, uint64_t v, bn_err *errp) {
  bn_err err = BN_OK;
  hid_t space = -1, a = -1;
  BN_H5_SET(space, H5Screate(H5S_SCALAR));
  BN_H5_SET(a, H5Acreate2(loc, name, H5T_STD_U64LE, space, H5P_DEFAULT, H5P_DEFAULT));
  BN_H5(H5Awrite(a, H5T_NATIVE_UINT64, &v));
fail:
  (void)bn__h5_close(&a);
  (void)bn__h5_close(&space);
  if (err != BN_OK) *errp = err;
  return err;
}

/* Rows per chunk: about 1 MiB (at most 64 Ki rows), no more than the rows there are. */
static hsize_t chunk_rows(size_t row_bytes, uint64_t rows) {
  uint64_t c = ((uint64_t)1 << 20) / row_bytes;
  if (c < 1) c = 1;
  if (c > 65536) c = 65536;
  return (hsize_t)(c < rows ? c : rows);
}

/* The thread's own buffers (util/thread_buffer.h): a writer thread writes one segment
 * after another, and fresh buffers of a few MiB cost it page faults every time. */
enum { BUF_WIRE, BUF_ROWS, BUF_SCRATCH, BUF_ZIP };

static void seg_free_buffers(seg_out *o) {
  free(o->fail_buf);
  o->scratch = o->zbuf = o->rows_buf = NULL;
  o->fail_buf = NULL;
}

static void seg_abandon(seg_out *o) {
  seg_free_buffers(o);
  (void)bn__h5_close(&o->mtype);
  (void)bn__h5_close(&o->fspace);
  (void)bn__h5_close(&o->ds);
  (void)bn__h5_close(&o->fail_mtype);
  (void)bn__h5_close(&o->fail_ds);
  if (o->file >= 0) {
    bn__h5_abandoned();
    /* Free the partial file's blocks first (a full disk is the usual cause), so the
     * metadata flush inside H5Fclose can succeed. */
    if (o->fd >= 0 && ftruncate(o->fd, 0) != 0) bn_debug("cannot truncate %s: %s", o->tmp, strerror(errno));
    if (bn__h5_close(&o->file) < 0) bn_debug("HDF5 could not close %s after a failure", o->tmp);
  }
  if (o->fd >= 0) (void)close(o->fd);
  o->fd = -1;
  if (o->tmp[0] && unlink(o->tmp) != 0 && errno != ENOENT) bn_warn("cannot remove %s: %s", o->tmp, strerror(errno));
  if (o->xxh) XXH3_freeState(o->xxh);
  o->xxh = NULL;
}

static bn_err seg_begin(seg_out *o, const char *dir, const bn_segment_params *p, uint64_t seq, uint64_t first_row,
                        uint64_t rows) {
  bn_err err = BN_OK;
  hid_t fapl = -1, fcpl = -1, dcpl = -1, ftype = -1, space = -1;
  memset(o, 0, sizeof *o);
  o->file = o->ds = o->fspace = o->mtype = o->fail_ds = o->fail_mtype = -1;
  o->fd = -1;
  o->run_id = p->run_id;
  o->first_row = first_row;
  o->state_size = p->state_size;
  o->rows = rows;
  o->row_bytes = bn__result_wire_size(p->state_size);
  o->file_bytes = bn__table_packed_size(&bn__results_table, p->state_size);
  o->status_at = bn__result_status_offset();
  bn_segment_path(dir, seq, o->path, sizeof o->path);
  snprintf(o->tmp, sizeof o->tmp, "%s.tmp", o->path);
  o->xxh = XXH3_createState();
  BN_CHECK_GOTO(o->xxh && XXH3_64bits_reset(o->xxh) != XXH_ERROR, BN_ERR_NOMEM, "no memory for a checksum");
  if (unlink(o->tmp) != 0 && errno != ENOENT) BN_CHECK_GOTO(0, BN_ERR_IO, "cannot remove stale %s: %s", o->tmp, strerror(errno));
  /* Created here, never through a link; HDF5 then opens this very file (seal.h). */
  o->fd = open(o->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  BN_CHECK_GOTO(o->fd >= 0, BN_ERR_IO, "cannot create %s: %s", o->tmp, strerror(errno));
  char h5path[4200];
  bn__fd_path(o->fd, o->tmp, h5path, sizeof h5path);
  BN_TRY(bn__h5_writer_fapl(&fapl));
  BN_TRY(bn__h5_writer_fcpl(&fcpl));
  BN_H5_SET(o->file, H5Fcreate(h5path, H5F_ACC_TRUNC, fcpl, fapl));
  const uint32_t version = BN_CHECKPOINT_FORMAT_VERSION;
  {
    hid_t sp = -1, a = -1;
    BN_H5_SET(sp, H5Screate(H5S_SCALAR));
    a = H5Acreate2(o->file, "format_version", H5T_STD_U32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t w = a >= 0 ? H5Awrite(a, H5T_NATIVE_UINT32, &version) : -1;
    (void)bn__h5_close(&a);
    (void)bn__h5_close(&sp);
    BN_H5(w);
  }
  BN_TRY(attr_u64(o->file, "run_id", p->run_id, &err));
  BN_TRY(attr_u64(o->file, "first_row", first_row, &err));
  BN_TRY(attr_u64(o->file, "rows", rows, &err));
  BN_TRY(attr_u64(o->file, "state_size", p->state_size, &err));
  BN_TRY(bn__table_type(&bn__results_table, p->state_size, BN__LAYOUT_FILE, &ftype));
  BN_TRY(bn__table_type(&bn__results_table, p->state_size, BN__LAYOUT_PACKED, &o->mtype));
  const hsize_t dims[1] = {rows};
  BN_H5_SET(o->fspace, H5Screate_simple(1, dims, NULL));
  BN_H5_SET(dcpl, H5Pcreate(H5P_DATASET_CREATE));
  BN_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
  o->chunk = chunk_rows(o->file_bytes, rows);
  BN_H5(H5Pset_chunk(dcpl, 1, &o->chunk));
  o->rows_buf = bn__thread_buffer(BUF_ROWS, (size_t)o->chunk * o->file_bytes);
  o->fail_buf = malloc(BN__FAILURE_STRIP * sizeof *o->fail_buf);
  BN_CHECK_GOTO(o->rows_buf && o->fail_buf, BN_ERR_NOMEM, "no memory for a segment chunk");
  if (p->deflate > 0) {
    BN_H5(H5Pset_shuffle(dcpl));
    BN_H5(H5Pset_deflate(dcpl, (unsigned)p->deflate));
    o->deflate = p->deflate;
    o->zcap = bn__chunk_encode_bound(o->file_bytes, (size_t)o->chunk);
    o->scratch = bn__thread_buffer(BUF_SCRATCH, (size_t)o->chunk * o->file_bytes);
    o->zbuf = bn__thread_buffer(BUF_ZIP, o->zcap);
    BN_CHECK_GOTO(o->scratch && o->zbuf, BN_ERR_NOMEM, "no memory for compressing a segment");
  }
  BN_H5_SET(o->ds, H5Dcreate2(o->file, "results", ftype, o->fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  (void)bn__h5_close(&dcpl);
  (void)bn__h5_close(&ftype);
  {
    /* /result_failures: empty, extended by each strip of failed rows. */
    const hsize_t zero[1] = {0}, unlimited[1] = {H5S_UNLIMITED}, fchunk[1] = {BN__FAILURE_STRIP};
    BN_H5_SET(space, H5Screate_simple(1, zero, unlimited));
    BN_H5_SET(dcpl, H5Pcreate(H5P_DATASET_CREATE));
    BN_H5(H5Pset_chunk(dcpl, 1, fchunk));
    if (p->deflate > 0) BN_H5(H5Pset_deflate(dcpl, (unsigned)p->deflate));
    BN_TRY(bn__table_type(&bn__result_failures_table, 1, BN__LAYOUT_FILE, &ftype));
    BN_TRY(bn__table_type(&bn__result_failures_table, 1, BN__LAYOUT_STRUCT, &o->fail_mtype));
    BN_H5_SET(o->fail_ds, H5Dcreate2(o->file, "result_failures", ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    (void)bn__h5_close(&space);
    (void)bn__h5_close(&dcpl);
    (void)bn__h5_close(&ftype);
  }
  (void)bn__h5_close(&fcpl);
  (void)bn__h5_close(&fapl);
  return BN_OK;
fail:
  (void)bn__h5_close(&space);
  (void)bn__h5_close(&dcpl);
  (void)bn__h5_close(&ftype);
  (void)bn__h5_close(&fcpl);
  (void)bn__h5_close(&fapl);
  seg_abandon(o);
  return err;
}

/* Write the failed rows collected so far to /result_failures. */
static bn_err flush_failures(seg_out *o) {
  bn_err err = BN_OK;
  hid_t fspace = -1, mspace = -1;
  if (o->fail_n == 0) return BN_OK;
  const hsize_t start[1] = {o->failures}, count[1] = {o->fail_n}, total[1] = {o->failures + o->fail_n};
  BN_H5(H5Dset_extent(o->fail_ds, total));
  BN_H5_SET(fspace, H5Dget_space(o->fail_ds));
  BN_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  BN_H5_SET(mspace, H5Screate_simple(1, count, NULL));
  BN_H5(H5Dwrite(o->fail_ds, o->fail_mtype, mspace, fspace, H5P_DEFAULT, o->fail_buf));
  o->failures += o->fail_n;
  o->fail_n = 0;
fail:
  (void)bn__h5_close(&mspace);
  (void)bn__h5_close(&fspace);
  return err;
}

/* Start the disk writing what the file has so far, without waiting (Linux), every few MB:
 * the data goes out while the segment is being written, so the fsync at its end has little
 * left to do, and a checkpoint's fsync of the main file does not find a merge's hundreds of
 * megabytes still in memory to write out first (ext4 orders data before the metadata it
 * commits). */
static void start_writeback(seg_out *o, size_t bytes) {
  o->unsynced += bytes;
  if (o->unsynced < ((uint64_t)8 << 20)) return;
  o->unsynced = 0;
#ifdef SYNC_FILE_RANGE_WRITE
  (void)sync_file_range(o->fd, 0, 0, SYNC_FILE_RANGE_WRITE); /* advice: a failure changes nothing */
#endif
}

/* Clear the bytes after the text's first NUL (and the last byte), so the checksum covers
 * exactly what a reader gets back: HDF5 returns a stored string NUL-padded. */
static void tidy_text(unsigned char *t, size_t n) {
  t[n - 1] = 0;
  const unsigned char *nul = memchr(t, 0, n);
  memset((unsigned char *)nul, 0, n - (size_t)(nul - t));
}

/* Append n wire rows (whole chunks, except at the end): the rows without their text to
 * /results, the text of failed ones to /result_failures. */
static bn_err seg_put(seg_out *o, unsigned char *buf, size_t n) {
  bn_err err = BN_OK;
  hid_t mspace = -1;
  const hsize_t start[1] = {o->done}, count[1] = {n};
  BN_CHECK(o->done + n <= o->rows, BN_ERR_INTERNAL, "segment %s: more rows than declared", o->path);
  for (size_t i = 0; i < n; i++) {
    unsigned char *w = buf + i * o->row_bytes, *text = w + o->file_bytes;
    memcpy(o->rows_buf + i * o->file_bytes, w, o->file_bytes);
    if (w[o->status_at] != BN_JOB_FAILED) {
      memset(text, 0, BN__RESULT_TEXT_BYTES);
      continue;
    }
    tidy_text(text, BN_FAILURE_KIND_LEN);
    tidy_text(text + BN_FAILURE_KIND_LEN, BN_FAILURE_DETAIL_LEN);
    bn_result_failure *f = &o->fail_buf[o->fail_n++];
    f->row = o->first_row + o->done + i;
    memcpy(f->failure_kind, text, BN_FAILURE_KIND_LEN);
    memcpy(f->failure_detail, text + BN_FAILURE_KIND_LEN, BN_FAILURE_DETAIL_LEN);
    if (o->fail_n == BN__FAILURE_STRIP) BN_CALL(flush_failures(o));
  }
  XXH3_64bits_update(o->xxh, buf, n * o->row_bytes);
  if (o->deflate > 0) {
    /* Compressed here, outside HDF5's lock; HDF5 only stores the bytes. */
    BN_CHECK(o->done % o->chunk == 0 && (n == o->chunk || o->done + n == o->rows), BN_ERR_INTERNAL,
             "segment %s: a compressed write must cover one whole chunk", o->path);
    size_t len = o->zcap;
    BN_CALL(bn__chunk_encode(o->rows_buf, n, o->file_bytes, (size_t)o->chunk, o->deflate, o->scratch, o->zbuf, &len));
    BN_H5(H5Dwrite_chunk(o->ds, H5P_DEFAULT, 0, start, len, o->zbuf));
    o->done += n;
    start_writeback(o, len);
    return BN_OK;
  }
  BN_H5_SET(mspace, H5Screate_simple(1, count, NULL));
  BN_H5(H5Sselect_hyperslab(o->fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  BN_H5(H5Dwrite(o->ds, o->mtype, mspace, o->fspace, H5P_DEFAULT, o->rows_buf));
  (void)bn__h5_close(&mspace);
  o->done += n;
  start_writeback(o, n * o->file_bytes);
  return BN_OK;
fail:
  (void)bn__h5_close(&mspace);
  return err;
}

/* fsync a path (file or directory); EINVAL/ENOTSUP (cannot sync there) are not errors. */
static bn_err sync_path(const char *path, int dir, uint64_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
  BN_CHECK(fd >= 0, BN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  int e = 0;
  if (fsync(fd) != 0 && !(dir && (errno == EINVAL || errno == ENOTSUP))) e = errno;
  if (!e && size && fstat(fd, &st) != 0) e = errno;
  (void)close(fd);
  BN_CHECK(!e, BN_ERR_IO, "cannot sync %s: %s", path, strerror(e));
  if (size) *size = (uint64_t)st.st_size;
  return BN_OK;
}

static bn_err seg_finish(seg_out *o, const char *dir, uint64_t seq, uint64_t first_row, bn_segment_info *out) {
  bn_err err = BN_OK;
  BN_CHECK_GOTO(o->done == o->rows, BN_ERR_INTERNAL, "segment %s: %llu of %llu rows written", o->path,
                (unsigned long long)o->done, (unsigned long long)o->rows);
  BN_TRY(flush_failures(o));
  const uint64_t sum = XXH3_64bits_digest(o->xxh);
  BN_TRY(attr_u64(o->file, "checksum", sum, &err));
  BN_TRY(attr_u64(o->file, "failures", o->failures, &err));
  (void)bn__h5_close(&o->fail_mtype);
  BN_H5(bn__h5_close(&o->fail_ds));
  (void)bn__h5_close(&o->mtype);
  (void)bn__h5_close(&o->fspace);
  BN_H5(bn__h5_close(&o->ds));
  BN_H5(H5Fflush(o->file, H5F_SCOPE_GLOBAL));
  BN_H5(bn__h5_close(&o->file));
  /* The seal: the checksum of the whole file and a copy of the header (also syncs it). */
  bn__seal seal = {.kind = BN__SEAL_SEGMENT, .run_id = o->run_id, .first_row = o->first_row, .rows = o->rows,
                   .state_size = o->state_size, .rows_checksum = sum, .failures = o->failures};
  BN_TRY(bn__seal_write(o->fd, o->tmp, &seal));
  const uint64_t bytes = seal.file_size;
  BN_CHECK_GOTO(close(o->fd) == 0, BN_ERR_IO, "cannot close %s: %s", o->tmp, strerror(errno));
  o->fd = -1;
  BN_CHECK_GOTO(rename(o->tmp, o->path) == 0, BN_ERR_IO, "cannot rename %s to %s: %s", o->tmp, o->path, strerror(errno));
  o->tmp[0] = '\0';
  seg_free_buffers(o);
  XXH3_freeState(o->xxh);
  o->xxh = NULL;
  BN_CALL(sync_path(dir, 1, NULL));
  *out = (bn_segment_info){
      .seq = seq, .first_row = first_row, .rows = o->rows, .checksum = sum, .bytes = bytes, .failures = o->failures};
  return BN_OK;
fail:
  seg_abandon(o);
  return err;
}

bn_err bn_segment_write(const char *dir, const bn_segment_params *p, uint64_t seq, uint64_t first_row, uint64_t rows,
                        const bn_result_source *src, bn_segment_info *out) {
  BN_CHECK(dir && p && src && out && rows > 0, BN_ERR_ARG, "segment write: bad arguments");
  bn__h5_guard guard;
  bn__h5_quiet(&guard);
  seg_out o;
  unsigned char *buf = NULL;
  bn_err err = seg_begin(&o, dir, p, seq, first_row, rows);
  if (err != BN_OK) goto done;
  buf = bn__thread_buffer(BUF_WIRE, (size_t)o.chunk * o.row_bytes);
  if (!buf) {
    seg_abandon(&o);
    err = BN_ERR_NOMEM;
    bn_error("no memory for a %zu-byte segment buffer", (size_t)o.chunk * o.row_bytes);
    goto done;
  }
  for (uint64_t i = 0; i < rows && err == BN_OK; i += o.chunk) {
    const size_t n = (size_t)(rows - i < o.chunk ? rows - i : o.chunk);
    for (size_t k = 0; k < n; k++) {
      const uint64_t row = first_row + i + k;
      bn__result_pack(src->row(src->ctx, row), src->state(src->ctx, row), (size_t)p->state_size, buf + k * o.row_bytes);
    }
    err = seg_put(&o, buf, n);
  }
  if (err != BN_OK) seg_abandon(&o);
  else err = seg_finish(&o, dir, seq, first_row, out);
done:
  if (err != BN_OK) err = bn__write_failed(o.tmp[0] ? o.tmp : o.path, err);
  bn__h5_restore(&guard);
  return err;
}

bn_err bn_segment_merge(const char *dir, const bn_segment_params *p, const bn_segment_info *in, size_t n, uint64_t seq,
                        bn_segment_info *out) {
  BN_CHECK(dir && p && in && out && n > 0, BN_ERR_ARG, "segment merge: bad arguments");
  uint64_t rows = 0;
  for (size_t i = 0; i < n; i++) {
    BN_CHECK(in[i].first_row == in[0].first_row + rows, BN_ERR_ARG, "segment merge: segments are not adjacent");
    rows += in[i].rows;
  }
  bn__h5_guard guard;
  bn__h5_quiet(&guard);
  seg_out o;
  unsigned char *buf = NULL;
  bn__seg_in src;
  bn__seg_in_init(&src);
  bn_err err = seg_begin(&o, dir, p, seq, in[0].first_row, rows);
  if (err != BN_OK) goto done;
  buf = bn__thread_buffer(BUF_WIRE, (size_t)o.chunk * o.row_bytes);
  if (!buf) {
    err = BN_ERR_NOMEM;
    bn_error("no memory for a %zu-byte segment buffer", (size_t)o.chunk * o.row_bytes);
  }
  /* Copy in whole output chunks: fill the buffer from as many sources as it takes. */
  size_t fill = 0, k = 0;
  char why[512] = "";
  bool cancelled = false;
  while (err == BN_OK && (k < n || fill > 0)) {
    if (p->cancel && *p->cancel) {
      cancelled = true;
      break;
    }
    if (k < n && !bn__seg_in_is_open(&src)) {
      err = bn__seg_in_open(&src, dir, p, &in[k], 1, why, sizeof why); /* HDF5 in a reader process */
      if (err != BN_OK) {
        bn_error("compaction: %s", why);
        break;
      }
    }
    size_t got = 0;
    if (k < n) {
      err = bn__seg_in_read(&src, buf + fill * o.row_bytes, (size_t)o.chunk - fill, &got, why, sizeof why);
      if (err != BN_OK) {
        bn_error("compaction: %s", why);
        break;
      }
      if (bn__seg_in_done(&src)) {
        bn__seg_in_close(&src);
        k++;
      }
    }
    fill += got;
    if (fill == o.chunk || (k == n && fill > 0)) {
      err = seg_put(&o, buf, fill);
      fill = 0;
    }
  }
  if (err != BN_OK || cancelled) {
    seg_abandon(&o);
    if (cancelled) *out = (bn_segment_info){.seq = seq};
  } else {
    err = seg_finish(&o, dir, seq, in[0].first_row, out);
  }
done:
  if (err != BN_OK) err = bn__write_failed(o.tmp[0] ? o.tmp : o.path, err);
  bn__seg_in_close(&src);
  bn__h5_restore(&guard);
  return err;
}
