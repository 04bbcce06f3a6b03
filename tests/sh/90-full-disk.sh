#!/usr/bin/env bash
# The store on a small filesystem: writes that run out of space fail with ENOSPC, no metadata
# is damaged, and everything works again once space is freed.
. "$(dirname "$0")/lib.sh"

case_ "a store on a 96 MiB filesystem"
truncate -s 96M "$WORK/small.img"
mkfs.ext4 -q -F "$WORK/small.img"
attach_loop "$WORK/small.img"
dev=$LOOP
mount_inner "$dev" "$WORK/small"
export SSEFS_STORE="$WORK/small/store"
ssefs disk create -n d -g rg --size-gb 1 -o none
ssefs disk create -n keep -g rg --size-gb 1 -o none
mount_store

case_ "filling it: the write fails with ENOSPC"
if dd if=/dev/urandom of="$MNT/disks/d" bs=1M count=200 conv=notrunc,fsync status=none 2>"$WORK/err"; then
  fail "wrote 200 MiB into a 96 MiB filesystem"
fi
grep -q "No space left on device" "$WORK/err" || fail "expected ENOSPC: $(cat "$WORK/err")"

case_ "a metadata change on the full store fails cleanly and damages nothing"
if ssefs disk create -n more -g rg --size-gb 1 -o none 2>"$WORK/err"; then
  echo "      (the create fitted)"
else
  grep -q "No space left on device" "$WORK/err" || fail "unclear: $(cat "$WORK/err")"
fi
unmount_store
ssefs check >"$WORK/check" || fail "metadata damaged: $(cat "$WORK/check")"

case_ "once space is freed (a discard through the mount), everything works again"
mount_store
fallocate --punch-hole --keep-size --offset 0 --length $((80 << 20)) "$MNT/disks/d"
head -c $((8 << 20)) /dev/urandom >"$WORK/data"
dd if="$WORK/data" of="$MNT/disks/keep" bs=1M conv=notrunc,fsync status=none
cmp <(head -c $((8 << 20)) "$MNT/disks/keep") "$WORK/data" || fail "data after freeing space"
ssefs disk create -n after -g rg --size-gb 1 -o none
ls "$MNT/disks" | grep -qx after || fail "new disk not visible"
unmount_store
ssefs check >/dev/null || fail "check after recovery"
echo "ok"
