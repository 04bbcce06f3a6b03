#!/usr/bin/env bash
# Crash consistency: kill -9 at random moments (20 kill points per run) during a write workload
# that fsyncs numbered blocks, during a rotation of 200 disks, and during a snapshot; after each,
# nothing that was fsynced is lost, every disk opens, the rotation completes, and a half-made
# snapshot is absent. The kill moments are random; what is checked does not depend on them.
. "$(dirname "$0")/lib.sh"
FDIO="python3 $(dirname "$0")/fdio.py"
KILLS=${SSEFS_KILL_POINTS:-20}

ssefs keyvault create -n kvk -g rg --enable-purge-protection true -o none
ssefs keyvault key create --vault-name kvk -n k -o none
url=$(ssefs keyvault key show --vault-name kvk -n k --query key.kid -o tsv)
ssefs disk-encryption-set create -n dk -g rg --key-url "$url" -o none
pid=$(ssefs disk-encryption-set show -n dk --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kvk --object-id "$pid" --key-permissions get wrapkey unwrapkey -o none
ssefs disk create -n w -g rg --disk-encryption-set dk --size-gb 1 -o none

random_pause() { sleep "0.$((RANDOM % 40 + 5))"; }

case_ "kill -9 of the daemon during fsynced writes, $KILLS times: every fsynced block survives"
: >"$WORK/done"
for round in $(seq 1 "$KILLS"); do
  mount_store
  python3 - "$MNT/disks/w" "$WORK/done" "$round" 2>/dev/null <<'PY' &
import os, sys
disk, log, rnd = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(disk, os.O_WRONLY)
lg = os.open(log, os.O_WRONLY | os.O_APPEND)
i = 0
while True:
    block = rnd * 1000 + i
    os.pwrite(fd, (b"%010d" % block) * 409 + b"012345", block * 4096 % (1 << 30))
    os.fsync(fd)
    os.write(lg, b"%d\n" % block)   # logged only after the fsync returned
    i += 1
PY
  writer=$!
  random_pause
  kill -9 "$(python3 -c "import json;print(json.load(open('$SSEFS_STORE/daemon.json'))['pid'])")"
  wait "$writer" 2>/dev/null || true
  wait_until daemon_gone || fail "daemon survived kill -9"
  ssefs unmount "$MNT"
done
mount_store
python3 - "$MNT/disks/w" "$WORK/done" <<'PY' || fail "an fsynced block was lost"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
blocks = [int(l) for l in open(sys.argv[2]) if l.strip()]
assert blocks, "no block was ever written"
for b in blocks:
    got = os.pread(fd, 4096, b * 4096 % (1 << 30))
    assert got == (b"%010d" % b) * 409 + b"012345", f"block {b} lost"
print(f"      {len(blocks)} fsynced blocks verified after the kills")
PY
unmount_store

case_ "kill -9 of a rotation of 200 disks, $KILLS times: every disk opens, the next command finishes"
for i in $(seq 1 200); do ssefs disk create -n r$i -g rg --disk-encryption-set dk --size-gb 1 -o none; done
active=$url committed=0
for round in $(seq 1 "$KILLS"); do
  ssefs keyvault key rotate --vault-name kvk -n k -o none
  new=$(ssefs keyvault key show --vault-name kvk -n k --query key.kid -o tsv)
  "$SSEFS" disk-encryption-set update -n dk --key-url "$new" -o none &
  updater=$!
  sleep "0.$((RANDOM % 30))"
  kill -9 "$updater" 2>/dev/null || true
  wait "$updater" 2>/dev/null || true
  # Killed before it saved the set, the update never happened; after, it is the set's key.
  # Either is right, and the command that reads it finishes the re-wrap; nothing in between.
  got=$(ssefs disk-encryption-set show -n dk --query activeKey.keyUrl -o tsv)
  [ "$got" = "$active" ] || [ "$got" = "$new" ] ||
    fail "round $round: active key $got is neither the one before ($active) nor the new one ($new)"
  [ "$got" = "$new" ] && committed=$((committed + 1))
  assert_eq "$(ssefs disk-encryption-set show -n dk --query 'length(previousKeys)')" 0 "round $round: previousKeys after resume"
  active=$got
done
echo "      $committed of $KILLS updates had saved the set when killed"
# What the kills and the resumes left, before anything else touches it: every DEK of the set
# (w and r1..r200) wrapped by the active version, and a clean check.
assert_eq "$(grep -l "$active" "$SSEFS_STORE"/disks/*/volume.json | wc -l)" 201 "disks wrapped by the active version after the kills"
ssefs check >"$WORK/check" || fail "check after the kills: $(cat "$WORK/check")"
# The next update to the latest version runs to its end.
latest=$(ssefs keyvault key show --vault-name kvk -n k --query key.kid -o tsv)
ssefs disk-encryption-set update -n dk --key-url "$latest" -o none
assert_eq "$(ssefs disk-encryption-set show -n dk --query activeKey.keyUrl -o tsv)" "$latest" "active key"
assert_eq "$(ssefs disk-encryption-set show -n dk --query 'length(previousKeys)')" 0 "previousKeys"
# Every DEK of the set (w and r1..r200) is wrapped by exactly that version now.
assert_eq "$(grep -l "$latest" "$SSEFS_STORE"/disks/*/volume.json | wc -l)" 201 "disks wrapped by the latest version"
ssefs check >"$WORK/check" || fail "check after the last update: $(cat "$WORK/check")"
mount_store
for i in 1 57 200; do
  assert_eq "$($FDIO open "$MNT/disks/r$i" r)" OK "open r$i"
done
unmount_store

case_ "kill -9 of a snapshot of a large disk: the snapshot is complete or absent"
ssefs disk create -n big -g rg --size-gb 4 -o none
mount_store
head -c $((256 << 20)) /dev/urandom | dd of="$MNT/disks/big" bs=1M conv=notrunc,fsync status=none
unmount_store
for round in $(seq 1 5); do
  "$SSEFS" snapshot create -n bs$round -g rg --source big -o none &
  snapper=$!
  sleep "0.0$((RANDOM % 9))"
  kill -9 "$snapper" 2>/dev/null || true
  wait "$snapper" 2>/dev/null || true
  if ssefs snapshot show -n bs$round -o none 2>/dev/null; then
    assert_eq "$(ssefs snapshot show -n bs$round --query diskSizeGB)" 4 "snapshot size"
  fi
done
ssefs check >"$WORK/check" || fail "check after killed snapshots: $(cat "$WORK/check")"
! ls -a "$SSEFS_STORE/snapshots" | grep -q '^\.tmp-' || fail "a half-made snapshot was left behind"

case_ "kill -9 of the CLI in the middle of a key switch and of a deletion: before or after, never between"
for round in $(seq 1 "$KILLS"); do
  ssefs disk create -n sw$round -g rg --size-gb 1 -o none
  "$SSEFS" disk update -n sw$round --disk-encryption-set dk -o none &
  cli=$!
  sleep "0.0$((RANDOM % 10))"
  kill -9 "$cli" 2>/dev/null || true
  wait "$cli" 2>/dev/null || true
  type=$(ssefs disk show -n sw$round --query encryption.type -o tsv)
  case "$type" in
    EncryptionAtRestWithPlatformKey | EncryptionAtRestWithCustomerKey) ;;
    *) fail "sw$round: encryption '$type'" ;;
  esac
  "$SSEFS" disk delete -n sw$round &
  cli=$!
  sleep "0.0$((RANDOM % 10))"
  kill -9 "$cli" 2>/dev/null || true
  wait "$cli" 2>/dev/null || true
done
ssefs check >"$WORK/check" || fail "check after killed CLI commands: $(cat "$WORK/check")"
mount_store
for d in $(ls "$MNT/disks" | grep '^sw'); do
  assert_eq "$($FDIO open "$MNT/disks/$d" r)" OK "open $d"
done
unmount_store
echo "ok"
