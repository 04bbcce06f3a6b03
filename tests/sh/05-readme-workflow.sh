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
out=$(SSEFS_STORE="$SSEFS_STORE" bash -c "set -euo pipefail; shopt -s expand_aliases; alias az='$SSEFS'; source '$WORK/workflow.sh'")
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
out=$(SSEFS_STORE="$SSEFS_STORE" bash -c "set -euo pipefail; shopt -s expand_aliases; alias az='$SSEFS'; source '$WORK/rbac.sh'")
assert_eq "$(echo "$out" | tail -n 1)" EncryptionAtRestWithCustomerKey "last line of the RBAC block"
echo "$out" | grep -qx "Reader" || fail "the Reader assignment is not listed: $out"
echo "ok"
