package asset

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// DIDPrefix starts every Nevermined DID.
const DIDPrefix = "did:nv:"

// DID identifies an asset: 32 bytes, the same value the DIDRegistry contract
// stores as bytes32. The zero DID is not a valid asset identifier.
type DID [32]byte

// ParseDID parses `did:nv:` followed by exactly 64 hex digits. Hex digits may
// be of either case; String always gives lower case.
func ParseDID(s string) (DID, error) {
	rest, ok := strings.CutPrefix(s, DIDPrefix)
	if !ok {
		return DID{}, fmt.Errorf("%w: %s must start with %q", ErrInvalidDID, quoteShort(s), DIDPrefix)
	}
	return parseHex32(s, rest)
}

// DIDFromZeroX parses the contracts' form: `0x` followed by exactly 64 hex
// digits.
func DIDFromZeroX(s string) (DID, error) {
	rest, ok := strings.CutPrefix(s, "0x")
	if !ok {
		rest, ok = strings.CutPrefix(s, "0X")
	}
	if !ok {
		return DID{}, fmt.Errorf("%w: %s must start with 0x", ErrInvalidDID, quoteShort(s))
	}
	return parseHex32(s, rest)
}

// ParseDIDAny accepts every form a DID travels in: `did:nv:<hex>`,
// `0x<hex>`, and the bare 64 hex digits that DDO condition parameters hold.
func ParseDIDAny(s string) (DID, error) {
	switch {
	case strings.HasPrefix(s, DIDPrefix):
		return ParseDID(s)
	case strings.HasPrefix(s, "0x"), strings.HasPrefix(s, "0X"):
		return DIDFromZeroX(s)
	default:
		return parseHex32(s, s)
	}
}

func parseHex32(whole, h string) (DID, error) {
	var d DID
	if len(h) != 64 {
		return DID{}, fmt.Errorf("%w: %s must have 64 hex digits, has %d characters", ErrInvalidDID, quoteShort(whole), len(h))
	}
	if _, err := hex.Decode(d[:], []byte(h)); err != nil {
		return DID{}, fmt.Errorf("%w: %s is not hex", ErrInvalidDID, quoteShort(whole))
	}
	if d.IsZero() {
		return DID{}, fmt.Errorf("%w: the zero DID identifies no asset", ErrInvalidDID)
	}
	return d, nil
}

// quoteShort quotes s for an error message, cut short so that a huge input
// does not make a huge error.
func quoteShort(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// String returns `did:nv:` and 64 lower-case hex digits.
func (d DID) String() string { return DIDPrefix + hex.EncodeToString(d[:]) }

// ZeroX returns the contracts' form, `0x` and 64 lower-case hex digits (the
// SDK's didZeroX).
func (d DID) ZeroX() string { return "0x" + hex.EncodeToString(d[:]) }

// Hex returns the 64 lower-case hex digits alone, the form DDO condition
// parameters use.
func (d DID) Hex() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether d is the zero value.
func (d DID) IsZero() bool { return d == DID{} }

// MarshalText writes the `did:nv:` form.
func (d DID) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads the `did:nv:` form.
func (d *DID) UnmarshalText(b []byte) error {
	v, err := ParseDID(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
