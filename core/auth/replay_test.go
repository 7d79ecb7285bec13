package auth

import (
	"errors"
	"testing"
	"time"
)

func TestMemoryReplayStore(t *testing.T) {
	s := NewMemoryReplayStore(2)
	t0 := vectorTime
	k := func(b byte) [32]byte { return [32]byte{b} }

	if err := s.Remember(k(1), t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Remember(k(1), t0.Add(59*time.Second), t0.Add(time.Hour)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("repeat before expiry: %v", err)
	}
	if err := s.Remember(k(2), t0, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Full of unexpired entries: refuse rather than forget one.
	if err := s.Remember(k(3), t0.Add(30*time.Second), t0.Add(time.Hour)); !errors.Is(err, ErrReplayStoreFull) {
		t.Fatalf("full store: %v", err)
	}
	if s.Len() != 2 {
		t.Fatalf("Len %d after refusal", s.Len())
	}
	// At its until instant key 1 is still remembered; just after, it is
	// forgotten, making room.
	if err := s.Remember(k(1), t0.Add(time.Minute), t0.Add(time.Hour)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("repeat at until: %v", err)
	}
	if err := s.Remember(k(3), t0.Add(time.Minute+time.Nanosecond), t0.Add(time.Hour)); err != nil {
		t.Fatalf("after expiry of one entry: %v", err)
	}
	if s.Len() != 2 {
		t.Fatalf("Len %d, want 2 (expired entry pruned)", s.Len())
	}
	// An expired key may be remembered again (its assertion can no longer
	// pass the time checks anyway).
	if err := s.Remember(k(2), t0.Add(2*time.Minute+time.Second), t0.Add(3*time.Minute)); err != nil {
		t.Fatalf("re-remember expired key: %v", err)
	}
	if err := s.Remember(k(2), t0.Add(2*time.Minute+2*time.Second), t0.Add(3*time.Minute)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("re-remembered key repeated: %v", err)
	}
	// Everything expires.
	if err := s.Remember(k(9), t0.Add(2*time.Hour), t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Fatalf("Len %d after all others expired, want 1", s.Len())
	}
	if NewMemoryReplayStore(0).max != DefaultReplayEntries {
		t.Fatal("zero capacity does not select the default")
	}
}

// The verifier remembers an assertion until its exp plus leeway, then the
// store forgets it (the time checks refuse it from then on).
func TestVerifierReplayWindow(t *testing.T) {
	vec := loadVectors(t)
	c := &clock{t: vectorTime}
	store := NewMemoryReplayStore(1)
	v := newVerifier(t, VerifierConfig{Now: c.now, Replay: store})
	if _, err := v.Verify(t.Context(), vec.byName(t, "login-key1").JWT); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), vec.byName(t, "login-key2").JWT); !errors.Is(err, ErrReplayStoreFull) {
		t.Fatalf("second assertion into a store of 1: %v", err)
	}
	c.advance(time.Hour + DefaultLeeway) // the vectors' exp = iat + 1h: still valid, still remembered
	if _, err := v.Verify(t.Context(), vec.byName(t, "login-key1").JWT); !errors.Is(err, ErrReplayed) {
		t.Fatalf("at exp+leeway: %v", err)
	}
	c.advance(time.Second)
	if _, err := v.Verify(t.Context(), vec.byName(t, "login-key1").JWT); !errors.Is(err, ErrExpired) {
		t.Fatalf("after exp+leeway: %v", err)
	}
	if store.Len() != 1 {
		t.Fatalf("store Len %d", store.Len())
	}
}
