/* Logging to stderr with the MPI rank in front: "banyan[3] warning: ...".
 *
 * Thread-safe (one fprintf per line). The rank is set once after MPI_Init. Progress lines
 * and results go to stdout through ordinary printf; this is for diagnostics only. */
#ifndef BANYAN_LOG_H
#define BANYAN_LOG_H

#include "banyan/error.h"

typedef enum bn_log_level { BN_LOG_DEBUG, BN_LOG_INFO, BN_LOG_WARN, BN_LOG_ERROR, BN_LOG_SILENT } bn_log_level;

/* Set the rank printed in front of each line (-1: none) and the lowest level printed. */
BN_API void bn_log_setup(int rank, bn_log_level min_level);
BN_API void bn_log(bn_log_level level, const char *fmt, ...) BN_PRINTF(2, 3);

#define bn_debug(...) bn_log(BN_LOG_DEBUG, __VA_ARGS__)
#define bn_info(...) bn_log(BN_LOG_INFO, __VA_ARGS__)
#define bn_warn(...) bn_log(BN_LOG_WARN, __VA_ARGS__)
#define bn_error(...) bn_log(BN_LOG_ERROR, __VA_ARGS__)

#endif
