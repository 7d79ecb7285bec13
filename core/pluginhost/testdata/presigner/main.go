// Command presigner is a test plugin: memstorage plus a Presign that
// returns a URL spelling out its arguments, so the host's tests can see
// Presign cross the process boundary and the host's wrappers intact.
package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
)

type backend struct{ *memstorage.Backend }

func (b backend) Info(ctx context.Context) (plugin.Info, error) {
	i, err := b.Backend.Info(ctx)
	i.Name, i.Version = "presigner", "v0.0.1"
	i.Capabilities = append(slices.Clone(i.Capabilities), storage.CapPresign)
	return i, err
}

func (b backend) Presign(_ context.Context, key string, opts storage.PresignOptions) (string, error) {
	if !storage.ValidKey(key) {
		return "", &storage.Error{Op: "presign", Key: key, Err: storage.ErrInvalidKey}
	}
	return fmt.Sprintf("test://%s?method=%s&expires=%s", key, opts.Method, opts.Expires.Round(time.Second)), nil
}

func main() { rpcplugin.Serve(backend{memstorage.New()}) }
