/* The reaction network of a circuit for the oscillation reward (CIRCUIT-MODEL.md §4
 * "Species", "Reactions"): M components and their edges in the canonical token order, the
 * 4M + 3(A + R) reactions in the table-driven form the simulation runs (which counts and
 * rates make each propensity, which counts each firing changes), and for each reaction the
 * reactions whose propensity its firing can change, so that the simulation recomputes only
 * those. */
#include <string.h>

#include "circuit/oscillation.h"

/* Propensity count[amount] * rate[table + count[level]]; changes padded with no-ops on the
 * scratch slots. */
static void set_form(bn__osc_reaction *re, int amount, int table, int level, int n_changes,
                     const int *slot, const int *delta) {
  re->amount = (uint8_t)amount;
  re->table = (uint8_t)table;
  re->level = (uint8_t)level;
  for (int k = 0; k < 4; k++) {
    re->slot[k] = (uint8_t)(k < n_changes ? slot[k] : BN__OSC_SLOT_SCRATCH + k);
    re->delta[k] = (int8_t)(k < n_changes ? delta[k] : 0);
  }
}

static void compile(const bn__osc_network *net, bn__osc_reaction *re) {
  const int k = re->index;
  switch ((bn__osc_kind)re->kind) {
    case BN__OSC_TRANSCRIBE:
      set_form(re, BN__OSC_SLOT_ONE, BN__OSC_RATE_K_TX, BN__OSC_SLOT_TX_LEVEL(net, k), 1,
               (int[]){BN__OSC_SLOT_MRNA(net, k)}, (int[]){+1});
      break;
    case BN__OSC_TRANSLATE:
      set_form(re, BN__OSC_SLOT_MRNA(net, k), BN__OSC_RATE_KP, BN__OSC_SLOT_ZERO, 1,
               (int[]){BN__OSC_SLOT_PROTEIN(net, k)}, (int[]){+1});
      break;
    case BN__OSC_MRNA_DECAY:
      set_form(re, BN__OSC_SLOT_MRNA(net, k), BN__OSC_RATE_GAMMA_M, BN__OSC_SLOT_ZERO, 1,
               (int[]){BN__OSC_SLOT_MRNA(net, k)}, (int[]){-1});
      break;
    case BN__OSC_PROTEIN_DECAY:
      set_form(re, BN__OSC_SLOT_PROTEIN(net, k), BN__OSC_RATE_GAMMA_P, BN__OSC_SLOT_ZERO, 1,
               (int[]){BN__OSC_SLOT_PROTEIN(net, k)}, (int[]){-1});
      break;
    case BN__OSC_BIND:
    case BN__OSC_UNBIND:
    case BN__OSC_BOUND_DECAY: {
      const int x = net->source[k], y = net->target[k];
      const int sign = re->kind == BN__OSC_BIND ? +1 : -1;
      const int level_step = net->activates[k] ? 3 : 1; /* tx level 3a + r */
      const int promoter[2] = {BN__OSC_SLOT_OCCUPANCY(net, y), BN__OSC_SLOT_TX_LEVEL(net, y)};
      if (re->kind == BN__OSC_BOUND_DECAY) {
        set_form(re, BN__OSC_SLOT_COMPLEX(net, k), BN__OSC_RATE_GAMMA_P, BN__OSC_SLOT_ZERO, 3,
                 (int[]){BN__OSC_SLOT_COMPLEX(net, k), promoter[0], promoter[1]},
                 (int[]){-1, -1, -level_step});
      } else {
        const int slots[4] = {BN__OSC_SLOT_PROTEIN(net, x), BN__OSC_SLOT_COMPLEX(net, k),
                              promoter[0], promoter[1]};
        const int deltas[4] = {-sign, sign, sign, sign * level_step};
        if (re->kind == BN__OSC_BIND)
          set_form(re, BN__OSC_SLOT_PROTEIN(net, x), BN__OSC_RATE_K_ON, promoter[0], 4, slots,
                   deltas);
        else
          set_form(re, BN__OSC_SLOT_ONE, BN__OSC_RATE_K_OFF, BN__OSC_SLOT_COMPLEX(net, k), 4,
                   slots, deltas);
      }
      break;
    }
  }
}

/* Add reaction r to the dependency list of `to` unless it is there already. */
static void add_dep(bn__osc_reaction *to, int r) {
  for (int k = 0; k < to->n_deps; k++)
    if (to->deps[k] == r) return;
  to->deps[to->n_deps++] = (uint8_t)r;
}

void bn__osc_network_build(const bn__circuit_ctx *c, const uint8_t *state, bn__osc_network *net) {
  const int n = c->n;
  memset(net, 0, sizeof *net);
  net->n_components = n;
  /* Row-major order of the matrix is the byte order of the tokens "XYt" (circuit.h). */
  int e = 0;
  for (int x = 0; x < n; x++)
    for (int y = 0; y < n; y++) {
      int cell = BN__CIRCUIT_CELL(state, n, x, y);
      if (cell == BN__CIRCUIT_NONE) continue;
      net->source[e] = (uint8_t)x;
      net->target[e] = (uint8_t)y;
      net->activates[e] = cell == BN__CIRCUIT_ACT;
      e++;
    }
  net->n_edges = e;

  /* Scan order: binding and unbinding of every edge, then translation and protein decay,
   * transcription and mRNA decay of every component, then bound decay. */
  int bind[BN__OSC_MAX_EDGES], unbind[BN__OSC_MAX_EDGES], bound_decay[BN__OSC_MAX_EDGES];
  int translate[BN__CIRCUIT_MAX_N], protein_decay[BN__CIRCUIT_MAX_N];
  int transcribe[BN__CIRCUIT_MAX_N], mrna_decay[BN__CIRCUIT_MAX_N];
  int r = 0;
#define BN__OSC_ADD(kind_, index_, slot)                  \
  do {                                                    \
    net->reactions[r].kind = (uint8_t)(kind_);            \
    net->reactions[r].index = (uint8_t)(index_);          \
    (slot) = r++;                                         \
  } while (0)
  for (int j = 0; j < e; j++) {
    BN__OSC_ADD(BN__OSC_BIND, j, bind[j]);
    BN__OSC_ADD(BN__OSC_UNBIND, j, unbind[j]);
  }
  for (int i = 0; i < n; i++) {
    BN__OSC_ADD(BN__OSC_TRANSLATE, i, translate[i]);
    BN__OSC_ADD(BN__OSC_PROTEIN_DECAY, i, protein_decay[i]);
  }
  for (int i = 0; i < n; i++) {
    BN__OSC_ADD(BN__OSC_TRANSCRIBE, i, transcribe[i]);
    BN__OSC_ADD(BN__OSC_MRNA_DECAY, i, mrna_decay[i]);
  }
  for (int j = 0; j < e; j++) BN__OSC_ADD(BN__OSC_BOUND_DECAY, j, bound_decay[j]);
#undef BN__OSC_ADD
  net->n_reactions = r;

  /* The table-driven form, and what each species change touches. */
  for (int k = 0; k < r; k++) {
    bn__osc_reaction *re = &net->reactions[k];
    compile(net, re);
    const int i = re->index;
    switch ((bn__osc_kind)re->kind) {
      case BN__OSC_TRANSCRIBE:
      case BN__OSC_MRNA_DECAY: /* mRNA_i */
        add_dep(re, translate[i]);
        add_dep(re, mrna_decay[i]);
        break;
      case BN__OSC_TRANSLATE:
      case BN__OSC_PROTEIN_DECAY: /* P_i */
        add_dep(re, protein_decay[i]);
        for (int j = 0; j < e; j++)
          if (net->source[j] == i) add_dep(re, bind[j]);
        break;
      case BN__OSC_BIND:
      case BN__OSC_UNBIND:
      case BN__OSC_BOUND_DECAY: {
        /* C_j and the promoter of Y; binding and unbinding also move P_X. */
        const int x = net->source[i], y = net->target[i];
        add_dep(re, unbind[i]);
        add_dep(re, bound_decay[i]);
        add_dep(re, transcribe[y]);
        for (int j = 0; j < e; j++)
          if (net->target[j] == y) add_dep(re, bind[j]);
        if (re->kind != BN__OSC_BOUND_DECAY) {
          add_dep(re, protein_decay[x]);
          for (int j = 0; j < e; j++)
            if (net->source[j] == x) add_dep(re, bind[j]);
        }
        break;
      }
    }
  }
}
