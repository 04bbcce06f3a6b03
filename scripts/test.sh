#!/usr/bin/env bash
# Runs every test of ssefs: formatting and lint checks, the Rust unit and integration tests,
# and the shell tests under tests/sh (which mount for real). Ends with "N passed, M failed".
# Exit status is non-zero when anything failed, including a mount or loop device left behind.
set -u
cd "$(dirname "$0")/.."
mkdir -p target
passed=0
failed=0
failures=()

# Each step's length is printed after it (the time since the previous record), so a run's log
# shows where the half hour goes.
step_started=$SECONDS
record() { # record NAME STATUS
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
  echo "-- $1: $([ "$2" -eq 0 ] && echo ok || echo FAILED) in $((SECONDS - step_started)) s"
  step_started=$SECONDS
}
lap() { echo "-- $1 in $((SECONDS - step_started)) s"; step_started=$SECONDS; }

echo "== cargo fmt --check"
cargo fmt --check
record "cargo fmt --check" $?

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --quiet --all-targets -- -D warnings
record "cargo clippy" $?

echo "== cargo build"
if ! cargo build --quiet --all-targets; then
  record "cargo build" 1
  echo "${passed} passed, ${failed} failed"
  exit 1
fi
lap "cargo build"

# The power-loss test (tests/sh/95) spends ten minutes booting a guest 22 times under TCG, on
# one core: it runs beside everything below instead of after it, its output kept for the end.
# (Nothing in it depends on timing, nor does any other test; it makes no host mounts.)
power_test=tests/sh/95-power-loss.sh
power_log=target/power-loss.log
power_started=$SECONDS
bash "$power_test" >"$power_log" 2>&1 &
power_pid=$!
stop_power_test() { kill -- "$power_pid" 2>/dev/null; }
trap stop_power_test EXIT

echo "== cargo test"
log=target/cargo-test.log
cargo test --no-fail-fast 2>&1 | tee "$log"
cargo_status=${PIPESTATUS[0]}
read -r cargo_passed cargo_failed < <(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) }
  } END { print p + 0, f + 0 }' "$log")
passed=$((passed + cargo_passed))
failed=$((failed + cargo_failed))
if [ "$cargo_status" -ne 0 ] && [ "$cargo_failed" -eq 0 ]; then
  record "cargo test (did not run to completion)" 1
elif [ "$cargo_failed" -ne 0 ]; then
  failures+=("cargo test: $cargo_failed failed")
fi
lap "cargo test"

echo "== scripts/fuzz.sh (coverage-guided, ${SSEFS_FUZZ_SECONDS:-10} s per target)"
bash scripts/fuzz.sh "${SSEFS_FUZZ_SECONDS:-10}"
record "scripts/fuzz.sh" $?

shopt -s nullglob
for t in tests/sh/[0-9]*.sh; do
  [ "$t" = "$power_test" ] && continue
  echo "== $t"
  bash "$t"
  record "$t" $?
done

# The data-path tests again in each host caching mode of the mount (tests/sh/lib.sh passes
# SSEFS_TEST_CACHING to every mount that does not name its own mode). 95 (power loss) runs
# once, in the default mode, and 80 kills at 5 random points per case instead of 20, to keep
# the whole run under half an hour.
for mode in ReadOnly ReadWrite; do
  for t in tests/sh/10-dd.sh tests/sh/20-ext4-loop.sh tests/sh/30-qemu-img.sh \
    tests/sh/40-attach.sh tests/sh/50-crash.sh tests/sh/60-control.sh tests/sh/80-kill.sh \
    tests/sh/90-full-disk.sh; do
    echo "== $t (caching $mode)"
    SSEFS_TEST_CACHING=$mode SSEFS_KILL_POINTS=5 bash "$t"
    record "$t (caching $mode)" $?
  done
done

# And once more over FUSE over io_uring (src/fs/ring.rs), where the kernel has it: the switch
# is set for the pass and its old value put back, and every mount asks for
# `--transport io-uring`, which fails rather than fall back to /dev/fuse. (tests/sh/16 checks
# that requests really go through the rings.)
URING=/sys/module/fuse/parameters/enable_uring
if [ -e "$URING" ] && [ ! -w "$URING" ]; then
  record "the io_uring pass: $URING cannot be set (run as root)" 1
elif [ -e "$URING" ]; then
  uring_was=$(cat "$URING")
  trap 'echo "$uring_was" >"$URING"; stop_power_test' EXIT
  echo Y >"$URING"
  for t in tests/sh/10-dd.sh tests/sh/20-ext4-loop.sh tests/sh/30-qemu-img.sh \
    tests/sh/40-attach.sh tests/sh/50-crash.sh tests/sh/60-control.sh tests/sh/80-kill.sh \
    tests/sh/90-full-disk.sh; do
    echo "== $t (io_uring)"
    SSEFS_TEST_TRANSPORT=io-uring SSEFS_KILL_POINTS=5 bash "$t"
    record "$t (io_uring)" $?
  done
  echo "$uring_was" >"$URING"
else
  echo "== the io_uring pass does not apply: this kernel has no FUSE over io_uring ($URING)"
fi

echo "== $power_test (ran beside the tests above)"
wait "$power_pid"
power_status=$?
cat "$power_log"
step_started=$power_started
record "$power_test (beside the others)" "$power_status"

# Nothing may be left mounted or attached by a test. Only the suite's own scratch directories
# count (tests/sh/lib.sh makes them as /tmp/ssefs-test.*; the Rust tests use /tmp/.tmp*):
# another ssefs mount or loop device on the machine is not ours to judge.
ours='(/tmp/ssefs-test\.|/tmp/\.tmp)'
leftover_mounts=$(awk '$1 ~ /^ssefs:/ {print $1, $2}' /proc/mounts | grep -cE "$ours" || true)
leftover_loops=$(losetup -n -O BACK-FILE 2>/dev/null | grep -cE "$ours" || true)
if [ "$leftover_mounts" -ne 0 ] || [ "$leftover_loops" -ne 0 ]; then
  record "no leftover mounts or loop devices ($leftover_mounts mounts, $leftover_loops loops)" 1
else
  record "no leftover mounts or loop devices" 0
fi

if [ ${#failures[@]} -gt 0 ]; then
  echo "Failures:"
  printf '  %s\n' "${failures[@]}"
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
