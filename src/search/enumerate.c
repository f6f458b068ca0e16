/* Exhaustive breadth-first enumeration of a domain's state space (`banyan enumerate`).
 *
 * Every unique canonical state is stored once, in discovery order, in one flat arena of
 * state bytes; since discovery is breadth-first, the arena is also the BFS queue, and the
 * depth at which a state is inserted is the depth at which it is first reached. A hash set
 * over the arena (XXH3 of the state bytes, open addressing with linear probing, grown at
 * half load) finds states already seen. Edges are unique (parent, child) pairs: the children
 * of one parent are deduplicated by sorting their arena indices. Single-threaded. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "banyan/enumerate.h"
#include "banyan/log.h"

typedef struct slot {
  uint64_t hash;
  size_t idx1; /* arena index + 1; 0 = empty */
} slot;

typedef struct state_set {
  size_t state_size;
  uint64_t max_states;
  uint8_t *arena; /* n states of state_size bytes, in discovery (BFS) order */
  int *depth;     /* depth at which each state was first reached */
  size_t n, cap;
  slot *slots;
  size_t mask; /* number of slots - 1 (a power of two) */
} state_set;

static void set_free(state_set *s) {
  free(s->arena);
  free(s->depth);
  free(s->slots);
  memset(s, 0, sizeof *s);
}

static bn_err set_rehash(state_set *s, size_t nslots) {
  slot *slots = calloc(nslots, sizeof *slots);
  BN_CHECK(slots, BN_ERR_NOMEM, "enumerate: cannot allocate a hash table of %zu slots", nslots);
  for (size_t i = 0; i <= s->mask && s->slots; i++) {
    if (!s->slots[i].idx1) continue;
    size_t j = (size_t)s->slots[i].hash & (nslots - 1);
    while (slots[j].idx1) j = (j + 1) & (nslots - 1);
    slots[j] = s->slots[i];
  }
  free(s->slots);
  s->slots = slots;
  s->mask = nslots - 1;
  return BN_OK;
}

static bn_err set_reserve(state_set *s, size_t want) {
  if (want <= s->cap) return BN_OK;
  size_t cap = s->cap ? s->cap : 1024;
  while (cap < want) cap *= 2;
  uint8_t *arena = realloc(s->arena, cap * s->state_size);
  BN_CHECK(arena, BN_ERR_NOMEM, "enumerate: cannot hold %zu states of %zu bytes", cap,
           s->state_size);
  s->arena = arena;
  int *depth = realloc(s->depth, cap * sizeof *depth);
  BN_CHECK(depth, BN_ERR_NOMEM, "enumerate: cannot hold %zu states", cap);
  s->depth = depth;
  s->cap = cap;
  return BN_OK;
}

/* Find `state`, or insert it at `depth`. *idx is its arena index. The arena may move:
 * pointers into it do not survive this call. */
static bn_err set_insert(state_set *s, const void *state, int depth, size_t *idx) {
  uint64_t h = XXH3_64bits(state, s->state_size);
  size_t j = (size_t)h & s->mask;
  for (; s->slots[j].idx1; j = (j + 1) & s->mask) {
    const slot *e = &s->slots[j];
    if (e->hash == h &&
        memcmp(s->arena + (e->idx1 - 1) * s->state_size, state, s->state_size) == 0) {
      *idx = e->idx1 - 1;
      return BN_OK;
    }
  }
  BN_CHECK((uint64_t)s->n < s->max_states, BN_ERR_FULL,
           "enumerate: more than %" PRIu64 " unique states (the max_states limit); the state "
           "space is larger than that",
           s->max_states);
  BN_CALL(set_reserve(s, s->n + 1));
  memcpy(s->arena + s->n * s->state_size, state, s->state_size);
  s->depth[s->n] = depth;
  s->slots[j] = (slot){h, s->n + 1};
  *idx = s->n++;
  if (2 * s->n > s->mask + 1) BN_CALL(set_rehash(s, 2 * (s->mask + 1)));
  return BN_OK;
}

static bn_err levels_reserve(bn_enum_result *r, int *cap, int depth) {
  if (depth >= *cap) {
    int ncap = *cap ? *cap : 16;
    while (ncap <= depth) ncap *= 2;
    bn_enum_level *lv = realloc(r->levels, (size_t)ncap * sizeof *lv);
    BN_CHECK(lv, BN_ERR_NOMEM, "enumerate: cannot allocate %d levels", ncap);
    memset(lv + *cap, 0, (size_t)(ncap - *cap) * sizeof *lv);
    r->levels = lv;
    *cap = ncap;
  }
  if (depth >= r->n_levels) r->n_levels = depth + 1;
  return BN_OK;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

bn_err bn_enumerate(const bn_domain *domain, uint64_t max_states, bn_enum_result *out) {
  return bn_enumerate_each(domain, max_states, NULL, NULL, out);
}

bn_err bn_enumerate_each(const bn_domain *domain, uint64_t max_states, int (*terminal)(void *arg, const void *state),
                         void *arg, bn_enum_result *out) {
  BN_CHECK(domain && domain->ops && out, BN_ERR_ARG, "enumerate: no domain or no result");
  const bn_domain_ops *ops = domain->ops;
  const void *ctx = domain->ctx;
  const size_t ss = domain->info.state_size;
  const int max_actions = domain->info.max_actions;
  BN_CHECK(ss > 0 && max_actions > 0, BN_ERR_ARG, "enumerate: domain '%s' is not open",
           ops->name ? ops->name : "?");

  bn_err err = BN_OK;
  state_set set = {.state_size = ss, .max_states = max_states};
  bn_enum_result r = {0};
  int levels_cap = 0;
  uint8_t *parent = malloc(ss), *child = malloc(ss);
  bn_action *acts = malloc((size_t)max_actions * sizeof *acts);
  size_t *kids = malloc((size_t)max_actions * sizeof *kids);
  BN_CHECK_GOTO(parent && child && acts && kids, BN_ERR_NOMEM, "enumerate: out of memory");
  BN_TRY(set_rehash(&set, 1024));

  size_t idx;
  ops->root(ctx, child);
  if (ops->canonicalize) ops->canonicalize(ctx, child);
  BN_TRY(set_insert(&set, child, 0, &idx));

  for (size_t i = 0; i < set.n; i++) {
    /* Copy the parent out: inserting children may move the arena. */
    memcpy(parent, set.arena + i * ss, ss);
    const int d = set.depth[i];
    BN_TRY(levels_reserve(&r, &levels_cap, d));
    if (ops->is_terminal(ctx, parent)) {
      r.levels[d].terminal++;
      BN_CHECK_GOTO(!terminal || terminal(arg, parent) == 0, BN_ERR_ARG, "enumerate: stopped by the caller");
      continue;
    }
    r.levels[d].nonterminal++;
    int n = ops->actions(ctx, parent, acts, max_actions);
    BN_CHECK_GOTO(n >= 0 && n <= max_actions, BN_ERR_DOMAIN,
                  "enumerate: domain '%s' returned %d actions (max_actions is %d)", ops->name,
                  n, max_actions);
    for (int a = 0; a < n; a++) {
      ops->apply(ctx, parent, acts[a], child);
      if (ops->canonicalize) ops->canonicalize(ctx, child);
      BN_TRY(set_insert(&set, child, d + 1, &kids[a]));
    }
    qsort(kids, (size_t)n, sizeof *kids, cmp_size);
    for (int a = 0; a < n; a++)
      if (a == 0 || kids[a] != kids[a - 1]) r.levels[d].edges++;
  }

  for (int d = 0; d < r.n_levels; d++) {
    r.terminal += r.levels[d].terminal;
    r.nonterminal += r.levels[d].nonterminal;
    r.edges += r.levels[d].edges;
  }
  *out = r;
  r.levels = NULL;

fail:
  free(r.levels);
  set_free(&set);
  free(parent);
  free(child);
  free(acts);
  free(kids);
  return err;
}

void bn_enum_result_free(bn_enum_result *r) {
  if (!r) return;
  free(r->levels);
  memset(r, 0, sizeof *r);
}

void bn_enum_result_print(const bn_enum_result *r, FILE *out) {
  fprintf(out, "%5s %15s %15s %15s\n", "depth", "nonterminal", "terminal", "edges");
  for (int d = 0; d < r->n_levels; d++)
    fprintf(out, "%5d %15" PRIu64 " %15" PRIu64 " %15" PRIu64 "\n", d, r->levels[d].nonterminal,
            r->levels[d].terminal, r->levels[d].edges);
  fprintf(out, "%5s %15" PRIu64 " %15" PRIu64 " %15" PRIu64 "\n", "total", r->nonterminal,
          r->terminal, r->edges);
}
