/* One run per checkpoint file: an exclusive flock(2) on FILE.lock, taken before the
 * checkpoint is read and held until the process exits (the kernel drops it even on
 * SIGKILL). Without it, a rank 0 that outlives its killed mpirun for a moment could write
 * FILE after the next session has read it, and the next session would then overwrite
 * results that were already checkpointed. A dying predecessor is waited for, within a
 * bound. Advisory, and only as reliable as flock on the file system (fine on local disks
 * and on Lustre/GPFS with flock enabled). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "banyan/clock.h"
#include "banyan/log.h"
#include "cli/cli.h"

static const double lock_wait_seconds = 20.0;

bn_err bn__cli_lock_checkpoint(const char *path) {
  char lock[4200];
  BN_CHECK(snprintf(lock, sizeof lock, "%s.lock", path) < (int)sizeof lock, BN_ERR_ARG, "path too long");
  int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    fprintf(stderr, "banyan: cannot create %s: %s (check checkpoint.file)\n", lock, strerror(errno));
    return BN_ERR_CONFIG;
  }
  const double deadline = bn_mtime() + lock_wait_seconds;
  bool told = false;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      fprintf(stderr, "banyan: cannot lock %s: %s\n", lock, strerror(errno));
      close(fd);
      return BN_ERR_IO;
    }
    char owner[32] = "";
    ssize_t n = pread(fd, owner, sizeof owner - 1, 0);
    owner[n > 0 ? n : 0] = '\0';
    owner[strcspn(owner, "\n")] = '\0';
    if (bn_mtime() > deadline) {
      fprintf(stderr, "banyan: %s is in use by another banyan run (process %s); stop it or use another file\n",
              path, owner[0] ? owner : "?");
      close(fd);
      return BN_ERR_CONFIG;
    }
    if (!told) bn_info("waiting for the run holding %s (process %s) to end", lock, owner[0] ? owner : "?");
    told = true;
    bn_sleep(0.1);
  }
  char me[32];
  int len = snprintf(me, sizeof me, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, me, (size_t)len, 0) != len)
    bn_warn("cannot record this process in %s", lock);
  /* The descriptor stays open (and the lock held) until the process exits. */
  return BN_OK;
}
