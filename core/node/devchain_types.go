package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// DevChainOptions configure the embedded chain of `node dev`.
type DevChainOptions struct {
	// ChainID; 0 means devchain.DefaultChainID (8996, which the official SDK
	// accepts).
	ChainID uint64
	// HTTPAddr is the loopback JSON-RPC address; empty means the port the
	// official SDK dials for chain 8996 (devchain.DefaultHTTPAddr).
	HTTPAddr string
	// Contracts is the compiled contracts file; empty finds it (NVM_CONTRACTS_DIR,
	// or the repository's build cache) and builds it when missing.
	Contracts string
	Logger    *slog.Logger
}

// DevChain is a running embedded chain, as `node dev` reports it.
type DevChain struct {
	RPCURL       string
	ChainID      uint64
	ArtifactsDir string
	ReadyIn      time.Duration
	// Accounts are funded deterministic dev accounts; their keys are public
	// test keys.
	Accounts []DevAccount
	close    func(context.Context) error
}

// DevAccount is a funded dev account.
type DevAccount struct {
	Address common.Address
	KeyHex  string
}

// Close stops the chain, keeping its state on disk.
func (c *DevChain) Close(ctx context.Context) error { return c.close(ctx) }
