package api_test

import (
	"context"
	"encoding/json"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/api"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/authz"
)

type countingAuthorizer struct {
	calls atomic.Int32
	deny  atomic.Bool
}

func (c *countingAuthorizer) Authorize(context.Context, *auth.Assertion) error {
	c.calls.Add(1)
	if c.deny.Load() {
		return &authz.Denied{Reason: "not paid yet"}
	}
	return nil
}

// Issue 14 item 2: the SDK's two identical access requests within a second
// send one byte-identical assertion twice. The second gets the first's
// token, and the on-chain authorization (which may send transactions) runs
// once. A refused first exchange is forgotten: the retry is authorized again.
func TestTokenRepeatedAccessAssertion(t *testing.T) {
	az := &countingAuthorizer{}
	n := newTestNode(t, func(c *api.Config) { c.Authorizer = az })
	key, _ := crypto.GenerateKey()
	now := time.Now().Unix()
	payload, _ := json.Marshal(map[string]any{
		"iss": crypto.PubkeyToAddress(key.PublicKey).Hex(), "aud": auth.AudienceAccess,
		"sub":  "0x" + "ab" + "00000000000000000000000000000000000000000000000000000000000000",
		"did":  "did:nv:" + "cd" + "00000000000000000000000000000000000000000000000000000000000000",
		"eths": "personal", "iat": now, "exp": now + 3600,
	})
	jwt, err := auth.SignAssertion(key, payload)
	if err != nil {
		t.Fatal(err)
	}
	form := []byte(url.Values{"client_assertion_type": {auth.ClientAssertionType}, "client_assertion": {jwt}}.Encode())

	az.deny.Store(true)
	if resp, body := n.do("POST", tokenPath, "application/x-www-form-urlencoded", form); resp.StatusCode != 401 {
		t.Fatalf("refused first exchange: %d %s", resp.StatusCode, body)
	}
	az.deny.Store(false)
	resp, body := n.do("POST", tokenPath, "application/x-www-form-urlencoded", form)
	if resp.StatusCode != 201 {
		t.Fatalf("retry after refusal: %d %s", resp.StatusCode, body)
	}
	first := decode(t, body)["access_token"]
	resp, body = n.do("POST", tokenPath, "application/x-www-form-urlencoded", form)
	if resp.StatusCode != 201 || decode(t, body)["access_token"] != first {
		t.Fatalf("repeat: %d %s, want the same token", resp.StatusCode, body)
	}
	if got := az.calls.Load(); got != 2 {
		t.Fatalf("authorized %d times, want 2 (the refusal and the first success)", got)
	}
}
