/* Shared pieces of the command-line tool: exit codes, option parsing helpers, loading a
 * configuration (file + --set overrides + validation) and opening its domain. */
#ifndef BANYAN_CLI_H
#define BANYAN_CLI_H

#include <mpi.h>
#include <stdbool.h>

#include "banyan/config.h"
#include "banyan/domain.h"

/* Exit statuses of every banyan command (documented in --help and the README). */
enum {
  BN_EXIT_OK = 0,          /* finished: budget reached, space exhausted or time limit */
  BN_EXIT_FAILURE = 1,     /* a runtime error (message on stderr) */
  BN_EXIT_USAGE = 2,       /* bad command line or configuration; nothing was run */
  BN_EXIT_INTERRUPTED = 3, /* stopped early by SIGINT/SIGTERM/SIGUSR1: checkpointed, resume me */
  BN_EXIT_ENGINE_LOST = 4  /* an engine was lost (frozen, dead): checkpointed, resume me */
};

/* Arguments common to commands that take a configuration. */
typedef struct bn_cli_args {
  const char *config_path;
  const char **sets; /* --set values, in order */
  int n_sets;
  const char *summary_path;
  bool quiet;
  bool help;
  bool overwrite;  /* run: replace an existing checkpoint */
  bool force;      /* resume: accept changed search options */
  bool trust;      /* resume: load a plug-in / run a command other than the run's */
  bool verify;     /* inspect: read every result row and check the segments' checksums */
  bool schema;     /* inspect: print the file format's tables (Markdown) */
  bool terminals;  /* enumerate: list every terminal state */
  const char *csv_path; /* export */
  long long max_states;
} bn_cli_args;

/* Parse argv[1..]: one positional CONFIG (or FILE), --set K=V (or --set=K=V), and the
 * flags the command allows ("summary", "quiet", "max-states", "overwrite", "force", "csv"). Prints a message and returns false
 * on a usage error. `args->sets` is allocated: free it. */
bool bn__cli_parse(int argc, char **argv, const char *command, const char *const *allowed, bn_cli_args *args);

/* A config with the core and every built-in domain's options declared, and the options of
 * the plug-in named by domain.plugin declared when it is finalized. */
bn_err bn__cli_new_config(bn_config **cfg);

/* Open the domain cfg names ("source" names the configuration in messages). BN_ERR_CONFIG
 * with the reason printed if it is unknown or rejects its options. */
bn_err bn__cli_open_domain(const bn_config *cfg, const char *source, bn_domain *domain);

/* Load args->config_path and the --set overrides, validate, check domain.name, and open
 * the domain; messages to stderr. BN_ERR_CONFIG for anything the user must fix. */
bn_err bn__cli_load(const bn_cli_args *args, bn_config **cfg, bn_domain *domain);

struct bn_search_options;
struct bn_snapshot;

/* Rank 0's preparation of an MPI search: load and validate the configuration, open the
 * domain, fill the search options. Anything the user must fix: BN_ERR_CONFIG (exit 2);
 * other errors exit 1. */
typedef bn_err (*bn_cli_prepare_fn)(const bn_cli_args *args, bn_config **cfg, bn_domain *domain,
                                    struct bn_search_options *opt, void *ctx);
/* The MPI part shared by `run` and `resume`: init, rank 0 prepares, the configuration is
 * broadcast, rank 0 searches while the others run engines, finalize. Returns the exit
 * status. */
int bn__cli_mpi_search(int argc, char **argv, const bn_cli_args *args, bn_cli_prepare_fn prepare, void *ctx);

/* Take the exclusive lock FILE.lock for the life of this process, waiting a bounded time
 * for another run that holds it to end. BN_ERR_CONFIG (message printed) if it does not. */
bn_err bn__cli_lock_checkpoint(const char *path);

/* Read a checkpoint, falling back to FILE.prev (with a warning) when FILE is damaged.
 * Prints the reason and returns it on failure. */
bn_err bn__cli_read_checkpoint(const char *path, struct bn_snapshot *snap, char *used, size_t usedlen);
/* The configuration saved in a checkpoint plus --set overrides, validated, with its domain
 * opened: the plug-in domain.plugin names is loaded (its constructors run) and exec.command
 * checked. For `resume` only, after it has said what it will load and run. */
bn_err bn__cli_config_from_checkpoint(const char *path, const struct bn_snapshot *snap, const bn_cli_args *args,
                                      bn_config **cfg, bn_domain *domain);

/* The configuration saved in a checkpoint, for a reader (inspect, export): nothing the file
 * names is loaded or run. A plug-in is not loaded (its own section of options is left out,
 * as they cannot be declared without it) and *domain stays closed (ops NULL); a built-in
 * domain is opened without the exec.command wrapper. Messages to stderr; BN_ERR_CONFIG. */
bn_err bn__cli_reader_config(const char *path, const struct bn_snapshot *snap, bn_config **cfg, bn_domain *domain);

/* A campaign as the command line holds it (campaign.c): the replicates' configurations,
 * checkpoint paths and (resume) checkpoints, and the array bn_search_options points to. */
struct bn_replicate;
typedef struct bn_cli_campaign {
  uint32_t n;
  struct bn_replicate *reps;   /* [n] */
  bn_config **cfgs;            /* [n] */
  struct bn_snapshot *snaps;   /* [n] (resume) */
  char (*paths)[4096];         /* [n] replicate checkpoints */
  char (*used)[4096];          /* [n] the file read (the checkpoint or its .prev) */
  char campaign_path[4096];
} bn_cli_campaign;
void bn__cli_campaign_free(bn_cli_campaign *c);
bn_err bn__cli_campaign_alloc(bn_cli_campaign *c, uint32_t n, bool snapshots);
/* A replicate's configuration: `text` with the --set overrides of `args` (may be NULL),
 * search.seed = *seed (unless NULL) and search.replicates = 1, finalized. */
bn_err bn__cli_replicate_config(const char *text, const char *origin, const bn_cli_args *args, const uint64_t *seed,
                                bn_config **out);
/* `run` with search.replicates > 1: the replicates' configurations and, when
 * checkpoint_path (NAME.h5) is given, NAME.campaign and NAME.r000.h5 ... (refused if one
 * exists, unless overwrite; locked). Fills opt's campaign fields (pointing into c). */
bn_err bn__cli_campaign_for_run(const bn_config *cfg, const char *checkpoint_path, bool overwrite,
                                const char *config_path, bn_cli_campaign *c, struct bn_search_options *opt);

int bn__cmd_run(int argc, char **argv);
int bn__cmd_resume(int argc, char **argv);
int bn__cmd_inspect(int argc, char **argv);
int bn__cmd_export(int argc, char **argv);
int bn__cmd_enumerate(int argc, char **argv);
int bn__cmd_config(int argc, char **argv);

#endif
