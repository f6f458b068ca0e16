/* The segment directory beside a checkpoint (NAME.d): its path, creating it, listing the
 * segment files in it and removing one. The checkpoint writer uses these to clean up
 * superseded and orphan segments; readers only use the path. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint_impl.h"

char *bn_checkpoint_segment_dir(const char *ckpt_path, const char *segment_dir) {
  const char *slash = strrchr(ckpt_path, '/');
  const size_t dlen = slash ? (size_t)(slash - ckpt_path) + 1 : 0;
  const size_t n = dlen + strlen(segment_dir) + 1;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%.*s%s", (int)dlen, ckpt_path, segment_dir);
  return out;
}

char *bn_checkpoint_segment_dir_name(const char *ckpt_path) {
  const char *slash = strrchr(ckpt_path, '/');
  const char *base = slash ? slash + 1 : ckpt_path;
  const size_t n = strlen(base) + 3;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%s.d", base);
  return out;
}

bn_err bn_segment_dir_create(const char *dir) {
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) BN_CHECK(0, BN_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
  struct stat st;
  BN_CHECK(lstat(dir, &st) == 0, BN_ERR_IO, "cannot stat %s: %s", dir, strerror(errno));
  BN_CHECK(S_ISDIR(st.st_mode), BN_ERR_IO, "%s is not a directory (a symbolic link or a file is refused)", dir);
  return BN_OK;
}

/* "results-<digits>.h5" or with ".tmp": the number, and whether it is a temporary. */
static int parse_name(const char *name, uint64_t *seq, int *tmp) {
  const size_t pl = strlen(BN__SEGMENT_PREFIX);
  if (strncmp(name, BN__SEGMENT_PREFIX, pl) != 0) return 0;
  char *end = NULL;
  errno = 0;
  const unsigned long long v = strtoull(name + pl, &end, 10);
  if (errno || end == name + pl || *(name + pl) < '0' || *(name + pl) > '9') return 0;
  if (strcmp(end, BN__SEGMENT_SUFFIX) == 0) *tmp = 0;
  else if (strcmp(end, BN__SEGMENT_SUFFIX ".tmp") == 0) *tmp = 1;
  else return 0;
  *seq = v;
  return 1;
}

bn_err bn_segment_dir_list(const char *dir, uint64_t **seqs, size_t *n, size_t *n_tmp) {
  *seqs = NULL;
  *n = 0;
  if (n_tmp) *n_tmp = 0;
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT) return BN_OK;
    BN_CHECK(0, BN_ERR_IO, "cannot list %s: %s", dir, strerror(errno));
  }
  size_t cap = 0;
  bn_err err = BN_OK;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    uint64_t seq = 0;
    int tmp = 0;
    if (!parse_name(e->d_name, &seq, &tmp)) continue;
    if (tmp) {
      /* A temporary left by a killed writer: never part of a checkpoint. */
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      if (unlink(path) != 0 && errno != ENOENT) bn_warn("cannot remove %s: %s", path, strerror(errno));
      if (n_tmp) (*n_tmp)++;
      continue;
    }
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      uint64_t *grown = realloc(*seqs, cap * sizeof *grown);
      if (!grown) {
        err = BN_ERR_NOMEM;
        break;
      }
      *seqs = grown;
    }
    (*seqs)[(*n)++] = seq;
  }
  closedir(d);
  if (err != BN_OK) {
    free(*seqs);
    *seqs = NULL;
    *n = 0;
  }
  return err;
}

void bn_segment_remove(const char *dir, uint64_t seq) {
  char path[4096];
  bn_segment_path(dir, seq, path, sizeof path);
  if (unlink(path) != 0 && errno != ENOENT) bn_warn("cannot remove %s: %s", path, strerror(errno));
}
