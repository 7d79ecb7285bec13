package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nvm-node/nvm-node/plugins/storage-gcs/internal/fakegcs"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

// pluginBin is the plugin binary TestMain builds from this package, once
// for all tests and benchmarks.
var pluginBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "storage-gcs-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBin = filepath.Join(dir, "storage-gcs")
	build := exec.Command("go", "build", "-o", pluginBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the plugin:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startPlugin starts the plugin binary as the node does (checksum, empty
// environment plus env) and returns its unconfigured backend and process.
func startPlugin(tb testing.TB, env ...string) (storage.Backend, *rpcplugin.Process) {
	tb.Helper()
	sum, err := rpcplugin.FileSHA256(pluginBin)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := rpcplugin.Start(context.Background(), rpcplugin.Config{
		ID: "storage.gcs", Path: pluginBin, SHA256: sum, Env: env,
		Logger: slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		tb.Fatalf("starting the plugin: %v", err)
	}
	tb.Cleanup(p.Kill)
	b, ok := p.Backend().(storage.Backend)
	if !ok {
		tb.Fatalf("plugin backend is %T, not a storage.Backend", p.Backend())
	}
	return b, p
}

// testWriter sends the plugin's log lines to the test log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func configure(tb testing.TB, b storage.Backend, cfg string) {
	tb.Helper()
	if err := b.Configure(context.Background(), plugin.Config(cfg)); err != nil {
		tb.Fatalf("Configure(%s): %v", cfg, err)
	}
}

func randomName(prefix string) string { return prefix + strings.ToLower(rand.Text()[:12]) }

func TestDescribe(t *testing.T) {
	d, err := rpcplugin.Describe(t.Context(), pluginBin)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID() != "storage.gcs" || d.APIVersion != storage.APIVersion || d.ProtocolVersion != plugin.ProtocolVersion {
		t.Errorf("describe = %+v", d)
	}
	for _, c := range []plugin.Capability{storage.CapRange, storage.CapWrite, storage.CapList, storage.CapIfAbsent, storage.CapContentType} {
		if !d.Has(c) {
			t.Errorf("describe lacks %s", c)
		}
	}
	// Unconfigured, it has no key to sign with.
	if d.Has(storage.CapPresign) {
		t.Errorf("describe declares %s before any configuration", storage.CapPresign)
	}
}

// The conformance suite through a real plugin process, one per subtest,
// each under its own prefix of one bucket.
func TestConformanceThroughPlugin(t *testing.T) {
	srv := fakegcs.Start(t)
	bucket := randomName("nvm-plugin-")
	storagetest.Run(t, storagetest.Options{
		New: func(t *testing.T) storage.Backend {
			b, _ := startPlugin(t)
			configure(t, b, fmt.Sprintf(`{"bucket": %q, "endpoint": %q, "prefix": %q, "create_bucket": true, "project_id": "test"}`,
				bucket, srv.Endpoint, randomName("conf-")+"/"))
			return b
		},
		Unconfigured: func(t *testing.T) storage.Backend {
			b, _ := startPlugin(t)
			return b
		},
		BadConfig: plugin.Config(fmt.Sprintf(`{"bucket": %q, "endpoint": %q, "chunk-size": 1}`, bucket, srv.Endpoint)),
	})
}

// The plugin reaches the emulator through the STORAGE_EMULATOR_HOST the
// node grants it, with no endpoint configured.
func TestEmulatorHostThroughPlugin(t *testing.T) {
	srv := fakegcs.Start(t)
	b, _ := startPlugin(t, "STORAGE_EMULATOR_HOST="+srv.Host)
	configure(t, b, fmt.Sprintf(`{"bucket": %q, "create_bucket": true, "project_id": "p"}`, randomName("nvm-env-")))
	defer b.Close(context.Background())
	if _, err := b.Put(t.Context(), "a/b", strings.NewReader("env"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, oi, err := b.Get(t.Context(), "a/b", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "env" || oi.Size != 3 {
		t.Errorf("Get = %q, %+v", got, oi)
	}
}

// cancelAfter yields zeros and cancels its context once n bytes are out.
type cancelAfter struct {
	n      int64
	cancel context.CancelFunc
}

func (r *cancelAfter) Read(p []byte) (int, error) {
	if r.n <= 0 {
		r.cancel()
	}
	clear(p)
	r.n -= int64(len(p))
	return len(p), nil
}

// A Put cancelled by the node after several upload chunks reached the
// server leaves no object.
func TestCancelledPutThroughPlugin(t *testing.T) {
	srv := fakegcs.Start(t)
	b, _ := startPlugin(t)
	configure(t, b, fmt.Sprintf(`{"bucket": %q, "endpoint": %q, "create_bucket": true, "project_id": "p", "chunk_size": "256KiB"}`,
		randomName("nvm-cancel-"), srv.Endpoint))
	defer b.Close(context.Background())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := b.Put(ctx, "partial", &cancelAfter{n: 3 << 20, cancel: cancel}, storage.PutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Put: %v, want context.Canceled", err)
	}
	if _, err := b.Stat(t.Context(), "partial"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after the cancelled Put: %v, want ErrNotFound", err)
	}
	page, err := b.List(t.Context(), storage.ListOptions{})
	if err != nil || len(page.Objects) != 0 {
		t.Errorf("List after the cancelled Put: %+v, %v", page.Objects, err)
	}
}

// benchSize is the object size of the benchmarks: $NVM_GCS_BENCH_SIZE
// ("1GiB", "256MiB") or 1 GiB.
func benchSize(b *testing.B) int64 {
	if v := os.Getenv("NVM_GCS_BENCH_SIZE"); v != "" {
		n, err := storagetest.ParseSize(v)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 1 << 30
}

// repeatReader yields size bytes by repeating one random block: the
// benchmark measures the transport, not a generator.
type repeatReader struct {
	block []byte
	left  int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), r.left)], r.block)
	r.left -= int64(n)
	return n, nil
}

func newRepeatReader(size int64) *repeatReader {
	block := make([]byte, 1<<20)
	rand.Read(block)
	return &repeatReader{block: block, left: size}
}

// peakRSS reads a process's peak resident set (Linux), or -1.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return -1
}

// benchPlugin starts fake-gcs-server and a configured plugin. The upload
// chunk is $NVM_GCS_BENCH_CHUNK or 64MiB: fake-gcs-server re-hashes the
// whole partial object on every chunk it receives (quadratic in the object
// size), so with the default 8 MiB chunks a 1 GiB Put measures the
// emulator's hashing rather than the plugin.
func benchPlugin(b *testing.B) (storage.Backend, *rpcplugin.Process) {
	chunk := os.Getenv("NVM_GCS_BENCH_CHUNK")
	if chunk == "" {
		chunk = "64MiB"
	}
	srv := fakegcs.Start(b)
	be, p := startPlugin(b)
	configure(b, be, fmt.Sprintf(`{"bucket": %q, "endpoint": %q, "create_bucket": true, "project_id": "p", "chunk_size": %q}`,
		randomName("nvm-bench-"), srv.Endpoint, chunk))
	b.Cleanup(func() { be.Close(context.Background()) })
	return be, p
}

// BenchmarkPluginPut uploads one object of benchSize per iteration through
// the plugin process into fake-gcs-server. Allocations are the node side's;
// plugin-peak-RSS is the plugin process's.
func BenchmarkPluginPut(b *testing.B) {
	size := benchSize(b)
	be, p := benchPlugin(b)
	b.SetBytes(size)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := be.Put(b.Context(), "bench/put-"+strconv.Itoa(i%2), newRepeatReader(size), storage.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if rss := peakRSS(p.Pid()); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "plugin-peak-RSS-MiB")
	}
}

// BenchmarkPluginGet downloads one object of benchSize per iteration.
func BenchmarkPluginGet(b *testing.B) {
	size := benchSize(b)
	be, p := benchPlugin(b)
	if _, err := be.Put(b.Context(), "bench/get", newRepeatReader(size), storage.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	buf := make([]byte, 1<<20)
	for b.Loop() {
		rc, _, err := be.Get(b.Context(), "bench/get", storage.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf)
		rc.Close()
		if err != nil || n != size {
			b.Fatalf("read %d of %d bytes: %v", n, size, err)
		}
	}
	if rss := peakRSS(p.Pid()); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "plugin-peak-RSS-MiB")
	}
}
