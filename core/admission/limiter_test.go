package admission

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newLimiter(t *testing.T, cfg Config) *Limiter {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func refusal(t *testing.T, err error, want Reason) *Refusal {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) || r.Reason != want || !errors.Is(err, ErrRefused) {
		t.Fatalf("got %v, want a %s refusal", err, want)
	}
	return r
}

func TestRatePerClient(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(t, Config{Now: c.now, Classes: map[Class]Limits{ClassAuth: {Rate: 1, Burst: 3}}})
	for i := range 3 {
		rel, err := l.Admit("10.0.0.1", ClassAuth)
		if err != nil {
			t.Fatalf("request %d in the burst: %v", i, err)
		}
		rel()
		rel() // release is idempotent
	}
	_, err := l.Admit("10.0.0.1", ClassAuth)
	if r := refusal(t, err, ReasonRate); r.RetryAfterSeconds() != 1 {
		t.Fatalf("Retry-After %d s", r.RetryAfterSeconds())
	}
	// Another client, and another class of the same client, are untouched.
	if _, err := l.Admit("10.0.0.2", ClassAuth); err != nil {
		t.Fatalf("other client: %v", err)
	}
	if _, err := l.Admit("10.0.0.1", ClassRead); err != nil {
		t.Fatalf("unlimited class: %v", err)
	}
	c.advance(time.Second)
	if _, err := l.Admit("10.0.0.1", ClassAuth); err != nil {
		t.Fatalf("after refill: %v", err)
	}
}

func TestInFlightBounds(t *testing.T) {
	l := newLimiter(t, Config{Classes: map[Class]Limits{ClassUpload: {PerClient: 2, Total: 3}}})
	var rels []func()
	for i := range 2 {
		rel, err := l.Admit("a", ClassUpload)
		if err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		rels = append(rels, rel)
	}
	_, err := l.Admit("a", ClassUpload)
	refusal(t, err, ReasonPerClient)
	rel, err := l.Admit("b", ClassUpload)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Admit("c", ClassUpload)
	refusal(t, err, ReasonTotal)
	rel()
	if _, err := l.Admit("c", ClassUpload); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	rels[0]()
	if _, err := l.Admit("a", ClassUpload); err != nil {
		t.Fatalf("client a after its release: %v", err)
	}
	if n := l.InFlight(ClassUpload); n != 3 {
		t.Fatalf("in flight %d", n)
	}
}

// Many distinct clients cannot grow the limiter beyond its bound, and a
// busy client is never forgotten (its in-flight count would be lost).
func TestBoundedClients(t *testing.T) {
	l := newLimiter(t, Config{MaxClients: 100, Classes: map[Class]Limits{ClassAuth: {Rate: 1, Burst: 1}, ClassUpload: {PerClient: 1}}})
	busy, err := l.Admit("busy", ClassUpload)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10_000 {
		rel, err := l.Admit(fmt.Sprintf("10.0.%d.%d", i/256, i%256), ClassAuth)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		rel()
	}
	if n := l.Clients(); n > 101 {
		t.Fatalf("%d clients remembered, bound 100 idle + 1 busy", n)
	}
	_, err = l.Admit("busy", ClassUpload)
	refusal(t, err, ReasonPerClient)
	busy()
	if _, err := l.Admit("busy", ClassUpload); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{MaxClients: -1},
		{Classes: map[Class]Limits{ClassAuth: {Rate: -1}}},
		{Classes: map[Class]Limits{ClassAuth: {Total: -1}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
