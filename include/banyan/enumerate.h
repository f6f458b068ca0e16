/* Exhaustive breadth-first walk of a domain's whole state space (CircuiTree's exhaustive
 * search): counts unique canonical terminal and non-terminal states and unique edges by
 * depth. For checking a grammar and sizing a search, not for searching. */
#ifndef BANYAN_ENUMERATE_H
#define BANYAN_ENUMERATE_H

#include <stdint.h>
#include <stdio.h>

#include "banyan/domain.h"
#include "banyan/error.h"

typedef struct bn_enum_level {
  uint64_t terminal;    /* unique terminal states first reached at this depth */
  uint64_t nonterminal; /* unique non-terminal states first reached at this depth */
  uint64_t edges;       /* unique (parent, child) pairs whose parent is at this depth */
} bn_enum_level;

typedef struct bn_enum_result {
  int n_levels;          /* depths 0 .. n_levels-1 */
  bn_enum_level *levels; /* owned; free with bn_enum_result_free */
  uint64_t terminal, nonterminal, edges; /* totals */
} bn_enum_result;

/* Walk from the root. Stops with BN_ERR_FULL (message logged) if more than `max_states`
 * unique states are found. *out written on success only. Single-threaded. */
BN_API BN_NODISCARD bn_err bn_enumerate(const bn_domain *domain, uint64_t max_states,
                                        bn_enum_result *out);
/* The same walk, calling `terminal(arg, state)` once for every unique terminal state (in
 * breadth-first order); a non-zero return stops the walk with BN_ERR_ARG. */
BN_API BN_NODISCARD bn_err bn_enumerate_each(const bn_domain *domain, uint64_t max_states,
                                             int (*terminal)(void *arg, const void *state), void *arg,
                                             bn_enum_result *out);
BN_API void bn_enum_result_free(bn_enum_result *r);
/* A table by depth plus totals, for `banyan enumerate`. */
BN_API void bn_enum_result_print(const bn_enum_result *r, FILE *out);

#endif
