package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

func newTokens(t testing.TB, now func() time.Time) *Tokens {
	t.Helper()
	tk, err := NewTokens(TokenConfig{Secret: testSecret, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// verified returns the named vector assertion checked by a fresh verifier.
func verified(t testing.TB, vec refVectors, name string) *Assertion {
	t.Helper()
	a, err := newVerifier(t, VerifierConfig{}).Verify(t.Context(), vec.byName(t, name).JWT)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func tokenPayload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	var p map[string]any
	if err := json.Unmarshal(mustB64(t, parts[1]), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTokenRoundTrip(t *testing.T) {
	vec := loadVectors(t)
	c := &clock{t: vectorTime.Add(30 * time.Second)}
	tk := newTokens(t, c.now)

	a := verified(t, vec, "nft-access-grant-key2")
	token, grant, err := tk.Issue(a)
	if err != nil {
		t.Fatal(err)
	}
	agreement := a.Claims.AgreementID
	req := Require{
		Audiences:   []string{AudienceNFTAccess},
		AgreementID: strings.ToUpper(agreement[2:]), // as the SDK puts it in URLs, any case
		DID:         strings.ToUpper(a.Claims.DID[7:]),
	}
	req.DID = "did:nv:" + req.DID
	got, err := tk.Verify(token, req)
	if err != nil {
		t.Fatal(err)
	}
	if got.Grantee.Hex() != key2Addr || got.Audience != AudienceNFTAccess || got.AgreementID != agreement ||
		got.DID != a.Claims.DID || got.ServiceIndex == nil || *got.ServiceIndex != 0 || got.ID == "" ||
		!got.IssuedAt.Equal(c.t.Truncate(time.Second)) || !got.ExpiresAt.Equal(got.IssuedAt.Add(DefaultTokenTTL)) {
		t.Fatalf("grant %+v", got)
	}
	if !sameGrant(got, grant) {
		t.Fatalf("verified grant %+v differs from issued %+v", got, grant)
	}

	// The payload keeps the reference's claims (aud a string, no assertion
	// iat/exp) plus jti and nbf.
	p := tokenPayload(t, token)
	for k, want := range map[string]any{
		"iss": key2Addr, "aud": AudienceNFTAccess, "sub": agreement, "did": a.Claims.DID,
		"eths": "personal", "service_index": 0.0,
		"iat": float64(grant.IssuedAt.Unix()), "nbf": float64(grant.IssuedAt.Unix()), "exp": float64(grant.ExpiresAt.Unix()),
	} {
		if p[k] != want {
			t.Errorf("token claim %s = %v, want %v", k, p[k], want)
		}
	}
	if jti, _ := p["jti"].(string); len(jti) != 32 {
		t.Errorf("jti %v", p["jti"])
	}
	// Each token gets its own id.
	token2, _, err := tk.Issue(a)
	if err != nil || tokenPayload(t, token2)["jti"] == p["jti"] {
		t.Fatalf("second token: %v, same jti", err)
	}

	// EIP-712 logins keep eip712Data, as the reference's tokens did; a login
	// token has no audience, so only AnyAudience endpoints accept it.
	login := verified(t, vec, "login-eip712-key1")
	token, _, err = tk.Issue(login)
	if err != nil {
		t.Fatal(err)
	}
	p = tokenPayload(t, token)
	if d, _ := p["eip712Data"].(map[string]any); d["message"] != "Sign this message to log in to Nevermined" || d["chainId"] != 8996.0 {
		t.Errorf("eip712Data %v", p["eip712Data"])
	}
	if _, ok := p["aud"]; ok {
		t.Errorf("login token has aud %v", p["aud"])
	}
	if g, err := tk.Verify(token, Require{AnyAudience: true}); err != nil || g.Grantee.Hex() != key1Addr {
		t.Fatalf("login token, any audience: %v", err)
	}
	if _, err := tk.Verify(token, Require{Audiences: []string{AudienceDownload}}); !errors.Is(err, ErrWrongAudience) {
		t.Fatalf("login token on download: %v", err)
	}
}

func TestTokenRejections(t *testing.T) {
	vec := loadVectors(t)
	c := &clock{t: vectorTime.Add(30 * time.Second)}
	tk := newTokens(t, c.now)
	access, grant, err := tk.Issue(verified(t, vec, "live-access-grant-key2-buyer"))
	if err != nil {
		t.Fatal(err)
	}
	download, _, err := tk.Issue(verified(t, vec, "live-download-grant-key1-owner"))
	if err != nil {
		t.Fatal(err)
	}
	accessReq := Require{Audiences: []string{AudienceAccess}, AgreementID: grant.AgreementID, DID: grant.DID}
	if _, err := tk.Verify(access, accessReq); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	parts := strings.Split(access, ".")
	reSign := func(header string, claims map[string]any, method jwt.SigningMethod, key any) string {
		tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
		if header != "" {
			tok.Header["alg"] = header
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	payload := tokenPayload(t, access)
	without := func(k string) map[string]any {
		m := map[string]any{}
		for kk, v := range payload {
			if kk != k {
				m[kk] = v
			}
		}
		return m
	}
	otherTokens, err := NewTokens(TokenConfig{Secret: []byte(strings.Repeat("z", 32)), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret, _, _ := otherTokens.Issue(verified(t, vec, "live-access-grant-key2-buyer"))

	tamperedPayload := strings.Replace(string(mustB64(t, parts[1])), AudienceAccess, AudienceDownload, 1)
	cases := []struct {
		name  string
		token string
		req   Require
		want  error
	}{
		{"download token on access endpoint", download, accessReq, ErrWrongAudience},
		{"access token on download endpoint", access, Require{Audiences: []string{AudienceDownload}}, ErrWrongAudience},
		{"no audience named", access, Require{}, ErrWrongAudience},
		{"other agreement", access, Require{Audiences: []string{AudienceAccess}, AgreementID: strings.Repeat("1", 64)}, ErrWrongAgreement},
		{"malformed agreement", access, Require{Audiences: []string{AudienceAccess}, AgreementID: "0x12"}, ErrWrongAgreement},
		{"agreement required, token has none", download, Require{Audiences: []string{AudienceDownload}, AgreementID: grant.AgreementID}, ErrWrongAgreement},
		{"other DID", access, Require{Audiences: []string{AudienceAccess}, DID: "did:nv:" + strings.Repeat("2", 64)}, ErrWrongDID},
		{"tampered payload", parts[0] + "." + b64(tamperedPayload) + "." + parts[2], Require{Audiences: []string{AudienceDownload}}, ErrBadSignature},
		{"wrong secret", wrongSecret, accessReq, ErrBadSignature},
		{"signature removed", parts[0] + "." + parts[1] + ".", accessReq, ErrBadSignature},
		{"alg none", b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".", accessReq, ErrUnsupportedAlgorithm},
		{"alg none via library", reSign("", payload, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType), accessReq, ErrUnsupportedAlgorithm},
		{"HS512 with the secret", reSign("", payload, jwt.SigningMethodHS512, testSecret), accessReq, ErrUnsupportedAlgorithm},
		{"unknown alg", b64(`{"alg":"XS256"}`) + "." + parts[1] + "." + parts[2], accessReq, ErrUnsupportedAlgorithm},
		{"assertion as token", vec.byName(t, "live-access-grant-key2-buyer").JWT, accessReq, ErrUnsupportedAlgorithm},
		{"missing jti", reSign("", without("jti"), jwt.SigningMethodHS256, testSecret), accessReq, ErrMalformed},
		{"missing nbf", reSign("", without("nbf"), jwt.SigningMethodHS256, testSecret), accessReq, ErrMalformed},
		{"missing exp", reSign("", without("exp"), jwt.SigningMethodHS256, testSecret), accessReq, ErrMalformed},
		{"missing iss", reSign("", without("iss"), jwt.SigningMethodHS256, testSecret), accessReq, ErrMalformed},
		{"two segments", parts[0] + "." + parts[1], accessReq, ErrMalformed},
		{"garbage", "not a token", accessReq, ErrMalformed},
		{"too long", access + strings.Repeat("A", MaxAssertionSize), accessReq, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tk.Verify(tc.token, tc.req); !errors.Is(err, tc.want) {
				t.Fatalf("Verify error %v, want %v", err, tc.want)
			}
		})
	}

	// The last base64url character of a 32-byte MAC carries 2 unused bits;
	// strict decoding refuses the other spellings of the same MAC.
	sig := parts[2]
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
	alt := sig[:len(sig)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last^1])
	if _, err := tk.Verify(parts[0]+"."+parts[1]+"."+alt, accessReq); err == nil {
		t.Fatal("non-canonical signature encoding accepted")
	}

	// Time: valid until exp plus the 5 s leeway, not before iat minus it.
	c.t = grant.ExpiresAt.Add(DefaultTokenLeeway - time.Second)
	if _, err := tk.Verify(access, accessReq); err != nil {
		t.Fatalf("just before exp+leeway: %v", err)
	}
	c.advance(time.Second)
	if _, err := tk.Verify(access, accessReq); !errors.Is(err, ErrExpired) {
		t.Fatalf("at exp+leeway: %v", err)
	}
	c.t = grant.IssuedAt.Add(-DefaultTokenLeeway - time.Second)
	if _, err := tk.Verify(access, accessReq); !errors.Is(err, ErrNotYetValid) {
		t.Fatalf("before iat: %v", err)
	}
}

func TestTokensConfig(t *testing.T) {
	if _, err := NewTokens(TokenConfig{Secret: make([]byte, 31)}); !errors.Is(err, ErrConfig) {
		t.Fatalf("31-byte secret: %v", err)
	}
	if _, err := NewTokens(TokenConfig{Secret: testSecret, TTL: -time.Second}); !errors.Is(err, ErrConfig) {
		t.Fatalf("negative TTL: %v", err)
	}
	tk, err := NewTokens(TokenConfig{Secret: testSecret, TTL: time.Minute, Now: fixedClock(vectorTime)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(tk), fmt.Sprintf("%+v", tk), fmt.Sprintf("%#v", tk)} {
		if strings.Contains(s, "test-secret") {
			t.Fatalf("secret in formatted value %q", s)
		}
	}
	// The secret is copied: changing the caller's slice changes nothing.
	secret := append([]byte(nil), testSecret...)
	tk2, _ := NewTokens(TokenConfig{Secret: secret, Now: fixedClock(vectorTime.Add(time.Second))})
	a := verified(t, loadVectors(t), "login-key1")
	token, _, err := tk2.Issue(a)
	if err != nil {
		t.Fatal(err)
	}
	clear(secret)
	if _, err := tk2.Verify(token, Require{AnyAudience: true}); err != nil {
		t.Fatalf("after clearing caller's secret: %v", err)
	}
	// TTL is honoured.
	_, g, err := tk.Issue(a)
	if err != nil || !g.ExpiresAt.Equal(vectorTime.Add(time.Minute)) {
		t.Fatalf("TTL 1m: %+v, %v", g, err)
	}
}

// Only assertions that went through Verifier.Verify become tokens.
func TestIssueRequiresVerifiedAssertion(t *testing.T) {
	tk := newTokens(t, fixedClock(vectorTime))
	a, err := ParseAssertion(loadVectors(t).byName(t, "login-key1").JWT)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tk.Issue(a); !errors.Is(err, ErrUnverified) {
		t.Fatalf("parsed-only assertion: %v", err)
	}
	if _, _, err := tk.Issue(nil); !errors.Is(err, ErrUnverified) {
		t.Fatalf("nil assertion: %v", err)
	}
	// A failed verification returns no assertion at all.
	if a, err := newVerifier(t, VerifierConfig{}).Verify(t.Context(), loadVectors(t).Negative[0].JWT); err == nil || a != nil {
		t.Fatalf("failed verify returned %v, %v", a, err)
	}
}

func sameGrant(a, b *Grant) bool {
	si := func(p *int64) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprint(*p)
	}
	return a.Grantee == b.Grantee && a.Audience == b.Audience && a.AgreementID == b.AgreementID && a.DID == b.DID &&
		si(a.ServiceIndex) == si(b.ServiceIndex) && a.ExecutionID == b.ExecutionID && a.Buyer == b.Buyer && a.ID == b.ID &&
		a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

// The passthrough claims the reference copied reach the token; claims it
// does not know do not (the node signs only what it understands).
func TestTokenPassthroughClaims(t *testing.T) {
	claims := loginClaims(key2Addr, vectorTime, time.Hour)
	agreement := "0x" + strings.Repeat("Ab", 32)
	claims["aud"] = AudienceCompute
	claims["sub"] = agreement
	claims["execution_id"] = "nevermined-compute-abc12"
	claims["buyer"] = "0x1234"
	claims["babysig"] = map[string]any{"R8": []string{"1", "2"}, "S": "3"}
	claims["roles"] = []string{"admin"}
	a, err := newVerifier(t, VerifierConfig{}).Verify(t.Context(), signPayload(t, mustKey(t, key2Hex), claims))
	if err != nil {
		t.Fatal(err)
	}
	tk := newTokens(t, fixedClock(vectorTime))
	token, _, err := tk.Issue(a)
	if err != nil {
		t.Fatal(err)
	}
	p := tokenPayload(t, token)
	if p["execution_id"] != "nevermined-compute-abc12" || p["buyer"] != "0x1234" || p["sub"] != strings.ToLower(agreement) {
		t.Errorf("payload %v", p)
	}
	if b, _ := json.Marshal(p["babysig"]); string(b) != `{"R8":["1","2"],"S":"3"}` {
		t.Errorf("babysig %s", b)
	}
	if _, ok := p["roles"]; ok {
		t.Errorf("unknown claim copied: %v", p["roles"])
	}
	g, err := tk.Verify(token, Require{Audiences: []string{AudienceExecute, AudienceCompute}, AgreementID: agreement})
	if err != nil || g.ExecutionID != "nevermined-compute-abc12" || g.Buyer != "0x1234" || g.Audience != AudienceCompute {
		t.Fatalf("grant %+v, %v", g, err)
	}
}
