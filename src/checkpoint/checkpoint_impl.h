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
#include <stdio.h>

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
  const char *doc;
  int optional;  /* may be absent (files written before it): its bytes then read as `absent` */
  unsigned char absent;
} bn__field;

/* A compound dataset: its path, its fields in file order and its C row struct, and where
 * its rows and their count live in bn_snapshot (SIZE_MAX: not in the snapshot). */
typedef struct bn__table {
  const char *path;
  const bn__field *fields;
  size_t n_fields;
  size_t row_size;     /* sizeof the C struct */
  size_t count_offset; /* uint64_t count in bn_snapshot */
  size_t rows_offset;  /* row array pointer in bn_snapshot */
  const char *doc;
  int optional;        /* may be absent (files written before it): read as no rows */
} bn__table;

extern const bn__table bn__results_table;  /* /results, bn_result_row + state, no failure text (segments) */
extern const bn__table bn__result_failures_table; /* /result_failures, bn_result_failure (segments) */
extern const bn__table bn__pending_table;  /* /pending/rows, bn_pending_row */
extern const bn__table bn__timeline_table; /* /stats/timeline, bn_timeline_row */
extern const bn__table bn__engines_table;  /* /stats/engines, bn_engine_row */
extern const bn__table bn__pool_moves_table; /* /stats/pool_moves, bn_pool_move_row */
extern const bn__table bn__history_table;  /* /stats/checkpoints, bn_checkpoint_row */
extern const bn__table bn__best_table;     /* /best, bn_best_row */
extern const bn__table bn__segments_table; /* /segments, bn_segment_info */
extern const bn__table bn__failures_table; /* /stats/failures, bn_failure_group */
extern const bn__table bn__top_table;      /* /stats/top_evaluations, bn_top_row */

/* Every table of the main file that lives in bn_snapshot (all but /results), in file order. */
const bn__table *const *bn__snapshot_tables(size_t *n);

/* A root attribute: its value lives at `offset` in bn_snapshot (a char * for strings),
 * except format_version (BN__NOT_IN_SNAPSHOT). Integers must lie in lo..hi. */
#define BN__NOT_IN_SNAPSHOT SIZE_MAX
typedef struct bn__attr {
  const char *name; /* struct member; bn__attr_file_name gives the HDF5 name */
  bn__ftype type;   /* BN__F_U8/U32/U64/F64/STR */
  size_t offset;
  uint64_t lo, hi;
  const char *doc;
  int counter; /* 1: a plain count that `inspect` lists among the search counters */
} bn__attr;
const bn__attr *bn__root_attrs(size_t *n);
const char *bn__attr_file_name(const bn__attr *a);

/* An array dataset of rank 1 ([count]) or 2 ([count x width]). Its pointer lives at
 * `offset` in bn_tree_arrays (the graph) or bn_snapshot. */
typedef enum bn__array_base { BN__IN_TREE, BN__IN_SNAPSHOT } bn__array_base;
typedef enum bn__array_count { BN__N_NODES, BN__N_EDGES, BN__N_PENDING, BN__N_TOP } bn__array_count;
typedef enum bn__array_width { BN__W_ONE, BN__W_STATE, BN__W_PATH } bn__array_width;
typedef struct bn__array {
  const char *path;
  bn__ftype type;
  bn__array_base base;
  size_t offset;
  bn__array_count count;
  bn__array_width width;
  const char *doc;
} bn__array;
const bn__array *bn__arrays(size_t *n);
/* The element count, row width and data pointer slot of an array in a snapshot. */
uint64_t bn__array_count_of(const bn__array *a, const bn_snapshot *s);
uint64_t bn__array_width_of(const bn__array *a, const bn_snapshot *s);
void **bn__array_slot(const bn__array *a, bn_snapshot *s);
/* A table's row count and row array slot in a snapshot. */
uint64_t *bn__table_count(const bn__table *t, bn_snapshot *s);
void **bn__table_rows(const bn__table *t, bn_snapshot *s);

/* Write the format's tables as Markdown (docs/checkpoint-format.md embeds the output). */
void bn__schema_markdown(FILE *out);

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
/* The same without the fields whose bit (1 << field index) is set in `skip` (optional
 * fields a file does not have). */
BN_NODISCARD bn_err bn__table_type_some(const bn__table *t, uint64_t state_size, bn__layout layout, uint64_t skip,
                                        hid_t *out);
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

/* Check one result row as the format promises (kind, status, id below next_iteration,
 * reason terminated). BN_ERR_CORRUPT with the problem in `why`. */
BN_NODISCARD bn_err bn__result_row_check(const bn_snapshot *s, const bn_result_row *r, char *why, size_t whylen);

/* Check the header of every segment `s` lists (bn_segment_check), in the segment directory
 * beside `ckpt_path`. BN_ERR_CORRUPT / BN_ERR_IO naming the file in `why`. */
BN_NODISCARD bn_err bn__segments_check_all(const char *ckpt_path, const bn_snapshot *s, char *why, size_t whylen);

/* printf into why[whylen] if why is non-NULL; returns `e` (convenience for failures). */
bn_err bn__why(bn_err e, char *why, size_t whylen, const char *fmt, ...) BN_PRINTF(4, 5);

/* Readable form of a state into *buf (a malloc'ed buffer of *cap bytes, grown as needed;
 * both may start NULL / 0): domain->ops->describe when `domain` is non-NULL and agrees on
 * the state size, lowercase hex otherwise. BN_ERR_NOMEM if the buffer cannot grow. */
BN_NODISCARD bn_err bn__state_text(const bn_domain *domain, const unsigned char *state, size_t state_size,
                                   char **buf, size_t *cap);

/* The wire layout of one result row and back: /results' fields packed (state_size bytes of
 * state in its place), then failure_kind and failure_detail (BN__RESULT_TEXT_BYTES). Segment
 * writers take rows in it, readers give them in it, the segment checksum covers it; the
 * file itself stores the text of failed rows only (/result_failures). */
#define BN__RESULT_TEXT_BYTES (BN_FAILURE_KIND_LEN + BN_FAILURE_DETAIL_LEN)
void bn__result_pack(const bn_result_row *row, const unsigned char *state, size_t state_size, unsigned char *out);
void bn__result_unpack(const unsigned char *in, size_t state_size, bn_result_row *row, unsigned char *state);
size_t bn__result_wire_size(uint64_t state_size); /* bytes of one wire row */
/* Rows of /result_failures a segment writes (its chunk) and a reader reads at a time. */
enum { BN__FAILURE_STRIP = 1024 };
size_t bn__result_status_offset(void);             /* offset of `status` in a (wire or stored) row */

/* chunk_codec.c: one chunk of packed rows, shuffled and deflated as HDF5's filters do it
 * (for H5Dwrite_chunk / H5Dread_chunk outside HDF5's lock). scratch holds chunk_rows *
 * row_bytes bytes; out holds bn__chunk_encode_bound bytes (*out_len: its size in, the
 * stream's size out). decode: 0, or -1 if the stream is damaged or of the wrong size. */
BN_NODISCARD bn_err bn__chunk_encode(const unsigned char *rows, size_t n, size_t row_bytes, size_t chunk_rows,
                                     int level, unsigned char *scratch, unsigned char *out, size_t *out_len);
size_t bn__chunk_encode_bound(size_t row_bytes, size_t chunk_rows);
int bn__chunk_decode(const unsigned char *in, size_t len, size_t row_bytes, size_t chunk_rows, unsigned char *scratch,
                     unsigned char *out);

/* Segment files: results-<seq>.h5 in the segment directory; "results-<seq>.h5.tmp" while
 * being written. */
#define BN__SEGMENT_PREFIX "results-"
#define BN__SEGMENT_SUFFIX ".h5"

/* The file access properties of every file banyan writes (object format, strong close,
 * no HDF5 file locks). Close with H5Pclose. BN_ERR_HDF5 logged. */
BN_NODISCARD bn_err bn__h5_writer_fapl(hid_t *out);

/* Write the whole layout of `snap` into a new HDF5 file at `path` (truncated if present),
 * flushed and closed on return. The caller has validated the snapshot. BN_ERR_HDF5 /
 * BN_ERR_NOMEM with a logged message; the file may then be partial (the caller removes it). */
BN_NODISCARD bn_err bn__checkpoint_write_file(const char *path, const bn_snapshot *snap);

#endif
