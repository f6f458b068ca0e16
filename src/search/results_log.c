/* The results buffer of rank 0: the rows of finished jobs (plus the state evaluated) from
 * the moment they are applied until the checkpoint writer has put them in a segment file on
 * disk. Rows live in fixed-size chunks held in a ring; a chunk never moves while it is in
 * use, so backprop tasks append while the writer thread reads rows for a segment without a
 * lock, and the writer frees a chunk once every row in it is durable. Memory is therefore
 * bounded by what is not yet on disk, not by the length of the run.
 *
 * A row index is reserved with one atomic add; a chunk is allocated under a mutex the first
 * time an index falls into it; each append then counts its chunk's filled rows, so the
 * writer can tell which whole chunks are complete without stopping the search. With one
 * appending thread (search.threads = 1) both counts are plain release stores instead:
 * a locked add is a full fence, and it stalled the search thread on the stores of the tree
 * walk before it (half of the append's time in `perf annotate`). Without checkpoints
 * (keep = 0) rows are only counted: nobody will read them.
 *
 * Memory. A chunk is one block (its rows, then their states) of 2 MiB on huge pages where
 * the buffer is large enough (util/bigmem.c), and chunks whose rows are on disk are kept for
 * reuse, never unmapped before the end. Fresh 4 KiB pages cost the search a page fault
 * every 40 rows at 1 M rows/s (9 us each on this project's virtual machines: about 3% of
 * the search thread's time), and each unmap interrupts it for a TLB shootdown. The memory held is the
 * most the buffer ever held at once, which its size bounds. While the writer thread has
 * nothing to write it maps and touches the buffer's chunks one by one ahead of the search
 * (bn__results_log_prefault), so even the first faults happen off the search's core (a
 * lead of 8 chunks was not enough: the search used them up while the writer wrote a
 * segment, and zeroed huge pages itself).
 *
 * A row is kept without its failure text (log_row, 80 bytes, not bn_result_row's 208): the
 * text of failed rows lives in a second array of the chunk, allocated with the chunk's
 * first failure. So the buffer holds 2.5 times more rows, early segments are that much
 * larger (fewer files, fewer merges), and an append copies less. */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/log.h"
#include "search/search_impl.h"
#include "util/bigmem.h"

/* A row as the buffer keeps it: bn_result_row up to its failure text, the same members in
 * the same order, so it is copied in one piece each way. */
typedef struct log_row {
  uint64_t job_id, seed;
  uint8_t kind, status;
  uint16_t attempts;
  uint32_t sample;
  int32_t engine;
  double reward;
  double t_created, t_sent, t_started, t_finished, t_received;
} log_row;
_Static_assert(sizeof(log_row) == offsetof(bn_result_row, failure_kind) &&
                   offsetof(log_row, reward) == offsetof(bn_result_row, reward) &&
                   offsetof(log_row, t_received) == offsetof(bn_result_row, t_received),
               "log_row must be the head of bn_result_row");

/* The failure text of a row (kind, then detail), for chunks that have a failed row. */
typedef struct log_text {
  char kind[BN_FAILURE_KIND_LEN];
  char detail[BN_FAILURE_DETAIL_LEN];
} log_text;

/* A cache line each: the search stores `filled` of the chunk it appends to at every row,
 * and the writer thread reads the slots of the chunks before it for every row it writes;
 * on a shared line every such read would take the line from the search's core. */
typedef struct chunk_slot {
  _Alignas(64) _Atomic uint64_t chunk1;         /* chunk number + 1 held here; 0: empty */
  log_row *_Atomic rows;
  unsigned char *_Atomic states;
  log_text *_Atomic texts;         /* NULL until a row of the chunk fails */
  _Atomic uint64_t filled;         /* rows of the chunk written */
} chunk_slot;

struct bn_results_log {
  size_t state_size;
  int keep;
  bool one_appender; /* only one thread ever appends: no locked adds */
  uint64_t chunk_rows;
  size_t ring_n;
  chunk_slot *ring;
  _Alignas(64) _Atomic uint64_t n; /* rows reserved (a cache line of its own: the search's) */
  _Alignas(64) _Atomic uint64_t durable; /* rows below are on disk (writer thread advances it) */
  uint64_t freed_chunks;    /* chunks below this are freed (writer thread) */
  uint64_t base;            /* the first row of this session (earlier ones are in segments) */
  pthread_mutex_t grow;
  size_t block_bytes; /* a chunk's block: its rows, then their states */
  /* Blocks of chunks whose rows are on disk, kept for reuse (under `grow`; room for ring_n). */
  log_row **spare;
  size_t n_spare;
  size_t n_alloc;       /* chunks allocated, in use or spare (at most ring_n) */
  size_t buffer_chunks; /* chunks of buffer_bytes */
};

bn_err bn__results_log_create(bn_results_log **out, size_t state_size, int keep, bool one_appender,
                              size_t buffer_bytes, uint64_t extra_rows) {
  bn_results_log *l = aligned_alloc(64, sizeof *l);
  if (l) memset(l, 0, sizeof *l);
  BN_CHECK(l, BN_ERR_NOMEM, "no memory for the results buffer");
  l->state_size = state_size;
  l->keep = keep;
  l->one_appender = one_appender;
  const size_t row_bytes = bn__results_log_row_bytes(state_size);
  /* Chunks of one huge page, at most an eighth of the buffer, at least 16 rows. */
  const size_t target = buffer_bytes / 8 < BN__BIGMEM_HUGE ? buffer_bytes / 8 : BN__BIGMEM_HUGE;
  l->chunk_rows = target / row_bytes >= 16 ? target / row_bytes : 16;
  l->block_bytes = target == BN__BIGMEM_HUGE ? BN__BIGMEM_HUGE : (size_t)l->chunk_rows * row_bytes;
  /* Room for twice the buffer (the search waits for the disk there), the rows that tasks
   * may still append meanwhile, and slack. */
  const uint64_t buffer_chunks = buffer_bytes / (l->chunk_rows * row_bytes) + 1;
  l->buffer_chunks = (size_t)buffer_chunks;
  l->ring_n = (size_t)(2 * buffer_chunks + extra_rows / l->chunk_rows + 8);
  l->ring = aligned_alloc(64, l->ring_n * sizeof *l->ring);
  if (l->ring) memset(l->ring, 0, l->ring_n * sizeof *l->ring);
  l->spare = calloc(l->ring_n, sizeof *l->spare);
  if (!l->ring || !l->spare) {
    free(l->ring);
    free(l->spare);
    free(l);
    BN_CHECK(0, BN_ERR_NOMEM, "no memory for the results buffer");
  }
  pthread_mutex_init(&l->grow, NULL);
  *out = l;
  return BN_OK;
}

size_t bn__results_log_row_bytes(size_t state_size) { return sizeof(log_row) + (state_size ? state_size : 1); }

/* Empty slot c; its block goes to the spares (l: NULL unmaps it). At most ring_n chunks
 * exist, so the spares always have room. */
static void free_slot(bn_results_log *l, chunk_slot *c, size_t block_bytes) {
  atomic_store(&c->chunk1, 0);
  log_row *rows = atomic_load(&c->rows);
  if (l && rows && l->n_spare < l->ring_n) {
    l->spare[l->n_spare++] = rows;
  } else if (rows) {
    if (l) l->n_alloc--;
    bn__bigmem_free(rows, block_bytes);
  }
  free(atomic_load(&c->texts));
  atomic_store(&c->rows, NULL);
  atomic_store(&c->states, NULL);
  atomic_store(&c->texts, NULL);
  atomic_store(&c->filled, 0);
}

void bn__results_log_destroy(bn_results_log **lp) {
  if (!lp || !*lp) return;
  bn_results_log *l = *lp;
  for (size_t i = 0; i < l->ring_n; i++) free_slot(NULL, &l->ring[i], l->block_bytes);
  for (size_t i = 0; i < l->n_spare; i++) bn__bigmem_free(l->spare[i], l->block_bytes);
  free(l->spare);
  free(l->ring);
  pthread_mutex_destroy(&l->grow);
  free(l);
  *lp = NULL;
}

static chunk_slot *slot_of(const bn_results_log *l, uint64_t chunk) { return &l->ring[chunk % l->ring_n]; }

static bn_err ensure_chunk(bn_results_log *l, uint64_t c) {
  chunk_slot *sl = slot_of(l, c);
  if (atomic_load_explicit(&sl->chunk1, memory_order_acquire) == c + 1) return BN_OK;
  bn_err err = BN_OK;
  pthread_mutex_lock(&l->grow);
  const uint64_t held = atomic_load(&sl->chunk1);
  if (held == 0) {
    log_row *rows = NULL;
    if (l->n_spare > 0) {
      rows = l->spare[--l->n_spare];
    } else if ((rows = bn__bigmem_alloc(l->block_bytes)) != NULL) {
      l->n_alloc++;
    }
    if (!rows) {
      err = BN_ERR_NOMEM;
    } else {
      /* A resumed session starts mid-chunk: the rows before it count as filled. */
      const uint64_t start = c * l->chunk_rows;
      atomic_store(&sl->filled, start < l->base ? l->base - start : 0);
      atomic_store(&sl->states, (unsigned char *)(rows + l->chunk_rows));
      atomic_store(&sl->rows, rows);
      atomic_store_explicit(&sl->chunk1, c + 1, memory_order_release);
    }
  } else if (held != c + 1) {
    err = BN_ERR_FULL; /* the ring is full of rows not yet on disk: the back-pressure failed */
  }
  pthread_mutex_unlock(&l->grow);
  if (err == BN_ERR_FULL) bn_error("results buffer overflow: rows arrive faster than they reach the disk");
  return err;
}

bn_err bn__results_log_append(bn_results_log *l, const bn_result_row *row, const void *state) {
  uint64_t i;
  if (l->one_appender) {
    i = atomic_load_explicit(&l->n, memory_order_relaxed);
    atomic_store_explicit(&l->n, i + 1, memory_order_release);
  } else {
    i = atomic_fetch_add(&l->n, 1);
  }
  if (!l->keep) return BN_OK;
  uint64_t c = i / l->chunk_rows, k = i % l->chunk_rows;
  bn_err err = ensure_chunk(l, c);
  if (err != BN_OK) return err; /* the run stops with this error */
  chunk_slot *sl = slot_of(l, c);
  log_row *rows = atomic_load_explicit(&sl->rows, memory_order_relaxed);
  unsigned char *states = atomic_load_explicit(&sl->states, memory_order_relaxed);
  memcpy(&rows[k], row, sizeof(log_row));
  memcpy(states + k * l->state_size, state, l->state_size);
  if (row->status == BN_JOB_FAILED) {
    log_text *t = atomic_load(&sl->texts);
    if (!t) {
      /* Another thread may be doing the same: the first one's array stays. */
      log_text *mine = calloc((size_t)l->chunk_rows, sizeof *mine);
      if (!mine) return BN_ERR_NOMEM;
      log_text *none = NULL;
      if (atomic_compare_exchange_strong(&sl->texts, &none, mine)) t = mine;
      else {
        free(mine);
        t = none;
      }
    }
    memcpy(t[k].kind, row->failure_kind, sizeof t[k].kind);
    memcpy(t[k].detail, row->failure_detail, sizeof t[k].detail);
  }
  if (l->one_appender)
    atomic_store_explicit(&sl->filled, atomic_load_explicit(&sl->filled, memory_order_relaxed) + 1,
                          memory_order_release);
  else
    atomic_fetch_add_explicit(&sl->filled, 1, memory_order_release);
  return BN_OK;
}

bool bn__results_log_prefault(bn_results_log *l) {
  if (!l->keep) return false;
  pthread_mutex_lock(&l->grow);
  const bool more = l->n_alloc < l->buffer_chunks;
  if (more) l->n_alloc++;
  pthread_mutex_unlock(&l->grow);
  if (!more) return false;
  log_row *rows = bn__bigmem_alloc(l->block_bytes);
  if (rows) bn__bigmem_touch(rows, l->block_bytes);
  pthread_mutex_lock(&l->grow);
  if (rows) l->spare[l->n_spare++] = rows; /* n_alloc <= ring_n: there is room */
  else l->n_alloc--;
  pthread_mutex_unlock(&l->grow);
  return rows != NULL; /* no memory now: the search maps it when it needs it */
}

uint64_t bn__results_log_size(const bn_results_log *l) { return atomic_load(&l->n); }

uint64_t bn__results_log_buffered(const bn_results_log *l) {
  return l->keep ? atomic_load(&l->n) - atomic_load(&l->durable) : 0;
}

uint64_t bn__results_log_complete(const bn_results_log *l, uint64_t from) {
  const uint64_t n = atomic_load(&l->n);
  uint64_t c = from / l->chunk_rows;
  for (;; c++) {
    const chunk_slot *sl = slot_of(l, c);
    if (atomic_load_explicit((_Atomic uint64_t *)&sl->chunk1, memory_order_acquire) != c + 1 ||
        atomic_load_explicit((_Atomic uint64_t *)&sl->filled, memory_order_acquire) != l->chunk_rows)
      break;
  }
  const uint64_t upto = c * l->chunk_rows;
  return upto < from ? from : upto > n ? n : upto;
}

void bn__results_log_release(bn_results_log *l, uint64_t upto) {
  atomic_store(&l->durable, upto);
  pthread_mutex_lock(&l->grow);
  for (; (l->freed_chunks + 1) * l->chunk_rows <= upto; l->freed_chunks++) {
    chunk_slot *sl = slot_of(l, l->freed_chunks);
    if (atomic_load(&sl->chunk1) == l->freed_chunks + 1) free_slot(l, sl, l->block_bytes);
  }
  pthread_mutex_unlock(&l->grow);
}

void bn__results_log_restart_at(bn_results_log *l, uint64_t rows) {
  atomic_store(&l->n, rows);
  atomic_store(&l->durable, rows);
  l->freed_chunks = rows / l->chunk_rows;
  l->base = rows;
}

/* Row i as a bn_result_row, in a buffer of the calling thread (the writer's). */
static const bn_result_row *source_row(const void *ctx, uint64_t i) {
  static _Thread_local bn_result_row out;
  const bn_results_log *l = ctx;
  const chunk_slot *sl = slot_of(l, i / l->chunk_rows);
  const uint64_t k = i % l->chunk_rows;
  const log_row *r = &atomic_load(&sl->rows)[k];
  memcpy(&out, r, sizeof *r);
  const log_text *t = r->status == BN_JOB_FAILED ? atomic_load(&sl->texts) : NULL;
  if (t) {
    memcpy(out.failure_kind, t[k].kind, sizeof out.failure_kind);
    memcpy(out.failure_detail, t[k].detail, sizeof out.failure_detail);
  } else {
    out.failure_kind[0] = out.failure_detail[0] = '\0';
  }
  return &out;
}

static const unsigned char *source_state(const void *ctx, uint64_t i) {
  const bn_results_log *l = ctx;
  return atomic_load(&slot_of(l, i / l->chunk_rows)->states) + (i % l->chunk_rows) * l->state_size;
}

bn_result_source bn__results_log_source(const bn_results_log *l) {
  return (bn_result_source){.ctx = l, .row = source_row, .state = source_state};
}
