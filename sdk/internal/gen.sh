#!/usr/bin/env bash
# Regenerates sdk/internal/pluginpb from sdk/proto. Needs protoc (Debian
# package protobuf-compiler) and the pinned Go plugins, installed with:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
# The generated code is committed; run this after editing a .proto file.
# With an argument, writes the tree under that folder instead (the
# up-to-date test uses this).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.}"
PATH="$(go env GOPATH)/bin:$PATH"
for tool in protoc protoc-gen-go protoc-gen-go-grpc; do
  command -v "$tool" >/dev/null || { echo "gen.sh: $tool not found (see the comment at the top)" >&2; exit 1; }
done
mkdir -p "$out/internal/pluginpb"
rm -f "$out"/internal/pluginpb/*.pb.go
protoc -I proto \
  --go_out="$out" --go_opt=module=github.com/nvm-node/nvm-node/sdk \
  --go-grpc_out="$out" --go-grpc_opt=module=github.com/nvm-node/nvm-node/sdk \
  proto/nvmnode/plugin/v1/plugin.proto
# The gRPC stubs serve the process runtime only. WASM guests (GOOS=wasip1)
# use the messages alone; leaving the stubs, and the grpc packages they
# import, out of the wasip1 build cuts a module from ~20 MB to ~8 MB.
stubs="$out/internal/pluginpb/plugin_grpc.pb.go"
{ printf '//go:build !wasip1\n\n'; cat "$stubs"; } > "$stubs.tmp"
mv "$stubs.tmp" "$stubs"
