package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// ContractRef is one deployed contract as an artifact file describes it.
type ContractRef struct {
	Key     string // info key, e.g. didRegistry
	Name    string // contract name, e.g. DIDRegistry
	Address common.Address
	Version string
}

// artifactHeader is the part of an artifact file the node needs here; the ABI
// is read by the contract handles.
type artifactHeader struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Version string `json:"version"`
}

// ErrNoArtifacts means the artifacts folder holds no Nevermined artifacts for
// the network.
var ErrNoArtifacts = errors.New("no Nevermined artifacts")

// ReadDeployment reads the address and version of every keeper contract found
// in dir for network, in the order GET / lists them (contracts.InfoContracts). Missing optional contracts
// are skipped; a file that exists but is not a valid artifact is an error.
func ReadDeployment(dir, network string) ([]ContractRef, error) {
	if network == "" {
		return nil, fmt.Errorf("%w: network unknown", ErrNoArtifacts)
	}
	var refs []ContractRef
	for _, c := range contracts.InfoContracts() {
		path := filepath.Join(dir, contracts.ArtifactFileName(c.Contract, network))
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading artifact %s: %w", path, err)
		}
		var h artifactHeader
		if err := json.Unmarshal(b, &h); err != nil {
			return nil, fmt.Errorf("artifact %s: %w", path, err)
		}
		if !common.IsHexAddress(h.Address) {
			return nil, fmt.Errorf("artifact %s: address %q is not an address", path, h.Address)
		}
		refs = append(refs, ContractRef{Key: c.Key, Name: c.Contract, Address: common.HexToAddress(h.Address), Version: h.Version})
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("%w for network %q in %s", ErrNoArtifacts, network, dir)
	}
	return refs, nil
}

// DetectNetwork returns the network of the DIDRegistry artifact in dir when
// exactly one network has one, so that GET / can list contracts even before
// the chain answers.
func DetectNetwork(dir string) (string, bool) {
	matches, _ := filepath.Glob(filepath.Join(dir, "DIDRegistry.*.json"))
	if len(matches) != 1 {
		return "", false
	}
	base := filepath.Base(matches[0])
	return strings.TrimSuffix(strings.TrimPrefix(base, "DIDRegistry."), ".json"), true
}
