/* The dispatcher of rank 0: the only code that calls MPI while a search runs.
 *
 * Each pass it (1) tests the pre-posted result receives (one per engine) and hands
 * finished jobs to the search, (2) recycles send buffers whose MPI_Isend completed, and
 * (3) moves jobs from the outbox to engines under credit-based load balancing: an engine
 * may hold `depth_e` jobs, new work goes to the engine with the most free credits, in
 * batches of `batch_e` jobs. A partial batch is sent only to an engine that has less than
 * a batch queued, so cheap jobs travel in full batches while no engine ever starves.
 * Adaptive batching sizes batch_e so the assumed per-message overhead stays under 5% of
 * the engine's measured job time; depth_e = max(engine.depth, 2 batch_e) keeps the next
 * batch waiting at the engine. With no engines it runs the jobs itself. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/engine.h"
#include "banyan/log.h"
#include "engine/backoff.h"
#include "engine/wire.h"

enum { LOCAL_RUN_PER_PASS = 64, LOCAL_CAPACITY = 128 };
static const double overhead_share = 0.05; /* target: message overhead / job time */
static const double ewma_weight = 0.2;
static const double dispatcher_max_sleep = 100e-6;

typedef struct engine_state {
  uint32_t in_flight; /* jobs sent and not answered */
  uint32_t batch;     /* jobs per message now */
  uint32_t depth;     /* jobs it may hold now */
  double job_time;    /* EWMA seconds per job; < 0 until measured */
  uint64_t jobs, failures;
  double busy;        /* seconds inside jobs */
  void *rbuf;         /* pre-posted receive buffer */
} engine_state;

struct bn_dispatcher {
  const bn_domain *domain;
  bn_engine_params p;
  MPI_Comm comm;
  int n_engines;
  bn_job *jobs;
  uint32_t n_slots;
  bn_outbox *outbox;
  size_t job_rec, res_rec, rbytes, sbytes;

  engine_state *eng; /* [n_engines], engine i is rank i + 1 */
  MPI_Request *rreq; /* [n_engines] */
  int32_t *slot_engine; /* [n_slots]: rank holding the slot's job, -1 if none */

  void **sbuf;        /* send buffers */
  MPI_Request *sreq;  /* one request per send buffer */
  int *free_sends;    /* stack of idle send buffers */
  int n_sends, n_free;

  int *indices;          /* Testsome scratch, max(n_engines, n_sends) */
  MPI_Status *statuses;
  uint32_t *done_slots;  /* slots finished in this pass, [n_slots] */
  size_t n_done;
  unsigned char *local_terminal; /* local mode scratch */

  bn_dispatch_stats stats;
  uint32_t rotate; /* round-robin start for ties */
};

static uint32_t effective_depth(const bn_engine_params *p, uint32_t batch) {
  uint32_t d = (uint32_t)p->depth;
  return d > 2 * batch ? d : 2 * batch;
}

static uint32_t initial_batch(const bn_engine_params *p) {
  return p->batch > 0 ? (uint32_t)(p->batch < p->max_batch ? p->batch : p->max_batch) : 1;
}

uint32_t bn_dispatcher_max_capacity(const bn_engine_params *p, int engines) {
  if (engines <= 0) return (uint32_t)(p->depth > LOCAL_CAPACITY ? p->depth : LOCAL_CAPACITY);
  uint32_t b = p->batch > 0 ? initial_batch(p) : (uint32_t)p->max_batch;
  return (uint32_t)engines * effective_depth(p, b);
}

static uint32_t capacity(const bn_dispatcher *d) {
  if (d->n_engines == 0) return bn_dispatcher_max_capacity(&d->p, 0);
  uint32_t c = 0;
  for (int i = 0; i < d->n_engines; i++) c += d->eng[i].depth;
  return c;
}

bn_err bn_dispatcher_create(bn_dispatcher **out, const bn_domain *domain, const bn_engine_params *p,
                            MPI_Comm comm, bn_job *jobs, uint32_t n_slots, bn_outbox *outbox) {
  int size = 1;
  BN_CHECK(MPI_Comm_size(comm, &size) == MPI_SUCCESS, BN_ERR_MPI, "MPI_Comm_size failed");
  bn_err err = BN_OK;
  bn_dispatcher *d = calloc(1, sizeof *d);
  BN_CHECK(d, BN_ERR_NOMEM, "no memory for the dispatcher");
  d->domain = domain;
  d->p = *p;
  d->comm = comm;
  d->n_engines = size - 1;
  d->jobs = jobs;
  d->n_slots = n_slots;
  d->outbox = outbox;
  const size_t S = domain->info.state_size;
  d->job_rec = bn__wire_job_size(S);
  d->res_rec = bn__wire_result_size(S);
  d->rbytes = bn__wire_message_size((uint32_t)p->max_batch, d->res_rec);
  d->sbytes = bn__wire_message_size((uint32_t)p->max_batch, d->job_rec);
  const int n = d->n_engines;
  d->eng = calloc((size_t)(n ? n : 1), sizeof *d->eng);
  d->rreq = calloc((size_t)(n ? n : 1), sizeof *d->rreq);
  d->slot_engine = malloc(n_slots * sizeof *d->slot_engine);
  d->done_slots = malloc(n_slots * sizeof *d->done_slots);
  d->indices = malloc((size_t)(n + 1) * sizeof *d->indices);
  d->statuses = malloc((size_t)(n + 1) * sizeof *d->statuses);
  d->local_terminal = malloc(S);
  BN_CHECK_GOTO(d->eng && d->rreq && d->slot_engine && d->done_slots && d->indices && d->statuses &&
                    d->local_terminal,
                BN_ERR_NOMEM, "no memory for the dispatcher");
  for (uint32_t s = 0; s < n_slots; s++) d->slot_engine[s] = -1;
  for (int i = 0; i < n; i++) {
    engine_state *e = &d->eng[i];
    e->batch = initial_batch(p);
    e->depth = effective_depth(p, e->batch);
    e->job_time = -1.0;
    e->rbuf = malloc(d->rbytes);
    d->rreq[i] = MPI_REQUEST_NULL;
    BN_CHECK_GOTO(e->rbuf, BN_ERR_NOMEM, "no memory for receive buffers");
    BN_CHECK_GOTO(MPI_Irecv(e->rbuf, (int)d->rbytes, MPI_BYTE, i + 1, BN_TAG_RESULTS, comm, &d->rreq[i]) ==
                      MPI_SUCCESS,
                  BN_ERR_MPI, "MPI_Irecv for engine %d failed", i + 1);
  }
  d->stats.engines = n;
  d->stats.capacity = capacity(d);
  *out = d;
  return BN_OK;
fail:
  bn_dispatcher_destroy(&d);
  return err;
}

void bn_dispatcher_destroy(bn_dispatcher **dp) {
  if (!dp || !*dp) return;
  bn_dispatcher *d = *dp;
  for (int i = 0; d->eng && i < d->n_engines; i++) {
    if (d->rreq && d->rreq[i] != MPI_REQUEST_NULL) {
      MPI_Cancel(&d->rreq[i]);
      MPI_Wait(&d->rreq[i], MPI_STATUS_IGNORE);
    }
    free(d->eng[i].rbuf);
  }
  for (int i = 0; i < d->n_sends; i++) {
    if (d->sreq[i] != MPI_REQUEST_NULL) MPI_Wait(&d->sreq[i], MPI_STATUS_IGNORE);
    free(d->sbuf[i]);
  }
  free(d->sbuf);
  free(d->sreq);
  free(d->free_sends);
  free(d->eng);
  free(d->rreq);
  free(d->slot_engine);
  free(d->done_slots);
  free(d->indices);
  free(d->statuses);
  free(d->local_terminal);
  free(d);
  *dp = NULL;
}

/* A send buffer that is free now, growing the pool when all are in use. */
static bn_err take_send_buffer(bn_dispatcher *d, int *index) {
  if (d->n_free > 0) {
    *index = d->free_sends[--d->n_free];
    return BN_OK;
  }
  int n = d->n_sends + 1;
  void **sbuf = realloc(d->sbuf, (size_t)n * sizeof *sbuf);
  if (sbuf) d->sbuf = sbuf;
  MPI_Request *sreq = realloc(d->sreq, (size_t)n * sizeof *sreq);
  if (sreq) d->sreq = sreq;
  int *fs = realloc(d->free_sends, (size_t)n * sizeof *fs);
  if (fs) d->free_sends = fs;
  int *idx = realloc(d->indices, (size_t)(n > d->n_engines ? n : d->n_engines) * sizeof *idx);
  if (idx) d->indices = idx;
  MPI_Status *st = realloc(d->statuses, (size_t)(n > d->n_engines ? n : d->n_engines) * sizeof *st);
  if (st) d->statuses = st;
  void *buf = malloc(d->sbytes);
  if (!sbuf || !sreq || !fs || !idx || !st || !buf) {
    free(buf);
    return BN_ERR_NOMEM;
  }
  d->sbuf[d->n_sends] = buf;
  d->sreq[d->n_sends] = MPI_REQUEST_NULL;
  *index = d->n_sends++;
  return BN_OK;
}

static void adapt_batch(bn_dispatcher *d, engine_state *e, double busy, uint32_t count) {
  double per_job = busy / count;
  e->job_time = e->job_time < 0 ? per_job : (1 - ewma_weight) * e->job_time + ewma_weight * per_job;
  if (d->p.batch > 0) return;
  double want = ceil(d->p.message_overhead / (overhead_share * fmax(e->job_time, 1e-9)));
  uint32_t b = want >= d->p.max_batch ? (uint32_t)d->p.max_batch : (uint32_t)fmax(want, 1.0);
  e->batch = b;
  e->depth = effective_depth(&d->p, b);
}

/* Copy one message of results into the job records. */
static bn_err take_results(bn_dispatcher *d, int engine_index, const MPI_Status *st) {
  engine_state *e = &d->eng[engine_index];
  const int rank = engine_index + 1;
  int bytes = 0;
  MPI_Get_count(st, MPI_BYTE, &bytes);
  uint32_t count = 0;
  BN_CALL(bn__wire_check(e->rbuf, (size_t)bytes, BN_TAG_RESULTS, rank, d->res_rec, &count));
  BN_CHECK(count <= e->in_flight, BN_ERR_PROTOCOL, "engine %d returned %u results but holds only %u jobs",
           rank, count, e->in_flight);
  const double now = bn_wtime();
  const size_t S = d->domain->info.state_size;
  double busy = 0;
  for (uint32_t i = 0; i < count; i++) {
    bn_wire_result *r = bn__wire_record(e->rbuf, d->res_rec, i);
    BN_CHECK(r->slot < d->n_slots && d->slot_engine[r->slot] == rank && d->jobs[r->slot].id == r->job_id,
             BN_ERR_PROTOCOL, "engine %d returned a result for job %llu that it does not hold", rank,
             (unsigned long long)r->job_id);
    BN_CHECK(r->status == BN_JOB_OK || r->status == BN_JOB_FAILED, BN_ERR_PROTOCOL,
             "engine %d returned job %llu with invalid status %u", rank, (unsigned long long)r->job_id,
             r->status);
    bn_job *j = &d->jobs[r->slot];
    d->slot_engine[r->slot] = -1;
    j->status = r->status;
    j->attempts = r->attempts;
    j->reward = r->reward;
    j->t_started = r->t_started;
    j->t_finished = r->t_finished;
    j->t_received = now;
    memcpy(j->reason, r->reason, sizeof j->reason);
    j->reason[sizeof j->reason - 1] = '\0';
    memcpy(j->result_state, bn__wire_result_state(r), S);
    busy += r->t_finished - r->t_started;
    d->stats.failures += r->status != BN_JOB_OK;
    d->done_slots[d->n_done++] = r->slot;
  }
  e->in_flight -= count;
  e->jobs += count;
  e->busy += busy;
  for (uint32_t i = 0; i < count; i++)
    e->failures += ((bn_wire_result *)bn__wire_record(e->rbuf, d->res_rec, i))->status != BN_JOB_OK;
  d->stats.received += count;
  d->stats.in_flight -= count;
  d->stats.messages_received++;
  d->stats.busy_seconds += busy;
  if (count) adapt_batch(d, e, busy, count);
  return BN_OK;
}

static bn_err poll_receives(bn_dispatcher *d, int *activity) {
  if (d->n_engines == 0 || d->stats.in_flight == 0) return BN_OK;
  int outcount = 0;
  BN_CHECK(MPI_Testsome(d->n_engines, d->rreq, &outcount, d->indices, d->statuses) == MPI_SUCCESS,
           BN_ERR_MPI, "MPI_Testsome on result receives failed");
  if (outcount == MPI_UNDEFINED) return BN_OK;
  for (int k = 0; k < outcount; k++) {
    int i = d->indices[k];
    BN_CALL(take_results(d, i, &d->statuses[k]));
    BN_CHECK(MPI_Irecv(d->eng[i].rbuf, (int)d->rbytes, MPI_BYTE, i + 1, BN_TAG_RESULTS, d->comm, &d->rreq[i]) ==
                 MPI_SUCCESS,
             BN_ERR_MPI, "MPI_Irecv for engine %d failed", i + 1);
  }
  *activity += outcount;
  return BN_OK;
}

static bn_err poll_sends(bn_dispatcher *d) {
  if (d->n_sends == d->n_free) return BN_OK;
  int outcount = 0;
  BN_CHECK(MPI_Testsome(d->n_sends, d->sreq, &outcount, d->indices, MPI_STATUSES_IGNORE) == MPI_SUCCESS,
           BN_ERR_MPI, "MPI_Testsome on batch sends failed");
  for (int k = 0; outcount != MPI_UNDEFINED && k < outcount; k++) d->free_sends[d->n_free++] = d->indices[k];
  return BN_OK;
}

/* The engine with the most free credits (ties: round-robin), or -1 if none has any. */
static int pick_engine(bn_dispatcher *d) {
  int best = -1;
  uint32_t best_free = 0;
  for (int k = 0; k < d->n_engines; k++) {
    int i = (int)((d->rotate + (uint32_t)k) % (uint32_t)d->n_engines);
    engine_state *e = &d->eng[i];
    uint32_t free_credits = e->depth > e->in_flight ? e->depth - e->in_flight : 0;
    if (free_credits > best_free) {
      best = i;
      best_free = free_credits;
    }
  }
  d->rotate++;
  return best;
}

static bn_err send_batch(bn_dispatcher *d, int i, uint32_t count) {
  int sb = 0;
  BN_CHECK(take_send_buffer(d, &sb) == BN_OK, BN_ERR_NOMEM, "no memory for a send buffer");
  void *buf = d->sbuf[sb];
  const size_t S = d->domain->info.state_size;
  const double now = bn_wtime();
  const int rank = i + 1;
  uint32_t n = 0;
  for (; n < count; n++) {
    uint32_t slot;
    if (!bn_outbox_pop(d->outbox, &slot)) break;
    BN_CHECK(slot < d->n_slots && d->slot_engine[slot] < 0, BN_ERR_INTERNAL, "outbox held a bad slot %u", slot);
    bn_job *j = &d->jobs[slot];
    bn_wire_job *w = bn__wire_record(buf, d->job_rec, n);
    memset(w, 0, d->job_rec);
    w->job_id = j->id;
    w->seed = j->seed;
    w->slot = slot;
    w->kind = j->kind;
    w->sample = j->sample;
    memcpy(bn__wire_job_state(w), j->state, S);
    j->engine = rank;
    j->t_sent = now;
    d->slot_engine[slot] = rank;
  }
  if (n == 0) {
    d->free_sends[d->n_free++] = sb;
    return BN_OK;
  }
  bn__wire_put_header(buf, BN_TAG_BATCH, n, d->job_rec);
  BN_CHECK(MPI_Isend(buf, (int)bn__wire_message_size(n, d->job_rec), MPI_BYTE, rank, BN_TAG_BATCH, d->comm,
                     &d->sreq[sb]) == MPI_SUCCESS,
           BN_ERR_MPI, "MPI_Isend of a batch to engine %d failed", rank);
  d->eng[i].in_flight += n;
  d->stats.sent += n;
  d->stats.in_flight += n;
  d->stats.messages_sent++;
  return BN_OK;
}

static bn_err fill_engines(bn_dispatcher *d, int *activity) {
  uint32_t avail = bn_outbox_size(d->outbox);
  while (avail > 0) {
    int i = pick_engine(d);
    if (i < 0) break;
    engine_state *e = &d->eng[i];
    uint32_t free_credits = e->depth - e->in_flight;
    uint32_t b = e->batch < free_credits ? e->batch : free_credits;
    if (avail < b) {
      /* Only a partial batch is ready: send it only if this engine is about to starve. */
      if (e->in_flight >= e->batch) break;
      b = avail;
    }
    BN_CALL(send_batch(d, i, b));
    avail -= b;
    (*activity)++;
  }
  return BN_OK;
}

static void run_locally(bn_dispatcher *d, int *activity) {
  uint32_t slot;
  for (int k = 0; k < LOCAL_RUN_PER_PASS && bn_outbox_pop(d->outbox, &slot); k++) {
    bn_job *j = &d->jobs[slot];
    bn_job_outcome o;
    j->engine = 0;
    j->t_sent = bn_wtime();
    const bn_eval_request req = {.job_id = j->id, .seed = j->seed, .sample = j->sample};
    bn_job_execute(d->domain, j->kind, &req, d->p.retries, j->state, j->result_state, &o);
    j->status = o.status;
    j->attempts = o.attempts;
    j->reward = o.reward;
    j->t_started = o.t_started;
    j->t_finished = o.t_finished;
    j->t_received = bn_wtime();
    memcpy(j->reason, o.reason, sizeof j->reason);
    d->stats.sent++;
    d->stats.received++;
    d->stats.failures += o.status != BN_JOB_OK;
    d->stats.busy_seconds += o.t_finished - o.t_started;
    d->done_slots[d->n_done++] = slot;
    (*activity)++;
  }
}

bn_err bn_dispatcher_run(bn_dispatcher *d, const bn_dispatch_hooks *h) {
  bn_backoff backoff;
  double max_sleep = d->p.idle_sleep_max < dispatcher_max_sleep ? d->p.idle_sleep_max : dispatcher_max_sleep;
  bn__backoff_init(&backoff, max_sleep);
  for (;;) {
    int activity = 0;
    d->n_done = 0;
    if (d->n_engines > 0) {
      BN_CALL(poll_receives(d, &activity));
      BN_CALL(poll_sends(d));
      BN_CALL(fill_engines(d, &activity));
    } else {
      run_locally(d, &activity);
    }
    if (d->n_done) h->on_results(h->ctx, d->done_slots, d->n_done);
    d->stats.capacity = capacity(d);
    h->tick(h->ctx);
    if (d->stats.in_flight == 0 && bn_outbox_size(d->outbox) == 0 && h->finished(h->ctx)) return BN_OK;
    if (h->give_up && h->give_up(h->ctx)) return BN_OK;
    if (activity)
      bn__backoff_reset(&backoff);
    else
      bn__backoff_idle(&backoff);
  }
}

bn_err bn_dispatcher_shutdown(bn_dispatcher *d, bn_engine_stats *per_engine) {
  const int n = d->n_engines;
  if (n == 0) return BN_OK;
  BN_CHECK(d->stats.in_flight == 0, BN_ERR_INTERNAL, "shutdown with %llu jobs in flight",
           (unsigned long long)d->stats.in_flight);
  unsigned char stop[sizeof(bn_wire_header)];
  bn__wire_put_header(stop, BN_TAG_STOP, 0, d->job_rec);
  for (int i = 0; i < n; i++)
    BN_CHECK(MPI_Send(stop, (int)sizeof stop, MPI_BYTE, i + 1, BN_TAG_STOP, d->comm) == MPI_SUCCESS, BN_ERR_MPI,
             "sending STOP to engine %d failed", i + 1);
  const size_t rec = bn__wire_stats_size();
  unsigned char msg[sizeof(bn_wire_header) + sizeof(bn_engine_stats) + 8];
  for (int i = 0; i < n; i++) {
    MPI_Status st;
    BN_CHECK(MPI_Recv(msg, (int)sizeof msg, MPI_BYTE, i + 1, BN_TAG_STATS, d->comm, &st) == MPI_SUCCESS, BN_ERR_MPI,
             "receiving statistics from engine %d failed", i + 1);
    int bytes = 0;
    MPI_Get_count(&st, MPI_BYTE, &bytes);
    uint32_t count = 0;
    BN_CALL(bn__wire_check(msg, (size_t)bytes, BN_TAG_STATS, i + 1, rec, &count));
    BN_CHECK(count == 1, BN_ERR_PROTOCOL, "engine %d sent %u statistics records", i + 1, count);
    if (per_engine) memcpy(&per_engine[i], bn__wire_record(msg, rec, 0), sizeof *per_engine);
  }
  return BN_OK;
}

void bn_dispatcher_engine_figures(const bn_dispatcher *d, int rank, uint64_t *jobs, uint64_t *failures,
                                  double *busy_seconds) {
  if (rank >= 1 && rank <= d->n_engines) {
    const engine_state *e = &d->eng[rank - 1];
    *jobs = e->jobs;
    *failures = e->failures;
    *busy_seconds = e->busy;
  } else {
    *jobs = d->n_engines ? 0 : d->stats.received;
    *failures = d->n_engines ? 0 : d->stats.failures;
    *busy_seconds = d->n_engines ? 0 : d->stats.busy_seconds;
  }
}

void bn_dispatcher_stats(const bn_dispatcher *d, bn_dispatch_stats *out) {
  *out = d->stats;
  out->mean_batch = d->stats.messages_sent ? (double)d->stats.sent / (double)d->stats.messages_sent
                                            : (d->n_engines ? 0.0 : 1.0);
}
