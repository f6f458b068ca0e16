/* The search threads of rank 0 (the "crew"): the thread that calls bn__crew_run runs the
 * dispatcher, the others run the search work it hands out (apply results, issue
 * iterations, advance the deterministic schedule).
 *
 * The threads are an OpenMP team (so OMP_NUM_THREADS, OMP_PROC_BIND and OMP_PLACES apply),
 * but work goes through this queue rather than OpenMP tasks, because of how idle threads
 * wait. libgomp's idle team threads spin (by default 300,000 polls, forever with
 * OMP_WAIT_POLICY=active) before they sleep, and it reads that policy once, when the
 * library loads: on shared cores a spinning search thread takes the core from the
 * dispatcher, the in-process engine or another program, and the search ran 3-10 times
 * slower beside one busy process. Here an idle worker sleeps on a condition variable at
 * once, and a submit wakes one (a system call only when one sleeps). Polling 20 us before
 * sleeping, as the dispatcher does, made 2 and 8 threads 10-40% slower on two shared
 * cores, so workers do not poll.
 *
 * With no workers (search.threads = 1) there is no team at all: submitted work runs at
 * once on the calling thread, so one thread selects, dispatches and applies, and nothing
 * ever waits for another thread of rank 0. */
#include <omp.h>
#include <stdlib.h>

#include "banyan/log.h"
#include "search/search_impl.h"

typedef struct item {
  void (*fn)(void *);
  void *arg;
} item;

struct bn_crew {
  int workers;          /* threads asked for besides the caller of bn__crew_run */
  _Atomic int serving;  /* workers present now; 0: work runs inline */
  pthread_mutex_t mu;
  pthread_cond_t work_cv; /* workers: an item was queued, or closing */
  pthread_cond_t idle_cv; /* bn__crew_wait: the last running item finished */
  item *q;              /* ring of queued items, cap a power of two */
  size_t cap, head, n;
  int running;          /* items being run now */
  int sleepers;         /* workers waiting on work_cv */
  int waiters;          /* threads in bn__crew_wait */
  int closing;
  /* Contention figures (for tests and benchmarks). */
  uint64_t submitted, wakeups;
};

bn_err bn__crew_create(bn_crew **out, int workers) {
  bn_crew *c = calloc(1, sizeof *c);
  BN_CHECK(c, BN_ERR_NOMEM, "no memory for the search threads");
  c->workers = workers > 0 ? workers : 0;
  c->cap = 64;
  c->q = malloc(c->cap * sizeof *c->q);
  if (!c->q) {
    free(c);
    BN_CHECK(false, BN_ERR_NOMEM, "no memory for the search threads");
  }
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->work_cv, NULL);
  pthread_cond_init(&c->idle_cv, NULL);
  *out = c;
  return BN_OK;
}

void bn__crew_destroy(bn_crew **cp) {
  if (!cp || !*cp) return;
  bn_crew *c = *cp;
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->work_cv);
  pthread_cond_destroy(&c->idle_cv);
  free(c->q);
  free(c);
  *cp = NULL;
}

/* Under mu. False only without memory. */
static bool push(bn_crew *c, item it) {
  if (c->n == c->cap) {
    item *q = malloc(2 * c->cap * sizeof *q);
    if (!q) return false;
    for (size_t k = 0; k < c->n; k++) q[k] = c->q[(c->head + k) & (c->cap - 1)];
    free(c->q);
    c->q = q;
    c->head = 0;
    c->cap *= 2;
  }
  c->q[(c->head + c->n) & (c->cap - 1)] = it;
  c->n++;
  return true;
}

/* Under mu, n > 0. */
static item pop(bn_crew *c) {
  item it = c->q[c->head];
  c->head = (c->head + 1) & (c->cap - 1);
  c->n--;
  return it;
}

/* Under mu: run `it` unlocked, then tell a waiter if the crew went idle. */
static void run_item(bn_crew *c, item it) {
  c->running++;
  pthread_mutex_unlock(&c->mu);
  it.fn(it.arg);
  pthread_mutex_lock(&c->mu);
  c->running--;
  if (c->running == 0 && c->n == 0 && c->waiters > 0) pthread_cond_broadcast(&c->idle_cv);
}

void bn__crew_submit(bn_crew *c, void (*fn)(void *), void *arg) {
  if (atomic_load_explicit(&c->serving, memory_order_relaxed) == 0) {
    fn(arg);
    return;
  }
  pthread_mutex_lock(&c->mu);
  c->submitted++;
  if (!push(c, (item){fn, arg})) {
    pthread_mutex_unlock(&c->mu);
    fn(arg); /* no memory to queue it: run it here rather than lose it */
    return;
  }
  if (c->sleepers > 0) {
    c->wakeups++;
    pthread_cond_signal(&c->work_cv);
  }
  pthread_mutex_unlock(&c->mu);
}

void bn__crew_wait(bn_crew *c) {
  pthread_mutex_lock(&c->mu);
  for (;;) {
    if (c->n > 0) {
      run_item(c, pop(c)); /* help rather than wait */
      continue;
    }
    if (c->running == 0) break;
    c->waiters++;
    pthread_cond_wait(&c->idle_cv, &c->mu);
    c->waiters--;
  }
  pthread_mutex_unlock(&c->mu);
}

static void serve(bn_crew *c) {
  pthread_mutex_lock(&c->mu);
  for (;;) {
    if (c->n > 0) {
      run_item(c, pop(c));
      continue;
    }
    if (c->closing) break;
    c->sleepers++;
    pthread_cond_wait(&c->work_cv, &c->mu);
    c->sleepers--;
  }
  pthread_mutex_unlock(&c->mu);
}

bn_err bn__crew_run(bn_crew *c, bn_err (*main_fn)(void *), void *ctx) {
  if (c->workers == 0) return main_fn(ctx);
  bn_err err = BN_OK;
  omp_set_dynamic(0);
#pragma omp parallel num_threads(c->workers + 1)
  {
    if (omp_get_thread_num() == 0) {
      int got = omp_get_num_threads() - 1;
      if (got < c->workers)
        bn_warn("OpenMP gave rank 0 %d search thread%s besides the dispatcher instead of search.threads = %d",
                got, got == 1 ? "" : "s", c->workers);
      pthread_mutex_lock(&c->mu);
      atomic_store(&c->serving, got);
      pthread_mutex_unlock(&c->mu);
      err = main_fn(ctx);
      bn__crew_wait(c);
      pthread_mutex_lock(&c->mu);
      c->closing = 1;
      atomic_store(&c->serving, 0);
      pthread_cond_broadcast(&c->work_cv);
      pthread_mutex_unlock(&c->mu);
    } else {
      serve(c);
    }
  }
  pthread_mutex_lock(&c->mu);
  c->closing = 0; /* the crew can run again */
  pthread_mutex_unlock(&c->mu);
  return err;
}

void bn__crew_figures(bn_crew *c, uint64_t *submitted, uint64_t *wakeups) {
  pthread_mutex_lock(&c->mu);
  *submitted = c->submitted;
  *wakeups = c->wakeups;
  pthread_mutex_unlock(&c->mu);
}
