// Command storage-wasm is an example storage plugin built as a WebAssembly
// module: "storage.wasm-example", a directory-backed store. It reuses
// localstorage, which reaches files only through the directory the node
// mounts into the module (grants.dirs in plugins.yaml), and registers it
// with wasmguest at init time; main stays empty because a WASI reactor
// never runs it.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o storage-example.wasm ./examples/storage-wasm
//	sha256sum storage-example.wasm
package main

import (
	"context"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage/localstorage"
	"github.com/nvm-node/nvm-node/sdk/wasmguest"
)

// backend is localstorage under another name.
type backend struct{ *localstorage.Backend }

func (b backend) Info(ctx context.Context) (plugin.Info, error) {
	i, err := b.Backend.Info(ctx)
	i.Name, i.Version = "wasm-example", "v0.1.0"
	return i, err
}

func init() { wasmguest.ServeStorage(backend{localstorage.New()}) }

func main() {}
