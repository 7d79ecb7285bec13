//go:build nodevchain

package node

import (
	"context"
	"errors"

	"github.com/nvm-node/nvm-node/core/config"
)

// ErrNoDevChain: this build leaves the embedded chain out (build tag
// nodevchain), which makes a smaller `node serve` binary.
var ErrNoDevChain = errors.New("this build has no embedded dev chain (built with -tags nodevchain); set chain.rpc_url or use --no-chain")

// StartDevChain reports that the embedded chain is not in this build.
func StartDevChain(context.Context, *config.Config, DevChainOptions) (*DevChain, error) {
	return nil, ErrNoDevChain
}
