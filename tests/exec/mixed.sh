#!/bin/sh
# Test program for tests/exec/run_exec_test.py: how it behaves depends on the job id, so
# the test knows exactly how many jobs fail in which way (the rule is repeated there).
#   id % 10 == 1: exit status 3          id % 10 == 2: segmentation fault (crash helper)
#   id % 10 == 3: garbage                id % 10 == 4: nan
#   id in EXEC_TEST_HANG_IDS: hangs (with a grandchild) until the time-out
#   otherwise: the reward (ok.sh's)
dir=$(dirname "$0")
for h in $EXEC_TEST_HANG_IDS; do
  if [ "$BANYAN_JOB_ID" = "$h" ]; then exec "$dir/hang.sh"; fi
done
case $((BANYAN_JOB_ID % 10)) in
  1) cat > /dev/null; exit 3 ;;
  2) exec "$EXEC_TEST_CRASH" ;;
  3) exec "$dir/garbage.sh" ;;
  4) exec "$dir/nan.sh" ;;
  *) exec "$dir/ok.sh" ;;
esac
