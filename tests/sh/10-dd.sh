#!/usr/bin/env bash
# A disk file behaves like a block device for dd: data round trips, unaligned writes, the
# fixed size, O_DIRECT, snapshots, and no plaintext in the store.
. "$(dirname "$0")/lib.sh"

ssefs disk create -n d1 -g rg --size-gb 1 -o none
mount_store
DISK=$MNT/disks/d1

case_ "64 MiB of random data written with dd reads back with the same sha256"
head -c $((64 << 20)) /dev/urandom >"$WORK/random"
dd if="$WORK/random" of="$DISK" bs=1M conv=fsync status=none
want=$(sha256sum <"$WORK/random" | cut -d' ' -f1)
got=$(head -c $((64 << 20)) "$DISK" | sha256sum | cut -d' ' -f1)
assert_eq "$got" "$want" "64 MiB round trip"
assert_eq "$(stat -c %s "$DISK")" $((1 << 30)) "size unchanged by dd (O_TRUNC ignored)"

case_ "unaligned writes match the same writes to a plain file"
head -c $((8 << 20)) "$DISK" >"$WORK/model"
for spec in "512 1 3" "512 7 9" "4095 1 2" "1000 3 17" "1 4095 2" "4097 5 3" "12345 2 1" "512 8191 16"; do
  set -- $spec
  head -c $(($1 * $3)) /dev/urandom >"$WORK/chunk"
  dd if="$WORK/chunk" of="$DISK" bs="$1" seek="$2" count="$3" conv=notrunc,fsync status=none
  dd if="$WORK/chunk" of="$WORK/model" bs="$1" seek="$2" count="$3" conv=notrunc status=none
done
cmp <(head -c $((8 << 20)) "$DISK") "$WORK/model" || fail "unaligned writes differ from the model"

case_ "unaligned reads of every size up to 1 MiB match the plain file"
# Over io_uring a read is decrypted in the ring entry and moved into place when it does not
# start on a sector (src/fs/ring.rs); over /dev/fuse it is sent from the sector buffer.
python3 - "$DISK" "$WORK/model" <<'PY' || fail "an unaligned read differs from the model"
import os, random, sys
disk, model = os.open(sys.argv[1], os.O_RDONLY), open(sys.argv[2], "rb").read()
rng = random.Random(1619)
cases = [(1, 1), (4095, 2), (4097, 4096), (512, 1 << 20), (1, (1 << 20) - 1), (4096, 1 << 20)]
cases += [(rng.randrange(len(model) - (1 << 20)), rng.randrange(1, 1 << 20)) for _ in range(200)]
for offset, length in cases:
    got = os.pread(disk, length, offset)
    assert got == model[offset:offset + length], f"read of {length} at {offset}"
PY

case_ "8 writers updating different 512-byte slots of the same sectors at once lose nothing"
python3 - "$DISK" <<'PY'
import os, sys
from multiprocessing import Process
path, sectors, rounds, base = sys.argv[1], 4, 400, 300 << 20
def writer(slot):
    fd = os.open(path, os.O_WRONLY)
    for round in range(rounds):
        for s in range(sectors):
            os.pwrite(fd, bytes([(slot * 16 + round) % 256]) * 512, base + s * 4096 + slot * 512)
    os.close(fd)
procs = [Process(target=writer, args=(i,)) for i in range(8)]
for p in procs: p.start()
for p in procs: p.join()
fd = os.open(path, os.O_RDONLY)
data = os.pread(fd, sectors * 4096, base)
for s in range(sectors):
    for slot in range(8):
        piece = data[s * 4096 + slot * 512: s * 4096 + (slot + 1) * 512]
        assert piece == bytes([(slot * 16 + rounds - 1) % 256]) * 512, f"sector {s} slot {slot} lost its last write"
PY

case_ "O_DIRECT reads and writes"
dd if="$WORK/random" of="$DISK" bs=1M count=8 seek=100 oflag=direct conv=notrunc status=none
cmp <(dd if="$DISK" bs=1M skip=100 count=8 iflag=direct status=none) <(head -c $((8 << 20)) "$WORK/random") \
  || fail "O_DIRECT round trip"

case_ "writing past the end fails with ENOSPC; truncating is refused with EPERM"
if dd if=/dev/zero of="$DISK" bs=4096 seek=$(((1 << 30) / 4096)) count=1 conv=notrunc status=none 2>"$WORK/err"; then
  fail "write past the end succeeded"
fi
grep -q "No space left on device" "$WORK/err" || fail "expected ENOSPC: $(cat "$WORK/err")"
if truncate -s 10M "$DISK" 2>"$WORK/err"; then fail "truncate succeeded"; fi
grep -q "Operation not permitted" "$WORK/err" || fail "expected EPERM: $(cat "$WORK/err")"
assert_eq "$(stat -c %s "$DISK")" $((1 << 30)) "size after refused truncate"

case_ "a snapshot equals the disk at snapshot time, and is read-only"
ssefs snapshot create -n s1 -g rg --source d1 -o none
ls "$MNT/snapshots" | grep -qx s1 || fail "snapshot not visible in the mount at once"
before=$(head -c $((64 << 20)) "$DISK" | sha256sum | cut -d' ' -f1)
dd if=/dev/urandom of="$DISK" bs=1M count=4 conv=notrunc,fsync status=none
snap=$(head -c $((64 << 20)) "$MNT/snapshots/s1" | sha256sum | cut -d' ' -f1)
assert_eq "$snap" "$before" "snapshot content"
if dd if=/dev/zero of="$MNT/snapshots/s1" bs=4096 count=1 conv=notrunc status=none 2>"$WORK/err"; then
  fail "writing a snapshot succeeded"
fi
grep -q "Read-only file system" "$WORK/err" || fail "expected EROFS: $(cat "$WORK/err")"

case_ "a recognisable pattern written through the mount is in no file of the store"
marker="SSEFS-TEST-MARKER-$(date +%s%N)"
{ yes "$marker" || true; } | head -c $((1 << 20)) | dd of="$DISK" bs=1M seek=200 conv=notrunc,fsync status=none
grep -q "$marker" "$DISK" || fail "marker not readable through the mount"
if grep -rl --binary-files=text "$marker" "$SSEFS_STORE"; then fail "plaintext found in the store"; fi

unmount_store
echo "ok"
