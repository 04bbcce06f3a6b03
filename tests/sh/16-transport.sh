#!/usr/bin/env bash
# The FUSE transport is named in `ssefs mount --debug` and in the daemon log, from the kernel's
# switch for FUSE over io_uring, and the line tells the truth: ssefs serves /dev/fuse (fuser has
# no io_uring transport; the README's "FUSE over io_uring" says why), so the daemon holds no
# io_uring ring whatever the switch says. Root: the test sets the switch to N and then Y, and
# puts the old value back on exit, failure included. On a kernel without the switch the line
# must say so instead.
. "$(dirname "$0")/lib.sh"

PARAM=/sys/module/fuse/parameters/enable_uring
OLD=
if [ -e "$PARAM" ]; then
  OLD=$(cat "$PARAM")
  # lib.sh's cleanup reads the exit status first: hand it the one the test ended with (with
  # errexit off, or the failing status would end the trap before cleanup unmounts).
  trap 'st=$?; set +e; echo "$OLD" >"$PARAM"; (exit $st); cleanup' EXIT
fi

# daemon_rings: how many io_uring instances the mount daemon holds.
daemon_rings() {
  local pid n=0 fd
  pid=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['pid'])" "$SSEFS_STORE/daemon.json")
  for fd in /proc/"$pid"/fd/*; do
    [ "$(readlink "$fd")" = "anon_inode:[io_uring]" ] && n=$((n + 1))
  done
  echo "$n"
}

# mount_says SWITCH EXPECTED: mounts with --debug (the switch set to SWITCH unless empty) and
# checks that the caller's output and the daemon log both carry EXPECTED, once per mount.
mount_says() {
  [ -n "$1" ] && echo "$1" >"$PARAM"
  local before
  before=$(grep -cF "$2" "$SSEFS_STORE/daemon.log" 2>/dev/null || true)
  ssefs mount "$MNT" --debug 2>"$WORK/mount.err"
  grep -qF "ssefs: debug: $2" "$WORK/mount.err" || fail "mount --debug did not say '$2': $(cat "$WORK/mount.err")"
  assert_eq "$(grep -cF "ssefs: $2" "$SSEFS_STORE/daemon.log")" "$((${before:-0} + 1))" "transport lines in the daemon log"
  assert_eq "$(daemon_rings)" 0 "io_uring rings held by the daemon"
  unmount_store
}

if [ -e "$PARAM" ]; then
  case_ "enable_uring=N: /dev/fuse, io_uring disabled in the kernel"
  mount_says N "transport: /dev/fuse (io_uring disabled in the kernel: enable_uring=N)"

  case_ "enable_uring=Y: still /dev/fuse (ssefs has no io_uring transport), and it says so"
  mount_says Y "transport: /dev/fuse (io_uring enabled in the kernel: enable_uring=Y, but ssefs serves /dev/fuse only"

  case_ "without --debug the caller prints nothing about the transport"
  echo N >"$PARAM"
  ssefs mount "$MNT" 2>"$WORK/mount.err"
  unmount_store
  ! grep -q transport "$WORK/mount.err" || fail "transport line without --debug"
else
  case_ "no enable_uring in this kernel: /dev/fuse, and the line says why"
  mount_says "" "transport: /dev/fuse (this kernel has no FUSE over io_uring)"
fi
echo "ok"
