package contracts_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/contracts"
	"github.com/nvm-node/nvm-node/core/contracts/contractstest"
)

func TestCompiledSetMatchesRecipe(t *testing.T) {
	s := contractstest.Set(t) // also runs Validate
	if got, want := s.Len(), len(contracts.Deployment()); got != want {
		t.Fatalf("compiled set has %d contracts, deployment lists %d: %v", got, want, s.Names())
	}
	reg, err := s.Contract(contracts.DIDRegistry)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"registerAttribute", "getDIDOwner", "getDIDRegister", "registerRoyaltiesChecker"} {
		if _, ok := reg.ABI.Methods[m]; !ok {
			t.Errorf("DIDRegistry ABI lacks %s", m)
		}
	}
	// EIP-3860 caps init code at 49152 bytes and EIP-170 runtime code at
	// 24576; the largest init code (DIDRegistry) is about 19.5 kB.
	for _, name := range s.Names() {
		c, _ := s.Contract(name)
		if len(c.Bytecode) > 24576 {
			t.Errorf("%s init code is %d bytes", name, len(c.Bytecode))
		}
		if !json.Valid(c.RawABI) {
			t.Errorf("%s raw ABI is not JSON", name)
		}
	}
	if _, err := s.Contract("NoSuch"); !errors.Is(err, contracts.ErrUnknownContract) {
		t.Errorf("Contract(NoSuch) error = %v, want ErrUnknownContract", err)
	}
}

func TestCacheKeyMatchesBuildScript(t *testing.T) {
	if os.Getenv(contracts.EnvDir) != "" {
		t.Skipf("%s overrides the cache folder", contracts.EnvDir)
	}
	p := contractstest.Path(t)
	wd, _ := os.Getwd()
	root, err := contracts.RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	want, err := contracts.DefaultPath(root)
	if err != nil {
		t.Fatal(err)
	}
	if p != want {
		t.Fatalf("build.sh wrote %s, DefaultPath says %s", p, want)
	}
	// Load accepts the folder as well as the file.
	s, err := contracts.Load(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != len(contracts.Deployment()) {
		t.Fatalf("Load(dir) found %d contracts", s.Len())
	}
}

func TestLocateHonoursEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(contracts.EnvDir, dir)
	if _, err := contracts.Locate("/nonexistent"); !errors.Is(err, contracts.ErrNotBuilt) {
		t.Fatalf("Locate with empty %s dir: %v, want ErrNotBuilt", contracts.EnvDir, err)
	}
	file := filepath.Join(dir, contracts.FileName)
	if err := os.WriteFile(file, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := contracts.Locate("/nonexistent")
	if err != nil || got != file {
		t.Fatalf("Locate = %q, %v; want %q", got, err, file)
	}
}

const tinyABI = `[{"type":"function","name":"initialize","inputs":[{"name":"o","type":"address"}],"outputs":[],"stateMutability":"nonpayable"}]`

func TestParse(t *testing.T) {
	good := `{"X":{"abi":` + tinyABI + `,"bytecode":"0x6001"}}`
	s, err := contracts.Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Contract("X")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Bytecode) != 2 || c.Bytecode[0] != 0x60 {
		t.Fatalf("bytecode = %x", c.Bytecode)
	}
	if _, ok := c.ABI.Methods["initialize"]; !ok {
		t.Fatal("initialize not parsed")
	}

	bad := map[string]string{
		"not json":      `{`,
		"array":         `[]`,
		"null":          `null`,
		"missing abi":   `{"X":{"bytecode":"0x60"}}`,
		"bad abi":       `{"X":{"abi":{"a":1},"bytecode":"0x60"}}`,
		"bad hex":       `{"X":{"abi":[],"bytecode":"0xzz"}}`,
		"odd hex":       `{"X":{"abi":[],"bytecode":"0x600"}}`,
		"empty code":    `{"X":{"abi":[],"bytecode":"0x"}}`,
		"empty name":    `{"":{"abi":[],"bytecode":"0x60"}}`,
		"wrong type":    `{"X":1}`,
		"bytecode type": `{"X":{"abi":[],"bytecode":5}}`,
	}
	for name, in := range bad {
		if _, err := contracts.Parse([]byte(in)); err == nil {
			t.Errorf("%s: Parse(%s) succeeded", name, in)
		}
	}
}

func TestValidateReportsProblems(t *testing.T) {
	// A set holding only TemplateStoreManager with a one-address initialize:
	// every other contract is missing, and the wiring methods are absent.
	s, err := contracts.Parse([]byte(`{"TemplateStoreManager":{"abi":` + tinyABI + `,"bytecode":"0x60"}}`))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Validate()
	if err == nil {
		t.Fatal("Validate passed on an incomplete set")
	}
	if !errors.Is(err, contracts.ErrUnknownContract) {
		t.Errorf("error does not wrap ErrUnknownContract: %v", err)
	}
	if !strings.Contains(err.Error(), "proposeTemplate") {
		t.Errorf("error does not mention the missing wiring method: %v", err)
	}

	// Wrong arity of initialize is caught.
	s, err = contracts.Parse([]byte(`{"NeverminedConfig":{"abi":` + tinyABI + `,"bytecode":"0x60"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "NeverminedConfig.initialize takes 1 arguments, recipe has 3") {
		t.Errorf("Validate did not catch the arity mismatch: %v", err)
	}
}

func TestDeploymentRecipe(t *testing.T) {
	specs := contracts.Deployment()
	if len(specs) != 31 {
		t.Fatalf("deployment has %d contracts, CONTRACTS.md lists 31", len(specs))
	}
	names := map[string]bool{}
	for _, s := range specs {
		if names[s.Name] {
			t.Errorf("%s listed twice", s.Name)
		}
		names[s.Name] = true
	}
	addrs := map[string]common.Address{}
	for i, s := range specs {
		addrs[s.Name] = common.BytesToAddress([]byte{byte(i + 1)})
	}
	owner := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	check := func(where string, args []contracts.Arg) {
		for _, a := range args {
			v, err := a.Value(owner, addrs)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if a.Kind == contracts.ArgOwner && v != owner {
				t.Errorf("%s: owner resolved to %v", where, v)
			}
		}
	}
	for _, s := range specs {
		check(s.Name+".initialize", s.Init)
	}
	wiring := contracts.Wiring()
	// 7 propose + 7 approve + 2 royalties + 7 agreement proxies + 3 condition
	// proxies + 3 proxy roles for AgreementStoreManager + 2*7 NFT operators.
	if len(wiring) != 7+7+2+7+3+3+14 {
		t.Errorf("wiring has %d calls", len(wiring))
	}
	proposed := map[string]bool{}
	for _, c := range wiring {
		check(c.Contract+"."+c.Method, c.Args)
		switch c.Method {
		case "proposeTemplate":
			proposed[c.Args[0].Contract] = true
		case "approveTemplate":
			if !proposed[c.Args[0].Contract] {
				t.Errorf("%s approved before it is proposed", c.Args[0].Contract)
			}
		}
	}
	if _, err := contracts.Ref("Nope").Value(owner, addrs); !errors.Is(err, contracts.ErrUnknownContract) {
		t.Errorf("unknown ref error = %v", err)
	}
	if _, err := (contracts.Arg{}).Value(owner, addrs); err == nil {
		t.Error("zero Arg resolved")
	}
	if len(contracts.Templates()) != 7 {
		t.Errorf("templates: %v", contracts.Templates())
	}
}

func TestNetworkName(t *testing.T) {
	cases := map[uint64]string{
		1: "mainnet", 10: "optimism", 100: "gnosis", 137: "matic", 1337: "geth-localnet", 31337: "geth-localnet",
		8453: "base", 84532: "base-sepolia", 42161: "arbitrum-one", 421614: "arbitrum-sepolia", 80001: "mumbai",
		42220: "celo", 44787: "celo-alfajores", 3338: "peaq-mainnet", 8996: "spree", 8997: "polygon-localnet",
		8998: "hardhat", 10200: "chiado",
	}
	for id, want := range cases {
		got, err := contracts.NetworkName(id)
		if err != nil || got != want {
			t.Errorf("NetworkName(%d) = %q, %v; want %q", id, got, err, want)
		}
	}
	if _, err := contracts.NetworkName(424242); !errors.Is(err, contracts.ErrUnknownNetwork) {
		t.Errorf("NetworkName(424242) error = %v", err)
	}
	if got := contracts.ArtifactFileName("DIDRegistry", "spree"); got != "DIDRegistry.spree.json" {
		t.Errorf("ArtifactFileName = %q", got)
	}
}

func TestInfoContracts(t *testing.T) {
	deployed := map[string]bool{}
	for _, s := range contracts.Deployment() {
		deployed[s.Name] = true
	}
	keys := map[string]bool{}
	var order []string
	for _, kc := range contracts.InfoContracts() {
		if keys[kc.Key] {
			t.Errorf("key %s twice", kc.Key)
		}
		keys[kc.Key] = true
		order = append(order, kc.Key)
		if !deployed[kc.Contract] {
			t.Errorf("%s -> %s is not deployed", kc.Key, kc.Contract)
		}
		if got, ok := contracts.ArtifactKey(kc.Contract); !ok || got != kc.Key {
			t.Errorf("ArtifactKey(%s) = %q, %v", kc.Contract, got, ok)
		}
	}
	if len(order) != 29 {
		t.Errorf("%d keys, SPEC 2.1 lists 29", len(order))
	}
	if k, ok := contracts.ArtifactKey("DIDRegistry"); !ok || k != "didRegistry" {
		t.Errorf("ArtifactKey(DIDRegistry) = %q", k)
	}
	if _, ok := contracts.ArtifactKey(contracts.NFT721Upgradeable); ok {
		t.Error("NFT721Upgradeable has a key")
	}

	// The reference node's answer lists the same keys in the same order
	// (it had no CurveRoyalties artifact, so that key is absent there).
	wd, _ := os.Getwd()
	root, err := contracts.RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "..", "shared", "testdata", "reference", "info.json"))
	if err != nil {
		t.Skipf("reference info.json not beside the repository: %v", err)
	}
	var info struct {
		Contracts []map[string]string `json:"contracts"`
	}
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	var ref []string
	for _, m := range info.Contracts {
		for k := range m {
			ref = append(ref, k)
		}
	}
	ours := slices.DeleteFunc(slices.Clone(order), func(k string) bool { return k == "curveRoyalties" })
	if !slices.Equal(ours, ref) {
		t.Errorf("key order differs from the reference node:\nours %v\nref  %v", ours, ref)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"X":{"abi":` + tinyABI + `,"bytecode":"0x6001"}}`))
	f.Add([]byte(`{"X":{"abi":[],"bytecode":"6001"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := contracts.Parse(data)
		if err != nil {
			return
		}
		for _, n := range s.Names() {
			c, err := s.Contract(n)
			if err != nil || len(c.Bytecode) == 0 {
				t.Fatalf("parsed set has a bad entry %q: %v", n, err)
			}
		}
		_ = s.Validate()
	})
}
