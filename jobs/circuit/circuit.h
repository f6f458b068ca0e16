/* Private header of the built-in `circuit` domain (CIRCUIT-MODEL.md §1, §3): the per-rank
 * context, the state layout and the internal functions its files share. tests/test_circuit.c
 * includes it to test the pieces directly; nothing outside jobs/circuit/ may.
 *
 * Thread safety: bn__circuit_setup/bn__circuit_free run once per rank on one thread; every
 * other function takes a const context and may run concurrently. */
#ifndef BN_CIRCUIT_H
#define BN_CIRCUIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banyan/config.h"
#include "banyan/domain.h"

#define BN__CIRCUIT_MAX_N 8
#define BN__CIRCUIT_MAX_CELLS (BN__CIRCUIT_MAX_N * BN__CIRCUIT_MAX_N)
/* Longest describe() text plus NUL: '*', 8 letters, "::", 64 tokens of 3 and 63 '_'. */
#define BN__CIRCUIT_TEXT_MAX (1 + BN__CIRCUIT_MAX_N + 2 + 4 * BN__CIRCUIT_MAX_CELLS)

/* State layout: state_size = 1 + n*n bytes, every byte determined (hashed and compared as
 * bytes):
 *   byte 0              terminal flag, 0 or 1
 *   byte 1 + x*n + y    what component x does to component y: BN__CIRCUIT_NONE/ACT/INH
 * Components are indexed in ascending letter order, so row-major order of the matrix is the
 * byte order of the tokens "XYt" and of the text they form. */
enum { BN__CIRCUIT_NONE = 0, BN__CIRCUIT_ACT = 1, BN__CIRCUIT_INH = 2 };
#define BN__CIRCUIT_CELL(s, n, x, y) ((s)[1 + (x) * (n) + (y)])

/* Actions: 0 terminates; interaction (x, y, type) is 1 + (x*n + y)*2 + (type - 1). */
#define BN__CIRCUIT_TERMINATE 0
static inline bn_action bn__circuit_action(int n, int x, int y, int type) {
  return (bn_action)(1 + (x * n + y) * 2 + (type - 1));
}

typedef struct bn__circuit_reward bn__circuit_reward;

/* One relabelling in the canonical-form tables (see bn__circuit_ctx.perms). */
typedef struct bn__circuit_perm {
  /* to[l]: new index of the l-th connected free component (l < a); to[a + j]: index of the
   * j-th fixed component, which stays in place. */
  uint8_t to[BN__CIRCUIT_MAX_N];
  uint8_t head; /* the l that goes to the lowest free position */
} bn__circuit_perm;

typedef struct bn__circuit_ctx {
  int n;                              /* components, 1..8 */
  char letters[BN__CIRCUIT_MAX_N + 1]; /* components in ascending order: index i is letters[i] */
  char prefix[BN__CIRCUIT_MAX_N + 1];  /* components as configured; describe() writes these */
  int8_t index[26];                   /* letter - 'A' -> component index, -1 if none */
  int max_interactions;               /* effective bound, 1..n*n */
  uint8_t root[1 + BN__CIRCUIT_MAX_CELLS];
  unsigned fixed_mask;                /* bit i: component i is not permuted */
  int n_free;                         /* components not fixed */
  int n_perms;                        /* n_free!: relabellings canonical forms range over */
  /* Owned: for a = 0..n_free, rows perm_first[a] .. perm_first[a+1]-1 are the a! ways
   * (lexicographic, identity first) to place a connected free components on the a lowest
   * free positions. */
  bn__circuit_perm *perms;
  int perm_first[BN__CIRCUIT_MAX_N + 2];
  double delay;                       /* seconds each evaluation sleeps */
  const bn__circuit_reward *reward;
  void *reward_data;                  /* owned by the reward (its fini frees it) */
  bn_domain_info info;
} bn__circuit_ctx;

/* What bn__circuit_setup needs: the domain's options, already read from a config. */
typedef struct bn__circuit_params {
  const char *root;     /* e.g. "ABC::" or "ABC::ABa" */
  int max_interactions; /* 0: n*n */
  const char *fixed;    /* letters kept in place by canonicalize; "" or NULL for none */
  int reward;           /* index into the reward list below */
  double delay;         /* seconds, >= 0 */
} bn__circuit_params;

/* ---- rewards (one file each) ----
 * A reward turns a state into a number. To add one: write jobs/circuit/<name>.c defining
 * `const bn__circuit_reward bn__circuit_reward_<name>`, list the file in CMakeLists.txt and
 * add X(<name>) below; the option's choices and the lookup table follow from this list. */
#define BN__CIRCUIT_REWARDS(X) X(bistability) X(oscillation)

struct bn__circuit_reward {
  const char *name;
  /* Precompute what evaluate needs into *data (may stay NULL). cfg may be NULL for rewards
   * that read no options of their own. 0 on success, else a reason in err. May be NULL. */
  int (*init)(const bn__circuit_ctx *c, const bn_config *cfg, void **data, char *err,
              size_t errlen);
  void (*fini)(void *data); /* may be NULL */
  /* Pure function of (state, req->seed, req->sample); any state, terminal or not. 0 on
   * success, else a short reason in why. */
  int (*evaluate)(const bn__circuit_ctx *c, const void *data, const uint8_t *state,
                  const bn_eval_request *req, double *reward, char *why, size_t whylen);
};

#define BN__CIRCUIT_DECLARE_REWARD(name) extern const bn__circuit_reward bn__circuit_reward_##name;
BN__CIRCUIT_REWARDS(BN__CIRCUIT_DECLARE_REWARD)
#undef BN__CIRCUIT_DECLARE_REWARD

/* The rewards in the order of the domain.circuit.reward choices; n_rewards written. */
const bn__circuit_reward *const *bn__circuit_rewards(size_t *n_rewards);

/* ---- context (context.c) ---- */
/* Validate params and build a context: *out written on success (free with
 * bn__circuit_free). On failure returns non-zero with a readable reason in err. */
int bn__circuit_setup(const bn__circuit_params *p, const bn_config *cfg, bn__circuit_ctx **out,
                      char *err, size_t errlen);
/* Free a context; accepts NULL. */
void bn__circuit_free(bn__circuit_ctx *c);
/* The domain's evaluate: sleep c->delay, then run the configured reward. */
int bn__circuit_evaluate(const void *ctx, const void *state, const bn_eval_request *req,
                         double *reward, char *why, size_t whylen);

/* ---- grammar (grammar.c) ---- */
void bn__circuit_root(const void *ctx, void *state);
int bn__circuit_actions(const void *ctx, const void *state, bn_action *out, int max);
void bn__circuit_apply(const void *ctx, const void *state, bn_action action, void *next);
bool bn__circuit_is_terminal(const void *ctx, const void *state);
/* Number of interactions in a state. */
int bn__circuit_count(const bn__circuit_ctx *c, const uint8_t *state);

/* ---- canonical form and patterns (canonical.c) ---- */
/* Fill c->perms, perm_first, n_free, n_perms from c->n and c->fixed_mask. 0 on success. */
int bn__circuit_perms_build(bn__circuit_ctx *c, char *err, size_t errlen);
/* Rewrite state into the relabelling (of non-fixed components) whose text is smallest. */
void bn__circuit_canonicalize(const void *ctx, void *state);

/* A pattern ("ABa_BAi") compiled for matching: letters renumbered by first appearance. */
typedef struct bn__circuit_pattern {
  bool possible; /* false when a letter is not a component: never present */
  int n_letters;
  int n_tokens;
  /* Tokens sorted by max(x, y): those completed by mapping letter d are [first[d], first[d+1]). */
  uint8_t first[BN__CIRCUIT_MAX_N + 1];
  uint8_t x[BN__CIRCUIT_MAX_CELLS], y[BN__CIRCUIT_MAX_CELLS], type[BN__CIRCUIT_MAX_CELLS];
} bn__circuit_pattern;
/* 0 on success; non-zero if the text is not a '_'-joined list of 1..64 tokens "XYt" (X, Y
 * upper-case letters, t 'a' or 'i'). */
int bn__circuit_pattern_compile(const bn__circuit_ctx *c, const char *text,
                                bn__circuit_pattern *out);
/* True when, for some permutation of the components, every renamed pattern token is in the
 * state with the same type. Empty circuits have no patterns. */
bool bn__circuit_pattern_match(const bn__circuit_ctx *c, const bn__circuit_pattern *p,
                               const uint8_t *state);
/* Compile + match; a malformed pattern is never present. */
bool bn__circuit_has_pattern(const bn__circuit_ctx *c, const void *state, const char *pattern);

/* ---- text (text.c) ---- */
/* A state text split and checked on its own terms (no context): components, tokens. */
typedef struct bn__circuit_text {
  bool terminal;
  int n;                               /* components */
  char letters[BN__CIRCUIT_MAX_N + 1]; /* as written */
  int n_tokens;
  char tokens[BN__CIRCUIT_MAX_CELLS][3]; /* X, Y, type; no ordered pair twice */
} bn__circuit_text;
/* 0 on success; else a reason in err ("token 'ADa': 'D' is not a component of 'ABC'"). */
int bn__circuit_text_read(const char *text, bn__circuit_text *out, char *err, size_t errlen);
int bn__circuit_describe(const void *ctx, const void *state, char *buf, size_t n);
int bn__circuit_parse(const void *ctx, const char *text, void *state);
/* parse() with a reason. */
int bn__circuit_parse_why(const bn__circuit_ctx *c, const char *text, uint8_t *state, char *err,
                          size_t errlen);

#endif
