/* The checkpoint format, declared once: every root attribute (name, type, where it lives
 * in bn_snapshot, bounds, meaning), every array dataset (path, element type, which count
 * and width size it) and every compound table (path, fields with C offsets, meaning). The
 * writer (write.c), the reader (read.c), the bounds checks (validate.c), `inspect`'s
 * counter section and the tables of docs/checkpoint-format.md (schema_doc.c) are all
 * driven by these lists, so adding a field means editing this file and the struct. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "checkpoint/checkpoint_impl.h"

/* --- root attributes ---------------------------------------------------------------- */

#define A(name, kind, lo, hi, doc) {#name, kind, offsetof(bn_snapshot, name), lo, hi, doc, 0}
#define C(name, doc) {#name, BN__F_U64, offsetof(bn_snapshot, name), 0, UINT64_MAX, doc, 1}
#define S_(name, doc) {#name, BN__F_STR, offsetof(bn_snapshot, name), 0, 0, doc, 0}
#define ANY UINT64_MAX

static const bn__attr root_attrs[] = {
    {"format_version", BN__F_U32, BN__NOT_IN_SNAPSHOT, BN_CHECKPOINT_FORMAT_VERSION, BN_CHECKPOINT_FORMAT_VERSION,
     "5 (version 5: failure text in /result_failures, not in every row of /results; version 4: failures as kind "
     "and detail; version 3: results in segment files, /results a virtual dataset over them). A reader refuses "
     "any other value, with a message naming the version.", 0},
    S_(banyan_version, "version of banyan that wrote the file"),
    S_(domain, "domain name (`synthetic`, `circuit`, ...)"),
    A(created, BN__F_F64, 0, 0, "Unix time the run first started"),
    A(updated, BN__F_F64, 0, 0, "Unix time of this snapshot"),
    S_(config_text, "the full effective configuration as INI text (attribute `config`)"),
    A(seed, BN__F_U64, 0, ANY, "the run's seed (every job's seed derives from it)"),
    A(state_size, BN__F_U64, 1, BN__CKPT_MAX_STATE_SIZE, "bytes per state"),
    A(path_cap, BN__F_U32, 0, BN__CKPT_MAX_PATH_CAP, "entries per pending path (the domain's max depth + 1)"),
    A(budget, BN__F_U64, 0, ANY, "`search.iterations` in effect"),
    A(next_iteration, BN__F_U64, 0, ANY, "iteration numbers claimed so far (ids 0 .. next_iteration - 1)"),
    A(completed, BN__F_U64, 0, ANY, "results applied; equals the rows of `/results` (the sum of the segments' rows)"),
    C(evaluations, "successful results"),
    C(failures, "failed results; `evaluations + failures == completed`"),
    C(cancelled, "iterations claimed but never issued"),
    A(applied_upto, BN__F_U64, 0, ANY, "deterministic mode: results of iterations < this are applied"),
    A(deterministic, BN__F_U8, 0, 1, "1 if `search.deterministic`"),
    A(finished, BN__F_U8, 0, 1, "1 if the search was complete: resuming has nothing to do"),
    A(stop_reason, BN__F_U32, 0, ANY, "why the search stopped (codes above), 0 while running"),
    A(elapsed_seconds, BN__F_F64, 0, 0, "search time across all sessions"),
    C(checkpoints, "checkpoints written so far, this one included"),
    A(run_id, BN__F_U64, 0, ANY, "random identity of the run; every segment of the run carries it"),
    S_(segment_dir, "name of the segment directory beside the file (`NAME.d`: no slash, not `.` or `..`)"),
    A(next_segment, BN__F_U64, 0, ANY, "segment numbers used so far; a segment file numbered higher is an orphan"),
};
#undef A
#undef C
#undef S_

/* The on-disk name differs from the struct member for one attribute. */
const char *bn__attr_file_name(const bn__attr *a) {
  return a->offset == offsetof(bn_snapshot, config_text) ? "config" : a->name;
}

const bn__attr *bn__root_attrs(size_t *n) {
  *n = sizeof root_attrs / sizeof root_attrs[0];
  return root_attrs;
}

/* --- array datasets ----------------------------------------------------------------- */

#define T_(field, path, kind, count, doc) {path, kind, BN__IN_TREE, offsetof(bn_tree_arrays, field), count, BN__W_ONE, doc}
static const bn__array arrays[] = {
    {"/tree/states", BN__F_U8, BN__IN_TREE, offsetof(bn_tree_arrays, states), BN__N_NODES, BN__W_STATE,
     "the canonical state of each node [nodes x state_size]"},
    T_(node_visits, "/tree/nodes/visits", BN__F_U64, BN__N_NODES, "visits (sum over incoming edges; root: backprops)"),
    T_(node_reward_sum, "/tree/nodes/reward_sum", BN__F_F64, BN__N_NODES, "sum of rewards through the node"),
    T_(node_first_edge, "/tree/nodes/first_edge", BN__F_U32, BN__N_NODES, "first out-edge id (0 when the node has none)"),
    T_(node_n_edges, "/tree/nodes/n_edges", BN__F_U32, BN__N_NODES,
       "number of out-edges (`first_edge .. first_edge + n_edges - 1`)"),
    T_(node_depth, "/tree/nodes/depth", BN__F_U16, BN__N_NODES, "edges from the root on the path that created the node"),
    T_(node_flags, "/tree/nodes/flags", BN__F_U8, BN__N_NODES, "terminal / exhausted / expanded bits"),
    T_(node_samples, "/tree/nodes/samples", BN__F_U32, BN__N_NODES, "times selected as a terminal leaf"),
    T_(edge_parent, "/tree/edges/parent", BN__F_U32, BN__N_EDGES, "node whose out-edges hold the edge"),
    T_(edge_child, "/tree/edges/child", BN__F_U32, BN__N_EDGES, "node the edge leads to"),
    T_(edge_action, "/tree/edges/action", BN__F_I32, BN__N_EDGES,
       "first of the domain's actions (in its order) reaching the child"),
    T_(edge_n_actions, "/tree/edges/n_actions", BN__F_U32, BN__N_EDGES,
       "how many of the parent's actions reach the child (>= 1; actions reaching one child share its edge): "
       "selection takes a new edge with probability proportional to it"),
    T_(edge_visits, "/tree/edges/visits", BN__F_U64, BN__N_EDGES, "completed visits through the edge"),
    T_(edge_reward_sum, "/tree/edges/reward_sum", BN__F_F64, BN__N_EDGES, "sum of rewards through the edge"),
    T_(edge_reward_sq, "/tree/edges/reward_sq", BN__F_F64, BN__N_EDGES, "sum of squared rewards through the edge"),
    T_(edge_flags, "/tree/edges/flags", BN__F_U8, BN__N_EDGES,
       "1 = selection found the child exhausted and skips the edge (steers later random draws: an exact restart "
       "needs it)"),
    {"/pending/paths", BN__F_U32, BN__IN_SNAPSHOT, offsetof(bn_snapshot, pending_paths), BN__N_PENDING, BN__W_PATH,
     "edge ids from the root of each pending iteration [pending x path_cap], first `path_len` used"},
    {"/pending/states", BN__F_U8, BN__IN_SNAPSHOT, offsetof(bn_snapshot, pending_states), BN__N_PENDING, BN__W_STATE,
     "the state of each pending job [pending x state_size]"},
    {"/stats/top_states", BN__F_U8, BN__IN_SNAPSHOT, offsetof(bn_snapshot, top_states), BN__N_TOP, BN__W_STATE,
     "the state of each row of `/stats/top_evaluations` [top x state_size]"},
};
#undef T_

const bn__array *bn__arrays(size_t *n) {
  *n = sizeof arrays / sizeof arrays[0];
  return arrays;
}

/* --- compound tables ---------------------------------------------------------------- */

#define F(T, name, kind, doc) {#name, kind, offsetof(T, name), sizeof(((T *)0)->name), doc, 0, 0}

static const bn__field results_fields[] = {
    F(bn_result_row, job_id, BN__F_U64, "the iteration number (unique in the run)"),
    F(bn_result_row, seed, BN__F_U64, "the job's seed (drives rollout and evaluation)"),
    F(bn_result_row, kind, BN__F_U8, "1 reward, 2 simulate"),
    F(bn_result_row, status, BN__F_U8, "1 ok, 2 failed"),
    F(bn_result_row, attempts, BN__F_U16, "evaluations tried on the engine (0 when none ran, e.g. the rollout failed)"),
    F(bn_result_row, engine, BN__F_I32, "MPI rank that ran it (0: rank 0 itself)"),
    F(bn_result_row, sample, BN__F_U32,
      "the state had been selected this many times before; 4294967295 for a rollout's terminal"),
    F(bn_result_row, reward, BN__F_F64, "the reward (0 for a failed job)"),
    F(bn_result_row, t_created, BN__F_F64, "Unix time the search created the job"),
    F(bn_result_row, t_sent, BN__F_F64, "Unix time it was sent to an engine"),
    F(bn_result_row, t_started, BN__F_F64, "Unix time the engine started it"),
    F(bn_result_row, t_finished, BN__F_F64, "Unix time the engine finished it"),
    F(bn_result_row, t_received, BN__F_F64, "Unix time rank 0 received the result"),
    {"state", BN__F_STATE, 0, 0, "the state evaluated (for simulate: the terminal reached), uint8[state_size]", 0, 0},
};

/* The text of failed rows, beside /results (bn_result_failure). */
static const bn__field result_failures_fields[] = {
    F(bn_result_failure, row, BN__F_U64, "the row of /results (a failed one); rows increase"),
    F(bn_result_failure, failure_kind, BN__F_STR,
      "kind of failure, the same for every failure of one cause (`exit status`, `signal`, `timeout`, "
      "`unparsable output`, `non-finite reward`, `event cap`, or the domain's own)"),
    F(bn_result_failure, failure_detail, BN__F_STR,
      "the failure's detail (`3`, `11 (SIGSEGV)`, `after 60 s`; the domain's text after `KIND: `), cut after a "
      "word with `…` if longer; `\"\"` when none"),
};

static const bn__field pending_fields[] = {
    F(bn_pending_row, iteration, BN__F_U64, "the iteration (job id)"),
    F(bn_pending_row, seed, BN__F_U64, "its seed"),
    F(bn_pending_row, kind, BN__F_U8, "1 reward, 2 simulate"),
    F(bn_pending_row, path_len, BN__F_U32, "edges used in its row of `/pending/paths` (at most path_cap)"),
    F(bn_pending_row, leaf, BN__F_U32, "node id of the leaf"),
    F(bn_pending_row, sample, BN__F_U32, "as in /results"),
};

static const bn__field timeline_fields[] = {
    F(bn_timeline_row, t, BN__F_F64, "seconds of search since the run first started"),
    F(bn_timeline_row, iterations, BN__F_U64, "results applied"),
    F(bn_timeline_row, evaluations, BN__F_U64, "successful results"),
    F(bn_timeline_row, failures, BN__F_U64, "failed results"),
    F(bn_timeline_row, in_flight, BN__F_U64, "iterations in flight"),
    F(bn_timeline_row, best_reward, BN__F_F64, "best mean reward in the graph (NaN before any)"),
    F(bn_timeline_row, utilization, BN__F_F64, "engine busy share since the previous row, 0..1"),
    {"reward_pool_utilization", BN__F_F64, offsetof(bn_timeline_row, reward_pool_utilization), sizeof(double),
     "with `engine.pools`: the reward pool's busy share of its engine time since the previous row, 0..1; NaN "
     "without pools. Optional: files written before it lack it (read as NaN)",
     1, 0xff},
    {"simulate_pool_utilization", BN__F_F64, offsetof(bn_timeline_row, simulate_pool_utilization), sizeof(double),
     "the same for the simulate pool", 1, 0xff},
};

static const bn__field engines_fields[] = {
    F(bn_engine_row, rank, BN__F_I32, "engine rank (0: rank 0 running jobs itself)"),
    F(bn_engine_row, jobs, BN__F_U64, "jobs run"),
    F(bn_engine_row, failures, BN__F_U64, "jobs failed"),
    F(bn_engine_row, busy_seconds, BN__F_F64, "seconds running jobs"),
    F(bn_engine_row, idle_seconds, BN__F_F64, "seconds waiting for work"),
    {"pool", BN__F_U8, offsetof(bn_engine_row, pool), sizeof(uint8_t),
     "job kinds of its pool (`engine.pools`) as a bit set: 1 reward, 2 simulate, 3 every kind (no pools); with "
     "`engine.pool_rebalance` the pool it was in last (`/stats/pool_moves` has the moves). Optional: files "
     "written before pools lack it (read as 3)",
     1, BN_POOL_ALL},
};

static const bn__field pool_moves_fields[] = {
    F(bn_pool_move_row, t_unix, BN__F_F64,
      "Unix time of the move: jobs sent to the engine before it (`/results` `t_sent`) ran in `from_pool`, later ones "
      "in `to_pool`"),
    F(bn_pool_move_row, rank, BN__F_I32, "the engine that moved"),
    F(bn_pool_move_row, from_pool, BN__F_U8, "the pool it left (kind set, as `/stats/engines` `pool`)"),
    F(bn_pool_move_row, to_pool, BN__F_U8, "the pool it joined"),
};

static const bn__field history_fields[] = {
    F(bn_checkpoint_row, t_unix, BN__F_F64, "when it was written"),
    F(bn_checkpoint_row, iterations, BN__F_U64, "results applied at the snapshot"),
    F(bn_checkpoint_row, snapshot_seconds, BN__F_F64, "search paused to copy"),
    F(bn_checkpoint_row, write_seconds, BN__F_F64,
      "background write of its new segment and main file (filled in by the next checkpoint)"),
    F(bn_checkpoint_row, bytes, BN__F_U64, "main file size plus its new segment (filled in by the next checkpoint)"),
    F(bn_checkpoint_row, segment_rows, BN__F_U64,
      "rows of its new segment: those since the last segment flushed early (filled in by the next checkpoint)"),
    F(bn_checkpoint_row, segment_seconds, BN__F_F64,
      "part of write_seconds spent on that segment; the rest is the main file (filled in by the next checkpoint)"),
    F(bn_checkpoint_row, flushed_rows, BN__F_U64,
      "rows written early (the buffer was half full) as segments of their own since the checkpoint before "
      "(filled in by the next checkpoint)"),
    F(bn_checkpoint_row, flush_seconds, BN__F_F64,
      "time spent writing those; flush_seconds + write_seconds is all it cost to write what changed since the "
      "checkpoint before (filled in by the next checkpoint)"),
};

static const bn__field best_fields[] = {
    F(bn_best_row, node, BN__F_U32, "node id"),
    F(bn_best_row, mean, BN__F_F64, "mean reward"),
    F(bn_best_row, visits, BN__F_U64, "visits"),
    F(bn_best_row, text, BN__F_STR, "the domain's readable form"),
};

static const bn__field segments_fields[] = {
    F(bn_segment_info, seq, BN__F_U64, "segment number: the file is `SEGMENT_DIR/results-<seq, 12 digits>.h5`"),
    F(bn_segment_info, first_row, BN__F_U64, "row of /results its first row is (segments tile 0 .. completed - 1)"),
    F(bn_segment_info, rows, BN__F_U64, "rows it holds (at least 1)"),
    F(bn_segment_info, checksum, BN__F_U64, "XXH3-64 of its rows in the packed little-endian layout of /results, each followed by its "
      "failure_kind and failure_detail (string[24], string[104]; empty for a row that succeeded)"),
    F(bn_segment_info, bytes, BN__F_U64, "size of the file"),
    F(bn_segment_info, failures, BN__F_U64, "its failed rows: the rows of its /result_failures"),
};

static const bn__field failures_fields[] = {
    F(bn_failure_group, kind, BN__F_STR,
      "kind of failure, as in /results; every kind is counted exactly (past 256 rows, a new kind is counted "
      "under `(other kinds)`)"),
    F(bn_failure_group, detail, BN__F_STR,
      "detail, as in /results (at most 32 distinct per kind and 256 rows in all; then counted under "
      "`(other details)` of its kind)"),
    F(bn_failure_group, count, BN__F_U64, "failed results of this kind and detail"),
};

static const bn__field top_fields[] = {
    F(bn_top_row, job_id, BN__F_U64, "job id"),
    F(bn_top_row, reward, BN__F_F64, "its reward"),
};

#undef F

#define TABLE(path, fields, T, count, rows, doc)                                                           \
  {path, fields, sizeof fields / sizeof fields[0], sizeof(T), offsetof(bn_snapshot, count), offsetof(bn_snapshot, rows), \
   doc, 0}
#define NO_SNAP SIZE_MAX
const bn__table bn__results_table = {"/results", results_fields, sizeof results_fields / sizeof results_fields[0],
                                     sizeof(bn_result_row), NO_SNAP, NO_SNAP,
                                     "one row per finished job, in the order results were applied; the failure text "
                                     "of failed rows is in /result_failures", 0};
const bn__table bn__result_failures_table = {
    "/result_failures", result_failures_fields, sizeof result_failures_fields / sizeof result_failures_fields[0],
    sizeof(bn_result_failure), NO_SNAP, NO_SNAP,
    "one row per failed row of /results, in row order: its kind and detail", 0};
const bn__table bn__pending_table = TABLE("/pending/rows", pending_fields, bn_pending_row, n_pending, pending,
                                          "iterations in flight at the snapshot");
const bn__table bn__timeline_table = TABLE("/stats/timeline", timeline_fields, bn_timeline_row, n_timeline, timeline,
                                           "progress every few seconds");
const bn__table bn__engines_table = TABLE("/stats/engines", engines_fields, bn_engine_row, n_engines, engines,
                                          "work done per engine rank");
const bn__table bn__pool_moves_table = {
    "/stats/pool_moves", pool_moves_fields, sizeof pool_moves_fields / sizeof pool_moves_fields[0],
    sizeof(bn_pool_move_row), offsetof(bn_snapshot, n_pool_moves), offsetof(bn_snapshot, pool_moves),
    "engines moved between pools by `engine.pool_rebalance`, oldest first; a resumed session starts from "
    "`engine.pools` again, recorded as a move at its start for each engine last in another pool, so replaying the "
    "moves gives every engine's pool at any time (optional: files written before pools lack it)",
    1};
const bn__table bn__history_table = TABLE("/stats/checkpoints", history_fields, bn_checkpoint_row, n_history, history,
                                          "checkpoints of the run, this one last");
const bn__table bn__best_table = TABLE("/best", best_fields, bn_best_row, n_best, best, "best states, best first");
const bn__table bn__segments_table = TABLE("/segments", segments_fields, bn_segment_info, n_segments, segments,
                                           "the committed result segments, in row order");
const bn__table bn__failures_table = TABLE("/stats/failures", failures_fields, bn_failure_group, n_failure_groups,
                                           failure_groups, "failed results counted by kind and detail");
const bn__table bn__top_table = TABLE("/stats/top_evaluations", top_fields, bn_top_row, n_top, top,
                                      "the best single evaluations, best first");
#undef TABLE

static const bn__table *const snapshot_tables[] = {&bn__segments_table, &bn__pending_table, &bn__timeline_table,
                                                   &bn__engines_table,  &bn__history_table, &bn__best_table,
                                                   &bn__failures_table, &bn__top_table, &bn__pool_moves_table};

const bn__table *const *bn__snapshot_tables(size_t *n) {
  *n = sizeof snapshot_tables / sizeof snapshot_tables[0];
  return snapshot_tables;
}

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
  return bn__table_type_some(t, state_size, layout, 0, out);
}

bn_err bn__table_type_some(const bn__table *t, uint64_t state_size, bn__layout layout, uint64_t skip, hid_t *out) {
  bn_err err = BN_OK;
  hid_t c = -1, m = -1;
  int owned = 0;
  size_t size = layout == BN__LAYOUT_STRUCT ? t->row_size : bn__table_packed_size(t, state_size);
  for (size_t i = 0; i < t->n_fields && layout != BN__LAYOUT_STRUCT; i++)
    if (skip & ((uint64_t)1 << i)) size -= field_size(&t->fields[i], state_size);
  BN_H5_SET(c, H5Tcreate(H5T_COMPOUND, size));
  size_t off = 0;
  for (size_t i = 0; i < t->n_fields; i++) {
    const bn__field *f = &t->fields[i];
    if ((layout == BN__LAYOUT_STRUCT && f->type == BN__F_STATE) || (skip & ((uint64_t)1 << i))) continue;
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

/* --- access to snapshot members by schema entry ----------------------------------- */

uint64_t bn__array_count_of(const bn__array *a, const bn_snapshot *s) {
  switch (a->count) {
    case BN__N_NODES: return s->tree.n_nodes;
    case BN__N_EDGES: return s->tree.n_edges;
    case BN__N_PENDING: return s->n_pending;
    case BN__N_TOP: return s->n_top;
  }
  return 0;
}

uint64_t bn__array_width_of(const bn__array *a, const bn_snapshot *s) {
  switch (a->width) {
    case BN__W_ONE: return 1;
    case BN__W_STATE: return s->state_size;
    case BN__W_PATH: return s->path_cap;
  }
  return 1;
}

void **bn__array_slot(const bn__array *a, bn_snapshot *s) {
  unsigned char *base = a->base == BN__IN_TREE ? (unsigned char *)&s->tree : (unsigned char *)s;
  return (void **)(base + a->offset);
}

uint64_t *bn__table_count(const bn__table *t, bn_snapshot *s) { return (uint64_t *)((unsigned char *)s + t->count_offset); }
void **bn__table_rows(const bn__table *t, bn_snapshot *s) { return (void **)((unsigned char *)s + t->rows_offset); }

/* The wire layout of a row (what segment writers take, readers give and the checksum
 * covers): the fields of /results packed in order, the state in its place, then the
 * failure kind and detail (empty when the row succeeded).
 *
 * Packing runs at a million rows a second, so the field list is turned once into copy
 * runs: fields adjacent both in bn_result_row and in the packed row are one memcpy (the
 * results table packs into 4 runs and the state instead of 13 fields). */
typedef struct copy_run {
  size_t row_at, packed_at, len; /* packed_at: without the state's bytes when after_state */
  int after_state;
} copy_run;

static struct {
  copy_run run[sizeof results_fields / sizeof results_fields[0]]; /* at most one per field */
  size_t n;
  size_t state_at; /* packed offset of the state */
  size_t fixed;    /* packed bytes besides the state: the failure text starts at fixed + state_size */
} wire;

static void wire_init(void) {
  const bn__table *t = &bn__results_table;
  size_t packed = 0, n = 0;
  int after_state = 0;
  for (size_t f = 0; f < t->n_fields; f++) {
    const bn__field *fd = &t->fields[f];
    if (fd->type == BN__F_STATE) {
      wire.state_at = packed;
      after_state = 1;
      continue;
    }
    copy_run *last = n ? &wire.run[n - 1] : NULL;
    if (last && last->after_state == after_state && last->row_at + last->len == fd->offset &&
        last->packed_at + last->len == packed) {
      last->len += fd->size;
    } else {
      wire.run[n++] = (copy_run){fd->offset, packed, fd->size, after_state};
    }
    packed += fd->size;
  }
  wire.n = n;
  wire.fixed = packed;
}

static void wire_ready(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  (void)pthread_once(&once, wire_init);
}

void bn__result_pack(const bn_result_row *row, const unsigned char *state, size_t state_size, unsigned char *out) {
  wire_ready();
  for (size_t r = 0; r < wire.n; r++) {
    const copy_run *c = &wire.run[r];
    memcpy(out + c->packed_at + (c->after_state ? state_size : 0), (const unsigned char *)row + c->row_at, c->len);
  }
  memcpy(out + wire.state_at, state, state_size);
  const size_t end = wire.fixed + state_size;
  memcpy(out + end, row->failure_kind, BN_FAILURE_KIND_LEN);
  memcpy(out + end + BN_FAILURE_KIND_LEN, row->failure_detail, BN_FAILURE_DETAIL_LEN);
}

void bn__result_unpack(const unsigned char *in, size_t state_size, bn_result_row *row, unsigned char *state) {
  wire_ready();
  for (size_t r = 0; r < wire.n; r++) {
    const copy_run *c = &wire.run[r];
    memcpy((unsigned char *)row + c->row_at, in + c->packed_at + (c->after_state ? state_size : 0), c->len);
  }
  memcpy(state, in + wire.state_at, state_size);
  const size_t end = wire.fixed + state_size;
  memcpy(row->failure_kind, in + end, BN_FAILURE_KIND_LEN);
  memcpy(row->failure_detail, in + end + BN_FAILURE_KIND_LEN, BN_FAILURE_DETAIL_LEN);
}

size_t bn__result_wire_size(uint64_t state_size) {
  return bn__table_packed_size(&bn__results_table, state_size) + BN__RESULT_TEXT_BYTES;
}

size_t bn__result_status_offset(void) {
  const bn__table *t = &bn__results_table;
  size_t off = 0;
  for (size_t f = 0; f < t->n_fields && strcmp(t->fields[f].name, "status") != 0; f++) off += t->fields[f].size;
  return off; /* the state is the last field: no state_size is needed */
}
