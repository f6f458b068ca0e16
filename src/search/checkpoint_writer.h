/* Private to the checkpoint writer of the search (checkpointing.c, snapshot_take.c,
 * segments.c): the writer thread's state and the segment bookkeeping it does. */
#ifndef BN_SEARCH_CHECKPOINT_WRITER_H
#define BN_SEARCH_CHECKPOINT_WRITER_H

#include <pthread.h>
#include <stdbool.h>

#include "search/search_impl.h"

enum { BN__WQ = 4 }; /* jobs the writer queue holds */

/* One job: write rows first .. end - 1 as a segment (if any), then `snap` as the main file
 * (if not NULL); `final`: the run's last checkpoint. */
typedef struct bn__wjob {
  uint64_t first, end;
  bn_snapshot *snap;
  bool final;
} bn__wjob;

/* A segment file superseded by compaction (or left by an earlier session), removed once
 * `after_commit` checkpoints of this session are on disk and `since` is old enough. */
typedef struct bn__grave {
  uint64_t seq;
  uint64_t after_commit;
  double since;
} bn__grave;

struct bn_ckpt_writer {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bn__wjob q[BN__WQ];
  int qhead, qn;
  bool running, ckpt_queued, quit;
  _Atomic int error; /* first error (a bn_err): set under mu, read without it */
  /* the last completed checkpoint, for the history */
  double write_seconds, segment_seconds, flush_seconds;
  uint64_t bytes, segment_rows, flushed_rows;
  double flushing_seconds; /* early segments since the last checkpoint job (writer thread) */
  uint64_t flushing_rows;
  uint64_t done;

  /* Compaction runs on a thread of its own, so merging large segments never holds up a
   * checkpoint (HDF5 serialises the two threads call by call). seg_mu guards live,
   * next_seq and graves, which both threads change. */
  pthread_t compactor;
  bool compactor_started;
  pthread_mutex_t seg_mu;
  pthread_cond_t compact_cv;
  bool compact_wanted, compact_stop, compacting;
  volatile int compact_cancel;
  int merge_deflate;  /* deflate level of merged segments */

  /* Writer thread only (set up before it starts), but for the fields seg_mu guards. */
  const char *path;   /* the main file */
  char *dir;          /* its segment directory */
  char *dir_name;     /* the directory's name beside the file */
  bn_results_log *log;
  uint64_t run_id;
  bn_segment_params params;
  bn_segment_info *live; /* every segment of the run now, in row order */
  size_t n_live, cap_live;
  uint64_t next_seq;
  uint64_t *cur, *prev;  /* segment numbers NAME and NAME.prev refer to */
  size_t n_cur, n_prev;
  bn__grave *graves;
  size_t n_graves, cap_graves;
  uint64_t commits;      /* checkpoints written in this session (seg_mu) */
  bool gc_off;           /* the reference lists were lost (no memory): remove nothing */
};

/* segments.c. Open: the segment directory (created), the run's segments so far (from the
 * checkpoint resumed, linked into a new directory if the file changed) and the cleanup of
 * what a killed session left. */
bn_err bn__segments_open(bn_ckpt_writer *w, const char *resume_path, const bn_snapshot *resumed);
void bn__segments_close(bn_ckpt_writer *w);
/* Write rows first .. end - 1 as a new segment and release them from the buffer. */
bn_err bn__segments_add(bn_ckpt_writer *w, uint64_t first, uint64_t end, uint64_t *bytes);
/* Put the run's segment table (and its identity) into a snapshot about to be written. */
bn_err bn__segments_fill(bn_ckpt_writer *w, bn_snapshot *snap);
/* The snapshot is on disk as NAME: remember what NAME and NAME.prev refer to, remove
 * segments neither does (every such one when `final`). */
void bn__segments_committed(bn_ckpt_writer *w, const bn_snapshot *snap, bool final);
/* Start the compaction thread; ask it to look for work (after a commit); stop it (an
 * unfinished merge is abandoned; its sources stay). */
bn_err bn__compactor_start(bn_ckpt_writer *w);
void bn__compactor_kick(bn_ckpt_writer *w);
void bn__compactor_stop(bn_ckpt_writer *w);

/* snapshot_take.c: copy the quiescent search into a new snapshot (dispatcher thread). */
bn_err bn__ckpt_take_snapshot(bn_search *s, bn_snapshot **out);

#endif
