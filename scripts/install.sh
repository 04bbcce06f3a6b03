#!/usr/bin/env bash
# Installs ssefs: the binary, mount(8)'s helper, the systemd unit, shell completions and man
# pages, under a prefix (default /usr/local) and an optional staging root (DESTDIR, for
# packages):
#
#   scripts/install.sh [--prefix P] [--destdir D] [--bin PATH]
#
#   P/bin/ssefs                                  the binary (--bin, default target/release/ssefs,
#                                                built with cargo build --release if missing)
#   D/sbin/mount.fuse.ssefs -> P/bin/ssefs       mount -t fuse.ssefs and fstab (mount(8) looks
#                                                in /sbin only, whatever the prefix)
#   P/lib/systemd/system/ssefs@.service          one mount as a service
#   P/share/bash-completion/completions/ssefs    completions, when `ssefs completion` exists
#   P/share/zsh/site-functions/_ssefs
#   P/share/fish/vendor_completions.d/ssefs.fish
#   P/share/man/man1/*.1                         from docs/man, when present
#
# --sbin DIR puts the helper elsewhere (tests install into a scratch directory).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=/usr/local
destdir=
bin=
sbin=/sbin
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --destdir) destdir=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --sbin) sbin=$2; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be absolute" >&2; exit 2 ;; esac
if [ -z "$bin" ]; then
  bin=target/release/ssefs
  [ -x "$bin" ] || cargo build --release --quiet
fi
[ -x "$bin" ] || { echo "install.sh: $bin is not an executable" >&2; exit 1; }

root=$destdir$prefix
install -d "$root/bin" "$destdir$sbin" "$root/lib/systemd/system"
install -m 755 "$bin" "$root/bin/ssefs"
# The helper is the binary itself, called by another name (src/cli/mount_helper.rs).
ln -sfn "$prefix/bin/ssefs" "$destdir$sbin/mount.fuse.ssefs"
sed "s|@BINDIR@|$prefix/bin|g" dist/systemd/ssefs@.service >"$root/lib/systemd/system/ssefs@.service"
chmod 644 "$root/lib/systemd/system/ssefs@.service"

# Completions come from the binary itself, when it has the `completion` command.
if "$root/bin/ssefs" completion bash >/dev/null 2>&1; then
  install -d "$root/share/bash-completion/completions" "$root/share/zsh/site-functions" \
    "$root/share/fish/vendor_completions.d"
  "$root/bin/ssefs" completion bash >"$root/share/bash-completion/completions/ssefs"
  "$root/bin/ssefs" completion zsh >"$root/share/zsh/site-functions/_ssefs"
  "$root/bin/ssefs" completion fish >"$root/share/fish/vendor_completions.d/ssefs.fish"
  echo "installed completions"
else
  echo "no completions: this ssefs has no 'completion' command"
fi
if compgen -G "docs/man/*.1" >/dev/null; then
  install -d "$root/share/man/man1"
  install -m 644 docs/man/*.1 "$root/share/man/man1/"
  echo "installed man pages"
else
  echo "no man pages: docs/man has none"
fi
echo "installed ssefs in $root (helper $destdir$sbin/mount.fuse.ssefs)"
