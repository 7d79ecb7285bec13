package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/auth"
)

// TestMetadataStorePublish: through the running node, a publisher logs in with
// a signed client assertion, stores its DDO, reads it back; another account
// may not replace it, and nobody may write without logging in.
func TestMetadataStorePublish(t *testing.T) {
	cfg := referenceConfig(t)
	cfg.Asset.StorePath = filepath.Join(t.TempDir(), "metadata.db")
	r := start(t, cfg)

	owner, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	token := func(t *testing.T, keyIdx int) string {
		key := owner
		if keyIdx == 1 {
			key = other
		}
		now := time.Now().Unix()
		payload, _ := json.Marshal(map[string]any{"iss": crypto.PubkeyToAddress(key.PublicKey).Hex(), "iat": now, "exp": now + 3600})
		jwt, err := auth.SignAssertion(key, payload)
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"client_assertion_type": {auth.ClientAssertionType}, "client_assertion": {jwt}}
		resp, err := http.PostForm(r.url+"/api/v1/auth/login", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != 201 || body["access_token"] == "" {
			t.Fatalf("login: %d %v", resp.StatusCode, body)
		}
		return body["access_token"]
	}
	did := "did:nv:" + strings.Repeat("5a", 32)
	ddo := fmt.Sprintf(`{"@context":"https://w3id.org/did/v1","id":%q,"publicKey":[{"id":%q,"type":"EthereumECDSAKey","owner":%q}],"service":[]}`,
		did, did, crypto.PubkeyToAddress(owner.PublicKey).Hex())
	send := func(method, path, bearer, body string) (int, string) {
		req, _ := http.NewRequest(method, r.url+path, bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := send("POST", "/api/v1/metadata/assets/ddo", "", ddo); code != 401 {
		t.Fatalf("anonymous create: %d %s", code, body)
	}
	if code, body := send("POST", "/api/v1/metadata/assets/ddo", token(t, 0), ddo); code != 201 || body != ddo {
		t.Fatalf("owner create: %d %s", code, body)
	}
	if code, body := send("GET", "/api/v1/metadata/assets/ddo/"+did, "", ""); code != 200 || body != ddo {
		t.Fatalf("get: %d %s", code, body)
	}
	if code, body := send("PUT", "/api/v1/metadata/assets/ddo/"+did, token(t, 1), ddo); code != 403 {
		t.Fatalf("another account replaced the DDO: %d %s", code, body)
	}
	if code, body := send("GET", "/api/v1/metadata/assets/ddo/did:nv:nothex", "", ""); code != 400 {
		t.Fatalf("bad DID: %d %s", code, body)
	}
}
