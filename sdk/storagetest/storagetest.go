// Package storagetest is the conformance suite every storage.Backend must
// pass, whatever its runtime: call Run from a test with a function that
// returns a fresh, configured backend.
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, storagetest.Options{
//			New: func(t *testing.T) storage.Backend { ... },
//		})
//	}
//
// The suite checks the rules of package storage: sentinels hold under
// errors.Is and the typed error under errors.As, ranges, listing order and
// pages, atomic and cancellable Put, concurrent use, context cancellation,
// Close semantics, and a large stream (see Options.LargeSize) copied in
// bounded memory and checked by hash.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// LargeEnv names the environment variable that sets the large-stream size
// for every run, e.g. "1GiB", "256MiB" or a byte count.
const LargeEnv = "NVM_STORAGETEST_LARGE"

// Options configure Run.
type Options struct {
	// New returns a configured, empty backend. The suite closes it.
	New func(t *testing.T) storage.Backend
	// LargeSize is the size of the large-stream test. Zero means the value
	// of LargeEnv if set, else 4 MiB with -short and 64 MiB without.
	LargeSize int64
	// HeapSlack is how much the live heap may grow while the large
	// stream is copied; zero means 32 MiB. It is generous on purpose: the
	// test catches whole-object buffering, not a few extra chunks, and so
	// only when LargeSize exceeds it (not with the -short default).
	HeapSlack uint64
	// HoldsData says the backend keeps objects in this process's memory
	// (like memstorage), so storing the large object may grow the heap by
	// its size.
	HoldsData bool
	// Unconfigured, when set, returns a backend before Configure; the suite
	// then checks calls fail with plugin.ErrNotConfigured, that Configure
	// refuses BadConfig, and that Close works after that failure.
	Unconfigured func(t *testing.T) storage.Backend
	// BadConfig is a configuration the backend must refuse.
	BadConfig plugin.Config
	// ReadOnly runs the suite for a backend that serves objects but takes
	// no writes (it must not declare storage.CapWrite, and its Put must
	// fail with errors.ErrUnsupported or storage.ErrPermission). Objects
	// are then made with Seed; the write tests are replaced by one that
	// checks writes are refused and change nothing.
	ReadOnly bool
	// Seed, with ReadOnly, stores an object behind b (in the folder or
	// bucket b reads), so that b then serves data under key.
	Seed func(t *testing.T, b storage.Backend, key string, data []byte)
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, o Options) {
	t.Helper()
	s := &suite{o: o}
	if o.ReadOnly {
		if o.Seed == nil {
			t.Fatal("storagetest: Options.ReadOnly needs Options.Seed")
		}
		// The tests below only read what Seed made; writes are checked
		// to be refused.
		t.Run("Info", s.testInfo)
		t.Run("WritesRefused", s.testWritesRefused)
		t.Run("GetStat", s.testPutGetStat)
		t.Run("EmptyObject", s.testEmpty)
		t.Run("NotFound", s.testNotFound)
		t.Run("InvalidKey", s.testInvalidKey)
		t.Run("Range", s.testRange)
		t.Run("List", s.testList)
		t.Run("ContextCancelled", s.testCancelled)
		t.Run("ReaderOutlivesContext", s.testReaderOutlivesCtx)
		t.Run("Presign", s.testPresign)
		t.Run("Close", s.testClose)
		t.Run("FailedConfigure", s.testFailedConfigure)
		return
	}
	t.Run("Info", s.testInfo)
	t.Run("PutGetStat", s.testPutGetStat)
	t.Run("EmptyObject", s.testEmpty)
	t.Run("Overwrite", s.testOverwrite)
	t.Run("NotFound", s.testNotFound)
	t.Run("InvalidKey", s.testInvalidKey)
	t.Run("IfAbsent", s.testIfAbsent)
	t.Run("Range", s.testRange)
	t.Run("List", s.testList)
	t.Run("Delete", s.testDelete)
	t.Run("FailedPutLeavesNothing", s.testFailedPut)
	t.Run("Concurrent", s.testConcurrent)
	t.Run("ContextCancelled", s.testCancelled)
	t.Run("ReaderOutlivesContext", s.testReaderOutlivesCtx)
	t.Run("Presign", s.testPresign)
	t.Run("LargeStream", s.testLarge)
	t.Run("Close", s.testClose)
	t.Run("FailedConfigure", s.testFailedConfigure)
}

type suite struct{ o Options }

func (s *suite) backend(t *testing.T) storage.Backend {
	t.Helper()
	b := s.o.New(t)
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func info(t *testing.T, b storage.Backend) plugin.Info {
	t.Helper()
	i, err := b.Info(t.Context())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	return i
}

// put stores data under key: through Put, or through Seed for a read-only
// backend (then the info is Stat's).
func (s *suite) put(t *testing.T, b storage.Backend, key, data string) storage.ObjectInfo {
	t.Helper()
	if s.o.ReadOnly {
		s.o.Seed(t, b, key, []byte(data))
		oi, err := b.Stat(t.Context(), key)
		if err != nil {
			t.Fatalf("Stat(%q) of a seeded object: %v", key, err)
		}
		return oi
	}
	oi, err := b.Put(t.Context(), key, strings.NewReader(data), storage.PutOptions{ContentType: "text/plain"})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return oi
}

func get(t *testing.T, b storage.Backend, key string, r *storage.Range) (string, storage.ObjectInfo) {
	t.Helper()
	rc, oi, err := b.Get(t.Context(), key, storage.GetOptions{Range: r})
	if err != nil {
		t.Fatalf("Get(%q, %+v): %v", key, r, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return string(data), oi
}

// wantErr checks err wraps target and, for storage errors, carries a typed
// *storage.Error with the operation.
func wantErr(t *testing.T, what string, err, target error, op string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %q", what, err, target)
		return
	}
	if op == "" {
		return
	}
	var se *storage.Error
	if !errors.As(err, &se) {
		t.Errorf("%s: error %v (%T) is not a *storage.Error", what, err, err)
	} else if se.Op != op {
		t.Errorf("%s: storage.Error.Op = %q, want %q", what, se.Op, op)
	}
}

func (s *suite) testInfo(t *testing.T) {
	b := s.backend(t)
	i := info(t, b)
	if err := i.Validate(); err != nil {
		t.Error(err)
	}
	if i.Kind != plugin.KindStorage {
		t.Errorf("Info.Kind = %q, want storage", i.Kind)
	}
	if i.APIVersion != storage.APIVersion {
		t.Errorf("Info.APIVersion = %d, want %d", i.APIVersion, storage.APIVersion)
	}
	if s.o.ReadOnly && i.Has(storage.CapWrite) {
		t.Errorf("a read-only backend declares %s", storage.CapWrite)
	}
}

// refused reports whether err is how a read-only backend refuses a write.
func refused(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, storage.ErrPermission)
}

func (s *suite) testWritesRefused(t *testing.T) {
	b := s.backend(t)
	ctx := t.Context()
	_, err := b.Put(ctx, "new/key", strings.NewReader("x"), storage.PutOptions{})
	if !refused(err) {
		t.Errorf("Put to a read-only backend: %v, want an error wrapping errors.ErrUnsupported or storage.ErrPermission", err)
	}
	if _, err := b.Stat(ctx, "new/key"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a refused Put left an object (Stat: %v)", err)
	}
	s.put(t, b, "seeded", "original")
	if _, err := b.Put(ctx, "seeded", strings.NewReader("changed"), storage.PutOptions{}); !refused(err) {
		t.Errorf("overwrite on a read-only backend: %v", err)
	}
	if err := b.Delete(ctx, "seeded"); !refused(err) {
		t.Errorf("Delete on a read-only backend: %v, want a refusal", err)
	}
	if got, _ := get(t, b, "seeded", nil); got != "original" {
		t.Errorf("object after refused writes = %q, want the original", got)
	}
}

func (s *suite) testPutGetStat(t *testing.T) {
	b := s.backend(t)
	before := time.Now().Add(-time.Minute)
	const key, data = "dir/sub/hello.txt", "hello, world"
	pi := s.put(t, b, key, data)
	if pi.Key != key || pi.Size != int64(len(data)) || pi.ETag == "" || pi.ModTime.Before(before) {
		t.Errorf("Put info = %+v", pi)
	}
	got, gi := get(t, b, key, nil)
	if got != data {
		t.Errorf("Get = %q, want %q", got, data)
	}
	si, err := b.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	for name, oi := range map[string]storage.ObjectInfo{"Get": gi, "Stat": si} {
		if oi.Key != key || oi.Size != pi.Size || oi.ETag != pi.ETag || !oi.ModTime.Equal(pi.ModTime) {
			t.Errorf("%s info = %+v, Put info = %+v", name, oi, pi)
		}
		if !s.o.ReadOnly && info(t, b).Has(storage.CapContentType) && oi.ContentType != "text/plain" {
			t.Errorf("%s content type = %q, want text/plain (backend declares %s)", name, oi.ContentType, storage.CapContentType)
		}
	}
}

func (s *suite) testEmpty(t *testing.T) {
	b := s.backend(t)
	if oi := s.put(t, b, "empty", ""); oi.Size != 0 {
		t.Errorf("size %d", oi.Size)
	}
	if got, oi := get(t, b, "empty", nil); got != "" || oi.Size != 0 {
		t.Errorf("Get = %q, %+v", got, oi)
	}
	if got, _ := get(t, b, "empty", &storage.Range{Offset: 0, Length: -1}); got != "" {
		t.Errorf("Get whole range of empty = %q", got)
	}
}

func (s *suite) testOverwrite(t *testing.T) {
	b := s.backend(t)
	first := s.put(t, b, "k", "first version")
	second := s.put(t, b, "k", "second")
	if got, _ := get(t, b, "k", nil); got != "second" {
		t.Errorf("Get after overwrite = %q", got)
	}
	if first.ETag == second.ETag {
		t.Errorf("ETag %q unchanged by a new content", first.ETag)
	}
}

func (s *suite) testNotFound(t *testing.T) {
	b := s.backend(t)
	ctx := t.Context()
	_, _, err := b.Get(ctx, "missing/key", storage.GetOptions{})
	wantErr(t, "Get", err, storage.ErrNotFound, "get")
	_, err = b.Stat(ctx, "missing")
	wantErr(t, "Stat", err, storage.ErrNotFound, "stat")
	if !s.o.ReadOnly {
		wantErr(t, "Delete", b.Delete(ctx, "missing"), storage.ErrNotFound, "delete")
	}
	s.put(t, b, "dir/file", "x")
	_, err = b.Stat(ctx, "dir")
	wantErr(t, "Stat of a key's parent", err, storage.ErrNotFound, "stat")
	_, err = b.Stat(ctx, "dir/file/below")
	wantErr(t, "Stat below a key", err, storage.ErrNotFound, "stat")
}

// BadKeys are keys every backend must refuse with storage.ErrInvalidKey.
var BadKeys = []string{"", "/abs", "trailing/", "a//b", ".", "..", "../escape", "a/../../b", "./a", "nul\x00byte", "\xff\xfe", strings.Repeat("k", storage.MaxKeyLen+1)}

func (s *suite) testInvalidKey(t *testing.T) {
	b := s.backend(t)
	ctx := t.Context()
	for _, k := range BadKeys {
		_, _, err := b.Get(ctx, k, storage.GetOptions{})
		wantErr(t, fmt.Sprintf("Get(%q)", k), err, storage.ErrInvalidKey, "get")
		_, err = b.Stat(ctx, k)
		wantErr(t, fmt.Sprintf("Stat(%q)", k), err, storage.ErrInvalidKey, "stat")
		if s.o.ReadOnly {
			continue // writes are refused before keys are looked at
		}
		_, err = b.Put(ctx, k, strings.NewReader("x"), storage.PutOptions{})
		wantErr(t, fmt.Sprintf("Put(%q)", k), err, storage.ErrInvalidKey, "put")
		wantErr(t, fmt.Sprintf("Delete(%q)", k), b.Delete(ctx, k), storage.ErrInvalidKey, "delete")
	}
}

func (s *suite) testIfAbsent(t *testing.T) {
	b := s.backend(t)
	if !info(t, b).Has(storage.CapIfAbsent) {
		t.Skip("backend does not declare " + storage.CapIfAbsent)
	}
	ctx := t.Context()
	if _, err := b.Put(ctx, "once", strings.NewReader("1"), storage.PutOptions{IfAbsent: true}); err != nil {
		t.Fatalf("first IfAbsent Put: %v", err)
	}
	_, err := b.Put(ctx, "once", strings.NewReader("2"), storage.PutOptions{IfAbsent: true})
	wantErr(t, "second IfAbsent Put", err, storage.ErrExist, "put")
	if got, _ := get(t, b, "once", nil); got != "1" {
		t.Errorf("content after refused Put = %q", got)
	}
	// Racing IfAbsent Puts: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Go(func() {
			_, err := b.Put(ctx, "race", strings.NewReader(strconv.Itoa(i)), storage.PutOptions{IfAbsent: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, storage.ErrExist):
				t.Errorf("racing Put: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d racing IfAbsent Puts succeeded, want 1", wins)
	}
}

func (s *suite) testRange(t *testing.T) {
	b := s.backend(t)
	const data = "0123456789"
	s.put(t, b, "r", data)
	for _, tc := range []struct {
		r    storage.Range
		want string
	}{
		{storage.Range{Offset: 0, Length: -1}, data},
		{storage.Range{Offset: 0, Length: 1}, "0"},
		{storage.Range{Offset: 3, Length: 4}, "3456"},
		{storage.Range{Offset: 7, Length: -1}, "789"},
		{storage.Range{Offset: 7, Length: 100}, "789"},
		{storage.Range{Offset: 9, Length: 1}, "9"},
	} {
		got, oi := get(t, b, "r", &tc.r)
		if got != tc.want {
			t.Errorf("Get range %+v = %q, want %q", tc.r, got, tc.want)
		}
		if oi.Size != int64(len(data)) {
			t.Errorf("Get range %+v: info size %d, want the full size %d", tc.r, oi.Size, len(data))
		}
	}
	for _, r := range []storage.Range{{Offset: 10, Length: -1}, {Offset: 11, Length: 1}, {Offset: -1, Length: 2}, {Offset: 2, Length: 0}} {
		_, _, err := b.Get(t.Context(), "r", storage.GetOptions{Range: &r})
		wantErr(t, fmt.Sprintf("Get range %+v", r), err, storage.ErrInvalidRange, "get")
	}
}

func (s *suite) testList(t *testing.T) {
	b := s.backend(t)
	if !info(t, b).Has(storage.CapList) {
		t.Skip("backend does not declare " + storage.CapList)
	}
	keys := []string{"a.txt", "a/b", "a/c/d", "a0", "b", "ab/x"}
	for _, k := range keys {
		s.put(t, b, k, "v-"+k)
	}
	list := func(prefix string, limit int) []string {
		var out []string
		opts := storage.ListOptions{Prefix: prefix, Limit: limit}
		for range 100 {
			p, err := b.List(t.Context(), opts)
			if err != nil {
				t.Fatalf("List(%+v): %v", opts, err)
			}
			if limit > 0 && len(p.Objects) > limit {
				t.Errorf("List page of %d objects, limit %d", len(p.Objects), limit)
			}
			for _, o := range p.Objects {
				out = append(out, o.Key)
				if o.Size != int64(len("v-"+o.Key)) {
					t.Errorf("List: %s size %d", o.Key, o.Size)
				}
			}
			if p.Next == "" {
				return out
			}
			opts.After = p.Next
		}
		t.Fatal("List never ended")
		return nil
	}
	for _, tc := range []struct {
		prefix string
		want   string
	}{
		{"", "a.txt a/b a/c/d a0 ab/x b"},
		{"a/", "a/b a/c/d"},
		{"a", "a.txt a/b a/c/d a0 ab/x"},
		{"a/c", "a/c/d"},
		{"ab", "ab/x"},
		{"zz", ""},
		{"a/c/d/e", ""},
	} {
		for _, limit := range []int{0, 1, 2} {
			if got := strings.Join(list(tc.prefix, limit), " "); got != tc.want {
				t.Errorf("List(prefix %q, limit %d) = %q, want %q", tc.prefix, limit, got, tc.want)
			}
		}
	}
	p, err := b.List(t.Context(), storage.ListOptions{After: "a0"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range p.Objects {
		got = append(got, o.Key)
	}
	if strings.Join(got, " ") != "ab/x b" {
		t.Errorf("List(After a0) = %v", got)
	}
}

func (s *suite) testDelete(t *testing.T) {
	b := s.backend(t)
	s.put(t, b, "d/x", "1")
	s.put(t, b, "d/y", "2")
	if err := b.Delete(t.Context(), "d/x"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := b.Stat(t.Context(), "d/x")
	wantErr(t, "Stat after Delete", err, storage.ErrNotFound, "stat")
	if got, _ := get(t, b, "d/y", nil); got != "2" {
		t.Errorf("sibling after Delete = %q", got)
	}
	wantErr(t, "second Delete", b.Delete(t.Context(), "d/x"), storage.ErrNotFound, "delete")
	if err := b.Delete(t.Context(), "d/y"); err != nil {
		t.Fatal(err)
	}
	s.put(t, b, "d", "a key where a directory was")
}

// failingReader yields n bytes then fails.
type failingReader struct{ n int }

var errReader = errors.New("storagetest: reader failed on purpose")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errReader
	}
	n := min(len(p), r.n)
	clear(p[:n])
	r.n -= n
	return n, nil
}

func (s *suite) testFailedPut(t *testing.T) {
	b := s.backend(t)
	_, err := b.Put(t.Context(), "broken", &failingReader{n: 300 << 10}, storage.PutOptions{})
	if err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	_, err = b.Stat(t.Context(), "broken")
	wantErr(t, "Stat after failed Put", err, storage.ErrNotFound, "stat")
	s.put(t, b, "kept", "old")
	if _, err := b.Put(t.Context(), "kept", &failingReader{n: 10}, storage.PutOptions{}); err == nil {
		t.Fatal("overwrite from a failing reader succeeded")
	}
	if got, _ := get(t, b, "kept", nil); got != "old" {
		t.Errorf("object after failed overwrite = %q, want the old content", got)
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	b := s.backend(t)
	ctx := t.Context()
	// Two versions of one key, each self-identifying, so a reader can tell
	// a torn object from either version.
	version := func(i int) []byte { return bytes.Repeat([]byte{byte('A' + i)}, 256<<10) }
	if _, err := b.Put(ctx, "shared", bytes.NewReader(version(0)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5 {
				key := fmt.Sprintf("w%d/%d", w, i)
				data := fmt.Sprintf("writer %d item %d", w, i)
				if _, err := b.Put(ctx, key, strings.NewReader(data), storage.PutOptions{}); err != nil {
					t.Errorf("Put %s: %v", key, err)
					return
				}
				if _, err := b.Put(ctx, "shared", bytes.NewReader(version(1+(w+i)%2)), storage.PutOptions{}); err != nil {
					t.Errorf("Put shared: %v", err)
				}
				rc, _, err := b.Get(ctx, key, storage.GetOptions{})
				if err != nil {
					t.Errorf("Get %s: %v", key, err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(got) != data {
					t.Errorf("Get %s = %q, %v", key, got, err)
				}
			}
		})
		wg.Go(func() {
			for range 10 {
				rc, _, err := b.Get(ctx, "shared", storage.GetOptions{})
				if err != nil {
					t.Errorf("Get shared: %v", err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Errorf("reading shared: %v", err)
					return
				}
				if len(got) != 256<<10 || bytes.Count(got, got[:1]) != len(got) {
					t.Errorf("torn read of a concurrently replaced object: %d bytes, first %q", len(got), got[:min(1, len(got))])
				}
			}
		})
	}
	wg.Wait()
}

// cancelReader cancels its context after n bytes and keeps yielding.
type cancelReader struct {
	n      int
	cancel context.CancelFunc
}

func (r *cancelReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		r.cancel()
		// Give a transport time to notice before the stream could end.
		time.Sleep(time.Millisecond)
	}
	clear(p)
	r.n -= len(p)
	return len(p), nil
}

func (s *suite) testCancelled(t *testing.T) {
	b := s.backend(t)
	s.put(t, b, "exists", "x")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := b.Get(ctx, "exists", storage.GetOptions{})
	wantErr(t, "Get", err, context.Canceled, "")
	_, err = b.Stat(ctx, "exists")
	wantErr(t, "Stat", err, context.Canceled, "")
	_, err = b.List(ctx, storage.ListOptions{})
	wantErr(t, "List", err, context.Canceled, "")
	if s.o.ReadOnly {
		return
	}
	_, err = b.Put(ctx, "new", strings.NewReader("x"), storage.PutOptions{})
	wantErr(t, "Put", err, context.Canceled, "")
	wantErr(t, "Delete", b.Delete(ctx, "exists"), context.Canceled, "")
	if _, err := b.Stat(t.Context(), "new"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Put with a cancelled context stored an object (Stat: %v)", err)
	}

	// Cancelled mid-stream: an endless reader must not keep Put going.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := b.Put(ctx, "endless", &cancelReader{n: 1 << 20, cancel: cancel}, storage.PutOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		wantErr(t, "Put cancelled mid-stream", err, context.Canceled, "")
	case <-time.After(30 * time.Second):
		t.Fatal("Put did not return 30s after its context was cancelled")
	}
	if _, err := b.Stat(t.Context(), "endless"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("cancelled Put stored an object (Stat: %v)", err)
	}
}

func (s *suite) testReaderOutlivesCtx(t *testing.T) {
	b := s.backend(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	s.put(t, b, "long", string(data))
	ctx, cancel := context.WithCancel(t.Context())
	rc, _, err := b.Get(ctx, "long", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	cancel()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("reading after Get's context was cancelled: %d bytes, %v", len(got), err)
	}
}

// fetch performs a plain HTTP request, as a client handed a presigned URL
// would, and returns the status and body.
func fetch(t *testing.T, method, u string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatalf("presigned URL %q: %v", u, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s presigned URL: %v", method, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("reading the answer to a presigned %s: %v", method, err)
	}
	return resp.StatusCode, string(b)
}

func (s *suite) testPresign(t *testing.T) {
	b := s.backend(t)
	p, isPresigner := b.(storage.Presigner)
	ctx := t.Context()
	if !info(t, b).Has(storage.CapPresign) {
		// A backend (or transport client) with the method but not the
		// capability must say so.
		if isPresigner {
			_, err := p.Presign(ctx, "k", storage.PresignOptions{Method: http.MethodGet, Expires: time.Minute})
			wantErr(t, "Presign without "+string(storage.CapPresign), err, errors.ErrUnsupported, "")
		}
		t.Skip("backend does not declare " + storage.CapPresign)
	}
	if !isPresigner {
		t.Fatalf("backend declares %s but %T does not implement storage.Presigner", storage.CapPresign, b)
	}
	const keyA, keyB = "presign/obj-a", "presign/obj-b"
	s.put(t, b, keyA, "content of A")
	s.put(t, b, keyB, "content of B")

	u, err := p.Presign(ctx, keyA, storage.PresignOptions{Method: http.MethodGet, Expires: time.Minute})
	if err != nil {
		t.Fatalf("Presign GET: %v", err)
	}
	if code, body := fetch(t, http.MethodGet, u, nil); code != http.StatusOK || body != "content of A" {
		t.Errorf("GET presigned URL: %d %q, want 200 %q", code, body, "content of A")
	}

	// Tampering: the URL must not open another object, nor survive an
	// altered signature.
	if strings.Contains(u, "obj-a") {
		other := strings.Replace(u, "obj-a", "obj-b", 1)
		if code, body := fetch(t, http.MethodGet, other, nil); code/100 == 2 {
			t.Errorf("presigned URL of %s edited to name %s: %d %q, want a refusal", keyA, keyB, code, body)
		}
	}
	if pu, err := url.Parse(u); err == nil && pu.RawQuery != "" {
		q := pu.Query()
		longest := ""
		for k, v := range q {
			if len(v) > 0 && len(v[0]) > len(q.Get(longest)) {
				longest = k
			}
		}
		v := []byte(q.Get(longest))
		v[len(v)/2] ^= 1 // stays printable ASCII
		q.Set(longest, string(v))
		pu.RawQuery = q.Encode()
		if code, body := fetch(t, http.MethodGet, pu.String(), nil); code/100 == 2 {
			t.Errorf("presigned URL with query parameter %s altered: %d %q, want a refusal", longest, code, body)
		}
	}

	// Expiry: a URL valid for one second fails a little later.
	u, err = p.Presign(ctx, keyA, storage.PresignOptions{Method: http.MethodGet, Expires: time.Second})
	if err != nil {
		t.Fatalf("Presign GET for 1s: %v", err)
	}
	time.Sleep(2500 * time.Millisecond)
	if code, body := fetch(t, http.MethodGet, u, nil); code/100 == 2 {
		t.Errorf("expired presigned URL: %d %q, want a refusal", code, body)
	}

	// PUT, when supported, stores what the client sends.
	u, err = p.Presign(ctx, "presign/uploaded", storage.PresignOptions{Method: http.MethodPut, Expires: time.Minute})
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		t.Log("backend does not presign PUT")
	case err != nil:
		t.Errorf("Presign PUT: %v", err)
	default:
		if code, body := fetch(t, http.MethodPut, u, strings.NewReader("sent by a client")); code/100 != 2 {
			t.Errorf("PUT to presigned URL: %d %q", code, body)
		} else if got, _ := get(t, b, "presign/uploaded", nil); got != "sent by a client" {
			t.Errorf("object stored through a presigned PUT = %q", got)
		}
	}

	_, err = p.Presign(ctx, "../escape", storage.PresignOptions{Method: http.MethodGet, Expires: time.Minute})
	wantErr(t, "Presign of an invalid key", err, storage.ErrInvalidKey, "presign")
	_, err = p.Presign(ctx, keyA, storage.PresignOptions{Method: "DELETE", Expires: time.Minute})
	wantErr(t, "Presign DELETE", err, errors.ErrUnsupported, "")
}

// LargeSize returns the large-stream size the suite would use for o.
func (o Options) largeSize(t *testing.T) int64 {
	if o.LargeSize > 0 {
		return o.LargeSize
	}
	if v := os.Getenv(LargeEnv); v != "" {
		n, err := ParseSize(v)
		if err != nil {
			t.Fatalf("%s: %v", LargeEnv, err)
		}
		return n
	}
	if testing.Short() {
		return 4 << 20
	}
	return 64 << 20
}

// ParseSize parses "1GiB", "64MiB", "512KiB" or a plain byte count.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}

// heapWatch samples the live heap (as marked by the last garbage
// collection) every few MiB of a stream. The live heap, unlike the heap in
// use, ignores garbage awaiting collection, so streaming code that churns
// through short-lived chunks passes and code that retains the object fails.
type heapWatch struct {
	base, peak uint64
	since      int64
	sample     []metrics.Sample
}

func newHeapWatch() *heapWatch {
	runtime.GC()
	h := &heapWatch{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	h.base = h.read()
	h.peak = h.base
	return h
}

func (h *heapWatch) read() uint64 {
	metrics.Read(h.sample)
	if h.sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return h.sample[0].Value.Uint64()
}

func (h *heapWatch) tick(n int) {
	if h.sample == nil {
		return
	}
	h.since += int64(n)
	if h.since < 8<<20 {
		return
	}
	h.since = 0
	h.peak = max(h.peak, h.read())
}

// finish takes a last sample after a collection, so an object retained to
// the end is seen even if no collection ran during the stream.
func (h *heapWatch) finish() {
	runtime.GC()
	h.peak = max(h.peak, h.read())
}

func (h *heapWatch) growth() uint64 { return h.peak - h.base }

// genReader yields size deterministic pseudo-random bytes, hashing them.
type genReader struct {
	left int64
	rng  *rand.ChaCha8
	hash interface{ Write([]byte) (int, error) }
	heap *heapWatch
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.left)]
	g.rng.Read(p)
	g.hash.Write(p)
	g.left -= int64(len(p))
	g.heap.tick(len(p))
	return len(p), nil
}

type hashWriter struct {
	hash interface{ Write([]byte) (int, error) }
	heap *heapWatch
}

func (w hashWriter) Write(p []byte) (int, error) {
	w.hash.Write(p)
	w.heap.tick(len(p))
	return len(p), nil
}

func (s *suite) testLarge(t *testing.T) {
	size := s.o.largeSize(t)
	slack := s.o.HeapSlack
	if slack == 0 {
		slack = 32 << 20
	}
	b := s.backend(t)
	ctx := t.Context()

	var seed [32]byte
	seed[0] = 42
	wantHash := sha256.New()
	putHeap := newHeapWatch()
	start := time.Now()
	oi, err := b.Put(ctx, "large/object.bin", &genReader{left: size, rng: rand.NewChaCha8(seed), hash: wantHash, heap: putHeap}, storage.PutOptions{})
	if err != nil {
		t.Fatalf("Put of %d bytes: %v", size, err)
	}
	putDur := time.Since(start)
	putHeap.finish()
	if oi.Size != size {
		t.Errorf("Put info size %d, want %d", oi.Size, size)
	}
	putBound := slack
	if s.o.HoldsData {
		putBound += uint64(size)
	}
	if g := putHeap.growth(); g > putBound {
		t.Errorf("heap in use grew by %d MiB during a %d MiB Put (bound %d MiB): the object is buffered", g>>20, size>>20, putBound>>20)
	}

	getHeap := newHeapWatch()
	gotHash := sha256.New()
	start = time.Now()
	rc, _, err := b.Get(ctx, "large/object.bin", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(hashWriter{gotHash, getHeap}, rc)
	rc.Close()
	if err != nil || n != size {
		t.Fatalf("Get copied %d of %d bytes: %v", n, size, err)
	}
	getDur := time.Since(start)
	getHeap.finish()
	if !bytes.Equal(gotHash.Sum(nil), wantHash.Sum(nil)) {
		t.Error("content read back differs from content written (sha256 mismatch)")
	}
	if g := getHeap.growth(); g > slack {
		t.Errorf("heap in use grew by %d MiB during a %d MiB Get (bound %d MiB): the object is buffered", g>>20, size>>20, slack>>20)
	}
	t.Logf("%d MiB: put %.0f MiB/s (heap +%d MiB), get %.0f MiB/s (heap +%d MiB)", size>>20,
		float64(size)/(1<<20)/putDur.Seconds(), putHeap.growth()>>20, float64(size)/(1<<20)/getDur.Seconds(), getHeap.growth()>>20)

	// A range deep inside the large object.
	off := size / 3
	rc, _, err = b.Get(ctx, "large/object.bin", storage.GetOptions{Range: &storage.Range{Offset: off, Length: 1 << 16}})
	if err != nil {
		t.Fatal(err)
	}
	part, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || len(part) != 1<<16 {
		t.Fatalf("range read: %d bytes, %v", len(part), err)
	}
	whole := &genReader{left: size, rng: rand.NewChaCha8(seed), hash: io.Discard, heap: &heapWatch{}}
	if _, err := io.CopyN(io.Discard, whole, off); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 1<<16)
	if _, err := io.ReadFull(whole, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(part, want) {
		t.Error("range read deep inside the large object returned the wrong bytes")
	}
}

func (s *suite) testClose(t *testing.T) {
	b := s.o.New(t)
	ctx := t.Context()
	s.put(t, b, "before", "data")
	rc, _, err := b.Get(ctx, "before", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// A reader opened before Close may work or fail, but must close.
	io.ReadAll(rc)
	rc.Close()
	_, _, err = b.Get(ctx, "before", storage.GetOptions{})
	wantErr(t, "Get after Close", err, plugin.ErrClosed, "")
	_, err = b.Stat(ctx, "before")
	wantErr(t, "Stat after Close", err, plugin.ErrClosed, "")
	if !s.o.ReadOnly {
		_, err = b.Put(ctx, "after", strings.NewReader("x"), storage.PutOptions{})
		wantErr(t, "Put after Close", err, plugin.ErrClosed, "")
		wantErr(t, "Delete after Close", b.Delete(ctx, "before"), plugin.ErrClosed, "")
	}
	_, err = b.List(ctx, storage.ListOptions{})
	wantErr(t, "List after Close", err, plugin.ErrClosed, "")
	if _, err := b.Info(ctx); err != nil {
		t.Errorf("Info after Close: %v", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func (s *suite) testFailedConfigure(t *testing.T) {
	if s.o.Unconfigured == nil {
		t.Skip("Options.Unconfigured not set")
	}
	b := s.o.Unconfigured(t)
	ctx := t.Context()
	_, err := b.Stat(ctx, "k")
	wantErr(t, "Stat before Configure", err, plugin.ErrNotConfigured, "")
	if err := b.Configure(ctx, s.o.BadConfig); err == nil {
		t.Errorf("Configure(%s) accepted a bad configuration", s.o.BadConfig)
	}
	if err := b.Close(ctx); err != nil {
		t.Errorf("Close after a failed Configure: %v", err)
	}
}
