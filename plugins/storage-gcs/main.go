// Command storage-gcs is the nvm-node storage plugin "storage.gcs": objects
// in a Google Cloud Storage bucket (see package gcsstore and README.md). The
// node starts it as a process plugin; run `storage-gcs describe` to print
// its plugin description.
package main

import (
	"log/slog"
	"os"

	"github.com/nvm-node/nvm-node/plugins/storage-gcs/gcsstore"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
)

func main() {
	// JSON lines on stderr keep their level and fields in the node's log.
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rpcplugin.Serve(gcsstore.New(log))
}
