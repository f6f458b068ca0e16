#!/bin/sh
# Test program that never finishes, and leaves a grandchild behind: a background sleep it
# waits for. The time-out must kill both (the whole process group). With EXEC_TEST_PIDFILE
# set, the sleep's process id is written there, so a test can check that it is gone.
sleep "${EXEC_TEST_SLEEP:-1000}" &
if [ -n "$EXEC_TEST_PIDFILE" ]; then echo $! > "$EXEC_TEST_PIDFILE"; fi
wait
