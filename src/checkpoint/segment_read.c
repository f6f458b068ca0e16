/* Result segments, the read side: the check of a segment against the checkpoint's segment
 * table (bn_segment_check: the copy of its header in its seal, seal.h: right run, rows,
 * state size, checksum of the rows and size; no HDF5 and no rows read, so checking every
 * segment a checkpoint lists costs the same at 1 M and at 1 G results, and a missing,
 * foreign or truncated segment makes the checkpoint unusable and resume falls back to
 * NAME.prev), and the reader of a segment's rows (bn__seg_in), which checks the whole
 * file against its seal before HDF5 opens it, then its HDF5 header, every row, the rows'
 * checksum. It reads /results and the text of failed rows (/result_failures) side by side
 * and gives wire rows (checkpoint_impl.h): each failed row must have exactly its text. The
 * streaming reader of the whole results log (bn_results_*) reads each segment through a
 * reader process (guard.h) and checks every row and the failure count, in strips of about
 * 4 MiB: memory stays bounded however long the run was. Nothing here writes a file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/h5check.h"
#include "checkpoint/seal.h"
#include "util/bulk_hash.h"

/* Every root attribute of a segment must agree with the table and the run. */
static bn_err check_header(bn__rd *r, const bn_segment_params *p, const bn_segment_info *seg) {
  uint32_t version = 0;
  uint64_t run_id = 0, first = 0, rows = 0, ss = 0, sum = 0, failures = 0;
  BN_CALL(bn__rd_attr_num(r, r->file, "/", "format_version", BN__F_U32, &version));
  BN_CALL(bn__rd_attr_num(r, r->file, "/", "run_id", BN__F_U64, &run_id));
  BN_CALL(bn__rd_attr_num(r, r->file, "/", "first_row", BN__F_U64, &first));
  BN_CALL(bn__rd_attr_num(r, r->file, "/", "rows", BN__F_U64, &rows));
  BN_CALL(bn__rd_attr_num(r, r->file, "/", "state_size", BN__F_U64, &ss));
  BN_CALL(bn__rd_attr_num(r, r->file, "/", "checksum", BN__F_U64, &sum));
  BN_CALL(bn__rd_attr_num(r, r->file, "/", "failures", BN__F_U64, &failures));
  if (version != BN_CHECKPOINT_FORMAT_VERSION)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "format_version %u, not %u", version, BN_CHECKPOINT_FORMAT_VERSION);
  if (run_id != p->run_id)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "belongs to another run (run_id %016llx, this run %016llx)",
                       (unsigned long long)run_id, (unsigned long long)p->run_id);
  if (first != seg->first_row || rows != seg->rows)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "holds rows %llu..+%llu, the checkpoint expects %llu..+%llu",
                       (unsigned long long)first, (unsigned long long)rows, (unsigned long long)seg->first_row,
                       (unsigned long long)seg->rows);
  if (ss != p->state_size)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "has %llu-byte states, the run %llu-byte ones", (unsigned long long)ss,
                       (unsigned long long)p->state_size);
  if (sum != seg->checksum)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "checksum %016llx, the checkpoint expects %016llx", (unsigned long long)sum,
                       (unsigned long long)seg->checksum);
  if (failures != seg->failures)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "holds %llu failed rows, the checkpoint expects %llu",
                       (unsigned long long)failures, (unsigned long long)seg->failures);
  return BN_OK;
}

/* Direct chunk reads when the dataset is chunked (rank 1) with exactly shuffle then
 * deflate, as banyan writes merged segments; anything else is read through H5Dread. */
static bn_err setup_direct(bn__seg_in *s) {
  hid_t dcpl = H5Dget_create_plist(s->ds);
  hsize_t chunk = 0;
  int ok = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 1, &chunk) == 1 && chunk > 0 &&
           chunk <= ((uint64_t)64 << 20) / s->file_bytes + 1 && H5Pget_nfilters(dcpl) == 2;
  for (unsigned k = 0; ok && k < 2; k++) {
    unsigned flags = 0, cd[8];
    size_t ncd = 8;
    const H5Z_filter_t f = H5Pget_filter2(dcpl, k, &flags, &ncd, cd, 0, NULL, NULL);
    ok = f == (k == 0 ? H5Z_FILTER_SHUFFLE : H5Z_FILTER_DEFLATE);
  }
  (void)bn__h5_close(&dcpl);
  if (!ok) return BN_OK;
  s->chunk_rows = chunk;
  s->zcap = bn__chunk_encode_bound(s->file_bytes, (size_t)chunk);
  s->plain = malloc((size_t)chunk * s->file_bytes);
  s->scratch = malloc((size_t)chunk * s->file_bytes);
  s->zbuf = malloc(s->zcap);
  if (!s->plain || !s->scratch || !s->zbuf) return BN_ERR_NOMEM;
  s->direct = 1;
  return BN_OK;
}

/* Decode the chunk holding row s->next into s->plain; 1 if done, 0 if this chunk must be
 * read through H5Dread (stored with a filter skipped), -1 if it is damaged. */
static int decode_chunk(bn__seg_in *s) {
  const uint64_t k = s->next / s->chunk_rows;
  if (s->decoded == k + 1) return 1;
  const hsize_t offset[1] = {k * s->chunk_rows};
  hsize_t size = 0;
  uint32_t mask = 0;
  if (H5Dget_chunk_storage_size(s->ds, offset, &size) < 0 || size == 0 || size > s->zcap) return -1;
  if (H5Dread_chunk(s->ds, H5P_DEFAULT, offset, &mask, s->zbuf) < 0) return -1;
  if (mask != 0) return 0;
  if (bn__chunk_decode(s->zbuf, (size_t)size, s->file_bytes, (size_t)s->chunk_rows, s->scratch, s->plain) != 0) return -1;
  s->decoded = k + 1;
  return 1;
}

int bn__seg_in_is_open(const bn__seg_in *s) { return s->open; }
int bn__seg_in_done(const bn__seg_in *s) { return s->open && s->next == s->rows; }

void bn__seg_in_init(bn__seg_in *s) {
  memset(s, 0, sizeof *s);
  s->ds = s->fspace = s->mtype = s->fail_ds = s->fail_mtype = -1;
  s->fd = -1;
  s->g = (bn__guard){.pid = -1, .fd = -1};
  s->r.file = -1;
}

void bn__seg_in_close(bn__seg_in *s) {
  free(s->plain);
  free(s->scratch);
  free(s->zbuf);
  free(s->stored);
  free(s->fail_buf);
  s->plain = s->scratch = s->zbuf = s->stored = NULL;
  s->fail_buf = NULL;
  s->stored_cap = 0;
  s->direct = 0;
  (void)bn__h5_close(&s->fail_mtype);
  (void)bn__h5_close(&s->fail_ds);
  (void)bn__h5_close(&s->mtype);
  (void)bn__h5_close(&s->fspace);
  (void)bn__h5_close(&s->ds);
  (void)bn__h5_close(&s->r.file);
  if (s->guarded) bn__guard_stop(&s->g);
  if (s->fd >= 0) (void)close(s->fd);
  s->fd = -1;
  if (s->xxh) XXH3_freeState(s->xxh);
  s->xxh = NULL;
  s->open = 0;
}

/* Prefix the reader's reason with the file name. */
static bn_err named(bn_err e, const char *path, const char *inner, char *why, size_t whylen) {
  return bn__why(e, why, whylen, "segment %s: %s", path, inner[0] ? inner : bn_strerror(e));
}

/* The seal's copy of the header against the segment table and the run. */
static bn_err check_seal_fields(const bn__seal *sl, const bn_segment_params *p, const bn_segment_info *seg,
                                uint64_t size, char *why, size_t whylen) {
  if (sl->format_version != BN_CHECKPOINT_FORMAT_VERSION)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "format_version %u, not %u", sl->format_version,
                   BN_CHECKPOINT_FORMAT_VERSION);
  if (sl->run_id != p->run_id)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "belongs to another run (run_id %016llx, this run %016llx)",
                   (unsigned long long)sl->run_id, (unsigned long long)p->run_id);
  if (sl->first_row != seg->first_row || sl->rows != seg->rows)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "holds rows %llu..+%llu, the checkpoint expects %llu..+%llu",
                   (unsigned long long)sl->first_row, (unsigned long long)sl->rows,
                   (unsigned long long)seg->first_row, (unsigned long long)seg->rows);
  if (sl->state_size != p->state_size)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "has %llu-byte states, the run %llu-byte ones",
                   (unsigned long long)sl->state_size, (unsigned long long)p->state_size);
  if (sl->rows_checksum != seg->checksum)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "checksum %016llx, the checkpoint expects %016llx",
                   (unsigned long long)sl->rows_checksum, (unsigned long long)seg->checksum);
  if (sl->failures != seg->failures)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "holds %llu failed rows, the checkpoint expects %llu",
                   (unsigned long long)sl->failures, (unsigned long long)seg->failures);
  if (seg->bytes != 0 && seg->bytes != size)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "%llu bytes, the checkpoint expects %llu", (unsigned long long)size,
                   (unsigned long long)seg->bytes);
  return BN_OK;
}

/* Open the segment file (s->path) on s->fd and check its seal against the table: no HDF5,
 * 512 bytes read; with `body`, also the checksum of the whole file. */
static bn_err open_sealed(bn__seg_in *s, const bn_segment_params *p, const bn_segment_info *seg, int body,
                          bn__seal *sl, char *why, size_t whylen) {
  s->fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (s->fd < 0) return bn__why(BN_ERR_IO, why, whylen, "cannot open %s: %s", s->path, strerror(errno));
  struct stat st;
  if (fstat(s->fd, &st) != 0) return bn__why(BN_ERR_IO, why, whylen, "cannot stat: %s", strerror(errno));
  if (!S_ISREG(st.st_mode)) return bn__why(BN_ERR_IO, why, whylen, "not a regular file");
  BN_CALL(bn__seal_read(s->fd, (uint64_t)st.st_size, BN__SEAL_SEGMENT, sl, why, whylen));
  BN_CALL(check_seal_fields(sl, p, seg, (uint64_t)st.st_size, why, whylen));
  return body ? bn__seal_check_body(s->fd, sl, why, whylen) : BN_OK;
}

/* The HDF5 part of opening: header attributes, the /results and /result_failures tables,
 * direct chunk reads. */
static bn_err open_hdf5(bn__seg_in *s, const bn_segment_params *p, const bn_segment_info *seg, uint64_t size) {
  char h5path[4200];
  bn__fd_path(s->fd, s->path, h5path, sizeof h5path);
  bn_err err = bn__rd_open_path(&s->r, h5path, s->path, size);
  uint64_t n = 0;
  if (err == BN_OK) err = check_header(&s->r, p, seg);
  if (err == BN_OK) err = bn__rd_table_open(&s->r, &bn__results_table, p->state_size, &s->ds, &n, NULL);
  if (err == BN_OK && n != seg->rows)
    err = bn__rd_fail(&s->r, BN_ERR_CORRUPT, "/results has %llu rows, its header says %llu", (unsigned long long)n,
                      (unsigned long long)seg->rows);
  if (err == BN_OK) err = bn__table_type(&bn__results_table, p->state_size, BN__LAYOUT_PACKED, &s->mtype);
  if (err == BN_OK && (s->fspace = H5Dget_space(s->ds)) < 0) err = bn__rd_h5fail(&s->r, "no dataspace for /results");
  if (err == BN_OK && setup_direct(s) != BN_OK) err = bn__rd_fail(&s->r, BN_ERR_NOMEM, "no memory for a chunk");
  if (err == BN_OK) err = bn__rd_table_open(&s->r, &bn__result_failures_table, 1, &s->fail_ds, &s->failures, NULL);
  if (err == BN_OK && s->failures != seg->failures)
    err = bn__rd_fail(&s->r, BN_ERR_CORRUPT, "/result_failures has %llu rows, its header says %llu",
                      (unsigned long long)s->failures, (unsigned long long)seg->failures);
  if (err == BN_OK) err = bn__table_type(&bn__result_failures_table, 1, BN__LAYOUT_STRUCT, &s->fail_mtype);
  if (err == BN_OK && !(s->fail_buf = malloc(BN__FAILURE_STRIP * sizeof *s->fail_buf)))
    err = bn__rd_fail(&s->r, BN_ERR_NOMEM, "no memory for failure text");
  return err;
}

/* The reader process of a guarded segment: read every row with HDF5 (in-process here) and
 * send them in frames of whole rows, then END; or the reason it stopped. */
int bn__reader_segment(const bn__reader_job *job, int out) {
  bn__seg_in in, *s = &in;
  char inner[512] = "", why[768] = "";
  bn__seg_in_init(s);
  s->fd = job->fd;
  s->r = (bn__rd){.file = -1, .why = inner, .whylen = sizeof inner};
  snprintf(s->path, sizeof s->path, "%s", job->path);
  s->rows = job->seg.rows;
  s->checksum = job->seg.checksum;
  s->row_bytes = bn__result_wire_size(job->params.state_size);
  s->file_bytes = bn__table_packed_size(&bn__results_table, job->params.state_size);
  s->params = &job->params;
  s->seg = &job->seg;
  s->size = job->size;
  s->xxh = XXH3_createState();
  bn_err e = s->xxh && XXH3_64bits_reset(s->xxh) != XXH_ERROR ? BN_OK : BN_ERR_NOMEM;
  if (e == BN_OK) e = open_hdf5(s, &job->params, &job->seg, job->size);
  if (e != BN_OK) (void)bn__why(e, why, sizeof why, "%s", inner[0] ? inner : bn_strerror(e));
  size_t strip = ((size_t)4 << 20) / s->row_bytes;
  if (strip == 0) strip = 1;
  unsigned char *buf = e == BN_OK ? malloc(strip * s->row_bytes) : NULL;
  if (e == BN_OK && !buf) e = bn__why(BN_ERR_NOMEM, why, sizeof why, "no memory for a strip of rows");
  s->open = 1;
  while (e == BN_OK && s->next < s->rows) {
    size_t got = 0;
    e = bn__seg_in_read(s, buf, strip, &got, why, sizeof why);
    if (e == BN_OK && bn__frame_send(out, BN__FRAME_DATA, buf, (uint64_t)got * s->row_bytes) != 0) return 3;
  }
  if (e != BN_OK) {
    /* The in-process reader names the file; the parent does that itself. */
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "segment %s: ", s->path);
    const size_t k = strlen(prefix);
    return bn__frame_send_error(out, e, strncmp(why, prefix, k) == 0 ? why + k : why) == 0 ? 0 : 3;
  }
  return bn__frame_send(out, BN__FRAME_END, NULL, 0) == 0 ? 0 : 3; /* the process ends: nothing to free */
}

bn_err bn__seg_in_open(bn__seg_in *s, const char *dir, const bn_segment_params *p, const bn_segment_info *seg,
                       int guarded, char *why, size_t whylen) {
  char inner[512] = "";
  bn__seg_in_init(s);
  s->r = (bn__rd){.file = -1, .why = inner, .whylen = sizeof inner};
  bn_segment_path(dir, seg->seq, s->path, sizeof s->path);
  s->rows = seg->rows;
  s->checksum = seg->checksum;
  s->row_bytes = bn__result_wire_size(p->state_size);
  s->file_bytes = bn__table_packed_size(&bn__results_table, p->state_size);
  s->params = p;
  s->seg = seg;
  bn__seal sl = {0};
  bn_err err = open_sealed(s, p, seg, 1, &sl, inner, sizeof inner);
  s->size = sl.file_size;
  if (err == BN_OK) {
    s->xxh = XXH3_createState();
    if (!s->xxh || XXH3_64bits_reset(s->xxh) == XXH_ERROR) err = bn__why(BN_ERR_NOMEM, inner, sizeof inner, "no memory");
  }
  if (err == BN_OK && guarded) {
    s->guarded = 1;
    const bn__reader_job job = {.kind = BN__READER_SEGMENT, .fd = s->fd, .size = sl.file_size, .path = s->path,
                                .params = {.run_id = p->run_id, .state_size = p->state_size}, .seg = *seg};
    err = bn__guard_start(&s->g, &job, inner, sizeof inner);
  } else if (err == BN_OK) {
    err = open_hdf5(s, p, seg, sl.file_size);
  }
  if (err != BN_OK) {
    bn__seg_in_close(s);
    return named(err, s->path, inner, why, whylen);
  }
  s->open = 1;
  return BN_OK;
}

/* Guarded: up to `max` rows from the reader process. */
static bn_err read_guarded(bn__seg_in *s, unsigned char *buf, size_t max, size_t *n, char *why, size_t whylen) {
  char inner[512] = "";
  bn_err err = BN_OK;
  uint32_t tag = 0;
  uint64_t len = 0;
  if (s->frame_left == 0) {
    err = bn__guard_next(&s->g, &tag, &len, inner, sizeof inner);
    if (err == BN_OK && (tag != BN__FRAME_DATA || len == 0 || len % s->row_bytes != 0 ||
                         len / s->row_bytes > s->rows - s->next))
      err = bn__why(BN_ERR_INTERNAL, inner, sizeof inner, "the reader process sent %llu bytes of rows where %llu "
                    "rows were left", (unsigned long long)len, (unsigned long long)(s->rows - s->next));
    s->frame_left = len;
  }
  size_t got = 0;
  if (err == BN_OK) {
    const uint64_t in_frame = s->frame_left / s->row_bytes;
    got = (size_t)(in_frame < max ? in_frame : max);
    err = bn__guard_read(&s->g, buf, got * s->row_bytes, inner, sizeof inner);
  }
  if (err == BN_OK) {
    XXH3_64bits_update(s->xxh, buf, got * s->row_bytes);
    s->next += got;
    s->frame_left -= got * s->row_bytes;
    *n = got;
  }
  if (err == BN_OK && s->next == s->rows) {
    err = bn__guard_next(&s->g, &tag, &len, inner, sizeof inner);
    if (err == BN_OK && tag != BN__FRAME_END)
      err = bn__why(BN_ERR_INTERNAL, inner, sizeof inner, "the reader process sent more rows than the segment holds");
    if (err == BN_OK) err = bn__guard_finish(&s->g, inner, sizeof inner);
    if (err == BN_OK && XXH3_64bits_digest(s->xxh) != s->checksum)
      err = bn__why(BN_ERR_CORRUPT, inner, sizeof inner, "its rows do not match their checksum (damaged)");
  }
  if (err != BN_OK) {
    bn__guard_stop(&s->g);
    return named(err, s->path, inner, why, whylen);
  }
  return BN_OK;
}

/* Up to `max` stored rows (no text) into s->stored, from the decoded chunk or H5Dread. */
static bn_err read_stored(bn__seg_in *s, size_t max, size_t *n, char *why, size_t whylen) {
  uint64_t left = s->rows - s->next;
  if (s->stored_cap < max) {
    unsigned char *p = realloc(s->stored, max * s->file_bytes);
    if (!p) return bn__why(BN_ERR_NOMEM, why, whylen, "segment %s: no memory for %zu rows", s->path, max);
    s->stored = p;
    s->stored_cap = max;
  }
  const int d = s->direct ? decode_chunk(s) : 0;
  if (d < 0) {
    bn__h5_report(BN_LOG_DEBUG, __FILE__, __LINE__, __func__, "segment chunk read");
    return bn__why(BN_ERR_CORRUPT, why, whylen, "segment %s: the chunk holding row %llu is damaged (unreadable)",
                   s->path, (unsigned long long)s->next);
  }
  if (d > 0) {
    /* Serve rows from the decoded chunk, up to its end. */
    const uint64_t in_chunk = s->next % s->chunk_rows, avail = s->chunk_rows - in_chunk;
    if (left > avail) left = avail;
    *n = (size_t)(left < max ? left : max);
    memcpy(s->stored, s->plain + in_chunk * s->file_bytes, *n * s->file_bytes);
    return BN_OK;
  }
  const hsize_t start[1] = {s->next}, count[1] = {left < max ? left : max};
  hid_t mspace = H5Screate_simple(1, count, NULL);
  const int ok = mspace >= 0 && H5Sselect_hyperslab(s->fspace, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
                 H5Dread(s->ds, s->mtype, mspace, s->fspace, H5P_DEFAULT, s->stored) >= 0;
  (void)bn__h5_close(&mspace);
  if (!ok) {
    char msg[256];
    bn__h5_message(msg, sizeof msg);
    bn__h5_report(BN_LOG_DEBUG, __FILE__, __LINE__, __func__, "segment read");
    return bn__why(BN_ERR_CORRUPT, why, whylen, "segment %s: rows %llu..%llu are damaged (unreadable%s%s)", s->path,
                   (unsigned long long)s->next, (unsigned long long)(s->next + count[0] - 1), msg[0] ? ": " : "", msg);
  }
  *n = (size_t)count[0];
  return BN_OK;
}

/* The next row of /result_failures (read in strips), or NULL when there is none left or
 * it cannot be read (*bad set). */
static const bn_result_failure *next_failure(bn__seg_in *s, int *bad) {
  if (s->fail_pos == s->fail_have) {
    if (s->fail_read == s->failures) return NULL;
    const uint64_t left = s->failures - s->fail_read;
    const hsize_t start[1] = {s->fail_read}, count[1] = {left < BN__FAILURE_STRIP ? left : BN__FAILURE_STRIP};
    hid_t fspace = H5Dget_space(s->fail_ds), mspace = H5Screate_simple(1, count, NULL);
    const int ok = fspace >= 0 && mspace >= 0 &&
                   H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
                   H5Dread(s->fail_ds, s->fail_mtype, mspace, fspace, H5P_DEFAULT, s->fail_buf) >= 0;
    (void)bn__h5_close(&mspace);
    (void)bn__h5_close(&fspace);
    if (!ok) {
      *bad = 1;
      return NULL;
    }
    s->fail_read += count[0];
    s->fail_have = (size_t)count[0];
    s->fail_pos = 0;
  }
  return &s->fail_buf[s->fail_pos++];
}

/* The stored rows back into wire rows in buf: each failed row takes the next row of
 * /result_failures, which must name it. */
static bn_err expand(bn__seg_in *s, unsigned char *buf, size_t n, char *why, size_t whylen) {
  const size_t status_at = bn__result_status_offset();
  for (size_t i = 0; i < n; i++) {
    unsigned char *w = buf + i * s->row_bytes, *text = w + s->file_bytes;
    const uint64_t row = s->seg->first_row + s->next + i;
    memcpy(w, s->stored + i * s->file_bytes, s->file_bytes);
    memset(text, 0, BN__RESULT_TEXT_BYTES);
    if (w[status_at] != BN_JOB_FAILED) continue;
    int bad = 0;
    const bn_result_failure *f = next_failure(s, &bad);
    if (bad)
      return bn__why(BN_ERR_CORRUPT, why, whylen, "segment %s: /result_failures is damaged (unreadable)", s->path);
    if (!f || f->row != row)
      return bn__why(BN_ERR_CORRUPT, why, whylen, "segment %s: row %llu failed but /result_failures %s", s->path,
                     (unsigned long long)row, f ? "names another row there" : "has no row for it");
    memcpy(text, f->failure_kind, BN_FAILURE_KIND_LEN);
    memcpy(text + BN_FAILURE_KIND_LEN, f->failure_detail, BN_FAILURE_DETAIL_LEN);
    text[BN_FAILURE_KIND_LEN - 1] = text[BN__RESULT_TEXT_BYTES - 1] = 0;
    s->fail_used++;
  }
  return BN_OK;
}

bn_err bn__seg_in_read(bn__seg_in *s, unsigned char *buf, size_t max, size_t *n, char *why, size_t whylen) {
  *n = 0;
  if (s->rows == s->next || max == 0) return BN_OK;
  if (s->guarded) return read_guarded(s, buf, max, n, why, whylen);
  size_t got = 0;
  BN_CALL(read_stored(s, max, &got, why, whylen));
  BN_CALL(expand(s, buf, got, why, whylen));
  XXH3_64bits_update(s->xxh, buf, got * s->row_bytes);
  s->next += got;
  *n = got;
  if (s->next < s->rows) return BN_OK;
  if (s->fail_used != s->failures)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "segment %s: /result_failures has %llu rows for %llu failed rows",
                   s->path, (unsigned long long)s->failures, (unsigned long long)s->fail_used);
  if (XXH3_64bits_digest(s->xxh) != s->checksum)
    return bn__why(BN_ERR_CORRUPT, why, whylen, "segment %s: its rows do not match their checksum (damaged)", s->path);
  return BN_OK;
}

bn_err bn_segment_check(const char *dir, const bn_segment_params *p, const bn_segment_info *seg, char *why,
                        size_t whylen) {
  char inner[512] = "";
  bn__seg_in s;
  bn__seg_in_init(&s);
  bn_segment_path(dir, seg->seq, s.path, sizeof s.path);
  bn__seal sl;
  const bn_err err = open_sealed(&s, p, seg, 0, &sl, inner, sizeof inner);
  if (s.fd >= 0) (void)close(s.fd);
  return err == BN_OK ? BN_OK : named(err, s.path, inner, why, whylen);
}

bn_err bn__segments_check_all(const char *ckpt_path, const bn_snapshot *s, char *why, size_t whylen) {
  char *dir = bn_checkpoint_segment_dir(ckpt_path, s->segment_dir);
  if (!dir) return bn__why(BN_ERR_NOMEM, why, whylen, "no memory");
  const bn_segment_params p = {.run_id = s->run_id, .state_size = s->state_size};
  bn_err err = BN_OK;
  for (uint64_t i = 0; i < s->n_segments && err == BN_OK; i++) err = bn_segment_check(dir, &p, &s->segments[i], why, whylen);
  free(dir);
  return err;
}

/* --- the streaming reader ----------------------------------------------------------- */

enum { STRIP_BYTES = 4 << 20 };

struct bn_results_reader {
  const bn_snapshot *snap;
  char *dir;
  bn_segment_params p;
  bn__seg_in in;
  uint64_t seg;        /* index of the segment being read */
  uint64_t row;        /* rows delivered */
  uint64_t failed;
  unsigned char *buf;  /* strip of packed rows */
  size_t strip;
  char why[768];
};

bn_err bn_results_open(const char *ckpt_path, const bn_snapshot *snap, bn_results_reader **out, char *why,
                       size_t whylen) {
  bn_results_reader *rd = calloc(1, sizeof *rd);
  if (!rd) return bn__why(BN_ERR_NOMEM, why, whylen, "no memory");
  rd->snap = snap;
  rd->dir = bn_checkpoint_segment_dir(ckpt_path, snap->segment_dir);
  rd->p = (bn_segment_params){.run_id = snap->run_id, .state_size = snap->state_size};
  const size_t row_bytes = bn__result_wire_size(snap->state_size);
  rd->strip = STRIP_BYTES / row_bytes ? STRIP_BYTES / row_bytes : 1;
  rd->buf = malloc(rd->strip * row_bytes);
  bn__seg_in_init(&rd->in);
  if (!rd->dir || !rd->buf) {
    bn_results_close(&rd);
    return bn__why(BN_ERR_NOMEM, why, whylen, "no memory for a results strip");
  }
  *out = rd;
  return BN_OK;
}

const char *bn_results_why(const bn_results_reader *rd) { return rd ? rd->why : "no reader"; }

void bn_results_close(bn_results_reader **rdp) {
  if (!rdp || !*rdp) return;
  bn_results_reader *rd = *rdp;
  bn__h5_guard guard;
  bn__h5_quiet(&guard);
  bn__seg_in_close(&rd->in);
  bn__h5_restore(&guard);
  free(rd->dir);
  free(rd->buf);
  free(rd);
  *rdp = NULL;
}

static bn_err next_rows(bn_results_reader *rd, bn_result_row *rows, unsigned char *states, size_t max, size_t *n) {
  const bn_snapshot *s = rd->snap;
  const size_t ss = (size_t)s->state_size;
  const size_t row_bytes = bn__result_wire_size(ss);
  *n = 0;
  while (rd->seg < s->n_segments && !bn__seg_in_is_open(&rd->in)) {
    BN_CALL(bn__seg_in_open(&rd->in, rd->dir, &rd->p, &s->segments[rd->seg], 1, rd->why, sizeof rd->why));
  }
  if (rd->seg == s->n_segments) {
    if (rd->failed != s->failures)
      return bn__why(BN_ERR_CORRUPT, rd->why, sizeof rd->why, "/results has %llu failed rows but failures = %llu",
                     (unsigned long long)rd->failed, (unsigned long long)s->failures);
    return BN_OK;
  }
  size_t got = 0;
  BN_CALL(bn__seg_in_read(&rd->in, rd->buf, max < rd->strip ? max : rd->strip, &got, rd->why, sizeof rd->why));
  for (size_t i = 0; i < got; i++) {
    bn__result_unpack(rd->buf + i * row_bytes, ss, &rows[i], states + i * ss);
    char inner[256];
    if (bn__result_row_check(s, &rows[i], inner, sizeof inner) != BN_OK)
      return bn__why(BN_ERR_CORRUPT, rd->why, sizeof rd->why, "segment %s: /results row %llu: %s", rd->in.path,
                     (unsigned long long)(rd->row + i), inner);
    rd->failed += rows[i].status == BN_JOB_FAILED;
  }
  rd->row += got;
  if (bn__seg_in_done(&rd->in)) {
    bn__seg_in_close(&rd->in);
    rd->seg++;
  }
  *n = got;
  return BN_OK;
}

bn_err bn_results_next(bn_results_reader *rd, bn_result_row *rows, unsigned char *states, size_t max, size_t *n) {
  BN_CHECK(rd && rows && states && n && max > 0, BN_ERR_ARG, "results reader: bad arguments");
  bn__h5_guard guard;
  bn__h5_quiet(&guard);
  bn_err err = next_rows(rd, rows, states, max, n);
  /* An empty segment would deliver nothing: keep going until rows come or the log ends. */
  while (err == BN_OK && *n == 0 && rd->seg < rd->snap->n_segments) err = next_rows(rd, rows, states, max, n);
  bn__h5_restore(&guard);
  return err;
}
