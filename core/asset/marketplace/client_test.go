package marketplace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/asset/marketplace"
	"github.com/nvm-node/nvm-node/core/asset/store"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureDDO(t testing.TB, name string) *asset.DDO {
	t.Helper()
	d, err := asset.DecodeDDO(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// storeServer serves a fresh node store over real HTTP.
func storeServer(t testing.TB, opts store.Options) (*store.Store, *httptest.Server) {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "md.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler(store.HandlerOptions{Guard: store.AllowAll{}}))
	t.Cleanup(func() { srv.Close(); _ = s.Close() })
	return s, srv
}

func newClient(t testing.TB, base string, opts marketplace.Options) *marketplace.Client {
	t.Helper()
	c, err := marketplace.New(base, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func post(t testing.TB, url string, body []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %d", url, resp.StatusCode)
	}
}

// TestClientAgainstStore publishes through the store's HTTP API and resolves
// through the client: both ends of the marketplace API, over a real socket.
func TestClientAgainstStore(t *testing.T) {
	_, srv := storeServer(t, store.Options{})
	for _, f := range []string{"ddo-access.json", "ddo-nft1155.json", "ddo-nft721.json"} {
		post(t, srv.URL+marketplace.DDOPath, fixture(t, f))
	}
	c := newClient(t, srv.URL+"/", marketplace.Options{}) // a trailing slash is fine
	ctx := context.Background()
	want := fixtureDDO(t, "ddo-nft1155.json")
	got, err := c.Resolve(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Raw(), want.Raw()) {
		t.Fatal("resolved DDO differs from the published one")
	}
	if e, _ := got.ERCType(); e != 1155 {
		t.Fatalf("typed view lost: ercType %d", e)
	}
	missing, _ := asset.ParseDID("did:nv:" + strings.Repeat("42", 32))
	if _, err := c.Resolve(ctx, missing); !errors.Is(err, asset.ErrNotFound) {
		t.Fatalf("unknown DID: %v", err)
	}

	res, err := c.Query(ctx, marketplace.QueryRequest{Query: json.RawMessage(`{"match":{"service.type":"nft"}}`), Offset: 1, Page: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.TotalResults != 2 || res.TotalPages != 2 || res.Page != 2 || len(res.Results) != 1 || res.Skipped != 0 {
		t.Fatalf("query: %+v", res)
	}
	if _, err := c.Query(ctx, marketplace.QueryRequest{Query: json.RawMessage(`{"fuzzy":{}}`)}); !errors.Is(err, asset.ErrUnavailable) {
		t.Fatalf("rejected query: %v", err)
	}

	addr := common.HexToAddress("0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1")
	p, err := c.ProfileByAddress(ctx, addr)
	if err != nil || p.UserID != store.UserIDForAddress(addr) {
		t.Fatalf("profile: %+v, %v", p, err)
	}
}

// TestCachedChain is the node's resolution path: cache in front of the own
// store then the marketplace, with store writes invalidating the cache.
func TestCachedChain(t *testing.T) {
	var cache *asset.Cache
	own, err := store.Open(filepath.Join(t.TempDir(), "own.db"), store.Options{OnChange: func(d asset.DID) { cache.Invalidate(d) }})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	_, remote := storeServer(t, store.Options{})
	post(t, remote.URL+marketplace.DDOPath, fixture(t, "ddo-nft721.json"))
	cache = asset.NewCache(asset.Chain{own, newClient(t, remote.URL, marketplace.Options{})}, asset.CacheOptions{})

	ctx := context.Background()
	remoteDoc := fixtureDDO(t, "ddo-nft721.json")
	if d, err := cache.Resolve(ctx, remoteDoc.ID); err != nil || d.ID != remoteDoc.ID {
		t.Fatalf("via the marketplace: %v", err)
	}
	local := fixtureDDO(t, "ddo-access.json")
	if _, err := cache.Resolve(ctx, local.ID); !errors.Is(err, asset.ErrNotFound) {
		t.Fatalf("before publishing: %v", err)
	}
	if err := own.Create(ctx, local); err != nil {
		t.Fatal(err)
	}
	if d, err := cache.Resolve(ctx, local.ID); err != nil || d.ID != local.ID {
		t.Fatalf("own store: %v", err)
	}
	revised, _ := asset.DecodeDDO(bytes.Replace(local.Raw(), []byte("UK weather 2011"), []byte("UK weather 2012"), 1))
	if err := own.Update(ctx, revised); err != nil {
		t.Fatal(err)
	}
	if d, _ := cache.Resolve(ctx, local.ID); !bytes.Contains(d.Raw(), []byte("2012")) {
		t.Fatal("cache served a DDO the store had replaced")
	}
}

func TestClientFailures(t *testing.T) {
	did := fixtureDDO(t, "ddo-access.json").ID
	other := fixture(t, "ddo-nft721.json")
	var slow atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case slow.Load():
			time.Sleep(300 * time.Millisecond)
		case strings.HasPrefix(r.URL.Path, "/status/"):
			var code int
			fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/status/")[:3], &code)
			w.WriteHeader(code)
			return
		case strings.HasPrefix(r.URL.Path, "/wrong/"):
			_, _ = w.Write(other) // another asset's DDO
			return
		case strings.HasPrefix(r.URL.Path, "/huge/"):
			_, _ = w.Write([]byte(`{"id":"` + did.String() + `","pad":"`))
			_, _ = w.Write(bytes.Repeat([]byte("a"), 2*asset.MaxDDOSize))
			_, _ = w.Write([]byte(`"}`))
			return
		case strings.HasPrefix(r.URL.Path, "/garbage/"):
			_, _ = w.Write([]byte("<html>oops</html>"))
			return
		case strings.HasPrefix(r.URL.Path, "/redirect/"):
			http.Redirect(w, r, "/redirect/again", http.StatusFound)
			return
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	tests := []struct {
		base string
		want error
	}{
		{"/status/500", asset.ErrUnavailable},
		{"/status/503", asset.ErrUnavailable},
		{"/status/400", asset.ErrUnavailable},
		{"/status/404", asset.ErrNotFound},
		{"/wrong/", asset.ErrInvalidDDO},
		{"/huge/", asset.ErrInvalidDDO},
		{"/garbage/", asset.ErrInvalidDDO},
		{"/redirect/", asset.ErrUnavailable},
	}
	for _, tc := range tests {
		c := newClient(t, srv.URL+tc.base, marketplace.Options{})
		if _, err := c.Resolve(ctx, did); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.base, err, tc.want)
		}
	}
	slow.Store(true)
	c := newClient(t, srv.URL, marketplace.Options{Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := c.Resolve(ctx, did)
	if !errors.Is(err, asset.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow marketplace: %v", err)
	}
	if time.Since(start) > 250*time.Millisecond {
		t.Errorf("timeout not enforced: %v", time.Since(start))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Resolve(cctx, did); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	// Nobody listening.
	dead := newClient(t, "http://127.0.0.1:1", marketplace.Options{})
	if _, err := dead.Resolve(ctx, did); !errors.Is(err, asset.ErrUnavailable) {
		t.Errorf("connection refused: %v", err)
	}
}

func TestFetchDDORefusesPrivateAddresses(t *testing.T) {
	_, srv := storeServer(t, store.Options{})
	post(t, srv.URL+marketplace.DDOPath, fixture(t, "ddo-access.json"))
	d := fixtureDDO(t, "ddo-access.json")
	u := srv.URL + marketplace.DDOPath + "/" + d.ID.String()
	ctx := context.Background()

	// The marketplace itself may be private (it is the operator's choice)...
	c := newClient(t, srv.URL, marketplace.Options{})
	if _, err := c.Resolve(ctx, d.ID); err != nil {
		t.Fatalf("private marketplace: %v", err)
	}
	// ...but a metadata URL from the DID registry may not lead there.
	_, err := c.FetchDDO(ctx, u, d.ID)
	if !errors.Is(err, asset.ErrUnavailable) || !strings.Contains(err.Error(), "not a public address") {
		t.Fatalf("private metadata URL: %v", err)
	}
	open := newClient(t, srv.URL, marketplace.Options{AllowPrivate: true})
	if got, err := open.FetchDDO(ctx, u, d.ID); err != nil || got.ID != d.ID {
		t.Fatalf("AllowPrivate: %v", err)
	}
	for _, bad := range []string{"file:///etc/passwd", "ftp://x/y", "://", "cid://Qm"} {
		if _, err := open.FetchDDO(ctx, bad, d.ID); !errors.Is(err, asset.ErrUnavailable) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	// The registry resolver wires a URL source to FetchDDO.
	r := asset.RegistryResolver{Source: urlSource{d.ID: u}, Fetcher: open}
	if got, err := r.Resolve(ctx, d.ID); err != nil || got.ID != d.ID {
		t.Fatalf("RegistryResolver: %v", err)
	}
}

type urlSource map[asset.DID]string

func (s urlSource) MetadataURL(_ context.Context, did asset.DID) (string, error) {
	if u, ok := s[did]; ok {
		return u, nil
	}
	return "", asset.ErrNotFound
}

func TestNewRejectsBadBase(t *testing.T) {
	for _, b := range []string{"", "localhost:3100", "ftp://x", "http://", "http://x/?q=1", "http://user:secret@%zz"} {
		_, err := marketplace.New(b, marketplace.Options{})
		if err == nil {
			t.Errorf("New(%q) accepted", b)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks a password: %v", err)
		}
	}
	c, err := marketplace.New("http://user:secret@127.0.0.1:1/prefix", marketplace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(context.Background(), fixtureDDO(t, "ddo-access.json").ID)
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks a password: %v", err)
	}
}

func BenchmarkResolveOverHTTP(b *testing.B) {
	_, srv := storeServer(b, store.Options{})
	post(b, srv.URL+marketplace.DDOPath, fixture(b, "ddo-nft1155.json"))
	c := newClient(b, srv.URL, marketplace.Options{})
	id := fixtureDDO(b, "ddo-nft1155.json").ID
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Resolve(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
