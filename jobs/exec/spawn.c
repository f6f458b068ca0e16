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
 * kill can never reach an unrelated process.
 *
 * Descendants that left the group (setsid, a double fork: daemons) escape that kill. So
 * this process makes itself a child subreaper (PR_SET_CHILD_SUBREAPER) before its first
 * run: orphans are then reparented to it, not to init. After each run it ends them: its
 * children that started after it became a subreaper, are not a program still running
 * (nor carry a running program's BANYAN_JOB_ID) are killed with SIGKILL and reaped, round
 * after round (each round's victims hand their own children to it) until none is left.
 * Looking for them costs little: a descendant's process id is above the program's, so
 * only the ids handed out since the spawn are looked at in /proc (every process when
 * that is cheaper, or the ids wrapped around). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "banyan/clock.h"
#include "exec/exec.h"

extern char **environ;

enum {
  READ_CHUNK = 65536,
  FALLBACK_POLL_MS = 5, /* how often to look for the program's end without a pidfd */
  RANGE_MAX = 4096,     /* more new process ids than this: read all of /proc instead */
  MAX_ROUNDS = 1000,    /* of the orphan sweep (each round ends a generation) */
  TAG_LEN = 48          /* "BANYAN_JOB_ID=<id>" */
};

/* ---- orphans ------------------------------------------------------------------------ */

static pthread_once_t reaper_once = PTHREAD_ONCE_INIT;
static bool reaper;                    /* this process is a child subreaper */
static unsigned long long reaper_since; /* from then (clock ticks since boot, as /proc shows) */

/* The runs going on in this process (bn__exec_run is thread-safe): their programs and their
 * descendants are not orphans. Guarded by runs_mu, also held from before a spawn until the
 * run is listed, so a sweep never sees a program it does not know. */
typedef struct running {
  bool used;
  pid_t pid; /* 0 until spawned */
  char tag[TAG_LEN]; /* the BANYAN_JOB_ID=... its descendants inherit, "" if none */
} running;
static pthread_mutex_t runs_mu = PTHREAD_MUTEX_INITIALIZER;
static running *runs;
static size_t n_runs;

static void become_reaper(void) {
  struct timespec now;
  if (clock_gettime(CLOCK_BOOTTIME, &now) != 0) return;
  const long tick = sysconf(_SC_CLK_TCK);
  if (tick <= 0) return;
  reaper_since = (unsigned long long)now.tv_sec * (unsigned long long)tick +
                 (unsigned long long)now.tv_nsec / (1000000000ull / (unsigned long long)tick);
  reaper = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
}

/* List a run (runs_mu held); its slot, or SIZE_MAX when memory runs out (it then runs
 * unlisted: only a concurrent sweep could mistake its descendants for orphans). */
static size_t run_listed(char *const *envp) {
  size_t i = 0;
  while (i < n_runs && runs[i].used) i++;
  if (i == n_runs) {
    running *more = realloc(runs, (n_runs + 4) * sizeof *more);
    if (!more) return SIZE_MAX;
    memset(more + n_runs, 0, 4 * sizeof *more);
    runs = more;
    n_runs += 4;
  }
  runs[i] = (running){.used = true};
  for (char *const *e = envp ? envp : environ; e && *e; e++)
    if (strncmp(*e, "BANYAN_JOB_ID=", 14) == 0) {
      snprintf(runs[i].tag, sizeof runs[i].tag, "%s", *e);
      break;
    }
  return i;
}

/* Read a small /proc file into buf (NUL-terminated); its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  while (got < n - 1) {
    ssize_t r = read(fd, buf + got, n - 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  buf[got] = '\0';
  return (ssize_t)got;
}

/* The last process id handed out in this pid namespace (/proc/loadavg), or -1. */
static pid_t last_pid(void) {
  char buf[128];
  if (read_small("/proc/loadavg", buf, sizeof buf) <= 0) return -1;
  const char *sp = strrchr(buf, ' ');
  long v = sp ? strtol(sp + 1, NULL, 10) : -1;
  return v > 0 ? (pid_t)v : -1;
}

/* Whether the environment of process p holds a running program's tag (runs_mu held). */
static bool holds_running_tag(pid_t p) {
  bool any = false;
  for (size_t i = 0; i < n_runs; i++) any |= runs[i].used && runs[i].tag[0];
  if (!any) return false;
  char path[64], env[16384];
  snprintf(path, sizeof path, "/proc/%d/environ", (int)p);
  ssize_t n = read_small(path, env, sizeof env);
  for (ssize_t at = 0; at < n; at += (ssize_t)strlen(env + at) + 1)
    if (strncmp(env + at, "BANYAN_JOB_ID=", 14) == 0) {
      for (size_t i = 0; i < n_runs; i++)
        if (runs[i].used && strcmp(runs[i].tag, env + at) == 0) return true;
      return false;
    }
  return false;
}

/* End process p if it is an orphan left by a finished run: a child of this process,
 * started since it became a subreaper, neither a running program nor one of its
 * descendants. 1 if it was killed and reaped. */
static int end_if_orphan(pid_t p, pid_t self) {
  char path[64], stat[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
  if (read_small(path, stat, sizeof stat) <= 0) return 0;
  const char *f = strrchr(stat, ')'); /* the command may hold blanks and parentheses */
  if (!f) return 0;
  /* After ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
   * stime cutime cstime priority nice threads itrealvalue starttime */
  char state = 0;
  int ppid = 0;
  unsigned long long start = 0;
  if (sscanf(f + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &state,
             &ppid, &start) != 3 ||
      ppid != (int)self || start < reaper_since)
    return 0;
  pthread_mutex_lock(&runs_mu);
  bool spare = false;
  for (size_t i = 0; i < n_runs && !spare; i++) spare = runs[i].used && runs[i].pid == p;
  if (!spare && state != 'Z') spare = holds_running_tag(p);
  int pidfd = -1;
  if (!spare) {
    pidfd = pidfd_open(p, 0); /* refuses a thread that is not its process's leader */
    if (pidfd >= 0)
      pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
    else if (errno == ENOSYS)
      kill(p, SIGKILL); /* a child of ours: its id cannot be reused before we reap it */
    else
      spare = true;
  }
  pthread_mutex_unlock(&runs_mu);
  if (spare) return 0;
  pid_t r;
  int status;
  do r = waitpid(p, &status, 0);
  while (r < 0 && errno == EINTR);
  if (pidfd >= 0) close(pidfd);
  return r == p;
}

/* End the orphans the run of program `pid` (just reaped) may have left. */
static void sweep(pid_t pid) {
  if (!reaper) return;
  const pid_t self = getpid();
  for (int round = 0; round < MAX_ROUNDS; round++) {
    const pid_t last = last_pid();
    if (last == pid) return; /* no process was started since the program */
    int ended = 0;
    if (last > pid && last - pid <= RANGE_MAX) {
      for (pid_t p = pid + 1; p <= last; p++) ended += end_if_orphan(p, self);
    } else { /* ids wrapped around, too many new ones, or no /proc/loadavg: every process */
      DIR *d = opendir("/proc");
      if (!d) return;
      for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9') ended += end_if_orphan((pid_t)atoi(e->d_name), self);
      closedir(d);
    }
    if (!ended) return;
  }
}

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
  pthread_once(&reaper_once, become_reaper);
  pid_t pid = -1;
  pthread_mutex_lock(&runs_mu);
  const size_t slot = run_listed(spec->envp);
  int e = start(spec, in[0], out[1], &pid);
  if (slot != SIZE_MAX) {
    if (e)
      runs[slot].used = false;
    else
      runs[slot].pid = pid;
  }
  pthread_mutex_unlock(&runs_mu);
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
  if (slot != SIZE_MAX) {
    pthread_mutex_lock(&runs_mu);
    runs[slot].used = false;
    pthread_mutex_unlock(&runs_mu);
  }
  sweep(pid);
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
