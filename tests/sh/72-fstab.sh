#!/usr/bin/env bash
# The mount as the system knows it (issue 13): scripts/install.sh lays out the binary, mount(8)'s
# helper and the systemd unit; an fstab line of type fuse.ssefs mounts through the installed
# helper with `mount -T FSTAB`; /proc/mounts shows type fuse.ssefs and source ssefs:STORE; umount
# stops the daemon; the daemon tells systemd it is ready (sd_notify) only once the mount serves.
#
# mount(8) looks for helpers in /sbin only. So as not to touch the machine's /sbin, the fstab
# case runs in a private mount namespace (unshare -m) where an overlay adds the installed helper
# to /usr/sbin; the namespace, its overlay and its mount go away with it.
. "$(dirname "$0")/lib.sh"
PREFIX=$WORK/prefix
HELPERS=$WORK/sbin

ssefs group create -n rg -l eastus -o none
ssefs disk create -n d1 -g rg --size-gb 1 -o none

case_ "install.sh installs the binary, the helper (a link to the binary) and the unit"
bash "$ROOT/scripts/install.sh" --prefix "$PREFIX/usr" --sbin "$HELPERS" --bin "$SSEFS" >"$WORK/install.log"
[ -x "$PREFIX/usr/bin/ssefs" ] || fail "no $PREFIX/usr/bin/ssefs"
cmp -s "$SSEFS" "$PREFIX/usr/bin/ssefs" || fail "the installed binary differs"
assert_eq "$(readlink "$HELPERS/mount.fuse.ssefs")" "$PREFIX/usr/bin/ssefs" "helper link"
unit=$PREFIX/usr/lib/systemd/system/ssefs@.service
grep -qx "ExecStart=$PREFIX/usr/bin/ssefs mount %f --foreground \$SSEFS_MOUNT_OPTIONS" "$unit" ||
  fail "ExecStart not set to the installed binary: $(grep ExecStart "$unit")"
! grep -q "@BINDIR@" "$unit" || fail "unsubstituted @BINDIR@ in $unit"
if "$SSEFS" completion bash >/dev/null 2>&1; then
  [ -s "$PREFIX/usr/share/bash-completion/completions/ssefs" ] || fail "no bash completion installed"
else
  grep -q "no completions" "$WORK/install.log" || fail "install.sh did not say it skipped completions"
fi
if compgen -G "$ROOT/docs/man/*.1" >/dev/null; then
  for page in "$ROOT"/docs/man/*.1; do
    [ -f "$PREFIX/usr/share/man/man1/$(basename "$page")" ] || fail "man page $(basename "$page") not installed"
  done
fi
# A staging root (packages): everything lands below it, nothing outside.
bash "$ROOT/scripts/install.sh" --prefix /usr --destdir "$WORK/stage" --sbin /sbin --bin "$SSEFS" >/dev/null
[ -x "$WORK/stage/usr/bin/ssefs" ] || fail "no binary under the staging root"
assert_eq "$(readlink "$WORK/stage/sbin/mount.fuse.ssefs")" /usr/bin/ssefs "staged helper link"

case_ "systemd-analyze verifies the service and a .mount unit of type fuse.ssefs"
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (.ci/run installs systemd)"
units=$WORK/units
mkdir -p "$units"
escaped=$(systemd-escape --path "$MNT")
cp "$unit" "$units/ssefs@$escaped.service"
cat >"$units/$escaped.mount" <<UNIT
[Unit]
Description=ssefs disks at $MNT

[Mount]
What=ssefs:$SSEFS_STORE
Where=$MNT
Type=fuse.ssefs
Options=caching=ReadOnly,allow_other

[Install]
WantedBy=multi-user.target
UNIT
out=$(systemd-analyze verify --man=no "$units/ssefs@$escaped.service" "$units/$escaped.mount" 2>&1) ||
  fail "systemd-analyze verify: $out"

case_ "an fstab line mounts through the installed helper; dd round trip; umount stops the daemon"
printf '%s %s fuse.ssefs caching=ReadOnly,allow_other 0 0\n' "$SSEFS_STORE" "$MNT" >"$WORK/fstab"
head -c $((8 << 20)) /dev/urandom >"$WORK/data"
# Runs in a private mount namespace: its own trap takes the mount away if a check fails.
unshare -m --propagation private env WORK="$WORK" MNT="$MNT" HELPERS="$HELPERS" STORE="$SSEFS_STORE" bash -euo pipefail -c '
  trap "grep -q \" \$MNT \" /proc/mounts && umount -l \"\$MNT\"" EXIT
  mount -t overlay ssefs-test-helpers -o "lowerdir=$HELPERS:/usr/sbin" /usr/sbin
  [ -L /sbin/mount.fuse.ssefs ] || { echo "FAIL: helper not in /sbin" >&2; exit 1; }
  mount -T "$WORK/fstab" "$MNT"
  line=$(grep " $MNT " /proc/mounts)
  set -- $line
  [ "$1" = "ssefs:$STORE" ] || { echo "FAIL: source $1" >&2; exit 1; }
  [ "$3" = fuse.ssefs ] || { echo "FAIL: type $3" >&2; exit 1; }
  case ",$4," in *,allow_other,*) ;; *) echo "FAIL: allow_other not passed: $4" >&2; exit 1 ;; esac
  findmnt -t fuse.ssefs "$MNT" >/dev/null || { echo "FAIL: findmnt -t fuse.ssefs" >&2; exit 1; }
  dd if="$WORK/data" of="$MNT/disks/d1" bs=1M conv=notrunc,fsync status=none
  a=$(sha256sum <"$WORK/data")
  b=$(head -c $((8 << 20)) "$MNT/disks/d1" | sha256sum)
  [ "$a" = "$b" ] || { echo "FAIL: read back differs" >&2; exit 1; }
  umount "$MNT"
  ! grep -q " $MNT " /proc/mounts || { echo "FAIL: still mounted" >&2; exit 1; }
'
wait_until daemon_gone || fail "the daemon did not exit after umount"
[ ! -e "$SSEFS_STORE/daemon.sock" ] || fail "daemon.sock left behind"
# The data went through the mount into the store: read it again from a fresh mount.
mount_store
cmp <(head -c $((8 << 20)) "$MNT/disks/d1") "$WORK/data" || fail "data lost after umount"
unmount_store

case_ "without our helper, fuse3's mount.fuse runs 'ssefs SOURCE MOUNTPOINT -o ...' from PATH: that works too"
[ -x /sbin/mount.fuse ] || fail "/sbin/mount.fuse missing (fuse3)"
[ ! -e /sbin/mount.fuse.ssefs ] || fail "/sbin/mount.fuse.ssefs is installed on this machine: this case needs it absent"
# mount(8) gives helpers a fixed PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:
# /bin): the installed binary joins /usr/bin through an overlay, in a private namespace.
unshare -m --propagation private env WORK="$WORK" MNT="$MNT" PREFIX="$PREFIX" STORE="$SSEFS_STORE" bash -euo pipefail -c '
  trap "grep -q \" \$MNT \" /proc/mounts && umount -l \"\$MNT\"" EXIT
  mount -t overlay ssefs-test-bin -o "lowerdir=$PREFIX/usr/bin:/usr/bin" /usr/bin
  mount -t fuse.ssefs "ssefs:$STORE" "$MNT" -o caching=None
  line=$(grep " $MNT " /proc/mounts)
  set -- $line
  [ "$1" = "ssefs:$STORE" ] && [ "$3" = fuse.ssefs ] || { echo "FAIL: $line" >&2; exit 1; }
  case ",$4," in *,nosuid,*nodev,*) ;; *) echo "FAIL: not nosuid,nodev: $4" >&2; exit 1 ;; esac
  cmp <(head -c $((8 << 20)) "$MNT/disks/d1") "$WORK/data" || { echo "FAIL: data differs" >&2; exit 1; }
  umount "$MNT"
'
wait_until daemon_gone || fail "the daemon did not exit after umount"

case_ "a bad fstab option fails the mount with the option named, and mounts nothing"
printf '%s %s fuse.ssefs ro,caching=ReadOnly 0 0\n' "$SSEFS_STORE" "$MNT" >"$WORK/fstab-bad"
set +e
out=$(unshare -m --propagation private env WORK="$WORK" MNT="$MNT" HELPERS="$HELPERS" bash -euo pipefail -c '
  mount -t overlay ssefs-test-helpers -o "lowerdir=$HELPERS:/usr/sbin" /usr/sbin
  mount -T "$WORK/fstab-bad" "$MNT"' 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "mounted with an unsupported option"
echo "$out" | grep -q "(NotSupported).*'ro'" || fail "$out"
daemon_gone || fail "a daemon started"

case_ "sd_notify: READY=1 reaches NOTIFY_SOCKET once the mount serves, not before"
cat >"$WORK/notify.py" <<'PY'
import os, socket, sys
path, mnt = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(60)  # a bound for a hung daemon, not a timing assumption
print("listening", flush=True)
msg = s.recv(4096).decode()
with open("/proc/mounts") as f:
    mounted = any(l.split()[1] == mnt and l.split()[2] == "fuse.ssefs" for l in f)
disks = os.listdir(mnt + "/disks") if mounted else []
print(repr(msg), "mounted" if mounted else "NOT mounted", disks, flush=True)
PY
coproc NOTIFY { python3 "$WORK/notify.py" "$WORK/notify.sock" "$MNT"; }
read -r line <&"${NOTIFY[0]}"
assert_eq "$line" listening "listener"
NOTIFY_SOCKET=$WORK/notify.sock "$SSEFS" mount "$MNT" --foreground 2>"$WORK/fg.log" &
fg_pid=$!
read -r said <&"${NOTIFY[0]}" || fail "no message on NOTIFY_SOCKET: $(cat "$WORK/fg.log")"
echo "$said" | grep -q "READY=1" || fail "not READY=1: $said"
echo "$said" | grep -q "mounted \['d1'\]" || fail "READY=1 before the mount served: $said"
"$SSEFS" unmount "$MNT"
wait "$fg_pid" || fail "the foreground daemon exited with $?: $(cat "$WORK/fg.log")"
not_mounted || fail "still mounted"

echo "ok: $(basename "$0")"
