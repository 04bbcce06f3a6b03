#!/usr/bin/env bash
# Power loss, not just process death: ssefs runs inside a qemu guest (the distribution's
# kernel, a busybox initramfs, the fuse/virtio/ext4 modules, the ssefs binary under test) on
# an ext4 virtio disk, and the host cuts the guest off (SIGKILL to qemu) at a random moment
# during (a) fsynced writes through the mount, (b) key rotations of a set with several disks, and
# (c) copies of a platform-key snapshot switched to a customer key (a re-encryption under a
# fresh DEK, since the copy shares the snapshot's DEK). Each following boot first proves that
# the store opens and finishes the interrupted work, that `ssefs check` is clean, and that
# every write the guest reported fsynced before the cut reads back, as do the rotation disks
# and every switched copy; then it starts the next workload. At least 20 cuts per run.
#
# What it proves: durability of what fsync acknowledged and crash consistency of the
# metadata across a cut of the whole guest (its page cache, its daemon, its kernel), with the
# virtio disk in cache=none mode (guest flushes reach the image). What it does not: the host's
# own power loss (the image file lives in the host's page cache), or a disk that lies about
# flushes. The seed is printed so that a failing sequence of cuts can be replayed.
. "$(dirname "$0")/lib.sh"

CUTS=${SSEFS_POWER_CUTS:-20}
SEED=${SSEFS_POWER_SEED:-$RANDOM}
echo "  seed $SEED, $CUTS cuts (replay with SSEFS_POWER_SEED=$SEED)"
RANDOM=$SEED
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 is missing (install qemu-system-x86)"
command -v mkfs.ext4 >/dev/null || fail "mkfs.ext4 is missing"

case_ "build a guest (kernel, busybox initramfs, modules, the ssefs under test)"
# The binary the other tests use ($SSEFS, the debug build by default: its debug assertions
# are on, and scripts/test.sh does not spend minutes on a release build for this test alone).
KERNEL=$(bash "$ROOT/tests/guest/build.sh" "$WORK" "$SSEFS") || fail "guest build"
IMG=$WORK/data.img
truncate -s 1G "$IMG"
mkfs.ext4 -q -F "$IMG"
QEMU_PID=
kill_guest() { # SIGKILL: the power cut; then wait (bounded) until the process is gone
  local i
  if [ -n "$QEMU_PID" ]; then
    kill -9 "$QEMU_PID" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.05; done
  fi
  QEMU_PID=
}
# set +e: errexit holds inside a trap too, and `(exit $rc)` would end it before cleanup.
trap 'rc=$?; set +e; kill_guest; (exit $rc); cleanup' EXIT

ACCEL=tcg
boot() { # boot STEP LOG: start the guest in the background
  : >"$2"
  local cpu=max
  [ "$ACCEL" = kvm ] && cpu=host
  qemu-system-x86_64 -accel "$ACCEL" -cpu "$cpu" -m 768M -smp 1 -nographic -no-reboot \
    -monitor none -serial "file:$2" -kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1 ssefs_step=$1" \
    -drive "file=$IMG,format=raw,if=virtio,cache=none" >/dev/null 2>&1 &
  QEMU_PID=$!
  disown "$QEMU_PID" # its end is seen with kill -0, and bash does not report the SIGKILL
}
running() { kill -0 "$QEMU_PID" 2>/dev/null; }
seen() { grep -q "$1" "$2" 2>/dev/null; }
wait_line() { # wait_line PATTERN LOG SECONDS: until the guest prints it (or fails or stops)
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    seen "$1" "$2" && return 0
    if seen "VERIFY FAIL\|GUEST FAIL" "$2" || ! running; then return 1; fi
    sleep 0.1
  done
  return 1
}
show_log() { echo "--- guest console ($1):" >&2; tail -30 "$1" >&2; }

# A working KVM is used when it boots (nested KVM can hang here): tried once, with a bound.
if [ -w /dev/kvm ]; then
  ACCEL=kvm
  boot "wack=0,work=none" "$WORK/probe.log"
  if ! wait_line "GUEST boot" "$WORK/probe.log" 20; then ACCEL=tcg; fi
  kill_guest
fi
echo "  accelerator: $ACCEL"

case_ "first boot: the store, a vault, a key, a set, the disks and a snapshot"
boot setup "$WORK/setup.log"
wait_line "SETUP done" "$WORK/setup.log" 300 || { show_log "$WORK/setup.log"; fail "setup"; }
wait_line "GUEST end" "$WORK/setup.log" 60
kill_guest

case_ "$CUTS cuts of the guest's power during fsynced writes, rotations and key switches"
wack=0
workloads=(writes rotate switch)
interrupted=0
for ((cut = 1; cut <= CUTS; cut++)); do
  work=${workloads[$((RANDOM % 3))]}
  log=$WORK/boot$cut.log
  boot "wack=$wack,work=$work,wstart=$wack,ser=$((cut * 100))" "$log"
  if ! wait_line "GO $work" "$log" 600; then
    show_log "$log"
    fail "boot $cut: the verification after cut $((cut - 1)) failed"
  fi
  grep -h "^CHECK ok\|^VERIFY ok" "$log" | sed 's/^/    /'
  # A random moment into the workload (the outcome must not depend on it).
  delay=$((300 + RANDOM % 2500))
  sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
  running || { show_log "$log"; fail "boot $cut: the $work workload stopped by itself"; }
  kill_guest
  interrupted=$((interrupted + 1))
  acked=$(grep -c '^SYNCED ' "$log" || true)
  [ "$work" = writes ] && wack=$((wack + acked))
  echo "    cut $cut: $work, after ${delay} ms ($(grep -c '^SYNCED \|^ROTATED \|^SWITCHED ' "$log" || true) steps acknowledged)"
done

case_ "last boot: everything acknowledged before the $interrupted cuts is there; check is clean"
log=$WORK/final.log
boot "wack=$wack,work=none" "$log"
wait_line "GUEST end rc=0" "$log" 600 || { show_log "$log"; fail "final verification"; }
grep -h "^CHECK ok\|^VERIFY ok" "$log" | sed 's/^/    /'
kill_guest
[ "$interrupted" -ge 20 ] || fail "only $interrupted cuts"
echo "ok: $interrupted power cuts, $wack fsynced blocks verified"
