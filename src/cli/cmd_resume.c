/* `banyan resume FILE`: continue a checkpointed run where it stopped, with the configuration
 * saved in the file; --set may change the budget, time limit, threads, engines and
 * checkpointing, but not what the search means (seed, selection rule, domain) unless
 * --force. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/checkpoint.h"
#include "banyan/search.h"
#include "cli/cli.h"

static const char *const usage =
    "usage: [mpirun -n N] banyan resume FILE [--set section.key=value]... [--force]\n"
    "                                   [--summary FILE] [--quiet]\n"
    "\n"
    "Continue the run checkpointed in FILE (made by `banyan run`) with the configuration saved\n"
    "in it: the graph, the results and the counters are loaded and checked, the iterations that\n"
    "were in flight are sent again, and the search goes on until its budget (or a new one:\n"
    "--set search.iterations=N). Checkpoints go back to FILE. If FILE is damaged, FILE.prev\n"
    "is used, with a warning. The number of ranks may differ from the first run.\n"
    "\n"
    "  --set section.key=value  change an option: budget, time limit, threads, engine.*,\n"
    "                           checkpoint.*, output; others change the search itself and\n"
    "                           need --force\n"
    "  --force                  accept such changes (the run is then no longer reproducible)\n"
    "  --summary FILE, --quiet  as for `banyan run`\n"
    "\n"
    "exit status: 0 finished, 1 runtime error or unusable checkpoint, 2 bad command line or\n"
    "             refused configuration, 3 stopped early by a signal: checkpointed, resume me\n";

/* Options whose change makes the resumed run a different search. */
static bool locked(const char *name, bool deterministic) {
  static const char *const names[] = {"search.seed", "search.c", "search.selection", "search.virtual_loss",
                                      "search.exhaust_after", "search.deterministic"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0) return true;
  if (deterministic && strcmp(name, "search.max_in_flight") == 0) return true;
  return strncmp(name, "domain.", 7) == 0;
}

/* The value of section.key in an effective INI text, or NULL; *n its length. */
static const char *ini_value(const char *text, const char *name, size_t *n) {
  const char *dot = strrchr(name, '.');
  size_t slen = (size_t)(dot - name);
  bool in_section = false;
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len > 0 && line[0] == '[') {
      in_section = len == slen + 2 && strncmp(line + 1, name, slen) == 0;
    } else if (in_section) {
      size_t klen = strlen(dot + 1);
      if (len >= klen + 3 && strncmp(line, dot + 1, klen) == 0 && strncmp(line + klen, " = ", 3) == 0) {
        *n = len - klen - 3;
        return line + klen + 3;
      }
    }
    line += len + (end ? 1 : 0);
  }
  return NULL;
}

/* Print every locked option the overrides changed; true if there was one. */
static bool report_changes(const char *path, const char *saved, const char *now, bool deterministic) {
  bool changed = false;
  for (const char *line = now, *section = NULL; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len > 1 && line[0] == '[') {
      section = line + 1;
    } else if (section && len > 0) {
      const char *eq = strstr(line, " = ");
      if (eq && eq < line + len) {
        char name[256];
        size_t slen = (size_t)(strchr(section, ']') - section);
        snprintf(name, sizeof name, "%.*s.%.*s", (int)slen, section, (int)(eq - line), line);
        size_t n_old = 0, n_new = len - (size_t)(eq + 3 - line);
        const char *old = ini_value(saved, name, &n_old);
        if (locked(name, deterministic) && (!old || n_old != n_new || strncmp(old, eq + 3, n_new) != 0)) {
          fprintf(stderr, "banyan resume: %s: %s was %.*s in %s, now %.*s\n", path, name, (int)n_old,
                  old ? old : "", path, (int)n_new, eq + 3);
          changed = true;
        }
      }
    }
    line += len + (end ? 1 : 0);
  }
  return changed;
}

typedef struct resume_ctx {
  bn_snapshot snap;
  char used[4096];
} resume_ctx;

static bn_err prepare_resume(const bn_cli_args *args, bn_config **cfg, bn_domain *domain, bn_search_options *opt,
                             void *ctxp) {
  resume_ctx *ctx = ctxp;
  const char *path = args->config_path;
  /* Lock before reading: a run still writing this file must finish first. */
  BN_CALL(bn__cli_lock_checkpoint(path));
  BN_CALL(bn__cli_read_checkpoint(path, &ctx->snap, ctx->used, sizeof ctx->used));
  BN_CALL(bn__cli_config_from_checkpoint(ctx->used, &ctx->snap, args, cfg, domain));
  char *now = bn_config_effective_text(*cfg);
  BN_CHECK(now, BN_ERR_NOMEM, "no memory");
  bool changed = report_changes(ctx->used, ctx->snap.config_text, now, ctx->snap.deterministic);
  free(now);
  if (changed && !args->force) {
    fprintf(stderr, "banyan resume: these options change the search itself; pass --force to resume anyway\n");
    bn_domain_close(domain);
    return BN_ERR_CONFIG;
  }
  /* Checkpoints go back to the file resumed, unless --set checkpoint.file says otherwise. */
  char where[64];
  bn_config_where(*cfg, "checkpoint.file", where, sizeof where);
  const char *file = strcmp(where, "--set") == 0 ? bn_config_string(*cfg, "checkpoint.file") : path;
  if (bn_config_bool(*cfg, "checkpoint.enabled")) {
    if (file != path) BN_CALL(bn__cli_lock_checkpoint(file));
    opt->checkpoint_path = strdup(file);
    BN_CHECK(opt->checkpoint_path, BN_ERR_NOMEM, "no memory");
  }
  char why[512] = "";
  bn_err e = bn_search_check_checkpoint(*cfg, domain, &ctx->snap, &opt->resume_tree, why, sizeof why);
  if (e != BN_OK) {
    fprintf(stderr, "banyan: %s: %s\n", ctx->used, why[0] ? why : bn_strerror(e));
    bn_domain_close(domain);
    return e;
  }
  opt->resume_from = &ctx->snap;
  opt->resume_path = ctx->used;
  return BN_OK;
}

int bn__cmd_resume(int argc, char **argv) {
  static const char *const allowed[] = {"summary", "quiet", "force", NULL};
  bn_cli_args args;
  bool parsed = bn__cli_parse(argc, argv, "resume", allowed, &args);
  int status = BN_EXIT_USAGE;
  if (args.help) {
    fputs(usage, stdout);
    status = BN_EXIT_OK;
  } else if (parsed) {
    resume_ctx *ctx = calloc(1, sizeof *ctx);
    status = ctx ? bn__cli_mpi_search(argc, argv, &args, prepare_resume, ctx) : BN_EXIT_FAILURE;
    if (ctx) bn_snapshot_free(&ctx->snap);
    free(ctx);
  }
  free(args.sets);
  return status;
}
