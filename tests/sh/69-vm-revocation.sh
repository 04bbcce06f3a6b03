#!/usr/bin/env bash
# Revocation stops VMs, except Ultra: two VMs on the same customer key, `vmp` (a Premium OS
# disk under the set) and `vmu` (an Ultra data disk under the set, its OS disk on the platform
# key), run by a template runner (vm.runner) that writes to its disk through the mount. For
# each of the three ways to make the key unusable (disable its version; delete it, then
# recover it; remove the set's access policy, then set it again):
#   - the platform stops vmp: its runner is asked to power off and is gone, `vm show -d` says
#     `VM stopped`, and the instance view carries PlatformStop/KeyUnusable naming the key;
#   - vmu keeps running and its writes keep succeeding; once stopped, neither VM starts
#     (`vm start` fails with the vault's code: KeyDisabled, KeyNotFound, Forbidden);
#   - making the key usable again restarts nothing by itself, and `vm start` brings both back.
# Last, the daemon is killed (-9) while both VMs run: after the stale mount is cleared and the
# store mounted again, no runner from before survives and both VMs are `VM stopped`.
. "$(dirname "$0")/lib.sh"

# The runner: records its pid, powers off (exit 0) on SIGTERM, and writes 4 KiB at the start
# of its first data disk (else its OS disk) every 0.1 s, logging ok or fail per write.
{ yes "runner write" || true; } | head -c 4096 >"$WORK/block" # yes ends on SIGPIPE
cat >"$WORK/runner.sh" <<EOF
#!/bin/sh
# vm.runner of $(basename "$0"): runner.sh NAME OS [DATA...]
name=\$1
os=\$2
shift 2
target=\${1:-\$os}
trap 'exit 0' TERM
# Like qemu, a runner opens its disk once and keeps it: an Ultra disk keeps working through
# the open file while its key is unusable (a new open would be refused).
exec 3<>"\$target"
echo \$\$ >"$WORK/\$name.pid"
echo \$\$ >>"$WORK/runners.pids"
while :; do
  if dd if="$WORK/block" bs=4096 count=1 conv=fsync 2>/dev/null >&3; then
    echo ok >>"$WORK/\$name.writes"
  else
    echo fail >>"$WORK/\$name.writes"
  fi
  sleep 0.1
done
EOF
chmod 755 "$WORK/runner.sh"

# is_runner PID: the process is one of this test's runners (not a recycled pid).
is_runner() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF "$WORK/runner.sh"; }
# dead PID: gone, or a zombie (exited, not yet reaped).
dead() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
# Whatever happens, no runner survives the test: every pid a runner recorded is killed, before
# lib.sh's cleanup unmounts the store. set +e: errexit holds inside a trap too.
kill_runners() {
  local pid killed=()
  [ -f "$WORK/runners.pids" ] || return 0
  for pid in $(sort -u "$WORK/runners.pids"); do
    if is_runner "$pid"; then kill -9 "$pid" 2>/dev/null && killed+=("$pid"); fi
  done
  for pid in "${killed[@]}"; do wait_until dead "$pid"; done
}
trap 'rc=$?; set +e; kill_runners; (exit $rc); cleanup' EXIT

power() { ssefs vm show -g rg -n "$1" -d --query powerState -o tsv; }
power_is() { [ "$(power "$1" 2>/dev/null)" = "$2" ]; }
statuses() { ssefs vm get-instance-view -g rg -n "$1" --query "instanceView.statuses[].code" -o tsv; }
platform_stop() { # platform_stop VM FIELD: a field of the PlatformStop/KeyUnusable status
  ssefs vm get-instance-view -g rg -n "$1" -o tsv \
    --query "instanceView.statuses[?code=='PlatformStop/KeyUnusable'] | [0].$2"
}
runner_pid() { cat "$WORK/$1.pid"; }
count() { # count VM ok|fail: the runner's writes so far
  if [ -f "$WORK/$1.writes" ]; then grep -c "^$2\$" "$WORK/$1.writes" || true; else echo 0; fi
}
oks_reach() { [ "$(count "$1" ok)" -ge "$2" ]; }
# start_vm VM: `vm start`, then its (new) runner is up, the VM is running and writes succeed.
start_vm() {
  local n
  rm -f "$WORK/$1.pid"
  ssefs vm start -g rg -n "$1" -o none
  wait_until test -s "$WORK/$1.pid" || fail "no runner for $1 after vm start"
  assert_eq "$(power "$1")" "VM running" "power state of $1 after vm start"
  n=$(count "$1" ok)
  wait_until oks_reach "$1" $((n + 1)) || fail "$1's runner cannot write after vm start"
}
# wait_started VM: after vm create, the runner is up and writes succeed.
wait_started() {
  wait_until test -s "$WORK/$1.pid" || fail "no runner for $1 after vm create"
  wait_until oks_reach "$1" 1 || fail "$1's runner cannot write: $(count "$1" fail) failed writes"
}
# same_plaintext VM DEVICE DISK: 4 KiB written at 1 MiB through the VM's view
# $MNT/vms/VM/DEVICE read back through $MNT/disks/DISK (the runners write at offset 0 only).
same_plaintext() {
  head -c 4096 /dev/urandom >"$WORK/marker"
  dd if="$WORK/marker" of="$MNT/vms/$1/$2" bs=4096 seek=256 count=1 conv=notrunc,fsync 2>/dev/null
  dd if="$MNT/disks/$3" of="$WORK/marker.back" bs=4096 skip=256 count=1 2>/dev/null
  cmp -s "$WORK/marker" "$WORK/marker.back" || fail "$MNT/vms/$1/$2 is not the plaintext of disk $3"
}

case_ "settings, a vault, a key, a set with access, an Ultra disk under the set; the mount"
ssefs config set mount-point "$MNT" -o none
ssefs config set vm.runner "$WORK/runner.sh {name} {os} {data}" -o none
# The runner powers off at once on SIGTERM; a short grace bounds a runner that would not.
ssefs config set vm.stop-timeout 5 -o none
ssefs group create -n rg -l eastus -o none
ssefs keyvault create -n kv-rev -g rg -l eastus --enable-purge-protection true -o none
ssefs keyvault key create --vault-name kv-rev -n k -o none
URL=$(ssefs keyvault key show --vault-name kv-rev -n k --query key.kid -o tsv)
KEY=${URL%/*} # the key's URL without its version: the PlatformStop message must name it
ssefs disk-encryption-set create -n des -g rg --key-url "$URL" \
  --source-vault "$(ssefs keyvault show -n kv-rev --query id -o tsv)" -o none
P=$(ssefs disk-encryption-set show -n des -g rg --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kv-rev --object-id "$P" --key-permissions wrapkey unwrapkey get -o none
ssefs disk create -n ultra1 -g rg --size-gb 1 --sku UltraSSD_LRS --disk-encryption-set des -o none
# Mounted by hand (not left to vm create) so that the daemon is `ssefs mount $MNT`, which the
# last case kills.
mount_store

case_ "vmp (Premium OS disk under the set) and vmu (Ultra data disk under the set) run"
ssefs vm create -g rg -n vmp --image Debian11 --os-disk-encryption-set des --storage-sku Premium_LRS -o none
ssefs vm create -g rg -n vmu --image Debian11 --ultra-ssd-enabled --attach-data-disks ultra1 -o none
wait_started vmp
wait_started vmu
assert_eq "$(power vmp)" "VM running" "vmp"
assert_eq "$(power vmu)" "VM running" "vmu"
OSP=$(ssefs vm show -g rg -n vmp --query storageProfile.osDisk.name -o tsv)
OSU=$(ssefs vm show -g rg -n vmu --query storageProfile.osDisk.name -o tsv)
assert_eq "$(ssefs vm show -g rg -n vmu --query "storageProfile.dataDisks[0].name" -o tsv)" ultra1 "vmu's LUN 0"
assert_eq "$(ssefs disk show -g rg -n "$OSP" --query sku.name -o tsv)" Premium_LRS "vmp's OS disk SKU"
assert_eq "$(ssefs disk show -g rg -n "$OSP" --query encryption.type -o tsv)" \
  EncryptionAtRestWithCustomerKey "vmp's OS disk"
assert_eq "$(ssefs disk show -g rg -n "$OSU" --query encryption.type -o tsv)" \
  EncryptionAtRestWithPlatformKey "vmu's OS disk"
same_plaintext vmp os "$OSP"
same_plaintext vmu lun0 ultra1

revoke_disable() { ssefs keyvault key set-attributes --vault-name kv-rev -n k --enabled false -o none; }
restore_disable() { ssefs keyvault key set-attributes --vault-name kv-rev -n k --enabled true -o none; }
revoke_delete() { ssefs keyvault key delete --vault-name kv-rev -n k -o none; }
key_shown() { ssefs keyvault key show --vault-name kv-rev -n k -o none 2>/dev/null; }
restore_delete() {
  ssefs keyvault key recover --vault-name kv-rev -n k -o none
  wait_until key_shown || fail "the key is not back after recover"
}
revoke_policy() { ssefs keyvault delete-policy -n kv-rev --object-id "$P" -o none; }
restore_policy() {
  ssefs keyvault set-policy -n kv-rev --object-id "$P" --key-permissions get wrapkey unwrapkey -o none
}

# revocation WHAT CODE REASON: the three cases of one way to make the key unusable; WHAT names
# the revoke_/restore_ functions, CODE is the az error code of a refused start, REASON an
# extended regular expression the PlatformStop message must match.
revocation() {
  local what=$1 code=$2 reason=$3 pp pu n0 codes msg vm rc
  case_ "$what: the platform stops vmp; vmu (Ultra) keeps running and writing"
  pp=$(runner_pid vmp)
  pu=$(runner_pid vmu)
  "revoke_$what"
  n0=$(count vmu ok)
  wait_until dead "$pp" || fail "vmp's runner ($pp) still runs after $what"
  wait_until power_is vmp "VM stopped" || fail "vmp is '$(power vmp)' after $what"
  codes=$(statuses vmp)
  for c in ProvisioningState/succeeded PowerState/stopped PlatformStop/KeyUnusable; do
    grep -qx "$c" <<<"$codes" || fail "vmp's instance view has no $c: $(tr '\n' ' ' <<<"$codes")"
  done
  assert_eq "$(platform_stop vmp level)" Warning "level of PlatformStop/KeyUnusable"
  msg=$(platform_stop vmp message)
  grep -qF "$KEY" <<<"$msg" || fail "the PlatformStop message does not name $KEY: $msg"
  grep -Eiq "$reason" <<<"$msg" || fail "the PlatformStop message gives no reason ($reason): $msg"
  if dead "$pu"; then fail "vmu's runner was stopped by $what"; fi
  wait_until oks_reach vmu $((n0 + 3)) || fail "vmu's writes stopped after $what"
  assert_eq "$(power vmu)" "VM running" "vmu after $what"
  assert_eq "$(count vmu fail)" 0 "vmu's failed writes"
  if grep -qx PlatformStop/KeyUnusable <<<"$(statuses vmu)"; then fail "vmu has a PlatformStop status"; fi

  case_ "$what: once stopped, neither VM starts ($code)"
  ssefs vm stop -g rg -n vmu -o none
  wait_until dead "$pu" || fail "vmu's runner ($pu) still runs after vm stop"
  wait_until power_is vmu "VM stopped" || fail "vmu is '$(power vmu)' after vm stop"
  for vm in vmu vmp; do
    rm -f "$WORK/$vm.pid"
    set +e
    ssefs vm start -g rg -n "$vm" -o none 2>"$WORK/err"
    rc=$?
    set -e
    assert_eq "$rc" 1 "exit code of vm start $vm after $what"
    grep -qF "($code)" "$WORK/err" || fail "vm start $vm after $what: $(cat "$WORK/err")"
    [ ! -e "$WORK/$vm.pid" ] || fail "vm start $vm failed but started a runner"
    assert_eq "$(power "$vm")" "VM stopped" "$vm after a refused start"
  done

  case_ "$what undone: nothing starts by itself; vm start runs both again"
  "restore_$what"
  # A chance for a daemon that wrongly restarts VMs to do so (the test never waits for it).
  sleep 1
  for vm in vmp vmu; do
    assert_eq "$(power "$vm")" "VM stopped" "$vm after the key is usable again"
    [ ! -e "$WORK/$vm.pid" ] || fail "$vm's runner started by itself"
  done
  start_vm vmp
  start_vm vmu
}

revocation disable KeyDisabled "disabled|KeyDisabled"
revocation delete KeyNotFound "deleted|not found|KeyNotFound"
revocation policy Forbidden "forbidden|access|permission|denied|policy"

case_ "the daemon killed (-9) while both VMs run: after a remount no runner survives, both stopped"
pp=$(runner_pid vmp)
pu=$(runner_pid vmu)
daemons=$(pgrep -f "ssefs mount $MNT") || fail "no daemon for $MNT"
# shellcheck disable=SC2086 # one word per pid
kill -9 $daemons
wait_until daemon_gone || fail "the daemon survives kill -9"
ssefs unmount "$MNT"
mount_store
for pid in "$pp" "$pu"; do
  wait_until dead "$pid" || fail "runner $pid from before the crash survives the remount"
done
assert_eq "$(power vmp)" "VM stopped" "vmp after the crash"
assert_eq "$(power vmu)" "VM stopped" "vmu after the crash"

unmount_store
ssefs check >/dev/null || fail "ssefs check"
echo "ok: $(basename "$0")"
