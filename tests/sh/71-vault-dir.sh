#!/usr/bin/env bash
# Keys apart from data (vault.dir): the store keeps no key file but the platform key; a
# customer-key disk reads and writes; with the vault directory renamed away, the customer-key
# disk fails to open with ENOKEY (and an open one stops with ENOKEY) while a platform-key disk
# keeps working, and `ssefs check` names the directory; renamed back, everything works again.
# Key backup and restore run through the mount daemon, the caller reading and writing the file.
. "$(dirname "$0")/lib.sh"
FDIO="python3 $(dirname "$0")/fdio.py"
KEYS=$WORK/keys

ssefs group create -n rg -l eastus -o none
ssefs keyvault create -n kvd -g rg --enable-purge-protection true -o none
ssefs keyvault key create --vault-name kvd -n k -o none
url=$(ssefs keyvault key show --vault-name kvd -n k --query key.kid -o tsv)
ssefs disk-encryption-set create -n des -g rg --key-url "$url" -o none
pid=$(ssefs disk-encryption-set show -n des -g rg --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kvd --object-id "$pid" --key-permissions get wrapkey unwrapkey -o none
ssefs disk create -n cmk -g rg --disk-encryption-set des --size-gb 1 -o none
ssefs disk create -n pmk -g rg --size-gb 1 -o none

case_ "vault.dir moves the vaults out: the store holds no key file but the platform key"
ssefs config set vault.dir "$KEYS"
assert_eq "$(cd "$SSEFS_STORE" && find . -name '*.pem' -o -name 'backup.key' | sort | tr '\n' ' ')" "./platform-key.pem " "key files in the store"
assert_eq "$(grep -rl 'PRIVATE KEY' "$SSEFS_STORE" | sed "s|$SSEFS_STORE/||" | tr '\n' ' ')" "platform-key.pem " "private keys in the store"
[ -f "$KEYS/kvd/keys/k/${url##*/}.pem" ] || fail "the key version is not in $KEYS"
[ -f "$KEYS/kvd/audit.log" ] || fail "the audit log is not in $KEYS"
ssefs check >"$WORK/out" || fail "check: $(cat "$WORK/out")"

case_ "mounted: a customer-key and a platform-key disk read and write"
mount_store
head -c 1M /dev/urandom >"$WORK/data"
for d in cmk pmk; do
  dd if="$WORK/data" of="$MNT/disks/$d" bs=1M conv=notrunc,fsync status=none
  cmp <(head -c 1M "$MNT/disks/$d") "$WORK/data" || fail "$d does not read back"
done
want=$(head -c 65536 "$WORK/data" | sha256sum | cut -d' ' -f1)

case_ "key backup and restore through the daemon: the caller writes and reads the file"
(cd "$WORK" && ssefs keyvault key backup --vault-name kvd -n k --file k.backup)
[ "$(stat -c %a "$WORK/k.backup")" = 600 ] || fail "backup mode $(stat -c %a "$WORK/k.backup")"
assert_eq "$(head -c 7 "$WORK/k.backup")" "SSEFSKB" "magic"
[ -f "$KEYS/backup.key" ] || fail "no backup key in the vault directory"
[ ! -e "$SSEFS_STORE/backup.key" ] || fail "a backup key in the store"
ssefs keyvault create -n kvcopy -g rg --enable-purge-protection true -o none
assert_eq "$(ssefs keyvault key restore --vault-name kvcopy --file "$WORK/k.backup" --query key.kid -o tsv)" \
  "https://kvcopy.vault.azure.net/keys/k/${url##*/}" "restored kid"
head -c $(($(stat -c %s "$WORK/k.backup") - 100)) "$WORK/k.backup" >"$WORK/short.backup"
if ssefs keyvault key restore --vault-name kvcopy --file "$WORK/short.backup" 2>"$WORK/err"; then fail "restored a truncated backup"; fi
grep -q "(InvalidArgument) .*short.backup is not a usable key backup: the file is truncated" "$WORK/err" || fail "$(cat "$WORK/err")"

case_ "the vault directory renamed away: an open customer-key disk stops with ENOKEY, a new open fails with ENOKEY"
exec 5<>"$MNT/disks/cmk"
assert_eq "$($FDIO pread 5 0 65536)" "$want" "read before"
mv "$KEYS" "$KEYS.away"
ssefs disk list -o none # any command makes the daemon look at the keys again
assert_eq "$($FDIO pread 5 0 65536)" ENOKEY "read of the open disk"
exec 5<&-
assert_eq "$($FDIO open "$MNT/disks/cmk" r)" ENOKEY "open of the customer-key disk"
grep -q "cmk.*$KEYS' cannot be reached" "$SSEFS_STORE/daemon.log" || fail "the daemon's log does not name the directory"

case_ "a platform-key disk keeps working"
head -c 1M /dev/urandom >"$WORK/data2"
dd if="$WORK/data2" of="$MNT/disks/pmk" bs=1M conv=notrunc,fsync status=none
cmp <(head -c 1M "$MNT/disks/pmk") "$WORK/data2" || fail "the platform-key disk stopped"

case_ "ssefs check names the directory in one problem line; key commands name it"
if ssefs check >"$WORK/out"; then fail "check passed with the vault directory away"; fi
grep -q "^$KEYS: the key vault directory (setting vault.dir) cannot be reached" "$WORK/out" || fail "$(cat "$WORK/out")"
grep -q "^1 problem(s) found" "$WORK/out" || fail "$(cat "$WORK/out")"
if ssefs snapshot create -n s1 -g rg --source cmk 2>"$WORK/err"; then fail "snapshot without keys"; fi
grep -q "(KeyNotFound) The key vault directory '$KEYS' cannot be reached" "$WORK/err" || fail "$(cat "$WORK/err")"

case_ "renamed back: the open and the reads work again, and check is clean"
mv "$KEYS.away" "$KEYS"
ssefs disk list -o none
cmp <(head -c 1M "$MNT/disks/cmk") "$WORK/data" || fail "cmk does not read back"
ssefs snapshot create -n s1 -g rg --source cmk -o none
cmp <(head -c 1M "$MNT/snapshots/s1") "$WORK/data" || fail "the snapshot does not read back"
ssefs check >"$WORK/out" || fail "check: $(cat "$WORK/out")"
unmount_store

case_ "unset: the vaults come back into the store"
ssefs config unset vault.dir
[ -f "$SSEFS_STORE/vaults/kvd/keys/k/${url##*/}.pem" ] || fail "the vaults did not come back"
[ -z "$(ls -A "$KEYS")" ] || fail "left in $KEYS: $(ls -A "$KEYS")"
ssefs check >"$WORK/out" || fail "check: $(cat "$WORK/out")"
echo "ok"
