/* Random rollout (CircuiTree's simulation step): uniform random actions from a state until
 * a terminal, canonicalizing after each step. Touches no graph, so engines can run it; no
 * allocation when the domain's sizes fit the stack buffers. */
#include <stdlib.h>
#include <string.h>

#include "banyan/rng.h"
#include "banyan/tree.h"

#define STACK_ACTIONS 256
#define STACK_STATE 512

bn_err bn_rollout(const bn_domain *domain, const void *start, uint64_t seed, void *terminal) {
  BN_CHECK(domain && domain->ops && start && terminal, BN_ERR_ARG, "null argument");
  const bn_domain_ops *ops = domain->ops;
  const size_t size = domain->info.state_size;
  const int max_actions = domain->info.max_actions, max_depth = domain->info.max_depth;
  bn_action acts_stack[STACK_ACTIONS];
  unsigned char states_stack[2 * STACK_STATE];
  bn_action *acts = acts_stack;
  unsigned char *block = states_stack, *cur, *next;
  bn_err err = BN_OK;

  if (max_actions > STACK_ACTIONS) {
    acts = malloc((size_t)max_actions * sizeof *acts);
    BN_CHECK_GOTO(acts, BN_ERR_NOMEM, "rollout scratch for %d actions", max_actions);
  }
  if (size > STACK_STATE) {
    block = malloc(2 * size);
    BN_CHECK_GOTO(block, BN_ERR_NOMEM, "rollout scratch for states of %zu bytes", size);
  }
  cur = block;
  next = block + size;

  bn_rng rng = bn_rng_stream(seed, 0, BN_RNG_ROLLOUT);
  memcpy(cur, start, size);
  for (int step = 0;; step++) {
    if (ops->is_terminal(domain->ctx, cur)) break;
    BN_CHECK_GOTO(step < max_depth, BN_ERR_DOMAIN,
                  "domain %s: rollout found no terminal within max_depth %d", ops->name,
                  max_depth);
    int n = ops->actions(domain->ctx, cur, acts, max_actions);
    BN_CHECK_GOTO(n > 0 && n <= max_actions, BN_ERR_DOMAIN,
                  "domain %s: actions() returned %d from a non-terminal state (max %d)",
                  ops->name, n, max_actions);
    memset(next, 0, size);
    ops->apply(domain->ctx, cur, acts[bn_rng_below(&rng, (uint32_t)n)], next);
    if (ops->canonicalize) ops->canonicalize(domain->ctx, next);
    unsigned char *tmp = cur;
    cur = next;
    next = tmp;
  }
  memcpy(terminal, cur, size);

fail:
  if (acts != acts_stack) free(acts);
  if (block != states_stack) free(block);
  return err;
}
