#!/usr/bin/env bash
# Puts `kvmtui` on PATH: a symlink BIN_DIR/kvmtui -> this checkout's .venv/bin/kvmtui
# (BIN_DIR: $1, default /usr/local/bin). Only where nothing else is: an existing link to
# this checkout is kept, a dangling link replaced; anything else is left alone and the
# line says where kvmtui is instead. Run by scripts/setup.sh as root.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=${1:-/usr/local/bin}
target=$PWD/.venv/bin/kvmtui
link=$bin_dir/kvmtui

if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
    exit 0
fi
if [ -e "$link" ]; then
    echo "setup: $link is not this checkout's (it is $(readlink -f "$link")); left alone. This one: $target" >&2
    exit 0
fi
mkdir -p "$bin_dir"
ln -sfn "$target" "$link"  # -f: replaces only a dangling link (-e was false)
echo "setup: linked $link -> $target"
case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) echo "setup: $bin_dir is not on your PATH: add it, or type $target" >&2 ;;
esac
