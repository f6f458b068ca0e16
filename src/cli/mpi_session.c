/* The MPI part of `banyan run` and `banyan resume`: rank 0 prepares (configuration,
 * domain, checkpoint) and broadcasts the configuration before any rank starts work; then
 * rank 0 searches while ranks >= 1 run the engine loop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banyan/checkpoint.h"
#include "banyan/engine.h"
#include "banyan/log.h"
#include "banyan/search.h"
#include "cli/cli.h"
#include "util/signals.h"

/* Engines wait for rank 0's STOP rather than die on a forwarded signal: rank 0 needs them
 * to return the jobs they hold. */
static volatile sig_atomic_t engine_signalled;
static void engine_on_signal(int sig) {
  (void)sig;
  engine_signalled = 1;
}

/* From the first instant: a stop signal that lands while MPI starts or the checkpoint loads
 * (Slurm may send it early) becomes a stop request instead of killing the process. */
static void early_on_signal(int sig) {
  (void)sig;
  bn_search_request_stop();
}

/* One line for a failed command: what failed, why, and the trail of checked calls it
 * went through (error.h). */
static void report_failure(const char *what, bn_err e) {
  char trail[900];
  bn_error_trail(trail, sizeof trail);
  bn_error("%s: %s%s%s", what, bn_strerror(e), trail[0] ? ", " : "", trail);
}

/* MPI itself failed (or a failure leaves ranks that cannot be told to stop): end every
 * rank. With one rank there is nothing to abort: finalize and return the status. */
static int mpi_fatal(MPI_Comm comm, const char *what, bn_err e) {
  report_failure(what, e);
  int size = 1;
  if (MPI_Comm_size(MPI_COMM_WORLD, &size) == MPI_SUCCESS && size == 1) {
    if (comm != MPI_COMM_WORLD && comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
    MPI_Finalize();
    return BN_EXIT_FAILURE;
  }
  MPI_Abort(comm, BN_EXIT_FAILURE);
  return BN_EXIT_FAILURE;
}

/* End this process now with `status`, without MPI_Finalize: a rank that cannot be stopped
 * (lost, or inside a job) would keep MPI_Finalize waiting. Under mpirun, a status other
 * than 0 makes it end the other ranks; the checkpoint is written already. */
static _Noreturn void leave_now(int status) {
  fflush(stdout);
  fflush(stderr);
  _exit(status);
}

/* engine.pools against the engines this run has (the config layer checked the text, not
 * the count): refused before any rank starts work, like any configuration to fix. */
static bn_err check_pools(const bn_config *cfg, int engines) {
  bn_pool_spec spec;
  int sizes[BN_POOLS_MAX];
  char why[256], where[512];
  if (!bn_pools_parse(bn_config_string(cfg, "engine.pools"), &spec, why, sizeof why) ||
      !bn_pools_assign(&spec, engines, sizes, why, sizeof why)) {
    bn_config_where(cfg, "engine.pools", where, sizeof where);
    fprintf(stderr, "%s: engine.pools: %s\n", where, why);
    return BN_ERR_CONFIG;
  }
  if (spec.n > 0 && engines == 0)
    bn_warn("engine.pools: a single rank runs every job itself; the pools apply to engines (mpirun -n 2 or more)");
  return BN_OK;
}

int bn__cli_mpi_search(int argc, char **argv, const bn_cli_args *args, bn_cli_prepare_fn prepare, void *ctx) {
  int provided = 0, rank = 0, status = BN_EXIT_OK, job_running = 0;
  bn__catch_stop_signals(early_on_signal);
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "banyan: MPI_Init_thread failed\n");
    return BN_EXIT_FAILURE;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  bn_log_setup(rank, BN_LOG_INFO);
  if (provided < MPI_THREAD_FUNNELED) {
    bn_error("this MPI library provides thread level %d, banyan needs MPI_THREAD_FUNNELED", provided);
    MPI_Abort(MPI_COMM_WORLD, BN_EXIT_FAILURE);
  }
  if (MPI_Comm_dup(MPI_COMM_WORLD, &comm) != MPI_SUCCESS) return mpi_fatal(MPI_COMM_WORLD, "MPI_Comm_dup", BN_ERR_MPI);
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  int size = 1;
  if (MPI_Comm_size(comm, &size) != MPI_SUCCESS) return mpi_fatal(comm, "MPI_Comm_size", BN_ERR_MPI);
  if (size > (int)BN_SEARCH_MAX_RANKS) { /* every rank sees it: all stop alike */
    if (rank == 0)
      fprintf(stderr, "banyan: %d ranks: a run has at most %u (rank 0 and %u engines)\n", size, BN_SEARCH_MAX_RANKS,
              BN_SEARCH_MAX_RANKS - 1);
    MPI_Comm_free(&comm);
    MPI_Finalize();
    return BN_EXIT_USAGE;
  }

  bn_search_share_cpus(comm); /* rank 0's background threads go to the engines' cores */

  bn_config *cfg = NULL;
  bn_domain domain = {0};
  bn_search_options opt = {.summary_path = args->summary_path, .quiet = args->quiet};
  bn_err prepared = BN_OK;
  if (rank == 0) {
    prepared = prepare(args, &cfg, &domain, &opt, ctx);
    if (prepared == BN_OK) prepared = check_pools(cfg, size - 1);
    if (prepared != BN_OK) {
      bn_config_destroy(&cfg); /* reported already; the broadcast passes it on without a config */
    }
  } else if (bn__cli_new_config(&cfg) != BN_OK) {
    bn_config_destroy(&cfg); /* the broadcast makes every rank stop */
  }
  /* A preparation failure travels with the configuration: every rank stops before work,
   * with the same status (2 for a configuration to fix, 1 for an unusable checkpoint). */
  bn_err shared = bn_config_broadcast(cfg, prepared, 0, comm);
  if (shared != BN_OK) {
    status = shared == BN_ERR_CONFIG ? BN_EXIT_USAGE : BN_EXIT_FAILURE;
    goto done;
  }
  static const bn_log_level levels[] = {BN_LOG_DEBUG, BN_LOG_INFO, BN_LOG_WARN, BN_LOG_ERROR};
  bn_log_setup(rank, levels[bn_config_enum(cfg, "log.level")]);

  if (rank == 0) {
    bn_search_outcome outcome = {0};
    bn_err e = bn_search_run(cfg, &domain, comm, &opt, &outcome);
    if (e != BN_OK) {
      report_failure("the search failed", e);
      status = BN_EXIT_FAILURE;
    } else if (outcome.engines_lost > 0) {
      status = BN_EXIT_ENGINE_LOST;
    } else if (outcome.signalled && (outcome.reason == BN_STOP_SIGNAL || outcome.abandoned)) {
      status = BN_EXIT_INTERRUPTED; /* also a signal during the last jobs of the budget */
    } else {
      status = BN_EXIT_OK;
    }
    if (outcome.engines_lost > 0 && e == BN_OK)
      bn_error("%d engine%s lost: the run is checkpointed; resume it (exit status %d)", outcome.engines_lost,
               outcome.engines_lost == 1 ? " was" : "s were", status);
    if (!outcome.engines_stopped) leave_now(status);
    job_running = outcome.job_running;
  } else {
    bn_err e = bn_domain_open_configured(&domain, cfg);
    if (e != BN_OK) {
      /* Rank 0 finds this engine silent and carries on without it, or mpirun ends the run. */
      report_failure("opening the domain on an engine", e);
      leave_now(BN_EXIT_FAILURE);
    }
    bn__catch_stop_signals(engine_on_signal);
    bn_engine_params ep;
    bn_engine_params_from_config(cfg, &ep);
    e = bn_engine_run(&domain, &ep, comm, &job_running);
    if (e != BN_OK) {
      report_failure("the engine failed", e);
      leave_now(BN_EXIT_FAILURE);
    }
  }

done:
  /* A job left running on a runner thread still uses the domain: leave it open, and end
   * the process right after MPI without running exit handlers under that thread. */
  if (!job_running) bn_domain_close(&domain);
  bn_config_destroy(&cfg);
  free((void *)opt.checkpoint_path);
  MPI_Comm_free(&comm);
  MPI_Finalize();
  if (job_running) leave_now(status);
  return status;
}
