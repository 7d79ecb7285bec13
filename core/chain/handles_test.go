package chain_test

import (
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/chain"
)

const tinyABI = `[{"type":"function","name":"f","stateMutability":"view","inputs":[{"name":"a","type":"bytes32"}],"outputs":[]},
{"type":"function","name":"f","stateMutability":"view","inputs":[{"name":"a","type":"bytes32"},{"name":"b","type":"address"}],"outputs":[]}]`

func writeArtifact(t testing.TB, dir, file, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadContracts(t *testing.T) {
	dir := t.TempDir()
	writeArtifact(t, dir, "Foo.spree.json", `{"name":"Foo","abi":`+tinyABI+`,"address":"0x00000000000000000000000000000000000000aa","version":"v3.5.9"}`)
	writeArtifact(t, dir, "Bar.other.json", `not even json`)
	cs, err := chain.LoadContracts(dir, "spree")
	if err != nil {
		t.Fatal(err)
	}
	foo, err := cs.Get("Foo")
	if err != nil || foo.Address != common.HexToAddress("0xaa") || foo.Version != "v3.5.9" {
		t.Fatalf("Foo: %+v, %v", foo, err)
	}
	// Overloads are found by signature, whatever go-ethereum named them.
	m1, err1 := foo.Method("f(bytes32)")
	m2, err2 := foo.Method("f(bytes32,address)")
	if err1 != nil || err2 != nil || len(m1.Inputs) != 1 || len(m2.Inputs) != 2 {
		t.Fatalf("overloads: %v %v", err1, err2)
	}
	if _, err := foo.Method("g"); !errors.Is(err, chain.ErrUnknownContract) {
		t.Fatalf("missing method: %v", err)
	}
	if _, err := cs.Get("Bar"); !errors.Is(err, chain.ErrUnknownContract) {
		t.Fatalf("missing contract: %v", err)
	}
	if name, ok := cs.NameOf(common.HexToAddress("0xaa")); !ok || name != "Foo" {
		t.Fatalf("NameOf: %q %v", name, ok)
	}

	if _, err := chain.LoadContracts(t.TempDir(), "spree"); !errors.Is(err, chain.ErrNoArtifacts) {
		t.Fatalf("empty folder: %v", err)
	}
	for name, body := range map[string]string{
		"bad address": `{"name":"Foo","abi":[],"address":"0xnothex","version":"v"}`,
		"wrong name":  `{"name":"Bar","abi":[],"address":"0x00000000000000000000000000000000000000aa"}`,
		"no abi":      `{"name":"Foo","address":"0x00000000000000000000000000000000000000aa"}`,
		"bad abi":     `{"name":"Foo","abi":[{"type":"function","name":"f","inputs":[{"name":"a","type":"nonsense"}]}],"address":"0x00000000000000000000000000000000000000aa"}`,
		"not json":    `{`,
	} {
		d := t.TempDir()
		writeArtifact(t, d, "Foo.spree.json", body)
		if _, err := chain.LoadContracts(d, "spree"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzLoadContracts(f *testing.F) {
	f.Add(`{"name":"Foo","abi":` + tinyABI + `,"address":"0x00000000000000000000000000000000000000aa","version":"v3.5.9"}`)
	f.Add(`{"name":"Foo","abi":[],"address":"0x00"}`)
	f.Fuzz(func(t *testing.T, body string) {
		dir := t.TempDir()
		writeArtifact(t, dir, "Foo.spree.json", body)
		cs, err := chain.LoadContracts(dir, "spree")
		if err != nil {
			return
		}
		c, err := cs.Get("Foo")
		if err != nil {
			t.Fatalf("loaded without Foo: %v", err)
		}
		for name := range c.ABI.Methods {
			if _, err := c.Method(c.ABI.Methods[name].Sig); err != nil {
				t.Fatalf("method %s not found by signature", name)
			}
		}
	})
}

func TestPriceValidate(t *testing.T) {
	a, b := common.HexToAddress("0x1"), common.HexToAddress("0x2")
	good := chain.Price{Amounts: []*big.Int{big.NewInt(1), big.NewInt(0)}, Receivers: []common.Address{a, b}}
	if err := good.Validate(); err != nil || good.Total().Int64() != 1 {
		t.Fatalf("good price: %v, total %s", err, good.Total())
	}
	for name, p := range map[string]chain.Price{
		"empty":     {},
		"lengths":   {Amounts: []*big.Int{big.NewInt(1)}, Receivers: []common.Address{a, b}},
		"negative":  {Amounts: []*big.Int{big.NewInt(-1)}, Receivers: []common.Address{a}},
		"nil":       {Amounts: []*big.Int{nil}, Receivers: []common.Address{a}},
		"duplicate": {Amounts: []*big.Int{big.NewInt(1), big.NewInt(2)}, Receivers: []common.Address{a, a}},
	} {
		if err := p.Validate(); !errors.Is(err, chain.ErrBadPrice) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
