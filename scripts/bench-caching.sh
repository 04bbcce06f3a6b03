#!/usr/bin/env bash
# Host caching side by side (`ssefs mount --caching None`, `ReadOnly`, `ReadWrite`), release build,
# root:
#  1. dd bs=1M of a 1 GiB disk: cold read (caches dropped) and write+fsync, two runs each;
#  2. ext4 on a loop device over a 2 GiB disk: write 128 files of 4 MiB, sync, then read them
#     back after dropping caches, two runs each.
# The figures in the README ("Host caching") come from this script.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin ssefs
S=$PWD/target/release/ssefs
W=$(mktemp -d /tmp/ssefs-bench-caching.XXXXXX)
export SSEFS_STORE=$W/store
mkdir -p "$W/mnt" "$W/fs"
LOOP=
cleanup() {
  set +e
  mountpoint -q "$W/fs" && umount "$W/fs"
  [ -n "$LOOP" ] && losetup -d "$LOOP"
  "$S" unmount "$W/mnt" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
rate() { python3 -c "import sys; print('%.0f MB/s' % (float(sys.argv[1]) / 1e6 / (float(sys.argv[3]) - float(sys.argv[2]))))" "$@"; }

"$S" group create -n rg -l eastus -o none
"$S" disk create -n d -g rg --size-gb 1 -o none
"$S" disk create -n e -g rg --size-gb 2 -o none
"$S" mount "$W/mnt"
dd if=/dev/urandom of="$W/mnt/disks/d" bs=1M count=1024 conv=notrunc,fsync status=none
"$S" unmount "$W/mnt"
head -c 536870912 /dev/urandom >"$W/src.bin"

# "None-RA" is None with ssefs's read-ahead turned on (SSEFS_READAHEAD=on).
for mode in None None-RA ReadOnly ReadWrite None None-RA ReadOnly ReadWrite; do
  if [ "$mode" = None-RA ]; then
    SSEFS_READAHEAD=on "$S" mount "$W/mnt" --caching None
  else
    "$S" mount "$W/mnt" --caching "$mode"
  fi
  sync; echo 3 >/proc/sys/vm/drop_caches
  t0=$(date +%s.%N); dd if="$W/mnt/disks/d" of=/dev/null bs=1M status=none; t1=$(date +%s.%N)
  dd if=/dev/zero of="$W/mnt/disks/d" bs=1M count=1024 conv=notrunc,fsync status=none; t2=$(date +%s.%N)
  echo "$mode: dd cold read $(rate 1073741824 "$t0" "$t1"), write+fsync $(rate 1073741824 "$t1" "$t2")"
  LOOP=$(losetup --find --show "$W/mnt/disks/e")
  mkfs.ext4 -q -F "$LOOP"
  mount "$LOOP" "$W/fs"
  sync; echo 3 >/proc/sys/vm/drop_caches
  t0=$(date +%s.%N)
  for i in $(seq 0 127); do
    dd if="$W/src.bin" of="$W/fs/f$i" bs=1M skip=$((i * 4)) count=4 status=none
  done
  sync
  t1=$(date +%s.%N)
  umount "$W/fs"; sync; echo 3 >/proc/sys/vm/drop_caches; mount "$LOOP" "$W/fs"
  t2=$(date +%s.%N); cat "$W"/fs/f* >/dev/null; t3=$(date +%s.%N)
  umount "$W/fs"; losetup -d "$LOOP"; LOOP=
  "$S" unmount "$W/mnt"
  echo "$mode: ext4 on loop, write files $(rate 536870912 "$t0" "$t1"), read back $(rate 536870912 "$t2" "$t3")"
done
