/* The outbox between search tasks (many producers) and the dispatcher (one consumer):
 * a Concurrency Kit ring of slot ids. ck_ring is lock-free, bounded and well tested;
 * its MPSC variant is exactly this shape. */
#include <ck_ring.h>
#include <stdint.h>
#include <stdlib.h>

#include "banyan/engine.h"

struct bn_outbox {
  ck_ring_t ring;
  ck_ring_buffer_t *buf;
};

bn_err bn_outbox_create(bn_outbox **box, uint32_t capacity) {
  unsigned size = 4;
  while (size - 1 < capacity) {
    BN_CHECK(size < (1u << 31), BN_ERR_ARG, "outbox capacity %u too large", capacity);
    size <<= 1;
  }
  bn_outbox *b = calloc(1, sizeof *b);
  ck_ring_buffer_t *buf = calloc(size, sizeof *buf);
  if (!b || !buf) {
    free(b);
    free(buf);
    return BN_ERR_NOMEM;
  }
  ck_ring_init(&b->ring, size);
  b->buf = buf;
  *box = b;
  return BN_OK;
}

void bn_outbox_destroy(bn_outbox **box) {
  if (!box || !*box) return;
  free((*box)->buf);
  free(*box);
  *box = NULL;
}

bool bn_outbox_push(bn_outbox *box, uint32_t slot) {
  return ck_ring_enqueue_mpsc(&box->ring, box->buf, (void *)(uintptr_t)slot);
}

bool bn_outbox_pop(bn_outbox *box, uint32_t *slot) {
  void *v;
  if (!ck_ring_dequeue_mpsc(&box->ring, box->buf, &v)) return false;
  *slot = (uint32_t)(uintptr_t)v;
  return true;
}

uint32_t bn_outbox_size(const bn_outbox *box) { return ck_ring_size(&box->ring); }
