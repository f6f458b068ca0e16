/* The command line's side of campaigns (search.replicates > 1): the replicates'
 * configurations and checkpoint paths for `run`, their checkpoints for `resume`. Each
 * replicate's configuration is the campaign's with search.seed = seed + r and
 * search.replicates = 1: exactly that of the separate run with its seed, which is what its
 * checkpoint then records (so `banyan resume NAME.r007.h5` continues that replicate alone). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banyan/checkpoint.h"
#include "banyan/search.h"
#include "cli/cli.h"

void bn__cli_campaign_free(bn_cli_campaign *c) {
  if (!c) return;
  for (uint32_t r = 0; c->cfgs && r < c->n; r++) bn_config_destroy(&c->cfgs[r]);
  for (uint32_t r = 0; c->snaps && r < c->n; r++) bn_snapshot_free(&c->snaps[r]);
  /* A resume_tree is the search's once it ran (as for a lone resume): not freed here. */
  free(c->cfgs);
  free(c->snaps);
  free(c->reps);
  free(c->paths);
  free(c->used);
  *c = (bn_cli_campaign){0};
}

bn_err bn__cli_campaign_alloc(bn_cli_campaign *c, uint32_t n, bool snapshots) {
  c->n = n;
  c->cfgs = calloc(n, sizeof *c->cfgs);
  c->reps = calloc(n, sizeof *c->reps);
  c->paths = calloc(n, sizeof *c->paths);
  c->used = calloc(n, sizeof *c->used);
  c->snaps = snapshots ? calloc(n, sizeof *c->snaps) : NULL;
  BN_CHECK(c->cfgs && c->reps && c->paths && c->used && (c->snaps || !snapshots), BN_ERR_NOMEM,
           "no memory for %" PRIu32 " replicates", n);
  return BN_OK;
}

bn_err bn__cli_replicate_config(const char *text, const char *origin, const bn_cli_args *args, const uint64_t *seed,
                                bn_config **out) {
  bn_config *cfg = NULL;
  bn_err err = BN_OK;
  char set[64];
  BN_TRY(bn__cli_new_config(&cfg));
  BN_TRY(bn_config_load_string(cfg, text, origin));
  for (int i = 0; args && i < args->n_sets; i++) BN_TRY(bn_config_set(cfg, args->sets[i]));
  if (seed) {
    snprintf(set, sizeof set, "search.seed=%" PRIu64, *seed);
    BN_TRY(bn_config_set(cfg, set));
  }
  BN_TRY(bn_config_set(cfg, "search.replicates=1"));
  if ((err = bn_config_finalize(cfg, stderr)) != BN_OK) {
    if (err != BN_ERR_NOMEM) err = BN_ERR_CONFIG;
    goto fail;
  }
  *out = cfg;
  return BN_OK;
fail:
  bn_config_destroy(&cfg);
  return err;
}

/* A checkpoint that holds no work: no iteration was ever claimed. */
static bool no_work(const char *path) {
  bn_snapshot snap = {0};
  char why[256];
  if (bn_checkpoint_read(path, &snap, why, sizeof why) != BN_OK) return false;
  const bool empty = snap.next_iteration == 0;
  bn_snapshot_free(&snap);
  return empty;
}

bn_err bn__cli_campaign_for_run(const bn_config *cfg, const char *checkpoint_path, bool overwrite,
                                const char *config_path, bn_cli_campaign *c, bn_search_options *opt) {
  const uint32_t n = (uint32_t)bn_config_int(cfg, "search.replicates");
  const uint64_t seed = (uint64_t)bn_config_int(cfg, "search.seed");
  BN_CALL(bn__cli_campaign_alloc(c, n, false));
  if (checkpoint_path) {
    BN_CALL(bn_campaign_path(checkpoint_path, c->campaign_path, sizeof c->campaign_path));
    for (uint32_t r = 0; r < n; r++)
      BN_CALL(bn_campaign_replicate_path(c->campaign_path, r, c->paths[r], sizeof c->paths[r]));
    /* Without NAME.campaign, replicates on disk can be those of a campaign killed before it
     * wrote it (right after their first checkpoints, before any work): started over. */
    const bool listed = access(c->campaign_path, F_OK) == 0;
    const char *exists = listed ? c->campaign_path : NULL;
    for (uint32_t r = 0; !exists && r < n; r++)
      if (access(c->paths[r], F_OK) == 0 && !(no_work(c->paths[r]))) exists = c->paths[r];
    if (exists && !overwrite) {
      fprintf(stderr,
              "banyan run: %s exists (a checkpoint of an earlier campaign).\n"
              "  continue it:        banyan resume %s\n"
              "  start over anyway:  banyan run %s --overwrite   (or set checkpoint.file)\n",
              exists, c->campaign_path, config_path);
      return BN_ERR_CONFIG;
    }
    BN_CALL(bn__cli_lock_checkpoint(c->campaign_path));
    for (uint32_t r = 0; r < n; r++) BN_CALL(bn__cli_lock_checkpoint(c->paths[r]));
  }
  char *text = bn_config_effective_text(cfg);
  BN_CHECK(text, BN_ERR_NOMEM, "no memory");
  bn_err err = BN_OK;
  for (uint32_t r = 0; err == BN_OK && r < n; r++) {
    const uint64_t seed_r = bn_replicate_seed(seed, r);
    err = bn__cli_replicate_config(text, config_path, NULL, &seed_r, &c->cfgs[r]);
    c->reps[r].cfg = c->cfgs[r];
    c->reps[r].opt.checkpoint_path = checkpoint_path ? c->paths[r] : NULL;
  }
  free(text);
  BN_CALL(err);
  opt->n_replicates = n;
  opt->replicates = c->reps;
  opt->campaign_path = checkpoint_path ? c->campaign_path : NULL;
  return BN_OK;
}
