/* Error names and the trail left by BN_CALL / BN_CHECK (error.h). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "banyan/error.h"
#include "banyan/log.h"

static const char *const names[BN_ERR__COUNT] = {
    [BN_OK] = "success",
    [BN_ERR_NOMEM] = "out of memory",
    [BN_ERR_ARG] = "invalid argument",
    [BN_ERR_CONFIG] = "invalid configuration",
    [BN_ERR_MPI] = "MPI error",
    [BN_ERR_HDF5] = "HDF5 error",
    [BN_ERR_IO] = "I/O error",
    [BN_ERR_CORRUPT] = "corrupt or inconsistent data",
    [BN_ERR_DOMAIN] = "domain error",
    [BN_ERR_FULL] = "capacity exhausted",
    [BN_ERR_PROTOCOL] = "protocol error",
    [BN_ERR_INTERNAL] = "internal error",
};

const char *bn_strerror(bn_err e) {
  if ((int)e < 0 || e >= BN_ERR__COUNT || !names[e]) return "unknown error";
  return names[e];
}

/* The last error's trail: fixed storage, so recording a frame never allocates (the error
 * may be that memory ran out). Frames point at string literals (__FILE__, __func__). */
enum { TRAIL_FRAMES = 12 };
typedef struct frame {
  const char *file, *func;
  int line;
} frame;
static struct {
  pthread_mutex_t mu;
  bn_err code;     /* the trail's error; BN_OK: no trail */
  int n, dropped;  /* frames kept; frames beyond TRAIL_FRAMES */
  frame f[TRAIL_FRAMES];
} trail = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void trail_add(bn_err e, const char *file, int line, const char *func, int fresh) {
  pthread_mutex_lock(&trail.mu);
  if (fresh || (trail.code != e && trail.code != BN_ERR__COUNT)) trail.n = trail.dropped = 0;
  trail.code = e;
  if (trail.n < TRAIL_FRAMES)
    trail.f[trail.n++] = (frame){file, func, line};
  else
    trail.dropped++;
  pthread_mutex_unlock(&trail.mu);
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

void bn_error_trail(char *buf, size_t n) {
  if (!n) return;
  buf[0] = '\0';
  pthread_mutex_lock(&trail.mu);
  size_t used = 0;
  for (int i = 0; i < trail.n && used < n; i++) {
    int k = snprintf(buf + used, n - used, "%s%s (%s:%d)", i ? " <- " : "at ", trail.f[i].func,
                     base_name(trail.f[i].file), trail.f[i].line);
    if (k < 0) break;
    used += (size_t)k;
  }
  if (trail.dropped && used < n) snprintf(buf + used, n - used, " <- ... (%d more)", trail.dropped);
  pthread_mutex_unlock(&trail.mu);
}

void bn_error_trail_clear(void) {
  pthread_mutex_lock(&trail.mu);
  trail.code = BN_OK;
  trail.n = trail.dropped = 0;
  pthread_mutex_unlock(&trail.mu);
}

void bn__trace(const char *file, int line, const char *func, bn_err e, const char *what) {
  trail_add(e, file, line, func, 0);
  bn_log(BN_LOG_DEBUG, "%s:%d:%s: %s -> %s", file, line, func, what, bn_strerror(e));
}

void bn__errorf(const char *file, int line, const char *func, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* The code is not known here: the first BN_CALL above keeps this frame only if the trail
   * has no other code yet (BN_ERR__COUNT marks "the code of the next frame"). */
  trail_add(BN_ERR__COUNT, file, line, func, 1);
  bn_log(BN_LOG_ERROR, "%s (%s:%d:%s)", msg, file, line, func);
}
