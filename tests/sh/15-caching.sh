#!/usr/bin/env bash
# Host caching (`ssefs mount --caching`): with None (the default) no page of a disk file is in
# the kernel's page cache, and ssefs's optional read-ahead never serves data after a write or
# a revocation; with ReadOnly reads fill the page cache while writes still reach the store before
# they return; with ReadWrite the writeback cache holds writes, which fsync and every snapshot
# write back first; in both cached modes a key disabled while a file is open makes every read
# fail at once, cached pages included. O_DIRECT opens and VM attachments choose for themselves.
. "$(dirname "$0")/lib.sh"


# reads_served FILE: reads the first MiB of FILE twice through one descriptor and prints how
# many read requests for that MiB the daemon served during the second one (its --debug log
# names each; read-ahead beyond the first MiB, which may still be arriving, is not counted).
reads_served() {
  python3 - "$1" "$SSEFS_STORE/daemon.log" <<'EOF'
import os, re, sys
disk, log = sys.argv[1:]
def first_mib_reads():
    return sum(1 for m in re.finditer(r": read \d+ at (\d+)", open(log).read()) if int(m.group(1)) < 1 << 20)
fd = os.open(disk, os.O_RDONLY)
os.pread(fd, 1 << 20, 0)
before = first_mib_reads()
os.pread(fd, 1 << 20, 0)
print(first_mib_reads() - before)
EOF
}

ssefs group create -n rg -l eastus -o none
ssefs keyvault create -n kv-cache -g rg --enable-purge-protection true -o none
ssefs keyvault key create --vault-name kv-cache -n k -o none
URL=$(ssefs keyvault key show --vault-name kv-cache -n k --query key.kid -o tsv)
ssefs disk-encryption-set create -n des -g rg --key-url "$URL" -o none
P=$(ssefs disk-encryption-set show -n des -g rg --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kv-cache --object-id "$P" --key-permissions get wrapkey unwrapkey -o none
ssefs disk create -n d -g rg --size-gb 1 --disk-encryption-set des -o none
head -c 16M /dev/urandom >"$WORK/data"

case_ "caching None (default): every read reaches the daemon (nothing is cached)"
mount_store --debug
dd if="$WORK/data" of="$MNT/disks/d" bs=1M conv=notrunc,fsync status=none
cmp <(head -c 16M "$MNT/disks/d") "$WORK/data" || fail "read back"
[ "$(reads_served "$MNT/disks/d")" -gt 0 ] || fail "a read was served from a cache with caching None"
unmount_store

case_ "caching None with SSEFS_READAHEAD=on reads ahead for a sequential reader, and never serves what was read ahead after a write or a revocation"
SSEFS_READAHEAD=on mount_store --debug
C=$MNT/.control
out=$(python3 - "$MNT/disks/d" "$C/keyvaults/kv-cache/keys/k/enabled" "$SSEFS_STORE/daemon.log" <<'EOF' 2>&1
import errno, os, sys
disk, enabled, log = sys.argv[1:]
M = 1 << 20
fd = os.open(disk, os.O_RDWR)
os.pread(fd, M, 0); os.pread(fd, M, M)           # sequential: the third MiB is read ahead
print("read ahead" if ": read ahead %d at %d" % (M, 2 * M) in open(log).read() else "NO READ-AHEAD")
other = os.open(disk, os.O_WRONLY)
os.pwrite(other, b"W" * M, 2 * M)                # changes what was read ahead
os.close(other)
print("fresh" if os.pread(fd, M, 2 * M) == b"W" * M else "STALE DATA")
os.pread(fd, M, 3 * M)                           # the fifth MiB is read ahead
with open(enabled, "w") as f:
    f.write("false\n")
try:
    os.pread(fd, M, 4 * M)
    print("READ AFTER REVOCATION")
except OSError as e:
    print("refused", errno.errorcode.get(e.errno, e.errno))
with open(enabled, "w") as f:
    f.write("true\n")
EOF
)
echo "$out" | grep -qx "read ahead" || { grep "read" "$SSEFS_STORE/daemon.log" | tail -12; fail "no read-ahead for a sequential reader: $out"; }
echo "$out" | grep -qx "fresh" || fail "data read ahead was served after a write: $out"
echo "$out" | grep -q "^refused EKEYREVOKED" || fail "data read ahead was served after revocation: $out"
dd if="$WORK/data" of="$MNT/disks/d" bs=1M conv=notrunc,fsync status=none
unmount_store

case_ "caching ReadOnly: reads are cached, writes reach the store before they return"
mount_store --caching ReadOnly --debug
cmp <(head -c 16M "$MNT/disks/d") "$WORK/data" || fail "read back"
assert_eq "$(reads_served "$MNT/disks/d")" 0 "reads the daemon served for a cached range"
printf 'written through' | dd of="$MNT/disks/d" bs=4096 seek=100 conv=notrunc status=none
# No fsync: the write returned, so the store has it. Prove it through a second mount of the
# data: unmount and read with caching None.
unmount_store
mount_store
assert_eq "$(dd if="$MNT/disks/d" bs=4096 skip=100 count=1 status=none | head -c 15)" "written through"
unmount_store

for mode in ReadOnly ReadWrite; do
case_ "caching $mode: a disabled key makes cached reads fail at once; enabled, they resume"
mount_store --caching $mode
C=$MNT/.control
out=$(python3 - "$MNT/disks/d" "$C/keyvaults/kv-cache/keys/k/enabled" <<'EOF' 2>&1
import errno, os, sys
disk, enabled = sys.argv[1:]
fd = os.open(disk, os.O_RDONLY)
first = os.pread(fd, 1 << 20, 0)          # fills the page cache
os.pread(fd, 1 << 20, 0)                  # served from it
with open(enabled, "w") as f:
    f.write("false\n")
try:
    os.pread(fd, 1 << 20, 0)
    print("READ AFTER REVOCATION")
except OSError as e:
    print("refused", errno.errorcode.get(e.errno, e.errno))
with open(enabled, "w") as f:
    f.write("true\n")
again = os.pread(fd, 1 << 20, 0)
print("resumed" if again == first else "DIFFERENT DATA")
EOF
)
echo "$out" | grep -q "READ AFTER REVOCATION" && fail "a cached page was read after the key was disabled"
echo "$out" | grep -q "^refused EKEYREVOKED" || fail "unexpected: $out"
echo "$out" | grep -qx "resumed" || fail "unexpected: $out"
unmount_store
done

case_ "caching ReadWrite: writes reach the store at fsync, and a snapshot (CLI or /.control) holds writes still in the host cache"
mount_store --caching ReadWrite
printf 'written back at fsync' | dd of="$MNT/disks/d" bs=4096 seek=200 conv=notrunc,fsync status=none
printf 'in the cache, CLI' | dd of="$MNT/disks/d" bs=4096 seek=300 conv=notrunc status=none
ssefs snapshot create -n snap-cli -g rg --source d -o none
printf 'in the cache, ctl' | dd of="$MNT/disks/d" bs=4096 seek=400 conv=notrunc status=none
echo "d snap-ctl" >"$MNT/.control/snapshot"
assert_eq "$(dd if="$MNT/snapshots/snap-cli" bs=4096 skip=300 count=1 status=none | head -c 17)" "in the cache, CLI"
assert_eq "$(dd if="$MNT/snapshots/snap-ctl" bs=4096 skip=400 count=1 status=none | head -c 17)" "in the cache, ctl"
unmount_store
mount_store
assert_eq "$(dd if="$MNT/disks/d" bs=4096 skip=200 count=1 status=none | head -c 21)" "written back at fsync"
assert_eq "$(dd if="$MNT/snapshots/snap-cli" bs=4096 skip=300 count=1 status=none | head -c 17)" "in the cache, CLI"
unmount_store

case_ "caching ReadWrite: O_TRUNC keeps the disk's size, ftruncate is refused, a write past the end fails"
mount_store --caching ReadWrite
size=$(stat -c %s "$MNT/disks/d")
printf 'x' >"$MNT/disks/d"
assert_eq "$(stat -c %s "$MNT/disks/d")" "$size" "size after open(O_TRUNC)"
if truncate -s 4096 "$MNT/disks/d" 2>/dev/null; then fail "ftruncate accepted"; fi
assert_eq "$(stat -c %s "$MNT/disks/d")" "$size" "size after a refused truncate"
# Past the end: the write may land in the host cache, but fsync (or close) reports ENOSPC.
if dd if=/dev/zero of="$MNT/disks/d" bs=4096 count=1 seek=$((size / 4096)) conv=notrunc,fsync status=none 2>"$WORK/err"; then
  fail "a write past the end was accepted"
fi
grep -q "No space left" "$WORK/err" || fail "unexpected: $(cat "$WORK/err")"
unmount_store

case_ "an O_DIRECT open is never cached, whatever the mount's caching"
mount_store --caching ReadOnly --debug
n=$(python3 - "$MNT/disks/d" "$SSEFS_STORE/daemon.log" <<'EOF'
import mmap, os, sys
disk, log = sys.argv[1:]
fd = os.open(disk, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 1 << 20)
os.preadv(fd, [buf], 0)
before = open(log).read().count(": read ")
os.preadv(fd, [buf], 0)
print(open(log).read().count(": read ") - before)
EOF
)
[ "$n" -gt 0 ] || fail "an O_DIRECT read was served from the page cache"
unmount_store

case_ "a VM attachment's caching decides for its disk: None stays direct in a ReadOnly mount, ReadOnly is cached in a None mount"
printf '#!/bin/sh\nexec sleep 600\n' >"$WORK/runner.sh"
chmod +x "$WORK/runner.sh"
ssefs config set vm.runner "$WORK/runner.sh {name}" -o none
ssefs disk create -n direct -g rg --size-gb 1 -o none
ssefs disk create -n cached -g rg --size-gb 1 -o none
mount_store --caching ReadOnly --debug
ssefs vm create -g rg -n vm1 --image Debian11 --attach-data-disks direct --data-disk-caching None -o none
[ "$(reads_served "$MNT/disks/direct")" -gt 0 ] || fail "an attachment with caching None was cached"
assert_eq "$(reads_served "$MNT/disks/d")" 0 "reads served for an unattached disk in a ReadOnly mount"
ssefs vm delete -g rg -n vm1 --yes -o none
unmount_store
mount_store --caching None --debug
ssefs vm create -g rg -n vm2 --image Debian11 --attach-data-disks cached --data-disk-caching ReadOnly -o none
assert_eq "$(reads_served "$MNT/disks/cached")" 0 "reads served for an attachment with caching ReadOnly"
[ "$(reads_served "$MNT/disks/d")" -gt 0 ] || fail "an unattached disk was cached in a None mount"
ssefs vm delete -g rg -n vm2 --yes -o none
unmount_store

case_ "caching ReadWrite with 2 request threads: revoking while pages are dirty and other callers wait, and concurrent /.control snapshots, all return"
mount_store --caching ReadWrite --threads 2
dd if=/dev/urandom of="$MNT/disks/d" bs=1M count=64 conv=notrunc status=none   # dirty, not synced
( for _ in $(seq 200); do stat "$MNT/disks/d" "$MNT/disks/direct" >/dev/null 2>&1; done ) &
busy=$!
timeout 120 "$SSEFS" keyvault key set-attributes --vault-name kv-cache -n k --enabled false -o none \
  || fail "disabling the key did not return"
timeout 120 sh -c "echo true >'$MNT/.control/keyvaults/kv-cache/keys/k/enabled'" || fail "enabling through /.control did not return"
wait "$busy" || true
dd if=/dev/urandom of="$MNT/disks/d" bs=1M count=32 conv=notrunc status=none
timeout 120 sh -c "echo 'd par1' >'$MNT/.control/snapshot' & echo 'd par2' >'$MNT/.control/snapshot'; wait" \
  || fail "concurrent snapshots through /.control did not return"
ls "$MNT/snapshots" | grep -qx par1 || fail "snapshot par1 missing"
ls "$MNT/snapshots" | grep -qx par2 || fail "snapshot par2 missing"
dd if="$WORK/data" of="$MNT/disks/d" bs=1M conv=notrunc,fsync status=none
unmount_store

case_ "a mount refuses unknown caching modes, and ReadWrite with one request thread, with a clear message"
if ssefs mount "$MNT" --caching WriteBack 2>"$WORK/err"; then unmount_store; fail "WriteBack accepted"; fi
grep -q "not None, ReadOnly or ReadWrite" "$WORK/err" || fail "$(cat "$WORK/err")"
if ssefs mount "$MNT" --caching ReadWrite --threads 1 2>"$WORK/err"; then unmount_store; fail "ReadWrite with one thread accepted"; fi
grep -q "at least 2" "$WORK/err" || fail "$(cat "$WORK/err")"
echo "ok"
