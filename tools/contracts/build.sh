#!/usr/bin/env bash
# Compiles the Nevermined v3 contracts into a cache folder and prints the path of
# the resulting contracts.json.
#
# Usage: tools/contracts/build.sh [OUTDIR]
#   OUTDIR defaults to <repo>/.cache/contracts (git-ignored).
#
# The output lives in OUTDIR/<key>/contracts.json where <key> is a hash of
# package-lock.json and compile.mjs, so a cached run only hashes two files.
# core/contracts computes the same key (contracts.CacheKey): change both together.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
outdir="${1:-$root/.cache/contracts}"

key="$(cat "$here/package-lock.json" "$here/compile.mjs" | sha256sum | cut -c1-16)"
target="$outdir/$key/contracts.json"

if [[ -s "$target" ]]; then
  echo "$target"
  exit 0
fi

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build.sh: $tool not found; install Node.js 20+ and npm" >&2
    exit 127
  fi
done

mkdir -p "$outdir"
# Serialise concurrent builds (go test runs packages in parallel); the second
# one finds the result of the first.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$outdir/.lock"
  flock 9
  if [[ -s "$target" ]]; then
    echo "$target"
    exit 0
  fi
fi

# npm ci wipes node_modules, so run it only when the lock file changed since
# the last successful install. Scripts are ignored: nothing here needs them.
lockhash="$(sha256sum "$here/package-lock.json" | cut -c1-64)"
marker="$here/node_modules/.nvm-lock-sha256"
if [[ ! -f "$marker" || "$(cat "$marker")" != "$lockhash" ]]; then
  echo "build.sh: npm ci in $here" >&2
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  echo "$lockhash" >"$marker"
fi

mkdir -p "$outdir/$key"
node "$here/compile.mjs" "$target"
echo "$target"
