/* Error names and the trail printed by BN_CALL / BN_CHECK. */
#include <stdarg.h>
#include <stdio.h>

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

void bn__trace(const char *file, int line, const char *func, bn_err e, const char *what) {
  bn_log(BN_LOG_DEBUG, "%s:%d:%s: %s -> %s", file, line, func, what, bn_strerror(e));
}

void bn__errorf(const char *file, int line, const char *func, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  bn_log(BN_LOG_ERROR, "%s (%s:%d:%s)", msg, file, line, func);
}
