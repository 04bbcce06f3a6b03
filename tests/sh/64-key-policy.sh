#!/usr/bin/env bash
# Key rotation policies while mounted: a rotation the policy makes due happens in the mount
# daemon, right after a forwarded command whose SSEFS_NOW passed timeAfterCreate (the reliable
# trigger) and by the daemon's periodic check on that held test clock; the auto-rotating set
# moves, its disk is re-wrapped (not re-encrypted) and keeps reading what was written. An
# expired version refuses new wraps (EKEYEXPIRED in /.control) while its disk still reads. The
# README's block for all this runs as pasted.
. "$(dirname "$0")/lib.sh"
FDIO="python3 $(dirname "$0")/fdio.py"
C=$MNT/.control
DAY=86400
VAULT_SERVICE=cfa8b339-82a2-471a-a3c9-0fc0be7a4093

versions() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["versions"]))' "$SSEFS_STORE/vaults/kvp/keys/$1/key.json"; }
wrapped_by() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"]["kek"]["keyUrl"])' "$SSEFS_STORE/disks/$1/volume.json"; }
# Cheap enough for wait_until's polling: one grep, no interpreter.
has_versions() { [ "$(grep -c '"id":' "$SSEFS_STORE/vaults/kvp/keys/$1/key.json")" = "$2" ]; }

ssefs config set test-clock true -o none
ssefs keyvault create -n kvp -g rg -l eastus --enable-purge-protection true -o none
# k: the set's key, with a policy that rotates 30 days after creation.
ssefs keyvault key create --vault-name kvp -n k -o none
url=$(ssefs keyvault key show --vault-name kvp -n k --query key.kid -o tsv)
ssefs disk-encryption-set create -n desp -g rg --key-url "$url" --enable-auto-key-rotation true -o none
pid=$(ssefs disk-encryption-set show -n desp -g rg --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kvp --object-id "$pid" --key-permissions get wrapkey unwrapkey -o none
ssefs disk create -n d1 -g rg --disk-encryption-set desp --size-gb 1 -o none
POLICY='{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P90D"}}'
ssefs keyvault key rotation-policy update --vault-name kvp -n k --value "$POLICY" -o none
# k2: the same policy, its latest version disabled (Key Vault leaves it) until /.control enables it.
ssefs keyvault key create --vault-name kvp -n k2 -o none
ssefs keyvault key rotation-policy update --vault-name kvp -n k2 --value "$POLICY" -o none
ssefs keyvault key set-attributes --vault-name kvp -n k2 --enabled false -o none
# k3: a set whose key version will have expired.
ssefs keyvault key create --vault-name kvp -n k3 -o none
url3=$(ssefs keyvault key show --vault-name kvp -n k3 --query key.kid -o tsv)
ssefs disk-encryption-set create -n des3 -g rg --key-url "$url3" -o none
pid3=$(ssefs disk-encryption-set show -n des3 -g rg --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kvp --object-id "$pid3" --key-permissions get wrapkey unwrapkey -o none
ssefs disk create -n d3 -g rg --disk-encryption-set des3 --size-gb 1 -o none
created=$(date -d "$(ssefs keyvault key show --vault-name kvp -n k --query attributes.created -o tsv)" +%s)
mount_store

case_ "write to the customer-key disk through the mount, and keep it open"
head -c $((4 << 20)) /dev/urandom >"$WORK/pattern"
dd if="$WORK/pattern" of="$MNT/disks/d1" bs=1M conv=notrunc,fsync status=none
want=$(sha256sum "$WORK/pattern" | cut -d' ' -f1)
exec 7<"$MNT/disks/d1"
assert_eq "$($FDIO pread 7 0 $((4 << 20)))" "$want" "read back before rotation"
cipher=$(sha256sum "$SSEFS_STORE/disks/d1/data" | cut -d' ' -f1)

case_ "29 days after the key version was created, a forwarded command finds nothing due"
SSEFS_NOW=$((created + 29 * DAY)) ssefs disk show -n d1 -g rg -o none
assert_eq "$(versions k)" 1 "versions of k at +29 days"
assert_eq "$(cat "$C/disk-encryption-sets/desp/key-url")" "$url" "set still on the first version"

case_ "past 30 days, a forwarded command carries the clock: the daemon rotates k and the set follows"
T=$((created + 31 * DAY))
SSEFS_NOW=$T ssefs disk show -n d1 -g rg -o none
# The daemon's check after that command ran before its reply: the store already shows it.
assert_eq "$(versions k)" 2 "versions of k at +31 days"
new=$(cat "$C/keyvaults/kvp/keys/k/kid")
[ "$new" != "$url" ] || fail "no new version"
assert_eq "$(cat "$C/disk-encryption-sets/desp/key-url")" "$new" "the set moved"
assert_eq "$(SSEFS_NOW=$T ssefs disk-encryption-set show -n desp -g rg --query activeKey.keyUrl -o tsv)" "$new"
assert_eq "$(wrapped_by d1)" "$new" "d1's record names the new version"
grep -q " $new\$" "$C/disk-encryption-sets/desp/resources" || fail "resources: $(cat "$C/disk-encryption-sets/desp/resources")"
assert_eq "$(SSEFS_NOW=$T ssefs keyvault audit -n kvp --query "[?operation=='KeyRotateIfDue'].callerObjectId" -o tsv)" "$VAULT_SERVICE" "audited as the vault service"
assert_eq "$(versions k2)" 1 "a key whose latest version is disabled is not rotated"

case_ "the disk still reads back what was written, through the open file and a new open; the ciphertext is unchanged"
assert_eq "$($FDIO pread 7 0 $((4 << 20)))" "$want" "read through the open file"
exec 7<&-
cmp <(head -c $((4 << 20)) "$MNT/disks/d1") "$WORK/pattern" || fail "read after a new open differs"
assert_eq "$(sha256sum "$SSEFS_STORE/disks/d1/data" | cut -d' ' -f1)" "$cipher" "data file unchanged by rotation"

case_ "the periodic check runs on the daemon's held test clock (no command after a /.control enable)"
SSEFS_NOW=$T ssefs group list -o none # the last forwarded command's clock is the one held
echo true >"$C/keyvaults/kvp/keys/k2/enabled"
wait_until has_versions k2 2 || fail "k2 was not rotated by the periodic check"
# The real clock is a month earlier: only the held SSEFS_NOW made it due.
grep -q '"operation":"KeyRotateIfDue".*"key":"k2"\|"key":"k2".*"operation":"KeyRotateIfDue"' "$SSEFS_STORE/vaults/kvp/audit.log" || fail "no KeyRotateIfDue for k2"

case_ "an expired version wraps nothing (CLI and /.control) but its disk still reads"
dd if="$WORK/pattern" of="$MNT/disks/d3" bs=1M conv=notrunc,fsync status=none
ssefs keyvault key set-attributes --vault-name kvp -n k3 --expires 2020-01-01T00:00:00Z -o none
out=$(ssefs disk create -n d4 -g rg --disk-encryption-set des3 --size-gb 1 2>&1) && fail "disk create succeeded: $out"
echo "$out" | grep -q "(KeyExpired).*expired at 2020-01-01T00:00:00+00:00" || fail "$out"
assert_eq "$($FDIO write "$C/snapshot" "d3 s3")" EKEYEXPIRED "snapshot through /.control"
grep -q "expired" "$C/last-error" || fail "last-error: $(cat "$C/last-error")"
cmp <(head -c $((4 << 20)) "$MNT/disks/d3") "$WORK/pattern" || fail "d3 no longer reads"

unmount_store
case_ "the store checks clean, and notes the set whose key cannot wrap"
out=$(ssefs check) || fail "$out"
echo "$out" | grep -q "note: .*des3.*refused until its key is rotated" || fail "$out"

case_ "the README's rotation-policy block runs as documented after its workflow (strict, az aliased)"
python3 - "$ROOT/README.md" >"$WORK/blocks.sh" <<'PY'
import sys
s = open(sys.argv[1]).read()
for title in ("## The workflow", "### Rotation policies and expiry"):
    i = s.index(title)
    j = s.index("```sh", i) + len("```sh\n")
    k = s.index("```", j)
    for line in s[j:k].splitlines():
        if not (line.startswith("cargo build") or line.startswith("export SSEFS_STORE=")):
            print(line)
PY
grep -q "rotation-policy update" "$WORK/blocks.sh" || fail "rotation-policy block not found in README.md"
out=$(SSEFS_STRICT=1 SSEFS_STORE="$WORK/store2" bash -c "set -euo pipefail; shopt -s expand_aliases; alias az='$SSEFS'; source '$WORK/blocks.sh'" 2>"$WORK/err") ||
  fail "the block failed: $(cat "$WORK/err")"
[ ! -s "$WORK/err" ] || fail "the block printed on stderr: $(cat "$WORK/err")"
echo "$out" | grep -q '"2027-01-01T00:00:00+00:00"' || fail "no notBefore in: $out"
echo "$out" | grep -q '"timeAfterCreate": "P30D"' || fail "no policy in: $out"
echo "ok"
