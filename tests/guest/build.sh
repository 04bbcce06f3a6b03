#!/usr/bin/env bash
# Builds a tiny bootable guest from the distribution's packages: prints the kernel's path and
# writes OUT/initramfs.cpio.gz, which holds busybox, the kernel modules a guest needs to use
# an ext4 virtio disk and FUSE (with their dependencies, from modules.dep), the ssefs binary
# if one is given (with its shared libraries), and an /init script.
#
#   [GUEST_INIT=FILE] build.sh OUT [SSEFS_BIN]
#
# /init is GUEST_INIT when set, else tests/guest/init (which runs tests/guest/guest.sh, also
# copied, with the step named on the kernel command line: the guest of 95-power-loss.sh).
# tests/guest/vm-init is the guest of the VM tests: it needs no ssefs binary.
# Needs: linux-image-amd64, busybox-static, gzip.
set -euo pipefail
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: [GUEST_INIT=FILE] $0 OUT [SSEFS_BIN]" >&2; exit 2; }
out=$1
ssefs_bin=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
init=${GUEST_INIT:-$here/init}
[ -f "$init" ] || { echo "no init script $init" >&2; exit 1; }
[ -z "$ssefs_bin" ] || [ -x "$ssefs_bin" ] || { echo "$ssefs_bin is not an executable" >&2; exit 1; }
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -n "$kernel" ] || { echo "no kernel in /boot (install linux-image-amd64)" >&2; exit 1; }
kver=${kernel#/boot/vmlinuz-}
moddir=/lib/modules/$kver
[ -f "$moddir/modules.dep" ] || { echo "no modules for $kver" >&2; exit 1; }
busybox=$(command -v busybox) || { echo "no busybox (install busybox-static)" >&2; exit 1; }
linkage=$(ldd "$busybox" 2>&1 || true)
case "$linkage" in
  *"not a dynamic"*) ;;
  *) echo "$busybox is not static (install busybox-static)" >&2; exit 1 ;;
esac

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,data,mnt,tmp,lib/modules,lib64,lib/x86_64-linux-gnu}
cp "$busybox" "$root/bin/busybox"
cp "$init" "$root/init"
chmod 755 "$root/init"
if [ -z "${GUEST_INIT:-}" ]; then
  cp "$here/guest.sh" "$root/guest.sh"
  chmod 755 "$root/guest.sh"
fi

# Modules in load order: each one's dependencies (modules.dep lists them) before it.
want=(virtio_pci virtio_blk ext4 crc32c_generic fuse)
order=()
add() { # add MODULE-PATH: its dependencies first, once each
  local path=$1 dep
  for seen in "${order[@]}"; do [ "$seen" = "$path" ] && return 0; done
  for dep in $(awk -v m="$path:" '$1 == m { $1 = ""; print }' "$moddir/modules.dep"); do add "$dep"; done
  order+=("$path")
}
for m in "${want[@]}"; do
  path=$(awk -F: -v m="/$m.ko" 'index($1, m) && substr($1, length($1) - length(m) + 1) == m { print $1; exit }' "$moddir/modules.dep")
  [ -n "$path" ] || { echo "module $m not found for $kver" >&2; exit 1; }
  add "$path"
done
: >"$root/lib/modules/load-order"
for path in "${order[@]}"; do
  name=$(basename "$path")
  case "$name" in
    *.ko.xz) xz -dc "$moddir/$path" >"$root/lib/modules/${name%.xz}"; name=${name%.xz} ;;
    *.ko.zst) zstd -qdc "$moddir/$path" >"$root/lib/modules/${name%.zst}"; name=${name%.zst} ;;
    *) cp "$moddir/$path" "$root/lib/modules/$name" ;;
  esac
  echo "$name" >>"$root/lib/modules/load-order"
done

# ssefs and the libraries it links, when given.
if [ -n "$ssefs_bin" ]; then
  # Without its symbols: a debug build is 90 MB with them, 12 MB without, and every boot
  # unpacks the initramfs.
  if command -v strip >/dev/null; then
    strip -o "$root/bin/ssefs" "$ssefs_bin"
  else
    cp "$ssefs_bin" "$root/bin/ssefs"
  fi
  for lib in $(ldd "$ssefs_bin" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
fi

(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$out/initramfs.cpio.gz"
echo "$kernel"
