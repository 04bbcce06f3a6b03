#!/usr/bin/env bash
# FUSE over io_uring vs /dev/fuse on this machine, measured with libfuse's own example daemon
# (passthrough_hp), so that the figure is the transport's and not ssefs's. Root; fio.
#
#   scripts/bench-uring.sh LIBFUSE_BUILD_DIR [DIR]
#
# LIBFUSE_BUILD_DIR is a meson build directory of libfuse >= 3.18 configured with
# -Denable-io-uring=true (needs liburing-dev and libnuma-dev); this script fetches and builds
# nothing itself. The README ("FUSE over io_uring") says how the figures there were made:
#
#   git clone https://github.com/libfuse/libfuse && cd libfuse && git checkout fuse-3.18.2
#   meson setup build -Denable-io-uring=true -Dexamples=true -Dtests=false && ninja -C build
#
# The same daemon, with the same options (-o io_uring, --nopassthrough so that reads and writes
# reach the daemon, --direct-io so that the page cache does not answer for it, --nosplice because
# ssefs cannot splice ciphertext), is mounted with /sys/module/fuse/parameters/enable_uring = N
# and = Y in turn; the kernel's switch is the only difference. Per round: 1 GiB dd bs=1M
# write+fsync, 1 GiB dd bs=1M read after dropping caches, fio 4 KiB randread and randwrite,
# iodepth 16, direct, on a 512 MiB file. REPS rounds (default 3), medians printed. The old value
# of enable_uring is restored on exit, whatever happens. Each mount is checked: with Y the daemon
# must hold one io_uring ring per CPU whose completion counters (fdinfo CqHead) grew during the
# round, with N it must hold none; otherwise the script fails rather than print a misleading
# figure.
# DIR (default /var/tmp) is where the scratch directory is made; it is removed at the end.
set -euo pipefail
B=${1:?usage: scripts/bench-uring.sh LIBFUSE_BUILD_DIR [DIR]}
B=$(cd "$B" && pwd)
HP=$B/example/passthrough_hp
PARAM=/sys/module/fuse/parameters/enable_uring
REPS=${REPS:-3}
RUNTIME=${RUNTIME:-8}
[ "$(id -u)" = 0 ] || { echo "bench-uring: needs root (enable_uring, drop_caches)" >&2; exit 1; }
[ -x "$HP" ] || { echo "bench-uring: no $HP (libfuse built with -Dexamples=true?)" >&2; exit 1; }
[ -w "$PARAM" ] || { echo "bench-uring: no $PARAM (kernel without CONFIG_FUSE_IO_URING?)" >&2; exit 1; }
command -v fio >/dev/null || { echo "bench-uring: needs fio (apt-get install fio)" >&2; exit 1; }
W=$(mktemp -d "${2:-/var/tmp}/ssefs-bench-uring.XXXXXX")
OLD=$(cat "$PARAM")
PID=
cleanup() {
  set +e
  mountpoint -q "$W/mnt" && umount "$W/mnt"
  [ -n "$PID" ] && wait "$PID"
  echo "$OLD" >"$PARAM"
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/src" "$W/mnt"

# Sum of the completion-queue heads of the daemon's io_uring rings (one ring per CPU queue).
cq_total() {
  local total=0 fd h
  for fd in /proc/"$PID"/fd/*; do
    [ "$(readlink "$fd")" = "anon_inode:[io_uring]" ] || continue
    h=$(awk '/^CqHead:/{print $2}' /proc/"$PID"/fdinfo/"${fd##*/}")
    total=$((total + h))
  done
  echo "$total"
}
rings() { local n=0 fd; for fd in /proc/"$PID"/fd/*; do [ "$(readlink "$fd")" = "anon_inode:[io_uring]" ] && n=$((n + 1)); done; echo "$n"; }

mount_hp() {
  echo "$1" >"$PARAM"
  LD_LIBRARY_PATH=$B/lib "$HP" --foreground --nopassthrough --nosplice --direct-io -o io_uring \
    "$W/src" "$W/mnt" 2>"$W/hp.log" &
  PID=$!
  for _ in $(seq 100); do mountpoint -q "$W/mnt" && return 0; sleep 0.1; done
  echo "bench-uring: passthrough_hp did not mount:" >&2; cat "$W/hp.log" >&2; exit 1
}
unmount_hp() { umount "$W/mnt"; wait "$PID"; PID=; }
secs() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$@"; }
fio_iops() {
  fio --name=b --filename="$W/mnt/r" --rw="$1" --bs=4k --ioengine=libaio --iodepth=16 --direct=1 \
    --size=512M --runtime="$RUNTIME" --time_based --output-format=json |
    python3 -c "import json, sys; j = json.load(sys.stdin)['jobs'][0]; print('%.0f' % (j['read']['iops'] + j['write']['iops']))"
}

# The fio file is laid out once, through a plain mount, so every round reads the same data.
head -c 536870912 /dev/urandom >"$W/src/r"
: >"$W/results"
for rep in $(seq "$REPS"); do
  for t in N Y; do
    mount_hp "$t"
    c0=$(cq_total)
    t0=$(date +%s.%N)
    dd if=/dev/zero of="$W/mnt/f" bs=1M count=1024 conv=fsync status=none
    t1=$(date +%s.%N)
    sync; echo 3 >/proc/sys/vm/drop_caches
    t2=$(date +%s.%N)
    dd if="$W/mnt/f" of=/dev/null bs=1M status=none
    t3=$(date +%s.%N)
    rr=$(fio_iops randread)
    rw=$(fio_iops randwrite)
    c1=$(cq_total)
    n=$(rings)
    # libfuse makes one queue per configured CPU, and the kernel needs them all before it
    # switches a connection to the rings.
    if [ "$t" = Y ] && { [ "$n" -ne "$(getconf _NPROCESSORS_CONF)" ] || [ "$((c1 - c0))" -lt 1000 ]; }; then
      echo "bench-uring: enable_uring=Y but the requests did not go through io_uring ($n rings, $((c1 - c0)) completions)" >&2
      exit 1
    fi
    if [ "$t" = N ] && [ "$n" -ne 0 ]; then
      echo "bench-uring: enable_uring=N but the daemon holds $n io_uring rings" >&2
      exit 1
    fi
    unmount_hp
    echo "$t $(secs "$t0" "$t1") $(secs "$t2" "$t3") $rr $rw $n $((c1 - c0))" | tee -a "$W/results"
  done
done
python3 - "$W/results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(t, i):
    return statistics.median(float(r[i]) for r in rows if r[0] == t)
gib = 1073741824 / 1e6
cols = [("dd write+fsync MB/s", lambda t: gib / med(t, 1)),
        ("dd cold read MB/s", lambda t: gib / med(t, 2)),
        ("fio 4k randread IOPS", lambda t: med(t, 3)),
        ("fio 4k randwrite IOPS", lambda t: med(t, 4))]
print("| passthrough_hp (libfuse 3.18) | " + " | ".join(c for c, _ in cols) + " |")
print("| --- |" + " --- |" * len(cols))
for t, name in (("N", "/dev/fuse (enable_uring=N)"), ("Y", "io_uring (enable_uring=Y)")):
    print(f"| {name} | " + " | ".join("%.0f" % f(t) for _, f in cols) + " |")
print("| io_uring / /dev/fuse | " + " | ".join("%.2fx" % (f("Y") / f("N")) for _, f in cols) + " |")
y = [r for r in rows if r[0] == "Y"]
print(f"(io_uring rings per mount: {y[0][5]}; ring completions per round: "
      + ", ".join(r[6] for r in y) + ")")
EOF
