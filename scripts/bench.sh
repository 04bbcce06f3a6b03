#!/usr/bin/env bash
# Measures ssefs side by side with the alternatives on this machine, in one run, and prints one
# table (MB/s, IOPS, seconds, ratios). Installs what it needs when missing. Root, /dev/fuse.
#
#   scripts/bench.sh [--quick] [--json FILE] [--dir DIR]
#
# --quick runs one repetition with shorter fio runs (for a smoke test); the README's figures
# come from the default (median of 3). DIR (default target/bench) must be on the filesystem to
# compare with; everything made there is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v fio >/dev/null || need+=(fio)
command -v gocryptfs >/dev/null || need+=(gocryptfs)
command -v softhsm2-util >/dev/null || need+=(softhsm2)
command -v qemu-storage-daemon >/dev/null || need+=(qemu-utils)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
if dmsetup targets 2>/dev/null | grep -q '^crypt'; then
  command -v cryptsetup >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cryptsetup
fi
# gocryptfs (go-fuse) looks for "fusermount"; Debian ships fuse3's "fusermount3".
command -v fusermount3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3
command -v fusermount >/dev/null || ln -sf "$(command -v fusermount3)" /usr/local/bin/fusermount
cargo build --release --quiet --bin ssefs --example xts_speed
exec python3 scripts/bench.py "$@"
