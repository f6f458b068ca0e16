/* The transposition table: canonical state bytes -> node id, for concurrent use.
 *
 * Open addressing with linear probing over 64-bit slots (layout in tree_impl.h). An insert
 * first reserves an empty slot by CAS with the state's tag, then creates the node, then
 * publishes tag | id + 1 with a release store; a thread that meets a reserved slot with its
 * own tag waits for the publication and compares the bytes. So a state is inserted exactly
 * once, and because slots are never emptied a probe stops at the first empty slot.
 *
 * The table keeps its load under one half. It grows (doubling, rehashing every node from
 * its state bytes) under the write side of a writer-preferring rwlock; all lookups and
 * inserts hold the read side. Only expansion and bn_tree_find touch the table, never the
 * selection loop, so the lock costs little. */
#include <stdlib.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "tree/tree_impl.h"

#define TABLE_MIN_CAPACITY 1024u

uint64_t bn__state_hash(const bn_tree *t, const void *state) {
  return XXH3_64bits(state, t->state_size);
}

static inline uint64_t slot_tag(uint64_t h) { return (h >> 32) | 0x80000000u; }

bn_err bn__table_init(bn__table *tab, uint64_t max_nodes) {
  uint64_t maxcap = TABLE_MIN_CAPACITY;
  while (maxcap < 2 * max_nodes) maxcap <<= 1;
  tab->max_capacity = maxcap;
  tab->slots = calloc(TABLE_MIN_CAPACITY, sizeof *tab->slots);
  if (!tab->slots) return BN_ERR_NOMEM;
  tab->mask = TABLE_MIN_CAPACITY - 1;
  atomic_init(&tab->used, 0);
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  /* Writers are rare (one growth per doubling) and must not starve behind readers. */
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  int rc = pthread_rwlock_init(&tab->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  if (rc != 0) {
    free((void *)tab->slots);
    tab->slots = NULL;
    return BN_ERR_NOMEM;
  }
  return BN_OK;
}

void bn__table_fini(bn__table *tab) {
  if (!tab->slots) return;
  pthread_rwlock_destroy(&tab->lock);
  free((void *)tab->slots);
  tab->slots = NULL;
}

/* Double the table. Called with no lock held; takes the write side, so every slot is
 * published (inserters hold the read side from reservation to publication). */
static bn_err table_grow(bn_tree *t, uint64_t seen_mask) {
  bn__table *tab = &t->table;
  bn_err err = BN_OK;
  pthread_rwlock_wrlock(&tab->lock);
  uint64_t cap = tab->mask + 1;
  if (tab->mask != seen_mask || atomic_load(&tab->used) * 2 < cap) goto done; /* grown */
  if (cap * 2 > tab->max_capacity) goto done; /* load stays below 1/2 anyway at max_nodes */
  _Atomic uint64_t *slots = calloc(cap * 2, sizeof *slots);
  if (!slots) {
    err = BN_ERR_NOMEM;
    goto done;
  }
  uint64_t mask = cap * 2 - 1;
  for (uint64_t i = 0; i < cap; i++) {
    uint64_t s = atomic_load_explicit(&tab->slots[i], memory_order_relaxed);
    if (!s) continue;
    bn_node_id id = (bn_node_id)(s & 0xffffffffu) - 1;
    uint64_t j = bn__state_hash(t, bn__state(t, id)) & mask;
    while (atomic_load_explicit(&slots[j], memory_order_relaxed)) j = (j + 1) & mask;
    atomic_store_explicit(&slots[j], s, memory_order_relaxed);
  }
  free((void *)tab->slots);
  tab->slots = slots;
  tab->mask = mask;
done:
  pthread_rwlock_unlock(&tab->lock);
  return err;
}

/* Wait for a reserved slot to be published; returns the published slot. */
static uint64_t await_publish(_Atomic uint64_t *slot, uint64_t s) {
  unsigned spins = 0;
  while (!(s & 0xffffffffu)) {
    bn__backoff(&spins);
    s = atomic_load_explicit(slot, memory_order_acquire);
  }
  return s;
}

bn_err bn__table_intern(bn_tree *t, const void *state, uint32_t depth, bn_node_id *id,
                        bool *created) {
  bn__table *tab = &t->table;
  uint64_t h = bn__state_hash(t, state), tag = slot_tag(h) << 32;
  bool promised = false; /* holding a node id promise from bn__node_reserve */
  bn_err err = BN_OK;

  pthread_rwlock_rdlock(&tab->lock);
  while (atomic_load_explicit(&tab->used, memory_order_relaxed) * 2 >= tab->mask + 1 &&
         (tab->mask + 1) * 2 <= tab->max_capacity) {
    uint64_t seen = tab->mask;
    pthread_rwlock_unlock(&tab->lock);
    BN_CALL(table_grow(t, seen));
    pthread_rwlock_rdlock(&tab->lock);
  }
  uint64_t mask = tab->mask, i = h & mask;
  for (uint64_t probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
    _Atomic uint64_t *slot = &tab->slots[i];
    uint64_t s = atomic_load_explicit(slot, memory_order_acquire);
    if (s == 0) {
      if (!promised) {
        if ((err = bn__node_reserve(t)) != BN_OK) goto out;
        promised = true;
      }
      if (atomic_compare_exchange_strong_explicit(slot, &s, tag, memory_order_acquire,
                                                  memory_order_acquire)) {
        atomic_fetch_add_explicit(&tab->used, 1, memory_order_relaxed);
        bn_node_id nid = bn__node_commit(t, state, depth);
        promised = false;
        atomic_store_explicit(slot, tag | ((uint64_t)nid + 1), memory_order_release);
        *id = nid;
        *created = true;
        goto out;
      }
      /* Lost the slot: s now holds the winner's value; examine it as a used slot. */
    }
    if ((s & 0xffffffff00000000u) == tag) {
      s = await_publish(slot, s);
      bn_node_id nid = (bn_node_id)(s & 0xffffffffu) - 1;
      if (memcmp(bn__state(t, nid), state, t->state_size) == 0) {
        *id = nid;
        *created = false;
        goto out;
      }
    }
  }
  err = BN_ERR_INTERNAL; /* cannot happen: the load stays under one half */
out:
  if (promised) bn__node_unreserve(t);
  pthread_rwlock_unlock(&tab->lock);
  return err;
}

bn_node_id bn__table_lookup(const bn_tree *t, const void *state) {
  bn__table *tab = (bn__table *)&t->table; /* the lock is mutable state */
  uint64_t h = bn__state_hash(t, state), tag = slot_tag(h) << 32;
  bn_node_id found = BN_NONE;
  pthread_rwlock_rdlock(&tab->lock);
  uint64_t mask = tab->mask, i = h & mask;
  for (uint64_t probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
    _Atomic uint64_t *slot = &tab->slots[i];
    uint64_t s = atomic_load_explicit(slot, memory_order_acquire);
    if (s == 0) break;
    if ((s & 0xffffffff00000000u) != tag) continue;
    s = await_publish(slot, s);
    bn_node_id nid = (bn_node_id)(s & 0xffffffffu) - 1;
    if (memcmp(bn__state(t, nid), state, t->state_size) == 0) {
      found = nid;
      break;
    }
  }
  pthread_rwlock_unlock(&tab->lock);
  return found;
}

bn_err bn__table_rebuild(bn_tree *t, uint64_t n, bn_node_id *dup, bn_node_id *orig) {
  bn__table *tab = &t->table;
  if (n > tab->max_capacity / 2) return BN_ERR_ARG; /* more nodes than max_nodes */
  uint64_t cap = TABLE_MIN_CAPACITY;
  while (cap <= 2 * n && cap < tab->max_capacity) cap <<= 1;
  _Atomic uint64_t *slots = calloc(cap, sizeof *slots);
  if (!slots) return BN_ERR_NOMEM;
  free((void *)tab->slots);
  tab->slots = slots;
  tab->mask = cap - 1;
  atomic_store_explicit(&tab->used, 0, memory_order_relaxed);

  /* Hash a few nodes ahead and prefetch their home slots: the inserts are random accesses
   * into a table much larger than the caches. */
  enum { AHEAD = 16 };
  uint64_t hashes[AHEAD];
  const uint64_t mask = cap - 1;
  for (uint64_t id = 0; id < n && id < AHEAD; id++) {
    hashes[id] = bn__state_hash(t, bn__state(t, (bn_node_id)id));
    __builtin_prefetch((const void *)&slots[hashes[id] & mask], 1);
  }
  for (uint64_t id = 0; id < n; id++) {
    const uint64_t h = hashes[id % AHEAD], tag = slot_tag(h) << 32;
    if (id + AHEAD < n) {
      uint64_t h2 = bn__state_hash(t, bn__state(t, (bn_node_id)(id + AHEAD)));
      hashes[id % AHEAD] = h2;
      __builtin_prefetch((const void *)&slots[h2 & mask], 1);
    }
    const unsigned char *state = bn__state(t, (bn_node_id)id);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
      uint64_t s = atomic_load_explicit(&slots[i], memory_order_relaxed);
      if (!s) {
        atomic_store_explicit(&slots[i], tag | (id + 1), memory_order_relaxed);
        break;
      }
      bn_node_id other = (bn_node_id)(s & 0xffffffffu) - 1;
      if ((s & 0xffffffff00000000u) == tag &&
          memcmp(bn__state(t, other), state, t->state_size) == 0) {
        atomic_store_explicit(&tab->used, id, memory_order_relaxed);
        *dup = (bn_node_id)id;
        *orig = other;
        return BN_ERR_CORRUPT;
      }
    }
  }
  atomic_store_explicit(&tab->used, n, memory_order_relaxed);
  return BN_OK;
}

void bn__table_census(const bn_tree *t, uint64_t *published, uint64_t *reserved) {
  const bn__table *tab = &t->table;
  uint64_t p = 0, r = 0;
  for (uint64_t i = 0; i <= tab->mask; i++) {
    uint64_t s = atomic_load_explicit(&tab->slots[i], memory_order_relaxed);
    if (!s) continue;
    if (s & 0xffffffffu)
      p++;
    else
      r++;
  }
  *published = p;
  *reserved = r;
}
