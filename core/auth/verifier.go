package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/nvm-node/nvm-node/core/admission"
)

// Defaults of [VerifierConfig].
const (
	DefaultLeeway      = 60 * time.Second
	DefaultMaxLifetime = time.Hour // the SDK sets exp = iat + 3600 s
	// DefaultMaxAge is how long after its iat an assertion is accepted,
	// whatever its exp: the SDK makes a fresh assertion for each exchange
	// and sends it at once, so minutes are plenty, and the replay store
	// remembers an entry for minutes instead of an hour.
	DefaultMaxAge = 5 * time.Minute
	// DefaultERC1271Gas caps the isValidSignature call; smart accounts need
	// well under this (a Solidity P-256 check costs a few hundred thousand).
	DefaultERC1271Gas = 2_000_000
)

// VerifierConfig configures a [Verifier]. Zero values select the defaults.
type VerifierConfig struct {
	// Chain, when set, lets contract wallets (ERC-1271) sign assertions.
	// Without it only EOA signatures verify.
	Chain ContractReader
	// ERC1271Gas caps the gas of the isValidSignature call (default
	// DefaultERC1271Gas).
	ERC1271Gas uint64
	// ChainID, when non-zero, is the only eip712Data.chainId accepted, so an
	// EIP-712 assertion made for another network's node is refused. EIP-191
	// assertions carry no chain id.
	ChainID uint64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Leeway is the clock skew allowed on iat, nbf and exp (default 60 s).
	Leeway time.Duration
	// MaxLifetime caps exp-iat; Leeway is added on top (default 1 h).
	MaxLifetime time.Duration
	// MaxAge is how long after iat an assertion is accepted (plus Leeway),
	// even when its exp is later (default DefaultMaxAge).
	MaxAge time.Duration
	// Replay remembers used assertions; nil means a new
	// [MemoryReplayStore] with its default bounds.
	Replay ReplayStore
}

// Verifier checks client assertions: form, times, signature (EIP-191,
// EIP-712, ERC-1271) and single use. It is safe for concurrent use.
type Verifier struct {
	chain       ContractReader
	gas         uint64
	chainID     uint64
	now         func() time.Time
	leeway      time.Duration
	maxLifetime time.Duration
	maxAge      time.Duration
	replay      ReplayStore
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Leeway < 0 || cfg.MaxLifetime < 0 || cfg.MaxAge < 0 {
		return nil, fmt.Errorf("%w: negative leeway or lifetime", ErrConfig)
	}
	v := &Verifier{
		chain:       cfg.Chain,
		gas:         cfg.ERC1271Gas,
		chainID:     cfg.ChainID,
		now:         cfg.Now,
		leeway:      cfg.Leeway,
		maxLifetime: cfg.MaxLifetime,
		maxAge:      cfg.MaxAge,
		replay:      cfg.Replay,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.leeway == 0 {
		v.leeway = DefaultLeeway
	}
	if v.gas == 0 {
		v.gas = DefaultERC1271Gas
	}
	if v.maxLifetime == 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	if v.maxAge == 0 {
		v.maxAge = DefaultMaxAge
	}
	if v.replay == nil {
		v.replay = NewMemoryReplayStore(0, 0)
	}
	return v, nil
}

// Verify parses compact and accepts it only if it is well formed, currently
// valid, signed by its iss and not used before: strict single use, for
// callers whose use of an assertion cannot be repeated. Exchange is the
// idempotent form. The client address comes from ctx
// ([admission.WithClient]). The returned assertion is marked verified for
// [Tokens.Issue]. Errors wrap the package's sentinels.
func (v *Verifier) Verify(ctx context.Context, compact string) (*Assertion, error) {
	a, t, err := v.begin(ctx, compact)
	if err != nil {
		return nil, err
	}
	if !t.First {
		return nil, ErrReplayed
	}
	t.Done(true, time.Time{}) // remembered, but nothing to repeat
	a.verified = true
	return a, nil
}

// GrantFunc turns a verified assertion into what the client receives (a token),
// as issued at at. first is set for the first use of the assertion, which
// may authorize and have side effects; a repeat (first unset) must only
// rebuild the same grant for the same at, with no side effect, so the
// client gets byte for byte what the first use gave, expiring when it does.
type GrantFunc func(ctx context.Context, a *Assertion, first bool, at time.Time) (string, error)

// Exchange verifies compact like Verify, then gives the grant of its first
// use. The official SDK sends byte-identical assertions for two identical
// calls within a second (no jti, iat in seconds, deterministic signatures),
// and retries a failed exchange with the same assertion, so refusing the
// repeat breaks it; instead the repeat of an assertion within its lifetime
// gets the same grant again, and nothing more: no second authorization, no
// longer lifetime. A first use that failed is forgotten, so its retry is a
// first use again. Concurrent repeats wait for the first to finish.
func (v *Verifier) Exchange(ctx context.Context, compact string, grant GrantFunc) (string, *Assertion, error) {
	a, t, err := v.begin(ctx, compact)
	if err != nil {
		return "", nil, err
	}
	a.verified = true
	if !t.First {
		if t.At.IsZero() {
			return "", nil, ErrReplayed
		}
		tok, err := grant(ctx, a, false, t.At)
		return tok, a, err
	}
	at := v.now().Truncate(time.Second)
	tok, err := grant(ctx, a, true, at)
	t.Done(err == nil, at)
	if err != nil {
		return "", nil, err
	}
	return tok, a, nil
}

// begin checks compact (cheapest checks first) and starts its use in the
// replay store. The assertion is remembered only after its signature
// verified, so a forged copy cannot use up a genuine assertion.
func (v *Verifier) begin(ctx context.Context, compact string) (*Assertion, Ticket, error) {
	a, err := ParseAssertion(compact)
	if err != nil {
		return nil, Ticket{}, err
	}
	now := v.now()
	if err := v.checkTimes(&a.Claims, now); err != nil {
		return nil, Ticket{}, err
	}
	if v.chainID != 0 && a.Claims.EIP712 != nil && a.Claims.EIP712.ChainID != v.chainID {
		return nil, Ticket{}, fmt.Errorf("%w: eip712Data.chainId %d, node chain %d", ErrWrongChain, a.Claims.EIP712.ChainID, v.chainID)
	}
	digest := a.Digest()
	if err := checkSignature(ctx, v.chain, v.gas, a.Claims.Issuer, digest, a.Signature); err != nil {
		return nil, Ticket{}, err
	}
	// The key is the signed digest, not the signature bytes: a signature has
	// other valid encodings (v 0/1 or 27/28; any bytes a contract wallet
	// accepts), and the digest covers every claim the issuer signed.
	t, err := v.replay.Begin(ctx, digest, admission.ClientFrom(ctx), now, v.lastValid(&a.Claims))
	if err != nil {
		return nil, Ticket{}, err
	}
	return a, t, nil
}

// lastValid is the last instant the time checks accept c.
func (v *Verifier) lastValid(c *Claims) time.Time {
	end := c.ExpiresAt
	if byAge := c.IssuedAt.Add(v.maxAge); byAge.Before(end) {
		end = byAge
	}
	return end.Add(v.leeway)
}

func (v *Verifier) checkTimes(c *Claims, now time.Time) error {
	if !c.ExpiresAt.After(c.IssuedAt) {
		return fmt.Errorf("%w: exp is not after iat", ErrLifetime)
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt); life > v.maxLifetime+v.leeway {
		return fmt.Errorf("%w: exp-iat is %s, at most %s allowed", ErrLifetime, life, v.maxLifetime+v.leeway)
	}
	if now.After(c.ExpiresAt.Add(v.leeway)) {
		return fmt.Errorf("%w: assertion expired at %s", ErrExpired, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if now.After(c.IssuedAt.Add(v.maxAge + v.leeway)) {
		return fmt.Errorf("%w: assertion issued more than %s ago; make a new one", ErrExpired, v.maxAge)
	}
	if c.IssuedAt.After(now.Add(v.leeway)) {
		return fmt.Errorf("%w: assertion issued at %s, in the future", ErrNotYetValid, c.IssuedAt.UTC().Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(v.leeway)) {
		return fmt.Errorf("%w: assertion not valid before %s", ErrNotYetValid, c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}
