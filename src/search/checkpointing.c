/* Checkpoints during a run: when to take one, how to take a consistent snapshot without
 * stopping the engines, and the background thread that writes it.
 *
 * A snapshot is taken on the dispatcher thread between two passes: no new task is spawned
 * while it waits for the running ones (taskwait), so the graph, the counters and the
 * results log agree exactly; then the flat arrays are copied (a few memory passes) and the
 * search goes on while the writer thread puts the copy on disk. Engines keep running their
 * queued jobs meanwhile. Iterations in flight are stored as pending (their paths and
 * jobs), and a resumed run sends the same jobs again. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/log.h"
#include "search/search_impl.h"

struct bn_ckpt_writer {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bn_snapshot *job;   /* next snapshot to write, NULL if none */
  bool busy, quit;
  bn_err error;       /* first write error */
  const char *path;
  /* the last completed write, for the history */
  double write_seconds;
  uint64_t bytes;
  uint64_t done;
};

/* Free what take_snapshot allocated; the results are borrowed from the log. */
static void free_snapshot(bn_snapshot *snap) {
  snap->n_results = 0;
  snap->result_rows = NULL;
  snap->result_states = NULL;
  bn_snapshot_free(snap);
  free(snap);
}

static void *writer_main(void *arg) {
  bn_ckpt_writer *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->job && !w->quit) pthread_cond_wait(&w->cv, &w->mu);
    if (!w->job) break;
    bn_snapshot *snap = w->job;
    pthread_mutex_unlock(&w->mu);
    double t0 = bn_mtime();
    uint64_t bytes = 0;
    bn_err e = bn_checkpoint_write(w->path, snap, &bytes);
    double dt = bn_mtime() - t0;
    free_snapshot(snap);
    pthread_mutex_lock(&w->mu);
    if (e != BN_OK && w->error == BN_OK) w->error = e;
    w->write_seconds = dt;
    w->bytes = bytes;
    w->done++;
    w->job = NULL;
    w->busy = false;
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

bn_err bn__ckpt_start(bn_search *s) {
  if (!s->ckpt_path) return BN_OK;
  bn_ckpt_writer *w = calloc(1, sizeof *w);
  BN_CHECK(w, BN_ERR_NOMEM, "no memory for the checkpoint writer");
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  w->path = s->ckpt_path;
  if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
    free(w);
    BN_CHECK(false, BN_ERR_IO, "cannot start the checkpoint writer thread");
  }
  s->writer = w;
  return BN_OK;
}

static void wait_idle(bn_ckpt_writer *w) {
  pthread_mutex_lock(&w->mu);
  while (w->busy) pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
}

void bn__ckpt_stop(bn_search *s) {
  bn_ckpt_writer *w = s->writer;
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->quit = true;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
  s->writer = NULL;
}

bn_err bn__ckpt_error(bn_search *s) {
  if (!s->writer) return BN_OK;
  pthread_mutex_lock(&s->writer->mu);
  bn_err e = s->writer->error;
  pthread_mutex_unlock(&s->writer->mu);
  return e;
}

/* The history row of the last completed write gets its figures. */
static void record_last_write(bn_search *s) {
  bn_ckpt_writer *w = s->writer;
  pthread_mutex_lock(&w->mu);
  if (s->n_history > 0 && w->done > 0) {
    bn_checkpoint_row *h = &s->history[s->n_history - 1];
    h->write_seconds = w->write_seconds;
    h->bytes = w->bytes;
    s->ckpt_cost = h->snapshot_seconds + h->write_seconds;
  }
  pthread_mutex_unlock(&w->mu);
}

static bool finished_search(const bn_search *s) {
  int r = atomic_load(&s->stop);
  return (r == BN_STOP_BUDGET || r == BN_STOP_EXHAUSTED) &&
         bn__search_issued(s) == atomic_load(&s->completed);
}

static bn_err fill_pending(bn_search *s, bn_snapshot *snap) {
  const size_t S = s->domain->info.state_size, cap = (size_t)s->path_cap;
  uint64_t n = 0;
  for (uint32_t i = 0; i < s->n_slots; i++) n += atomic_load(&s->slot_busy[i]) != 0;
  snap->pending = calloc(n ? n : 1, sizeof *snap->pending);
  snap->pending_paths = calloc((n ? n : 1) * cap, sizeof *snap->pending_paths);
  snap->pending_states = calloc(n ? n : 1, S);
  BN_CHECK(snap->pending && snap->pending_paths && snap->pending_states, BN_ERR_NOMEM,
           "no memory for pending iterations");
  uint64_t k = 0;
  for (uint32_t i = 0; i < s->n_slots; i++) {
    if (!atomic_load(&s->slot_busy[i])) continue;
    const bn_job *j = &s->jobs[i];
    const bn_path *p = &s->paths[i];
    snap->pending[k] = (bn_pending_row){.iteration = j->id, .seed = j->seed, .kind = j->kind,
                                        .path_len = (uint32_t)p->len, .leaf = p->leaf,
                                        .sample = j->sample};
    memcpy(snap->pending_paths + k * cap, p->edges, (size_t)p->len * sizeof *p->edges);
    memcpy(snap->pending_states + k * S, j->state, S);
    k++;
  }
  snap->n_pending = k;
  return BN_OK;
}

static bn_err fill_best(bn_search *s, bn_snapshot *snap) {
  size_t k = (size_t)bn_config_int(s->cfg, "search.top");
  if (k == 0) return BN_OK;
  bn_tree_best *best = calloc(k, sizeof *best);
  snap->best = calloc(k, sizeof *snap->best);
  if (!best || !snap->best) {
    free(best);
    return BN_ERR_NOMEM;
  }
  size_t n = bn_tree_best_terminals(s->tree, k, s->best_min_visits, best);
  for (size_t i = 0; i < n; i++) {
    snap->best[i] = (bn_best_row){.node = best[i].node, .mean = best[i].mean, .visits = best[i].visits};
    s->domain->ops->describe(s->domain->ctx, bn_tree_state(s->tree, best[i].node), snap->best[i].text,
                             sizeof snap->best[i].text);
  }
  snap->n_best = n;
  free(best);
  return BN_OK;
}

/* Copy the quiescent search into a new snapshot. */
static bn_err take_snapshot(bn_search *s, bn_snapshot **out) {
  bn_err err = BN_OK;
  bn_snapshot *snap = calloc(1, sizeof *snap);
  BN_CHECK(snap, BN_ERR_NOMEM, "no memory for a snapshot");
  const double now = bn_mtime();
  snap->domain = strdup(s->domain->ops->name);
  snap->config_text = bn_config_effective_text(s->cfg);
  snap->banyan_version = strdup(BANYAN_VERSION);
  BN_CHECK_GOTO(snap->domain && snap->config_text && snap->banyan_version, BN_ERR_NOMEM, "no memory");
  snap->created = s->created;
  snap->updated = bn_wtime();
  snap->seed = s->seed;
  snap->state_size = s->domain->info.state_size;
  snap->path_cap = (uint32_t)s->path_cap;
  snap->budget = s->budget;
  snap->next_iteration = atomic_load(&s->next_iteration);
  snap->completed = atomic_load(&s->completed);
  snap->failures = atomic_load(&s->failures);
  snap->evaluations = snap->completed - snap->failures;
  snap->cancelled = atomic_load(&s->cancelled);
  snap->applied_upto = s->deterministic ? atomic_load(&s->applied_upto) : snap->completed;
  snap->deterministic = (uint8_t)s->deterministic;
  snap->finished = finished_search(s);
  snap->stop_reason = (uint32_t)atomic_load(&s->stop);
  snap->elapsed_seconds = s->elapsed_before + (now - s->t_start);
  snap->checkpoints = s->checkpoints + 1;
  BN_TRY(bn_tree_export(s->tree, &snap->tree));
  bn__results_log_view(s->log, snap);
  BN_TRY(fill_pending(s, snap));
  BN_TRY(fill_best(s, snap));
  snap->timeline = malloc((s->n_timeline ? s->n_timeline : 1) * sizeof *snap->timeline);
  BN_CHECK_GOTO(snap->timeline, BN_ERR_NOMEM, "no memory");
  memcpy(snap->timeline, s->timeline, s->n_timeline * sizeof *snap->timeline);
  snap->n_timeline = s->n_timeline;
  size_t n_eng = 0;
  snap->engines = bn__stats_engine_rows(s, &n_eng);
  BN_CHECK_GOTO(snap->engines, BN_ERR_NOMEM, "no memory");
  snap->n_engines = n_eng;
  /* This checkpoint's own history row; its write time is filled in by the next one. */
  bn_checkpoint_row *h = realloc(s->history, (s->n_history + 1) * sizeof *h);
  BN_CHECK_GOTO(h, BN_ERR_NOMEM, "no memory");
  s->history = h;
  s->history[s->n_history++] = (bn_checkpoint_row){.t_unix = snap->updated, .iterations = snap->completed};
  snap->history = malloc(s->n_history * sizeof *snap->history);
  BN_CHECK_GOTO(snap->history, BN_ERR_NOMEM, "no memory");
  memcpy(snap->history, s->history, s->n_history * sizeof *snap->history);
  snap->n_history = s->n_history;
  *out = snap;
  return BN_OK;
fail:
  free_snapshot(snap);
  return err;
}

bn_err bn__ckpt_now(bn_search *s, bool wait) {
  bn_ckpt_writer *w = s->writer;
  if (!w) return BN_OK;
  if (wait) wait_idle(w);
  pthread_mutex_lock(&w->mu);
  bool busy = w->busy;
  pthread_mutex_unlock(&w->mu);
  if (busy) return BN_OK; /* the next tick tries again */
  record_last_write(s);

  double t0 = bn_mtime();
#pragma omp taskwait
  bn_snapshot *snap = NULL;
  BN_CALL(take_snapshot(s, &snap));
  s->history[s->n_history - 1].snapshot_seconds = bn_mtime() - t0;
  snap->history[snap->n_history - 1].snapshot_seconds = bn_mtime() - t0;
  s->checkpoints++;

  pthread_mutex_lock(&w->mu);
  w->job = snap;
  w->busy = true;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  if (wait) {
    wait_idle(w);
    record_last_write(s);
  }
  return bn__ckpt_error(s);
}

bn_err bn__ckpt_tick(bn_search *s, double now) {
  if (!s->writer) return BN_OK;
  if (atomic_load(&s->stop) == BN_STOP_SIGNAL && !s->signal_checkpointed) {
    /* Slurm may kill the job soon after its signal: put the state on disk first. */
    s->signal_checkpointed = 1;
    s->drain_deadline = now + s->drain_seconds;
    bn_info("stop requested: writing a checkpoint now, then waiting up to %.0f s for the jobs in flight",
            s->drain_seconds);
    return bn__ckpt_now(s, true);
  }
  uint64_t done = atomic_load(&s->completed);
  const bool time_due = s->ckpt_every_seconds > 0 && now >= s->next_ckpt_time;
  const bool evals_due = s->ckpt_every_evals > 0 && done >= s->next_ckpt_evals && now >= s->next_ckpt_time;
  const bool due = time_due || evals_due;
  if (!due) return BN_OK;
  uint64_t before = s->checkpoints;
  BN_CALL(bn__ckpt_now(s, false));
  if (s->checkpoints != before) {
    /* Writing the whole file grows with the run (the results log above all): stretch the
     * interval so checkpoints take at most ckpt_max_share of the time, judging by the cost
     * of the last one. */
    double gap = s->ckpt_every_seconds;
    if (s->ckpt_max_share > 0 && s->ckpt_cost / s->ckpt_max_share > gap) gap = s->ckpt_cost / s->ckpt_max_share;
    s->next_ckpt_time = now + gap;
    s->next_ckpt_evals = done + s->ckpt_every_evals;
  }
  return BN_OK;
}
