/* banyan error codes and the checked-call macros used everywhere.
 *
 * Every fallible function returns a bn_err (BN_OK == 0) and writes its results through
 * out-parameters, only on success. BN_CALL / BN_CHECK leave a file:line:function trail
 * in the log so an error that surfaces in main() says where it started. */
#ifndef BANYAN_ERROR_H
#define BANYAN_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define BN_NODISCARD __attribute__((warn_unused_result))
#define BN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define BN_NODISCARD
#define BN_PRINTF(f, a)
#endif

#define BN_API __attribute__((visibility("default")))

typedef enum bn_err {
  BN_OK = 0,
  BN_ERR_NOMEM,    /* allocation failed */
  BN_ERR_ARG,      /* bad argument or misuse of an API */
  BN_ERR_CONFIG,   /* bad configuration (already reported as file:line: key: ...) */
  BN_ERR_MPI,      /* an MPI call failed */
  BN_ERR_HDF5,     /* an HDF5 call failed */
  BN_ERR_IO,       /* a file or system call failed */
  BN_ERR_CORRUPT,  /* input data is damaged or inconsistent */
  BN_ERR_DOMAIN,   /* the domain reported an error */
  BN_ERR_FULL,     /* a fixed-capacity store is full */
  BN_ERR_PROTOCOL, /* a malformed or unexpected message */
  BN_ERR_INTERNAL, /* a broken internal invariant */
  BN_ERR__COUNT
} bn_err;

/* Readable name of an error code; never NULL. Thread-safe. */
BN_API const char *bn_strerror(bn_err e);

/* The error trail: the BN_CHECK that raised an error and each BN_CALL / BN_TRY frame it
 * went through on its way up, so that a command that fails can say where, in one line:
 * "at bn_dispatcher_create (dispatcher.c:115) <- setup (driver.c:229) <- ...". One trail per
 * process (the last error's): a BN_CHECK starts a new one, and so does a frame whose code
 * differs from the trail's. Thread-safe. */
/* Format the trail into buf[n] ("" when there is none). */
BN_API void bn_error_trail(char *buf, size_t n);
/* Forget the trail (an error that was handled). */
BN_API void bn_error_trail_clear(void);

/* Internal: log "file:line:function: expr -> error" (used by the macros below). */
BN_API void bn__trace(const char *file, int line, const char *func, bn_err e, const char *what);
/* Internal: log "file:line:function: message" at error level. */
BN_API void bn__errorf(const char *file, int line, const char *func, const char *fmt, ...)
    BN_PRINTF(4, 5);

/* Call an expression returning bn_err; on failure log where and return the code. */
#define BN_CALL(expr)                                                  \
  do {                                                                 \
    bn_err bn__e = (expr);                                             \
    if (bn__e != BN_OK) {                                              \
      bn__trace(__FILE__, __LINE__, __func__, bn__e, #expr);           \
      return bn__e;                                                    \
    }                                                                  \
  } while (0)

/* Like BN_CALL, but store the code in `err` and jump to the cleanup label `fail`. */
#define BN_TRY(expr)                                                   \
  do {                                                                 \
    err = (expr);                                                      \
    if (err != BN_OK) {                                                \
      bn__trace(__FILE__, __LINE__, __func__, err, #expr);             \
      goto fail;                                                       \
    }                                                                  \
  } while (0)

/* Check a condition on input or use; on failure log the message and return `code`. */
#define BN_CHECK(cond, code, ...)                                      \
  do {                                                                 \
    if (!(cond)) {                                                     \
      bn__errorf(__FILE__, __LINE__, __func__, __VA_ARGS__);           \
      return (code);                                                   \
    }                                                                  \
  } while (0)

/* Like BN_CHECK, but set `err` and jump to `fail`. */
#define BN_CHECK_GOTO(cond, code, ...)                                 \
  do {                                                                 \
    if (!(cond)) {                                                     \
      bn__errorf(__FILE__, __LINE__, __func__, __VA_ARGS__);           \
      err = (code);                                                    \
      goto fail;                                                       \
    }                                                                  \
  } while (0)

#endif
