/* Checkpoints: one self-describing HDF5 file per run holding everything needed to resume
 * it exactly (the search graph, the results log, statistics, the effective configuration
 * and the counters), readable with h5dump and h5py. The layout is documented in
 * docs/checkpoint-format.md.
 *
 * Files are replaced atomically: the new checkpoint is written to NAME.tmp and synced, the
 * current NAME is hard-linked to NAME.prev, NAME.tmp is renamed over NAME and the directory
 * synced. At any instant NAME (after the first checkpoint) is a complete checkpoint, and
 * NAME.prev the one before.
 *
 * Only rank 0 calls this module, from one thread at a time (a background writer thread
 * during a run). Readers never modify the file and never crash on a damaged one. */
#ifndef BANYAN_CHECKPOINT_H
#define BANYAN_CHECKPOINT_H

#include <stdint.h>
#include <stdio.h>

#include "banyan/domain.h"
#include "banyan/engine.h"
#include "banyan/error.h"
#include "banyan/tree.h"

#define BN_CHECKPOINT_FORMAT_VERSION 2u

/* One finished job: a row of /results. The state evaluated is kept beside it. */
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
  char reason[BN_JOB_REASON_LEN]; /* failure reason, "" when ok */
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
} bn_timeline_row;

/* A row of /stats/engines: one per engine rank (rank 0 itself when it runs jobs alone). */
typedef struct bn_engine_row {
  int32_t rank;
  uint64_t jobs, failures;
  double busy_seconds, idle_seconds;
} bn_engine_row;

/* A row of /stats/checkpoints: the history of checkpoints of this run. */
typedef struct bn_checkpoint_row {
  double t_unix;        /* when it was written */
  uint64_t iterations;  /* results applied at the snapshot */
  double snapshot_seconds; /* search paused to copy */
  double write_seconds;    /* background write */
  uint64_t bytes;          /* file size */
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

/* Everything a checkpoint holds. The writer only reads it. The reader fills it with arrays
 * it allocates; free with bn_snapshot_free. Results may be stored in chunks of
 * `result_chunk_rows` rows (row i is result_rows[i / chunk][i % chunk], its state
 * result_states[i / chunk] + (i % chunk) * state_size); the reader returns one chunk. */
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

  uint64_t n_results;
  uint64_t result_chunk_rows;
  bn_result_row **result_rows;
  unsigned char **result_states;

  uint64_t n_pending;
  bn_pending_row *pending;
  uint32_t *pending_paths; /* n_pending * path_cap edge ids */
  unsigned char *pending_states; /* n_pending * state_size: the job's state */

  uint64_t n_timeline;
  bn_timeline_row *timeline;
  uint64_t n_engines;
  bn_engine_row *engines;
  uint64_t n_history;
  bn_checkpoint_row *history; /* earlier checkpoints, this one last */
  uint64_t n_best;
  bn_best_row *best;
} bn_snapshot;

/* Write `snap` to `path` atomically (see above). On success *bytes (may be NULL) holds the
 * file size. BN_ERR_IO / BN_ERR_HDF5 with a logged message otherwise; NAME is untouched on
 * failure and NAME.tmp removed. */
BN_API BN_NODISCARD bn_err bn_checkpoint_write(const char *path, const bn_snapshot *snap, uint64_t *bytes);

/* Read and validate a checkpoint: format version, every dataset and attribute present with
 * the right type and consistent sizes, strings terminated, counters coherent. Indices into
 * the graph are checked later by bn_tree_import. Opens read-only; never modifies the file.
 * BN_ERR_CORRUPT (or BN_ERR_IO if unreadable) with the reason in `why`. *out written on
 * success only. */
BN_API BN_NODISCARD bn_err bn_checkpoint_read(const char *path, bn_snapshot *out, char *why, size_t whylen);
/* Free the large parts of a snapshot read by bn_checkpoint_read (the graph arrays, the
 * results and the pending iterations; their counts become 0) and keep the rest: a resumed
 * search calls it once it has restored them, so rank 0 does not hold them twice. */
BN_API void bn_snapshot_release_bulk(bn_snapshot *snap);
/* Free what bn_checkpoint_read allocated; accepts a zeroed snapshot. */
BN_API void bn_snapshot_free(bn_snapshot *snap);

/* The failed results of a snapshot grouped by reason ("(no reason given)" for an empty
 * one) and by kind: the reason up to its first digit, quote, parenthesis or colon, so
 * "exit status 3" and "exit status 4" are both "exit status". Most frequent first. */
typedef struct bn_failure_group {
  char text[BN_JOB_REASON_LEN];
  uint64_t count;
} bn_failure_group;

typedef struct bn_failure_counts {
  uint64_t failed;                  /* failed results */
  bn_failure_group *reasons, *kinds; /* owned: free with bn_failure_counts_free */
  size_t n_reasons, n_kinds;
} bn_failure_counts;

/* Count the failures of `snap` into *out (OUT, written on success only). BN_ERR_NOMEM. */
BN_API BN_NODISCARD bn_err bn_snapshot_count_failures(const bn_snapshot *snap, bn_failure_counts *out);
/* Free what bn_snapshot_count_failures allocated; accepts a zeroed struct. */
BN_API void bn_failure_counts_free(bn_failure_counts *fc);

/* `banyan inspect`: counters, best states, failures by reason, engine use, checkpoint
 * history, timeline summary. `domain` may be NULL (states then shown in hex). */
BN_API void bn_checkpoint_print_summary(const bn_snapshot *snap, const bn_domain *domain, FILE *out);
/* `banyan export --csv`: the results table with a header line, the state in readable form. */
BN_API BN_NODISCARD bn_err bn_checkpoint_export_csv(const bn_snapshot *snap, const bn_domain *domain,
                                                    FILE *out);

#endif
