// Package contracts holds the compiled Nevermined v3 contracts (ABI and init
// code) that the dev chain deploys, the recipe for deploying, initializing and
// wiring them, and the naming tables the node shares with Nevermined clients:
// chain id -> network name, and contract name -> the key `GET /` reports.
//
// The compiled code is not committed: tools/contracts/build.sh compiles the
// npm sources into a cache folder, and Load reads the single JSON file it writes
// (contract name -> {abi, bytecode}).
package contracts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Version is the Nevermined contracts release the sources come from, in the
// form artifact files carry in their "version" field.
const Version = "v3.5.9"

// FileName is the name of the compiled output that build.sh writes.
const FileName = "contracts.json"

// ErrUnknownContract is returned when a contract name is not in the set.
var ErrUnknownContract = errors.New("unknown contract")

// Contract is one compiled contract.
type Contract struct {
	// Name is the Solidity contract name, e.g. "DIDRegistry".
	Name string
	// ABI is the parsed interface.
	ABI abi.ABI
	// RawABI is the ABI JSON as the compiler emitted it, kept so artifact
	// files carry it unchanged.
	RawABI json.RawMessage
	// Bytecode is the init code (constructor code) to deploy.
	Bytecode []byte
}

// Set is a collection of compiled contracts keyed by name. It is read-only
// after Load/Parse and safe for concurrent use.
type Set struct {
	byName map[string]*Contract
}

type compiledEntry struct {
	ABI      json.RawMessage `json:"abi"`
	Bytecode string          `json:"bytecode"`
}

// Load reads compiled contracts from path, which is either the JSON file
// itself or a folder holding FileName.
func Load(path string) (*Set, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("contracts: %w", err)
	}
	if fi.IsDir() {
		path = filepath.Join(path, FileName)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("contracts: %w", err)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("contracts: %s: %w", path, err)
	}
	return s, nil
}

// Parse decodes the compiled-contracts JSON (name -> {abi, bytecode}). Every
// entry must have a valid ABI and non-empty hex bytecode. Parse does not demand
// that all deployable contracts be present; Validate does.
func Parse(data []byte) (*Set, error) {
	var raw map[string]compiledEntry
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode compiled contracts: %w", err)
	}
	if raw == nil {
		return nil, errors.New("decode compiled contracts: not a JSON object")
	}
	s := &Set{byName: make(map[string]*Contract, len(raw))}
	for name, e := range raw {
		if name == "" {
			return nil, errors.New("contract with empty name")
		}
		if len(e.ABI) == 0 {
			return nil, fmt.Errorf("%s: missing abi", name)
		}
		parsed, err := abi.JSON(bytes.NewReader(e.ABI))
		if err != nil {
			return nil, fmt.Errorf("%s: parse abi: %w", name, err)
		}
		if !strings.HasPrefix(e.Bytecode, "0x") {
			e.Bytecode = "0x" + e.Bytecode
		}
		code, err := hexutil.Decode(e.Bytecode)
		if err != nil {
			return nil, fmt.Errorf("%s: decode bytecode: %w", name, err)
		}
		if len(code) == 0 {
			return nil, fmt.Errorf("%s: empty bytecode", name)
		}
		s.byName[name] = &Contract{Name: name, ABI: parsed, RawABI: slices.Clone(e.ABI), Bytecode: code}
	}
	return s, nil
}

// Contract returns the named contract, or an error wrapping ErrUnknownContract.
func (s *Set) Contract(name string) (*Contract, error) {
	c, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownContract, name)
	}
	return c, nil
}

// Names returns the contract names in the set, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Len returns the number of contracts in the set.
func (s *Set) Len() int { return len(s.byName) }

// Validate checks that the set holds every contract of Deployment, that each
// initialize recipe matches the contract's initialize signature, and that
// every wiring call names a method with matching arity. It reports all
// problems at once.
func (s *Set) Validate() error {
	var errs []error
	for _, spec := range Deployment() {
		c, err := s.Contract(spec.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if spec.Init == nil {
			continue
		}
		if err := checkMethod(c, "initialize", spec.Init); err != nil {
			errs = append(errs, err)
		}
	}
	for _, call := range Wiring() {
		c, err := s.Contract(call.Contract)
		if err != nil {
			continue // already reported above
		}
		if err := checkMethod(c, call.Method, call.Args); err != nil {
			errs = append(errs, fmt.Errorf("wiring: %w", err))
		}
	}
	return errors.Join(errs...)
}

func checkMethod(c *Contract, method string, args []Arg) error {
	m, ok := c.ABI.Methods[method]
	if !ok {
		return fmt.Errorf("%s has no method %s", c.Name, method)
	}
	if len(m.Inputs) != len(args) {
		return fmt.Errorf("%s.%s takes %d arguments, recipe has %d", c.Name, method, len(m.Inputs), len(args))
	}
	for i, in := range m.Inputs {
		if want := args[i].abiType(); want != in.Type.String() {
			return fmt.Errorf("%s.%s argument %d (%s) is %s, recipe gives %s", c.Name, method, i, in.Name, in.Type, want)
		}
	}
	return nil
}
