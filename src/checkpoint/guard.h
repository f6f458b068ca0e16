/* The reader process (src/checkpoint only): HDF5 1.10 does not defend against malformed
 * metadata (a hostile object header can make it read out of bounds or loop), so banyan
 * never lets the library parse a file it reads (a checkpoint for `resume`, `inspect` or
 * `export`, a segment for streaming or compaction) in its own process. A reader process
 * opens the (already seal-checked) file, runs the validating reader and sends what it read
 * back through a pipe in frames; the parent checks every frame's size against what it
 * expects, and turns the child's death by a signal, an exit without its last frame, or a
 * time-out into a one-line error (BN_ERR_CORRUPT: "the file is damaged or hostile").
 *
 * The reader process is a fresh copy of the running executable (/proc/self/exe, started
 * with posix_spawn, so nothing is copied-on-write under MPI's registered memory), which a
 * constructor in this module turns into a reader before main() runs: it inherits no state
 * of the running search (threads, HDF5's global lock, MPI). Any program linking libbanyan
 * (banyan itself, the test suites, a fuzzer) works this way. Where /proc/self/exe cannot
 * be run, the reader is a fork() of the caller instead. */
#ifndef BN_CHECKPOINT_GUARD_H
#define BN_CHECKPOINT_GUARD_H

#include <stdint.h>
#include <sys/types.h>

#include "banyan/checkpoint.h"

/* Frames: a 16-byte header (tag, 0, length; native byte order) and `length` bytes. */
enum { BN__FRAME_DATA = 1, BN__FRAME_ERROR = 2, BN__FRAME_END = 3 };

typedef struct bn__guard {
  pid_t pid;       /* the child; -1 once reaped */
  int fd;          /* read end of its pipe; -1 once closed */
  double timeout;  /* seconds allowed without progress */
  double deadline; /* bn_mtime() by which the next bytes must come */
} bn__guard;

/* What a reader process reads. */
typedef enum bn__reader_kind { BN__READER_MAIN = 1, BN__READER_SEGMENT = 2 } bn__reader_kind;
typedef struct bn__reader_job {
  bn__reader_kind kind;
  int fd;           /* the file, open and seal-checked by the parent; the child opens it as
                       /proc/self/fd/N, so it reads exactly what the parent checked */
  uint64_t size;    /* its bytes */
  const char *path; /* its name, for messages */
  bn_segment_params params; /* segments: run_id and state_size */
  bn_segment_info seg;      /* segments: the row of the checkpoint's table */
} bn__reader_job;

/* The reader process's work (in the child): write frames to `out` (DATA..., END, or an
 * ERROR frame), return the exit status. read_guard.c and segment_read.c. */
int bn__reader_main(const bn__reader_job *job, int out);
int bn__reader_segment(const bn__reader_job *job, int out);

/* Seconds a reader child may take without sending anything, for a file of `bytes`:
 * 60 s plus 1 s per 20 MB (the child reads the whole main file before it sends), or
 * BANYAN_READ_TIMEOUT seconds if that is set in the environment. */
double bn__guard_timeout(uint64_t bytes);

/* Start a reader process for `job`. BN_ERR_IO with why if it cannot be started. */
BN_NODISCARD bn_err bn__guard_start(bn__guard *g, const bn__reader_job *job, char *why, size_t whylen);

/* Parent: the next frame's tag and length. An ERROR frame is consumed here: its code is
 * returned and its message copied to why (the child is then reaped). A dead or silent
 * child gives BN_ERR_CORRUPT naming the signal, status or time-out. */
BN_NODISCARD bn_err bn__guard_next(bn__guard *g, uint32_t *tag, uint64_t *len, char *why, size_t whylen);
/* Parent: exactly n bytes of the current frame's payload. */
BN_NODISCARD bn_err bn__guard_read(bn__guard *g, void *buf, size_t n, char *why, size_t whylen);
/* Parent, after the END frame: the child must exit with status 0. Reaps it. */
BN_NODISCARD bn_err bn__guard_finish(bn__guard *g, char *why, size_t whylen);
/* Parent: kill the child if it still runs, reap it, close the pipe. Idempotent. */
void bn__guard_stop(bn__guard *g);

/* Child: write one frame (0, or -1 if the parent is gone). */
int bn__frame_send(int out, uint32_t tag, const void *payload, uint64_t n);
/* Child: an ERROR frame carrying `e` and its reason. */
int bn__frame_send_error(int out, bn_err e, const char *why);

/* The snapshot as frames, in the order the schema declares it (root attributes, tables,
 * the graph's counts, arrays), then END. Child side. 0 or -1 (parent gone). */
int bn__snapshot_send(int out, const bn_snapshot *s);
/* Parent side: receive a snapshot sent by bn__snapshot_send into *s (zeroed on entry;
 * partial contents on failure are freed by the caller with bn_snapshot_free). Every frame
 * must have exactly the size the counts received before it imply; `file_size` bounds the
 * strings and arrays (a child cannot make the parent allocate absurd amounts). */
BN_NODISCARD bn_err bn__snapshot_recv(bn__guard *g, uint64_t file_size, bn_snapshot *s, char *why, size_t whylen);

/* The HDF5 part of reading a main file (read.c), for the reader process: `fd` is the
 * seal-checked file (HDF5 opens an in-memory copy of its `size` bytes), `path` names it in
 * messages. Everything bn_checkpoint_read checks but the segments. */
BN_NODISCARD bn_err bn__checkpoint_read_hdf5(int fd, const char *path, uint64_t size, bn_snapshot *out, char *why,
                                             size_t whylen);

/* The checks of the root attributes' bounds and of the snapshot's coherence, run again by
 * the parent on what the reader process sent (read_guard.c). */
BN_NODISCARD bn_err bn__snapshot_recheck(const bn_snapshot *s, char *why, size_t whylen);

#endif
