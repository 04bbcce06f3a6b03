#!/usr/bin/env bash
# A regular user with fuse3 (issue 13): a scratch user created here (and removed afterwards,
# even on failure) keeps its own store in a directory it owns, mounts it without root
# (fuser runs fuse3's setuid fusermount3), writes and reads a disk, sees I/O refused while the
# key is disabled and resume when it is enabled, and unmounts with `ssefs unmount` and with
# `fusermount3 -u`. Nothing is skipped: a missing useradd or fusermount3 fails the test.
. "$(dirname "$0")/lib.sh"
for tool in useradd userdel runuser fusermount3; do
  command -v "$tool" >/dev/null || fail "$tool missing (.ci/run installs it)"
done
[ -u "$(command -v fusermount3)" ] || fail "fusermount3 is not setuid root"

NRUSER=ssefs-t$$
HOMEDIR=$WORK/home
NMNT=$HOMEDIR/mnt
nr_cleanup() {
  local status=$?
  set +e
  if grep -q " $NMNT " /proc/mounts; then
    umount "$NMNT" 2>/dev/null || umount -l "$NMNT"
  fi
  # Only the scratch user's processes (its daemon, if a check failed while it ran).
  id "$NRUSER" >/dev/null 2>&1 && pkill -9 -u "$NRUSER" 2>/dev/null
  id "$NRUSER" >/dev/null 2>&1 && userdel "$NRUSER"
  (exit "$status")
  cleanup
}
trap nr_cleanup EXIT

useradd --no-create-home --home-dir "$HOMEDIR" --shell /bin/bash "$NRUSER"
chmod 711 "$WORK"
install -d -o "$NRUSER" -g "$NRUSER" -m 700 "$HOMEDIR"
install -d -m 755 "$WORK/bin"
install -m 755 "$SSEFS" "$WORK/bin/ssefs"
# as_user SCRIPT: runs bash as the scratch user, with its store, in its home.
as_user() {
  (cd "$HOMEDIR" && runuser -u "$NRUSER" -- env -i HOME="$HOMEDIR" PATH="$WORK/bin:/usr/bin:/bin" \
    SSEFS_STORE="$HOMEDIR/store" NMNT="$NMNT" bash -euo pipefail -c "$1")
}
as_user 'mkdir "$NMNT"
  ssefs group create -n rg -l eastus -o none
  ssefs keyvault create -n kv-nonroot -g rg -l eastus --enable-purge-protection true -o none
  ssefs keyvault key create --vault-name kv-nonroot -n k1 -o none
  url=$(ssefs keyvault key show --vault-name kv-nonroot -n k1 --query key.kid -o tsv)
  ssefs disk-encryption-set create -n des -g rg --key-url "$url" -o none
  pid=$(ssefs disk-encryption-set show -n des -g rg --query identity.principalId -o tsv)
  ssefs keyvault set-policy -n kv-nonroot --object-id "$pid" --key-permissions get wrapkey unwrapkey -o none
  ssefs disk create -n d1 -g rg --disk-encryption-set des --size-gb 1 -o none'
uid=$(id -u "$NRUSER")

case_ "the user mounts its store: type fuse.ssefs, source ssefs:STORE, owned by the user"
as_user 'ssefs mount "$NMNT"'
line=$(grep " $NMNT " /proc/mounts) || fail "not mounted"
set -- $line
assert_eq "$1" "ssefs:$HOMEDIR/store" "source"
assert_eq "$3" fuse.ssefs "type"
case ",$4," in *",user_id=$uid,"*) ;; *) fail "not the user's mount: $4" ;; esac
pgrep -u "$NRUSER" -f "ssefs mount $NMNT" >/dev/null || fail "no daemon running as the user"

case_ "dd and sha256sum round trip through the user's mount"
as_user 'head -c $((8 << 20)) /dev/urandom >"$HOME/data"
  dd if="$HOME/data" of="$NMNT/disks/d1" bs=1M conv=notrunc,fsync status=none
  a=$(sha256sum <"$HOME/data")
  b=$(head -c $((8 << 20)) "$NMNT/disks/d1" | sha256sum)
  [ "$a" = "$b" ] || { echo "FAIL: read back differs" >&2; exit 1; }'

case_ "key disabled: an open file and a new open are refused; enabled: the same open file works"
as_user 'exec 3<"$NMNT/disks/d1"
  ssefs keyvault key set-attributes --vault-name kv-nonroot -n k1 --enabled false -o none
  if out=$(dd if=/dev/fd/3 of=/dev/null bs=4k count=1 iflag=direct status=none 2>&1); then
    echo "FAIL: the open file still read after revocation" >&2; exit 1
  fi
  echo "$out" | grep -q "revoked" || { echo "FAIL: not EKEYREVOKED: $out" >&2; exit 1; }
  if out=$(dd if="$NMNT/disks/d1" of=/dev/null bs=4k count=1 status=none 2>&1); then
    echo "FAIL: a new open read after revocation" >&2; exit 1
  fi
  echo "$out" | grep -q "revoked" || { echo "FAIL: not EKEYREVOKED: $out" >&2; exit 1; }
  ssefs keyvault key set-attributes --vault-name kv-nonroot -n k1 --enabled true -o none
  a=$(head -c 4096 "$HOME/data" | sha256sum)
  b=$(dd if=/dev/fd/3 bs=4k count=1 status=none | sha256sum)
  [ "$a" = "$b" ] || { echo "FAIL: the open file did not resume" >&2; exit 1; }
  exec 3<&-'

case_ "allow_other needs user_allow_other in /etc/fuse.conf, and the refusal says so"
if grep -qx "user_allow_other" /etc/fuse.conf 2>/dev/null; then
  echo "    (user_allow_other is set here: allow_other must work)"
  as_user 'ssefs unmount "$NMNT"; ssefs mount "$NMNT" --allow-other'
  grep " $NMNT " /proc/mounts | grep -q allow_other || fail "allow_other not in effect"
else
  set +e
  out=$(as_user 'mkdir -p "$HOME/mnt2"; SSEFS_STORE=$HOME/store2 ssefs mount "$HOME/mnt2" --allow-other' 2>&1)
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "allow_other mounted without user_allow_other"
  echo "$out" | grep -q "user_allow_other" || fail "the refusal does not name user_allow_other: $out"
  ! grep -q " $HOMEDIR/mnt2 " /proc/mounts || fail "mounted anyway"
fi

case_ "ssefs unmount as the user: unmounted, daemon gone"
as_user 'ssefs unmount "$NMNT"'
! grep -q " $NMNT " /proc/mounts || fail "still mounted"
! pgrep -u "$NRUSER" -f "ssefs mount" >/dev/null || fail "the daemon did not exit"

case_ "fusermount3 -u as the user: unmounted, the daemon notices and exits; the data is there"
as_user 'ssefs mount "$NMNT"; fusermount3 -u "$NMNT"'
! grep -q " $NMNT " /proc/mounts || fail "still mounted"
wait_until bash -c "! pgrep -u '$NRUSER' -f 'ssefs mount' >/dev/null" || fail "the daemon did not exit"
as_user 'ssefs mount "$NMNT"
  a=$(sha256sum <"$HOME/data")
  b=$(head -c $((8 << 20)) "$NMNT/disks/d1" | sha256sum)
  ssefs unmount "$NMNT"
  [ "$a" = "$b" ] || { echo "FAIL: data differs after remount" >&2; exit 1; }'

echo "ok: $(basename "$0")"
