/* The built-in `circuit` domain: gene-regulatory circuit topologies searched for a behaviour
 * (CIRCUIT-MODEL.md). This file holds the option table, init/fini from a config and the
 * bn_domain_ops table; the grammar, canonical forms, text and rewards live in the files
 * next to it. */
#include "banyan/domain.h"
#include "circuit/circuit.h"
#include "circuit/oscillation.h"

/* "bistability|..." from the reward list in circuit.h. */
#define BN__CIRCUIT_CHOICE(name) "|" #name
static const char reward_choices_bar[] = "" BN__CIRCUIT_REWARDS(BN__CIRCUIT_CHOICE);
#undef BN__CIRCUIT_CHOICE

static const bn_option circuit_options[] = {
    {"domain.circuit.root", BN_OPT_STRING, "ABC::", 0, 0, NULL,
     "components (1-8 distinct upper-case letters) and optional interactions, e.g. ABC:: or "
     "ABC::ABa"},
    {"domain.circuit.max_interactions", BN_OPT_INT, "0", 0, 64, NULL,
     "most interactions in a circuit (0: number of components squared)"},
    {"domain.circuit.fixed", BN_OPT_STRING, "", 0, 0, NULL,
     "component letters kept in place (not permuted) in canonical forms"},
    {"domain.circuit.reward", BN_OPT_ENUM, "bistability", 0, 0, reward_choices_bar + 1,
     "reward job run on engines"},
    {"domain.circuit.delay", BN_OPT_REAL, "0", 0, 3600,
     NULL, "seconds each evaluation sleeps (the tutorial's 'expensive' flag: 0.1)"},
    BN__OSC_OPTIONS,
};

static int circuit_init(const bn_config *cfg, void **ctx, bn_domain_info *info, char *err,
                        size_t errlen) {
  bn__circuit_params p = {
      .root = bn_config_string(cfg, "domain.circuit.root"),
      .max_interactions = (int)bn_config_int(cfg, "domain.circuit.max_interactions"),
      .fixed = bn_config_string(cfg, "domain.circuit.fixed"),
      .reward = bn_config_enum(cfg, "domain.circuit.reward"),
      .delay = bn_config_real(cfg, "domain.circuit.delay"),
  };
  bn__circuit_ctx *c;
  const int rc = bn__circuit_setup(&p, cfg, &c, err, errlen);
  if (rc != 0) return rc; /* ENOMEM, or 1 for options to fix */
  *ctx = c;
  *info = c->info;
  return 0;
}

static void circuit_fini(void *ctx) { bn__circuit_free(ctx); }

BN_API const bn_domain_ops bn_circuit_domain = {
    .api_version = BN_DOMAIN_API_VERSION,
    .name = "circuit",
    .summary = "gene-regulatory circuit topologies (CircuiTree grammar), bistability or oscillation reward",
    .options = circuit_options,
    .n_options = sizeof circuit_options / sizeof circuit_options[0],
    .init = circuit_init,
    .fini = circuit_fini,
    .root = bn__circuit_root,
    .actions = bn__circuit_actions,
    .apply = bn__circuit_apply,
    .is_terminal = bn__circuit_is_terminal,
    .canonicalize = bn__circuit_canonicalize,
    .evaluate = bn__circuit_evaluate,
    .describe = bn__circuit_describe,
    .parse = bn__circuit_parse,
};
