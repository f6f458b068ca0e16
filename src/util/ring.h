/* A bounded ring of 32-bit values over Concurrency Kit's ck_ring (well tested): lock-free
 * consumers, producers one at a time under a mutex (ring.c says why). Internal to the
 * library: the outbox (many producers, one consumer) and the free-slot pool (many
 * producers, many consumers) are both rings. */
#ifndef BANYAN_UTIL_RING_H
#define BANYAN_UTIL_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "banyan/error.h"

typedef struct bn_ring bn_ring;

/* A ring that holds at least `capacity` values. *ring written on success only. */
bn_err bn__ring_create(bn_ring **ring, uint32_t capacity);
void bn__ring_destroy(bn_ring **ring);
/* From now on only the calling thread pushes and pops (no lock, no CAS). */
void bn__ring_one_thread(bn_ring *ring);
/* Any thread; false only when full. */
bool bn__ring_push(bn_ring *ring, uint32_t value);
/* Single consumer only (one thread at a time calls it). */
bool bn__ring_pop_single(bn_ring *ring, uint32_t *value);
/* Any thread. */
bool bn__ring_pop_any(bn_ring *ring, uint32_t *value);
uint32_t bn__ring_size(const bn_ring *ring);

#endif
