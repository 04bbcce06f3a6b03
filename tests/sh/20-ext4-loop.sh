#!/usr/bin/env bash
# ext4 on a loop device over a disk file: a tree of files survives unmounting everything and
# mounting it all again, with buffered and with direct-I/O loop devices; fstrim gives the
# space back to the store.
. "$(dirname "$0")/lib.sh"

ssefs disk create -n fs1 -g rg --size-gb 1 -o none
ssefs disk create -n fs2 -g rg --size-gb 1 -o none
mount_store

make_tree() { # make_tree DIR: files of mixed sizes, and a manifest of their checksums
  local dir=$1
  mkdir -p "$dir/a/b/c" "$dir/d"
  for i in $(seq 1 20); do head -c $((i * 3000 + 7)) /dev/urandom >"$dir/a/small-$i"; done
  for i in 1 2 3; do head -c $((i * 5 << 20)) /dev/urandom >"$dir/a/b/big-$i"; done
  echo "hello, encrypted world" >"$dir/a/b/c/hello.txt"
  head -c 123457 /dev/urandom >"$dir/d/odd"
  (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$WORK/manifest-$2"
}
verify_tree() { (cd "$1" && sha256sum --quiet -c "$WORK/manifest-$2") || fail "files differ in $1"; }

for variant in buffered direct; do
  disk=fs1
  opts=()
  if [ $variant = direct ]; then disk=fs2; opts=(--direct-io=on); fi

  case_ "$variant loop: mkfs.ext4, mount, write a tree of files"
  attach_loop "$MNT/disks/$disk" "${opts[@]}"
  dev=$LOOP
  mkfs.ext4 -q -F "$dev"
  mount_inner "$dev" "$WORK/fs-$variant"
  make_tree "$WORK/fs-$variant" $variant
  umount_inner "$WORK/fs-$variant"
  detach_loop "$dev"

  case_ "$variant loop: unmount ssefs, mount again, loop-mount again, every file intact"
  unmount_store
  mount_store
  attach_loop "$MNT/disks/$disk" "${opts[@]}"
  dev=$LOOP
  mount_inner "$dev" "$WORK/fs-$variant"
  verify_tree "$WORK/fs-$variant" $variant
  umount_inner "$WORK/fs-$variant"
  detach_loop "$dev"
done

case_ "fstrim on the loop-mounted filesystem reduces the data file's allocated blocks"
attach_loop "$MNT/disks/fs1"
dev=$LOOP
mount_inner "$dev" "$WORK/trim"
head -c $((64 << 20)) /dev/urandom >"$WORK/trim/filler"
sync
full=$(allocated "$SSEFS_STORE/disks/fs1/data")
rm -f "$WORK/trim/filler" "$WORK/trim/a/b/big-"*
sync
fstrim "$WORK/trim"
sync
trimmed=$(allocated "$SSEFS_STORE/disks/fs1/data")
echo "      allocated before $full, after fstrim $trimmed"
[ "$trimmed" -lt $((full - (60 << 20))) ] || fail "fstrim gave back too little ($full -> $trimmed)"
verify_small() { (cd "$1" && sha256sum --quiet -c <(grep -v big- "$WORK/manifest-buffered")) || fail "files damaged by fstrim"; }
verify_small "$WORK/trim"
umount_inner "$WORK/trim"
detach_loop "$dev"

unmount_store
echo "ok"
