package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nvm-node/nvm-node/core/api"
	"github.com/nvm-node/nvm-node/core/asset/store"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/fetch"
	"github.com/nvm-node/nvm-node/core/filecrypt"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
)

const uploadURL = "/api/v1/node/services/upload/"

// uploadFixture is a node with one writable in-memory backend "mem",
// served as "mem://bucket/", and a read-only one.
type uploadFixture struct {
	*testNode
	mem    *memstorage.Backend
	tokens *auth.Tokens
	prefix string // of the answered URLs, "mem://bucket/" unless changed
}

func withUploads(mem storage.Backend, maxBytes int64) option {
	return func(c *api.Config) {
		c.Upload = api.UploadConfig{
			Targets: map[string]api.UploadTarget{
				"mem":      {Backend: mem, URLPrefix: "mem://bucket/", Writable: true},
				"readonly": {Backend: mem, URLPrefix: "ro://", Writable: false},
			},
			MaxBytes: maxBytes,
		}
	}
}

func newUploadFixture(t *testing.T, opts ...option) *uploadFixture {
	t.Helper()
	f := &uploadFixture{mem: newMem(t), prefix: "mem://bucket/"}
	all := append([]option{withUploads(f.mem, 16<<20), func(c *api.Config) { f.tokens = c.Tokens }}, opts...)
	f.testNode = newTestNode(t, all...)
	return f
}

// newMem returns a configured in-memory backend.
func newMem(t *testing.T) *memstorage.Backend {
	t.Helper()
	m := memstorage.New()
	if err := m.Configure(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// part is one part of a multipart body; a filename makes it a file part.
type part struct {
	name, filename string
	data           []byte
}

func multipartBody(t testing.TB, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

type uploadAnswer struct {
	URL      string `json:"url"`
	Password string `json:"password"`
}

// upload posts a multipart body and expects 201.
func (f *uploadFixture) upload(parts ...part) uploadAnswer {
	f.t.Helper()
	ct, body := multipartBody(f.t, parts...)
	resp, got := f.do("POST", uploadURL+"mem", ct, body)
	if resp.StatusCode != http.StatusCreated {
		f.t.Fatalf("upload: %d %s", resp.StatusCode, got)
	}
	var a uploadAnswer
	if err := json.Unmarshal(got, &a); err != nil {
		f.t.Fatal(err)
	}
	return a
}

// stored returns the bytes stored at the answer's URL.
func (f *uploadFixture) stored(a uploadAnswer) []byte {
	f.t.Helper()
	key, ok := strings.CutPrefix(a.URL, f.prefix)
	if !ok {
		f.t.Fatalf("url %q lacks the backend's prefix", a.URL)
	}
	rc, _, err := f.mem.Get(context.Background(), key, storage.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// plain returns the plaintext at the answer's URL, decrypting with its
// password when there is one.
func (f *uploadFixture) plain(a uploadAnswer) []byte {
	f.t.Helper()
	b := f.stored(a)
	if a.Password == "" {
		return b
	}
	r, err := filecrypt.NewReader(bytes.NewReader(b), a.Password)
	if err != nil {
		f.t.Fatal(err)
	}
	pt, err := io.ReadAll(r)
	if err != nil {
		f.t.Fatalf("stored object does not decrypt: %v", err)
	}
	return pt
}

// keys lists the backend's objects.
func (f *uploadFixture) keys() []string {
	f.t.Helper()
	page, err := f.mem.List(context.Background(), storage.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	var keys []string
	for _, o := range page.Objects {
		keys = append(keys, o.Key)
	}
	return keys
}

func allByteValues() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

var fileKeyRE = regexp.MustCompile(`^mem://bucket/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/`)

// TestUploadFiles: binary files of every size class round-trip, plain and
// encrypted, with encrypt before or after the file part (after: the SDK's
// order). The node's max_body_bytes is 64 KiB here, so the 3 MiB file
// takes the path where it is stored encrypted before encrypt is known.
func TestUploadFiles(t *testing.T) {
	f := newUploadFixture(t)
	files := map[string][]byte{
		"bytes.bin": allByteValues(),
		"empty.txt": {},
		"small.bin": randomBytes(t, 1000),
		"big.bin":   randomBytes(t, 3<<20+7),
	}
	for name, data := range files {
		file := part{name: "file", filename: name, data: data}
		for _, tc := range []struct {
			desc    string
			parts   []part
			encrypt bool
		}{
			{"file only", []part{file}, false},
			{"encrypt true first", []part{{name: "encrypt", data: []byte("true")}, file}, true},
			{"encrypt true last", []part{file, {name: "encrypt", data: []byte("true")}}, true},
			{"encrypt 1 last", []part{file, {name: "encrypt", data: []byte("1")}}, true},
			{`encrypt "false" first`, []part{{name: "encrypt", data: []byte("false")}, file}, false},
			{`encrypt "false" last`, []part{file, {name: "encrypt", data: []byte("false")}}, false},
			{"other fields around", []part{{name: "note", data: []byte("x")}, file, {name: "encrypt", data: []byte("0")}}, false},
		} {
			before := len(f.keys())
			a := f.upload(tc.parts...)
			if !fileKeyRE.MatchString(a.URL) || !strings.Contains(a.URL, "/"+name) {
				t.Fatalf("%s %s: url %q is not mem://bucket/<uuid>/<name>", name, tc.desc, a.URL)
			}
			if tc.encrypt != (a.Password != "") || tc.encrypt != strings.HasSuffix(a.URL, ".encrypted") {
				t.Fatalf("%s %s: encrypt %v but url %q, password set %v", name, tc.desc, tc.encrypt, a.URL, a.Password != "")
			}
			if got := f.plain(a); !bytes.Equal(got, data) {
				t.Fatalf("%s %s: %d bytes came back, want %d", name, tc.desc, len(got), len(data))
			}
			if tc.encrypt && len(data) > 16 && bytes.Contains(f.stored(a), data[:16]) {
				t.Fatalf("%s %s: plaintext stored", name, tc.desc)
			}
			// Exactly one new object: a file stored encrypted while encrypt
			// was unknown leaves no copy behind.
			if n := len(f.keys()); n != before+1 {
				t.Fatalf("%s %s: %d objects stored, want 1: %v", name, tc.desc, n-before, f.keys())
			}
		}
	}
	_, metrics := f.do("GET", "/metrics", "", nil)
	for _, want := range []string{
		`nvm_upload_bytes_total{backend="mem",encrypted="true"}`,
		`nvm_upload_objects_total{backend="mem",result="stored"} 28`,
		`nvm_upload_rewrites_total{backend="mem"} 3`, // big.bin, encrypt false or absent after the file
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestUploadKeepsNamesReadable(t *testing.T) {
	f := newUploadFixture(t)
	for name, want := range map[string]string{
		"report 2024.pdf":                    "/report_2024.pdf",
		"../../etc/passwd":                   "/passwd",
		`C:\Users\me\a.txt`:                  "/a.txt",
		"données.csv":                        "/donn_es.csv",
		"..hidden":                           "/hidden",
		"a?b#c%d.txt":                        "/a_b_c_d.txt",
		strings.Repeat("x", 300) + ".tar.gz": "/" + strings.Repeat("x", 197) + ".gz",
	} {
		a := f.upload(part{name: "file", filename: name, data: []byte("x")})
		if !strings.HasSuffix(a.URL, want) || strings.Count(a.URL, "/") != 4 {
			t.Errorf("%q stored at %q, want a name %q", name, a.URL, want)
		}
	}
}

func TestUploadMessages(t *testing.T) {
	f := newUploadFixture(t)
	msgKey := regexp.MustCompile(`^mem://bucket/fileUpload_[0-9a-f]{64}\.data(\.encrypted)?$`)
	for _, tc := range []struct {
		desc, contentType string
		body              []byte
		encrypt           bool
	}{
		{"json", "application/json", []byte(`{"message":"héllo"}`), false},
		{"json encrypt true", "application/json", []byte(`{"message":"héllo","encrypt":true}`), true},
		{`json encrypt "true"`, "application/json", []byte(`{"encrypt":"true","message":"héllo"}`), true},
		{`json encrypt "false"`, "application/json", []byte(`{"message":"héllo","encrypt":"false"}`), false},
		{"form", "application/x-www-form-urlencoded", []byte(`message=h%C3%A9llo&encrypt=1`), true},
	} {
		resp, got := f.do("POST", uploadURL+"mem", tc.contentType, tc.body)
		if resp.StatusCode != 201 {
			t.Fatalf("%s: %d %s", tc.desc, resp.StatusCode, got)
		}
		var a uploadAnswer
		json.Unmarshal(got, &a)
		if !msgKey.MatchString(a.URL) || tc.encrypt != (a.Password != "") || tc.encrypt != strings.HasSuffix(a.URL, ".encrypted") {
			t.Fatalf("%s: %s", tc.desc, got)
		}
		if p := f.plain(a); string(p) != "héllo" {
			t.Fatalf("%s: stored %q", tc.desc, p)
		}
	}
	for _, order := range [][]part{
		{{name: "message", data: []byte("hi")}, {name: "encrypt", data: []byte("true")}},
		{{name: "encrypt", data: []byte("true")}, {name: "message", data: []byte("hi")}},
	} {
		a := f.upload(order...)
		if a.Password == "" || !msgKey.MatchString(a.URL) || string(f.plain(a)) != "hi" {
			t.Fatalf("multipart message: %+v", a)
		}
	}
}

func TestUploadRefusals(t *testing.T) {
	f := newUploadFixture(t, func(c *api.Config) { c.Upload.MaxBytes = 1 << 20 })
	file := part{name: "file", filename: "a.bin", data: []byte("data")}
	ctFile, bodyFile := multipartBody(t, file)
	ctNone, bodyNone := multipartBody(t, part{name: "encrypt", data: []byte("true")})
	ctBad, bodyBad := multipartBody(t, file, part{name: "encrypt", data: []byte("yes")})
	ctTwo, bodyTwo := multipartBody(t, file, file)
	ctOther, bodyOther := multipartBody(t, part{name: "upload", filename: "a.bin", data: []byte("x")})
	ctEmpty, bodyEmpty := multipartBody(t, part{name: "message", data: nil})
	ctBig, bodyBig := multipartBody(t, part{name: "file", filename: "big", data: make([]byte, 1<<20+1)})
	for _, tc := range []struct {
		desc, backend, contentType string
		body                       []byte
		status                     int
		message                    string
	}{
		{"unknown backend", "ipfs", ctFile, bodyFile, 400, "Backend ipfs not supported"},
		{"read-only backend", "readonly", ctFile, bodyFile, 501, "Backend readonly is read-only: it does not accept uploads"},
		{"no file or message", "mem", ctNone, bodyNone, 400, "No file or message in request"},
		{"empty message", "mem", ctEmpty, bodyEmpty, 400, "No file or message in request"},
		{"empty JSON", "mem", "application/json", []byte(`{}`), 400, "No file or message in request"},
		{"message not a string", "mem", "application/json", []byte(`{"message":5}`), 400, "message must be a string"},
		{"encrypt yes", "mem", ctBad, bodyBad, 400, "encrypt must be true or false"},
		{"encrypt 2", "mem", "application/json", []byte(`{"message":"m","encrypt":2}`), 400, "encrypt must be true or false"},
		{"two files", "mem", ctTwo, bodyTwo, 400, "send one file per upload"},
		{"file under another name", "mem", ctOther, bodyOther, 400, `Unexpected field "upload"`},
		{"plain text", "mem", "text/plain", []byte("hello"), 415, "send multipart/form-data"},
		{"no content type", "mem", "", []byte("hello"), 415, "send multipart/form-data"},
		{"multipart without boundary", "mem", "multipart/form-data", []byte("hello"), 400, "malformed multipart body"},
		{"truncated multipart", "mem", ctFile, bodyFile[:len(bodyFile)-10], 400, "could not be read"},
		{"too large", "mem", ctBig, bodyBig, 413, "larger than 1048576 bytes"},
	} {
		resp, got := f.do("POST", uploadURL+tc.backend, tc.contentType, tc.body)
		var e struct {
			Message any `json:"message"`
		}
		json.Unmarshal(got, &e)
		if resp.StatusCode != tc.status || !strings.Contains(fmt.Sprint(e.Message), tc.message) {
			t.Errorf("%s: %d %s; want %d %q", tc.desc, resp.StatusCode, got, tc.status, tc.message)
		}
		if keys := f.keys(); len(keys) != 0 {
			t.Fatalf("%s left objects behind: %v", tc.desc, keys)
		}
	}
	// Oversize without a Content-Length is cut while streaming, and what
	// was stored so far is removed.
	for _, encryptFirst := range []bool{false, true} {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			if encryptFirst {
				mw.WriteField("encrypt", "true")
			}
			w, _ := mw.CreateFormFile("file", "huge.bin")
			w.Write(make([]byte, 3<<20))
			mw.Close()
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", f.srv.URL+uploadURL+"mem", pr)
		req.ContentLength = -1
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pr.CloseWithError(io.ErrClosedPipe)
		if resp.StatusCode != 413 {
			t.Fatalf("chunked oversize (encrypt first %v): %d %s", encryptFirst, resp.StatusCode, got)
		}
		if keys := f.keys(); len(keys) != 0 {
			t.Fatalf("oversize upload left objects: %v", keys)
		}
	}
}

// TestUploadInterrupted: a client that disconnects mid-upload leaves no
// object, whichever path its file took.
func TestUploadInterrupted(t *testing.T) {
	mem := newMem(t)
	watched := &watchedBackend{Backend: mem, reading: make(chan struct{}, 1)}
	f := newUploadFixture(t, withUploads(watched, 16<<20))
	f.mem = mem
	for i, first := range [][]part{
		nil, // encrypt unknown and the file large: stored encrypted while streaming
		{{name: "encrypt", data: []byte("true")}},
		{{name: "encrypt", data: []byte("false")}},
	} {
		conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for _, p := range first {
			mw.WriteField(p.name, string(p.data))
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="cut.bin"`)
		w, _ := mw.CreatePart(h)
		w.Write(randomBytes(t, 1<<20))
		// Promise 10 MiB, send 1 MiB, wait until the backend is reading
		// it, and hang up.
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", uploadURL+"mem", mw.FormDataContentType(), 10<<20)
		conn.Write(body.Bytes())
		select {
		case <-watched.reading:
		case <-time.After(10 * time.Second):
			t.Fatalf("case %d: the upload never reached the backend", i)
		}
		conn.Close()
		waitFor(t, "the upload to fail", func() bool {
			return strings.Contains(f.metric(t, "nvm_upload_objects_total"), fmt.Sprintf(`nvm_upload_objects_total{backend="mem",result="failed"} %d`, i+1))
		})
		if keys := f.keys(); len(keys) != 0 {
			t.Fatalf("case %d: interrupted upload left %v", i, keys)
		}
	}
}

// watchedBackend signals when a Put has read its first bytes.
type watchedBackend struct {
	storage.Backend
	reading chan struct{}
}

func (w *watchedBackend) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	return w.Backend.Put(ctx, key, &signalReader{r: r, c: w.reading}, opts)
}

type signalReader struct {
	r    io.Reader
	c    chan struct{}
	done bool
}

func (s *signalReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 && !s.done {
		s.done = true
		select {
		case s.c <- struct{}{}:
		default:
		}
	}
	return n, err
}

func (f *uploadFixture) metric(t *testing.T, name string) string {
	t.Helper()
	resp, err := http.Get(f.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), name) {
			lines = append(lines, sc.Text())
		}
	}
	return strings.Join(lines, "\n")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUploadLogin(t *testing.T) {
	allowed, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	f := newUploadFixture(t, func(c *api.Config) {
		c.Upload.RequireLogin = true
		c.Upload.Uploaders = []common.Address{crypto.PubkeyToAddress(allowed.PublicKey)}
	})
	ct, body := multipartBody(t, part{name: "file", filename: "a", data: []byte("x")})
	if resp, got := f.do("POST", uploadURL+"mem", ct, body); resp.StatusCode != 401 {
		t.Fatalf("no token: %d %s", resp.StatusCode, got)
	}
	if resp, got := f.do("POST", uploadURL+"mem", ct, body, "Authorization", "Bearer nonsense"); resp.StatusCode != 401 {
		t.Fatalf("bad token: %d %s", resp.StatusCode, got)
	}
	tokenFor := func(t *testing.T, key *ecdsa.PrivateKey) string {
		t.Helper()
		// A plain login, as POST /oauth/token issues for an assertion
		// without aud.
		now := time.Now().Unix()
		payload, _ := json.Marshal(map[string]any{"iss": crypto.PubkeyToAddress(key.PublicKey).Hex(), "iat": now, "exp": now + 3600})
		jwt, err := auth.SignAssertion(key, payload)
		if err != nil {
			t.Fatal(err)
		}
		v, err := auth.NewVerifier(auth.VerifierConfig{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := v.Verify(context.Background(), jwt)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := f.tokens.Issue(a)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if resp, got := f.do("POST", uploadURL+"mem", ct, body, "Authorization", "Bearer "+tokenFor(t, other)); resp.StatusCode != 403 {
		t.Fatalf("address not allowed: %d %s", resp.StatusCode, got)
	}
	if resp, got := f.do("POST", uploadURL+"mem", ct, body, "Authorization", "Bearer "+tokenFor(t, allowed)); resp.StatusCode != 201 {
		t.Fatalf("allowed uploader: %d %s", resp.StatusCode, got)
	}
}

// TestUploadOutlivesServerTimeouts: an upload that trickles in for longer
// than the server's read and write timeouts, into a backend that then
// takes longer than the write timeout to finish, still succeeds.
func TestUploadOutlivesServerTimeouts(t *testing.T) {
	mem := newMem(t)
	slow := &slowBackend{Backend: mem, after: 1500 * time.Millisecond}
	cfg := baseConfig(t, discard())
	withUploads(slow, 16<<20)(&cfg)
	h, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = time.Second
	srv.Config.WriteTimeout = time.Second
	srv.Start()
	t.Cleanup(srv.Close)

	data := randomBytes(t, 200<<10)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		w, _ := mw.CreateFormFile("file", "slow.bin")
		for i := 0; i < len(data); i += 20 << 10 {
			w.Write(data[i : i+20<<10])
			time.Sleep(250 * time.Millisecond) // 2.5 s in all
		}
		mw.WriteField("encrypt", "true")
		mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", srv.URL+uploadURL+"mem", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("slow upload: %d %s", resp.StatusCode, got)
	}
	var a uploadAnswer
	json.Unmarshal(got, &a)
	key := strings.TrimPrefix(a.URL, "mem://bucket/")
	rc, _, err := mem.Get(context.Background(), key, storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := filecrypt.NewReader(rc, a.Password)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := io.ReadAll(r); err != nil || !bytes.Equal(pt, data) {
		t.Fatalf("slow upload stored wrongly: %v", err)
	}
}

// slowBackend takes a while to finish each Put after reading its data, as
// a remote backend committing a multipart upload does.
type slowBackend struct {
	storage.Backend
	after time.Duration
}

func (s *slowBackend) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	info, err := s.Backend.Put(ctx, key, r, opts)
	if err == nil {
		select {
		case <-time.After(s.after):
		case <-ctx.Done():
			s.Backend.Delete(context.Background(), key)
			return storage.ObjectInfo{}, ctx.Err()
		}
	}
	return info, err
}

func TestUploadNeverLogsThePassword(t *testing.T) {
	f := newUploadFixture(t)
	a := f.upload(part{name: "encrypt", data: []byte("true")}, part{name: "file", filename: "s.txt", data: []byte("secret")})
	if a.Password == "" || strings.Contains(f.logs.String(), a.Password) {
		t.Fatalf("password missing from the answer or present in the logs:\n%s", f.logs)
	}
	if !strings.Contains(f.logs.String(), "upload stored") {
		t.Fatalf("upload not logged:\n%s", f.logs)
	}
}

// sinkBackend keeps only the size and a hash of what each Put receives.
type sinkBackend struct {
	storage.Backend
	mu   sync.Mutex
	puts map[string][2]any // key -> size, sha256
}

func (s *sinkBackend) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	s.mu.Lock()
	s.puts[key] = [2]any{n, fmt.Sprintf("%x", h.Sum(nil))}
	s.mu.Unlock()
	return storage.ObjectInfo{Key: key, Size: n}, nil
}

// TestUploadStreamsWithFlatMemory: 256 MiB uploads, plain and encrypted
// (encrypt before and after the file), go through the handler into the
// backend allocating a small fraction of their size: nothing is buffered
// whole.
func TestUploadStreamsWithFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 768 MiB")
	}
	sink := &sinkBackend{Backend: newMem(t), puts: map[string][2]any{}}
	f := newUploadFixture(t, withUploads(sink, 1<<30))
	const size = 256 << 20
	chunk := randomBytes(t, 1<<20)
	// (A large file before encrypt=false would be read back for rewriting,
	// which this sink cannot do; TestUploadFiles covers that path.)
	for _, order := range []string{"plain", "encrypt first", "encrypt last"} {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			switch order {
			case "plain":
				mw.WriteField("encrypt", "false")
			case "encrypt first":
				mw.WriteField("encrypt", "true")
			}
			w, _ := mw.CreateFormFile("file", "big.bin")
			for range size / len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					pw.CloseWithError(err)
					return
				}
			}
			if order == "encrypt last" {
				mw.WriteField("encrypt", "true")
			}
			mw.Close()
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", f.srv.URL+uploadURL+"mem", pr)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		runtime.ReadMemStats(&after)
		if resp.StatusCode != 201 {
			t.Fatalf("%s: %d %s\n%s", order, resp.StatusCode, body, f.logs)
		}
		var a uploadAnswer
		json.Unmarshal(body, &a)
		got := sink.puts[strings.TrimPrefix(a.URL, "mem://bucket/")]
		want := int64(size)
		if order != "plain" {
			want = filecrypt.CiphertextSize(size)
		}
		if got[0] != want {
			t.Fatalf("%s: backend received %v bytes, want %d", order, got[0], want)
		}
		// Client, server and the multipart writer all run in this process;
		// buffering the upload anywhere would allocate its 256 MiB.
		t.Logf("%s: %d KiB allocated", order, (after.TotalAlloc-before.TotalAlloc)>>10)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
			t.Fatalf("%s: %d MiB allocated to upload 256 MiB", order, alloc>>20)
		}
	}
}

// BenchmarkUpload measures upload throughput through the handler (HTTP
// client and server in this process) into a backend that only hashes.
func BenchmarkUpload(b *testing.B) {
	for _, encrypt := range []string{"false", "true"} {
		b.Run("encrypt="+encrypt, func(b *testing.B) {
			sink := &sinkBackend{Backend: memstorage.New(), puts: map[string][2]any{}}
			cfg := benchConfig(b)
			withUploads(sink, 1<<30)(&cfg)
			h, err := api.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			const size = 64 << 20
			chunk := randomBytes(b, 1<<20)
			b.SetBytes(size)
			for b.Loop() {
				pr, pw := io.Pipe()
				mw := multipart.NewWriter(pw)
				go func() {
					mw.WriteField("encrypt", encrypt)
					w, _ := mw.CreateFormFile("file", "big.bin")
					for range size / len(chunk) {
						w.Write(chunk)
					}
					mw.Close()
					pw.Close()
				}()
				resp, err := http.Post(srv.URL+uploadURL+"mem", mw.FormDataContentType(), pr)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 201 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// benchConfig is baseConfig for benchmarks: the same keys, no metadata
// store.
func benchConfig(b *testing.B) api.Config {
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Replay: auth.NewMemoryReplayStore(1000, 0)})
	if err != nil {
		b.Fatal(err)
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(strings.Repeat("t", 32)), TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(filepath.Join(b.TempDir(), "metadata.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return api.Config{
		Version: "bench", Keys: referenceKeyring(b), Chain: fixedChain{&chain.Status{Reason: "no chain configured"}},
		Logger: discard(), Metrics: prometheus.NewRegistry(), MaxBodyBytes: 64 << 10,
		Verifier: verifier, Tokens: tokens, Resolver: st, Files: fetch.Mux{},
	}
}

// TestUploadOutlivesSlowBackend: once the body is in, a backend that takes
// several idle timeouts to finish (a large multipart commit) still gets to:
// neither the connection's deadlines nor the server's watch of the idle
// connection cancel the request. Every path is tried: the file streamed
// directly, the file stored before encrypt was known, and a message.
func TestUploadOutlivesSlowBackend(t *testing.T) {
	mem := newMem(t)
	slow := &slowBackend{Backend: mem, after: 1200 * time.Millisecond}
	cfg := baseConfig(t, discard())
	withUploads(slow, 16<<20)(&cfg)
	cfg.Upload.IdleTimeout = 200 * time.Millisecond
	h, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Config.WriteTimeout = 200 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	data := randomBytes(t, 100<<10) // above max_body_bytes (64 KiB)
	for _, parts := range [][]part{
		{{name: "encrypt", data: []byte("true")}, {name: "file", filename: "a.bin", data: data}},
		{{name: "file", filename: "a.bin", data: data}, {name: "encrypt", data: []byte("true")}},
		{{name: "file", filename: "a.bin", data: data}}, // stored encrypted, then rewritten: two slow Puts
		{{name: "message", data: data[:1000]}},
		nil, // a JSON message: its body is read to the end before the slow Put
	} {
		ct, body := "application/json", []byte(`{"message":"m","encrypt":true}`)
		if parts != nil {
			ct, body = multipartBody(t, parts...)
		}
		resp, err := http.Post(srv.URL+uploadURL+"mem", ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("%s: %d %s", body[:min(len(body), 80)], resp.StatusCode, got)
		}
	}
}

// TestUploadStalledIsCut: a client that stops sending mid-upload is cut
// after the idle timeout (the server's own timeouts no longer apply to
// uploads), and what it had sent is removed.
func TestUploadStalledIsCut(t *testing.T) {
	mem := newMem(t)
	watched := &watchedBackend{Backend: mem, reading: make(chan struct{}, 1)}
	f := newUploadFixture(t, withUploads(watched, 16<<20), func(c *api.Config) { c.Upload.IdleTimeout = 300 * time.Millisecond })
	f.mem = mem
	conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("encrypt", "true")
	w, _ := mw.CreateFormFile("file", "stalled.bin")
	w.Write(randomBytes(t, 200<<10))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", uploadURL+"mem", mw.FormDataContentType(), 1<<20)
	conn.Write(body.Bytes())
	<-watched.reading
	start := time.Now()
	// Send nothing more; the node must hang up on its own.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, conn)
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("the stalled upload held its connection for %v", waited)
	}
	waitFor(t, "the upload to fail", func() bool {
		return strings.Contains(f.metric(t, "nvm_upload_objects_total"), `nvm_upload_objects_total{backend="mem",result="failed"} 1`)
	})
	if keys := f.keys(); len(keys) != 0 {
		t.Fatalf("stalled upload left %v", keys)
	}
}
