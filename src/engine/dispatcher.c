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
 * batch waiting at the engine. Engines that answer late get larger batches (see "Late
 * engines" below). With no engines it runs the jobs itself: cheap ones inline,
 * long ones one at a time on a job runner thread (runner.h), so that it keeps ticking
 * (signals, time limits, checkpoints) while a job runs.
 *
 * Liveness: rank 0 hears from an engine that holds jobs at least every
 * engine.heartbeat_seconds (its results, or a heartbeat: a RESULTS message without records,
 * sent while a long job runs). An engine that holds jobs and is silent for
 * engine.lost_after seconds (frozen, dead, or its node gone), or whose requests fail, is
 * lost: it gets no more work, its jobs go back to the outbox for the other engines (same
 * ids and seeds), and whatever it sends later is dropped. Silence while rank 0 itself was
 * not listening (a pass that took long) does not count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/engine.h"
#include "banyan/log.h"
#include "engine/backoff.h"
#include "engine/runner.h"
#include "engine/wire.h"

enum { LOCAL_RUN_PER_PASS = 64, LOCAL_CAPACITY = 128 };
/* Batches one engine holds at most, whatever engine.depth says: an engine takes its
 * messages in order, so a STOP (or anything else) reaches it only after those before it,
 * and with a huge depth of small batches that could be hours of work. */
enum { MAX_MESSAGES_HELD = 16 };
static const double overhead_share = 0.05; /* target: message overhead / job time */
static const double ewma_weight = 0.2;
static const double dispatcher_max_sleep = 100e-6;
/* Longest wait for a job of the local runner per pass (the pass's idle sleep). */
static const double local_wait_seconds = 5e-3;
/* A pass that comes this long after the previous liveness check means rank 0 was away. */
static const double away_seconds = 0.5;

/* Late engines. Cheap jobs keep rank 0 busy only while answers come as fast as it makes
 * new work: two batches of 256 zero-cost jobs are half a millisecond of rank 0's work,
 * but an engine that shares its core with another program (Open MPI binds the two ranks
 * of `mpirun -n 2` to one core each, so a busy neighbour lands beside one of them) waits
 * for that core for up to a time slice of the scheduler, a millisecond or more. Rank 0 then
 * runs dry and sleeps; with it asleep its core is idle and the neighbour may be moved
 * there. Counted over periods of late_period seconds once every engine has answered (its
 * batch is sized): when rank 0 spent more than late_share of late_streak periods in a row
 * waiting with every engine full and nothing to send, engines with cheap jobs (no longer than
 * engine.message_overhead, so that adaptive batching sends at least 20 per message) are
 * late: their adaptive batch is BN__WIRE_LATE_FACTOR times larger, up to
 * bn__wire_batch_limit (a window of at most BN__WIRE_LATE_WINDOW jobs in all: runs with 8
 * engines or more are unchanged), so that a batch covers such a wait. An engine stays
 * late for the rest of the run. Longer jobs keep their batch: rank 0 waits for them
 * anyway, and a larger batch would only hold more of them at one engine. */
/* Measured on 2 cores with zero-cost jobs (synthetic) and bistability, 2 ranks, periods of
 * 40 ms: alone, rank 0 waits 0-37% of one (at most 16% in both of two in a row), beside
 * `yes` 9-55% (over 20% in both of two in a row within the first 0.3 s). So an idle run
 * keeps its window (512 cheap jobs), which serves search quality best, and a run beside a
 * busy program gets the larger batches within a few tenths of a second. */
static const double late_period = 0.04;
static const double late_share = 0.2;
enum { late_streak = 2 };
enum { STOP_BYTES = sizeof(bn_wire_header) + sizeof(bn_wire_stop) };

typedef struct engine_state {
  uint32_t in_flight; /* jobs sent and not answered */
  uint32_t messages;  /* batches sent and not answered */
  uint32_t batch;     /* jobs per message now */
  bool late;          /* answers late: larger batches (see late_period) */
  uint32_t depth;     /* jobs it may hold now */
  double job_time;    /* EWMA seconds per job; < 0 until measured */
  uint64_t jobs, failures;
  double busy;        /* seconds inside jobs */
  void *rbuf;         /* pre-posted receive buffer */
  uint64_t batches;   /* BATCH messages sent to it */
  double last_heard;  /* bn_mtime() of its last message, or of work sent to it idle */
  int lost;           /* gets no more work; its messages are dropped */
  int pool;           /* index in pools (0 without engine.pools) */
  double pool_since;  /* bn_mtime() it joined that pool */
} engine_state;

/* An engine pool: the job kinds it runs, their queue (slots taken from the outbox), and
 * figures. Without engine.pools there is one pool and no queue: engines take from the
 * outbox directly, as they always did. */
typedef struct pool_state {
  unsigned kinds;
  uint32_t *queue;        /* ring of slots [n_slots] */
  uint32_t head, count;
  int live;               /* engines in it, not lost */
  double idle;            /* this rebalancing period: engine-seconds idle with nothing queued */
  double backlog;         /* this period: seconds with jobs waiting and every engine full */
  bn_pool_figures fig;    /* jobs, busy, engine seconds of engines that left, moves */
} pool_state;

/* The local runner's job (no engines): one job, packed as a message, so that an abandoned
 * runner never touches the search's records. */
typedef struct local_work {
  const bn_domain *domain;
  int retries;
  void *in, *out;
  size_t job_rec, res_rec;
  bn_engine_stats stats;
} local_work;

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
  int *sbuf_rank;        /* [n_sends]: the engine a send buffer went to */

  /* Local mode: long jobs on the runner, cheap ones inline. */
  bn_runner *runner;
  local_work *work;      /* the runner's job (kept if abandoned) */
  double local_job_time; /* EWMA seconds per job, < 0 until measured */

  double lost_after, next_check, last_check; /* liveness */

  int n_pools;            /* 1 without engine.pools */
  pool_state pools[BN_POOLS_MAX];
  int pool_of_kind[4];    /* by bn_job_kind: index in pools */
  bn_pool_move *moves;
  size_t n_moves, cap_moves;
  double period_start, last_look; /* rebalancing: this period's start, the last pass */
  int quiet_periods;      /* rebalancing periods left before the next move may come */

  uint32_t batch_limit;   /* largest batch ever (bn__wire_batch_limit) */
  double late_start, late_last, late_waited; /* late engines: this period, the last pass, time rank 0 waited */
  bool late_waiting;      /* the last pass found rank 0 waiting for late engines */
  int late_periods;       /* periods in a row in which rank 0 waited that long */

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

/* With engine pools, as many jobs again may wait in the pools' queues: the search issues
 * jobs in its own order of kinds, and a window no larger than what the engines hold would
 * fill with the kind of the slower pool while the other pool's engines wait with nothing
 * to do. */
enum { POOLS_QUEUED_FACTOR = 2 };

uint32_t bn_dispatcher_max_capacity(const bn_engine_params *p, int engines) {
  if (engines <= 0) return (uint32_t)(p->depth > LOCAL_CAPACITY ? p->depth : LOCAL_CAPACITY);
  uint32_t b = p->batch > 0 ? initial_batch(p) : bn__wire_batch_limit(p, engines);
  return (uint32_t)engines * effective_depth(p, b) * (p->pools.n > 1 ? POOLS_QUEUED_FACTOR : 1);
}

static uint32_t capacity(const bn_dispatcher *d) {
  if (d->n_engines == 0) return bn_dispatcher_max_capacity(&d->p, 0);
  uint32_t c = 0;
  for (int i = 0; i < d->n_engines; i++) c += d->eng[i].depth;
  return c * (d->n_pools > 1 ? POOLS_QUEUED_FACTOR : 1);
}

/* engine.pools: engines 1..k to the first pool listed, the next ones to the second. */
static bn_err setup_pools(bn_dispatcher *d) {
  const bn_pool_spec *spec = &d->p.pools;
  const double now = bn_mtime();
  d->n_pools = 1;
  d->pools[0] = (pool_state){.kinds = BN_POOL_ALL, .live = d->n_engines};
  for (int k = 0; k < 4; k++) d->pool_of_kind[k] = 0;
  for (int i = 0; i < d->n_engines; i++) d->eng[i].pool_since = now;
  if (spec->n == 0 || d->n_engines == 0) return BN_OK;
  int sizes[BN_POOLS_MAX];
  char why[256];
  BN_CHECK(bn_pools_assign(spec, d->n_engines, sizes, why, sizeof why), BN_ERR_CONFIG, "engine.pools: %s", why);
  d->n_pools = spec->n;
  int next = 0;
  for (int p = 0; p < spec->n; p++) {
    pool_state *ps = &d->pools[p];
    *ps = (pool_state){.kinds = spec->kinds[p], .live = sizes[p]};
    ps->queue = malloc(d->n_slots * sizeof *ps->queue);
    BN_CHECK(ps->queue, BN_ERR_NOMEM, "no memory for the pool queues");
    for (unsigned k = BN_JOB_REWARD; k <= BN_JOB_SIMULATE; k++)
      if (ps->kinds & (1u << (k - 1))) d->pool_of_kind[k] = p;
    for (int j = 0; j < sizes[p]; j++) d->eng[next++].pool = p;
    bn_info("engine pool %s: %d engine%s", bn_pool_name(ps->kinds), sizes[p], sizes[p] == 1 ? "" : "s");
  }
  d->stats.pools = d->n_pools;
  return BN_OK;
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
  const int n = d->n_engines;
  d->batch_limit = bn__wire_batch_limit(p, n);
  d->rbytes = bn__wire_message_size(d->batch_limit, d->res_rec);
  d->sbytes = bn__wire_message_size(d->batch_limit, d->job_rec);
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
  d->local_job_time = -1;
  d->lost_after = p->lost_after;
  if (d->lost_after > 0 && p->heartbeat_seconds > 0 && d->lost_after < 3 * p->heartbeat_seconds) {
    bn_warn("engine.lost_after = %g s is less than three heartbeats (engine.heartbeat_seconds = %g s): using %g s",
            p->lost_after, p->heartbeat_seconds, 3 * p->heartbeat_seconds);
    d->lost_after = 3 * p->heartbeat_seconds;
  }
  if (d->lost_after > 0 && p->heartbeat_seconds <= 0 && n > 0)
    bn_warn("engine.heartbeat_seconds = 0: an engine inside a job longer than engine.lost_after = %g s will be "
            "taken for a lost one",
            d->lost_after);
  d->last_check = bn_mtime();
  if (n == 0) {
    BN_TRY(bn__runner_create(&d->runner));
    d->work = calloc(1, sizeof *d->work);
    BN_CHECK_GOTO(d->work, BN_ERR_NOMEM, "no memory for the dispatcher");
    d->work->in = malloc(bn__wire_message_size(1, d->job_rec));
    d->work->out = malloc(bn__wire_message_size(1, d->res_rec));
    BN_CHECK_GOTO(d->work->in && d->work->out, BN_ERR_NOMEM, "no memory for the dispatcher");
  }
  for (int i = 0; i < n; i++) {
    engine_state *e = &d->eng[i];
    e->batch = initial_batch(p);
    e->depth = effective_depth(p, e->batch);
    e->job_time = -1.0;
    e->last_heard = d->last_check;
    e->rbuf = malloc(d->rbytes);
    d->rreq[i] = MPI_REQUEST_NULL;
    BN_CHECK_GOTO(e->rbuf, BN_ERR_NOMEM, "no memory for receive buffers");
    BN_CHECK_GOTO(MPI_Irecv(e->rbuf, (int)d->rbytes, MPI_BYTE, i + 1, BN_TAG_RESULTS, comm, &d->rreq[i]) ==
                      MPI_SUCCESS,
                  BN_ERR_MPI, "MPI_Irecv for engine %d failed", i + 1);
  }
  BN_TRY(setup_pools(d));
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
    if (d->sreq[i] != MPI_REQUEST_NULL) {
      const int rank = d->sbuf_rank ? d->sbuf_rank[i] : 0;
      if (rank >= 1 && d->eng[rank - 1].lost) {
        /* A lost engine may never take it: let MPI finish it whenever, keep the buffer. */
        MPI_Request_free(&d->sreq[i]);
        continue;
      }
      MPI_Wait(&d->sreq[i], MPI_STATUS_IGNORE);
    }
    free(d->sbuf[i]);
  }
  if (bn__runner_destroy(&d->runner) && d->work) {
    free(d->work->in);
    free(d->work->out);
    free(d->work);
  } /* else: abandoned inside a job, which still uses d->work */
  free(d->sbuf_rank);
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
  for (int p = 0; p < BN_POOLS_MAX; p++) free(d->pools[p].queue);
  free(d->moves);
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
  int *sr = realloc(d->sbuf_rank, (size_t)n * sizeof *sr);
  if (sr) d->sbuf_rank = sr;
  void *buf = malloc(d->sbytes);
  if (!sbuf || !sreq || !fs || !idx || !st || !sr || !buf) {
    free(buf);
    return BN_ERR_NOMEM;
  }
  d->sbuf[d->n_sends] = buf;
  d->sreq[d->n_sends] = MPI_REQUEST_NULL;
  d->sbuf_rank[d->n_sends] = 0;
  *index = d->n_sends++;
  return BN_OK;
}

static void adapt_batch(bn_dispatcher *d, engine_state *e, double busy, uint32_t count) {
  double per_job = busy / count;
  e->job_time = e->job_time < 0 ? per_job : (1 - ewma_weight) * e->job_time + ewma_weight * per_job;
  if (d->p.batch > 0) return;
  double want = ceil(d->p.message_overhead / (overhead_share * fmax(e->job_time, 1e-9)));
  uint32_t cap = (uint32_t)d->p.max_batch;
  if (e->late) {
    want *= BN__WIRE_LATE_FACTOR;
    cap = d->batch_limit;
  }
  uint32_t b = want >= cap ? cap : (uint32_t)fmax(want, 1.0);
  e->batch = b;
  e->depth = effective_depth(&d->p, b);
}

/* Engine `i` leaves its pool at `now` (moved or lost): its time there counts. */
static void pool_leave(bn_dispatcher *d, int i, double now) {
  engine_state *e = &d->eng[i];
  pool_state *ps = &d->pools[e->pool];
  ps->fig.engine_seconds += now - e->pool_since;
  ps->live--;
  e->pool_since = now;
}

/* A pool whose last engine was lost: its kinds go to a pool that has engines, with what
 * it has queued. */
static void orphaned_pool(bn_dispatcher *d, int p) {
  pool_state *ps = &d->pools[p];
  if (d->n_pools < 2 || ps->live > 0) return;
  int q = -1;
  for (int k = 0; k < d->n_pools; k++)
    if (k != p && d->pools[k].live > 0) q = k;
  if (q < 0) return; /* no engine left anywhere */
  pool_state *qs = &d->pools[q];
  bn_warn("engine pool %s has no engine left: its jobs go to pool %s", bn_pool_name(ps->kinds),
          bn_pool_name(qs->kinds));
  for (int k = 0; k < 4; k++)
    if (d->pool_of_kind[k] == p) d->pool_of_kind[k] = q;
  while (ps->count > 0) {
    qs->queue[(qs->head + qs->count++) % d->n_slots] = ps->queue[ps->head];
    ps->head = (ps->head + 1) % d->n_slots;
    ps->count--;
  }
}

/* Engine `i` is lost: no more work for it; with `resend`, its jobs back to the outbox for
 * the others. */
static void lose(bn_dispatcher *d, int i, const char *why, bool resend) {
  engine_state *e = &d->eng[i];
  if (e->lost) return;
  const int rank = i + 1;
  uint32_t n = 0;
  for (uint32_t slot = 0; resend && slot < d->n_slots; slot++) {
    if (d->slot_engine[slot] != rank) continue;
    d->slot_engine[slot] = -1;
    d->jobs[slot].engine = -1;
    if (bn_outbox_push(d->outbox, slot)) n++; /* cannot fail: the outbox holds every slot */
  }
  if (resend)
    bn_warn("engine %d lost (%s): it gets no more work%s", rank, why,
            n ? "; the jobs it held go to the other engines" : "");
  else
    bn_warn("engine %d lost (%s)", rank, why);
  e->lost = 1;
  e->depth = 0;
  pool_leave(d, i, bn_mtime());
  orphaned_pool(d, e->pool);
  d->stats.in_flight -= e->in_flight;
  d->stats.resent += n;
  e->in_flight = 0;
  e->messages = 0;
  d->stats.lost++;
}

/* Engines that hold jobs and have been silent for lost_after seconds are lost. */
static void check_liveness(bn_dispatcher *d) {
  if (d->lost_after <= 0) return;
  const double now = bn_mtime();
  if (now < d->next_check) return;
  const double gap = now - d->last_check;
  d->last_check = now;
  d->next_check = now + (d->lost_after / 10 < 0.1 ? d->lost_after / 10 : 0.1);
  for (int i = 0; i < d->n_engines; i++) {
    engine_state *e = &d->eng[i];
    if (gap > away_seconds) e->last_heard += gap; /* rank 0 was not listening */
    if (e->lost || e->in_flight == 0 || now - e->last_heard <= d->lost_after) continue;
    char why[96];
    snprintf(why, sizeof why, "nothing heard from it for %.1f s while it held %u jobs", now - e->last_heard,
             e->in_flight);
    lose(d, i, why, true);
  }
}

/* Copy one message of results into the job records. */
static bn_err take_results(bn_dispatcher *d, int engine_index, const MPI_Status *st) {
  engine_state *e = &d->eng[engine_index];
  const int rank = engine_index + 1;
  if (e->lost) { /* its jobs went elsewhere: whatever it sends now is dropped */
    d->stats.late_messages++;
    return BN_OK;
  }
  e->last_heard = bn_mtime();
  int bytes = 0;
  MPI_Get_count(st, MPI_BYTE, &bytes);
  uint32_t count = 0;
  BN_CALL(bn__wire_check(e->rbuf, (size_t)bytes, BN_TAG_RESULTS, rank, d->res_rec, &count));
  if (count == 0) { /* a heartbeat */
    d->stats.heartbeats++;
    return BN_OK;
  }
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
  if (e->messages) e->messages--;
  e->jobs += count;
  e->busy += busy;
  d->pools[e->pool].fig.jobs += count;
  d->pools[e->pool].fig.busy_seconds += busy;
  for (uint32_t i = 0; i < count; i++)
    e->failures += ((bn_wire_result *)bn__wire_record(e->rbuf, d->res_rec, i))->status != BN_JOB_OK;
  d->stats.received += count;
  d->stats.in_flight -= count;
  d->stats.messages_received++;
  d->stats.busy_seconds += busy;
  if (count) adapt_batch(d, e, busy, count);
  return BN_OK;
}

/* The failure of a request to or from engine `i`, in a few words. */
static void lose_on_error(bn_dispatcher *d, int i, int code, const char *what) {
  char msg[MPI_MAX_ERROR_STRING], why[MPI_MAX_ERROR_STRING + 64];
  int len = 0;
  if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", code);
  snprintf(why, sizeof why, "%s failed: %s", what, msg);
  lose(d, i, why, true);
}

/* Results and heartbeats in. With `always`, look even when nothing is in flight. */
static bn_err poll_receives(bn_dispatcher *d, int *activity, bool always) {
  if (d->n_engines == 0 || (d->stats.in_flight == 0 && !always)) return BN_OK;
  int outcount = 0;
  const int rc = MPI_Testsome(d->n_engines, d->rreq, &outcount, d->indices, d->statuses);
  BN_CHECK(rc == MPI_SUCCESS || rc == MPI_ERR_IN_STATUS, BN_ERR_MPI, "MPI_Testsome on result receives failed");
  if (outcount == MPI_UNDEFINED) return BN_OK;
  for (int k = 0; k < outcount; k++) {
    int i = d->indices[k];
    if (rc == MPI_ERR_IN_STATUS && d->statuses[k].MPI_ERROR != MPI_SUCCESS) {
      lose_on_error(d, i, d->statuses[k].MPI_ERROR, "receiving its results");
      continue; /* the receive is complete (in error): nothing more is posted for it */
    }
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
  const int rc = MPI_Testsome(d->n_sends, d->sreq, &outcount, d->indices, d->statuses);
  BN_CHECK(rc == MPI_SUCCESS || rc == MPI_ERR_IN_STATUS, BN_ERR_MPI, "MPI_Testsome on batch sends failed");
  for (int k = 0; outcount != MPI_UNDEFINED && k < outcount; k++) {
    const int b = d->indices[k];
    if (rc == MPI_ERR_IN_STATUS && d->statuses[k].MPI_ERROR != MPI_SUCCESS && d->sbuf_rank[b] >= 1)
      lose_on_error(d, d->sbuf_rank[b] - 1, d->statuses[k].MPI_ERROR, "sending it a batch");
    d->free_sends[d->n_free++] = b;
  }
  return BN_OK;
}

/* The engine of pool `pool` with the most free credits (ties: round-robin), or -1 if none
 * has any. */
static int pick_engine(bn_dispatcher *d, int pool) {
  int best = -1;
  uint32_t best_free = 0;
  for (int k = 0; k < d->n_engines; k++) {
    int i = (int)((d->rotate + (uint32_t)k) % (uint32_t)d->n_engines);
    engine_state *e = &d->eng[i];
    if (e->pool != pool) continue;
    uint32_t free_credits = e->depth > e->in_flight ? e->depth - e->in_flight : 0;
    if (e->messages >= MAX_MESSAGES_HELD) free_credits = 0;
    if (free_credits > best_free) {
      best = i;
      best_free = free_credits;
    }
  }
  d->rotate++;
  return best;
}

/* The next slot for pool `pool`: from the outbox with one pool, else from its queue. */
static bool next_slot(bn_dispatcher *d, int pool, uint32_t *slot) {
  if (d->n_pools == 1) return bn_outbox_pop(d->outbox, slot);
  pool_state *ps = &d->pools[pool];
  if (ps->count == 0) return false;
  *slot = ps->queue[ps->head];
  ps->head = (ps->head + 1) % d->n_slots;
  ps->count--;
  return true;
}

/* Jobs ready to send and not yet sent: the outbox and the pools' queues. */
static uint32_t queued(const bn_dispatcher *d) {
  uint32_t n = bn_outbox_size(d->outbox);
  for (int p = 0; p < d->n_pools && d->n_pools > 1; p++) n += d->pools[p].count;
  return n;
}

/* Job record w (d->job_rec bytes) for the job in `slot`, as an engine or the local runner
 * reads it. */
static void pack_job(const bn_dispatcher *d, bn_wire_job *w, const bn_job *j, uint32_t slot) {
  memset(w, 0, d->job_rec);
  w->job_id = j->id;
  w->seed = j->seed;
  w->slot = slot;
  w->kind = j->kind;
  w->sample = j->sample;
  memcpy(bn__wire_job_state(w), j->state, d->domain->info.state_size);
}

static bn_err send_batch(bn_dispatcher *d, int i, uint32_t count) {
  int sb = 0;
  BN_CHECK(take_send_buffer(d, &sb) == BN_OK, BN_ERR_NOMEM, "no memory for a send buffer");
  void *buf = d->sbuf[sb];
  const double now = bn_wtime();
  const int rank = i + 1;
  uint32_t n = 0;
  for (; n < count; n++) {
    uint32_t slot;
    if (!next_slot(d, d->eng[i].pool, &slot)) break;
    BN_CHECK(slot < d->n_slots && d->slot_engine[slot] < 0, BN_ERR_INTERNAL, "outbox held a bad slot %u", slot);
    bn_job *j = &d->jobs[slot];
    pack_job(d, bn__wire_record(buf, d->job_rec, n), j, slot);
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
  d->sbuf_rank[sb] = rank;
  d->eng[i].batches++;
  d->eng[i].messages++;
  if (d->eng[i].in_flight == 0) d->eng[i].last_heard = bn_mtime(); /* silence counts from now */
  d->eng[i].in_flight += n;
  d->stats.sent += n;
  d->stats.in_flight += n;
  d->stats.messages_sent++;
  return BN_OK;
}

static bn_err fill_pool(bn_dispatcher *d, int pool, uint32_t avail, int *activity) {
  while (avail > 0) {
    int i = pick_engine(d, pool);
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

/* An engine of pool `from` that holds nothing moves to pool `to`. False if none could. */
static bool move_engine(bn_dispatcher *d, int from, int to, double now) {
  int pick = -1;
  for (int i = 0; i < d->n_engines && pick < 0; i++)
    if (d->eng[i].pool == from && !d->eng[i].lost && d->eng[i].in_flight == 0) pick = i;
  if (pick < 0) return false;
  if (d->n_moves == d->cap_moves) {
    size_t cap = d->cap_moves ? 2 * d->cap_moves : 64;
    bn_pool_move *m = realloc(d->moves, cap * sizeof *m);
    if (!m) return false; /* an unrecorded move would break the record: no move */
    d->moves = m;
    d->cap_moves = cap;
  }
  pool_leave(d, pick, now);
  d->eng[pick].pool = to;
  d->pools[to].live++;
  d->pools[from].fig.moves_out++;
  d->pools[to].fig.moves_in++;
  d->moves[d->n_moves++] = (bn_pool_move){.t = bn_wtime(), .rank = pick + 1, .from = (uint8_t)d->pools[from].kinds,
                                          .to = (uint8_t)d->pools[to].kinds};
  d->stats.pool_moves++;
  bn_debug("engine %d moves from pool %s to pool %s", pick + 1, bn_pool_name(d->pools[from].kinds),
           bn_pool_name(d->pools[to].kinds));
  return true;
}

/* engine.pool_rebalance: after the pools were filled, add up per pool the engine time idle
 * (engines holding nothing, nothing queued) and the time with a backlog (jobs queued,
 * every engine full). At the end of each period of pool_rebalance_seconds, a pool that
 * idled for a whole engine on average (so it loses nothing by giving one away, and has no
 * reason to take it back) gives an idle engine to a pool that had a backlog for at least
 * half the period. Averages over a period, not a state that must
 * hold throughout: jobs of a busy pool come and go in bursts, and a pool that needs half
 * an engine more would never be seen idle for a whole period. A pool keeps one engine.
 * After a move the pools settle for REBALANCE_QUIET_PERIODS periods before another: the
 * search keeps one window for both kinds, so right after a move the pool that lost an
 * engine can fill it with its backlog and starve the other for a while, which would look
 * like a reason to move the engine straight back. */
enum { REBALANCE_QUIET_PERIODS = 4 };
static void rebalance(bn_dispatcher *d) {
  if (!d->p.pool_rebalance || d->n_pools < 2) return;
  const double now = bn_mtime();
  if (d->period_start == 0) d->period_start = d->last_look = now;
  const double dt = now - d->last_look;
  d->last_look = now;
  for (int p = 0; p < d->n_pools; p++) {
    pool_state *ps = &d->pools[p];
    int idle_engines = 0;
    for (int i = 0; i < d->n_engines; i++)
      idle_engines += d->eng[i].pool == p && !d->eng[i].lost && d->eng[i].in_flight == 0;
    if (ps->count == 0) ps->idle += dt * idle_engines;
    if (ps->count > 0 && pick_engine(d, p) < 0) ps->backlog += dt;
  }
  const double period = now - d->period_start;
  if (period < d->p.pool_rebalance_seconds) return;
  int from = -1, to = -1;
  for (int p = 0; p < d->n_pools; p++) {
    const pool_state *ps = &d->pools[p];
    if (ps->live > 1 && ps->idle >= 0.95 * period && (from < 0 || ps->idle > d->pools[from].idle)) from = p;
    if (ps->backlog >= 0.5 * period && (to < 0 || ps->backlog > d->pools[to].backlog)) to = p;
  }
  if (d->quiet_periods > 0)
    d->quiet_periods--;
  else if (from >= 0 && to >= 0 && from != to && move_engine(d, from, to, now))
    d->quiet_periods = REBALANCE_QUIET_PERIODS;
  for (int p = 0; p < d->n_pools; p++) d->pools[p].idle = d->pools[p].backlog = 0;
  d->period_start = now;
}

static bn_err fill_engines(bn_dispatcher *d, int *activity) {
  if (d->n_pools == 1) return fill_pool(d, 0, bn_outbox_size(d->outbox), activity);
  uint32_t slot;
  while (bn_outbox_pop(d->outbox, &slot)) { /* each job to its kind's queue */
    const uint8_t kind = d->jobs[slot].kind;
    pool_state *ps = &d->pools[d->pool_of_kind[kind <= BN_JOB_SIMULATE ? kind : 0]];
    ps->queue[(ps->head + ps->count++) % d->n_slots] = slot;
  }
  for (int p = 0; p < d->n_pools; p++) BN_CALL(fill_pool(d, p, d->pools[p].count, activity));
  rebalance(d);
  return BN_OK;
}

static void local_job_time(bn_dispatcher *d, double seconds) {
  d->local_job_time =
      d->local_job_time < 0 ? seconds : (1 - ewma_weight) * d->local_job_time + ewma_weight * seconds;
}

static void local_main(void *arg) {
  local_work *w = arg;
  w->stats = (bn_engine_stats){0};
  bn__engine_run_batch(w->domain, w->retries, w->in, 1, w->job_rec, w->out, w->res_rec, &w->stats);
}

/* The runner's job has ended: its result into the job's record. */
static void take_local_result(bn_dispatcher *d, int *activity) {
  const bn_wire_result *r = bn__wire_record(d->work->out, d->res_rec, 0);
  bn_job *j = &d->jobs[r->slot];
  j->status = r->status;
  j->attempts = r->attempts;
  j->reward = r->reward;
  j->t_started = r->t_started;
  j->t_finished = r->t_finished;
  j->t_received = bn_wtime();
  memcpy(j->reason, r->reason, sizeof j->reason);
  j->reason[sizeof j->reason - 1] = '\0';
  memcpy(j->result_state, bn__wire_result_state((bn_wire_result *)r), d->domain->info.state_size);
  d->stats.in_flight--;
  d->stats.received++;
  d->stats.failures += r->status != BN_JOB_OK;
  d->stats.busy_seconds += r->t_finished - r->t_started;
  local_job_time(d, r->t_finished - r->t_started);
  d->done_slots[d->n_done++] = r->slot;
  (*activity)++;
}

/* Hand job `slot` to the runner. False if it cannot take it (then it runs inline). */
static bool start_local(bn_dispatcher *d, uint32_t slot) {
  bn_job *j = &d->jobs[slot];
  local_work *w = d->work;
  pack_job(d, bn__wire_record(w->in, d->job_rec, 0), j, slot);
  bn__wire_put_header(w->in, BN_TAG_BATCH, 1, d->job_rec);
  *w = (local_work){.domain = d->domain, .retries = d->p.retries, .in = w->in, .out = w->out,
                    .job_rec = d->job_rec, .res_rec = d->res_rec};
  if (bn__runner_start(d->runner, local_main, w) != BN_OK) return false;
  d->stats.in_flight++;
  return true;
}

/* No engines: rank 0 runs the jobs. Cheap ones (by the measured job time) inline, up to
 * LOCAL_RUN_PER_PASS or BN__RUNNER_INLINE_SECONDS per pass; others one at a time on the
 * runner, waiting for it at most local_wait_seconds per pass. Nothing new starts while
 * `held`. */
static void run_locally(bn_dispatcher *d, bool held, int *activity) {
  if (d->stats.in_flight > 0) {
    if (!bn__runner_wait(d->runner, local_wait_seconds)) return;
    take_local_result(d, activity);
  }
  double spent = 0;
  uint32_t slot;
  for (int k = 0; !held && k < LOCAL_RUN_PER_PASS && spent <= BN__RUNNER_INLINE_SECONDS &&
                  bn_outbox_pop(d->outbox, &slot);
       k++) {
    bn_job *j = &d->jobs[slot];
    j->engine = 0;
    j->t_sent = bn_wtime();
    d->stats.sent++;
    const bool cheap = d->local_job_time >= 0 && d->local_job_time <= BN__RUNNER_INLINE_SECONDS;
    if (!cheap && start_local(d, slot)) return;
    bn_job_outcome o;
    const bn_eval_request req = {.job_id = j->id, .seed = j->seed, .sample = j->sample};
    bn_job_execute(d->domain, j->kind, &req, d->p.retries, j->state, j->result_state, &o);
    j->status = o.status;
    j->attempts = o.attempts;
    j->reward = o.reward;
    j->t_started = o.t_started;
    j->t_finished = o.t_finished;
    j->t_received = bn_wtime();
    memcpy(j->reason, o.reason, sizeof j->reason);
    d->stats.received++;
    d->stats.failures += o.status != BN_JOB_OK;
    d->stats.busy_seconds += o.t_finished - o.t_started;
    spent += o.t_finished - o.t_started;
    local_job_time(d, o.t_finished - o.t_started);
    d->done_slots[d->n_done++] = slot;
    (*activity)++;
  }
}

/* Late engines (see late_period): after each pass, `waiting` says rank 0 has nothing to
 * do until an engine answers (nothing came, nothing to send, every engine full). */
static void watch_late(bn_dispatcher *d, bool waiting) {
  if (d->batch_limit <= (uint32_t)d->p.max_batch) return; /* no room to grow (or a fixed batch) */
  for (int i = 0; i < d->n_engines; i++)
    if (!d->eng[i].lost && d->eng[i].job_time < 0) return; /* batches not sized yet */
  const double now = bn_mtime();
  if (d->late_start == 0) d->late_start = d->late_last = now;
  if (d->late_waiting) d->late_waited += now - d->late_last;
  d->late_waiting = waiting;
  d->late_last = now;
  if (now - d->late_start < late_period) return;
  d->late_periods = d->late_waited > late_share * (now - d->late_start) ? d->late_periods + 1 : 0;
  if (d->late_periods >= late_streak) {
    for (int i = 0; i < d->n_engines; i++) {
      engine_state *e = &d->eng[i];
      if (e->lost || e->late || e->job_time > d->p.message_overhead) continue;
      e->late = true;
      adapt_batch(d, e, e->job_time, 1); /* the same job time: the batch of a late engine */
      bn_debug("engine %d answers late: batches of %u jobs", i + 1, e->batch);
    }
  }
  d->late_start = now;
  d->late_waited = 0;
}

bn_err bn_dispatcher_run(bn_dispatcher *d, const bn_dispatch_hooks *h) {
  bn_backoff backoff;
  double max_sleep = d->p.idle_sleep_max < dispatcher_max_sleep ? d->p.idle_sleep_max : dispatcher_max_sleep;
  bn__backoff_init(&backoff, max_sleep);
  for (;;) {
    int activity = 0;
    d->n_done = 0;
    const bool held = h->hold && h->hold(h->ctx);
    if (d->n_engines > 0) {
      BN_CALL(poll_receives(d, &activity, false));
      BN_CALL(poll_sends(d));
      if (!held) BN_CALL(fill_engines(d, &activity));
      check_liveness(d);
      watch_late(d, !activity && !held && queued(d) == 0 && d->stats.in_flight > 0 &&
                        d->stats.in_flight >= capacity(d));
    } else {
      run_locally(d, held, &activity);
    }
    if (d->n_done) h->on_results(h->ctx, d->done_slots, d->n_done);
    d->stats.capacity = capacity(d);
    h->tick(h->ctx);
    if (d->stats.in_flight == 0 && (held || queued(d) == 0) && h->finished(h->ctx)) return BN_OK;
    if (h->give_up && h->give_up(h->ctx)) return BN_OK;
    if (activity)
      bn__backoff_reset(&backoff);
    else
      bn__backoff_idle(&backoff);
  }
}

/* The STOP message to an engine that was sent `batches` BATCH messages. */
static void put_stop(unsigned char *msg, uint64_t batches) {
  bn__wire_put_header(msg, BN_TAG_STOP, 1, bn__wire_stop_size());
  const bn_wire_stop rec = {.batches = batches};
  memcpy(bn__wire_record(msg, bn__wire_stop_size(), 0), &rec, sizeof rec);
}

/* STOP to ranks 1..n (engine i was sent d's count of batches; none without `d`), then
 * their statistics until every rank not in `skip` (NULL: none) has answered or `timeout`
 * seconds have passed. While waiting, `d` (may be NULL) keeps taking (and dropping)
 * results, so engines' sends complete. answered[i] (OUT, may be NULL) says who did.
 * Returns the number that answered. */
static int stop_engines(MPI_Comm comm, int n, bn_dispatcher *d, const int *skip, double timeout,
                        bn_engine_stats *per_engine, int *answered) {
  const size_t rec = bn__wire_stats_size();
  enum { MSG = sizeof(bn_wire_header) + sizeof(bn_engine_stats) + 8 };
  MPI_Request *req = malloc((size_t)2 * (size_t)n * sizeof *req);
  unsigned char(*msg)[MSG] = malloc((size_t)n * sizeof *msg);
  unsigned char(*stops)[STOP_BYTES] = malloc((size_t)n * sizeof *stops);
  int *got = calloc((size_t)n, sizeof *got);
  int *idx = malloc((size_t)n * sizeof *idx);
  MPI_Status *st = malloc((size_t)n * sizeof *st);
  int done = 0, wanted = 0;
  bool stops_in_use = false;
  if (!req || !msg || !stops || !got || !idx || !st) {
    /* No memory to wait for all at once: one engine at a time, blocking. */
    for (int i = 0; i < n; i++) {
      if (skip && skip[i]) continue;
      unsigned char one[MSG], stop[STOP_BYTES];
      put_stop(stop, d ? d->eng[i].batches : 0);
      if (MPI_Send(stop, (int)sizeof stop, MPI_BYTE, i + 1, BN_TAG_STOP, comm) == MPI_SUCCESS &&
          MPI_Recv(one, (int)sizeof one, MPI_BYTE, i + 1, BN_TAG_STATS, comm, MPI_STATUS_IGNORE) == MPI_SUCCESS) {
        done++;
        if (answered) answered[i] = 1;
      }
    }
    goto out;
  }
  MPI_Request *sreq = req + n;
  for (int i = 0; i < n; i++) {
    req[i] = sreq[i] = MPI_REQUEST_NULL;
    wanted += !(skip && skip[i]);
    put_stop(stops[i], d ? d->eng[i].batches : 0);
    if (MPI_Isend(stops[i], STOP_BYTES, MPI_BYTE, i + 1, BN_TAG_STOP, comm, &sreq[i]) != MPI_SUCCESS ||
        MPI_Irecv(msg[i], MSG, MPI_BYTE, i + 1, BN_TAG_STATS, comm, &req[i]) != MPI_SUCCESS)
      bn_warn("cannot send STOP to engine %d", i + 1);
  }
  bn_backoff b;
  bn__backoff_init(&b, 1e-3);
  const double deadline = bn_mtime() + timeout;
  int answered_wanted = 0;
  while (answered_wanted < wanted && bn_mtime() < deadline) {
    int activity = 0;
    if (d) {
      d->n_done = 0;
      if (poll_receives(d, &activity, true) != BN_OK) break;
      if (d->n_done) { /* results of jobs rank 0 gave up on: they are pending in its checkpoint */
        d->stats.late_messages += d->n_done;
        d->n_done = 0;
      }
    }
    int outcount = 0;
    const int rc = MPI_Testsome(n, req, &outcount, idx, st);
    if (rc != MPI_SUCCESS && rc != MPI_ERR_IN_STATUS) break;
    for (int k = 0; outcount != MPI_UNDEFINED && k < outcount; k++) {
      const int i = idx[k];
      int bytes = 0;
      uint32_t count = 0;
      if (rc == MPI_ERR_IN_STATUS && st[k].MPI_ERROR != MPI_SUCCESS) continue;
      MPI_Get_count(&st[k], MPI_BYTE, &bytes);
      if (bn__wire_check(msg[i], (size_t)bytes, BN_TAG_STATS, i + 1, rec, &count) != BN_OK || count != 1) continue;
      if (per_engine) memcpy(&per_engine[i], bn__wire_record(msg[i], rec, 0), sizeof *per_engine);
      got[i] = 1;
      done++;
      answered_wanted += !(skip && skip[i]);
      activity++;
    }
    if (activity)
      bn__backoff_reset(&b);
    else
      bn__backoff_idle(&b);
  }
  for (int i = 0; i < n; i++) {
    if (req[i] != MPI_REQUEST_NULL) {
      MPI_Cancel(&req[i]);
      MPI_Wait(&req[i], MPI_STATUS_IGNORE);
    }
    if (sreq[i] != MPI_REQUEST_NULL) {
      int flag = 0;
      MPI_Test(&sreq[i], &flag, MPI_STATUS_IGNORE);
      if (!flag) { /* an engine that never takes it: MPI may finish it any time, from memory kept */
        MPI_Request_free(&sreq[i]);
        stops_in_use = true;
      }
    }
    if (answered) answered[i] = got[i];
  }
out:
  if (!stops_in_use) free(stops);
  free(req);
  free(msg);
  free(got);
  free(idx);
  free(st);
  return done;
}

/* How long to wait for engines to answer STOP: they answer within a poll, so this is for
 * ranks that turn out lost now. */
static double stop_timeout(const bn_engine_params *p) {
  return p->lost_after > 0 ? (p->lost_after < 30 ? (p->lost_after > 2 ? p->lost_after : 2) : 30) : 30;
}

bn_err bn_dispatcher_shutdown(bn_dispatcher *d, bn_engine_stats *per_engine, bool *all_answered) {
  const int n = d->n_engines;
  if (all_answered) *all_answered = true;
  if (n == 0) return BN_OK;
  int *skip = calloc((size_t)n, sizeof *skip), *answered = calloc((size_t)n, sizeof *answered);
  if (skip)
    for (int i = 0; i < n; i++) skip[i] = d->eng[i].lost;
  stop_engines(d->comm, n, d, skip, stop_timeout(&d->p), per_engine, answered);
  bool all = true;
  for (int i = 0; i < n; i++) {
    if (answered && answered[i]) continue;
    all = false;
    if (!d->eng[i].lost && answered) {
      char why[64];
      snprintf(why, sizeof why, "no answer to STOP within %.0f s", stop_timeout(&d->p));
      lose(d, i, why, false);
    }
  }
  if (!answered) all = false;
  free(skip);
  free(answered);
  if (all_answered) *all_answered = all;
  return BN_OK;
}

bool bn_engines_stop(MPI_Comm comm, const bn_engine_params *p) {
  int size = 1;
  if (MPI_Comm_size(comm, &size) != MPI_SUCCESS) return false;
  if (size <= 1) return true;
  return stop_engines(comm, size - 1, NULL, NULL, stop_timeout(p), NULL, NULL) == size - 1;
}

bool bn_dispatcher_job_running(const bn_dispatcher *d) { return d->runner && bn__runner_busy(d->runner); }

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

int bn_dispatcher_pools(const bn_dispatcher *d, bn_pool_figures *out) {
  if (d->n_pools < 2) return 0;
  const double now = bn_mtime();
  for (int p = 0; p < d->n_pools; p++) {
    out[p] = d->pools[p].fig;
    out[p].kinds = d->pools[p].kinds;
    out[p].engines = d->pools[p].live;
  }
  for (int i = 0; i < d->n_engines; i++)
    if (!d->eng[i].lost) out[d->eng[i].pool].engine_seconds += now - d->eng[i].pool_since;
  return d->n_pools;
}

unsigned bn_dispatcher_engine_pool(const bn_dispatcher *d, int rank) {
  if (d->n_pools < 2 || rank < 1 || rank > d->n_engines) return BN_POOL_ALL;
  return d->pools[d->eng[rank - 1].pool].kinds;
}

const bn_pool_move *bn_dispatcher_pool_moves(const bn_dispatcher *d, size_t *n) {
  *n = d->n_moves;
  return d->moves;
}
