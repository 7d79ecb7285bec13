package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/core/pluginhost"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

// TestStoragePluginsConformance runs the sdk conformance suite against the
// storage plugins as the node runs them: process plugins built from
// plugins/, declared in a plugins.yaml (checksum, config, urls), loaded and
// supervised by the node's plugin host, talking to real servers.
func TestStoragePluginsConformance(t *testing.T) {
	t.Run("storage.s3", func(t *testing.T) {
		s3 := startVersityGW(t)
		bin := buildPlugin(t, "../../plugins/storage-s3", "storage-s3")
		var n atomic.Int32
		storagetest.Run(t, storagetest.Options{New: func(t *testing.T) storage.Backend {
			// A fresh bucket per backend: the suite wants an empty store.
			bucket := fmt.Sprintf("conf-%d", n.Add(1))
			return loadStorage(t, "storage.s3", fmt.Sprintf(`plugins:
  - id: storage.s3
    runtime: process
    path: %s
    sha256: %s
    urls: ["s3://%s/"]
    config: {endpoint: %q, bucket: %s, path_style: true, create_bucket: true, access_key_id: %s, secret_access_key: %s}
`, bin.path, bin.sum, bucket, s3.endpoint, bucket, s3.access, s3.secret))
		}})
	})
	t.Run("storage.gcs", func(t *testing.T) {
		endpoint := startFakeGCS(t)
		bin := buildPlugin(t, "../../plugins/storage-gcs", "storage-gcs")
		var n atomic.Int32
		storagetest.Run(t, storagetest.Options{New: func(t *testing.T) storage.Backend {
			bucket := fmt.Sprintf("conf-%d", n.Add(1))
			return loadStorage(t, "storage.gcs", fmt.Sprintf(`plugins:
  - id: storage.gcs
    runtime: process
    path: %s
    sha256: %s
    urls: ["gs://%s/"]
    config: {endpoint: %q, bucket: %s, create_bucket: true, project_id: test}
`, bin.path, bin.sum, bucket, endpoint, bucket))
		}})
	})
}

// startFakeGCS runs fake-gcs-server (TESTBED.md) on loopback with an
// in-memory backend for the test's lifetime and returns its JSON API
// endpoint.
func startFakeGCS(t *testing.T) string {
	t.Helper()
	bin := findTool(t, "fake-gcs-server", "go install github.com/fsouza/fake-gcs-server@v1.56.1")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	runServer(t, bin, addr, "-scheme", "http", "-host", "127.0.0.1", "-port", port, "-public-host", addr, "-backend", "memory", "-log-level", "warn")
	return "http://" + addr + "/storage/v1/"
}

// loadStorage loads a plugins.yaml document with the node's plugin host and
// returns the storage backend id; the host is closed when the test ends.
func loadStorage(t *testing.T, id, yaml string) storage.Backend {
	t.Helper()
	entries, err := pluginhost.Parse([]byte(yaml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := pluginhost.New(pluginhost.Options{Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Load(ctx, entries); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.Close(ctx)
	})
	b, ok := h.Storage(id)
	if !ok {
		t.Fatalf("%s not loaded", id)
	}
	return b
}
