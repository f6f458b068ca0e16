/* `banyan inspect FILE` and `banyan export FILE --csv OUT`: read a checkpoint (never
 * modifying it) and show it or write its results table. No MPI. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/checkpoint.h"
#include "banyan/search.h"
#include "cli/cli.h"

static const char *const inspect_usage =
    "usage: banyan inspect FILE\n"
    "\n"
    "Summarise the checkpoint FILE: run identity, counters, best states, failures by reason,\n"
    "engine use, checkpoint history and timeline. The file is only read.\n"
    "\n"
    "exit status: 0 ok, 1 unreadable or damaged file, 2 bad command line\n";

static const char *const export_usage =
    "usage: banyan export FILE --csv OUT\n"
    "\n"
    "Write the results table of the checkpoint FILE (one row per finished job: ids, kind,\n"
    "status, engine, reward, times, failure reason, state) as CSV to OUT (- for stdout).\n"
    "\n"
    "exit status: 0 ok, 1 unreadable or damaged file or OUT not writable, 2 bad command line\n";

/* Read FILE, open its domain and check the whole checkpoint as `resume` would: a file that
 * resume would refuse is refused here too. */
static int open_checkpoint(const bn_cli_args *args, bn_snapshot *snap, bn_domain *domain) {
  char used[4096], why[512] = "";
  if (bn__cli_read_checkpoint(args->config_path, snap, used, sizeof used) != BN_OK) return BN_EXIT_FAILURE;
  bn_config *cfg = NULL;
  if (bn__cli_config_from_checkpoint(used, snap, NULL, &cfg, domain) != BN_OK) return BN_EXIT_FAILURE;
  bn_err e = bn_search_check_checkpoint(cfg, domain, snap, NULL, why, sizeof why);
  bn_config_destroy(&cfg);
  if (e != BN_OK) {
    fprintf(stderr, "banyan: %s: %s\n", used, why[0] ? why : bn_strerror(e));
    return BN_EXIT_FAILURE;
  }
  return BN_EXIT_OK;
}

static int run_command(int argc, char **argv, const char *name, const char *usage, const char *const *allowed,
                       int (*body)(const bn_cli_args *, const bn_snapshot *, const bn_domain *)) {
  bn_cli_args args;
  bool parsed = bn__cli_parse(argc, argv, name, allowed, &args);
  int status = BN_EXIT_USAGE;
  if (args.help) {
    fputs(usage, stdout);
    status = BN_EXIT_OK;
  } else if (parsed) {
    bn_snapshot snap = {0};
    bn_domain domain = {0};
    status = open_checkpoint(&args, &snap, &domain);
    if (status == BN_EXIT_OK) status = body(&args, &snap, &domain);
    bn_domain_close(&domain);
    bn_snapshot_free(&snap);
  }
  free(args.sets);
  return status;
}

static int inspect_body(const bn_cli_args *args, const bn_snapshot *snap, const bn_domain *domain) {
  (void)args;
  bn_checkpoint_print_summary(snap, domain, stdout);
  return BN_EXIT_OK;
}

static int export_body(const bn_cli_args *args, const bn_snapshot *snap, const bn_domain *domain) {
  if (!args->csv_path) {
    fprintf(stderr, "banyan export: --csv OUT is required\n");
    return BN_EXIT_USAGE;
  }
  bool to_stdout = strcmp(args->csv_path, "-") == 0;
  FILE *out = to_stdout ? stdout : fopen(args->csv_path, "w");
  if (!out) {
    fprintf(stderr, "banyan export: cannot write %s: %s\n", args->csv_path, strerror(errno));
    return BN_EXIT_FAILURE;
  }
  bn_err e = bn_checkpoint_export_csv(snap, domain, out);
  bool bad = e != BN_OK || ferror(out);
  if (!to_stdout) bad |= fclose(out) != 0;
  if (bad) fprintf(stderr, "banyan export: writing %s failed\n", args->csv_path);
  return bad ? BN_EXIT_FAILURE : BN_EXIT_OK;
}

int bn__cmd_inspect(int argc, char **argv) {
  static const char *const allowed[] = {NULL};
  return run_command(argc, argv, "inspect", inspect_usage, allowed, inspect_body);
}

int bn__cmd_export(int argc, char **argv) {
  static const char *const allowed[] = {"csv", NULL};
  return run_command(argc, argv, "export", export_usage, allowed, export_body);
}
