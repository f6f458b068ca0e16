/* Bounded lock-free rings of 32-bit values on ck_ring (see ring.h). Values travel as
 * pointer-sized entries; ck_ring needs a power-of-two size and holds size - 1 entries. */
#include <ck_ring.h>
#include <stdlib.h>

#include "util/ring.h"

struct bn_ring {
  ck_ring_t ring;
  ck_ring_buffer_t *buf;
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
  *ring = r;
  return BN_OK;
}

void bn__ring_destroy(bn_ring **ring) {
  if (!ring || !*ring) return;
  free((*ring)->buf);
  free(*ring);
  *ring = NULL;
}

/* ck_ring's multi-producer enqueue is the same for MPMC and MPSC rings: one push serves both. */
bool bn__ring_push(bn_ring *r, uint32_t value) {
  return ck_ring_enqueue_mpmc(&r->ring, r->buf, (void *)(uintptr_t)value);
}

bool bn__ring_pop_single(bn_ring *r, uint32_t *value) {
  void *v;
  if (!ck_ring_dequeue_mpsc(&r->ring, r->buf, &v)) return false;
  *value = (uint32_t)(uintptr_t)v;
  return true;
}

bool bn__ring_pop_any(bn_ring *r, uint32_t *value) {
  void *v;
  if (!ck_ring_dequeue_mpmc(&r->ring, r->buf, &v)) return false;
  *value = (uint32_t)(uintptr_t)v;
  return true;
}

uint32_t bn__ring_size(const bn_ring *r) { return ck_ring_size(&r->ring); }
