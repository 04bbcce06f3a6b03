#!/usr/bin/env bash
# kill -9 of the daemon: the stale mount point can be unmounted, the store mounted again, and
# everything that was synced is intact.
. "$(dirname "$0")/lib.sh"

ssefs disk create -n d1 -g rg --size-gb 1 -o none
mount_store

case_ "synced data survives kill -9 of the daemon"
head -c $((16 << 20)) /dev/urandom >"$WORK/data"
dd if="$WORK/data" of="$MNT/disks/d1" bs=1M conv=fsync status=none
pid=$(pgrep -f "ssefs mount $MNT")
kill -9 "$pid"
wait_until daemon_gone || fail "kill -9 did not end the daemon"

case_ "the stale mount point is reported, unmounted, and the store mounted again"
if ls "$MNT/disks" 2>/dev/null; then fail "stale mount still answers"; fi
if ssefs mount "$MNT" 2>"$WORK/err"; then fail "mounted over a stale mount"; fi
grep -qi "stale\|already has an ssefs mount" "$WORK/err" || fail "unclear: $(cat "$WORK/err")"
unmount_store
mount_store
cmp <(head -c $((16 << 20)) "$MNT/disks/d1") "$WORK/data" || fail "synced data lost"

unmount_store
echo "ok"
