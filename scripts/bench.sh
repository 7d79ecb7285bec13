#!/usr/bin/env bash
# Load-test a dev node on loopback with wrk: GET / and POST encrypt (PSK-RSA),
# reporting requests/s, p50/p99 latency and the node's RSS (idle and after load).
# Usage: scripts/bench.sh [duration] [connections]; needs wrk (Debian package).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-15s}
CONNS=${2:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18030}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
BIN=${BIN:-bin/node}
[ -x "$BIN" ] || go build -o bin/node ./cmd/node

data=$(mktemp -d)
log=$data/node.log
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
# KEYS=reference (default when ../shared is beside the repo) serves with the reference node's own test keys
# (1024-bit RSA), the same keys the reference node was measured with; KEYS=dev uses a dev node's 3072-bit key.
REF=../shared/testdata/reference
KEYS=${KEYS:-$([ -d "$REF" ] && echo reference || echo dev)}
if [ "$KEYS" = reference ]; then
  PROVIDER_KEYFILE="$REF/provider-keystore.json" PROVIDER_PASSWORD=secret RSA_PRIVKEY_FILE="$REF/rsa_priv_key.pem" \
    JWT_SECRET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
    "$BIN" serve --host 127.0.0.1 --port "$PORT" --log-level "${LOG_LEVEL:-info}" 2>"$log" &
else
  "$BIN" dev --data-dir "$data/dev" --port "$PORT" --log-level "${LOG_LEVEL:-info}" 2>"$log" &
fi
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
sleep 1
rss() { awk '/VmRSS/ {r=$2} /RssAnon/ {a=$2} END {printf "%.1f MiB (anonymous %.1f MiB)", r/1024, a/1024}' "/proc/$pid/status"; }
echo "node pid $pid ($KEYS keys, log level ${LOG_LEVEL:-info}), idle RSS $(rss)"

cat >"$data/encrypt.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"method":"PSK-RSA","message":"[{\\"index\\":0,\\"contentType\\":\\"text/plain\\",\\"url\\":\\"https://example.com/a.txt\\"}]"}'
LUA

run() {
  local name=$1; shift
  echo "== $name (wrk -t$THREADS -c$CONNS -d$DURATION)"
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" | grep -E 'Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors'
  echo "RSS after: $(rss)"
}
run "GET /" "http://127.0.0.1:$PORT/"
run "POST encrypt PSK-RSA" -s "$data/encrypt.lua" "http://127.0.0.1:$PORT/api/v1/node/services/encrypt"
