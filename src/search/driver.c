/* Setting up and running a search on rank 0: the tree, the job slots, the outbox, the
 * dispatcher, and the search threads (crew.c): the calling thread (the MPI thread)
 * dispatches while the others run search and backprop work; with search.threads = 1 the
 * dispatcher thread runs that work itself, between its passes. */
#include <signal.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/log.h"
#include "search/search_impl.h"
#include "util/ring.h"
#include "util/signals.h"

static volatile sig_atomic_t stop_requested;

void bn_search_request_stop(void) { stop_requested = 1; }

const char *bn_stop_reason_name(bn_stop_reason r) {
  switch (r) {
  case BN_STOP_BUDGET: return "iteration budget reached";
  case BN_STOP_TIME: return "time limit reached";
  case BN_STOP_EXHAUSTED: return "search space exhausted";
  case BN_STOP_FULL: return "search graph full (raise search.max_nodes / search.max_edges)";
  case BN_STOP_SIGNAL: return "stopped by a signal";
  case BN_STOP_ERROR: return "stopped by an error";
  case BN_STOP_LOST: return "every engine was lost";
  default: return "running";
  }
}

/* One piece of work for a search thread: issue `n` iterations, or apply `n` results. */
typedef struct chunk {
  bn_search *s;
  size_t n;
  uint32_t slots[];
} chunk;

static void issue_chunk(void *arg) {
  chunk *c = arg;
  bn__search_issue(c->s, (uint32_t)c->n);
  free(c);
}

static void apply_chunk(void *arg) {
  chunk *c = arg;
  bn__search_apply(c->s, c->slots, c->n);
  free(c);
}

/* Iterations issued on the dispatcher thread in one go at most, so that it ticks (time
 * limits, signals) while a large window (a huge engine.depth) fills: the rest is issued by
 * later ticks (s->to_issue). */
static const double issue_slice_seconds = 0.02;

/* Start `n` iterations, `grain` per piece of work. */
static void spawn_issue_tasks(bn_search *s, uint32_t n) {
  if (s->threads == 1) {
    const double until = bn_mtime() + issue_slice_seconds;
    n += s->to_issue;
    s->to_issue = 0;
    for (uint32_t done = 0; done < n; done += 256) {
      if (atomic_load(&s->stop) != BN_STOP_NONE) return;
      if (done > 0 && bn_mtime() >= until) {
        s->to_issue = n - done;
        return;
      }
      bn__search_issue(s, n - done < 256 ? n - done : 256);
    }
    return;
  }
  for (uint32_t done = 0; done < n; done += (uint32_t)s->grain) {
    uint32_t k = n - done < (uint32_t)s->grain ? n - done : (uint32_t)s->grain;
    chunk *c = malloc(sizeof *c);
    if (!c) { /* Issue here rather than not at all. */
      bn__search_issue(s, k);
      continue;
    }
    c->s = s;
    c->n = k;
    bn__crew_submit(s->crew, issue_chunk, c);
  }
}

/* Dispatcher hook: results are in; apply them (one thread: here and now; more: in pieces
 * of at most `grain` results) or hand them to the sequencer (deterministic mode). */
void bn__search_on_results(void *ctx, const uint32_t *slots, size_t n) {
  bn_search *s = ctx;
  if (s->deterministic) {
    bn__sequencer_results(s, slots, n);
    return;
  }
  if (s->threads == 1) {
    bn__search_apply(s, slots, n);
    return;
  }
  for (size_t off = 0; off < n; off += (size_t)s->grain) {
    size_t k = n - off < (size_t)s->grain ? n - off : (size_t)s->grain;
    chunk *c = malloc(sizeof *c + k * sizeof c->slots[0]);
    if (!c) { /* Apply here rather than lose results. */
      bn__search_apply(s, slots + off, k);
      continue;
    }
    c->s = s;
    c->n = k;
    memcpy(c->slots, slots + off, k * sizeof c->slots[0]);
    bn__crew_submit(s->crew, apply_chunk, c);
  }
}

bool bn__search_balanced(const bn_search *s) { return bn__search_issued(s) == atomic_load(&s->completed); }

/* The run will end short of its budget (a signal, the time limit, an error, no engines
 * left): nothing new goes out, and what is in flight is waited for at most
 * checkpoint.drain_seconds. A stop that completes the run (budget, exhaustion, a full
 * graph) runs every issued job, unless a signal comes meanwhile. */
bool bn__search_stopping_short(const bn_search *s) {
  if (s->signalled) return true;
  int r = atomic_load(&s->stop);
  return r == BN_STOP_SIGNAL || r == BN_STOP_TIME || r == BN_STOP_ERROR || r == BN_STOP_LOST;
}

/* Dispatcher hook: no new job may go out. */
bool bn__search_hold(void *ctx) { return bn__search_stopping_short(ctx); }

/* Dispatcher hook, called once nothing is in flight (and the outbox is empty, or held). */
bool bn__search_finished(void *ctx) {
  bn_search *s = ctx;
  if (s->deterministic) return bn__sequencer_done(s);
  if (atomic_load(&s->stop) == BN_STOP_NONE) return false;
  /* Held jobs stay in the outbox, pending in the checkpoint; nothing else can come back. */
  return bn__search_stopping_short(s) || bn__search_balanced(s);
}

/* Dispatcher hook, once per pass: limits, signals, window growth, progress, statistics,
 * checkpoints. */
void bn__search_tick(void *ctx) {
  bn_search *s = ctx;
  double now = bn_mtime();
  bn_dispatch_stats ds;
  bn_dispatcher_stats(s->disp, &ds);
  if (stop_requested && !s->signalled) {
    /* Honoured in every phase: also while the last jobs of a spent budget run. */
    s->signalled = 1;
    bn__search_set_stop(s, BN_STOP_SIGNAL);
  }
  if (s->max_seconds > 0 && now - s->t_start >= s->max_seconds) bn__search_set_stop(s, BN_STOP_TIME);
  if (ds.engines > 0 && ds.lost >= ds.engines && atomic_load(&s->stop) == BN_STOP_NONE) {
    bn_error("every engine is lost: checkpointing and stopping (resume me)");
    bn__search_set_stop(s, BN_STOP_LOST);
  }
  if (!s->draining && bn__search_stopping_short(s)) {
    s->draining = 1;
    s->drain_deadline = now + s->drain_seconds;
  }
  if (atomic_load(&s->stop) == BN_STOP_NONE && !s->deterministic) {
    const uint32_t share = (uint32_t)((ds.capacity + (uint64_t)s->share - 1) / s->share);
    uint32_t want = share < s->n_slots ? share : s->n_slots;
    uint32_t have = atomic_load(&s->window);
    if (want > have) {
      atomic_store(&s->window, want);
      spawn_issue_tasks(s, want - have);
    } else if (s->to_issue) {
      spawn_issue_tasks(s, 0);
    }
  }
  if (s->progress_seconds > 0 && now >= s->next_progress) {
    bn__search_progress(s, now, 0);
    s->next_progress = now + s->progress_seconds;
  }
  bn__stats_tick(s, now, 0);
  bn_err e = bn__ckpt_tick(s, now);
  if (e != BN_OK) {
    int ok = BN_OK;
    atomic_compare_exchange_strong(&s->error, &ok, (int)e);
    bn__search_set_stop(s, BN_STOP_ERROR);
  }
}

/* Dispatcher hook: when stopping short of the budget (and after the checkpoint a signal
 * asks for), stop waiting for jobs in flight once checkpoint.drain_seconds have passed. */
bool bn__search_give_up(void *ctx) {
  bn_search *s = ctx;
  if (!s->draining || (s->signalled && s->writer && !s->signal_checkpointed) || bn_mtime() < s->drain_deadline)
    return false;
  s->abandoned = 1;
  return true;
}

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

void bn__search_catch_signals(void) { bn__catch_stop_signals(on_signal); }

void bn__search_begin(bn_search *s, double now) {
  s->t_start = now;
  s->next_progress = s->t_start + s->progress_seconds;
  s->last_progress_t = s->timeline_t = s->t_start;
  s->last_completed = s->completed_at_start;
  s->next_ckpt_time = s->t_start + s->ckpt_every_seconds;
  s->next_ckpt_evals = atomic_load(&s->completed) + s->ckpt_every_evals;
}

void bn__search_tree_params(const bn_config *cfg, bn_tree_params *tp) {
  *tp = (bn_tree_params){
      .c = bn_config_real(cfg, "search.c"),
      .rule = bn_config_enum(cfg, "search.selection") == 1 ? BN_SELECT_WU_UCT : BN_SELECT_VIRTUAL_LOSS,
      .virtual_loss = bn_config_real(cfg, "search.virtual_loss"),
      .exhaust_after = (uint32_t)bn_config_int(cfg, "search.exhaust_after"),
      .max_nodes = (uint64_t)bn_config_int(cfg, "search.max_nodes"),
      .max_edges = (uint64_t)bn_config_int(cfg, "search.max_edges"),
  };
  if (tp->max_edges == 0) tp->max_edges = tp->max_nodes * 8 < 4000000000ull ? tp->max_nodes * 8 : 4000000000ull;
  if (tp->max_nodes > 4000000000ull) tp->max_nodes = 4000000000ull;
}


/* A random identity for a new run, stored in its checkpoint and every segment, so a
 * segment of another run is recognised. */
static uint64_t new_run_id(void) {
  uint64_t id = 0;
  if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id || id == 0)
    id = ((uint64_t)getpid() << 32) ^ (uint64_t)(bn_wtime() * 1e6) ^ (uint64_t)(uintptr_t)&id;
  return id;
}

/* The automatic window (search.max_in_flight = 0): what the engines can hold (`cap`, sized
 * by the dispatcher from engine.depth and the adaptive batch) and no more. With no engines
 * (rank 0 runs the jobs itself) more in flight only feeds the search threads: one thread
 * runs as fast with LOCAL_WINDOW_ONE_THREAD as with 128 (bistability, 200,000 iterations:
 * 1, 4, 16, 64 and 128 in flight all near 550,000 evaluations/s here) and its search stays
 * that of a serial one; a team needs a few pieces of work per thread (2 threads: 128 in
 * flight ran 1.5-2.5x faster than 16). engine.depth cannot raise it beyond that. */
enum { LOCAL_WINDOW_ONE_THREAD = 16, LOCAL_PIECES_PER_THREAD = 4, LOCAL_WINDOW_TEAM_MIN = 128 };
uint32_t bn__search_automatic_window(uint32_t cap, int engines, int threads, int grain) {
  if (engines > 0) return cap;
  if (threads <= 1) return LOCAL_WINDOW_ONE_THREAD;
  const uint64_t team = (uint64_t)LOCAL_PIECES_PER_THREAD * (uint64_t)threads * (uint64_t)(grain > 0 ? grain : 1);
  return (uint32_t)(team > LOCAL_WINDOW_TEAM_MIN ? (team < (1u << 20) ? team : (1u << 20)) : LOCAL_WINDOW_TEAM_MIN);
}

bn_err bn__search_setup_params(bn_search *s, const bn_config *cfg, const bn_domain *domain, int engines, uint32_t cap,
                               const bn_search_options *opt) {
  bn_snapshot *snap = opt ? opt->resume_from : NULL;
  s->cfg = cfg;
  s->domain = domain;
  if (s->share == 0) s->share = 1;
  s->budget = (uint64_t)bn_config_int(cfg, "search.iterations");
  s->max_seconds = bn_config_real(cfg, "search.max_seconds");
  s->seed = (uint64_t)bn_config_int(cfg, "search.seed");
  s->threads = (int)bn_config_int(cfg, "search.threads");
  s->grain = (int)bn_config_int(cfg, "search.task_grain");
  s->progress_seconds = bn_config_real(cfg, "search.progress_seconds");
  s->best_min_visits = (uint64_t)bn_config_int(cfg, "search.best_min_visits");
  s->deterministic = bn_config_bool(cfg, "search.deterministic");
  s->timeline_seconds = bn_config_real(cfg, "checkpoint.timeline_seconds");
  s->ckpt_every_seconds = bn_config_real(cfg, "checkpoint.every_seconds");
  s->ckpt_every_evals = (uint64_t)bn_config_int(cfg, "checkpoint.every_evaluations");
  s->drain_seconds = bn_config_real(cfg, "checkpoint.drain_seconds");
  s->ckpt_max_share = bn_config_real(cfg, "checkpoint.max_time_share");
  s->ckpt_path = opt ? opt->checkpoint_path : NULL;
  s->resume_path = opt ? opt->resume_path : NULL;
  s->resume_snap = snap;
  s->created = bn_wtime();
  s->run_id = snap ? snap->run_id : new_run_id();
  pthread_mutex_init(&s->failures_mu, NULL);

  bn_tree_params tp;
  bn__search_tree_params(cfg, &tp);
  if (snap && opt->resume_tree) {
    s->tree = opt->resume_tree; /* checked and imported before the ranks started */
  } else if (snap) {
    char why[512] = "";
    bn_err e = bn_tree_import(&s->tree, domain, &tp, &snap->tree, why, sizeof why);
    BN_CHECK(e == BN_OK, e, "the checkpoint's search graph is not usable: %s", why);
  } else {
    BN_CALL(bn_tree_create(&s->tree, domain, &tp));
  }

  /* A replicate gets slots for the whole capacity, and its window is its share of it
   * (s->share): the share grows as other replicates finish. */
  cap = bn__search_automatic_window(cap, engines, s->threads, s->grain);
  int64_t user_window = bn_config_int(cfg, "search.max_in_flight");
  if (s->deterministic) {
    s->det_window = bn_search_deterministic_window(cfg); /* never the engines' capacity */
    s->n_slots = s->det_window + 1;
  } else {
    s->n_slots = user_window > 0 ? (uint32_t)user_window : cap;
    if (snap && snap->n_pending > s->n_slots) s->n_slots = (uint32_t)snap->n_pending;
  }
  s->path_cap = bn_tree_path_capacity(s->tree);
  return BN_OK;
}

bn_err bn__search_setup_slots(bn_search *s, bn_job *jobs) {
  const size_t S = s->domain->info.state_size;
  const bn_config *cfg = s->cfg;
  s->jobs = jobs ? jobs : calloc(s->n_slots, sizeof *s->jobs);
  s->paths = calloc(s->n_slots, sizeof *s->paths);
  s->path_edges = calloc((size_t)s->n_slots * (size_t)s->path_cap, sizeof *s->path_edges);
  s->state_mem = calloc((size_t)s->n_slots * 2, S);
  s->slot_busy = calloc(s->n_slots, sizeof *s->slot_busy);
  s->slot_done = calloc(s->n_slots, sizeof *s->slot_done);
  BN_CHECK(s->jobs && s->paths && s->path_edges && s->state_mem && s->slot_busy && s->slot_done, BN_ERR_NOMEM,
           "no memory for %u job slots", s->n_slots);
  for (uint32_t i = 0; i < s->n_slots; i++) {
    s->paths[i].edges = s->path_edges + (size_t)i * (size_t)s->path_cap;
    s->jobs[i].state = s->state_mem + (size_t)i * 2 * S;
    s->jobs[i].result_state = s->jobs[i].state + S;
  }
  BN_CALL(bn__slot_pool_create(&s->pool, s->deterministic ? 0 : s->n_slots));
  size_t top = (size_t)bn_config_int(cfg, "search.top");
  BN_CALL(bn__top_evals_create(&s->top, top > 1 ? top : 1, S));
  s->buffer_rows =
      (uint64_t)bn_config_int(cfg, "checkpoint.buffer_mb") * ((uint64_t)1 << 20) / bn__results_log_row_bytes(S);
  if (s->buffer_rows < 64) s->buffer_rows = 64;
  BN_CALL(bn__results_log_create(&s->log, S, s->ckpt_path != NULL, s->threads == 1,
                                 (size_t)bn_config_int(cfg, "checkpoint.buffer_mb") << 20, s->n_slots));
  return BN_OK;
}

bn_err bn__search_setup_restore(bn_search *s, const bn_search_options *opt) {
  bn_snapshot *snap = opt ? opt->resume_from : NULL;
  if (snap) {
    BN_CHECK(snap->path_cap == (uint32_t)s->path_cap && snap->state_size == s->domain->info.state_size,
             BN_ERR_CORRUPT, "the checkpoint's path capacity or state size does not match the domain");
    BN_CALL(bn__search_restore(s, snap));
    BN_CALL(bn__stats_session_pools(s));
    bn_snapshot_release_bulk(snap); /* restored: the graph and the log hold it now */
  }
  bn_dispatch_stats ds;
  bn_dispatcher_stats(s->disp, &ds);
  const uint32_t share = (uint32_t)((ds.capacity + (uint64_t)s->share - 1) / s->share);
  atomic_store(&s->window, s->deterministic ? s->n_slots : (share < s->n_slots ? share : s->n_slots));
  return BN_OK;
}

bn_err bn__search_engines(const bn_config *cfg, MPI_Comm comm, bn_engine_params *ep, int *engines, uint32_t *cap) {
  int size = 1;
  BN_CHECK(MPI_Comm_size(comm, &size) == MPI_SUCCESS, BN_ERR_MPI, "MPI_Comm_size failed");
  bn_engine_params_from_config(cfg, ep);
  *engines = size - 1;
  *cap = bn_dispatcher_max_capacity(ep, size - 1);
  return BN_OK;
}

static bn_err setup(bn_search *s, const bn_config *cfg, const bn_domain *domain, MPI_Comm comm,
                    const bn_search_options *opt) {
  int engines = 0;
  uint32_t cap = 0;
  bn_engine_params ep;
  BN_CALL(bn__search_engines(cfg, comm, &ep, &engines, &cap));
  BN_CALL(bn__search_setup_params(s, cfg, domain, engines, cap, opt));
  BN_CALL(bn__search_setup_slots(s, NULL));
  BN_CALL(bn__crew_create(&s->crew, s->threads > 1 ? s->threads : 0));
  BN_CALL(bn_outbox_create(&s->outbox, s->n_slots));
  if (s->threads == 1) { /* the dispatcher thread alone issues, queues, applies and frees */
    bn__slot_pool_one_thread(s->pool);
    bn__ring_one_thread((bn_ring *)s->outbox); /* the outbox is a ring (engine/outbox.c) */
  }
  BN_CALL(bn_dispatcher_create(&s->disp, domain, &ep, comm, s->jobs, s->n_slots, s->outbox));
  return bn__search_setup_restore(s, opt);
}

void bn__search_teardown(bn_search *s) {
  if (!s->shared) {
    bn_dispatcher_destroy(&s->disp);
    bn_outbox_destroy(&s->outbox);
    bn__crew_destroy(&s->crew);
    free(s->jobs);
  }
  s->disp = NULL;
  s->outbox = NULL;
  s->crew = NULL;
  s->jobs = NULL;
  bn__slot_pool_destroy(&s->pool);
  bn__top_evals_destroy(&s->top);
  bn__results_log_destroy(&s->log);
  bn_failure_tally_free(&s->failures_by_reason);
  pthread_mutex_destroy(&s->failures_mu);
  free((void *)s->slot_busy);
  free((void *)s->slot_done);
  free(s->timeline);
  free(s->history);
  free(s->engines_before);
  free(s->moves_before);
  bn_tree_destroy(&s->tree);
  free(s->paths);
  free(s->path_edges);
  free(s->state_mem);
}

/* The dispatcher thread, while the crew serves. A search thread may still issue an
 * iteration after the dispatcher saw the search finished, so dispatch again until the
 * counters balance once the crew is idle. */
void bn__search_start(bn_search *s) {
  if (s->deterministic)
    bn__sequencer_kick(s);
  else
    spawn_issue_tasks(s, atomic_load(&s->window));
}

static bn_err dispatch(void *ctx) {
  bn_search *s = ctx;
  bn_dispatch_hooks hooks = {.ctx = s,
                             .on_results = bn__search_on_results,
                             .finished = bn__search_finished,
                             .tick = bn__search_tick,
                             .give_up = bn__search_give_up,
                             .hold = bn__search_hold};
  bn__search_start(s);
  for (;;) {
    bn_err err = bn_dispatcher_run(s->disp, &hooks);
    bn__crew_wait(s->crew);
    if (err != BN_OK || s->abandoned ||
        (bn__search_finished(s) && (bn__search_hold(s) || bn_outbox_size(s->outbox) == 0)))
      return err;
  }
}

static bn_err run_team(bn_search *s) { return bn__crew_run(s->crew, dispatch, s); }

/* After a failure: stop the engines if that has not been done (they may hold jobs, which
 * they drop). True if every engine answered. */
bool bn__search_stop_engines(bn_dispatcher *disp, MPI_Comm comm, const bn_config *cfg) {
  bool all = false;
  if (disp) {
    if (bn_dispatcher_shutdown(disp, NULL, &all) != BN_OK) all = false;
    return all;
  }
  bn_engine_params ep;
  bn_engine_params_from_config(cfg, &ep);
  return bn_engines_stop(comm, &ep);
}

bn_err bn_search_run(const bn_config *cfg, const bn_domain *domain, MPI_Comm comm, const bn_search_options *opt,
                     bn_search_outcome *out) {
  if (opt && opt->n_replicates > 0) return bn_search_run_campaign(cfg, domain, comm, opt, out);
  bn_search_outcome o = {0};
  bn_search *s = calloc(1, sizeof *s);
  if (!s) {
    o.engines_stopped = bn__search_stop_engines(NULL, comm, cfg);
    if (out) *out = o;
    BN_CHECK(false, BN_ERR_NOMEM, "no memory for the search");
  }
  bn_err err = BN_OK;
  bn_engine_stats *engines = NULL;
  bool engines_done = false, all_answered = false;
  /* A stop requested before the search started (a signal during start-up) stays requested. */
  bn__search_catch_signals();
  BN_TRY(setup(s, cfg, domain, comm, opt));
  s->quiet = opt && opt->quiet;
  if (s->quiet) s->progress_seconds = 0;
  BN_TRY(bn__ckpt_start(s));
  bn__search_begin(s, bn_mtime());
  err = run_team(s);
  s->t_end = bn_mtime();
  if (s->threads > 1) {
    uint64_t handed = 0, woke = 0;
    bn__crew_figures(s->crew, &handed, &woke);
    bn_debug("search threads: %llu pieces of work handed out, %llu of them woke a sleeping thread",
             (unsigned long long)handed, (unsigned long long)woke);
  }
  if (err == BN_OK && atomic_load(&s->error) != BN_OK) err = (bn_err)atomic_load(&s->error);
  if (err != BN_OK) goto fail; /* the trail says where */
  bn__stats_tick(s, s->t_end, 1);
  if (s->writer) {
    BN_TRY(bn__ckpt_now(s, true));
    o.checkpointed = 1;
  }
  bn_dispatch_stats ds;
  bn_dispatcher_stats(s->disp, &ds);
  engines = calloc((size_t)(ds.engines ? ds.engines : 1), sizeof *engines);
  BN_CHECK_GOTO(engines, BN_ERR_NOMEM, "no memory for engine statistics");
  engines_done = true;
  BN_TRY(bn_dispatcher_shutdown(s->disp, engines, &all_answered));
  if (s->abandoned)
    bn_warn("%llu jobs were still in flight %g s after the stop: they are pending in the checkpoint",
            (unsigned long long)ds.in_flight, s->drain_seconds);
  if (bn__search_balanced(s) && bn_config_bool(cfg, "search.check")) {
    char why[256];
    BN_CHECK_GOTO(bn_tree_check(s->tree, why, sizeof why) == BN_OK, BN_ERR_INTERNAL,
                  "search graph invariant violated at the end of the run: %s", why);
  }
  if (s->progress_seconds > 0) bn__search_progress(s, s->t_end, 1);
  BN_TRY(bn__search_report(s, engines, opt ? opt->summary_path : NULL));
fail:
  if (!engines_done) all_answered = bn__search_stop_engines(s->disp, comm, cfg);
  bn__search_outcome(s, &o);
  o.engines_stopped = all_answered;
  if (s->disp) {
    bn_dispatch_stats fin;
    bn_dispatcher_stats(s->disp, &fin);
    o.engines_lost = fin.lost;
    o.job_running = bn_dispatcher_job_running(s->disp);
    if (fin.resent)
      bn_info("%llu jobs of lost engines were sent again to other engines", (unsigned long long)fin.resent);
  }
  if (out) *out = o;
  bn__ckpt_stop(s);
  free(engines);
  bn__search_teardown(s);
  free(s);
  return err;
}

bn_stop_reason bn__search_reason(const bn_search *s) {
  const bn_stop_reason r = (bn_stop_reason)atomic_load(&s->stop);
  /* A signal during the last jobs of a spent budget (or an exhausted space) leaves the jobs
   * that were not sent pending: the run stopped short, and is resumed. */
  if (s->signalled && (r == BN_STOP_BUDGET || r == BN_STOP_EXHAUSTED || r == BN_STOP_FULL) && !bn__search_balanced(s))
    return BN_STOP_SIGNAL;
  return r;
}

void bn__search_outcome(const bn_search *s, bn_search_outcome *o) {
  o->reason = bn__search_reason(s);
  o->iterations = atomic_load(&s->completed);
  o->failures = atomic_load(&s->failures);
  o->evaluations = o->iterations - o->failures;
  o->abandoned = s->abandoned;
  o->signalled = s->signalled;
}
