#!/usr/bin/env bash
# The README's workflow, pasted into a shell with az as an alias of ssefs, runs without an error
# and prints EncryptionAtRestWithCustomerKey for the customer-key disk.
. "$(dirname "$0")/lib.sh"

case_ "the README workflow runs as documented"
python3 - "$ROOT/README.md" >"$WORK/workflow.sh" <<'PY'
import sys
s = open(sys.argv[1]).read()
i = s.index("## The workflow")
j = s.index("```sh", i) + len("```sh\n")
k = s.index("```", j)
for line in s[j:k].splitlines():
    # The build and the store location are the test's own.
    if line.startswith("cargo build") or line.startswith("export SSEFS_STORE="):
        continue
    print(line)
PY
grep -q "az disk create" "$WORK/workflow.sh" || fail "workflow block not found in README.md"
# Strict: the documented scripts create their groups, as they must in the cloud.
out=$(SSEFS_STRICT=1 SSEFS_STORE="$SSEFS_STORE" bash -c "set -euo pipefail; shopt -s expand_aliases; alias az='$SSEFS'; source '$WORK/workflow.sh'" 2>"$WORK/err")
[ ! -s "$WORK/err" ] || fail "the workflow printed on stderr: $(cat "$WORK/err")"
assert_eq "$(echo "$out" | tail -n 1)" EncryptionAtRestWithCustomerKey "last line of the workflow"

case_ "the README's RBAC block (account set, the documented Reader line, a role that lets the set wrap) runs as documented"
python3 - "$ROOT/README.md" >"$WORK/rbac.sh" <<'PY'
import sys
s = open(sys.argv[1]).read()
i = s.index("### Role assignments and RBAC vaults")
j = s.index("```sh", i) + len("```sh\n")
k = s.index("```", j)
print(s[j:k])
PY
grep -q "az role assignment create" "$WORK/rbac.sh" || fail "RBAC block not found in README.md"
out=$(SSEFS_STRICT=1 SSEFS_STORE="$SSEFS_STORE" bash -c "set -euo pipefail; shopt -s expand_aliases; alias az='$SSEFS'; source '$WORK/rbac.sh'" 2>"$WORK/err")
[ ! -s "$WORK/err" ] || fail "the RBAC block printed on stderr: $(cat "$WORK/err")"
assert_eq "$(echo "$out" | tail -n 1)" EncryptionAtRestWithCustomerKey "last line of the RBAC block"
echo "$out" | grep -qx "Reader" || fail "the Reader assignment is not listed: $out"

case_ "the README's groups block (same name in two groups, a move, a group delete, a new subscription) runs as documented"
python3 - "$ROOT/README.md" >"$WORK/groups.sh" <<'PY'
import sys
s = open(sys.argv[1]).read()
i = s.index("### Resource groups, subscriptions and moves")
j = s.index("```sh", i) + len("```sh\n")
k = s.index("```", j)
print(s[j:k])
PY
grep -q "az resource move" "$WORK/groups.sh" || fail "groups block not found in README.md"
out=$(SSEFS_STRICT=1 SSEFS_STORE="$SSEFS_STORE" bash -c "set -euo pipefail; shopt -s expand_aliases; alias az='$SSEFS'; source '$WORK/groups.sh'" 2>"$WORK/err")
[ ! -s "$WORK/err" ] || fail "the groups block printed on stderr: $(cat "$WORK/err")"
echo "$out" | grep -q "/resourceGroups/rg2/providers/Microsoft.Compute/disks/data$" || fail "no rg2 disk id: $out"
assert_eq "$(echo "$out" | tail -n 1)" 2 "subscriptions listed"
case_ "the README's VM block, after the workflow in the same shell, runs as documented"
python3 - "$ROOT/README.md" >"$WORK/vms.sh" <<'PY'
import sys
s = open(sys.argv[1]).read()
i = s.index("## VMs and scale sets on the encrypted disks")
j = s.index("```sh", i) + len("```sh\n")
k = s.index("```", j)
print(s[j:k])
PY
grep -q "az vm create" "$WORK/vms.sh" || fail "VM block not found in README.md"
# VMs run a script instead of qemu here (tests/sh/68 boots a real guest).
printf '#!/bin/sh\necho $$ > %s/runner.pid\ntrap "exit 0" TERM\nwhile :; do sleep 0.1; done\n' "$WORK" >"$WORK/runner.sh"
chmod +x "$WORK/runner.sh"
STORE2=$WORK/store2
"$SSEFS" --store "$STORE2" config set mount-point "$MNT" -o none
"$SSEFS" --store "$STORE2" config set vm.runner "$WORK/runner.sh {name}" -o none
out=$(SSEFS_STRICT=1 SSEFS_STORE="$STORE2" bash -c "set -euo pipefail; shopt -s expand_aliases; alias az='$SSEFS'; source '$WORK/workflow.sh' >/dev/null; source '$WORK/vms.sh'" 2>"$WORK/err") ||
  fail "the VM block failed: $(cat "$WORK/err")"
echo "$out" | grep -qx "VM running" || fail "no 'VM running' in: $out"
for slot in lun0 lun1 lun2 os; do
  echo "$out" | grep -qx "$slot" || fail "vms/myvm lacks $slot: $out"
done
echo "$out" | grep -q '"PowerState/running"' || fail "no instance view: $out"
"$SSEFS" unmount "$MNT"
echo "ok"
