#!/usr/bin/env bash
# The main job of ssefs, end to end, in a scratch store: a vault and a customer key, a disk
# encryption set with access granted, a customer-key disk, a snapshot that shares its key,
# a rotation that re-wraps without re-encrypting, and a revocation.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
ssefs="$PWD/target/release/ssefs"
az() { "$ssefs" "$@"; }
work=$(mktemp -d /tmp/ssefs-demo.XXXXXX)
export SSEFS_STORE="$work/store"
mnt="$work/mnt"
fsdir="$work/ext4"
mkdir -p "$mnt" "$fsdir"
loop=""
cleanup() {
  set +e
  mountpoint -q "$fsdir" && umount "$fsdir"
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
  grep -q " $mnt " /proc/mounts && "$ssefs" unmount "$mnt"
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Key vault with purge protection, and an RSA-2048 key"
az keyvault create -n demovault -g demo -l westus2 --enable-purge-protection true --enable-soft-delete true -o none
az keyvault key create --vault-name demovault -n demokey --protection software -o none
keyVaultId=$(az keyvault show --name demovault --query [id] -o tsv)
keyUrl=$(az keyvault key show --vault-name demovault --name demokey --query [key.kid] -o tsv)
echo "key: $keyUrl"

step "Disk encryption set, and its identity granted get/wrapKey/unwrapKey"
az disk-encryption-set create -n demodes -l westus2 -g demo --source-vault "$keyVaultId" --key-url "$keyUrl" -o none
principal=$(az disk-encryption-set show -n demodes -g demo --query [identity.principalId] -o tsv)
az keyvault set-policy -n demovault -g demo --object-id "$principal" --key-permissions wrapkey unwrapkey get -o none
desId=$(az disk-encryption-set show -n demodes -g demo --query [id] -o tsv)

step "A customer-key disk and a platform-key disk"
az disk create -n demodisk -g demo -l westus2 --encryption-type EncryptionAtRestWithCustomerKey \
  --disk-encryption-set "$desId" --size-gb 8 --sku Premium_LRS -o none
az disk create -n plaindisk -g demo -l westus2 --size-gb 1 -o none
az disk list -g demo -o table --query "[].{Name:name, GiB:diskSizeGB, Encryption:encryption.type}"

step "Mount the store: every disk is a plaintext file; ext4 on it through a loop device"
az mount "$mnt"
ls -l "$mnt/disks"
loop=$(losetup --find --show "$mnt/disks/demodisk")
mkfs.ext4 -q "$loop"
mount "$loop" "$fsdir"
secret="ssefs demo secret $(date +%s%N)"
mkdir -p "$fsdir/docs"
for i in 1 2 3; do echo "$secret, file $i" >"$fsdir/docs/note-$i.txt"; done
head -c $((32 << 20)) /dev/urandom >"$fsdir/docs/blob"
sha256sum "$fsdir/docs/"* >"$work/manifest"
umount "$fsdir"
losetup -d "$loop"
az disk show -g demo -n demodisk --query "{state:diskState}" -o tsv
az unmount "$mnt"

step "Mount again: the files read back intact"
az mount "$mnt"
loop=$(losetup --find --show "$mnt/disks/demodisk")
mount "$loop" "$fsdir"
sha256sum -c --quiet "$work/manifest" && echo "all files intact"
cat "$fsdir/docs/note-1.txt"
umount "$fsdir"
losetup -d "$loop"
loop=""

step "The store holds no plaintext"
if grep -rl --binary-files=text "$secret" "$SSEFS_STORE"; then echo "PLAINTEXT FOUND"; exit 1; fi
echo "'$secret' is in no file of $SSEFS_STORE"
ls -l "$SSEFS_STORE/disks/demodisk"

step "A snapshot shares its disk's key; asking for another key is refused"
az snapshot create -g demo -n demosnap --source demodisk --query "encryption.type" -o tsv
cmp <(head -c $((64 << 20)) "$mnt/snapshots/demosnap") <(head -c $((64 << 20)) "$mnt/disks/demodisk") && echo "the snapshot reads the same as the disk"
az snapshot create -g demo -n badsnap --source demodisk --encryption-type EncryptionAtRestWithPlatformKey || true

step "Revocation: disable the key, the mounted disk refuses I/O at once; enable it, I/O resumes"
ctl="$mnt/.control"
exec 5<"$mnt/disks/demodisk"
dd bs=4096 count=1 status=none <&5 | wc -c | sed 's/^/read through an open file: /; s/$/ bytes/'
echo false >"$ctl/keyvaults/demovault/keys/demokey/enabled"
echo "key enabled: $(cat "$ctl/keyvaults/demovault/keys/demokey/enabled")"
dd bs=4096 count=1 status=none <&5 >/dev/null || true
az snapshot create -g demo -n snap2 --source demodisk || true
echo true >"$ctl/keyvaults/demovault/keys/demokey/enabled"
echo "key enabled: $(cat "$ctl/keyvaults/demovault/keys/demokey/enabled")"
dd bs=4096 count=1 status=none <&5 | wc -c | sed 's/^/the same open file again: /; s/$/ bytes/'
exec 5<&-

step "Rotation through /.control: a new key version, every DEK re-wrapped, the ciphertext untouched"
before=$(sha256sum "$SSEFS_STORE/disks/demodisk/data" | cut -c1-16)
echo now >"$ctl/keyvaults/demovault/keys/demokey/rotate"
cat "$ctl/keyvaults/demovault/keys/demokey/kid" >"$ctl/disk-encryption-sets/demodes/key-url"
echo "active key: $(cat "$ctl/disk-encryption-sets/demodes/key-url")"
sed 's|/subscriptions/[^ ]*/providers/||' "$ctl/disk-encryption-sets/demodes/resources"
after=$(sha256sum "$SSEFS_STORE/disks/demodisk/data" | cut -c1-16)
echo "data checksum before $before, after $after"
az disk-encryption-set show -n demodes -g demo --query "{previousKeys:previousKeys, lastKeyRotation:lastKeyRotationTimestamp}" -o json

step "The audit log: every unwrap, by the set's identity, for which disk"
echo "identity of the set: $principal"
az keyvault audit -n demovault -o table --query "[?operation=='UnwrapKey'].{at:time, by:callerObjectId, for:resource, result:outcome}" | sed 's|/subscriptions/[^ ]*/providers/||'

step "Customer-key disk"
az disk show -g demo -n demodisk --query [encryption.type] -o tsv
az unmount "$mnt"
