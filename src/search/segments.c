/* The segment bookkeeping of the checkpoint writer thread: which segment files make up the
 * run's results log now, which ones NAME and NAME.prev refer to, compaction of small
 * adjacent segments on a thread of its own that runs on idle cycles (size-tiered: eight adjacent segments of about
 * one size class become one of the next, up to MERGE_MAX_ROWS rows; merged segments are
 * compressed), and the removal of files nobody refers to any more.
 *
 * A file superseded by compaction at commit c is still named by NAME.prev until commit
 * c + 2, and a reader (h5py, inspect) that opened NAME a moment ago may be reading it, so it
 * is removed only after commit c + 2 and READER_GRACE seconds (at the end of the run,
 * READER_END_GRACE seconds after it was superseded: the end waits at most that long). At the start of a session, files numbered from the checkpoint's
 * next_segment on are orphans of a killed session (removed at once), and the others that
 * the checkpoint does not list wait for this session's first commit (NAME.prev may still
 * name them until then). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banyan/clock.h"
#include "banyan/log.h"
#include "search/checkpoint_writer.h"
#include "util/background.h"

enum { FANIN = 8 };
#define MERGE_MAX_ROWS (16u << 20)    /* no merged segment grows beyond this */
#define READER_GRACE 30.0             /* seconds a superseded segment stays for readers */
#define READER_END_GRACE 1.0          /* the same at the end of the run (it waits that long) */

static bool contains(const uint64_t *v, size_t n, uint64_t x) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == x) return true;
  return false;
}

static bn_err push_live(bn_ckpt_writer *w, const bn_segment_info *g) {
  if (w->n_live == w->cap_live) {
    const size_t cap = w->cap_live ? 2 * w->cap_live : 64;
    bn_segment_info *p = realloc(w->live, cap * sizeof *p);
    BN_CHECK(p, BN_ERR_NOMEM, "no memory for the segment table");
    w->live = p;
    w->cap_live = cap;
  }
  w->live[w->n_live++] = *g;
  return BN_OK;
}

static bn_err push_grave(bn_ckpt_writer *w, uint64_t seq, uint64_t after_commit, double since) {
  if (w->n_graves == w->cap_graves) {
    const size_t cap = w->cap_graves ? 2 * w->cap_graves : 64;
    bn__grave *p = realloc(w->graves, cap * sizeof *p);
    BN_CHECK(p, BN_ERR_NOMEM, "no memory");
    w->graves = p;
    w->cap_graves = cap;
  }
  w->graves[w->n_graves++] = (bn__grave){.seq = seq, .after_commit = after_commit, .since = since};
  return BN_OK;
}

/* The numbers of the live segments into *v (realloc'ed). */
static bn_err live_seqs(bn_ckpt_writer *w, uint64_t **v, size_t *n) {
  uint64_t *p = realloc(*v, (w->n_live ? w->n_live : 1) * sizeof *p);
  BN_CHECK(p, BN_ERR_NOMEM, "no memory");
  for (size_t i = 0; i < w->n_live; i++) p[i] = w->live[i].seq;
  *v = p;
  *n = w->n_live;
  return BN_OK;
}

/* Copy a file (when a hard link is not possible: another file system), synced. */
static bn_err copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  BN_CHECK(in >= 0, BN_ERR_IO, "cannot open %s: %s", from, strerror(errno));
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (out < 0) {
    (void)close(in);
    BN_CHECK(0, BN_ERR_IO, "cannot create %s: %s", to, strerror(errno));
  }
  char buf[1 << 16];
  ssize_t got;
  int e = 0;
  while ((got = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)got) != got) {
      e = errno ? errno : EIO;
      break;
    }
  if (got < 0) e = errno;
  if (!e && fsync(out) != 0) e = errno;
  (void)close(in);
  if (close(out) != 0 && !e) e = errno;
  if (e) (void)unlink(to);
  BN_CHECK(!e, BN_ERR_IO, "cannot copy %s to %s: %s", from, to, strerror(e));
  return BN_OK;
}

/* Resuming into another checkpoint file: its directory gets the run's segments too. */
static bn_err adopt_segments(bn_ckpt_writer *w, const char *src_dir) {
  struct stat a, b;
  if (stat(src_dir, &a) == 0 && stat(w->dir, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) return BN_OK;
  for (size_t i = 0; i < w->n_live; i++) {
    char from[4096], to[4096];
    bn_segment_path(src_dir, w->live[i].seq, from, sizeof from);
    bn_segment_path(w->dir, w->live[i].seq, to, sizeof to);
    if (unlink(to) != 0 && errno != ENOENT) BN_CHECK(0, BN_ERR_IO, "cannot replace %s: %s", to, strerror(errno));
    if (link(from, to) != 0) BN_CALL(copy_file(from, to));
  }
  bn_info("the results log's %zu segments were linked from %s into %s", w->n_live, src_dir, w->dir);
  return BN_OK;
}

bn_err bn__segments_open(bn_ckpt_writer *w, const char *resume_path, const bn_snapshot *resumed) {
  w->dir_name = bn_checkpoint_segment_dir_name(w->path);
  w->dir = w->dir_name ? bn_checkpoint_segment_dir(w->path, w->dir_name) : NULL;
  BN_CHECK(w->dir, BN_ERR_NOMEM, "no memory");
  BN_CALL(bn_segment_dir_create(w->dir));
  if (resumed) {
    for (uint64_t i = 0; i < resumed->n_segments; i++) BN_CALL(push_live(w, &resumed->segments[i]));
    w->next_seq = resumed->next_segment;
    char *src = bn_checkpoint_segment_dir(resume_path, resumed->segment_dir);
    BN_CHECK(src, BN_ERR_NOMEM, "no memory");
    bn_err e = adopt_segments(w, src);
    free(src);
    BN_CALL(e);
    bn__results_log_restart_at(w->log, resumed->completed);
  }
  BN_CALL(live_seqs(w, &w->cur, &w->n_cur));
  uint64_t *found = NULL;
  size_t n = 0, n_tmp = 0, orphans = 0;
  BN_CALL(bn_segment_dir_list(w->dir, &found, &n, &n_tmp));
  bn_err err = BN_OK;
  for (size_t i = 0; i < n && err == BN_OK; i++) {
    if (contains(w->cur, w->n_cur, found[i])) continue;
    if (found[i] >= w->next_seq) {
      bn_segment_remove(w->dir, found[i]);
      orphans++;
    } else {
      err = push_grave(w, found[i], 1, 0.0);
    }
  }
  free(found);
  if (orphans + n_tmp > 0)
    bn_info("removed %zu segment file%s that no checkpoint refers to (left by a killed run) from %s", orphans + n_tmp,
            orphans + n_tmp == 1 ? "" : "s", w->dir);
  return err;
}

void bn__segments_close(bn_ckpt_writer *w) {
  free(w->dir);
  free(w->dir_name);
  free(w->live);
  free(w->cur);
  free(w->prev);
  free(w->graves);
  w->dir = w->dir_name = NULL;
  w->live = NULL;
  w->cur = w->prev = NULL;
  w->graves = NULL;
}

bn_err bn__segments_add(bn_ckpt_writer *w, uint64_t first, uint64_t end, uint64_t *bytes) {
  const bn_result_source src = bn__results_log_source(w->log);
  bn_segment_info g;
  pthread_mutex_lock(&w->seg_mu);
  const uint64_t seq = w->next_seq++;
  pthread_mutex_unlock(&w->seg_mu);
  BN_CALL(bn_segment_write(w->dir, &w->params, seq, first, end - first, &src, &g));
  pthread_mutex_lock(&w->seg_mu);
  bn_err err = push_live(w, &g);
  pthread_mutex_unlock(&w->seg_mu);
  BN_CALL(err);
  bn__results_log_release(w->log, end);
  *bytes += g.bytes;
  return BN_OK;
}

bn_err bn__segments_fill(bn_ckpt_writer *w, bn_snapshot *snap) {
  snap->run_id = w->run_id;
  snap->segment_dir = strdup(w->dir_name);
  pthread_mutex_lock(&w->seg_mu);
  snap->segments = malloc((w->n_live ? w->n_live : 1) * sizeof *snap->segments);
  if (snap->segments && w->n_live > 0) memcpy(snap->segments, w->live, w->n_live * sizeof *snap->segments);
  snap->n_segments = w->n_live;
  snap->next_segment = w->next_seq;
  pthread_mutex_unlock(&w->seg_mu);
  BN_CHECK(snap->segment_dir && snap->segments, BN_ERR_NOMEM, "no memory");
  return BN_OK;
}

/* What `snap` (just written as NAME) refers to becomes `cur`, the old `cur` `prev`. */
void bn__segments_committed(bn_ckpt_writer *w, const bn_snapshot *snap, bool final) {
  uint64_t *t = w->prev;
  w->prev = w->cur;
  w->n_prev = w->n_cur;
  w->cur = t;
  uint64_t *p = realloc(w->cur, (snap->n_segments ? snap->n_segments : 1) * sizeof *p);
  if (p) {
    for (uint64_t i = 0; i < snap->n_segments; i++) p[i] = snap->segments[i].seq;
    w->cur = p;
    w->n_cur = (size_t)snap->n_segments;
  } else {
    /* Without the list nothing can be removed safely, now or later. */
    w->gc_off = true;
    bn_warn("no memory to track the segment files: superseded segments are kept from now on");
  }
  double now = bn_mtime();
  pthread_mutex_lock(&w->seg_mu);
  w->commits++;
  if (w->gc_off) {
    pthread_mutex_unlock(&w->seg_mu);
    return;
  }
  if (final) {
    /* A reader that opened NAME a moment before this last commit may still open the
     * segments that NAME listed: give the newest superseded ones READER_END_GRACE. */
    double youngest = -1;
    for (size_t i = 0; i < w->n_graves; i++)
      if (w->graves[i].since > youngest) youngest = w->graves[i].since;
    const double wait = youngest < 0 ? 0 : youngest + READER_END_GRACE - now;
    if (wait > 0) {
      pthread_mutex_unlock(&w->seg_mu);
      bn_sleep(wait);
      pthread_mutex_lock(&w->seg_mu);
      now = bn_mtime();
    }
  }
  size_t k = 0;
  for (size_t i = 0; i < w->n_graves; i++) {
    const bn__grave *g = &w->graves[i];
    const bool unused = w->commits >= g->after_commit && !contains(w->cur, w->n_cur, g->seq) &&
                        !contains(w->prev, w->n_prev, g->seq);
    if (unused && (final || now - g->since >= READER_GRACE)) {
      bn_debug("removing segment %llu (superseded)", (unsigned long long)g->seq);
      bn_segment_remove(w->dir, g->seq);
    }
    else
      w->graves[k++] = *g;
  }
  w->n_graves = k;
  pthread_mutex_unlock(&w->seg_mu);
}

/* Size class: rows in [8^c, 8^(c+1)). Merging FANIN = 8 segments of one class gives one
 * of the next, so each row is rewritten about log8(rows of the run) times at most. Segments
 * under MERGE_FLOOR_ROWS count as that size: a checkpoint that comes just after an early
 * segment writes a small one of its own, and as a class of its own it would never find
 * seven more like it among its neighbours and stay a file of its own for the whole run. */
#define MERGE_FLOOR_ROWS (1u << 16)
static int size_class(uint64_t rows) {
  if (rows < MERGE_FLOOR_ROWS) rows = MERGE_FLOOR_ROWS;
  int c = 0;
  for (; rows >= 8 && c < 20; rows /= 8) c++;
  return c;
}

/* The first run of FANIN adjacent segments whose size classes differ by at most one (at
 * most MERGE_MAX_ROWS rows in all): its index, or SIZE_MAX. Segments written early when the
 * buffer fills and those of checkpoints alternate in size, so one class alone would rarely
 * line up eight; a spread of one still rewrites each row only about log8 times. Under
 * seg_mu. */
static size_t find_run(const bn_ckpt_writer *w) {
  for (size_t i = 0; i + FANIN <= w->n_live; i++) {
    int lo = size_class(w->live[i].rows), hi = lo;
    uint64_t rows = 0;
    for (size_t k = 0; k < FANIN; k++) {
      const int c = size_class(w->live[i + k].rows);
      lo = c < lo ? c : lo;
      hi = c > hi ? c : hi;
      rows += w->live[i + k].rows;
    }
    if (hi - lo <= 1 && rows <= MERGE_MAX_ROWS) return i;
  }
  return SIZE_MAX;
}

/* Merge one run, if there is one; false when there was nothing to do. Compactor thread. */
static bool compact_once(bn_ckpt_writer *w) {
  bn_segment_info in[FANIN], merged;
  pthread_mutex_lock(&w->seg_mu);
  const size_t i = find_run(w);
  uint64_t seq = 0;
  if (i != SIZE_MAX) {
    memcpy(in, &w->live[i], sizeof in);
    seq = w->next_seq++;
  }
  pthread_mutex_unlock(&w->seg_mu);
  if (i == SIZE_MAX) return false;
  const double t0 = bn_mtime();
  bn_segment_params p = w->params;
  p.cancel = &w->compact_cancel;
  p.deflate = w->merge_deflate;
  bn_err err = bn_segment_merge(w->dir, &p, in, FANIN, seq, &merged);
  if (err != BN_OK) {
    /* The sources are intact and still in use: the run goes on without this merge. */
    bn_warn("compaction of segments %llu..: %s; the segments stay as they are", (unsigned long long)in[0].seq,
            bn_strerror(err));
    return false;
  }
  if (merged.rows == 0) return false; /* cancelled */
  const double now = bn_mtime();
  pthread_mutex_lock(&w->seg_mu);
  /* Only this thread removes entries and the writer only appends: the run is where it was. */
  size_t at = SIZE_MAX;
  for (size_t j = 0; j + FANIN <= w->n_live && at == SIZE_MAX; j++)
    if (w->live[j].seq == in[0].seq) at = j;
  bool ok = at != SIZE_MAX;
  for (size_t j = 0; ok && j < FANIN; j++) ok = w->live[at + j].seq == in[j].seq;
  for (size_t j = 0; ok && j < FANIN; j++) ok = push_grave(w, in[j].seq, w->commits + 2, now) == BN_OK;
  if (ok) {
    w->live[at] = merged;
    memmove(&w->live[at + 1], &w->live[at + FANIN], (w->n_live - at - FANIN) * sizeof *w->live);
    w->n_live -= FANIN - 1;
  }
  pthread_mutex_unlock(&w->seg_mu);
  if (!ok) {
    bn_segment_remove(w->dir, merged.seq);
    return false;
  }
  bn_debug("compaction: %d segments (%llu rows) merged into segment %llu in %.3f s", FANIN,
           (unsigned long long)merged.rows, (unsigned long long)merged.seq, now - t0);
  return true;
}

static void *compactor_main(void *arg) {
  bn_ckpt_writer *w = arg;
  /* Background work on idle cycles only (SCHED_IDLE), off the search's cores
   * (util/background.c): the search, the dispatcher, the engines and the checkpoint writer
   * come first. Where the cores are all busy, merging waits and the run keeps more, smaller
   * segments; it never slows the search. */
  bn__background_thread("banyan-compact", true);
  pthread_mutex_lock(&w->seg_mu);
  for (;;) {
    while (!w->compact_wanted && !w->compact_stop) pthread_cond_wait(&w->compact_cv, &w->seg_mu);
    if (w->compact_stop) break;
    w->compact_wanted = false;
    w->compacting = true;
    pthread_mutex_unlock(&w->seg_mu);
    while (!w->compact_cancel && compact_once(w)) {
    }
    pthread_mutex_lock(&w->seg_mu);
    w->compacting = false;
    pthread_cond_broadcast(&w->compact_cv);
  }
  pthread_mutex_unlock(&w->seg_mu);
  return NULL;
}

bn_err bn__compactor_start(bn_ckpt_writer *w) {
  BN_CHECK(pthread_create(&w->compactor, NULL, compactor_main, w) == 0, BN_ERR_IO,
           "cannot start the segment compaction thread");
  w->compactor_started = true;
  return BN_OK;
}

void bn__compactor_kick(bn_ckpt_writer *w) {
  pthread_mutex_lock(&w->seg_mu);
  w->compact_wanted = true;
  pthread_cond_broadcast(&w->compact_cv);
  pthread_mutex_unlock(&w->seg_mu);
}

void bn__compactor_stop(bn_ckpt_writer *w) {
  if (!w->compactor_started) return;
  w->compact_cancel = 1;
  pthread_mutex_lock(&w->seg_mu);
  w->compact_stop = true;
  pthread_cond_broadcast(&w->compact_cv);
  pthread_mutex_unlock(&w->seg_mu);
  pthread_join(w->compactor, NULL);
  w->compactor_started = false;
}
