/* `banyan resume FILE`: continue a checkpointed run where it stopped, with the configuration
 * saved in the file; --set may change the budget, time limit, threads, engines and
 * checkpointing, but not what the search means (seed, selection rule, domain) unless
 * --force. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banyan/checkpoint.h"
#include "banyan/search.h"
#include "cli/cli.h"

static const char *const usage =
    "usage: [mpirun -n N] banyan resume FILE [--set section.key=value]... [--force] [--trust]\n"
    "                                   [--summary FILE] [--quiet]\n"
    "\n"
    "Continue the run checkpointed in FILE (made by `banyan run`) with the configuration saved\n"
    "in it: the graph, the results and the counters are loaded and checked, the iterations that\n"
    "were in flight are sent again, and the search goes on until its budget (or a new one:\n"
    "--set search.iterations=N). Checkpoints go back to FILE. If FILE is damaged, FILE.prev\n"
    "is used, with a warning. The number of ranks may differ from the first run. FILE is\n"
    "checked as `inspect` checks it, before any rank starts work. FILE may be a campaign\n"
    "(NAME.campaign, search.replicates > 1): every replicate is then checked and resumed.\n"
    "\n"
    "Resuming runs code that FILE names: the plug-in of domain.plugin is loaded and the\n"
    "program of exec.command run, as the run had them; resume says which before it loads\n"
    "anything. Resume only checkpoints you trust (`banyan inspect FILE` shows both without\n"
    "running them).\n"
    "\n"
    "  --set section.key=value  change an option: budget, time limit, threads, engine.*,\n"
    "                           checkpoint.*, output; others change the search itself and\n"
    "                           need --force\n"
    "  --force                  accept such changes (the run is then no longer reproducible)\n"
    "  --trust                  accept a domain.plugin, exec.command or exec.workdir other than\n"
    "                           the run's (given with --set): else refused\n"
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
  if (strcmp(name, "domain.plugin") == 0) return false; /* code to run: --trust (check_code) */
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

/* What resume will load or run: the plug-in, the evaluation program and where it runs. */
static const char *const code_options[] = {"domain.plugin", "exec.command", "exec.workdir"};
enum { N_CODE = sizeof code_options / sizeof code_options[0] };

/* The raw values of code_options in the saved configuration, with the overrides when
 * `args`, domain.plugin made absolute as the run does. Nothing is loaded: no declarer, no
 * finalize. values[i] are borrowed from *cfg (destroy it after use). */
static bn_err code_values(const char *text, const bn_cli_args *args, bn_config **cfg, const char *values[N_CODE]) {
  size_t n = 0;
  BN_CALL(bn_config_create(cfg));
  const bn_option *core = bn_config_core_options(&n);
  BN_CALL(bn_config_declare(*cfg, core, n));
  BN_CALL(bn_config_load_string(*cfg, text, "saved configuration"));
  for (int i = 0; args && i < args->n_sets; i++) BN_CALL(bn_config_set(*cfg, args->sets[i]));
  BN_CALL(bn_config_raw_absolute_path(*cfg, "domain.plugin"));
  for (size_t i = 0; i < N_CODE; i++) {
    const char *v = bn_config_raw(*cfg, code_options[i]);
    values[i] = v ? v : "";
  }
  return BN_OK;
}

static bool same_value(const char *a, const char *b) {
  while (*a == ' ' || *a == '\t') a++;
  while (*b == ' ' || *b == '\t') b++;
  size_t na = strlen(a), nb = strlen(b);
  while (na > 0 && (a[na - 1] == ' ' || a[na - 1] == '\t')) na--;
  while (nb > 0 && (b[nb - 1] == ' ' || b[nb - 1] == '\t')) nb--;
  return na == nb && strncmp(a, b, na) == 0;
}

/* Before anything is loaded: the plug-in and the program that resume will load and run
 * must be those the run had when it wrote the checkpoint (the values saved in it), unless
 * --trust; then say which they are. A value given again with --set unchanged is the same. */
static bn_err check_code(const char *path, const char *saved_text, const bn_cli_args *args) {
  bn_config *saved = NULL, *now = NULL;
  const char *was[N_CODE], *will[N_CODE];
  bn_err err = code_values(saved_text, NULL, &saved, was);
  if (err == BN_OK) err = code_values(saved_text, args, &now, will);
  for (size_t i = 0; err == BN_OK && i < N_CODE; i++) {
    if (same_value(was[i], will[i]) || args->trust) continue;
    fprintf(stderr, "banyan resume: %s: %s would be \"%s\", not \"%s\" as the run had it: pass --trust to %s\n",
            path, code_options[i], will[i], was[i], i == 0 ? "load that plug-in" : "run that program");
    err = BN_ERR_CONFIG;
  }
  if (err == BN_OK && will[0][0])
    fprintf(stderr, "banyan resume: %s: loading plug-in %s%s\n", path, will[0],
            same_value(was[0], will[0]) ? "" : " (changed, --trust)");
  if (err == BN_OK && will[1][0]) {
    char cwd[4096];
    const char *dir = will[2][0] ? will[2] : getcwd(cwd, sizeof cwd) ? cwd : ".";
    fprintf(stderr, "banyan resume: %s: evaluations run %s (exec.command, in %s)%s\n", path, will[1], dir,
            same_value(was[1], will[1]) && same_value(was[2], will[2]) ? "" : " (changed, --trust)");
  }
  bn_config_destroy(&saved);
  bn_config_destroy(&now);
  return err;
}

typedef struct resume_ctx {
  bn_snapshot snap;
  char used[4096];
  bn_cli_campaign campaign;
} resume_ctx;

/* `text` without the line `seed = ...` of its [search] section (caller frees). */
static char *without_seed(const char *text) {
  char *out = malloc(strlen(text) + 1), *o = out;
  if (!out) return NULL;
  bool in_search = false;
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
    if (line[0] == '[') in_search = strncmp(line, "[search]", 8) == 0;
    if (!(in_search && strncmp(line, "seed = ", 7) == 0)) {
      memcpy(o, line, len);
      o += len;
    }
    line += len;
  }
  *o = '\0';
  return out;
}

/* Replicate r's checkpoint belongs to this campaign: its run id is the one listed, its
 * seed the campaign's seed + r, and its configuration replicate 0's but for the seed (so
 * that the one plug-in and program check_code showed are those of every replicate). */
static bn_err check_replicate(const bn_cli_campaign *c, const bn_campaign *file, uint32_t r) {
  const bn_snapshot *snap = &c->snaps[r];
  if (snap->run_id != file->run_ids[r]) {
    fprintf(stderr, "banyan resume: %s: replicate %u: %s is the checkpoint of another run (run id %016llx, the "
            "campaign lists %016llx)\n", c->campaign_path, r, c->used[r], (unsigned long long)snap->run_id,
            (unsigned long long)file->run_ids[r]);
    return BN_ERR_CORRUPT;
  }
  if (snap->seed != bn_replicate_seed(file->seed, r)) {
    fprintf(stderr, "banyan resume: %s: replicate %u: %s has seed %llu, not %llu\n", c->campaign_path, r, c->used[r],
            (unsigned long long)snap->seed, (unsigned long long)bn_replicate_seed(file->seed, r));
    return BN_ERR_CORRUPT;
  }
  char *mine = without_seed(snap->config_text), *first = without_seed(c->snaps[0].config_text);
  const bool same = mine && first && strcmp(mine, first) == 0;
  free(mine);
  free(first);
  BN_CHECK(mine && first, BN_ERR_NOMEM, "no memory");
  if (!same) {
    fprintf(stderr, "banyan resume: %s: replicate %u: the configuration in %s differs from replicate 0's beyond "
            "its seed\n", c->campaign_path, r, c->used[r]);
    return BN_ERR_CORRUPT;
  }
  return BN_OK;
}

/* `banyan resume NAME.campaign`: every replicate from its own checkpoint (or its .prev),
 * each checked as a lone resume checks it, all before any rank starts work. The domain is
 * opened once, from replicate 0's configuration, which is also the engines'. */
static bn_err prepare_campaign(const bn_cli_args *args, bn_config **cfg, bn_domain *domain, bn_search_options *opt,
                               resume_ctx *ctx) {
  const char *path = args->config_path;
  bn_cli_campaign *c = &ctx->campaign;
  bn_campaign file = {0};
  char why[768] = "";
  bn_err e = bn_campaign_read(path, &file, why, sizeof why);
  if (e != BN_OK) {
    fprintf(stderr, "banyan resume: %s: %s\n", path, why[0] ? why : bn_strerror(e));
    return e == BN_ERR_NOMEM ? e : BN_ERR_CORRUPT;
  }
  char where[64];
  e = bn__cli_campaign_alloc(c, file.replicates, true);
  if (e == BN_OK) snprintf(c->campaign_path, sizeof c->campaign_path, "%s", path);
  if (e == BN_OK) e = bn__cli_lock_checkpoint(path);
  for (uint32_t r = 0; e == BN_OK && r < c->n; r++) {
    e = bn_campaign_replicate_path(path, r, c->paths[r], sizeof c->paths[r]);
    if (e == BN_OK) e = bn__cli_lock_checkpoint(c->paths[r]);
    if (e == BN_OK) e = bn__cli_read_checkpoint(c->paths[r], &c->snaps[r], c->used[r], sizeof c->used[r]);
    if (e == BN_OK) e = check_replicate(c, &file, r);
    if (e == BN_OK && r == 0) {
      /* Say what will be loaded and run, and refuse a change not asked for, before loading. */
      e = check_code(c->used[0], c->snaps[0].config_text, args);
      if (e == BN_OK) e = bn__cli_config_from_checkpoint(c->used[0], &c->snaps[0], args, cfg, domain);
      if (e == BN_OK) {
        char *now = bn_config_effective_text(*cfg);
        bool changed = now && report_changes(c->used[0], c->snaps[0].config_text, now, c->snaps[0].deterministic);
        if (!now) e = BN_ERR_NOMEM;
        free(now);
        bn_config_where(*cfg, "checkpoint.file", where, sizeof where);
        if (e == BN_OK && changed && !args->force) {
          fprintf(stderr, "banyan resume: these options change the search itself; pass --force to resume anyway\n");
          e = BN_ERR_CONFIG;
        } else if (e == BN_OK && bn_config_int(*cfg, "search.replicates") != 1) {
          fprintf(stderr, "banyan resume: %s: search.replicates is set when a campaign starts (banyan run), not "
                  "on resume\n", path);
          e = BN_ERR_CONFIG;
        } else if (e == BN_OK && strcmp(where, "--set") == 0) {
          fprintf(stderr, "banyan resume: %s: a campaign's checkpoints stay beside it: checkpoint.file cannot be "
                  "set\n", path);
          e = BN_ERR_CONFIG;
        }
      }
    }
    if (e == BN_OK) e = bn__cli_replicate_config(c->snaps[r].config_text, c->used[r], args, NULL, &c->cfgs[r]);
    if (e == BN_OK) {
      e = bn_search_check_checkpoint(c->cfgs[r], domain, c->used[r], &c->snaps[r], &c->reps[r].opt.resume_tree, why,
                                     sizeof why);
      if (e != BN_OK) fprintf(stderr, "banyan: %s: %s\n", c->used[r], why[0] ? why : bn_strerror(e));
    }
    if (e == BN_OK) {
      c->reps[r].cfg = c->cfgs[r];
      c->reps[r].opt.checkpoint_path = bn_config_bool(*cfg, "checkpoint.enabled") ? c->paths[r] : NULL;
      c->reps[r].opt.resume_from = &c->snaps[r];
      c->reps[r].opt.resume_path = c->used[r];
    }
  }
  bn_campaign_free(&file);
  if (e != BN_OK) {
    if (*cfg) bn_domain_close(domain);
    return e;
  }
  opt->n_replicates = c->n;
  opt->replicates = c->reps;
  return BN_OK;
}

static bn_err prepare_resume(const bn_cli_args *args, bn_config **cfg, bn_domain *domain, bn_search_options *opt,
                             void *ctxp) {
  resume_ctx *ctx = ctxp;
  const char *path = args->config_path;
  if (bn_campaign_is(path)) return prepare_campaign(args, cfg, domain, opt, ctx);
  /* Lock before reading: a run still writing this file must finish first. */
  BN_CALL(bn__cli_lock_checkpoint(path));
  BN_CALL(bn__cli_read_checkpoint(path, &ctx->snap, ctx->used, sizeof ctx->used));
  /* Say what will be loaded and run, and refuse a change not asked for, before loading. */
  BN_CALL(check_code(ctx->used, ctx->snap.config_text, args));
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
  if (bn_config_int(*cfg, "search.replicates") != 1) {
    fprintf(stderr, "banyan resume: %s: search.replicates is set when a campaign starts (banyan run), not on "
            "resume\n", ctx->used);
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
  char why[768] = "";
  bn_err e = bn_search_check_checkpoint(*cfg, domain, ctx->used, &ctx->snap, &opt->resume_tree, why, sizeof why);
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
  static const char *const allowed[] = {"summary", "quiet", "force", "trust", NULL};
  bn_cli_args args;
  bool parsed = bn__cli_parse(argc, argv, "resume", allowed, &args);
  int status = BN_EXIT_USAGE;
  if (args.help) {
    fputs(usage, stdout);
    status = BN_EXIT_OK;
  } else if (parsed) {
    resume_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) fprintf(stderr, "banyan resume: out of memory\n");
    status = ctx ? bn__cli_mpi_search(argc, argv, &args, prepare_resume, ctx) : BN_EXIT_FAILURE;
    if (ctx) bn_snapshot_free(&ctx->snap);
    if (ctx) bn__cli_campaign_free(&ctx->campaign);
    free(ctx);
  }
  free(args.sets);
  return status;
}
