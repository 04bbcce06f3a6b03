#!/usr/bin/env bash
# /.control with cat, echo and dd (and fdio.py to see the errno of a failed call): every file,
# every refusal with its errno, live revocation of open disks, the Ultra rule, rotation under
# concurrent writes.
. "$(dirname "$0")/lib.sh"
FDIO="python3 $(dirname "$0")/fdio.py"
C=$MNT/.control

# Two customer keys (RSA-2048) and one RSA-3072 key, two sets, and disks of each kind.
ssefs keyvault create -n kv1 -g rg -l eastus --enable-purge-protection true -o none
ssefs keyvault key create --vault-name kv1 -n k1 -o none
ssefs keyvault key create --vault-name kv1 -n k2 -o none
ssefs keyvault key create --vault-name kv1 -n big --size 3072 -o none
for pair in "des1 k1" "des2 k2"; do
  set -- $pair
  url=$(ssefs keyvault key show --vault-name kv1 -n "$2" --query key.kid -o tsv)
  ssefs disk-encryption-set create -n "$1" -g rg --key-url "$url" -o none
  pid=$(ssefs disk-encryption-set show -n "$1" --query identity.principalId -o tsv)
  ssefs keyvault set-policy -n kv1 --object-id "$pid" --key-permissions get wrapkey unwrapkey -o none
done
P1=$(ssefs disk-encryption-set show -n des1 --query identity.principalId -o tsv)
ssefs disk create -n d1 -g rg --disk-encryption-set des1 --size-gb 1 -o none
ssefs disk create -n u1 -g rg --disk-encryption-set des1 --size-gb 1 --sku UltraSSD_LRS -o none
ssefs disk create -n p1 -g rg --size-gb 1 -o none
mount_store

case_ "/.control/README is served and matches the documented interface"
cmp "$C/README" "$ROOT/src/control_readme.txt" || fail "README differs"
ls "$C" | sort | tr '\n' ' ' | grep -q "README disk-encryption-sets disks keyvaults last-error snapshot" || fail "tree: $(ls "$C")"

case_ "key files: enabled, kid; set files: key-url, resources; disk files: encryption"
assert_eq "$(cat "$C/keyvaults/kv1/keys/k1/enabled")" true
K1=$(ssefs keyvault key show --vault-name kv1 -n k1 --query key.kid -o tsv)
assert_eq "$(cat "$C/keyvaults/kv1/keys/k1/kid")" "$K1"
assert_eq "$(cat "$C/disk-encryption-sets/des1/key-url")" "$K1"
assert_eq "$(grep -c " $K1\$" "$C/disk-encryption-sets/des1/resources")" 2 "resources of des1"
DES1=$(ssefs disk-encryption-set show -n des1 --query id -o tsv)
assert_eq "$(cat "$C/disks/d1/encryption")" "EncryptionAtRestWithCustomerKey $DES1"
assert_eq "$(cat "$C/disks/p1/encryption")" "EncryptionAtRestWithPlatformKey"

case_ "refusals carry their errno, and last-error says why"
assert_eq "$($FDIO write "$C/keyvaults/kv1/keys/k1/enabled" maybe)" EINVAL "enabled maybe"
grep -q "true or false" "$C/last-error" || fail "last-error: $(cat "$C/last-error")"
assert_eq "$($FDIO write "$C/keyvaults/kv1/keys/k1/enabled" "true false")" EINVAL "leftover words"
assert_eq "$($FDIO write "$C/snapshot" "d1")" EINVAL "snapshot without a name"
assert_eq "$($FDIO write "$C/snapshot" "../d1 s")" EINVAL "snapshot of a bad name"
assert_eq "$($FDIO write "$C/snapshot" "nodisk s")" ENOENT "snapshot of a missing disk"
assert_eq "$($FDIO write "$C/snapshot" "d1 s1 des2")" EPERM "snapshot with another key"
grep -q "same key as its source" "$C/last-error" || fail "last-error: $(cat "$C/last-error")"
assert_eq "$($FDIO write "$C/snapshot" "d1 s1")" OK "snapshot"
assert_eq "$($FDIO write "$C/snapshot" "d1 s1")" EEXIST "snapshot name taken"
assert_eq "$($FDIO write "$C/disks/d1/encryption" EncryptionAtRestWithPlatformKey)" EPERM "customer to platform"
BIG=$(ssefs keyvault key show --vault-name kv1 -n big --query key.kid -o tsv)
assert_eq "$($FDIO write "$C/disk-encryption-sets/des1/key-url" "$BIG")" EPERM "RSA-3072 key"
assert_eq "$($FDIO write "$C/disk-encryption-sets/des1/key-url" "https://example.com/x")" EINVAL "bad key URL"
assert_eq "$($FDIO write "$C/keyvaults/kv1/keys/k1/kid" x)" EACCES "kid is read-only"
assert_eq "$(head -c 5000 /dev/zero | tr '\0' a | $FDIO write-stdin "$C/snapshot")" EINVAL "oversized write"
assert_eq "$(printf 'd1\0s9' | $FDIO write-stdin "$C/snapshot")" EINVAL "NUL in a write"
assert_eq "$(head -c 64 /dev/urandom | $FDIO write-stdin "$C/keyvaults/kv1/keys/k1/enabled")" EINVAL "binary"
exec 8<"$MNT/disks/p1"
assert_eq "$($FDIO write "$C/disks/p1/encryption" des1)" EBUSY "switch an attached disk"
exec 8<&-
pid1=$(ssefs disk-encryption-set show -n des1 --query identity.principalId -o tsv)
ssefs keyvault delete-policy -n kv1 --object-id "$pid1" -o none
assert_eq "$($FDIO write "$C/disks/p1/encryption" des1)" EPERM "set without vault permission"
ssefs keyvault set-policy -n kv1 --object-id "$pid1" --key-permissions get wrapkey unwrapkey -o none
assert_eq "$(ls "$MNT/snapshots")" "s1" "nothing else was created"

case_ "a platform-key disk switches to a customer key through disks/DISK/encryption"
echo des1 >"$C/disks/p1/encryption"
assert_eq "$(cat "$C/disks/p1/encryption")" "EncryptionAtRestWithCustomerKey $DES1"
assert_eq "$(ssefs disk show -n p1 --query encryption.type -o tsv)" EncryptionAtRestWithCustomerKey

case_ "disabling the key stops I/O on an open disk at once, even of data read just before"
exec 5<>"$MNT/disks/d1"
head -c 65536 /dev/urandom >"$WORK/pattern"
assert_eq "$($FDIO pwrite 5 8192 <"$WORK/pattern")" OK
want=$(sha256sum <"$WORK/pattern" | cut -d' ' -f1)
assert_eq "$($FDIO pread 5 8192 65536)" "$want" "read before revocation"
unwraps_before=$(ssefs keyvault audit -n kv1 --query "length([?operation=='UnwrapKey' && outcome=='Succeeded'])")
echo false >"$C/keyvaults/kv1/keys/k1/enabled"
assert_eq "$(cat "$C/keyvaults/kv1/keys/k1/enabled")" false
assert_eq "$($FDIO pread 5 8192 65536)" EKEYREVOKED "read after disable"
assert_eq "$($FDIO pwrite 5 0 <"$WORK/pattern")" EKEYREVOKED "write after disable"
if dd if="$MNT/disks/d1" bs=4096 count=1 status=none of=/dev/null 2>"$WORK/err"; then fail "opened a revoked disk"; fi
grep -q "Key has been revoked" "$WORK/err" || fail "dd: $(cat "$WORK/err")"

case_ "enabling it again resumes I/O on the same open file, after an audited unwrap"
echo true >"$C/keyvaults/kv1/keys/k1/enabled"
assert_eq "$($FDIO pread 5 8192 65536)" "$want" "read after enable"
unwraps_after=$(ssefs keyvault audit -n kv1 --query "length([?operation=='UnwrapKey' && outcome=='Succeeded' && callerObjectId=='$P1'])")
[ "$unwraps_after" -gt "$unwraps_before" ] || fail "no new unwrap in the audit log ($unwraps_before -> $unwraps_after)"
ssefs keyvault audit -n kv1 --query "[?operation=='UnwrapKey'] | [-1].resource" -o tsv | grep -q "/disks/d1$" || fail "the unwrap does not name d1"

case_ "a soft-deleted key gives ENOKEY, revoked access EACCES; recovery and a new grant resume"
ssefs keyvault key delete --vault-name kv1 -n k1 -o none
assert_eq "$($FDIO pread 5 8192 65536)" ENOKEY "read with a deleted key"
ssefs keyvault key recover --vault-name kv1 -n k1 -o none
assert_eq "$($FDIO pread 5 8192 65536)" "$want" "read after recover"
ssefs keyvault delete-policy -n kv1 --object-id "$P1" -o none
assert_eq "$($FDIO pread 5 8192 65536)" EACCES "read without vault access"
ssefs keyvault set-policy -n kv1 --object-id "$P1" --key-permissions get wrapkey unwrapkey -o none
assert_eq "$($FDIO pread 5 8192 65536)" "$want" "read after a new grant"

case_ "an open Ultra disk keeps working while the key is disabled, but cannot be opened again"
exec 6<>"$MNT/disks/u1"
assert_eq "$($FDIO pwrite 6 0 <"$WORK/pattern")" OK
echo false >"$C/keyvaults/kv1/keys/k1/enabled"
assert_eq "$($FDIO pread 6 0 65536)" "$want" "Ultra disk after disable"
assert_eq "$($FDIO pread 5 8192 65536)" EKEYREVOKED "Premium disk after disable"
assert_eq "$($FDIO open "$MNT/disks/u1" r)" EKEYREVOKED "reopen the Ultra disk"
echo true >"$C/keyvaults/kv1/keys/k1/enabled"
exec 6<&-

case_ "rotation during concurrent writes loses nothing, and re-wraps without touching data"
python3 - "$MNT/disks/d1" "$C" "$WORK" <<'PY' || fail "rotation under load"
import os, sys, threading, hashlib
disk, control, work = sys.argv[1:4]
blocks, size = 2048, 65536          # 128 MiB of numbered 64 KiB blocks
def block(i):
    return (b"%08d" % i) * (size // 8)
done = threading.Event()
def writer():
    fd = os.open(disk, os.O_WRONLY)
    for i in range(blocks):
        os.pwrite(fd, block(i), (512 << 20) + i * size)
    os.fsync(fd)
    os.close(fd)
    done.set()
t = threading.Thread(target=writer)
t.start()
rotations = 0
while not done.is_set() or rotations < 3:
    with open(f"{control}/keyvaults/kv1/keys/k1/rotate", "w") as f:
        f.write("rotate\n")
    kid = open(f"{control}/keyvaults/kv1/keys/k1/kid").read().strip()
    with open(f"{control}/disk-encryption-sets/des1/key-url", "w") as f:
        f.write(kid + "\n")
    rotations += 1
t.join()
fd = os.open(disk, os.O_RDONLY)
for i in range(blocks):
    assert os.pread(fd, size, (512 << 20) + i * size) == block(i), f"block {i} lost"
os.close(fd)
print(f"      {rotations} rotations during {blocks} writes of 64 KiB; every block verified")
PY
kid=$(cat "$C/keyvaults/kv1/keys/k1/kid")
assert_eq "$(cat "$C/disk-encryption-sets/des1/key-url")" "$kid"
assert_eq "$(grep -c " $kid\$" "$C/disk-encryption-sets/des1/resources")" 4 "every resource re-wrapped (d1 u1 p1 s1)"
assert_eq "$(ssefs disk-encryption-set show -n des1 --query 'length(previousKeys)')" 0
before=$(sha256sum "$SSEFS_STORE/disks/d1/data" | cut -d' ' -f1)
echo x >"$C/keyvaults/kv1/keys/k1/rotate"
cat "$C/keyvaults/kv1/keys/k1/kid" >"$C/disk-encryption-sets/des1/key-url"
after=$(sha256sum "$SSEFS_STORE/disks/d1/data" | cut -d' ' -f1)
assert_eq "$after" "$before" "data file checksum unchanged by rotation"
exec 5<&-

case_ "rotate on a key moves a set with auto-rotation to the new version at once"
ssefs disk-encryption-set update -n des2 --enable-auto-key-rotation true -o none
echo go >"$C/keyvaults/kv1/keys/k2/rotate"
assert_eq "$(cat "$C/disk-encryption-sets/des2/key-url")" "$(cat "$C/keyvaults/kv1/keys/k2/kid")"

unmount_store

case_ "no DEK or private-key material in the daemon's log or the audit log"
python3 - "$SSEFS_STORE" <<'PY' || fail "a secret leaked"
import base64, glob, json, os, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
store = sys.argv[1]
secrets = []
for rec_path in glob.glob(f"{store}/disks/*/volume.json") + glob.glob(f"{store}/snapshots/*/volume.json"):
    rec = json.load(open(rec_path))
    kek = rec["key"]["kek"]
    if kek["type"] == "platform":
        pem = f"{store}/platform-key.pem"
    else:
        parts = kek["keyUrl"].split("/")
        pem = f"{store}/vaults/{parts[2].split('.')[0]}/keys/{parts[4]}/{parts[5]}.pem"
    key = serialization.load_pem_private_key(open(pem, "rb").read(), password=None)
    dek = key.decrypt(base64.b64decode(rec["key"]["wrappedDek"]),
                      padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    secrets += [dek[:16], dek.hex()[:32].encode(), base64.b64encode(dek)[:24]]
for pem in glob.glob(f"{store}/vaults/*/keys/*/*.pem") + [f"{store}/platform-key.pem"]:
    lines = [l for l in open(pem).read().splitlines() if not l.startswith("-----")]
    secrets.append(lines[len(lines) // 2].encode())
logs = [f"{store}/daemon.log"] + glob.glob(f"{store}/vaults/*/audit.log")
for log in logs:
    data = open(log, "rb").read()
    for s in secrets:
        assert s not in data, f"secret in {log}"
print(f"      {len(secrets)} secrets searched for in {len(logs)} logs")
PY
echo "ok"
