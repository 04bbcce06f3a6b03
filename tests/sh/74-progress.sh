#!/usr/bin/env bash
# Progress of long work (issue 13): on a terminal (a pseudo-terminal made by script(1)) a copy
# that is not a reflink, a rotation that re-wraps the DEKs of several disks and `ssefs check`
# draw a bar on stderr; through a pipe nothing extra is printed, and stdout (-o json) is the
# same either way; and the same when the store is mounted, where the mount daemon does the work
# and sends its progress to the caller.
. "$(dirname "$0")/lib.sh"
command -v script >/dev/null || fail "script(1) missing (util-linux)"
# on_tty CMD: runs CMD (a shell string) with stdin, stdout and stderr on a pseudo-terminal.
on_tty() { script -q -e -c "$1" /dev/null; }

ssefs group create -n rg -l eastus -o none
ssefs keyvault create -n kv-progress -g rg -l eastus --enable-purge-protection true -o none
ssefs keyvault key create --vault-name kv-progress -n k1 -o none
url=$(ssefs keyvault key show --vault-name kv-progress -n k1 --query key.kid -o tsv)
ssefs disk-encryption-set create -n des -g rg --key-url "$url" -o none
pid=$(ssefs disk-encryption-set show -n des -g rg --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kv-progress --object-id "$pid" --key-permissions get wrapkey unwrapkey -o none
for d in d1 d2 d3; do
  ssefs disk create -n $d -g rg --disk-encryption-set des --size-gb 1 -o none
done
# 100 MiB of data: above the 64 MiB under which no bar is drawn.
mount_store
dd if=/dev/urandom of="$MNT/disks/d1" bs=1M count=100 conv=notrunc,fsync status=none
unmount_store
S=$SSEFS

case_ "a snapshot copy (not a reflink on this filesystem) draws a bar on a terminal, to the end"
out=$(on_tty "$S snapshot create -g rg -n s1 --source d1 -o none")
echo "$out" | grep -q "copying snapshot 's1' \[" || fail "no bar: $(echo "$out" | cat -A | head -c 400)"
echo "$out" | grep -q "1.00 GiB/1.00 GiB" || fail "the bar did not reach the end: $(echo "$out" | cat -A | tail -c 400)"

case_ "the same copy through a pipe prints nothing extra, and -o json stays pure on a terminal"
out=$("$S" snapshot create -g rg -n s2 --source d1 -o none 2>&1 | cat)
assert_eq "$out" "" "output through a pipe"
on_tty "$S snapshot create -g rg -n s3 --source d1 -o json >$WORK/s3.json" >"$WORK/tty.log"
grep -q "copying snapshot 's3'" "$WORK/tty.log" || fail "no bar on the terminal's stderr"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['name']=='s3'" "$WORK/s3.json" ||
  fail "stdout is not the JSON alone: $(head -c 300 "$WORK/s3.json")"

case_ "a rotation re-wrapping several disks draws a bar on a terminal, not through a pipe"
ssefs keyvault key rotate --vault-name kv-progress -n k1 -o none
url2=$(ssefs keyvault key show --vault-name kv-progress -n k1 --query key.kid -o tsv)
out=$(on_tty "$S disk-encryption-set update -n des -g rg --key-url $url2 -o none")
# d1..d3 and the snapshots s1..s3 of d1, all under the set.
echo "$out" | grep -q "re-wrapping the DEKs of disk encryption set 'des' \[.*6/6" ||
  fail "no rotation bar: $(echo "$out" | cat -A | tail -c 400)"
ssefs keyvault key rotate --vault-name kv-progress -n k1 -o none
url3=$(ssefs keyvault key show --vault-name kv-progress -n k1 --query key.kid -o tsv)
out=$("$S" disk-encryption-set update -n des -g rg --key-url "$url3" -o none 2>&1 | cat)
assert_eq "$out" "" "rotation output through a pipe"
assert_eq "$(ssefs disk show -g rg -n d2 --query encryption.diskEncryptionSetId -o tsv | sed 's|.*/||')" des "set"

case_ "a rotation a crash interrupted, resumed by the next command, draws its bar on a terminal"
ssefs keyvault key rotate --vault-name kv-progress -n k1 -o none
url4=$(ssefs keyvault key show --vault-name kv-progress -n k1 --query key.kid -o tsv)
# The state a crash right after the rotation's first step leaves: the set points at the new key
# and lists the old one in previousKeys; no DEK is re-wrapped yet (as tests/store_data.rs does).
des_json=$(grep -l '"name": *"des"' $(find "$SSEFS_STORE" -path '*diskEncryptionSets*' -name '*.json'))
python3 - "$des_json" "$url4" <<'PY'
import json, sys
path, url = sys.argv[1], sys.argv[2]
d = json.load(open(path))
old = dict(d["activeKey"])
d["activeKey"]["keyUrl"] = url
d["previousKeys"] = [old]
json.dump(d, open(path, "w"), indent=2)
PY
out=$(on_tty "$S disk list -o none")
echo "$out" | grep -q "re-wrapping the DEKs of disk encryption set 'des' \[.*6/6" ||
  fail "no bar for the resumed rotation: $(echo "$out" | cat -A | tail -c 400)"
assert_eq "$(ssefs disk-encryption-set show -n des -g rg --query 'length(previousKeys)')" 0 "previousKeys after the resume"

case_ "ssefs check draws a bar on a terminal, not through a pipe, and reports the same"
out=$(on_tty "$S check")
echo "$out" | grep -q "checking disks, snapshots and images \[.*6/6" || fail "no check bar: $(echo "$out" | cat -A | tail -c 400)"
echo "$out" | grep -q "no problems found" || fail "$out"
out=$("$S" check 2>&1 | cat)
echo "$out" | grep -q "checking" && fail "a bar through a pipe: $out"
echo "$out" | grep -q "no problems found" || fail "$out"

case_ "mounted: the daemon's copy draws its bar on the caller's terminal, nothing through a pipe"
mount_store
out=$(on_tty "$S snapshot create -g rg -n s4 --source d1 -o json >$WORK/s4.json")
echo "$out" | grep -q "copying snapshot 's4' \[" || fail "no bar from the daemon: $(echo "$out" | cat -A | tail -c 400)"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['name']=='s4'" "$WORK/s4.json" ||
  fail "stdout is not the JSON alone: $(head -c 300 "$WORK/s4.json")"
out=$("$S" snapshot create -g rg -n s5 --source d1 -o none 2>&1 | cat)
assert_eq "$out" "" "forwarded output through a pipe"
grep -q "copying snapshot" "$SSEFS_STORE/daemon.log" && fail "a bar in the daemon's log"
unmount_store

echo "ok: $(basename "$0")"
