// Command misbehave is a test module: "storage.misbehave", an in-memory
// store whose Stat misbehaves on request, by key:
//
//	loop      spins forever (the node's call timeout must stop it)
//	hog       allocates until the module's memory limit is hit
//	panic     panics (the Go runtime exits the module)
//	read/...  lists the module's directory "/" + the rest of the key
//	          (fails unless plugins.yaml granted it)
//	write/... writes the module's file "/" + the rest of the key (fails
//	          unless plugins.yaml granted its folder, writable)
//
// Any other key is an ordinary Stat. Build with GOOS=wasip1 GOARCH=wasm
// go build -buildmode=c-shared.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
	"github.com/nvm-node/nvm-node/sdk/wasmguest"
)

type backend struct{ *memstorage.Backend }

func (b backend) Info(ctx context.Context) (plugin.Info, error) {
	i, err := b.Backend.Info(ctx)
	i.Name = "misbehave"
	return i, err
}

// sink keeps the hog's allocations reachable so the collector cannot free them.
var sink [][]byte

func (b backend) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	switch {
	case key == "loop":
		for {
		}
	case key == "hog":
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	case key == "panic":
		panic("asked to panic")
	case strings.HasPrefix(key, "read/"):
		entries, err := os.ReadDir("/" + strings.TrimPrefix(key, "read/"))
		if err != nil {
			return storage.ObjectInfo{}, &storage.Error{Op: "stat", Key: key, Err: fmt.Errorf("%w: %w", storage.ErrPermission, err)}
		}
		return storage.ObjectInfo{Key: key, Size: int64(len(entries))}, nil
	case strings.HasPrefix(key, "write/"):
		if err := os.WriteFile("/"+strings.TrimPrefix(key, "write/"), []byte("written"), 0o600); err != nil {
			return storage.ObjectInfo{}, &storage.Error{Op: "stat", Key: key, Err: fmt.Errorf("%w: %w", storage.ErrPermission, err)}
		}
		return storage.ObjectInfo{Key: key}, nil
	}
	return b.Backend.Stat(ctx, key)
}

func init() { wasmguest.ServeStorage(backend{memstorage.New()}) }

func main() {}
