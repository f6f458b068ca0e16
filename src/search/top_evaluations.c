/* The best single evaluations of a run: the top-K (state, reward) pairs among all results,
 * rollout terminals included. The search graph's means are the robust ranking, but they
 * only cover terminal states the graph reached; this list remembers every good state an
 * engine evaluated. Updated from backprop tasks: a lock-free threshold check rejects almost
 * every result, so the mutex is taken only for a new entrant. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "search/search_impl.h"

struct bn_top_evals {
  pthread_mutex_t lock;
  size_t k, n, state_size;
  bn_top_eval *entries;    /* best first */
  unsigned char *states;   /* k * state_size, entry i's state at i * state_size */
  _Atomic double threshold; /* reward a result must beat once the list is full */
};

bn_err bn__top_evals_create(bn_top_evals **out, size_t k, size_t state_size) {
  bn_top_evals *t = calloc(1, sizeof *t);
  if (t) {
    t->entries = calloc(k ? k : 1, sizeof *t->entries);
    t->states = calloc(k ? k : 1, state_size);
  }
  if (!t || !t->entries || !t->states) {
    if (t) {
      free(t->entries);
      free(t->states);
    }
    free(t);
    return BN_ERR_NOMEM;
  }
  pthread_mutex_init(&t->lock, NULL);
  t->k = k;
  t->state_size = state_size;
  atomic_store(&t->threshold, -__builtin_inf());
  *out = t;
  return BN_OK;
}

void bn__top_evals_destroy(bn_top_evals **t) {
  if (!t || !*t) return;
  pthread_mutex_destroy(&(*t)->lock);
  free((*t)->entries);
  free((*t)->states);
  free(*t);
  *t = NULL;
}

void bn__top_evals_offer(bn_top_evals *t, const void *state, double reward, uint64_t job_id) {
  if (t->k == 0 || reward <= atomic_load_explicit(&t->threshold, memory_order_relaxed)) return;
  pthread_mutex_lock(&t->lock);
  const size_t S = t->state_size;
  size_t at = t->n; /* where the state already is, if it is listed */
  for (size_t i = 0; i < t->n; i++)
    if (memcmp(t->states + i * S, state, S) == 0) at = i;
  if (at < t->n && t->entries[at].reward >= reward) goto done;
  if (at == t->n) { /* a new state: drop the last entry if full */
    if (t->n == t->k && reward <= t->entries[t->n - 1].reward) goto done;
    if (t->n < t->k) t->n++;
    at = t->n - 1;
  }
  /* Move `at` up to its place, shifting worse entries down. */
  size_t pos = at;
  while (pos > 0 && t->entries[pos - 1].reward < reward) pos--;
  memmove(t->entries + pos + 1, t->entries + pos, (at - pos) * sizeof *t->entries);
  memmove(t->states + (pos + 1) * S, t->states + pos * S, (at - pos) * S);
  t->entries[pos] = (bn_top_eval){.reward = reward, .job_id = job_id, .state = NULL};
  memcpy(t->states + pos * S, state, S);
  if (t->n == t->k) atomic_store(&t->threshold, t->entries[t->n - 1].reward);
done:
  pthread_mutex_unlock(&t->lock);
}

size_t bn__top_evals_get(bn_top_evals *t, bn_top_eval *out, size_t max) {
  pthread_mutex_lock(&t->lock);
  size_t n = t->n < max ? t->n : max;
  for (size_t i = 0; i < n; i++) {
    out[i] = t->entries[i];
    out[i].state = t->states + i * t->state_size;
  }
  pthread_mutex_unlock(&t->lock);
  return n;
}
