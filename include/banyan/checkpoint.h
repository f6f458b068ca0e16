/* Checkpoints: one self-describing HDF5 file per run holding everything needed to resume
 * it exactly (the search graph, statistics, the effective configuration and the counters),
 * plus the results log as immutable, append-only segment files in a directory beside it
 * (NAME.d/results-<seq>.h5). The main file's /results is an HDF5 virtual dataset over the
 * committed segments, so h5py and h5dump see one table. The layout is declared once
 * (src/checkpoint/schema.c) and documented in docs/checkpoint-format.md.
 *
 * The main file is replaced atomically: the new checkpoint is written to NAME.tmp and
 * synced, the current NAME is hard-linked to NAME.prev, NAME.tmp is renamed over NAME and
 * the directory synced. A segment is written to a temporary name, synced and renamed into
 * place before any checkpoint refers to it. At any instant NAME (after the first
 * checkpoint) is a complete checkpoint whose segments exist, and NAME.prev the one before.
 *
 * Only rank 0 writes, from one thread at a time (a background writer thread during a
 * run). Readers never modify a file and never crash on a damaged one. */
#ifndef BANYAN_CHECKPOINT_H
#define BANYAN_CHECKPOINT_H

#include <stdint.h>
#include <stdio.h>

#include "banyan/domain.h"
#include "banyan/engine.h"
#include "banyan/error.h"
#include "banyan/tree.h"

#define BN_CHECKPOINT_FORMAT_VERSION 5u

/* One finished job: a row of /results. The state evaluated is kept beside it. On disk the
 * failure text is not in the row: a failed row's kind and detail are a row of
 * /result_failures (bn_result_failure), so rows that succeeded (nearly all) cost 76 bytes
 * plus the state, not 204; readers (bn_results_next) put the text back. */
typedef struct bn_result_row {
  uint64_t job_id;    /* unique in the run: the iteration number */
  uint64_t seed;
  uint8_t kind;       /* bn_job_kind */
  uint8_t status;     /* bn_job_status */
  uint16_t attempts;  /* evaluations tried (1 without engine.retries; 0: none, e.g. a
                         rollout that failed) */
  uint32_t sample;    /* bn_eval_request.sample (BN_SAMPLE_NONE for a rollout's terminal) */
  int32_t engine;     /* rank that ran it, 0 = rank 0 */
  double reward;      /* 0 for a failed job */
  double t_created, t_sent, t_started, t_finished, t_received; /* Unix seconds */
  char failure_kind[BN_FAILURE_KIND_LEN];     /* kind of failure (engine.h), "" when ok */
  char failure_detail[BN_FAILURE_DETAIL_LEN]; /* its detail, "" when ok or none */
} bn_result_row;

/* A row of /stats/timeline, appended every few seconds. */
typedef struct bn_timeline_row {
  double t;            /* seconds of search since the run first started (across resumes) */
  uint64_t iterations; /* results applied */
  uint64_t evaluations;
  uint64_t failures;
  uint64_t in_flight;
  double best_reward;  /* best mean reward in the graph (NaN if none yet) */
  double utilization;  /* engine busy share since the previous row */
  double reward_pool_utilization;   /* the same for the reward pool's engines (NaN: no pools) */
  double simulate_pool_utilization; /* and for the simulate pool's */
} bn_timeline_row;

/* A row of /stats/engines: one per engine rank (rank 0 itself when it runs jobs alone). */
typedef struct bn_engine_row {
  int32_t rank;
  uint64_t jobs, failures;
  double busy_seconds, idle_seconds;
  uint8_t pool; /* job kinds of its pool (engine.pools) as a bit set: 1 reward, 2 simulate, 3 every kind */
} bn_engine_row;

/* A row of /stats/pool_moves: an engine moved from one pool to another (engine.pool_rebalance). */
typedef struct bn_pool_move_row {
  double t_unix;      /* when: jobs sent to it before ran in from_pool, after in to_pool */
  int32_t rank;       /* the engine */
  uint8_t from_pool, to_pool; /* kind sets, as bn_engine_row.pool */
} bn_pool_move_row;

/* A row of /stats/checkpoints: the history of checkpoints of this run. */
typedef struct bn_checkpoint_row {
  double t_unix;        /* when it was written */
  uint64_t iterations;  /* results applied at the snapshot */
  double snapshot_seconds; /* search paused to copy */
  double write_seconds;    /* background write */
  uint64_t bytes;          /* file size */
  uint64_t segment_rows;   /* rows in its own new segment (not those flushed early) */
  double segment_seconds;  /* part of write_seconds spent writing that segment */
  uint64_t flushed_rows;   /* rows written early, as segments of their own, since the checkpoint before */
  double flush_seconds;    /* time spent writing those: the checkpoint's whole cost is this + write_seconds */
} bn_checkpoint_row;

/* An iteration in flight at the snapshot: resumed by re-marking its path and re-sending
 * its job (same id, same seed), so no iteration is lost or run twice in the log. */
typedef struct bn_pending_row {
  uint64_t iteration;
  uint64_t seed;
  uint8_t kind;
  uint32_t path_len;
  uint32_t leaf;        /* node id */
  uint32_t sample;      /* the job's bn_eval_request.sample */
} bn_pending_row;

/* A row of /best: top states by mean reward, with readable text. */
typedef struct bn_best_row {
  uint32_t node;
  double mean;
  uint64_t visits;
  char text[256];
} bn_best_row;

/* A committed results segment: NAME.d/results-<seq>.h5 holds rows first_row ..
 * first_row + rows - 1 of the run's log. */
typedef struct bn_segment_info {
  uint64_t seq;
  uint64_t first_row;
  uint64_t rows;
  uint64_t checksum; /* XXH3-64 of the rows in the packed little-endian layout, failure text included */
  uint64_t bytes;    /* size of the file */
  uint64_t failures; /* failed rows: the rows of its /result_failures */
} bn_segment_info;

/* The failure text of one failed row of /results: a row of /result_failures. */
typedef struct bn_result_failure {
  uint64_t row; /* the row of /results */
  char failure_kind[BN_FAILURE_KIND_LEN];
  char failure_detail[BN_FAILURE_DETAIL_LEN];
} bn_result_failure;

/* Failed results of one kind and detail (detail "": of the kind as a whole, or none). */
typedef struct bn_failure_group {
  char kind[BN_FAILURE_KIND_LEN];
  char detail[BN_FAILURE_DETAIL_LEN];
  uint64_t count;
} bn_failure_group;

/* A row of /stats/top_evaluations: one of the best single evaluations. */
typedef struct bn_top_row {
  uint64_t job_id;
  double reward;
} bn_top_row;

/* Everything a checkpoint's main file holds (the result rows themselves live in the
 * segments). The writer only reads it. The reader fills it with arrays it allocates; free
 * with bn_snapshot_free. */
typedef struct bn_snapshot {
  /* identity and configuration (root attributes) */
  char *domain;         /* domain name */
  char *config_text;    /* the effective configuration as INI text */
  char *banyan_version;
  double created;       /* Unix time the run first started */
  double updated;       /* Unix time of this snapshot */
  uint64_t seed;
  uint64_t state_size;
  uint32_t path_cap;    /* entries per pending path */
  /* counters */
  uint64_t budget;         /* search.iterations in effect */
  uint64_t next_iteration; /* iteration numbers claimed so far */
  uint64_t completed;      /* results applied (== rows in /results) */
  uint64_t evaluations;    /* successful ones */
  uint64_t failures;
  uint64_t cancelled;      /* claimed but never issued */
  uint64_t applied_upto;   /* deterministic mode: results of iterations < this are applied */
  uint8_t deterministic;
  uint8_t finished;        /* the search was complete: resume has nothing to do */
  uint32_t stop_reason;    /* bn_stop_reason */
  double elapsed_seconds;  /* search time across all sessions */
  uint64_t checkpoints;    /* how many were written, this one included */

  bn_tree_arrays tree;

  /* the results log: segment files in the directory `segment_dir` beside the file */
  uint64_t run_id;         /* random identity of the run, stored in each of its segments */
  char *segment_dir;       /* directory name (no slash), e.g. "run.h5.d" */
  uint64_t next_segment;   /* segment numbers used so far */
  uint64_t n_segments;
  bn_segment_info *segments; /* in row order, tiling rows 0 .. completed - 1 */

  /* what the end-of-run report needs without reading the log */
  uint64_t n_failure_groups;
  bn_failure_group *failure_groups; /* failed results per reason (/stats/failures) */
  uint64_t n_top;
  bn_top_row *top;                  /* best single evaluations (/stats/top_evaluations) */
  unsigned char *top_states;        /* n_top * state_size */

  uint64_t n_pending;
  bn_pending_row *pending;
  uint32_t *pending_paths; /* n_pending * path_cap edge ids */
  unsigned char *pending_states; /* n_pending * state_size: the job's state */

  uint64_t n_timeline;
  bn_timeline_row *timeline;
  uint64_t n_engines;
  bn_engine_row *engines;
  uint64_t n_pool_moves;
  bn_pool_move_row *pool_moves;
  uint64_t n_history;
  bn_checkpoint_row *history; /* earlier checkpoints, this one last */
  uint64_t n_best;
  bn_best_row *best;
} bn_snapshot;

/* --- the main file ------------------------------------------------------------------ */

/* Write `snap` to `path` atomically (see above). Every segment it lists must already be
 * in place (bn_segment_write); /results is written as a virtual dataset over them. On
 * success *bytes (may be NULL) holds the file size. BN_ERR_IO / BN_ERR_HDF5 with a logged
 * message otherwise; NAME is untouched on failure and NAME.tmp removed. */
BN_API BN_NODISCARD bn_err bn_checkpoint_write(const char *path, const bn_snapshot *snap, uint64_t *bytes);

/* Read and validate a checkpoint: format version, every dataset and attribute present with
 * the right type and consistent sizes, strings terminated, counters coherent, and every
 * segment present with the right run, rows and checksum in its header (the rows
 * themselves are checked as they are read: bn_results_open). Indices into the graph are
 * checked later by bn_tree_import. Opens read-only; never modifies a file. BN_ERR_CORRUPT
 * (or BN_ERR_IO if unreadable) with the reason in `why`. *out written on success only. */
BN_API BN_NODISCARD bn_err bn_checkpoint_read(const char *path, bn_snapshot *out, char *why, size_t whylen);
/* Free the large parts of a snapshot read by bn_checkpoint_read (the graph arrays and the
 * pending iterations; their counts become 0) and keep the rest: a resumed search calls it
 * once it has restored them, so rank 0 does not hold them twice. */
BN_API void bn_snapshot_release_bulk(bn_snapshot *snap);
/* Free what bn_checkpoint_read allocated; accepts a zeroed snapshot. */
BN_API void bn_snapshot_free(bn_snapshot *snap);

/* The directory of a checkpoint's segments: dirname(ckpt_path)/segment_dir. Malloc'ed
 * (caller frees), NULL when out of memory. */
BN_API char *bn_checkpoint_segment_dir(const char *ckpt_path, const char *segment_dir);
/* The conventional segment directory name for a checkpoint file: basename(path) + ".d".
 * Malloc'ed, NULL when out of memory. */
BN_API char *bn_checkpoint_segment_dir_name(const char *ckpt_path);

/* --- result segments ---------------------------------------------------------------- */

/* Where the rows of a new segment come from: row i (a row number of the run) and its
 * state. Borrowed for the duration of the call; a row returned needs to stay valid only
 * until the next call of `row`. */
typedef struct bn_result_source {
  const void *ctx;
  const bn_result_row *(*row)(const void *ctx, uint64_t i);
  const unsigned char *(*state)(const void *ctx, uint64_t i);
} bn_result_source;

/* How segments are stored. */
typedef struct bn_segment_params {
  uint64_t run_id;
  uint64_t state_size;
  int deflate; /* 0: uncompressed; 1..9: shuffle + deflate at that level */
  const volatile int *cancel; /* bn_segment_merge gives up when *cancel becomes non-zero (NULL: never) */
} bn_segment_params;

/* Write rows first_row .. first_row + rows - 1 from `src` as segment `seq` in `dir` (a
 * temporary name, fsync, rename, directory fsync): *out describes it. BN_ERR_IO /
 * BN_ERR_HDF5 / BN_ERR_NOMEM; nothing is left behind on failure. Thread: one writer. */
BN_API BN_NODISCARD bn_err bn_segment_write(const char *dir, const bn_segment_params *p, uint64_t seq,
                                            uint64_t first_row, uint64_t rows, const bn_result_source *src,
                                            bn_segment_info *out);
/* Merge the adjacent segments in[0..n) (in row order) into a new segment `seq`, verifying
 * each source's checksum as it is read; the sources are left in place. If p->cancel is
 * set meanwhile, nothing is written and out->rows is 0 (BN_OK). */
BN_API BN_NODISCARD bn_err bn_segment_merge(const char *dir, const bn_segment_params *p, const bn_segment_info *in,
                                            size_t n, uint64_t seq, bn_segment_info *out);
/* The path of segment `seq` in `dir` into buf. */
BN_API void bn_segment_path(const char *dir, uint64_t seq, char *buf, size_t n);
/* Check a segment's header against `seg` and the run: the file exists, is a segment of
 * run `run_id` with these rows, state size and checksum. BN_ERR_CORRUPT / BN_ERR_IO with
 * the reason (naming the file) in `why`. Reads no rows. */
BN_API BN_NODISCARD bn_err bn_segment_check(const char *dir, const bn_segment_params *p, const bn_segment_info *seg,
                                            char *why, size_t whylen);

/* Create the segment directory `dir` if missing; BN_ERR_IO if it cannot be, or if it is a
 * symbolic link or not a directory. */
BN_API BN_NODISCARD bn_err bn_segment_dir_create(const char *dir);
/* The numbers of the segment files in `dir` (*seqs malloc'ed, caller frees; none if the
 * directory is missing). Temporaries left by a killed writer are removed on the way
 * (counted in *n_tmp, may be NULL). */
BN_API BN_NODISCARD bn_err bn_segment_dir_list(const char *dir, uint64_t **seqs, size_t *n, size_t *n_tmp);
/* Remove segment `seq` from `dir` (a warning if it cannot be). */
BN_API void bn_segment_remove(const char *dir, uint64_t seq);

/* --- reading the results log -------------------------------------------------------- */

typedef struct bn_results_reader bn_results_reader;

/* Open the results log of a checkpoint read by bn_checkpoint_read from `ckpt_path`: the
 * rows of every segment in order, read in strips of a few MiB (bounded memory whatever the
 * number of rows). BN_ERR_IO / BN_ERR_NOMEM with `why`. */
BN_API BN_NODISCARD bn_err bn_results_open(const char *ckpt_path, const bn_snapshot *snap, bn_results_reader **out,
                                           char *why, size_t whylen);
/* The next rows (up to `max`) into rows[] and states[] (max * state_size bytes); *n = 0 at
 * the end. Every row is checked as bn_checkpoint_read checks the counters (kind, status,
 * id below next_iteration, reason terminated), each segment's checksum and row count when
 * its last row is read, and the failed rows against `failures` at the end: BN_ERR_CORRUPT
 * with the reason (naming the segment file) in bn_results_why. */
BN_API BN_NODISCARD bn_err bn_results_next(bn_results_reader *rd, bn_result_row *rows, unsigned char *states,
                                           size_t max, size_t *n);
BN_API const char *bn_results_why(const bn_results_reader *rd);
/* Close; accepts NULL and sets *rd = NULL. */
BN_API void bn_results_close(bn_results_reader **rd);

/* --- failures ----------------------------------------------------------------------- */

/* Failed results by kind and detail, counted as they happen (a run) or read from
 * /stats/failures. Every kind is counted exactly; details are kept for at most
 * BN_FAILURE_DETAILS_PER_KIND distinct ones per kind and BN_FAILURE_REASONS rows in all,
 * later new details counted under (KIND, "(other details)"); past BN_FAILURE_REASONS rows
 * a new kind goes to one last row, ("(other kinds)", ""). So the table has at most
 * BN_FAILURE_REASONS + 1 rows. Not thread-safe: callers serialise. */
#define BN_FAILURE_REASONS 256
#define BN_FAILURE_DETAILS_PER_KIND 32
typedef struct bn_failure_tally {
  bn_failure_group *groups; /* owned */
  size_t n, cap;
} bn_failure_tally;
/* Count `count` failures of `reason` ("KIND: DETAIL", split with bn_failure_split). */
BN_API BN_NODISCARD bn_err bn_failure_tally_add(bn_failure_tally *t, const char *reason, uint64_t count);
/* Count a row of another tally (e.g. /stats/failures of the checkpoint a run resumes). */
BN_API BN_NODISCARD bn_err bn_failure_tally_add_group(bn_failure_tally *t, const bn_failure_group *g);
BN_API void bn_failure_tally_free(bn_failure_tally *t);

/* The failed results of a snapshot by kind (`kinds`: detail "", most frequent first) and by
 * kind and detail (`reasons`: grouped by kind in the order of `kinds`, most frequent
 * first within a kind). A row with an empty kind (not written by banyan) counts as
 * "error". */
typedef struct bn_failure_counts {
  uint64_t failed;                  /* failed results */
  bn_failure_group *reasons, *kinds; /* owned: free with bn_failure_counts_free */
  size_t n_reasons, n_kinds;
} bn_failure_counts;

/* Group n rows (with counts) into *out (OUT, written on success only). BN_ERR_NOMEM. */
BN_API BN_NODISCARD bn_err bn_failure_count_groups(const bn_failure_group *groups, size_t n, bn_failure_counts *out);
/* Free what bn_failure_count_groups allocated; accepts a zeroed struct. */
BN_API void bn_failure_counts_free(bn_failure_counts *fc);
/* The readable table, as `inspect` and the end of a run print it: a title line
 * "failures by kind (F of `results` results)", then per kind (at most max_kinds) its count
 * and up to three of its most frequent details, indented, with how many more there are. */
BN_API void bn_failure_counts_print(const bn_failure_counts *fc, uint64_t results, size_t max_kinds, FILE *out);
/* The two JSON object members of the --summary file, each after ",\n  ":
 * "failures_by_kind": {KIND: count, ...} (every kind) and "failures_by_reason":
 * {"KIND: DETAIL": count, ...} (at most max_reasons, most frequent first). */
BN_API void bn_failure_counts_json(const bn_failure_counts *fc, size_t max_reasons, FILE *out);

/* --- showing a checkpoint ----------------------------------------------------------- */

/* `banyan inspect`: counters, best states, failures by kind, engine use, checkpoint
 * history, timeline summary, segments. `domain` may be NULL (states then shown in hex). */
BN_API void bn_checkpoint_print_summary(const bn_snapshot *snap, const bn_domain *domain, FILE *out);
/* `banyan inspect --schema`: the tables of the file format as Markdown. */
BN_API void bn_checkpoint_print_schema(FILE *out);
/* `banyan export --csv`: the results table with a header line, the state in readable form,
 * streamed from the segments of the checkpoint read from `ckpt_path`. */
BN_API BN_NODISCARD bn_err bn_checkpoint_export_csv(const char *ckpt_path, const bn_snapshot *snap,
                                                    const bn_domain *domain, FILE *out);

#endif
