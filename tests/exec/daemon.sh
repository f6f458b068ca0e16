#!/bin/sh
# Test program that leaves a daemon behind: a double fork into a session of its own (the
# subshell starts `setsid sleep`, then exits, so the sleep is orphaned and outside the
# program's process group), the daemon holding the program's stdout and stderr. banyan must
# still end it when the run ends. With EXEC_TEST_PIDFILE set, the daemon's process id is
# written there; EXEC_TEST_DAEMON_SLEEP is its sleep argument (to find strays); with
# EXEC_TEST_CHECK_DAEMON set, the program waits that many seconds and prints 1 if its
# daemon is still alive then, 0 if not (instead of the reward 0.5).
pidfile=${EXEC_TEST_PIDFILE:-/dev/null}
( setsid sleep "${EXEC_TEST_DAEMON_SLEEP:-300}" & echo $! > "$pidfile" )
cat > /dev/null
if [ -n "$EXEC_TEST_CHECK_DAEMON" ]; then
  sleep "$EXEC_TEST_CHECK_DAEMON"
  if kill -0 "$(cat "$pidfile")" 2> /dev/null; then echo 1; else echo 0; fi
else
  echo 0.5
fi
