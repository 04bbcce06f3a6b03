#!/usr/bin/env bash
# az's conveniences with the store mounted, where commands run in the mount daemon: argument
# defaults (configure --defaults) fill -g and -l there too, --ids runs once per id, and
# -o yaml prints what a YAML reader reads back as the JSON.
. "$(dirname "$0")/lib.sh"

case_ "defaults set before and after mounting apply to commands the daemon runs"
ssefs group create -n rg1 -l westus2 -o none
ssefs group create -n rg2 -l eastus -o none
ssefs configure --defaults group=rg1 location=westus2
mount_store
assert_eq "$(ssefs disk create -n d1 --size-gb 1 --query '[resourceGroup, location]' -o tsv | tr '\n' ' ')" \
  "rg1 westus2 " "disk create without -g/-l in the daemon"
ssefs config set defaults.group=rg2 -o none
assert_eq "$(ssefs disk create -n d2 -l eastus --size-gb 1 --query resourceGroup -o tsv)" "rg2" \
  "a default changed while mounted"
assert_eq "$(ssefs disk create -n d3 -g rg1 --size-gb 1 --query resourceGroup -o tsv)" "rg1" \
  "an explicit -g wins"

case_ "--ids with several ids in the daemon: one result each, then deleted"
ids=$(ssefs disk list --query "[?name!='d3'].id" -g rg1 -o tsv; ssefs disk list -g rg2 --query "[].id" -o tsv)
# shellcheck disable=SC2086 # the ids are one word each, as in az scripts
assert_eq "$(ssefs disk show --ids $ids --query '[].name' -o tsv | tr '\n' ' ')" "d1 d2 " "show --ids"
# shellcheck disable=SC2086
ssefs disk delete --ids $ids --yes -o none
assert_eq "$(ssefs disk list --query 'length(@)' -g rg1)" "1" "d1 deleted, d3 kept"
assert_eq "$(ssefs disk list --query 'length(@)' -g rg2)" "0" "d2 deleted"

case_ "-o yaml from the daemon reads back as the JSON"
if python3 -c 'import yaml' 2>/dev/null; then
  ssefs disk show -n d3 -g rg1 >"$WORK/d3.json"
  ssefs disk show -n d3 -g rg1 -o yaml >"$WORK/d3.yaml"
  python3 - "$WORK/d3.json" "$WORK/d3.yaml" <<'PY' || fail "yaml differs from json"
import json, sys, yaml
a = json.load(open(sys.argv[1]))
b = yaml.safe_load(open(sys.argv[2]))
sys.exit(0 if a == b else 1)
PY
else
  echo "    (python3 yaml not installed: checked by tests/cli_help.rs with serde_norway)"
  ssefs disk show -n d3 -g rg1 -o yaml | grep -q '^name: d3$' || fail "no yaml"
fi
unmount_store
echo "PASS: $(basename "$0")"
