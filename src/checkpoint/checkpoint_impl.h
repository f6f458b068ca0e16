/* Private declarations of the checkpoint module, shared by the .c files of src/checkpoint
 * only: the names and limits of the file format, the description of each compound table
 * (one field list used by the writer, the reader and the documentation alike), the
 * coherence checks of a snapshot (run before writing and after reading) and the readable
 * form of a state used by inspect and export. docs/checkpoint-format.md is the reference
 * for what these describe. */
#ifndef BN_CHECKPOINT_IMPL_H
#define BN_CHECKPOINT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "banyan/checkpoint.h"
#include "checkpoint/h5util.h"

/* Bounds a reader accepts (a hostile file cannot make it allocate absurd amounts). */
#define BN__CKPT_MAX_STATE_SIZE ((uint64_t)1 << 20) /* bytes per state */
#define BN__CKPT_MAX_PATH_CAP 65536u                /* entries per pending path */
#define BN__CKPT_MAX_TEXT ((size_t)64 << 20)        /* bytes of a string attribute */

/* /results is chunked: about this many bytes per chunk, at most this many rows. */
#define BN__CKPT_CHUNK_BYTES ((size_t)4 << 20)
#define BN__CKPT_MAX_CHUNK_ROWS 65536u

/* Kinds of compound fields. Integers and doubles are stored little-endian (H5T_STD_*LE,
 * H5T_IEEE_F64LE), strings as fixed-length NUL-terminated UTF-8, states as an array of
 * state_size unsigned bytes. */
typedef enum bn__ftype {
  BN__F_U8,
  BN__F_U16,
  BN__F_U32,
  BN__F_U64,
  BN__F_I32,
  BN__F_F64,
  BN__F_STR,  /* char[size] */
  BN__F_STATE /* uint8[state_size], not in the C struct (kept in a separate array) */
} bn__ftype;

typedef struct bn__field {
  const char *name; /* HDF5 member name */
  bn__ftype type;
  size_t offset; /* offset in the C row struct (unused for BN__F_STATE) */
  size_t size;   /* bytes (unused for BN__F_STATE: state_size) */
} bn__field;

/* A compound dataset: its path, its fields in file order and its C row struct. */
typedef struct bn__table {
  const char *path;
  const bn__field *fields;
  size_t n_fields;
  size_t row_size; /* sizeof the C struct */
} bn__table;

extern const bn__table bn__results_table;  /* /results, bn_result_row + state */
extern const bn__table bn__pending_table;  /* /pending/rows, bn_pending_row */
extern const bn__table bn__timeline_table; /* /stats/timeline, bn_timeline_row */
extern const bn__table bn__engines_table;  /* /stats/engines, bn_engine_row */
extern const bn__table bn__history_table;  /* /stats/checkpoints, bn_checkpoint_row */
extern const bn__table bn__best_table;     /* /best, bn_best_row */

/* How a table's compound type is laid out. */
typedef enum bn__layout {
  BN__LAYOUT_FILE,   /* little-endian standard types, packed in field order: what is stored */
  BN__LAYOUT_PACKED, /* native types at the packed offsets: the memory image of FILE */
  BN__LAYOUT_STRUCT  /* native types at the C struct offsets, BN__F_STATE fields left out */
} bn__layout;

/* Bytes of one packed row (the FILE and PACKED layouts). */
size_t bn__table_packed_size(const bn__table *t, uint64_t state_size);
/* Create the compound type of `t` in `layout` (close with H5Tclose). BN_ERR_HDF5 logged. */
BN_NODISCARD bn_err bn__table_type(const bn__table *t, uint64_t state_size, bn__layout layout, hid_t *out);
/* The standard file type and the native memory type of a non-compound field kind. */
hid_t bn__ftype_file(bn__ftype type);
hid_t bn__ftype_native(bn__ftype type);

/* Check what the format promises about a snapshot: sizes within bounds, the counters
 * coherent (completed == n_results, evaluations + failures == completed, every claimed
 * iteration counted at most once, ...), result and pending rows well-formed (kinds,
 * statuses, NUL-terminated strings, ids below next_iteration, failed rows == failures).
 * Pointers must be valid for the counts (the caller checks that first). BN_ERR_CORRUPT
 * with the first problem in `why` (may be NULL). */
BN_NODISCARD bn_err bn__snapshot_check(const bn_snapshot *snap, char *why, size_t whylen);

/* printf into why[whylen] if why is non-NULL; returns `e` (convenience for failures). */
bn_err bn__why(bn_err e, char *why, size_t whylen, const char *fmt, ...) BN_PRINTF(4, 5);

/* Readable form of a state into *buf (a malloc'ed buffer of *cap bytes, grown as needed;
 * both may start NULL / 0): domain->ops->describe when `domain` is non-NULL and agrees on
 * the state size, lowercase hex otherwise. BN_ERR_NOMEM if the buffer cannot grow. */
BN_NODISCARD bn_err bn__state_text(const bn_domain *domain, const unsigned char *state, size_t state_size,
                                   char **buf, size_t *cap);

/* The n-th result row and its state in a (possibly chunked) snapshot. */
static inline const bn_result_row *bn__result_row(const bn_snapshot *s, uint64_t i) {
  return &s->result_rows[i / s->result_chunk_rows][i % s->result_chunk_rows];
}
static inline const unsigned char *bn__result_state(const bn_snapshot *s, uint64_t i) {
  return s->result_states[i / s->result_chunk_rows] + (i % s->result_chunk_rows) * s->state_size;
}

/* Write the whole layout of `snap` into a new HDF5 file at `path` (truncated if present),
 * flushed and closed on return. The caller has validated the snapshot. BN_ERR_HDF5 /
 * BN_ERR_NOMEM with a logged message; the file may then be partial (the caller removes it). */
BN_NODISCARD bn_err bn__checkpoint_write_file(const char *path, const bn_snapshot *snap);

#endif
