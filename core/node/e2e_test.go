package node_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/config"
	"github.com/nvm-node/nvm-node/core/contracts"
	"github.com/nvm-node/nvm-node/core/contracts/contractstest"
	"github.com/nvm-node/nvm-node/core/devchain"
)

// e2e is a node on a real dev chain with the real Nevermined contracts, a
// publisher and a consumer with funded accounts, and a file server.
type e2e struct {
	t         testing.TB
	node      *running
	dev       *devchain.Chain
	client    *chain.Client
	provider  common.Address
	publisher devchain.Account
	consumer  devchain.Account
	content   string
	files     *httptest.Server
	chainDir  string
}

func newE2E(t *testing.T) *e2e { return newE2EB(t) }

func newE2EB(t testing.TB) *e2e { return newE2EWith(t, nil) }

// newE2EWith lets tune change the node's config before it starts.
func newE2EWith(t testing.TB, tune func(*config.Config)) *e2e {
	t.Helper()
	ctx := context.Background()
	cfg := referenceConfig(t)
	provider := common.HexToAddress("0x068Ed00cF0441e4829D9784fCBe7b9e26D4BD8d0")
	chainDir := t.TempDir()
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dev, err := devchain.Start(startCtx, devchain.Config{
		DataDir: chainDir, HTTPAddr: "127.0.0.1:0", Contracts: contractstest.Set(t),
		FundAccounts: []common.Address{provider},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Close(context.Background()) })
	cfg.Chain.RPCURL, cfg.Chain.ChainID, cfg.Chain.ArtifactsFolder = dev.RPCURL(), dev.ChainID(), dev.ArtifactsDir()
	cfg.Asset.StorePath = filepath.Join(t.TempDir(), "metadata.db")
	cfg.Storage.AllowPrivateURLs = true
	cfg.Chain.RequestTimeout = 2 * time.Second
	e := &e2e{t: t, dev: dev, chainDir: chainDir, provider: provider, publisher: dev.Accounts()[1], consumer: dev.Accounts()[2],
		content: strings.Repeat("paid data\n", 5000)}
	e.files = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(e.content)))
		io.WriteString(w, e.content)
	}))
	t.Cleanup(e.files.Close)
	if tune != nil {
		tune(cfg)
	}
	e.node = start(t, cfg)
	if e.client, err = chain.Dial(ctx, chain.Config{RPCURL: dev.RPCURL(), ArtifactsFolder: dev.ArtifactsDir()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.client.Close)
	return e
}

func randomHash() common.Hash {
	var h common.Hash
	_, _ = rand.Read(h[:])
	return h
}

// publish registers a DID on chain with the node as provider and stores its
// DDO, with the file list sealed for the node, in the node's store: what the
// SDK's publish does.
func (e *e2e) publish(price chain.Price) common.Hash {
	t, ctx := e.t, context.Background()
	did, _, err := e.client.RegisterDID(ctx, e.client.NewSender(e.publisher.Key), randomHash(), randomHash(),
		[]common.Address{e.provider}, e.node.url+"/api/v1/metadata/assets/ddo")
	if err != nil {
		t.Fatal(err)
	}
	list, _ := json.Marshal([]map[string]any{{"index": 0, "contentType": "text/plain", "name": "data.txt", "url": e.files.URL + "/data.txt"}})
	resp := e.post("/api/v1/node/services/encrypt", "application/json", fmt.Sprintf(`{"method":"PSK-RSA","message":%q}`, list), "")
	sealed := resp["hash"].(string)

	raw, err := os.ReadFile("../asset/testdata/ddo-access.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	didStr := "did:nv:" + strings.TrimPrefix(did.Hex(), "0x")
	doc["id"] = didStr
	doc["publicKey"] = []any{map[string]any{"id": didStr, "type": "EthereumECDSAKey", "owner": e.publisher.Address.Hex()}}
	doc["proof"].(map[string]any)["creator"] = e.publisher.Address.Hex()
	amounts, receivers := []string{}, []string{}
	for i := range price.Amounts {
		amounts = append(amounts, price.Amounts[i].String())
		receivers = append(receivers, price.Receivers[i].Hex())
	}
	for _, s := range doc["service"].([]any) {
		svc := s.(map[string]any)
		attrs := svc["attributes"].(map[string]any)
		switch svc["type"] {
		case "metadata":
			attrs["encryptedFiles"] = sealed
		case "access":
			for _, c := range attrs["serviceAgreementTemplate"].(map[string]any)["conditions"].([]any) {
				for _, p := range c.(map[string]any)["parameters"].([]any) {
					param := p.(map[string]any)
					switch param["name"] {
					case "_did", "_documentId":
						param["value"] = strings.TrimPrefix(did.Hex(), "0x")
					case "_amounts":
						param["value"] = amounts
					case "_receivers":
						param["value"] = receivers
					case "_tokenAddress":
						param["value"] = price.Token.Hex()
					}
				}
			}
		}
	}
	ddo, _ := json.Marshal(doc)
	login := e.post("/api/v1/auth/login", "application/x-www-form-urlencoded", string(assertionForm(t, e.publisher.Key, nil)), "")
	e.post("/api/v1/metadata/assets/ddo", "application/json", string(ddo), login["access_token"].(string))
	return did
}

func (e *e2e) post(path, ct, body, bearer string) map[string]any {
	e.t.Helper()
	code, m := e.postStatus(path, ct, body, bearer)
	if code != 201 {
		e.t.Fatalf("POST %s: %d %v", path, code, m)
	}
	return m
}

func (e *e2e) postStatus(path, ct, body, bearer string) (int, map[string]any) {
	req, _ := http.NewRequest("POST", e.node.url+path, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", ct)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// iatCount gives every assertion a distinct jti claim, so no two are
// byte-identical: the SDK stamps whole seconds, so two identical requests
// within a second would be, and the node answers such a repeat with the
// first one's token (tests that want two tokens need two assertions). iat is
// the current time, as the node accepts assertions only for minutes.
var (
	iatMu    sync.Mutex
	iatCount int64
)

// assertionForm signs a client assertion as the SDK does and form-encodes it.
func assertionForm(t testing.TB, key *ecdsa.PrivateKey, claims map[string]any) []byte {
	if claims == nil {
		claims = map[string]any{}
	}
	addr := crypto.PubkeyToAddress(key.PublicKey)
	iatMu.Lock()
	iatCount++
	n := iatCount
	iatMu.Unlock()
	iat := time.Now().Unix()
	claims["jti"] = fmt.Sprintf("e2e-%d", n)
	claims["iss"], claims["iat"], claims["exp"] = addr.Hex(), iat, iat+3600
	payload, _ := json.Marshal(claims)
	jwt, err := auth.SignAssertion(key, payload)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(url.Values{"client_assertion_type": {auth.ClientAssertionType}, "client_assertion": {jwt}}.Encode())
}

func (e *e2e) token(key *ecdsa.PrivateKey, claims map[string]any) (int, map[string]any) {
	return e.postStatus("/api/v1/node/services/oauth/token", "application/x-www-form-urlencoded", string(assertionForm(e.t, key, claims)), "")
}

func (e *e2e) download(path, token string) (int, string) {
	req, _ := http.NewRequest("GET", e.node.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func didClaim(did common.Hash) string { return "did:nv:" + strings.TrimPrefix(did.Hex(), "0x") }

func TestEndToEndPaidAccess(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	ether := big.NewInt(1e15)
	price := chain.Price{Amounts: []*big.Int{new(big.Int).Mul(ether, big.NewInt(9)), ether}, Receivers: []common.Address{e.publisher.Address, e.provider}}
	did := e.publish(price)

	// The owner downloads without paying.
	code, tok := e.token(e.publisher.Key, map[string]any{"aud": auth.AudienceDownload, "did": didClaim(did)})
	if code != 201 {
		t.Fatalf("owner download token: %d %v", code, tok)
	}
	if code, body := e.download("/api/v1/node/services/download/0", tok["access_token"].(string)); code != 200 || body != e.content {
		t.Fatalf("owner download: %d", code)
	}
	// The consumer is not the owner.
	if code, body := e.token(e.consumer.Key, map[string]any{"aud": auth.AudienceDownload, "did": didClaim(did)}); code != 401 {
		t.Fatalf("non-owner download token: %d %v", code, body)
	}

	// Unpaid agreement: nothing is granted and nothing is sent on-chain
	// (SPEC 4.5 BUG: the reference fulfils access before checking payment).
	unpaid, err := e.client.CreateAccessAgreement(ctx, e.client.NewSender(e.consumer.Key), randomHash(), did, price)
	if err != nil {
		t.Fatal(err)
	}
	nonce, _ := e.client.NonceAt(ctx, e.provider)
	code, body := e.token(e.consumer.Key, map[string]any{"aud": auth.AudienceAccess, "sub": unpaid.ID.Hex(), "did": didClaim(did)})
	if code != 401 || !strings.Contains(fmt.Sprint(body["message"]), "not locked") {
		t.Fatalf("unpaid agreement: %d %v", code, body)
	}
	if after, _ := e.client.NonceAt(ctx, e.provider); after != nonce {
		t.Fatalf("the node sent %d transactions for an unpaid agreement", after-nonce)
	}

	// Paid in ether: two concurrent token requests lead to one fulfilment of
	// each provider condition, and the escrow pays the publisher.
	before, _ := e.client.Balance(ctx, e.publisher.Address)
	paid, err := e.client.OrderAccess(ctx, e.client.NewSender(e.consumer.Key), randomHash(), did, price)
	if err != nil {
		t.Fatal(err)
	}
	claims := func() map[string]any {
		return map[string]any{"aud": auth.AudienceAccess, "sub": paid.ID.Hex(), "did": didClaim(did)}
	}
	var wg sync.WaitGroup
	tokens := make([]map[string]any, 2)
	codes := make([]int, 2)
	for i := range tokens {
		wg.Go(func() { codes[i], tokens[i] = e.token(e.consumer.Key, claims()) })
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != 201 {
			t.Fatalf("paid access token %d: %d %v", i, codes[i], tokens[i])
		}
	}
	if after, _ := e.client.NonceAt(ctx, e.provider); after-nonce != 2 {
		t.Fatalf("provider sent %d transactions; want exactly 2 (access, escrow)", after-nonce)
	}
	path := "/api/v1/node/services/access/" + strings.TrimPrefix(paid.ID.Hex(), "0x") + "/0"
	if code, body := e.download(path, tokens[0]["access_token"].(string)); code != 200 || body != e.content {
		t.Fatalf("paid download: %d", code)
	}
	after, _ := e.client.Balance(ctx, e.publisher.Address)
	if got := new(big.Int).Sub(after, before); got.Cmp(price.Amounts[0]) != 0 {
		t.Fatalf("publisher received %s wei; want %s", got, price.Amounts[0])
	}
	// Another agreement's id in the path is refused.
	if code, _ := e.download("/api/v1/node/services/access/"+strings.TrimPrefix(unpaid.ID.Hex(), "0x")+"/0", tokens[0]["access_token"].(string)); code != 403 {
		t.Fatalf("path agreement != token agreement: %d", code)
	}
	// A second token for the same, already fulfilled agreement sends nothing.
	if code, body := e.token(e.consumer.Key, claims()); code != 201 {
		t.Fatalf("second token: %d %v", code, body)
	}
	if again, _ := e.client.NonceAt(ctx, e.provider); again != nonce+2 {
		t.Fatalf("already fulfilled conditions were sent again")
	}
}

func TestEndToEndERC20(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	token, err := e.client.Contracts().Address(contracts.NeverminedToken)
	if err != nil {
		t.Fatal(err)
	}
	consumer := e.client.NewSender(e.consumer.Key)
	if _, err := e.client.RequestTokens(ctx, consumer, big.NewInt(100)); err != nil {
		t.Fatal(err)
	}
	unit := big.NewInt(1e18)
	price := chain.Price{Token: token, Amounts: []*big.Int{new(big.Int).Mul(unit, big.NewInt(5)), unit}, Receivers: []common.Address{e.publisher.Address, e.provider}}
	did := e.publish(price)
	before, _ := e.client.TokenBalance(ctx, token, e.publisher.Address)
	paid, err := e.client.OrderAccess(ctx, consumer, randomHash(), did, price)
	if err != nil {
		t.Fatal(err)
	}
	code, tok := e.token(e.consumer.Key, map[string]any{"aud": auth.AudienceAccess, "sub": paid.ID.Hex(), "did": didClaim(did)})
	if code != 201 {
		t.Fatalf("ERC-20 paid access token: %d %v", code, tok)
	}
	if code, body := e.download("/api/v1/node/services/access/"+paid.ID.Hex()+"/0", tok["access_token"].(string)); code != 200 || body != e.content {
		t.Fatalf("download: %d", code)
	}
	after, _ := e.client.TokenBalance(ctx, token, e.publisher.Address)
	if got := new(big.Int).Sub(after, before); got.Cmp(price.Amounts[0]) != 0 {
		t.Fatalf("publisher received %s tokens; want %s", got, price.Amounts[0])
	}
}

// TestEndToEndChainDown: with the chain stopped, token requests that need it
// answer 503 promptly and the node keeps answering GET /; when the chain
// comes back, service resumes without restarting the node.
func TestEndToEndChainDown(t *testing.T) {
	e := newE2E(t)
	did := e.publish(chain.Price{Amounts: []*big.Int{big.NewInt(1)}, Receivers: []common.Address{e.publisher.Address}})
	rpcURL := e.dev.RPCURL()
	if err := e.dev.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, body := e.token(e.publisher.Key, map[string]any{"aud": auth.AudienceDownload, "did": didClaim(did)})
	if code != 503 {
		t.Fatalf("token with the chain down: %d %v", code, body)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("503 took %s", took)
	}
	if code, _ := get(t, e.node.url+"/"); code != 200 {
		t.Fatalf("GET / with the chain down: %d", code)
	}
	u, err := url.Parse(rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	back, err := devchain.Start(context.Background(), devchain.Config{
		DataDir: e.chainDir, HTTPAddr: u.Host, Contracts: contractstest.Set(t), FundAccounts: []common.Address{e.provider},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = back.Close(context.Background()) })
	if code, body := e.token(e.publisher.Key, map[string]any{"aud": auth.AudienceDownload, "did": didClaim(did)}); code != 201 {
		t.Fatalf("token after the chain came back: %d %v\n%s", code, body, e.node.logs)
	}
}

// TestEndToEndRegistryResolution: a DDO that is in neither the node's store
// nor a marketplace resolves through the URL the DID registry records.
func TestEndToEndRegistryResolution(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	var ddo []byte
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(ddo)
	}))
	t.Cleanup(elsewhere.Close)
	seed := randomHash()
	did, _, err := e.client.RegisterDID(ctx, e.client.NewSender(e.publisher.Key), seed, randomHash(),
		[]common.Address{e.provider}, elsewhere.URL+"/ddo")
	if err != nil {
		t.Fatal(err)
	}
	list, _ := json.Marshal([]map[string]any{{"index": 0, "contentType": "text/plain", "url": e.files.URL + "/x"}})
	sealed := e.post("/api/v1/node/services/encrypt", "application/json", fmt.Sprintf(`{"method":"PSK-RSA","message":%q}`, list), "")["hash"].(string)
	raw, _ := os.ReadFile("../asset/testdata/ddo-access.json")
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	doc["id"] = didClaim(did)
	for _, s := range doc["service"].([]any) {
		if svc := s.(map[string]any); svc["type"] == "metadata" {
			svc["attributes"].(map[string]any)["encryptedFiles"] = sealed
		}
	}
	ddo, _ = json.Marshal(doc)
	code, tok := e.token(e.publisher.Key, map[string]any{"aud": auth.AudienceDownload, "did": didClaim(did)})
	if code != 201 {
		t.Fatalf("owner token: %d %v", code, tok)
	}
	if code, body := e.download("/api/v1/node/services/download/0", tok["access_token"].(string)); code != 200 || body != e.content {
		t.Fatalf("download of a registry-resolved asset: %d", code)
	}
}
