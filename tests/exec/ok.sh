#!/bin/sh
# Test program that succeeds: reads the state on stdin, prints a diagnostic line, then its
# reward on the last line: the number of characters in the state divided by 100.
read -r state
echo "ok: evaluating '$state' (job $BANYAN_JOB_ID, attempt $BANYAN_ATTEMPT)"
printf '%s' "$state" | wc -c | awk '{ print $1 / 100 }'
