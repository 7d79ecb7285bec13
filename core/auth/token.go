package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/golang-jwt/jwt/v5"
)

// Defaults and limits of [TokenConfig].
const (
	// MinSecretLength is the shortest accepted HS256 secret, in bytes.
	MinSecretLength = 32
	// DefaultTokenTTL is the reference's JWT_EXPIRY_KEY default (60m).
	DefaultTokenTTL = time.Hour
	// DefaultTokenLeeway is the clock skew allowed between node replicas
	// when checking a token's iat, nbf and exp.
	DefaultTokenLeeway = 5 * time.Second
)

// TokenConfig configures [Tokens]. Zero durations select the defaults.
type TokenConfig struct {
	// Secret is the HS256 key (JWT_SECRET_KEY), at least MinSecretLength
	// bytes. It never appears in errors or formatted values.
	Secret []byte
	// TTL is the access token lifetime (default 1 h).
	TTL time.Duration
	// Leeway is the clock skew allowed on verification (default 5 s).
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Tokens issues and verifies the node's access tokens: HS256 JWTs bound to
// the audience, agreement and DID of the assertion they were issued for. It
// is safe for concurrent use.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
}

// NewTokens returns Tokens for cfg. The secret is copied.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	if len(cfg.Secret) < MinSecretLength {
		return nil, fmt.Errorf("%w: token secret must be at least %d bytes", ErrConfig, MinSecretLength)
	}
	if cfg.TTL < 0 || cfg.Leeway < 0 {
		return nil, fmt.Errorf("%w: negative token lifetime or leeway", ErrConfig)
	}
	t := &Tokens{secret: slices.Clone(cfg.Secret), ttl: cfg.TTL, now: cfg.Now}
	if t.ttl == 0 {
		t.ttl = DefaultTokenTTL
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultTokenLeeway
	}
	if t.now == nil {
		t.now = time.Now
	}
	t.parser = jwt.NewParser(
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
		jwt.WithStrictDecoding(), // one encoding per signature
	)
	return t, nil
}

// String keeps the secret out of formatted values.
func (t *Tokens) String() string { return "auth.Tokens{secret:redacted}" }

// GoString keeps the secret out of %#v.
func (t *Tokens) GoString() string { return t.String() }

// Grant is what a verified access token allows.
type Grant struct {
	// Grantee is iss of the assertion: who may use the grant.
	Grantee common.Address
	// Audience is the endpoint family the grant was authorized for ("" for a
	// plain login).
	Audience string
	// AgreementID is the agreement (0x, 64 lower-case hex), "" if none.
	AgreementID string
	// DID is did:nv: and 64 lower-case hex, "" if none.
	DID string
	// ServiceIndex is the nft-access service index, nil if none.
	ServiceIndex *int64
	// ExecutionID is the compute execution id, "" if none.
	ExecutionID string
	// Buyer is the legacy DTP buyer claim, passed through, "" if none.
	Buyer string
	// ID is the token's jti.
	ID string
	// IssuedAt and ExpiresAt bound the token's validity.
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// tokenClaims is the access token payload. It keeps the reference's claim
// names and copies the claims the reference copies, so clients see what they
// saw before; unknown assertion claims are not copied, so a client cannot
// get arbitrary claims signed by the node. aud is a single string, as in the
// reference (jwt.RegisteredClaims would write an array).
type tokenClaims struct {
	Iss          string           `json:"iss"`
	Aud          string           `json:"aud,omitempty"`
	Sub          string           `json:"sub,omitempty"`
	DID          string           `json:"did,omitempty"`
	ServiceIndex *int64           `json:"service_index,omitempty"`
	Eths         string           `json:"eths,omitempty"`
	Buyer        string           `json:"buyer,omitempty"`
	BabySig      json.RawMessage  `json:"babysig,omitempty"`
	ExecutionID  string           `json:"execution_id,omitempty"`
	EIP712       *EIP712Data      `json:"eip712Data,omitempty"`
	JTI          string           `json:"jti"`
	IAT          *jwt.NumericDate `json:"iat"`
	NBF          *jwt.NumericDate `json:"nbf"`
	EXP          *jwt.NumericDate `json:"exp"`
}

func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.EXP, nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IAT, nil }
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NBF, nil }
func (c *tokenClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *tokenClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	if c.Aud == "" {
		return nil, nil
	}
	return jwt.ClaimStrings{c.Aud}, nil
}

// Issue signs an access token for an assertion checked by [Verifier.Verify].
// The caller has already authorized a's audience on chain; the token carries
// that audience, agreement and DID so data endpoints can require them.
func (t *Tokens) Issue(a *Assertion) (string, *Grant, error) {
	if !a.Verified() {
		return "", nil, ErrUnverified
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", nil, fmt.Errorf("auth: token id: %w", err)
	}
	return t.sign(a, t.now(), jti)
}

// IssueAt signs the access token of a's exchange at at ([Verifier.Exchange]):
// the same assertion and instant always give the same token, byte for byte,
// so a repeated exchange hands back exactly the first one's token (same jti,
// so a download it pays for is charged once; same exp). The jti is derived
// from the secret, the assertion's digest and at.
func (t *Tokens) IssueAt(a *Assertion, at time.Time) (string, *Grant, error) {
	if !a.Verified() {
		return "", nil, ErrUnverified
	}
	at = at.Truncate(time.Second)
	m := hmac.New(sha256.New, t.secret)
	m.Write([]byte("nvm-node access token id v1\x00"))
	d := a.Digest()
	m.Write(d[:])
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(at.Unix()))
	m.Write(ts[:])
	var jti [16]byte
	copy(jti[:], m.Sum(nil))
	return t.sign(a, at, jti)
}

func (t *Tokens) sign(a *Assertion, now time.Time, jti [16]byte) (string, *Grant, error) {
	now = now.Truncate(time.Second)
	c := a.Claims
	claims := &tokenClaims{
		Iss:          c.Issuer.Hex(),
		Aud:          c.Audience,
		Sub:          c.AgreementID,
		DID:          c.DID,
		ServiceIndex: c.ServiceIndex,
		Eths:         c.Eths,
		Buyer:        c.Buyer,
		BabySig:      c.BabySig,
		ExecutionID:  c.ExecutionID,
		EIP712:       c.EIP712,
		JTI:          hex.EncodeToString(jti[:]),
		IAT:          jwt.NewNumericDate(now),
		NBF:          jwt.NewNumericDate(now),
		EXP:          jwt.NewNumericDate(now.Add(t.ttl)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	if err != nil {
		return "", nil, fmt.Errorf("auth: signing token: %w", err)
	}
	return signed, claims.grant(c.Issuer), nil
}

func (c *tokenClaims) grant(grantee common.Address) *Grant {
	var si *int64
	if c.ServiceIndex != nil {
		n := *c.ServiceIndex // not shared with the assertion's claims
		si = &n
	}
	return &Grant{
		Grantee:      grantee,
		Audience:     c.Aud,
		AgreementID:  c.Sub,
		DID:          c.DID,
		ServiceIndex: si,
		ExecutionID:  c.ExecutionID,
		Buyer:        c.Buyer,
		ID:           c.JTI,
		IssuedAt:     c.IAT.Time,
		ExpiresAt:    c.EXP.Time,
	}
}

// Require is what a protected endpoint demands of an access token.
type Require struct {
	// Audiences the endpoint accepts; the token's aud must be one of them.
	// An empty list is refused unless AnyAudience is set, so forgetting to
	// name the audience fails closed (SPEC 11.1).
	Audiences []string
	// AnyAudience accepts any token, with or without aud, for endpoints that
	// only need the caller's identity.
	AnyAudience bool
	// AgreementID, when not "" or "0x", must equal the token's agreement,
	// compared ignoring the 0x prefix and case: the SDK puts agreement ids in
	// URLs without 0x (SPEC 3.3 GO, 11.6).
	AgreementID string
	// DID, when set, must equal the token's DID (hex compared ignoring case).
	DID string
}

// Verify checks an access token: HS256 only, signed with the configured
// secret, iss/jti/iat/nbf/exp present and current, and the audience,
// agreement and DID that req demands. Errors wrap the package's sentinels.
func (t *Tokens) Verify(token string, req Require) (*Grant, error) {
	if len(token) > MaxAssertionSize {
		return nil, fmt.Errorf("%w: token longer than %d bytes", ErrMalformed, MaxAssertionSize)
	}
	var claims tokenClaims
	_, err := t.parser.ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		if tok.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("%w: token alg %q, want HS256", ErrUnsupportedAlgorithm, truncate(tok.Method.Alg()))
		}
		return t.secret, nil
	})
	if err != nil {
		return nil, mapJWTError(err)
	}
	if claims.NBF == nil || claims.JTI == "" {
		return nil, fmt.Errorf("%w: token lacks nbf or jti", ErrMalformed)
	}
	if !common.IsHexAddress(claims.Iss) || common.HexToAddress(claims.Iss).Hex() != claims.Iss {
		return nil, fmt.Errorf("%w: token iss is not a checksummed address", ErrMalformed)
	}
	if !req.AnyAudience && !slices.Contains(req.Audiences, claims.Aud) {
		return nil, fmt.Errorf("%w: token for %q", ErrWrongAudience, truncateAud(claims.Aud))
	}
	if want, err := NormalizeAgreementID(req.AgreementID); err != nil {
		return nil, fmt.Errorf("%w: requested agreement id: %w", ErrWrongAgreement, err)
	} else if want != "" && want != claims.Sub {
		return nil, fmt.Errorf("%w: token is for another agreement", ErrWrongAgreement)
	}
	if req.DID != "" {
		want, err := NormalizeDID(req.DID)
		if err != nil {
			return nil, fmt.Errorf("%w: requested DID: %w", ErrWrongDID, err)
		}
		if want != claims.DID {
			return nil, fmt.Errorf("%w: token is for another DID", ErrWrongDID)
		}
	}
	return claims.grant(common.HexToAddress(claims.Iss)), nil
}

func truncateAud(aud string) string {
	if s, ok := strings.CutPrefix(aud, AudiencePrefix); ok {
		return ".../" + truncate(s)
	}
	return truncate(aud)
}

// mapJWTError turns jwt/v5 errors into this package's sentinels.
func mapJWTError(err error) error {
	var sentinel error
	switch {
	case errors.Is(err, ErrUnsupportedAlgorithm):
		return err
	case errors.Is(err, jwt.ErrTokenMalformed), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		sentinel = ErrMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable): // unknown alg
		sentinel = ErrUnsupportedAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		sentinel = ErrBadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		sentinel = ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		sentinel = ErrNotYetValid
	default:
		sentinel = ErrMalformed
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
