package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nvm-node/nvm-node/core/api"
	"github.com/nvm-node/nvm-node/core/asset/store"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/fetch"
	"github.com/nvm-node/nvm-node/core/keys"
	"github.com/nvm-node/nvm-node/core/logging"
)

func init() {
	// kin-openapi decodes only the content types it knows; the docs page is HTML.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// reference is the folder of data recorded from the reference node.
const reference = "../../../shared/testdata/reference"

func refPath(name string) string { return filepath.Join(reference, name) }

func referenceKeyring(t testing.TB) *keys.Keyring {
	t.Helper()
	kr, err := keys.LoadKeyring(keys.Sources{
		ProviderKeyfile:   refPath("provider-keystore.json"),
		ProviderPassword:  "secret",
		RSAPrivateKeyFile: refPath("rsa_priv_key.pem"),
		RSAPublicKeyFile:  refPath("rsa_pub_key.pem"),
	})
	if err != nil {
		t.Fatalf("reference keys: %v", err)
	}
	return kr
}

// fixedChain is a ChainStatus that reports one status; the chain package's
// own tests and the node tests exercise a real one.
type fixedChain struct{ st *chain.Status }

func (f fixedChain) Status() *chain.Status { return f.st }

type testNode struct {
	t      *testing.T
	srv    *httptest.Server
	keys   *keys.Keyring
	router routers.Router
	doc    *openapi3.T
	logs   *bytes.Buffer
}

type option func(*api.Config)

// baseConfig is a complete router configuration with the reference keys, no
// chain, and a node-hosted metadata store in a temporary folder.
func baseConfig(t *testing.T, log *slog.Logger) api.Config {
	t.Helper()
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Replay: auth.NewMemoryReplayStore(1000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(strings.Repeat("t", 32)), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "metadata.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return api.Config{
		Version:         "test",
		Keys:            referenceKeyring(t),
		Chain:           fixedChain{&chain.Status{Reason: "no chain configured"}},
		Logger:          log,
		Metrics:         prometheus.NewRegistry(),
		MaxBodyBytes:    64 << 10,
		ArtifactsFolder: "./artifacts",
		CircuitsFolder:  "./circuits",
		Provenance:      true,
		Verifier:        verifier,
		Tokens:          tokens,
		Metadata:        st,
		Resolver:        st,
		Files:           fetch.Mux{"http": fetch.NewHTTP(fetch.HTTPOptions{AllowPrivate: true})},
	}
}

func newTestNode(t *testing.T, opts ...option) *testNode {
	t.Helper()
	logs := &bytes.Buffer{}
	cfg := baseConfig(t, logging.New(logs, slog.LevelDebug, "json"))
	kr := cfg.Keys.(*keys.Keyring)
	for _, o := range opts {
		o(&cfg)
	}
	h, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	doc, err := api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	// Validate against the document as served at this test server's address.
	doc.Servers = openapi3.Servers{{URL: srv.URL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{t: t, srv: srv, keys: kr, router: router, doc: doc, logs: logs}
}

// do sends a request and checks the answer against the OpenAPI document:
// every documented route's every response must match its schema.
func (n *testNode) do(method, path, contentType string, body []byte, headers ...string) (*http.Response, []byte) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatal(err)
	}
	n.validate(req, resp, got)
	return resp, got
}

func (n *testNode) validate(req *http.Request, resp *http.Response, body []byte) {
	n.t.Helper()
	route, params, err := n.router.FindRoute(req)
	if err != nil {
		return // undocumented paths answer 404/405; TestRoutesMatchDocument keeps the sets equal
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		n.t.Errorf("%s %s -> %d does not match the OpenAPI document: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(refPath(name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %q: %v", b, err)
	}
	return m
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	n := newTestNode(t)
	resp, body := n.do("GET", "/x", "", nil)
	if resp.StatusCode != 404 || string(body) != `{"statusCode":404,"message":"Cannot GET /x","error":"Not Found"}` {
		t.Fatalf("404: %d %s", resp.StatusCode, body)
	}
	resp, body = n.do("DELETE", "/", "", nil)
	if resp.StatusCode != 405 || !strings.Contains(string(body), `"Cannot DELETE /"`) {
		t.Fatalf("405: %d %s", resp.StatusCode, body)
	}
}

func TestCORS(t *testing.T) {
	n := newTestNode(t)
	resp, _ := n.do("OPTIONS", "/api/v1/node/services/encrypt", "", nil,
		"Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,authorization")
	if resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		resp.Header.Get("Access-Control-Allow-Methods") != "GET,HEAD,PUT,PATCH,POST,DELETE" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "content-type,authorization" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = n.do("GET", "/", "", nil, "Origin", "https://app.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("simple request lacks CORS header: %v", resp.Header)
	}
}

func TestRequestID(t *testing.T) {
	n := newTestNode(t)
	resp, _ := n.do("GET", "/healthz", "", nil, "X-Request-Id", "abc-123")
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Fatalf("request id not echoed: %q", got)
	}
	resp, _ = n.do("GET", "/healthz", "", nil, "X-Request-Id", "bad id\twith junk")
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \t") {
		t.Fatalf("unsafe request id kept: %q", got)
	}
	if !strings.Contains(n.logs.String(), `"request_id":"abc-123"`) {
		t.Fatalf("request id missing from logs:\n%s", n.logs)
	}
}

func TestMetrics(t *testing.T) {
	n := newTestNode(t)
	n.do("GET", "/", "", nil)
	n.do("POST", "/api/v1/node/services/encrypt", "application/json", []byte(`{}`))
	n.do("GET", "/no/such/route/123", "", nil)
	_, body := n.do("GET", "/metrics", "", nil)
	for _, want := range []string{
		`nvm_http_requests_total{method="GET",route="/",status="200"} 1`,
		`nvm_http_requests_total{method="POST",route="/api/v1/node/services/encrypt",status="400"} 1`,
		`nvm_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`nvm_http_request_duration_seconds_bucket{method="GET",route="/",le=`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(string(body), "/no/such/route") {
		t.Error("raw paths leak into metric labels")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	draining := false
	st := &chain.Status{Configured: true, Reason: "chain unreachable"}
	n := newTestNode(t, func(c *api.Config) {
		c.Chain = fixedChain{st}
		c.Draining = func() bool { return draining }
	})
	if resp, _ := n.do("GET", "/healthz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	resp, body := n.do("GET", "/readyz", "", nil)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "chain unreachable") {
		t.Fatalf("readyz with the chain down: %d %s", resp.StatusCode, body)
	}
	st.Available, st.Reason = true, ""
	if resp, body := n.do("GET", "/readyz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("readyz with the chain up: %d %s", resp.StatusCode, body)
	}
	draining = true
	if resp, body := n.do("GET", "/readyz", "", nil); resp.StatusCode != 503 || !strings.Contains(string(body), "shutting down") {
		t.Fatalf("readyz while draining: %d %s", resp.StatusCode, body)
	}
}

func TestDocs(t *testing.T) {
	n := newTestNode(t)
	resp, body := n.do("GET", "/api/v1/docs-json", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("docs-json: %d", resp.StatusCode)
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("docs-json is not an OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("served document invalid: %v", err)
	}
	resp, body = n.do("GET", "/api/v1/docs", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("docs page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	page := string(body)
	for _, want := range []string{"/api/v1/node/services/encrypt", "PSK-RSA", "<h2>", "<code>"} {
		if !strings.Contains(page, want) {
			t.Errorf("docs page lacks %q", want)
		}
	}
	// Markdown is rendered, not shown: no backtick survives in the text.
	if strings.Contains(page, "`") {
		i := strings.Index(page, "`")
		t.Errorf("docs page shows a raw backtick: ...%s...", page[max(0, i-60):min(len(page), i+60)])
	}
	// Every schema the page links to is defined on it.
	for _, m := range regexp.MustCompile(`href="#(schema-[^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(page, `id="`+m[1]+`"`) {
			t.Errorf("docs page links to %s, which it does not define", m[1])
		}
	}
	// The page names the node's version, as GET / does.
	_, info := n.do("GET", "/", "", nil)
	var i struct{ APIversion string }
	if err := json.Unmarshal(info, &i); err != nil || i.APIversion == "" || !strings.Contains(page, "<small>"+i.APIversion+"</small>") {
		t.Errorf("docs page version differs from GET /'s %q (%v)", i.APIversion, err)
	}
	if doc.Info.Version != i.APIversion {
		t.Errorf("docs-json version %q, GET / %q", doc.Info.Version, i.APIversion)
	}
}
