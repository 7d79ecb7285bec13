package auth

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzParseAssertion: no input panics, every error wraps a sentinel, and
// what parses keeps the invariants the rest of the node relies on.
func FuzzParseAssertion(f *testing.F) {
	vec := loadVectors(f)
	for _, a := range vec.Assertions {
		f.Add(a.JWT)
	}
	for _, n := range vec.Negative {
		f.Add(n.JWT)
	}
	f.Add("..")
	f.Add("e30.e30.AA")
	f.Add(b64(`{"alg":"ES256K"}`) + "." + b64(`{"iss":"`+key1Addr+`","iat":1,"exp":2,"sub":"0x","did":"did:nv:`+strings.Repeat("A", 64)+`","eip712Data":{"message":"","chainId":0}}`) + ".AA==")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAssertion(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedAlgorithm) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		c := a.Claims
		if !strings.HasPrefix(s, a.SigningInput+".") || len(a.Signature) == 0 {
			t.Fatalf("signing input %q not a prefix of %q", a.SigningInput, s)
		}
		if iss, _, _ := stringClaim(c.Raw["iss"]); iss != c.Issuer.Hex() {
			t.Fatalf("iss %q parsed as %s", iss, c.Issuer.Hex())
		}
		if c.DID != "" {
			if d, err := NormalizeDID(c.DID); err != nil || d != c.DID {
				t.Fatalf("DID %q not normalised", c.DID)
			}
		}
		if c.AgreementID != "" {
			if id, err := NormalizeAgreementID(c.AgreementID); err != nil || id != c.AgreementID {
				t.Fatalf("agreement %q not normalised", c.AgreementID)
			}
		}
		if c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() || a.Verified() {
			t.Fatalf("parsed assertion %+v", a)
		}
		_ = a.Digest() // must not panic either
	})
}

// FuzzVerifyToken: no input panics, and the only tokens that verify are the
// ones signed with the node's secret (no other spelling of them, no forgery).
// The seed tokens are built with fixed jti so that every fuzz worker process
// knows the same set.
func FuzzVerifyToken(f *testing.F) {
	vec := loadVectors(f)
	now := vectorTime.Add(time.Minute)
	tk, err := NewTokens(TokenConfig{Secret: testSecret, Now: fixedClock(now)})
	if err != nil {
		f.Fatal(err)
	}
	issued := map[string]bool{}
	for i, name := range []string{"login-key1", "live-access-grant-key2-buyer", "nft-access-grant-key2"} {
		a := verified(f, vec, name)
		claims := &tokenClaims{
			Iss: a.Claims.Issuer.Hex(), Aud: a.Claims.Audience, Sub: a.Claims.AgreementID, DID: a.Claims.DID,
			ServiceIndex: a.Claims.ServiceIndex, Eths: a.Claims.Eths, EIP712: a.Claims.EIP712,
			JTI: fmt.Sprintf("%032x", i), IAT: jwt.NewNumericDate(now), NBF: jwt.NewNumericDate(now),
			EXP: jwt.NewNumericDate(now.Add(time.Hour)),
		}
		token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := tk.Verify(token, Require{AnyAudience: true}); err != nil {
			f.Fatalf("seed token %s does not verify: %v", name, err)
		}
		issued[token] = true
		f.Add(token)
	}
	f.Add(vec.Assertions[0].JWT)
	f.Add(b64(`{"alg":"none"}`) + "." + b64(`{"iss":"`+key1Addr+`"}`) + ".")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := tk.Verify(s, Require{AnyAudience: true})
		if err != nil {
			return
		}
		if !issued[s] {
			t.Fatalf("token the node never issued verified: %q -> %+v", s, g)
		}
	})
}
