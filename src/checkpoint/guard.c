/* The reader process (see guard.h): this executable started again as a reader (or a fork),
 * frames over a pipe, time-outs, and the child's end turned into one line. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include "banyan/clock.h"
#include "checkpoint/checkpoint_impl.h"
#include "checkpoint/guard.h"

typedef struct frame_head {
  uint32_t tag, zero;
  uint64_t len;
} frame_head;

enum { MAX_ERROR_TEXT = 4096 };

double bn__guard_timeout(uint64_t bytes) {
  const char *env = getenv("BANYAN_READ_TIMEOUT");
  if (env && env[0]) {
    char *end = NULL;
    const double t = strtod(env, &end);
    if (end && *end == '\0' && t > 0) return t;
  }
  return 60.0 + (double)bytes / 20e6;
}

/* --- child -------------------------------------------------------------------------- */

static void child_setup(pid_t parent) {
  /* Default dispositions: a crash inside HDF5 ends the child by its signal, not in a
   * handler of banyan, of a sanitizer or of a fuzzer inherited from the parent. */
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP, SIGPIPE,
                             SIGINT,  SIGTERM, SIGUSR1, SIGUSR2, SIGHUP, SIGXCPU, SIGXFSZ};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) (void)sigaction(sigs[i], &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  (void)sigprocmask(SIG_SETMASK, &none, NULL);
  const struct rlimit no_core = {0, 0};
  (void)setrlimit(RLIMIT_CORE, &no_core);
#if defined(__linux__)
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(120); /* the parent died before the line above */
#else
  (void)parent;
#endif
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    const ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

int bn__frame_send(int out, uint32_t tag, const void *payload, uint64_t n) {
  const frame_head h = {tag, 0, n};
  if (write_all(out, &h, sizeof h) != 0) return -1;
  return n > 0 ? write_all(out, payload, (size_t)n) : 0;
}

int bn__frame_send_error(int out, bn_err e, const char *why) {
  char buf[4 + MAX_ERROR_TEXT];
  const uint32_t code = (uint32_t)e;
  size_t len = why ? strnlen(why, MAX_ERROR_TEXT - 1) : 0;
  memcpy(buf, &code, 4);
  if (len) memcpy(buf + 4, why, len);
  return bn__frame_send(out, BN__FRAME_ERROR, buf, 4 + len);
}

static int run_job(const bn__reader_job *job, int out) {
  /* For the tests of the parent's side: a reader that crashes, hangs or quits early. */
  const char *fault = getenv("BANYAN_TEST_READER_FAULT");
  if (fault && strcmp(fault, "crash") == 0) raise(SIGSEGV);
  if (fault && strcmp(fault, "hang") == 0)
    for (;;) pause();
  if (fault && strcmp(fault, "exit") == 0) return 7;
  bn__h5_guard quiet; /* HDF5 prints nothing itself; the reasons travel in frames */
  bn__h5_quiet(&quiet);
  return job->kind == BN__READER_MAIN ? bn__reader_main(job, out) : bn__reader_segment(job, out);
}

/* The reader process's entry: a copy of this executable started by bn__guard_start with
 * BANYAN__READER set does the job here, before main(), and never returns. */
__attribute__((constructor)) static void reader_entry(void) {
  const char *spec = getenv("BANYAN__READER");
  if (!spec) return;
  const char *path = getenv("BANYAN__READER_PATH");
  unsigned kind = 0;
  int out = -1, parent = 0;
  bn__reader_job job;
  memset(&job, 0, sizeof job);
  unsigned long long v[9];
  const int got = sscanf(spec, "%u %d %d %d %llu %llu %llu %llu %llu %llu %llu %llu %llu", &kind, &parent, &out,
                         &job.fd, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]);
  if (got != 13 || !path || (kind != BN__READER_MAIN && kind != BN__READER_SEGMENT)) _exit(121);
  job.kind = (bn__reader_kind)kind;
  job.size = v[0];
  job.params.run_id = v[1];
  job.params.state_size = v[2];
  job.seg = (bn_segment_info){
      .seq = v[3], .first_row = v[4], .rows = v[5], .checksum = v[6], .bytes = v[7], .failures = v[8]};
  char *name = strdup(path);
  job.path = name ? name : "?";
  (void)unsetenv("BANYAN__READER");
  (void)unsetenv("BANYAN__READER_PATH");
  child_setup((pid_t)parent);
  _exit(run_job(&job, out));
}

extern char **environ;

/* posix_spawn this executable as the reader. 0, or an errno. */
static int spawn_reader(const bn__reader_job *job, int out, pid_t *pid) {
  char spec[512], path[4200 + 32];
  snprintf(spec, sizeof spec, "BANYAN__READER=%u %d %d %d %llu %llu %llu %llu %llu %llu %llu %llu %llu",
           (unsigned)job->kind, (int)getpid(), out, job->fd, (unsigned long long)job->size,
           (unsigned long long)job->params.run_id, (unsigned long long)job->params.state_size,
           (unsigned long long)job->seg.seq, (unsigned long long)job->seg.first_row,
           (unsigned long long)job->seg.rows, (unsigned long long)job->seg.checksum,
           (unsigned long long)job->seg.bytes, (unsigned long long)job->seg.failures);
  snprintf(path, sizeof path, "BANYAN__READER_PATH=%s", job->path);
  size_t n = 0;
  for (char **e = environ; e && *e; e++) n++;
  char **envp = calloc(n + 3, sizeof *envp);
  if (!envp) return ENOMEM;
  size_t k = 0;
  for (char **e = environ; e && *e; e++)
    if (strncmp(*e, "BANYAN__READER", 14) != 0) envp[k++] = *e;
  envp[k++] = spec;
  envp[k++] = path;
  envp[k] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int e = posix_spawn_file_actions_init(&fa);
  if (e == 0 && (e = posix_spawnattr_init(&attr)) != 0) posix_spawn_file_actions_destroy(&fa);
  if (e != 0) {
    free(envp);
    return e;
  }
  /* dup2 onto itself clears close-on-exec: the pipe and the checked file reach the child. */
  e = posix_spawn_file_actions_adddup2(&fa, out, out);
  if (e == 0) e = posix_spawn_file_actions_adddup2(&fa, job->fd, job->fd);
  if (e == 0) e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  if (e == 0) e = posix_spawnattr_setsigmask(&attr, &none);
  if (e == 0) e = posix_spawnattr_setsigdefault(&attr, &all);
  if (e == 0) e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char *argv[] = {"banyan-reader", NULL};
  if (e == 0) e = posix_spawn(pid, "/proc/self/exe", &fa, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  free(envp);
  return e;
}

bn_err bn__guard_start(bn__guard *g, const bn__reader_job *job, char *why, size_t whylen) {
  g->pid = -1;
  g->fd = -1;
  g->timeout = bn__guard_timeout(job->size);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0)
    return bn__why(BN_ERR_IO, why, whylen, "cannot start the reader process: pipe: %s", strerror(errno));
  pid_t pid = -1;
  int e = spawn_reader(job, p[1], &pid);
  if (e != 0) {
    /* No /proc/self/exe to run: a fork() of this process reads instead. */
    bn_debug("cannot start %s as a reader process (%s); forking", "/proc/self/exe", strerror(e));
    fflush(NULL);
    const pid_t parent = getpid();
    pid = fork();
    if (pid == 0) {
      close(p[0]);
      child_setup(parent);
      _exit(run_job(job, p[1]));
    }
    e = pid < 0 ? errno : 0;
  }
  close(p[1]);
  if (e != 0) {
    close(p[0]);
    return bn__why(BN_ERR_IO, why, whylen, "cannot start the reader process: %s", strerror(e));
  }
  g->pid = pid;
  g->fd = p[0];
  g->deadline = bn_mtime() + g->timeout;
  return BN_OK;
}

/* --- parent ------------------------------------------------------------------------- */

/* Reap the child, waiting at most a few seconds before killing it. *status as waitpid. */
static int reap(bn__guard *g, int *status) {
  if (g->pid < 0) return -1;
  for (int i = 0; i < 500; i++) {
    const pid_t r = waitpid(g->pid, status, WNOHANG);
    if (r == g->pid) {
      g->pid = -1;
      return 0;
    }
    if (r < 0 && errno != EINTR) {
      g->pid = -1;
      return -1;
    }
    bn_sleep(0.01);
  }
  (void)kill(g->pid, SIGKILL);
  while (waitpid(g->pid, status, 0) < 0 && errno == EINTR) {
  }
  g->pid = -1;
  return 0;
}

void bn__guard_stop(bn__guard *g) {
  if (g->fd >= 0) close(g->fd);
  g->fd = -1;
  if (g->pid > 0) {
    (void)kill(g->pid, SIGKILL);
    int status;
    while (waitpid(g->pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  g->pid = -1;
}

/* The child ended (or closed its pipe) before its last frame: say how. */
static bn_err child_died(bn__guard *g, char *why, size_t whylen) {
  int status = 0;
  const int reaped = reap(g, &status) == 0;
  bn__guard_stop(g);
  if (reaped && WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return bn__why(BN_ERR_CORRUPT, why, whylen,
                   "reading it crashed the reader process (signal %d, %s): the file is damaged or hostile", sig,
                   strsignal(sig));
  }
  if (reaped && WIFEXITED(status))
    return bn__why(BN_ERR_CORRUPT, why, whylen,
                   "the reader process exited with status %d before it was done: the file is damaged or hostile",
                   WEXITSTATUS(status));
  return bn__why(BN_ERR_CORRUPT, why, whylen, "the reader process ended before it was done");
}

static bn_err timed_out(bn__guard *g, char *why, size_t whylen) {
  bn__guard_stop(g);
  return bn__why(BN_ERR_CORRUPT, why, whylen,
                 "reading it took more than %.0f s without progress: the file is damaged or hostile (or its "
                 "file system stalled; BANYAN_READ_TIMEOUT sets the limit)",
                 g->timeout);
}

static bn_err read_exact(bn__guard *g, void *buf, size_t n, char *why, size_t whylen) {
  char *c = buf;
  while (n > 0) {
    if (g->fd < 0) return bn__why(BN_ERR_INTERNAL, why, whylen, "the reader process is gone");
    const double left = g->deadline - bn_mtime();
    if (left <= 0) return timed_out(g, why, whylen);
    struct pollfd p = {.fd = g->fd, .events = POLLIN};
    const int r = poll(&p, 1, left > 1.0 ? 1000 : (int)(left * 1000) + 1);
    if (r < 0 && errno != EINTR) return child_died(g, why, whylen);
    if (r <= 0) continue;
    const ssize_t k = read(g->fd, c, n);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (k <= 0) return child_died(g, why, whylen);
    c += k;
    n -= (size_t)k;
    g->deadline = bn_mtime() + g->timeout;
  }
  return BN_OK;
}

bn_err bn__guard_next(bn__guard *g, uint32_t *tag, uint64_t *len, char *why, size_t whylen) {
  frame_head h;
  BN_CALL(read_exact(g, &h, sizeof h, why, whylen));
  if (h.tag == BN__FRAME_ERROR) {
    char buf[4 + MAX_ERROR_TEXT + 1];
    if (h.len < 4 || h.len > 4 + MAX_ERROR_TEXT) {
      bn__guard_stop(g);
      return bn__why(BN_ERR_INTERNAL, why, whylen, "the reader process sent a malformed error");
    }
    BN_CALL(read_exact(g, buf, (size_t)h.len, why, whylen));
    buf[h.len] = '\0';
    uint32_t code;
    memcpy(&code, buf, 4);
    bn__guard_stop(g);
    const bn_err e = code > BN_OK && code < BN_ERR__COUNT ? (bn_err)code : BN_ERR_CORRUPT;
    return bn__why(e, why, whylen, "%s", buf[4] ? buf + 4 : bn_strerror(e));
  }
  if (h.tag != BN__FRAME_DATA && h.tag != BN__FRAME_END) {
    bn__guard_stop(g);
    return bn__why(BN_ERR_INTERNAL, why, whylen, "the reader process sent an unknown frame %u", h.tag);
  }
  *tag = h.tag;
  *len = h.len;
  return BN_OK;
}

bn_err bn__guard_read(bn__guard *g, void *buf, size_t n, char *why, size_t whylen) {
  return read_exact(g, buf, n, why, whylen);
}

bn_err bn__guard_finish(bn__guard *g, char *why, size_t whylen) {
  int status = 0;
  if (g->fd >= 0) close(g->fd);
  g->fd = -1;
  const int reaped = reap(g, &status) == 0;
  if (reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0) return BN_OK;
  return bn__why(BN_ERR_CORRUPT, why, whylen, "the reader process did not end cleanly (%s %d)",
                 reaped && WIFSIGNALED(status) ? "signal" : "status",
                 reaped ? (WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status)) : -1);
}
