/* One run of an external program: posix_spawn (no shell, and no fork: the MPI process's
 * memory is never copied) into a new process group, the input written to its stdin and its
 * stdout read in one poll() loop (so neither side can block the other however much it
 * writes), a time-out counted from the spawn, and the whole process group killed at the
 * end so nothing the program started in the background outlives the evaluation.
 *
 * The end of the program is watched through a pidfd (Linux 5.3+), polled with the pipes;
 * where there is none, the loop wakes every few milliseconds to look. The program is
 * looked at with waitid(WNOWAIT) and reaped only after its group is killed: while it is an
 * unreaped zombie its process id, which is also the group's id, cannot be reused, so the
 * kill can never reach an unrelated process. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "banyan/clock.h"
#include "exec/exec.h"

extern char **environ;

enum {
  READ_CHUNK = 65536,
  FALLBACK_POLL_MS = 5 /* how often to look for the program's end without a pidfd */
};

/* Move a pipe end off fds 0-2 (when this process runs with one of them closed), so the
 * child's dup2 onto 0 or 1 never meets the same number and keeps close-on-exec. */
static int high_fd(int fd) {
  if (fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int e = errno;
  close(fd);
  errno = e;
  return moved;
}

static int open_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  fds[0] = high_fd(fds[0]);
  fds[1] = high_fd(fds[1]);
  if (fds[0] < 0 || fds[1] < 0) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    return -1;
  }
  return 0;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Start the program; 0 or an errno value. */
static int start(const bn__exec_spec *spec, int in_read, int out_write, pid_t *pid) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int e = posix_spawn_file_actions_init(&fa);
  if (e) return e;
  e = posix_spawnattr_init(&attr);
  if (e) {
    posix_spawn_file_actions_destroy(&fa);
    return e;
  }
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  /* Every signal back to its default (banyan catches stop signals; an ignored SIGPIPE or
   * SIGCHLD would be inherited through exec) and nothing blocked. */
  if (!e) e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETSIGDEF);
  if (!e) e = posix_spawnattr_setpgroup(&attr, 0);
  if (!e) e = posix_spawnattr_setsigmask(&attr, &none);
  if (!e) e = posix_spawnattr_setsigdefault(&attr, &all);
  if (!e) e = posix_spawn_file_actions_adddup2(&fa, in_read, STDIN_FILENO);
  if (!e) e = posix_spawn_file_actions_adddup2(&fa, out_write, STDOUT_FILENO);
  /* MPI keeps sockets and shared-memory files open without close-on-exec: none of them is
   * the program's business. */
  if (!e) e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (!e && spec->workdir && spec->workdir[0])
    e = posix_spawn_file_actions_addchdir_np(&fa, spec->workdir);
  if (!e)
    e = posix_spawn(pid, spec->path, &fa, &attr, spec->argv, spec->envp ? spec->envp : environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return e;
}

/* Whether the program has ended, without reaping it. */
static int has_ended(pid_t pid) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  int rc;
  do rc = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
  while (rc != 0 && errno == EINTR);
  return rc != 0 || info.si_pid == pid; /* an error (ECHILD) means there is nothing to wait for */
}

/* Kill what is left of the program's process group and reap the program. */
static void finish(pid_t pid, int *status, int *lost) {
  kill(-pid, SIGKILL);
  pid_t r;
  do r = waitpid(pid, status, 0);
  while (r < 0 && errno == EINTR);
  *lost = r != pid;
}

/* Read what stdout holds now. 1 at end of file, 0 when it has nothing more for now, -1 when
 * max_output was passed, -2 when memory ran out. */
static int drain(int fd, bn__exec_result *res, size_t *cap, size_t max_output) {
  for (;;) {
    if (res->output_len == *cap) {
      if (*cap > max_output) return -1;
      size_t ncap = *cap < READ_CHUNK ? READ_CHUNK : 2 * *cap;
      if (ncap > max_output + 1) ncap = max_output + 1;
      char *grown = realloc(res->output, ncap + 1);
      if (!grown) return -2;
      res->output = grown;
      *cap = ncap;
    }
    ssize_t got = read(fd, res->output + res->output_len, *cap - res->output_len);
    if (got > 0) {
      res->output_len += (size_t)got;
      if (res->output_len > max_output) return -1;
      continue;
    }
    if (got == 0) return 1;
    if (errno == EINTR) continue;
    return 0; /* EAGAIN: nothing more for now */
  }
}

void bn__exec_run(const bn__exec_spec *spec, bn__exec_result *res) {
  memset(res, 0, sizeof *res);
  const double t0 = bn_mtime();
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  if (open_pipe(in) != 0 || open_pipe(out) != 0) {
    res->end = BN__EXEC_CANNOT_RUN;
    res->code = errno;
    close_fd(&in[0]);
    close_fd(&in[1]);
    return;
  }
  pid_t pid = -1;
  int e = start(spec, in[0], out[1], &pid);
  close_fd(&in[0]);
  close_fd(&out[1]);
  if (e) {
    res->end = BN__EXEC_CANNOT_RUN;
    res->code = e;
    close_fd(&in[1]);
    close_fd(&out[0]);
    return;
  }
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  int pidfd = pidfd_open(pid, 0);

  /* A program that closes stdin early makes write fail with EPIPE: SIGPIPE is blocked in
   * this thread meanwhile and a pending one taken back before the mask is restored. */
  sigset_t pipe_only, old_mask;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);
  int got_epipe = 0;

  size_t cap = 0, written = 0;
  const double deadline = spec->timeout > 0 ? t0 + spec->timeout : 0;
  bn__exec_end end = BN__EXEC_EXITED;
  if (spec->input_len == 0) close_fd(&in[1]);
  for (;;) {
    if (pidfd < 0 && has_ended(pid)) break;
    struct pollfd fds[3];
    nfds_t n = 0;
    int i_in = -1, i_out = -1, i_pid = -1;
    if (in[1] >= 0) fds[i_in = (int)n++] = (struct pollfd){.fd = in[1], .events = POLLOUT};
    if (out[0] >= 0) fds[i_out = (int)n++] = (struct pollfd){.fd = out[0], .events = POLLIN};
    if (pidfd >= 0) fds[i_pid = (int)n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
    int wait_ms = -1;
    if (deadline > 0) {
      double left = deadline - bn_mtime();
      if (left <= 0) {
        end = BN__EXEC_TIMEOUT;
        break;
      }
      wait_ms = left * 1000 >= 1e9 ? 1000000000 : (int)(left * 1000) + 1;
    }
    if (pidfd < 0 && (wait_ms < 0 || wait_ms > FALLBACK_POLL_MS)) wait_ms = FALLBACK_POLL_MS;
    int ready = poll(fds, n, wait_ms);
    if (ready < 0 && errno != EINTR) {
      /* Should not happen with valid descriptors; end the program rather than spin. */
      end = BN__EXEC_CANNOT_RUN;
      res->code = errno;
      break;
    }
    if (ready <= 0) continue;
    if (i_in >= 0 && fds[i_in].revents) {
      ssize_t put = write(in[1], spec->input + written, spec->input_len - written);
      if (put > 0) written += (size_t)put;
      else if (put < 0 && errno == EPIPE) got_epipe = 1;
      if (written == spec->input_len || (put < 0 && errno != EAGAIN && errno != EINTR))
        close_fd(&in[1]); /* all written, or the program will not read more */
    }
    if (i_out >= 0 && fds[i_out].revents) {
      int d = drain(out[0], res, &cap, spec->max_output);
      if (d < 0) {
        end = d == -1 ? BN__EXEC_TOO_LONG : BN__EXEC_CANNOT_RUN;
        if (d == -2) res->code = ENOMEM;
        break;
      }
      if (d > 0) close_fd(&out[0]);
    }
    if (i_pid >= 0 && fds[i_pid].revents) break;
  }
  /* The program has ended (or is about to be ended): kill its group, then collect what the
   * pipe still holds, which includes everything written before the kill. */
  int status = 0, lost = 0;
  finish(pid, &status, &lost);
  if (end == BN__EXEC_EXITED && out[0] >= 0) {
    int d = drain(out[0], res, &cap, spec->max_output);
    if (d < 0) end = d == -1 ? BN__EXEC_TOO_LONG : BN__EXEC_CANNOT_RUN;
    if (d == -2) res->code = ENOMEM;
  }
  close_fd(&in[1]);
  close_fd(&out[0]);
  if (pidfd >= 0) close(pidfd);
  if (got_epipe) {
    const struct timespec zero = {0, 0};
    sigtimedwait(&pipe_only, NULL, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);

  if (end == BN__EXEC_EXITED) {
    if (lost) {
      end = BN__EXEC_CANNOT_RUN;
      res->code = ECHILD;
    } else if (WIFSIGNALED(status)) {
      end = BN__EXEC_SIGNALED;
      res->code = WTERMSIG(status);
    } else {
      res->code = WEXITSTATUS(status);
    }
  }
  res->end = end;
  if (!res->output && end != BN__EXEC_CANNOT_RUN) res->output = malloc(1);
  if (res->output) {
    if (res->output_len > spec->max_output) res->output_len = spec->max_output;
    res->output[res->output_len] = '\0';
  }
  res->seconds = bn_mtime() - t0;
}

void bn__exec_result_free(bn__exec_result *res) {
  if (!res) return;
  free(res->output);
  res->output = NULL;
  res->output_len = 0;
}
