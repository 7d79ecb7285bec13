package api_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/api"
	"github.com/nvm-node/nvm-node/core/chain"
)

// writeArtifacts writes a Nevermined artifacts folder with the addresses of
// the reference deployment in info.json.
func writeArtifacts(t *testing.T, network string, contracts []map[string]string) (string, []chain.ContractRef) {
	t.Helper()
	names := map[string]string{"dispenser": "Dispenser", "token": "NeverminedToken", "nvmConfig": "NeverminedConfig",
		"didRegistry": "DIDRegistry", "templateStoreManager": "TemplateStoreManager", "accessTemplate": "AccessTemplate"}
	dir := t.TempDir()
	var refs []chain.ContractRef
	for _, c := range contracts {
		for key, addr := range c {
			name, ok := names[key]
			if !ok {
				continue
			}
			b, _ := json.Marshal(map[string]any{"name": name, "address": addr, "version": "v3.5.9", "abi": []any{}})
			if err := os.WriteFile(filepath.Join(dir, name+"."+network+".json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	refs, err := chain.ReadDeployment(dir, network)
	if err != nil {
		t.Fatal(err)
	}
	return dir, refs
}

func TestInfoMatchesReference(t *testing.T) {
	var ref map[string]any
	readJSON(t, "info.json", &ref)
	var refContracts []map[string]string
	b, _ := json.Marshal(ref["contracts"])
	_ = json.Unmarshal(b, &refContracts)
	dir, refs := writeArtifacts(t, "spree", refContracts)
	st := &chain.Status{Configured: true, Available: true, ChainID: 8996, Network: "spree", Contracts: refs, KeeperVersion: "v3.5.9"}
	n := newTestNode(t, func(c *api.Config) {
		c.Chain = fixedChain{st}
		c.RPCURL = "http://127.0.0.1:8545/some/path?apikey=SECRET"
		c.ArtifactsFolder = dir
		c.BabyjubX = ref["babyjub-public-key"].(map[string]any)["x"].(string)
		c.BabyjubY = ref["babyjub-public-key"].(map[string]any)["y"].(string)
	})
	resp, body := n.do("GET", "/", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	got := decode(t, body)
	for _, k := range []string{"network", "chain-id", "keeper-version", "provider-address", "ecdsa-public-key", "rsa-public-key", "babyjub-public-key", "keeper-url", "provenance-enabled", "circuits-folder", "external-contracts"} {
		g, _ := json.Marshal(got[k])
		w, _ := json.Marshal(ref[k])
		if string(g) != string(w) {
			t.Errorf("%s = %s; reference %s", k, g, w)
		}
	}
	if strings.Contains(string(body), "SECRET") || strings.Contains(string(body), "some/path") {
		t.Errorf("keeper-url leaks the RPC path: %s", body)
	}
	// Contracts: single-key objects, in the reference order, same addresses.
	var gotContracts []map[string]string
	b, _ = json.Marshal(got["contracts"])
	_ = json.Unmarshal(b, &gotContracts)
	var wantOrder []string
	for _, c := range refContracts {
		for k := range c {
			if _, ok := map[string]bool{"dispenser": true, "token": true, "nvmConfig": true, "didRegistry": true, "templateStoreManager": true, "accessTemplate": true}[k]; ok {
				wantOrder = append(wantOrder, k)
			}
		}
	}
	if len(gotContracts) != len(wantOrder) {
		t.Fatalf("contracts: %v", gotContracts)
	}
	for i, c := range gotContracts {
		if len(c) != 1 || c[wantOrder[i]] == "" || !common.IsHexAddress(c[wantOrder[i]]) {
			t.Errorf("contracts[%d] = %v, want key %s", i, c, wantOrder[i])
		}
	}
	// The reference's first keys, in its order.
	keys := topLevelKeys(t, body)
	if strings.Join(keys[:4], ",") != "APIversion,docs,network,keeper-url" {
		t.Errorf("key order: %v", keys)
	}
	if got["docs"] != n.srv.URL+"/api/v1/docs" {
		t.Errorf("docs = %v; want %s", got["docs"], n.srv.URL+"/api/v1/docs")
	}
}

func topLevelKeys(t *testing.T, body []byte) []string {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestInfoWithoutChain(t *testing.T) {
	n := newTestNode(t, func(c *api.Config) {
		c.Chain = fixedChain{&chain.Status{Configured: true, Reason: "chain unreachable"}}
	})
	resp, body := n.do("GET", "/", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET / without a chain: %d %s", resp.StatusCode, body)
	}
	got := decode(t, body)
	if got["chain-available"] != false || got["chain-status"] != "chain unreachable" || got["chain-id"] != nil {
		t.Fatalf("chain fields: %v", got)
	}
	if got["provider-address"] != "0x068Ed00cF0441e4829D9784fCBe7b9e26D4BD8d0" {
		t.Fatalf("keys must be published without a chain: %v", got["provider-address"])
	}
}

func TestInfoFollowsChainStatus(t *testing.T) {
	fc := &switchChain{st: &chain.Status{Configured: true, Reason: "chain unreachable"}}
	n := newTestNode(t, func(c *api.Config) { c.Chain = fc })
	_, body := n.do("GET", "/", "", nil)
	if decode(t, body)["chain-available"] != false {
		t.Fatal("first status not shown")
	}
	fc.st = &chain.Status{Configured: true, Available: true, ChainID: 8996, Network: "spree"}
	_, body = n.do("GET", "/", "", nil)
	got := decode(t, body)
	if got["chain-available"] != true || got["chain-id"] != float64(8996) || got["network"] != "spree" {
		t.Fatalf("cached body not refreshed on a status change: %v", got)
	}
}

type switchChain struct{ st *chain.Status }

func (s *switchChain) Status() *chain.Status { return s.st }

func TestInfoDocsURL(t *testing.T) {
	n := newTestNode(t, func(c *api.Config) { c.PublicURL = "https://node.example.org/" })
	_, body := n.do("GET", "/", "", nil)
	if got := decode(t, body)["docs"]; got != "https://node.example.org/api/v1/docs" {
		t.Errorf("docs with a public URL: %v", got)
	}

	plain := newTestNode(t)
	_, body = plain.do("GET", "/", "", nil, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example")
	if got := decode(t, body)["docs"].(string); strings.Contains(got, "evil") || !strings.HasPrefix(got, "http://") {
		t.Errorf("forwarded headers honoured without trust_proxy: %v", got)
	}

	proxied := newTestNode(t, func(c *api.Config) { c.TrustProxy = true })
	_, body = proxied.do("GET", "/", "", nil, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "node.example")
	if got := decode(t, body)["docs"].(string); !strings.HasPrefix(got, "https://node.example:") {
		t.Errorf("forwarded headers ignored with trust_proxy: %v", got)
	}
	_, body = proxied.do("GET", "/", "", nil, "X-Forwarded-Host", "user@evil/path")
	if got := decode(t, body)["docs"].(string); strings.Contains(got, "evil") {
		t.Errorf("malformed forwarded host accepted: %v", got)
	}
}
