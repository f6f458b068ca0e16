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
    "usage: banyan inspect FILE [--verify]\n"
    "       banyan inspect --schema\n"
    "\n"
    "Summarise the checkpoint FILE: run identity, counters, best states, failures by reason,\n"
    "engine use, checkpoint history, timeline and results log. FILE is checked as `resume`\n"
    "checks it (the graph, the iterations in flight, every row of the results log and each\n"
    "segment's checksum): a file resume would refuse is reported in one line, exit status 1.\n"
    "The file and its segments are only read, and nothing they name is loaded or run: a\n"
    "plug-in (domain.plugin) is not loaded, so its states are shown as saved or in hex, and\n"
    "exec.command is not run. A run may be writing the file meanwhile (the view is that of\n"
    "its last checkpoint).\n"
    "\n"
    "  --verify  also say how many rows were checked\n"
    "  --schema  print the tables of the file format (docs/checkpoint-format.md) and exit\n"
    "\n"
    "exit status: 0 ok, 1 unreadable or damaged file, 2 bad command line\n";

static const char *const export_usage =
    "usage: banyan export FILE --csv OUT\n"
    "\n"
    "Write the results table of the checkpoint FILE (one row per finished job: ids, kind,\n"
    "status, engine, reward, times, failure reason, state) as CSV to OUT (- for stdout).\n"
    "FILE is checked as `inspect` and `resume` check it, and only read: a plug-in it names is\n"
    "not loaded (states are then written in hex) and exec.command is not run.\n"
    "\n"
    "exit status: 0 ok, 1 unreadable or damaged file or OUT not writable, 2 bad command line\n";

/* What the file names that a reader does not run, said in `inspect`'s output. */
static void put_not_run(const bn_config *cfg, FILE *out) {
  const char *plugin = bn_config_string(cfg, "domain.plugin"), *command = bn_config_string(cfg, "exec.command");
  if (!plugin[0] && !command[0]) return;
  fprintf(out, "code the file names (inspect and export only read: nothing is loaded or run)\n");
  if (plugin[0])
    fprintf(out, "  plug-in          %s (not loaded: states shown as saved in /best or in hex; the graph is "
            "checked without replaying its expansions, which resume does)\n", plugin);
  if (command[0]) fprintf(out, "  exec.command     %s (not run)\n", command);
}

/* Read FILE and check it with the one validation `resume` runs (bn_search_check_checkpoint):
 * a file that resume would refuse is refused here too, in one line. Nothing the file names
 * is loaded or run: a plug-in domain leaves *domain closed. `used`: FILE, or FILE.prev if
 * FILE is damaged. */
static int open_checkpoint(const bn_cli_args *args, bn_snapshot *snap, bn_config **cfg, bn_domain *domain,
                           char *used) {
  char why[768] = "";
  if (bn__cli_read_checkpoint(args->config_path, snap, used, 4096) != BN_OK) return BN_EXIT_FAILURE;
  if (bn__cli_reader_config(used, snap, cfg, domain) != BN_OK) return BN_EXIT_FAILURE;
  bn_err e = bn_search_check_checkpoint(*cfg, domain->ops ? domain : NULL, used, snap, NULL, why, sizeof why);
  if (e != BN_OK) {
    fprintf(stderr, "banyan: %s: %s\n", used, why[0] ? why : bn_strerror(e));
    return BN_EXIT_FAILURE;
  }
  return BN_EXIT_OK;
}

static int run_command(int argc, char **argv, const char *name, const char *usage, const char *const *allowed,
                       int (*body)(const bn_cli_args *, const char *, const bn_snapshot *, const bn_config *,
                                   const bn_domain *)) {
  bn_cli_args args;
  bool parsed = bn__cli_parse(argc, argv, name, allowed, &args);
  int status = BN_EXIT_USAGE;
  if (args.help) {
    fputs(usage, stdout);
    status = BN_EXIT_OK;
  } else if (parsed && args.schema) {
    bn_checkpoint_print_schema(stdout);
    status = BN_EXIT_OK;
  } else if (parsed) {
    bn_snapshot snap = {0};
    bn_config *cfg = NULL;
    bn_domain domain = {0};
    char used[4096] = "";
    status = open_checkpoint(&args, &snap, &cfg, &domain, used);
    if (status == BN_EXIT_OK) status = body(&args, used, &snap, cfg, domain.ops ? &domain : NULL);
    bn_domain_close(&domain);
    bn_config_destroy(&cfg);
    bn_snapshot_free(&snap);
  }
  free(args.sets);
  return status;
}

static int inspect_body(const bn_cli_args *args, const char *used, const bn_snapshot *snap, const bn_config *cfg,
                        const bn_domain *domain) {
  (void)used;
  put_not_run(cfg, stdout);
  bn_checkpoint_print_summary(snap, domain, stdout);
  /* The validation read every row already (bn_results_next: checksums, rows, failures). */
  if (args->verify)
    printf("verified: %llu result rows in %llu segments, checksums and rows ok\n", (unsigned long long)snap->completed,
           (unsigned long long)snap->n_segments);
  fflush(stdout);
  return BN_EXIT_OK;
}

static int export_body(const bn_cli_args *args, const char *used, const bn_snapshot *snap, const bn_config *cfg,
                       const bn_domain *domain) {
  (void)cfg;
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
  if (!domain)
    fprintf(stderr, "banyan export: %s: states in hex: the plug-in its configuration names is not loaded (export "
            "only reads the file)\n", used);
  bn_err e = bn_checkpoint_export_csv(used, snap, domain, out);
  bool bad = e != BN_OK || ferror(out);
  if (!to_stdout) bad |= fclose(out) != 0;
  if (bad) fprintf(stderr, "banyan export: writing %s failed\n", args->csv_path);
  return bad ? BN_EXIT_FAILURE : BN_EXIT_OK;
}

int bn__cmd_inspect(int argc, char **argv) {
  static const char *const allowed[] = {"verify", "schema", NULL};
  return run_command(argc, argv, "inspect", inspect_usage, allowed, inspect_body);
}

int bn__cmd_export(int argc, char **argv) {
  static const char *const allowed[] = {"csv", NULL};
  return run_command(argc, argv, "export", export_usage, allowed, export_body);
}
