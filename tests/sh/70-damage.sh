#!/usr/bin/env bash
# A damaged store: only the damaged resource fails, with an error that names the file; the rest
# keeps serving; `ssefs check` reports every problem, changes nothing, and exits non-zero.
. "$(dirname "$0")/lib.sh"

for d in good bad short; do ssefs disk create -n $d -g rg --size-gb 1 -o none; done
ssefs snapshot create -n snap -g rg --source good -o none

case_ "a consistent store checks clean"
ssefs check >"$WORK/out" || fail "check failed on a good store: $(cat "$WORK/out")"
grep -q "no problems found" "$WORK/out" || fail "$(cat "$WORK/out")"

case_ "damage: a corrupt disk record and a truncated data file"
echo '{"version": 1, "kind": "disk", garbage' >"$SSEFS_STORE/disks/bad/volume.json"
truncate -s 4096 "$SSEFS_STORE/disks/short/data"
before=$(find "$SSEFS_STORE" -type f -exec sha256sum {} + | sort)

case_ "ssefs check reports each problem by file, exits 1, and changes nothing"
if ssefs check >"$WORK/out"; then fail "check passed a damaged store"; fi
grep -q "disks/bad/volume.json: not a valid record" "$WORK/out" || fail "$(cat "$WORK/out")"
grep -q "disks/short/data: data file is 4096 bytes" "$WORK/out" || fail "$(cat "$WORK/out")"
grep -q "2 problem(s) found" "$WORK/out" || fail "$(cat "$WORK/out")"
after=$(find "$SSEFS_STORE" -type f -exec sha256sum {} + | sort)
assert_eq "$after" "$before" "check changed the store"

case_ "the CLI names the damaged file for that disk and still lists and serves the others"
if ssefs disk show -n bad 2>"$WORK/err"; then fail "showed a damaged disk"; fi
grep -q "disks/bad/volume.json" "$WORK/err" || fail "$(cat "$WORK/err")"
assert_eq "$(ssefs disk list --query '[].name' -o tsv 2>/dev/null | sort | tr '\n' ' ')" "good short " "listing"
mount_store
head -c 1M /dev/urandom >"$WORK/data"
dd if="$WORK/data" of="$MNT/disks/good" bs=1M conv=notrunc,fsync status=none
cmp <(head -c 1M "$MNT/disks/good") "$WORK/data" || fail "good disk does not serve"
if head -c 1 "$MNT/disks/bad" >/dev/null 2>"$WORK/err"; then fail "read a damaged disk"; fi
grep -q "Input/output error\|No such file" "$WORK/err" || fail "$(cat "$WORK/err")"
cmp <(head -c 1M "$MNT/snapshots/snap") <(head -c 1M /dev/zero) || fail "snapshot does not serve"
unmount_store

case_ "a corrupted, then a missing vault key file: only the disks under that key fail, naming it"
ssefs keyvault create -n kvd -g rg --enable-purge-protection true -o none
ssefs keyvault key create --vault-name kvd -n k -o none
url=$(ssefs keyvault key show --vault-name kvd -n k --query key.kid -o tsv)
ssefs disk-encryption-set create -n dd -g rg --key-url "$url" -o none
pid=$(ssefs disk-encryption-set show -n dd --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kvd --object-id "$pid" --key-permissions get wrapkey unwrapkey -o none
ssefs disk create -n cmk -g rg --disk-encryption-set dd --size-gb 1 -o none
pem="$SSEFS_STORE/vaults/kvd/keys/k/${url##*/}.pem"
echo "-----BEGIN PRIVATE KEY-----" >"$pem"
if ssefs check >"$WORK/out"; then fail "check passed a corrupted key file"; fi
grep -q "${url##*/}.pem: not a valid RSA private key" "$WORK/out" || fail "$(cat "$WORK/out")"
if ssefs snapshot create -n s2 -g rg --source cmk 2>"$WORK/err"; then fail "used a corrupted key"; fi
grep -q "${url##*/}.pem" "$WORK/err" || fail "the error does not name the key file: $(cat "$WORK/err")"
rm -f "$pem"
if ssefs check >"$WORK/out"; then fail "check passed a missing key file"; fi
grep -q "${url##*/}.pem: key version file cannot be read" "$WORK/out" || fail "$(cat "$WORK/out")"
mount_store
dd if="$WORK/data" of="$MNT/disks/good" bs=1M conv=notrunc,fsync status=none
cmp <(head -c 1M "$MNT/disks/good") "$WORK/data" || fail "a platform-key disk stopped serving"
if head -c 1 "$MNT/disks/cmk" >/dev/null 2>&1; then fail "read a disk whose key file is gone"; fi
grep -q "cmk@rg: open: .*${url##*/}.pem" "$SSEFS_STORE/daemon.log" || fail "the daemon's log does not name the key file"
unmount_store
echo "ok"
