// Package client is a small Go client of a Nevermined node for both sides of
// a sale: a publisher registers a DID, seals its file list for the node and
// stores the DDO; a consumer orders and pays on-chain, gets an access token
// and downloads. It speaks the same REST API and the same on-chain calls as
// the official SDK, so the end-to-end tests and `node demo` exercise the node
// as real clients do.
package client

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/chain"
)

// Info is the part of GET / a client needs.
type Info struct {
	ProviderAddress string `json:"provider-address"`
	RSAPublicKey    string `json:"rsa-public-key"`
	KeeperURL       string `json:"keeper-url"`
	ChainID         uint64 `json:"chain-id"`
	ChainAvailable  bool   `json:"chain-available"`
	ArtifactsFolder string `json:"artifacts-folder"`
	Network         string `json:"network"`
}

// Client talks to one node and its chain.
type Client struct {
	NodeURL string
	HTTP    *http.Client
	Chain   *chain.Client
	Info    Info
}

// Dial reads the node's info and connects to its chain: the RPC URL and
// artifacts folder the node reports unless given (a client on another machine
// passes its own).
func Dial(ctx context.Context, nodeURL, rpcURL, artifacts string) (*Client, error) {
	c := &Client{NodeURL: strings.TrimRight(nodeURL, "/"), HTTP: &http.Client{Timeout: 2 * time.Minute}}
	if err := c.getJSON(ctx, "/", &c.Info); err != nil {
		return nil, fmt.Errorf("node info: %w", err)
	}
	if !c.Info.ChainAvailable {
		return nil, errors.New("the node reports its chain unavailable")
	}
	if rpcURL == "" {
		rpcURL = c.Info.KeeperURL
	}
	if artifacts == "" {
		artifacts = c.Info.ArtifactsFolder
	}
	ch, err := chain.Dial(ctx, chain.Config{RPCURL: rpcURL, ChainID: c.Info.ChainID, ArtifactsFolder: artifacts})
	if err != nil {
		return nil, err
	}
	c.Chain = ch
	return c, nil
}

// Close releases the chain connection.
func (c *Client) Close() { c.Chain.Close() }

// Provider is the node's address, the provider of the DIDs it serves.
func (c *Client) Provider() common.Address { return common.HexToAddress(c.Info.ProviderAddress) }

// Encrypt seals a message for the node (PSK-RSA).
func (c *Client) Encrypt(ctx context.Context, msg []byte) (string, error) {
	body, _ := json.Marshal(map[string]string{"method": "PSK-RSA", "message": string(msg)})
	var out struct {
		Hash string `json:"hash"`
	}
	if err := c.post(ctx, "/api/v1/node/services/encrypt", "application/json", body, "", &out); err != nil {
		return "", err
	}
	return out.Hash, nil
}

// Assertion signs a client assertion with claims (iss, iat, exp are set), as
// the SDK's JwtUtils do.
func Assertion(key *ecdsa.PrivateKey, claims map[string]any) (string, error) {
	c := map[string]any{}
	for k, v := range claims {
		c[k] = v
	}
	now := time.Now().Unix()
	c["iss"], c["iat"], c["exp"] = crypto.PubkeyToAddress(key.PublicKey).Hex(), now, now+3600
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return auth.SignAssertion(key, payload)
}

// Token exchanges a signed assertion for an access token.
func (c *Client) Token(ctx context.Context, key *ecdsa.PrivateKey, claims map[string]any) (string, error) {
	return c.exchange(ctx, "/api/v1/node/services/oauth/token", key, claims)
}

// Login gets a metadata-store token (DDO writes) for key's address.
func (c *Client) Login(ctx context.Context, key *ecdsa.PrivateKey) (string, error) {
	return c.exchange(ctx, "/api/v1/auth/login", key, nil)
}

func (c *Client) exchange(ctx context.Context, path string, key *ecdsa.PrivateKey, claims map[string]any) (string, error) {
	jwt, err := Assertion(key, claims)
	if err != nil {
		return "", err
	}
	form := url.Values{"client_assertion_type": {auth.ClientAssertionType}, "client_assertion": {jwt}}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.post(ctx, path, "application/x-www-form-urlencoded", []byte(form.Encode()), "", &out); err != nil {
		return "", err
	}
	return out.AccessToken, nil
}

// Download streams a file of the node into w and returns its size.
func (c *Client) Download(ctx context.Context, path, token string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.NodeURL+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, answerError(resp)
	}
	return io.Copy(w, resp.Body)
}

// NewSeed returns a random 32-byte seed for DIDs and agreements.
func NewSeed() common.Hash {
	var h common.Hash
	_, _ = rand.Read(h[:])
	return h
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.NodeURL+path, nil)
	if err != nil {
		return err
	}
	return c.do(req, out)
}

func (c *Client) post(ctx context.Context, path, ct string, body []byte, bearer string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.NodeURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ct)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return c.do(req, out)
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return answerError(resp)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out)
}

// Error is a node's refusal.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("node answered %d: %s", e.Status, e.Message) }

func answerError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Message any `json:"message"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &body) == nil && body.Message != nil {
		msg = fmt.Sprint(body.Message)
	}
	return &Error{Status: resp.StatusCode, Message: msg}
}
