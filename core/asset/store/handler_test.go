package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-chi/chi/v5"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/asset/marketplace"
)

type answer struct {
	status int
	body   []byte
	header http.Header
}

func call(t *testing.T, h http.Handler, method, target, contentType string, body []byte, hdr ...string) answer {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Body.Bytes(), rec.Header()}
}

// wantError checks the reference error shape.
func wantError(t *testing.T, a answer, status int, contains string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
	var e struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
		Error      string `json:"error"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("error body %s: %v", a.body, err)
	}
	if e.StatusCode != status || e.Error == "" || !strings.Contains(e.Message, contains) {
		t.Fatalf("error body %s, want status %d and a message containing %q", a.body, status, contains)
	}
}

const jsonCT = "application/json"

func TestHandlerCRUD(t *testing.T) {
	s, _ := openStore(t, Options{})
	h := s.Handler(HandlerOptions{Guard: AllowAll{}})
	doc := fixture(t, "ddo-nft1155.json")
	d := fixtureDDO(t, "ddo-nft1155.json")
	path := marketplace.DDOPath + "/" + d.ID.String()

	a := call(t, h, "POST", marketplace.DDOPath, jsonCT, doc)
	if a.status != http.StatusCreated || !bytes.Equal(a.body, d.Raw()) {
		t.Fatalf("create: %d %.200s", a.status, a.body)
	}
	wantError(t, call(t, h, "POST", marketplace.DDOPath, jsonCT, doc), http.StatusConflict, "already exists")

	a = call(t, h, "GET", path, "", nil)
	if a.status != http.StatusOK || !bytes.Equal(a.body, d.Raw()) || a.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("get: %d %.200s", a.status, a.body)
	}
	// The DID's hex digits are case-insensitive, as everywhere else.
	if a := call(t, h, "GET", marketplace.DDOPath+"/did:nv:"+strings.ToUpper(d.ID.Hex()), "", nil); a.status != http.StatusOK {
		t.Fatalf("upper-case hex: %d", a.status)
	}

	revised := bytes.Replace(doc, []byte(`"Sentiment model v3 (credits)"`), []byte(`"Sentiment model v3.1 (credits)"`), 1)
	a = call(t, h, "PUT", path, jsonCT, revised)
	if a.status != http.StatusOK || !bytes.Contains(a.body, []byte("v3.1")) {
		t.Fatalf("update: %d %.200s", a.status, a.body)
	}
	if a := call(t, h, "GET", path, "", nil); !bytes.Contains(a.body, []byte("v3.1")) {
		t.Fatal("update not stored")
	}
	other := fixtureDDO(t, "ddo-access.json")
	wantError(t, call(t, h, "PUT", marketplace.DDOPath+"/"+other.ID.String(), jsonCT, revised), http.StatusBadRequest, "differs from the path")
	wantError(t, call(t, h, "PUT", marketplace.DDOPath+"/"+other.ID.String(), jsonCT, fixture(t, "ddo-access.json")), http.StatusNotFound, "not found")

	if a := call(t, h, "DELETE", path, "", nil); a.status != http.StatusOK {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	wantError(t, call(t, h, "GET", path, "", nil), http.StatusNotFound, "not found")
	wantError(t, call(t, h, "DELETE", path, "", nil), http.StatusNotFound, "not found")
}

func TestHandlerBadInput(t *testing.T) {
	s, _ := openStore(t, Options{})
	h := s.Handler(HandlerOptions{Guard: AllowAll{}})
	id := fixtureDDO(t, "ddo-access.json").ID.String()
	huge := []byte(`{"id":"` + id + `","pad":"` + strings.Repeat("a", 2*asset.MaxDDOSize) + `"}`)
	cases := []struct {
		name, method, target, ct string
		body                     []byte
		status                   int
		contains                 string
	}{
		{"create not JSON", "POST", marketplace.DDOPath, jsonCT, []byte("hello"), 400, "invalid DDO"},
		{"create empty", "POST", marketplace.DDOPath, jsonCT, nil, 400, "JSON object"},
		{"create array", "POST", marketplace.DDOPath, jsonCT, []byte("[1]"), 400, "JSON object"},
		{"create without id", "POST", marketplace.DDOPath, jsonCT, []byte(`{"service":[]}`), 400, "id is missing"},
		{"create with bad id", "POST", marketplace.DDOPath, jsonCT, []byte(`{"id":"did:nv:xyz"}`), 400, "invalid DID"},
		{"create with typed nonsense", "POST", marketplace.DDOPath, jsonCT, []byte(`{"id":"` + id + `","service":[{"type":"metadata","index":"zero"}]}`), 400, "service.index is string"},
		{"create too large", "POST", marketplace.DDOPath, jsonCT, huge, 413, "larger than"},
		{"get bad DID", "GET", marketplace.DDOPath + "/did:nv:123", "", nil, 400, "invalid DID"},
		{"get 0x DID", "GET", marketplace.DDOPath + "/0x" + strings.Repeat("ab", 32), "", nil, 400, "invalid DID"},
		{"get escaped DID", "GET", marketplace.DDOPath + "/did%3Anv%3A" + id[7:], "", nil, 404, "not found"},
		{"put bad JSON", "PUT", marketplace.DDOPath + "/" + id, jsonCT, []byte("{"), 400, "not valid JSON"},
		{"query bad body", "POST", marketplace.QueryPath, jsonCT, []byte(`{"offset":"ten"}`), 400, "offset is string"},
		{"query not object", "POST", marketplace.QueryPath, jsonCT, []byte(`[1]`), 400, "unsupported query"},
		{"query unknown clause", "POST", marketplace.QueryPath, jsonCT, []byte(`{"query":{"fuzzy":{}}}`), 400, "not supported"},
		{"query negative page", "POST", marketplace.QueryPath, jsonCT, []byte(`{"page":-1}`), 400, "negative"},
		{"list bad offset", "GET", marketplace.DDOPath + "?offset=x", "", nil, 400, "offset"},
		{"list bad query", "GET", marketplace.DDOPath + "?query=" + url.QueryEscape("{nope"), "", nil, 400, "not JSON"},
		{"profile bad address", "GET", marketplace.ProfileByAddressPath + "0x12", "", nil, 400, "address"},
		{"login without assertion", "POST", marketplace.LoginPath, "application/x-www-form-urlencoded", []byte("a=b"), 400, "client_assertion"},
		{"login wrong type", "POST", marketplace.LoginPath, "application/x-www-form-urlencoded", []byte("client_assertion_type=x&client_assertion=a.b.c"), 400, "client_assertion"},
		{"login not a JWT", "POST", marketplace.LoginPath, jsonCT, []byte(`{"client_assertion":"nope"}`), 401, "not a JWT"},
		{"login bad JSON", "POST", marketplace.LoginPath, jsonCT, []byte(`{`), 400, "JSON object"},
		{"unknown route", "GET", "/api/v1/metadata/nothing", "", nil, 404, "Cannot GET"},
		{"wrong method", "PATCH", marketplace.DDOPath, "", nil, 405, "Cannot PATCH"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, call(t, h, tc.method, tc.target, tc.ct, tc.body), tc.status, tc.contains)
		})
	}
	if n, _ := s.Count(context.Background()); n != 0 {
		t.Fatalf("bad requests stored %d DDOs", n)
	}
}

func TestHandlerSearchAndList(t *testing.T) {
	s, docs := searchStore(t)
	h := s.Handler(HandlerOptions{})
	// The SDK's SearchApi.byText body.
	body := `{"query":{"simple_query_string":{"query":"sentiment*"}},"offset":100,"page":1,"sort":{"created":"desc"}}`
	a := call(t, h, "POST", marketplace.QueryPath, jsonCT, []byte(body))
	if a.status != http.StatusOK {
		t.Fatalf("query: %d %s", a.status, a.body)
	}
	var resp marketplace.QueryResponse
	if err := json.Unmarshal(a.body, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 1 || resp.Page != 1 || resp.TotalPages != 1 || resp.TotalResults.Value != 1 || resp.TotalResults.Relation != "eq" {
		t.Fatalf("query answer: %s", a.body)
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, docs[1].Raw())
	if !bytes.Equal(resp.Results[0], compact.Bytes()) {
		t.Fatal("query result is not the stored document")
	}
	// The answer has exactly the reference's keys.
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(a.body, &keys)
	for _, k := range []string{"results", "page", "total_pages", "total_results"} {
		if _, ok := keys[k]; !ok {
			t.Fatalf("answer lacks %q", k)
		}
	}
	// Empty body: everything.
	a = call(t, h, "POST", marketplace.QueryPath, jsonCT, nil)
	_ = json.Unmarshal(a.body, &resp)
	if a.status != 200 || resp.TotalResults.Value != 3 {
		t.Fatalf("empty query body: %d %s", a.status, a.body)
	}
	// No match: an empty list, not null.
	a = call(t, h, "POST", marketplace.QueryPath, jsonCT, []byte(`{"query":{"term":{"id":"did:nv:none"}}}`))
	if a.status != 200 || !bytes.Contains(a.body, []byte(`"results":[]`)) {
		t.Fatalf("no match: %s", a.body)
	}
	// GET list with paging, and GET query with text.
	a = call(t, h, "GET", marketplace.DDOPath+"?offset=2&page=2", "", nil)
	_ = json.Unmarshal(a.body, &resp)
	if a.status != 200 || len(resp.Results) != 1 || resp.TotalPages != 2 || resp.Page != 2 {
		t.Fatalf("list page 2: %s", a.body)
	}
	a = call(t, h, "GET", marketplace.QueryPath+"?text=weather", "", nil)
	_ = json.Unmarshal(a.body, &resp)
	if a.status != 200 || resp.TotalResults.Value != 1 {
		t.Fatalf("GET query text: %s", a.body)
	}
	a = call(t, h, "GET", marketplace.DDOPath+"?query="+url.QueryEscape(`{"term":{"id":"`+docs[2].ID.String()+`"}}`), "", nil)
	_ = json.Unmarshal(a.body, &resp)
	if a.status != 200 || resp.TotalResults.Value != 1 {
		t.Fatalf("GET list query: %s", a.body)
	}
}

func TestHandlerProfileAndLogin(t *testing.T) {
	s, _ := openStore(t, Options{})
	h := s.Handler(HandlerOptions{Guard: AllowAll{}})
	a := call(t, h, "GET", marketplace.ProfileByAddressPath+lower(owner1), "", nil)
	var p marketplace.Profile
	if err := json.Unmarshal(a.body, &p); err != nil || a.status != 200 {
		t.Fatalf("profile: %d %s", a.status, a.body)
	}
	want := UserIDForAddress(common.HexToAddress(owner1))
	if p.UserID != want || !strings.HasPrefix(p.UserID, "us-") || p.Addresses[0] != owner1 {
		t.Fatalf("profile %+v", p)
	}
	if UserIDForAddress(common.HexToAddress(owner2)) == want {
		t.Fatal("two addresses share a user id")
	}
	// Login as the SDK does: a form with the assertion; the token's sub is
	// the same user id.
	assertion := fakeAssertion(owner1)
	form := url.Values{"client_assertion_type": {assertionType}, "client_assertion": {assertion}}.Encode()
	a = call(t, h, "POST", marketplace.LoginPath, "application/x-www-form-urlencoded", []byte(form))
	if a.status != http.StatusCreated {
		t.Fatalf("login: %d %s", a.status, a.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(a.body, &tok)
	if sub := tokenSub(t, tok.AccessToken); sub != want {
		t.Fatalf("token sub %q, want %q", sub, want)
	}
	a = call(t, h, "POST", marketplace.LoginPath, jsonCT, []byte(`{"client_assertion":"`+assertion+`"}`))
	if a.status != http.StatusCreated {
		t.Fatalf("JSON login: %d %s", a.status, a.body)
	}
}

// fakeAssertion is a JWT-shaped assertion from addr; AllowAll does not check
// signatures and the test Verify below accepts it.
func fakeAssertion(addr string) string {
	return b64(`{"alg":"ES256K"}`) + "." + b64(`{"iss":"`+addr+`"}`) + "." + b64("sig")
}

func tokenSub(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	raw, err := b64dec(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Sub string }
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.Sub
}

func TestReadOnlyByDefault(t *testing.T) {
	s, _ := openStore(t, Options{})
	mustCreate(t, s, fixtureDDO(t, "ddo-nft721.json"))
	h := s.Handler(HandlerOptions{}) // no Guard
	id := fixtureDDO(t, "ddo-nft721.json").ID.String()
	wantError(t, call(t, h, "POST", marketplace.DDOPath, jsonCT, fixture(t, "ddo-access.json")), 403, "disabled")
	wantError(t, call(t, h, "PUT", marketplace.DDOPath+"/"+id, jsonCT, fixture(t, "ddo-nft721.json")), 403, "disabled")
	wantError(t, call(t, h, "DELETE", marketplace.DDOPath+"/"+id, "", nil), 403, "disabled")
	wantError(t, call(t, h, "POST", marketplace.LoginPath, jsonCT, []byte(`{"client_assertion":"a.b.c"}`)), 403, "disabled")
	if a := call(t, h, "GET", marketplace.DDOPath+"/"+id, "", nil); a.status != 200 {
		t.Fatalf("reads must still work: %d", a.status)
	}
}

func TestOwnerGuard(t *testing.T) {
	s, _ := openStore(t, Options{})
	clock := time.Unix(1_800_000_000, 0)
	g := &OwnerGuard{
		Verify: func(_ context.Context, a string) (common.Address, error) {
			iss, err := unverifiedIssuer(a)
			if err != nil || !strings.HasSuffix(a, b64("sig")) {
				return common.Address{}, errors.New("bad signature")
			}
			return iss, nil
		},
		Secret: bytes.Repeat([]byte{7}, 32),
		TTL:    time.Hour,
		Now:    func() time.Time { return clock },
	}
	h := s.Handler(HandlerOptions{Guard: g})
	login := func(addr string) string {
		a := call(t, h, "POST", marketplace.LoginPath, jsonCT, []byte(`{"client_assertion":"`+fakeAssertion(addr)+`"}`))
		if a.status != 201 {
			t.Fatalf("login %s: %d %s", addr, a.status, a.body)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(a.body, &tok)
		return tok.AccessToken
	}
	tok1, tok2 := login(owner1), login(owner2)
	if tokenSub(t, tok1) != UserIDForAddress(common.HexToAddress(owner1)) {
		t.Fatal("token sub is not the user id")
	}
	wantError(t, call(t, h, "POST", marketplace.LoginPath, jsonCT, []byte(`{"client_assertion":"`+b64(`{}`)+"."+b64(`{"iss":"`+owner1+`"}`)+`.forged"}`)), 401, "bad signature")

	doc := fixture(t, "ddo-access.json") // owned by owner1
	id := fixtureDDO(t, "ddo-access.json").ID.String()
	wantError(t, call(t, h, "POST", marketplace.DDOPath, jsonCT, doc), 401, "missing bearer")
	wantError(t, call(t, h, "POST", marketplace.DDOPath, jsonCT, doc, "Authorization", "Bearer "+tok2), 403, "may not create")
	wantError(t, call(t, h, "POST", marketplace.DDOPath, jsonCT, doc, "Authorization", "Bearer "+tok1+"x"), 401, "signature")
	none := b64(`{"alg":"none","typ":"JWT"}`) + "." + strings.Split(tok1, ".")[1] + "."
	wantError(t, call(t, h, "POST", marketplace.DDOPath, jsonCT, doc, "Authorization", "Bearer "+none), 401, "malformed")
	forged := strings.Split(tok1, ".")
	forged[1] = b64(`{"sub":"x","address":"` + owner2 + `","exp":9999999999}`)
	wantError(t, call(t, h, "POST", marketplace.DDOPath, jsonCT, doc, "Authorization", "Bearer "+strings.Join(forged, ".")), 401, "signature")

	if a := call(t, h, "POST", marketplace.DDOPath, jsonCT, doc, "Authorization", "Bearer "+tok1); a.status != 201 {
		t.Fatalf("owner create: %d %s", a.status, a.body)
	}
	wantError(t, call(t, h, "PUT", marketplace.DDOPath+"/"+id, jsonCT, doc, "Authorization", "Bearer "+tok2), 403, "may not update")
	// Handing the asset to someone else through an update is refused too.
	stolen := bytes.ReplaceAll(doc, []byte(owner1), []byte(owner2))
	wantError(t, call(t, h, "PUT", marketplace.DDOPath+"/"+id, jsonCT, stolen, "Authorization", "Bearer "+tok2), 403, "may not update")
	wantError(t, call(t, h, "PUT", marketplace.DDOPath+"/"+id, jsonCT, stolen, "Authorization", "Bearer "+tok1), 403, "may not update")
	if a := call(t, h, "PUT", marketplace.DDOPath+"/"+id, jsonCT, doc, "Authorization", "Bearer "+tok1); a.status != 200 {
		t.Fatalf("owner update: %d %s", a.status, a.body)
	}
	wantError(t, call(t, h, "DELETE", marketplace.DDOPath+"/"+id, "", nil, "Authorization", "Bearer "+tok2), 403, "may not delete")
	clock = clock.Add(2 * time.Hour)
	wantError(t, call(t, h, "DELETE", marketplace.DDOPath+"/"+id, "", nil, "Authorization", "Bearer "+tok1), 401, "expired")
	if a := call(t, h, "DELETE", marketplace.DDOPath+"/"+id, "", nil, "Authorization", "Bearer "+login(owner1)); a.status != 200 {
		t.Fatalf("owner delete: %d %s", a.status, a.body)
	}
	if _, err := (&OwnerGuard{Secret: []byte("short")}).Login(context.Background(), "x"); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

// TestHandlerOverHTTP runs a real server and the SDK-shaped requests through
// the network stack once, including a body the SDK's JSON replacer makes.
func TestHandlerOverHTTP(t *testing.T) {
	s, _ := openStore(t, Options{})
	srv := httptest.NewServer(s.Handler(HandlerOptions{Guard: AllowAll{}}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+marketplace.DDOPath, jsonCT, bytes.NewReader(fixture(t, "ddo-nft721.json")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	d := fixtureDDO(t, "ddo-nft721.json")
	resp, err = http.Get(fmt.Sprintf("%s%s/%s", srv.URL, marketplace.DDOPath, d.ID))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, d.Raw()) {
		t.Fatalf("%d %.100s", resp.StatusCode, body)
	}
}

// TestRoutesOnSharedRouter mounts the API on a router that already has its
// own routes and middleware, as the node's API does.
func TestRoutesOnSharedRouter(t *testing.T) {
	s, _ := openStore(t, Options{})
	r := chi.NewRouter()
	var seen int
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { seen++; next.ServeHTTP(w, req) })
	})
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("info")) })
	s.Routes(r, HandlerOptions{Guard: AllowAll{}})
	if a := call(t, r, "POST", marketplace.DDOPath, jsonCT, fixture(t, "ddo-access.json")); a.status != 201 {
		t.Fatalf("create through the shared router: %d %s", a.status, a.body)
	}
	if a := call(t, r, "GET", "/", "", nil); string(a.body) != "info" {
		t.Fatal("the router's own route was disturbed")
	}
	if seen != 2 {
		t.Fatalf("middleware ran %d times, want 2", seen)
	}
}
