/* One run per checkpoint file: an exclusive flock(2) on FILE.lock, taken before the
 * checkpoint is read and held until the process exits (the kernel drops it even on
 * SIGKILL). Without it, a rank 0 that outlives its killed mpirun for a moment could write
 * FILE after the next session has read it, and the next session would then overwrite
 * results that were already checkpointed. A dying predecessor is waited for, within a
 * bound. Advisory, and only as reliable as flock on the file system (fine on local disks
 * and on Lustre/GPFS with flock enabled). FILE.lock is opened with O_NOFOLLOW and must be a
 * regular file with one link: a symbolic or hard link planted there is refused, never
 * written through. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banyan/clock.h"
#include "banyan/log.h"
#include "cli/cli.h"

static const double lock_wait_seconds = 20.0;

bn_err bn__cli_lock_checkpoint(const char *path) {
  char lock[4200];
  BN_CHECK(snprintf(lock, sizeof lock, "%s.lock", path) < (int)sizeof lock, BN_ERR_ARG, "path too long");
  /* Never through a symbolic link, and only a plain file of its own: this process writes
   * its id into it, which must not land in a file planted there (a link's target, or a
   * hard link to another file). */
  int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    if (e == ELOOP)
      fprintf(stderr, "banyan: %s is a symbolic link; refusing to follow it (remove it if it is not yours)\n",
              lock);
    else
      fprintf(stderr, "banyan: cannot create %s: %s (check checkpoint.file)\n", lock, strerror(e));
    return BN_ERR_CONFIG;
  }
  struct stat st;
  const char *bad = fstat(fd, &st) != 0   ? strerror(errno)
                    : !S_ISREG(st.st_mode) ? "not a regular file"
                    : st.st_nlink != 1     ? "it has other hard links"
                                           : NULL;
  if (bad) {
    fprintf(stderr, "banyan: %s is not a plain file of its own (%s); refusing to use it (remove it if it is not "
            "yours)\n", lock, bad);
    close(fd);
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
