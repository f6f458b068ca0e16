#!/bin/sh
# Test program that fails on the first attempt of every job (exit status 1) and succeeds
# on the second: what engine.retries is for.
read -r state
if [ "$BANYAN_ATTEMPT" = 1 ]; then
  echo "flaky: first attempt of job $BANYAN_JOB_ID fails" >&2
  exit 1
fi
echo 0.25
