#!/usr/bin/env bash
# Where the time goes in the worst remaining case (4 KiB random reads, fio iodepth 16, direct,
# caching None): a system-wide `perf record` (software clock: this machine has no hardware
# counters) while fio runs against a disk in a release-build mount, then the top symbols of
# the daemon's threads and of fio (kernel included). Root. The README's profile comes from it.
#
#   scripts/profile.sh [SECONDS]    (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
command -v perf >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf; }
command -v fio >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio; }
cargo build --release --quiet --bin ssefs
S=$PWD/target/release/ssefs
W=$(mktemp -d /tmp/ssefs-profile.XXXXXX)
export SSEFS_STORE=$W/store
mkdir -p "$W/mnt"
cleanup() {
  set +e
  "$S" unmount "$W/mnt" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
"$S" group create -n rg -l eastus -o none
"$S" disk create -n d -g rg --size-gb 1 -o none
"$S" mount "$W/mnt"
# Written first, so that reads decrypt real sectors rather than holes.
dd if=/dev/urandom of="$W/mnt/disks/d" bs=1M count=512 conv=notrunc,fsync status=none
perf record -a -g -F 999 -o "$W/perf.data" -- \
  fio --name=randread --filename="$W/mnt/disks/d" --rw=randread --bs=4k --iodepth=16 \
    --ioengine=libaio --direct=1 --size=512M --runtime="$seconds" --time_based \
    --output="$W/fio.txt" >/dev/null 2>&1
grep -E "IOPS=" "$W/fio.txt" | head -1
# The daemon's request threads are fuser-0..N: counted together as "fuser-*".
perf report -i "$W/perf.data" --no-children --sort comm,dso,sym --stdio -g none 2>/dev/null \
  | grep -E '^ +[0-9]' | sed -E 's/ fuser-[0-9]+ / fuser-* /' >"$W/samples" || true
echo "--- share of samples by command (other processes on the machine included)"
awk '{sub("%", "", $1); share[$2] += $1} END {for (c in share) printf "%7.2f%%  %s\n", share[c], c}' "$W/samples" | sort -rn | sed -n 1,6p
for who in fuser-* fio; do
  echo "--- top symbols of $who ([k] kernel, [.] user space)"
  awk -v who="$who" '$2 == who {sub("%", "", $1); key = $4 " " $5; for (i = 6; i <= NF; i++) key = key " " $i; share[key] += $1}
    END {for (k in share) printf "%7.2f%%  %s\n", share[k], k}' "$W/samples" | sort -rn | sed -n 1,15p
done
