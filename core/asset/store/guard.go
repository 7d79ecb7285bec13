package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/asset"
)

// Errors a [Guard] returns; the handler answers them with 401 and 403.
var (
	// ErrUnauthenticated reports a write without valid credentials.
	ErrUnauthenticated = errors.New("store: not authenticated")
	// ErrTooMany reports a client over its share of a bounded resource (the
	// replay store's assertions); answered 429 with Retry-After.
	ErrTooMany = errors.New("store: too many requests from this client")
	// ErrForbidden reports a write by someone who may not make it.
	ErrForbidden = errors.New("store: forbidden")
)

// Op is a kind of write.
type Op int

// The writes a Guard decides on.
const (
	OpCreate Op = iota + 1
	OpUpdate
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Guard decides who may write to the store.
type Guard interface {
	// Login exchanges a client assertion (the SDK's
	// `generateClientAssertion`) for the bearer token the SDK then sends as
	// `Authorization: Bearer <token>`. The SDK reads the token's `sub` claim
	// as the marketplace user id.
	Login(ctx context.Context, clientAssertion string) (token string, err error)
	// Authorize decides whether request r may perform op. existing is the
	// stored DDO (nil on create), proposed the new one (nil on delete).
	// Errors should wrap ErrUnauthenticated or ErrForbidden.
	Authorize(ctx context.Context, r *http.Request, op Op, existing, proposed *asset.DDO) error
}

// AllowAll lets every request write and logs in every assertion without
// checking its signature. It exists so that `node dev` and tests work with
// the unmodified SDK; it must not face a network anyone else can reach.
type AllowAll struct{}

// Login returns an unsigned token whose `sub` is the user id of the
// assertion's (unverified) issuer.
func (AllowAll) Login(_ context.Context, clientAssertion string) (string, error) {
	iss, err := unverifiedIssuer(clientAssertion)
	if err != nil {
		return "", err
	}
	claims, _ := json.Marshal(map[string]any{"sub": UserIDForAddress(iss), "address": iss.Hex(), "iat": time.Now().Unix()})
	return b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(string(claims)) + ".", nil
}

// Authorize allows everything.
func (AllowAll) Authorize(context.Context, *http.Request, Op, *asset.DDO, *asset.DDO) error {
	return nil
}

// OwnerGuard issues its own bearer tokens to callers whose client assertion
// Verify accepts, and lets a caller write only DDOs that name the caller as
// owner (the first publicKey's owner, else proof.creator): on create and
// update the new document must, on update and delete the stored one must.
//
// The document's owner claim is what the publisher wrote; once DIDs are read
// from chain, the DIDRegistry owner is the better authority.
type OwnerGuard struct {
	// Verify checks a client assertion (signature, expiry, replay) and
	// returns its signer. core/auth provides it.
	Verify func(ctx context.Context, clientAssertion string) (common.Address, error)
	// Exchange, when set, is used by Login instead of Verify: it checks the
	// assertion and calls issue for its signer and the instant of its first
	// use, so that a repeated assertion gets the same token again
	// (core/auth Verifier.Exchange).
	Exchange func(ctx context.Context, clientAssertion string, issue func(addr common.Address, at time.Time) (string, error)) (string, error)
	// Secret signs the tokens (HS256). At least 32 bytes.
	Secret []byte
	// TTL is the tokens' lifetime; zero means one hour.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

const hs256Header = `{"alg":"HS256","typ":"JWT"}`

type tokenClaims struct {
	Sub     string `json:"sub"`
	Address string `json:"address"`
	Iat     int64  `json:"iat"`
	Exp     int64  `json:"exp"`
}

func (g *OwnerGuard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Login verifies the assertion and issues a token for its signer.
func (g *OwnerGuard) Login(ctx context.Context, clientAssertion string) (string, error) {
	if len(g.Secret) < 32 || g.Verify == nil && g.Exchange == nil {
		return "", errors.New("store: OwnerGuard needs Verify or Exchange and a Secret of at least 32 bytes")
	}
	if g.Exchange != nil {
		tok, err := g.Exchange(ctx, clientAssertion, func(addr common.Address, at time.Time) (string, error) {
			return g.token(addr, at), nil
		})
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrUnauthenticated, err)
		}
		return tok, nil
	}
	addr, err := g.Verify(ctx, clientAssertion)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	return g.token(addr, g.now()), nil
}

// token signs a login token for addr issued at now; the same inputs give
// the same token.
func (g *OwnerGuard) token(addr common.Address, now time.Time) string {
	ttl := g.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	claims, _ := json.Marshal(tokenClaims{Sub: UserIDForAddress(addr), Address: addr.Hex(), Iat: now.Unix(), Exp: now.Add(ttl).Unix()})
	signing := b64(hs256Header) + "." + b64(string(claims))
	return signing + "." + base64.RawURLEncoding.EncodeToString(g.sign(signing))
}

func (g *OwnerGuard) sign(s string) []byte {
	m := hmac.New(sha256.New, g.Secret)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// Authorize checks the bearer token and the ownership rule.
func (g *OwnerGuard) Authorize(_ context.Context, r *http.Request, op Op, existing, proposed *asset.DDO) error {
	caller, err := g.caller(r)
	if err != nil {
		return err
	}
	for _, d := range []*asset.DDO{existing, proposed} {
		if d == nil {
			continue
		}
		owner, err := d.Owner()
		if err != nil {
			return fmt.Errorf("%w: %s names no owner: %w", ErrForbidden, d.ID, err)
		}
		if owner != caller {
			return fmt.Errorf("%w: %s may not %s %s, owned by %s", ErrForbidden, caller.Hex(), op, d.ID, owner.Hex())
		}
	}
	return nil
}

func (g *OwnerGuard) caller(r *http.Request) (common.Address, error) {
	if len(g.Secret) < 32 {
		return common.Address{}, errors.New("store: OwnerGuard needs a Secret of at least 32 bytes")
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return common.Address{}, fmt.Errorf("%w: missing bearer token", ErrUnauthenticated)
	}
	parts := strings.Split(tok, ".")
	// The header must be exactly ours: no algorithm negotiation.
	if len(parts) != 3 || parts[0] != b64(hs256Header) {
		return common.Address{}, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, g.sign(parts[0]+"."+parts[1])) {
		return common.Address{}, fmt.Errorf("%w: bad token signature", ErrUnauthenticated)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c tokenClaims
	if err != nil || json.Unmarshal(raw, &c) != nil || !common.IsHexAddress(c.Address) {
		return common.Address{}, fmt.Errorf("%w: malformed token claims", ErrUnauthenticated)
	}
	if g.now().Unix() >= c.Exp {
		return common.Address{}, fmt.Errorf("%w: token expired", ErrUnauthenticated)
	}
	return common.HexToAddress(c.Address), nil
}

// UserIDForAddress derives the stable marketplace user id the store gives an
// address: "us-" and a UUID-shaped digest of the lower-case address.
func UserIDForAddress(a common.Address) string {
	h := crypto.Keccak256([]byte(strings.ToLower(a.Hex())))
	return fmt.Sprintf("us-%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// unverifiedIssuer reads `iss` from a JWT without checking anything else.
func unverifiedIssuer(jwt string) (common.Address, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return common.Address{}, fmt.Errorf("%w: client_assertion is not a JWT", ErrUnauthenticated)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Iss string `json:"iss"`
	}
	if err != nil || json.Unmarshal(raw, &c) != nil || !common.IsHexAddress(c.Iss) {
		return common.Address{}, fmt.Errorf("%w: client_assertion has no iss address", ErrUnauthenticated)
	}
	return common.HexToAddress(c.Iss), nil
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func b64dec(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
