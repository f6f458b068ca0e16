/* `banyan report FILE [-o DIR]`: the run report (HTML page with PNG and SVG figures), made
 * by the Python package's banyan.report, which this command execs; and the launcher that
 * `watch` shares. Why Python: the report's figures (matplotlib: PNG and SVG from one code),
 * the reader behind them (h5py reads /results through the virtual dataset, in bounded
 * chunks) and the circuit drawings are the same code that `import banyan` gives a notebook;
 * run and resume never need Python. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
  fflush(NULL);
  execv(BANYAN_PYTHON, args);
  fprintf(stderr, "banyan %s: cannot run %s: %s\n", module, BANYAN_PYTHON, strerror(errno));
  free(args);
  return BN_EXIT_FAILURE;
}

int bn__cmd_report(int argc, char **argv) { return bn__cli_python("report", argc, argv); }
