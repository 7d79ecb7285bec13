package auth

import (
	"context"
	"fmt"
	"time"
)

// Defaults of [VerifierConfig].
const (
	DefaultLeeway      = 60 * time.Second
	DefaultMaxLifetime = time.Hour // the SDK sets exp = iat + 3600 s
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
	// Replay remembers accepted assertions; nil means a new
	// [MemoryReplayStore] of [DefaultReplayEntries].
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
	replay      ReplayStore
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Leeway < 0 || cfg.MaxLifetime < 0 {
		return nil, fmt.Errorf("%w: negative leeway or lifetime", ErrConfig)
	}
	v := &Verifier{
		chain:       cfg.Chain,
		gas:         cfg.ERC1271Gas,
		chainID:     cfg.ChainID,
		now:         cfg.Now,
		leeway:      cfg.Leeway,
		maxLifetime: cfg.MaxLifetime,
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
	if v.replay == nil {
		v.replay = NewMemoryReplayStore(DefaultReplayEntries)
	}
	return v, nil
}

// Verify parses compact and accepts it only if it is well formed, currently
// valid, signed by its iss and not seen before. Checks run cheapest first;
// the assertion is remembered only after its signature verified, so a forged
// copy cannot use up a genuine assertion. The returned assertion is marked
// verified for [Tokens.Issue]. Errors wrap the package's sentinels.
func (v *Verifier) Verify(ctx context.Context, compact string) (*Assertion, error) {
	a, err := ParseAssertion(compact)
	if err != nil {
		return nil, err
	}
	now := v.now()
	if err := v.checkTimes(&a.Claims, now); err != nil {
		return nil, err
	}
	if v.chainID != 0 && a.Claims.EIP712 != nil && a.Claims.EIP712.ChainID != v.chainID {
		return nil, fmt.Errorf("%w: eip712Data.chainId %d, node chain %d", ErrWrongChain, a.Claims.EIP712.ChainID, v.chainID)
	}
	digest := a.Digest()
	if err := checkSignature(ctx, v.chain, v.gas, a.Claims.Issuer, digest, a.Signature); err != nil {
		return nil, err
	}
	// The key is the signed digest, not the signature bytes: a signature has
	// other valid encodings (v 0/1 or 27/28; any bytes a contract wallet
	// accepts), and the digest covers every claim the issuer signed.
	if err := v.replay.Remember(digest, now, a.Claims.ExpiresAt.Add(v.leeway)); err != nil {
		return nil, err
	}
	a.verified = true
	return a, nil
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
	if c.IssuedAt.After(now.Add(v.leeway)) {
		return fmt.Errorf("%w: assertion issued at %s, in the future", ErrNotYetValid, c.IssuedAt.UTC().Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(v.leeway)) {
		return fmt.Errorf("%w: assertion not valid before %s", ErrNotYetValid, c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}
