#!/usr/bin/env bash
# The FUSE transport: /dev/fuse, or FUSE over io_uring when root has enabled it in the kernel
# (src/fs/ring.rs). The line naming it, in `ssefs mount --debug` and in the daemon log, tells
# the truth: with io_uring the daemon holds one ring per entry and the requests of a dd really
# complete through them (the rings' submission counts grow); with /dev/fuse it holds none.
# Root: the test sets the kernel's switch and puts the old value back on exit, failure
# included. On a kernel without the switch the line must say so, and `--transport io-uring`
# must fail.
. "$(dirname "$0")/lib.sh"

PARAM=/sys/module/fuse/parameters/enable_uring
OLD=
if [ -e "$PARAM" ]; then
  OLD=$(cat "$PARAM")
  # lib.sh's cleanup reads the exit status first: hand it the one the test ended with (with
  # errexit off, or the failing status would end the trap before cleanup unmounts).
  trap 'st=$?; set +e; echo "$OLD" >"$PARAM"; (exit $st); cleanup' EXIT
fi
# These cases choose their own transport.
unset SSEFS_TEST_TRANSPORT

daemon_pid() {
  python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['pid'])" "$SSEFS_STORE/daemon.json"
}

# daemon_rings: how many io_uring instances the mount daemon holds.
daemon_rings() {
  local pid n=0 fd
  pid=$(daemon_pid)
  for fd in /proc/"$pid"/fd/*; do
    [ "$(readlink "$fd")" = "anon_inode:[io_uring]" ] && n=$((n + 1))
  done
  echo "$n"
}

# ring_submissions: the submissions over all of the daemon's rings (fdinfo's SqHead): one
# REGISTER per entry, then one COMMIT_AND_FETCH per request served.
ring_submissions() {
  local pid total=0 fd n
  pid=$(daemon_pid)
  for fd in /proc/"$pid"/fd/*; do
    if [ "$(readlink "$fd")" = "anon_inode:[io_uring]" ]; then
      n=$(awk '$1 == "SqHead:" {print $2}' /proc/"$pid"/fdinfo/"${fd##*/}")
      total=$((total + n))
    fi
  done
  echo "$total"
}

# mount_says SWITCH EXPECTED [MOUNT OPTIONS]: mounts with --debug (the switch set to SWITCH
# unless empty) and checks that the caller's output and the daemon log both carry EXPECTED,
# once per mount. The mount stays up.
mount_says() {
  local switch=$1 expected=$2 before
  shift 2
  [ -n "$switch" ] && echo "$switch" >"$PARAM"
  before=$(grep -cF "$expected" "$SSEFS_STORE/daemon.log" 2>/dev/null || true)
  ssefs mount "$MNT" --debug "$@" 2>"$WORK/mount.err"
  grep -qF "ssefs: debug: $expected" "$WORK/mount.err" || fail "mount --debug did not say '$expected': $(cat "$WORK/mount.err")"
  assert_eq "$(grep -cF "ssefs: $expected" "$SSEFS_STORE/daemon.log")" "$((${before:-0} + 1))" "transport lines in the daemon log"
}

ssefs disk create -n d1 -g rg --size-gb 1 -o none 2>/dev/null
head -c $((8 << 20)) /dev/urandom >"$WORK/data"
want=$(sha256sum <"$WORK/data" | cut -d' ' -f1)

if [ -e "$PARAM" ]; then
  CPUS=$(python3 -c "import os; print(max(int(p.split('-')[-1]) for p in open('/sys/devices/system/cpu/possible').read().strip().split(','))+1)")

  case_ "enable_uring=N: /dev/fuse, no ring"
  mount_says N "transport: /dev/fuse (io_uring disabled in the kernel: enable_uring=N)"
  assert_eq "$(daemon_rings)" 0 "io_uring rings held by the daemon"
  unmount_store

  case_ "enable_uring=Y: io_uring, one ring per entry, --threads spread over $CPUS queues, and a dd is served through them"
  # --threads 3: the entries are spread evenly, at least one per queue, rounded up.
  per_queue=$(((3 + CPUS - 1) / CPUS))
  mount_says Y "transport: io_uring ($CPUS queues, $((CPUS * per_queue)) entries, each served by its own thread; enable_uring=Y)" --threads 3
  assert_eq "$(daemon_rings)" $((CPUS * per_queue)) "io_uring rings held by the daemon"
  before=$(ring_submissions)
  dd if="$WORK/data" of="$MNT/disks/d1" bs=1M conv=notrunc,fsync status=none
  got=$(head -c $((8 << 20)) "$MNT/disks/d1" | sha256sum | cut -d' ' -f1)
  assert_eq "$got" "$want" "data written and read back over io_uring"
  after=$(ring_submissions)
  # 8 writes and 8 reads of 1 MiB at least, each committed through a ring.
  [ $((after - before)) -ge 16 ] || fail "only $((after - before)) requests went through the rings"
  unmount_store

  case_ "enable_uring=Y with --transport dev-fuse: /dev/fuse, no ring"
  mount_says Y "transport: /dev/fuse (--transport dev-fuse)" --transport dev-fuse
  assert_eq "$(daemon_rings)" 0 "io_uring rings held by the daemon"
  got=$(head -c $((8 << 20)) "$MNT/disks/d1" | sha256sum | cut -d' ' -f1)
  assert_eq "$got" "$want" "the data written over io_uring, read over /dev/fuse"
  unmount_store

  case_ "entries that fail before registering: the mount falls back to /dev/fuse and serves (nothing held by the kernel)"
  last=$((CPUS - 1))
  echo Y >"$PARAM"
  SSEFS_TEST_RING_FAIL_QUEUE=$last mount_says "" "transport: /dev/fuse (io_uring entries refused: queue $last: failed before registering (SSEFS_TEST_RING_FAIL_QUEUE))"
  assert_eq "$(daemon_rings)" 0 "io_uring rings held by the daemon"
  # A hang here (the kernel holding requests for rings that never come) fails the test.
  got=$(timeout 60 head -c $((8 << 20)) "$MNT/disks/d1" | sha256sum | cut -d' ' -f1)
  assert_eq "$got" "$want" "read after the fallback"
  timeout 60 dd if="$WORK/data" of="$MNT/disks/d1" bs=1M conv=notrunc,fsync status=none || fail "write after the fallback"
  unmount_store

  case_ "... and with --transport io-uring the same failure fails the mount, leaving nothing mounted"
  if SSEFS_TEST_RING_FAIL_QUEUE=$last ssefs mount "$MNT" --transport io-uring 2>"$WORK/mount.err"; then fail "mounted without io_uring"; fi
  grep -qF "(NotSupported) --transport io-uring: /dev/fuse (io_uring entries refused: queue $last" "$WORK/mount.err" ||
    fail "unclear: $(cat "$WORK/mount.err")"
  ! grep -q " $MNT " /proc/mounts || fail "a mount was left behind"

  if [ -w /proc/sys/kernel/io_uring_disabled ]; then
    case_ "io_uring forbidden to processes (kernel.io_uring_disabled=2): /dev/fuse, and the line says why"
    DISABLED=$(cat /proc/sys/kernel/io_uring_disabled)
    trap 'st=$?; set +e; echo "$OLD" >"$PARAM"; echo "$DISABLED" >/proc/sys/kernel/io_uring_disabled; (exit $st); cleanup' EXIT
    echo 2 >/proc/sys/kernel/io_uring_disabled
    mount_says Y "transport: /dev/fuse (io_uring unavailable to this process: Operation not permitted (os error 1))"
    got=$(timeout 60 head -c $((8 << 20)) "$MNT/disks/d1" | sha256sum | cut -d' ' -f1)
    assert_eq "$got" "$want" "read with io_uring forbidden"
    unmount_store
    if ssefs mount "$MNT" --transport io-uring 2>"$WORK/mount.err"; then fail "mounted without io_uring"; fi
    grep -qF "(NotSupported) --transport io-uring: io_uring unavailable to this process" "$WORK/mount.err" ||
      fail "unclear: $(cat "$WORK/mount.err")"
    echo "$DISABLED" >/proc/sys/kernel/io_uring_disabled
  fi

  case_ "enable_uring=N with --transport io-uring: the mount fails and says why"
  echo N >"$PARAM"
  if ssefs mount "$MNT" --transport io-uring 2>"$WORK/mount.err"; then fail "mounted without io_uring"; fi
  grep -qF "(NotSupported) --transport io-uring: io_uring disabled in the kernel: enable_uring=N" "$WORK/mount.err" ||
    fail "unclear: $(cat "$WORK/mount.err")"
  ! grep -q " $MNT " /proc/mounts || fail "a mount was left behind"

  case_ "without --debug the caller prints nothing about the transport"
  echo Y >"$PARAM"
  ssefs mount "$MNT" 2>"$WORK/mount.err"
  unmount_store
  ! grep -q transport "$WORK/mount.err" || fail "transport line without --debug"
else
  case_ "no enable_uring in this kernel: /dev/fuse, and the line says why"
  mount_says "" "transport: /dev/fuse (this kernel has no FUSE over io_uring)"
  assert_eq "$(daemon_rings)" 0 "io_uring rings held by the daemon"
  unmount_store
  case_ "no enable_uring in this kernel: --transport io-uring fails"
  if ssefs mount "$MNT" --transport io-uring 2>"$WORK/mount.err"; then fail "mounted without io_uring"; fi
  grep -qF "(NotSupported) --transport io-uring: this kernel has no FUSE over io_uring" "$WORK/mount.err" ||
    fail "unclear: $(cat "$WORK/mount.err")"
fi
echo "ok"
