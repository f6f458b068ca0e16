/* bn_checkpoint_read: open a checkpoint read-only, read every part of the layout through
 * the validating helpers of h5check.c, check the snapshot's coherence (validate.c) and hand
 * it over only when all of it holds. The file is never written: it is opened with
 * H5F_ACC_RDONLY and without file locking (which would be the only write-like effect).
 *
 * /results is read in strips of about 4 MiB in the packed row layout (no conversion for a
 * file written on a little-endian machine) and unpacked into one chunk of rows plus one
 * array of states, as bn_snapshot describes; the graph arrays are read in one call each. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/h5check.h"

static bn_err read_root(bn__rd *r, bn_snapshot *s) {
  hid_t f = r->file;
  uint32_t version = 0;
  BN_CALL(bn__rd_attr_num(r, f, "/", "format_version", BN__F_U32, &version));
  if (version != BN_CHECKPOINT_FORMAT_VERSION)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "format_version %u is not supported (this banyan reads version %u)",
                       version, BN_CHECKPOINT_FORMAT_VERSION);
  BN_CALL(bn__rd_attr_str(r, f, "/", "banyan_version", &s->banyan_version));
  BN_CALL(bn__rd_attr_str(r, f, "/", "domain", &s->domain));
  BN_CALL(bn__rd_attr_str(r, f, "/", "config", &s->config_text));
  BN_CALL(bn__rd_attr_num(r, f, "/", "created", BN__F_F64, &s->created));
  BN_CALL(bn__rd_attr_num(r, f, "/", "updated", BN__F_F64, &s->updated));
  BN_CALL(bn__rd_attr_num(r, f, "/", "seed", BN__F_U64, &s->seed));
  BN_CALL(bn__rd_attr_num(r, f, "/", "state_size", BN__F_U64, &s->state_size));
  BN_CALL(bn__rd_attr_num(r, f, "/", "path_cap", BN__F_U32, &s->path_cap));
  /* Bounds first: they size every allocation that follows. */
  if (s->state_size == 0 || s->state_size > BN__CKPT_MAX_STATE_SIZE)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "state_size %llu outside 1..%llu", (unsigned long long)s->state_size,
                       (unsigned long long)BN__CKPT_MAX_STATE_SIZE);
  if (s->path_cap > BN__CKPT_MAX_PATH_CAP)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "path_cap %u above %u", s->path_cap, BN__CKPT_MAX_PATH_CAP);
  BN_CALL(bn__rd_attr_num(r, f, "/", "budget", BN__F_U64, &s->budget));
  BN_CALL(bn__rd_attr_num(r, f, "/", "next_iteration", BN__F_U64, &s->next_iteration));
  BN_CALL(bn__rd_attr_num(r, f, "/", "completed", BN__F_U64, &s->completed));
  BN_CALL(bn__rd_attr_num(r, f, "/", "evaluations", BN__F_U64, &s->evaluations));
  BN_CALL(bn__rd_attr_num(r, f, "/", "failures", BN__F_U64, &s->failures));
  BN_CALL(bn__rd_attr_num(r, f, "/", "cancelled", BN__F_U64, &s->cancelled));
  BN_CALL(bn__rd_attr_num(r, f, "/", "applied_upto", BN__F_U64, &s->applied_upto));
  BN_CALL(bn__rd_attr_num(r, f, "/", "deterministic", BN__F_U8, &s->deterministic));
  BN_CALL(bn__rd_attr_num(r, f, "/", "finished", BN__F_U8, &s->finished));
  BN_CALL(bn__rd_attr_num(r, f, "/", "stop_reason", BN__F_U32, &s->stop_reason));
  BN_CALL(bn__rd_attr_num(r, f, "/", "elapsed_seconds", BN__F_F64, &s->elapsed_seconds));
  BN_CALL(bn__rd_attr_num(r, f, "/", "checkpoints", BN__F_U64, &s->checkpoints));
  return BN_OK;
}

static bn_err read_tree(bn__rd *r, const bn_snapshot *s, bn_tree_arrays *a) {
  hid_t g = -1;
  BN_CALL(bn__rd_open_group(r, "/tree", &g));
  bn_err err = bn__rd_attr_num(r, g, "/tree", "backprops", BN__F_U64, &a->n_backprops);
  (void)bn__h5_close(&g);
  BN_CALL(err);
  a->state_size = (size_t)s->state_size;
  /* The first array fixes the length; the others must agree. */
  uint64_t nn = UINT64_MAX, ne = UINT64_MAX;
  BN_CALL(bn__rd_array(r, "/tree/nodes/visits", BN__F_U64, 1, 1, &nn, (void **)&a->node_visits));
  if (nn > UINT32_MAX)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "%llu nodes do not fit 32-bit node ids", (unsigned long long)nn);
  BN_CALL(bn__rd_array(r, "/tree/nodes/reward_sum", BN__F_F64, 1, 1, &nn, (void **)&a->node_reward_sum));
  BN_CALL(bn__rd_array(r, "/tree/nodes/first_edge", BN__F_U32, 1, 1, &nn, (void **)&a->node_first_edge));
  BN_CALL(bn__rd_array(r, "/tree/nodes/n_edges", BN__F_U32, 1, 1, &nn, (void **)&a->node_n_edges));
  BN_CALL(bn__rd_array(r, "/tree/nodes/depth", BN__F_U16, 1, 1, &nn, (void **)&a->node_depth));
  BN_CALL(bn__rd_array(r, "/tree/nodes/flags", BN__F_U8, 1, 1, &nn, (void **)&a->node_flags));
  BN_CALL(bn__rd_array(r, "/tree/nodes/samples", BN__F_U32, 1, 1, &nn, (void **)&a->node_samples));
  BN_CALL(bn__rd_array(r, "/tree/states", BN__F_U8, 2, s->state_size, &nn, (void **)&a->states));
  BN_CALL(bn__rd_array(r, "/tree/edges/parent", BN__F_U32, 1, 1, &ne, (void **)&a->edge_parent));
  if (ne > UINT32_MAX)
    return bn__rd_fail(r, BN_ERR_CORRUPT, "%llu edges do not fit 32-bit edge ids", (unsigned long long)ne);
  BN_CALL(bn__rd_array(r, "/tree/edges/child", BN__F_U32, 1, 1, &ne, (void **)&a->edge_child));
  BN_CALL(bn__rd_array(r, "/tree/edges/action", BN__F_I32, 1, 1, &ne, (void **)&a->edge_action));
  BN_CALL(bn__rd_array(r, "/tree/edges/visits", BN__F_U64, 1, 1, &ne, (void **)&a->edge_visits));
  BN_CALL(bn__rd_array(r, "/tree/edges/reward_sum", BN__F_F64, 1, 1, &ne, (void **)&a->edge_reward_sum));
  BN_CALL(bn__rd_array(r, "/tree/edges/reward_sq", BN__F_F64, 1, 1, &ne, (void **)&a->edge_reward_sq));
  BN_CALL(bn__rd_array(r, "/tree/edges/flags", BN__F_U8, 1, 1, &ne, (void **)&a->edge_flags));
  a->n_nodes = nn;
  a->n_edges = ne;
  return BN_OK;
}

/* Unpack `n` packed rows into rows[] and states[] (the inverse of write.c's packing). */
static void unpack_results(const unsigned char *buf, size_t n, size_t state_size, bn_result_row *rows,
                           unsigned char *states) {
  const bn__table *t = &bn__results_table;
  for (size_t i = 0; i < n; i++) {
    unsigned char *row = (unsigned char *)&rows[i];
    for (size_t f = 0; f < t->n_fields; f++) {
      const bn__field *fd = &t->fields[f];
      if (fd->type == BN__F_STATE) {
        memcpy(states + i * state_size, buf, state_size);
        buf += state_size;
      } else {
        memcpy(row + fd->offset, buf, fd->size);
        buf += fd->size;
      }
    }
  }
}

static bn_err read_results(bn__rd *r, bn_snapshot *s) {
  bn_err err = BN_OK;
  hid_t ds = -1, mt = -1, fspace = -1, mspace = -1;
  unsigned char *buf = NULL;
  bn_result_row *rows = NULL;
  unsigned char *states = NULL;
  uint64_t n = 0;
  const size_t ss = (size_t)s->state_size, row_bytes = bn__table_packed_size(&bn__results_table, ss);
  BN_TRY(bn__rd_table_open(r, &bn__results_table, ss, &ds, &n));
  s->n_results = 0;
  s->result_chunk_rows = 1;
  if (n == 0) goto done;
  BN_TRY(bn__rd_alloc(r, n, sizeof *rows, "/results", (void **)&rows));
  BN_TRY(bn__rd_alloc(r, n, ss, "/results states", (void **)&states));
  size_t strip = BN__CKPT_CHUNK_BYTES / row_bytes;
  if (strip < 1) strip = 1;
  if (strip > BN__CKPT_MAX_CHUNK_ROWS) strip = BN__CKPT_MAX_CHUNK_ROWS;
  if (strip > n) strip = (size_t)n;
  BN_TRY(bn__rd_alloc(r, strip, row_bytes, "/results buffer", (void **)&buf));
  BN_TRY(bn__table_type(&bn__results_table, ss, BN__LAYOUT_PACKED, &mt));
  fspace = H5Dget_space(ds);
  if (fspace < 0) {
    err = bn__rd_h5fail(r, "cannot get the dataspace of /results");
    goto fail;
  }
  for (uint64_t first = 0; first < n; first += strip) {
    const hsize_t start[1] = {first}, count[1] = {n - first < strip ? n - first : strip};
    mspace = H5Screate_simple(1, count, NULL);
    if (mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dread(ds, mt, mspace, fspace, H5P_DEFAULT, buf) < 0) {
      err = bn__rd_h5fail(r, "cannot read /results rows %llu..%llu", (unsigned long long)first,
                          (unsigned long long)(first + count[0] - 1));
      goto fail;
    }
    (void)bn__h5_close(&mspace);
    unpack_results(buf, (size_t)count[0], ss, rows + first, states + first * ss);
  }
  s->result_rows = malloc(sizeof *s->result_rows);
  s->result_states = malloc(sizeof *s->result_states);
  if (!s->result_rows || !s->result_states) {
    err = bn__rd_fail(r, BN_ERR_NOMEM, "no memory for the results index");
    goto fail;
  }
  s->result_rows[0] = rows;
  s->result_states[0] = states;
  s->n_results = n;
  s->result_chunk_rows = n;
  rows = NULL;
  states = NULL;
done:
  free(buf);
  (void)bn__h5_close(&fspace);
  (void)bn__h5_close(&mt);
  (void)bn__h5_close(&ds);
  return BN_OK;
fail:
  free(buf);
  free(rows);
  free(states);
  (void)bn__h5_close(&mspace);
  (void)bn__h5_close(&fspace);
  (void)bn__h5_close(&mt);
  (void)bn__h5_close(&ds);
  return err;
}

static bn_err read_pending(bn__rd *r, bn_snapshot *s) {
  uint64_t n = 0;
  BN_CALL(bn__rd_table(r, &bn__pending_table, &n, (void **)&s->pending));
  s->n_pending = n;
  BN_CALL(bn__rd_array(r, "/pending/paths", BN__F_U32, 2, s->path_cap, &n, (void **)&s->pending_paths));
  BN_CALL(bn__rd_array(r, "/pending/states", BN__F_U8, 2, s->state_size, &n, (void **)&s->pending_states));
  return BN_OK;
}

static bn_err read_stats(bn__rd *r, bn_snapshot *s) {
  BN_CALL(bn__rd_table(r, &bn__timeline_table, &s->n_timeline, (void **)&s->timeline));
  BN_CALL(bn__rd_table(r, &bn__engines_table, &s->n_engines, (void **)&s->engines));
  BN_CALL(bn__rd_table(r, &bn__history_table, &s->n_history, (void **)&s->history));
  BN_CALL(bn__rd_table(r, &bn__best_table, &s->n_best, (void **)&s->best));
  return BN_OK;
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

static bn_err open_file(bn__rd *r, const char *path) {
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
    err = bn__rd_fail(r, BN_ERR_CORRUPT, "%s is not an HDF5 file", path);
    goto done;
  }
  r->file = is_hdf5 > 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
  if (r->file < 0) err = bn__rd_h5fail(r, "cannot open %s as HDF5 (damaged or truncated?)", path);
done:
  (void)bn__h5_close(&fapl);
  return err;
}

bn_err bn_checkpoint_read(const char *path, bn_snapshot *out, char *why, size_t whylen) {
  if (why && whylen) why[0] = '\0';
  if (!path || !out) return bn__why(BN_ERR_ARG, why, whylen, "null path or snapshot");
  bn_err err = BN_OK;
  bn__h5_guard guard;
  bn__h5_quiet(&guard);
  char scratch[512];
  bn__rd r = {.file = -1, .why = why && whylen ? why : scratch, .whylen = why && whylen ? whylen : sizeof scratch};
  r.why[0] = '\0';
  bn_snapshot s;
  memset(&s, 0, sizeof s);
  BN_TRY(probe_file(&r, path));
  BN_TRY(open_file(&r, path));
  BN_TRY(read_root(&r, &s));
  BN_TRY(read_tree(&r, &s, &s.tree));
  BN_TRY(read_results(&r, &s));
  BN_TRY(read_pending(&r, &s));
  BN_TRY(read_stats(&r, &s));
  if (bn__h5_close(&r.file) < 0) {
    err = bn__rd_h5fail(&r, "cannot close %s", path);
    goto fail;
  }
  err = bn__snapshot_check(&s, r.why, r.whylen);
  if (err != BN_OK) {
    bn_debug("checkpoint read: %s", r.why);
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
