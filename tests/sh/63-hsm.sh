#!/usr/bin/env bash
# HSM-protected keys in a PKCS#11 token (SoftHSM2, a token initialised in this test's scratch
# directory): the documented workflow with a premium vault and `--protection hsm`; no private
# key of the vault anywhere on disk and the token's objects sensitive and non-extractable
# (`ssefs check` verifies both); 100 disks re-wrapped by a rotation to a new HSM version, with
# their data unchanged; revocation of a mounted disk; audited unwraps; and DEKs that unwrap
# only through the token (its directory moved away: the disk cannot be opened; back: it can).
. "$(dirname "$0")/lib.sh"

command -v softhsm2-util >/dev/null || fail "softhsm2-util is missing (install softhsm2)"
export SOFTHSM2_CONF=$WORK/softhsm2.conf
mkdir -p "$WORK/tokens"
echo "directories.tokendir = $WORK/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label ssefs-test --pin 4321 --so-pin 8765 >/dev/null
export SSEFS_HSM_PIN=4321
ssefs config set hsm.token ssefs-test -o none

case_ "a standard vault refuses HSM keys, with the reason"
ssefs group create -n rg -l eastus -o none
ssefs keyvault create -n kvstd -g rg -l eastus --enable-purge-protection true -o none
if ssefs keyvault key create --vault-name kvstd -n k --protection hsm 2>"$WORK/err"; then
  fail "a standard vault made an HSM key"
fi
grep -q "need a Premium vault" "$WORK/err" || fail "$(cat "$WORK/err")"

case_ "the documented workflow with a premium vault and --protection hsm"
ssefs keyvault create -n kvhsm -g rg -l eastus --sku premium --enable-purge-protection true --enable-soft-delete true -o none
assert_eq "$(ssefs keyvault show -n kvhsm --query properties.sku.name -o tsv)" premium
ssefs keyvault key create --vault-name kvhsm -n hk --protection hsm -o none
assert_eq "$(ssefs keyvault key show --vault-name kvhsm -n hk --query key.kty -o tsv)" RSA-HSM
VAULT=$(ssefs keyvault show -n kvhsm --query id -o tsv)
URL=$(ssefs keyvault key show --vault-name kvhsm -n hk --query key.kid -o tsv)
ssefs disk-encryption-set create -n deshsm -g rg -l eastus --source-vault "$VAULT" --key-url "$URL" -o none
P=$(ssefs disk-encryption-set show -n deshsm -g rg --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kvhsm -g rg --object-id "$P" --key-permissions wrapkey unwrapkey get -o none
for i in $(seq 1 100); do
  ssefs disk create -n "d$i" -g rg -l eastus --encryption-type EncryptionAtRestWithCustomerKey \
    --disk-encryption-set deshsm --size-gb 1 -o none
done
assert_eq "$(ssefs disk show -g rg -n d1 --query encryption.type -o tsv)" EncryptionAtRestWithCustomerKey
# No private key of the vault on disk: no PEM, no PKCS#8 anywhere under the vaults.
[ -z "$(find "$SSEFS_STORE/vaults" -name '*.pem')" ] || fail "a key file exists for an HSM key"
if grep -rqE "PRIVATE KEY|privateExponent" "$SSEFS_STORE/vaults"; then fail "private key text in the vault"; fi
# check opens the token and verifies each version's object: sensitive, not extractable.
ssefs check >"$WORK/check" || fail "check: $(cat "$WORK/check")"

case_ "mounted: data written, a rotation to a new HSM version re-wraps 100 disks, the data is unchanged"
mount_store
head -c 1M /dev/urandom >"$WORK/data"
dd if="$WORK/data" of="$MNT/disks/d1" bs=1M conv=notrunc,fsync status=none || fail "write: $(tail -5 "$SSEFS_STORE/daemon.log")"
before=$(sha256sum <"$SSEFS_STORE/disks/d1/data")
ssefs keyvault key rotate --vault-name kvhsm -n hk -o none
NEW=$(ssefs keyvault key show --vault-name kvhsm -n hk --query key.kid -o tsv)
[ "$NEW" != "$URL" ] || fail "no new version"
ssefs disk-encryption-set update -n deshsm -g rg --key-url "$NEW" -o none
assert_eq "$(grep -l "$NEW" "$SSEFS_STORE"/disks/d*/volume.json | wc -l)" 100 "disks wrapped by the new version"
assert_eq "$(sha256sum <"$SSEFS_STORE/disks/d1/data")" "$before" "ciphertext after the rotation"
cmp <(head -c 1M "$MNT/disks/d1") "$WORK/data" || fail "data changed across the rotation"
unwraps=$(ssefs keyvault audit -n kvhsm --query "length([?operation=='UnwrapKey' && outcome=='Succeeded' && callerObjectId=='$P'])")
[ "$unwraps" -ge 100 ] || fail "only $unwraps audited unwraps by the set's identity"

case_ "revocation of a mounted disk: disabled, I/O fails at once; enabled, it resumes"
exec 5<"$MNT/disks/d1"
ssefs keyvault key set-attributes --vault-name kvhsm -n hk --enabled false -o none
if head -c 4096 "$MNT/disks/d1" >/dev/null 2>&1; then fail "read a disk whose HSM key is disabled"; fi
ssefs keyvault key set-attributes --vault-name kvhsm -n hk --enabled true -o none
cmp <(head -c 1M "$MNT/disks/d1") "$WORK/data" || fail "no data after re-enabling"
exec 5<&-
unmount_store

case_ "the DEK unwraps only through the token: token moved away, the disk cannot be opened; back, it can"
mv "$WORK/tokens" "$WORK/tokens.away"
mkdir "$WORK/tokens"
mount_store
if head -c 4096 "$MNT/disks/d1" >/dev/null 2>"$WORK/err"; then fail "opened a disk without its token"; fi
unmount_store
if ssefs check >"$WORK/check"; then fail "check passed without the token"; fi
grep -q "HSM token cannot be reached" "$WORK/check" || fail "$(cat "$WORK/check")"
rm -rf "$WORK/tokens"
mv "$WORK/tokens.away" "$WORK/tokens"
mount_store
cmp <(head -c 1M "$MNT/disks/d1") "$WORK/data" || fail "no data with the token back"
unmount_store

case_ "key import --protection hsm puts the key in the token and keeps no PEM"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/import.pem" 2>/dev/null
ssefs keyvault key import --vault-name kvhsm -n imported --pem-file "$WORK/import.pem" --protection hsm -o none
assert_eq "$(ssefs keyvault key show --vault-name kvhsm -n imported --query key.kty -o tsv)" RSA-HSM
[ -z "$(find "$SSEFS_STORE/vaults" -name '*.pem')" ] || fail "an imported HSM key left a PEM in the vault"
ssefs check >"$WORK/check" || fail "check: $(cat "$WORK/check")"

case_ "a purge (after the retention period) destroys the token's objects"
ssefs config set test-clock true -o none
ssefs keyvault create -n kvgone -g rg -l eastus --sku premium --retention-days 7 --enable-purge-protection true -o none
ssefs keyvault key create --vault-name kvgone -n gk --protection hsm -o none
cp "$SSEFS_STORE/vaults/kvgone/keys/gk/key.json" "$WORK/gk.json"
ssefs keyvault key delete --vault-name kvgone -n gk -o none
SSEFS_NOW=$(($(date +%s) + 8 * 86400)) ssefs keyvault key purge --vault-name kvgone -n gk -o none
[ ! -e "$SSEFS_STORE/vaults/kvgone/keys/gk" ] || fail "the purged key's record is still there"
# Put the record back: check must now find its version missing from the token.
mkdir -p "$SSEFS_STORE/vaults/kvgone/keys/gk"
cp "$WORK/gk.json" "$SSEFS_STORE/vaults/kvgone/keys/gk/key.json"
if ssefs check >"$WORK/check"; then fail "the purged key's object is still in the token"; fi
grep -q "is not in HSM token" "$WORK/check" || fail "$(cat "$WORK/check")"
rm -rf "$SSEFS_STORE/vaults/kvgone/keys/gk"
ssefs check >/dev/null || fail "check"
echo "ok"
