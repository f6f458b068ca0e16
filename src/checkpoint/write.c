/* The checkpoint layout, written into one new HDF5 file (the atomic replace around it is in
 * replace.c; the layout is described in docs/checkpoint-format.md).
 *
 * Speed comes from few, large HDF5 calls: the graph arrays are contiguous datasets written
 * in one H5Dwrite each straight from the snapshot's arrays (the memory type equals the
 * file type on little-endian hosts, so HDF5 copies nothing); /results is packed chunk by
 * chunk into one buffer in the file's row layout and written with one hyperslab H5Dwrite
 * per HDF5 chunk (chunks of about 4 MiB, written whole, bypassing the chunk cache). No
 * fill values are written. Attributes use the 1.8 object format so the effective
 * configuration may exceed 64 KiB. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/checkpoint_impl.h"

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

static bn_err attr_u64(hid_t loc, const char *name, uint64_t v) { return attr_num(loc, name, BN__F_U64, &v); }
static bn_err attr_u32(hid_t loc, const char *name, uint32_t v) { return attr_num(loc, name, BN__F_U32, &v); }
static bn_err attr_u8(hid_t loc, const char *name, uint8_t v) { return attr_num(loc, name, BN__F_U8, &v); }
static bn_err attr_f64(hid_t loc, const char *name, double v) { return attr_num(loc, name, BN__F_F64, &v); }

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
  BN_CALL(attr_u32(file, "format_version", BN_CHECKPOINT_FORMAT_VERSION));
  BN_CALL(attr_str(file, "banyan_version", s->banyan_version));
  BN_CALL(attr_str(file, "domain", s->domain));
  BN_CALL(attr_f64(file, "created", s->created));
  BN_CALL(attr_f64(file, "updated", s->updated));
  BN_CALL(attr_str(file, "config", s->config_text));
  BN_CALL(attr_u64(file, "seed", s->seed));
  BN_CALL(attr_u64(file, "state_size", s->state_size));
  BN_CALL(attr_u32(file, "path_cap", s->path_cap));
  BN_CALL(attr_u64(file, "budget", s->budget));
  BN_CALL(attr_u64(file, "next_iteration", s->next_iteration));
  BN_CALL(attr_u64(file, "completed", s->completed));
  BN_CALL(attr_u64(file, "evaluations", s->evaluations));
  BN_CALL(attr_u64(file, "failures", s->failures));
  BN_CALL(attr_u64(file, "cancelled", s->cancelled));
  BN_CALL(attr_u64(file, "applied_upto", s->applied_upto));
  BN_CALL(attr_u8(file, "deterministic", s->deterministic));
  BN_CALL(attr_u8(file, "finished", s->finished));
  BN_CALL(attr_u32(file, "stop_reason", s->stop_reason));
  BN_CALL(attr_f64(file, "elapsed_seconds", s->elapsed_seconds));
  BN_CALL(attr_u64(file, "checkpoints", s->checkpoints));
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

static bn_err write_col(hid_t loc, const char *name, bn__ftype type, uint64_t n, const void *data) {
  return write_array(loc, name, bn__ftype_file(type), bn__ftype_native(type), 1, n, 1, data);
}

static bn_err make_group(hid_t loc, const char *name, hid_t *out) {
  bn_err err = BN_OK;
  BN_H5_SET(*out, H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  return BN_OK;
fail:
  return err;
}

static bn_err write_tree(hid_t file, const bn_tree_arrays *a) {
  bn_err err = BN_OK;
  hid_t tree = -1, nodes = -1, edges = -1;
  const uint64_t nn = a->n_nodes, ne = a->n_edges;
  BN_TRY(make_group(file, "tree", &tree));
  BN_TRY(attr_u64(tree, "backprops", a->n_backprops));
  BN_TRY(write_array(tree, "states", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, nn, a->state_size, a->states));
  BN_TRY(make_group(tree, "nodes", &nodes));
  BN_TRY(write_col(nodes, "visits", BN__F_U64, nn, a->node_visits));
  BN_TRY(write_col(nodes, "reward_sum", BN__F_F64, nn, a->node_reward_sum));
  BN_TRY(write_col(nodes, "first_edge", BN__F_U32, nn, a->node_first_edge));
  BN_TRY(write_col(nodes, "n_edges", BN__F_U32, nn, a->node_n_edges));
  BN_TRY(write_col(nodes, "depth", BN__F_U16, nn, a->node_depth));
  BN_TRY(write_col(nodes, "flags", BN__F_U8, nn, a->node_flags));
  BN_TRY(write_col(nodes, "samples", BN__F_U32, nn, a->node_samples));
  BN_TRY(make_group(tree, "edges", &edges));
  BN_TRY(write_col(edges, "parent", BN__F_U32, ne, a->edge_parent));
  BN_TRY(write_col(edges, "child", BN__F_U32, ne, a->edge_child));
  BN_TRY(write_col(edges, "action", BN__F_I32, ne, a->edge_action));
  BN_TRY(write_col(edges, "visits", BN__F_U64, ne, a->edge_visits));
  BN_TRY(write_col(edges, "reward_sum", BN__F_F64, ne, a->edge_reward_sum));
  BN_TRY(write_col(edges, "reward_sq", BN__F_F64, ne, a->edge_reward_sq));
  BN_TRY(write_col(edges, "flags", BN__F_U8, ne, a->edge_flags));
  BN_H5(bn__h5_close(&edges));
  BN_H5(bn__h5_close(&nodes));
  BN_H5(bn__h5_close(&tree));
  return BN_OK;
fail:
  (void)bn__h5_close(&edges);
  (void)bn__h5_close(&nodes);
  (void)bn__h5_close(&tree);
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

/* Rows per /results chunk: about BN__CKPT_CHUNK_BYTES (at most 64 Ki rows), but no more
 * than the rows there are, rounded up to a power of two (at least 16): a small run does
 * not carry a mostly empty 4 MiB chunk, and appending rows later stays reasonable. */
static hsize_t results_chunk_rows(size_t row_bytes, uint64_t n_rows) {
  size_t rows = BN__CKPT_CHUNK_BYTES / row_bytes;
  if (rows < 1) rows = 1;
  if (rows > BN__CKPT_MAX_CHUNK_ROWS) rows = BN__CKPT_MAX_CHUNK_ROWS;
  uint64_t fit = 16;
  while (fit < n_rows && fit < rows) fit *= 2;
  return fit < rows ? (hsize_t)fit : (hsize_t)rows;
}

/* Pack rows [first, first + n) of the results log into buf in the packed layout. */
static void pack_results(const bn_snapshot *s, uint64_t first, size_t n, unsigned char *buf) {
  const bn__table *t = &bn__results_table;
  const size_t ss = (size_t)s->state_size;
  for (size_t i = 0; i < n; i++) {
    const unsigned char *row = (const unsigned char *)bn__result_row(s, first + i);
    for (size_t f = 0; f < t->n_fields; f++) {
      const bn__field *fd = &t->fields[f];
      if (fd->type == BN__F_STATE) {
        memcpy(buf, bn__result_state(s, first + i), ss);
        buf += ss;
      } else {
        memcpy(buf, row + fd->offset, fd->size);
        buf += fd->size;
      }
    }
  }
}

static bn_err write_results(hid_t file, const bn_snapshot *s) {
  bn_err err = BN_OK;
  hid_t ftype = -1, mtype = -1, fspace = -1, mspace = -1, dcpl = -1, ds = -1;
  unsigned char *buf = NULL;
  const size_t row_bytes = bn__table_packed_size(&bn__results_table, s->state_size);
  const hsize_t chunk = results_chunk_rows(row_bytes, s->n_results);
  const hsize_t dims[1] = {s->n_results}, maxdims[1] = {H5S_UNLIMITED};
  BN_TRY(bn__table_type(&bn__results_table, s->state_size, BN__LAYOUT_FILE, &ftype));
  BN_TRY(bn__table_type(&bn__results_table, s->state_size, BN__LAYOUT_PACKED, &mtype));
  BN_H5_SET(fspace, H5Screate_simple(1, dims, maxdims));
  BN_TRY(make_dcpl(1, dims, chunk, &dcpl));
  BN_H5_SET(ds, H5Dcreate2(file, "results", ftype, fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (s->n_results > 0) {
    const size_t buf_rows = s->n_results < chunk ? (size_t)s->n_results : (size_t)chunk;
    buf = malloc(buf_rows * row_bytes);
    BN_CHECK_GOTO(buf, BN_ERR_NOMEM, "no memory for a %zu-byte results buffer", buf_rows * row_bytes);
    for (uint64_t first = 0; first < s->n_results; first += chunk) {
      const hsize_t start[1] = {first};
      const hsize_t count[1] = {s->n_results - first < chunk ? s->n_results - first : chunk};
      pack_results(s, first, (size_t)count[0], buf);
      BN_H5_SET(mspace, H5Screate_simple(1, count, NULL));
      BN_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
      BN_H5(H5Dwrite(ds, mtype, mspace, fspace, H5P_DEFAULT, buf));
      BN_H5(bn__h5_close(&mspace));
    }
  }
  free(buf);
  buf = NULL;
  BN_H5(bn__h5_close(&ds));
  BN_H5(bn__h5_close(&dcpl));
  BN_H5(bn__h5_close(&fspace));
  BN_H5(bn__h5_close(&mtype));
  BN_H5(bn__h5_close(&ftype));
  return BN_OK;
fail:
  free(buf);
  (void)bn__h5_close(&mspace);
  (void)bn__h5_close(&ds);
  (void)bn__h5_close(&dcpl);
  (void)bn__h5_close(&fspace);
  (void)bn__h5_close(&mtype);
  (void)bn__h5_close(&ftype);
  return err;
}

static bn_err write_pending(hid_t file, const bn_snapshot *s) {
  bn_err err = BN_OK;
  hid_t g = -1;
  BN_TRY(make_group(file, "pending", &g));
  BN_TRY(write_table(g, "rows", &bn__pending_table, s->n_pending, s->pending));
  BN_TRY(write_array(g, "paths", H5T_STD_U32LE, H5T_NATIVE_UINT32, 2, s->n_pending, s->path_cap,
                     s->pending_paths));
  BN_TRY(write_array(g, "states", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, s->n_pending, s->state_size,
                     s->pending_states));
  BN_H5(bn__h5_close(&g));
  return BN_OK;
fail:
  (void)bn__h5_close(&g);
  return err;
}

static bn_err write_stats(hid_t file, const bn_snapshot *s) {
  bn_err err = BN_OK;
  hid_t g = -1;
  BN_TRY(make_group(file, "stats", &g));
  BN_TRY(write_table(g, "timeline", &bn__timeline_table, s->n_timeline, s->timeline));
  BN_TRY(write_table(g, "engines", &bn__engines_table, s->n_engines, s->engines));
  BN_TRY(write_table(g, "checkpoints", &bn__history_table, s->n_history, s->history));
  BN_H5(bn__h5_close(&g));
  return BN_OK;
fail:
  (void)bn__h5_close(&g);
  return err;
}

bn_err bn__checkpoint_write_file(const char *path, const bn_snapshot *s) {
  bn_err err = BN_OK;
  hid_t fapl = -1, file = -1;
  BN_H5_SET(fapl, H5Pcreate(H5P_FILE_ACCESS));
  /* 1.8 object format: dense attribute storage (config text over 64 KiB), readable by any
   * HDF5 >= 1.8. Strong close: H5Fclose really closes the file before it is synced. */
  BN_H5(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18));
  BN_H5(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG));
#if H5_VERSION_GE(1, 10, 7)
  /* One writer per file by design (rank 0, a fresh NAME.tmp); locks fail on some
   * parallel file systems. */
  BN_H5(H5Pset_file_locking(fapl, 0, 1));
#endif
  BN_H5_SET(file, H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
  BN_TRY(write_root_attributes(file, s));
  BN_TRY(write_tree(file, &s->tree));
  BN_TRY(write_results(file, s));
  BN_TRY(write_pending(file, s));
  BN_TRY(write_stats(file, s));
  BN_TRY(write_table(file, "best", &bn__best_table, s->n_best, s->best));
  BN_H5(H5Fflush(file, H5F_SCOPE_GLOBAL));
  BN_H5(bn__h5_close(&file));
  BN_H5(bn__h5_close(&fapl));
  return BN_OK;
fail:
  if (file >= 0) {
    /* Free the partial file's blocks first (a full disk is the usual cause), so the
     * metadata flush inside H5Fclose can succeed; the caller removes the file. */
    if (truncate(path, 0) != 0) bn_debug("cannot truncate %s: %s", path, strerror(errno));
    if (bn__h5_close(&file) < 0) {
      bn__h5_report(BN_LOG_WARN, __FILE__, __LINE__, __func__, "H5Fclose after a failed write");
      bn_warn("HDF5 could not close %s after the failure; its handle stays open until exit", path);
    }
  }
  (void)bn__h5_close(&fapl);
  return err;
}
