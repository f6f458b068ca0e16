/* Rank-prefixed diagnostics on stderr. One formatted write per line so lines from
 * threads and ranks do not interleave mid-line. */
#include <stdarg.h>
#include <stdio.h>

#include "banyan/log.h"

static int log_rank = -1;
static bn_log_level log_min = BN_LOG_INFO;

void bn_log_setup(int rank, bn_log_level min_level) {
  log_rank = rank;
  log_min = min_level;
}

void bn_log(bn_log_level level, const char *fmt, ...) {
  static const char *const tag[] = {"debug", "info", "warning", "error"};
  if (level < log_min) return;
  char msg[1200];
  int n = log_rank >= 0 ? snprintf(msg, sizeof msg, "banyan[%d] %s: ", log_rank, tag[level])
                        : snprintf(msg, sizeof msg, "banyan %s: ", tag[level]);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s\n", msg);
}
