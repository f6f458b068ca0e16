#!/usr/bin/env bash
# Fuzz the checkpoint reader for a bounded time under ASan + UBSan (issue 13).
#   run_fuzz.sh SOURCE_DIR BUILD_DIR BANYAN [SECONDS] [extra libFuzzer arguments...]
# Configures and builds BUILD_DIR with clang (-DBANYAN_SANITIZE=ON -DBANYAN_FUZZ=ON), makes a
# seed corpus of real checkpoints from a small run of BANYAN (main files and segments, as
# written and rewritten by h5repack with the oldest object formats, which carry no HDF5
# metadata checksums), then runs fuzz_checkpoint_reader for SECONDS (default 60). Exits
# non-zero on any crash, hang (-timeout) or sanitizer report in this process or from banyan's
# code in a reader process; 77 (skipped) without clang's libFuzzer.
# A longer run: tests/fuzz/run_fuzz.sh . build-fuzz build/banyan 3600 -jobs=2 -workers=2
set -euo pipefail
src=$(cd "$1" && pwd); build=$2; banyan=$3; seconds=${4:-60}; shift $(( $# < 4 ? $# : 4 ))
command -v clang >/dev/null || { echo "skipped: no clang (apt-get install clang)"; exit 77; }
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$probe/p.c"
clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null ||
  { echo "skipped: clang has no libFuzzer here"; exit 77; }

echo "== building $build"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBANYAN_SANITIZE=ON \
      -DBANYAN_FUZZ=ON -DBANYAN_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_checkpoint_reader >/dev/null

echo "== seed corpus from a small run"
seeds="$build/fuzz-seeds"; corpus="$build/fuzz-corpus"
rm -rf "$seeds" "$corpus"; mkdir -p "$seeds" "$corpus"
( cd "$seeds" && "$banyan" run "$src/configs/synthetic-bench.ini" --quiet --set search.iterations=300 \
    --set checkpoint.file=r.h5 --set search.progress_seconds=0 --set checkpoint.compression=0 )
seg=$(ls "$seeds"/r.h5.d/results-*.h5 | head -1)
add() { # add FLAGBYTE FILE NAME
  { printf "\\x$1"; cat "$2"; } > "$corpus/$3"
}
add 00 "$seeds/r.h5" main; add 01 "$seeds/r.h5" main-resealed
add 02 "$seg" segment; add 03 "$seg" segment-resealed
if command -v h5repack >/dev/null; then
  # The oldest formats (version 0 superblock, version 1 object headers): no metadata checksums,
  # so a mutation reaches HDF5's parsing directly. h5repack keeps the seal block; the fuzzer
  # reseals (flag bit 0).
  h5repack --low=0 --high=2 "$seeds/r.h5" "$seeds/old.h5" 2>/dev/null && add 01 "$seeds/old.h5" main-old
  h5repack --low=0 --high=2 "$seg" "$seeds/old-seg.h5" 2>/dev/null && add 03 "$seeds/old-seg.h5" segment-old
fi
ls -l "$corpus"

echo "== fuzzing for $seconds s"
export BANYAN_FUZZ_SEEDS="$seeds" BANYAN_READ_TIMEOUT=5
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}"
cd "$build"
"$build/tests/fuzz/fuzz_checkpoint_reader" "$corpus" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
  -max_len=4000000 -print_final_stats=1 -artifact_prefix="$build/fuzz-" "$@"
