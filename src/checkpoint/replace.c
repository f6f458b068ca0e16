/* bn_checkpoint_write: validate the snapshot, write it to NAME.tmp and replace NAME
 * atomically (STYLE.md §11, Redis rdbSave):
 *
 *   1. create NAME.tmp with open(2), O_EXCL | O_NOFOLLOW after removing whatever had that
 *      name (a planted symbolic link is never followed; a missing or read-only directory
 *      gives a clear errno), then let HDF5 write the layout into that very file (opened as
 *      /proc/self/fd/N), after a 512-byte user block; flush and close;
 *   2. seal it (seal.h: an XXH3-64 of the whole file in the user block) and fsync it;
 *   3. if NAME exists: link(NAME, NAME.prev.tmp), rename(NAME.prev.tmp, NAME.prev), so
 *      NAME.prev is replaced atomically too and NAME never disappears;
 *   4. rename(NAME.tmp, NAME);
 *   5. fsync the directory.
 *
 * Any failure before step 4 removes NAME.tmp (and NAME.prev.tmp) and leaves NAME as it
 * was. A crash at any instant leaves NAME complete (old or new). A failed directory fsync
 * (step 5) is reported as BN_ERR_IO, but NAME then already holds the new checkpoint. A
 * failure is reported on one line: for a full disk, "no space left on device writing
 * NAME.tmp" (BN_ERR_IO), not HDF5's stack (which goes to the debug log). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint_impl.h"
#include "checkpoint/seal.h"

/* malloc'ed "<path><suffix>". */
static char *with_suffix(const char *path, const char *suffix) {
  const size_t a = strlen(path), b = strlen(suffix);
  char *s = malloc(a + b + 1);
  if (s) {
    memcpy(s, path, a);
    memcpy(s + a, suffix, b + 1);
  }
  return s;
}

/* Pointers the counts require, and sizes the format can hold: misuse, not corruption. */
static bn_err check_arguments(const char *path, const bn_snapshot *s) {
  BN_CHECK(path && path[0] && s, BN_ERR_ARG, "checkpoint write: null path or snapshot");
  const bn_tree_arrays *a = &s->tree;
  BN_CHECK(a->n_nodes == 0 || (a->states && a->node_visits && a->node_reward_sum && a->node_first_edge &&
                               a->node_n_edges && a->node_depth && a->node_flags && a->node_samples),
           BN_ERR_ARG, "checkpoint write: %llu nodes but a node array is NULL", (unsigned long long)a->n_nodes);
  BN_CHECK(a->n_edges == 0 || (a->edge_parent && a->edge_child && a->edge_action && a->edge_n_actions &&
                               a->edge_visits && a->edge_reward_sum && a->edge_reward_sq && a->edge_flags),
           BN_ERR_ARG, "checkpoint write: %llu edges but an edge array is NULL", (unsigned long long)a->n_edges);
  BN_CHECK(s->n_segments == 0 || s->segments, BN_ERR_ARG, "checkpoint write: segments but a NULL table");
  BN_CHECK((s->n_failure_groups == 0 || s->failure_groups) && (s->n_top == 0 || (s->top && s->top_states)),
           BN_ERR_ARG, "checkpoint write: failure or top-evaluation rows but a NULL array");
  BN_CHECK(s->n_pending == 0 || (s->pending && s->pending_states && (s->pending_paths || s->path_cap == 0)),
           BN_ERR_ARG, "checkpoint write: %llu pending rows but a pending array is NULL",
           (unsigned long long)s->n_pending);
  BN_CHECK((s->n_timeline == 0 || s->timeline) && (s->n_engines == 0 || s->engines) &&
               (s->n_pool_moves == 0 || s->pool_moves) &&
               (s->n_history == 0 || s->history) && (s->n_best == 0 || s->best),
           BN_ERR_ARG, "checkpoint write: a statistics table has rows but a NULL array");
  char why[256];
  bn_err e = bn__snapshot_check(s, why, sizeof why);
  BN_CHECK(e == BN_OK, BN_ERR_ARG, "checkpoint write: the snapshot would not read back: %s", why);
  return BN_OK;
}

/* Create `path` afresh with open(2): whatever is at that name (a stale temporary, or a
 * symbolic link planted there) is removed, never followed, and O_EXCL | O_NOFOLLOW make
 * sure the file opened is the one created here. A missing or read-only directory gives its
 * errno rather than an HDF5 stack. */
static bn_err create_fresh(const char *path, int *fd) {
  if (unlink(path) != 0 && errno != ENOENT) BN_CHECK(0, BN_ERR_IO, "cannot remove stale %s: %s", path, strerror(errno));
  *fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  BN_CHECK(*fd >= 0, BN_ERR_IO, "cannot create %s: %s", path, strerror(errno));
  return BN_OK;
}

/* fsync the directory holding `path`, so the renames are durable. */
static bn_err sync_dir(const char *path) {
  char *dir = strdup(path);
  BN_CHECK(dir, BN_ERR_NOMEM, "no memory");
  char *slash = strrchr(dir, '/');
  const char *d = dir;
  if (!slash) d = ".";
  else if (slash == dir) dir[1] = '\0';
  else *slash = '\0';
  int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int e = fd < 0 ? errno : 0;
  if (fd >= 0 && fsync(fd) != 0) e = errno;
  if (fd >= 0) (void)close(fd);
  /* Some file systems cannot sync a directory (EINVAL): nothing more can be done there. */
  bn_err err = BN_OK;
  if (e != 0 && e != EINVAL && e != ENOTSUP) {
    bn_error("cannot sync directory %s: %s", d, strerror(e));
    err = BN_ERR_IO;
  }
  free(dir);
  return err;
}

/* NAME -> NAME.prev without NAME ever missing: a hard link, renamed into place. */
static bn_err keep_previous(const char *path, const char *prev, const char *prev_tmp) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    BN_CHECK(errno == ENOENT, BN_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    return BN_OK; /* first checkpoint */
  }
  if (unlink(prev_tmp) != 0)
    BN_CHECK(errno == ENOENT, BN_ERR_IO, "cannot remove stale %s: %s", prev_tmp, strerror(errno));
  BN_CHECK(link(path, prev_tmp) == 0, BN_ERR_IO, "cannot link %s to %s: %s", path, prev_tmp, strerror(errno));
  if (rename(prev_tmp, prev) != 0) {
    int e = errno;
    (void)unlink(prev_tmp);
    BN_CHECK(0, BN_ERR_IO, "cannot rename %s to %s: %s", prev_tmp, prev, strerror(e));
  }
  return BN_OK;
}

bn_err bn_checkpoint_write(const char *path, const bn_snapshot *snap, uint64_t *bytes) {
  BN_CALL(check_arguments(path, snap));
  bn_err err = BN_OK;
  bn__h5_guard guard;
  bn__h5_quiet(&guard);
  char *tmp = with_suffix(path, ".tmp"), *prev = with_suffix(path, ".prev");
  char *prev_tmp = with_suffix(path, ".prev.tmp");
  int created = 0, fd = -1;
  uint64_t size = 0;
  BN_CHECK_GOTO(tmp && prev && prev_tmp, BN_ERR_NOMEM, "no memory");
  BN_TRY(create_fresh(tmp, &fd));
  created = 1;
  char h5path[4200];
  bn__fd_path(fd, tmp, h5path, sizeof h5path); /* HDF5 writes the file created above */
  BN_TRY(bn__checkpoint_write_file(h5path, snap));
  bn__seal seal = {.kind = BN__SEAL_MAIN};
  BN_TRY(bn__seal_write(fd, tmp, &seal)); /* checksum, seal, fsync */
  size = seal.file_size;
  BN_CHECK_GOTO(close(fd) == 0, BN_ERR_IO, "cannot close %s: %s", tmp, strerror(errno));
  fd = -1;
  BN_TRY(keep_previous(path, prev, prev_tmp));
  if (rename(tmp, path) != 0) {
    bn_error("cannot rename %s to %s: %s", tmp, path, strerror(errno));
    err = BN_ERR_IO;
    goto fail;
  }
  created = 0;
  err = sync_dir(path); /* NAME is in place now, even if this fails */
  if (err == BN_OK && bytes) *bytes = size;
  free(tmp);
  free(prev);
  free(prev_tmp);
  bn__h5_restore(&guard);
  return err;
fail:
  err = bn__write_failed(tmp ? tmp : path, err); /* an HDF5 failure: its cause, on one line */
  if (fd >= 0) (void)close(fd);
  if (created && unlink(tmp) != 0 && errno != ENOENT) bn_warn("cannot remove %s: %s", tmp, strerror(errno));
  free(tmp);
  free(prev);
  free(prev_tmp);
  bn__h5_restore(&guard);
  return err;
}
