/* Clocks and sleeps on POSIX clock_gettime / clock_nanosleep. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <sys/resource.h>
#include <time.h>

#include "banyan/clock.h"

static double ts_seconds(const struct timespec *t) { return (double)t->tv_sec + 1e-9 * (double)t->tv_nsec; }

double bn_wtime(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return ts_seconds(&t);
}

double bn_mtime(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return ts_seconds(&t);
}

double bn_cpu_seconds(void) {
  struct rusage u;
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0.0;
  return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_sec +
         1e-6 * (double)u.ru_stime.tv_usec;
}

void bn_sleep(double seconds) {
  if (!(seconds > 0)) return;
  /* An absolute deadline keeps a sleep interrupted and resumed from drifting. */
  struct timespec now, until;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long ns = (long)((seconds - (double)(long)seconds) * 1e9);
  until.tv_sec = now.tv_sec + (time_t)seconds;
  until.tv_nsec = now.tv_nsec + ns;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {
  }
}

void bn_spin(double seconds) {
  double end = bn_mtime() + seconds;
  while (bn_mtime() < end) {
  }
}
