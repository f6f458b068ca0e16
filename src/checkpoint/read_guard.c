/* bn_checkpoint_read: a checkpoint is untrusted data, and HDF5 1.10 can crash or hang on
 * a malformed file. So, in this order:
 *
 *   1. open(2) the file and check its seal (seal.h): the XXH3-64 of the whole file written
 *      with it. Any damaged byte is reported here ("damaged: ..."), before HDF5 sees it.
 *   2. A reader process (guard.h) reads that same open file (no rename in between can swap
 *      it), opens the bytes with HDF5 (an in-memory image: HDF5 never looks the name up, so a
 *      file the running search replaces meanwhile still opens), runs the validating reader
 *      (read.c) and sends the snapshot back; a crash or a time-out of the child is a
 *      one-line error. Banyan's own process never lets HDF5 parse the file.
 *   3. The parent checks the bounds and coherence again on what it received, then every
 *      segment the file lists against the segment's own seal (no HDF5, no rows read).
 *
 * Nothing is ever written. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint_impl.h"
#include "checkpoint/guard.h"
#include "checkpoint/seal.h"

/* The reader process: read with HDF5, send the snapshot or the reason it was refused. */
int bn__reader_main(const bn__reader_job *job, int out) {
  bn_snapshot s;
  memset(&s, 0, sizeof s);
  char why[1024] = "";
  const bn_err e = bn__checkpoint_read_hdf5(job->fd, job->path, job->size, &s, why, sizeof why);
  const int sent = e == BN_OK ? bn__snapshot_send(out, &s) : bn__frame_send_error(out, e, why);
  return sent == 0 ? 0 : 3; /* the process ends at once: nothing to free */
}

bn_err bn__snapshot_recheck(const bn_snapshot *s, char *why, size_t whylen) {
  size_t n = 0;
  const bn__attr *attrs = bn__root_attrs(&n);
  for (size_t i = 0; i < n; i++) {
    const bn__attr *a = &attrs[i];
    if (a->offset == BN__NOT_IN_SNAPSHOT) continue;
    const unsigned char *slot = (const unsigned char *)s + a->offset;
    uint64_t v = 0;
    switch (a->type) {
      case BN__F_STR:
        if (!*(char *const *)slot) return bn__why(BN_ERR_CORRUPT, why, whylen, "attribute %s is missing", a->name);
        continue;
      case BN__F_U8: v = *(const uint8_t *)slot; break;
      case BN__F_U32: v = *(const uint32_t *)slot; break;
      case BN__F_U64: v = *(const uint64_t *)slot; break;
      default: continue; /* reals: checked by bn__snapshot_check */
    }
    if (v < a->lo || v > a->hi)
      return bn__why(BN_ERR_CORRUPT, why, whylen, "%s %llu outside %llu..%llu", a->name, (unsigned long long)v,
                     (unsigned long long)a->lo, (unsigned long long)a->hi);
  }
  return bn__snapshot_check(s, why, whylen);
}

/* Whether `path` now names another file than the one open on `fd` (a running search
 * replaced the checkpoint while it was being read). */
static bool replaced_since(const char *path, int fd) {
  struct stat a, b;
  return fstat(fd, &b) == 0 && (stat(path, &a) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino);
}

/* One attempt; *again is set when it failed because the file was replaced meanwhile (HDF5
 * cannot open a file through /proc/self/fd once its name is gone). */
static bn_err read_once(const char *path, bn_snapshot *out, char *why, size_t whylen, bool *again) {
  *again = false;
  /* O_NONBLOCK: a FIFO given by mistake must not hang the reader. */
  const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return bn__why(BN_ERR_IO, why, whylen, "cannot open %s: %s", path, strerror(errno));
  bn_snapshot s;
  memset(&s, 0, sizeof s);
  bn__guard g = {.pid = -1, .fd = -1};
  bn__seal seal;
  bn_err err = BN_OK;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    err = bn__why(BN_ERR_IO, why, whylen, "cannot stat %s: %s", path, strerror(errno));
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    err = bn__why(BN_ERR_IO, why, whylen, "%s is not a regular file", path);
    goto done;
  }
  err = bn__seal_read(fd, (uint64_t)st.st_size, BN__SEAL_MAIN, &seal, why, whylen);
  if (err == BN_OK) err = bn__seal_check_body(fd, &seal, why, whylen);
  if (err != BN_OK) goto done;
  const bn__reader_job job = {.kind = BN__READER_MAIN, .fd = fd, .size = seal.file_size, .path = path};
  err = bn__guard_start(&g, &job, why, whylen);
  if (err == BN_OK) err = bn__snapshot_recv(&g, seal.file_size, &s, why, whylen);
  bn__guard_stop(&g);
  if (err == BN_OK) err = bn__snapshot_recheck(&s, why, whylen);
  if (err == BN_OK) err = bn__segments_check_all(path, &s, why, whylen);
done:
  if (err != BN_OK && err != BN_ERR_NOMEM) *again = replaced_since(path, fd);
  (void)close(fd);
  if (err != BN_OK) {
    bn_snapshot_free(&s);
    if (why[0] == '\0') (void)bn__why(err, why, whylen, "%s", bn_strerror(err));
    bn_debug("checkpoint read: %s: %s", path, why);
    return err;
  }
  *out = s;
  return BN_OK;
}

bn_err bn_checkpoint_read(const char *path, bn_snapshot *out, char *why, size_t whylen) {
  char scratch[512];
  if (!why || whylen == 0) {
    why = scratch;
    whylen = sizeof scratch;
  }
  why[0] = '\0';
  if (!path || !out) return bn__why(BN_ERR_ARG, why, whylen, "null path or snapshot");
  /* A reader of a running search's checkpoint may lose the race with its replacement:
   * read the new file then (it is complete, renamed into place whole). */
  bn_err err = BN_OK;
  bool again = true;
  for (int attempt = 0; again && attempt < 8; attempt++) {
    why[0] = '\0';
    err = read_once(path, out, why, whylen, &again);
  }
  return err;
}
