// Command storage-s3 is the nvm-node storage plugin for Amazon S3 and
// S3-compatible servers, run by the node as a process plugin
// ("storage.s3"). See README.md for its configuration.
//
//	go build -o storage-s3 .
//	./storage-s3 describe
package main

import (
	"log/slog"
	"os"

	"github.com/nvm-node/nvm-node/plugins/storage-s3/s3store"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
)

func main() {
	// JSON on stderr: the node parses it into its own log.
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	rpcplugin.Serve(s3store.New(log))
}
