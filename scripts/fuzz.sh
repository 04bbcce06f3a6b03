#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer, bounded: builds every target under fuzz/ with
# sanitizer-coverage instrumentation on the stable toolchain (no cargo-fuzz or nightly needed;
# see fuzz/README.md), then runs each for SECONDS (default 20) starting from its corpus in
# fuzz/corpus/TARGET. New inputs go to a scratch copy, not the repository; a crash is saved in
# fuzz/artifacts/TARGET/ and fails the run. Ends with "N passed, M failed" (one per target).
set -u
cd "$(dirname "$0")/../fuzz"
seconds=${1:-20}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# Stable equivalents of what cargo-fuzz passes (libFuzzer's coverage feedback: 8-bit counters,
# the PC table and comparison tracing), plus the fuzzing cfg and debug assertions.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros (as cargo-fuzz does).
triple=$(rustc -vV | sed -n 's/^host: //p')
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^ssefs-fuzz$')
passed=0
failed=0
if ! cargo build --release --quiet --bins --target "$triple"; then
  echo "fuzz: the targets do not build"
  echo "0 passed, 1 failed"
  exit 1
fi
for t in $targets; do
  work=corpus-work/$t
  rm -rf "$work"
  mkdir -p "$work" "artifacts/$t"
  [ -d "corpus/$t" ] && cp -r "corpus/$t/." "$work/"
  log=$(mktemp)
  "$CARGO_TARGET_DIR/$triple/release/$t" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
  status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    echo "fuzz $t: ok, ${runs:-?} runs, cov ${cov:-?}"
  else
    failed=$((failed + 1))
    echo "fuzz $t: FAILED (exit $status); artifacts in fuzz/artifacts/$t/"
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -20
  fi
  rm -f "$log"
done
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
