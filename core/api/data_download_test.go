package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/api"
	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/asset/store"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/fetch"
	"github.com/nvm-node/nvm-node/core/filecrypt"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage/localstorage"
)

// fileFixture is a node serving one asset whose file list the test writes,
// with files in a storage.local root, on an HTTP origin and on a fake IPFS
// gateway, all through the node's real router and a real HTTP client.
type fileFixture struct {
	*dataFixture
	root    string
	origin  *httptest.Server
	charges *countingCharger
}

// countingCharger counts credit charges.
type countingCharger struct{ n atomic.Int64 }

func (c *countingCharger) ChargeCredits(context.Context, common.Address, asset.DID, *asset.DDO) (common.Hash, error) {
	c.n.Add(1)
	return common.Hash{}, nil
}

func randomContent(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// newFileFixture serves files (name -> content) from a local root, from an
// origin that honours ranges (/r/<name>), one that ignores them (/p/<name>)
// and a gateway (/ipfs/<name>); list is the asset's file list, in which
// "{root}" and "{origin}" are replaced.
func newFileFixture(t *testing.T, files map[string][]byte, list []map[string]any) *fileFixture {
	t.Helper()
	root := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(root, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mod := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		b, err := os.ReadFile(filepath.Join(root, filepath.Base(name)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		switch kind {
		case "r", "ipfs":
			w.Header().Set("ETag", fmt.Sprintf(`"%x"`, len(b)))
			http.ServeContent(w, r, "", mod, bytes.NewReader(b))
		case "p":
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b)
		}
	}))
	t.Cleanup(origin.Close)

	local := localstorage.New()
	cfg, _ := json.Marshal(map[string]any{"root": root})
	if err := local.Configure(context.Background(), plugin.Config(cfg)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close(context.Background()) })
	gateway, err := fetch.NewIPFS(fetch.IPFSOptions{Gateway: origin.URL})
	if err != nil {
		t.Fatal(err)
	}
	fileRoot := "file://" + filepath.ToSlash(root) + "/"
	httpFiles := fetch.NewHTTP(fetch.HTTPOptions{AllowPrivate: true})
	charges := &countingCharger{}

	f := &fileFixture{root: root, origin: origin, charges: charges}
	var st *store.Store
	f.dataFixture = &dataFixture{}
	f.testNode = newTestNode(t, func(c *api.Config) {
		st = c.Metadata
		f.tokens, f.verify = c.Tokens, c.Verifier
		c.Charger = charges
		c.Files = fetch.Mux{
			"http": httpFiles, "cid": gateway,
			"local://": fetch.Storage{Backend: local, Prefix: "local://"},
			fileRoot:   fetch.Storage{Backend: local, Prefix: fileRoot},
		}
	})
	for _, e := range list {
		e["url"] = strings.NewReplacer("{root}", fileRoot, "{origin}", origin.URL).Replace(e["url"].(string))
	}
	plain, _ := json.Marshal(list)
	sealed, err := f.keys.EncryptPSKRSA(plain)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../asset/testdata/ddo-access.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc["service"].([]any) {
		if svc := s.(map[string]any); svc["type"] == "metadata" {
			attrs := svc["attributes"].(map[string]any)
			attrs["encryptedFiles"] = sealed
			attrs["main"].(map[string]any)["nftType"] = "nft1155-credit"
		}
	}
	f.did = doc["id"].(string)
	raw, _ = json.Marshal(doc)
	ddo, err := asset.DecodeDDO(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Create(context.Background(), ddo); err != nil {
		t.Fatal(err)
	}
	f.key, _ = crypto.GenerateKey()
	return f
}

// fetchFile downloads file index with extra headers.
func (f *fileFixture) fetchFile(t *testing.T, token string, index int, headers ...string) (*http.Response, []byte) {
	t.Helper()
	return f.do("GET", fmt.Sprintf("/api/v1/node/services/download/%d", index), "", nil, append([]string{"Authorization", "Bearer " + token}, headers...)...)
}

func TestDownloadRanges(t *testing.T) {
	content := randomContent(t, 300_000)
	f := newFileFixture(t, map[string][]byte{"f.bin": content, "bafytestcid": content}, []map[string]any{
		{"url": "local://f.bin", "name": "f.bin"},
		{"url": "{root}f.bin", "name": "f.bin"},
		{"url": "{origin}/r/f.bin", "name": "f.bin"},
		{"url": "{origin}/p/f.bin", "name": "f.bin"},
		{"url": "cid://bafytestcid"},
	})
	tok := f.token(t, map[string]any{"aud": auth.AudienceDownload, "did": f.did})
	size := int64(len(content))
	for index, source := range []string{"storage.local", "file:// via storage.local", "origin with ranges", "origin without ranges", "IPFS gateway"} {
		t.Run(source, func(t *testing.T) {
			resp, body := f.fetchFile(t, tok, index)
			if resp.StatusCode != 200 || !bytes.Equal(body, content) || resp.Header.Get("Accept-Ranges") != "bytes" ||
				resp.Header.Get("Content-Length") != strconv.FormatInt(size, 10) {
				t.Fatalf("whole file: %d, %d bytes, %v", resp.StatusCode, len(body), resp.Header)
			}
			if index != 3 && (resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "") {
				t.Errorf("validators missing: %v", resp.Header)
			}
			for _, c := range []struct {
				header     string
				first, end int64 // expected bytes [first, end)
			}{
				{"bytes=0-0", 0, 1},
				{"bytes=1000-1999", 1000, 2000},
				{"bytes=299000-", 299000, size},
				{"bytes=-500", size - 500, size},
				{"bytes=-999999", 0, size},
				{"bytes=299990-400000", 299990, size},
				{"bytes=0-", 0, size},
			} {
				resp, body := f.fetchFile(t, tok, index, "Range", c.header)
				want := fmt.Sprintf("bytes %d-%d/%d", c.first, c.end-1, size)
				if resp.StatusCode != 206 || resp.Header.Get("Content-Range") != want ||
					resp.Header.Get("Content-Length") != strconv.FormatInt(c.end-c.first, 10) || !bytes.Equal(body, content[c.first:c.end]) {
					t.Errorf("%s: %d %q, %d bytes", c.header, resp.StatusCode, resp.Header.Get("Content-Range"), len(body))
				}
			}
			for _, h := range []string{"bytes=300000-", "bytes=400000-400010", "bytes=-0"} {
				resp, _ := f.fetchFile(t, tok, index, "Range", h)
				if resp.StatusCode != 416 || resp.Header.Get("Content-Range") != "bytes */300000" {
					t.Errorf("%s: %d %q, want 416 bytes */300000", h, resp.StatusCode, resp.Header.Get("Content-Range"))
				}
			}
			// Several ranges, other units and nonsense: the whole file.
			for _, h := range []string{"bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=x-", "bytes=--1"} {
				if resp, body := f.fetchFile(t, tok, index, "Range", h); resp.StatusCode != 200 || !bytes.Equal(body, content) {
					t.Errorf("%s: %d, %d bytes; want the whole file", h, resp.StatusCode, len(body))
				}
			}
		})
	}
}

func TestDownloadResume(t *testing.T) {
	content := randomContent(t, 1<<20)
	f := newFileFixture(t, map[string][]byte{"f.bin": content}, []map[string]any{
		{"url": "local://f.bin", "name": "f.bin"},
		{"url": "{origin}/r/f.bin", "name": "f.bin"},
	})
	tok := f.token(t, map[string]any{"aud": auth.AudienceDownload, "did": f.did})
	for index := range 2 {
		t.Run(fmt.Sprint(index), func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(f.root, "f.bin"), content, 0o600); err != nil {
				t.Fatal(err)
			}
			// An interrupted download: the client hangs up after 100000 bytes.
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/node/services/download/%d", f.srv.URL, index), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			etag := resp.Header.Get("ETag")
			got := make([]byte, 100000)
			if _, err := io.ReadFull(resp.Body, got); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if etag == "" || !strings.HasPrefix(etag, `"`) {
				t.Fatalf("no strong ETag: %q", etag)
			}
			// The ETag is stable across requests.
			if again, _ := f.fetchFile(t, tok, index, "Range", "bytes=0-0"); again.Header.Get("ETag") != etag {
				t.Fatalf("ETag changed: %q then %q", etag, again.Header.Get("ETag"))
			}
			resp, rest := f.fetchFile(t, tok, index, "Range", "bytes=100000-", "If-Range", etag)
			if resp.StatusCode != 206 || !bytes.Equal(append(got, rest...), content) {
				t.Fatalf("resume: %d, %d bytes, identical %v", resp.StatusCode, len(rest), bytes.Equal(append(got, rest...), content))
			}

			// The file changes: the resume gets the whole new file.
			changed := randomContent(t, 50000)
			if err := os.WriteFile(filepath.Join(f.root, "f.bin.new"), changed, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(f.root, "f.bin.new"), filepath.Join(f.root, "f.bin")); err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"bytes=100000-", "bytes=10-20"} {
				resp, body := f.fetchFile(t, tok, index, "Range", h, "If-Range", etag)
				if resp.StatusCode != 200 || !bytes.Equal(body, changed) || resp.Header.Get("ETag") == etag {
					t.Fatalf("%s after a change: %d, %d bytes, ETag %q", h, resp.StatusCode, len(body), resp.Header.Get("ETag"))
				}
			}
			// Without If-Range the range is served from the new file.
			if resp, body := f.fetchFile(t, tok, index, "Range", "bytes=10-19"); resp.StatusCode != 206 || !bytes.Equal(body, changed[10:20]) {
				t.Fatalf("range of the new file: %d", resp.StatusCode)
			}
		})
	}
}

// sealContent encrypts plain as nvm-aead-v1.
func sealContent(t *testing.T, plain []byte, password string) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := filecrypt.NewWriter(&out, password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestEncryptedDownload(t *testing.T) {
	pw, _ := filecrypt.NewPassword()
	plain := randomContent(t, 5*65536+1234)
	sealed := sealContent(t, plain, pw)
	// Chunk 3 (of 6) altered: bytes before it may be served, none from it.
	late := bytes.Clone(sealed)
	late[filecrypt.HeaderSize+3*(65536+16)+100] ^= 1
	early := bytes.Clone(sealed)
	early[filecrypt.HeaderSize+10] ^= 1
	saltedPlain := []byte("legacy upload \x00\xff\x80 bytes")
	salted, err := filecrypt.EncryptSalted(saltedPlain, pw)
	if err != nil {
		t.Fatal(err)
	}
	f := newFileFixture(t, map[string][]byte{"s.enc": sealed, "late.enc": late, "early.enc": early, "salted.enc": salted}, []map[string]any{
		{"url": "local://s.enc", "name": "data.bin", "encryption": filecrypt.Scheme, "password": pw},
		{"url": "{origin}/r/s.enc", "name": "data.bin", "encryption": filecrypt.Scheme, "password": pw},
		{"url": "local://late.enc", "encryption": filecrypt.Scheme, "password": pw},
		{"url": "local://early.enc", "encryption": filecrypt.Scheme, "password": pw},
		{"url": "local://salted.enc", "name": "old.txt", "password": pw},
		{"url": "local://s.enc", "name": "raw.enc"},
	})
	tok := f.token(t, map[string]any{"aud": auth.AudienceDownload, "did": f.did})
	size := int64(len(plain))

	for index := range 2 {
		resp, body := f.fetchFile(t, tok, index)
		if resp.StatusCode != 200 || !bytes.Equal(body, plain) || resp.Header.Get("Content-Length") != strconv.FormatInt(size, 10) ||
			resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("ETag") == "" {
			t.Fatalf("file %d whole: %d, %d bytes, %v", index, resp.StatusCode, len(body), resp.Header)
		}
		for _, r := range [][2]int64{{0, 1}, {65535, 65537}, {100000, 300000}, {size - 10, size}, {65536, 2 * 65536}, {0, size}} {
			resp, body := f.fetchFile(t, tok, index, "Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]-1))
			if resp.StatusCode != 206 || !bytes.Equal(body, plain[r[0]:r[1]]) ||
				resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", r[0], r[1]-1, size) {
				t.Errorf("file %d range %v: %d %q, %d bytes", index, r, resp.StatusCode, resp.Header.Get("Content-Range"), len(body))
			}
		}
		if resp, body := f.fetchFile(t, tok, index, "Range", "bytes=-100"); resp.StatusCode != 206 || !bytes.Equal(body, plain[size-100:]) {
			t.Errorf("file %d suffix: %d", index, resp.StatusCode)
		}
		if resp, _ := f.fetchFile(t, tok, index, "Range", fmt.Sprintf("bytes=%d-", size)); resp.StatusCode != 416 ||
			resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
			t.Errorf("file %d past the plaintext: %d %q", index, resp.StatusCode, resp.Header.Get("Content-Range"))
		}
	}

	// Tampered after the headers: the body stops before the bad chunk.
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/node/services/download/2", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil || len(got) > 3*65536 || !bytes.Equal(got, plain[:len(got)]) {
		t.Fatalf("late tampering: %d, %d bytes, read error %v; want a cut body of authenticated bytes only", resp.StatusCode, len(got), err)
	}
	// Tampered where the answer starts: 502, nothing served.
	if resp, body := f.fetchFile(t, tok, 3); resp.StatusCode != 502 || bytes.Contains(body, plain[:16]) {
		t.Fatalf("early tampering: %d %s", resp.StatusCode, body)
	}
	if resp, _ := f.fetchFile(t, tok, 2, "Range", fmt.Sprintf("bytes=%d-%d", 3*65536+10, 3*65536+20)); resp.StatusCode != 502 {
		t.Fatalf("a range in the tampered chunk: %d", resp.StatusCode)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "failed authentication") || strings.Contains(logs, pw) {
		t.Errorf("tampering must be logged, the password never: %s", logs)
	}

	// Legacy Salted__: decrypted whole, ranges ignored.
	for _, h := range []string{"", "bytes=2-5"} {
		resp, body := f.fetchFile(t, tok, 4, "Range", h)
		if resp.StatusCode != 200 || !bytes.Equal(body, saltedPlain) || resp.Header.Get("Accept-Ranges") != "none" {
			t.Errorf("salted %q: %d %q %v", h, resp.StatusCode, body, resp.Header)
		}
	}
	// Without a password the stored bytes are served as they are.
	if resp, body := f.fetchFile(t, tok, 5); resp.StatusCode != 200 || !bytes.Equal(body, sealed) {
		t.Errorf("no password: %d", resp.StatusCode)
	}
	// result=url answers the URL, never the password.
	resp2, body := f.do("GET", "/api/v1/node/services/download/0?result=url", "", nil, "Authorization", "Bearer "+tok)
	if resp2.StatusCode != 200 || string(body) != "local://s.enc" {
		t.Errorf("result=url: %d %q", resp2.StatusCode, body)
	}
}

func TestDownloadRouting(t *testing.T) {
	f := newFileFixture(t, map[string][]byte{"f.txt": []byte("inside")}, []map[string]any{
		{"url": "file:///etc/hostname"},
		{"url": "{root}../outside.txt"},
		{"url": "local://a/../../outside.txt"},
		{"url": "local://%2e%2e/outside.txt"},
		{"url": "s3://bucket/f.txt"},
		{"url": "{root}f.txt"},
	})
	if err := os.WriteFile(filepath.Join(filepath.Dir(f.root), "outside.txt"), []byte("OUTSIDE-SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := f.token(t, map[string]any{"aud": auth.AudienceDownload, "did": f.did})
	for index, want := range []int{403, 400, 400, 400, 501, 200} {
		if resp, body := f.fetchFile(t, tok, index); resp.StatusCode != want || bytes.Contains(body, []byte("OUTSIDE-SECRET")) {
			t.Errorf("file %d: %d %s, want %d", index, resp.StatusCode, body, want)
		}
	}
}

// TestCreditsChargedOncePerDownload: the requests of one resumed or split
// download of one file version cost one charge; a new token or a changed
// file costs another; a request that serves nothing costs nothing.
func TestCreditsChargedOncePerDownload(t *testing.T) {
	content := randomContent(t, 100000)
	pw, _ := filecrypt.NewPassword()
	bad := sealContent(t, content, pw)
	bad[filecrypt.HeaderSize+5] ^= 1
	f := newFileFixture(t, map[string][]byte{"f.bin": content, "bad.enc": bad}, []map[string]any{
		{"url": "local://f.bin"}, {"url": "local://missing"}, {"url": "local://bad.enc", "encryption": filecrypt.Scheme, "password": pw},
	})
	tok := f.token(t, map[string]any{"aud": auth.AudienceNFTAccess, "did": f.did, "sub": "0x"})
	check := func(step string, want int64) {
		t.Helper()
		if got := f.charges.n.Load(); got != want {
			t.Fatalf("%s: %d charges, want %d", step, got, want)
		}
	}
	for _, h := range []string{"bytes=50000-", "bytes=0-49999", "", "bytes=-10"} {
		if resp, _ := f.fetchFile(t, tok, 0, "Range", h); resp.StatusCode/100 != 2 {
			t.Fatalf("%q: %d", h, resp.StatusCode)
		}
	}
	check("one download in pieces", 1)
	f.fetchFile(t, tok, 1)
	f.fetchFile(t, tok, 0, "Range", "bytes=200000-")
	if resp, _ := f.fetchFile(t, tok, 2); resp.StatusCode != 502 {
		t.Fatalf("a file that does not decrypt: %d", resp.StatusCode)
	}
	check("a missing file, a 416 and a file that does not decrypt", 1)
	other := f.token(t, map[string]any{"aud": auth.AudienceNFTAccess, "did": f.did, "sub": "0x", "nonce": "second"})
	f.fetchFile(t, other, 0)
	check("another token", 2)
	third := f.token(t, map[string]any{"aud": auth.AudienceNFTAccess, "did": f.did, "sub": "0x", "nonce": "third"})
	resp, body := f.do("HEAD", "/api/v1/node/services/download/0", "", nil, "Authorization", "Bearer "+third, "Range", "bytes=10-19")
	if resp.StatusCode != 206 || len(body) != 0 || resp.Header.Get("Content-Range") != "bytes 10-19/100000" || resp.Header.Get("ETag") == "" {
		t.Fatalf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = f.do("HEAD", "/api/v1/node/services/download/0", "", nil, "Authorization", "Bearer "+third)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != "100000" || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
	check("HEAD", 2)
	if err := os.WriteFile(filepath.Join(f.root, "f.bin.new"), content[:10], 0o600); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(f.root, "f.bin.new"), filepath.Join(f.root, "f.bin"))
	f.fetchFile(t, tok, 0)
	check("a changed file", 3)
}
