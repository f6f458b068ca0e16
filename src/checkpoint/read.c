/* The HDF5 part of bn_checkpoint_read (which is in read_guard.c): open a checkpoint
 * read-only, read every attribute, array and table the schema declares (schema.c) through
 * the validating helpers of h5check.c, check the snapshot's coherence (validate.c), and
 * hand it over only when all of it holds. It runs in the reader process (guard.h), after
 * the file's seal was checked; the segments are checked by the parent. No file is ever written:
 * each is opened with H5F_ACC_RDONLY and without file locking. The rows of the results log
 * are not read here (bn_results_open streams them): reading a checkpoint costs the graph
 * and the statistics, whatever the length of the run. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/guard.h"
#include "checkpoint/h5check.h"

static bn_err read_root(bn__rd *r, bn_snapshot *s) {
  hid_t f = r->file;
  uint32_t version = 0;
  BN_CALL(bn__rd_attr_num(r, f, "/", "format_version", BN__F_U32, &version));
  if (version != BN_CHECKPOINT_FORMAT_VERSION)
    return bn__rd_fail(r, BN_ERR_CORRUPT,
                       "format_version %u is not supported (this banyan reads version %u%s)", version,
                       BN_CHECKPOINT_FORMAT_VERSION,
                       version == 2 ? "; version 2 files come from banyan before streaming results: resume them "
                                      "with that banyan, or start the run again"
                       : version == 3 ? "; version 3 files come from banyan before failures were kept as kind and "
                                        "detail: resume them with that banyan, or start the run again"
                       : version == 4 ? "; version 4 files come from banyan before failure text left the rows "
                                        "(/result_failures): resume them with that banyan, or start the run again"
                                      : "");
  size_t n = 0;
  const bn__attr *attrs = bn__root_attrs(&n);
  for (size_t i = 0; i < n; i++) {
    const bn__attr *a = &attrs[i];
    if (a->offset == BN__NOT_IN_SNAPSHOT) continue;
    void *slot = (unsigned char *)s + a->offset;
    if (a->type == BN__F_STR) {
      BN_CALL(bn__rd_attr_str(r, f, "/", bn__attr_file_name(a), (char **)slot));
      continue;
    }
    BN_CALL(bn__rd_attr_num(r, f, "/", a->name, a->type, slot));
    uint64_t v = 0;
    switch (a->type) {
      case BN__F_U8: v = *(uint8_t *)slot; break;
      case BN__F_U32: v = *(uint32_t *)slot; break;
      case BN__F_U64: v = *(uint64_t *)slot; break;
      default: continue; /* reals: checked by validate.c */
    }
    /* Bounds first: some of them size every allocation that follows. */
    if (v < a->lo || v > a->hi)
      return bn__rd_fail(r, BN_ERR_CORRUPT, "%s %llu outside %llu..%llu", a->name, (unsigned long long)v,
                         (unsigned long long)a->lo, (unsigned long long)a->hi);
  }
  return BN_OK;
}

static bn_err read_tables(bn__rd *r, bn_snapshot *s) {
  size_t n = 0;
  const bn__table *const *tables = bn__snapshot_tables(&n);
  for (size_t i = 0; i < n; i++)
    BN_CALL(bn__rd_table(r, tables[i], bn__table_count(tables[i], s), bn__table_rows(tables[i], s)));
  return BN_OK;
}

/* The arrays: node arrays share the length of the first one, edge arrays likewise; the
 * pending and top arrays have the rows of their tables. */
static bn_err read_arrays(bn__rd *r, bn_snapshot *s) {
  uint64_t nodes = UINT64_MAX, edges = UINT64_MAX;
  size_t n = 0;
  const bn__array *arrays = bn__arrays(&n);
  s->tree.state_size = (size_t)s->state_size;
  for (size_t i = 0; i < n; i++) {
    const bn__array *a = &arrays[i];
    uint64_t count = a->count == BN__N_NODES ? nodes : a->count == BN__N_EDGES ? edges : bn__array_count_of(a, s);
    BN_CALL(bn__rd_array(r, a->path, a->type, a->width == BN__W_ONE ? 1 : 2, bn__array_width_of(a, s), &count,
                         bn__array_slot(a, s)));
    if (count > UINT32_MAX && (a->count == BN__N_NODES || a->count == BN__N_EDGES))
      return bn__rd_fail(r, BN_ERR_CORRUPT, "%s: %llu rows do not fit 32-bit ids", a->path, (unsigned long long)count);
    if (a->count == BN__N_NODES) nodes = count;
    if (a->count == BN__N_EDGES) edges = count;
  }
  s->tree.n_nodes = nodes == UINT64_MAX ? 0 : nodes;
  s->tree.n_edges = edges == UINT64_MAX ? 0 : edges;
  hid_t g = -1;
  BN_CALL(bn__rd_open_group(r, "/tree", &g));
  bn_err err = bn__rd_attr_num(r, g, "/tree", "backprops", BN__F_U64, &s->tree.n_backprops);
  (void)bn__h5_close(&g);
  return err;
}

/* /results: the virtual view over the segments that h5py and h5dump read (banyan itself
 * reads the segments): a virtual dataset of `completed` rows, one mapping per segment. Its
 * sources are not opened here. */
static bn_err check_results_view(bn__rd *r, const bn_snapshot *s) {
  hid_t ds = -1, dcpl = -1, space = -1;
  BN_CALL(bn__rd_open_dataset(r, "/results", &ds));
  bn_err err = BN_OK;
  hsize_t dims[1] = {0};
  size_t mappings = 0;
  if ((dcpl = H5Dget_create_plist(ds)) < 0 || (space = H5Dget_space(ds)) < 0) {
    err = bn__rd_h5fail(r, "cannot read the layout of /results");
  } else if (H5Pget_layout(dcpl) != H5D_VIRTUAL || H5Pget_virtual_count(dcpl, &mappings) < 0) {
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "/results is not a virtual dataset over the segments");
  } else if (H5Sget_simple_extent_ndims(space) != 1 || H5Sget_simple_extent_dims(space, dims, NULL) != 1 ||
             dims[0] != s->completed || mappings != s->n_segments) {
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "/results maps %zu segments onto %llu rows; the file has %llu segments and "
                      "%llu results", mappings, (unsigned long long)dims[0], (unsigned long long)s->n_segments,
                      (unsigned long long)s->completed);
  }
  (void)bn__h5_close(&space);
  (void)bn__h5_close(&dcpl);
  (void)bn__h5_close(&ds);
  return err;
}

/* open(2) first: a missing or unreadable file is an I/O error, not a corrupt one.
 * O_NONBLOCK: a FIFO given by mistake must not hang the reader. */
static bn_err probe_file(bn__rd *r, const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return bn__rd_fail(r, BN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  const int ok = fstat(fd, &st) == 0;
  const int e = errno;
  (void)close(fd);
  if (!ok) return bn__rd_fail(r, BN_ERR_IO, "cannot stat %s: %s", path, strerror(e));
  if (!S_ISREG(st.st_mode)) return bn__rd_fail(r, BN_ERR_IO, "%s is not a regular file", path);
  r->file_size = (uint64_t)st.st_size;
  return BN_OK;
}

/* HDF5 opens `path`; messages name the file `name` (path may be /proc/self/fd/N). */
static bn_err open_file(bn__rd *r, const char *path, const char *name) {
  bn_err err = BN_OK;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
    err = bn__rd_h5fail(r, "cannot set up file access");
    goto done;
  }
#if H5_VERSION_GE(1, 10, 7)
  if (H5Pset_file_locking(fapl, 0, 1) < 0) {
    err = bn__rd_h5fail(r, "cannot set up file access");
    goto done;
  }
#endif
#if H5_VERSION_GE(1, 12, 0)
  const htri_t is_hdf5 = H5Fis_accessible(path, fapl);
#else
  const htri_t is_hdf5 = H5Fis_hdf5(path);
#endif
  if (is_hdf5 == 0) {
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "%s is not an HDF5 file", name);
    goto done;
  }
  r->file = is_hdf5 > 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
  if (r->file < 0) err = bn__rd_h5fail(r, "cannot open %s as HDF5 (damaged or truncated?)", name);
done:
  (void)bn__h5_close(&fapl);
  return err;
}

bn_err bn__rd_open_file(bn__rd *r, const char *path) {
  BN_CALL(probe_file(r, path));
  return open_file(r, path, path);
}

bn_err bn__rd_open_path(bn__rd *r, const char *h5path, const char *name, uint64_t size) {
  r->file_size = size;
  return open_file(r, h5path, name);
}

bn_err bn__rd_open_image(bn__rd *r, int fd, const char *name, uint64_t size) {
  r->file_size = size;
  if (size == 0 || size > (uint64_t)SIZE_MAX / 2) return bn__rd_fail(r, BN_ERR_CORRUPT, "%s: impossible size", name);
  unsigned char *image = malloc((size_t)size);
  if (!image) return bn__rd_fail(r, BN_ERR_NOMEM, "no memory to read %s (%llu bytes)", name, (unsigned long long)size);
  bn_err err = BN_OK;
  for (size_t got = 0; got < (size_t)size;) {
    const ssize_t n = pread(fd, image + got, (size_t)size - got, (off_t)got);
    if (n <= 0) {
      err = bn__rd_fail(r, BN_ERR_IO, "cannot read %s: %s", name, n < 0 ? strerror(errno) : "it is shorter than its seal says");
      free(image);
      return err;
    }
    got += (size_t)n;
  }
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  /* The core driver on a copy of the image, nothing written back: HDF5 never looks the
   * file up by name, so a file the running search has replaced (or deleted) meanwhile still
   * opens. */
  if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 ||
      H5Pset_file_image(fapl, image, (size_t)size) < 0) {
    err = bn__rd_h5fail(r, "cannot set up file access");
  } else {
    free(image); /* the property list holds its own copy */
    image = NULL;
    /* A name no file can have (/dev/null is no directory): the core driver refuses to open
     * an image under the name of an existing file. */
    r->file = H5Fopen("/dev/null/banyan-image", H5F_ACC_RDONLY, fapl);
    if (r->file < 0) err = bn__rd_h5fail(r, "cannot open %s as HDF5 (damaged or truncated?)", name);
  }
  free(image);
  (void)bn__h5_close(&fapl);
  return err;
}

/* The HDF5 part of bn_checkpoint_read (read_guard.c), run in the reader process on a file
 * whose seal was checked: everything but the segments. */
bn_err bn__checkpoint_read_hdf5(int fd, const char *path, uint64_t size, bn_snapshot *out, char *why, size_t whylen) {
  if (why && whylen) why[0] = '\0';
  if (fd < 0 || !path || !out) return bn__why(BN_ERR_ARG, why, whylen, "null path or snapshot");
  bn_err err = BN_OK;
  bn__h5_guard guard;
  bn__h5_quiet(&guard);
  char scratch[512];
  bn__rd r = {.file = -1, .why = why && whylen ? why : scratch, .whylen = why && whylen ? whylen : sizeof scratch};
  r.why[0] = '\0';
  bn_snapshot s;
  memset(&s, 0, sizeof s);
  BN_TRY(bn__rd_open_image(&r, fd, path, size));
  BN_TRY(read_root(&r, &s));
  BN_TRY(read_tables(&r, &s));
  BN_TRY(read_arrays(&r, &s));
  /* The counters first (their reasons are the most telling), then the view over them. */
  err = bn__snapshot_check(&s, r.why, r.whylen);
  if (err != BN_OK) goto fail;
  BN_TRY(check_results_view(&r, &s));
  if (bn__h5_close(&r.file) < 0) {
    err = bn__rd_h5fail(&r, "cannot close %s", path);
    goto fail;
  }
  bn__h5_restore(&guard);
  *out = s;
  return BN_OK;
fail:
  (void)bn__h5_close(&r.file);
  bn_snapshot_free(&s);
  bn__h5_restore(&guard);
  if (r.why[0] == '\0') (void)bn__why(err, r.why, r.whylen, "%s", bn_strerror(err));
  return err;
}
