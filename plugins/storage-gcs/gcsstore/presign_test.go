package gcsstore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/plugins/storage-gcs/internal/fakegcs"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

const saEmail = "nvm-test@nvm-project.iam.gserviceaccount.com"

// serviceAccountFile writes a service-account key file for a fresh RSA key,
// as the Google console would issue it.
func serviceAccountFile(t *testing.T) (string, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sa := map[string]string{
		"type":           "service_account",
		"project_id":     "nvm-project",
		"private_key_id": "0123456789abcdef",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   saEmail,
		"client_id":      "1234567890",
		"token_uri":      "https://oauth2.googleapis.com/token",
	}
	data, _ := json.Marshal(sa)
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

// rfc3986 percent-encodes all but the unreserved characters, as V4
// signing's canonical query string requires.
func rfc3986(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// verifyV4 checks a V4 signed URL's signature with pub, rebuilding the
// canonical request from Google's description of the scheme (independent
// of the client library's code).
func verifyV4(method, raw string, pub *rsa.PublicKey) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	q := u.Query()
	sig, err := hex.DecodeString(q.Get("X-Goog-Signature"))
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("X-Goog-Signature %q is not hex", q.Get("X-Goog-Signature"))
	}
	q.Del("X-Goog-Signature")
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var query []string
	for _, k := range keys {
		query = append(query, rfc3986(k)+"="+rfc3986(q.Get(k)))
	}
	signed := q.Get("X-Goog-SignedHeaders")
	if signed != "host" {
		return fmt.Errorf("signed headers %q, want host", signed)
	}
	canonical := strings.Join([]string{
		method,
		u.EscapedPath(),
		strings.Join(query, "&"),
		"host:" + u.Host + "\n",
		signed,
		"UNSIGNED-PAYLOAD",
	}, "\n")
	cred := strings.SplitN(q.Get("X-Goog-Credential"), "/", 2)
	if len(cred) != 2 {
		return fmt.Errorf("credential %q", q.Get("X-Goog-Credential"))
	}
	hash := sha256.Sum256([]byte(canonical))
	toSign := strings.Join([]string{"GOOG4-RSA-SHA256", q.Get("X-Goog-Date"), cred[1], hex.EncodeToString(hash[:])}, "\n")
	digest := sha256.Sum256([]byte(toSign))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return fmt.Errorf("signature does not verify: %w\ncanonical request:\n%s", err, canonical)
	}
	return nil
}

func TestPresign(t *testing.T) {
	srv := fakegcs.Start(t)
	saPath, key := serviceAccountFile(t)
	bucket := newBucketName()
	// An unauthenticated backend creates the bucket and writes; the signing
	// ones never call the server (their credentials would want a token from
	// Google, which tests cannot reach).
	writer := newBackend(t, srv, map[string]any{"bucket": bucket, "prefix": "p/"})
	t.Cleanup(func() { writer.Close(context.Background()) })
	var logs bytes.Buffer
	signerFor := func(endpoint string) *Backend {
		b := New(slog.New(slog.NewJSONHandler(&logs, nil)))
		t.Cleanup(func() { b.Close(context.Background()) })
		c := map[string]any{"bucket": bucket, "prefix": "p/", "credentials_file": saPath}
		if endpoint != "" {
			c["endpoint"] = endpoint
		}
		if err := b.Configure(t.Context(), configJSON(t, c)); err != nil {
			t.Fatal(err)
		}
		return b
	}
	const objKey = "dir/file name+ü.bin"
	wantPath := "/" + bucket + "/p/" + objKey

	// Signed for GCS itself: checked against Google's V4 description.
	gcsSigner := signerFor("")
	before := time.Now().UTC()
	u, err := gcsSigner.Presign(t.Context(), objKey, storage.PresignOptions{Method: "GET", Expires: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Scheme != "https" || parsed.Host != "storage.googleapis.com" || parsed.Path != wantPath {
		t.Errorf("URL %s: want https://storage.googleapis.com%s", u, wantPath)
	}
	q := parsed.Query()
	for k, want := range map[string]string{
		"X-Goog-Algorithm":     "GOOG4-RSA-SHA256",
		"X-Goog-Credential":    saEmail + "/" + before.Format("20060102") + "/auto/storage/goog4_request",
		"X-Goog-SignedHeaders": "host",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if exp := q.Get("X-Goog-Expires"); exp != "3600" && exp != "3599" {
		t.Errorf("X-Goog-Expires = %s, want 3600", exp)
	}
	if date, err := time.Parse("20060102T150405Z", q.Get("X-Goog-Date")); err != nil || date.Before(before.Truncate(time.Second)) || date.After(time.Now()) {
		t.Errorf("X-Goog-Date = %q (%v), want the signing time", q.Get("X-Goog-Date"), err)
	}
	if err := verifyV4("GET", u, &key.PublicKey); err != nil {
		t.Error(err)
	}
	// The check can fail: another key, or another method, does not verify.
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if verifyV4("GET", u, &other.PublicKey) == nil {
		t.Error("the URL verified with an unrelated key")
	}
	if verifyV4("PUT", u, &key.PublicKey) == nil {
		t.Error("a GET URL verified as a PUT")
	}
	put, err := gcsSigner.Presign(t.Context(), objKey, storage.PresignOptions{Method: "put"})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustQuery(t, put).Get("X-Goog-Expires"); got != "900" && got != "899" {
		t.Errorf("default expiry %s s, want 900", got)
	}
	if err := verifyV4("PUT", put, &key.PublicKey); err != nil {
		t.Error(err)
	}

	// Signed for the emulator: fake-gcs-server serves the path-style URL but
	// checks no signature, so this shows only that the URL names the right
	// object on the configured endpoint. (The client library signs the
	// host without its port, which only matters off GCS.)
	emuSigner := signerFor(srv.Endpoint)
	eu, err := emuSigner.Presign(t.Context(), objKey, storage.PresignOptions{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := url.Parse(eu); p.Scheme != "http" || p.Host != srv.Host || p.Path != wantPath {
		t.Errorf("emulator URL %s: want http://%s%s", eu, srv.Host, wantPath)
	}
	if _, err := writer.Put(t.Context(), objKey, strings.NewReader("signed content"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(eu)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "signed content" {
		t.Errorf("GET of the signed URL: %s %q", resp.Status, body)
	}

	for _, bad := range []storage.PresignOptions{{Method: "DELETE"}, {Method: "GET", Expires: 8 * 24 * time.Hour}, {Method: "GET", Expires: -time.Second}} {
		if _, err := gcsSigner.Presign(t.Context(), objKey, bad); err == nil {
			t.Errorf("Presign(%+v) succeeded", bad)
		}
	}
	if _, err := gcsSigner.Presign(t.Context(), objKey, storage.PresignOptions{Method: "DELETE"}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Presign DELETE: %v, want errors.ErrUnsupported", err)
	}
	if _, err := gcsSigner.Presign(t.Context(), "../x", storage.PresignOptions{Method: "GET"}); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Presign of a bad key: %v", err)
	}

	// Without a key, presigning is unsupported.
	if _, err := writer.Presign(t.Context(), objKey, storage.PresignOptions{Method: "GET"}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Presign without a key: %v, want errors.ErrUnsupported", err)
	}

	// The key never reaches the logs.
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyLine := strings.Split(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "\n")[1]
	if strings.Contains(logs.String(), keyLine) || strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Error("the private key appears in the log")
	}
	if !strings.Contains(logs.String(), `"can_presign":true`) {
		t.Errorf("log does not say the backend can presign: %s", logs.String())
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// A malformed credentials file is refused without echoing its content.
func TestCredentialsFileErrors(t *testing.T) {
	dir := t.TempDir()
	secret := "s3cr3t-material-XYZ"
	for name, content := range map[string]string{
		"syntax.json":  `{"type": "service_account", "private_key": "` + secret + `" ` + secret,
		"badkey.json":  `{"type": "service_account", "client_email": "a@b", "private_key": "` + secret + `"}`,
		"nokey.json":   `{"type": "service_account", "client_email": "a@b"}`,
		"notype.json":  `{"private_key": "` + secret + `"}`,
		"weird.json":   `{"type": "` + "x" + `"}`,
		"notobj.json":  `["` + secret + `"]`,
		"string.json":  `"` + secret + `"`,
		"numbers.json": `{"type": 42}`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b := New(slog.New(slog.DiscardHandler))
		err := b.Configure(t.Context(), plugin.Config(`{"bucket": "b-ok", "credentials_file": "`+path+`"}`))
		if !errors.Is(err, plugin.ErrInvalidConfig) || !strings.Contains(err.Error(), "credentials_file") {
			t.Errorf("%s: Configure = %v, want ErrInvalidConfig about credentials_file", name, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error reveals the file's content: %v", name, err)
		}
		b.Close(t.Context())
	}
}

// Info declares presigning only when a service-account key was
// configured; the rest is fixed.
func TestInfo(t *testing.T) {
	srv := fakegcs.Start(t)
	saPath, _ := serviceAccountFile(t)
	base := []plugin.Capability{storage.CapRange, storage.CapWrite, storage.CapList, storage.CapIfAbsent, storage.CapContentType}
	check := func(b *Backend, what string, presign bool) {
		t.Helper()
		i, err := b.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if i.ID() != "storage.gcs" || i.Validate() != nil {
			t.Errorf("%s: Info %+v", what, i)
		}
		for _, c := range base {
			if !i.Has(c) {
				t.Errorf("%s: Info lacks %s", what, c)
			}
		}
		if i.Has(storage.CapPresign) != presign {
			t.Errorf("%s: declares %s = %v, want %v", what, storage.CapPresign, !presign, presign)
		}
	}
	fresh := New(nil)
	check(fresh, "unconfigured", false)
	check(newBackend(t, srv, nil), "without a key", false)
	withKey := New(slog.New(slog.DiscardHandler))
	if err := withKey.Configure(t.Context(), configJSON(t, map[string]any{"bucket": "b-ok", "endpoint": srv.Endpoint, "credentials_file": saPath})); err != nil {
		t.Fatal(err)
	}
	check(withKey, "with a service-account key", true)
	withKey.Close(t.Context())
	check(withKey, "closed", false)
}
