/* Checked HDF5 calls for the checkpoint module (src/checkpoint only).
 *
 * HDF5 prints its error stack to stderr by itself unless told not to. Every public entry of
 * the module silences that for the duration of the call (bn__h5_quiet / bn__h5_restore; the
 * setting is per thread in a thread-safe HDF5). A failed call's stack (often a dozen frames
 * or more) goes to the debug log only; its cause (the innermost message, and the errno the
 * operating system gave HDF5, e.g. ENOSPC) is remembered, and the public entry point
 * reports the failure on one line ("no space left on device writing run.h5.tmp").
 *
 * BN_H5 / BN_H5_SET turn a negative return (herr_t, hid_t, htri_t, ssize_t, int) into
 * BN_ERR_HDF5 inside a function that uses the `bn_err err` / `goto fail` ladder. */
#ifndef BN_CHECKPOINT_H5UTIL_H
#define BN_CHECKPOINT_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>

#include "banyan/error.h"
#include "banyan/log.h"

/* The automatic error printing in effect before bn__h5_quiet. */
typedef struct bn__h5_guard {
  H5E_auto2_t func;
  void *data;
  int saved; /* 1 when func/data hold a setting to restore */
} bn__h5_guard;

/* Turn HDF5's automatic error printing off on this thread, remembering the setting. */
void bn__h5_quiet(bn__h5_guard *g);
/* Put the remembered setting back and clear this thread's error stack. */
void bn__h5_restore(bn__h5_guard *g);

/* Log "`what` failed (file:line:func)" at `level` with the stack's cause on the same line,
 * the HDF5 error stack one line per frame at debug level, then clear the stack. */
void bn__h5_report(bn_log_level level, const char *file, int line, const char *func, const char *what);

/* A failed HDF5 call inside a write (BN_H5 / BN_H5_SET): the stack goes to the debug log,
 * and its cause is remembered for this thread (the first one since bn__h5_quiet), so the
 * public entry point can report the whole failure on one line (bn__h5_cause). */
void bn__h5_failed(const char *file, int line, const char *func, const char *what);

/* The cause of the first HDF5 failure remembered since bn__h5_quiet on this thread:
 * returns 0 if there is none; else fills msg ("" possible) with the stack's most specific
 * message and *errnum with the operating system's errno that HDF5 reported (0 if none:
 * e.g. ENOSPC for a full disk). */
int bn__h5_cause(char *msg, size_t n, int *errnum);

/* The most specific message of the current error stack ("truncated file: eof = 100, ...")
 * into buf (always NUL-terminated; "" if the stack is empty). Leaves the stack as it is. */
void bn__h5_message(char *buf, size_t n);

/* Close any HDF5 id (file, group, dataset, datatype, dataspace, attribute, property list);
 * accepts a negative id; sets *id = -1. Returns the close call's status (0 for a negative
 * id), so success paths can check it and cleanup ladders can ignore it. */
herr_t bn__h5_close(hid_t *id);
/* A file being written was given up after a failure: HDF5 1.10 may keep remains of it in
 * its tables (its close flushed into a full disk) and then loops at H5close ("infinite
 * loop closing library"), so the exit handler skips H5close from now on. */
void bn__h5_abandoned(void);

/* Checked call: a negative result records the failure (bn__h5_failed) and jumps to `fail`
 * with BN_ERR_HDF5; the public entry point reports it on one line. */
#define BN_H5(expr)                                                      \
  do {                                                                   \
    if ((expr) < 0) {                                                    \
      bn__h5_failed(__FILE__, __LINE__, __func__, #expr);                \
      err = BN_ERR_HDF5;                                                 \
      goto fail;                                                         \
    }                                                                    \
  } while (0)

/* Checked call whose result is kept in `var` (an id). */
#define BN_H5_SET(var, expr)                                             \
  do {                                                                   \
    (var) = (expr);                                                      \
    if ((var) < 0) {                                                     \
      bn__h5_failed(__FILE__, __LINE__, __func__, #expr);                \
      err = BN_ERR_HDF5;                                                 \
      goto fail;                                                         \
    }                                                                    \
  } while (0)

#endif
