#!/usr/bin/env bash
# Download throughput of the node vs nginx on loopback: one file (1 GiB by default) served by the node's builtin
# storage.local backend (through auth, DDO resolution and the file-list decryption of every request) and by nginx
# (sendfile on) from the same folder. Prints MB/s of each run (curl to /dev/null) and each server's peak RSS
# (VmHWM), the node's rate for a byte range and for an encrypted copy it decrypts, and the node's share of nginx's
# best throughput (goal: >= 80%).
# With S3=1 the same file is also served from a real S3-compatible server (versitygw, `go install
# github.com/versity/versitygw/cmd/versitygw@v1.8.0`) through the storage-s3 process plugin.
# Usage: [S3=1] scripts/bench-download.sh [size_MiB] [runs]; needs curl and nginx (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1024}
RUNS=${2:-3}
PORT=${PORT:-18031}
NGINX_PORT=${NGINX_PORT:-18032}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || { echo "nginx is not installed (apt-get install nginx)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 1; }
BIN=${BIN:-bin/node}
[ -x "$BIN" ] || go build -o bin/node ./cmd/node

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/data" "$work/nginx"
echo "writing a ${SIZE_MB} MiB file..."
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$work/data/big.bin"
# nginx's worker runs as an unprivileged user when started as root: let it read the file.
chmod 755 "$work" "$work/data"
chmod 644 "$work/data/big.bin"

# The node: `node dev` without its chain, storage.local on the data folder, an asset whose file is local://big.bin.
cat >"$work/plugins.yaml" <<YAML
plugins:
  - id: storage.local
    runtime: builtin
    config: {root: "$work/data"}
YAML
s3_file=""
if [ "${S3:-}" = 1 ]; then
  # versitygw's posix backend serves the files of a bucket folder as its objects: link the file in.
  VERSITYGW=${VERSITYGW:-$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")}
  [ -x "$VERSITYGW" ] || { echo "versitygw is not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)" >&2; exit 1; }
  mkdir -p "$work/s3/nvm-bench"
  ln "$work/data/big.bin" "$work/s3/nvm-bench/big.bin"
  S3_PORT=${S3_PORT:-18033}
  "$VERSITYGW" --port "127.0.0.1:$S3_PORT" --access benchak --secret benchsk posix "$work/s3" >"$work/versitygw.log" 2>&1 &
  pids+=("$!")
  (cd plugins/storage-s3 && go build -o "$work/storage-s3" .)
  cat >>"$work/plugins.yaml" <<YAML
  - id: storage.s3
    runtime: process
    path: $work/storage-s3
    sha256: $(sha256sum "$work/storage-s3" | cut -d' ' -f1)
    urls: ["s3://nvm-bench/"]
    config: {endpoint: "http://127.0.0.1:$S3_PORT", bucket: nvm-bench, path_style: true, access_key_id: benchak, secret_access_key: benchsk}
YAML
  s3_file=',{"url":"s3://nvm-bench/big.bin","name":"big.bin"}'
fi
go build -o "$work/benchdownload" ./scripts/benchdownload
# File 1 is the same bytes encrypted (nvm-aead-v1), decrypted by the node as it streams them.
echo "encrypting it..."
token=$("$work/benchdownload" -data-dir "$work/dev" -seal "$work/data/big.bin,$work/data/big.enc" \
  -files '[{"url":"local://big.bin","name":"big.bin"},{"url":"local://big.enc","name":"big.bin","encryption":"nvm-aead-v1","password":"{password}"}'"$s3_file"']')
"$BIN" dev --no-chain --data-dir "$work/dev" --plugins "$work/plugins.yaml" --host 127.0.0.1 --port "$PORT" \
  --log-level warn 2>"$work/node.log" &
node_pid=$!
pids+=("$node_pid")

cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp;
  scgi_temp_path $work/nginx/tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $work/data;
  }
}
CONF
"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
pids+=("$nginx_pid")

node_url="http://127.0.0.1:$PORT/api/v1/node/services/download/0"
nginx_url="http://127.0.0.1:$NGINX_PORT/big.bin"
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && curl -sf -o /dev/null -r 0-0 "$nginx_url" && break
  sleep 0.1
done
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" -r 0-0 "$node_url")
[ "$status" = 206 ] || { echo "node answered $status; log:" >&2; cat "$work/node.log" >&2; exit 1; }

rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
best() { sort -n | tail -1; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
once() { # name run url [curl args...]: one download, its MB/s printed and kept in $work/speed.<name>
  local name=$1 run=$2 url=$3 bps
  shift 3
  bps=$(curl -sf -o /dev/null -w '%{speed_download}' "$@" "$url")
  awk -v b="$bps" -v n="$name" -v i="$run" 'BEGIN {printf "%-6s run %d: %8.0f MB/s\n", n, i, b/1e6}'
  echo "$bps" >>"$work/speed.$name"
}
echo "== ${SIZE_MB} MiB, $RUNS runs each (servers alternating), curl -o /dev/null on loopback ($(nproc) cores)"
for i in $(seq 1 "$RUNS"); do
  once nginx "$i" "$nginx_url"
  once node "$i" "$node_url" -H "Authorization: Bearer $token"
  # A range (from byte 1) takes the node's userspace copy instead of sendfile, and the encrypted copy is
  # decrypted (AES-256-GCM) on the way: shown, not compared.
  once range "$i" "$node_url" -H "Authorization: Bearer $token" -r 1-
  once sealed "$i" "${node_url%/0}/1" -H "Authorization: Bearer $token"
  if [ -n "$s3_file" ]; then once s3 "$i" "${node_url%/0}/2" -H "Authorization: Bearer $token"; fi
done
# nginx's worker is the master's child; its own pid for the peak RSS.
nginx_worker=$(cat "/proc/$nginx_pid/task/$nginx_pid/children" 2>/dev/null | awk '{print $1}')
node_best=$(best <"$work/speed.node")
nginx_best=$(best <"$work/speed.nginx")
node_median=$(median <"$work/speed.node")
nginx_median=$(median <"$work/speed.nginx")
awk -v a="$node_best" -v b="$nginx_best" 'BEGIN {printf "best:   node %5.0f MB/s, nginx %5.0f MB/s: node at %3.0f%% of nginx (goal >= 80%%)\n", a/1e6, b/1e6, 100*a/b}'
awk -v a="$node_median" -v b="$nginx_median" 'BEGIN {printf "median: node %5.0f MB/s, nginx %5.0f MB/s: node at %3.0f%% of nginx\n", a/1e6, b/1e6, 100*a/b}'
if [ -n "$s3_file" ]; then
  awk -v a="$(median <"$work/speed.s3")" -v b="$nginx_median" 'BEGIN {printf "median: node from S3 (versitygw, storage-s3 plugin) %5.0f MB/s: %3.0f%% of nginx from disk\n", a/1e6, 100*a/b}'
fi
echo "peak RSS: node $(hwm "$node_pid") MiB, nginx master $(hwm "$nginx_pid") MiB + worker $(hwm "${nginx_worker:-$nginx_pid}") MiB"
