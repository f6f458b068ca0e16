/* Poll-then-sleep back-off for idle waiting (see backoff.h). */
#include "banyan/clock.h"
#include "engine/backoff.h"

/* Poll for this long before the first sleep: an answer that is on its way (a round trip
 * through shared memory plus one search iteration on rank 0 take a few microseconds) is
 * caught without a sleep, and a sleep costs more than this (Linux's default timer slack
 * alone is 50 us). Longer waits mean the other side is not running now: sleep. Never
 * sched_yield: on a busy core it hands the core to the other program for a whole time
 * slice (the scheduler puts the yielding thread behind it), so a message that arrives
 * meanwhile waits milliseconds; on an idle core it is a system call that does nothing. */
static const double spin_seconds = 20e-6;
static const double first_sleep = 2e-6;
/* Each sleep lasts this share of the time waited so far (up to the cap): an answer is
 * noticed at most 1/8 of the wait late. Doubling sleeps could oversleep by as much as the
 * whole wait, and on shared cores that fed on itself: rank 0, slowed by another program,
 * sent the next batch later, the engine slept longer, rank 0 waited longer for results. */
static const double sleep_share = 0.125;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void bn__backoff_init(bn_backoff *b, double max_sleep) {
  b->spins = 0;
  b->idle_since = 0;
  b->max_sleep = max_sleep;
  b->sleeps = 0;
}

void bn__backoff_reset(bn_backoff *b) { b->spins = 0; }

void bn__backoff_idle(bn_backoff *b) {
  const double now = bn_mtime();
  if (b->spins == 0) b->idle_since = now;
  const double waited = now - b->idle_since;
  if (b->spins >= 0) {
    b->spins++;
    if (waited < spin_seconds) {
      cpu_relax();
      return;
    }
    b->spins = -1; /* sleeping from now on, until a reset */
  }
  double t = waited * sleep_share;
  bn_sleep(t < first_sleep ? first_sleep : t > b->max_sleep ? b->max_sleep : t);
  b->sleeps++;
}
