/* Running one job in this process: the rollout of a simulate job, the domain's evaluate,
 * and turning every way that can go wrong into a failed outcome with a reason. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/engine.h"
#include "banyan/tree.h"

static void fail(bn_job_outcome *out, const char *why) {
  out->status = BN_JOB_FAILED;
  out->reward = 0.0;
  snprintf(out->reason, sizeof out->reason, "%s", why);
}

void bn_job_execute(const bn_domain *domain, int kind, const bn_eval_request *req, int retries,
                    const void *state, void *terminal, bn_job_outcome *out) {
  const uint64_t seed = req->seed;
  memset(out, 0, sizeof *out);
  out->t_started = bn_wtime();
  const size_t size = domain->info.state_size;
  if (kind == BN_JOB_SIMULATE) {
    if (bn_rollout(domain, state, seed, terminal) != BN_OK) {
      fail(out, "rollout did not reach a terminal state");
      out->t_finished = bn_wtime();
      return;
    }
  } else if (kind == BN_JOB_REWARD) {
    memmove(terminal, state, size);
  } else {
    fail(out, "unknown job kind");
    out->t_finished = bn_wtime();
    return;
  }
  bn_eval_request r = *req;
  for (r.attempt = 1; r.attempt <= 1u + (unsigned)(retries > 0 ? retries : 0); r.attempt++) {
    double reward = 0.0;
    char why[BN_JOB_REASON_LEN] = "";
    int rc = domain->ops->evaluate(domain->ctx, terminal, &r, &reward, why, sizeof why);
    out->attempts = (uint16_t)(r.attempt > UINT16_MAX ? UINT16_MAX : r.attempt);
    if (rc != 0) {
      fail(out, why[0] ? why : "evaluate reported an error");
    } else if (!isfinite(reward)) {
      fail(out, "evaluate returned a non-finite reward");
    } else {
      out->status = BN_JOB_OK;
      out->reward = reward;
      out->reason[0] = '\0';
      break;
    }
  }
  out->t_finished = bn_wtime();
}

void bn_engine_params_from_config(const bn_config *cfg, bn_engine_params *p) {
  p->depth = (int)bn_config_int(cfg, "engine.depth");
  p->batch = (int)bn_config_int(cfg, "engine.batch");
  p->max_batch = (int)bn_config_int(cfg, "engine.max_batch");
  if (p->batch > p->max_batch) p->max_batch = p->batch;
  p->message_overhead = bn_config_real(cfg, "engine.message_overhead");
  p->idle_sleep_max = bn_config_real(cfg, "engine.idle_sleep_max");
  p->retries = (int)bn_config_int(cfg, "engine.retries");
}
