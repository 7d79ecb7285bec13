package fetch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/core/fetch"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storage/localstorage"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
)

func open(t *testing.T, o fetch.Opener, url string, r *fetch.Range) (*fetch.Object, []byte, error) {
	t.Helper()
	obj, err := o.Open(context.Background(), fetch.Request{URL: url, Range: r})
	if err != nil {
		return nil, nil, err
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("%s: reading: %v", url, err)
	}
	return obj, b, nil
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a/report.csv":
			w.Header().Set("Content-Type", "text/csv")
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "a,b,c")
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

	o := fetch.NewHTTP(fetch.HTTPOptions{AllowPrivate: true})
	obj, b, err := open(t, o, srv.URL+"/a/report.csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "a,b,c" || obj.Size != 5 || obj.Length != 5 || obj.Ranged || obj.ContentType != "text/csv" || obj.Name != "report.csv" {
		t.Fatalf("object %+v %q", obj, b)
	}
	if obj, _, err := open(t, o, srv.URL+"/named", nil); err != nil || obj.Name != "x.bin" {
		t.Fatalf("a Content-Disposition name keeps only its base: %+v %v", obj, err)
	}
	if obj, _, err := open(t, o, srv.URL+"/redirect", nil); err != nil || obj.Name != "report.csv" {
		t.Fatalf("redirect: %+v %v", obj, err)
	}
	for path, want := range map[string]error{"/missing": fetch.ErrNotFound, "/boom": fetch.ErrUnavailable} {
		if _, _, err := open(t, o, srv.URL+path, nil); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", path, err, want)
		}
	}
	if _, _, err := open(t, o, "ftp://example.org/x", nil); !errors.Is(err, fetch.ErrUnsupported) {
		t.Errorf("ftp: %v", err)
	}

	// The guard: loopback refused, on the first URL and after a redirect.
	guarded := fetch.NewHTTP(fetch.HTTPOptions{})
	if _, _, err := open(t, guarded, srv.URL+"/a/report.csv", nil); !errors.Is(err, fetch.ErrForbidden) {
		t.Fatalf("loopback without AllowPrivate: %v", err)
	}
	for _, u := range []string{"http://127.0.0.1:1/x", "http://[::1]:1/x", "http://169.254.169.254/latest/meta-data", "http://10.0.0.1:1/x"} {
		if _, _, err := open(t, guarded, u, nil); !errors.Is(err, fetch.ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", u, err)
		}
	}
}

// content is 10000 bytes that differ at every position modulo 251.
var content = func() []byte {
	b := make([]byte, 10000)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

// rangeCases are the byte-range forms with the bytes each selects.
var rangeCases = []struct {
	name string
	r    fetch.Range
	off  int64
	n    int64
}{
	{"a-b", fetch.Range{Offset: 100, Length: 50}, 100, 50},
	{"a-", fetch.Range{Offset: 9000, Length: -1}, 9000, 1000},
	{"-n", fetch.Range{Suffix: 300}, 9700, 300},
	{"-n longer than the object", fetch.Range{Suffix: 20000}, 0, 10000},
	{"a-b past the end", fetch.Range{Offset: 9990, Length: 100}, 9990, 10},
	{"0-", fetch.Range{Offset: 0, Length: -1}, 0, 10000},
}

func checkRanges(t *testing.T, o fetch.Opener, url string) {
	t.Helper()
	for _, c := range rangeCases {
		obj, b, err := open(t, o, url, &c.r)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !obj.Ranged || obj.Size != int64(len(content)) || obj.Offset != c.off || obj.Length != c.n || !bytes.Equal(b, content[c.off:c.off+c.n]) {
			t.Errorf("%s: object %+v, %d bytes", c.name, obj, len(b))
		}
	}
	var re *fetch.RangeError
	if _, _, err := open(t, o, url, &fetch.Range{Offset: 10000, Length: -1}); !errors.As(err, &re) || re.Size != 10000 || !errors.Is(err, fetch.ErrRangeNotSatisfiable) {
		t.Errorf("range past the end: %v", err)
	}
}

func TestHTTPRanges(t *testing.T) {
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ranged.bin": // honours Range, as most servers do
			w.Header().Set("ETag", `"v1"`)
			http.ServeContent(w, r, "ranged.bin", mod, bytes.NewReader(content))
		case "/plain.bin": // ignores Range
			w.Header().Set("Content-Length", "10000")
			w.Write(content)
		case "/nolength.bin": // ignores Range and gives no length
			w.(http.Flusher).Flush()
			w.Write(content)
		case "/wrong.bin": // answers another range than asked
			w.Header().Set("Content-Range", "bytes 0-9/10000")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(content[:10])
		}
	}))
	defer srv.Close()
	o := fetch.NewHTTP(fetch.HTTPOptions{AllowPrivate: true})
	t.Run("origin honours ranges", func(t *testing.T) { checkRanges(t, o, srv.URL+"/ranged.bin") })
	t.Run("origin ignores ranges", func(t *testing.T) { checkRanges(t, o, srv.URL+"/plain.bin") })

	obj, _, err := open(t, o, srv.URL+"/ranged.bin", nil)
	if err != nil || obj.ETag != `"v1"` || !obj.ModTime.Equal(mod) {
		t.Fatalf("validators: %+v %v", obj, err)
	}
	// Without a length the range cannot be placed: the whole object comes.
	obj, b, err := open(t, o, srv.URL+"/nolength.bin", &fetch.Range{Suffix: 10})
	if err != nil || obj.Ranged || obj.Size != -1 || !bytes.Equal(b, content) {
		t.Fatalf("no length: %+v %d %v", obj, len(b), err)
	}
	if _, _, err := open(t, o, srv.URL+"/wrong.bin", &fetch.Range{Offset: 5, Length: 5}); !errors.Is(err, fetch.ErrUnavailable) {
		t.Fatalf("another range than asked: %v", err)
	}
}

func newLocal(t *testing.T) (*localstorage.Backend, string) {
	t.Helper()
	root := t.TempDir()
	b := localstorage.New()
	cfg, _ := json.Marshal(map[string]any{"root": root})
	if err := b.Configure(context.Background(), plugin.Config(cfg)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return b, root
}

func TestStorageRanges(t *testing.T) {
	b, root := newLocal(t)
	if err := os.WriteFile(filepath.Join(root, "f.bin"), content, 0o600); err != nil {
		t.Fatal(err)
	}
	o := fetch.Storage{Backend: b}
	checkRanges(t, o, "local://f.bin")
	obj, _, err := open(t, o, "local://f.bin", nil)
	if err != nil || obj.ETag == "" || obj.ModTime.IsZero() || obj.Ranged || obj.Size != 10000 {
		t.Fatalf("whole object: %+v %v", obj, err)
	}
	if err := os.WriteFile(filepath.Join(root, "empty"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var re *fetch.RangeError
	if _, _, err := open(t, o, "local://empty", &fetch.Range{Offset: 0, Length: -1}); !errors.As(err, &re) || re.Size != 0 {
		t.Fatalf("range of an empty object: %v", err)
	}
}

func TestMuxRouting(t *testing.T) {
	ctx := context.Background()
	put := func(b storage.Backend, key, s string) {
		t.Helper()
		if _, err := b.Put(ctx, key, strings.NewReader(s), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	assets, archive := memstorage.New(), memstorage.New()
	for _, m := range []*memstorage.Backend{assets, archive} {
		if err := m.Configure(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	put(assets, "x/data.csv", "assets")
	put(archive, "data.csv", "archive")
	put(archive, "a b/c?.txt", "escaped")
	local, root := newLocal(t)
	put(local, "f.txt", "local file")
	if err := os.WriteFile(filepath.Join(filepath.Dir(root), "outside.txt"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	fileURL := "file://" + filepath.ToSlash(root) + "/"
	m := fetch.Mux{
		"s3://nvm-assets/":       fetch.Storage{Backend: assets, Prefix: "s3://nvm-assets/"},
		"s3://nvm-assets/x/old/": fetch.Storage{Backend: archive, Prefix: "s3://nvm-assets/x/old/"},
		"mem://":                 fetch.Storage{Backend: archive, Prefix: "mem://"},
		fileURL:                  fetch.Storage{Backend: local, Prefix: fileURL},
		"local://":               fetch.Storage{Backend: local, Prefix: "local://"},
		"legacy":                 fetch.Storage{Backend: archive},
	}
	for u, want := range map[string]string{
		"s3://nvm-assets/x/data.csv":     "assets",
		"S3://nvm-assets/x/data.csv":     "assets",  // schemes are case-insensitive
		"s3://nvm-assets/x/old/data.csv": "archive", // the longest prefix wins
		"mem://a%20b/c%3F.txt":           "escaped",
		fileURL + "f.txt":                "local file",
		"local://f.txt":                  "local file",
		"legacy://data.csv":              "archive",
	} {
		if _, b, err := open(t, m, u, nil); err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", u, b, err, want)
		}
	}
	for u, want := range map[string]error{
		"s3://other-bucket/x/data.csv":                  fetch.ErrUnsupported,
		"s3://nvm-assets/x/none":                        fetch.ErrNotFound,
		"s3://nvm-assets/":                              fetch.ErrNotFound,
		"s3://nvm-assets/../x/data.csv":                 fetch.ErrInvalidKey,
		"s3://nvm-assets/x/%2e%2e/data.csv":             fetch.ErrInvalidKey,
		"s3://nvm-assets//x/data.csv":                   fetch.ErrInvalidKey,
		"s3://nvm-assets/x/data.csv?v=1":                fetch.ErrInvalidKey,
		"s3://nvm-assets/%zz":                           fetch.ErrInvalidKey,
		fileURL + "../outside.txt":                      fetch.ErrInvalidKey,
		fileURL + "%2E%2E/outside.txt":                  fetch.ErrInvalidKey,
		"file://" + filepath.Dir(root) + "/outside.txt": fetch.ErrForbidden,
		"file:///etc/passwd":                            fetch.ErrForbidden,
		"other://x":                                     fetch.ErrUnsupported,
		"no-scheme":                                     fetch.ErrUnsupported,
		"":                                              fetch.ErrUnsupported,
	} {
		if _, b, err := open(t, m, u, nil); !errors.Is(err, want) {
			t.Errorf("%s: %q %v, want %v", u, b, err, want)
		}
	}
}

func TestIPFS(t *testing.T) {
	const cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	var gotAuth, gotMethod, gotPath string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotMethod, gotPath = r.Header.Get("Authorization"), r.Method, r.URL.Path
		switch {
		case r.URL.Path == "/ipfs/"+cid:
			w.Header().Set("ETag", `"`+cid+`"`)
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(content))
		case r.URL.Path == "/api/v0/cat" && r.URL.Query().Get("arg") == cid:
			w.Write(content)
		default:
			http.NotFound(w, r)
		}
	}))
	defer gw.Close()
	gateway, err := fetch.NewIPFS(fetch.IPFSOptions{Gateway: gw.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	m := fetch.Mux{"cid": gateway}
	checkRanges(t, m, "cid://"+cid)
	if gotMethod != "GET" || gotPath != "/ipfs/"+cid || gotAuth != "" {
		t.Errorf("gateway request %s %s %q", gotMethod, gotPath, gotAuth)
	}
	if _, _, err := open(t, m, "cid://bafkreimissing", nil); !errors.Is(err, fetch.ErrNotFound) {
		t.Errorf("unknown CID: %v", err)
	}
	for _, u := range []string{"cid://ba%2Fd", "cid://" + cid + "/../x"} {
		if _, _, err := open(t, m, u, nil); !errors.Is(err, fetch.ErrInvalidKey) {
			t.Errorf("%s: %v", u, err)
		}
	}

	api, err := fetch.NewIPFS(fetch.IPFSOptions{Gateway: gw.URL, API: true, Username: "id", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := open(t, api, "cid://"+cid, nil)
	if err != nil || !bytes.Equal(b, content) || gotMethod != "POST" || gotPath != "/api/v0/cat" || !strings.HasPrefix(gotAuth, "Basic ") {
		t.Fatalf("RPC cat: %d bytes %v, %s %s %q", len(b), err, gotMethod, gotPath, gotAuth)
	}
	if _, err := fetch.NewIPFS(fetch.IPFSOptions{Gateway: "ftp://x"}); err == nil {
		t.Error("an ftp gateway was accepted")
	}
}
