/* The engine loop of ranks >= 1.
 *
 * Two receive buffers take turns: while one batch runs, the receive for the next is
 * already posted, so a busy engine never waits for rank 0. Results of a batch go back as
 * one message from one of two send buffers. Waiting polls with MPI_Test and backs off into
 * sleeps, so an idle engine costs well under 5% of a core. */
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/engine.h"
#include "banyan/log.h"
#include "engine/backoff.h"
#include "engine/wire.h"

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

static void run_batch(const bn_domain *domain, int retries, void *in, uint32_t count, size_t job_rec, void *out,
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

bn_err bn_engine_run(const bn_domain *domain, const bn_engine_params *p, MPI_Comm comm) {
  const size_t S = domain->info.state_size;
  const size_t job_rec = bn__wire_job_size(S), res_rec = bn__wire_result_size(S);
  const size_t in_bytes = bn__wire_message_size((uint32_t)p->max_batch, job_rec);
  const size_t out_bytes = bn__wire_message_size((uint32_t)p->max_batch, res_rec);
  bn_err err = BN_OK;
  void *in[2] = {malloc(in_bytes), malloc(in_bytes)};
  void *out[2] = {malloc(out_bytes), malloc(out_bytes)};
  MPI_Request rreq[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  MPI_Request sreq[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  bn_engine_stats stats = {0};
  bn_backoff backoff;
  bn__backoff_init(&backoff, p->idle_sleep_max);
  const double t0 = bn_mtime(), cpu0 = bn_cpu_seconds();
  int me = 0;
  MPI_Comm_rank(comm, &me);

  BN_CHECK_GOTO(in[0] && in[1] && out[0] && out[1], BN_ERR_NOMEM, "engine %d: no memory for buffers", me);
  for (int i = 0; i < 2; i++)
    BN_CHECK_GOTO(MPI_Irecv(in[i], (int)in_bytes, MPI_BYTE, 0, MPI_ANY_TAG, comm, &rreq[i]) == MPI_SUCCESS,
                  BN_ERR_MPI, "engine %d: MPI_Irecv failed", me);

  for (int cur = 0;; cur ^= 1) {
    MPI_Status st;
    BN_TRY(wait_quietly(&rreq[cur], &st, &backoff));
    if (st.MPI_TAG == BN_TAG_STOP) break;
    int bytes = 0;
    MPI_Get_count(&st, MPI_BYTE, &bytes);
    BN_CHECK_GOTO(st.MPI_TAG == BN_TAG_BATCH, BN_ERR_PROTOCOL, "engine %d: unexpected %s message (tag %d)",
                  me, bn__wire_tag_name(st.MPI_TAG), st.MPI_TAG);
    uint32_t count = 0;
    BN_TRY(bn__wire_check(in[cur], (size_t)bytes, BN_TAG_BATCH, 0, job_rec, &count));
    BN_CHECK_GOTO(count >= 1 && count <= (uint32_t)p->max_batch, BN_ERR_PROTOCOL,
                  "engine %d: batch of %u jobs (max %d)", me, count, p->max_batch);
    if (sreq[cur] != MPI_REQUEST_NULL) BN_TRY(wait_quietly(&sreq[cur], MPI_STATUS_IGNORE, &backoff));
    run_batch(domain, p->retries, in[cur], count, job_rec, out[cur], res_rec, &stats);
    BN_CHECK_GOTO(MPI_Isend(out[cur], (int)bn__wire_message_size(count, res_rec), MPI_BYTE, 0,
                            BN_TAG_RESULTS, comm, &sreq[cur]) == MPI_SUCCESS,
                  BN_ERR_MPI, "engine %d: MPI_Isend of results failed", me);
    stats.messages++;
    BN_CHECK_GOTO(MPI_Irecv(in[cur], (int)in_bytes, MPI_BYTE, 0, MPI_ANY_TAG, comm, &rreq[cur]) == MPI_SUCCESS,
                  BN_ERR_MPI, "engine %d: MPI_Irecv failed", me);
  }

  for (int i = 0; i < 2; i++) {
    if (sreq[i] != MPI_REQUEST_NULL) BN_TRY(wait_quietly(&sreq[i], MPI_STATUS_IGNORE, &backoff));
    if (rreq[i] != MPI_REQUEST_NULL) {
      MPI_Cancel(&rreq[i]);
      MPI_Wait(&rreq[i], MPI_STATUS_IGNORE);
    }
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
                  "engine %d: sending statistics failed", me);
  }

fail:
  for (int i = 0; i < 2; i++) {
    free(in[i]);
    free(out[i]);
  }
  return err;
}
