#!/usr/bin/env bash
# A real guest on encrypted disks: `vm create` with the default qemu runner boots the
# distribution's kernel and a busybox initramfs (tests/guest/vm-init, no ssefs inside) on a
# customer-key OS disk and a customer-key data disk, as documented for az (`--image Debian11
# --os-disk-encryption-set DES --data-disk-sizes-gb 1 --data-disk-encryption-sets DES`, plus
# ssefs' --boot-kernel/--boot-initrd/--boot-append). The guest writes a random pattern to the
# start of its first data disk (/dev/vdb, LUN 0) and powers off.
#
# What it proves: `vm create` mounts the store where `mount-point` says, starts the VM at once
# and answers az's JSON; the disks get az's names, the set's encryption and the VM as
# `managedBy`; a guest that powers off leaves the VM `VM stopped`; the block the guest wrote
# reads back from $MNT/disks/<data disk>, and it is nowhere in the store in the clear.
. "$(dirname "$0")/lib.sh"

command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 is missing (install qemu-system-x86)"
ls /boot/vmlinuz-* >/dev/null 2>&1 || fail "no kernel in /boot (install linux-image-amd64)"
command -v busybox >/dev/null || fail "busybox is missing (install busybox-static)"

# The guest's qemu processes are started by the daemon: whatever happens, none survives the
# test. They are found by this run's scratch directory (their initrd and disks are under it)
# and killed by pid, before lib.sh's cleanup unmounts the store.
kill_guests() {
  local pid i
  for pid in $(pgrep -f "qemu-system-x86_64.*$WORK/" || true); do
    kill -9 "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  done
}
# set +e: errexit holds inside a trap too, and `(exit $rc)` would end it before cleanup.
trap 'rc=$?; set +e; kill_guests; (exit $rc); cleanup' EXIT
guests_gone() { ! pgrep -f "qemu-system-x86_64.*$WORK/" >/dev/null; }

# json FILE FIELD: a top-level field of a JSON document (python3, as the other tests use it).
json() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' "$1" "$2"; }
power() { ssefs vm show -g rg -n "$1" -d --query powerState -o tsv; }
# wait_power VM STATE SECONDS: polls the power state (a bound for a guest that never stops,
# not a timing assumption).
wait_power() {
  local i
  for ((i = 0; i < $3 * 2; i++)); do
    [ "$(power "$1" 2>/dev/null)" = "$2" ] && return 0
    sleep 0.5
  done
  return 1
}

PATTERN=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
LINE="SSEFS-VM-PATTERN $PATTERN"

case_ "build the guest: the distribution's kernel, busybox, virtio modules, tests/guest/vm-init"
KERNEL=$(GUEST_INIT="$ROOT/tests/guest/vm-init" bash "$ROOT/tests/guest/build.sh" "$WORK") ||
  fail "guest build (needs linux-image-amd64 and busybox-static)"
[ -s "$WORK/initramfs.cpio.gz" ] || fail "no initramfs"

case_ "settings: the mount point, TCG, a short stop timeout"
ssefs config set mount-point "$MNT" -o none
# Nested KVM hangs at boot on the machines this suite runs on; `auto` would probe KVM first
# (with a bound) and fall back, which costs a probe per start. TCG boots this guest in ~10 s.
ssefs config set vm.accel tcg -o none
ssefs config set vm.stop-timeout 10 -o none
assert_eq "$(ssefs config get mount-point -o tsv)" "$MNT" "mount-point"

case_ "a vault, a key, a set with access to it"
ssefs group create -n rg -l eastus -o none
ssefs keyvault create -n kv-vmg -g rg -l eastus --enable-purge-protection true -o none
ssefs keyvault key create --vault-name kv-vmg -n k -o none
URL=$(ssefs keyvault key show --vault-name kv-vmg -n k --query key.kid -o tsv)
ssefs disk-encryption-set create -n des -g rg --key-url "$URL" \
  --source-vault "$(ssefs keyvault show -n kv-vmg --query id -o tsv)" -o none
P=$(ssefs disk-encryption-set show -n des -g rg --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kv-vmg --object-id "$P" --key-permissions wrapkey unwrapkey get -o none
DES=$(ssefs disk-encryption-set show -n des -g rg --query id -o tsv)

case_ "vm create starts the VM at once, mounted at mount-point, and answers az's JSON"
grep -q " $MNT " /proc/mounts && fail "the store is mounted before vm create"
ssefs vm create -g rg -n vmg --image Debian11 --os-disk-encryption-set "$DES" \
  --data-disk-sizes-gb 1 --data-disk-encryption-sets "$DES" \
  --boot-kernel "$KERNEL" --boot-initrd "$WORK/initramfs.cpio.gz" \
  --boot-append "console=ttyS0 panic=-1 ssefs_pattern=$PATTERN" >"$WORK/create.json"
assert_eq "$(json "$WORK/create.json" powerState)" "VM running" "powerState of vm create"
VMID=$(json "$WORK/create.json" id)
case "$VMID" in
  /subscriptions/*/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vmg) ;;
  *) fail "vm id: $VMID" ;;
esac
grep -q " $MNT " /proc/mounts || fail "vm create did not mount the store at $MNT"

case_ "the disks: az's names, the set's customer key, managed by the VM"
OS=$(ssefs vm show -g rg -n vmg --query storageProfile.osDisk.name -o tsv)
DATA=$(ssefs vm show -g rg -n vmg --query "storageProfile.dataDisks[0].name" -o tsv)
[[ "$OS" =~ ^vmg_OsDisk_1_[0-9a-f]{32}$ ]] || fail "OS disk name: $OS"
[[ "$DATA" =~ ^vmg_disk2_[0-9a-f]+$ ]] || fail "data disk name: $DATA"
for d in "$OS" "$DATA"; do
  assert_eq "$(ssefs disk show -g rg -n "$d" --query encryption.type -o tsv)" \
    EncryptionAtRestWithCustomerKey "encryption of $d"
  assert_eq "$(ssefs disk show -g rg -n "$d" --query encryption.diskEncryptionSetId -o tsv)" \
    "$DES" "set of $d"
  assert_eq "$(ssefs disk show -g rg -n "$d" --query managedBy -o tsv)" "$VMID" "managedBy of $d"
done

case_ "the guest writes its pattern and powers off: the VM is 'VM stopped'"
if ! wait_power vmg "VM stopped" 120; then
  fail "the VM is '$(power vmg)' after 120 s; data disk starts with: $(head -c 64 "$MNT/disks/$DATA" | tr -d '\0')"
fi
wait_until guests_gone || fail "qemu still runs after the VM stopped"

case_ "the pattern reads back from the data disk's plaintext file"
{ yes "$LINE" || true; } | head -c 65536 >"$WORK/want" # yes ends on SIGPIPE
head -c 65536 "$MNT/disks/$DATA" >"$WORK/got"
cmp -s "$WORK/want" "$WORK/got" ||
  fail "the data disk starts with '$(head -1 "$WORK/got" | tr -d '\0' | head -c 80)', not '$LINE'"

case_ "the pattern is nowhere in the store in the clear"
# The line, not the bare word: the word is on the kernel command line, which the VM's record
# keeps (--boot-append); "SSEFS-VM-PATTERN <word>" exists only in the guest's writes. No -a:
# grep skips the holes of the sparse 30 GiB OS disk only in binary mode.
set +e
found=$(grep -rlF -- "$LINE" "$SSEFS_STORE")
rc=$?
set -e
[ $rc = 1 ] || fail "grep over the store (status $rc) found the plaintext in: $found"

unmount_store
ssefs check >/dev/null || fail "ssefs check"
echo "ok: $(basename "$0")"
