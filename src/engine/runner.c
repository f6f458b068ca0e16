/* The job runner thread (runner.h) and the running of one batch message. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banyan/log.h"
#include "engine/runner.h"
#include "engine/wire.h"

struct bn_runner {
  pthread_mutex_t mu;
  pthread_cond_t cv;   /* work handed over, work done, or quit */
  pthread_t thread;
  bool started, busy, quit;
  void (*fn)(void *);
  void *arg;
};

static void *runner_main(void *arg) {
  bn_runner *r = arg;
  /* Stop signals go to the MPI thread: a signal delivered here would cut a job's sleeps
   * and system calls short (EINTR) and take nothing. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  pthread_mutex_lock(&r->mu);
  for (;;) {
    while (!r->fn && !r->quit) pthread_cond_wait(&r->cv, &r->mu);
    if (!r->fn) break;
    void (*fn)(void *) = r->fn;
    void *fa = r->arg;
    pthread_mutex_unlock(&r->mu);
    fn(fa);
    pthread_mutex_lock(&r->mu);
    r->fn = NULL;
    r->busy = false;
    pthread_cond_broadcast(&r->cv);
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

bn_err bn__runner_create(bn_runner **out) {
  bn_runner *r = calloc(1, sizeof *r);
  BN_CHECK(r, BN_ERR_NOMEM, "no memory for the job runner");
  pthread_mutex_init(&r->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r->cv, &ca);
  pthread_condattr_destroy(&ca);
  *out = r;
  return BN_OK;
}

bn_err bn__runner_start(bn_runner *r, void (*fn)(void *), void *arg) {
  if (!r->started) {
    int rc = pthread_create(&r->thread, NULL, runner_main, r);
    BN_CHECK(rc == 0, BN_ERR_IO, "cannot start the job runner thread: %s", strerror(rc));
    r->started = true;
  }
  pthread_mutex_lock(&r->mu);
  r->fn = fn;
  r->arg = arg;
  r->busy = true;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  return BN_OK;
}

bool bn__runner_wait(bn_runner *r, double seconds) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  if (seconds < 0) seconds = 0;
  long long ns = until.tv_nsec + (long long)(seconds * 1e9);
  until.tv_sec += (time_t)(ns / 1000000000LL);
  until.tv_nsec = (long)(ns % 1000000000LL);
  pthread_mutex_lock(&r->mu);
  while (r->busy)
    if (pthread_cond_timedwait(&r->cv, &r->mu, &until) != 0) break;
  bool done = !r->busy;
  pthread_mutex_unlock(&r->mu);
  return done;
}

bool bn__runner_busy(bn_runner *r) {
  pthread_mutex_lock(&r->mu);
  bool busy = r->busy;
  pthread_mutex_unlock(&r->mu);
  return busy;
}

bool bn__runner_destroy(bn_runner **rp) {
  if (!rp || !*rp) return true;
  bn_runner *r = *rp;
  *rp = NULL;
  if (bn__runner_busy(r)) {
    /* Abandoned inside a job: the thread keeps r and its work's memory until the process
     * exits. */
    pthread_detach(r->thread);
    return false;
  }
  if (r->started) {
    pthread_mutex_lock(&r->mu);
    r->quit = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
  }
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  free(r);
  return true;
}

void bn__engine_run_batch(const bn_domain *domain, int retries, void *in, uint32_t count, size_t job_rec, void *out,
                          size_t res_rec, bn_engine_stats *stats) {
  for (uint32_t i = 0; i < count; i++) {
    bn_wire_job *job = bn__wire_record(in, job_rec, i);
    bn_wire_result *res = bn__wire_record(out, res_rec, i);
    bn_job_outcome o;
    memset(res, 0, res_rec);
    const bn_eval_request req = {.job_id = job->job_id, .seed = job->seed, .sample = job->sample};
    bn_job_execute(domain, job->kind, &req, retries, bn__wire_job_state(job), bn__wire_result_state(res), &o);
    res->job_id = job->job_id;
    res->slot = job->slot;
    res->status = o.status;
    res->attempts = o.attempts;
    res->reward = o.reward;
    res->t_started = o.t_started;
    res->t_finished = o.t_finished;
    memcpy(res->reason, o.reason, sizeof res->reason);
    stats->jobs++;
    stats->failures += o.status != BN_JOB_OK;
    stats->busy_seconds += o.t_finished - o.t_started;
  }
  bn__wire_put_header(out, BN_TAG_RESULTS, count, res_rec);
}
