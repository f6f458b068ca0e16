/* `banyan run CONFIG`: a new distributed search, checkpointed to CONFIG's name with .h5
 * (or checkpoint.file). Refuses to replace the checkpoint of an earlier run unless told. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banyan/search.h"
#include "cli/cli.h"

static const char *const usage =
    "usage: [mpirun -n N] banyan run CONFIG [--set section.key=value]... [--summary FILE] [--quiet]\n"
    "                                [--overwrite]\n"
    "\n"
    "Run a Monte-Carlo tree search described by the INI file CONFIG. Rank 0 holds the search\n"
    "graph and grows it with search.threads OpenMP threads; every other rank is an engine that\n"
    "evaluates jobs. With one rank (no mpirun) rank 0 evaluates the jobs itself.\n"
    "\n"
    "  --set section.key=value  override an option of CONFIG (repeatable; `banyan config --list`)\n"
    "  --summary FILE           write the end-of-run figures as JSON to FILE\n"
    "  --quiet                  no progress lines and no table of best states\n"
    "  --overwrite              replace an existing checkpoint file (else the run refuses to start)\n"
    "\n"
    "Checkpoints go to checkpoint.file (default: CONFIG's name with .h5 in the current\n"
    "directory) every checkpoint.every_seconds, at the end, and on a stop signal; continue one\n"
    "with `banyan resume FILE`. With search.replicates = N > 1 the run is a campaign of N\n"
    "searches sharing the engines: replicate r has seed search.seed + r and its own checkpoint\n"
    "NAME.r000.h5 ... beside NAME.campaign, which lists them (`banyan resume NAME.campaign`).\n"
    "SIGINT, SIGTERM or SIGUSR1 (under mpirun: SIGUSR1, which\n"
    "Open MPI forwards) stop the search: a checkpoint is written at once, jobs in flight are\n"
    "collected for up to checkpoint.drain_seconds, a final checkpoint is written.\n"
    "\n"
    "exit status: 0 finished, 1 runtime error, 2 bad command line or configuration (nothing run),\n"
    "             3 stopped early by a signal: checkpointed, resume me\n";

/* CONFIG's file name with its extension replaced by .h5, in the current directory. */
static char *default_checkpoint(const char *config_path) {
  char *copy = strdup(config_path);
  if (!copy) return NULL;
  const char *base = basename(copy);
  size_t n = strlen(base);
  if (n > 4 && strcmp(base + n - 4, ".ini") == 0) n -= 4;
  char *path = malloc(n + 4);
  if (path) snprintf(path, n + 4, "%.*s.h5", (int)n, base);
  free(copy);
  return path;
}

static bn_err prepare_run(const bn_cli_args *args, bn_config **cfg, bn_domain *domain, bn_search_options *opt,
                          void *ctx) {
  BN_CALL(bn__cli_load(args, cfg, domain));
  const bool campaign = bn_config_int(*cfg, "search.replicates") > 1;
  if (!bn_config_bool(*cfg, "checkpoint.enabled"))
    return campaign ? bn__cli_campaign_for_run(*cfg, NULL, args->overwrite, args->config_path, ctx, opt) : BN_OK;
  const char *file = bn_config_string(*cfg, "checkpoint.file");
  char *path = file[0] ? strdup(file) : default_checkpoint(args->config_path);
  BN_CHECK(path, BN_ERR_NOMEM, "no memory");
  if (campaign) {
    bn_err e = bn__cli_campaign_for_run(*cfg, path, args->overwrite, args->config_path, ctx, opt);
    free(path);
    return e;
  }
  if (!args->overwrite && access(path, F_OK) == 0) {
    fprintf(stderr,
            "banyan run: %s exists (the checkpoint of an earlier run).\n"
            "  continue it:        banyan resume %s\n"
            "  start over anyway:  banyan run %s --overwrite   (or set checkpoint.file)\n",
            path, path, args->config_path);
    free(path);
    return BN_ERR_CONFIG;
  }
  bn_err e = bn__cli_lock_checkpoint(path);
  if (e != BN_OK) {
    free(path);
    return e;
  }
  opt->checkpoint_path = path;
  return BN_OK;
}

int bn__cmd_run(int argc, char **argv) {
  static const char *const allowed[] = {"summary", "quiet", "overwrite", NULL};
  bn_cli_args args;
  bool parsed = bn__cli_parse(argc, argv, "run", allowed, &args);
  int status = BN_EXIT_USAGE;
  if (args.help) {
    fputs(usage, stdout);
    status = BN_EXIT_OK;
  } else if (parsed) {
    bn_cli_campaign campaign = {0};
    status = bn__cli_mpi_search(argc, argv, &args, prepare_run, &campaign);
    bn__cli_campaign_free(&campaign);
  }
  free(args.sets);
  return status;
}
