#!/usr/bin/env bash
# qemu-img converts an image straight into a disk file (-n: the target exists; O_TRUNC is
# ignored), and the disk then holds exactly the image's bytes.
. "$(dirname "$0")/lib.sh"

ssefs disk create -n vm -g rg --size-gb 1 -o none
mount_store

case_ "qemu-img convert -n -O raw of a qcow2 image into a disk equals the source"
head -c $((40 << 20)) /dev/urandom >"$WORK/src.raw"
truncate -s 1G "$WORK/src.raw"
qemu-img convert -f raw -O qcow2 "$WORK/src.raw" "$WORK/src.qcow2"
qemu-img convert -n -f qcow2 -O raw "$WORK/src.qcow2" "$MNT/disks/vm"
qemu-img compare -f raw -F raw "$WORK/src.raw" "$MNT/disks/vm" >/dev/null || fail "qemu-img compare differs"
cmp <(head -c $((40 << 20)) "$MNT/disks/vm") <(head -c $((40 << 20)) "$WORK/src.raw") || fail "bytes differ"

unmount_store
echo "ok"
