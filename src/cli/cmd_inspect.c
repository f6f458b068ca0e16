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
    "engine use, checkpoint history, timeline and results log. Every segment of the results\n"
    "log is checked to be there, of this run, with the rows the checkpoint expects. The file\n"
    "and its segments are only read; a run may be writing them meanwhile (the view is that of\n"
    "its last checkpoint).\n"
    "\n"
    "  --verify  also read every result row (streamed, bounded memory) and check each\n"
    "            segment's checksum and every row\n"
    "  --schema  print the tables of the file format (docs/checkpoint-format.md) and exit\n"
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
 * resume would refuse is refused here too. `used`: FILE, or FILE.prev if FILE is damaged. */
static int open_checkpoint(const bn_cli_args *args, bn_snapshot *snap, bn_domain *domain, char *used) {
  char why[512] = "";
  if (bn__cli_read_checkpoint(args->config_path, snap, used, 4096) != BN_OK) return BN_EXIT_FAILURE;
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
                       int (*body)(const bn_cli_args *, const char *, const bn_snapshot *, const bn_domain *)) {
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
    bn_domain domain = {0};
    char used[4096] = "";
    status = open_checkpoint(&args, &snap, &domain, used);
    if (status == BN_EXIT_OK) status = body(&args, used, &snap, &domain);
    bn_domain_close(&domain);
    bn_snapshot_free(&snap);
  }
  free(args.sets);
  return status;
}

/* Stream every row of the results log through the checks of bn_results_next. */
static int verify_results(const char *used, const bn_snapshot *snap) {
  enum { BATCH = 4096 };
  char why[512] = "";
  bn_results_reader *rd = NULL;
  bn_result_row *rows = malloc(BATCH * sizeof *rows);
  unsigned char *states = malloc(BATCH * (size_t)snap->state_size);
  bn_err e = rows && states ? bn_results_open(used, snap, &rd, why, sizeof why) : BN_ERR_NOMEM;
  uint64_t total = 0;
  size_t n = 0;
  while (e == BN_OK && (e = bn_results_next(rd, rows, states, BATCH, &n)) == BN_OK && n > 0) total += n;
  if (e != BN_OK) fprintf(stderr, "banyan: %s: %s\n", used, rd ? bn_results_why(rd) : why[0] ? why : bn_strerror(e));
  else printf("verified: %llu result rows in %llu segments, checksums and rows ok\n", (unsigned long long)total,
              (unsigned long long)snap->n_segments);
  bn_results_close(&rd);
  free(rows);
  free(states);
  return e == BN_OK ? BN_EXIT_OK : BN_EXIT_FAILURE;
}

static int inspect_body(const bn_cli_args *args, const char *used, const bn_snapshot *snap, const bn_domain *domain) {
  bn_checkpoint_print_summary(snap, domain, stdout);
  fflush(stdout);
  return args->verify ? verify_results(used, snap) : BN_EXIT_OK;
}

static int export_body(const bn_cli_args *args, const char *used, const bn_snapshot *snap, const bn_domain *domain) {
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
