#!/usr/bin/env bash
# Compile every Neo N3 contract of the repository with neo3-boa 1.3.0.
#
#   contracts/build.sh [path/to/neo3-boa]
#
# neo3-boa is taken from, in order: the first argument, $NEO3_BOA, or the venv that the chain
# harness (crate nsl-devchain) caches at
#   ${NSL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nsl}/neo3-boa-1.3.0/bin/neo3-boa
#
# Outputs (git-ignored):
#   contracts/build/<name>.nef, contracts/build/<name>.manifest.json           for contracts/<dir>/<name>.py
#   contracts/build/examples/<name>.nef, .../<name>.manifest.json              for examples/contracts/<dir>/<name>.py
# A contract is the .py file named like its directory (contracts/gateway/gateway.py).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${NSL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nsl}"
boa="${1:-${NEO3_BOA:-$cache/neo3-boa-1.3.0/bin/neo3-boa}}"

if [ ! -x "$boa" ]; then
    echo "error: neo3-boa not found at $boa" >&2
    echo "pass its path as the first argument or in NEO3_BOA, or create the cached venv:" >&2
    echo "  python3 -m venv \"$cache/neo3-boa-1.3.0\" && \"$cache/neo3-boa-1.3.0/bin/pip\" install neo3-boa==1.3.0" >&2
    exit 2
fi

out="$here/build"
mkdir -p "$out" "$out/examples"

count=0
compile() { # compile SOURCE OUTDIR
    local src="$1" dst="$2" name
    name="$(basename "$src" .py)"
    echo "compiling ${src#"$root"/}"
    if ! "$boa" compile "$src" -o "$dst/$name.nef" >"$dst/$name.log" 2>&1; then
        cat "$dst/$name.log" >&2
        echo "error: neo3-boa could not compile ${src#"$root"/}" >&2
        exit 1
    fi
    rm -f "$dst/$name.log"
    count=$((count + 1))
}

for dir in "$here"/*/ "$root"/examples/contracts/*/; do
    [ -d "$dir" ] || continue
    name="$(basename "$dir")"
    [ "$name" = build ] && continue
    src="$dir$name.py"
    [ -f "$src" ] || continue
    case "$dir" in
        "$root"/examples/*) compile "$src" "$out/examples" ;;
        *) compile "$src" "$out" ;;
    esac
done

echo "compiled $count contract(s) into ${out#"$root"/}"
