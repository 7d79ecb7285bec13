// Package fakegcs starts a real fake-gcs-server process for tests: the
// emulator the plugin's tests and benchmarks run against.
package fakegcs

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Version is the fake-gcs-server release the tests are written for:
// go install github.com/fsouza/fake-gcs-server@Version
const Version = "v1.56.1"

// Server is a running fake-gcs-server.
type Server struct {
	// Host is "127.0.0.1:PORT", the value for STORAGE_EMULATOR_HOST.
	Host string
	// Endpoint is the JSON API endpoint, for the plugin's endpoint key.
	Endpoint string
}

// Binary finds the fake-gcs-server binary: $FAKE_GCS_SERVER, then PATH,
// then $(go env GOPATH)/bin. It skips tb when there is none and CI is
// unset, and fails it when CI=true, so CI never passes without running.
func Binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("FAKE_GCS_SERVER"); p != "" {
		return p
	}
	if p, err := exec.LookPath("fake-gcs-server"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = string(bytes.TrimSpace(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "fake-gcs-server")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "fake-gcs-server not found (PATH, $(go env GOPATH)/bin or $FAKE_GCS_SERVER); install it with: go install github.com/fsouza/fake-gcs-server@" + Version
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

// Start starts fake-gcs-server with an in-memory backend on a free
// loopback port, waits until it answers, and stops it when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary(tb)
	for attempt := 0; ; attempt++ {
		s, err := start(tb, bin)
		if err == nil {
			return s
		}
		// Another process may take the port between probe and bind.
		if attempt == 2 {
			tb.Fatalf("starting fake-gcs-server: %v", err)
		}
	}
}

func start(tb testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	var out syncBuffer
	cmd := exec.Command(bin, "-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(port),
		"-public-host", host, "-backend", "memory", "-log-level", "warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	url := "http://" + host + "/storage/v1/b?project=test"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("fake-gcs-server exited: %s", out.String())
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("fake-gcs-server did not answer on %s: %s", host, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	tb.Cleanup(func() {
		stop()
		if tb.Failed() {
			tb.Logf("fake-gcs-server output:\n%s", out.String())
		}
	})
	return &Server{Host: host, Endpoint: "http://" + host + "/storage/v1/"}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects the server's output from its two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
