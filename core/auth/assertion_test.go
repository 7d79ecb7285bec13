package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
)

// b64 is base64url without padding, as the SDK encodes segments.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// rawAssertion builds an assertion from a literal header and payload with a
// real key-1 signature (EIP-191) over them, so only the named fault remains.
func rawAssertion(t *testing.T, header, payload string) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	d := personalDigest(input)
	sig, err := crypto.Sign(d[:], mustKey(t, key1Hex))
	if err != nil {
		t.Fatal(err)
	}
	sig[64] += 27
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestParseAssertionMalformed(t *testing.T) {
	const hdr = `{"alg":"ES256K"}`
	okPayload := `{"iss":"` + key1Addr + `","iat":1795841631,"exp":1795845231}`
	payload := func(extra string) string {
		return `{"iss":"` + key1Addr + `","iat":1795841631,"exp":1795845231` + extra + `}`
	}
	valid := rawAssertion(t, hdr, okPayload)
	parts := strings.Split(valid, ".")
	cases := []struct {
		name string
		jwt  string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"one segment", parts[0], ErrMalformed},
		{"four segments", valid + ".x", ErrMalformed},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrMalformed},
		{"newline in signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\n" + parts[2][10:], ErrMalformed},
		{"std alphabet", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]), ErrMalformed},
		{"header not JSON", b64("ES256K") + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"header array", rawAssertion(t, `["ES256K"]`, okPayload), ErrMalformed},
		{"header without alg", rawAssertion(t, `{"typ":"JWT"}`, okPayload), ErrMalformed},
		{"alg not a string", rawAssertion(t, `{"alg":1}`, okPayload), ErrMalformed},
		{"alg none", rawAssertion(t, `{"alg":"none"}`, okPayload), ErrUnsupportedAlgorithm},
		{"alg es256k lower case", rawAssertion(t, `{"alg":"es256k"}`, okPayload), ErrUnsupportedAlgorithm},
		{"crit header", rawAssertion(t, `{"alg":"ES256K","crit":["b64"],"b64":false}`, okPayload), ErrMalformed},
		{"duplicate header alg", rawAssertion(t, `{"alg":"HS256","alg":"ES256K"}`, okPayload), ErrMalformed},
		{"payload array", rawAssertion(t, hdr, `[1]`), ErrMalformed},
		{"trailing data", rawAssertion(t, hdr, okPayload+`{}`), ErrMalformed},
		{"duplicate iss", rawAssertion(t, hdr, `{"iss":"`+key2Addr+`","iss":"`+key1Addr+`","iat":1795841631,"exp":1795845231}`), ErrMalformed},
		{"no iss", rawAssertion(t, hdr, `{"iat":1795841631,"exp":1795845231}`), ErrMalformed},
		{"iss number", rawAssertion(t, hdr, `{"iss":1,"iat":1795841631,"exp":1795845231}`), ErrMalformed},
		{"iss without 0x", rawAssertion(t, hdr, `{"iss":"`+key1Addr[2:]+`","iat":1795841631,"exp":1795845231}`), ErrMalformed},
		{"iss upper case", rawAssertion(t, hdr, `{"iss":"0x`+strings.ToUpper(key1Addr[2:])+`","iat":1795841631,"exp":1795845231}`), ErrMalformed},
		{"iss short", rawAssertion(t, hdr, `{"iss":"0x90F8bf6A","iat":1795841631,"exp":1795845231}`), ErrMalformed},
		{"no iat", rawAssertion(t, hdr, `{"iss":"`+key1Addr+`","exp":1795845231}`), ErrMalformed},
		{"no exp", rawAssertion(t, hdr, `{"iss":"`+key1Addr+`","iat":1795841631}`), ErrMalformed},
		{"exp string", rawAssertion(t, hdr, `{"iss":"`+key1Addr+`","iat":1795841631,"exp":"1795845231"}`), ErrMalformed},
		{"exp fraction", rawAssertion(t, hdr, `{"iss":"`+key1Addr+`","iat":1795841631,"exp":1795845231.5}`), ErrMalformed},
		{"exp exponent", rawAssertion(t, hdr, `{"iss":"`+key1Addr+`","iat":1795841631,"exp":1.795845231e9}`), ErrMalformed},
		{"exp huge", rawAssertion(t, hdr, `{"iss":"`+key1Addr+`","iat":1795841631,"exp":99999999999999999999}`), ErrMalformed},
		{"iat negative", rawAssertion(t, hdr, `{"iss":"`+key1Addr+`","iat":-1,"exp":1795845231}`), ErrMalformed},
		{"aud array", rawAssertion(t, hdr, payload(`,"aud":["`+AudienceAccess+`"]`)), ErrMalformed},
		{"sub not hex", rawAssertion(t, hdr, payload(`,"sub":"0xzz"`)), ErrMalformed},
		{"sub short", rawAssertion(t, hdr, payload(`,"sub":"0x1234"`)), ErrMalformed},
		{"did other method", rawAssertion(t, hdr, payload(`,"did":"did:op:`+strings.Repeat("ab", 32)+`"`)), ErrMalformed},
		{"did short", rawAssertion(t, hdr, payload(`,"did":"did:nv:abcd"`)), ErrMalformed},
		{"service_index negative", rawAssertion(t, hdr, payload(`,"service_index":-1`)), ErrMalformed},
		{"service_index string", rawAssertion(t, hdr, payload(`,"service_index":"0"`)), ErrMalformed},
		{"eip712Data without message", rawAssertion(t, hdr, payload(`,"eip712Data":{"chainId":1}`)), ErrMalformed},
		{"eip712Data without chainId", rawAssertion(t, hdr, payload(`,"eip712Data":{"message":"m"}`)), ErrMalformed},
		{"eip712Data string", rawAssertion(t, hdr, payload(`,"eip712Data":"x"`)), ErrMalformed},
		{"buyer number", rawAssertion(t, hdr, payload(`,"buyer":5`)), ErrMalformed},
		{"too long", rawAssertion(t, hdr, payload(`,"pad":"`+strings.Repeat("a", MaxAssertionSize)+`"`)), ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAssertion(tc.jwt)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseAssertion error %v, want %v", err, tc.want)
			}
			if _, err := newVerifier(t, VerifierConfig{}).Verify(t.Context(), tc.jwt); !errors.Is(err, tc.want) {
				t.Fatalf("Verify error %v, want %v", err, tc.want)
			}
		})
	}
}

// What the strict parser still accepts, because the SDK or the reference do:
// padded segments, normalisable ids, passthrough claims, unknown claims.
func TestParseAssertionAccepts(t *testing.T) {
	agreement := "0x2C3AC3295E65A5AAB38067D822995B7513A7FF596F8C76BBBA4FE4E7D506EC57"
	did := "did:nv:4B653A56D2A85863C3224DA4589D960C08F5D8D6636B36C0263138E07B69185E"
	payload := `{"iss":"` + key1Addr + `","aud":"` + AudienceNFTAccess + `","sub":"` + agreement + `","did":"` + did +
		`","service_index":2,"eths":"personal","buyer":"0xb","babysig":{"R8":["1","2"],"S":"3"},"execution_id":"e1",` +
		`"custom":[1,2],"nbf":1795841631,"iat":1795841631,"exp":1795845231}`
	jwt := rawAssertion(t, `{"alg":"ES256K","typ":"JWT"}`, payload)
	parts := strings.Split(jwt, ".")
	jwt = parts[0] + "." + parts[1] + "." + base64.URLEncoding.EncodeToString(mustB64(t, parts[2])) // padded signature
	a, err := newVerifier(t, VerifierConfig{}).Verify(t.Context(), jwt)
	if err != nil {
		t.Fatal(err)
	}
	c := a.Claims
	if c.AgreementID != strings.ToLower(agreement) || c.Subject != agreement {
		t.Errorf("agreement %q subject %q", c.AgreementID, c.Subject)
	}
	if c.DID != strings.ToLower(did) {
		t.Errorf("did %q", c.DID)
	}
	if c.ServiceIndex == nil || *c.ServiceIndex != 2 || c.Buyer != "0xb" || c.ExecutionID != "e1" || c.Eths != "personal" {
		t.Errorf("claims %+v", c)
	}
	if string(c.BabySig) != `{"R8":["1","2"],"S":"3"}` || string(c.Raw["custom"]) != "[1,2]" {
		t.Errorf("babysig %s custom %s", c.BabySig, c.Raw["custom"])
	}
	// "0x" is the SDK's "no agreement" (NFT-holder access).
	a, err = ParseAssertion(rawAssertion(t, `{"alg":"ES256K"}`, `{"iss":"`+key1Addr+`","sub":"0x","iat":1,"exp":2}`))
	if err != nil || a.Claims.AgreementID != "" || a.Claims.Subject != "0x" {
		t.Fatalf("sub 0x: %v %+v", err, a)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyTimes(t *testing.T) {
	key := mustKey(t, key1Hex)
	now := vectorTime
	cases := []struct {
		name   string
		claims map[string]any
		want   error
	}{
		{"fresh", loginClaims(key1Addr, now, time.Hour), nil},
		{"issued within leeway in the future", loginClaims(key1Addr, now.Add(59*time.Second), time.Hour), nil},
		{"issued in the future", loginClaims(key1Addr, now.Add(61*time.Second), time.Hour), ErrNotYetValid},
		{"expired within leeway", loginClaims(key1Addr, now.Add(-time.Minute-59*time.Second), time.Minute), nil},
		{"expired", loginClaims(key1Addr, now.Add(-time.Minute-61*time.Second), time.Minute), ErrExpired},
		// exp is an hour away (as the SDK sends) but the node takes an
		// assertion only for DefaultMaxAge after iat.
		{"old within max age and leeway", loginClaims(key1Addr, now.Add(-DefaultMaxAge-59*time.Second), time.Hour), nil},
		{"older than max age", loginClaims(key1Addr, now.Add(-DefaultMaxAge-61*time.Second), time.Hour), ErrExpired},
		{"lifetime at cap plus leeway", loginClaims(key1Addr, now, time.Hour+60*time.Second), nil},
		{"lifetime over cap", loginClaims(key1Addr, now, time.Hour+61*time.Second), ErrLifetime},
		{"exp before iat", loginClaims(key1Addr, now, -time.Second), ErrLifetime},
		{"exp equals iat", loginClaims(key1Addr, now, 0), ErrLifetime},
		{"nbf in the future", func() map[string]any {
			c := loginClaims(key1Addr, now, time.Hour)
			c["nbf"] = now.Add(2 * time.Minute).Unix()
			return c
		}(), ErrNotYetValid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, VerifierConfig{Now: fixedClock(now)})
			_, err := v.Verify(t.Context(), signPayload(t, key, tc.claims))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify error %v, want %v", err, tc.want)
			}
		})
	}
	// Configured leeway and lifetime replace the defaults.
	v := newVerifier(t, VerifierConfig{Now: fixedClock(now), Leeway: time.Second, MaxLifetime: time.Minute})
	if _, err := v.Verify(t.Context(), signPayload(t, key, loginClaims(key1Addr, now.Add(2*time.Second), time.Minute))); !errors.Is(err, ErrNotYetValid) {
		t.Errorf("leeway 1s: %v", err)
	}
	if _, err := v.Verify(t.Context(), signPayload(t, key, loginClaims(key1Addr, now, time.Hour))); !errors.Is(err, ErrLifetime) {
		t.Errorf("lifetime 1m: %v", err)
	}
	if _, err := NewVerifier(VerifierConfig{Leeway: -time.Second}); !errors.Is(err, ErrConfig) {
		t.Errorf("negative leeway: %v", err)
	}
}

func TestVerifyReplay(t *testing.T) {
	vec := loadVectors(t)
	for _, name := range []string{"login-key1", "login-eip712-key2"} {
		jwt := vec.byName(t, name).JWT
		v := newVerifier(t, VerifierConfig{})
		if _, err := v.Verify(t.Context(), jwt); err != nil {
			t.Fatalf("%s first use: %v", name, err)
		}
		if _, err := v.Verify(t.Context(), jwt); !errors.Is(err, ErrReplayed) {
			t.Fatalf("%s second use: %v, want ErrReplayed", name, err)
		}
		// Another encoding of the same signature (v 0/1, padding) is the same
		// assertion.
		parts := strings.Split(jwt, ".")
		sig := mustB64(t, parts[2])
		sig[64] -= 27
		alt := parts[0] + "." + parts[1] + "." + base64.URLEncoding.EncodeToString(sig)
		if _, err := v.Verify(t.Context(), alt); !errors.Is(err, ErrReplayed) {
			t.Fatalf("%s re-encoded signature: %v, want ErrReplayed", name, err)
		}
	}
}

func TestVerifyReplayConcurrent(t *testing.T) {
	jwt := loadVectors(t).byName(t, "login-key2").JWT
	v := newVerifier(t, VerifierConfig{})
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := v.Verify(t.Context(), jwt)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrReplayed):
				replayed.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 15 {
		t.Fatalf("%d accepted, %d replayed; want 1 and 15", ok.Load(), replayed.Load())
	}
}

// A forged copy (bad signature) must not use up the genuine assertion.
func TestVerifyReplayOnlyAfterSignature(t *testing.T) {
	jwt := loadVectors(t).byName(t, "login-key1").JWT
	parts := strings.Split(jwt, ".")
	forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 65))
	v := newVerifier(t, VerifierConfig{})
	if _, err := v.Verify(t.Context(), forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged: %v", err)
	}
	if _, err := v.Verify(t.Context(), jwt); err != nil {
		t.Fatalf("genuine after forged: %v", err)
	}
}

func TestSignatureEncodings(t *testing.T) {
	jwt := loadVectors(t).byName(t, "login-eip712-key1").JWT
	parts := strings.Split(jwt, ".")
	sig := mustB64(t, parts[2])
	with := func(mutate func([]byte)) string {
		s := append([]byte(nil), sig...)
		mutate(s)
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(s)
	}
	// v as 0/1 is accepted.
	if _, err := newVerifier(t, VerifierConfig{}).Verify(t.Context(), with(func(s []byte) { s[64] -= 27 })); err != nil {
		t.Fatalf("v 0/1: %v", err)
	}
	// The high-s twin of a valid signature recovers the same key but is
	// refused: (r, n-s) with v flipped.
	highS := with(func(s []byte) {
		n := crypto.S256().Params().N
		sv := new(big.Int).Sub(n, new(big.Int).SetBytes(s[32:64]))
		sv.FillBytes(s[32:64])
		s[64] = 27 + 28 - s[64] // the other parity
	})
	if _, err := newVerifier(t, VerifierConfig{}).Verify(t.Context(), highS); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "high-s") {
		t.Fatalf("high s: %v", err)
	}
	for name, m := range map[string]func([]byte){
		"v 29":   func(s []byte) { s[64] = 29 },
		"r zero": func(s []byte) { clear(s[:32]) },
	} {
		if _, err := newVerifier(t, VerifierConfig{}).Verify(t.Context(), with(m)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, s := range map[string][]byte{
		"64 bytes": sig[:64],
		"66 bytes": append(append([]byte(nil), sig...), 0),
		"ERC-6492": append(append([]byte(nil), sig...), erc6492Suffix...),
	} {
		j := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(s)
		if _, err := newVerifier(t, VerifierConfig{}).Verify(t.Context(), j); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestVerifyChainID(t *testing.T) {
	key := mustKey(t, key1Hex)
	claims := loginClaims(key1Addr, vectorTime, time.Hour)
	claims["eip712Data"] = map[string]any{"message": "hi", "chainId": 1}
	jwt := signPayload(t, key, claims)
	if _, err := newVerifier(t, VerifierConfig{ChainID: 8996}).Verify(t.Context(), jwt); !errors.Is(err, ErrWrongChain) {
		t.Fatalf("chain 1 assertion on chain 8996: %v", err)
	}
	if _, err := newVerifier(t, VerifierConfig{}).Verify(t.Context(), jwt); err != nil {
		t.Fatalf("no chain configured: %v", err)
	}
	// The chain id is signed: changing it breaks the signature.
	claims["eip712Data"] = map[string]any{"message": "hi", "chainId": 8996}
	payload, _ := json.Marshal(claims)
	parts := strings.Split(jwt, ".")
	swapped := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	if _, err := newVerifier(t, VerifierConfig{ChainID: 8996}).Verify(t.Context(), swapped); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("swapped chain id: %v", err)
	}
}

func TestNormalizeIDs(t *testing.T) {
	hex64 := strings.Repeat("aB", 32)
	want := "0x" + strings.ToLower(hex64)
	for _, in := range []string{hex64, "0x" + hex64, "0X" + hex64} {
		if got, err := NormalizeAgreementID(in); err != nil || got != want {
			t.Errorf("NormalizeAgreementID(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0x"} {
		if got, err := NormalizeAgreementID(in); err != nil || got != "" {
			t.Errorf("NormalizeAgreementID(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"0x0", hex64 + "00", "0x" + hex64[:63] + "g", "x" + hex64} {
		if _, err := NormalizeAgreementID(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("NormalizeAgreementID(%q) error %v", in, err)
		}
	}
	if got, err := NormalizeDID("did:nv:" + hex64); err != nil || got != "did:nv:"+strings.ToLower(hex64) {
		t.Errorf("NormalizeDID = %q, %v", got, err)
	}
	for _, in := range []string{"", "did:nv:", "DID:NV:" + hex64, "0x" + hex64, "did:nv:" + hex64 + "0"} {
		if _, err := NormalizeDID(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("NormalizeDID(%q) error %v", in, err)
		}
	}
}
