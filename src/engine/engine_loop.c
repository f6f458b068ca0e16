/* The engine loop of ranks >= 1.
 *
 * Two receive buffers take turns: while one batch runs, the receive for the next is
 * already posted, so a busy engine never waits for rank 0. Results of a batch go back as
 * one message from one of two send buffers. Waiting polls with MPI_Test and backs off into
 * sleeps, so an idle engine costs well under 5% of a core.
 *
 * A batch expected to take longer than BN__RUNNER_INLINE_SECONDS runs on the job runner
 * thread (runner.h) while this thread, the only one that calls MPI, stays responsive: every
 * engine.heartbeat_seconds it sends rank 0 a heartbeat (a RESULTS message with no records),
 * so rank 0 can tell a long job from a frozen or dead engine, and it watches for rank 0's
 * STOP. A STOP that comes while a batch runs means rank 0 gave up waiting for it (a drain
 * time-out): the engine leaves the job running on the runner, sends its statistics and
 * returns with *left_running set, and the caller finalizes MPI and exits without closing
 * the domain. */
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/engine.h"
#include "banyan/log.h"
#include "engine/backoff.h"
#include "engine/runner.h"
#include "engine/wire.h"

/* While the runner works: how often to look at MPI (STOP) at most. Between inline batches,
 * how often to look for a STOP queued behind batches not yet received. */
static const double busy_poll_seconds = 5e-3;
static const double ewma_weight = 0.2;
/* The heartbeat: a RESULTS message without records. Static: a send that is never completed
 * (an error path) may still read it after bn_engine_run has returned. */
static unsigned char heartbeat[sizeof(bn_wire_header)];

/* Complete `req` without a hot spin. */
static bn_err wait_quietly(MPI_Request *req, MPI_Status *st, bn_backoff *b) {
  for (;;) {
    int done = 0;
    if (MPI_Test(req, &done, st) != MPI_SUCCESS) return BN_ERR_MPI;
    if (done) {
      bn__backoff_reset(b);
      return BN_OK;
    }
    bn__backoff_idle(b);
  }
}

/* One batch handed to the runner thread. */
typedef struct batch_work {
  const bn_domain *domain;
  int retries;
  void *in, *out;
  uint32_t count;
  size_t job_rec, res_rec;
  bn_engine_stats stats; /* what the batch adds */
} batch_work;

static void batch_main(void *arg) {
  batch_work *w = arg;
  bn__engine_run_batch(w->domain, w->retries, w->in, w->count, w->job_rec, w->out, w->res_rec, &w->stats);
}

typedef struct engine {
  const bn_engine_params *p;
  MPI_Comm comm;
  int me;
  size_t in_bytes, res_rec;
  void *in[2], *out[2];
  MPI_Request rreq[2], sreq[2];
  int got[2];          /* the receive completed while a batch ran; its status is in gst */
  MPI_Status gst[2];
  MPI_Request hbreq;   /* heartbeat send (from heartbeat[]) */
  double last_sent;    /* bn_mtime() of the last message to rank 0 */
  uint64_t batches_in; /* BATCH messages received */
  int64_t batches_sent; /* rank 0's count, from its STOP; -1 until then */
  bn_runner *runner;
  batch_work *work;    /* on the heap: an abandoned runner still uses it after we return */
} engine;

/* A receive completed: count batches; a STOP says how many rank 0 sent in all. */
static bn_err received(engine *g, void *buf, const MPI_Status *st) {
  if (st->MPI_TAG == BN_TAG_BATCH) {
    g->batches_in++;
    return BN_OK;
  }
  if (st->MPI_TAG != BN_TAG_STOP) return BN_OK; /* refused by the caller */
  int bytes = 0;
  uint32_t count = 0;
  MPI_Get_count(st, MPI_BYTE, &bytes);
  BN_CALL(bn__wire_check(buf, (size_t)bytes, BN_TAG_STOP, 0, bn__wire_stop_size(), &count));
  BN_CHECK(count == 1, BN_ERR_PROTOCOL, "engine %d: STOP with %u records", g->me, count);
  bn_wire_stop rec;
  memcpy(&rec, bn__wire_record(buf, bn__wire_stop_size(), 0), sizeof rec);
  BN_CHECK(rec.batches >= g->batches_in && rec.batches < ((uint64_t)1 << 62), BN_ERR_PROTOCOL,
           "engine %d: STOP after %llu batches, but %llu came", g->me, (unsigned long long)rec.batches,
           (unsigned long long)g->batches_in);
  g->batches_sent = (int64_t)rec.batches;
  return BN_OK;
}

/* A STOP waiting behind batches (rank 0 gave up on them): take it. */
static bn_err stop_queued(engine *g, bool *stop) {
  int flag = 0;
  BN_CHECK(MPI_Iprobe(0, BN_TAG_STOP, g->comm, &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS, BN_ERR_MPI,
           "engine %d: MPI_Iprobe failed", g->me);
  if (!flag) return BN_OK;
  unsigned char buf[sizeof(bn_wire_header) + sizeof(bn_wire_stop) + 8];
  MPI_Status st;
  BN_CHECK(MPI_Recv(buf, (int)sizeof buf, MPI_BYTE, 0, BN_TAG_STOP, g->comm, &st) == MPI_SUCCESS, BN_ERR_MPI,
           "engine %d: receiving STOP failed", g->me);
  BN_CALL(received(g, buf, &st));
  *stop = true;
  return BN_OK;
}

/* While the runner works: the next message (a STOP means rank 0 gave up on this batch),
 * and a heartbeat when one is due. *stop set if rank 0 said STOP. */
static bn_err watch(engine *g, int next, bool *stop) {
  int done = 0;
  if (!g->got[next] && g->rreq[next] != MPI_REQUEST_NULL) {
    BN_CHECK(MPI_Test(&g->rreq[next], &done, &g->gst[next]) == MPI_SUCCESS, BN_ERR_MPI,
             "engine %d: MPI_Test failed", g->me);
    if (done) {
      g->got[next] = 1;
      BN_CALL(received(g, g->in[next], &g->gst[next]));
    }
  }
  if (g->got[next]) {
    if (g->gst[next].MPI_TAG == BN_TAG_STOP) {
      *stop = true;
      return BN_OK;
    }
    /* The next batch is here already, so a STOP would wait unmatched: look for one. */
    BN_CALL(stop_queued(g, stop));
    if (*stop) return BN_OK;
  }
  const double now = bn_mtime();
  if (g->p->heartbeat_seconds > 0 && now - g->last_sent >= g->p->heartbeat_seconds) {
    if (g->hbreq != MPI_REQUEST_NULL) {
      BN_CHECK(MPI_Test(&g->hbreq, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS, BN_ERR_MPI,
               "engine %d: MPI_Test failed", g->me);
    }
    if (g->hbreq == MPI_REQUEST_NULL) {
      bn__wire_put_header(heartbeat, BN_TAG_RESULTS, 0, g->res_rec);
      BN_CHECK(MPI_Isend(heartbeat, (int)sizeof heartbeat, MPI_BYTE, 0, BN_TAG_RESULTS, g->comm, &g->hbreq) ==
                   MPI_SUCCESS,
               BN_ERR_MPI, "engine %d: MPI_Isend of a heartbeat failed", g->me);
      g->last_sent = now;
    }
  }
  return BN_OK;
}

/* Run the batch in in[cur] into out[cur], on the runner when it is expected to be long.
 * *stop set (and *left_running) if rank 0 said STOP meanwhile. */
static bn_err run(engine *g, const bn_domain *domain, int cur, uint32_t count, size_t job_rec, size_t res_rec,
                  double job_time, bn_engine_stats *stats, bool *stop, int *left_running) {
  *g->work = (batch_work){.domain = domain, .retries = g->p->retries, .in = g->in[cur], .out = g->out[cur],
                          .count = count, .job_rec = job_rec, .res_rec = res_rec};
  const bool inline_ok = job_time >= 0 && job_time * count <= BN__RUNNER_INLINE_SECONDS;
  if (inline_ok || bn__runner_start(g->runner, batch_main, g->work) != BN_OK) {
    batch_main(g->work);
  } else {
    while (!bn__runner_wait(g->runner, busy_poll_seconds)) {
      BN_CALL(watch(g, cur ^ 1, stop));
      if (*stop) {
        *left_running = 1;
        return BN_OK;
      }
    }
  }
  stats->jobs += g->work->stats.jobs;
  stats->failures += g->work->stats.failures;
  stats->busy_seconds += g->work->stats.busy_seconds;
  return BN_OK;
}

/* Complete every request: receives cancelled, sends waited for (rank 0 receives until it
 * has this engine's statistics). Buffers of requests that could not be completed are
 * left allocated (*keep). */
static void complete_requests(engine *g, bn_backoff *b, bool wait_sends, bool *keep) {
  for (int i = 0; i < 2; i++) {
    if (g->rreq[i] != MPI_REQUEST_NULL) {
      MPI_Status st;
      int cancelled = 1;
      MPI_Cancel(&g->rreq[i]);
      if (MPI_Wait(&g->rreq[i], &st) != MPI_SUCCESS) keep[i] = true;
      else if (MPI_Test_cancelled(&st, &cancelled) == MPI_SUCCESS && !cancelled && st.MPI_TAG == BN_TAG_BATCH)
        g->batches_in++; /* it was taken before the cancel: one batch fewer to drain */
    }
    if (g->sreq[i] != MPI_REQUEST_NULL) {
      if (!wait_sends || wait_quietly(&g->sreq[i], MPI_STATUS_IGNORE, b) != BN_OK) keep[2 + i] = true;
    }
  }
  if (g->hbreq != MPI_REQUEST_NULL && wait_sends) (void)wait_quietly(&g->hbreq, MPI_STATUS_IGNORE, b);
}

bn_err bn_engine_run(const bn_domain *domain, const bn_engine_params *p, MPI_Comm comm, int *left_running) {
  const size_t S = domain->info.state_size;
  const size_t job_rec = bn__wire_job_size(S), res_rec = bn__wire_result_size(S);
  int ranks = 2;
  if (MPI_Comm_size(comm, &ranks) != MPI_SUCCESS || ranks < 2) ranks = 2;
  const uint32_t max_batch = bn__wire_batch_limit(p, ranks - 1); /* rank 0 sends no more */
  const size_t out_bytes = bn__wire_message_size(max_batch, res_rec);
  bn_err err = BN_OK;
  int running = 0;
  engine g = {.p = p, .comm = comm, .in_bytes = bn__wire_message_size(max_batch, job_rec),
              .res_rec = res_rec, .batches_sent = -1,
              .rreq = {MPI_REQUEST_NULL, MPI_REQUEST_NULL}, .sreq = {MPI_REQUEST_NULL, MPI_REQUEST_NULL},
              .hbreq = MPI_REQUEST_NULL};
  bool keep[4] = {false}; /* in[0], in[1], out[0], out[1] still in use by MPI */
  bn_engine_stats stats = {0};
  bn_backoff backoff;
  bn__backoff_init(&backoff, p->idle_sleep_max);
  const double t0 = bn_mtime(), cpu0 = bn_cpu_seconds();
  double job_time = -1; /* EWMA seconds per job, < 0 until measured */
  double next_probe = t0 + busy_poll_seconds;
  MPI_Comm_rank(comm, &g.me);
  if (left_running) *left_running = 0;

  for (int i = 0; i < 2; i++) {
    g.in[i] = malloc(g.in_bytes);
    g.out[i] = malloc(out_bytes);
  }
  g.work = malloc(sizeof *g.work);
  BN_CHECK_GOTO(g.in[0] && g.in[1] && g.out[0] && g.out[1] && g.work, BN_ERR_NOMEM,
                "engine %d: no memory for buffers", g.me);
  BN_TRY(bn__runner_create(&g.runner));
  for (int i = 0; i < 2; i++)
    BN_CHECK_GOTO(MPI_Irecv(g.in[i], (int)g.in_bytes, MPI_BYTE, 0, MPI_ANY_TAG, comm, &g.rreq[i]) == MPI_SUCCESS,
                  BN_ERR_MPI, "engine %d: MPI_Irecv failed", g.me);
  g.last_sent = bn_mtime();

  int cur = 0;
  for (;; cur ^= 1) {
    MPI_Status st;
    if (g.got[cur]) {
      st = g.gst[cur];
      g.got[cur] = 0;
    } else {
      BN_TRY(wait_quietly(&g.rreq[cur], &st, &backoff));
      BN_TRY(received(&g, g.in[cur], &st));
    }
    if (st.MPI_TAG == BN_TAG_STOP) break;
    int bytes = 0;
    MPI_Get_count(&st, MPI_BYTE, &bytes);
    BN_CHECK_GOTO(st.MPI_TAG == BN_TAG_BATCH, BN_ERR_PROTOCOL, "engine %d: unexpected %s message (tag %d)",
                  g.me, bn__wire_tag_name(st.MPI_TAG), st.MPI_TAG);
    uint32_t count = 0;
    BN_TRY(bn__wire_check(g.in[cur], (size_t)bytes, BN_TAG_BATCH, 0, job_rec, &count));
    BN_CHECK_GOTO(count >= 1 && count <= max_batch, BN_ERR_PROTOCOL, "engine %d: batch of %u jobs (max %u)", g.me,
                  count, max_batch);
    if (g.sreq[cur] != MPI_REQUEST_NULL) BN_TRY(wait_quietly(&g.sreq[cur], MPI_STATUS_IGNORE, &backoff));
    bool stop = false;
    if (bn_mtime() >= next_probe) { /* many queued batches: a STOP behind them comes first */
      BN_TRY(stop_queued(&g, &stop));
      if (stop) break;
      next_probe = bn_mtime() + busy_poll_seconds;
    }
    const double busy_before = stats.busy_seconds;
    BN_TRY(run(&g, domain, cur, count, job_rec, res_rec, job_time, &stats, &stop, &running));
    if (stop) break; /* rank 0 gave up on this batch: it is pending in its checkpoint */
    const double per_job = (stats.busy_seconds - busy_before) / count;
    job_time = job_time < 0 ? per_job : (1 - ewma_weight) * job_time + ewma_weight * per_job;
    BN_CHECK_GOTO(MPI_Isend(g.out[cur], (int)bn__wire_message_size(count, res_rec), MPI_BYTE, 0, BN_TAG_RESULTS,
                            comm, &g.sreq[cur]) == MPI_SUCCESS,
                  BN_ERR_MPI, "engine %d: MPI_Isend of results failed", g.me);
    g.last_sent = bn_mtime();
    stats.messages++;
    BN_CHECK_GOTO(MPI_Irecv(g.in[cur], (int)g.in_bytes, MPI_BYTE, 0, MPI_ANY_TAG, comm, &g.rreq[cur]) == MPI_SUCCESS,
                  BN_ERR_MPI, "engine %d: MPI_Irecv failed", g.me);
  }

  complete_requests(&g, &backoff, true, keep);
  /* Batches rank 0 sent that were not taken yet: taken and dropped, so its sends complete
   * (into the buffer the runner does not use). */
  while (g.batches_sent >= 0 && g.batches_in < (uint64_t)g.batches_sent) {
    BN_CHECK_GOTO(MPI_Recv(g.in[cur ^ 1], (int)g.in_bytes, MPI_BYTE, 0, BN_TAG_BATCH, comm, MPI_STATUS_IGNORE) ==
                      MPI_SUCCESS,
                  BN_ERR_MPI, "engine %d: MPI_Recv failed", g.me);
    g.batches_in++;
  }
  stats.wall_seconds = bn_mtime() - t0;
  stats.cpu_seconds = bn_cpu_seconds() - cpu0;
  {
    size_t bytes = bn__wire_message_size(1, bn__wire_stats_size());
    unsigned char msg[sizeof(bn_wire_header) + sizeof(bn_engine_stats) + 8];
    memset(msg, 0, sizeof msg);
    bn__wire_put_header(msg, BN_TAG_STATS, 1, bn__wire_stats_size());
    memcpy(bn__wire_record(msg, bn__wire_stats_size(), 0), &stats, sizeof stats);
    BN_CHECK_GOTO(MPI_Send(msg, (int)bytes, MPI_BYTE, 0, BN_TAG_STATS, comm) == MPI_SUCCESS, BN_ERR_MPI,
                  "engine %d: sending statistics failed", g.me);
  }

fail:
  /* Receives are cancelled and completed before their buffers go; a send that cannot be
   * completed keeps its buffer (the process ends soon after an error). */
  if (err != BN_OK) complete_requests(&g, &backoff, false, keep);
  if (running || !bn__runner_destroy(&g.runner)) {
    running = 1; /* the runner still reads in[] and writes out[] */
  } else {
    for (int i = 0; i < 2; i++) {
      if (!keep[i]) free(g.in[i]);
      if (!keep[2 + i]) free(g.out[i]);
    }
    free(g.work);
  }
  if (left_running) *left_running = running;
  return err;
}
