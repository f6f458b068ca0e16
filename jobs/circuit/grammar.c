/* The circuit grammar (CircuiTree's SimpleNetworkGrammar, CIRCUIT-MODEL.md §1): legal actions
 * with the connectivity rule and the interaction bound, applying them, terminal states. */
#include <assert.h>
#include <string.h>

#include "circuit/circuit.h"

void bn__circuit_root(const void *ctx, void *state) {
  const bn__circuit_ctx *c = ctx;
  memcpy(state, c->root, c->info.state_size);
}

bool bn__circuit_is_terminal(const void *ctx, const void *state) {
  (void)ctx;
  return ((const uint8_t *)state)[0] != 0;
}

int bn__circuit_count(const bn__circuit_ctx *c, const uint8_t *state) {
  int k = 0;
  for (int i = 0; i < c->n * c->n; i++) k += state[1 + i] != BN__CIRCUIT_NONE;
  return k;
}

int bn__circuit_actions(const void *ctx, const void *state, bn_action *out, int max) {
  const bn__circuit_ctx *c = ctx;
  const uint8_t *s = state;
  const int n = c->n;
  if (s[0] || max <= 0) return 0;

  /* used: components that appear in some interaction, as a bitmask. */
  int count = 0;
  unsigned used = 0;
  for (int x = 0; x < n; x++)
    for (int y = 0; y < n; y++)
      if (BN__CIRCUIT_CELL(s, n, x, y) != BN__CIRCUIT_NONE) {
        count++;
        used |= 1u << x | 1u << y;
      }

  int k = 0;
  if (count > 0) out[k++] = BN__CIRCUIT_TERMINATE;
  if (count >= c->max_interactions) return k;
  const unsigned all = (1u << n) - 1;
  for (int x = 0; x < n; x++)
    for (int y = 0; y < n; y++) {
      if (BN__CIRCUIT_CELL(s, n, x, y) != BN__CIRCUIT_NONE) continue;
      /* Empty circuit: every pair; otherwise the circuit stays connected. */
      unsigned touch = count == 0 ? all : used;
      if (!(touch & (1u << x | 1u << y))) continue;
      for (int type = BN__CIRCUIT_ACT; type <= BN__CIRCUIT_INH; type++) {
        if (k == max) return k;
        out[k++] = bn__circuit_action(n, x, y, type);
      }
    }
  return k;
}

void bn__circuit_apply(const void *ctx, const void *state, bn_action action, void *next) {
  const bn__circuit_ctx *c = ctx;
  uint8_t *t = next;
  memcpy(t, state, c->info.state_size);
  if (action == BN__CIRCUIT_TERMINATE) {
    t[0] = 1;
    return;
  }
  int cell = (action - 1) / 2, type = 1 + (action - 1) % 2;
  assert(action > 0 && cell < c->n * c->n && t[1 + cell] == BN__CIRCUIT_NONE);
  t[1 + cell] = (uint8_t)type;
}
