package devchain

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
)

// genesisGasLimit is the block gas limit. Any of the contracts deploys well
// within it and within the per-transaction cap of 2^24 (EIP-7825).
const genesisGasLimit = 60_000_000

const genesisFileName = "genesis.json"

type genesisFile struct {
	Genesis *core.Genesis
}

// loadOrCreateGenesis returns the genesis of the chain in dataDir, creating
// and saving a new one on first use. The saved copy is what makes a restart
// open the same chain: go-ethereum refuses a genesis that differs from the
// one in its database, and a nil genesis would mean mainnet on an empty one.
func loadOrCreateGenesis(dataDir string, chainID uint64, accounts []Account, fund []common.Address) (*genesisFile, error) {
	path := filepath.Join(dataDir, genesisFileName)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		g := new(core.Genesis)
		if err := json.Unmarshal(data, g); err != nil {
			return nil, fmt.Errorf("devchain: %s: %w", path, err)
		}
		if g.Config == nil || g.Config.ChainID == nil {
			return nil, fmt.Errorf("devchain: %s: no chain id", path)
		}
		if !g.Config.ChainID.IsUint64() || g.Config.ChainID.Uint64() != chainID {
			return nil, fmt.Errorf("devchain: %s holds chain id %s, config asks for %d: use another data directory",
				dataDir, g.Config.ChainID, chainID)
		}
		return &genesisFile{Genesis: g}, nil
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("devchain: %w", err)
	}

	g := core.DeveloperGenesisBlock(genesisGasLimit, nil)
	g.Config.ChainID = new(big.Int).SetUint64(chainID)
	for _, a := range accounts {
		g.Alloc[a.Address] = types.Account{Balance: new(big.Int).Set(devAccountBalance)}
	}
	for _, a := range fund {
		if _, ok := g.Alloc[a]; !ok {
			g.Alloc[a] = types.Account{Balance: new(big.Int).Set(fundAccountBalance)}
		}
	}
	data, err = json.MarshalIndent(g, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("devchain: encode genesis: %w", err)
	}
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return nil, err
	}
	return &genesisFile{Genesis: g}, nil
}

// writeFileAtomic writes via a temporary file and rename, so a crash leaves
// either the old file or the new one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("devchain: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("devchain: write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("devchain: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("devchain: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("devchain: %w", err)
	}
	return nil
}
