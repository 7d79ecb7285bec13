package s3store_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nvm-node/nvm-node/plugins/storage-s3/s3store"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// legacyServer answers like an old S3-compatible server: it ignores Range
// (always 200 with the whole object) and If-None-Match (always stores).
// It checks no signature: it exists to drive the backend's fallbacks,
// which versitygw, honouring both headers, never reaches.
type legacyServer struct {
	mu      sync.Mutex
	objects map[string]string
	puts    int
}

func (s *legacyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/legacy")
	switch {
	case path == "" || path == "/": // HeadBucket
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPut:
		b, _ := io.ReadAll(r.Body)
		s.objects[path] = string(b)
		s.puts++
		w.Header().Set("ETag", fmt.Sprintf(`"etag-%d"`, s.puts))
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodDelete:
		delete(s.objects, path)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		data, ok := s.objects[path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Header().Set("ETag", `"whole"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			io.WriteString(w, data)
		}
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

func TestLegacyServerFallbacks(t *testing.T) {
	ls := &legacyServer{objects: map[string]string{"/r": "0123456789"}}
	srv := httptest.NewServer(ls)
	defer srv.Close()
	b := s3store.New(quiet())
	cfg := fmt.Sprintf(`{"endpoint":%q,"bucket":"legacy","path_style":true,"access_key_id":"a","secret_access_key":"s"}`, srv.URL)
	if err := b.Configure(t.Context(), plugin.Config(cfg)); err != nil {
		t.Fatal(err)
	}
	defer b.Close(t.Context())

	// Range ignored by the server: the backend cuts the range itself.
	for _, tc := range []struct {
		r    storage.Range
		want string
	}{{storage.Range{Offset: 3, Length: 4}, "3456"}, {storage.Range{Offset: 7, Length: -1}, "789"}, {storage.Range{Offset: 0, Length: 100}, "0123456789"}} {
		rc, oi, err := b.Get(t.Context(), "r", storage.GetOptions{Range: &tc.r})
		if err != nil {
			t.Fatalf("Get %+v: %v", tc.r, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != tc.want || oi.Size != 10 {
			t.Errorf("Get %+v = %q (size %d), %v; want %q (size 10)", tc.r, got, oi.Size, err, tc.want)
		}
	}
	_, _, err := b.Get(t.Context(), "r", storage.GetOptions{Range: &storage.Range{Offset: 10, Length: 1}})
	if !errors.Is(err, storage.ErrInvalidRange) {
		t.Errorf("Get past the end on a server ignoring Range: %v, want ErrInvalidRange", err)
	}

	// If-None-Match ignored: IfAbsent must refuse rather than overwrite.
	_, err = b.Put(t.Context(), "r", strings.NewReader("overwritten?"), storage.PutOptions{IfAbsent: true})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("IfAbsent Put on a server ignoring If-None-Match: %v, want ErrUnsupported", err)
	}
	ls.mu.Lock()
	data, leftovers := ls.objects["/r"], len(ls.objects)
	ls.mu.Unlock()
	if data != "0123456789" || leftovers != 1 {
		t.Errorf("after the refused IfAbsent Put: r = %q, %d objects (the probe must clean up)", data, leftovers)
	}
	if _, err := b.Put(t.Context(), "plain", strings.NewReader("ok"), storage.PutOptions{}); err != nil {
		t.Errorf("plain Put: %v", err)
	}
}
