package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/asset/store"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/keys"
	"github.com/nvm-node/nvm-node/core/pluginhost"
)

// TestServesThroughPlugins: files whose URLs name a storage plugin are served
// through it: a builtin backend, and third-party process and WASM plugins
// built from sdk/examples and declared in plugins.yaml with their checksums.
func TestServesThroughPlugins(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "storage-example")
	build := exec.Command("go", "build", "-o", bin, "./examples/storage-process")
	build.Dir = "../../sdk"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the example plugin: %v\n%s", err, out)
	}
	sum, err := fileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	wasm := filepath.Join(dir, "storage-example.wasm")
	wbuild := exec.Command("go", "build", "-buildmode=c-shared", "-o", wasm, "./examples/storage-wasm")
	wbuild.Dir = "../../sdk"
	wbuild.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := wbuild.CombinedOutput(); err != nil {
		t.Fatalf("building the example WASM plugin: %v\n%s", err, out)
	}
	wsum, err := fileSHA256(wasm)
	if err != nil {
		t.Fatal(err)
	}
	localRoot, exampleRoot, wasmRoot := filepath.Join(dir, "local"), filepath.Join(dir, "example"), filepath.Join(dir, "wasm")
	for root, body := range map[string]string{localRoot: "served by storage.local", exampleRoot: "served by a process plugin", wasmRoot: "served by a WASM module"} {
		if err := os.MkdirAll(filepath.Join(root, "docs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "docs", "f.txt"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yaml := fmt.Sprintf(`plugins:
  - id: storage.local
    runtime: builtin
    config: {root: %q}
  - id: storage.example
    runtime: process
    path: %s
    sha256: %s
    config: {root: %q}
  - id: storage.wasm-example
    runtime: wasm
    path: %s
    sha256: %s
    config: {root: /data}
    grants:
      dirs: [{host: %q, guest: /data}]
`, localRoot, bin, sum, exampleRoot, wasm, wsum, wasmRoot)
	plugins, err := pluginhost.Parse([]byte(yaml), dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := referenceConfig(t)
	cfg.Plugins = plugins
	cfg.Asset.StorePath = filepath.Join(dir, "metadata.db")

	kr, err := keys.LoadKeyring(keys.Sources{ProviderKeyfile: cfg.Keys.ProviderKeyfile, ProviderPassword: cfg.Keys.ProviderPassword, RSAPrivateKeyFile: cfg.Keys.RSAPrivateKeyFile})
	if err != nil {
		t.Fatal(err)
	}
	// Seed the store before the node opens it (bbolt takes one process lock).
	did := seedAsset(t, cfg.Asset.StorePath, kr, []string{"local://docs/f.txt", "example://docs/f.txt", "wasm-example://docs/f.txt", "nosuch://x"})
	r := start(t, cfg)

	tok := downloadToken(t, did)
	for i, want := range []string{"served by storage.local", "served by a process plugin", "served by a WASM module"} {
		code, body := getBody(t, r.url+fmt.Sprintf("/api/v1/node/services/download/%d", i), tok)
		if code != 200 || body != want {
			t.Fatalf("file %d: %d %q", i, code, body)
		}
	}
	if code, body := getBody(t, r.url+"/api/v1/node/services/download/3", tok); code != 501 {
		t.Fatalf("unknown scheme: %d %s", code, body)
	}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// seedAsset stores a DDO owned by owner whose sealed file list has urls.
func seedAsset(t *testing.T, path string, kr *keys.Keyring, urls []string) string {
	t.Helper()
	var files []map[string]any
	for i, u := range urls {
		files = append(files, map[string]any{"index": i, "contentType": "text/plain", "url": u})
	}
	list, _ := json.Marshal(files)
	sealed, err := kr.EncryptPSKRSA(list)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../asset/testdata/ddo-access.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	for _, s := range doc["service"].([]any) {
		if svc := s.(map[string]any); svc["type"] == "metadata" {
			svc["attributes"].(map[string]any)["encryptedFiles"] = sealed
		}
	}
	b, _ := json.Marshal(doc)
	ddo, err := asset.DecodeDDO(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Create(context.Background(), ddo); err != nil {
		t.Fatal(err)
	}
	return doc["id"].(string)
}

// downloadToken mints a download token as the node does after authorizing
// one (same issuer, same secret): this test has no chain to authorize with;
// the end-to-end tests authorize on a real one.
func downloadToken(t *testing.T, did string) string {
	t.Helper()
	key, _ := crypto.GenerateKey()
	now := time.Now().Unix()
	payload, _ := json.Marshal(map[string]any{"iss": crypto.PubkeyToAddress(key.PublicKey).Hex(), "aud": auth.AudienceDownload, "did": did, "iat": now, "exp": now + 3600})
	jwt, err := auth.SignAssertion(key, payload)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := v.Verify(context.Background(), jwt)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(strings.Repeat("k", 32)), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := tokens.Issue(a)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func getBody(t *testing.T, url, token string) (int, string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
