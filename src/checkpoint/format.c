/* The compound tables of the checkpoint format: field names, kinds and C offsets of every
 * row type, and the HDF5 compound types built from them. The writer and the reader use
 * the same tables, so a field cannot be written under one name and read under another;
 * docs/checkpoint-format.md lists the same fields. */
#include <stddef.h>

#include "checkpoint/checkpoint_impl.h"

#define F(T, name, kind) {#name, kind, offsetof(T, name), sizeof(((T *)0)->name)}

static const bn__field results_fields[] = {
    F(bn_result_row, job_id, BN__F_U64),      F(bn_result_row, seed, BN__F_U64),
    F(bn_result_row, kind, BN__F_U8),         F(bn_result_row, status, BN__F_U8),
    F(bn_result_row, attempts, BN__F_U16),    F(bn_result_row, engine, BN__F_I32),
    F(bn_result_row, sample, BN__F_U32),
    F(bn_result_row, reward, BN__F_F64),      F(bn_result_row, t_created, BN__F_F64),
    F(bn_result_row, t_sent, BN__F_F64),      F(bn_result_row, t_started, BN__F_F64),
    F(bn_result_row, t_finished, BN__F_F64),  F(bn_result_row, t_received, BN__F_F64),
    F(bn_result_row, reason, BN__F_STR),      {"state", BN__F_STATE, 0, 0},
};

static const bn__field pending_fields[] = {
    F(bn_pending_row, iteration, BN__F_U64), F(bn_pending_row, seed, BN__F_U64),
    F(bn_pending_row, kind, BN__F_U8),       F(bn_pending_row, path_len, BN__F_U32),
    F(bn_pending_row, leaf, BN__F_U32),      F(bn_pending_row, sample, BN__F_U32),
};

static const bn__field timeline_fields[] = {
    F(bn_timeline_row, t, BN__F_F64),           F(bn_timeline_row, iterations, BN__F_U64),
    F(bn_timeline_row, evaluations, BN__F_U64), F(bn_timeline_row, failures, BN__F_U64),
    F(bn_timeline_row, in_flight, BN__F_U64),   F(bn_timeline_row, best_reward, BN__F_F64),
    F(bn_timeline_row, utilization, BN__F_F64),
};

static const bn__field engines_fields[] = {
    F(bn_engine_row, rank, BN__F_I32),         F(bn_engine_row, jobs, BN__F_U64),
    F(bn_engine_row, failures, BN__F_U64),     F(bn_engine_row, busy_seconds, BN__F_F64),
    F(bn_engine_row, idle_seconds, BN__F_F64),
};

static const bn__field history_fields[] = {
    F(bn_checkpoint_row, t_unix, BN__F_F64),           F(bn_checkpoint_row, iterations, BN__F_U64),
    F(bn_checkpoint_row, snapshot_seconds, BN__F_F64), F(bn_checkpoint_row, write_seconds, BN__F_F64),
    F(bn_checkpoint_row, bytes, BN__F_U64),
};

static const bn__field best_fields[] = {
    F(bn_best_row, node, BN__F_U32),
    F(bn_best_row, mean, BN__F_F64),
    F(bn_best_row, visits, BN__F_U64),
    F(bn_best_row, text, BN__F_STR),
};

#undef F

#define TABLE(path, fields, T) {path, fields, sizeof fields / sizeof fields[0], sizeof(T)}
const bn__table bn__results_table = TABLE("/results", results_fields, bn_result_row);
const bn__table bn__pending_table = TABLE("/pending/rows", pending_fields, bn_pending_row);
const bn__table bn__timeline_table = TABLE("/stats/timeline", timeline_fields, bn_timeline_row);
const bn__table bn__engines_table = TABLE("/stats/engines", engines_fields, bn_engine_row);
const bn__table bn__history_table = TABLE("/stats/checkpoints", history_fields, bn_checkpoint_row);
const bn__table bn__best_table = TABLE("/best", best_fields, bn_best_row);
#undef TABLE

hid_t bn__ftype_file(bn__ftype type) {
  switch (type) {
    case BN__F_U8: return H5T_STD_U8LE;
    case BN__F_U16: return H5T_STD_U16LE;
    case BN__F_U32: return H5T_STD_U32LE;
    case BN__F_U64: return H5T_STD_U64LE;
    case BN__F_I32: return H5T_STD_I32LE;
    case BN__F_F64: return H5T_IEEE_F64LE;
    default: return -1;
  }
}

hid_t bn__ftype_native(bn__ftype type) {
  switch (type) {
    case BN__F_U8: return H5T_NATIVE_UINT8;
    case BN__F_U16: return H5T_NATIVE_UINT16;
    case BN__F_U32: return H5T_NATIVE_UINT32;
    case BN__F_U64: return H5T_NATIVE_UINT64;
    case BN__F_I32: return H5T_NATIVE_INT32;
    case BN__F_F64: return H5T_NATIVE_DOUBLE;
    default: return -1;
  }
}

static size_t field_size(const bn__field *f, uint64_t state_size) {
  return f->type == BN__F_STATE ? (size_t)state_size : f->size;
}

size_t bn__table_packed_size(const bn__table *t, uint64_t state_size) {
  size_t n = 0;
  for (size_t i = 0; i < t->n_fields; i++) n += field_size(&t->fields[i], state_size);
  return n;
}

/* The member type of one field (a new id for strings and states, a library constant else). */
static bn_err member_type(const bn__field *f, uint64_t state_size, bn__layout layout, hid_t *out,
                          int *owned) {
  bn_err err = BN_OK;
  hid_t t = -1;
  *owned = 0;
  if (f->type == BN__F_STR) {
    BN_H5_SET(t, H5Tcopy(H5T_C_S1));
    BN_H5(H5Tset_size(t, f->size));
    BN_H5(H5Tset_strpad(t, H5T_STR_NULLTERM));
    BN_H5(H5Tset_cset(t, H5T_CSET_UTF8));
    *owned = 1;
  } else if (f->type == BN__F_STATE) {
    const hsize_t dim = state_size;
    BN_H5_SET(t, H5Tarray_create2(layout == BN__LAYOUT_FILE ? H5T_STD_U8LE : H5T_NATIVE_UINT8, 1, &dim));
    *owned = 1;
  } else {
    t = layout == BN__LAYOUT_FILE ? bn__ftype_file(f->type) : bn__ftype_native(f->type);
  }
  *out = t;
  return BN_OK;
fail:
  (void)bn__h5_close(&t);
  return err;
}

bn_err bn__table_type(const bn__table *t, uint64_t state_size, bn__layout layout, hid_t *out) {
  bn_err err = BN_OK;
  hid_t c = -1, m = -1;
  int owned = 0;
  const size_t size = layout == BN__LAYOUT_STRUCT ? t->row_size : bn__table_packed_size(t, state_size);
  BN_H5_SET(c, H5Tcreate(H5T_COMPOUND, size));
  size_t off = 0;
  for (size_t i = 0; i < t->n_fields; i++) {
    const bn__field *f = &t->fields[i];
    if (layout == BN__LAYOUT_STRUCT && f->type == BN__F_STATE) continue;
    BN_TRY(member_type(f, state_size, layout, &m, &owned));
    BN_H5(H5Tinsert(c, f->name, layout == BN__LAYOUT_STRUCT ? f->offset : off, m));
    if (owned) BN_H5(bn__h5_close(&m));
    m = -1;
    off += field_size(f, state_size);
  }
  *out = c;
  return BN_OK;
fail:
  if (owned) (void)bn__h5_close(&m);
  (void)bn__h5_close(&c);
  return err;
}
