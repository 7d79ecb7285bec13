package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// MaxAssertionSize bounds the compact assertion (and access token) the
// package will look at. SDK assertions are well under 2 KiB; ERC-1271
// signatures of smart accounts stay far below this too.
const MaxAssertionSize = 16 << 10

// assertionAlg is the only header alg clients send (SPEC 3.1). It names an
// Ethereum signature, not JOSE ES256K.
const assertionAlg = "ES256K"

// Assertion is a parsed client assertion. ParseAssertion fills it from the
// wire form without checking the signature or the times; [Verifier.Verify]
// checks both and marks it verified, which [Tokens.Issue] requires.
type Assertion struct {
	// SigningInput is the exact ASCII text that was signed:
	// base64url(header) "." base64url(payload).
	SigningInput string
	// Signature is the decoded third segment: 65 bytes r||s||v for an EOA,
	// anything for an ERC-1271 contract wallet.
	Signature []byte
	// Claims are the decoded payload.
	Claims Claims

	verified bool
}

// Verified reports whether the assertion came out of [Verifier.Verify].
func (a *Assertion) Verified() bool { return a != nil && a.verified }

// EIP712Data is the optional eip712Data claim. Its presence switches the
// signature to EIP-712 typed data (SPEC 3.1).
type EIP712Data struct {
	Message string `json:"message"`
	ChainID uint64 `json:"chainId"`
}

// Claims are the payload claims of a client assertion, checked for type and
// format. Optional string claims are "" when absent.
type Claims struct {
	// Issuer is iss, the signer; the wire form was EIP-55 checksummed.
	Issuer common.Address
	// Audience is aud as sent, "" for a plain login.
	Audience string
	// Subject is sub as sent.
	Subject string
	// AgreementID is sub normalised by [NormalizeAgreementID]: "" when sub is
	// absent, "" or "0x".
	AgreementID string
	// DID is did normalised by [NormalizeDID], "" when absent.
	DID string
	// ServiceIndex is service_index (nft-access), nil when absent.
	ServiceIndex *int64
	// Eths, Buyer, BabySig and ExecutionID are passed through unused
	// (SPEC 3.1): the node only copies them into the access token.
	Eths        string
	Buyer       string
	BabySig     json.RawMessage
	ExecutionID string
	// EIP712 is eip712Data, nil when absent.
	EIP712 *EIP712Data
	// IssuedAt and ExpiresAt are iat and exp, both required.
	IssuedAt  time.Time
	ExpiresAt time.Time
	// NotBefore is nbf, zero when absent (the SDK does not send it).
	NotBefore time.Time
	// Raw holds every claim of the payload as sent, known or not.
	Raw map[string]json.RawMessage
}

// ParseAssertion decodes a compact client assertion. It checks the form only:
// three base64url segments (padding optional), a header with alg ES256K, a
// JSON object payload without duplicate claims, typed claims, iss an EIP-55
// checksummed address, iat and exp present. It never panics on bad input and
// every error wraps [ErrMalformed] or [ErrUnsupportedAlgorithm].
func ParseAssertion(compact string) (*Assertion, error) {
	if len(compact) > MaxAssertionSize {
		return nil, fmt.Errorf("%w: assertion longer than %d bytes", ErrMalformed, MaxAssertionSize)
	}
	h, rest, ok := strings.Cut(compact, ".")
	if !ok {
		return nil, fmt.Errorf("%w: assertion must have 3 segments", ErrMalformed)
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return nil, fmt.Errorf("%w: assertion must have 3 segments", ErrMalformed)
	}
	headerJSON, err := decodeSegment(h)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if err := checkHeader(headerJSON); err != nil {
		return nil, err
	}
	payloadJSON, err := decodeSegment(p)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	sig, err := decodeSegment(s)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrMalformed, err)
	}
	if len(sig) == 0 {
		return nil, fmt.Errorf("%w: empty signature", ErrMalformed)
	}
	raw, err := decodeObject(payloadJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	claims, err := parseClaims(raw)
	if err != nil {
		return nil, err
	}
	return &Assertion{SigningInput: compact[:len(h)+1+len(p)], Signature: sig, Claims: claims}, nil
}

// decodeSegment decodes base64url with optional padding, as the reference's
// lenient decoder does, but rejects characters outside the alphabet (Go's
// decoder would skip newlines).
func decodeSegment(seg string) ([]byte, error) {
	seg = strings.TrimRight(seg, "=")
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, errors.New("not base64url")
		}
	}
	out, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	return out, nil
}

func checkHeader(headerJSON []byte) error {
	hdr, err := decodeObject(headerJSON)
	if err != nil {
		return fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	algRaw, ok := hdr["alg"]
	if !ok {
		return fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	alg, present, err := stringClaim(algRaw)
	if err != nil || !present {
		return fmt.Errorf("%w: header alg must be a string", ErrMalformed)
	}
	if alg != assertionAlg {
		return fmt.Errorf("%w: assertion alg %q, want %s", ErrUnsupportedAlgorithm, truncate(alg), assertionAlg)
	}
	if _, ok := hdr["crit"]; ok {
		// RFC 7515: a recipient must reject critical extensions it does not know.
		return fmt.Errorf("%w: header crit is not supported", ErrMalformed)
	}
	return nil
}

// decodeObject decodes a JSON object into its members, rejecting duplicate
// names (which JSON parsers resolve differently) and trailing data.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, errors.New("not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	out := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("not JSON")
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("not JSON")
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicate member %q", truncate(name))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("not JSON")
		}
		out[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, errors.New("not JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON object")
	}
	return out, nil
}

func parseClaims(raw map[string]json.RawMessage) (Claims, error) {
	c := Claims{Raw: raw}
	bad := func(name, want string) error {
		return fmt.Errorf("%w: claim %s must be %s", ErrMalformed, name, want)
	}

	iss, ok, err := stringClaim(raw["iss"])
	if err != nil || !ok {
		return c, bad("iss", "present and a string")
	}
	if !common.IsHexAddress(iss) || !strings.HasPrefix(iss, "0x") {
		return c, bad("iss", "an Ethereum address")
	}
	c.Issuer = common.HexToAddress(iss)
	if c.Issuer.Hex() != iss {
		return c, bad("iss", "an EIP-55 checksummed address")
	}

	strs := []struct {
		name string
		dst  *string
	}{
		{"aud", &c.Audience}, {"sub", &c.Subject}, {"eths", &c.Eths},
		{"buyer", &c.Buyer}, {"execution_id", &c.ExecutionID},
	}
	for _, sc := range strs {
		if *sc.dst, _, err = stringClaim(raw[sc.name]); err != nil {
			return c, bad(sc.name, "a string")
		}
	}
	if c.AgreementID, err = NormalizeAgreementID(c.Subject); err != nil {
		return c, bad("sub", `an agreement id (0x and 64 hex digits) or "0x"`)
	}
	did, hasDID, err := stringClaim(raw["did"])
	if err != nil {
		return c, bad("did", "a string")
	}
	if hasDID {
		if c.DID, err = NormalizeDID(did); err != nil {
			return c, bad("did", "did:nv: followed by 64 hex digits")
		}
	}
	if v, ok := raw["service_index"]; ok && !isNull(v) {
		n, err := intClaim(v)
		if err != nil || n < 0 {
			return c, bad("service_index", "a non-negative integer")
		}
		c.ServiceIndex = &n
	}
	if v, ok := raw["babysig"]; ok && !isNull(v) {
		c.BabySig = v
	}
	if v, ok := raw["eip712Data"]; ok && !isNull(v) {
		d, err := parseEIP712Data(v)
		if err != nil {
			return c, bad("eip712Data", `{"message": string, "chainId": integer}`)
		}
		c.EIP712 = d
	}

	times := []struct {
		name     string
		dst      *time.Time
		required bool
	}{
		{"iat", &c.IssuedAt, true}, {"exp", &c.ExpiresAt, true}, {"nbf", &c.NotBefore, false},
	}
	for _, tc := range times {
		v, ok := raw[tc.name]
		if !ok || isNull(v) {
			if tc.required {
				return c, bad(tc.name, "present")
			}
			continue
		}
		n, err := intClaim(v)
		if err != nil || n < 0 {
			return c, bad(tc.name, "a non-negative integer (seconds)")
		}
		*tc.dst = time.Unix(n, 0)
	}
	return c, nil
}

func parseEIP712Data(v json.RawMessage) (*EIP712Data, error) {
	obj, err := decodeObject(v)
	if err != nil {
		return nil, err
	}
	msg, ok, err := stringClaim(obj["message"])
	if err != nil || !ok {
		return nil, errors.New("message")
	}
	cid, ok := obj["chainId"]
	if !ok {
		return nil, errors.New("chainId")
	}
	n, err := intClaim(cid)
	if err != nil || n < 0 {
		return nil, errors.New("chainId")
	}
	return &EIP712Data{Message: msg, ChainID: uint64(n)}, nil
}

func isNull(v json.RawMessage) bool { return string(v) == "null" }

// stringClaim decodes a JSON string; absent or null gives ("", false, nil).
func stringClaim(v json.RawMessage) (string, bool, error) {
	if v == nil || isNull(v) {
		return "", false, nil
	}
	if len(v) == 0 || v[0] != '"' {
		return "", false, errors.New("not a string")
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false, err
	}
	return s, true, nil
}

// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER: no SDK can send a
// larger integer exactly.
const maxSafeInteger = 1<<53 - 1

// intClaim decodes a JSON number that is an integer written without fraction
// or exponent, as JavaScript's JSON.stringify writes safe integers.
func intClaim(v json.RawMessage) (int64, error) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n > maxSafeInteger || n < -maxSafeInteger {
		return 0, errors.New("not an integer")
	}
	return n, nil
}

// truncate keeps attacker-chosen text in error messages short.
func truncate(s string) string {
	const max = 32
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
