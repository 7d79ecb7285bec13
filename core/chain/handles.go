package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// Contract is a handle on one deployed contract, read from its artifact
// file: the node calls whatever deployment the artifacts describe.
type Contract struct {
	Name    string
	Address common.Address
	Version string
	ABI     abi.ABI
}

// artifactFile is an artifact file as Nevermined writes it.
type artifactFile struct {
	Name    string          `json:"name"`
	ABI     json.RawMessage `json:"abi"`
	Address string          `json:"address"`
	Version string          `json:"version"`
}

// Method finds a method by name, or by full signature such as
// "hashValues(bytes32,address,address,uint256,bytes32,address,bool)" when
// the name is overloaded (go-ethereum renames overloads hashValues0, ...,
// in an order that depends on the ABI file, so the node never relies on it).
func (c *Contract) Method(nameOrSig string) (*abi.Method, error) {
	if !strings.Contains(nameOrSig, "(") {
		m, ok := c.ABI.Methods[nameOrSig]
		if !ok {
			return nil, fmt.Errorf("%w: %s has no method %s", ErrUnknownContract, c.Name, nameOrSig)
		}
		return &m, nil
	}
	for _, m := range c.ABI.Methods {
		if m.Sig == nameOrSig {
			return &m, nil
		}
	}
	return nil, fmt.Errorf("%w: %s has no method %s", ErrUnknownContract, c.Name, nameOrSig)
}

// Contracts is the set of contract handles of one deployment. It is
// read-only after LoadContracts and safe for concurrent use.
type Contracts struct {
	network string
	byName  map[string]*Contract
}

// LoadContracts reads every `<Contract>.<network>.json` artifact in dir.
// Files that are not valid artifacts are errors: a half-broken deployment
// must not start.
func LoadContracts(dir, network string) (*Contracts, error) {
	if network == "" {
		return nil, fmt.Errorf("%w: network unknown", ErrNoArtifacts)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*."+network+".json"))
	if err != nil {
		return nil, fmt.Errorf("artifacts: %w", err)
	}
	cs := &Contracts{network: network, byName: make(map[string]*Contract, len(paths))}
	for _, p := range paths {
		c, err := readArtifact(p)
		if err != nil {
			return nil, err
		}
		want := strings.TrimSuffix(filepath.Base(p), "."+network+".json")
		if c.Name != want {
			return nil, fmt.Errorf("artifact %s: name %q does not match the file name", p, c.Name)
		}
		cs.byName[c.Name] = c
	}
	if len(cs.byName) == 0 {
		return nil, fmt.Errorf("%w for network %q in %s", ErrNoArtifacts, network, dir)
	}
	return cs, nil
}

func readArtifact(path string) (*Contract, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading artifact %s: %w", path, err)
	}
	var f artifactFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("artifact %s: %w", path, err)
	}
	if !common.IsHexAddress(f.Address) {
		return nil, fmt.Errorf("artifact %s: address %q is not an address", path, f.Address)
	}
	if len(f.ABI) == 0 {
		return nil, fmt.Errorf("artifact %s: no abi", path)
	}
	parsed, err := abi.JSON(strings.NewReader(string(f.ABI)))
	if err != nil {
		return nil, fmt.Errorf("artifact %s: abi: %w", path, err)
	}
	return &Contract{Name: f.Name, Address: common.HexToAddress(f.Address), Version: f.Version, ABI: parsed}, nil
}

// Network is the network name the artifacts were read for.
func (cs *Contracts) Network() string { return cs.network }

// Get returns the handle of a contract.
func (cs *Contracts) Get(name string) (*Contract, error) {
	c, ok := cs.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: no %s artifact for network %s", ErrUnknownContract, name, cs.network)
	}
	return c, nil
}

// Address returns a contract's address.
func (cs *Contracts) Address(name string) (common.Address, error) {
	c, err := cs.Get(name)
	if err != nil {
		return common.Address{}, err
	}
	return c.Address, nil
}

// NameOf returns the name of the contract deployed at addr.
func (cs *Contracts) NameOf(addr common.Address) (string, bool) {
	for n, c := range cs.byName {
		if c.Address == addr {
			return n, true
		}
	}
	return "", false
}

// require checks that every named contract is present.
func (cs *Contracts) require(names ...string) error {
	var errs []error
	for _, n := range names {
		if _, err := cs.Get(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
