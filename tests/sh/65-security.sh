#!/usr/bin/env bash
# The hostile review's findings (issue 14), each as a user or an attacker would meet it: an
# unprivileged user against an --allow-other mount, a forwarded command that names a file the
# daemon must not open, a probe of a fresh store, the test clock, the daemon socket's peer check,
# symlinked mount points, non-UTF-8 arguments, leftovers of interrupted writes, fsync of a
# control file, and a private mapping of a disk after revocation.
. "$(dirname "$0")/lib.sh"
FDIO="python3 $(dirname "$0")/fdio.py"
C=$MNT/.control
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

ssefs keyvault create -n kv-sec -g rg -l eastus --enable-purge-protection true -o none
ssefs keyvault key create --vault-name kv-sec -n k1 -o none
url=$(ssefs keyvault key show --vault-name kv-sec -n k1 --query key.kid -o tsv)
ssefs disk-encryption-set create -n des-sec -g rg --key-url "$url" -o none
pid=$(ssefs disk-encryption-set show -n des-sec --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kv-sec --object-id "$pid" --key-permissions get wrapkey unwrapkey -o none
ssefs disk create -n d1 -g rg --disk-encryption-set des-sec --size-gb 1 -o none

case_ "a leftover temporary below the top level (a private key's .tmp-*) is removed at the next open"
kdir=$(ls -d "$SSEFS_STORE"/vaults/*/keys/*/ | head -1)
echo "secret" >"$kdir/.tmp-leftover.pem"
ssefs disk list -o none
[ ! -e "$kdir/.tmp-leftover.pem" ] || fail "$kdir/.tmp-leftover.pem survived"

case_ "a non-UTF-8 argument is a usage error, not a panic"
set +e
out=$(ssefs disk show -g rg -n $'\xff\xfe' 2>&1)
rc=$?
set -e
assert_eq "$rc" 2 "exit code"
echo "$out" | grep -q "not valid UTF-8" || fail "$out"
! echo "$out" | grep -q panicked || fail "$out"

case_ "probing a fresh directory leaves it usable as a store, and so does a first mount"
fresh=$WORK/fresh
mkdir "$fresh"
assert_eq "$(SSEFS_STORE=$fresh ssefs disk list -o tsv)" ""
SSEFS_STORE=$fresh ssefs disk create -n first -g rg --size-gb 1 -o none
fresh2=$WORK/fresh2
mkdir -p "$fresh2" "$WORK/mnt2"
SSEFS_STORE=$fresh2 ssefs mount "$WORK/mnt2"
INNER_MOUNTS+=("$WORK/mnt2")
SSEFS_STORE=$fresh2 ssefs disk create -n later -g rg --size-gb 1 -o none
[ -e "$WORK/mnt2/disks/later" ] || fail "disk not shown in the first mount"
SSEFS_STORE=$fresh2 ssefs unmount "$WORK/mnt2"
assert_eq "$(SSEFS_STORE=$fresh2 ssefs disk list --query '[].name' -o tsv)" "later"

mount_store --allow-other

case_ "unmount through a symbolic link to the mount point"
ln -s "$WORK/mnt2" "$WORK/link2"
SSEFS_STORE=$fresh2 ssefs mount "$WORK/link2"
grep -q " $WORK/mnt2 " /proc/mounts || fail "not mounted at the link's target"
SSEFS_STORE=$fresh2 ssefs unmount "$WORK/link2"
! grep -q " $WORK/mnt2 " /proc/mounts || fail "still mounted"

case_ "key import names a file inside the mount, a FIFO, /dev/zero: refused by the caller at once"
for bad in "$MNT/disks/d1" "$WORK/fifo" /dev/zero; do
  [ "$bad" = "$WORK/fifo" ] && mkfifo "$WORK/fifo"
  set +e
  out=$(timeout 20 "$SSEFS" keyvault key import --vault-name kv-sec -n imp --pem-file "$bad" 2>&1)
  rc=$?
  set -e
  [ "$rc" -ne 124 ] || fail "key import --pem-file $bad hung"
  [ "$rc" -ne 0 ] || fail "key import --pem-file $bad succeeded"
  echo "$out" | grep -Eq "not a regular file|larger than" || fail "$bad: $out"
done
timeout 20 ls "$MNT/disks" >/dev/null || fail "the mount does not answer"
assert_eq "$(timeout 20 "$SSEFS" disk list --query '[].name' -o tsv)" "d1"

case_ "a real PEM is read by the caller and imported through the daemon"
openssl genrsa -out "$WORK/imp.pem" 2048 2>/dev/null
chmod 600 "$WORK/imp.pem"
(cd "$WORK" && ssefs keyvault key import --vault-name kv-sec -n imp --pem-file imp.pem -o none)
assert_eq "$(ssefs keyvault key show --vault-name kv-sec -n imp --query key.kty -o tsv)" "RSA"

case_ "SSEFS_NOW does not move a store's clock unless the store allows a test clock"
ssefs keyvault key delete --vault-name kv-sec -n imp -o none
later=$(($(date +%s) + 100 * 86400))
set +e
out=$(SSEFS_NOW=$later "$SSEFS" keyvault key purge --vault-name kv-sec -n imp 2>&1)
rc=$?
set -e
assert_eq "$rc" 1 "purge under purge protection"
echo "$out" | grep -q "SSEFS_NOW is ignored" || fail "$out"
ssefs config set test-clock true
SSEFS_NOW=$later ssefs keyvault key purge --vault-name kv-sec -n imp
assert_eq "$(ssefs keyvault audit -n kv-sec --query "[?operation=='KeyPurge'].clockOverridden" -o tsv)" "True" "audit entry marked"
ssefs check | grep -q "test-clock is true" || fail "ssefs check does not report the test clock"
ssefs config set test-clock false
ssefs check | grep -q "test-clock" && fail "ssefs check still reports the test clock"

case_ "the daemon socket serves only root and the store's owner, whatever the modes say"
chmod 711 "$WORK"
chmod 755 "$SSEFS_STORE"
chmod 666 "$SSEFS_STORE/daemon.sock" "$SSEFS_STORE/daemon.lock"
set +e
out=$("${NOBODY[@]}" "$SSEFS" --store "$SSEFS_STORE" keyvault key set-attributes --vault-name kv-sec -n k1 --enabled false 2>&1)
rc=$?
set -e
chmod 700 "$SSEFS_STORE" "$WORK"
chmod 600 "$SSEFS_STORE/daemon.sock" "$SSEFS_STORE/daemon.lock"
[ "$rc" -ne 0 ] || fail "nobody disabled a key through the socket"
echo "$out" | grep -q "AuthorizationFailed" || fail "$out"
assert_eq "$(ssefs keyvault key show --vault-name kv-sec -n k1 --query attributes.enabled -o tsv)" "True"

case_ "with --allow-other, another user cannot read or write a disk, nor act through /.control"
set +e
"${NOBODY[@]}" dd if="$MNT/disks/d1" of=/dev/null bs=4k count=1 2>/dev/null
read_rc=$?
"${NOBODY[@]}" dd if=/dev/zero of="$MNT/disks/d1" bs=4k count=1 conv=notrunc 2>/dev/null
write_rc=$?
"${NOBODY[@]}" sh -c "echo false > '$C/keyvaults/kv-sec/keys/k1/enabled'" 2>/dev/null
control_rc=$?
set -e
[ "$read_rc" -ne 0 ] || fail "nobody read a disk"
[ "$write_rc" -ne 0 ] || fail "nobody wrote a disk"
[ "$control_rc" -ne 0 ] || fail "nobody wrote a control file"
assert_eq "$(cat "$C/keyvaults/kv-sec/keys/k1/enabled")" true
# Even with the modes opened up, the handler checks who writes a control file.
$FDIO write "$C/keyvaults/kv-sec/keys/k1/enabled" true >/dev/null

case_ "fsync of a control file succeeds (dd conv=fsync reports the action's success)"
echo false | dd of="$C/keyvaults/kv-sec/keys/k1/enabled" conv=fsync status=none
assert_eq "$(cat "$C/keyvaults/kv-sec/keys/k1/enabled")" false
echo true | dd of="$C/keyvaults/kv-sec/keys/k1/enabled" conv=fsync status=none

case_ "a private mapping of a disk cannot be read after its key is disabled"
printf 'mapped secret' | dd of="$MNT/disks/d1" conv=notrunc status=none
set +e
out=$(python3 - "$MNT/disks/d1" "$C/keyvaults/kv-sec/keys/k1/enabled" <<'EOF' 2>&1
import mmap, os, signal, sys
disk, enabled = sys.argv[1], sys.argv[2]
fd = os.open(disk, os.O_RDONLY)
m = mmap.mmap(fd, 4096, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
assert m[:13] == b"mapped secret", m[:13]
with open(enabled, "w") as f:
    f.write("false")
# The revocation dropped the cached page: touching it faults and the read is refused (SIGBUS).
print("still readable:", m[:13], flush=True)
EOF
)
rc=$?
set -e
echo true >"$C/keyvaults/kv-sec/keys/k1/enabled"
echo "$out" | grep -q "still readable" && fail "the mapping still read plaintext after revocation: $out"
[ "$rc" -ne 0 ] || fail "the mapping survived revocation"

case_ "a root daemon serving another user's store opens no file that user names (a VM's kernel)"
NSTORE=$WORK/nobody-store
NMNT=$WORK/nobody-mnt
mkdir -p "$NMNT"
chmod 711 "$WORK"
install -d -o 65534 -g 65534 -m 700 "$NSTORE"
"${NOBODY[@]}" "$SSEFS" --store "$NSTORE" group create -n rg -l eastus -o none
echo "root's secret" >"$WORK/root-only"
chmod 600 "$WORK/root-only"
"$SSEFS" --store "$NSTORE" mount "$NMNT"
# The daemon's socket and lock are root's (0600): open them up, as case 8 does, to reach the
# daemon's own check.
chmod 666 "$NSTORE/daemon.sock" "$NSTORE/daemon.lock"
set +e
out=$("${NOBODY[@]}" "$SSEFS" --store "$NSTORE" vm create -g rg -n v --image Debian11 --boot-kernel "$WORK/root-only" 2>&1)
rc=$?
set -e
"$SSEFS" unmount "$NMNT"
chmod 700 "$WORK"
[ "$rc" -ne 0 ] || fail "the root daemon accepted a kernel named by uid 65534"
echo "$out" | grep -q "(Forbidden).*opens files only for its own user or root" || fail "$out"
[ "$("$SSEFS" --store "$NSTORE" vm list --query 'length(@)')" = 0 ] || fail "a VM was created"

case_ "a forwarded command without --debug leaves the daemon's --debug on"
unmount_store
mount_store --debug
ssefs disk list -o none
marker=$(wc -l <"$SSEFS_STORE/daemon.log")
dd if="$MNT/disks/d1" of=/dev/null bs=4k count=1 status=none
tail -n +"$((marker + 1))" "$SSEFS_STORE/daemon.log" | grep -q "debug: d1@rg: read" ||
  fail "the daemon stopped logging debug lines after a forwarded command: $(tail -n +"$((marker + 1))" "$SSEFS_STORE/daemon.log" | tail -5)"

unmount_store
echo "ok: $(basename "$0")"
