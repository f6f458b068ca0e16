/* Waiting without burning a core: poll for a few microseconds, then sleep, each sleep an
 * eighth of the time waited so far, up to a cap (never sched_yield; backoff.c says why).
 *
 * Open MPI's blocking waits busy-poll, which would steal the cores that engines share
 * with their simulations (and that many ranks share in tests). A waiter calls
 * bn__backoff_idle() after each poll that found nothing and bn__backoff_reset() after
 * each that found work. */
#ifndef BANYAN_ENGINE_BACKOFF_H
#define BANYAN_ENGINE_BACKOFF_H

typedef struct bn_backoff {
  int spins;          /* polls without sleeping so far; -1 once sleeping */
  double idle_since;  /* bn_mtime() of the first poll that found nothing */
  double max_sleep;   /* cap of the sleep */
  unsigned long sleeps; /* sleeps taken, for statistics */
} bn_backoff;

void bn__backoff_init(bn_backoff *b, double max_sleep);
void bn__backoff_reset(bn_backoff *b);
void bn__backoff_idle(bn_backoff *b);

#endif
