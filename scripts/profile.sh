#!/usr/bin/env bash
# Where the time goes in a workload through a release-build mount (caching None): a
# system-wide `perf record` (software clock: this machine has no hardware counters) while it
# runs, then the top symbols of the daemon's request threads and of the client (kernel
# included). Root. The README's profiles come from it.
#
#   scripts/profile.sh [randread|coldread] [SECONDS]    (default randread, 15 s)
#
# randread: fio 4 KiB random reads, iodepth 16, direct. coldread: `dd bs=1M` of the whole
# disk, the host's caches dropped before each pass. SSEFS_PROFILE_TRANSPORT=io-uring mounts
# over FUSE over io_uring (the kernel's switch is set for the mount and put back).
set -euo pipefail
cd "$(dirname "$0")/.."
workload=${1:-randread}
seconds=${2:-15}
transport=${SSEFS_PROFILE_TRANSPORT:-dev-fuse}
case $workload in randread | coldread) ;; *) echo "usage: $0 [randread|coldread] [SECONDS]" >&2; exit 2 ;; esac
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
URING=/sys/module/fuse/parameters/enable_uring
if [ "$transport" = io-uring ]; then
  was=$(cat "$URING")
  echo Y >"$URING"
  "$S" mount "$W/mnt" --transport io-uring || { echo "$was" >"$URING"; exit 1; }
  echo "$was" >"$URING"
else
  "$S" mount "$W/mnt" --transport dev-fuse
fi
# Written first, so that reads decrypt real sectors rather than holes.
dd if=/dev/urandom of="$W/mnt/disks/d" bs=1M count=512 conv=notrunc,fsync status=none
if [ "$workload" = randread ]; then
  client=fio
  perf record -a -g -F 999 -o "$W/perf.data" -- \
    fio --name=randread --filename="$W/mnt/disks/d" --rw=randread --bs=4k --iodepth=16 \
      --ioengine=libaio --direct=1 --size=512M --runtime="$seconds" --time_based \
      --output="$W/fio.txt" >/dev/null 2>&1
  grep -E "IOPS=" "$W/fio.txt" | head -1
else
  client=dd
  perf record -a -g -F 999 -o "$W/perf.data" -- bash -c '
    end=$((SECONDS + $1))
    while [ $SECONDS -lt $end ]; do
      sync; echo 3 >/proc/sys/vm/drop_caches
      dd if="$2" of=/dev/null bs=1M 2>&1 | tail -1
    done' _ "$seconds" "$W/mnt/disks/d"
fi
# The daemon's request threads are fuser-0..N (and ssefs-ring-Q-N over io_uring): counted
# together as "fuser-*" and "ssefs-ring-*".
perf report -i "$W/perf.data" --no-children --sort comm,dso,sym --stdio -g none 2>/dev/null \
  | grep -E '^ +[0-9]' | sed -E 's/ fuser-[0-9]+ / fuser-* /; s/ ssefs-ring-[0-9-]+ / ssefs-ring-* /' >"$W/samples" || true
echo "--- share of samples by command (other processes on the machine included)"
awk '{sub("%", "", $1); share[$2] += $1} END {for (c in share) printf "%7.2f%%  %s\n", share[c], c}' "$W/samples" | sort -rn | sed -n 1,6p
for who in fuser-* ssefs-ring-* "$client"; do
  grep -qF " $who " "$W/samples" || continue
  echo "--- top symbols of $who ([k] kernel, [.] user space)"
  awk -v who="$who" '$2 == who {sub("%", "", $1); key = $4 " " $5; for (i = 6; i <= NF; i++) key = key " " $i; share[key] += $1}
    END {for (k in share) printf "%7.2f%%  %s\n", share[k], k}' "$W/samples" | sort -rn | sed -n 1,15p
done
