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
  BN_EXIT_INTERRUPTED = 3  /* stopped early by SIGINT/SIGTERM/SIGUSR1; results were reported */
};

/* Arguments common to commands that take a configuration. */
typedef struct bn_cli_args {
  const char *config_path;
  const char **sets; /* --set values, in order */
  int n_sets;
  const char *summary_path;
  bool quiet;
  bool help;
  long long max_states;
} bn_cli_args;

/* Parse argv[1..]: one positional CONFIG, --set K=V (or --set=K=V), and the flags the
 * command allows ("summary", "quiet", "max-states"). Prints a message and returns false
 * on a usage error. `args->sets` is allocated: free it. */
bool bn__cli_parse(int argc, char **argv, const char *command, const char *const *allowed, bn_cli_args *args);

/* A config with the core and every built-in domain's options declared. */
bn_err bn__cli_new_config(bn_config **cfg);

/* Load args->config_path and the --set overrides, validate, check domain.name, and open
 * the domain; messages to stderr. BN_ERR_CONFIG for anything the user must fix. */
bn_err bn__cli_load(const bn_cli_args *args, bn_config **cfg, bn_domain *domain);

int bn__cmd_run(int argc, char **argv);
int bn__cmd_enumerate(int argc, char **argv);
int bn__cmd_config(int argc, char **argv);

#endif
