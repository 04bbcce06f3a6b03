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
echo "ok"
