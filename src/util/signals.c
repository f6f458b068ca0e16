/* One handler for every stop signal (see signals.h). */
#include <signal.h>
#include <string.h>

#include "util/signals.h"

void bn__catch_stop_signals(void (*handler)(int)) {
  static const int stop_signals[] = {SIGINT, SIGTERM, SIGUSR1};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) sigaction(stop_signals[i], &sa, NULL);
}
