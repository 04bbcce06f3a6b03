#!/usr/bin/env bash
# A vault whose key access is decided by role assignments, with a mounted disk: the set's
# identity reads and writes through the assignment "Key Vault Crypto Service Encryption User"
# at the vault's scope; deleting that assignment makes the open disk fail with EACCES at once,
# and assigning it again resumes I/O on the same open file (no remount).
. "$(dirname "$0")/lib.sh"
FDIO="python3 $(dirname "$0")/fdio.py"

ssefs keyvault create -n kv-rbac -g rg -l eastus --enable-purge-protection true --enable-rbac-authorization true -o none
VAULT=$(ssefs keyvault show -n kv-rbac --query id -o tsv)
ssefs role assignment create --assignee "$(ssefs account show --query user.name -o tsv)" \
  --role "Key Vault Crypto Officer" --scope "$VAULT" -o none
ssefs keyvault key create --vault-name kv-rbac -n k1 -o none
URL=$(ssefs keyvault key show --vault-name kv-rbac -n k1 --query key.kid -o tsv)
ssefs disk-encryption-set create -n des-rbac -g rg --key-url "$URL" --source-vault "$VAULT" -o none
P=$(ssefs disk-encryption-set show -n des-rbac --query identity.principalId -o tsv)

case_ "a set with only the documented Reader assignment cannot wrap"
ssefs role assignment create --assignee "$P" --role Reader --scope "$VAULT" -o none
if ssefs disk create -n d1 -g rg --size-gb 1 --disk-encryption-set des-rbac 2>"$WORK/err"; then
  fail "a Reader assignment let the set wrap"
fi
grep -q "Forbidden" "$WORK/err" || fail "unclear refusal: $(cat "$WORK/err")"

case_ "with Key Vault Crypto Service Encryption User at the vault, it can"
ssefs role assignment create --assignee "$P" --role "Key Vault Crypto Service Encryption User" --scope "$VAULT" -o none
ssefs disk create -n d1 -g rg --size-gb 1 --disk-encryption-set des-rbac -o none
mount_store
head -c 65536 /dev/urandom >"$WORK/pattern"
want=$(sha256sum <"$WORK/pattern" | cut -d' ' -f1)
exec 5<>"$MNT/disks/d1"
assert_eq "$($FDIO pwrite 5 0 <"$WORK/pattern")" OK
assert_eq "$($FDIO pread 5 0 65536)" "$want" "read with the role"

case_ "deleting the assignment blocks the open disk at once (EACCES); assigning it again resumes"
ssefs role assignment delete --assignee "$P" --role "Key Vault Crypto Service Encryption User" --scope "$VAULT"
assert_eq "$($FDIO pread 5 0 65536)" EACCES "read without the role"
assert_eq "$($FDIO pwrite 5 0 <"$WORK/pattern")" EACCES "write without the role"
ssefs role assignment create --assignee "$P" --role "Key Vault Crypto Service Encryption User" --scope "$VAULT" -o none
assert_eq "$($FDIO pread 5 0 65536)" "$want" "read after the role is back"
exec 5>&-

case_ "set-policy on the RBAC vault is refused as az refuses it"
if ssefs keyvault set-policy -n kv-rbac --object-id "$P" --key-permissions get 2>"$WORK/err"; then
  fail "set-policy accepted"
fi
grep -q "Cannot set policies to a vault with '--enable-rbac-authorization' specified" "$WORK/err" ||
  fail "message: $(cat "$WORK/err")"

unmount_store
ssefs check >/dev/null || fail "ssefs check"
echo "ok: $(basename "$0")"
