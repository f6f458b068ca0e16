/* `banyan report FILE [-o DIR]`: the run report (HTML page with PNG and SVG figures), made
 * by the Python package's banyan.report, which this command runs as a child process (a
 * reader that crashes on a hostile file ends in one line); and the launcher that `watch`
 * shares. Why Python: the report's figures (matplotlib: PNG and SVG from one code),
 * the reader behind them (h5py reads /results through the virtual dataset, in bounded
 * chunks) and the circuit drawings are the same code that `import banyan` gives a notebook;
 * run and resume never need Python. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/python_cmd.h"

#ifndef BANYAN_PYTHON
#define BANYAN_PYTHON "/usr/bin/python3"
#endif
#ifndef BANYAN_PYTHON_RELDIR
#define BANYAN_PYTHON_RELDIR "../lib/python3/dist-packages"
#endif

/* Runs in the interpreter: argv[1] is the package directory, argv[2] the module; the rest
 * are the command's arguments. A missing Debian package is said in one line. */
static const char boot[] =
    "import sys\n"
    "sys.path.insert(0, sys.argv.pop(1))\n"
    "cmd = sys.argv.pop(1)\n"
    "try:\n"
    "    import importlib\n"
    "    m = importlib.import_module('banyan.' + cmd)\n"
    "except ImportError as e:\n"
    "    sys.exit('banyan %s: %s (Debian: apt-get install python3-h5py python3-matplotlib python3-pandas)'"
    " % (cmd, e))\n"
    "sys.exit(m.main(sys.argv[1:], prog='banyan ' + cmd))\n";

static int join(char *out, size_t n, const char *a, const char *b) {
  int w = snprintf(out, n, "%s/%s", a, b);
  return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* The directory holding banyan/__init__.py for this executable. */
static int package_dir(char *out, size_t n) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) {
    fprintf(stderr, "banyan: cannot find its own executable: %s\n", strerror(errno));
    return -1;
  }
  exe[len] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return -1;
  *slash = '\0';
  const char *dir = NULL;
  char candidate[PATH_MAX];
#ifdef BANYAN_BUILD_BINDIR
  char build[PATH_MAX];
  if (realpath(BANYAN_BUILD_BINDIR, build) && strcmp(build, exe) == 0) dir = BANYAN_PYTHON_BUILD_DIR;
#endif
  if (!dir) {
    if (BANYAN_PYTHON_RELDIR[0] == '/') {
      dir = BANYAN_PYTHON_RELDIR;
    } else {
      if (join(candidate, sizeof candidate, exe, BANYAN_PYTHON_RELDIR)) return -1;
      dir = candidate;
    }
  }
  char init[PATH_MAX];
  if (join(init, sizeof init, dir, "banyan/__init__.py") || access(init, R_OK) != 0) {
    fprintf(stderr,
            "banyan: the banyan Python package is not at %s (build the project, or install it with "
            "`cmake --install`)\n",
            dir);
    return -1;
  }
  if (!realpath(dir, out) || strlen(out) >= n) return -1;
  return 0;
}

static volatile sig_atomic_t reader_pid;
static void pass_on(int sig, siginfo_t *info, void *uctx) {
  (void)uctx;
  /* SIGINT and SIGQUIT from the terminal (si_code > 0: sent by the kernel) reach the
   * child, which is in the same process group, by themselves; one sent to this process
   * alone by another (kill: si_code <= 0) is passed on, as are the others. */
  if ((sig == SIGINT || sig == SIGQUIT) && info && info->si_code > 0) return;
  if (reader_pid > 0) kill((pid_t)reader_pid, sig);
}

/* Run the interpreter as a child and wait for it: the file it reads is untrusted, and
 * HDF5 does not defend against every malformed object, so a reader that dies of a signal
 * ends in one line here instead of a core dump. Stop signals (SIGINT, SIGQUIT, SIGTERM,
 * SIGHUP, SIGUSR1) are the child's to act on: this process passes them on and waits.
 * Returns the exit status for the command. */
static int run_reader(const char *module, char **args) {
  fflush(NULL);
  static const int passed[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1};
  enum { N_PASSED = sizeof passed / sizeof passed[0] };
  struct sigaction fwd = {.sa_sigaction = pass_on, .sa_flags = SA_SIGINFO}, old[N_PASSED];
  sigemptyset(&fwd.sa_mask);
  /* Held from before the fork until the child's pid is known, so none is lost. */
  sigset_t hold, before;
  sigemptyset(&hold);
  for (int i = 0; i < N_PASSED; i++) sigaddset(&hold, passed[i]);
  sigprocmask(SIG_BLOCK, &hold, &before);
  for (int i = 0; i < N_PASSED; i++) sigaction(passed[i], &fwd, &old[i]);
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < N_PASSED; i++) sigaction(passed[i], &old[i], NULL);
    sigprocmask(SIG_SETMASK, &before, NULL);
    execv(BANYAN_PYTHON, args);
    fprintf(stderr, "banyan %s: cannot run %s: %s\n", module, BANYAN_PYTHON, strerror(errno));
    _exit(BN_EXIT_FAILURE);
  }
  if (pid < 0) {
    const int e = errno;
    sigprocmask(SIG_SETMASK, &before, NULL);
    fprintf(stderr, "banyan %s: cannot start %s: %s\n", module, BANYAN_PYTHON, strerror(e));
    return BN_EXIT_FAILURE;
  }
  reader_pid = pid;
  sigprocmask(SIG_SETMASK, &before, NULL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  reader_pid = 0;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT || sig == SIGUSR1) return 128 + sig;
  fprintf(stderr,
          "banyan %s: the reader died of signal %d (%s) while reading the file: it is damaged or hostile "
          "in a way HDF5 does not catch, or the reader has a bug (nothing it wrote is complete)\n",
          module, sig, strsignal(sig));
  return BN_EXIT_FAILURE;
}

int bn__cli_python(const char *module, int argc, char **argv) {
  char dir[PATH_MAX];
  if (package_dir(dir, sizeof dir)) return BN_EXIT_FAILURE;
  if (access(BANYAN_PYTHON, X_OK) != 0) {
    fprintf(stderr,
            "banyan %s: needs %s with h5py and matplotlib (Debian: apt-get install python3 python3-h5py "
            "python3-matplotlib python3-pandas): %s\n",
            module, BANYAN_PYTHON, strerror(errno));
    return BN_EXIT_FAILURE;
  }
  /* python -I -c BOOT DIR MODULE ARGS... NULL */
  char **args = calloc((size_t)argc + 6, sizeof *args);
  if (!args) return BN_EXIT_FAILURE;
  int k = 0;
  args[k++] = (char *)BANYAN_PYTHON;
  args[k++] = (char *)"-I";
  args[k++] = (char *)"-c";
  args[k++] = (char *)boot;
  args[k++] = dir;
  args[k++] = (char *)module;
  for (int i = 1; i < argc; i++) args[k++] = argv[i];
  args[k] = NULL;
  int status = run_reader(module, args);
  free(args);
  return status;
}

int bn__cmd_report(int argc, char **argv) { return bn__cli_python("report", argc, argv); }
