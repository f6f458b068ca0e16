/* The results log of rank 0: one bn_result_row (plus the state evaluated) per finished job,
 * in the order results were applied. Rows live in fixed-size chunks that never move, so
 * backprop tasks append while the checkpoint writer reads the rows of a snapshot without a
 * lock. A row index is reserved with one atomic add; a new chunk is allocated under a
 * mutex, the first time an index falls into it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "search/search_impl.h"

enum { CHUNK_ROWS = 65536, MAX_CHUNKS = 1 << 16 };

struct bn_results_log {
  size_t state_size;
  _Atomic uint64_t n;             /* rows reserved */
  pthread_mutex_t grow;
  bn_result_row *_Atomic *rows;   /* [MAX_CHUNKS] chunk pointers */
  unsigned char *_Atomic *states; /* [MAX_CHUNKS] */
};

bn_err bn__results_log_create(bn_results_log **out, size_t state_size) {
  bn_results_log *l = calloc(1, sizeof *l);
  if (l) {
    l->rows = calloc(MAX_CHUNKS, sizeof *l->rows);
    l->states = calloc(MAX_CHUNKS, sizeof *l->states);
  }
  if (!l || !l->rows || !l->states) {
    if (l) {
      free(l->rows);
      free(l->states);
    }
    free(l);
    return BN_ERR_NOMEM;
  }
  l->state_size = state_size;
  pthread_mutex_init(&l->grow, NULL);
  *out = l;
  return BN_OK;
}

void bn__results_log_destroy(bn_results_log **lp) {
  if (!lp || !*lp) return;
  bn_results_log *l = *lp;
  for (size_t c = 0; c < MAX_CHUNKS && l->rows[c]; c++) {
    free(l->rows[c]);
    free(l->states[c]);
  }
  free(l->rows);
  free(l->states);
  pthread_mutex_destroy(&l->grow);
  free(l);
  *lp = NULL;
}

static bn_err ensure_chunk(bn_results_log *l, uint64_t c) {
  if (atomic_load_explicit(&l->rows[c], memory_order_acquire)) return BN_OK;
  BN_CHECK(c < MAX_CHUNKS, BN_ERR_FULL, "results log full (%llu rows)",
           (unsigned long long)MAX_CHUNKS * CHUNK_ROWS);
  bn_err err = BN_OK;
  pthread_mutex_lock(&l->grow);
  if (!atomic_load_explicit(&l->rows[c], memory_order_relaxed)) {
    unsigned char *st = malloc((size_t)CHUNK_ROWS * (l->state_size ? l->state_size : 1));
    bn_result_row *rows = malloc((size_t)CHUNK_ROWS * sizeof *rows);
    if (!st || !rows) {
      free(st);
      free(rows);
      err = BN_ERR_NOMEM;
    } else {
      atomic_store_explicit(&l->states[c], st, memory_order_release);
      atomic_store_explicit(&l->rows[c], rows, memory_order_release);
    }
  }
  pthread_mutex_unlock(&l->grow);
  return err;
}

bn_err bn__results_log_append(bn_results_log *l, const bn_result_row *row, const void *state) {
  uint64_t i = atomic_fetch_add(&l->n, 1);
  uint64_t c = i / CHUNK_ROWS, k = i % CHUNK_ROWS;
  bn_err err = ensure_chunk(l, c);
  if (err != BN_OK) {
    atomic_fetch_sub(&l->n, 1); /* only reached when memory is gone; the run stops */
    return err;
  }
  l->rows[c][k] = *row;
  memcpy(l->states[c] + k * l->state_size, state, l->state_size);
  return BN_OK;
}

uint64_t bn__results_log_size(const bn_results_log *l) { return atomic_load(&l->n); }

void bn__results_log_view(bn_results_log *l, bn_snapshot *snap) {
  snap->n_results = atomic_load(&l->n);
  snap->result_chunk_rows = CHUNK_ROWS;
  snap->result_rows = (bn_result_row **)l->rows;
  snap->result_states = (unsigned char **)l->states;
}

bn_err bn__results_log_load(bn_results_log *l, const bn_snapshot *snap) {
  for (uint64_t i = 0; i < snap->n_results; i++) {
    uint64_t c = i / snap->result_chunk_rows, k = i % snap->result_chunk_rows;
    BN_CALL(bn__results_log_append(l, &snap->result_rows[c][k], snap->result_states[c] + k * snap->state_size));
  }
  return BN_OK;
}
