package auth

import (
	"context"
	"testing"
	"time"
)

// forgetfulStore never refuses a replay, so one assertion can be verified
// b.N times: the benchmark measures parsing, time checks and signature
// recovery, plus the cost of a store write.
type forgetfulStore struct{}

func (forgetfulStore) Begin(context.Context, [32]byte, string, time.Time, time.Time) (Ticket, error) {
	return Ticket{First: true}, nil
}

func BenchmarkVerifyAssertion(b *testing.B) {
	vec := loadVectors(b)
	for _, bc := range []struct{ name, vector string }{
		{"EIP-191", "live-access-grant-key2-buyer"},
		{"EIP-712", "login-eip712-key1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			jwt := vec.byName(b, bc.vector).JWT
			v := newVerifier(b, VerifierConfig{Replay: forgetfulStore{}})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(b.Context(), jwt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReplayStore(b *testing.B) {
	s := NewMemoryReplayStore(1<<20, 1<<20)
	now := vectorTime
	var key [32]byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		key[0], key[1], key[2], key[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		// Entries expire one second after the next; the store stays small.
		now = now.Add(time.Millisecond)
		t, err := s.Begin(b.Context(), key, "client", now, now.Add(time.Second))
		if err != nil {
			b.Fatal(err)
		}
		t.Done(true, now)
	}
}

func BenchmarkIssueToken(b *testing.B) {
	tk := newTokens(b, fixedClock(vectorTime))
	a := verified(b, loadVectors(b), "live-access-grant-key2-buyer")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tk.Issue(a); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyToken(b *testing.B) {
	tk := newTokens(b, fixedClock(vectorTime))
	a := verified(b, loadVectors(b), "live-access-grant-key2-buyer")
	token, g, err := tk.Issue(a)
	if err != nil {
		b.Fatal(err)
	}
	req := Require{Audiences: []string{AudienceAccess}, AgreementID: g.AgreementID[2:], DID: g.DID}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tk.Verify(token, req); err != nil {
			b.Fatal(err)
		}
	}
}
