/* Free job slots, shared by all search tasks: a Concurrency Kit MPMC ring of slot ids. */
#include <ck_ring.h>
#include <stdlib.h>

#include "search/search_impl.h"

struct bn_slot_pool {
  ck_ring_t ring;
  ck_ring_buffer_t *buf;
};

bn_err bn__slot_pool_create(bn_slot_pool **pool, uint32_t n_slots) {
  unsigned size = 4;
  while (size - 1 < n_slots) size <<= 1;
  bn_slot_pool *p = calloc(1, sizeof *p);
  ck_ring_buffer_t *buf = calloc(size, sizeof *buf);
  if (!p || !buf) {
    free(p);
    free(buf);
    return BN_ERR_NOMEM;
  }
  ck_ring_init(&p->ring, size);
  p->buf = buf;
  for (uint32_t s = 0; s < n_slots; s++) ck_ring_enqueue_mpmc(&p->ring, p->buf, (void *)(uintptr_t)s);
  *pool = p;
  return BN_OK;
}

void bn__slot_pool_destroy(bn_slot_pool **pool) {
  if (!pool || !*pool) return;
  free((*pool)->buf);
  free(*pool);
  *pool = NULL;
}

bool bn__slot_pool_take(bn_slot_pool *pool, uint32_t *slot) {
  void *v;
  if (!ck_ring_dequeue_mpmc(&pool->ring, pool->buf, &v)) return false;
  *slot = (uint32_t)(uintptr_t)v;
  return true;
}

void bn__slot_pool_give(bn_slot_pool *pool, uint32_t slot) {
  /* Cannot fail: the ring holds every slot id at once. */
  (void)ck_ring_enqueue_mpmc(&pool->ring, pool->buf, (void *)(uintptr_t)slot);
}
