#!/usr/bin/env bash
# Concurrency soak, bounded in time: writers on three disks, a rotation loop, a snapshot loop
# and a key disable/enable loop, all at once through the mount and /.control. At the end every
# block holds its last successful write, no I/O hung (a watchdog bounds each one), the daemon is
# still serving, and `ssefs check` finds nothing wrong.
. "$(dirname "$0")/lib.sh"
SOAK_SECONDS=${SSEFS_SOAK_SECONDS:-20}

ssefs keyvault create -n kvs -g rg --enable-purge-protection true -o none
ssefs keyvault key create --vault-name kvs -n k -o none
url=$(ssefs keyvault key show --vault-name kvs -n k --query key.kid -o tsv)
ssefs disk-encryption-set create -n ds -g rg --key-url "$url" -o none
pid=$(ssefs disk-encryption-set show -n ds --query identity.principalId -o tsv)
ssefs keyvault set-policy -n kvs --object-id "$pid" --key-permissions get wrapkey unwrapkey -o none
for d in s1 s2 s3; do ssefs disk create -n $d -g rg --disk-encryption-set ds --size-gb 1 -o none; done
mount_store

case_ "writers, rotation, snapshots and disable/enable at once for ${SOAK_SECONDS}s"
python3 - "$MNT" "$SOAK_SECONDS" "$SSEFS" <<'PY' || fail "soak"
import errno, os, random, subprocess, sys, threading, time
mnt, seconds, ssefs = sys.argv[1], float(sys.argv[2]), sys.argv[3]
ctl = f"{mnt}/.control"
deadline = time.monotonic() + seconds
beats, failures = {}, []
BLOCK, BLOCKS = 65536, 512          # 32 MiB per disk, overwritten again and again
KEY_ERRORS = (errno.EKEYREVOKED, errno.ENOKEY, errno.EACCES)

def beat(name):
    beats[name] = time.monotonic()

def content(disk, block, seq):
    return (b"%s:%06d:%09d|" % (disk.encode(), block, seq)) * (BLOCK // 20) + b"\0" * (BLOCK % 20)

def writer(disk, last):
    fd = os.open(f"{mnt}/disks/{disk}", os.O_RDWR)
    seq = 0
    while time.monotonic() < deadline:
        beat(disk)
        block = random.randrange(BLOCKS)
        seq += 1
        try:
            os.pwrite(fd, content(disk, block, seq), block * BLOCK)
            last[block] = seq
        except OSError as e:
            if e.errno not in KEY_ERRORS:
                failures.append(f"{disk}: {e}")
                return
            time.sleep(0.02)    # revoked for now: this write did not happen
    os.close(fd)

def control(path, text):
    try:
        with open(f"{ctl}/{path}", "w") as f:
            f.write(text)
        return True
    except OSError as e:
        if e.errno not in KEY_ERRORS + (errno.EEXIST, errno.EPERM):
            failures.append(f"{path}: {e}")
        return False

def rotator():
    while time.monotonic() < deadline:
        beat("rotate")
        if control("keyvaults/kvs/keys/k/rotate", "x\n"):
            kid = open(f"{ctl}/keyvaults/kvs/keys/k/kid").read()
            control("disk-encryption-sets/ds/key-url", kid)

def snapshotter():
    n = 0
    while time.monotonic() < deadline:
        beat("snapshot")
        n += 1
        if control("snapshot", f"s1 soak{n}\n") and n > 3:
            subprocess.run([ssefs, "snapshot", "delete", "-n", f"soak{n - 3}"], capture_output=True)

def toggler():
    while time.monotonic() < deadline:
        beat("toggle")
        control("keyvaults/kvs/keys/k/enabled", "false\n")
        time.sleep(0.15)
        control("keyvaults/kvs/keys/k/enabled", "true\n")
        time.sleep(0.4)

lasts = {d: {} for d in ("s1", "s2", "s3")}
threads = [threading.Thread(target=writer, args=(d, lasts[d])) for d in lasts]
threads += [threading.Thread(target=f) for f in (rotator, snapshotter, toggler)]
for t in threads:
    t.daemon = True
    t.start()
while any(t.is_alive() for t in threads):
    time.sleep(0.5)
    stale = [n for n, b in beats.items() if time.monotonic() - b > 60]
    if stale:
        print(f"hung: {stale}", file=sys.stderr)
        os._exit(1)
assert not failures, failures
control("keyvaults/kvs/keys/k/enabled", "true\n")
writes = 0
for disk, last in lasts.items():
    fd = os.open(f"{mnt}/disks/{disk}", os.O_RDONLY)
    for block, seq in last.items():
        assert os.pread(fd, BLOCK, block * BLOCK) == content(disk, block, seq), f"{disk} block {block}"
    writes += len(last)
    os.close(fd)
print(f"      verified {writes} blocks; every last write intact")
PY
ls "$MNT/disks" >/dev/null || fail "the daemon stopped serving"
unmount_store
ssefs check >"$WORK/check" || fail "check after the soak: $(cat "$WORK/check")"
echo "ok"
