# Shared by the shell tests: a scratch store and mount point, helpers, and a cleanup trap
# that always removes inner mounts, loop devices and the ssefs mount, even on failure.
# shellcheck shell=bash
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SSEFS=${SSEFS:-$ROOT/target/debug/ssefs}
[ -x "$SSEFS" ] || { echo "FAIL: $SSEFS not built (run cargo build)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/ssefs-test.XXXXXX)
export SSEFS_STORE=$WORK/store
MNT=$WORK/mnt
mkdir -p "$MNT"
INNER_MOUNTS=()
LOOPS=()
CASE=0

ssefs() { "$SSEFS" "$@"; }

cleanup() {
  local status=$?
  set +e
  # Two passes: filesystems on loop devices over ssefs disks must go before the ssefs mount,
  # and a store on a loop-mounted filesystem after it.
  for pass in 1 2; do
    for ((i = ${#INNER_MOUNTS[@]} - 1; i >= 0; i--)); do
      mountpoint -q "${INNER_MOUNTS[i]}" && umount "${INNER_MOUNTS[i]}" 2>/dev/null
    done
    for l in "${LOOPS[@]}"; do
      losetup "$l" >/dev/null 2>&1 && losetup -d "$l" 2>/dev/null
    done
    if [ $pass = 1 ] && grep -q " $MNT " /proc/mounts; then
      "$SSEFS" unmount "$MNT" || umount -l "$MNT"
    fi
    [ $pass = 1 ] && pkill -9 -f "ssefs mount $MNT" 2>/dev/null
  done
  rm -rf "$WORK"
  if [ $status -ne 0 ]; then echo "FAIL: $(basename "$0") case $CASE" >&2; fi
  exit $status
}
trap cleanup EXIT

# case "description": numbers and announces a test case.
case_() { CASE=$((CASE + 1)); echo "  [$CASE] $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: '$1' != '$2'"; }

# mount_store [OPTIONS]: mounts the scratch store at $MNT. SSEFS_TEST_CACHING and
# SSEFS_TEST_TRANSPORT (set by scripts/test.sh to rerun the data-path tests in every host
# caching mode and over io_uring) apply unless the test names its own --caching or
# --transport. With `--transport io-uring` a mount that cannot use io_uring fails.
mount_store() {
  local extra=()
  case " $* " in
    *" --caching "*) ;;
    *) extra+=(${SSEFS_TEST_CACHING:+--caching "$SSEFS_TEST_CACHING"}) ;;
  esac
  case " $* " in
    *" --transport "*) ;;
    *) extra+=(${SSEFS_TEST_TRANSPORT:+--transport "$SSEFS_TEST_TRANSPORT"}) ;;
  esac
  ssefs mount "$MNT" ${extra[@]+"${extra[@]}"} "$@"
}
unmount_store() { ssefs unmount "$MNT"; }

# attach_loop FILE [losetup options]: attaches a loop device, records it for cleanup and sets
# LOOP to its name (not echoed: a $(...) subshell would lose the record).
attach_loop() {
  local file=$1
  shift
  LOOP=$(losetup --find --show "$@" "$file")
  LOOPS+=("$LOOP")
}
detach_loop() {
  losetup -d "$1"
  local keep=()
  for l in "${LOOPS[@]}"; do [ "$l" = "$1" ] || keep+=("$l"); done
  LOOPS=("${keep[@]}")
}
mount_inner() { # mount_inner DEV DIR [opts]
  mkdir -p "$2"
  mount ${3:+-o "$3"} "$1" "$2"
  INNER_MOUNTS+=("$2")
}
umount_inner() {
  umount "$1"
  local keep=()
  for m in "${INNER_MOUNTS[@]}"; do [ "$m" = "$1" ] || keep+=("$m"); done
  INNER_MOUNTS=("${keep[@]}")
}

# Allocated bytes of a file (du counts blocks, not the apparent size).
allocated() { du -B1 "$1" | cut -f1; }

# wait_until CMD...: polls a condition (at most 60 s; a bound for a hung daemon, not a timing
# assumption: the condition is what the test checks).
wait_until() {
  local i
  for ((i = 0; i < 6000; i++)); do
    if "$@"; then return 0; fi
    sleep 0.01
  done
  return 1
}
not_mounted() { ! grep -q " $MNT " /proc/mounts; }
daemon_gone() { ! pgrep -f "ssefs mount $MNT" >/dev/null; }
