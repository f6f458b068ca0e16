/* A constructor that tells when its library is loaded: it creates the file named by the
 * environment variable BANYAN_TEST_MARKER. Linked with the N-queens example
 * (jobs/examples/queens/queens.c) into a plug-in for tests/checkpoint/hostile.py, which
 * checks that `inspect` and `export` never load a plug-in a checkpoint names, and that
 * `resume` loads one only as the run had it (or with --trust). */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void announce_loading(void) {
  const char *path = getenv("BANYAN_TEST_MARKER");
  if (!path || !path[0]) return;
  const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) (void)close(fd);
}
