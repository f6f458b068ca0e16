/* HDF5 error handling for the checkpoint module: silence HDF5's own stack printing, and
 * print the stack through banyan's log (or summarise it into a reader's `why`) instead.
 *
 * Also guards process exit: HDF5 1.10 leaves a file whose H5Fclose failed (its metadata
 * flush hit a full disk or an I/O error) half-destroyed in its tables, and its own exit
 * handler then crashes on it. So HDF5's handler is switched off (H5dont_atexit, before the
 * library initialises) and ours runs H5close only while no close has failed; after such a
 * failure the library's memory is simply left to the operating system. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/h5util.h"

/* The first failure since bn__h5_quiet on this thread (bn__h5_cause). */
static _Thread_local struct {
  int set, errnum;
  char msg[256];
} first_failure;

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static atomic_int close_failed;

static void at_exit(void) {
  if (!atomic_load(&close_failed)) (void)H5close();
}

static void setup(void) {
  (void)H5dont_atexit();
  (void)atexit(at_exit);
}

void bn__h5_quiet(bn__h5_guard *g) {
  (void)pthread_once(&setup_once, setup);
  first_failure.set = 0;
  first_failure.errnum = 0;
  first_failure.msg[0] = '\0';
  g->saved = H5Eget_auto2(H5E_DEFAULT, &g->func, &g->data) >= 0;
  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void bn__h5_restore(bn__h5_guard *g) {
  (void)H5Eclear2(H5E_DEFAULT);
  if (g->saved) (void)H5Eset_auto2(H5E_DEFAULT, g->func, g->data);
  g->saved = 0;
}

/* Text of an error message id ("" if unknown). */
static void message_text(hid_t id, char *buf, size_t n) {
  buf[0] = '\0';
  if (H5Eget_msg(id, NULL, buf, n) < 0) buf[0] = '\0';
  buf[n - 1] = '\0';
}

static herr_t log_frame(unsigned n, const H5E_error2_t *e, void *data) {
  (void)data;
  char maj[96], min[96];
  message_text(e->maj_num, maj, sizeof maj);
  message_text(e->min_num, min, sizeof min);
  bn_debug("  HDF5 #%u %s() %s:%u: %s [%s / %s]", n, e->func_name ? e->func_name : "?",
           e->file_name ? e->file_name : "?", e->line, e->desc ? e->desc : "", maj, min);
  return 0;
}

/* The innermost message and the errno HDF5 reported (its POSIX drivers write
 * "..., errno = 28, error message = '...'" into the frame's description). */
typedef struct stack_cause {
  char *buf;
  size_t n;
  int errnum;
} stack_cause;

static herr_t find_cause(unsigned n, const H5E_error2_t *e, void *data) {
  stack_cause *c = data;
  const char *at = e->desc ? strstr(e->desc, "errno = ") : NULL;
  if (at && c->errnum == 0) c->errnum = atoi(at + 8);
  if (n != 0 || !c->buf) return 0; /* walking upward, frame 0 is where it was detected */
  char min[96];
  message_text(e->min_num, min, sizeof min);
  /* The description of a system error spells out time, file name, descriptor, buffer and
   * sizes; its start ("file write failed") is enough, the errno is reported apart. */
  char desc[160];
  snprintf(desc, sizeof desc, "%s", e->desc ? e->desc : "");
  char *cut = strstr(desc, ": time =");
  if (cut) *cut = '\0';
  snprintf(c->buf, c->n, "%s%s%s%s", desc, desc[0] && min[0] ? " (" : "", min, desc[0] && min[0] ? ")" : "");
  return 0;
}

void bn__h5_report(bn_log_level level, const char *file, int line, const char *func, const char *what) {
  char msg[256] = "";
  stack_cause c = {msg, sizeof msg, 0};
  (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, find_cause, &c);
  bn_log(level, "HDF5 call failed: %s%s%s%s%s (%s:%d:%s)", what, msg[0] ? ": " : "", msg, c.errnum ? ": " : "",
         c.errnum ? strerror(c.errnum) : "", file, line, func);
  (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, log_frame, NULL);
  (void)H5Eclear2(H5E_DEFAULT);
}

void bn__h5_failed(const char *file, int line, const char *func, const char *what) {
  if (!first_failure.set) {
    stack_cause c = {first_failure.msg, sizeof first_failure.msg, 0};
    first_failure.msg[0] = '\0';
    (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, find_cause, &c);
    first_failure.errnum = c.errnum;
    first_failure.set = 1;
  }
  bn__h5_report(BN_LOG_DEBUG, file, line, func, what);
}

int bn__h5_cause(char *msg, size_t n, int *errnum) {
  if (!first_failure.set) return 0;
  if (msg && n) snprintf(msg, n, "%s", first_failure.msg);
  if (errnum) *errnum = first_failure.errnum;
  return 1;
}

void bn__h5_message(char *buf, size_t n) {
  if (!buf || n == 0) return;
  buf[0] = '\0';
  stack_cause c = {buf, n, 0};
  (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, find_cause, &c);
}

void bn__h5_abandoned(void) { atomic_store(&close_failed, 1); }

herr_t bn__h5_close(hid_t *id) {
  if (!id || *id < 0) return 0;
  herr_t r;
  switch (H5Iget_type(*id)) {
    case H5I_FILE:
      r = H5Fclose(*id);
      if (r < 0) atomic_store(&close_failed, 1); /* never touch it again, not even at exit */
      break;
    case H5I_GROUP: r = H5Gclose(*id); break;
    case H5I_DATASET: r = H5Dclose(*id); break;
    case H5I_DATATYPE: r = H5Tclose(*id); break;
    case H5I_DATASPACE: r = H5Sclose(*id); break;
    case H5I_ATTR: r = H5Aclose(*id); break;
    case H5I_GENPROP_LST: r = H5Pclose(*id); break;
    default: r = -1; break;
  }
  *id = -1;
  return r;
}
