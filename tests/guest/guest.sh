#!/bin/sh
# The guest side of tests/sh/95-power-loss.sh, run by /init with one step:
#   setup                       make the store on /data: a vault, a key, a set, the disks
#   wack=N,work=W[,wstart=K][,ser=S]
#                               verify (resume interrupted work, `ssefs check`, then read back
#                               every write the host saw acknowledged: blocks 0..N-1 of disk w,
#                               the rotation disks, every switched copy), then print GO and
#                               run workload W until the host cuts the power:
#                               writes (fsynced 64 KiB blocks from K), rotate (key versions and
#                               set rotations), switch (copies of a platform-key snapshot
#                               switched to a customer key, i.e. re-encrypted), or none.
# Every line the host relies on is printed only after the step it names is durable.
set -u
export SSEFS_STORE=/data/store
M=/mnt
step=$1
get() { echo ",$step," | sed -n "s/.*,$1=\([^,]*\),.*/\1/p"; }
fail() {
  echo "VERIFY FAIL $*"
  exit 1
}
block() { { echo "block $1"; dd if=/dev/zero bs=65536 count=1 2>/dev/null; } | head -c 65536; }
ROTATION_DISKS=8

if [ "$step" = setup ]; then
  set -e
  ssefs keyvault create -n kv-pl -g rg -l eastus --enable-purge-protection true -o none
  ssefs keyvault key create --vault-name kv-pl -n k1 -o none
  url=$(ssefs keyvault key show --vault-name kv-pl -n k1 --query key.kid -o tsv)
  ssefs disk-encryption-set create -n des1 -g rg --key-url "$url" -o none
  pid=$(ssefs disk-encryption-set show -n des1 --query identity.principalId -o tsv)
  ssefs keyvault set-policy -n kv-pl --object-id "$pid" --key-permissions get wrapkey unwrapkey -o none
  ssefs disk create -n w -g rg --size-gb 1 -o none
  i=1
  while [ $i -le $ROTATION_DISKS ]; do
    ssefs disk create -n "r$i" -g rg --size-gb 1 --disk-encryption-set des1 -o none
    i=$((i + 1))
  done
  ssefs disk create -n src -g rg --size-gb 1 -o none
  ssefs mount $M
  dd if=/dev/urandom of=$M/disks/src bs=1M count=4 conv=notrunc,fsync 2>/dev/null
  i=1
  while [ $i -le $ROTATION_DISKS ]; do
    echo "rot $i" | dd of=$M/disks/r$i conv=notrunc,fsync 2>/dev/null
    i=$((i + 1))
  done
  head -c 4194304 $M/disks/src | sha256sum | cut -d' ' -f1 >/data/src.sha
  ssefs unmount $M
  ssefs snapshot create -n snap0 -g rg --source src -o none
  sync
  echo "SETUP done $(cat /data/src.sha)"
  exit 0
fi

wack=$(get wack)
work=$(get work)
# 1. Resume whatever the cut interrupted (opening the store does), then check the store.
ssefs disk list -o none || fail "the store does not open"
if ! ssefs check >/tmp/check 2>&1; then
  cat /tmp/check
  fail "ssefs check"
fi
echo "CHECK ok: $(tail -1 /tmp/check)"
# 2. Read back everything acknowledged.
ssefs mount $M || fail "mount"
k=0
while [ "$k" -lt "$wack" ]; do
  got=$(dd if=$M/disks/w bs=65536 skip=$k count=1 2>/dev/null | head -1)
  [ "$got" = "block $k" ] || fail "block $k of disk w: '$got'"
  k=$((k + 1))
done
i=1
while [ $i -le $ROTATION_DISKS ]; do
  got=$(head -1 $M/disks/r$i)
  [ "$got" = "rot $i" ] || fail "disk r$i: '$got'"
  i=$((i + 1))
done
want=$(cat /data/src.sha)
copies=0
for d in $M/disks/sw*; do
  [ -e "$d" ] || continue
  sha=$(head -c 4194304 "$d" | sha256sum | cut -d' ' -f1)
  [ "$sha" = "$want" ] || fail "$(basename "$d") differs from its source"
  copies=$((copies + 1))
done
ssefs unmount $M || fail "unmount"
keyurl=$(ssefs disk-encryption-set show -n des1 --query activeKey.keyUrl -o tsv)
echo "VERIFY ok: $wack blocks, $ROTATION_DISKS rotation disks, $copies switched copies, key ${keyurl##*/}"

# 3. The next workload, until the power is cut.
case "$work" in
  writes)
    ssefs mount $M || fail "mount"
    k=$(get wstart)
    echo "GO writes"
    while :; do
      block "$k" | dd of=$M/disks/w bs=65536 seek="$k" conv=notrunc,fsync 2>/dev/null || fail "write $k"
      echo "SYNCED $k"
      k=$((k + 1))
    done
    ;;
  rotate)
    echo "GO rotate"
    n=0
    while :; do
      url=$(ssefs keyvault key rotate --vault-name kv-pl -n k1 --query key.kid -o tsv) || fail "rotate key"
      ssefs disk-encryption-set update -n des1 -g rg --key-url "$url" -o none || fail "rotate set"
      n=$((n + 1))
      echo "ROTATED $n"
    done
    ;;
  switch)
    n=$(get ser)
    echo "GO switch"
    while :; do
      ssefs disk create -n "sw$n" -g rg --source snap0 -o none || fail "copy sw$n"
      echo "CREATED sw$n"
      ssefs disk update -n "sw$n" -g rg --encryption-type EncryptionAtRestWithCustomerKey \
        --disk-encryption-set des1 -o none || fail "switch sw$n"
      echo "SWITCHED sw$n"
      n=$((n + 1))
    done
    ;;
  none) exit 0 ;;
  *) fail "unknown workload $work" ;;
esac
