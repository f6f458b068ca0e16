/* The search driver of rank 0: grows the search graph with OpenMP tasks while the
 * dispatcher (on the thread that initialised MPI) feeds the engines.
 *
 * Each iteration (select -> expand -> job) runs inside an OpenMP task; results come back
 * through the dispatcher, which spawns backprop tasks; a backprop task applies its results
 * and starts as many new iterations as finished, so at most `window` iterations are in
 * flight (search.max_in_flight, or automatic from the engines' capacity). Search threads
 * never call MPI. The run ends at the iteration budget, at search.max_seconds, when the
 * root is exhausted, when the graph is full, or on SIGINT/SIGTERM/SIGUSR1. */
#ifndef BANYAN_SEARCH_H
#define BANYAN_SEARCH_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "banyan/config.h"
#include "banyan/domain.h"
#include "banyan/error.h"
#include "banyan/tree.h"

typedef enum bn_stop_reason {
  BN_STOP_NONE = 0,
  BN_STOP_BUDGET,    /* search.iterations reached */
  BN_STOP_TIME,      /* search.max_seconds reached */
  BN_STOP_EXHAUSTED, /* the whole space was exhausted */
  BN_STOP_FULL,      /* the search graph reached search.max_nodes / max_edges */
  BN_STOP_SIGNAL,    /* SIGINT, SIGTERM or SIGUSR1 */
  BN_STOP_ERROR,     /* an error in a search task */
  BN_STOP_LOST       /* every engine was lost (engine.lost_after) */
} bn_stop_reason;

BN_API const char *bn_stop_reason_name(bn_stop_reason r);

struct bn_snapshot;

typedef struct bn_search_options {
  const char *summary_path;    /* write the end-of-run JSON summary here (NULL: none) */
  int quiet;                   /* no progress lines or final table on stdout */
  const char *checkpoint_path; /* write checkpoints here (NULL: none) */
  struct bn_snapshot *resume_from; /* continue this checkpoint (NULL: a new run); the search
                                      releases its bulk once restored (bn_snapshot_release_bulk) */
  const char *resume_path;     /* the file resume_from was read from (its segments are beside it) */
  bn_tree *resume_tree;        /* its graph from bn_search_check_checkpoint (taken over by the
                                  search; NULL: imported from resume_from) */
  /* A campaign (search.replicates > 1): n_replicates searches run together on rank 0 and
   * share the engines; the fields above other than summary_path and quiet are then unused
   * and each replicate has its own (NULL: a lone search). */
  uint32_t n_replicates;
  const struct bn_replicate *replicates; /* borrowed; [n_replicates] */
  const char *campaign_path;   /* write the campaign file here once every replicate's first
                                  checkpoint is on disk (NULL: none, e.g. when resuming) */
} bn_search_options;

/* One replicate of a campaign: its configuration (the campaign's with search.seed =
 * bn_replicate_seed(seed, r) and search.replicates = 1, so that its checkpoint is that of
 * the separate run with that seed) and its own checkpoint, resume and graph fields. */
typedef struct bn_replicate {
  const bn_config *cfg;       /* borrowed */
  bn_search_options opt;      /* checkpoint_path, resume_from, resume_path, resume_tree */
} bn_replicate;

/* Most replicates a campaign may have. */
#define BN_SEARCH_MAX_REPLICATES 4096u

/* The seed of replicate r of a campaign whose search.seed is `seed`: seed + r. */
BN_API uint64_t bn_replicate_seed(uint64_t seed, uint32_t r);

typedef struct bn_search_outcome {
  bn_stop_reason reason;
  uint64_t iterations;  /* results applied, earlier sessions included */
  uint64_t evaluations; /* successful ones */
  uint64_t failures;
  int checkpointed;     /* a final checkpoint was written */
  int abandoned;        /* rank 0 stopped waiting for jobs in flight (checkpoint.drain_seconds
                           after a stop other than the budget's): they are pending in the
                           checkpoint, and the engines dropped them */
  int signalled;        /* a stop signal was honoured (even after the budget was reached) */
  int engines_lost;     /* engines lost during the run (engine.lost_after): resume me */
  int engines_stopped;  /* every engine answered STOP: MPI_Finalize is safe; else the caller
                           must exit without it (mpirun then ends the lost ranks) */
  int job_running;      /* with one rank: a job abandoned on the runner thread still runs, so
                           the domain must not be closed (exit at once) */
} bn_search_outcome;

/* Ranks a run may have (rank 0 and the engines): `run` and `resume` refuse more before any
 * rank starts work, and a checkpoint's /stats/engines holds one row per rank below it. */
#define BN_SEARCH_MAX_RANKS (1u << 18)

/* Deterministic mode's window W under cfg: search.max_in_flight, or 64 when that is 0. */
BN_API uint32_t bn_search_deterministic_window(const bn_config *cfg);

/* The one validation of a checkpoint read by bn_checkpoint_read from `path`, shared by
 * `inspect`, `export` and `resume` and run before any rank starts work: everything the
 * resumed search relies on under cfg (the configuration in effect). The counters add up
 * (completed + pending + cancelled == next_iteration), stay well below 2^64 and suit the
 * mode (deterministic: nothing cancelled, applied_upto == completed, at most W + 1
 * pending); /stats/engines has one row per rank below BN_SEARCH_MAX_RANKS; best means and
 * rewards are finite; the graph imports under cfg's parameters (with `domain` NULL, as for
 * a plug-in that a reader must not load: only the checks that need no domain,
 * bn_tree_check_arrays); each pending iteration is listed once, its path a chain to its
 * leaf, its kind, state and seed those the search gives it; every row of /results is read
 * (bn_results_next's checks, finite rewards, each job id once and never a pending one;
 * deterministic mode: row k is job k) and the best evaluations are among them. The work is
 * linear in the file's sizes, and memory one bit per iteration number in free mode.
 * BN_ERR_CORRUPT with the reason (one line) in why; BN_ERR_NOMEM, BN_ERR_IO. With `keep`
 * (and a domain), the imported graph (no marks in flight) is handed to the caller, to pass
 * on as bn_search_options.resume_tree. Single-threaded; no MPI. */
BN_API BN_NODISCARD bn_err bn_search_check_checkpoint(const bn_config *cfg, const bn_domain *domain, const char *path,
                                                      const struct bn_snapshot *snap, bn_tree **keep, char *why,
                                                      size_t whylen);

/* Collective over `comm` (every rank calls it before bn_search_run / bn_engine_run): rank 0
 * learns the CPUs the ranks on its node are bound to, and its background threads (the
 * checkpoint writer, the compaction) then run on those other than its own, so they take the
 * engines' idle cycles, not the search's. Optional: without it they stay on rank 0's CPUs. */
BN_API void bn_search_share_cpus(MPI_Comm comm);

/* Run a campaign: opt->n_replicates searches on rank 0, sharing the engines of `comm`, one
 * graph and one checkpoint file per replicate (bn_search_run calls it when
 * opt->n_replicates > 0; `cfg` gives the engines' and threads' parameters). Each replicate
 * holds at most its share of the jobs the engines can hold (capacity / the replicates still
 * issuing work, rounded up; deterministic mode: its own window), and its new jobs reach the
 * dispatcher in turn with the other replicates' (round robin), so they share the engines
 * evenly. A new campaign writes every
 * replicate's first checkpoint, then the campaign file (opt->campaign_path). `out` sums
 * the replicates' counters. Same contract as bn_search_run otherwise. */
BN_API BN_NODISCARD bn_err bn_search_run_campaign(const bn_config *cfg, const bn_domain *domain, MPI_Comm comm,
                                                  const bn_search_options *opt, bn_search_outcome *out);

/* The campaign file (campaign_file.c; format in README "Many searches in one run"): how
 * many replicates, the campaign's seed, each replicate's run id. */
typedef struct bn_campaign {
  uint32_t replicates;
  uint64_t seed;
  uint64_t *run_ids; /* [replicates]; owned, bn_campaign_free */
} bn_campaign;
BN_API void bn_campaign_free(bn_campaign *c);
/* Write atomically (temporary file, fsync, rename, fsync of the directory). */
BN_API BN_NODISCARD bn_err bn_campaign_write(const char *path, const bn_campaign *c);
/* Read and check (size, checksum, every line): BN_ERR_CORRUPT with one line in why for
 * anything else than a well-formed campaign file, BN_ERR_IO if it cannot be opened. Never
 * follows a symbolic link, reads at most a few hundred kB, runs nothing. `out` is written
 * only on success. */
BN_API BN_NODISCARD bn_err bn_campaign_read(const char *path, bn_campaign *out, char *why, size_t whylen);
/* Whether `path` starts like a campaign file (to tell it from a checkpoint). */
BN_API bool bn_campaign_is(const char *path);
/* NAME.campaign for the checkpoint path NAME.h5 (or NAME). */
BN_API BN_NODISCARD bn_err bn_campaign_path(const char *checkpoint_path, char *buf, size_t n);
/* Replicate r's checkpoint for NAME.campaign: NAME.r007.h5 (at least three digits). */
BN_API BN_NODISCARD bn_err bn_campaign_replicate_path(const char *campaign_path, uint32_t r, char *buf, size_t n);

/* Ask a running search to stop issuing work (async-signal-safe). */
BN_API void bn_search_request_stop(void);

/* Run a whole search on rank 0 of `comm` (ranks >= 1 must be in bn_engine_run), new or
 * resumed from opt->resume_from. `cfg` and `domain` are borrowed. Prints progress and the
 * best states unless quiet; checkpoints every checkpoint.every_seconds, on a stop signal
 * and at the end. Collective with the engines: it stops them at the end, also when it
 * fails (after waiting up to checkpoint.drain_seconds for jobs in flight);
 * out->engines_stopped says whether all answered. `out` (may be NULL) is filled also on
 * failure. BN_ERR_CORRUPT if the checkpoint to resume does not hold together. */
BN_API BN_NODISCARD bn_err bn_search_run(const bn_config *cfg, const bn_domain *domain, MPI_Comm comm,
                                         const bn_search_options *opt, bn_search_outcome *out);

#endif
