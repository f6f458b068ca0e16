/* Checkpoints during a run: when to take one, how to take a consistent snapshot without
 * stopping the engines, and the background thread that puts it on disk.
 *
 * A snapshot is taken on the dispatcher thread between two passes: no new work is handed
 * out while it waits for the search threads to finish theirs (bn__crew_wait), so the
 * graph, the counters and the results buffer agree exactly; then the graph's flat arrays
 * are copied (a few memory passes) and the search goes on while the writer thread works.
 * Engines keep running their queued jobs meanwhile. Iterations in flight are stored as
 * pending.
 *
 * The writer thread takes jobs in order from a small queue. A job is a range of result
 * rows to write as a new segment, optionally followed by a snapshot to write as the main
 * file: checkpoint k writes only the rows since checkpoint k-1 (plus the graph), and rows
 * leave rank 0's memory as soon as their segment is on disk. When the results buffer
 * fills between checkpoints, the dispatcher queues a segment of the complete rows early;
 * at twice its size it waits for the disk, which holds results back from the engines.
 * After a checkpoint the writer merges small adjacent segments (compaction) and removes
 * segments that neither NAME nor NAME.prev refer to any more, once no reader can still be
 * using them (gc.c). */
#include <pthread.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "banyan/clock.h"
#include "banyan/log.h"
#include "search/checkpoint_writer.h"
#include "util/background.h"

/* Free what take_snapshot allocated. */
static void free_snapshot(bn_snapshot *snap) {
  bn_snapshot_free(snap);
  free(snap);
}

static void record_write(bn_ckpt_writer *w, const bn__wjob *job, double dt, double dt_segment, uint64_t bytes) {
  pthread_mutex_lock(&w->mu);
  w->write_seconds = dt;
  w->segment_seconds = dt_segment;
  w->segment_rows = job->end - job->first;
  w->flush_seconds = w->flushing_seconds;
  w->flushed_rows = w->flushing_rows;
  w->flushing_seconds = 0;
  w->flushing_rows = 0;
  w->bytes = bytes;
  w->done++;
  pthread_mutex_unlock(&w->mu);
}

static bn_err run_job(bn_ckpt_writer *w, const bn__wjob *job) {
  const double t0 = bn_mtime();
  uint64_t bytes = 0;
  if (job->end > job->first) BN_CALL(bn__segments_add(w, job->first, job->end, &bytes));
  if (!job->snap) {
    pthread_mutex_lock(&w->mu);
    w->flushing_seconds += bn_mtime() - t0;
    w->flushing_rows += job->end - job->first;
    pthread_mutex_unlock(&w->mu);
    return BN_OK;
  }
  const double dt_segment = bn_mtime() - t0;
  uint64_t main_bytes = 0;
  /* The last checkpoint lists the segments as they end up: no merge may finish after it. */
  if (job->final) bn__compactor_stop(w);
  BN_CALL(bn__segments_fill(w, job->snap));
  BN_CALL(bn_checkpoint_write(w->path, job->snap, &main_bytes));
  bn__segments_committed(w, job->snap, job->final);
  record_write(w, job, bn_mtime() - t0, dt_segment, bytes + main_bytes);
  if (!job->final) bn__compactor_kick(w);
  return BN_OK;
}

static void *writer_main(void *arg) {
  bn_ckpt_writer *w = arg;
  /* Background work: below the search and the engines (nice 10), off the search's cores
   * (util/background.c). Not idle-only as the compaction is: when the buffer is full the
   * search waits for this thread. */
  bn__background_thread("banyan-writer", false);
  bool prefault = true;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (w->qn == 0 && !w->quit) {
      if (!prefault) {
        pthread_cond_wait(&w->cv, &w->mu);
        continue;
      }
      /* Idle: ready the results buffer's memory a chunk at a time, so the search does
       * not fault it in (bn__results_log_prefault); a job waits at most one chunk. */
      pthread_mutex_unlock(&w->mu);
      prefault = bn__results_log_prefault(w->log);
      pthread_mutex_lock(&w->mu);
    }
    if (w->qn == 0) break;
    bn__wjob job = w->q[w->qhead];
    w->running = true;
    pthread_mutex_unlock(&w->mu);
    bn_err e = atomic_load(&w->error) == BN_OK ? run_job(w, &job) : BN_OK; /* after an error: drain the queue */
    if (job.snap) free_snapshot(job.snap);
    prefault = !job.final;
    pthread_mutex_lock(&w->mu);
    if (e != BN_OK && atomic_load(&w->error) == BN_OK) atomic_store(&w->error, e);
    w->qhead = (w->qhead + 1) % BN__WQ;
    w->qn--;
    w->running = false;
    if (job.snap) w->ckpt_queued = false;
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
  w->log = s->log;
  w->run_id = s->run_id;
  /* New segments are written uncompressed (the fast path, on the writer thread); merged
   * ones with checkpoint.compression, on the compaction thread, in the background. */
  w->params = (bn_segment_params){.run_id = s->run_id, .state_size = s->domain->info.state_size};
  w->merge_deflate = (int)bn_config_int(s->cfg, "checkpoint.compression");
  pthread_mutex_init(&w->seg_mu, NULL);
  pthread_cond_init(&w->compact_cv, NULL);
  bn_err err = bn__segments_open(w, s->resume_path, s->resume_snap);
  if (err == BN_OK) err = bn__compactor_start(w);
  if (err == BN_OK && pthread_create(&w->thread, NULL, writer_main, w) != 0) {
    bn_error("cannot start the checkpoint writer thread");
    err = BN_ERR_IO;
  }
  if (err != BN_OK) {
    bn__compactor_stop(w);
    bn__segments_close(w);
    free(w);
    return err;
  }
  s->writer = w;
  return BN_OK;
}

/* Wait until the queue has room (and, with `empty`, until it is empty and idle). */
static void wait_queue(bn_ckpt_writer *w, bool empty) {
  pthread_mutex_lock(&w->mu);
  while (empty ? (w->qn > 0 || w->running) : w->qn == BN__WQ) pthread_cond_wait(&w->cv, &w->mu);
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
  bn__compactor_stop(w);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->seg_mu);
  pthread_cond_destroy(&w->compact_cv);
  bn__segments_close(w);
  free(w);
  s->writer = NULL;
}

bn_err bn__ckpt_error(bn_search *s) {
  if (!s->writer) return BN_OK;
  /* Every dispatcher pass asks: no lock (a locked instruction stalls the search thread
   * on the stores of its tree walk; perf showed 4% of it in pthread_mutex_lock here). */
  return (bn_err)atomic_load_explicit(&s->writer->error, memory_order_acquire);
}

/* Queue a job (the caller made sure there is room). */
static void enqueue(bn_ckpt_writer *w, uint64_t first, uint64_t end, bn_snapshot *snap, bool final) {
  pthread_mutex_lock(&w->mu);
  w->q[(w->qhead + w->qn) % BN__WQ] = (bn__wjob){.first = first, .end = end, .snap = snap, .final = final};
  w->qn++;
  if (snap) w->ckpt_queued = true;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* The history row of the last completed write gets its figures. */
static void record_last_write(bn_search *s) {
  bn_ckpt_writer *w = s->writer;
  pthread_mutex_lock(&w->mu);
  if (s->n_history > 0 && w->done > 0) {
    bn_checkpoint_row *h = &s->history[s->n_history - 1];
    h->write_seconds = w->write_seconds;
    h->segment_seconds = w->segment_seconds;
    h->segment_rows = w->segment_rows;
    h->flush_seconds = w->flush_seconds;
    h->flushed_rows = w->flushed_rows;
    h->bytes = w->bytes;
    s->ckpt_cost = h->snapshot_seconds + h->write_seconds;
  }
  pthread_mutex_unlock(&w->mu);
}

bn_err bn__ckpt_now(bn_search *s, bool wait) {
  bn_ckpt_writer *w = s->writer;
  if (!w) return BN_OK;
  if (wait) wait_queue(w, true);
  pthread_mutex_lock(&w->mu);
  const bool busy = w->ckpt_queued || w->qn == BN__WQ;
  pthread_mutex_unlock(&w->mu);
  if (busy) return BN_OK; /* the next tick tries again */
  record_last_write(s);

  double t0 = bn_mtime();
  bn__crew_wait(s->crew); /* quiescent: no search work running */
  bn_snapshot *snap = NULL;
  BN_CALL(bn__ckpt_take_snapshot(s, &snap));
  s->history[s->n_history - 1].snapshot_seconds = bn_mtime() - t0;
  snap->history[snap->n_history - 1].snapshot_seconds = bn_mtime() - t0;
  s->checkpoints++;
  const uint64_t rows = snap->completed; /* quiescent: every row below is in the buffer */
  enqueue(w, s->segment_requested, rows, snap, wait);
  s->segment_requested = rows;
  if (wait) {
    wait_queue(w, true);
    record_last_write(s);
  }
  return bn__ckpt_error(s);
}

/* Segments ahead of the next checkpoint when the buffer fills: one segment each time half
 * the buffer holds rows not yet handed to the writer (so early segments are all of about
 * that size, not a large one followed by a chunk at a time while the writer is busy with
 * it); wait for the disk when the buffer holds rows not yet on disk for its whole size. */
static void flush_early(bn_search *s) {
  bn_ckpt_writer *w = s->writer;
  if (bn__results_log_size(s->log) - s->segment_requested < s->buffer_rows / 2) return;
  const uint64_t end = bn__results_log_complete(s->log, s->segment_requested);
  pthread_mutex_lock(&w->mu);
  const bool room = w->qn < BN__WQ - 1; /* keep a place for a checkpoint */
  pthread_mutex_unlock(&w->mu);
  if (room && end > s->segment_requested) {
    enqueue(w, s->segment_requested, end, NULL, false);
    s->segment_requested = end;
  }
  if (bn__results_log_buffered(s->log) >= s->buffer_rows) {
    pthread_mutex_lock(&w->mu);
    while (atomic_load(&w->error) == BN_OK && (w->qn > 0 || w->running) && bn__results_log_buffered(s->log) >= s->buffer_rows)
      pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
  }
}

bn_err bn__ckpt_tick(bn_search *s, double now) {
  if (!s->writer) return BN_OK;
  if (s->signalled && !s->signal_checkpointed) {
    /* Slurm may kill the job soon after its signal: put the state on disk first. */
    s->signal_checkpointed = 1;
    s->drain_deadline = now + s->drain_seconds;
    bn_info("stop requested: writing a checkpoint now, then waiting up to %g s for the jobs in flight",
            s->drain_seconds);
    return bn__ckpt_now(s, true);
  }
  flush_early(s);
  uint64_t done = atomic_load(&s->completed);
  const bool time_due = s->ckpt_every_seconds > 0 && now >= s->next_ckpt_time;
  const bool evals_due = s->ckpt_every_evals > 0 && done >= s->next_ckpt_evals && now >= s->next_ckpt_time;
  if (!time_due && !evals_due) return bn__ckpt_error(s);
  uint64_t before = s->checkpoints;
  BN_CALL(bn__ckpt_now(s, false));
  if (s->checkpoints != before) {
    /* Stretch the interval so checkpoints take at most ckpt_max_share of the time, judging
     * by the cost of the last one (with streamed results it no longer grows with the run). */
    double gap = s->ckpt_every_seconds;
    if (s->ckpt_max_share > 0 && s->ckpt_cost / s->ckpt_max_share > gap) gap = s->ckpt_cost / s->ckpt_max_share;
    s->next_ckpt_time = now + gap;
    s->next_ckpt_evals = done + s->ckpt_every_evals;
  }
  return BN_OK;
}
