#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with -fsanitize=fuzzer,address,undefined) into
# build-fuzz/ and runs each on its seed corpus for FUZZ_SECONDS (default 60). Fails at the first
# crash, sanitizer report, out-of-memory or timeout (an input taking over 10 s), leaving the input
# in build-fuzz/artifacts/<target>/. New inputs go to build-fuzz/corpus/<target>/, never into the
# committed seeds (fuzz/corpus/<target>/).
#   FUZZ_SECONDS=20 scripts/fuzz.sh              # every target, 20 s each (.ci/run)
#   FUZZ_TARGETS="image idx" scripts/fuzz.sh     # some of them
#   FUZZ_RUNS=1000000 scripts/fuzz.sh            # a number of executions instead of a time
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FUZZ_BUILD:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"safetensors idx image python_json run_config unet_config scheduler_config autoencoder_config"}
if ! command -v clang++ >/dev/null; then
  echo "fuzz: needs Debian's clang (apt-get install clang): libFuzzer ships with it" >&2
  exit 1
fi
cmake -S fuzz -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}" -- --no-print-directory
budget=(-max_total_time="$seconds")
if [ -n "${FUZZ_RUNS:-}" ]; then budget=(-runs="$FUZZ_RUNS"); fi
mkdir -p "$build/logs"
for t in $targets; do
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  log="$build/logs/$t.log"
  # LibTorch, not instrumented, keeps one-time allocations to exit: leak checks are off.
  if ! ASAN_OPTIONS=detect_leaks=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/${t}_fuzzer" "$build/corpus/$t" "fuzz/corpus/$t" "${budget[@]}" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -detect_leaks=0 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t/" >"$log" 2>&1; then
    echo "fuzz: $t FAILED (log: $log)" >&2
    grep -E "ERROR|runtime error|invariant|Test unit written" "$log" | head -20 >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz: $t: $runs executions, no crash, sanitizer report or timeout"
done
