/* The main checkpoint file's layout, written into one new HDF5 file (the atomic replace
 * around it is in replace.c). Every attribute, array and table comes from the schema
 * (schema.c); /results is a virtual dataset over the committed segment files, so writing
 * a checkpoint costs the graph and the statistics, not the length of the run.
 *
 * Speed comes from few, large HDF5 calls: the graph arrays are contiguous datasets written
 * in one H5Dwrite each straight from the snapshot's arrays (the memory type equals the
 * file type on little-endian hosts, so HDF5 copies nothing). No fill values are written.
 * Attributes use the 1.8 object format so the effective configuration may exceed 64 KiB;
 * the virtual dataset needs the 1.10 format, which h5py and h5dump of HDF5 >= 1.10 read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/checkpoint_impl.h"
#include "checkpoint/seal.h"

/* --- attributes --------------------------------------------------------------------- */

static bn_err attr_num(hid_t loc, const char *name, bn__ftype type, const void *value) {
  bn_err err = BN_OK;
  hid_t space = -1, a = -1;
  BN_H5_SET(space, H5Screate(H5S_SCALAR));
  BN_H5_SET(a, H5Acreate2(loc, name, bn__ftype_file(type), space, H5P_DEFAULT, H5P_DEFAULT));
  BN_H5(H5Awrite(a, bn__ftype_native(type), value));
  BN_H5(bn__h5_close(&a));
  BN_H5(bn__h5_close(&space));
  return BN_OK;
fail:
  (void)bn__h5_close(&a);
  (void)bn__h5_close(&space);
  return err;
}

/* A fixed-length, NUL-terminated UTF-8 string attribute sized to the text (NULL -> ""). */
static bn_err attr_str(hid_t loc, const char *name, const char *text) {
  bn_err err = BN_OK;
  hid_t type = -1, space = -1, a = -1;
  if (!text) text = "";
  BN_H5_SET(type, H5Tcopy(H5T_C_S1));
  BN_H5(H5Tset_size(type, strlen(text) + 1));
  BN_H5(H5Tset_strpad(type, H5T_STR_NULLTERM));
  BN_H5(H5Tset_cset(type, H5T_CSET_UTF8));
  BN_H5_SET(space, H5Screate(H5S_SCALAR));
  BN_H5_SET(a, H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
  BN_H5(H5Awrite(a, type, text));
  BN_H5(bn__h5_close(&a));
  BN_H5(bn__h5_close(&space));
  BN_H5(bn__h5_close(&type));
  return BN_OK;
fail:
  (void)bn__h5_close(&a);
  (void)bn__h5_close(&space);
  (void)bn__h5_close(&type);
  return err;
}

static bn_err write_root_attributes(hid_t file, const bn_snapshot *s) {
  size_t n = 0;
  const bn__attr *attrs = bn__root_attrs(&n);
  for (size_t i = 0; i < n; i++) {
    const bn__attr *a = &attrs[i];
    const char *name = bn__attr_file_name(a);
    if (a->offset == BN__NOT_IN_SNAPSHOT) {
      const uint32_t version = BN_CHECKPOINT_FORMAT_VERSION;
      BN_CALL(attr_num(file, name, BN__F_U32, &version));
    } else if (a->type == BN__F_STR) {
      BN_CALL(attr_str(file, name, *(char *const *)((const unsigned char *)s + a->offset)));
    } else {
      BN_CALL(attr_num(file, name, a->type, (const unsigned char *)s + a->offset));
    }
  }
  return BN_OK;
}

/* --- datasets ----------------------------------------------------------------------- */

/* Dataset creation properties: no fill values ever written; chunked with `chunk_rows` rows
 * and an unlimited first dimension when chunk_rows > 0, contiguous otherwise. */
static bn_err make_dcpl(int rank, const hsize_t *dims, hsize_t chunk_rows, hid_t *out) {
  bn_err err = BN_OK;
  hid_t dcpl = -1;
  BN_H5_SET(dcpl, H5Pcreate(H5P_DATASET_CREATE));
  BN_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
  if (chunk_rows > 0) {
    hsize_t chunk[2] = {chunk_rows, rank > 1 ? dims[1] : 1};
    BN_H5(H5Pset_chunk(dcpl, rank, chunk));
  } else {
    BN_H5(H5Pset_layout(dcpl, H5D_CONTIGUOUS));
  }
  *out = dcpl;
  return BN_OK;
fail:
  (void)bn__h5_close(&dcpl);
  return err;
}

/* A contiguous array dataset of rank 1 ([n]) or 2 ([n x width]) written in one call from
 * `data` (mem_type elements, row-major; may be NULL when the dataset is empty). */
static bn_err write_array(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank, uint64_t n,
                          uint64_t width, const void *data) {
  bn_err err = BN_OK;
  hid_t space = -1, dcpl = -1, ds = -1;
  const hsize_t dims[2] = {n, width};
  BN_H5_SET(space, H5Screate_simple(rank, dims, NULL));
  BN_TRY(make_dcpl(rank, dims, 0, &dcpl));
  BN_H5_SET(ds, H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (n > 0 && (rank == 1 || width > 0)) {
    BN_CHECK_GOTO(data, BN_ERR_ARG, "dataset %s: %llu rows but no data", name, (unsigned long long)n);
    BN_H5(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  }
  BN_H5(bn__h5_close(&ds));
  BN_H5(bn__h5_close(&dcpl));
  BN_H5(bn__h5_close(&space));
  return BN_OK;
fail:
  (void)bn__h5_close(&ds);
  (void)bn__h5_close(&dcpl);
  (void)bn__h5_close(&space);
  return err;
}

/* The group holding `path`'s last component, created on first use (/tree, /tree/nodes,
 * ...); `leaf` points at the last component. */
static bn_err open_parent(hid_t file, const char *path, hid_t *out, const char **leaf) {
  bn_err err = BN_OK;
  char buf[128];
  snprintf(buf, sizeof buf, "%s", path);
  char *slash = strrchr(buf, '/');
  *leaf = path + (slash - buf) + 1;
  if (slash == buf) {
    BN_H5_SET(*out, H5Gopen2(file, "/", H5P_DEFAULT));
    return BN_OK;
  }
  *slash = '\0';
  /* Create each missing group along the way. */
  for (char *p = buf + 1;; p++) {
    const char c = *p;
    if (c == '/' || c == '\0') {
      *p = '\0';
      const htri_t there = H5Lexists(file, buf, H5P_DEFAULT);
      BN_H5(there);
      if (!there) {
        hid_t g = -1;
        BN_H5_SET(g, H5Gcreate2(file, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
        BN_H5(bn__h5_close(&g));
      }
      *p = c;
      if (c == '\0') break;
    }
  }
  BN_H5_SET(*out, H5Gopen2(file, buf, H5P_DEFAULT));
  return BN_OK;
fail:
  return err;
}

static bn_err write_arrays(hid_t file, const bn_snapshot *s) {
  bn_err err = BN_OK;
  hid_t g = -1;
  size_t n = 0;
  const bn__array *arrays = bn__arrays(&n);
  for (size_t i = 0; i < n; i++) {
    const bn__array *a = &arrays[i];
    const char *leaf = NULL;
    const uint64_t width = bn__array_width_of(a, s);
    BN_TRY(open_parent(file, a->path, &g, &leaf));
    BN_TRY(write_array(g, leaf, bn__ftype_file(a->type), bn__ftype_native(a->type), a->width == BN__W_ONE ? 1 : 2,
                       bn__array_count_of(a, s), width, *bn__array_slot(a, (bn_snapshot *)s)));
    BN_H5(bn__h5_close(&g));
  }
  hid_t tree = -1;
  BN_H5_SET(tree, H5Gopen2(file, "/tree", H5P_DEFAULT));
  err = attr_num(tree, "backprops", BN__F_U64, &s->tree.n_backprops);
  (void)bn__h5_close(&tree);
  return err;
fail:
  (void)bn__h5_close(&g);
  return err;
}

/* A small compound table (contiguous), written from its C structs in one call: HDF5
 * converts the struct layout to the packed file layout. */
static bn_err write_table(hid_t loc, const char *name, const bn__table *t, uint64_t n, const void *rows) {
  bn_err err = BN_OK;
  hid_t ftype = -1, mtype = -1;
  BN_TRY(bn__table_type(t, 1, BN__LAYOUT_FILE, &ftype));
  BN_TRY(bn__table_type(t, 1, BN__LAYOUT_STRUCT, &mtype));
  BN_TRY(write_array(loc, name, ftype, mtype, 1, n, 1, rows));
  BN_H5(bn__h5_close(&mtype));
  BN_H5(bn__h5_close(&ftype));
  return BN_OK;
fail:
  (void)bn__h5_close(&mtype);
  (void)bn__h5_close(&ftype);
  return err;
}

static bn_err write_tables(hid_t file, const bn_snapshot *s) {
  bn_err err = BN_OK;
  hid_t g = -1;
  size_t n = 0;
  const bn__table *const *tables = bn__snapshot_tables(&n);
  for (size_t i = 0; i < n; i++) {
    const bn__table *t = tables[i];
    const char *leaf = NULL;
    BN_TRY(open_parent(file, t->path, &g, &leaf));
    BN_TRY(write_table(g, leaf, t, *bn__table_count(t, (bn_snapshot *)s), *bn__table_rows(t, (bn_snapshot *)s)));
    BN_H5(bn__h5_close(&g));
  }
  return BN_OK;
fail:
  (void)bn__h5_close(&g);
  return err;
}

/* The source file name of segment `seq` in a virtual dataset mapping. H5Pset_virtual reads
 * printf-style specifiers in it ("%b"), so a '%' of the directory name (which comes from
 * the checkpoint's file name) is written "%%". */
static void vds_source_name(const char *segment_dir, uint64_t seq, char *buf, size_t n) {
  size_t k = 0;
  for (const char *c = segment_dir; *c && k + 2 < n; c++) {
    if (*c == '%') buf[k++] = '%';
    buf[k++] = *c;
  }
  snprintf(buf + k, n - k, "/" BN__SEGMENT_PREFIX "%012llu" BN__SEGMENT_SUFFIX, (unsigned long long)seq);
}

/* /results: a virtual dataset of `completed` rows, one mapping per segment, and beside it
 * /result_failures over the segments' failed rows (`failures`: the text tables; segments
 * without a failed row have no mapping there). The source names are relative
 * ("run.h5.d/results-000000000007.h5"): HDF5 looks for them beside the file holding the
 * virtual dataset, so the file and its directory can move together. */
static bn_err write_vds(hid_t file, const bn_snapshot *s, int failures) {
  bn_err err = BN_OK;
  hid_t ftype = -1, vspace = -1, sspace = -1, dcpl = -1, ds = -1;
  const bn__table *t = failures ? &bn__result_failures_table : &bn__results_table;
  const hsize_t dims[1] = {failures ? s->failures : s->completed};
  BN_TRY(bn__table_type(t, s->state_size, BN__LAYOUT_FILE, &ftype));
  BN_H5_SET(vspace, H5Screate_simple(1, dims, NULL));
  BN_H5_SET(dcpl, H5Pcreate(H5P_DATASET_CREATE));
  BN_H5(H5Pset_layout(dcpl, H5D_VIRTUAL)); /* also with no segment yet */
  uint64_t at = 0;
  for (uint64_t i = 0; i < s->n_segments; i++) {
    const bn_segment_info *g = &s->segments[i];
    char name[4096];
    const hsize_t start[1] = {failures ? at : g->first_row}, count[1] = {failures ? g->failures : g->rows};
    at += g->failures;
    if (count[0] == 0) continue; /* a segment without failed rows (the snapshot was checked: the counts add up) */
    vds_source_name(s->segment_dir, g->seq, name, sizeof name);
    BN_H5_SET(sspace, H5Screate_simple(1, count, NULL));
    BN_H5(H5Sselect_hyperslab(vspace, H5S_SELECT_SET, start, NULL, count, NULL));
    BN_H5(H5Pset_virtual(dcpl, vspace, name, t->path, sspace));
    BN_H5(bn__h5_close(&sspace));
  }
  BN_H5(H5Sselect_all(vspace));
  BN_H5_SET(ds, H5Dcreate2(file, t->path + 1, ftype, vspace, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  BN_H5(bn__h5_close(&ds));
  BN_H5(bn__h5_close(&dcpl));
  BN_H5(bn__h5_close(&vspace));
  BN_H5(bn__h5_close(&ftype));
  return BN_OK;
fail:
  (void)bn__h5_close(&ds);
  (void)bn__h5_close(&dcpl);
  (void)bn__h5_close(&sspace);
  (void)bn__h5_close(&vspace);
  (void)bn__h5_close(&ftype);
  return err;
}

bn_err bn__h5_writer_fapl(hid_t *out) {
  bn_err err = BN_OK;
  hid_t fapl = -1;
  BN_H5_SET(fapl, H5Pcreate(H5P_FILE_ACCESS));
  /* 1.8 object format at least: dense attribute storage (config text over 64 KiB); 1.10
   * for the virtual dataset. Strong close: H5Fclose really closes the file before it is
   * synced. */
  BN_H5(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V110));
  BN_H5(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG));
#if H5_VERSION_GE(1, 10, 7)
  /* One writer per file by design (rank 0, a fresh temporary); locks fail on some
   * parallel file systems. */
  BN_H5(H5Pset_file_locking(fapl, 0, 1));
#endif
  *out = fapl;
  return BN_OK;
fail:
  (void)bn__h5_close(&fapl);
  return err;
}

bn_err bn__h5_writer_fcpl(hid_t *out) {
  bn_err err = BN_OK;
  hid_t fcpl = -1;
  BN_H5_SET(fcpl, H5Pcreate(H5P_FILE_CREATE));
  /* The first 512 bytes are the seal (seal.h); HDF5 puts its superblock after them. */
  BN_H5(H5Pset_userblock(fcpl, BN__SEAL_BYTES));
  *out = fcpl;
  return BN_OK;
fail:
  (void)bn__h5_close(&fcpl);
  return err;
}

bn_err bn__checkpoint_write_file(const char *path, const bn_snapshot *s) {
  bn_err err = BN_OK;
  hid_t fapl = -1, fcpl = -1, file = -1;
  BN_TRY(bn__h5_writer_fapl(&fapl));
  BN_TRY(bn__h5_writer_fcpl(&fcpl));
  BN_H5_SET(file, H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl));
  BN_TRY(write_root_attributes(file, s));
  BN_TRY(write_arrays(file, s));
  BN_TRY(write_tables(file, s));
  BN_TRY(write_vds(file, s, 0));
  BN_TRY(write_vds(file, s, 1));
  BN_H5(H5Fflush(file, H5F_SCOPE_GLOBAL));
  BN_H5(bn__h5_close(&file));
  BN_H5(bn__h5_close(&fcpl));
  BN_H5(bn__h5_close(&fapl));
  return BN_OK;
fail:
  if (file >= 0) {
    bn__h5_abandoned();
    /* Free the partial file's blocks first (a full disk is the usual cause), so the
     * metadata flush inside H5Fclose can succeed; the caller removes the file. */
    if (truncate(path, 0) != 0) bn_debug("cannot truncate %s: %s", path, strerror(errno));
    if (bn__h5_close(&file) < 0) {
      bn__h5_report(BN_LOG_DEBUG, __FILE__, __LINE__, __func__, "H5Fclose after a failed write");
      bn_debug("HDF5 could not close %s after the failure; its handle stays open until exit", path);
    }
  }
  (void)bn__h5_close(&fcpl);
  (void)bn__h5_close(&fapl);
  return err;
}
