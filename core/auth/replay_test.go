package auth

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/admission"
)

func k(b ...byte) [32]byte {
	var key [32]byte
	copy(key[:], b)
	return key
}

func begin(t *testing.T, s *MemoryReplayStore, key [32]byte, client string, now, until time.Time) Ticket {
	t.Helper()
	tk, err := s.Begin(t.Context(), key, client, now, until)
	if err != nil {
		t.Fatalf("Begin(%x, %s): %v", key[:2], client, err)
	}
	return tk
}

func TestMemoryReplayStore(t *testing.T) {
	s := NewMemoryReplayStore(10, 10)
	t0 := vectorTime
	first := begin(t, s, k(1), "a", t0, t0.Add(time.Minute))
	if !first.First {
		t.Fatal("new key is not a first use")
	}
	first.Done(true, t0)
	again := begin(t, s, k(1), "b", t0.Add(59*time.Second), t0.Add(time.Hour))
	if again.First || !again.At.Equal(t0) {
		t.Fatalf("repeat before expiry: %+v", again)
	}
	// At its until instant key 1 is still remembered; just after, it is
	// forgotten and may be a first use again (its assertion can no longer
	// pass the time checks anyway).
	if begin(t, s, k(1), "a", t0.Add(time.Minute), t0.Add(time.Hour)).First {
		t.Fatal("forgotten at its until instant")
	}
	tk := begin(t, s, k(1), "a", t0.Add(time.Minute+time.Nanosecond), t0.Add(2*time.Minute))
	if !tk.First {
		t.Fatal("remembered after its until")
	}
	// A first use that failed is forgotten: the retry is a first use.
	tk.Done(false, time.Time{})
	if s.Len() != 0 {
		t.Fatalf("Len %d after a failed first use", s.Len())
	}
	if !begin(t, s, k(1), "a", t0.Add(time.Minute+time.Second), t0.Add(2*time.Minute)).First {
		t.Fatal("retry after failure is not a first use")
	}
	if s := NewMemoryReplayStore(0, 0); s.max != DefaultReplayEntries || s.perClient != DefaultReplayPerClient {
		t.Fatal("zero bounds do not select the defaults")
	}
}

// The attack of issue 8 item 5 at the store: one client cannot fill it, and
// a full store still takes a newcomer.
func TestReplayStoreCannotBeFilledByOne(t *testing.T) {
	s := NewMemoryReplayStore(10, 6)
	t0 := vectorTime
	until := t0.Add(5 * time.Minute)
	for i := range 6 {
		begin(t, s, k(1, byte(i)), "attacker", t0, until).Done(true, t0)
	}
	if _, err := s.Begin(t.Context(), k(1, 99), "attacker", t0, until); !errors.Is(err, ErrReplayQuota) {
		t.Fatalf("beyond the client's share: %v", err)
	}
	for i := range 4 {
		begin(t, s, k(2, byte(i)), "honest", t0, until).Done(true, t0)
	}
	// Full. A new client still gets in, at the cost of the heaviest client.
	begin(t, s, k(3), "newcomer", t0, until).Done(true, t0)
	if s.Len() != 10 || s.ClientLen("attacker") != 5 || s.ClientLen("honest") != 4 {
		t.Fatalf("after a newcomer in a full store: len %d, attacker %d, honest %d", s.Len(), s.ClientLen("attacker"), s.ClientLen("honest"))
	}
	// The attacker, holding the most, is refused; the honest client is not.
	if _, err := s.Begin(t.Context(), k(1, 100), "attacker", t0, until); !errors.Is(err, ErrReplayQuota) {
		t.Fatalf("heaviest client in a full store: %v", err)
	}
	begin(t, s, k(2, 50), "honest", t0, until).Done(true, t0)
	// The honest client's remembered assertions are still remembered.
	if begin(t, s, k(2, 0), "honest", t0, until).First {
		t.Fatal("an honest entry was evicted")
	}
	// Everything expires.
	begin(t, s, k(9), "late", until.Add(time.Second), until.Add(time.Hour)).Done(true, t0)
	if s.Len() != 1 {
		t.Fatalf("Len %d after the rest expired", s.Len())
	}
}

func TestReplayStoreWaitsForFirstUse(t *testing.T) {
	s := NewMemoryReplayStore(10, 10)
	t0 := vectorTime
	first := begin(t, s, k(1), "a", t0, t0.Add(time.Minute))
	got := make(chan Ticket)
	go func() {
		tk, err := s.Begin(context.Background(), k(1), "a", t0, t0.Add(time.Minute))
		if err != nil {
			t.Error(err)
		}
		got <- tk
	}()
	select {
	case tk := <-got:
		t.Fatalf("repeat did not wait for the first use: %+v", tk)
	case <-time.After(50 * time.Millisecond):
	}
	first.Done(true, t0)
	if tk := <-got; tk.First || !tk.At.Equal(t0) {
		t.Fatalf("after the first use: %+v", tk)
	}
	// A waiter gives up with its context.
	begin(t, s, k(2), "a", t0, t0.Add(time.Minute))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Begin(ctx, k(2), "a", t0, t0.Add(time.Minute)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter with a dead context: %v", err)
	}
}

// The verifier remembers an assertion until the earlier of exp and iat +
// MaxAge, plus leeway; after that the time checks refuse it.
func TestVerifierReplayWindow(t *testing.T) {
	vec := loadVectors(t)
	c := &clock{t: vectorTime}
	store := NewMemoryReplayStore(1, 1)
	v := newVerifier(t, VerifierConfig{Now: c.now, Replay: store})
	if _, err := v.Verify(t.Context(), vec.byName(t, "login-key1").JWT); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), vec.byName(t, "login-key2").JWT); !errors.Is(err, ErrReplayQuota) {
		t.Fatalf("second assertion into a store of 1: %v", err)
	}
	c.advance(DefaultMaxAge + DefaultLeeway) // exp is iat + 1h, but the age bound is 5 min
	if _, err := v.Verify(t.Context(), vec.byName(t, "login-key1").JWT); !errors.Is(err, ErrReplayed) {
		t.Fatalf("at iat+max age+leeway: %v", err)
	}
	c.advance(time.Second)
	if _, err := v.Verify(t.Context(), vec.byName(t, "login-key1").JWT); !errors.Is(err, ErrExpired) {
		t.Fatalf("after iat+max age+leeway: %v", err)
	}
	// The other assertion is now welcome only if still young enough: it is
	// not, and the store is not involved.
	if _, err := v.Verify(t.Context(), vec.byName(t, "login-key2").JWT); !errors.Is(err, ErrExpired) {
		t.Fatalf("old assertion: %v", err)
	}
}

// Issue 14 item 2: byte-identical assertions (the SDK's two identical calls
// within a second) get the same grant, authorized once.
func TestExchangeIdempotent(t *testing.T) {
	vec := loadVectors(t)
	jwt := vec.byName(t, "live-access-grant-key2-buyer").JWT
	c := &clock{t: vectorTime.Add(10 * time.Second)}
	v := newVerifier(t, VerifierConfig{Now: c.now})
	tk := newTokens(t, c.now)
	var firsts, repeats atomic.Int32
	grant := func(_ context.Context, a *Assertion, first bool, at time.Time) (string, error) {
		if first {
			firsts.Add(1)
		} else {
			repeats.Add(1)
		}
		s, _, err := tk.IssueAt(a, at)
		return s, err
	}
	one, _, err := v.Exchange(t.Context(), jwt, grant)
	if err != nil {
		t.Fatal(err)
	}
	c.advance(30 * time.Second) // a later repeat must not get a later expiry
	two, _, err := v.Exchange(t.Context(), jwt, grant)
	if err != nil {
		t.Fatal(err)
	}
	if one != two || firsts.Load() != 1 || repeats.Load() != 1 {
		t.Fatalf("same assertion: same token %v, first uses %d, repeats %d", one == two, firsts.Load(), repeats.Load())
	}
	// Concurrent repeats all get it; the first use ran once.
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			got, _, err := v.Exchange(t.Context(), jwt, grant)
			if err != nil || got != one {
				t.Errorf("concurrent repeat: %v, same %v", err, got == one)
			}
		})
	}
	wg.Wait()
	if firsts.Load() != 1 {
		t.Fatalf("%d first uses", firsts.Load())
	}
	// An assertion used by a strict Verify cannot be exchanged.
	login := vec.byName(t, "login-key1").JWT
	if _, err := v.Verify(t.Context(), login); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.Exchange(t.Context(), login, grant); !errors.Is(err, ErrReplayed) {
		t.Fatalf("exchange after strict use: %v", err)
	}
}

// A failed first use (say, the payment was not seen yet) is forgotten, so the
// SDK's retry of the same assertion is authorized afresh.
func TestExchangeRetryAfterFailure(t *testing.T) {
	jwt := loadVectors(t).byName(t, "login-key2").JWT
	v := newVerifier(t, VerifierConfig{})
	denied := errors.New("not paid yet")
	calls := 0
	grant := func(_ context.Context, _ *Assertion, first bool, _ time.Time) (string, error) {
		calls++
		if calls == 1 {
			return "", denied
		}
		if !first {
			t.Error("retry after failure is not a first use")
		}
		return "token", nil
	}
	if _, _, err := v.Exchange(t.Context(), jwt, grant); !errors.Is(err, denied) {
		t.Fatalf("first: %v", err)
	}
	if tok, _, err := v.Exchange(t.Context(), jwt, grant); err != nil || tok != "token" {
		t.Fatalf("retry: %q %v", tok, err)
	}
}

// The attack of issue 8 item 5 through the verifier: fresh keys from one
// client address fill only that client's share; another address still
// logs in.
func TestVerifierFloodOneClient(t *testing.T) {
	now := time.Now()
	v := newVerifier(t, VerifierConfig{Now: fixedClock(now), Replay: NewMemoryReplayStore(100, 20)})
	attacker := admission.WithClient(t.Context(), "203.0.113.9")
	fresh := func() string {
		key, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		return signLogin(t, key, now)
	}
	refused := 0
	for range 100 {
		if _, err := v.Verify(attacker, fresh()); errors.Is(err, ErrReplayQuota) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if refused != 80 {
		t.Fatalf("%d of 100 refused, want 80", refused)
	}
	for i := range 50 {
		if _, err := v.Verify(admission.WithClient(t.Context(), fmt.Sprintf("198.51.100.%d", i)), fresh()); err != nil {
			t.Fatalf("other client %d: %v", i, err)
		}
	}
}

func signLogin(t *testing.T, key *ecdsa.PrivateKey, iat time.Time) string {
	t.Helper()
	return signPayload(t, key, loginClaims(crypto.PubkeyToAddress(key.PublicKey).Hex(), iat, time.Hour))
}
