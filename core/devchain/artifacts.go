package devchain

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// Artifact is the content of one `<Contract>.<network>.json` file, the format
// Nevermined clients and nodes load contracts from (name, abi, address,
// version; bytecode is extra).
type Artifact struct {
	Name     string          `json:"name"`
	ABI      json.RawMessage `json:"abi"`
	Bytecode string          `json:"bytecode,omitempty"`
	Address  string          `json:"address"` // EIP-55 checksummed, as Nevermined's own artifacts
	Version  string          `json:"version"`
}

// writeArtifacts writes one artifact per deployed contract. Files are
// rewritten on every start (cheaply), so a deleted or stale folder heals.
func writeArtifacts(dir, network string, set *contracts.Set, addrs map[string]common.Address) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("devchain: artifacts: %w", err)
	}
	for _, spec := range contracts.Deployment() {
		c, err := set.Contract(spec.Name)
		if err != nil {
			return fmt.Errorf("devchain: artifacts: %w", err)
		}
		addr, ok := addrs[spec.Name]
		if !ok {
			return fmt.Errorf("devchain: artifacts: no address for %s", spec.Name)
		}
		data, err := json.MarshalIndent(Artifact{
			Name:     spec.Name,
			ABI:      c.RawABI,
			Bytecode: hexutil.Encode(c.Bytecode),
			Address:  addr.Hex(),
			Version:  contracts.Version,
		}, "", "  ")
		if err != nil {
			return fmt.Errorf("devchain: artifacts: encode %s: %w", spec.Name, err)
		}
		if err := writeFileAtomic(filepath.Join(dir, contracts.ArtifactFileName(spec.Name, network)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
