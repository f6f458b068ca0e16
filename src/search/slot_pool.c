/* Free job slots, shared by all search tasks: a lock-free ring of slot ids, full at start. */
#include "search/search_impl.h"
#include "util/ring.h"

bn_err bn__slot_pool_create(bn_slot_pool **pool, uint32_t n_slots) {
  bn_ring *r = NULL;
  BN_CALL(bn__ring_create(&r, n_slots));
  for (uint32_t s = 0; s < n_slots; s++) (void)bn__ring_push(r, s);
  *pool = (bn_slot_pool *)r;
  return BN_OK;
}

void bn__slot_pool_one_thread(bn_slot_pool *pool) { bn__ring_one_thread((bn_ring *)pool); }

void bn__slot_pool_destroy(bn_slot_pool **pool) { bn__ring_destroy((bn_ring **)pool); }

bool bn__slot_pool_take(bn_slot_pool *pool, uint32_t *slot) { return bn__ring_pop_any((bn_ring *)pool, slot); }

/* Cannot fail: the ring holds every slot id at once. */
void bn__slot_pool_give(bn_slot_pool *pool, uint32_t slot) { (void)bn__ring_push((bn_ring *)pool, slot); }
