package api_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/api"
	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/asset/store"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/fetch"
)

// dataFixture is a node whose store holds one asset with two files served by
// a real HTTP file server, and a way to mint tokens as the oauth endpoint
// would after authorization.
type dataFixture struct {
	*testNode
	did     string
	files   *httptest.Server
	content string
	key     *ecdsa.PrivateKey
	tokens  *auth.Tokens
	verify  *auth.Verifier
}

const agreement = "0x" + "ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34"

func newDataFixture(t *testing.T, opts ...option) *dataFixture {
	t.Helper()
	content := strings.Repeat("nevermined data\n", 1000)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/data/a.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		fmt.Fprint(w, content)
	}))
	t.Cleanup(files.Close)
	f := &dataFixture{files: files, content: content}
	var st *store.Store
	all := append([]option{func(c *api.Config) {
		st = c.Metadata
		f.tokens = c.Tokens
		f.verify = c.Verifier
	}}, opts...)
	f.testNode = newTestNode(t, all...)

	// The publisher seals the file list for the node, as the SDK does.
	list, _ := json.Marshal([]map[string]any{
		{"index": 0, "contentType": "text/plain", "name": "a.txt", "url": files.URL + "/data/a.txt"},
		{"index": 1, "contentType": "text/plain", "url": files.URL + "/data/missing.txt"},
	})
	sealed, err := f.keys.EncryptPSKRSA(list)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../asset/testdata/ddo-access.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc["service"].([]any) {
		svc := s.(map[string]any)
		if svc["type"] == "metadata" {
			svc["attributes"].(map[string]any)["encryptedFiles"] = sealed
		}
	}
	f.did = doc["id"].(string)
	raw, _ = json.Marshal(doc)
	ddo, err := asset.DecodeDDO(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Create(context.Background(), ddo); err != nil {
		t.Fatal(err)
	}
	f.key, _ = crypto.GenerateKey()
	return f
}

// token mints an access token for claims, through the real verifier and
// issuer (the on-chain decision is the authorizer's, tested elsewhere).
func (f *dataFixture) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	now := time.Now().Unix()
	claims["iss"] = crypto.PubkeyToAddress(f.key.PublicKey).Hex()
	claims["iat"], claims["exp"] = now, now+3600
	payload, _ := json.Marshal(claims)
	jwt, err := auth.SignAssertion(f.key, payload)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.verify.Verify(context.Background(), jwt)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := f.tokens.Issue(a)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *dataFixture) get(t *testing.T, path, token string) (*http.Response, []byte) {
	t.Helper()
	if token == "" {
		return f.do("GET", path, "", nil)
	}
	return f.do("GET", path, "", nil, "Authorization", "Bearer "+token)
}

func TestDownloadStreamsTheFile(t *testing.T) {
	f := newDataFixture(t)
	tok := f.token(t, map[string]any{"aud": auth.AudienceDownload, "did": f.did})
	resp, body := f.get(t, "/api/v1/node/services/download/0", tok)
	if resp.StatusCode != 200 || string(body) != f.content {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(body))
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "attachment;filename=a.txt" {
		t.Errorf("Content-Disposition %q; the SDK parses attachment;filename=<name>", cd)
	}
	if resp.Header.Get("Content-Length") != fmt.Sprint(len(f.content)) || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("headers: %v", resp.Header)
	}
	resp, body = f.get(t, "/api/v1/node/services/download/0?result=url", tok)
	if resp.StatusCode != 200 || string(body) != f.files.URL+"/data/a.txt" {
		t.Fatalf("result=url: %d %s", resp.StatusCode, body)
	}
	// An nft-access token also downloads through /download (the SDK does so).
	nft := f.token(t, map[string]any{"aud": auth.AudienceNFTAccess, "did": f.did, "sub": "0x"})
	if resp, _ := f.get(t, "/api/v1/node/services/download/0", nft); resp.StatusCode != 200 {
		t.Fatalf("nft-access token on /download: %d", resp.StatusCode)
	}
}

func TestAccessBindsAgreement(t *testing.T) {
	f := newDataFixture(t)
	tok := f.token(t, map[string]any{"aud": auth.AudienceAccess, "did": f.did, "sub": agreement})
	// The SDK puts the agreement id in the path without 0x.
	if resp, body := f.get(t, "/api/v1/node/services/access/"+strings.TrimPrefix(agreement, "0x")+"/0", tok); resp.StatusCode != 200 || string(body) != f.content {
		t.Fatalf("access: %d %d bytes", resp.StatusCode, len(body))
	}
	other := "0x" + strings.Repeat("99", 32)
	if resp, body := f.get(t, "/api/v1/node/services/access/"+other+"/0", tok); resp.StatusCode != 403 {
		t.Fatalf("path agreement != token agreement: %d %s", resp.StatusCode, body)
	}
}

// TestTokensOnlyWhereIssued: SPEC 11.1, every token with a DID downloads
// anything from the reference; here each endpoint takes its own audience.
func TestTokensOnlyWhereIssued(t *testing.T) {
	f := newDataFixture(t)
	access := f.token(t, map[string]any{"aud": auth.AudienceAccess, "did": f.did, "sub": agreement})
	download := f.token(t, map[string]any{"aud": auth.AudienceDownload, "did": f.did})
	login := f.token(t, map[string]any{"did": f.did})
	for _, c := range []struct {
		name, path, token string
		status            int
	}{
		{"access token on /download", "/api/v1/node/services/download/0", access, 403},
		{"download token on /access", "/api/v1/node/services/access/" + agreement + "/0", download, 403},
		{"all-zero path agreement is not 'no agreement'", "/api/v1/node/services/access/" + strings.Repeat("0", 64) + "/0", access, 403},
		{"download token on /nft-access", "/api/v1/node/services/nft-access/" + agreement + "/0", download, 403},
		{"login token", "/api/v1/node/services/download/0", login, 403},
		{"no token", "/api/v1/node/services/download/0", "", 401},
		{"garbage token", "/api/v1/node/services/download/0", "abc.def.ghi", 401},
		{"bad index", "/api/v1/node/services/download/x", download, 400},
		{"negative index", "/api/v1/node/services/download/-1", download, 400},
		{"no such file", "/api/v1/node/services/download/7", download, 404},
		{"file missing at its source", "/api/v1/node/services/download/1", download, 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			if resp, body := f.get(t, c.path, c.token); resp.StatusCode != c.status {
				t.Fatalf("%d %s; want %d", resp.StatusCode, body, c.status)
			}
		})
	}
	unknown := f.token(t, map[string]any{"aud": auth.AudienceDownload, "did": "did:nv:" + strings.Repeat("0e", 32)})
	if resp, body := f.get(t, "/api/v1/node/services/download/0", unknown); resp.StatusCode != 404 || !strings.Contains(string(body), "No such DID") {
		t.Fatalf("unknown DID: %d %s", resp.StatusCode, body)
	}
	nodid := f.token(t, map[string]any{"aud": auth.AudienceDownload})
	if resp, body := f.get(t, "/api/v1/node/services/download/0", nodid); resp.StatusCode != 400 || !strings.Contains(string(body), "DID not specified") {
		t.Fatalf("no DID: %d %s", resp.StatusCode, body)
	}
}

// TestPrivateURLsRefused: without storage.allow_private_urls a file URL on
// loopback is not fetched (SSRF).
func TestPrivateURLsRefused(t *testing.T) {
	f := newDataFixture(t, func(c *api.Config) {
		c.Files = fetch.Mux{"http": fetch.NewHTTP(fetch.HTTPOptions{})}
	})
	tok := f.token(t, map[string]any{"aud": auth.AudienceDownload, "did": f.did})
	if resp, body := f.get(t, "/api/v1/node/services/download/0", tok); resp.StatusCode != 403 || strings.Contains(string(body), f.content[:10]) {
		t.Fatalf("loopback file URL: %d %s", resp.StatusCode, body)
	}
}
