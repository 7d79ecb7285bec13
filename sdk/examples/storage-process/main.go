// Command storage-process is an example third-party storage plugin run as
// a process: "storage.example", a directory-backed store. It reuses
// localstorage for the work and changes only its name, to show how little
// a plugin's main needs: build the backend, hand it to rpcplugin.Serve.
//
// Build it, record its checksum in plugins.yaml, and the node runs it:
//
//	go build -o storage-example ./examples/storage-process
//	sha256sum storage-example
//	./storage-example describe
package main

import (
	"context"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
	"github.com/nvm-node/nvm-node/sdk/storage/localstorage"
)

// backend is localstorage under another name.
type backend struct{ *localstorage.Backend }

func (b backend) Info(ctx context.Context) (plugin.Info, error) {
	i, err := b.Backend.Info(ctx)
	i.Name, i.Version = "example", "v0.1.0"
	return i, err
}

func main() { rpcplugin.Serve(backend{localstorage.New()}) }
