/* Finding the program exec.command names, once per rank at start-up, so that a missing or
 * non-executable program is a configuration error before any work and each evaluation
 * spawns a known file: a bare name is looked up in PATH like execvp does, a name with a
 * slash is a path relative to the directory the program runs in (exec.workdir, or the
 * current directory). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/exec.h"

/* dir + "/" + name as a new string (dir "" or NULL: name alone). NULL on NOMEM. */
static char *join(const char *dir, const char *name) {
  size_t nd = dir ? strlen(dir) : 0, nn = strlen(name);
  char *s = malloc(nd + nn + 2);
  if (!s) return NULL;
  if (nd) {
    memcpy(s, dir, nd);
    if (dir[nd - 1] != '/') s[nd++] = '/';
  }
  memcpy(s + nd, name, nn + 1);
  return s;
}

/* `path` made absolute against the current directory (caller frees). NULL with errno. */
static char *absolute(const char *path) {
  if (path[0] == '/') return strdup(path);
  char *cwd = getcwd(NULL, 0);
  if (!cwd) return NULL;
  char *s = join(cwd, path);
  free(cwd);
  return s;
}

/* 0 if `path` is a regular file this process may execute, else an errno value. */
static int runnable(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return errno;
  if (S_ISDIR(st.st_mode)) return EISDIR;
  if (!S_ISREG(st.st_mode)) return EACCES;
  if (access(path, X_OK) != 0) return errno;
  return 0;
}

static int found(const char *candidate, char **path, const char *program, char *why, size_t whylen) {
  char *abs = absolute(candidate);
  if (!abs) {
    snprintf(why, whylen, "cannot run %s: %s", program, strerror(errno));
    return 1;
  }
  *path = abs;
  return 0;
}

int bn__exec_resolve(const char *program, const char *workdir, char **path, char *why, size_t whylen) {
  if (!program || !program[0]) {
    snprintf(why, whylen, "no program given");
    return 1;
  }
  if (strchr(program, '/')) {
    char *candidate = program[0] == '/' ? strdup(program) : join(workdir, program);
    if (!candidate) {
      snprintf(why, whylen, "out of memory");
      return 1;
    }
    int e = runnable(candidate);
    int rc = e ? 1 : found(candidate, path, program, why, whylen);
    if (e) snprintf(why, whylen, "cannot run %s: %s", program, strerror(e));
    free(candidate);
    return rc;
  }
  const char *search = getenv("PATH");
  if (!search) search = "/bin:/usr/bin";
  int first_error = 0;
  for (const char *dir = search;; dir++) {
    const char *end = strchrnul(dir, ':');
    /* An empty PATH entry means the current directory, as for execvp. */
    size_t n = (size_t)(end - dir);
    char *d = n ? strndup(dir, n) : strdup(".");
    char *candidate = d ? join(d, program) : NULL;
    free(d);
    if (!candidate) {
      snprintf(why, whylen, "out of memory");
      return 1;
    }
    int e = runnable(candidate);
    if (e == 0) {
      int rc = found(candidate, path, program, why, whylen);
      free(candidate);
      return rc;
    }
    if (e != ENOENT && e != ENOTDIR && !first_error) first_error = e;
    free(candidate);
    if (!*end) break;
    dir = end;
  }
  if (first_error)
    snprintf(why, whylen, "cannot run %s: %s (found in PATH)", program, strerror(first_error));
  else
    snprintf(why, whylen, "cannot run %s: not found in PATH", program);
  return 1;
}
