package asset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mapResolver knows a fixed set of DDOs and counts its calls.
type mapResolver struct {
	docs  map[DID]*DDO
	err   error // returned for every DID when set
	calls atomic.Int64
	gate  chan struct{} // when set, each call waits for it
}

func (m *mapResolver) Resolve(ctx context.Context, did DID) (*DDO, error) {
	m.calls.Add(1)
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	if d, ok := m.docs[did]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, did)
}

func testDDO(t testing.TB, b byte) *DDO {
	t.Helper()
	id := "did:nv:" + strings.Repeat(fmt.Sprintf("%02x", b), 32)
	d, err := DecodeDDO([]byte(`{"id":"` + id + `","service":[{"type":"metadata","index":0}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestChain(t *testing.T) {
	a, b := testDDO(t, 1), testDDO(t, 2)
	first := &mapResolver{docs: map[DID]*DDO{a.ID: a}}
	second := &mapResolver{docs: map[DID]*DDO{a.ID: testDDO(t, 1), b.ID: b}}
	down := &mapResolver{err: fmt.Errorf("%w: connection refused", ErrUnavailable)}
	broken := &mapResolver{err: fmt.Errorf("%w: service is a string", ErrInvalidDDO)}
	ctx := context.Background()

	got, err := Chain{first, second}.Resolve(ctx, a.ID)
	if err != nil || got != a {
		t.Fatalf("first source should win: %v %v", got, err)
	}
	if second.calls.Load() != 0 {
		t.Fatal("second source asked although the first knew the DID")
	}
	if got, err := (Chain{first, second}).Resolve(ctx, b.ID); err != nil || got != b {
		t.Fatalf("fall through on not found: %v %v", got, err)
	}
	if got, err := (Chain{down, second}).Resolve(ctx, b.ID); err != nil || got != b {
		t.Fatalf("fall through on unavailable: %v %v", got, err)
	}
	missing := testDDO(t, 3).ID
	if _, err := (Chain{first, second}).Resolve(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Fatalf("nobody knows: %v", err)
	}
	if _, err := (Chain{first, down}).Resolve(ctx, missing); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
		t.Fatalf("not found + unavailable must be unavailable: %v", err)
	}
	if _, err := (Chain{broken, second}).Resolve(ctx, b.ID); !errors.Is(err, ErrInvalidDDO) {
		t.Fatalf("an invalid DDO ends the search: %v", err)
	}
	if _, err := (Chain{}).Resolve(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty chain: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ctxDown := &mapResolver{err: fmt.Errorf("%w: %w", ErrUnavailable, context.Canceled)}
	if _, err := (Chain{ctxDown, second}).Resolve(cancelled, b.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled request must not fall through: %v", err)
	}
}

type urlSource map[DID]string

func (s urlSource) MetadataURL(_ context.Context, did DID) (string, error) {
	if u, ok := s[did]; ok {
		return u, nil
	}
	return "", fmt.Errorf("%w: %s not registered", ErrNotFound, did)
}

type fetchFunc func(ctx context.Context, url string, did DID) (*DDO, error)

func (f fetchFunc) FetchDDO(ctx context.Context, url string, did DID) (*DDO, error) {
	return f(ctx, url, did)
}

func TestRegistryResolver(t *testing.T) {
	a := testDDO(t, 7)
	var asked string
	r := RegistryResolver{
		Source: urlSource{a.ID: "https://meta.example.org/ddo/" + a.ID.String()},
		Fetcher: fetchFunc(func(_ context.Context, url string, did DID) (*DDO, error) {
			asked = url
			return a, nil
		}),
	}
	if got, err := r.Resolve(context.Background(), a.ID); err != nil || got != a || !strings.HasSuffix(asked, a.ID.String()) {
		t.Fatalf("Resolve = %v, %v (asked %q)", got, err, asked)
	}
	if _, err := r.Resolve(context.Background(), testDDO(t, 8).ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unregistered DID: %v", err)
	}
}

// fakeClock is a settable clock for TTL tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestCacheTTL(t *testing.T) {
	a := testDDO(t, 1)
	up := &mapResolver{docs: map[DID]*DDO{a.ID: a}}
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	c := NewCache(up, CacheOptions{TTL: time.Minute, Now: clock.Now})
	ctx := context.Background()
	for i := range 3 {
		if got, err := c.Resolve(ctx, a.ID); err != nil || got != a {
			t.Fatalf("resolve %d: %v %v", i, got, err)
		}
	}
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("upstream called %d times within the TTL, want 1", n)
	}
	clock.Add(59 * time.Second)
	_, _ = c.Resolve(ctx, a.ID)
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("upstream called %d times before expiry, want 1", n)
	}
	clock.Add(time.Second)
	_, _ = c.Resolve(ctx, a.ID)
	if n := up.calls.Load(); n != 2 {
		t.Fatalf("upstream called %d times after expiry, want 2", n)
	}
	c.Invalidate(a.ID)
	_, _ = c.Resolve(ctx, a.ID)
	if n := up.calls.Load(); n != 3 {
		t.Fatalf("upstream called %d times after Invalidate, want 3", n)
	}
}

func TestCacheDoesNotCacheErrors(t *testing.T) {
	a := testDDO(t, 1)
	up := &mapResolver{docs: map[DID]*DDO{}}
	c := NewCache(up, CacheOptions{})
	ctx := context.Background()
	if _, err := c.Resolve(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("first: %v", err)
	}
	up.docs[a.ID] = a // published in the meantime
	if got, err := c.Resolve(ctx, a.ID); err != nil || got != a {
		t.Fatalf("after publishing: %v %v", got, err)
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d", c.Len())
	}
}

func TestCacheRejectsWrongDDO(t *testing.T) {
	a, b := testDDO(t, 1), testDDO(t, 2)
	// A source that answers with another asset's DDO must not poison the cache.
	up := &mapResolver{docs: map[DID]*DDO{a.ID: b}}
	c := NewCache(up, CacheOptions{})
	if _, err := c.Resolve(context.Background(), a.ID); !errors.Is(err, ErrInvalidDDO) {
		t.Fatalf("got %v", err)
	}
	if c.Len() != 0 {
		t.Fatal("wrong DDO cached")
	}
	nilUp := ResolverFunc(func(context.Context, DID) (*DDO, error) { return nil, nil })
	if _, err := NewCache(nilUp, CacheOptions{}).Resolve(context.Background(), a.ID); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("nil DDO without error: %v", err)
	}
}

func TestCacheBounded(t *testing.T) {
	docs := map[DID]*DDO{}
	var ids []DID
	for i := range 10 {
		d := testDDO(t, byte(i+1))
		docs[d.ID] = d
		ids = append(ids, d.ID)
	}
	up := &mapResolver{docs: docs}
	c := NewCache(up, CacheOptions{MaxEntries: 3})
	ctx := context.Background()
	for _, id := range ids {
		if _, err := c.Resolve(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want 3", c.Len())
	}
	// The three most recent are cached; the first was evicted.
	before := up.calls.Load()
	for _, id := range ids[7:] {
		_, _ = c.Resolve(ctx, id)
	}
	if up.calls.Load() != before {
		t.Fatal("recent entries were not cached")
	}
	_, _ = c.Resolve(ctx, ids[0])
	if up.calls.Load() != before+1 {
		t.Fatal("evicted entry still served")
	}
}

func TestCacheSingleflight(t *testing.T) {
	a := testDDO(t, 1)
	gate := make(chan struct{})
	up := &mapResolver{docs: map[DID]*DDO{a.ID: a}, gate: gate}
	c := NewCache(up, CacheOptions{})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			d, err := c.Resolve(context.Background(), a.ID)
			if err == nil && d != a {
				err = errors.New("wrong DDO")
			}
			errs <- err
		})
	}
	// Wait until the one upstream call is in progress, then let it finish.
	for up.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // give the other callers time to pile up
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := up.calls.Load(); got != 1 {
		t.Fatalf("%d concurrent misses made %d upstream calls, want 1", n, got)
	}
}

func TestCacheCallerCancel(t *testing.T) {
	a := testDDO(t, 1)
	gate := make(chan struct{})
	up := &mapResolver{docs: map[DID]*DDO{a.ID: a}, gate: gate}
	c := NewCache(up, CacheOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Resolve(ctx, a.ID); done <- err }()
	for up.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	patient := make(chan error, 1)
	go func() { _, err := c.Resolve(context.Background(), a.ID); patient <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	close(gate)
	// The upstream call was not cancelled with the first caller: the patient
	// one gets the DDO.
	if err := <-patient; err != nil {
		t.Fatalf("patient caller got %v", err)
	}
}

func TestCacheInvalidateDuringFlight(t *testing.T) {
	a := testDDO(t, 1)
	gate := make(chan struct{})
	up := &mapResolver{docs: map[DID]*DDO{a.ID: a}, gate: gate}
	c := NewCache(up, CacheOptions{})
	done := make(chan struct{})
	go func() { _, _ = c.Resolve(context.Background(), a.ID); close(done) }()
	for up.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	c.Invalidate(a.ID) // the DDO changed while the old one was being read
	close(gate)
	<-done
	if c.Len() != 0 {
		t.Fatal("a lookup that raced an Invalidate was cached")
	}
}

func BenchmarkCachedResolve(b *testing.B) {
	d, err := DecodeDDO(readFixture(b, "ddo-nft1155.json"))
	if err != nil {
		b.Fatal(err)
	}
	c := NewCache(&mapResolver{docs: map[DID]*DDO{d.ID: d}}, CacheOptions{})
	ctx := context.Background()
	if _, err := c.Resolve(ctx, d.ID); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Resolve(ctx, d.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkDecodeDDO(b *testing.B) {
	data := readFixture(b, "ddo-nft1155.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeDDO(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestChainNilAnswer(t *testing.T) {
	a := testDDO(t, 1)
	silent := ResolverFunc(func(context.Context, DID) (*DDO, error) { return nil, nil })
	if d, err := (Chain{silent}).Resolve(context.Background(), a.ID); d != nil || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("nil answer: %v, %v", d, err)
	}
	good := &mapResolver{docs: map[DID]*DDO{a.ID: a}}
	if d, err := (Chain{silent, good}).Resolve(context.Background(), a.ID); err != nil || d != a {
		t.Fatalf("nil answer must pass on: %v, %v", d, err)
	}
}
