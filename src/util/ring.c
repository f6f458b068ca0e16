/* Bounded rings of 32-bit values on ck_ring (see ring.h). Values travel as pointer-sized
 * entries; ck_ring needs a power-of-two size and holds size - 1 entries.
 *
 * Consumers are lock-free (ck_ring's dequeues copy, then claim with one CAS: nobody waits
 * for anybody). Producers take turns under a mutex and use the single-producer enqueue,
 * instead of ck_ring's multi-producer enqueue: that one claims a place with a CAS and then
 * spins until every earlier producer has published its entry, so a producer preempted
 * between the two (search threads on shared or oversubscribed cores) left the others
 * spinning for its whole time slice: 95% of the push time in a 2-rank run with
 * search.threads = 2 on two cores. Behind the mutex (adaptive: a short spin, then a futex
 * sleep) a preempted producer makes the others sleep, which gives it its core back.
 *
 * A ring that one thread alone uses (search.threads = 1: the dispatcher thread issues,
 * queues, applies and frees) takes neither the mutex nor a CAS: each is a locked
 * instruction, a full fence, and with checkpoints on it waited for the search's stores into
 * the results buffer (4% of the search thread in pthread_mutex_lock). */
#include <ck_ring.h>
#include <pthread.h>
#include <stdlib.h>

#include "util/ring.h"

struct bn_ring {
  ck_ring_t ring;
  ck_ring_buffer_t *buf;
  pthread_mutex_t push_mu; /* producers, one at a time */
  bool one_thread;         /* bn__ring_one_thread: no lock, no CAS */
};

bn_err bn__ring_create(bn_ring **ring, uint32_t capacity) {
  unsigned size = 4;
  while (size - 1 < capacity) {
    BN_CHECK(size < (1u << 31), BN_ERR_ARG, "ring capacity %u too large", capacity);
    size <<= 1;
  }
  bn_ring *r = calloc(1, sizeof *r);
  ck_ring_buffer_t *buf = calloc(size, sizeof *buf);
  if (!r || !buf) {
    free(r);
    free(buf);
    return BN_ERR_NOMEM;
  }
  ck_ring_init(&r->ring, size);
  r->buf = buf;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
  pthread_mutex_init(&r->push_mu, &attr);
  pthread_mutexattr_destroy(&attr);
  *ring = r;
  return BN_OK;
}

void bn__ring_destroy(bn_ring **ring) {
  if (!ring || !*ring) return;
  pthread_mutex_destroy(&(*ring)->push_mu);
  free((*ring)->buf);
  free(*ring);
  *ring = NULL;
}

/* The single-producer enqueue serves MPMC and MPSC rings alike (consumers only read the
 * published tail). */
bool bn__ring_push(bn_ring *r, uint32_t value) {
  if (r->one_thread) return ck_ring_enqueue_spsc(&r->ring, r->buf, (void *)(uintptr_t)value);
  pthread_mutex_lock(&r->push_mu);
  bool ok = ck_ring_enqueue_spmc(&r->ring, r->buf, (void *)(uintptr_t)value);
  pthread_mutex_unlock(&r->push_mu);
  return ok;
}

void bn__ring_one_thread(bn_ring *r) { r->one_thread = true; }

bool bn__ring_pop_single(bn_ring *r, uint32_t *value) {
  void *v;
  if (!(r->one_thread ? ck_ring_dequeue_spsc : ck_ring_dequeue_mpsc)(&r->ring, r->buf, &v)) return false;
  *value = (uint32_t)(uintptr_t)v;
  return true;
}

bool bn__ring_pop_any(bn_ring *r, uint32_t *value) {
  void *v;
  if (!(r->one_thread ? ck_ring_dequeue_spsc : ck_ring_dequeue_mpmc)(&r->ring, r->buf, &v)) return false;
  *value = (uint32_t)(uintptr_t)v;
  return true;
}

uint32_t bn__ring_size(const bn_ring *r) { return ck_ring_size(&r->ring); }
