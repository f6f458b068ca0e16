/* Poll-then-sleep back-off for idle waiting (see backoff.h). */
#include <sched.h>

#include "banyan/clock.h"
#include "engine/backoff.h"

enum { SPIN_POLLS = 64, YIELD_POLLS = 256 };
static const double first_sleep = 2e-6;

void bn__backoff_init(bn_backoff *b, double max_sleep) {
  b->spins = 0;
  b->sleep = first_sleep;
  b->max_sleep = max_sleep;
  b->sleeps = 0;
}

void bn__backoff_reset(bn_backoff *b) {
  b->spins = 0;
  b->sleep = first_sleep;
}

void bn__backoff_idle(bn_backoff *b) {
  if (b->spins < SPIN_POLLS) {
    b->spins++;
    return;
  }
  if (b->spins < YIELD_POLLS) {
    b->spins++;
    sched_yield();
    return;
  }
  bn_sleep(b->sleep);
  b->sleeps++;
  b->sleep *= 2;
  if (b->sleep > b->max_sleep) b->sleep = b->max_sleep;
}
