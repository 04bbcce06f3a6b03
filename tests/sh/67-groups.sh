#!/usr/bin/env bash
# Resource groups as scopes, subscriptions, moves and group deletion, as a user scripts them:
# the same names in two groups (each with its own set, disk and snapshot), a rotation of one
# group's set that leaves the other alone, the mount's NAME@GROUP files, strict and default
# behaviour for a missing group, the same-subscription rule, `resource move` and
# `group delete`.
. "$(dirname "$0")/lib.sh"
FDIO="python3 $(dirname "$0")/fdio.py"

# The key URL that wraps the DEK of a disk or snapshot, read from its record in the store.
wrapped_by() { # wrapped_by KIND NAME GROUP
  python3 - "$SSEFS_STORE/$1" "$2" "$3" <<'EOF'
import json, os, sys
root, name, group = sys.argv[1:]
for entry in os.listdir(root):
    path = os.path.join(root, entry, "volume.json")
    if entry.startswith(".") or not os.path.exists(path):
        continue
    rec = json.load(open(path))
    if rec["name"].lower() == name.lower() and rec["resourceGroup"].lower() == group.lower():
        kek = rec["key"]["kek"]
        print(kek.get("keyUrl", "platform"))
EOF
}

case_ "strict: a missing group fails like az (ResourceGroupNotFound, exit 3), by setting or by SSEFS_STRICT"
set +e
SSEFS_STRICT=1 ssefs disk create -n d0 -g nosuch --size-gb 1 -o none 2>"$WORK/err"
code=$?
set -e
assert_eq "$code" 3 "exit code"
grep -qF "(ResourceGroupNotFound) Resource group 'nosuch' could not be found." "$WORK/err" ||
  fail "not az's message: $(cat "$WORK/err")"
ssefs config set strict true -o none
set +e
ssefs disk show -n d0 -g nosuch 2>"$WORK/err"
code=$?
set -e
assert_eq "$code" 3 "exit code of show"
grep -qF "(ResourceGroupNotFound)" "$WORK/err" || fail "show: $(cat "$WORK/err")"
ssefs config unset strict -o none
[ "$(ssefs group exists -n nosuch)" = false ] || fail "a refused command created the group"

case_ "by default a create makes the missing group, with one warning line"
ssefs disk create -n d0 -g autogrp --size-gb 1 -o none 2>"$WORK/err"
assert_eq "$(grep -c '^WARNING: ' "$WORK/err")" 1 "warning lines"
grep -q "az would fail with (ResourceGroupNotFound)" "$WORK/err" || fail "$(cat "$WORK/err")"
assert_eq "$(ssefs group exists -n autogrp)" true
ssefs disk create -n d1 -g autogrp --size-gb 1 -o none 2>"$WORK/err"
[ ! -s "$WORK/err" ] || fail "a second create in the group warned: $(cat "$WORK/err")"
ssefs disk create -n d2 -g autogrp2 --size-gb 1 --only-show-errors -o none 2>"$WORK/err"
[ ! -s "$WORK/err" ] || fail "--only-show-errors printed: $(cat "$WORK/err")"

case_ "group create, show, list, exists; tags; another location is refused as az refuses it"
ssefs group create -n rg1 -l eastus --tags env=test team -o none
ssefs group create -n rg2 -l eastus -o none
assert_eq "$(ssefs group show -n rg1 --query id -o tsv)" \
  "/subscriptions/$(ssefs account show --query id -o tsv)/resourceGroups/rg1"
assert_eq "$(ssefs group show -n rg1 --query tags.env -o tsv)" test
assert_eq "$(ssefs group show -n rg1 --query properties.provisioningState -o tsv)" Succeeded
ssefs group list --query "[].name" -o tsv | grep -qx rg2 || fail "rg2 not listed"
if ssefs group create -n rg1 -l westus 2>"$WORK/err"; then fail "location change accepted"; fi
grep -q "(InvalidResourceGroupLocation)" "$WORK/err" || fail "$(cat "$WORK/err")"
set +e
ssefs group show -n nosuch 2>/dev/null
assert_eq "$?" 3 "group show of a missing group"
set -e

case_ "the same names in two groups: a set, a disk and a snapshot in each"
ssefs keyvault create -n kv-groups -g rg1 -l eastus --enable-purge-protection true -o none
VAULT=$(ssefs keyvault show -n kv-groups --query id -o tsv)
for g in rg1 rg2; do
  ssefs keyvault key create --vault-name kv-groups -n "key-$g" -o none
  URL=$(ssefs keyvault key show --vault-name kv-groups -n "key-$g" --query key.kid -o tsv)
  ssefs disk-encryption-set create -n des -g "$g" --key-url "$URL" --source-vault "$VAULT" -o none
  P=$(ssefs disk-encryption-set show -n des -g "$g" --query identity.principalId -o tsv)
  ssefs keyvault set-policy -n kv-groups --object-id "$P" --key-permissions wrapkey unwrapkey get -o none
  DES=$(ssefs disk-encryption-set show -n des -g "$g" --query id -o tsv)
  case "$DES" in */resourceGroups/$g/*) ;; *) fail "set id without its group: $DES" ;; esac
  ssefs disk create -n data -g "$g" --size-gb 1 --encryption-type EncryptionAtRestWithCustomerKey \
    --disk-encryption-set des -o none
  ssefs snapshot create -n snap -g "$g" --source data -o none
done
assert_eq "$(ssefs disk show -n data -g rg2 --query encryption.diskEncryptionSetId -o tsv)" \
  "$(ssefs disk-encryption-set show -n des -g rg2 --query id -o tsv)"
assert_eq "$(ssefs disk list -g rg1 --query "length([?name=='data'])")" 1
assert_eq "$(ssefs disk list --query "length([?name=='data'])")" 2
assert_eq "$(ssefs snapshot show -n snap -g rg2 --query creationData.sourceResourceId -o tsv)" \
  "$(ssefs disk show -n data -g rg2 --query id -o tsv)"
if ssefs disk create -n data -g rg1 --size-gb 1 2>"$WORK/err"; then fail "duplicate in rg1"; fi
grep -q "(Conflict)" "$WORK/err" || fail "$(cat "$WORK/err")"
if ssefs disk show -n data 2>"$WORK/err"; then fail "an ambiguous name was resolved"; fi
grep -q "name the group with -g" "$WORK/err" || fail "$(cat "$WORK/err")"

case_ "rotating rg1's set re-wraps rg1's disk and snapshot only"
before_rg2=$(wrapped_by disks data rg2)
ssefs keyvault key create --vault-name kv-groups -n key-rg1 -o none
NEW=$(ssefs keyvault key show --vault-name kv-groups -n key-rg1 --query key.kid -o tsv)
ssefs disk-encryption-set update -n des -g rg1 --key-url "$NEW" --source-vault "$VAULT" -o none
assert_eq "$(wrapped_by disks data rg1)" "$NEW" "rg1's disk"
assert_eq "$(wrapped_by snapshots snap rg1)" "$NEW" "rg1's snapshot"
assert_eq "$(wrapped_by disks data rg2)" "$before_rg2" "rg2's disk"
assert_eq "$(wrapped_by snapshots snap rg2)" "$before_rg2" "rg2's snapshot"

case_ "the mount shows shared names as NAME@GROUP, each its own disk"
mount_store
ls "$MNT/disks" >"$WORK/ls"
grep -qx "data@rg1" "$WORK/ls" && grep -qx "data@rg2" "$WORK/ls" || fail "listing: $(cat "$WORK/ls")"
grep -qx "d0" "$WORK/ls" || fail "a unique name is not shown plainly: $(cat "$WORK/ls")"
[ ! -e "$MNT/disks/data" ] || fail "an ambiguous plain name resolves"
printf 'one' | dd of="$MNT/disks/data@rg1" bs=4096 conv=notrunc,fsync status=none
printf 'two' | dd of="$MNT/disks/data@rg2" bs=4096 conv=notrunc,fsync status=none
assert_eq "$(head -c 3 "$MNT/disks/data@rg1")" one
assert_eq "$(head -c 3 "$MNT/disks/data@RG2")" two "lookup without case"
ls "$MNT/.control/disks" | grep -qx "data@rg1" || fail ".control does not qualify shared names"
assert_eq "$(cat "$MNT/.control/disks/data@rg2/encryption" | head -1 | cut -c1-31)" "EncryptionAtRestWithCustomerKey"

case_ "group delete refuses while a disk of the group is attached, and changes nothing"
exec 5<>"$MNT/disks/data@rg2"
if ssefs group delete -n rg2 --yes 2>"$WORK/err"; then fail "deleted a group with an attached disk"; fi
grep -q "attached" "$WORK/err" || fail "$(cat "$WORK/err")"
assert_eq "$(ssefs disk-encryption-set show -n des -g rg2 --query name -o tsv)" des
exec 5>&-
if ssefs group delete -n rg2 2>"$WORK/err"; then fail "deleted without --yes"; fi

case_ "group delete --yes deletes the group's snapshots, disks, set and its role assignments"
P2=$(ssefs disk-encryption-set show -n des -g rg2 --query identity.principalId -o tsv)
ssefs role assignment create --assignee "$P2" --role Reader --scope "$(ssefs group show -n rg2 --query id -o tsv)" -o none
ssefs group delete -n rg2 --yes
assert_eq "$(ssefs group exists -n rg2)" false
assert_eq "$(ssefs disk list --query "length([?resourceGroup=='rg2'])")" 0
assert_eq "$(ssefs disk-encryption-set list --query "length([?resourceGroup=='rg2'])")" 0
assert_eq "$(ssefs role assignment list --assignee "$P2" --all --query 'length(@)')" 0
[ ! -e "$MNT/disks/data@rg2" ] || fail "the deleted disk is still in the mount"
assert_eq "$(head -c 3 "$MNT/disks/data")" one "rg1's disk, now the only 'data'"
unmount_store

case_ "a vault deleted with its group is soft-deleted and recoverable"
ssefs group create -n rgvault -l eastus -o none
ssefs keyvault create -n kv-doomed -g rgvault -l eastus --enable-purge-protection true -o none
ssefs group delete -n rgvault --yes
assert_eq "$(ssefs keyvault show-deleted -n kv-doomed --query name -o tsv)" kv-doomed "soft-deleted vault"
ssefs keyvault recover -n kv-doomed -o none

case_ "subscriptions: account list and set; listings show the current subscription only"
SUB1=$(ssefs account show --query id -o tsv)
SUB2=0b1f6471-1bf0-4dda-aec3-111122223333
ssefs account set --subscription "$SUB2"
assert_eq "$(ssefs account show --query id -o tsv)" "$SUB2"
assert_eq "$(ssefs account list --query 'length(@)')" 2
assert_eq "$(ssefs account list --query "[?isDefault].id" -o tsv)" "$SUB2"
assert_eq "$(ssefs disk list --query 'length(@)')" 0 "disks of another subscription"
assert_eq "$(ssefs group list --query 'length(@)')" 0
if ssefs account set --subscription "no such name" 2>"$WORK/err"; then fail "unknown name accepted"; fi
grep -q "doesn't exist in cloud 'AzureCloud'" "$WORK/err" || fail "$(cat "$WORK/err")"

case_ "same subscription and region: a disk in SUB2 cannot use rg1's set in SUB1; nor a set SUB1's vault"
ssefs group create -n rgs2 -l eastus -o none
DES1=/subscriptions/$SUB1/resourceGroups/rg1/providers/Microsoft.Compute/diskEncryptionSets/des
if ssefs disk create -n x -g rgs2 --size-gb 1 --disk-encryption-set "$DES1" 2>"$WORK/err"; then
  fail "a disk used a set of another subscription"
fi
grep -q "$SUB1" "$WORK/err" && grep -q "$SUB2" "$WORK/err" && grep -q "same subscription" "$WORK/err" ||
  fail "the refusal does not name both subscriptions: $(cat "$WORK/err")"
URL=$(ssefs keyvault key show --vault-name kv-groups -n key-rg1 --query key.kid -o tsv)
if ssefs disk-encryption-set create -n des2 -g rgs2 --key-url "$URL" 2>"$WORK/err"; then
  fail "a set used a vault of another subscription"
fi
grep -q "same subscription" "$WORK/err" || fail "$(cat "$WORK/err")"
if ssefs group create -n rg1 -l eastus 2>"$WORK/err"; then fail "rg1 created in a second subscription"; fi
ssefs account set --subscription "$SUB1"

case_ "resource move: platform disks between groups and subscriptions; customer-key ones within only"
ssefs group create -n rg3 -l eastus -o none
ssefs disk create -n plain -g rg1 --size-gb 1 -o none
PLAIN=$(ssefs disk show -n plain -g rg1 --query id -o tsv)
ssefs resource move --ids "$PLAIN" --destination-group rg3
assert_eq "$(ssefs disk show -n plain -g rg3 --query id -o tsv)" "${PLAIN/rg1/rg3}"
DATA=$(ssefs disk show -n data -g rg1 --query id -o tsv)
if ssefs resource move --ids "$DATA" --destination-group rgs2 --destination-subscription-id "$SUB2" 2>"$WORK/err"; then
  fail "a customer-key disk moved to another subscription"
fi
grep -q "cannot be moved to another subscription" "$WORK/err" || fail "$(cat "$WORK/err")"
ssefs resource move --ids "$DATA" --destination-group rg3
assert_eq "$(ssefs disk show -n data -g rg3 --query encryption.type -o tsv)" EncryptionAtRestWithCustomerKey
ssefs resource move --ids "${PLAIN/rg1/rg3}" --destination-group rgs2 --destination-subscription-id "$SUB2"
if ssefs disk show -n plain -g rg3 2>/dev/null; then fail "the moved disk is still in rg3"; fi
ssefs account set --subscription "$SUB2"
assert_eq "$(ssefs disk show -n plain -g rgs2 --query id -o tsv)" \
  "/subscriptions/$SUB2/resourceGroups/rgs2/providers/Microsoft.Compute/disks/plain"
ssefs account set --subscription "$SUB1"
mount_store
assert_eq "$(head -c 3 "$MNT/disks/data")" one "the moved customer-key disk keeps its data"
unmount_store
ssefs check >/dev/null || { ssefs check; fail "check after moves"; }
