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
    "FILE may be a campaign (NAME.campaign, search.replicates > 1): each replicate is then\n"
    "checked and summarised in one line (`banyan inspect NAME.r007.h5` for the details).\n"
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
static int open_checkpoint(const char *path, bn_snapshot *snap, bn_config **cfg, bn_domain *domain, char *used) {
  char why[768] = "";
  if (bn__cli_read_checkpoint(path, snap, used, 4096) != BN_OK) return BN_EXIT_FAILURE;
  if (bn__cli_reader_config(used, snap, cfg, domain) != BN_OK) return BN_EXIT_FAILURE;
  bn_err e = bn_search_check_checkpoint(*cfg, domain->ops ? domain : NULL, used, snap, NULL, why, sizeof why);
  if (e != BN_OK) {
    fprintf(stderr, "banyan: %s: %s\n", used, why[0] ? why : bn_strerror(e));
    return BN_EXIT_FAILURE;
  }
  return BN_EXIT_OK;
}

/* `banyan inspect NAME.campaign`: the campaign file checked, then each replicate's
 * checkpoint checked as `inspect` checks a lone one and summarised in one line; the
 * details of replicate r: `banyan inspect NAME.r00r.h5`. A damaged campaign file or
 * replicate: one line on stderr, exit status 1. */
static int inspect_campaign(const bn_cli_args *args) {
  const char *path = args->config_path;
  bn_campaign file = {0};
  char why[768] = "";
  bn_err e = bn_campaign_read(path, &file, why, sizeof why);
  if (e != BN_OK) {
    fprintf(stderr, "banyan: %s: %s\n", path, why[0] ? why : bn_strerror(e));
    return BN_EXIT_FAILURE;
  }
  printf("campaign %s\n  replicates       %u (seeds %llu .. %llu)\n", path, file.replicates,
         (unsigned long long)file.seed, (unsigned long long)bn_replicate_seed(file.seed, file.replicates - 1));
  printf("  replicate  file                 seed   iterations    budget  failures  state     best (mean, visits, "
         "state)\n");
  int status = BN_EXIT_OK;
  uint64_t done = 0, budget = 0, failed = 0, finished = 0;
  for (uint32_t r = 0; r < file.replicates && status == BN_EXIT_OK; r++) {
    char rpath[4096], used[4096] = "";
    bn_snapshot snap = {0};
    bn_config *cfg = NULL;
    bn_domain domain = {0};
    if (bn_campaign_replicate_path(path, r, rpath, sizeof rpath) != BN_OK) status = BN_EXIT_FAILURE;
    if (status == BN_EXIT_OK) status = open_checkpoint(rpath, &snap, &cfg, &domain, used);
    if (status == BN_EXIT_OK && (snap.run_id != file.run_ids[r] || snap.seed != bn_replicate_seed(file.seed, r))) {
      fprintf(stderr, "banyan: %s: replicate %u: %s is not this campaign's (run id or seed)\n", path, r, used);
      status = BN_EXIT_FAILURE;
    }
    if (status == BN_EXIT_OK) {
      const char *base = strrchr(used, '/');
      printf("  %9u  %-18s %6llu %12llu %9llu %9llu  %-8s  ", r, base ? base + 1 : used, (unsigned long long)snap.seed,
             (unsigned long long)snap.completed, (unsigned long long)snap.budget, (unsigned long long)snap.failures,
             snap.finished ? "finished" : "stopped");
      if (snap.n_best > 0)
        printf("%.6f  %llu  %s\n", snap.best[0].mean, (unsigned long long)snap.best[0].visits, snap.best[0].text);
      else
        printf("-\n");
      done += snap.completed;
      budget += snap.budget;
      failed += snap.failures;
      finished += snap.finished != 0;
    }
    bn_domain_close(&domain);
    bn_config_destroy(&cfg);
    bn_snapshot_free(&snap);
  }
  if (status == BN_EXIT_OK)
    printf("  total      %llu of %llu iterations, %llu failed; %llu of %u replicates finished%s\n",
           (unsigned long long)done, (unsigned long long)budget, (unsigned long long)failed,
           (unsigned long long)finished, file.replicates,
           finished == file.replicates ? "" : " (continue: banyan resume with the campaign file)");
  fflush(stdout);
  bn_campaign_free(&file);
  return status;
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
  } else if (parsed && strcmp(name, "inspect") == 0 && bn_campaign_is(args.config_path)) {
    status = inspect_campaign(&args);
  } else if (parsed && bn_campaign_is(args.config_path)) {
    fprintf(stderr, "banyan %s: %s is a campaign: %s each replicate's checkpoint (NAME.r000.h5, ...)\n", name,
            args.config_path, name);
    status = BN_EXIT_FAILURE;
  } else if (parsed) {
    bn_snapshot snap = {0};
    bn_config *cfg = NULL;
    bn_domain domain = {0};
    char used[4096] = "";
    status = open_checkpoint(args.config_path, &snap, &cfg, &domain, used);
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
