#!/usr/bin/env bash
# Host caching (`ssefs mount --caching`): with None (the default) no page of a disk file is in
# the kernel's page cache; with ReadOnly reads fill it (kernel read-ahead) while writes still
# reach the store before they return; and in both modes a key disabled while a file is open
# makes every read fail at once, cached pages included, until the key is enabled again.
. "$(dirname "$0")/lib.sh"


# reads_served FILE: reads the first MiB of FILE twice through one descriptor and prints how
# many read requests the daemon served for the second one (its --debug log names each).
reads_served() {
  python3 - "$1" "$SSEFS_STORE/daemon.log" <<'EOF'
import os, sys
disk, log = sys.argv[1:]
fd = os.open(disk, os.O_RDONLY)
os.pread(fd, 1 << 20, 0)
before = open(log).read().count(": read ")
os.pread(fd, 1 << 20, 0)
after = open(log).read().count(": read ")
print(after - before)
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

case_ "caching ReadOnly: a disabled key makes cached reads fail at once; enabled, they resume"
mount_store --caching ReadOnly
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

case_ "a mount refuses ReadWrite caching and unknown modes with a clear message"
if ssefs mount "$MNT" --caching ReadWrite 2>"$WORK/err"; then unmount_store; fail "ReadWrite accepted"; fi
grep -q "not offered yet" "$WORK/err" || fail "$(cat "$WORK/err")"
echo "ok"
