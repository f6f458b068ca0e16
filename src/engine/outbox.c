/* The outbox between search tasks (many producers) and the dispatcher (one consumer):
 * a lock-free ring of slot ids. */
#include "banyan/engine.h"
#include "util/ring.h"

/* The public type is the ring itself. */
struct bn_outbox;

bn_err bn_outbox_create(bn_outbox **box, uint32_t capacity) {
  return bn__ring_create((bn_ring **)box, capacity);
}

void bn_outbox_destroy(bn_outbox **box) { bn__ring_destroy((bn_ring **)box); }

bool bn_outbox_push(bn_outbox *box, uint32_t slot) { return bn__ring_push((bn_ring *)box, slot); }

bool bn_outbox_pop(bn_outbox *box, uint32_t *slot) { return bn__ring_pop_single((bn_ring *)box, slot); }

uint32_t bn_outbox_size(const bn_outbox *box) { return bn__ring_size((const bn_ring *)box); }
