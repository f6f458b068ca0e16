/* Canonical forms over relabellings of the components, and pattern (motif) matching.
 *
 * Canonical form (CIRCUIT-MODEL.md §1): over every permutation of the non-fixed components,
 * rename the tokens, sort them and join them; keep the smallest text. All candidate texts
 * have the same length and the same separators, so comparing texts is comparing the sorted
 * token lists, and, with components indexed in letter order, that is comparing the permuted
 * matrices cell by cell in row-major order where a present token beats an absent one ('ABa'
 * sorts before whatever token comes later) and 'a' beats 'i'. Coding a cell as 0 (none),
 * 1 (inhibits), 2 (activates) into 2-bit digits, most significant first, turns "smallest
 * text" into "largest integer key", computed from the tokens alone. Equal keys mean equal
 * matrices, so the result does not depend on which permutation wins a tie.
 *
 * Cost: one pass over the cells, then (connected free components)! x tokens shifts and ORs,
 * fewer with the row-0 filter below.
 * No allocation: the permutation tables are built once in bn__circuit_perms_build. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "circuit/circuit.h"

/* 64 cells of 2 bits need 128 bits; n <= 5 (25 cells) fits in 64. */
__extension__ typedef unsigned __int128 key128;

static int factorial(int m) {
  int f = 1;
  for (int i = 2; i <= m; i++) f *= i;
  return f;
}

int bn__circuit_perms_build(bn__circuit_ctx *c, char *err, size_t errlen) {
  uint8_t pos[BN__CIRCUIT_MAX_N], fixed[BN__CIRCUIT_MAX_N];
  int f = 0, nf = 0;
  for (int i = 0; i < c->n; i++) {
    if (c->fixed_mask & 1u << i)
      fixed[nf++] = (uint8_t)i;
    else
      pos[f++] = (uint8_t)i;
  }
  /* Tables for every a = 0..f, one after the other: sum of a! rows. */
  int total = 0;
  for (int a = 0; a <= f; a++) {
    c->perm_first[a] = total;
    total += factorial(a);
  }
  c->perm_first[f + 1] = total;
  bn__circuit_perm *perms = calloc((size_t)total, sizeof *perms);
  if (!perms) {
    snprintf(err, errlen, "out of memory for %d permutations", total);
    return 1;
  }
  for (int a = 0; a <= f; a++) {
    /* order: the permutations of 0..a-1 in lexicographic order, identity first. */
    uint8_t order[BN__CIRCUIT_MAX_N];
    for (int i = 0; i < a; i++) order[i] = (uint8_t)i;
    for (int k = c->perm_first[a]; k < c->perm_first[a + 1]; k++) {
      for (int i = 0; i < a; i++) {
        perms[k].to[i] = pos[order[i]];
        if (order[i] == 0) perms[k].head = (uint8_t)i;
      }
      for (int j = 0; j < nf; j++) perms[k].to[a + j] = fixed[j];
      int i = a - 2;
      while (i >= 0 && order[i] >= order[i + 1]) i--;
      if (i < 0) break;
      int j = a - 1;
      while (order[j] <= order[i]) j--;
      uint8_t tmp = order[i];
      order[i] = order[j];
      order[j] = tmp;
      for (int lo = i + 1, hi = a - 1; lo < hi; lo++, hi--) {
        tmp = order[lo];
        order[lo] = order[hi];
        order[hi] = tmp;
      }
    }
  }
  free(c->perms);
  c->perms = perms;
  c->n_free = f;
  c->n_perms = factorial(f);
  return 0;
}

/* Digit of a cell value in the key: a present token beats an absent one, 'a' beats 'i'. */
static inline unsigned digit(uint8_t v) { return v == BN__CIRCUIT_NONE ? 0u : 3u - v; }

/* Which connected free components (as slots, a bitmask) may take position 0. Row 0 is the
 * most significant row of the key and, when position 0 is free, every candidate u can
 * reach the best row 0 it allows: its self-loop, its fixed cells, then its other cells
 * sorted best first (order the others to match). So the winner's row 0 is the largest of
 * these, and only components that reach it need be tried at position 0. */
static unsigned row0_candidates(const bn__circuit_ctx *c, const uint8_t *s, unsigned used,
                                const uint8_t *slot, int a) {
  const int n = c->n;
  /* Position 0 fixed: no shortcut. Few candidates: trying them all is cheaper. */
  if ((c->fixed_mask & 1u) || a <= 3) return (1u << a) - 1;
  unsigned best = 0, heads = 0;
  for (int u = 0; u < n; u++) {
    if ((c->fixed_mask & 1u << u) || !(used & 1u << u)) continue;
    unsigned count[3] = {0, 0, 0}, sig = digit(BN__CIRCUIT_CELL(s, n, u, u)) << 2 * (n - 1);
    for (int v = 0; v < n; v++) {
      unsigned d = digit(BN__CIRCUIT_CELL(s, n, u, v));
      if (c->fixed_mask & 1u << v)
        sig |= d << 2 * (n - 1 - v);
      else if (v != u)
        count[d]++;
    }
    for (int q = 1; q < n; q++) {
      if (c->fixed_mask & 1u << q) continue;
      unsigned d = count[2] ? 2u : count[1] ? 1u : 0u;
      if (d) count[d]--;
      sig |= d << 2 * (n - 1 - q);
    }
    if (sig > best || heads == 0) {
      best = sig;
      heads = 0;
    }
    if (sig == best) heads |= 1u << slot[u];
  }
  return heads;
}

/* Free components in no interaction can go last among the free positions: swapping such a
 * component at free position i with a connected one at a later free position j never makes
 * the key smaller (rows before j gain column j's values at column i; row i gains a row; row
 * j loses one only when nothing earlier changed, and then it was empty). They are all alike,
 * so only the a connected free components are permuted, over the a lowest free positions:
 * a! candidates instead of f!. */
void bn__circuit_canonicalize(const void *ctx, void *state) {
  const bn__circuit_ctx *c = ctx;
  uint8_t *s = state;
  const int n = c->n;
  /* n <= BN__CIRCUIT_MAX_N holds (the context checks it); said here too, so the compiler
   * sees that slot[] is never overrun. */
  if (c->n_free <= 1 || n > BN__CIRCUIT_MAX_N) return;

  unsigned used = 0;
  for (int x = 0; x < n; x++)
    for (int y = 0; y < n; y++)
      if (BN__CIRCUIT_CELL(s, n, x, y) != BN__CIRCUIT_NONE) used |= 1u << x | 1u << y;
  if (!(used & ~c->fixed_mask)) return; /* nothing that may move is connected */

  /* Slots: connected free components 0..a-1 (permuted), fixed components a.. (in place). */
  uint8_t slot[BN__CIRCUIT_MAX_N];
  int a = 0;
  for (int i = 0; i < n; i++)
    if (!(c->fixed_mask & 1u << i) && (used & 1u << i)) slot[i] = (uint8_t)a++;
  for (int i = 0, j = a; i < n; i++)
    if (c->fixed_mask & 1u << i) slot[i] = (uint8_t)j++;

  uint8_t sx[BN__CIRCUIT_MAX_CELLS], sy[BN__CIRCUIT_MAX_CELLS], val[BN__CIRCUIT_MAX_CELLS];
  int m = 0;
  for (int x = 0; x < n; x++)
    for (int y = 0; y < n; y++) {
      uint8_t v = BN__CIRCUIT_CELL(s, n, x, y);
      if (v == BN__CIRCUIT_NONE) continue;
      sx[m] = slot[x];
      sy[m] = slot[y];
      val[m++] = v;
    }

  const unsigned heads = row0_candidates(c, s, used, slot, a);

  /* Digit of a token at cell q: (3 - val) << (top - 2*q); ACT -> 2, INH -> 1. */
  const int top = 2 * (n * n - 1);
  const int first = c->perm_first[a], last = c->perm_first[a + 1];
  int best = -1;
  if (n * n <= 32) {
    uint64_t best_key = 0;
    for (int k = first; k < last; k++) {
      if (!(heads >> c->perms[k].head & 1)) continue;
      const uint8_t *p = c->perms[k].to;
      uint64_t key = 0;
      for (int t = 0; t < m; t++)
        key |= (uint64_t)(3 - val[t]) << (top - 2 * (p[sx[t]] * n + p[sy[t]]));
      if (key > best_key) {
        best_key = key;
        best = k;
      }
    }
  } else {
    key128 best_key = 0;
    for (int k = first; k < last; k++) {
      if (!(heads >> c->perms[k].head & 1)) continue;
      const uint8_t *p = c->perms[k].to;
      key128 key = 0;
      for (int t = 0; t < m; t++)
        key |= (key128)(3 - val[t]) << (top - 2 * (p[sx[t]] * n + p[sy[t]]));
      if (key > best_key) {
        best_key = key;
        best = k;
      }
    }
  }

  assert(best >= 0); /* some component reaches the best row 0 */
  const uint8_t *p = c->perms[best].to;
  memset(s + 1, 0, (size_t)(n * n));
  for (int t = 0; t < m; t++) BN__CIRCUIT_CELL(s, n, p[sx[t]], p[sy[t]]) = val[t];
}

int bn__circuit_pattern_compile(const bn__circuit_ctx *c, const char *text,
                                bn__circuit_pattern *out) {
  bn__circuit_pattern p = {.possible = true};
  int8_t local[26];
  memset(local, -1, sizeof local);
  int n_letters = 0;
  uint8_t tx[BN__CIRCUIT_MAX_CELLS], ty[BN__CIRCUIT_MAX_CELLS], tt[BN__CIRCUIT_MAX_CELLS];
  int m = 0;
  const char *s = text;
  if (!s || !*s) return 1;
  for (;;) {
    if (m == BN__CIRCUIT_MAX_CELLS) return 1;
    if (!(s[0] >= 'A' && s[0] <= 'Z') || !(s[1] >= 'A' && s[1] <= 'Z')) return 1;
    if (s[2] != 'a' && s[2] != 'i') return 1;
    for (int k = 0; k < 2; k++) {
      int l = s[k] - 'A';
      if (local[l] < 0) local[l] = (int8_t)n_letters++;
      if (c->index[l] < 0) p.possible = false;
    }
    tx[m] = (uint8_t)local[s[0] - 'A'];
    ty[m] = (uint8_t)local[s[1] - 'A'];
    tt[m++] = s[2] == 'a' ? BN__CIRCUIT_ACT : BN__CIRCUIT_INH;
    s += 3;
    if (!*s) break;
    if (*s != '_') return 1;
    s++;
  }
  if (n_letters > c->n) p.possible = false;
  /* Order tokens by the step of the search at which both letters are mapped. */
  p.n_letters = n_letters;
  p.n_tokens = m;
  int k = 0;
  for (int d = 0; d < n_letters && d < BN__CIRCUIT_MAX_N; d++) {
    p.first[d] = (uint8_t)k;
    for (int t = 0; t < m; t++)
      if ((tx[t] > ty[t] ? tx[t] : ty[t]) == d) {
        p.x[k] = tx[t];
        p.y[k] = ty[t];
        p.type[k++] = tt[t];
      }
  }
  p.first[n_letters < BN__CIRCUIT_MAX_N ? n_letters : BN__CIRCUIT_MAX_N] = (uint8_t)k;
  *out = p;
  return 0;
}

/* Map pattern letter d to each unused component in turn; check the tokens it completes. */
static bool match_from(const bn__circuit_ctx *c, const bn__circuit_pattern *p,
                       const uint8_t *state, int d, uint8_t *map, unsigned used) {
  if (d == p->n_letters) return true;
  for (int comp = 0; comp < c->n; comp++) {
    if (used & 1u << comp) continue;
    map[d] = (uint8_t)comp;
    bool ok = true;
    for (int t = p->first[d]; ok && t < p->first[d + 1]; t++)
      ok = BN__CIRCUIT_CELL(state, c->n, map[p->x[t]], map[p->y[t]]) == p->type[t];
    if (ok && match_from(c, p, state, d + 1, map, used | 1u << comp)) return true;
  }
  return false;
}

bool bn__circuit_pattern_match(const bn__circuit_ctx *c, const bn__circuit_pattern *p,
                               const uint8_t *state) {
  if (!p->possible || p->n_tokens == 0 || bn__circuit_count(c, state) == 0) return false;
  uint8_t map[BN__CIRCUIT_MAX_N];
  return match_from(c, p, state, 0, map, 0);
}

bool bn__circuit_has_pattern(const bn__circuit_ctx *c, const void *state, const char *pattern) {
  bn__circuit_pattern p;
  if (bn__circuit_pattern_compile(c, pattern, &p) != 0) return false;
  return bn__circuit_pattern_match(c, &p, state);
}
