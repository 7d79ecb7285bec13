//go:build !nodevchain

package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/config"
	"github.com/nvm-node/nvm-node/core/contracts"
	"github.com/nvm-node/nvm-node/core/devchain"
	"github.com/nvm-node/nvm-node/core/keys"
)

// StartDevChain starts the embedded dev chain under cfg.DataDir/chain, with
// the Nevermined contracts deployed and the provider account funded, and
// points cfg's chain settings at it. The caller closes the chain after the
// node stops.
func StartDevChain(ctx context.Context, cfg *config.Config, opts DevChainOptions) (*DevChain, error) {
	path, err := locateContracts(ctx, opts.Contracts, opts.Logger)
	if err != nil {
		return nil, err
	}
	set, err := contracts.Load(path)
	if err != nil {
		return nil, err
	}
	provider, err := keystoreAddress(cfg.Keys.ProviderKeyfile)
	if err != nil {
		return nil, err
	}
	chain, err := devchain.Start(ctx, devchain.Config{
		DataDir:      filepath.Join(cfg.DataDir, "chain"),
		ChainID:      opts.ChainID,
		HTTPAddr:     opts.HTTPAddr,
		Contracts:    set,
		FundAccounts: []common.Address{provider},
		Logger:       opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("dev chain: %w", err)
	}
	cfg.Chain.RPCURL = chain.RPCURL()
	cfg.Chain.ChainID = chain.ChainID()
	cfg.Chain.ArtifactsFolder = chain.ArtifactsDir()
	dc := &DevChain{
		RPCURL: chain.RPCURL(), ChainID: chain.ChainID(), ArtifactsDir: chain.ArtifactsDir(), ReadyIn: chain.ReadyIn(),
		close: chain.Close,
	}
	for _, a := range chain.Accounts() {
		dc.Accounts = append(dc.Accounts, DevAccount{Address: a.Address, KeyHex: a.KeyHex()})
	}
	return dc, nil
}

// locateContracts finds the compiled contracts, building them from the
// repository's pinned sources when they are missing (about a minute, once).
func locateContracts(ctx context.Context, explicit string, log *slog.Logger) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, rootErr := contracts.RepoRoot(wd)
	path, err := contracts.Locate(root)
	if err == nil {
		return path, nil
	}
	if !errors.Is(err, contracts.ErrNotBuilt) || rootErr != nil {
		return "", fmt.Errorf("compiled Nevermined contracts not found (set %s or --contracts, or run from the repository): %w", contracts.EnvDir, err)
	}
	if log != nil {
		log.Info("compiling the Nevermined contracts once (about a minute)")
	}
	return contracts.Build(ctx, root)
}

// keystoreAddress reads the account address a keystore declares, without
// decrypting it (node.New decrypts it once, and checks the address matches).
func keystoreAddress(keyfile string) (common.Address, error) {
	data, err := keys.ReadKeystore(keyfile)
	if err != nil {
		return common.Address{}, err
	}
	var ks struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal(data, &ks); err != nil || !common.IsHexAddress(ks.Address) {
		return common.Address{}, errors.New("provider keystore has no valid address field")
	}
	return common.HexToAddress(ks.Address), nil
}
