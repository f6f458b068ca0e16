/* Installing one handler for the signals that ask a run to stop: SIGINT, SIGTERM and
 * SIGUSR1 (what Slurm's --signal and Open MPI's mpirun forward). */
#ifndef BANYAN_UTIL_SIGNALS_H
#define BANYAN_UTIL_SIGNALS_H

/* `handler` must be async-signal-safe (set a volatile sig_atomic_t flag). */
void bn__catch_stop_signals(void (*handler)(int));

#endif
