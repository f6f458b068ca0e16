/* The options of the runtime itself: one table of name, type, default, bounds and help
 * (DESIGN.md §6). Domains declare their own tables next to this one. */
#include <stdint.h>

#include "config_impl.h"

#define INT_OPT(nm, def, lo, hi, help) {nm, BN_OPT_INT, def, lo, hi, NULL, help}
#define REAL_OPT(nm, def, lo, hi, help) {nm, BN_OPT_REAL, def, lo, hi, NULL, help}
#define ENUM_OPT(nm, def, choices, help) {nm, BN_OPT_ENUM, def, 0, 0, choices, help}
#define STRING_OPT(nm, def, help) {nm, BN_OPT_STRING, def, 0, 0, NULL, help}
#define BOOL_OPT(nm, def, help) {nm, BN_OPT_BOOL, def, 0, 0, NULL, help}

static const bn_option core_options[] = {
    INT_OPT("search.iterations", "10000", 1, 1e15, "evaluations to run (the search budget)"),
    REAL_OPT("search.max_seconds", "0", 0, 1e9,
             "stop issuing new work after this many seconds (0: no limit)"),
    INT_OPT("search.threads", "1", 1, 1024,
            "search threads on rank 0 (1: the MPI thread searches too; more: an OpenMP team beside it)"),
    REAL_OPT("search.c", "1.4142135623730951", 0, 1e6, "UCT exploration constant"),
    ENUM_OPT("search.selection", "wu_uct", "virtual_loss|wu_uct",
             "how iterations in flight count in selection: WU-UCT (keeps serial quality with many in flight) or virtual loss"),
    REAL_OPT("search.virtual_loss", "1", 0, 1e6, "virtual visits per evaluation in flight (selection = virtual_loss)"),
    INT_OPT("search.max_in_flight", "0", 0, 16777216,
            "iterations in flight at once (0: automatic from engines and engine.depth)"),
    INT_OPT("search.exhaust_after", "0", 0, 2147483647,
            "a terminal state selected this many times is exhausted (0: never)"),
    INT_OPT("search.seed", "1", 0, (double)INT64_MAX, "seed of every random stream of the run"),
    INT_OPT("search.replicates", "1", 1, 4096,
            "searches run together sharing the engines; replicate r has seed search.seed + r, "
            "its own graph and checkpoint NAME.r007.h5, listed in NAME.campaign"),
    INT_OPT("search.max_nodes", "16777216", 16, 4e9, "capacity of the search graph in nodes"),
    INT_OPT("search.max_edges", "0", 0, 4e9,
            "capacity in edges (0: 8 x max_nodes, at most 4e9)"),
    REAL_OPT("search.progress_seconds", "2", 0, 1e6, "seconds between progress lines (0: none)"),
    INT_OPT("search.top", "10", 0, 1000, "best states printed at the end"),
    INT_OPT("search.best_min_visits", "1", 1, 1e12,
            "visits a state needs to be listed among the best"),
    INT_OPT("search.task_grain", "16", 1, 4096, "iterations handled by one OpenMP task"),
    BOOL_OPT("search.check", "false",
             "verify every invariant of the search graph at the end (tests, debugging)"),
    BOOL_OPT("search.deterministic", "false",
             "reproducible mode: same graph and results for any engines, timing and restarts"),
    INT_OPT("engine.depth", "2", 1, 1048576,
            "jobs one engine may hold at once (>= 2 keeps the next one waiting)"),
    INT_OPT("engine.batch", "0", 0, 65536, "jobs per message (0: adaptive)"),
    INT_OPT("engine.max_batch", "256", 1, 65536,
            "largest adaptive batch (cheap jobs of an engine that answers late: up to 8 times more, "
            "within 4096 jobs held by all engines)"),
    REAL_OPT("engine.message_overhead", "2e-5", 0, 1,
             "seconds of overhead per message assumed by adaptive batching"),
    INT_OPT("engine.retries", "0", 0, 100,
            "extra attempts of a failed evaluation on the same engine (every failure is logged)"),
    REAL_OPT("engine.idle_sleep_max", "0.001", 1e-6, 1,
             "longest back-off sleep of an idle engine (seconds)"),
    REAL_OPT("engine.heartbeat_seconds", "1", 0, 3600,
             "while a job runs, an engine tells rank 0 it is alive this often (seconds; 0: never)"),
    REAL_OPT("engine.lost_after", "60", 0, 1e6,
             "an engine that holds jobs and is not heard from for this long (no result, no heartbeat) is "
             "lost: its jobs go to the other engines and the run ends with status 4, resume me (seconds; "
             "0: never)"),
    STRING_OPT("engine.pools", "",
               "engines per job kind: \"reward:0.25, simulate:0.75\" (shares) or \"reward:1, simulate:3\" "
               "(counts); each kind runs only on its pool's engines (empty: every engine takes every kind)"),
    BOOL_OPT("engine.pool_rebalance", "false",
             "with engine.pools: an engine of a pool that idles while the other pool has a backlog moves to it "
             "(and back later); off keeps the pools as given (e.g. sized to the nodes' hardware)"),
    REAL_OPT("engine.pool_rebalance_seconds", "1", 0.01, 1e6,
             "rebalancing period: a pool that idled a whole engine on average over it gives one to a pool "
             "whose jobs waited half of it; after a move the pools settle for 4 periods (seconds)"),
    BOOL_OPT("checkpoint.enabled", "true", "write HDF5 checkpoints of the run"),
    STRING_OPT("checkpoint.file", "",
               "checkpoint file (empty: CONFIG's name with .h5, in the current directory)"),
    REAL_OPT("checkpoint.every_seconds", "60", 0, 1e9,
             "seconds between checkpoints (0: only at the end and on signals)"),
    INT_OPT("checkpoint.every_evaluations", "0", 0, 1e15,
            "also checkpoint after this many new results (0: off)"),
    REAL_OPT("checkpoint.max_time_share", "0.05", 0, 1,
             "longest share of run time spent writing checkpoints: the interval grows to keep it (0: off)"),
    REAL_OPT("checkpoint.timeline_seconds", "5", 0.01, 1e6,
             "seconds between rows of the /stats/timeline table"),
    INT_OPT("checkpoint.buffer_mb", "64", 1, 1048576,
            "results kept in rank 0's memory until a segment is on disk (MB): each half of it is written "
            "early as a segment, and when it is full the search waits for the disk"),
    INT_OPT("checkpoint.compression", "1", 0, 9,
            "deflate level (with byte shuffling) of result segments merged in the background; new segments "
            "are written uncompressed (0: never compress)"),
    REAL_OPT("checkpoint.drain_seconds", "30", 0, 1e6,
             "on a stop signal, seconds to wait for jobs in flight before the final checkpoint"),
    STRING_OPT("domain.name", "circuit",
               "the domain to search: a built-in name, or the plug-in's (the default with domain.plugin)"),
    STRING_OPT("domain.plugin", "",
               "shared library of a plug-in domain (relative: to the config file's directory; empty: none)"),
    STRING_OPT("exec.command", "",
               "program (and arguments) run once per evaluation, no shell; empty: the domain's own evaluate"),
    REAL_OPT("exec.timeout", "3600", 0, 1e9,
             "seconds one attempt of exec.command may run before its process group is killed (0: none)"),
    INT_OPT("exec.max_output", "1048576", 1, 1073741824,
            "bytes of the program's stdout kept; more makes the evaluation fail"),
    STRING_OPT("exec.workdir", "",
               "directory the program runs in (empty: banyan's current directory)"),
    ENUM_OPT("log.level", "info", "debug|info|warning|error", "lowest level of log lines printed"),
};

const bn_option *bn_config_core_options(size_t *n) {
  if (n) *n = sizeof core_options / sizeof core_options[0];
  return core_options;
}
