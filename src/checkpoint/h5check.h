/* Validated reads of HDF5 objects for the checkpoint reader (src/checkpoint only).
 *
 * Every helper checks before it trusts: the link exists and is a hard link (no soft or
 * external links out of the file), the object has the expected class, element size,
 * signedness and rank, the sizes multiply without overflow and fit in the file (unless the
 * dataset is filtered), strings are NUL-terminated within their length. A problem becomes
 * BN_ERR_CORRUPT (BN_ERR_NOMEM for a failed allocation) with a one-line reason in the
 * reader's `why`; the HDF5 error stack, if any, goes to the log at debug level. */
#ifndef BN_CHECKPOINT_H5CHECK_H
#define BN_CHECKPOINT_H5CHECK_H

#include <stdint.h>

#include "checkpoint/checkpoint_impl.h"
#include "checkpoint/guard.h"

/* The state of one read: the open file, its size, where the first problem is written. */
typedef struct bn__rd {
  hid_t file;
  uint64_t file_size;
  char *why;
  size_t whylen;
} bn__rd;

/* Record a problem (the first one wins) and return `e`. */
bn_err bn__rd_fail(bn__rd *r, bn_err e, const char *fmt, ...) BN_PRINTF(3, 4);
/* Record "<what>: <HDF5's most specific message>" as BN_ERR_CORRUPT, log the stack. */
bn_err bn__rd_h5fail(bn__rd *r, const char *fmt, ...) BN_PRINTF(2, 3);

/* A numeric attribute of `loc` (named `where` in messages) of exactly `type`. */
BN_NODISCARD bn_err bn__rd_attr_num(bn__rd *r, hid_t loc, const char *where, const char *name, bn__ftype type,
                                    void *out);
/* A string attribute, malloc'ed copy: fixed-length NULLTERM (NUL required within the
 * length), NULLPAD or SPACEPAD (may fill the length), or variable-length. */
BN_NODISCARD bn_err bn__rd_attr_str(bn__rd *r, hid_t loc, const char *where, const char *name, char **out);

/* Open the dataset or group at absolute `path`, checking each link on the way. */
BN_NODISCARD bn_err bn__rd_open_dataset(bn__rd *r, const char *path, hid_t *out);
BN_NODISCARD bn_err bn__rd_open_group(bn__rd *r, const char *path, hid_t *out);

/* Read the array dataset at `path`: `type` elements, rank 1 ([n]) or rank 2 ([n x width]).
 * *n == UINT64_MAX on entry accepts any length and returns it; otherwise the length must
 * equal *n. *out is a new array (at least 1 byte, so empty arrays are non-NULL). */
BN_NODISCARD bn_err bn__rd_array(bn__rd *r, const char *path, bn__ftype type, int rank, uint64_t width,
                                 uint64_t *n, void **out);

/* Open the compound table t->path and check its fields (names, kinds, sizes, state width).
 * *n receives its length. With `absent` (may be NULL: every field required), optional
 * fields the file lacks are allowed and their bits (1 << field index) set in *absent. */
BN_NODISCARD bn_err bn__rd_table_open(bn__rd *r, const bn__table *t, uint64_t state_size, hid_t *ds,
                                      uint64_t *n, uint64_t *absent);
/* Read a whole small table (no BN__F_STATE field) into a new array of C structs. */
BN_NODISCARD bn_err bn__rd_table(bn__rd *r, const bn__table *t, uint64_t *n, void **out);

/* calloc(count, size) with overflow check, never of 0 bytes; BN_ERR_NOMEM via the reader. */
BN_NODISCARD bn_err bn__rd_alloc(bn__rd *r, uint64_t count, size_t size, const char *what, void **out);

/* Open `path` read-only as HDF5 into r->file (a missing file is BN_ERR_IO; not a regular
 * file, not HDF5 or damaged is BN_ERR_CORRUPT), remembering its size for the checks. */
BN_NODISCARD bn_err bn__rd_open_file(bn__rd *r, const char *path);
/* Open `h5path` (e.g. /proc/self/fd/N of a seal-checked file) read-only as HDF5 into
 * r->file; messages name it `name`; `size` is its size in bytes. */
BN_NODISCARD bn_err bn__rd_open_path(bn__rd *r, const char *h5path, const char *name, uint64_t size);
/* The same for the `size` bytes of the open file `fd`, read into memory and opened from
 * there (HDF5's core driver: the name is not looked up). */
BN_NODISCARD bn_err bn__rd_open_image(bn__rd *r, int fd, const char *name, uint64_t size);

/* One segment being read (segment_read.c): its seal checked against the segment table and
 * its whole file against the seal's checksum on open, before HDF5 sees it; then its HDF5
 * header checked too, its rows read in the packed layout, its checksum verified with the
 * last row. Guarded (bn_results_*: `inspect --verify`, `export`): HDF5 runs in a reader
 * process (guard.h) that sends the rows; in-process (compaction inside a run, which must
 * not fork): the file is one this run wrote, and its seal was checked first. */
typedef struct bn__seg_in {
  int guarded;
  int fd;              /* the segment file, open from bn__seg_in_open to bn__seg_in_close */
  bn__guard g;         /* guarded: the reader process */
  uint64_t frame_left; /* guarded: bytes of rows left in the current frame */
  const bn_segment_params *params; /* borrowed from the caller while open */
  const bn_segment_info *seg;      /* borrowed from the caller while open */
  uint64_t size;                   /* bytes of the file */
  bn__rd r;
  hid_t ds, fspace, mtype;
  uint64_t rows, next;     /* rows in the segment, next row to read */
  uint64_t checksum;       /* expected */
  size_t row_bytes;        /* a wire row (checkpoint_impl.h): what bn__seg_in_read gives */
  size_t file_bytes;       /* a stored row of /results (no failure text) */
  unsigned char *stored;   /* stored rows read, before the text goes back in */
  size_t stored_cap;       /* rows `stored` holds */
  /* /result_failures: the text of failed rows, read in strips beside the rows */
  hid_t fail_ds, fail_mtype;
  uint64_t failures, fail_read, fail_used; /* its rows; read into fail_buf so far; used */
  struct bn_result_failure *fail_buf;
  size_t fail_have, fail_pos;
  void *xxh;               /* XXH3_state_t */
  char path[4096];
  int open;
  /* Chunks written shuffled + deflated are read with H5Dread_chunk and decoded here,
   * outside HDF5's lock (chunk_codec.c). */
  int direct;
  uint64_t chunk_rows, decoded; /* decoded: chunk index + 1 in `plain`, 0 none */
  unsigned char *plain, *scratch, *zbuf;
  size_t zcap;
} bn__seg_in;

BN_NODISCARD bn_err bn__seg_in_open(bn__seg_in *s, const char *dir, const bn_segment_params *p,
                                    const bn_segment_info *seg, int guarded, char *why, size_t whylen);
/* Up to `max` wire rows into buf; *n rows read. At the last row the checksum must match. */
BN_NODISCARD bn_err bn__seg_in_read(bn__seg_in *s, unsigned char *buf, size_t max, size_t *n, char *why,
                                    size_t whylen);
void bn__seg_in_init(bn__seg_in *s); /* closed, nothing held: what bn__seg_in_close leaves safe */
int bn__seg_in_is_open(const bn__seg_in *s);
int bn__seg_in_done(const bn__seg_in *s);
void bn__seg_in_close(bn__seg_in *s);

#endif
