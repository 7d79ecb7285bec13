package api

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/core/fetch"
)

func TestParseRange(t *testing.T) {
	for h, want := range map[string]*byteRange{
		"bytes=0-499":                 {Range: fetch.Range{Offset: 0, Length: 500}},
		"bytes=500-":                  {Range: fetch.Range{Offset: 500, Length: -1}},
		"bytes=-500":                  {Range: fetch.Range{Suffix: 500}},
		" bytes=7-7 ":                 {Range: fetch.Range{Offset: 7, Length: 1}},
		"bytes=-0":                    {unsatisfiable: true},
		"bytes=0-1,4-5":               nil, // several ranges: the whole file
		"bytes=5-4":                   nil,
		"bytes=-":                     nil,
		"bytes=a-b":                   nil,
		"bytes=+1-2":                  nil,
		"bytes=1-2-3":                 nil,
		"items=0-1":                   nil,
		"bytes=99999999999999999999-": nil,
		"":                            nil,
	} {
		got := parseRange(h)
		if (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Errorf("%q: %+v, want %+v", h, got, want)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=1-0", "bytes=-0", "bytes=0-1,2-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := parseRange(h)
		if r == nil || r.unsatisfiable {
			return
		}
		if r.Offset < 0 || r.Suffix < 0 || r.Length < -1 || (r.Suffix == 0 && r.Length == 0) || (r.Suffix > 0 && (r.Offset != 0 || r.Length != 0)) {
			t.Fatalf("%q parsed to %+v", h, r)
		}
		// Whatever the size, a parsed range resolves or is unsatisfiable.
		for _, size := range []int64{0, 1, 1000} {
			off, n, err := r.Resolve(size)
			if err == nil && (off < 0 || n <= 0 || off+n > size) {
				t.Fatalf("%q on %d bytes: [%d, +%d)", h, size, off, n)
			}
		}
	})
}

func TestIfRange(t *testing.T) {
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		ifRange, etag string
		want          bool
	}{
		{"", `"a"`, true},
		{`"a"`, `"a"`, true},
		{`"a"`, `"b"`, false},
		{`"a"`, "", false},
		{`W/"a"`, `"a"`, false},
		{"Fri, 02 Jan 2026 03:04:05 GMT", "", true},
		{"Fri, 02 Jan 2026 03:04:06 GMT", "", false},
		{"garbage", `"a"`, false},
	} {
		if got := ifRangeHolds(c.ifRange, c.etag, mod); got != c.want {
			t.Errorf("If-Range %q against %q: %v", c.ifRange, c.etag, got)
		}
	}
	if ifRangeHolds("Fri, 02 Jan 2026 03:04:05 GMT", "", time.Time{}) {
		t.Error("a date holds against an unknown modification time")
	}
}

func TestChargeLedger(t *testing.T) {
	var l chargeLedger
	ctx := context.Background()
	var calls atomic.Int64
	slow := func() error { calls.Add(1); time.Sleep(20 * time.Millisecond); return nil }
	exp := time.Now().Add(time.Hour)

	// Concurrent requests of one download share one charge.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := l.once(ctx, "k", exp, slow); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("%d charges for one download", calls.Load())
	}
	// Another key, or an expired record, is charged again.
	_ = l.once(ctx, "k2", exp, slow)
	_ = l.once(ctx, "old", time.Now().Add(-time.Second), slow)
	_ = l.once(ctx, "old", exp, slow)
	if calls.Load() != 4 {
		t.Fatalf("%d charges, want 4", calls.Load())
	}
	// A failed charge is not remembered: the next request tries again.
	denied := errors.New("not enough credits")
	if err := l.once(ctx, "d", exp, func() error { calls.Add(1); return denied }); !errors.Is(err, denied) {
		t.Fatal(err)
	}
	if err := l.once(ctx, "d", exp, slow); err != nil || calls.Load() != 6 {
		t.Fatalf("retry after a failed charge: %v, %d charges", err, calls.Load())
	}
}
