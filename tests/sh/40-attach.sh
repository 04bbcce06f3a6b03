#!/usr/bin/env bash
# An open disk file counts as attached; the daemon owns the store while mounted, so CLI
# changes appear in the mount at once; a second mount of the same store is refused.
. "$(dirname "$0")/lib.sh"

ssefs disk create -n d1 -g rg --size-gb 1 -o none
mount_store

case_ "a disk open in the mount is Attached with managedBy set, Unattached after close"
assert_eq "$(ssefs disk show -n d1 --query diskState -o tsv)" Unattached
exec 7<>"$MNT/disks/d1"
assert_eq "$(ssefs disk show -n d1 --query diskState -o tsv)" Attached
ssefs disk show -n d1 --query managedBy -o tsv | grep -q "/virtualMachines/" || fail "managedBy not set"

case_ "deleting or re-keying an attached disk is refused; after close it is allowed"
if ssefs disk delete -n d1 2>"$WORK/err"; then fail "deleted an attached disk"; fi
grep -q "is attached" "$WORK/err" || fail "unclear refusal: $(cat "$WORK/err")"
if ssefs disk update -n d1 --size-gb 2 2>"$WORK/err"; then fail "resized an attached disk"; fi
grep -q "is attached" "$WORK/err" || fail "unclear refusal: $(cat "$WORK/err")"
exec 7>&-
# The kernel sends the release of a closed file asynchronously: wait for it (bounded).
disk_state_is() { [ "$(ssefs disk show -n "$1" --query diskState -o tsv)" = "$2" ]; }
wait_until disk_state_is d1 Unattached || fail "d1 still attached after close"
ssefs disk delete -n d1

case_ "disks created, grown and deleted with the CLI appear in the mount at once"
[ ! -e "$MNT/disks/d1" ] || fail "deleted disk still in the mount"
ssefs disk create -n d2 -g rg --size-gb 1 -o none
assert_eq "$(stat -c %s "$MNT/disks/d2")" $((1 << 30)) "new disk size"
ssefs disk update -n d2 --size-gb 2 -o none
assert_eq "$(stat -c %s "$MNT/disks/d2")" $((2 << 30)) "grown disk size"

case_ "a second mount of the same store is refused with a clear message"
mkdir -p "$WORK/mnt2"
if ssefs mount "$WORK/mnt2" 2>"$WORK/err"; then fail "second mount succeeded"; fi
grep -q "already mounted at $MNT" "$WORK/err" || fail "unclear refusal: $(cat "$WORK/err")"

case_ "unmount, umount(8) and SIGTERM all stop the daemon cleanly"
unmount_store
! grep -q " $MNT " /proc/mounts || fail "still mounted after ssefs unmount"
mount_store
umount "$MNT"
wait_until daemon_gone || fail "daemon still running after umount"
mount_store
pkill -TERM -f "ssefs mount $MNT"
wait_until not_mounted || fail "still mounted after SIGTERM"
wait_until daemon_gone || fail "daemon still running after SIGTERM"
ssefs disk show -n d2 -o none # the store is usable without the daemon again

echo "ok"
