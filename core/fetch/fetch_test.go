package fetch_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nvm-node/nvm-node/core/fetch"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
)

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a/report.csv":
			w.Header().Set("Content-Type", "text/csv")
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "a,b,c"[:5])
		case "/named":
			w.Header().Set("Content-Disposition", `attachment; filename="../../etc/x.bin"`)
			io.WriteString(w, "x")
		case "/redirect":
			http.Redirect(w, r, "/a/report.csv", http.StatusFound)
		case "/boom":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	open := fetch.NewHTTP(fetch.HTTPOptions{AllowPrivate: true})
	obj, err := open.Open(ctx, srv.URL+"/a/report.csv")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(b) != "a,b,c" || obj.Size != 5 || obj.ContentType != "text/csv" || obj.Name != "report.csv" {
		t.Fatalf("object %+v %q", obj, b)
	}
	if obj, err := open.Open(ctx, srv.URL+"/named"); err != nil || obj.Name != "x.bin" {
		t.Fatalf("a Content-Disposition name keeps only its base: %+v %v", obj, err)
	}
	if obj, err := open.Open(ctx, srv.URL+"/redirect"); err != nil || obj.Name != "report.csv" {
		t.Fatalf("redirect: %+v %v", obj, err)
	}
	for path, want := range map[string]error{"/missing": fetch.ErrNotFound, "/boom": fetch.ErrUnavailable} {
		if _, err := open.Open(ctx, srv.URL+path); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", path, err, want)
		}
	}
	if _, err := open.Open(ctx, "ftp://example.org/x"); !errors.Is(err, fetch.ErrUnsupported) {
		t.Errorf("ftp: %v", err)
	}

	// The guard: loopback refused, on the first URL and after a redirect.
	guarded := fetch.NewHTTP(fetch.HTTPOptions{})
	if _, err := guarded.Open(ctx, srv.URL+"/a/report.csv"); !errors.Is(err, fetch.ErrForbidden) {
		t.Fatalf("loopback without AllowPrivate: %v", err)
	}
	for _, u := range []string{"http://127.0.0.1:1/x", "http://[::1]:1/x", "http://169.254.169.254/latest/meta-data", "http://10.0.0.1:1/x"} {
		if _, err := guarded.Open(ctx, u); !errors.Is(err, fetch.ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", u, err)
		}
	}
}

func TestMuxAndStorage(t *testing.T) {
	ctx := context.Background()
	mem := memstorage.New()
	if err := mem.Configure(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Put(ctx, "dir/f.txt", strings.NewReader("hello"), storage.PutOptions{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	m := fetch.Mux{"mem": fetch.Storage{Backend: mem}}
	obj, err := m.Open(ctx, "mem://dir/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(b) != "hello" || obj.Size != 5 || obj.Name != "f.txt" {
		t.Fatalf("object %+v %q", obj, b)
	}
	for u, want := range map[string]error{
		"mem://dir/none":  fetch.ErrNotFound,
		"mem://":          fetch.ErrNotFound,
		"other://x":       fetch.ErrUnsupported,
		"no-scheme":       fetch.ErrUnsupported,
		"mem://../../etc": fetch.ErrForbidden,
	} {
		if _, err := m.Open(ctx, u); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", u, err, want)
		}
	}
}
