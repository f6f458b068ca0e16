#!/bin/bash
# run_slurm_tests.sh BANYAN CONFIG_DIR -- test the slurm/ scripts against a real Slurm.
#
# Starts a private Slurm of four nodes (munged, slurmctld, four slurmd; config, state, logs
# and sockets in a temp dir under /var/tmp, loopback only), submits slurm/*.sbatch and checks the results:
#   (a) single-node.sbatch completes and its checkpoint holds the budget's evaluations;
#   (b) requeue.sbatch with a 1-minute limit and USR1 40 s before it is checkpointed, requeued,
#       resumed and completes, with every job id exactly once in /results;
#   (c) sweep-array.sbatch with three seeds gives three distinct result files;
#   (d) single-node.sbatch through the mpirun fallback of banyan-launch.sh;
#   (e) requeue.sbatch signalled as it starts (as Slurm may do to a requeued job): the
#       signal is held until banyan can take it, then the chain goes on and completes;
#   (f) multi-node.sbatch (heterogeneous job, srun --mpi=pmix) and (g)
#       multi-node-hostfile.sbatch (mpirun with a host file) on bnode1-3: rank 0 alone on
#       its node, two engines on each of the two others, every evaluation present;
#   (h, i) requeue.sbatch through srun and through mpirun with an engine SIGKILLed: the
#       launcher ends the job (status 137), the script requeues it as a crash, the restart
#       resumes and completes every job once;
#   (r) replicates.sbatch (a campaign of 4 searches) signalled as it starts: checkpointed,
#       requeued, resumed from NAME.campaign, every replicate complete.
# The cluster: this host's node, and three more slurmd daemons on loopback, bnode1-3
# ("slurmd -N NAME", each on its own port and in its own mount namespace with a private
# /tmp, as separate machines would have). Jobs of partition "debug" (a-e) run on this
# host's node; partition "multi" is bnode[1-3]. No emulated node of "multi" carries this
# host's name: mpirun and PMIx tell nodes apart by name, and a node named like the host
# they all really run on is taken for the launching node (its ranks land on the wrong node,
# PMIx's collectives mix up their peers and hang). On those nodes MPI is told to use TCP
# (OMPI_MCA_btl=tcp,self), the path between real nodes: shared memory between processes
# that think they are on different nodes but share one kernel is not meaningful.
# BANYAN_SLURM_CASES=LETTERS (e.g. "bf") runs only those cases.
# Installs slurm-wlm and munge with apt-get when missing (root). If Slurm cannot be
# started it FAILS (exit 1) -- it never skips. Prints ok/FAIL lines; exit 0 iff all passed.
set -uo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 BANYAN CONFIG_DIR" >&2
    exit 2
fi
BANYAN=$(realpath "$1")
CONFIG_DIR=$(realpath "$2")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SLURM_DIR=$SRC/slurm
PY=/usr/bin/python3
failures=0

ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
die() { echo "FAIL $*" >&2; exit 1; }
note() { echo "---- $*"; }
# BANYAN_SLURM_CASES=LETTERS runs only those cases (default: all of abcdefghir)
CASES=${BANYAN_SLURM_CASES:-abcdefghir}
want() { [[ "$CASES" == *[$1]* ]]; }

[ -x "$BANYAN" ] || die "banyan binary '$1' not found"
[ -f "$CONFIG_DIR/synthetic-bench.ini" ] || die "no synthetic-bench.ini in '$2'"

# ---------------------------------------------------------------- packages
need=()
command -v slurmctld >/dev/null 2>&1 || need+=(slurmctld)
command -v slurmd >/dev/null 2>&1 || need+=(slurmd)
command -v sbatch >/dev/null 2>&1 || need+=(slurm-client)
command -v munged >/dev/null 2>&1 || need+=(munge)
$PY -c 'import h5py' 2>/dev/null || need+=(python3-h5py)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${need[*]}: run as root or: apt-get install slurm-wlm munge python3-h5py"
    note "installing ${need[*]} slurm-wlm munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends slurm-wlm munge python3-h5py >/dev/null ||
        die "apt-get install slurm-wlm munge failed"
fi
[ "$(id -u)" = 0 ] || die "the private Slurm runs with SlurmUser=root: run as root"

# ---------------------------------------------------------------- private Slurm
# not under /tmp: the emulated nodes each see a private /tmp
T=$(mktemp -d /var/tmp/banyan-slurm-test.XXXXXX)
chmod 755 "$T"
pids=()        # slurmctld, slurmd: stopped first
munged_pid=    # stopped last (the Slurm daemons need it to shut down cleanly)
stop_pids() {
    local p alive
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 75); do
        alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && return 0
        sleep 0.2
    done
    for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
}
cleanup() {
    if [ ${#pids[@]} -gt 0 ]; then
        # let slurmd end the jobs' processes (slurmstepd) before it goes
        if scancel --user=root >/dev/null 2>&1; then
            for _ in $(seq 30); do
                squeue -h 2>/dev/null | grep -q . || break
                sleep 1
            done
            sleep 1
        fi
        stop_pids "${pids[@]}"
    fi
    [ -n "$munged_pid" ] && stop_pids "$munged_pid"
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$T"/{state,log,work,munge}
host=$(hostname -s)
# ports of our own so a system Slurm (if any) is left alone
base=$((20000 + RANDOM % 20000))
ctl_port=$base
d_port=$((base + 1))
e_ports=($((base + 2)) $((base + 3)) $((base + 4))) # the emulated nodes' slurmd ports

# munge: our own daemon, socket and key (a copy of the system key, or a new one)
key=$T/munge/munge.key
if [ -r /etc/munge/munge.key ]; then
    cp /etc/munge/munge.key "$key"
else
    note "no /etc/munge/munge.key: creating a key"
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile="$key" || die "mungekey failed"
    else
        dd if=/dev/urandom of="$key" bs=1 count=1024 2>/dev/null || die "cannot create a munge key"
    fi
fi
chmod 700 "$T/munge"; chmod 400 "$key"
msock=$T/munge/munge.socket
munged --force --foreground --socket="$msock" --key-file="$key" \
    --pid-file="$T/munge/munged.pid" --seed-file="$T/munge/seed" \
    --log-file="$T/log/munged.log" >>"$T/log/munged.log" 2>&1 &
munged_pid=$!
for _ in $(seq 50); do [ -S "$msock" ] && break; sleep 0.1; done
[ -S "$msock" ] || { cat "$T/log/munged.log" 2>/dev/null; die "munged did not start"; }
munge --socket="$msock" -n | unmunge --socket="$msock" >/dev/null || die "munge credential round trip failed"

export SLURM_CONF=$T/slurm.conf
cat >"$SLURM_CONF" <<CONF
ClusterName=banyantest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$msock,cred_expire=10
StateSaveLocation=$T/state
SlurmdSpoolDir=/tmp/banyan-slurmd-spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=/tmp/banyan-slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=10
OverTimeLimit=0
MinJobAge=600
MessageTimeout=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=16 Sockets=1 CoresPerSocket=16 ThreadsPerCore=1 RealMemory=1000 State=UNKNOWN
NodeName=bnode1 NodeHostname=$host NodeAddr=127.0.0.1 Port=${e_ports[0]} CPUs=4 Sockets=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=1000 State=UNKNOWN
NodeName=bnode2 NodeHostname=$host NodeAddr=127.0.0.1 Port=${e_ports[1]} CPUs=4 Sockets=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=1000 State=UNKNOWN
NodeName=bnode3 NodeHostname=$host NodeAddr=127.0.0.1 Port=${e_ports[2]} CPUs=4 Sockets=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
PartitionName=multi Nodes=bnode[1-3] Default=NO MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
# cgroup.conf / plugstack of the system installation are not used: nothing needs them here
echo "" >"$T/plugstack.conf"
echo "PlugStackConfig=$T/plugstack.conf" >>"$SLURM_CONF"

# daemons run from / so that slurmstepd can always return to its working directory
(cd / && exec slurmctld -D -i -f "$SLURM_CONF") >"$T/log/slurmctld.stdout" 2>&1 &
pids+=($!)
# Each slurmd, this host's included, runs in its own mount namespace with a private /tmp
# (a tmpfs that goes away with it): its pid file and spool directory (SlurmdPidFile and
# SlurmdSpoolDir point there), and the per-node files of PMIx and Open MPI, are then per
# node as on separate machines. What the jobs need from the real /tmp (this checkout, the
# binary or the configs, when they live there) is bound back into the private one.
shared_tmp=()
for p in "$SRC" "$(dirname "$BANYAN")" "$CONFIG_DIR"; do
    case "$p" in
    /tmp/*) d=${p#/tmp/}; d=/tmp/${d%%/*}
        [[ " ${shared_tmp[*]:-} " == *" $d "* ]] || shared_tmp+=("$d") ;;
    esac
done
for n in "$host" bnode1 bnode2 bnode3; do
    mkdir -p "$T/real-tmp-$n"
    (cd / && exec unshare --mount --propagation private sh -c '
        keep=$1; shift; node=$1; shift; conf=$1; shift
        mount --bind /tmp "$keep" && mount -t tmpfs tmpfs /tmp || exit 1
        for d in "$@"; do mkdir -p "$d" && mount --bind "$keep/${d#/tmp/}" "$d" || exit 1; done
        exec slurmd -D -N "$node" -f "$conf"' \
        sh "$T/real-tmp-$n" "$n" "$SLURM_CONF" ${shared_tmp[@]+"${shared_tmp[@]}"}) \
        >"$T/log/slurmd-$n.stdout" 2>&1 &
    pids+=($!)
done

up=0
for _ in $(seq 60); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | sort -u | tr '\n' ' ')
    if [ "$state" = "idle " ] && [ "$(sinfo -h -N -o '%N' | sort -u | wc -l)" = 4 ]; then up=1; break; fi
    sleep 1
done
if [ $up = 0 ]; then
    echo "---- slurmctld log:"; tail -20 "$T/log/slurmctld.log" 2>/dev/null; tail -5 "$T/log/slurmctld.stdout"
    echo "---- slurmd logs:"; tail -n 20 "$T"/log/slurmd*.log 2>/dev/null; tail -n 5 "$T"/log/slurmd*.stdout
    die "Slurm did not come up: node states '${state:-unknown}', not all idle (logs above)"
fi
ok "private Slurm up: $(sinfo -h -o '%P %D %T %c CPUs') (slurmctld port $ctl_port)"

# what the jobs inherit (sbatch exports the submission environment)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export BANYAN BANYAN_LAUNCH=$SLURM_DIR/banyan-launch.sh
SLEEPCOST="--set domain.synthetic.cost=sleep --set domain.synthetic.cost_mean=0.01"
cd "$T/work"

# job_state JOBID -> STATE (scontrol: accounting is off here, sacct is not available)
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
job_field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
# wait_done JOBID SECONDS: until the job is COMPLETED/FAILED/CANCELLED/TIMEOUT...
wait_done() {
    local id=$1 limit=$2 s
    local end=$((SECONDS + limit))
    while [ $SECONDS -lt $end ]; do
        s=$(job_state "$id")
        case "$s" in
        COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED)
            echo "$s"; return 0 ;;
        esac
        sleep 1
    done
    echo "STILL_${s:-UNKNOWN}"
    return 1
}
# count_check FILE BUDGET: rows of /results == BUDGET, job ids distinct
count_check() {
    $PY - "$1" "$2" <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
r = f["/results"]
ids = r["job_id"][:]
n, u = len(ids), len(np.unique(ids))
bad = int((r["status"][:] != 1).sum())
ok = n == int(sys.argv[2]) and u == n and bad == 0
print(f"rows {n}, distinct job ids {u}, failed {bad}, budget {sys.argv[2]}")
sys.exit(0 if ok else 1)
PYEOF
}

# ---------------------------------------------------------------- (b) requeue chain, submitted first
# Most of its few minutes are waits for Slurm (time-limit checks, requeue holds), so it is
# submitted first and checked last; the other cases run meanwhile (the node declares
# 16 CPUs so that they fit beside its 5 tasks; their jobs mostly sleep).
if want b; then
# Note: a requeued job may start again only after cred_expire (AuthInfo, default 120 s);
# the private cluster sets 10 s so the chain fits in a few minutes. slurmctld checks time
# limits every 30 s, so USR1@40 of a 1-minute limit arrives 20-50 s into each start, and the
# kill no earlier than 60 s: the drain (10 ms jobs) and the final checkpoint fit in between.
# 60 s of work therefore needs at least two starts. A requeued start is often signalled at
# once (Slurm's stale end time): the script defers that signal to 40 s before the limit.
BUDGET_B=${BUDGET_B:-24000}
note "(b) requeue.sbatch, --time=1 --signal=B:USR1@40, 5 ranks, $BUDGET_B evaluations (~60 s of work)"
mkdir b && cd b
t0=$SECONDS
b_id=$(BANYAN_CONFIG=$CONFIG_DIR/synthetic-bench.ini BANYAN_CHECKPOINT=b.h5 BANYAN_SUMMARY=b.json \
    BANYAN_RUN_ARGS="$SLEEPCOST --set search.iterations=$BUDGET_B --set checkpoint.every_seconds=10 --set checkpoint.drain_seconds=5 --set search.progress_seconds=10" \
    BANYAN_MAX_RESTARTS=8 BANYAN_SIGNAL_MIN_AGE=10 BANYAN_SIGNAL_LEAD=40 \
    sbatch --parsable --ntasks=5 --time=1 --signal=B:USR1@40 --output=b.out \
    "$SLURM_DIR/requeue.sbatch") || die "sbatch failed"
cd ..
fi

# ---------------------------------------------------------------- (a) single node
if want a; then
note "(a) single-node.sbatch, 3 ranks, 600 evaluations"
mkdir a && cd a
id=$(BANYAN_CONFIG=$CONFIG_DIR/synthetic-bench.ini \
    BANYAN_RUN_ARGS="$SLEEPCOST --set search.iterations=600 --set checkpoint.file=a.h5 --quiet" \
    BANYAN_SUMMARY=a.json \
    sbatch --parsable --ntasks=3 --time=5 "$SLURM_DIR/single-node.sbatch") || die "sbatch failed"
st=$(wait_done "$id" 120)
cat ./*.out 2>/dev/null | sed 's/^/     | /'
if [ "$st" = COMPLETED ] && [ "$(job_field "$id" ExitCode)" = 0:0 ]; then
    ok "(a) job $id COMPLETED with exit code 0"
else
    fail "(a) job $id: $st, exit code $(job_field "$id" ExitCode)"
fi
if [ -f a.h5 ] && out=$(count_check a.h5 600); then ok "(a) checkpoint: $out"; else fail "(a) checkpoint: ${out:-a.h5 missing}"; fi
if [ -f a.json ] && grep -q '"evaluations": 600' a.json; then ok "(a) summary says 600 evaluations"; else fail "(a) summary a.json"; fi
cd ..

fi

# ---------------------------------------------------------------- (c) array
if want c; then
note "(c) sweep-array.sbatch, seeds 11 22 33, 2 ranks each, 300 evaluations"
mkdir c && cd c
id=$(BANYAN_CONFIG=$CONFIG_DIR/synthetic-bench.ini SWEEP_KEY=search.seed SWEEP_VALUES="11 22 33" \
    BANYAN_RUN_ARGS="$SLEEPCOST --set search.iterations=300 --quiet" \
    sbatch --parsable --ntasks=2 --time=5 --array=0-2 "$SLURM_DIR/sweep-array.sbatch") || die "sbatch failed"
end=$((SECONDS + 150))
while [ $SECONDS -lt $end ] && squeue -h -j "$id" 2>/dev/null | grep -q .; do sleep 1; done
squeue -h -j "$id" 2>/dev/null | grep -q . && fail "(c) array $id still queued/running after 150 s"
for t in 0 1 2; do
    s=$(job_state "${id}_$t")
    [ "$s" = COMPLETED ] && ok "(c) task ${id}_$t COMPLETED" || fail "(c) task ${id}_$t: ${s:-unknown}"
done
files=(sweep-search.seed-11.h5 sweep-search.seed-22.h5 sweep-search.seed-33.h5)
if out=$($PY - "${files[@]}" <<'PYEOF'
import sys, h5py, hashlib
digests, seeds = set(), set()
for p in sys.argv[1:]:
    f = h5py.File(p, "r")
    r = f["/results"]
    assert len(r) == 300, f"{p}: {len(r)} rows"
    digests.add(hashlib.sha1(r["state"][:].tobytes() + r["reward"][:].tobytes()).hexdigest())
print(f"{len(sys.argv) - 1} files, {len(digests)} distinct result tables")
sys.exit(0 if len(digests) == 3 else 1)
PYEOF
); then ok "(c) $out"; else fail "(c) result files: $out"; fi
n=$(ls banyan-sweep-*.out sweep-*.json 2>/dev/null | wc -l)
[ "$n" = 6 ] && ok "(c) one .out and one summary per task" || fail "(c) expected 3 .out + 3 .json, found $n files"
cd ..

fi

# ---------------------------------------------------------------- (d) mpirun fallback
if want d; then
note "(d) single-node.sbatch with BANYAN_LAUNCHER=mpirun, 3 ranks, 600 evaluations"
mkdir d && cd d
id=$(BANYAN_LAUNCHER=mpirun BANYAN_CONFIG=$CONFIG_DIR/synthetic-bench.ini \
    BANYAN_RUN_ARGS="$SLEEPCOST --set search.iterations=600 --set checkpoint.file=d.h5 --quiet" \
    BANYAN_SUMMARY=d.json \
    sbatch --parsable --ntasks=3 --time=5 "$SLURM_DIR/single-node.sbatch") || die "sbatch failed"
st=$(wait_done "$id" 120)
sed 's/^/     | /' ./*.out 2>/dev/null
if [ "$st" = COMPLETED ] && grep -q 'banyan-launch.sh: mpirun' ./*.out && out=$(count_check d.h5 600) &&
    grep -q '"engines": 2' d.json; then
    ok "(d) job $id COMPLETED through mpirun, 2 engines: $out"
else
    fail "(d) job $id: $st, ${out:-no checkpoint}"
fi
cd ..

fi

# ---------------------------------------------------------------- (e) early signal
if want e; then
note "(e) requeue.sbatch signalled (scancel --batch --signal=USR1) at its start, 8000 evaluations"
mkdir e && cd e
id=$(BANYAN_CONFIG=$CONFIG_DIR/synthetic-bench.ini BANYAN_CHECKPOINT=e.h5 BANYAN_SUMMARY=e.json \
    BANYAN_RUN_ARGS="$SLEEPCOST --set search.iterations=8000 --set checkpoint.drain_seconds=10 --set search.progress_seconds=10" \
    BANYAN_MAX_RESTARTS=3 BANYAN_SIGNAL_MIN_AGE=5 BANYAN_SIGNAL_LEAD=600 \
    sbatch --parsable --ntasks=5 --time=10 --output=e.out "$SLURM_DIR/requeue.sbatch") || die "sbatch failed"
# RUNNING comes a moment before slurmd has started the batch script (a signal sent then is
# lost): wait for the script's first line, written once its traps are set and just before
# it launches banyan, then signal at once.
for _ in $(seq 300); do grep -q ': run ' e.out 2>/dev/null && break; sleep 0.1; done
scancel --batch --signal=USR1 "$id" || fail "(e) scancel --batch --signal=USR1 failed"
st=$(wait_done "$id" 150)
sed 's/^/     | /' e.out 2>/dev/null | grep -v '^     | \[' | grep -E 'banyan-requeue|iterations in' || true
if [ "$st" = COMPLETED ] && grep -q 'after the launch: holding it' e.out && grep -q ': requeueing job' e.out &&
    grep -q ': resume e.h5' e.out && out=$(count_check e.h5 8000); then
    ok "(e) early signal held, checkpointed, requeued, resumed, completed: $out"
else
    fail "(e) job $id: $st, $(count_check e.h5 8000 2>/dev/null || echo "no e.h5")"
fi
cd ..

fi

# ---------------------------------------------------------------- (r) campaign
if want r; then
note "(r) replicates.sbatch: 4 replicates x 1500 evaluations, signalled at its start, resumed as a campaign"
mkdir r && cd r
id=$(BANYAN_CONFIG=$CONFIG_DIR/synthetic-bench.ini BANYAN_CHECKPOINT=h.h5 BANYAN_SUMMARY=h.json \
    BANYAN_REPLICATES=4 BANYAN_REQUEUE=$SLURM_DIR/requeue.sbatch \
    BANYAN_RUN_ARGS="$SLEEPCOST --set search.iterations=1500 --set checkpoint.drain_seconds=10 --set search.progress_seconds=10" \
    BANYAN_MAX_RESTARTS=3 BANYAN_SIGNAL_MIN_AGE=5 BANYAN_SIGNAL_LEAD=600 \
    sbatch --parsable --ntasks=5 --time=10 --output=h.out "$SLURM_DIR/replicates.sbatch") || die "sbatch failed"
for _ in $(seq 300); do grep -q ': run ' h.out 2>/dev/null && break; sleep 0.1; done
scancel --batch --signal=USR1 "$id" || fail "(r) scancel --batch --signal=USR1 failed"
st=$(wait_done "$id" 150)
sed 's/^/     | /' h.out 2>/dev/null | grep -v '^     | \[' | grep -E 'banyan-requeue|replicates,' || true
good=0
for r in 0 1 2 3; do count_check "h.r00$r.h5" 1500 >/dev/null 2>&1 && good=$((good + 1)); done
if [ "$st" = COMPLETED ] && grep -q ': requeueing job' h.out && grep -q ': resume h.campaign' h.out &&
    [ "$good" = 4 ] && grep -q '"replicates": 4' h.json; then
    ok "(r) campaign checkpointed, requeued, resumed from h.campaign, completed: 4 of 4 replicates hold 1500 distinct job ids"
else
    fail "(r) job $id: $st, $good of 4 replicates complete"
fi
cd ..

fi

# ---------------------------------------------------------------- (h, i) an engine killed
if want hi; then
# An engine SIGKILLed mid-run (its node lost, the OOM killer). The launcher ends the whole
# job step: (h) srun, whose PMIx plugin cancels the step when a task dies (also with
# --kill-on-bad-exit=0), (i) mpirun, which kills the other ranks. Either way the status is
# 137 and requeue.sbatch requeues the job as a crash (BANYAN_MAX_CRASH_RESTARTS); the
# restart resumes the last checkpoint and completes every job once.
BUDGET_HI=3000
# engine_pid JOBID: the PID of rank 1 of that job's banyan
engine_pid() {
    local p
    for p in $(pgrep -x banyan); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "SLURM_JOB_ID=$1" || continue
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -Eqx '(PMIX_RANK|OMPI_COMM_WORLD_RANK)=1' &&
            { echo "$p"; return 0; }
    done
    return 1
}
declare -A hi_id
for L in h i; do
    launcher=srun; [ $L = i ] && launcher=mpirun
    note "($L) requeue.sbatch through $launcher, 3 ranks, an engine SIGKILLed mid-run, $BUDGET_HI evaluations"
    mkdir $L
    hi_id[$L]=$(cd $L && BANYAN_LAUNCHER=$launcher BANYAN_CONFIG=$CONFIG_DIR/synthetic-bench.ini BANYAN_CHECKPOINT=$L.h5 \
        BANYAN_SUMMARY=$L.json BANYAN_MAX_RESTARTS=3 BANYAN_SIGNAL_MIN_AGE=5 BANYAN_SIGNAL_LEAD=600 \
        BANYAN_RUN_ARGS="$SLEEPCOST --set search.iterations=$BUDGET_HI --set checkpoint.every_seconds=0.5 --set engine.heartbeat_seconds=0.5 --set engine.lost_after=3 --set search.progress_seconds=10" \
        sbatch --parsable --ntasks=3 --time=10 --output=$L.out "$SLURM_DIR/requeue.sbatch") || die "sbatch failed"
done
for L in h i; do
    killed=
    for _ in $(seq 600); do
        if [ -f $L/$L.h5 ] && p=$(engine_pid "${hi_id[$L]}"); then kill -KILL "$p" && killed=$p; break; fi
        sleep 0.1
    done
    [ -n "$killed" ] && ok "($L) engine (rank 1, pid $killed) killed after the first checkpoint" ||
        fail "($L) no engine of job ${hi_id[$L]} found to kill"
done
for L in h i; do
    id=${hi_id[$L]}
    st=$(wait_done "$id" 180) || scancel "$id"
    sed 's/^/     | /' $L/$L.out 2>/dev/null | grep -E 'banyan-requeue|lost|iterations in' || true
    if [ "$st" = COMPLETED ] && [ "$(job_field "$id" ExitCode)" = 0:0 ] && grep -q 'requeueing job' $L/$L.out &&
        grep -q ": resume $L.h5" $L/$L.out && out=$(count_check $L/$L.h5 $BUDGET_HI); then
        ok "($L) killed engine: requeued, resumed, completed: $out"
    else
        fail "($L) job $id: $st, $(count_check $L/$L.h5 $BUDGET_HI 2>/dev/null || echo "no $L.h5")"
    fi
done
for L in h i; do
    grep -q 'a rank was killed (status 1[0-9][0-9]' $L/$L.out &&
        ok "($L) requeued as a crash ($(grep -o 'status 1[0-9][0-9]' $L/$L.out | head -1))" ||
        fail "($L) no crash requeue in $L.out"
done
fi

# ---------------------------------------------------------------- (f, g) three nodes
if want fg; then
# placement_check FILE: lines "RANK NODE"; rank 0 alone on its node, 2 engines on each of
# two other nodes
placement_check() {
    $PY - "$1" <<'PYEOF'
import sys, collections
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
node = {int(r): n for r, n in rows}
per = collections.Counter(node.values())
others = sorted(per[n] for n in per if n != node.get(0))
print("ranks by node: " + ", ".join(f"{n}: {sorted(r for r in node if node[r] == n)}" for n in sorted(per)))
sys.exit(0 if len(node) == 5 and per[node[0]] == 1 and others == [2, 2] else 1)
PYEOF
}
# a wrapper that records where each rank runs, then becomes banyan
{
    echo '#!/bin/bash'
    echo 'echo "${PMIX_RANK:-${OMPI_COMM_WORLD_RANK:-?}} ${SLURMD_NODENAME:-?}" >>"$PLACEMENT_FILE"'
    echo "exec \"$BANYAN\" \"\$@\""
} >"$T/where-banyan.sh"
chmod +x "$T/where-banyan.sh"
multi_case() { # multi_case LETTER SCRIPT (an edited copy of a slurm/ script)
    local L=$1 script=$2 id st out
    mkdir "$L" && cd "$L"
    # TCP between the "nodes", all on this machine: over loopback only (Open MPI also tries
    # this VM's eth0 address, where a connect sometimes fails and the rank then crashed)
    id=$(BANYAN="$T/where-banyan.sh" PLACEMENT_FILE="$PWD/placement.txt" OMPI_MCA_btl=tcp,self \
        OMPI_MCA_btl_tcp_if_include=lo \
        BANYAN_CONFIG=$CONFIG_DIR/synthetic-bench.ini BANYAN_SUMMARY=$L.json \
        BANYAN_RUN_ARGS="$SLEEPCOST --set search.iterations=1200 --set checkpoint.file=$L.h5 --quiet" \
        sbatch --parsable --time=5 --output=$L.out "$script") || die "sbatch $script failed"
    id=${id%%;*}
    st=$(wait_done "$id" 150) || scancel "$id" # a hung job must not hold the nodes of the next
    sed 's/^/     | /' $L.out 2>/dev/null | grep -v '^     | \[' || true
    if [ "$st" = COMPLETED ] && out=$(count_check $L.h5 1200) && grep -q '"engines": 4' $L.json; then
        ok "($L) job $id COMPLETED with 4 engines: $out"
    else
        fail "($L) job $id: $st, ${out:-no checkpoint}"
    fi
    if out=$(placement_check placement.txt); then ok "($L) $out"; else fail "($L) placement: $out"; fi
    cd ..
}
if want f; then
note "(f) multi-node.sbatch: heterogeneous job, rank 0 alone + 2 nodes x 2 engines, srun --mpi=pmix"
sed -e 's/^#SBATCH --nodes=1 --ntasks=1 --cpus-per-task=32 --exclusive$/#SBATCH --nodes=1 --ntasks=1 --cpus-per-task=4 --exclusive --partition=multi/' \
    -e 's/^#SBATCH --nodes=3 --ntasks-per-node=32 --cpus-per-task=1 --exclusive$/#SBATCH --nodes=2 --ntasks-per-node=2 --cpus-per-task=1 --exclusive --partition=multi/' \
    "$SLURM_DIR/multi-node.sbatch" >"$T/multi-node.sbatch"
[ "$(grep -c 'partition=multi' "$T/multi-node.sbatch")" = 2 ] || die "editing multi-node.sbatch failed"
multi_case f "$T/multi-node.sbatch"
fi
if want g; then
note "(g) multi-node-hostfile.sbatch: 3 nodes, rank 0 alone + 2 nodes x 2 engines, mpirun + host file"
sed -e 's/^#SBATCH --nodes=4 --ntasks-per-node=32 --exclusive$/#SBATCH --nodes=3 --ntasks-per-node=2 --exclusive --partition=multi/' \
    "$SLURM_DIR/multi-node-hostfile.sbatch" >"$T/multi-node-hostfile.sbatch"
grep -q 'partition=multi' "$T/multi-node-hostfile.sbatch" || die "editing multi-node-hostfile.sbatch failed"
multi_case g "$T/multi-node-hostfile.sbatch"
fi
fi

# ---------------------------------------------------------------- (b) requeue chain, checked
if want b; then
cd b
id=$b_id
st=$(wait_done "$id" 480) # 3-4 starts of ~20-50 s of work, each requeue waits ~20-40 s
sed 's/^/     | /' b.out 2>/dev/null | grep -v '^     | \[' || true
restarts=$(job_field "$id" Restarts)
if [ "$st" = COMPLETED ] && [ "$(job_field "$id" ExitCode)" = 0:0 ]; then
    ok "(b) job $id COMPLETED after $((SECONDS - t0)) s, Restarts=$restarts"
else
    fail "(b) job $id: $st, exit code $(job_field "$id" ExitCode), Restarts=$restarts"
fi
nres=$(grep -c ': resume b.h5' b.out 2>/dev/null)
nreq=$(grep -c ': requeueing job' b.out 2>/dev/null)
nsig=$(grep -c 'got SIGUSR1' b.out 2>/dev/null)
if [ "${nres:-0}" -ge 1 ] && [ "${nreq:-0}" -ge 1 ] && [ "${nsig:-0}" -ge 1 ] && [ "${restarts:-0}" -ge 1 ] &&
    grep -q 'restart 0 .*: run ' b.out && grep -q 'finished' b.out; then
    ok "(b) chain: USR1 forwarded $nsig x, requeued $nreq x, resumed $nres x, then finished ($(grep -c "Slurm's stale timer" b.out) early signals deferred)"
else
    fail "(b) chain: USR1 forwarded ${nsig:-0} x, requeued ${nreq:-0} x, resumed ${nres:-0} x, Restarts=$restarts"
fi
if [ -f b.h5 ] && out=$(count_check b.h5 "$BUDGET_B"); then ok "(b) checkpoint: $out"; else fail "(b) checkpoint: ${out:-b.h5 missing}"; fi
cd ..

fi


echo
if [ $failures = 0 ]; then echo "slurm tests: all passed"; exit 0; fi
echo "slurm tests: $failures FAILED (daemon logs: KEEP_TMP=1 keeps $T)"
exit 1
