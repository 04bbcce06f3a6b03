#!/usr/bin/env bash
# Regenerates the man pages under docs/man/ from the command line definition (one page per
# command and subcommand: ssefs.1, ssefs-disk.1, ssefs-disk-create.1, ...). Run it after
# changing a command, a flag or its help; tests/cli_help.rs fails while docs/man is not current.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin ssefs
rm -rf docs/man
target/debug/ssefs __gen-man docs/man >/dev/null
echo "docs/man: $(ls docs/man | wc -l) pages"
