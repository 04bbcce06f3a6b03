#!/usr/bin/env bash
# Every line of the documented workflow (the key vault, the set, its access by policy and by
# the documented role assignment, disks created and switched to the customer key, rotation,
# the status query, snapshots, and the VM, scale-set and attach lines), pasted with the
# documentation's values and only `az` aliased to ssefs, in a strict store (so the script must
# create its group, as in the cloud). VMs run a small runner script (vm.runner) instead of
# qemu; tests/sh/68 boots a real guest.
. "$(dirname "$0")/lib.sh"

cat >"$WORK/runner.sh" <<EOF
#!/bin/sh
echo \$\$ > $WORK/\$1.pid
trap 'exit 0' TERM
while :; do sleep 0.1; done
EOF
chmod +x "$WORK/runner.sh"
kill_runners() {
  local f
  for f in "$WORK"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
  return 0
}
trap 'rc=$?; set +e; kill_runners; (exit $rc); cleanup' EXIT

case_ "the documented lines run unchanged with az aliased, and every disk reports the customer key"
ssefs config set strict true -o none
ssefs config set mount-point "$MNT" -o none
ssefs config set vm.runner "$WORK/runner.sh {name} {os} {data}" -o none
ssefs config set vm.stop-timeout 10 -o none
cat >"$WORK/documented.sh" <<'EOF'
RG=myResourceGroup
LOCATION=westcentralus
az group create -n $RG -l $LOCATION -o none
az account set --subscription "$(az account show --query id -o tsv)"
az keyvault create -n myKeyVault -g $RG -l $LOCATION --enable-purge-protection true --enable-soft-delete true -o none
az keyvault key create --vault-name myKeyVault -n myKey --protection software -o none
keyVaultId=$(az keyvault show --name myKeyVault --query [id] -o tsv)
keyVaultKeyUrl=$(az keyvault key show --vault-name myKeyVault --name myKey --query [key.kid] -o tsv)
az disk-encryption-set create -n myDiskEncryptionSet -l $LOCATION -g $RG --source-vault $keyVaultId --key-url $keyVaultKeyUrl -o none
desIdentity=$(az disk-encryption-set show -n myDiskEncryptionSet -g $RG --query [identity.principalId] -o tsv)
az keyvault set-policy -n myKeyVault -g $RG --object-id $desIdentity --key-permissions wrapkey unwrapkey get -o none
az role assignment create --assignee $desIdentity --role Reader --scope $keyVaultId -o none
diskEncryptionSetId=$(az disk-encryption-set show -n myDiskEncryptionSet -g $RG --query [id] -o tsv)
az disk create -n myDisk -g $RG -l $LOCATION --encryption-type EncryptionAtRestWithCustomerKey --disk-encryption-set $diskEncryptionSetId --size-gb 30 --sku Premium_LRS -o none
az disk create -n myPmkDisk -g $RG -l $LOCATION --size-gb 4 -o none
az disk update -n myPmkDisk -g $RG --encryption-type EncryptionAtRestWithCustomerKey --disk-encryption-set $diskEncryptionSetId -o none
az snapshot create -g $RG -n mySnapshot --source myDisk -o none
az snapshot create -g $RG -n mySnapshot2 --source myDisk --disk-encryption-set $diskEncryptionSetId -o none
az vm create -g $RG -n myVM -l $LOCATION --image UbuntuLTS --size Standard_DS3_V2 --generate-ssh-keys --os-disk-encryption-set $diskEncryptionSetId --data-disk-sizes-gb 128 128 --data-disk-encryption-sets $diskEncryptionSetId $diskEncryptionSetId -o none
az vmss create -g $RG -n myVMSS --image UbuntuLTS --upgrade-policy automatic --admin-username azureuser --generate-ssh-keys --os-disk-encryption-set $diskEncryptionSetId --data-disk-sizes-gb 64 128 --data-disk-encryption-sets $diskEncryptionSetId $diskEncryptionSetId -o none
az disk create -n myDataDisk -g $RG -l $LOCATION --encryption-type EncryptionAtRestWithCustomerKey --disk-encryption-set $diskEncryptionSetId --size-gb 30 --sku Premium_LRS -o none
diskId=$(az disk show -n myDataDisk -g $RG --query [id] -o tsv)
az vm disk attach --vm-name myVM --lun 2 --ids $diskId -o none
az keyvault key rotate --vault-name myKeyVault -n myKey -o none
newKeyUrl=$(az keyvault key show --vault-name myKeyVault --name myKey --query [key.kid] -o tsv)
az disk-encryption-set update -n myDiskEncryptionSet -g $RG --key-url $newKeyUrl --source-vault $keyVaultId -o none
az disk show -g $RG -n myDisk --query [encryption.type] -o tsv
EOF
out=$(SSEFS_STORE="$SSEFS_STORE" bash -c "set -euo pipefail; shopt -s expand_aliases; alias az='$SSEFS'; source '$WORK/documented.sh'" 2>"$WORK/err") || fail "the documented lines failed: $(cat "$WORK/err")"
[ ! -s "$WORK/err" ] || fail "the documented lines printed on stderr: $(cat "$WORK/err")"
assert_eq "$out" EncryptionAtRestWithCustomerKey "the documented status query"
NEW=$(ssefs keyvault key show --vault-name myKeyVault -n myKey --query key.kid -o tsv)
DES=$(ssefs disk-encryption-set show -n myDiskEncryptionSet -g myResourceGroup --query id -o tsv)
# Every disk (the VM's, the scale set's, the attached one) and snapshot uses the set, and the
# rotation re-wrapped them all with the new key version.
ssefs disk list -g myResourceGroup --query "[].name" -o tsv >"$WORK/disks"
assert_eq "$(wc -l <"$WORK/disks")" 12 "disks: 2 + the VM's 3 + 2 instances x 3 + 1 attached"
while read -r d; do
  assert_eq "$(ssefs disk show -g myResourceGroup -n "$d" --query encryption.diskEncryptionSetId -o tsv)" "$DES" "set of $d"
done <"$WORK/disks"
assert_eq "$(ssefs disk-encryption-set list-associated-resources -n myDiskEncryptionSet -g myResourceGroup --query 'length(@)')" 14 "12 disks and 2 snapshots of the set"
grep -qF "$NEW" "$SSEFS_STORE/disks/myDisk/volume.json" || fail "myDisk is not wrapped by the new key version"
assert_eq "$(ssefs vm show -g myResourceGroup -n myVM -d --query powerState -o tsv)" "VM running"
assert_eq "$(ssefs vm show -g myResourceGroup -n myVM --query 'storageProfile.dataDisks[].lun' -o tsv | tr '\n' ' ')" "0 1 2 " "LUNs"
assert_eq "$(ssefs vmss list-instances -g myResourceGroup -n myVMSS --query 'length(@)')" 2
# The role assignment is the documented Reader one, and it grants no key operation.
assert_eq "$(ssefs role assignment list --all --query "[?roleDefinitionName=='Reader'] | length(@)")" 1

case_ "unmount powers the VMs off first"
unmount_store
for f in "$WORK"/*.pid; do
  pid=$(cat "$f")
  ! kill -0 "$pid" 2>/dev/null || fail "runner $(basename "$f" .pid) survived the unmount"
done
assert_eq "$(ssefs vm show -g myResourceGroup -n myVM -d --query powerState -o tsv)" "VM stopped"
echo "ok"
