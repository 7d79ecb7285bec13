// Command badversion is a storage plugin claiming a storage API version
// the node does not support, to test the host's refusal.
package main

import (
	"context"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
)

type backend struct{ *memstorage.Backend }

func (b backend) Info(ctx context.Context) (plugin.Info, error) {
	i, err := b.Backend.Info(ctx)
	i.APIVersion = 99
	return i, err
}

func main() { rpcplugin.Serve(backend{memstorage.New()}) }
