package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nvm-node/nvm-node/core/config"
	"github.com/nvm-node/nvm-node/core/logging"
	"github.com/nvm-node/nvm-node/core/node"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-ethereum's process-wide sender cache (the e2e tests' dev chain),
		// started once and never stopped.
		goleak.IgnoreTopFunction("github.com/ethereum/go-ethereum/core.(*txSenderCacher).cache"),
		// goleveldb drains its memory pool for up to a second after Close.
		goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"),
	)
}

const reference = "../../../shared/testdata/reference"

func referenceConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, _, err := config.Load(config.Default(), config.Sources{Env: []string{
		"PROVIDER_KEYFILE=" + filepath.Join(reference, "provider-keystore.json"),
		"PROVIDER_PASSWORD=secret",
		"RSA_PRIVKEY_FILE=" + filepath.Join(reference, "rsa_priv_key.pem"),
		"JWT_SECRET_KEY=" + strings.Repeat("k", 32),
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.ShutdownTimeout = 10 * time.Second
	return cfg
}

type running struct {
	url  string
	stop context.CancelFunc
	done chan error
	logs *bytes.Buffer
}

func start(t testing.TB, cfg *config.Config) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	n, err := node.New(context.Background(), node.Options{Config: cfg, Version: "test", Logger: logging.New(logs, slog.LevelInfo, "json"), Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{url: "http://" + n.Addr().String(), stop: cancel, done: make(chan error, 1), logs: logs}
	go func() { r.done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			t.Error("node did not stop")
		}
	})
	return r
}

func get(t testing.TB, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestServesWithReferenceKeys(t *testing.T) {
	r := start(t, referenceConfig(t))
	code, info := get(t, r.url+"/")
	if code != 200 || info["provider-address"] != "0x068Ed00cF0441e4829D9784fCBe7b9e26D4BD8d0" {
		t.Fatalf("GET /: %d %v", code, info)
	}
	if code, _ := get(t, r.url+"/readyz"); code != 200 {
		t.Fatalf("readyz without a chain configured: %d", code)
	}
}

// TestUnreachableChain: a configured chain that does not answer leaves GET /
// working and makes the node not ready; the RPC URL's secret part never shows.
func TestUnreachableChain(t *testing.T) {
	cfg := referenceConfig(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg.Chain.RPCURL = "http://" + dead + "/v3/SECRETKEY"
	cfg.Chain.ProbeInterval = 50 * time.Millisecond
	cfg.Chain.RequestTimeout = time.Second
	r := start(t, cfg)
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := get(t, r.url+"/readyz")
		if code == 200 {
			t.Fatalf("ready with the chain down: %v", body)
		}
		if checks, _ := body["checks"].(map[string]any); checks["chain"] == "chain unreachable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz never reported the chain unreachable: %d %v", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, info := get(t, r.url+"/")
	if code != 200 || info["chain-available"] != false || info["keeper-url"] != "http://"+dead {
		t.Fatalf("GET / with the chain down: %d %v", code, info)
	}
	if strings.Contains(r.logs.String(), "SECRETKEY") {
		t.Fatalf("the RPC URL's secret reached the logs:\n%s", r.logs)
	}
}

// TestGracefulShutdown: a request in flight when the node is told to stop
// completes; new connections are refused afterwards; Run returns nil.
func TestGracefulShutdown(t *testing.T) {
	r := start(t, referenceConfig(t))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", r.url+"/api/v1/node/services/encrypt", pr)
	req.Header.Set("Content-Type", "application/json")
	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- result{code: resp.StatusCode, body: string(b)}
	}()
	// The handler is now reading a body that has not finished arriving.
	if _, err := pw.Write([]byte(`{"method":"PSK-RSA",`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	r.stop()
	time.Sleep(200 * time.Millisecond) // Shutdown has closed the listener by now
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(r.url, "http://"), time.Second); err == nil {
		t.Error("new connections are still accepted while draining")
	}
	if _, err := pw.Write([]byte(`"message":"in flight"}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	got := <-res
	if got.err != nil || got.code != 201 {
		t.Fatalf("in-flight request: %d %s %v", got.code, got.body, got.err)
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after draining")
	}
	r.done <- nil // for the cleanup
}

func TestBadKeysFailAtStart(t *testing.T) {
	cfg := referenceConfig(t)
	cfg.Keys.ProviderPassword = "wrong-password"
	_, err := node.New(context.Background(), node.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("a wrong keystore password was accepted")
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Fatalf("the error quotes the password: %v", err)
	}
}

func TestDevConfigKeepsIdentity(t *testing.T) {
	dir := t.TempDir()
	first, err := node.DevConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	second, err := node.DevConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if first.Auth.JWTSecret != second.Auth.JWTSecret || len(first.Auth.JWTSecret) < 32 {
		t.Fatal("dev JWT secret not kept across starts")
	}
	for _, f := range []string{first.Keys.ProviderKeyfile, first.Keys.ProviderPasswordFile, first.Keys.RSAPrivateKeyFile, first.Keys.RSAPublicKeyFile} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v; want 0600", f, st.Mode().Perm())
		}
	}
	addr := func(c config.Config) string {
		cfg, _, err := config.Load(c, config.Sources{})
		if err != nil {
			t.Fatal(err)
		}
		n, err := node.New(context.Background(), node.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Listener: mustListen(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := n.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return n.Keys().Address().Hex()
	}
	if a, b := addr(first), addr(second); a != b {
		t.Fatalf("dev provider address changed across starts: %s then %s", a, b)
	}
}

func mustListen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
